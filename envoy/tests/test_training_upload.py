"""Job 2 through Envoy: uploads to AI training endpoints stream (no buffer filter on
those routes) and lose their WhatsApp-derived records on the way; every other byte
arrives unchanged. Endpoints and detectors come from policies/default.json."""

from __future__ import annotations

import base64
import email.parser
import email.policy
import gzip
import hashlib
import json
import zlib

import pytest

from e2e_data import e2e_policy
from e2e_support import ENVOY_DIR, prometheus_series, stand_in

DEFAULT_POLICY = ENVOY_DIR.parent / "policies" / "default.json"
BOUNDARY = "----e2e-boundary-7MA4YWxkTrZu0gW"


def training_section():
    policy = json.loads(DEFAULT_POLICY.read_text(encoding="utf-8"))
    assert "training" in policy, "policies/default.json must ship the training endpoint catalogue"
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


def test_upload_from_a_client_ahead_of_the_proxy_is_never_refused_413(guard):
    """A small first chunk, a pause, then megabytes written at once: Envoy's next socket read
    hands the filter up to its whole 1 MiB buffer limit in one callback. Output the filter had
    kept buffered from the first chunk plus that read would pass the limit (Envoy's own 413,
    seen on a loaded CI machine), so an HTTP/1.1 upload keeps nothing buffered."""
    upload, clean, stripped = jsonl(30000, whatsapp_every=499)
    assert len(upload) > 3 * 1024 * 1024
    for _ in range(2):
        reply = guard.request("POST", "api.openai.com", "/v1/files", upload,
                              {"content-type": "application/jsonl"}, chunked=True,
                              first_chunk=64 * 1024, chunk_pause_s=0.3)
        assert reply.status == 200, reply
        assert reply.header("x-wa-guard-stripped") == str(stripped)
        assert hashlib.sha256(received_body(guard, reply)).digest() == hashlib.sha256(clean).digest()
    too_large = guard.process.admin("/stats?filter=downstream_rq_too_large$")
    assert "http.egress.downstream_rq_too_large: 0" in too_large.splitlines(), too_large


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


def assert_framing_matches(record, body: bytes) -> None:
    """The upstream request is well framed: chunked, or a content-length equal to the body."""
    length = stand_in.record_header(record, "content-length")
    if record.get("chunked"):
        assert length is None, "a chunked request must not also carry content-length"
    else:
        assert length is not None and int(length) == len(body), (length, len(body))


def test_stripped_upload_is_reframed_for_its_new_length(guard):
    upload, clean, stripped = jsonl(30, whatsapp_every=5)
    reply = guard.request("POST", "api.openai.com", "/v1/files", upload, {"content-type": "application/jsonl"})

    assert reply.status == 200, reply
    [record] = guard.received(reply)
    body = stand_in.record_body(record)
    assert body == clean and len(body) < len(upload)
    assert_framing_matches(record, body)


def test_gzip_upload_is_stripped_and_forwarded_identity_encoded(guard):
    upload, clean, stripped = jsonl(200, whatsapp_every=4)
    reply = guard.request("POST", "api.openai.com", "/v1/files", gzip.compress(upload),
                          {"content-type": "application/jsonl", "content-encoding": "gzip"})

    assert reply.status == 200, reply
    assert reply.header("x-wa-guard-stripped") == str(stripped)
    [record] = guard.received(reply)
    assert stand_in.record_header(record, "content-encoding") is None
    body = stand_in.record_body(record)
    assert body == clean
    assert_framing_matches(record, body)


def test_deflate_upload_is_stripped(guard):
    upload, clean, stripped = jsonl(50, whatsapp_every=2)
    reply = guard.request("POST", "api.mistral.ai", "/v1/files", zlib.compress(upload),
                          {"content-type": "application/jsonl", "content-encoding": "deflate"})

    assert reply.status == 200, reply
    assert reply.header("x-wa-guard-stripped") == str(stripped)
    assert received_body(guard, reply) == clean


def test_multipart_upload_parses_as_valid_multipart_upstream(guard):
    upload, clean, stripped = jsonl(15, whatsapp_every=3)
    content_type = f"multipart/form-data; boundary={BOUNDARY}"
    reply = guard.request("POST", "api.openai.com", "/v1/files", multipart(upload), {"content-type": content_type})

    assert reply.status == 200, reply
    body = received_body(guard, reply)
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    parts = list(message.iter_parts())
    assert [p.get_param("name", header="content-disposition") for p in parts] == ["purpose", "file"]
    assert parts[0].get_payload(decode=True) == b"fine-tune"
    assert parts[1].get_payload(decode=True) == clean
    assert not message.defects and all(not p.defects for p in parts)


def test_hugging_face_commit_strips_inside_base64_file_content(guard):
    upload, clean, stripped = jsonl(12, whatsapp_every=3)
    header = {"key": "header", "value": {"summary": "add support data"}}
    readme = {"key": "file", "value": {"path": "README.md", "encoding": "base64",
                                        "content": base64.b64encode(b"# Support data").decode()}}
    data = {"key": "file", "value": {"path": "train.jsonl", "encoding": "base64",
                                      "content": base64.b64encode(upload).decode()}}
    lines = [json.dumps(x, separators=(",", ":")).encode() for x in (header, readme, data)]
    reply = guard.request("POST", "huggingface.co", "/api/datasets/acme/support/commit/main",
                          b"\n".join(lines) + b"\n", {"content-type": "application/x-ndjson"})

    assert reply.status == 200, reply
    assert reply.header("x-wa-guard-stripped") == str(stripped)
    received = received_body(guard, reply).split(b"\n")
    assert received[0] == lines[0] and received[1] == lines[1], "untouched operations stay byte-exact"
    op = json.loads(received[2])
    assert base64.b64decode(op["value"]["content"]) == clean
    assert b"wamid." not in base64.b64decode(op["value"]["content"])
