"""A customer-service bot's sends pass through Envoy, byte for byte."""

from __future__ import annotations

import json

import pytest

from e2e_data import SUPPORT_IDENTITY, SUPPORT_TEXT, e2e_policy, interactive_message, template_message, text_message
from e2e_support import GRAPH_PATH, IDENTITY_HEADER, stand_in


@pytest.fixture(scope="module")
def guard(start_guard):
    return start_guard(e2e_policy(), name="allowed")


def odd_but_valid_json(message: dict) -> bytes:
    """Indentation, key order and non-ASCII a re-serialiser would change."""
    text = json.dumps(message, indent=3, ensure_ascii=False).replace('"to"', '"to"  ')
    return (text + "\n").replace("Hi Dana", "Olá Dana ✓").encode("utf-8")


@pytest.mark.parametrize(
    "message",
    [text_message(SUPPORT_TEXT), template_message(), interactive_message()],
    ids=["text", "template", "interactive"],
)
def test_customer_service_send_reaches_upstream_byte_exact(guard, message):
    raw = odd_but_valid_json(message)
    reply = guard.send_whatsapp(raw, identity=SUPPORT_IDENTITY)

    assert reply.status == 200, reply
    assert reply.header("x-wa-guard-decision") == "allow"
    assert reply.header("x-wa-guard-rule") == "support-bots"
    answer = reply.json()
    assert answer["messaging_product"] == "whatsapp"
    assert answer["messages"][0]["id"].startswith("wamid.")

    [record] = guard.received(reply)
    assert record["complete"], record
    assert record["method"] == "POST"
    assert record["path"] == GRAPH_PATH
    assert stand_in.record_body(record) == raw
    assert stand_in.record_header(record, "authorization") == "Bearer EAAe2eTestToken"
    # The identity header is for the guard only; the route config strips it before Meta.
    assert stand_in.record_header(record, IDENTITY_HEADER) is None


def test_chunked_upload_is_reassembled_exactly(guard):
    raw = odd_but_valid_json(text_message(SUPPORT_TEXT))
    reply = guard.send_whatsapp(raw, identity=SUPPORT_IDENTITY, chunked=True)

    assert reply.status == 200, reply
    assert reply.header("x-wa-guard-decision") == "allow"
    [record] = guard.received(reply)
    assert stand_in.record_body(record) == raw


@pytest.mark.parametrize("host", ["graph.facebook.com:443", "GRAPH.facebook.com"])
def test_host_variants_are_governed_too(guard, host):
    reply = guard.send_whatsapp(text_message(SUPPORT_TEXT), identity=SUPPORT_IDENTITY, host=host)

    assert reply.status == 200, reply
    assert reply.header("x-wa-guard-decision") == "allow"
