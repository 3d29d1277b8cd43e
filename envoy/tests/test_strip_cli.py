"""`wa-guard strip` gives the bytes Envoy forwards (issue 14): each upload body of the training
suite (JSON lines, a JSON document, multipart with a JSONL, CSV or chat-export file part,
gzip-compressed ones, a clean file) goes through Envoy to the stand-in upstream, and the same
body, saved as a file, goes through `wa-guard strip --out` with the same policy: the cleaned
file is byte for byte what the upstream received. Envoy forwards a compressed upload
decompressed (identity-encoded), and so does strip.

`wa-guard` is $WA_GUARD, or target/host/wa-guard (`make cli`); its component is
$WA_GUARD_COMPONENT or the one beside it.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from e2e_data import e2e_policy
from e2e_support import ENVOY_DIR, stand_in
from test_training_upload import BOUNDARY, chat, jsonl, multipart, training_section, whatsapp_record

REPO = ENVOY_DIR.parent
WA_GUARD_TIMEOUT_S = 120


def wa_guard_binary() -> Path:
    path = Path(os.environ.get("WA_GUARD") or REPO / "target" / "host" / "wa-guard")
    if not os.access(path, os.X_OK):
        pytest.fail(f"no wa-guard at `{path}`: run `make cli` or set WA_GUARD", pytrace=False)
    return path


@pytest.fixture(scope="module")
def policy() -> dict[str, Any]:
    return e2e_policy(training=training_section())


@pytest.fixture(scope="module")
def guard(start_guard, policy):
    return start_guard(policy, name="strip-cli")


@pytest.fixture(scope="module")
def policy_file(policy, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("strip-cli") / "policy.json"
    path.write_text(json.dumps(policy, indent=2), encoding="utf-8")
    return path


def file_part(name: str, content_type: str, content: bytes) -> bytes:
    return (
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="purpose"\r\n\r\n'
        "fine-tune\r\n"
        f"--{BOUNDARY}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{name}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode() + content + f"\r\n--{BOUNDARY}--\r\n".encode()


def csv_file() -> bytes:
    rows = ["ticket,channel,customer,text"]
    for i in range(12):
        channel = "whatsapp" if i % 4 == 1 else ("email" if i % 2 else "web")
        text = f'"Order {7000 + i}: where is it?\r\nThanks"' if i == 5 else f"Order {7000 + i} ships on day {i % 5 + 1}"
        rows.append(f"{i},{channel},C-{i:03d},{text}")
    return ("\r\n".join(rows) + "\r\n").encode()


def chat_export_file() -> bytes:
    # Notes a team wrote, then a pasted WhatsApp chat export: the export's lines (and their
    # continuation lines) are WhatsApp-derived, the notes are not.
    return (
        "Support notes for the spring catalogue\n"
        "Customers mostly ask about delivery windows and returns.\n"
        "\n"
        "14/03/2025, 10:02 - Lena: Is the blue jacket back in stock?\n"
        "14/03/2025, 10:05 - Shop: Yes, from Friday.\n"
        "It comes in three sizes.\n"
    ).encode()


def json_document() -> bytes:
    records = [json.loads(chat(i)) for i in range(4)]
    records.insert(2, json.loads(whatsapp_record(9, "wamid")))
    records.append(json.loads(whatsapp_record(10, "wa_id")))
    return json.dumps({"model": "base", "examples": records}, indent=2).encode()


def uploads() -> list[tuple[str, bytes, dict[str, str], list[str]]]:
    """(name, body, headers for Envoy, strip's arguments besides --out, POLICY and FILE)"""
    stripped_jsonl, _, _ = jsonl(30, whatsapp_every=4)
    clean_jsonl, _, _ = jsonl(10, whatsapp_every=0)
    multipart_type = {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}
    return [
        ("upload.jsonl", stripped_jsonl, {"content-type": "application/jsonl"}, []),
        ("clean.jsonl", clean_jsonl, {"content-type": "application/jsonl"}, []),
        ("document.json", json_document(), {"content-type": "application/json"}, []),
        ("jsonl.multipart", multipart(stripped_jsonl), multipart_type, ["--format", "multipart"]),
        ("csv.multipart", file_part("inbox.csv", "text/csv", csv_file()), multipart_type, ["--format", "multipart"]),
        ("chat.multipart", file_part("notes.txt", "text/plain", chat_export_file()), multipart_type,
         ["--format", "multipart"]),
        ("upload.jsonl.gz", gzip.compress(stripped_jsonl),
         {"content-type": "application/jsonl", "content-encoding": "gzip"}, []),
        ("multipart.gz", gzip.compress(multipart(stripped_jsonl)),
         {**multipart_type, "content-encoding": "gzip"}, ["--format", "multipart", "--boundary", BOUNDARY]),
    ]


def strip(policy_file: Path, path: Path, out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(wa_guard_binary()), "strip", "--report", "json", "--out", str(out), *args, str(policy_file), str(path)],
        capture_output=True, text=True, timeout=WA_GUARD_TIMEOUT_S, check=False,
    )


