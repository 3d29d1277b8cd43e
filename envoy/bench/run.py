#!/usr/bin/env python3
"""The Envoy benchmarks of wa-egress-guard (`make bench`), in one bounded run on 127.0.0.1.

Four setups of the Envoy under test (and two diagnostic ones), all rendered from
envoy/egress.yaml (same listener, routes, buffer filter, access log; one worker thread):
  bare   the same bootstrap without the wasm filter
  floor  a minimal proxy-wasm filter (envoy/bench/floor): reads the request headers, holds
         the body to its end, continues
  guard  wa-egress-guard with policies/default.json
  lua    envoy.filters.http.lua running envoy/bench/wa_check.lua (the nearest Lua equivalent)
  guard_nocontent  (diagnostic) the guard with content.enabled=false: body read, parsed and
         extracted, not scored; guard minus this = the classifier
  floor_hostcalls  (diagnostic) the floor making the guard's hostcalls on an allowed send and
         nothing else; this minus the floor = what those hostcalls cost in Envoy
Their upstream is a second Envoy answering with direct_response (envoy/bench/upstream.yaml).

Request workloads (wrk, 1 thread, fixed connections, fixed duration per round), setups run
in turn, round after round (bare floor guard lua, then lua guard floor bare, ...):
  cs_text_1k, interactive_4k, assistant_block, other_host (envoy/bench/workloads.py).
Per run: req/s, p50/p99/p99.9 latency, Envoy CPU time per request (utime+stime of the
Envoy process from /proc/<pid>/stat over the run / requests), Envoy VmRSS and VmHWM.

Upload workloads (guard and bare, streaming to envoy/bench/sink.py): a 100 MB JSONL upload
(20% WhatsApp records, generated at run time with a fixed seed) for MB/s and CPU per MB;
Envoy VmHWM of a fresh Envoy after a 10 MB and after a 1 GB upload (the 1 GB is the 100 MB
file sent ten times in one request, never stored).

Then the in-harness figures: the host-tests bench when it exists (else a TODO line) and the
native engine bench (envoy/bench/native); then the profile: instructions per request of the
native engine under callgrind, and where they go.

Prints a markdown report on stdout and writes every figure to a JSON file
(default target/bench/results.json). Progress goes to stderr. Every process it starts is
stopped at the end, on error, on SIGTERM/SIGINT, and when the global deadline passes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
LUA_LEXICON_THRESHOLD = 1.2
ENVOY_DIR = BENCH_DIR.parent
REPO = ENVOY_DIR.parent
sys.path.insert(0, str(ENVOY_DIR))
sys.path.insert(0, str(BENCH_DIR))

import launch  # noqa: E402  (envoy/launch.py)
import lua_lexicon  # noqa: E402
import workloads  # noqa: E402

SETUPS = ["bare", "floor", "guard", "lua"]
CLK_TCK = os.sysconf("SC_CLK_TCK")
FLOOR_MANIFEST = BENCH_DIR / "floor" / "Cargo.toml"
FLOOR_WASM = BENCH_DIR / "floor" / "target" / "wasm32-wasip1" / "release" / "bench_floor.wasm"
NATIVE_MANIFEST = BENCH_DIR / "native" / "Cargo.toml"
NATIVE_TARGET_DIR = REPO / "target" / "bench-native"
ALLOWED = ["cs_text_1k", "interactive_4k"]

_CHILDREN: list[subprocess.Popen] = []
_ENVOYS: list[launch.EnvoyProcess] = []


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Deadline(Exception):
    pass


# --- processes ----------------------------------------------------------------------------

def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of a whole process (all threads), from /proc/<pid>/stat."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2:].split()
    # after the comm field: state(0) ppid(1) ... utime is field 14 overall -> index 11 here
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_mem_kb(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])
    return out


def start_envoy(config_text: str, workdir: Path, name: str, concurrency: int = 1) -> launch.EnvoyProcess:
    path = workdir / f"{name}.yaml"
    path.write_text(config_text, encoding="utf-8")
    envoy = launch.EnvoyProcess(path, workdir, concurrency=concurrency, name=name)
    _ENVOYS.append(envoy)
    envoy.start(ready_timeout=60.0)
    return envoy


def stop_envoy(envoy: launch.EnvoyProcess) -> None:
    envoy.stop()
    if envoy in _ENVOYS:
        _ENVOYS.remove(envoy)


def cleanup() -> None:
    for envoy in list(_ENVOYS):
        try:
            envoy.stop(timeout=3)
        except Exception:  # noqa: BLE001 - best effort at exit
            if envoy.proc is not None:
                envoy.proc.kill()
    _ENVOYS.clear()
    for child in list(_CHILDREN):
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=3)
            except subprocess.TimeoutExpired:
                child.kill()
    _CHILDREN.clear()


# --- bootstraps ---------------------------------------------------------------------------

def _replace_wasm_filter(rendered: str, replacement: list[str]) -> str:
    """Swaps the guard's `envoy.filters.http.wasm` entry of a rendered egress.yaml for other lines."""
    lines = rendered.splitlines(keepends=True)
    start = next((i for i, l in enumerate(lines) if l.strip() == "- name: envoy.filters.http.wasm"), None)
    end = next((i for i, l in enumerate(lines) if l.strip() == "- name: envoy.filters.http.buffer"), None)
    if start is None or end is None or end <= start:
        raise RuntimeError("envoy/egress.yaml changed shape: cannot find the wasm and buffer filters")
    indent = lines[start][: len(lines[start]) - len(lines[start].lstrip())]
    block = [indent + r + "\n" for r in replacement]
    return "".join(lines[:start] + block + lines[end:])


def lua_source(tmp: Path) -> tuple[str, dict[str, int]]:
    lexicon, stats = lua_lexicon.generate(BENCH_DIR / "lexicon.json")
    # The Lua filter keeps the guard's former design (lexicon score plus structural weights) and
    # its former threshold: the guard's threshold is now a probability of the trained model.
    threshold = LUA_LEXICON_THRESHOLD
    stats["threshold"] = threshold
    source = (lexicon + f"POLICY_THRESHOLD = {threshold!r}\n\n"
              + (BENCH_DIR / "wa_check.lua").read_text(encoding="utf-8"))
    (tmp / "wa_check_full.lua").write_text(source, encoding="utf-8")
    return source, stats


def _floor_filter(name: str, configuration: str | None = None) -> list[str]:
    """The floor module as the first HTTP filter, in its own VM, with an optional configuration."""
    lines = [
        "- name: envoy.filters.http.wasm",
        "  typed_config:",
        '    "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm',
        "    config:",
        f"      name: {name}",
        "      root_id: bench_floor",
        "      failure_policy: FAIL_RELOAD",
    ]
    if configuration is not None:
        lines += ["      configuration:",
                  '        "@type": type.googleapis.com/google.protobuf.StringValue',
                  f"        value: '{configuration}'"]
    return lines + [
        "      vm_config:",
        f"        vm_id: {name}",
        "        runtime: envoy.wasm.runtime.v8",
        "        code:",
        f'          local: {{filename: "{FLOOR_WASM}"}}',
    ]


