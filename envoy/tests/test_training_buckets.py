"""Object storage as a training path (training.buckets) through a real Envoy, over HTTP/1.1 and
HTTP/2 (h2c): an object written to a bucket the policy names reaches the upstream byte for byte
with every header as sent (content-length, checksums, the payload hash), or is refused with a
403 the proxy signs, before the upstream has the whole object; pieces of objects are refused
before anything leaves; every other bucket is untouched. Buckets come from
policies/examples/training-buckets.json."""

from __future__ import annotations

import json
from typing import Any

import pytest

import h2_client
from e2e_data import e2e_policy
from e2e_support import E2E_ID_HEADER, ENVOY_DIR, gzip_bytes, stand_in
from h2_client import H2Request, frames_of_size

EXAMPLE = ENVOY_DIR.parent / "policies" / "examples" / "training-buckets.json"
PROTOCOLS = ["http1", "h2c"]


def training_section() -> dict[str, Any]:
    return json.loads(EXAMPLE.read_text(encoding="utf-8"))["training"]


@pytest.fixture(scope="module")
def guard(start_guard):
    return start_guard(e2e_policy(training=training_section()), name="buckets")


def record(i: int, **extra: Any) -> bytes:
    line = {"contents": [
        {"role": "user", "parts": [{"text": f"Where is parcel A-{i:05d}?"}]},
        {"role": "model", "parts": [{"text": f"Parcel A-{i:05d} ships tomorrow."}]},
    ]}
    line.update(extra)
    return json.dumps(line, separators=(",", ":")).encode() + b"\n"


CLEAN = b"".join(record(i) for i in range(40))
WITH_RECORD = CLEAN + record(99, source_message_id="wamid.HBgLMTU1NTAxMjM0NTY3FQIAEhgUQUJDREVGRzEyMzQA") + CLEAN

# One write per provider shape: (id, method, host, path, headers).
SHAPES = [
    ("s3-virtual-hosted", "PUT", "acme-bedrock-tuning.s3.us-east-1.amazonaws.com", "/datasets/train.jsonl",
     {"x-amz-content-sha256": "UNSIGNED-PAYLOAD", "x-amz-checksum-crc32": "AAAAAA==", "content-md5": "bm90LW1kNQ=="}),
    ("s3-path-style", "PUT", "s3.eu-west-1.amazonaws.com", "/acme-bedrock-tuning/datasets/train.jsonl",
     {"x-amz-content-sha256": "UNSIGNED-PAYLOAD"}),
    ("gcs-json-media", "POST", "storage.googleapis.com",
     "/upload/storage/v1/b/acme-vertex-tuning/o?uploadType=media&name=tuning%2Ftrain.jsonl",
     {"content-type": "application/jsonl"}),
    ("gcs-xml", "PUT", "acme-vertex-tuning.storage.googleapis.com", "/tuning/train.jsonl",
     {"content-type": "application/octet-stream"}),
    ("azure-put-blob", "PUT", "acmeaitraining.blob.core.windows.net", "/finetune/train.jsonl",
     {"x-ms-blob-type": "BlockBlob", "x-ms-content-crc64": "AAAAAAAAAAA="}),
]
SHAPE_IDS = [s[0] for s in SHAPES]
RULES = {"s3": "bedrock-tuning-data", "gcs": "vertex-tuning-data", "azure": "azure-ai-tuning-data"}


def send(guard, protocol: str, method: str, host: str, path: str, body: bytes, headers: dict[str, str]):
    """One request over HTTP/1.1 or h2c; returns (status, response headers getter, json body, e2e id)."""
    headers = {"content-type": "application/octet-stream", **headers, "content-length": str(len(body))}
    if protocol == "http1":
        reply = guard.request(method, host, path, body, headers)
        return reply.status, reply.header, reply.body, reply
    request = H2Request(method, host, path, list(headers.items()), frames_of_size(body, 1000))
    reply = h2_client.exchange(guard.port, request, e2e_id_header=E2E_ID_HEADER)
    return reply.status, reply.header, reply.body, reply


def completed(guard, reply) -> list[dict[str, Any]]:
    guard.settle()
    return [r for r in guard.received(reply) if r["complete"]]


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_clean_object_arrives_byte_exact_with_its_headers(guard, protocol, shape):
    name, method, host, path, headers = shape
    status, header, _, reply = send(guard, protocol, method, host, path, CLEAN, headers)

    assert status == 200, reply
    assert header("x-wa-guard-decision") == "forward"
    assert header("x-wa-guard-rule") == RULES[name.split("-")[0]]
    [got] = completed(guard, reply)
    assert stand_in.record_body(got) == CLEAN
    assert stand_in.record_header(got, "content-length") == str(len(CLEAN))
    for key, value in headers.items():
        assert stand_in.record_header(got, key) == value, key


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_object_holding_a_whatsapp_record_is_refused_and_never_completes(guard, protocol, shape):
    name, method, host, path, headers = shape
    status, header, body, reply = send(guard, protocol, method, host, path, WITH_RECORD, headers)

    assert status == 403, reply
    error = json.loads(body)["error"]
    assert error["code"] == "whatsapp_records_in_object"
    assert error["message"].startswith("wa-egress-guard:")
    assert header("x-wa-guard-rule") == RULES[name.split("-")[0]]
    # Never stripped and never whole: the service would store nothing.
    assert completed(guard, reply) == []


