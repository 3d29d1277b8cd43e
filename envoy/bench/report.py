"""The benchmark's results as one value, its targets, the markdown report and the JSON file.

`BenchResults` gathers what each phase returned (None for a phase that did not run).
`markdown` prints the report; `to_json` gives the JSON file's object, whose keys are the
phases' dataclass fields (a dataclass with a `json()` method says its own layout).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from machine import Machine
from phases.harness import HarnessResults
from phases.perf import GROUPS, PerfResults
from phases.profile import FunctionShare, ProfileResults, SourceShare
from phases.requests import RequestResults, SetupSummary
from phases.uploads import UploadResults
from phases.workers import WorkerMemory

ALLOWED = ("cs_text_1k", "interactive_4k")  # the allowed sends the ratio targets are about
CPU_RATIO_MAX = 1.25
RPS_RATIO_MIN = 0.95
RSS_MB_PER_WORKER = 8  # decimal MB
TARGET_WORKERS = 4
STRIP_MB_PER_S_MIN = 200
HWM_DRIFT_MAX = 0.10
MIN_SHARE = 0.02  # profile entries below this share are left out


@dataclass
class BenchResults:
    started: str
    args: dict[str, Any]  # the command line, as argparse read it
    machine: Machine
    guard_wasm: str
    guard_wasm_bytes: int
    floor_wasm_bytes: int | None = None
    requests: RequestResults | None = None
    workers: WorkerMemory | None = None
    uploads: UploadResults | None = None
    harness: HarnessResults | None = None
    profile: ProfileResults | None = None
    perf: PerfResults | None = None
    error: str | None = None
    elapsed_s: float = 0.0
    loadavg_end: tuple[float, float, float] = (0.0, 0.0, 0.0)


@dataclass(frozen=True)
class Target:
    target: str
    met: bool
    figure: str


# --- JSON -----------------------------------------------------------------------------------

def plain(value: Any) -> Any:
    """A value as JSON types: dataclasses by their `json()` or their fields, containers item by item."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if hasattr(value, "json"):
            return plain(value.json())
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def to_json(results: BenchResults) -> dict[str, Any]:
    out: dict[str, Any] = {
        "started": results.started, "args": plain(results.args), "machine": plain(results.machine),
        "guard_wasm": results.guard_wasm, "guard_wasm_bytes": results.guard_wasm_bytes,
    }
    if results.floor_wasm_bytes is not None:
        out["floor_wasm_bytes"] = results.floor_wasm_bytes
    for flat in (results.requests, results.uploads):  # their fields are top-level keys
        if flat is not None:
            out.update(plain(flat))
    for key, value in (("memory_workers", results.workers), ("harness", results.harness),
                       ("profile", results.profile), ("perf", results.perf)):
        if value is not None:
            out[key] = plain(value)
    if results.error is not None:
        out["error"] = results.error
    out.update(elapsed_s=results.elapsed_s, loadavg_end=list(results.loadavg_end),
               targets=plain(targets(results)))
    return out


# --- targets --------------------------------------------------------------------------------

def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else math.inf


def _mib(kb: float) -> float:
    return kb / 1024


def _rss_limit_kb(workers: int) -> float:
    return workers * RSS_MB_PER_WORKER * 1e6 / 1024


