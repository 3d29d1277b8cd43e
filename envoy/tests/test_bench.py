"""The Envoy benchmark (envoy/bench), without running it: every setup's bootstrap renders and
passes `envoy --mode validate` with the real modules, the setups differ only in their first
HTTP filter, and the report and its JSON come out right from fixed results."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e_support import ENVOY_DIR, launch

BENCH_DIR = ENVOY_DIR / "bench"
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))

import report  # noqa: E402
import setups  # noqa: E402
from machine import Machine  # noqa: E402
from phases.harness import HarnessResults, HostTestsBench, NativeBench  # noqa: E402
from phases.perf import PerfResults, PerfRun  # noqa: E402
from phases.profile import ProfileResults  # noqa: E402
from phases.requests import Decision, RequestResults, RequestRun, WorkloadInfo, summarise  # noqa: E402
from phases.uploads import Upload, UploadData, UploadResults, summarise as summarise_uploads  # noqa: E402
from phases.workers import WorkerMemory  # noqa: E402
from processes import Memory  # noqa: E402
from socket_client import UploadResponse  # noqa: E402


@pytest.fixture(scope="module")
def modules(guard_wasm: str, tmp_path_factory: pytest.TempPathFactory) -> setups.Modules:
    lua = tmp_path_factory.mktemp("bench") / "wa_check_full.lua"
    setups.write_lua_script(lua)
    return setups.Modules(guard_wasm=Path(guard_wasm), floor_wasm=setups.build_floor(), lua_script=lua)


@pytest.mark.parametrize("setup", setups.SETUPS, ids=lambda s: s.name)
def test_every_setup_bootstrap_validates(setup: setups.Setup, modules: setups.Modules, envoy_binary: str,
                                         tmp_path: Path) -> None:
    path = tmp_path / f"{setup.name}.yaml"
    path.write_text(setups.render(setup, modules, upstream_port=1), encoding="utf-8")
    code, output = launch.validate_config(path, envoy_binary)
    assert code == 0, output[-3000:]


def split_first_filter(text: str) -> tuple[dict | None, dict]:
    """A bootstrap's first HTTP filter when it comes before the buffer (else None), and the rest of it."""
    doc = yaml.safe_load(text)
    filters = doc["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]["http_filters"]
    first = filters.pop(0) if filters[0]["name"] != "envoy.filters.http.buffer" else None
    return first, doc


def test_setups_differ_only_in_their_first_filter(modules: setups.Modules) -> None:
    _, guard_rest = split_first_filter(setups.render(setups.BY_NAME["guard"], modules, 1))
    firsts: dict[str, Any] = {}
    for setup in setups.SETUPS:
        firsts[setup.name], rest = split_first_filter(setups.render(setup, modules, 1))
        assert rest == guard_rest, f"{setup.name} differs from guard beyond its first HTTP filter"
    assert firsts["bare"] is None
    assert firsts["lua"]["typed_config"]["default_source_code"] == {"filename": str(modules.lua_script)}
    for name, configuration in (("floor", "{}"), ("floor_headers", '{"body": "none"}'),
                                ("floor_hostcalls", '{"hostcalls": "guard"}')):
        config = firsts[name]["typed_config"]["config"]
        assert config["vm_config"]["code"]["local"]["filename"] == str(modules.floor_wasm.resolve())
        assert config["configuration"]["value"].strip() == configuration
    for name, enabled in (("guard", True), ("guard_nocontent", False)):
        config = firsts[name]["typed_config"]["config"]
        assert config["vm_config"]["code"]["local"]["filename"] == str(modules.guard_wasm.resolve())
        assert json.loads(config["configuration"]["value"])["content"]["enabled"] is enabled


# --- the report, from fixed results --------------------------------------------------------

# setup: (CPU µs per request, req/s, VmRSS kB after the rounds)
FIGURES = {
    "bare": (100.0, 10_000, 66_000),
    "floor_headers": (104.0, 9_500, 90_000),
    "floor": (110.0, 9_000, 91_000),
    "guard": (120.0, 8_700, 97_000),
    "lua": (150.0, 7_000, 96_000),
    "guard_nocontent": (115.0, 8_800, 96_500),
    "floor_hostcalls": (112.0, 8_900, 91_000),
}
WORKER_RSS = {"bare": 67_000, "floor_headers": 100_000, "floor": 100_000, "guard": 140_000}


def fixed_uploads() -> UploadResults:
    def upload(setup: str, mb_per_s: float, cpu_ms_per_mb: float, hwm_kb: int, size: str | None = None) -> Upload:
        response = UploadResponse(seconds=100 / mb_per_s, bytes=100_000_000, status=200,
                                  headers={"x-wa-guard-stripped": "2399"} if setup == "guard" else {},
                                  body='{"received":1}')
        return Upload(setup=setup, response=response, mb=100.0, mb_per_s=mb_per_s, cpu_s=cpu_ms_per_mb / 10,
                      cpu_ms_per_mb=cpu_ms_per_mb, sink_cpu_util=0.5, mem_kb=Memory(hwm_kb, hwm_kb),
                      round=None if size else 0, size=size, idle_mem_kb=Memory(150_000, 150_000) if size else None)

    runs = [upload("bare", 1000.0, 1.0, 66_000), upload("guard", 250.0, 4.0, 156_000)]
    peaks = [upload("guard", 250.0, 4.0, 156_000, "10MB"), upload("guard", 240.0, 4.0, 158_000, "1GB")]
    return UploadResults(upload_data=UploadData(bytes=100_000_000, records=1000, whatsapp_records=200,
                                                file_bytes=100_000_000, small_bytes=9_999_000),
                         upload_runs=runs, upload_peaks=peaks, upload_summary=summarise_uploads(runs, peaks))


def fixed_results() -> report.BenchResults:
    runs = [RequestRun(round=0, setup=setup, workload="cs_text_1k", requests=int(rps * 5), seconds=5.0, rps=rps,
                       p50_us=800, p99_us=1500, p99_9_us=3000, max_us=5000, cpu_s=cpu * rps * 5 / 1e6,
                       cpu_us_per_req=cpu, envoy_cpu_util=0.95, upstream_cpu_util=0.4, vm_rss_kb=rss,
                       vm_hwm_kb=rss, non_2xx=0, socket_errors=0)
            for setup, (cpu, rps, rss) in FIGURES.items()]
    requests = RequestResults(
        workloads={"cs_text_1k": WorkloadInfo("customer-service text send (allowed)", "graph.facebook.com",
                                              "/v21.0/1/messages", 1035, "allow")},
        lua_lexicon={"rules": 1}, decisions={s: {"cs_text_1k": Decision(200, "allow")} for s in FIGURES},
        request_runs=runs, memory_after_requests={s: Memory(rss, rss) for s, (_, _, rss) in FIGURES.items()},
        request_summary=summarise(runs, ["cs_text_1k"], list(FIGURES)))
    return report.BenchResults(
        started="2026-12-07 10:00:00 UTC",
        args={"rounds": 1, "duration": 5, "connections": 8},
        machine=Machine(nproc=2, cpu_model="test CPU", mem_total="1 kB", kernel="6.0", envoy="envoy 1.40.0",
                        rustc="rustc 1.95.0", wrk="wrk 4.1.0", python="3.11.7", loadavg_start=(0.5, 0.5, 0.5),
                        valgrind="valgrind-3.19.0", git="abc1234"),
        guard_wasm="/x/wa_egress_guard.wasm", guard_wasm_bytes=3_000_000, floor_wasm_bytes=120_000,
        requests=requests,
        workers=WorkerMemory(workers=4, connections=16, warmup_s=1.0,
                             memory={s: Memory(rss, rss) for s, rss in WORKER_RSS.items()},
                             workers_served={s: 4 for s in WORKER_RSS}),
        uploads=fixed_uploads(),
        harness=HarnessResults(host_tests=HostTestsBench(todo="TODO: no host-tests bench"),
                               native=NativeBench(skipped=True)),
        profile=ProfileResults(todo="valgrind not installed: no instruction profile"),
        perf=PerfResults(runs={"cs_text_1k": {"guard": PerfRun(requests=1000, seconds=5.0, us_per_req={
            "JIT (wasm)": 70.0, "envoy + V8": 140.0, "kernel": 80.0, "libc": 7.5})}}),
        elapsed_s=60.0, loadavg_end=(1.0, 1.0, 1.0))


def test_report_renders_the_figures_and_the_targets() -> None:
    text = report.markdown(fixed_results())
    lines = text.splitlines()
    expected = [
        "| cs_text_1k | floor_headers | 9,500 | 800 | 1,500 | 3,000 | 104.0 (104.0-104.0) | 4.0 | 0 |",
        "| cs_text_1k | guard | 0.87 / 0.97 | 1.00 / 1.00 | 1.00 / 1.00 | 1.00 / 1.00 | 1.20 / 1.09 |",
        "| cs_text_1k | 4.0 | 10.0 | 20.0 | 15.0 | 5.0 | 12.0 | 2.0 | 3.0 |",
        "| cs_text_1k: added CPU/req <= 1.25x the floor's | NOT met | 20.0 vs 10.0 us (2.00x); floor_headers 4.0 us |",
        "| cs_text_1k: req/s >= 0.95x the floor's | met | 8700 vs 9000 (0.97x); floor_headers 9500 |",
        "| VmRSS <= the floor's + 8 MB per worker (--concurrency 1) | met | "
        "94.7 vs 88.9 MiB (+5.9 MiB, 5.9 per worker); floor_headers 87.9 MiB |",
        "| cs_text_1k: CPU/req lower than Lua | met | 120.0 vs 150.0 us |",
        "| VmRSS <= the floor's + 8 MB per worker (--concurrency 4) | NOT met | "
        "136.7 vs 97.7 MiB (+39.1 MiB, 9.8 per worker); floor_headers 97.7 MiB |",
        "| RSS with --concurrency 4 measured and reported | met | --concurrency 4 |",
        "| guard | 136.7 | 136.7 | 39.1 | 9.8 | 4 of 4 |",
        "| guard | 250.0 | 4.00 | 2399 | 146.5 / 152.3 / 154.3 | 240.0 |",
        "| stripping >= 200 MB/s | met | 250.0 MB/s |",
        "| Envoy VmHWM within 10% between a 10 MB and a 1 GB upload | met | 152.3 vs 154.3 MiB (+1.3%) |",
        "| cs_text_1k | guard | 70.0 | 140.0 | 80.0 | 7.5 | 0.0 | 297.5 |",
        "- wasmtime: TODO: no host-tests bench",
        "- native engine: skipped (--skip-native)",
        "- profile: valgrind not installed: no instruction profile",
    ]
    for line in expected:
        assert line in lines, f"missing from the report: {line}\n{text}"


def test_report_json_keeps_its_keys() -> None:
    doc = json.loads(json.dumps(report.to_json(fixed_results())))
    assert list(doc) == ["started", "args", "machine", "guard_wasm", "guard_wasm_bytes", "floor_wasm_bytes",
                         "workloads", "lua_lexicon", "decisions", "request_runs", "memory_after_requests",
                         "request_summary", "upload_data", "upload_runs", "upload_peaks", "upload_summary",
                         "memory_workers", "harness", "profile", "perf", "elapsed_s", "loadavg_end", "targets"]
    guard = doc["request_summary"]["cs_text_1k"]["guard"]
    assert guard["cpu_us_per_req_vs_floor"] == pytest.approx(120 / 110)
    assert guard["added_cpu_us_per_req"] == pytest.approx(20.0)
    assert doc["memory_after_requests"]["floor"] == {"VmRSS": 91_000, "VmHWM": 91_000}
    assert doc["decisions"]["guard"]["cs_text_1k"] == {"status": 200, "decision": "allow"}
    assert doc["memory_workers"]["memory"]["guard"]["VmRSS"] == 140_000
    assert doc["harness"]["native"] == {"skipped": True}
    assert doc["perf"]["cs_text_1k"]["guard"]["us_per_req"]["kernel"] == 80.0
    assert doc["upload_peaks"][1]["size"] == "1GB" and doc["upload_peaks"][1]["idle_mem_kb"]["VmHWM"] == 150_000
    assert doc["upload_runs"][1]["headers"] == {"x-wa-guard-stripped": "2399"}
    assert doc["upload_summary"]["guard"]["hwm_1gb_kb"] == 158_000
    assert {"target": "cs_text_1k: req/s >= 0.95x the floor's", "met": True,
            "figure": "8700 vs 9000 (0.97x); floor_headers 9500"} in doc["targets"]
    assert (doc["request_runs"][0]["setup"], doc["request_runs"][0]["cpu_us_per_req"]) == ("bare", 100.0)
