"""The perf phase: where the Envoy under test spends its CPU, by binary.

`perf record` of the Envoy under test during one wrk run per setup (cs_text_1k and
interactive_4k). Envoy's binary is stripped, so the split is by DSO: the kernel, Envoy itself
(V8's runtime is linked into it), the JIT code (the wasm modules compiled by V8) and libc.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import launch
import setups as setups_
import workloads
import wrk
from phases.requests import write_bodies
from processes import Workspace, pid_of
from progress import log

PERF_SETUPS = ("floor", "floor_hostcalls", "guard_nocontent", "guard")
PERF_WORKLOADS = ("cs_text_1k", "interactive_4k")
GROUPS = ("JIT (wasm)", "envoy + V8", "kernel", "libc", "other")
SAMPLE_HZ = 1999
PRE_RUN_S = 2
PERF_START_S = 0.3
PERF_TIMEOUT_S = 60
REPORT_TIMEOUT_S = 120
_REPORT_LINE = re.compile(r"\s*[\d.]+%\s+(\d+)\s+(.+?)\s*$")


@dataclass(frozen=True)
class PerfRun:
    requests: int
    seconds: float
    us_per_req: dict[str, float]  # group of GROUPS -> µs of CPU per request


@dataclass(frozen=True)
class PerfResults:
    runs: dict[str, dict[str, PerfRun]] = field(default_factory=dict)  # workload -> setup -> run
    skipped: str | None = None

    def json(self) -> dict[str, object]:
        if self.skipped is not None:
            return {"skipped": self.skipped}
        return {wl: {setup: vars(r) for setup, r in rows.items()} for wl, rows in self.runs.items()}


def group_of(dso: str) -> str:
    if "kernel" in dso:
        return "kernel"
    if "[JIT]" in dso:
        return "JIT (wasm)"
    if dso == "envoy":
        return "envoy + V8"
    if dso.startswith("libc"):
        return "libc"
    return "other"


def samples_by_group(data: Path) -> dict[str, float]:
    rep = subprocess.run(["perf", "report", "-i", str(data), "--no-children", "--sort", "dso", "-g", "none", "-n",
                          "--stdio"], capture_output=True, text=True, timeout=REPORT_TIMEOUT_S, check=False).stdout
    if "[JIT]" not in rep and "envoy" not in rep:
        raise RuntimeError(f"perf report has no Envoy samples: {rep[-300:]!r}")
    by_group: dict[str, float] = {}
    for line in rep.splitlines():
        m = _REPORT_LINE.match(line)
        if m:
            group = group_of(m.group(2))
            by_group[group] = by_group.get(group, 0.0) + int(m.group(1))
    return by_group


def record(envoy: launch.EnvoyProcess, wl: workloads.Workload, body: Path, duration: float,
           connections: int, data: Path) -> PerfRun:
    port = envoy.listener_port("egress")
    wrk.run(port, wl, body, PRE_RUN_S, connections)
    rec = subprocess.Popen(["perf", "record", "-q", "-F", str(SAMPLE_HZ), "-o", str(data), "-p", str(pid_of(envoy))],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(PERF_START_S)
        w = wrk.run(port, wl, body, duration, connections)
    finally:
        rec.send_signal(signal.SIGINT)
        try:
            rec.wait(timeout=PERF_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            rec.kill()
            rec.wait(timeout=PERF_TIMEOUT_S)
    if not data.is_file():
        raise RuntimeError(f"perf record wrote nothing (exit {rec.returncode}); "
                           "check /proc/sys/kernel/perf_event_paranoid")
    # Samples at SAMPLE_HZ over the wrk run (the sampling window is a little longer).
    per_req = {k: v / SAMPLE_HZ / w.requests * 1e6 for k, v in samples_by_group(data).items()}
    data.unlink(missing_ok=True)
    return PerfRun(requests=w.requests, seconds=w.seconds, us_per_req=per_req)


def run(ws: Workspace, modules: setups_.Modules, duration: float, connections: int,
        upstream_concurrency: int) -> PerfResults:
    if shutil.which("perf") is None:
        log("perf phase skipped: no `perf`")
        return PerfResults(skipped="perf not installed (Debian: linux-perf)")
    wls = [w for w in workloads.request_workloads() if w.name in PERF_WORKLOADS]
    bodies = write_bodies(ws.tmp, wls, prefix="perf_")
    upstream = ws.procs.start_envoy(setups_.render_upstream(), "perf-upstream", concurrency=upstream_concurrency)
    runs: dict[str, dict[str, PerfRun]] = {}
    try:
        for wl in wls:
            for name in PERF_SETUPS:
                config = setups_.render(setups_.BY_NAME[name], modules, upstream.listener_port("upstream"))
                envoy = ws.procs.start_envoy(config, f"perf-{name}", concurrency=1)
                try:
                    r = record(envoy, wl, bodies[wl.name], duration, connections,
                               ws.tmp / f"perf-{name}-{wl.name}.data")
                finally:
                    ws.procs.stop_envoy(envoy)
                runs.setdefault(wl.name, {})[name] = r
                log(f"perf {wl.name:16s} {name:16s} " + ", ".join(f"{k} {v:.1f}" for k, v in r.us_per_req.items()))
    finally:
        ws.procs.stop_envoy(upstream)
    return PerfResults(runs=runs)