def aws_chunked(data: bytes, size: int = 1024) -> bytes:
    out = b""
    for i in range(0, len(data), size):
        piece = data[i : i + size]
        out += b"%x;chunk-signature=%s\r\n%s\r\n" % (len(piece), b"0" * 64, piece)
    return out + b"0;chunk-signature=" + b"0" * 64 + b"\r\n\r\n"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_streaming_signed_s3_upload_is_judged_through_its_aws_chunked_framing(guard, protocol):
    headers = {
        "content-encoding": "aws-chunked",
        "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "x-amz-decoded-content-length": str(len(CLEAN)),
    }
    host, path = "acme-bedrock-tuning.s3.us-east-1.amazonaws.com", "/datasets/streamed.jsonl"
    framed = aws_chunked(CLEAN)
    status, header, _, reply = send(guard, protocol, "PUT", host, path, framed, headers)
    assert status == 200, reply
    [got] = completed(guard, reply)
    assert stand_in.record_body(got) == framed
    assert stand_in.record_header(got, "content-encoding") == "aws-chunked"

    dirty = aws_chunked(WITH_RECORD)
    headers["x-amz-decoded-content-length"] = str(len(WITH_RECORD))
    status, _, body, reply = send(guard, protocol, "PUT", host, path, dirty, headers)
    assert status == 403, reply
    assert json.loads(body)["error"]["code"] == "whatsapp_records_in_object"
    assert completed(guard, reply) == []


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_gzip_object_keeps_its_encoding_and_bytes(guard, protocol):
    gz = gzip_bytes(CLEAN)
    status, header, _, reply = send(guard, protocol, "PUT", "acme-bedrock-tuning.s3.amazonaws.com",
                                    "/datasets/train.jsonl", gz, {"content-encoding": "gzip"})
    assert status == 200, reply
    [got] = completed(guard, reply)
    assert stand_in.record_body(got) == gz
    assert stand_in.record_header(got, "content-encoding") == "gzip"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_multipart_part_is_refused_before_anything_leaves(guard, protocol):
    status, _, body, reply = send(guard, protocol, "PUT", "acme-bedrock-tuning.s3.us-east-1.amazonaws.com",
                                  "/datasets/big.jsonl?partNumber=1&uploadId=VXBsb2Fk", CLEAN, {})
    assert status == 403, reply
    assert json.loads(body)["error"]["code"] == "object_in_parts"
    guard.settle()
    assert guard.received(reply) == []


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("host,path", [
    ("acme-backups.s3.us-east-1.amazonaws.com", "/db/chats.jsonl"),
    ("storage.googleapis.com", "/upload/storage/v1/b/acme-backups/o?uploadType=media&name=chats.jsonl"),
    ("acmeaitraining.blob.core.windows.net", "/backups/chats.jsonl"),
], ids=["s3", "gcs", "azure"])
def test_unnamed_bucket_is_untouched(guard, protocol, host, path):
    method = "POST" if "uploadType" in path else "PUT"
    status, header, _, reply = send(guard, protocol, method, host, path, WITH_RECORD, {"content-md5": "bm90LW1kNQ=="})
    assert status == 200, reply
    assert header("x-wa-guard-decision") is None
    [got] = completed(guard, reply)
    assert stand_in.record_body(got) == WITH_RECORD
    assert stand_in.record_header(got, "content-length") == str(len(WITH_RECORD))


def test_a_gcs_session_chunk_is_judged_by_the_bucket_its_session_was_started_for(guard):
    """Issue 11: GCS picks a resumable session by its upload_id alone. The start for the
    training bucket passes and its Location is recorded; a chunk of that session sent with an
    unnamed bucket in its path is refused as the training bucket's object, while a session
    started for the unnamed bucket stays untouched."""
    def start(bucket: str) -> str:
        status, header, _, reply = send(
            guard, "http1", "POST", "storage.googleapis.com",
            f"/upload/storage/v1/b/{bucket}/o?uploadType=resumable&name=train.jsonl",
            b'{"name":"train.jsonl"}', {"content-type": "application/json"})
        assert status == 200, reply
        location = header("location")
        assert location and "upload_id=" in location, location
        return location.rsplit("upload_id=", 1)[1]

    tuning, scratch = start("acme-vertex-tuning"), start("acme-scratch")
    dirty = CLEAN + record(7, meta={"message_id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQz"})
    chunk = "/upload/storage/v1/b/acme-scratch/o?uploadType=resumable&upload_id="
    status, _, body, reply = send(guard, "http1", "PUT", "storage.googleapis.com", chunk + tuning, dirty, {})
    assert status == 403, reply
    assert json.loads(body)["error"]["code"] == "whatsapp_records_in_object"
    assert not completed(guard, reply)
    status, header, _, reply = send(guard, "http1", "PUT", "storage.googleapis.com", chunk + scratch, dirty, {})
    assert status == 200, reply
    assert header("x-wa-guard-decision") is None
    [got] = completed(guard, reply)
    assert stand_in.record_body(got) == dirty
