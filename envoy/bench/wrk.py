"""One bounded wrk run against the Envoy under test (envoy/bench/wrk_post.lua POSTs the body)."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import workloads

BENCH_DIR = Path(__file__).resolve().parent
WRK_SCRIPT = BENCH_DIR / "wrk_post.lua"
EXIT_GRACE_S = 30  # on top of the run's own duration


@dataclass(frozen=True)
class WrkRun:
    requests: int
    seconds: float
    p50_us: int
    p99_us: int
    p99_9_us: int
    max_us: int
    non_2xx: int
    socket_errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def run(port: int, wl: workloads.Workload, body_file: Path, seconds: float, connections: int) -> WrkRun:
    env = dict(os.environ, BENCH_BODY=str(body_file), BENCH_HOST=wl.host, BENCH_CONTENT_TYPE="application/json")
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", "--timeout", "2s",
           "-s", str(WRK_SCRIPT), f"http://127.0.0.1:{port}{wl.path}"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + EXIT_GRACE_S, check=False)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("WRK_JSON ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stdout[-500:]} {proc.stderr[-500:]}")
    figures = json.loads(line[len("WRK_JSON "):])
    latency, errors = figures["latency_us"], figures["errors"]
    return WrkRun(
        requests=figures["requests"], seconds=figures["duration_us"] / 1e6,
        p50_us=latency["p50"], p99_us=latency["p99"], p99_9_us=latency["p99_9"], max_us=latency["max"],
        non_2xx=errors["status"], socket_errors=sum(v for k, v in errors.items() if k != "status"))
