"""Requests to hosts other than the WhatsApp Cloud API pass untouched: no decision,
no guard headers, bodies byte-exact, large uploads streamed (not buffered)."""

from __future__ import annotations

import hashlib
import os

import pytest

from e2e_data import ASSISTANT_ANSWER, e2e_policy
from e2e_support import stand_in


@pytest.fixture(scope="module")
def guard(start_guard):
    return start_guard(e2e_policy(), name="other-hosts")


def test_other_host_passes_untouched(guard):
    raw = ('{"text": %r, "to": "+16505550123"}\n' % ASSISTANT_ANSWER).encode("utf-8")
    reply = guard.request("POST", "hooks.example.com", "/v21.0/106540352242922/messages", raw,
                          {"x-custom": "kept"})

    assert reply.status == 200, reply
    assert reply.header("x-wa-guard-decision") is None
    assert reply.header("x-wa-guard-rule") is None
    [record] = guard.received(reply)
    assert stand_in.record_body(record) == raw
    assert stand_in.record_header(record, "x-custom") == "kept"
    assert guard.decision_counts() == {}


def test_get_without_body_passes(guard):
    reply = guard.request("GET", "status.example.org", "/health?x=1")
    assert reply.status == 200, reply
    [record] = guard.received(reply)
    assert record["path"] == "/health?x=1"


def test_large_training_upload_streams_through(guard):
    """The buffer filter is disabled on training routes: a 3 MiB chunked upload is not
    held or refused (413); it arrives whole, still chunked."""
    lines = [b'{"messages":[{"role":"user","content":"row %d"}]}\n' % i for i in range(70000)]
    raw = b"".join(lines)
    assert len(raw) > 3 * 1024 * 1024
    reply = guard.request("POST", "api.openai.com", "/v1/files", raw,
                          {"content-type": "application/jsonl"}, chunked=True)

    assert reply.status == 200, reply
    assert reply.json()["sha256"] == hashlib.sha256(raw).hexdigest()
    [record] = guard.received(reply)
    assert record["chunked"] is True
    assert stand_in.record_body(record) == raw


def test_binary_body_to_other_host_is_byte_exact(guard):
    raw = os.urandom(200_000)
    reply = guard.request("PUT", "bucket.storage.example", "/obj", raw, {"content-type": "application/octet-stream"})
    assert reply.status == 200, reply
    [record] = guard.received(reply)
    assert stand_in.record_body(record) == raw