def request_targets(req: RequestResults) -> list[Target]:
    out = []
    s = req.request_summary
    for wl in [w for w in ALLOWED if w in s]:
        g, f = s[wl]["guard"], s[wl]["floor"]
        fh = s[wl].get("floor_headers")
        cpu = _ratio(g.added_cpu_us_per_req, f.added_cpu_us_per_req)
        out.append(Target(f"{wl}: added CPU/req <= {CPU_RATIO_MAX}x the floor's", cpu <= CPU_RATIO_MAX,
                          f"{g.added_cpu_us_per_req:.1f} vs {f.added_cpu_us_per_req:.1f} us ({cpu:.2f}x)"
                          + (f"; floor_headers {fh.added_cpu_us_per_req:.1f} us" if fh else "")))
        rps = _ratio(g.medians.rps, f.medians.rps)
        out.append(Target(f"{wl}: req/s >= {RPS_RATIO_MIN}x the floor's", rps >= RPS_RATIO_MIN,
                          f"{g.medians.rps:.0f} vs {f.medians.rps:.0f} ({rps:.2f}x)"
                          + (f"; floor_headers {fh.medians.rps:.0f}" if fh else "")))
    mem = req.memory_after_requests
    if "guard" in mem and "floor" in mem:
        out.append(rss_target(1, mem["guard"].rss_kb, mem["floor"].rss_kb,
                              mem["floor_headers"].rss_kb if "floor_headers" in mem else None))
    for wl in s:
        g, lua = s[wl]["guard"], s[wl]["lua"]
        out.append(Target(f"{wl}: CPU/req lower than Lua", g.medians.cpu_us_per_req < lua.medians.cpu_us_per_req,
                          f"{g.medians.cpu_us_per_req:.1f} vs {lua.medians.cpu_us_per_req:.1f} us"))
    return out


def rss_target(workers: int, guard_kb: int, floor_kb: int, floor_headers_kb: int | None) -> Target:
    over = guard_kb - floor_kb
    return Target(
        f"VmRSS <= the floor's + {RSS_MB_PER_WORKER} MB per worker (--concurrency {workers})",
        over <= _rss_limit_kb(workers),
        f"{_mib(guard_kb):.1f} vs {_mib(floor_kb):.1f} MiB (+{_mib(over):.1f} MiB, {_mib(over) / workers:.1f} per worker)"
        + (f"; floor_headers {_mib(floor_headers_kb):.1f} MiB" if floor_headers_kb is not None else ""))


def targets(results: BenchResults) -> list[Target]:
    out = request_targets(results.requests) if results.requests else []
    w = results.workers
    if w is not None and "guard" in w.memory and "floor" in w.memory:
        fh = w.memory.get("floor_headers")
        out.append(rss_target(w.workers, w.memory["guard"].rss_kb, w.memory["floor"].rss_kb,
                              fh.rss_kb if fh else None))
    if results.requests or results.workers:
        out.append(Target(f"RSS with --concurrency {TARGET_WORKERS} measured and reported",
                          w is not None and w.workers == TARGET_WORKERS,
                          f"--concurrency {w.workers}" if w else "not measured (phase `workers` not run)"))
    u = results.uploads.upload_summary.get("guard") if results.uploads else None
    if u is not None and u.mb_per_s is not None:
        out.append(Target(f"stripping >= {STRIP_MB_PER_S_MIN} MB/s", u.mb_per_s >= STRIP_MB_PER_S_MIN,
                          f"{u.mb_per_s:.1f} MB/s"))
    if u is not None and u.hwm_10mb_kb and u.hwm_1gb_kb:
        d = u.hwm_1gb_kb / u.hwm_10mb_kb - 1
        out.append(Target("Envoy VmHWM within 10% between a 10 MB and a 1 GB upload", abs(d) <= HWM_DRIFT_MAX,
                          f"{_mib(u.hwm_10mb_kb):.1f} vs {_mib(u.hwm_1gb_kb):.1f} MiB ({d:+.1%})"))
    return out


# --- markdown -------------------------------------------------------------------------------

def fmt(v: float | None, digits: int = 1) -> str:
    return "-" if v is None else f"{v:,.{digits}f}"


def header(r: BenchResults) -> list[str]:
    m, a = r.machine, r.args
    return [
        "## Envoy benchmark run",
        "",
        f"Machine: {m.nproc} CPUs ({m.cpu_model}), {m.mem_total} RAM, Linux {m.kernel}; "
        f"load average {m.loadavg_start[0]:.2f} at the start, {r.loadavg_end[0]:.2f} at the end.",
        f"Versions: {m.envoy}; {m.rustc}; {m.wrk}; Python {m.python}; {m.valgrind}. Code: {m.git}.",
        f"Run: {a['rounds']} rounds x {a['duration']} s per setup and workload, wrk -t1 -c{a['connections']}, "
        f"Envoy under test --concurrency 1, started {r.started}, {r.elapsed_s:.0f} s in all.",
        "",
    ]


