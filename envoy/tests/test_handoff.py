"""The `handoff` action through a real Envoy: a general-assistant origin's send is replaced by
the policy's compliant message in the recipient's language, forwarded with a body framed by its
own length (the module drops `content-length` in the headers phase; Envoy's buffer filter behind
it sets it from the rewritten body), and answered with the upstream's 200 marked
`x-wa-guard-decision: handoff`. A send that cannot be rewritten is blocked with the reason, and
audit mode forwards the original unchanged."""

from __future__ import annotations

import copy
import json
import urllib.parse
from typing import Any

import pytest

import h2_client
from e2e_data import (
    ASSISTANT_ANSWER,
    ASSISTANT_SECRET_PHRASE,
    SUPPORT_IDENTITY,
    SUPPORT_TEXT,
    e2e_policy,
    template_message,
    text_message,
)
from e2e_support import E2E_ID_HEADER, IDENTITY_HEADER, OTHER_GRAPH_PATH, stand_in

CONCIERGE_IDENTITY = "spiffe://cluster.local/ns/concierge/sa/chatbot"
SPANISH_RECIPIENT = "+34612345678"
US_RECIPIENT = "+16505550123"

HANDOFF_SECTION: dict[str, Any] = {
    "default_language": "en",
    "country_codes": {"34": "es", "52": "es"},
    "url": "https://app.example/assistant?ref={request_id}&lang={language}",
    "messages": {
        "en": {"type": "cta_url", "body": "Our assistant has moved to our app. This chat stays open for orders.",
               "button": "Open the assistant"},
        "es": {"type": "text", "body": "Nuestro asistente está ahora en nuestra app: {url}"},
    },
}


def handoff_policy(**top_level: Any) -> dict[str, Any]:
    policy = e2e_policy(**top_level)
    policy["origins"].append({
        "id": "concierge",
        "identities": [{"glob": "spiffe://cluster.local/ns/concierge/sa/*"}],
        "role": "general_assistant",
        "action": "handoff",
    })
    policy["handoff"] = copy.deepcopy(HANDOFF_SECTION)
    return policy


@pytest.fixture(scope="module")
def guard(start_guard):
    return start_guard(handoff_policy(), name="handoff")


def forwarded(guard, reply) -> dict[str, Any]:
    """The one record the stand-in received for `reply`, checked whole and correctly framed."""
    [record] = guard.received(reply)
    assert record["complete"] and record["error"] is None, record
    body = stand_in.record_body(record)
    # The upstream saw a content-length that matches the body it read (the stand-in reads
    # exactly content-length bytes, so a stale length would have cut or stalled the body).
    assert record["content_length"] == str(len(body)), (record["content_length"], len(body))
    assert not record["chunked"]
    return record


def test_a_send_is_replaced_by_the_spanish_message_framed_by_its_own_length(guard):
    original = text_message(ASSISTANT_ANSWER, to=SPANISH_RECIPIENT)
    original_bytes = json.dumps(original).encode()
    reply = guard.send_whatsapp(original, identity=CONCIERGE_IDENTITY, path=OTHER_GRAPH_PATH)

    assert reply.status == 200, reply
    assert reply.header("x-wa-guard-decision") == "handoff"
    assert reply.header("x-wa-guard-rule") == "concierge"
    assert reply.json()["messages"][0]["id"].startswith("wamid."), "the upstream's own answer"
    record = forwarded(guard, reply)
    body = stand_in.record_body(record)
    assert len(body) != len(original_bytes)
    sent = json.loads(body)
    request_id = stand_in.record_header(record, "x-request-id")
    assert request_id
    link = f"https://app.example/assistant?ref={urllib.parse.quote(request_id, safe='')}&lang=es"
    assert sent == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": SPANISH_RECIPIENT,
        "type": "text",
        "text": {"preview_url": True, "body": f"Nuestro asistente está ahora en nuestra app: {link}"},
    }
    assert ASSISTANT_SECRET_PHRASE.encode() not in body


