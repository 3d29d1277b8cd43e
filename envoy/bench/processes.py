"""The processes a benchmark run starts, and what /proc says about them.

`Processes` is the one registry of every Envoy and child process of a run: the phases start
and stop them through it, and `stop_all` (called on success, error, SIGTERM/SIGINT and the
deadline) leaves none behind. `Workspace` is what every phase gets: the run's scratch
directory and that registry.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import launch  # envoy/launch.py

CLK_TCK = os.sysconf("SC_CLK_TCK")
ENVOY_READY_TIMEOUT_S = 60.0
CHILD_STOP_TIMEOUT_S = 3.0


def cpu_seconds(pid: int) -> float:
    """utime + stime of a whole process (all threads), from /proc/<pid>/stat."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2:].split()
    # after the comm field: state(0) ppid(1) ... utime is field 14 overall -> index 11 here
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


@dataclass(frozen=True)
class Memory:
    """VmRSS and VmHWM of a process, in kB as /proc/<pid>/status gives them."""

    rss_kb: int
    hwm_kb: int

    def json(self) -> dict[str, int]:
        return {"VmRSS": self.rss_kb, "VmHWM": self.hwm_kb}


def memory(pid: int) -> Memory:
    values: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(value.split()[0])
    return Memory(rss_kb=values.get("VmRSS", 0), hwm_kb=values.get("VmHWM", 0))


def pid_of(envoy: launch.EnvoyProcess) -> int:
    if envoy.proc is None:
        raise RuntimeError(f"{envoy.name} is not running")
    return envoy.proc.pid


class Processes:
    """Every Envoy and child process a run started and has not stopped yet."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self._envoys: list[launch.EnvoyProcess] = []
        self._children: list[subprocess.Popen[bytes]] = []

    def start_envoy(self, config_text: str, name: str, concurrency: int = 1) -> launch.EnvoyProcess:
        path = self.workdir / f"{name}.yaml"
        path.write_text(config_text, encoding="utf-8")
        envoy = launch.EnvoyProcess(path, self.workdir, concurrency=concurrency, name=name)
        self._envoys.append(envoy)
        envoy.start(ready_timeout=ENVOY_READY_TIMEOUT_S)
        return envoy

    def stop_envoy(self, envoy: launch.EnvoyProcess) -> None:
        envoy.stop()
        if envoy in self._envoys:
            self._envoys.remove(envoy)

    def start_child(self, cmd: list[str]) -> subprocess.Popen[bytes]:
        child = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)
        self._children.append(child)
        return child

    def stop_child(self, child: subprocess.Popen[bytes]) -> None:
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=CHILD_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(timeout=CHILD_STOP_TIMEOUT_S)
        if child in self._children:
            self._children.remove(child)

    def log_tails(self, lines: int) -> Iterator[tuple[str, str]]:
        """(name, last lines of its log) of every Envoy still running."""
        for envoy in self._envoys:
            yield envoy.name, envoy.log_tail(lines)

    def stop_all(self) -> None:
        for envoy in list(self._envoys):
            try:
                envoy.stop(timeout=CHILD_STOP_TIMEOUT_S)
            except Exception:  # noqa: BLE001 - best effort at exit
                if envoy.proc is not None:
                    envoy.proc.kill()
        self._envoys.clear()
        for child in list(self._children):
            try:
                self.stop_child(child)
            except subprocess.TimeoutExpired:
                pass
        self._children.clear()


@dataclass(frozen=True)
class Workspace:
    """What every phase works in: the run's scratch directory and its process registry."""

    tmp: Path
    procs: Processes


def wait_for_file(path: Path, child: subprocess.Popen[bytes], timeout: float) -> None:
    """Waits (bounded) until a child has written `path`."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline or child.poll() is not None:
            raise RuntimeError(f"no {path.name} from the child process after {timeout:.0f} s")
        time.sleep(0.05)