def _request_row(wl: str, setup: str, r: SetupSummary) -> str:
    m = r.medians
    return (f"| {wl} | {setup} | {fmt(m.rps, 0)} | {fmt(m.p50_us, 0)} | {fmt(m.p99_us, 0)} | {fmt(m.p99_9_us, 0)} | "
            f"{fmt(m.cpu_us_per_req)} ({fmt(r.cpu_us_per_req_min)}-{fmt(r.cpu_us_per_req_max)}) | "
            f"{fmt(r.added_cpu_us_per_req)} | {r.non_2xx} |")


def requests_section(req: RequestResults) -> list[str]:
    s, setups = req.request_summary, req.setups
    out = ["### Requests (median of the rounds)", "",
           "| workload | setup | req/s | p50 µs | p99 µs | p99.9 µs | CPU µs/req (rounds min-max) | "
           "added CPU µs/req (vs bare) | non-2xx |",
           "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    out += [_request_row(wl, setup, rows[setup]) for wl, rows in s.items() for setup in setups]
    out += ["", "The same figures as ratios: to bare Envoy / to the floor.", "",
            "| workload | setup | req/s | p50 | p99 | p99.9 | CPU per request |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for wl, rows in s.items():
        for setup in setups[1:]:
            r = rows[setup]
            cells = [f"{getattr(r.vs_bare, m):.2f} / {getattr(r.vs_floor, m):.2f}"
                     for m in ("rps", "p50_us", "p99_us", "p99_9_us", "cpu_us_per_req")]
            out.append(f"| {wl} | {setup} | " + " | ".join(cells) + " |")
    if "guard_nocontent" in setups:
        out += breakdown_section(req)
    out += ["", "Decisions seen before measuring (HTTP status / x-wa-guard-decision):", "",
            "| workload | " + " | ".join(setups) + " |", "| --- |" + " --- |" * len(setups)]
    for wl in s:
        cells = [f"{req.decisions[st][wl].status} {req.decisions[st][wl].decision or '-'}" for st in setups]
        out.append(f"| {wl} | " + " | ".join(cells) + " |")
    mem = req.memory_after_requests
    out += ["", "Envoy memory after the request rounds (MiB): " + ", ".join(
        f"{st} RSS {_mib(mem[st].rss_kb):.1f} / HWM {_mib(mem[st].hwm_kb):.1f} "
        f"({mem[st].rss_kb / mem['bare'].rss_kb:.2f}x bare, {mem[st].rss_kb / mem['floor'].rss_kb:.2f}x floor)"
        for st in setups) + "."]
    up = max(r.upstream_cpu_util_max for rows in s.values() for r in rows.values())
    util = [r.envoy_cpu_util for r in req.request_runs]
    out += [f"Envoy under test: {min(util):.0%} to {max(util):.0%} of a core over the runs (CPU-bound, so req/s "
            f"follows CPU per request). Upstream Envoy at most {up:.0%} of a core (never the bottleneck).",
            f"Lua lexicon: {req.lua_lexicon}.", ""]
    return out


def breakdown_section(req: RequestResults) -> list[str]:
    """Where the guard's added CPU goes, from the diagnostic setups."""
    mimic = "floor_hostcalls" in req.setups
    out = ["", "Where the guard's added CPU goes (µs per request, medians; diagnostic setups: `guard_nocontent` = "
               "the guard with `content.enabled: false`"
               + (", `floor_hostcalls` = the floor making the guard's hostcalls of an allowed send" if mimic else "")
               + "):", "",
           "| workload | floor_headers added | floor added | guard added | guard without the classifier | "
           "the classifier (difference) |"
           + (" floor_hostcalls added | the hostcalls (floor_hostcalls minus floor) | the guard's work without "
              "the classifier (guard_nocontent minus floor_hostcalls) |" if mimic else ""),
           "| --- | ---: | ---: | ---: | ---: | ---: |" + (" ---: | ---: | ---: |" if mimic else "")]
    for wl, rows in req.request_summary.items():
        g, n, f = rows["guard"], rows["guard_nocontent"], rows["floor"]
        fh = rows.get("floor_headers")
        line = (f"| {wl} | {fmt(fh.added_cpu_us_per_req if fh else None)} | {fmt(f.added_cpu_us_per_req)} | "
                f"{fmt(g.added_cpu_us_per_req)} | {fmt(n.added_cpu_us_per_req)} | "
                f"{fmt(g.medians.cpu_us_per_req - n.medians.cpu_us_per_req)} |")
        if mimic:
            h = rows["floor_hostcalls"]
            line += (f" {fmt(h.added_cpu_us_per_req)} | {fmt(h.medians.cpu_us_per_req - f.medians.cpu_us_per_req)} | "
                     f"{fmt(n.medians.cpu_us_per_req - h.medians.cpu_us_per_req)} |")
        out.append(line)
    return out


def workers_section(w: WorkerMemory) -> list[str]:
    out = [f"### Envoy memory with --concurrency {w.workers}", "",
           f"A fresh Envoy under test per setup with {w.workers} worker threads (one wasm VM per worker), "
           f"after the request warm-up ({w.warmup_s:g} s per workload, wrk -t1 -c{w.connections}).", "",
           "| setup | VmRSS MiB | VmHWM MiB | RSS over the floor, MiB | per worker, MiB | workers that served |",
           "| --- | ---: | ---: | ---: | ---: | ---: |"]
    floor = w.memory.get("floor")
    for setup, mem in w.memory.items():
        over = _mib(mem.rss_kb - floor.rss_kb) if floor else None
        out.append(f"| {setup} | {_mib(mem.rss_kb):.1f} | {_mib(mem.hwm_kb):.1f} | {fmt(over)} | "
                   f"{fmt(over / w.workers if over is not None else None)} | "
                   f"{w.workers_served.get(setup, 0)} of {w.workers} |")
    return out + [""]


def perf_section(pf: PerfResults) -> list[str]:
    out = ["### Where the Envoy under test spends its CPU (perf, µs per request by binary)", "",
           "Sampled at 1999 Hz during one wrk run per setup; the sampling window is slightly longer "
           "than the run, so the sums are slightly above the CPU per request of the request tables.", "",
           "| workload | setup | " + " | ".join(GROUPS) + " | sum |",
           "| --- | --- |" + " ---: |" * (len(GROUPS) + 1)]
    for wl, rows in pf.runs.items():
        for setup, r in rows.items():
            v = r.us_per_req
            out.append(f"| {wl} | {setup} | " + " | ".join(f"{v.get(g, 0.0):.1f}" for g in GROUPS)
                       + f" | {sum(v.values()):.1f} |")
    return out + [""]


def uploads_section(up: UploadResults) -> list[str]:
    u, d = up.upload_summary, up.upload_data
    out = ["### Upload stripping (api.openai.com /v1/files, application/jsonl)", "",
           f"Data: {d.file_bytes / 1e6:.1f} MB, {d.records} records, {d.whatsapp_records} WhatsApp-derived "
           f"(seeded); 10 MB upload = first {d.small_bytes / 1e6:.1f} MB; 1 GB upload = the file 10 times in one request.",
           "",
           "| setup | MB/s (100 MB) | CPU ms/MB | x-wa-guard-stripped | VmHWM idle / 10 MB / 1 GB (MiB) | MB/s (1 GB) |",
           "| --- | ---: | ---: | --- | --- | ---: |"]
    for setup in ("bare", "guard"):
        r = u.get(setup)
        if r is None or r.mb_per_s is None:
            continue
        hwm = f"{_mib(r.hwm_idle_kb or 0):.1f} / {_mib(r.hwm_10mb_kb or 0):.1f} / {_mib(r.hwm_1gb_kb or 0):.1f}"
        out.append(f"| {setup} | {fmt(r.mb_per_s)} | {fmt(r.cpu_ms_per_mb, 2)} | {r.stripped or '-'} | "
                   f"{hwm} | {fmt(r.mb_per_s_1gb or 0)} |")
    bare, guard = u.get("bare"), u.get("guard")
    if bare and guard and bare.mb_per_s and guard.mb_per_s and bare.cpu_ms_per_mb and guard.cpu_ms_per_mb:
        sink = max(x.sink_cpu_util_max or 0.0 for x in (bare, guard))
        out += ["", f"Guard vs bare: {guard.mb_per_s / bare.mb_per_s:.2f}x the throughput, "
                    f"{guard.cpu_ms_per_mb / bare.cpu_ms_per_mb:.1f}x the CPU per MB. "
                    f"Upstream saw: {guard.upstream_received}. Sink CPU at most {sink:.0%} of a core."]
    return out + [""]


def _native_parts(w: dict[str, Any]) -> str:
    b = w.get("breakdown")
    if not b:
        return ""
    return (f": classifier {b['score_us']:.1f} (of which text normalisation {b['normalize_us']:.1f}), "
            f"JSON parse {b['json_parse_us']:.1f}, extraction {b['extract_us']:.1f}")


def harness_section(h: HarnessResults) -> list[str]:
    out = ["### In the harness", ""]
    ht = h.host_tests
    if ht.todo:
        out.append(f"- wasmtime: {ht.todo}")
    else:
        out += [f"- wasmtime (`{ht.command}`):", "", "```", (ht.output or "").strip() or
                f"failed ({ht.returncode if ht.returncode is not None else ht.error}): {(ht.stderr_tail or '')[-600:]}",
                "```"]
    n = h.native
    if n.output is not None and "workloads" in n.output:
        upload = n.output.get("upload")
        out.append("- native engine (`envoy/bench/native`, RequestFlow driven as the glue drives it; µs): " + "; ".join(
            f"{w['name']} {w['us_per_req']:.2f} per request ({w['decision']}){_native_parts(w)}"
            for w in n.output["workloads"])
            + (f"; JSONL stripping {upload['mb_per_s']:.0f} MB/s ({upload['records_stripped']} records stripped)"
               if upload else ""))
    elif n.skipped:
        out.append("- native engine: skipped (--skip-native)")
    else:
        out.append(f"- native engine: failed: {n.error} {(n.stderr_tail or '')[-400:]}")
    return out + [""]


def _shares(sources: list[SourceShare], top: list[FunctionShare]) -> str:
    return ("By source: " + "; ".join(f"{x.source} {x.share:.0%}" for x in sources[:8] if x.share >= MIN_SHARE)
            + ". By function (self, after inlining): "
            + "; ".join(f"{x.function} {x.share:.0%}" for x in top[:6] if x.share >= MIN_SHARE))


def profile_section(pr: ProfileResults) -> list[str]:
    if pr.todo:
        return [f"- profile: {pr.todo}", ""]
    out = ["### Where the native engine spends its instructions (callgrind, warm, per request)", ""]
    out += [f"- **{name}**: {w.ir_per_request:,.0f} instructions. " + _shares(w.sources, w.top)
            for name, w in pr.workloads.items()]
    if pr.upload:
        out.append(f"- **JSONL stripping**: {pr.upload.ir_per_mb:,.0f} instructions per MB. "
                   + _shares(pr.upload.sources, pr.upload.top))
    return out + [""]


def targets_section(t: list[Target]) -> list[str]:
    return (["### Targets", "", "| target | met | figure |", "| --- | --- | --- |"]
            + [f"| {x.target} | {'met' if x.met else 'NOT met'} | {x.figure} |" for x in t] + [""])


def markdown(r: BenchResults) -> str:
    out = header(r)
    if r.requests:
        out += requests_section(r.requests)
    if r.workers:
        out += workers_section(r.workers)
    if r.perf and r.perf.skipped is None:
        out += perf_section(r.perf)
    if r.uploads and r.uploads.upload_summary:
        out += uploads_section(r.uploads)
    if r.harness:
        out += harness_section(r.harness)
    if r.profile and (r.profile.workloads or r.profile.todo):
        out += profile_section(r.profile)
    t = targets(r)
    if t:
        out += targets_section(t)
    out.append("All figures come from this one run on a shared 2-core machine: read them as ratios between "
               "setups measured side by side, not as absolute capacities.")
    return "\n".join(out) + "\n"
