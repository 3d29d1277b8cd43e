"""The request phase: every setup of the Envoy under test under the same wrk load.

The setups run side by side, one Envoy each (--concurrency 1), against one upstream Envoy
answering with direct_response. After one check request per setup and workload and a
warm-up, each round runs every workload on every setup in turn (the order reversed every
other round, so drift hits all setups alike). Per run: req/s, latency percentiles, the
Envoy's CPU per request (utime+stime over the run / requests), VmRSS and VmHWM.
"""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import launch
import setups as setups_
import socket_client
import workloads
import wrk
from processes import Memory, Workspace, cpu_seconds, memory, pid_of
from progress import log

METRICS = ("rps", "p50_us", "p99_us", "p99_9_us", "cpu_us_per_req")


@dataclass(frozen=True)
class RequestOptions:
    rounds: int
    duration: float  # seconds per wrk run
    warmup: float  # seconds per setup and workload before the rounds
    connections: int
    upstream_concurrency: int


@dataclass(frozen=True)
class WorkloadInfo:
    title: str
    host: str
    path: str
    body_bytes: int
    guard_expects: str


@dataclass(frozen=True)
class Decision:
    """What a setup answered to one request: the HTTP status and x-wa-guard-decision."""

    status: int
    decision: str


@dataclass(frozen=True)
class RequestRun:
    round: int
    setup: str
    workload: str
    requests: int
    seconds: float
    rps: float
    p50_us: float
    p99_us: float
    p99_9_us: float
    max_us: float
    cpu_s: float
    cpu_us_per_req: float
    envoy_cpu_util: float
    upstream_cpu_util: float
    vm_rss_kb: int
    vm_hwm_kb: int
    non_2xx: int
    socket_errors: int


@dataclass(frozen=True)
class Medians:
    """The medians over the rounds of a setup and workload (or their ratios to another setup's)."""

    rps: float
    p50_us: float
    p99_us: float
    p99_9_us: float
    cpu_us_per_req: float

    def ratio_to(self, other: Medians) -> Medians:
        def ratio(a: float, b: float) -> float:
            return a / b if b else float("nan")

        return Medians(*(ratio(getattr(self, m), getattr(other, m)) for m in METRICS))


@dataclass(frozen=True)
class SetupSummary:
    medians: Medians
    cpu_us_per_req_min: float
    cpu_us_per_req_max: float
    non_2xx: int
    socket_errors: int
    upstream_cpu_util_max: float
    added_cpu_us_per_req: float  # CPU per request minus bare Envoy's
    vs_bare: Medians
    vs_floor: Medians

    def json(self) -> dict[str, Any]:
        out: dict[str, Any] = {m: getattr(self.medians, m) for m in METRICS}
        out.update(cpu_us_per_req_min=self.cpu_us_per_req_min, cpu_us_per_req_max=self.cpu_us_per_req_max,
                   non_2xx=self.non_2xx, socket_errors=self.socket_errors,
                   upstream_cpu_util_max=self.upstream_cpu_util_max)
        for m in METRICS:
            out[f"{m}_vs_bare"] = getattr(self.vs_bare, m)
            out[f"{m}_vs_floor"] = getattr(self.vs_floor, m)
        out["added_cpu_us_per_req"] = self.added_cpu_us_per_req
        return out


@dataclass(frozen=True)
class RequestResults:
    """Field names are the report JSON's keys."""

    workloads: dict[str, WorkloadInfo]
    lua_lexicon: dict[str, Any]  # lua_lexicon.generate's statistics
    decisions: dict[str, dict[str, Decision]]  # setup -> workload -> decision
    request_runs: list[RequestRun]
    memory_after_requests: dict[str, Memory]  # setup -> memory
    request_summary: dict[str, dict[str, SetupSummary]]  # workload -> setup -> summary

    @property
    def setups(self) -> list[str]:
        return list(self.decisions)


def write_bodies(tmp: Path, wls: list[workloads.Workload], prefix: str = "") -> dict[str, Path]:
    files = {}
    for wl in wls:
        files[wl.name] = tmp / f"{prefix}{wl.name}.json"
        files[wl.name].write_bytes(wl.body)
    return files


def check_decisions(ports: dict[str, int], wls: list[workloads.Workload]) -> dict[str, dict[str, Decision]]:
    """One request per setup and workload: the status and decision header each setup gives."""
    seen: dict[str, dict[str, Decision]] = {}
    for setup, port in ports.items():
        seen[setup] = {}
        for wl in wls:
            response = socket_client.request(port, "POST", wl.host, wl.path, wl.body)
            seen[setup][wl.name] = Decision(response.status, response.headers.get("x-wa-guard-decision", ""))
    problems = []
    for wl in wls:
        want_status = 403 if wl.expect == "block" else 200
        got = seen["guard"][wl.name]
        if got.status != want_status or (wl.expect != "none" and got.decision != wl.expect):
            problems.append(f"guard/{wl.name}: want {wl.expect} ({want_status}), got {got}")
        for setup in seen:
            if setup not in ("guard", "lua") and seen[setup][wl.name].status != 200:
                problems.append(f"{setup}/{wl.name}: want 200, got {seen[setup][wl.name]}")
        if "floor_hostcalls" in ports:
            # The mimic must really make its response-header hostcalls, or it measures nothing.
            response = socket_client.request(ports["floor_hostcalls"], "POST", wl.host, wl.path, wl.body)
            if response.headers.get("x-bench-floor-decision") != "allow":
                problems.append(f"floor_hostcalls/{wl.name}: no x-bench-floor-decision header ({response.status})")
    if problems:
        raise RuntimeError("the setups do not answer as expected:\n  " + "\n  ".join(problems))
    return seen


