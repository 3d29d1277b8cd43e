"""The machine and the tool versions a run measured on, for the report's first lines."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import launch
from setups import REPO

VERSION_TIMEOUT_S = 30


@dataclass(frozen=True)
class Machine:
    nproc: int
    cpu_model: str
    mem_total: str
    kernel: str
    envoy: str
    rustc: str
    wrk: str
    python: str
    loadavg_start: tuple[float, float, float]
    valgrind: str
    git: str


def _output(cmd: list[str]) -> str:
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=VERSION_TIMEOUT_S, check=False)
        return (p.stdout + p.stderr).strip()
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"unavailable: {err}"


def _proc_field(path: str, name: str) -> str:
    return next((line.split(":", 1)[1].strip() for line in Path(path).read_text().splitlines()
                 if line.startswith(name)), "?")


def describe() -> Machine:
    return Machine(
        nproc=os.cpu_count() or 0, cpu_model=_proc_field("/proc/cpuinfo", "model name"),
        mem_total=_proc_field("/proc/meminfo", "MemTotal"), kernel=platform.release(),
        envoy=(_output([launch.envoy_bin(), "--version"]).splitlines() or ["?"])[-1],
        rustc=_output(["rustc", "--version"]), wrk=(_output(["wrk", "--version"]).splitlines() or ["?"])[0],
        python=platform.python_version(), loadavg_start=os.getloadavg(),
        valgrind=_output(["valgrind", "--version"]) if shutil.which("valgrind") else "not installed",
        git=_output(["git", "-C", str(REPO), "describe", "--always", "--dirty"]))