def test_a_chunked_send_gets_the_english_cta_url_and_a_content_length(guard):
    """No content-length from the client (chunked): the upstream still gets a framed body."""
    reply = guard.send_whatsapp(text_message("Sure! Here is a haiku about the sea.", to=US_RECIPIENT),
                                identity=CONCIERGE_IDENTITY, path=OTHER_GRAPH_PATH, chunked=True)
    assert reply.status == 200, reply
    assert reply.header("x-wa-guard-decision") == "handoff"
    record = forwarded(guard, reply)
    sent = json.loads(stand_in.record_body(record))
    assert sent["type"] == "interactive" and sent["to"] == US_RECIPIENT
    interactive = sent["interactive"]
    assert interactive["type"] == "cta_url"
    assert interactive["action"]["name"] == "cta_url"
    parameters = interactive["action"]["parameters"]
    assert parameters["display_text"] == "Open the assistant"
    url = urllib.parse.urlsplit(parameters["url"])
    query = urllib.parse.parse_qs(url.query)
    assert (url.scheme, url.netloc, url.path) == ("https", "app.example", "/assistant")
    assert query == {"ref": [stand_in.record_header(record, "x-request-id")], "lang": ["en"]}
    assert "6505550123" not in parameters["url"]


@pytest.mark.parametrize("encoding", ["identity", ""], ids=["identity", "empty"])
@pytest.mark.parametrize("answer", ["hi", ASSISTANT_ANSWER], ids=["grows", "shrinks"])
def test_an_identity_encoded_send_is_rewritten_framed_by_its_own_length(guard, encoding, answer):
    """`content-encoding: identity` or empty is no encoding: the send is rewritten, so the
    headers phase drops its content-length as for an unencoded one. A module that kept it framed
    the new body by the client's length: a shorter body stalled the upstream, a longer one was
    cut (the rest left on the connection), while the caller was told `handoff`."""
    original = {"to": SPANISH_RECIPIENT, "type": "text", "text": {"body": answer}}
    reply = guard.send_whatsapp(original, identity=CONCIERGE_IDENTITY, path=OTHER_GRAPH_PATH,
                                headers={"content-encoding": encoding, "content-type": "application/json"})
    assert reply.status == 200, reply
    assert reply.header("x-wa-guard-decision") == "handoff"
    record = forwarded(guard, reply)
    body = stand_in.record_body(record)
    assert len(body) != len(json.dumps(original).encode())
    sent = json.loads(body)
    assert sent["messaging_product"] == "whatsapp" and sent["to"] == SPANISH_RECIPIENT
    assert sent["text"]["body"].startswith("Nuestro asistente está ahora en nuestra app: https://app.example/")


def test_a_send_no_rule_hands_off_keeps_its_headers_and_body(guard):
    message = text_message(SUPPORT_TEXT)
    reply = guard.send_whatsapp(message, identity=SUPPORT_IDENTITY)
    assert reply.status == 200, reply
    assert reply.header("x-wa-guard-decision") == "allow"
    record = forwarded(guard, reply)
    assert stand_in.record_body(record) == json.dumps(message).encode()


def test_a_template_cannot_be_handed_off_and_is_blocked_with_the_reason(guard):
    reply = guard.send_whatsapp(template_message(), identity=CONCIERGE_IDENTITY, path=OTHER_GRAPH_PATH)
    assert reply.status == 403, reply
    assert reply.header("x-wa-guard-decision") == "block"
    assert reply.header("x-wa-guard-rule") == "concierge"
    error = reply.json()["error"]
    assert error["error_subcode"] == 4390013
    assert "reason `handoff_unavailable`" in error["message"]
    assert "a `template` message has no compliant replacement" in error["message"]
    guard.settle()
    assert guard.received(reply) == [], "nothing of a blocked send reaches the upstream"