def forwarded(guard, body: bytes, headers: dict[str, str]) -> tuple[bytes, Any]:
    reply = guard.request("POST", "api.openai.com", "/v1/files", body, headers)
    assert reply.status == 200, reply
    [record] = guard.received(reply)
    return stand_in.record_body(record), (reply, record)


@pytest.mark.parametrize("name", [u[0] for u in uploads()])
def test_strip_writes_the_bytes_envoy_forwards(guard, policy_file, tmp_path, name):
    [(_, body, headers, args)] = [u for u in uploads() if u[0] == name]
    upstream, (reply, record) = forwarded(guard, body, headers)
    # Envoy forwards a decoded upload identity-encoded.
    assert stand_in.record_header(record, "content-encoding") is None

    path = tmp_path / name
    path.write_bytes(body)
    out = tmp_path / f"{name}.clean"
    run = strip(policy_file, path, out, *args)
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads(run.stdout)

    assert out.read_bytes() == upstream, name
    assert str(report["records_stripped"]) == reply.header("x-wa-guard-stripped")
    assert report["verdict"] == reply.header("x-wa-guard-decision")
    assert report["endpoint"] == reply.header("x-wa-guard-rule") == "openai-files"
    plain = gzip.decompress(body) if headers.get("content-encoding") == "gzip" else body
    if name == "clean.jsonl":
        assert upstream == body and report["records_stripped"] == 0
    else:
        assert report["records_stripped"] > 0 and len(upstream) < len(plain)
    # Where and which detector, never the record: no stripped byte in the report.
    assert all(set(r) == {"record", "offset", "detector"} for r in report["stripped"])
    assert "wamid." not in run.stdout and "1555010" not in run.stdout


def test_a_csv_or_chat_export_file_strips_as_its_multipart_part(guard, policy_file, tmp_path):
    """`--format csv` and `--format txt` on the file itself (and gzipped): the file part Envoy
    forwards."""
    for name, content_type, content, fmt in [
        ("inbox.csv", "text/csv", csv_file(), "csv"),
        ("notes.txt", "text/plain", chat_export_file(), "txt"),
    ]:
        upstream, _ = forwarded(guard, file_part(name, content_type, content),
                                {"content-type": f"multipart/form-data; boundary={BOUNDARY}"})
        path = tmp_path / name
        path.write_bytes(content)
        out = tmp_path / f"{name}.clean"
        run = strip(policy_file, path, out, "--format", fmt)
        assert run.returncode == 0, run.stdout + run.stderr
        assert file_part(name, content_type, out.read_bytes()) == upstream, name
        # The file compressed: read decompressed, the same part.
        packed = tmp_path / f"{name}.gz"
        packed.write_bytes(gzip.compress(content))
        unpacked = tmp_path / f"{name}.gz.clean"
        run_gz = strip(policy_file, packed, unpacked, "--format", fmt)
        assert run_gz.returncode == 0, run_gz.stdout + run_gz.stderr
        assert unpacked.read_bytes() == out.read_bytes(), name
        report = json.loads(run.stdout)
        assert json.loads(run_gz.stdout)["stripped"] == report["stripped"]
        for r in report["stripped"]:  # each offset starts a stripped line of the file
            start = r["offset"]
            assert start == 0 or content[start - 1 : start] == b"\n", r
            assert content[start:].split(b"\n", 1)[0] not in out.read_bytes(), r
