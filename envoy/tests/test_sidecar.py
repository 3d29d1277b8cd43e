"""Sidecar bootstrap (sidecar.yaml): the caller is the proxy's own workload, named
by node.metadata NAMESPACE / SERVICE_ACCOUNT in the bootstrap (`node_metadata`
identity source). Nothing the workload sends changes who it is."""

from __future__ import annotations

import pytest

from e2e_data import (
    ASSISTANT_IDENTITY,
    SUPPORT_IDENTITY,
    SUPPORT_TEXT,
    e2e_policy,
    text_message,
    with_identity_sources,
)
from e2e_support import OTHER_GRAPH_PATH

SIDECAR_POLICY = with_identity_sources(
    e2e_policy(log={"recipient_hash_salt": "e2e", "log_allowed": True}),
    [{"type": "node_metadata", "template": "spiffe://cluster.local/ns/{NAMESPACE}/sa/{SERVICE_ACCOUNT}"}],
)


def sidecar(start_guard, namespace, service_account):
    return start_guard(
        SIDECAR_POLICY,
        name=f"sidecar-{namespace or 'none'}",
        template="sidecar.yaml",
        extra={"NODE_NAMESPACE": namespace, "NODE_SERVICE_ACCOUNT": service_account},
    )


@pytest.fixture(scope="module")
def support_sidecar(start_guard):
    return sidecar(start_guard, "support", "helpdesk")


@pytest.fixture(scope="module")
def assistant_sidecar(start_guard):
    return sidecar(start_guard, "ai-lab", "chatbot")


def test_support_sidecar_sends_as_customer_service(support_sidecar):
    reply = support_sidecar.send_whatsapp(text_message(SUPPORT_TEXT))

    assert reply.status == 200, reply
    assert reply.header("x-wa-guard-rule") == "support-bots"
    [record] = support_sidecar.received(reply)
    request_id = next(v for k, v in record["headers"] if k.lower() == "x-request-id")
    entry = support_sidecar.wait_for_decision_log(lambda e: e.get("request_id") == request_id)
    assert (entry["identity"], entry["identity_source"]) == (SUPPORT_IDENTITY, "node_metadata")


def test_support_sidecar_ignores_identity_header(support_sidecar):
    reply = support_sidecar.send_whatsapp(text_message(SUPPORT_TEXT), identity=ASSISTANT_IDENTITY)
    assert reply.status == 200, reply
    assert reply.header("x-wa-guard-rule") == "support-bots"


def test_assistant_sidecar_is_blocked_whatever_it_claims(assistant_sidecar):
    before = assistant_sidecar.stat("cluster.whatsapp_upstream.upstream_rq_total")
    reply = assistant_sidecar.send_whatsapp(
        text_message(SUPPORT_TEXT), identity=SUPPORT_IDENTITY, path=OTHER_GRAPH_PATH
    )

    assert reply.status == 403, reply
    assert reply.header("x-wa-guard-rule") == "assistant-lab"
    entry = assistant_sidecar.wait_for_decision_log(
        lambda e: e.get("request_id") == reply.json()["error"]["fbtrace_id"]
    )
    assert (entry["identity"], entry["identity_source"]) == (ASSISTANT_IDENTITY, "node_metadata")
    assistant_sidecar.settle()
    assert assistant_sidecar.received(reply) == []
    assert assistant_sidecar.stat("cluster.whatsapp_upstream.upstream_rq_total") == before


def test_assistant_sidecar_other_hosts_pass(assistant_sidecar):
    reply = assistant_sidecar.request("POST", "hooks.example.com", "/notify", {"text": "hello"})
    assert reply.status == 200, reply
    assert reply.header("x-wa-guard-decision") is None


def test_empty_service_account_is_no_identity(start_guard):
    """An empty metadata value must not render `.../sa/` (which a `*` glob would match)."""
    guard = sidecar(start_guard, "support", "")
    reply = guard.send_whatsapp(text_message(SUPPORT_TEXT))
    assert reply.status == 403, reply
    assert reply.header("x-wa-guard-rule") == "support-line"
