"""mTLS bootstrap (egress-mtls.yaml): the caller is the SPIFFE id in its client
certificate (`peer_uri_san`). A client-sent x-wa-guard-identity header cannot
override it; only the trusted mesh hop's certificate may speak for others."""

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
from e2e_support import OTHER_GRAPH_PATH, certs_module, client_tls

TRUSTED_HOP = "spiffe://cluster.local/ns/mesh/sa/trusted-hop"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    certs = certs_module()
    directory = tmp_path_factory.mktemp("pki")
    pki = certs.make_pki(directory, {"support": SUPPORT_IDENTITY, "assistant": ASSISTANT_IDENTITY, "hop": TRUSTED_HOP})
    rogue_ca = certs.make_ca(directory / "rogue", name="rogue-ca", common_name="not the workload CA")
    pki.clients["rogue"] = certs.issue(rogue_ca, directory / "rogue", "rogue", san=f"URI:{SUPPORT_IDENTITY}",
                                       client=True, serial=7)
    return pki


def tls_for(pki, name):
    pair = pki.clients[name]
    return client_tls(pki.ca.cert, pair.cert, pair.key)


@pytest.fixture(scope="module")
def guard(start_guard, pki):
    policy = with_identity_sources(
        e2e_policy(log={"recipient_hash_salt": "e2e", "log_allowed": True}),
        [
            {"type": "header", "name": "x-wa-guard-identity",
             "trusted_peers": {"uri_sans": [{"exact": TRUSTED_HOP}]}},
            {"type": "peer_uri_san"},
        ],
    )
    return start_guard(
        policy,
        name="mtls",
        template="egress-mtls.yaml",
        extra={"TLS_CERT": pki.server.cert, "TLS_KEY": pki.server.key, "TLS_CA": pki.ca.cert},
        tls=tls_for(pki, "support"),  # default client (the settle() barrier uses it too)
    )


def request_id_of_allowed(guard, reply):
    [record] = guard.received(reply)
    return next(v for k, v in record["headers"] if k.lower() == "x-request-id")


def test_support_certificate_is_customer_service(guard, pki):
    reply = guard.send_whatsapp(text_message(SUPPORT_TEXT), tls=tls_for(pki, "support"))

    assert reply.status == 200, reply
    assert reply.header("x-wa-guard-decision") == "allow"
    assert reply.header("x-wa-guard-rule") == "support-bots"
    request_id = request_id_of_allowed(guard, reply)
    entry = guard.wait_for_decision_log(lambda e: e.get("request_id") == request_id)
    assert (entry["identity"], entry["identity_source"]) == (SUPPORT_IDENTITY, "peer_uri_san")


def test_assistant_certificate_cannot_claim_support_by_header(guard, pki):
    before = guard.stat("cluster.whatsapp_upstream.upstream_rq_total")
    reply = guard.send_whatsapp(
        text_message(SUPPORT_TEXT), identity=SUPPORT_IDENTITY, path=OTHER_GRAPH_PATH, tls=tls_for(pki, "assistant")
    )

    assert reply.status == 403, reply
    assert reply.header("x-wa-guard-rule") == "assistant-lab"
    entry = guard.wait_for_decision_log(lambda e: e.get("request_id") == reply.json()["error"]["fbtrace_id"])
    assert (entry["identity"], entry["identity_source"]) == (ASSISTANT_IDENTITY, "peer_uri_san")
    guard.settle()
    assert guard.received(reply) == []
    assert guard.stat("cluster.whatsapp_upstream.upstream_rq_total") == before


def test_support_certificate_header_claim_is_ignored(guard, pki):
    reply = guard.send_whatsapp(
        text_message(SUPPORT_TEXT), identity=ASSISTANT_IDENTITY, tls=tls_for(pki, "support")
    )
    assert reply.status == 200, reply
    assert reply.header("x-wa-guard-rule") == "support-bots"


def test_trusted_hop_may_speak_for_workloads(guard, pki):
    blocked = guard.send_whatsapp(
        text_message("Sure! A haiku."), identity=ASSISTANT_IDENTITY, path=OTHER_GRAPH_PATH, tls=tls_for(pki, "hop")
    )
    assert blocked.status == 403, blocked
    entry = guard.wait_for_decision_log(lambda e: e.get("request_id") == blocked.json()["error"]["fbtrace_id"])
    assert (entry["identity"], entry["identity_source"]) == (ASSISTANT_IDENTITY, "header")

    allowed = guard.send_whatsapp(text_message(SUPPORT_TEXT), identity=SUPPORT_IDENTITY, tls=tls_for(pki, "hop"))
    assert allowed.status == 200, allowed
    assert allowed.header("x-wa-guard-rule") == "support-bots"


@pytest.mark.parametrize("client", [None, "rogue"], ids=["no-client-cert", "cert-from-another-ca"])
def test_unauthenticated_clients_are_refused(guard, pki, client):
    before = guard.stat("cluster.whatsapp_upstream.upstream_rq_total")
    context = client_tls(pki.ca.cert) if client is None else tls_for(pki, client)
    with pytest.raises(OSError):  # ssl.SSLError or a reset/closed connection
        guard.send_whatsapp(text_message(SUPPORT_TEXT), tls=context)
    assert guard.stat("cluster.whatsapp_upstream.upstream_rq_total") == before
