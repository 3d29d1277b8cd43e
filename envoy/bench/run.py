#!/usr/bin/env python3
"""The Envoy benchmarks of wa-egress-guard (`make bench`), in one bounded run on 127.0.0.1.

Setups of the Envoy under test (envoy/bench/setups.py), all rendered from envoy/egress.yaml
(same listener, routes, buffer filter, access log; one worker thread), differing only in the
first HTTP filter: bare, floor_headers, floor, guard, lua, and the diagnostic guard_nocontent
and floor_hostcalls. The floor (envoy/bench/floor) reads the headers, then the whole body
once at its end, and scans it; floor_headers never reads the body. Their upstream is a
second Envoy answering with direct_response (envoy/bench/upstream.yaml).

Phases (envoy/bench/phases/, each returns a dataclass of its results):
  requests  wrk load (1 thread, fixed connections, fixed duration per round), setups in turn,
            round after round: cs_text_1k, interactive_4k, assistant_block, other_host
            (envoy/bench/workloads.py). Per run: req/s, p50/p99/p99.9 latency, Envoy CPU time per
            request (utime+stime from /proc/<pid>/stat over the run / requests), VmRSS and VmHWM.
  workers   VmRSS and VmHWM of bare, floor_headers, floor and guard with --workers worker threads
            (default 4) after the same warm-up.
  uploads   guard and bare, streaming to envoy/bench/sink.py: a 100 MB JSONL upload (20% WhatsApp
            records, generated with a fixed seed) for MB/s and CPU per MB; VmHWM of a fresh Envoy
            after a 10 MB and after a 1 GB upload (the file sent ten times in one request).
  harness   the host-tests bench when it exists (else a TODO line) and the native engine bench
            (envoy/bench/native).
  profile   instructions per request of the native engine under callgrind, and where they go.
  perf      perf record of the Envoy under test during one wrk run per setup: CPU by binary.

Prints a markdown report on stdout (envoy/bench/report.py) and writes every figure to a JSON
file (default target/bench/results.json). Progress goes to stderr. Every process it starts is
stopped at the end, on error, on SIGTERM/SIGINT, and when the global deadline passes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType

BENCH_DIR = Path(__file__).resolve().parent
ENVOY_DIR = BENCH_DIR.parent
REPO = ENVOY_DIR.parent
sys.path.insert(0, str(ENVOY_DIR))
sys.path.insert(0, str(BENCH_DIR))

import launch  # noqa: E402  (envoy/launch.py)
import machine  # noqa: E402
import report  # noqa: E402
import setups  # noqa: E402
from phases import harness, perf, profile, requests, uploads, workers  # noqa: E402
from processes import Processes, Workspace  # noqa: E402
from progress import log  # noqa: E402

PHASES = ("requests", "workers", "uploads", "harness", "profile", "perf")
LOG_TAIL_LINES = 15


class Deadline(Exception):
    pass


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--connections", type=int, default=8)
    p.add_argument("--upstream-concurrency", type=int, default=1)
    p.add_argument("--workers", type=int, default=4, help="worker threads of the Envoy under test in the workers phase")
    p.add_argument("--upload-mb", type=int, default=100)
    p.add_argument("--upload-rounds", type=int, default=2)
    p.add_argument("--upload-timeout", type=float, default=120.0, help="seconds per 100 MB upload")
    p.add_argument("--native-seconds", type=float, default=1.0)
    p.add_argument("--native-timeout", type=float, default=900.0)
    p.add_argument("--host-tests-iterations", type=int, default=2000)
    p.add_argument("--profile-iterations", type=int, default=200, help="callgrind phase (--phases ...,profile)")
    p.add_argument("--deadline", type=float, default=2400.0, help="hard limit for the whole run, seconds")
    p.add_argument("--phases", default=",".join(PHASES),
                   help="comma-separated: requests, workers (memory with --workers worker threads), uploads, "
                        "harness, profile (callgrind of the native engine), perf (perf record of the Envoy under "
                        "test, CPU by binary)")
    p.add_argument("--skip-native", action="store_true")
    p.add_argument("--no-diagnostic", dest="diagnostic", action="store_false",
                   help="leave out the diagnostic setups (guard_nocontent, floor_hostcalls)")
    p.add_argument("--json-out", default=str(REPO / "target" / "bench" / "results.json"))
    p.add_argument("--keep-tmp", action="store_true")
    args = p.parse_args(argv)
    unknown = set(args.phases.split(",")) - set(PHASES)
    if unknown:
        p.error(f"unknown phases {sorted(unknown)}: choose from {', '.join(PHASES)}")
    return args


def missing_tool() -> str | None:
    """Why the run cannot start, or None."""
    for tool in ("wrk", "cargo"):
        if shutil.which(tool) is None:
            return f"`{tool}` not found (run `make deps`)"
    if not os.access(launch.envoy_bin(), os.X_OK):
        return f"no Envoy at {launch.envoy_bin()} (run `make venv` or set ENVOY_BIN)"
    if not Path(launch.wasm_path()).is_file():
        return f"no module at {Path(launch.wasm_path()).resolve()} (run `make wasm`)"
    return None


def run_phases(args: argparse.Namespace, phases: set[str], ws: Workspace, results: report.BenchResults) -> None:
    """Runs the chosen phases in order, storing each one's results as soon as it returns."""
    floor_wasm = setups.build_floor()
    results.floor_wasm_bytes = floor_wasm.stat().st_size
    lua_script = ws.tmp / "wa_check_full.lua"
    lua_stats = setups.write_lua_script(lua_script)
    modules = setups.Modules(guard_wasm=Path(results.guard_wasm), floor_wasm=floor_wasm, lua_script=lua_script)
    if "requests" in phases:
        results.requests = requests.run(
            ws, modules, setups.chosen(args.diagnostic),
            requests.RequestOptions(rounds=args.rounds, duration=args.duration, warmup=args.warmup,
                                    connections=args.connections, upstream_concurrency=args.upstream_concurrency),
            lua_stats)
    if "workers" in phases:
        results.workers = workers.run(ws, modules, args.workers, args.warmup, args.connections,
                                      args.upstream_concurrency)
    if "uploads" in phases:
        results.uploads = uploads.run(ws, modules, uploads.UploadOptions(
            mb=args.upload_mb, rounds=args.upload_rounds, timeout=args.upload_timeout))
    if "harness" in phases:
        results.harness = harness.run(ws, harness.HarnessOptions(
            host_tests_iterations=args.host_tests_iterations, native_seconds=args.native_seconds,
            timeout=args.native_timeout, skip_native=args.skip_native))
    if "profile" in phases:
        results.profile = profile.run(ws, args.profile_iterations, args.native_timeout)
    if "perf" in phases:
        results.perf = perf.run(ws, modules, args.duration, args.connections, args.upstream_concurrency)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(f"signal {signum}")

    def on_alarm(_signum: int, _frame: FrameType | None) -> None:
        raise Deadline(f"the run exceeded its {args.deadline:.0f} s deadline")

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(int(args.deadline))

    problem = missing_tool()
    if problem:
        print(f"bench: {problem}", file=sys.stderr)
        return 2
    guard_wasm = Path(launch.wasm_path()).resolve()
    started = time.monotonic()
    results = report.BenchResults(
        started=time.strftime("%Y-%m-%d %H:%M:%S %Z"), args=vars(args), machine=machine.describe(),
        guard_wasm=str(guard_wasm), guard_wasm_bytes=guard_wasm.stat().st_size)
    tmp = Path(tempfile.mkdtemp(prefix="wa-bench-"))
    procs = Processes(tmp)
    code = 0
    try:
        log(f"load average {os.getloadavg()}; temp dir {tmp}")
        run_phases(args, set(args.phases.split(",")), Workspace(tmp, procs), results)
    except (Deadline, SystemExit, Exception) as err:  # noqa: BLE001 - report what we have, then fail
        log(f"ERROR: {err!r}")
        for name, tail in procs.log_tails(LOG_TAIL_LINES):
            log(f"--- {name} log tail ---\n{tail}")
        results.error = repr(err)
        code = 1
    finally:
        signal.alarm(0)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)  # the cleanup itself must not be cut short
        procs.stop_all()
        if not args.keep_tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    results.elapsed_s = time.monotonic() - started
    results.loadavg_end = os.getloadavg()
    out = Path(args.json_out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report.to_json(results), indent=2, default=str), encoding="utf-8")
    try:
        sys.stdout.write(report.markdown(results))
    except (KeyError, TypeError, ValueError, ZeroDivisionError) as err:
        log(f"cannot format the report: {err!r}")
        code = 1
    print(f"\nresults JSON: {out}")
    return code


if __name__ == "__main__":
    sys.exit(main())
