"""Audit mode: the request that enforce mode would block goes through, marked
`x-wa-guard-decision: audit`, and Envoy logs the decision without the message."""

from __future__ import annotations

import re

import pytest

from e2e_data import (
    ASSISTANT_ANSWER,
    ASSISTANT_IDENTITY,
    ASSISTANT_SECRET_PHRASE,
    RECIPIENT_DIGITS,
    e2e_policy,
    text_message,
)
from e2e_support import OTHER_GRAPH_PATH, PHONE_NUMBER_ID, stand_in

LOG_FIELDS = {
    "event", "request_id", "decision", "rule", "reason", "role", "signals", "score",
    "identity", "identity_source", "phone_number_id", "message_type", "recipient_hash",
    "ts", "sample", "score_bucket", "policy", "provider", "endpoint",
}


@pytest.fixture(scope="module")
def guard(start_guard):
    return start_guard(e2e_policy(mode="audit"), name="audit")


def test_general_assistant_send_passes_marked_audit(guard):
    message = text_message(ASSISTANT_ANSWER)
    reply = guard.send_whatsapp(message, identity=ASSISTANT_IDENTITY)

    assert reply.status == 200, reply
    assert reply.header("x-wa-guard-decision") == "audit"
    assert reply.header("x-wa-guard-rule") == "assistant-lab"
    [record] = guard.received(reply)
    assert stand_in.record_body(record)  # forwarded, whole
    assert record["complete"]


def test_audit_decision_is_logged_without_content(guard):
    reply = guard.send_whatsapp(text_message(ASSISTANT_ANSWER), path=OTHER_GRAPH_PATH)
    assert reply.status == 200, reply
    assert reply.header("x-wa-guard-decision") == "audit"
    assert reply.header("x-wa-guard-rule") == "content_classifier"

    entry = guard.wait_for_decision_log(
        lambda e: e.get("rule") == "content_classifier" and e.get("decision") == "audit"
    )
    assert LOG_FIELDS <= set(entry), sorted(LOG_FIELDS - set(entry))
    assert entry["reason"] == "general_assistant_content"
    assert entry["role"] == "unknown"
    assert entry["message_type"] == "text"
    assert entry["signals"] and isinstance(entry["score"], (int, float))
    assert re.fullmatch(r"[0-9a-f]{8,64}", entry["recipient_hash"]), entry["recipient_hash"]
    # Envoy's clock, RFC 3339 UTC with milliseconds; an audit line is always logged (sample 1).
    assert re.fullmatch(r"20\d\d-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["ts"]), entry["ts"]
    assert entry["sample"] == 1
    assert re.fullmatch(r"0\.\d-(0\.\d|1\.0)", entry["score_bucket"]), entry["score_bucket"]

    log = guard.log_text()
    assert ASSISTANT_SECRET_PHRASE not in log, "message text leaked into Envoy's log"
    assert RECIPIENT_DIGITS not in log, "raw recipient number leaked into Envoy's log"


def test_origin_audit_is_logged(guard):
    guard.send_whatsapp(text_message("Sure! Here is a haiku."), identity=ASSISTANT_IDENTITY)
    entry = guard.wait_for_decision_log(lambda e: e.get("rule") == "assistant-lab")
    assert entry["decision"] == "audit"
    assert entry["identity"] == ASSISTANT_IDENTITY
    assert entry["phone_number_id"] == PHONE_NUMBER_ID


def test_rule_level_audit_in_an_enforcing_policy(start_guard):
    """One origin in audit mode while the rest of the policy enforces."""
    policy = e2e_policy()
    policy["origins"][1]["mode"] = "audit"
    guard = start_guard(policy, name="rule-audit")

    audited = guard.send_whatsapp(
        text_message("Sure! Here is a haiku."), identity=ASSISTANT_IDENTITY, path=OTHER_GRAPH_PATH
    )
    assert audited.status == 200, audited
    assert audited.header("x-wa-guard-decision") == "audit"
    assert audited.header("x-wa-guard-rule") == "assistant-lab"

    # The support line only admits support-bots, and that rule still enforces.
    refused = guard.send_whatsapp(text_message("Sure! Here is a haiku."), identity=ASSISTANT_IDENTITY)
    assert refused.status == 403, refused
    assert refused.header("x-wa-guard-rule") == "support-line"

    enforced = guard.send_whatsapp(text_message(ASSISTANT_ANSWER), path=OTHER_GRAPH_PATH)
    assert enforced.status == 403, enforced
