"""Job 2 through Envoy: uploads to AI training endpoints stream (no buffer filter on
those routes) and lose their WhatsApp-derived records on the way; every other byte
arrives unchanged. Endpoints and detectors come from policies/default.json."""

from __future__ import annotations

import gzip
import hashlib
import json

import pytest

from e2e_data import e2e_policy
from e2e_support import ENVOY_DIR, prometheus_series, stand_in

DEFAULT_POLICY = ENVOY_DIR.parent / "policies" / "default.json"
BOUNDARY = "----e2e-boundary-7MA4YWxkTrZu0gW"


def training_section():
    policy = json.loads(DEFAULT_POLICY.read_text(encoding="utf-8"))
    if "training" not in policy:
        pytest.skip("policies/default.json has no training section")
    return policy["training"]


@pytest.fixture(scope="module")
def guard(start_guard):
    return start_guard(e2e_policy(training=training_section()), name="training")


def chat(i: int, **extra) -> bytes:
    record = {"messages": [
        {"role": "system", "content": "You answer questions about Northwind parcels."},
        {"role": "user", "content": f"Where is parcel A-{i:05d}?"},
        {"role": "assistant", "content": f"Parcel A-{i:05d} is at the depot and ships tomorrow."},
    ]}
    record.update(extra)
    return json.dumps(record, separators=(",", ":")).encode("utf-8") + b"\n"


def whatsapp_record(i: int, kind: str) -> bytes:
    if kind == "wamid":
        return chat(i, source_message_id=f"wamid.HBgLMTU1NTAxMjM0NTY3FQIAEhgU{i:08d}QUJDREVGRzEyMzQA")
    if kind == "provenance":
        return chat(i, metadata={"channel": "whatsapp", "ticket": i})
    return chat(i, wa_id="15550100" + f"{i % 1000:03d}")


def jsonl(n: int, whatsapp_every: int) -> tuple[bytes, bytes, int]:
    """(upload, the upload without its WhatsApp records, number of those records)"""
    kinds = ["wamid", "provenance", "wa_id"]
    full, clean, stripped = [], [], 0
    for i in range(n):
        if whatsapp_every and i % whatsapp_every == whatsapp_every - 1:
            full.append(whatsapp_record(i, kinds[stripped % 3]))
            stripped += 1
        else:
            line = chat(i)
            full.append(line)
            clean.append(line)
    return b"".join(full), b"".join(clean), stripped


def multipart(file_content: bytes) -> bytes:
    return (
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="purpose"\r\n\r\n'
        "fine-tune\r\n"
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="file"; filename="support.jsonl"\r\n'
        "Content-Type: application/jsonl\r\n\r\n"
    ).encode() + file_content + f"\r\n--{BOUNDARY}--\r\n".encode()


def received_body(guard, reply) -> bytes:
    [record] = guard.received(reply)
    body = stand_in.record_body(record)
    if (stand_in.record_header(record, "content-encoding") or "").lower() == "gzip":
        body = gzip.decompress(body)
    return body


def test_jsonl_upload_loses_only_whatsapp_records(guard):
    upload, clean, stripped = jsonl(12, whatsapp_every=4)
    reply = guard.request("POST", "api.openai.com", "/v1/files", upload, {"content-type": "application/jsonl"})

    assert reply.status == 200, reply
    assert reply.header("x-wa-guard-stripped") == str(stripped)
    assert reply.header("x-wa-guard-rule") == "openai-files"
    assert received_body(guard, reply) == clean


def test_multipart_upload_keeps_its_framing(guard):
    upload, clean, stripped = jsonl(9, whatsapp_every=3)
    reply = guard.request("POST", "api.openai.com", "/v1/files", multipart(upload),
                          {"content-type": f"multipart/form-data; boundary={BOUNDARY}"})

    assert reply.status == 200, reply
    assert reply.header("x-wa-guard-stripped") == str(stripped)
    assert received_body(guard, reply) == multipart(clean)


def test_large_chunked_upload_is_stripped_while_streaming(guard):
    upload, clean, stripped = jsonl(40000, whatsapp_every=997)
    assert len(upload) > 4 * 1024 * 1024
    reply = guard.request("POST", "api.openai.com", "/v1/files", upload,
                          {"content-type": "application/jsonl"}, chunked=True)

    assert reply.status == 200, reply
    assert reply.header("x-wa-guard-stripped") == str(stripped)
    body = received_body(guard, reply)
    assert hashlib.sha256(body).hexdigest() == hashlib.sha256(clean).hexdigest()


def test_clean_upload_is_forwarded_byte_exact(guard):
    upload, clean, stripped = jsonl(20, whatsapp_every=0)
    assert stripped == 0 and upload == clean
    reply = guard.request("POST", "api.openai.com", "/v1/files", upload, {"content-type": "application/jsonl"})
    assert reply.status == 200, reply
    assert reply.header("x-wa-guard-stripped") == "0"
    assert received_body(guard, reply) == upload


def test_upload_of_only_whatsapp_records_is_refused_and_none_leaves(guard):
    upload = b"".join(whatsapp_record(i, "wamid") for i in range(5))
    reply = guard.request("POST", "api.openai.com", "/v1/files", upload, {"content-type": "application/jsonl"})

    assert reply.status == 403, reply
    assert reply.header("x-wa-guard-decision") == "block"
    guard.settle()
    for record in guard.received(reply):  # headers may have gone (streaming route); records never
        assert b"wamid." not in stand_in.record_body(record)


def test_other_openai_paths_are_not_training(guard):
    raw = whatsapp_record(1, "wamid")
    reply = guard.request("POST", "api.openai.com", "/v1/chat/completions", raw)
    assert reply.status == 200, reply
    assert reply.header("x-wa-guard-stripped") is None
    assert received_body(guard, reply) == raw


def test_training_metrics_have_labels(guard):
    upload, _, stripped = jsonl(6, whatsapp_every=2)
    assert guard.request("POST", "api.openai.com", "/v1/files", upload,
                         {"content-type": "application/jsonl"}).status == 200
    text = guard.prometheus()
    series = prometheus_series(text, "wa_guard_training_")
    names_labels = {(name, tuple(sorted(labels))) for name, labels, _ in series}
    assert ("wa_guard_training_records_total", ("endpoint", "result")) in names_labels, series
    assert ("wa_guard_training_uploads_total", ("endpoint", "outcome")) in names_labels, series
    assert ("wa_guard_training_bytes_total", ("direction", "endpoint")) in names_labels, series
    stripped_total = [v for n, l, v in series if n == "wa_guard_training_records_total"
                      and l == {"endpoint": "openai-files", "result": "stripped"}]
    assert stripped_total and stripped_total[0] >= stripped
    assert "wasmcustom" not in text
