"""The harness phase: the engine's cost outside Envoy.

host-tests' bench (the .wasm in wasmtime next to the native engine) when it exists, and the
native engine bench (envoy/bench/native: RequestFlow driven as the glue drives it, and JSONL
stripping of the upload phase's file when it is there).
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import launch
import workloads
from phases.requests import write_bodies
from processes import Workspace
from progress import log
from setups import DEFAULT_POLICY, REPO

HOST_TESTS_BENCH = REPO / "host-tests" / "src" / "bin" / "bench.rs"
NATIVE_MANIFEST = REPO / "envoy" / "bench" / "native" / "Cargo.toml"
NATIVE_TARGET_DIR = REPO / "target" / "bench-native"
_HOST_TESTS_LINE = re.compile(r"^(\S+)\s+([\d.]+)µs\s+([\d.]+)µs\s+([\d.]+)µs\s+(?:([\d.]+)µs)?")


@dataclass(frozen=True)
class HarnessOptions:
    host_tests_iterations: int
    native_seconds: float
    timeout: float  # per cargo run
    skip_native: bool


@dataclass(frozen=True)
class HostTestsFigure:
    wasm_mean: float
    wasm_p50: float
    wasm_p99: float
    native_mean: float | None


@dataclass(frozen=True)
class HostTestsBench:
    """host-tests' bench: its output, or why it did not run (`todo`, `error`)."""

    command: str | None = None
    returncode: int | None = None
    output: str | None = None
    stderr_tail: str | None = None
    us_per_request: dict[str, HostTestsFigure] = field(default_factory=dict)
    error: str | None = None
    todo: str | None = None


@dataclass(frozen=True)
class NativeBench:
    """The native engine bench: the JSON object it prints (its own format), or why there is none."""

    command: str | None = None
    output: dict[str, Any] | None = None
    error: str | None = None
    stderr_tail: str | None = None
    skipped: bool = False

    def json(self) -> dict[str, Any]:
        if self.skipped:
            return {"skipped": True}
        if self.output is not None:
            return dict(self.output, command=self.command)
        return {"error": self.error, "stderr_tail": self.stderr_tail, "command": self.command}


@dataclass(frozen=True)
class HarnessResults:
    host_tests: HostTestsBench
    native: NativeBench


def run(ws: Workspace, opts: HarnessOptions) -> HarnessResults:
    wls = workloads.request_workloads()
    bodies = write_bodies(ws.tmp, wls)
    host_tests = host_tests_bench(ws, wls, opts) if HOST_TESTS_BENCH.is_file() else HostTestsBench(
        todo="TODO: host-tests has no bench yet (host-tests/src/bin/bench.rs): µs per request in wasmtime not measured")
    native = NativeBench(skipped=True) if opts.skip_native else native_bench(ws, wls, bodies, opts)
    return HarnessResults(host_tests=host_tests, native=native)


def host_tests_bench(ws: Workspace, wls: list[workloads.Workload], opts: HarnessOptions) -> HostTestsBench:
    requests_file = ws.tmp / "host_tests_requests.jsonl"
    requests_file.write_text("".join(json.dumps({
        "note": wl.name, "method": "POST", "authority": wl.host, "path": wl.path,
        "headers": {"content-type": "application/json"},
        "body_base64": base64.b64encode(wl.body).decode()}) + "\n" for wl in wls))
    manifest = (REPO / "host-tests" / "Cargo.toml").read_text(encoding="utf-8")
    features = ["--features", "native"] if re.search(r"^native\s*=", manifest, re.M) else []
    cmd = ["cargo", "run", "-q", "--profile", "host", "-p", "host-tests", *features, "--bin", "bench", "--",
           "--wasm", launch.wasm_path(), "--policy", str(DEFAULT_POLICY),
           "--requests", str(requests_file), "--iterations", str(opts.host_tests_iterations)]
    command = " ".join(cmd)
    log("host-tests bench (wasmtime and native): " + command)
    try:
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=opts.timeout, check=False)
    except subprocess.TimeoutExpired:
        return HostTestsBench(command=command, error="timed out")
    figures = {}
    for line in proc.stdout.splitlines():
        m = _HOST_TESTS_LINE.match(line)
        if m:
            figures[m.group(1)] = HostTestsFigure(
                wasm_mean=float(m.group(2)), wasm_p50=float(m.group(3)), wasm_p99=float(m.group(4)),
                native_mean=float(m.group(5)) if m.group(5) else None)
    return HostTestsBench(command=command, returncode=proc.returncode, output=proc.stdout[-6000:],
                          stderr_tail=proc.stderr[-1500:], us_per_request=figures)


def native_bench(ws: Workspace, wls: list[workloads.Workload], bodies: dict[str, Path],
                 opts: HarnessOptions) -> NativeBench:
    spec = ws.tmp / "native_workloads.json"
    spec.write_text(json.dumps([{"name": wl.name, "authority": wl.host, "path": wl.path,
                                 "body_file": str(bodies[wl.name]), "expect": wl.expect} for wl in wls]))
    cmd = ["cargo", "run", "-q", "--release", "--manifest-path", str(NATIVE_MANIFEST), "--target-dir",
           str(NATIVE_TARGET_DIR), "--", "--policy", str(DEFAULT_POLICY),
           "--workloads", str(spec), "--seconds", str(opts.native_seconds)]
    upload_file = ws.tmp / "upload.jsonl"  # the upload phase's data, when it ran
    if upload_file.exists():
        cmd += ["--upload", str(upload_file)]
    command = " ".join(cmd)
    log("native engine bench: " + command)
    try:
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=opts.timeout, check=False)
    except subprocess.TimeoutExpired:
        return NativeBench(command=command, error="timed out")
    line = next((x for x in proc.stdout.splitlines() if x.startswith("{")), None)
    if proc.returncode != 0 or line is None:
        return NativeBench(command=command, error=f"exit {proc.returncode}", stderr_tail=proc.stderr[-2000:])
    return NativeBench(command=command, output=json.loads(line))
