"""The worker phase: Envoy's memory with several worker threads (--concurrency N).

Each worker thread runs its own copy of every wasm VM, so what a module costs in memory
is multiplied by the workers. One setup at a time (bare, floor_headers, floor, guard), a
fresh Envoy under test with N workers gets the request phase's warm-up (every workload for
`warmup` seconds), with at least 4 connections per worker so that every worker's VM serves
requests, then its VmRSS and VmHWM are read, and how many workers accepted connections
(Envoy's per-worker listener counters), since the kernel spreads the connections.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass

import launch
import setups as setups_
import workloads
from phases.requests import warm_up, write_bodies
from processes import Memory, Workspace, memory, pid_of
from progress import log

WORKER_SETUPS = ("bare", "floor_headers", "floor", "guard")
CONNECTIONS_PER_WORKER = 4
_WORKER_CX = re.compile(r"^listener\.[^:]*\.worker_(\d+)\.downstream_cx_total: (\d+)$", re.M)


@dataclass(frozen=True)
class WorkerMemory:
    """Field names are the report JSON's keys."""

    workers: int
    connections: int
    warmup_s: float
    memory: dict[str, Memory]  # setup -> memory after the warm-up
    workers_served: dict[str, int]  # setup -> workers that accepted at least one connection


def workers_served(envoy: launch.EnvoyProcess) -> int:
    stats = envoy.admin("/stats?filter=" + urllib.parse.quote(r"worker_[0-9]+\.downstream_cx_total$"))
    return len({worker for worker, count in _WORKER_CX.findall(stats) if int(count) > 0})


def run(ws: Workspace, modules: setups_.Modules, workers: int, warmup: float, connections: int,
        upstream_concurrency: int) -> WorkerMemory:
    wls = workloads.request_workloads()
    bodies = write_bodies(ws.tmp, wls, prefix="workers_")
    connections = max(connections, CONNECTIONS_PER_WORKER * workers)
    upstream = ws.procs.start_envoy(setups_.render_upstream(), "workers-upstream", concurrency=upstream_concurrency)
    out: dict[str, Memory] = {}
    served: dict[str, int] = {}
    try:
        for name in WORKER_SETUPS:
            config = setups_.render(setups_.BY_NAME[name], modules, upstream.listener_port("upstream"))
            envoy = ws.procs.start_envoy(config, f"workers-{name}", concurrency=workers)
            try:
                warm_up({name: envoy.listener_port("egress")}, wls, bodies, warmup, connections)
                out[name] = memory(pid_of(envoy))
                served[name] = workers_served(envoy)
                log(f"{workers} workers {name:13s} VmRSS {out[name].rss_kb / 1024:.1f} MiB, "
                    f"VmHWM {out[name].hwm_kb / 1024:.1f} MiB, {served[name]} workers served")
            finally:
                ws.procs.stop_envoy(envoy)
    finally:
        ws.procs.stop_envoy(upstream)
    return WorkerMemory(workers=workers, connections=connections, warmup_s=warmup, memory=out, workers_served=served)