def bootstraps(tmp: Path, upstream_port: int, guard_wasm: str, lua_path: Path) -> dict[str, str]:
    policy = (REPO / "policies" / "default.json").read_text(encoding="utf-8")
    guard = launch.render_bootstrap(ENVOY_DIR / "egress.yaml", policy_text=policy,
                                    upstream_port=upstream_port, wasm=guard_wasm)
    floor = _replace_wasm_filter(guard, _floor_filter("bench_floor"))
    lua = _replace_wasm_filter(guard, [
        "- name: envoy.filters.http.lua",
        "  typed_config:",
        '    "@type": type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua',
        "    default_source_code:",
        f'      filename: "{lua_path}"',
    ])
    bare = _replace_wasm_filter(guard, [])
    configs = {"bare": bare, "floor": floor, "guard": guard, "lua": lua}
    # The diagnostic setups are always rendered (cheap); SETUPS decides which ones run.
    configs["floor_hostcalls"] = _replace_wasm_filter(guard, _floor_filter("bench_floor_hostcalls", '{"hostcalls": "guard"}'))
    # Diagnostic: the guard with the content classifier switched off. The body is still read,
    # decoded, parsed and its texts extracted; only the scoring is skipped.
    doc = json.loads(policy)
    doc["content"]["enabled"] = False
    configs["guard_nocontent"] = launch.render_bootstrap(
        ENVOY_DIR / "egress.yaml", policy_text=json.dumps(doc, indent=2), upstream_port=upstream_port,
        wasm=guard_wasm)
    return configs


# --- HTTP helpers -------------------------------------------------------------------------

