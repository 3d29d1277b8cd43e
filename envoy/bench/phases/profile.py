"""The profile phase: instructions per request of the native engine under callgrind, and where they go.

Each workload runs twice under callgrind, with N1 and N2 iterations; the difference, divided
by N2 - N1, is the warm cost of one request (policy compilation, lazy statics and the first
DFA states cancel out). Same for the upload: a 1 MB and a 5 MB prefix of the JSONL data.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import workloads
from phases.harness import NATIVE_MANIFEST, NATIVE_TARGET_DIR
from phases.requests import write_bodies
from processes import Workspace
from progress import log
from setups import DEFAULT_POLICY, REPO

WARM_ITERATIONS = 20
TOP = 12
ANNOTATE_TIMEOUT_S = 120
UPLOAD_PREFIX_MB = (1, 5)
_ANNOTATE_LINE = re.compile(r"^\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*)$")


@dataclass(frozen=True)
class FunctionShare:
    function: str
    ir: float
    share: float


@dataclass(frozen=True)
class SourceShare:
    source: str
    ir: float
    share: float


@dataclass(frozen=True)
class WorkloadProfile:
    ir_per_request: float
    top: list[FunctionShare]
    sources: list[SourceShare]


@dataclass(frozen=True)
class UploadProfile:
    ir_per_mb: float
    top: list[FunctionShare]
    sources: list[SourceShare]


@dataclass(frozen=True)
class ProfileResults:
    method: str | None = None
    workloads: dict[str, WorkloadProfile] = field(default_factory=dict)
    upload: UploadProfile | None = None
    todo: str | None = None  # why there is no profile


def source_of(file: str) -> str:
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


@dataclass(frozen=True)
class Callgrind:
    """One callgrind run: total instructions, and self instructions per function and per source."""

    total: int
    functions: dict[str, int]
    sources: dict[str, int]


def callgrind(cmd: list[str], out_file: Path, timeout: float) -> Callgrind:
    subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_file}", *cmd],
                   capture_output=True, text=True, timeout=timeout, check=True)
    text = subprocess.run(["callgrind_annotate", "--inclusive=no", "--auto=no", "--threshold=100", str(out_file)],
                          capture_output=True, text=True, timeout=ANNOTATE_TIMEOUT_S, check=True).stdout
    total = 0
    funcs: dict[str, int] = {}
    srcs: dict[str, int] = {}
    for line in text.splitlines():
        m = _ANNOTATE_LINE.match(line)
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
        src = source_of(file)
        srcs[src] = srcs.get(src, 0) + ir
    return Callgrind(total, funcs, srcs)


def short_name(name: str) -> str:
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


def _difference(small: dict[str, int], large: dict[str, int], per: float) -> list[tuple[str, float]]:
    """The largest (large - small) / per, highest first."""
    diff = {k: (v - small.get(k, 0)) / per for k, v in large.items()}
    return sorted(diff.items(), key=lambda kv: -kv[1])[:TOP]


def tops(small: Callgrind, large: Callgrind, units: float) -> tuple[float, list[FunctionShare], list[SourceShare]]:
    """Instructions per unit between two runs, and where they went, by function and by source."""
    per = (large.total - small.total) / units

    def share(ir: float) -> float:
        return ir / per if per else 0.0

    funcs = [FunctionShare(short_name(k), v, share(v)) for k, v in _difference(small.functions, large.functions, units)]
    srcs = [SourceShare(k, v, share(v)) for k, v in _difference(small.sources, large.sources, units)]
    return per, funcs, srcs


def run(ws: Workspace, iterations: int, timeout: float) -> ProfileResults:
    if shutil.which("valgrind") is None or shutil.which("callgrind_annotate") is None:
        return ProfileResults(todo="valgrind not installed: no instruction profile")
    subprocess.run(["cargo", "build", "-q", "--release", "--manifest-path", str(NATIVE_MANIFEST), "--target-dir",
                    str(NATIVE_TARGET_DIR)], cwd=REPO, check=True, timeout=timeout)
    binary = str(NATIVE_TARGET_DIR / "release" / "bench-native")
    policy = str(DEFAULT_POLICY)
    n1, n2 = WARM_ITERATIONS, WARM_ITERATIONS + iterations
    wls = workloads.request_workloads()
    bodies = write_bodies(ws.tmp, wls)
    profiles = {}
    for wl in wls:
        spec = ws.tmp / f"profile_{wl.name}.json"
        spec.write_text(json.dumps([{"name": wl.name, "authority": wl.host, "path": wl.path,
                                     "body_file": str(bodies[wl.name]), "expect": wl.expect}]))
        small, large = (callgrind([binary, "--policy", policy, "--workloads", str(spec), "--iterations", str(n)],
                                  ws.tmp / f"cg.{wl.name}.{n}", timeout) for n in (n1, n2))
        per, funcs, srcs = tops(small, large, n2 - n1)
        profiles[wl.name] = WorkloadProfile(per, funcs, srcs)
        log(f"profile {wl.name}: {per:,.0f} instructions per request")
    return ProfileResults(method=f"callgrind, ({n2} - {n1}) iterations difference", workloads=profiles,
                          upload=upload_profile(ws, binary, policy, timeout))


def upload_profile(ws: Workspace, binary: str, policy: str, timeout: float) -> UploadProfile:
    data = ws.tmp / "upload.jsonl"  # the upload phase's data, or a small file of the same generator
    if not data.exists():
        workloads.write_jsonl(data, 6_000_000)
    raw = data.read_bytes()[: max(UPLOAD_PREFIX_MB) * 1_000_000 + 1_000_000]
    parts = []
    for mb in UPLOAD_PREFIX_MB:
        cut = raw[: mb * 1_000_000]
        part = ws.tmp / f"upload_{mb}mb.jsonl"
        part.write_bytes(cut[: cut.rindex(b"\n") + 1])
        parts.append(part)
    small, large = (callgrind([binary, "--policy", policy, "--upload", str(p)], ws.tmp / f"cg.upload.{i}", timeout)
                    for i, p in enumerate(parts))
    mbs = (parts[1].stat().st_size - parts[0].stat().st_size) / 1e6
    per, funcs, srcs = tops(small, large, mbs)
    log(f"profile upload: {per:,.0f} instructions per MB")
    return UploadProfile(per, funcs, srcs)
