"""A general-purpose assistant's send is refused with a Graph-shaped 403, and Meta
(the stand-in) receives nothing for it, not even the request headers."""

from __future__ import annotations

import json

import pytest

from e2e_data import (
    ASSISTANT_ANSWER,
    ASSISTANT_IDENTITY,
    SUPPORT_IDENTITY,
    SUPPORT_TEXT,
    e2e_policy,
    text_message,
)
from e2e_support import OTHER_GRAPH_PATH, gzip_bytes


@pytest.fixture(scope="module")
def guard(start_guard):
    return start_guard(e2e_policy(), name="blocked")


def assert_graph_403(reply, rule: str) -> dict:
    assert reply.status == 403, reply
    assert reply.header("content-type") == "application/json"
    assert reply.header("x-wa-guard-decision") == "block"
    assert reply.header("x-wa-guard-rule") == rule
    error = reply.json()["error"]
    assert error["type"] == "OAuthException"
    assert error["code"] == 10
    assert isinstance(error["error_subcode"], int)
    assert isinstance(error["message"], str) and rule in error["message"]
    assert isinstance(error["fbtrace_id"], str) and error["fbtrace_id"]
    return error


def assert_nothing_reached_meta(guard, reply, upstream_requests_before: int) -> None:
    guard.settle()
    assert guard.received(reply) == [], "the stand-in saw (part of) a blocked request"
    assert guard.stat("cluster.whatsapp_upstream.upstream_rq_total") == upstream_requests_before


def test_general_assistant_origin_is_blocked(guard):
    before = guard.stat("cluster.whatsapp_upstream.upstream_rq_total")
    reply = guard.send_whatsapp(text_message("Sure! Here is a haiku about autumn."), identity=ASSISTANT_IDENTITY)

    error = assert_graph_403(reply, "assistant-lab")
    assert_nothing_reached_meta(guard, reply, before)
    entry = guard.wait_for_decision_log(lambda e: e.get("request_id") == error["fbtrace_id"])
    assert (entry["decision"], entry["rule"], entry["reason"], entry["role"]) == (
        "block", "assistant-lab", "general_assistant_origin", "general_assistant")
    assert entry["identity"] == ASSISTANT_IDENTITY
    assert entry["identity_source"] == "header"


def test_assistant_content_from_unknown_identity_is_blocked(guard):
    before = guard.stat("cluster.whatsapp_upstream.upstream_rq_total")
    reply = guard.send_whatsapp(text_message(ASSISTANT_ANSWER), path=OTHER_GRAPH_PATH)

    error = assert_graph_403(reply, "content_classifier")
    assert_nothing_reached_meta(guard, reply, before)
    entry = guard.wait_for_decision_log(lambda e: e.get("request_id") == error["fbtrace_id"])
    assert (entry["decision"], entry["reason"], entry["role"]) == ("block", "general_assistant_content", "unknown")
    assert entry["identity_source"] == "source_address"
    assert entry["identity"] == "127.0.0.1"
    assert entry["signals"], entry


def test_gzip_body_is_no_bypass(guard):
    before = guard.stat("cluster.whatsapp_upstream.upstream_rq_total")
    raw = gzip_bytes(json.dumps(text_message(ASSISTANT_ANSWER)).encode("utf-8"))
    reply = guard.send_whatsapp(raw, path=OTHER_GRAPH_PATH, headers={"content-encoding": "gzip"})

    assert_graph_403(reply, "content_classifier")
    assert_nothing_reached_meta(guard, reply, before)


def test_blocked_on_port_variant_host(guard):
    before = guard.stat("cluster.whatsapp_upstream.upstream_rq_total")
    reply = guard.send_whatsapp(
        text_message("Sure! Here is a haiku."), identity=ASSISTANT_IDENTITY, host="graph.facebook.com:443"
    )

    assert_graph_403(reply, "assistant-lab")
    assert_nothing_reached_meta(guard, reply, before)


def test_identity_header_from_untrusted_peer_is_ignored(guard):
    """Only 127.0.0.1/32 may assert an identity by header. From 127.0.0.2 the claim is
    ignored, the caller is its address, and the support line refuses it."""
    message = text_message(SUPPORT_TEXT)
    trusted = guard.send_whatsapp(message, identity=SUPPORT_IDENTITY)
    assert trusted.status == 200, trusted

    before = guard.stat("cluster.whatsapp_upstream.upstream_rq_total")
    spoofed = guard.send_whatsapp(
        message,
        identity=SUPPORT_IDENTITY,
        source_ip="127.0.0.2",
        headers={"x-forwarded-for": "127.0.0.1"},
    )
    error = assert_graph_403(spoofed, "support-line")
    assert_nothing_reached_meta(guard, spoofed, before)
    entry = guard.wait_for_decision_log(lambda e: e.get("request_id") == error["fbtrace_id"])
    assert entry["reason"] == "origin_not_allowed_for_number"
    assert entry["identity"] == "127.0.0.2"
    assert entry["identity_source"] == "source_address"