def http_request(port: int, method: str, host: str, path: str, body: bytes,
                 content_type: str = "application/json", timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        head = (f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
        s.sendall(head + body)
        return read_response(s)


def read_response(s: socket.socket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError(f"connection closed before the response headers: {data[:200]!r}")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = s.recv(65536)
        if not chunk:
            break
        rest += chunk
    return status, headers, rest[:length]


def upload(port: int, host: str, path: str, content_type: str, file: Path, nbytes: int, reps: int,
           timeout: float) -> dict[str, Any]:
    """One POST streaming `nbytes` of `file`, `reps` times, with a Content-Length, via sendfile."""
    total = nbytes * reps
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s, open(file, "rb") as f:
        s.sendall((f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\n"
                   f"Content-Length: {total}\r\nConnection: close\r\n\r\n").encode())
        error = None
        try:
            for _ in range(reps):
                f.seek(0)
                sent = s.sendfile(f, 0, nbytes)
                if sent != nbytes:
                    raise ConnectionError(f"sendfile sent {sent} of {nbytes}")
        except OSError as err:
            error = repr(err)
        try:
            status, headers, body = read_response(s)
        except OSError as err:
            return {"error": error or repr(err), "seconds": time.monotonic() - t0}
    seconds = time.monotonic() - t0
    return {"status": status, "headers": {k: v for k, v in headers.items() if k.startswith("x-")},
            "body": body.decode("utf-8", "replace")[:300], "seconds": seconds, "bytes": total,
            "send_error": error}


# --- wrk ------------------------------------------------------------------------------------

def run_wrk(port: int, wl: workloads.Workload, body_file: Path, seconds: float, connections: int) -> dict[str, Any]:
    env = dict(os.environ, BENCH_BODY=str(body_file), BENCH_HOST=wl.host, BENCH_CONTENT_TYPE="application/json")
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", "--timeout", "2s",
           "-s", str(BENCH_DIR / "wrk_post.lua"), f"http://127.0.0.1:{port}{wl.path}"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 30, check=False)
    line = next((l for l in proc.stdout.splitlines() if l.startswith("WRK_JSON ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stdout[-500:]} {proc.stderr[-500:]}")
    return json.loads(line[len("WRK_JSON "):])


# --- phases ---------------------------------------------------------------------------------

def build_floor() -> None:
    log("building the floor module (envoy/bench/floor)")
    subprocess.run(["cargo", "build", "--manifest-path", str(FLOOR_MANIFEST), "--target", "wasm32-wasip1",
                    "--release", "-q"], check=True, timeout=900)
    if not FLOOR_WASM.is_file():
        raise RuntimeError(f"no floor module at {FLOOR_WASM}")


def check_decisions(envoys: dict[str, launch.EnvoyProcess], ports: dict[str, int],
                    wls: list[workloads.Workload]) -> dict[str, dict[str, Any]]:
    """One request per setup and workload: the status and decision header each setup gives."""
    seen: dict[str, dict[str, Any]] = {}
    for setup in SETUPS:
        seen[setup] = {}
        for wl in wls:
            status, headers, _ = http_request(ports[setup], "POST", wl.host, wl.path, wl.body)
            seen[setup][wl.name] = {"status": status, "decision": headers.get("x-wa-guard-decision", "")}
    problems = []
    for wl in wls:
        want_status = 403 if wl.expect == "block" else 200
        for setup in ("guard",):
            got = seen[setup][wl.name]
            if got["status"] != want_status or (wl.expect != "none" and got["decision"] != wl.expect):
                problems.append(f"{setup}/{wl.name}: want {wl.expect} ({want_status}), got {got}")
        for setup in [x for x in ("bare", "floor", "guard_nocontent", "floor_hostcalls") if x in seen]:
            if seen[setup][wl.name]["status"] != 200:
                problems.append(f"{setup}/{wl.name}: want 200, got {seen[setup][wl.name]}")
        if "floor_hostcalls" in seen:
            # The mimic must really make its response-header hostcalls, or it measures nothing.
            status, headers, _ = http_request(ports["floor_hostcalls"], "POST", wl.host, wl.path, wl.body)
            if headers.get("x-bench-floor-decision") != "allow":
                problems.append(f"floor_hostcalls/{wl.name}: no x-bench-floor-decision header ({status})")
    if problems:
        raise RuntimeError("the setups do not answer as expected:\n  " + "\n  ".join(problems))
    return seen


def request_phase(args: argparse.Namespace, tmp: Path, guard_wasm: str, results: dict[str, Any]) -> None:
    wls = workloads.request_workloads()
    body_files = {}
    for wl in wls:
        body_files[wl.name] = tmp / f"{wl.name}.json"
        body_files[wl.name].write_bytes(wl.body)
    results["workloads"] = {wl.name: {"title": wl.title, "host": wl.host, "path": wl.path,
                                      "body_bytes": len(wl.body), "guard_expects": wl.expect} for wl in wls}

    upstream_text = launch.render_template((BENCH_DIR / "upstream.yaml").read_text(encoding="utf-8"),
                                           {"LISTENER_PORT": 0, "ADMIN_PORT": 0})
    upstream = start_envoy(upstream_text, tmp, "upstream", concurrency=args.upstream_concurrency)
    upstream_port = upstream.listener_port("upstream")
    log(f"upstream (direct_response) Envoy on 127.0.0.1:{upstream_port}")

    source, lua_stats = lua_source(tmp)
    results["lua_lexicon"] = lua_stats
    configs = bootstraps(tmp, upstream_port, guard_wasm, tmp / "wa_check_full.lua")
    envoys, ports = {}, {}
    for setup in SETUPS:
        envoys[setup] = start_envoy(configs[setup], tmp, f"envoy-{setup}", concurrency=1)
        ports[setup] = envoys[setup].listener_port("egress")
        log(f"{setup}: Envoy pid {envoys[setup].proc.pid} on 127.0.0.1:{ports[setup]}")
    results["decisions"] = check_decisions(envoys, ports, wls)

    # Warm-up: every setup and workload once (V8 tiers up, Lua and regex caches fill).
    for wl in wls:
        for setup in SETUPS:
            run_wrk(ports[setup], wl, body_files[wl.name], args.warmup, args.connections)

    runs: list[dict[str, Any]] = []
    for rnd in range(args.rounds):
        order = SETUPS if rnd % 2 == 0 else list(reversed(SETUPS))
        for wl in wls:
            for setup in order:
                pid = envoys[setup].proc.pid
                up_pid = upstream.proc.pid
                c0, u0, t0 = proc_cpu_seconds(pid), proc_cpu_seconds(up_pid), time.monotonic()
                w = run_wrk(ports[setup], wl, body_files[wl.name], args.duration, args.connections)
                c1, u1, t1 = proc_cpu_seconds(pid), proc_cpu_seconds(up_pid), time.monotonic()
                mem = proc_mem_kb(pid)
                requests = max(w["requests"], 1)
                run = {
                    "round": rnd, "setup": setup, "workload": wl.name,
                    "requests": w["requests"], "seconds": w["duration_us"] / 1e6,
                    "rps": w["requests"] / (w["duration_us"] / 1e6),
                    "p50_us": w["latency_us"]["p50"], "p99_us": w["latency_us"]["p99"],
                    "p99_9_us": w["latency_us"]["p99_9"], "max_us": w["latency_us"]["max"],
                    "cpu_s": c1 - c0, "cpu_us_per_req": (c1 - c0) * 1e6 / requests,
                    "envoy_cpu_util": (c1 - c0) / (t1 - t0), "upstream_cpu_util": (u1 - u0) / (t1 - t0),
                    "vm_rss_kb": mem.get("VmRSS"), "vm_hwm_kb": mem.get("VmHWM"),
                    "non_2xx": w["errors"]["status"],
                    "socket_errors": sum(v for k, v in w["errors"].items() if k != "status"),
                }
                runs.append(run)
                log(f"round {rnd + 1}/{args.rounds} {wl.name:16s} {setup:5s} {run['rps']:8.0f} req/s "
                    f"cpu {run['cpu_us_per_req']:6.1f} us/req p99 {run['p99_us']} us "
                    f"(envoy {run['envoy_cpu_util']:.0%}, upstream {run['upstream_cpu_util']:.0%}, load {os.getloadavg()[0]:.2f})")
    results["request_runs"] = runs
    results["memory_after_requests"] = {s: proc_mem_kb(envoys[s].proc.pid) for s in SETUPS}
    for envoy in list(envoys.values()) + [upstream]:
        stop_envoy(envoy)


def summarise_requests(results: dict[str, Any]) -> None:
    runs = results["request_runs"]
    summary: dict[str, dict[str, dict[str, float]]] = {}
    metrics = ["rps", "p50_us", "p99_us", "p99_9_us", "cpu_us_per_req"]
    for wl in results["workloads"]:
        summary[wl] = {}
        for setup in SETUPS:
            mine = [r for r in runs if r["workload"] == wl and r["setup"] == setup]
            row = {m: statistics.median(r[m] for r in mine) for m in metrics}
            row["cpu_us_per_req_min"] = min(r["cpu_us_per_req"] for r in mine)
            row["cpu_us_per_req_max"] = max(r["cpu_us_per_req"] for r in mine)
            row["non_2xx"] = sum(r["non_2xx"] for r in mine)
            row["socket_errors"] = sum(r["socket_errors"] for r in mine)
            row["upstream_cpu_util_max"] = max(r["upstream_cpu_util"] for r in mine)
            summary[wl][setup] = row
        bare, floor = summary[wl]["bare"], summary[wl]["floor"]
        for setup in SETUPS:
            row = summary[wl][setup]
            for m in metrics:
                row[f"{m}_vs_bare"] = row[m] / bare[m] if bare[m] else float("nan")
                row[f"{m}_vs_floor"] = row[m] / floor[m] if floor[m] else float("nan")
            row["added_cpu_us_per_req"] = row["cpu_us_per_req"] - bare["cpu_us_per_req"]
    results["request_summary"] = summary


def upload_phase(args: argparse.Namespace, tmp: Path, guard_wasm: str, results: dict[str, Any]) -> None:
    data = tmp / "upload.jsonl"
    log(f"generating {args.upload_mb} MB of JSONL (20% WhatsApp records, fixed seed)")
    info = workloads.write_jsonl(data, args.upload_mb * 1_000_000)
    size = data.stat().st_size
    with open(data, "rb") as f:  # the 10 MB upload: the first records, cut at a line end
        head = f.read(10_000_000)
    small = head.rindex(b"\n") + 1
    results["upload_data"] = dict(info, file_bytes=size, small_bytes=small)

    port_file = tmp / "sink.port"
    sink = subprocess.Popen([sys.executable, str(BENCH_DIR / "sink.py"), "--port-file", str(port_file)],
                            stdin=subprocess.DEVNULL)
    _CHILDREN.append(sink)
    deadline = time.monotonic() + 10
    while not port_file.exists():
        if time.monotonic() > deadline or sink.poll() is not None:
            raise RuntimeError("the sink did not start")
        time.sleep(0.05)
    sink_port = int(port_file.read_text())

    configs = bootstraps(tmp, sink_port, guard_wasm, tmp / "wa_check_full.lua")
    target = ("api.openai.com", "/v1/files", "application/jsonl")

    def one(envoy: launch.EnvoyProcess, port: int, nbytes: int, reps: int, timeout: float) -> dict[str, Any]:
        pid = envoy.proc.pid
        c0, s0 = proc_cpu_seconds(pid), proc_cpu_seconds(sink.pid)
        r = upload(port, *target, data, nbytes, reps, timeout)
        c1, s1 = proc_cpu_seconds(pid), proc_cpu_seconds(sink.pid)
        r["mb"] = nbytes * reps / 1e6
        r["mb_per_s"] = r["mb"] / r["seconds"] if "status" in r else 0.0
        r["cpu_s"] = c1 - c0
        r["cpu_ms_per_mb"] = (c1 - c0) * 1e3 / r["mb"]
        r["sink_cpu_util"] = (s1 - s0) / r["seconds"]
        r["mem_kb"] = proc_mem_kb(pid)
        return r

    # Throughput: bare and guard alternately, a fresh connection per upload.
    envoys = {s: start_envoy(configs[s], tmp, f"upload-{s}", concurrency=1) for s in ("bare", "guard")}
    ports = {s: envoys[s].listener_port("egress") for s in envoys}
    one(envoys["guard"], ports["guard"], small, 1, 120)  # warm-up
    one(envoys["bare"], ports["bare"], small, 1, 120)
    throughput = []
    for rnd in range(args.upload_rounds):
        for setup in (("bare", "guard") if rnd % 2 == 0 else ("guard", "bare")):
            r = one(envoys[setup], ports[setup], size, 1, args.upload_timeout)
            r.update(round=rnd, setup=setup)
            throughput.append(r)
            log(f"upload round {rnd + 1} {setup:5s} {r['mb']:.0f} MB: {r['mb_per_s']:.1f} MB/s, "
                f"cpu {r['cpu_ms_per_mb']:.2f} ms/MB, status {r.get('status')}, {r.get('headers', {})}")
    for envoy in envoys.values():
        stop_envoy(envoy)
    results["upload_runs"] = throughput

    # Peak memory: a fresh Envoy per upload size.
    peaks = []
    for setup in ("guard", "bare"):
        for label, nbytes, reps in (("10MB", small, 1), ("1GB", size, 10)):
            envoy = start_envoy(configs[setup], tmp, f"peak-{setup}-{label}", concurrency=1)
            port = envoy.listener_port("egress")
            idle = proc_mem_kb(envoy.proc.pid)
            r = one(envoy, port, nbytes, reps, args.upload_timeout * reps)
            r.update(setup=setup, size=label, idle_mem_kb=idle)
            peaks.append(r)
            log(f"peak {setup:5s} {label}: VmHWM {r['mem_kb'].get('VmHWM')} kB (idle {idle.get('VmHWM')} kB), "
                f"{r['mb_per_s']:.1f} MB/s, status {r.get('status')}")
            stop_envoy(envoy)
    results["upload_peaks"] = peaks
    sink.terminate()
    sink.wait(timeout=5)


def summarise_uploads(results: dict[str, Any]) -> None:
    out: dict[str, Any] = {}
    for setup in ("bare", "guard"):
        mine = [r for r in results["upload_runs"] if r["setup"] == setup and r.get("status") == 200]
        if mine:
            out[setup] = {
                "mb_per_s": statistics.median(r["mb_per_s"] for r in mine),
                "cpu_ms_per_mb": statistics.median(r["cpu_ms_per_mb"] for r in mine),
                "sink_cpu_util_max": max(r["sink_cpu_util"] for r in mine),
                "stripped": mine[-1]["headers"].get("x-wa-guard-stripped"),
                "upstream_received": mine[-1]["body"],
            }
    for setup in ("guard", "bare"):
        peak = {r["size"]: r for r in results["upload_peaks"] if r["setup"] == setup}
        if "10MB" in peak and "1GB" in peak:
            out.setdefault(setup, {})
            out[setup]["hwm_10mb_kb"] = peak["10MB"]["mem_kb"].get("VmHWM")
            out[setup]["hwm_1gb_kb"] = peak["1GB"]["mem_kb"].get("VmHWM")
            out[setup]["hwm_idle_kb"] = peak["1GB"]["idle_mem_kb"].get("VmHWM")
            out[setup]["status_1gb"] = peak["1GB"].get("status")
            out[setup]["mb_per_s_1gb"] = peak["1GB"]["mb_per_s"]
    results["upload_summary"] = out


def harness_phase(args: argparse.Namespace, tmp: Path, results: dict[str, Any]) -> None:
    """The in-harness figures: host-tests' bench (when it exists) and the native engine bench."""
    out: dict[str, Any] = {}
    wls = workloads.request_workloads()
    for wl in wls:
        (tmp / f"{wl.name}.json").write_bytes(wl.body)
    bench_bin = REPO / "host-tests" / "src" / "bin" / "bench.rs"
    if bench_bin.is_file():
        import base64
        requests_file = tmp / "host_tests_requests.jsonl"
        requests_file.write_text("".join(json.dumps({
            "note": wl.name, "method": "POST", "authority": wl.host, "path": wl.path,
            "headers": {"content-type": "application/json"},
            "body_base64": base64.b64encode(wl.body).decode()}) + "\n" for wl in wls))
        features = (["--features", "native"] if re.search(r"^native\s*=", (REPO / "host-tests" / "Cargo.toml")
                                                         .read_text(encoding="utf-8"), re.M) else [])
        cmd = ["cargo", "run", "-q", "--profile", "host", "-p", "host-tests", *features, "--bin", "bench", "--",
               "--wasm", launch.wasm_path(), "--policy", str(REPO / "policies" / "default.json"),
               "--requests", str(requests_file), "--iterations", str(args.host_tests_iterations)]
        log("host-tests bench (wasmtime and native): " + " ".join(cmd))
        try:
            proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=args.native_timeout,
                                  check=False)
            out["host_tests"] = {"command": " ".join(cmd), "returncode": proc.returncode,
                                 "output": proc.stdout[-6000:], "stderr_tail": proc.stderr[-1500:],
                                 "us_per_request": {}}
            for line in proc.stdout.splitlines():
                m = re.match(r"^(\S+)\s+([\d.]+)µs\s+([\d.]+)µs\s+([\d.]+)µs\s+(?:([\d.]+)µs)?", line)
                if m:
                    out["host_tests"]["us_per_request"][m.group(1)] = {
                        "wasm_mean": float(m.group(2)), "wasm_p50": float(m.group(3)), "wasm_p99": float(m.group(4)),
                        "native_mean": float(m.group(5)) if m.group(5) else None}
        except subprocess.TimeoutExpired:
            out["host_tests"] = {"command": " ".join(cmd), "error": "timed out"}
    else:
        out["host_tests"] = {"todo": "TODO: host-tests has no bench yet (host-tests/src/bin/bench.rs): "
                                     "µs per request in wasmtime not measured"}
    if args.skip_native:
        out["native"] = {"skipped": True}
    else:
        spec = tmp / "native_workloads.json"
        spec.write_text(json.dumps([
            {"name": wl.name, "authority": wl.host, "path": wl.path, "body_file": str(tmp / f"{wl.name}.json"),
             "expect": wl.expect} for wl in wls]))
        upload_file = tmp / "upload.jsonl"
        cmd = ["cargo", "run", "-q", "--release", "--manifest-path", str(NATIVE_MANIFEST), "--target-dir",
               str(NATIVE_TARGET_DIR), "--", "--policy", str(REPO / "policies" / "default.json"),
               "--workloads", str(spec), "--seconds", str(args.native_seconds)]
        if upload_file.exists():
            cmd += ["--upload", str(upload_file)]
        log("native engine bench: " + " ".join(cmd))
        try:
            proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=args.native_timeout,
                                  check=False)
            line = next((l for l in proc.stdout.splitlines() if l.startswith("{")), None)
            out["native"] = json.loads(line) if (proc.returncode == 0 and line) else {
                "error": f"exit {proc.returncode}", "stderr_tail": proc.stderr[-2000:]}
            out["native"]["command"] = " ".join(cmd)
        except subprocess.TimeoutExpired:
            out["native"] = {"error": "timed out"}
    results["harness"] = out


def _source_of(file: str) -> str:
    """Where a line of code comes from: a filter source file, a crate, or a std module."""
    m = re.search(r"(filter/src/.*)$", file)
    if m:
        return m.group(1)
    m = re.search(r"/([A-Za-z_\-]+)-\d+\.\d+\.\d+[^/]*/src/", file)
    if m:
        return m.group(1)
    m = re.search(r"/library/([a-z_]+/src/[^.]*)", file)
    if m:
        return "std " + m.group(1).replace("/src/", "::").replace("/", "::")
    if "malloc" in file:
        return "libc malloc"
    if "string" in file or "memmove" in file or "memset" in file or "memchr" in file:
        return "libc string"
    return Path(file).name or "?"


def _callgrind(cmd: list[str], out_file: Path, timeout: float) -> tuple[int, dict[str, int]]:
    """Runs cmd under callgrind; returns (total Ir, self Ir per function and per source)."""
    subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_file}", *cmd],
                   capture_output=True, text=True, timeout=timeout, check=True)
    text = subprocess.run(["callgrind_annotate", "--inclusive=no", "--auto=no", "--threshold=100", str(out_file)],
                          capture_output=True, text=True, timeout=120, check=True).stdout
    total, funcs = 0, {}
    for line in text.splitlines():
        m = re.match(r"^\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*)$", line)
        if not m:
            continue
        ir, name = int(m.group(1).replace(",", "")), m.group(2)
        if name.startswith("PROGRAM TOTALS"):
            total = ir
            continue
        # "file:function [object]": inlined code is listed under the file it came from, so add
        # every file's share to the function it was inlined into.
        file, _, func = re.sub(r" \[[^\]]*\]$", "", name).partition(":")
        funcs[func or file] = funcs.get(func or file, 0) + ir
        src = "src " + _source_of(file)
        funcs[src] = funcs.get(src, 0) + ir
    return total, funcs


