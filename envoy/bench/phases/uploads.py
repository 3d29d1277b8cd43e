"""The upload phase: stripping a large JSONL training upload, through bare Envoy and the guard.

A JSONL file of chat-style training records (20% WhatsApp-derived, generated at run time
with a fixed seed) is POSTed to api.openai.com/v1/files, streaming to envoy/bench/sink.py.
Throughput: bare and guard alternately, a fresh connection per upload (MB/s, CPU per MB).
Peak memory: a fresh Envoy per setup and upload size, VmHWM after a 10 MB upload and after
a 1 GB one (the file sent ten times in one request, never stored).
"""

from __future__ import annotations

import statistics
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import launch
import setups as setups_
import socket_client
import workloads
from processes import Memory, Workspace, cpu_seconds, memory, pid_of, wait_for_file
from progress import log

BENCH_DIR = Path(__file__).resolve().parent.parent
TARGET = ("api.openai.com", "/v1/files", "application/jsonl")
UPLOAD_SETUPS = ("bare", "guard")
SMALL_BYTES = 10_000_000
WARMUP_TIMEOUT_S = 120.0
SINK_START_TIMEOUT_S = 10.0
PEAK_SIZES = (("10MB", False, 1), ("1GB", True, 10))  # label, the whole file (else the 10 MB head), repetitions


@dataclass(frozen=True)
class UploadOptions:
    mb: int
    rounds: int
    timeout: float  # seconds per upload of the whole file


@dataclass(frozen=True)
class UploadData:
    bytes: int
    records: int
    whatsapp_records: int
    file_bytes: int
    small_bytes: int  # the 10 MB upload: the file's first records, cut at a line end


@dataclass(frozen=True)
class Upload:
    """One upload and what it cost the Envoy under test."""

    setup: str
    response: socket_client.UploadResponse
    mb: float
    mb_per_s: float  # 0 without a response
    cpu_s: float
    cpu_ms_per_mb: float
    sink_cpu_util: float
    mem_kb: Memory  # after the upload
    round: int | None = None  # throughput uploads
    size: str | None = None  # peak-memory uploads: 10MB or 1GB
    idle_mem_kb: Memory | None = None  # peak-memory uploads: before the upload

    def json(self) -> dict[str, object]:
        out: dict[str, object] = dict(vars(self.response))
        out.update(mb=self.mb, mb_per_s=self.mb_per_s, cpu_s=self.cpu_s, cpu_ms_per_mb=self.cpu_ms_per_mb,
                   sink_cpu_util=self.sink_cpu_util, mem_kb=self.mem_kb.json(), setup=self.setup)
        if self.round is not None:
            out["round"] = self.round
        if self.size is not None:
            out["size"] = self.size
        if self.idle_mem_kb is not None:
            out["idle_mem_kb"] = self.idle_mem_kb.json()
        return out


@dataclass(frozen=True)
class UploadSummary:
    mb_per_s: float | None = None
    cpu_ms_per_mb: float | None = None
    sink_cpu_util_max: float | None = None
    stripped: str | None = None  # x-wa-guard-stripped
    upstream_received: str | None = None  # the sink's answer
    hwm_10mb_kb: int | None = None
    hwm_1gb_kb: int | None = None
    hwm_idle_kb: int | None = None
    status_1gb: int | None = None
    mb_per_s_1gb: float | None = None


@dataclass(frozen=True)
class UploadResults:
    """Field names are the report JSON's keys."""

    upload_data: UploadData
    upload_runs: list[Upload]
    upload_peaks: list[Upload]
    upload_summary: dict[str, UploadSummary]


class _Uploader:
    """Sends uploads of one data file through an Envoy and measures each."""

    def __init__(self, data: Path, sink_pid: int) -> None:
        self.data = data
        self.sink_pid = sink_pid

    def send(self, setup: str, envoy: launch.EnvoyProcess, nbytes: int, reps: int, timeout: float, *,
             rnd: int | None = None, size: str | None = None, idle: Memory | None = None) -> Upload:
        pid = pid_of(envoy)
        c0, s0 = cpu_seconds(pid), cpu_seconds(self.sink_pid)
        response = socket_client.upload(envoy.listener_port("egress"), *TARGET, self.data, nbytes, reps, timeout)
        c1, s1 = cpu_seconds(pid), cpu_seconds(self.sink_pid)
        mb = nbytes * reps / 1e6
        return Upload(setup=setup, response=response, mb=mb,
                      mb_per_s=mb / response.seconds if response.status is not None else 0.0,
                      cpu_s=c1 - c0, cpu_ms_per_mb=(c1 - c0) * 1e3 / mb,
                      sink_cpu_util=(s1 - s0) / response.seconds, mem_kb=memory(pid),
                      round=rnd, size=size, idle_mem_kb=idle)