def warm_up(ports: dict[str, int], wls: list[workloads.Workload], bodies: dict[str, Path], seconds: float,
            connections: int) -> None:
    """Every setup and workload once (V8 tiers up, Lua and regex caches fill)."""
    for wl in wls:
        for port in ports.values():
            wrk.run(port, wl, bodies[wl.name], seconds, connections)


def measure(envoy: launch.EnvoyProcess, upstream: launch.EnvoyProcess, port: int, wl: workloads.Workload,
            body: Path, rnd: int, setup: str, opts: RequestOptions) -> RequestRun:
    pid, up_pid = pid_of(envoy), pid_of(upstream)
    c0, u0, t0 = cpu_seconds(pid), cpu_seconds(up_pid), time.monotonic()
    w = wrk.run(port, wl, body, opts.duration, opts.connections)
    c1, u1, t1 = cpu_seconds(pid), cpu_seconds(up_pid), time.monotonic()
    mem = memory(pid)
    return RequestRun(
        round=rnd, setup=setup, workload=wl.name, requests=w.requests, seconds=w.seconds, rps=w.rps,
        p50_us=w.p50_us, p99_us=w.p99_us, p99_9_us=w.p99_9_us, max_us=w.max_us,
        cpu_s=c1 - c0, cpu_us_per_req=(c1 - c0) * 1e6 / max(w.requests, 1),
        envoy_cpu_util=(c1 - c0) / (t1 - t0), upstream_cpu_util=(u1 - u0) / (t1 - t0),
        vm_rss_kb=mem.rss_kb, vm_hwm_kb=mem.hwm_kb, non_2xx=w.non_2xx, socket_errors=w.socket_errors)


def run(ws: Workspace, modules: setups_.Modules, chosen: list[setups_.Setup], opts: RequestOptions,
        lua_lexicon: dict[str, Any]) -> RequestResults:
    wls = workloads.request_workloads()
    bodies = write_bodies(ws.tmp, wls)
    upstream = ws.procs.start_envoy(setups_.render_upstream(), "upstream", concurrency=opts.upstream_concurrency)
    upstream_port = upstream.listener_port("upstream")
    log(f"upstream (direct_response) Envoy on 127.0.0.1:{upstream_port}")
    envoys: dict[str, launch.EnvoyProcess] = {}
    ports: dict[str, int] = {}
    for setup in chosen:
        envoys[setup.name] = ws.procs.start_envoy(setups_.render(setup, modules, upstream_port),
                                                  f"envoy-{setup.name}", concurrency=1)
        ports[setup.name] = envoys[setup.name].listener_port("egress")
        log(f"{setup.name}: Envoy pid {pid_of(envoys[setup.name])} on 127.0.0.1:{ports[setup.name]}")
    decisions = check_decisions(ports, wls)
    warm_up(ports, wls, bodies, opts.warmup, opts.connections)

    runs: list[RequestRun] = []
    names = [s.name for s in chosen]
    for rnd in range(opts.rounds):
        order = names if rnd % 2 == 0 else list(reversed(names))
        for wl in wls:
            for name in order:
                r = measure(envoys[name], upstream, ports[name], wl, bodies[wl.name], rnd, name, opts)
                runs.append(r)
                log(f"round {rnd + 1}/{opts.rounds} {wl.name:16s} {name:15s} {r.rps:8.0f} req/s "
                    f"cpu {r.cpu_us_per_req:6.1f} us/req p99 {r.p99_us} us (envoy {r.envoy_cpu_util:.0%}, "
                    f"upstream {r.upstream_cpu_util:.0%}, load {os.getloadavg()[0]:.2f})")
    mem = {name: memory(pid_of(envoys[name])) for name in names}
    for envoy in [*envoys.values(), upstream]:
        ws.procs.stop_envoy(envoy)
    return RequestResults(
        workloads={wl.name: WorkloadInfo(wl.title, wl.host, wl.path, len(wl.body), wl.expect) for wl in wls},
        lua_lexicon=lua_lexicon, decisions=decisions, request_runs=runs, memory_after_requests=mem,
        request_summary=summarise(runs, [wl.name for wl in wls], names))


def summarise(runs: list[RequestRun], workload_names: list[str], names: list[str]) -> dict[str, dict[str, SetupSummary]]:
    """Medians over the rounds, per workload and setup, and their ratios to bare and to the floor."""
    summary: dict[str, dict[str, SetupSummary]] = {}
    for wl in workload_names:
        medians: dict[str, Medians] = {}
        mine: dict[str, list[RequestRun]] = {}
        for setup in names:
            mine[setup] = [r for r in runs if r.workload == wl and r.setup == setup]
            medians[setup] = Medians(*(statistics.median(getattr(r, m) for r in mine[setup]) for m in METRICS))
        bare, floor = medians["bare"], medians["floor"]
        summary[wl] = {setup: SetupSummary(
            medians=medians[setup],
            cpu_us_per_req_min=min(r.cpu_us_per_req for r in mine[setup]),
            cpu_us_per_req_max=max(r.cpu_us_per_req for r in mine[setup]),
            non_2xx=sum(r.non_2xx for r in mine[setup]),
            socket_errors=sum(r.socket_errors for r in mine[setup]),
            upstream_cpu_util_max=max(r.upstream_cpu_util for r in mine[setup]),
            added_cpu_us_per_req=medians[setup].cpu_us_per_req - bare.cpu_us_per_req,
            vs_bare=medians[setup].ratio_to(bare), vs_floor=medians[setup].ratio_to(floor),
        ) for setup in names}
    return summary