def _short(name: str) -> str:
    """A readable function name: generic arguments and closures' hashes dropped."""
    depth, out = 0, []
    for ch in name:
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth = max(depth - 1, 0)
        elif depth == 0:
            out.append(ch)
    short = "".join(out).replace("{{closure}}", "{closure}")
    return short if len(short) <= 90 else short[:87] + "..."


def _tops(diff: dict[str, float], per: float) -> dict[str, list[dict[str, Any]]]:
    funcs = sorted(((k, v) for k, v in diff.items() if not k.startswith("src ")), key=lambda kv: -kv[1])[:12]
    srcs = sorted(((k[4:], v) for k, v in diff.items() if k.startswith("src ")), key=lambda kv: -kv[1])[:12]
    return {"top": [{"function": _short(k), "ir": v, "share": v / per if per else 0} for k, v in funcs],
            "sources": [{"source": k, "ir": v, "share": v / per if per else 0} for k, v in srcs]}


def profile_phase(args: argparse.Namespace, tmp: Path, results: dict[str, Any]) -> None:
    """Instructions per request of the native engine (callgrind), and where they go.

    Each workload runs twice under callgrind, with N1 and N2 iterations; the difference,
    divided by N2 - N1, is the warm cost of one request (policy compilation, lazy statics and
    the first DFA states cancel out). Same for the upload: a 1 MB and a 5 MB prefix."""
    if shutil.which("valgrind") is None or shutil.which("callgrind_annotate") is None:
        results["profile"] = {"todo": "valgrind not installed: no instruction profile"}
        return
    subprocess.run(["cargo", "build", "-q", "--release", "--manifest-path", str(NATIVE_MANIFEST), "--target-dir",
                    str(NATIVE_TARGET_DIR)], cwd=REPO, check=True, timeout=args.native_timeout)
    binary = NATIVE_TARGET_DIR / "release" / "bench-native"
    policy = str(REPO / "policies" / "default.json")
    n1, n2 = 20, 20 + args.profile_iterations
    out: dict[str, Any] = {"method": f"callgrind, ({n2} - {n1}) iterations difference", "workloads": {}}
    for wl in workloads.request_workloads():
        body = tmp / f"{wl.name}.json"
        body.write_bytes(wl.body)
        spec = tmp / f"profile_{wl.name}.json"
        spec.write_text(json.dumps([{"name": wl.name, "authority": wl.host, "path": wl.path,
                                     "body_file": str(body), "expect": wl.expect}]))
        runs = []
        for n in (n1, n2):
            runs.append(_callgrind([str(binary), "--policy", policy, "--workloads", str(spec), "--iterations", str(n)],
                                   tmp / f"cg.{wl.name}.{n}", args.native_timeout))
        per = (runs[1][0] - runs[0][0]) / (n2 - n1)
        diff = {k: (runs[1][1].get(k, 0) - runs[0][1].get(k, 0)) / (n2 - n1) for k in runs[1][1]}
        out["workloads"][wl.name] = dict(ir_per_request=per, **_tops(diff, per))
        log(f"profile {wl.name}: {per:,.0f} instructions per request")
    data = tmp / "upload.jsonl"
    if not data.exists():
        workloads.write_jsonl(data, 6_000_000)
    raw = data.read_bytes()[:6_000_000]
    sizes = []
    for mb in (1, 5):
        cut = raw[: mb * 1_000_000]
        part = tmp / f"upload_{mb}mb.jsonl"
        part.write_bytes(cut[: cut.rindex(b"\n") + 1])
        sizes.append(part)
    runs = [_callgrind([str(binary), "--policy", policy, "--upload", str(p)], tmp / f"cg.upload.{i}", args.native_timeout)
            for i, p in enumerate(sizes)]
    mbs = (sizes[1].stat().st_size - sizes[0].stat().st_size) / 1e6
    per = (runs[1][0] - runs[0][0]) / mbs
    diff = {k: (runs[1][1].get(k, 0) - runs[0][1].get(k, 0)) / mbs for k in runs[1][1]}
    out["upload"] = dict(ir_per_mb=per, **_tops(diff, per))
    log(f"profile upload: {per:,.0f} instructions per MB")
    results["profile"] = out