def write_data(tmp: Path, mb: int) -> tuple[Path, UploadData]:
    data = tmp / "upload.jsonl"
    log(f"generating {mb} MB of JSONL (20% WhatsApp records, fixed seed)")
    info = workloads.write_jsonl(data, mb * 1_000_000)
    with open(data, "rb") as f:
        head = f.read(SMALL_BYTES)
    return data, UploadData(bytes=info["bytes"], records=info["records"], whatsapp_records=info["whatsapp_records"],
                            file_bytes=data.stat().st_size, small_bytes=head.rindex(b"\n") + 1)


def run(ws: Workspace, modules: setups_.Modules, opts: UploadOptions) -> UploadResults:
    data, info = write_data(ws.tmp, opts.mb)
    port_file = ws.tmp / "sink.port"
    sink = ws.procs.start_child([sys.executable, str(BENCH_DIR / "sink.py"), "--port-file", str(port_file)])
    wait_for_file(port_file, sink, SINK_START_TIMEOUT_S)
    configs = {s: setups_.render(setups_.BY_NAME[s], modules, int(port_file.read_text())) for s in UPLOAD_SETUPS}
    uploader = _Uploader(data, sink.pid)
    try:
        runs = throughput(ws, uploader, configs, info, opts)
        peaks = peak_memory(ws, uploader, configs, info, opts)
    finally:
        ws.procs.stop_child(sink)
    return UploadResults(upload_data=info, upload_runs=runs, upload_peaks=peaks, upload_summary=summarise(runs, peaks))


def throughput(ws: Workspace, uploader: _Uploader, configs: dict[str, str], info: UploadData,
               opts: UploadOptions) -> list[Upload]:
    """bare and guard alternately, a fresh connection per upload, after one 10 MB upload each."""
    envoys = {s: ws.procs.start_envoy(configs[s], f"upload-{s}", concurrency=1) for s in UPLOAD_SETUPS}
    try:
        for setup in ("guard", "bare"):
            uploader.send(setup, envoys[setup], info.small_bytes, 1, WARMUP_TIMEOUT_S)
        runs = []
        for rnd in range(opts.rounds):
            for setup in (UPLOAD_SETUPS if rnd % 2 == 0 else tuple(reversed(UPLOAD_SETUPS))):
                r = uploader.send(setup, envoys[setup], info.file_bytes, 1, opts.timeout, rnd=rnd)
                runs.append(r)
                log(f"upload round {rnd + 1} {setup:5s} {r.mb:.0f} MB: {r.mb_per_s:.1f} MB/s, "
                    f"cpu {r.cpu_ms_per_mb:.2f} ms/MB, status {r.response.status}, {r.response.headers or {}}")
    finally:
        for envoy in envoys.values():
            ws.procs.stop_envoy(envoy)
    return runs


def peak_memory(ws: Workspace, uploader: _Uploader, configs: dict[str, str], info: UploadData,
                opts: UploadOptions) -> list[Upload]:
    """A fresh Envoy per setup and upload size: VmHWM after a 10 MB and after a 1 GB upload."""
    peaks = []
    for setup in ("guard", "bare"):
        for label, whole, reps in PEAK_SIZES:
            envoy = ws.procs.start_envoy(configs[setup], f"peak-{setup}-{label}", concurrency=1)
            try:
                idle = memory(pid_of(envoy))
                nbytes = info.file_bytes if whole else info.small_bytes
                r = uploader.send(setup, envoy, nbytes, reps, opts.timeout * reps, size=label, idle=idle)
            finally:
                ws.procs.stop_envoy(envoy)
            peaks.append(r)
            log(f"peak {setup:5s} {label}: VmHWM {r.mem_kb.hwm_kb} kB (idle {idle.hwm_kb} kB), "
                f"{r.mb_per_s:.1f} MB/s, status {r.response.status}")
    return peaks


def summarise(runs: list[Upload], peaks: list[Upload]) -> dict[str, UploadSummary]:
    out: dict[str, UploadSummary] = {}
    for setup in UPLOAD_SETUPS:
        summary = UploadSummary()
        ok = [r for r in runs if r.setup == setup and r.response.status == 200]
        if ok:
            last = ok[-1].response
            summary = replace(summary, mb_per_s=statistics.median(r.mb_per_s for r in ok),
                              cpu_ms_per_mb=statistics.median(r.cpu_ms_per_mb for r in ok),
                              sink_cpu_util_max=max(r.sink_cpu_util for r in ok),
                              stripped=(last.headers or {}).get("x-wa-guard-stripped"), upstream_received=last.body)
        peak = {r.size: r for r in peaks if r.setup == setup}
        small, large = peak.get("10MB"), peak.get("1GB")
        if small is not None and large is not None and large.idle_mem_kb is not None:
            summary = replace(summary, hwm_10mb_kb=small.mem_kb.hwm_kb, hwm_1gb_kb=large.mem_kb.hwm_kb,
                              hwm_idle_kb=large.idle_mem_kb.hwm_kb, status_1gb=large.response.status,
                              mb_per_s_1gb=large.mb_per_s)
        if summary != UploadSummary():
            out[setup] = summary
    return out