def test_hand_offs_are_logged_and_counted(guard):
    reply = guard.send_whatsapp(text_message("Sure! Let me write that essay.", to=SPANISH_RECIPIENT),
                                identity=CONCIERGE_IDENTITY, path=OTHER_GRAPH_PATH)
    assert reply.header("x-wa-guard-decision") == "handoff"
    entry = guard.wait_for_decision_log(
        lambda e: e.get("decision") == "handoff" and e.get("request_id") == reply_request_id(guard, reply))
    assert entry["rule"] == "concierge"
    assert entry["reason"] == "general_assistant_origin"
    assert entry["handoff_language"] == "es" and entry["handoff_format"] == "text"
    assert entry["sample"] == 1
    blocked = guard.wait_for_decision_log(lambda e: e.get("reason") == "handoff_unavailable")
    assert blocked["handoff_unavailable"] == "message_type"
    assert blocked["handoff_reason"] == "general_assistant_origin"
    counts = guard.decision_counts()
    assert counts.get(("handoff", "concierge", "general_assistant_origin", "general_assistant"), 0) >= 1, counts
    assert counts.get(("block", "concierge", "handoff_unavailable", "general_assistant"), 0) >= 1, counts
    log = guard.log_text()
    assert "612345678" not in log, "a raw recipient number leaked into Envoy's log"


def reply_request_id(guard, reply) -> str | None:
    [record] = guard.received(reply)
    return stand_in.record_header(record, "x-request-id")


def test_audit_mode_forwards_the_original_unchanged(start_guard):
    guard = start_guard(handoff_policy(mode="audit"), name="handoff-audit")
    message = text_message(ASSISTANT_ANSWER, to=SPANISH_RECIPIENT)
    reply = guard.send_whatsapp(message, identity=CONCIERGE_IDENTITY, path=OTHER_GRAPH_PATH)
    assert reply.status == 200, reply
    assert reply.header("x-wa-guard-decision") == "audit"
    assert reply.header("x-wa-guard-rule") == "concierge"
    record = forwarded(guard, reply)
    assert stand_in.record_body(record) == json.dumps(message).encode()
    entry = guard.wait_for_decision_log(lambda e: e.get("rule") == "concierge")
    assert entry["decision"] == "audit"
    assert entry["audited_action"] == "handoff"
    # A template, which enforce would block, goes through unchanged too.
    template = guard.send_whatsapp(template_message(), identity=CONCIERGE_IDENTITY, path=OTHER_GRAPH_PATH)
    assert template.status == 200 and template.header("x-wa-guard-decision") == "audit", template
    assert stand_in.record_body(forwarded(guard, template)) == json.dumps(template_message()).encode()
    counts = guard.decision_counts()
    assert counts.get(("audit", "concierge", "general_assistant_origin", "general_assistant"), 0) >= 2, counts


@pytest.mark.parametrize("trailers", [False, True], ids=["end-stream-on-data", "trailers"])
def test_an_http2_send_in_small_frames_is_handed_off_framed(guard, trailers):
    """Over h2c, with the client's content-length and the body in 40-byte DATA frames; with
    trailers the stream ends in the guard's trailers callback, which rewrites the body Envoy
    still holds. HTTP/2 refuses a body whose length differs from its content-length, so a stale
    length could not even reach the upstream."""
    body = json.dumps(text_message(ASSISTANT_ANSWER, to=SPANISH_RECIPIENT)).encode()
    request = h2_client.H2Request(
        "POST", "graph.facebook.com", OTHER_GRAPH_PATH,
        [("content-type", "application/json"), ("content-length", str(len(body))),
         (IDENTITY_HEADER, CONCIERGE_IDENTITY)],
        h2_client.frames_of_size(body, 40),
        [("x-e2e-trailer", "last")] if trailers else None,
    )
    reply = h2_client.exchange(guard.port, request, e2e_id_header=E2E_ID_HEADER)
    assert reply.status == 200, reply
    assert reply.header("x-wa-guard-decision") == "handoff", reply
    [record] = guard.received(reply)
    assert record["complete"] and record["error"] is None, record
    sent = stand_in.record_body(record)
    assert record["content_length"] == str(len(sent)), (record["content_length"], len(sent))
    assert json.loads(sent)["text"]["body"].startswith("Nuestro asistente está ahora en nuestra app: https://")