# --- targets and report -------------------------------------------------------------------------

PERF_SETUPS = ("floor", "floor_hostcalls", "guard_nocontent", "guard")


def perf_phase(args: argparse.Namespace, tmp: Path, guard_wasm: str, results: dict[str, Any]) -> None:
    """Where the Envoy under test spends its CPU, by binary: `perf record` of the worker during
    one wrk run per setup (cs_text_1k and interactive_4k). Envoy's binary is stripped, so the
    split is by DSO: the kernel, Envoy itself (V8's runtime is linked into it), the JIT code
    (the wasm modules compiled by V8) and libc."""
    if shutil.which("perf") is None:
        results["perf"] = {"skipped": "perf not installed (Debian: linux-perf)"}
        log("perf phase skipped: no `perf`")
        return
    upstream_text = launch.render_template((BENCH_DIR / "upstream.yaml").read_text(encoding="utf-8"),
                                           {"LISTENER_PORT": 0, "ADMIN_PORT": 0})
    upstream = start_envoy(upstream_text, tmp, "perf-upstream", concurrency=args.upstream_concurrency)
    lua_source(tmp)
    configs = bootstraps(tmp, upstream.listener_port("upstream"), guard_wasm, tmp / "wa_check_full.lua")
    out: dict[str, Any] = {}
    try:
        for wl in [w for w in workloads.request_workloads() if w.name in ("cs_text_1k", "interactive_4k")]:
            body = tmp / f"perf_{wl.name}.json"
            body.write_bytes(wl.body)
            for setup in PERF_SETUPS:
                envoy = start_envoy(configs[setup], tmp, f"perf-{setup}", concurrency=1)
                try:
                    port = envoy.listener_port("egress")
                    run_wrk(port, wl, body, 2, args.connections)
                    data = tmp / f"perf-{setup}-{wl.name}.data"
                    rec = subprocess.Popen(["perf", "record", "-q", "-F", "1999", "-o", str(data), "-p",
                                            str(envoy.proc.pid)], stdout=subprocess.DEVNULL,
                                           stderr=subprocess.DEVNULL)
                    time.sleep(0.3)
                    wrk = run_wrk(port, wl, body, args.duration, args.connections)
                    rec.send_signal(signal.SIGINT)
                    rec.wait(timeout=60)
                    if not data.is_file():
                        raise RuntimeError(f"perf record wrote nothing (exit {rec.returncode}); "
                                           "check /proc/sys/kernel/perf_event_paranoid")
                    rep = subprocess.run(["perf", "report", "-i", str(data), "--no-children", "--sort", "dso",
                                          "-g", "none", "-n", "--stdio"], capture_output=True, text=True,
                                         timeout=120, check=False).stdout
                    by_dso: dict[str, float] = {}
                    if "[JIT]" not in rep and "envoy" not in rep:
                        raise RuntimeError(f"perf report has no Envoy samples: {rep[-300:]!r}")
                    for line in rep.splitlines():
                        m = re.match(r"\s*[\d.]+%\s+(\d+)\s+(.+?)\s*$", line)
                        if not m:
                            continue
                        name = m.group(2)
                        group = ("kernel" if "kernel" in name else "JIT (wasm)" if "[JIT]" in name
                                 else "envoy + V8" if name == "envoy" else "libc" if name.startswith("libc")
                                 else "other")
                        by_dso[group] = by_dso.get(group, 0.0) + int(m.group(1))
                    # Samples at 1999 Hz over the wrk run (the sampling window is a little longer).
                    seconds = wrk["duration_us"] / 1e6
                    per_req = {k: v / 1999 / wrk["requests"] * 1e6 for k, v in by_dso.items()}
                    out.setdefault(wl.name, {})[setup] = {"requests": wrk["requests"], "seconds": seconds,
                                                          "us_per_req": per_req}
                    log(f"perf {wl.name:16s} {setup:16s} " + ", ".join(f"{k} {v:.1f}" for k, v in per_req.items()))
                    data.unlink(missing_ok=True)
                finally:
                    stop_envoy(envoy)
    finally:
        stop_envoy(upstream)
    results["perf"] = out


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    t = []
    s = results.get("request_summary", {})
    for wl in ALLOWED:
        if wl not in s:
            continue
        g, f = s[wl]["guard"], s[wl]["floor"]
        ratio = g["added_cpu_us_per_req"] / f["added_cpu_us_per_req"] if f["added_cpu_us_per_req"] > 0 else float("inf")
        t.append({"target": f"{wl}: added CPU/req <= 1.25x the floor's", "met": ratio <= 1.25,
                  "figure": f"{g['added_cpu_us_per_req']:.1f} vs {f['added_cpu_us_per_req']:.1f} us ({ratio:.2f}x)"})
        r = g["rps"] / f["rps"]
        t.append({"target": f"{wl}: req/s >= 0.95x the floor's", "met": r >= 0.95,
                  "figure": f"{g['rps']:.0f} vs {f['rps']:.0f} ({r:.2f}x)"})
    for wl in s:
        g, lua = s[wl]["guard"], s[wl]["lua"]
        t.append({"target": f"{wl}: CPU/req lower than Lua", "met": g["cpu_us_per_req"] < lua["cpu_us_per_req"],
                  "figure": f"{g['cpu_us_per_req']:.1f} vs {lua['cpu_us_per_req']:.1f} us"})
    u = results.get("upload_summary", {}).get("guard", {})
    if "mb_per_s" in u:
        t.append({"target": "stripping >= 200 MB/s", "met": u["mb_per_s"] >= 200,
                  "figure": f"{u['mb_per_s']:.1f} MB/s"})
    if u.get("hwm_10mb_kb") and u.get("hwm_1gb_kb"):
        d = u["hwm_1gb_kb"] / u["hwm_10mb_kb"] - 1
        t.append({"target": "Envoy VmHWM within 10% between a 10 MB and a 1 GB upload", "met": abs(d) <= 0.10,
                  "figure": f"{u['hwm_10mb_kb'] / 1024:.1f} vs {u['hwm_1gb_kb'] / 1024:.1f} MiB ({d:+.1%})"})
    return t


def machine_info() -> dict[str, Any]:
    def cmd(c: list[str]) -> str:
        try:
            p = subprocess.run(c, capture_output=True, text=True, timeout=30, check=False)
            return (p.stdout + p.stderr).strip()
        except (OSError, subprocess.TimeoutExpired) as err:
            return f"unavailable: {err}"

    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                if l.startswith("model name")), "?")
    mem = next((l.split(":", 1)[1].strip() for l in Path("/proc/meminfo").read_text().splitlines()
                if l.startswith("MemTotal")), "?")
    return {
        "nproc": os.cpu_count(), "cpu_model": cpu, "mem_total": mem, "kernel": platform.release(),
        "envoy": cmd([launch.envoy_bin(), "--version"]).splitlines()[-1] if launch.envoy_bin() else "?",
        "rustc": cmd(["rustc", "--version"]), "wrk": cmd(["wrk", "--version"]).splitlines()[0],
        "python": platform.python_version(), "loadavg_start": os.getloadavg(),
        "valgrind": cmd(["valgrind", "--version"]) if shutil.which("valgrind") else "not installed",
        "git": cmd(["git", "-C", str(REPO), "describe", "--always", "--dirty"]),
    }


def fmt(v: float, digits: int = 1) -> str:
    return f"{v:,.{digits}f}"


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    a = results["args"]
    out = [
        "## Envoy benchmark run",
        "",
        f"Machine: {m['nproc']} CPUs ({m['cpu_model']}), {m['mem_total']} RAM, Linux {m['kernel']}; "
        f"load average {m['loadavg_start'][0]:.2f} at the start, {results.get('loadavg_end', [0])[0]:.2f} at the end.",
        f"Versions: {m['envoy']}; {m['rustc']}; {m['wrk']}; Python {m['python']}; {m.get('valgrind', '')}. "
        f"Code: {m.get('git', '?')}.",
        f"Run: {a['rounds']} rounds x {a['duration']} s per setup and workload, wrk -t1 -c{a['connections']}, "
        f"Envoy under test --concurrency 1, started {results['started']}, {results['elapsed_s']:.0f} s in all.",
        "",
    ]
    s = results.get("request_summary")
    if s:
        out += ["### Requests (median of the rounds)", "",
                "| workload | setup | req/s | p50 µs | p99 µs | p99.9 µs | CPU µs/req (rounds min-max) | "
                "added CPU µs/req (vs bare) | non-2xx |",
                "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for wl, rows in s.items():
            for setup in SETUPS:
                r = rows[setup]
                out.append(
                    f"| {wl} | {setup} | {fmt(r['rps'], 0)} | {fmt(r['p50_us'], 0)} | {fmt(r['p99_us'], 0)} | "
                    f"{fmt(r['p99_9_us'], 0)} | {fmt(r['cpu_us_per_req'])} ({fmt(r['cpu_us_per_req_min'])}-"
                    f"{fmt(r['cpu_us_per_req_max'])}) | {fmt(r['added_cpu_us_per_req'])} | {r['non_2xx']} |")
        out += ["", "The same figures as ratios: to bare Envoy / to the floor.", "",
                "| workload | setup | req/s | p50 | p99 | p99.9 | CPU per request |",
                "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
        for wl, rows in s.items():
            for setup in SETUPS[1:]:
                r = rows[setup]
                cells = [f"{r[m + '_vs_bare']:.2f} / {r[m + '_vs_floor']:.2f}"
                         for m in ("rps", "p50_us", "p99_us", "p99_9_us", "cpu_us_per_req")]
                out.append(f"| {wl} | {setup} | " + " | ".join(cells) + " |")
        if "guard_nocontent" in SETUPS:
            mimic = "floor_hostcalls" in SETUPS
            out += ["", "Where the guard's added CPU goes (µs per request, medians; diagnostic setups: `guard_nocontent` = "
                        "the guard with `content.enabled: false`"
                        + (", `floor_hostcalls` = the floor making the guard's hostcalls of an allowed send" if mimic else "")
                        + "):", "",
                    "| workload | floor added | guard added | guard without the classifier | the classifier (difference) |"
                    + (" floor_hostcalls added | the hostcalls (floor_hostcalls minus floor) | the guard's work without "
                       "the classifier (guard_nocontent minus floor_hostcalls) |" if mimic else ""),
                    "| --- | ---: | ---: | ---: | ---: |" + (" ---: | ---: | ---: |" if mimic else "")]
            for wl, rows in s.items():
                g, n, f = rows["guard"], rows["guard_nocontent"], rows["floor"]
                line = (f"| {wl} | {fmt(f['added_cpu_us_per_req'])} | {fmt(g['added_cpu_us_per_req'])} | "
                        f"{fmt(n['added_cpu_us_per_req'])} | {fmt(g['cpu_us_per_req'] - n['cpu_us_per_req'])} |")
                if mimic:
                    h = rows["floor_hostcalls"]
                    line += (f" {fmt(h['added_cpu_us_per_req'])} | {fmt(h['cpu_us_per_req'] - f['cpu_us_per_req'])} | "
                             f"{fmt(n['cpu_us_per_req'] - h['cpu_us_per_req'])} |")
                out.append(line)
        out += ["", "Decisions seen before measuring (HTTP status / x-wa-guard-decision):", ""]
        out += ["| workload | " + " | ".join(SETUPS) + " |", "| --- |" + " --- |" * len(SETUPS)]
        for wl in s:
            cells = [f"{results['decisions'][st][wl]['status']} {results['decisions'][st][wl]['decision'] or '-'}"
                     for st in SETUPS]
            out.append(f"| {wl} | " + " | ".join(cells) + " |")
        mem = results["memory_after_requests"]
        out += ["", "Envoy memory after the request rounds (MiB): " + ", ".join(
            f"{st} RSS {mem[st]['VmRSS'] / 1024:.1f} / HWM {mem[st]['VmHWM'] / 1024:.1f} "
            f"({mem[st]['VmRSS'] / mem['bare']['VmRSS']:.2f}x bare, {mem[st]['VmRSS'] / mem['floor']['VmRSS']:.2f}x floor)"
            for st in SETUPS) + "."]
        up = max(r["upstream_cpu_util_max"] for rows in s.values() for r in rows.values())
        util = [r["envoy_cpu_util"] for r in results["request_runs"]]
        out += [f"Envoy under test: {min(util):.0%} to {max(util):.0%} of a core over the runs (CPU-bound, so req/s "
                f"follows CPU per request). Upstream Envoy at most {up:.0%} of a core (never the bottleneck).",
                f"Lua lexicon: {results['lua_lexicon']}.", ""]
    pf = results.get("perf")
    if pf and "skipped" not in pf:
        groups = ["JIT (wasm)", "envoy + V8", "kernel", "libc", "other"]
        out += ["### Where the Envoy under test spends its CPU (perf, µs per request by binary)", "",
                "Sampled at 1999 Hz during one wrk run per setup; the sampling window is slightly longer "
                "than the run, so the sums are slightly above the CPU per request of the request tables.", "",
                "| workload | setup | " + " | ".join(groups) + " | sum |",
                "| --- | --- |" + " ---: |" * (len(groups) + 1)]
        for wl, rows in pf.items():
            for setup, r in rows.items():
                v = r["us_per_req"]
                out.append(f"| {wl} | {setup} | " + " | ".join(f"{v.get(g, 0.0):.1f}" for g in groups)
                           + f" | {sum(v.values()):.1f} |")
        out.append("")
    u = results.get("upload_summary")
    if u:
        d = results["upload_data"]
        out += ["### Upload stripping (api.openai.com /v1/files, application/jsonl)", "",
                f"Data: {d['file_bytes'] / 1e6:.1f} MB, {d['records']} records, {d['whatsapp_records']} WhatsApp-derived "
                f"(seeded); 10 MB upload = first {d['small_bytes'] / 1e6:.1f} MB; 1 GB upload = the file 10 times in one request.",
                "",
                "| setup | MB/s (100 MB) | CPU ms/MB | x-wa-guard-stripped | VmHWM idle / 10 MB / 1 GB (MiB) | MB/s (1 GB) |",
                "| --- | ---: | ---: | --- | --- | ---: |"]
        for setup in ("bare", "guard"):
            r = u.get(setup, {})
            if "mb_per_s" not in r:
                continue
            hwm = (f"{r.get('hwm_idle_kb', 0) / 1024:.1f} / {r.get('hwm_10mb_kb', 0) / 1024:.1f} / "
                   f"{r.get('hwm_1gb_kb', 0) / 1024:.1f}")
            out.append(f"| {setup} | {fmt(r['mb_per_s'])} | {r['cpu_ms_per_mb']:.2f} | {r.get('stripped') or '-'} | "
                       f"{hwm} | {fmt(r.get('mb_per_s_1gb', 0))} |")
        if "bare" in u and "guard" in u and "mb_per_s" in u["bare"] and "mb_per_s" in u["guard"]:
            out += ["", f"Guard vs bare: {u['guard']['mb_per_s'] / u['bare']['mb_per_s']:.2f}x the throughput, "
                        f"{u['guard']['cpu_ms_per_mb'] / u['bare']['cpu_ms_per_mb']:.1f}x the CPU per MB. "
                        f"Upstream saw: {u['guard'].get('upstream_received')}. "
                        f"Sink CPU at most {max(u[s_]['sink_cpu_util_max'] for s_ in ('bare', 'guard')):.0%} of a core."]
        out.append("")
    h = results.get("harness", {})
    if h:
        out += ["### In the harness", ""]
        ht = h.get("host_tests", {})
        if "todo" in ht:
            out.append(f"- wasmtime: {ht['todo']}")
        else:
            out += [f"- wasmtime (`{ht.get('command')}`):", "", "```", (ht.get("output") or "").strip() or
                    f"failed ({ht.get('returncode', ht.get('error'))}): {ht.get('stderr_tail', '')[-600:]}", "```"]
        n = h.get("native", {})
        if "workloads" in n:
            def parts(w: dict[str, Any]) -> str:
                b = w.get("breakdown")
                if not b:
                    return ""
                return (f": classifier {b['score_us']:.1f} (of which text normalisation {b['normalize_us']:.1f}), "
                        f"JSON parse {b['json_parse_us']:.1f}, extraction {b['extract_us']:.1f}")
            out.append("- native engine (`envoy/bench/native`, RequestFlow driven as the glue drives it; µs): " + "; ".join(
                f"{w['name']} {w['us_per_req']:.2f} per request ({w['decision']}){parts(w)}" for w in n["workloads"]) +
                (f"; JSONL stripping {n['upload']['mb_per_s']:.0f} MB/s ({n['upload']['records_stripped']} records stripped)"
                 if n.get("upload") else ""))
        elif n.get("skipped"):
            out.append("- native engine: skipped (--skip-native)")
        else:
            out.append(f"- native engine: failed: {n.get('error')} {n.get('stderr_tail', '')[-400:]}")
        out.append("")
    pr = results.get("profile", {})
    if pr.get("workloads"):
        out += ["### Where the native engine spends its instructions (callgrind, warm, per request)", ""]
        for name, w in pr["workloads"].items():
            out.append(f"- **{name}**: {w['ir_per_request']:,.0f} instructions. By source: " + "; ".join(
                f"{x['source']} {x['share']:.0%}" for x in w["sources"][:8] if x["share"] >= 0.02)
                + ". By function (self, after inlining): " + "; ".join(
                f"{x['function']} {x['share']:.0%}" for x in w["top"][:6] if x["share"] >= 0.02))
        if pr.get("upload"):
            u_ = pr["upload"]
            out.append(f"- **JSONL stripping**: {u_['ir_per_mb']:,.0f} instructions per MB. By source: " + "; ".join(
                f"{x['source']} {x['share']:.0%}" for x in u_["sources"][:8] if x["share"] >= 0.02)
                + ". By function (self, after inlining): " + "; ".join(
                f"{x['function']} {x['share']:.0%}" for x in u_["top"][:6] if x["share"] >= 0.02))
        out.append("")
    elif pr.get("todo"):
        out += [f"- profile: {pr['todo']}", ""]
    t = results.get("targets", [])
    if t:
        out += ["### Targets", "", "| target | met | figure |", "| --- | --- | --- |"]
        out += [f"| {x['target']} | {'met' if x['met'] else 'NOT met'} | {x['figure']} |" for x in t]
        out.append("")
    out.append("All figures come from this one run on a shared 2-core machine: read them as ratios between "
               "setups measured side by side, not as absolute capacities.")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--connections", type=int, default=8)
    p.add_argument("--upstream-concurrency", type=int, default=1)
    p.add_argument("--upload-mb", type=int, default=100)
    p.add_argument("--upload-rounds", type=int, default=2)
    p.add_argument("--upload-timeout", type=float, default=120.0, help="seconds per 100 MB upload")
    p.add_argument("--native-seconds", type=float, default=1.0)
    p.add_argument("--native-timeout", type=float, default=900.0)
    p.add_argument("--host-tests-iterations", type=int, default=2000)
    p.add_argument("--profile-iterations", type=int, default=200, help="callgrind phase (--phases ...,profile)")
    p.add_argument("--deadline", type=float, default=2400.0, help="hard limit for the whole run, seconds")
    p.add_argument("--phases", default="requests,uploads,harness,profile,perf",
                   help="comma-separated: requests, uploads, harness, profile (callgrind of the native engine), "
                        "perf (perf record of the Envoy under test, CPU by binary)")
    p.add_argument("--skip-native", action="store_true")
    p.add_argument("--no-diagnostic", dest="diagnostic", action="store_false",
                   help="leave out the diagnostic setups (guard_nocontent, floor_hostcalls)")
    p.add_argument("--json-out", default=str(REPO / "target" / "bench" / "results.json"))
    p.add_argument("--keep-tmp", action="store_true")
    args = p.parse_args(argv)
    if args.diagnostic:
        SETUPS.extend(x for x in ("guard_nocontent", "floor_hostcalls") if x not in SETUPS)

    def on_signal(signum: int, _frame: Any) -> None:
        raise SystemExit(f"signal {signum}")

    def on_alarm(_signum: int, _frame: Any) -> None:
        raise Deadline(f"the run exceeded its {args.deadline:.0f} s deadline")

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(int(args.deadline))

    for tool in ("wrk", "cargo"):
        if shutil.which(tool) is None:
            print(f"bench: `{tool}` not found (run `make deps`)", file=sys.stderr)
            return 2
    if not os.access(launch.envoy_bin(), os.X_OK):
        print(f"bench: no Envoy at {launch.envoy_bin()} (run `make venv` or set ENVOY_BIN)", file=sys.stderr)
        return 2
    guard_wasm = str(Path(launch.wasm_path()).resolve())
    if not Path(guard_wasm).is_file():
        print(f"bench: no module at {guard_wasm} (run `make wasm`)", file=sys.stderr)
        return 2

    started = time.monotonic()
    results: dict[str, Any] = {"started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "args": vars(args),
                               "machine": machine_info(), "guard_wasm": guard_wasm,
                               "guard_wasm_bytes": Path(guard_wasm).stat().st_size}
    phases = set(args.phases.split(","))
    tmp = Path(tempfile.mkdtemp(prefix="wa-bench-"))
    code = 0
    try:
        log(f"load average {os.getloadavg()}; temp dir {tmp}")
        build_floor()
        results["floor_wasm_bytes"] = FLOOR_WASM.stat().st_size
        if "requests" in phases:
            request_phase(args, tmp, guard_wasm, results)
            summarise_requests(results)
        if "uploads" in phases:
            upload_phase(args, tmp, guard_wasm, results)
            summarise_uploads(results)
        if "harness" in phases:
            harness_phase(args, tmp, results)
        if "profile" in phases:
            profile_phase(args, tmp, results)
        if "perf" in phases:
            perf_phase(args, tmp, guard_wasm, results)
    except (Deadline, SystemExit, Exception) as err:  # noqa: BLE001 - report what we have, then fail
        log(f"ERROR: {err!r}")
        for envoy in _ENVOYS:
            log(f"--- {envoy.name} log tail ---\n{envoy.log_tail(15)}")
        results["error"] = repr(err)
        code = 1
    finally:
        signal.alarm(0)
        cleanup()
        if not args.keep_tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    results["elapsed_s"] = time.monotonic() - started
    results["loadavg_end"] = os.getloadavg()
    results["targets"] = targets(results)
    out = Path(args.json_out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    try:
        sys.stdout.write(markdown(results))
    except (KeyError, TypeError, ValueError, ZeroDivisionError) as err:
        log(f"cannot format the report: {err!r}")
        code = 1
    print(f"\nresults JSON: {out}")
    return code


if __name__ == "__main__":
    sys.exit(main())
