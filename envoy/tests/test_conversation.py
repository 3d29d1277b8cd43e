"""Conversations through one real Envoy with both listeners (envoy/conversation.yaml: egress to
the Graph API and the webhook ingress, one vm_id, so one shared-data store for every worker):
the send that completes a three-part split answer is refused while three unrelated service
sends go through, and the unanswered budget refuses the send after N and is reset by a
correctly signed inbound webhook on the ingress listener, never by a forged one; a signed delivery
naming a person's number and business-scoped user id links them, so sends to either share one
budget, and a `to` that is no address is refused."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any, Iterator

import pytest

import e2e_support as es
from e2e_support import launch

SECRET = "e2e-conversation-app-secret"
HOOK_HOST = "hooks.example.com"
HOOK_PATH = "/webhooks/whatsapp"
NUMBER = "106540352240000"
SEND_PATH = f"/v21.0/{NUMBER}/messages"

# Our own texts: an answer a general assistant streams in three sends (each part alone, and the
# first two together, score under the threshold; all three together over it), and three service
# sends that read as service alone or joined (the same texts as filter/tests/conversation.rs).
SPLIT_ANSWER = [
    "You earn interest not",
    "only on your original deposit but also on the interest already added, so the balance grows faster each year. For example,",
    "1000 at 5% becomes 1050 after one year and 1102.50 after two.",
]
SERVICE_SENDS = [
    "Your order 4821 has shipped and should arrive on Thursday.",
    "You can track the parcel with the link in your confirmation email.",
    "Reply to this chat if you need to change the delivery address.",
]


def conversation_policy() -> dict[str, Any]:
    policy = json.loads((es.ENVOY_DIR.parent / "policies" / "examples" / "conversation.json").read_text(encoding="utf-8"))
    assert policy["webhook"]["hosts"] == [HOOK_HOST] and policy["webhook"]["path_prefixes"] == [HOOK_PATH]
    assert policy["conversation"]["unanswered_budget"]["max_unanswered"] == 3
    policy["log"]["log_allowed"] = True
    policy["log"]["recipient_hash_salt"] = "e2e-conversation-8a41"  # the example's is a placeholder
    return policy


@pytest.fixture(scope="module")
def envoy(envoy_binary: str, upstream: Any, render: Any) -> Iterator[launch.EnvoyProcess]:
    config = render(
        conversation_policy(),
        template="conversation.yaml",
        extra={"WEBHOOK_APP_SECRET": SECRET, "WEBHOOK_LISTENER_PORT": 0, "WEBHOOK_BUFFER_MAX_BYTES": (1 << 20) + 4096},
        name="conversation",
    )
    process = launch.EnvoyProcess(config, config.parent, binary=envoy_binary, name="conversation", concurrency=2)
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def egress(envoy: launch.EnvoyProcess, upstream: Any) -> es.GuardedEnvoy:
    return es.GuardedEnvoy(envoy, envoy.listener_port("egress"), upstream)


@pytest.fixture(scope="module")
def ingress(envoy: launch.EnvoyProcess, upstream: Any) -> es.GuardedEnvoy:
    return es.GuardedEnvoy(envoy, envoy.listener_port("webhook_ingress"), upstream,
                           barrier=(HOOK_HOST, f"{HOOK_PATH}?hub.mode=subscribe&hub.challenge=1&hub.verify_token=barrier"))


def send_text(egress: es.GuardedEnvoy, to: str, text: str) -> es.Reply:
    body = {"messaging_product": "whatsapp", "to": to, "type": "text", "text": {"body": text}}
    return egress.send_whatsapp(body, path=SEND_PATH)


def delivery(sender: str, user_id: str | None = None) -> bytes:
    """A webhook delivery shaped like Meta's (our own text), from `sender` to NUMBER, written now
    (a message further than the policy's `inbound_max_age_seconds` from the clock resets nothing),
    naming the sender's business-scoped `user_id` too when given."""
    message: dict[str, Any] = {"from": sender, "id": "wamid.E2ECONVERSATION", "timestamp": str(int(time.time())),
                               "type": "text", "text": {"body": "Thanks, got it"}}
    if user_id is not None:
        message["from_user_id"] = user_id
    return json.dumps({"object": "whatsapp_business_account", "entry": [{"id": "880011223344", "changes": [
        {"field": "messages", "value": {"messaging_product": "whatsapp",
         "metadata": {"display_phone_number": "15550001111", "phone_number_id": NUMBER},
         "messages": [message]}}]}]},
                      separators=(",", ":")).encode()


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def deliver(ingress: es.GuardedEnvoy, body: bytes, signature: str | None) -> es.Reply:
    headers = {"content-type": "application/json"}
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    return ingress.request("POST", HOOK_HOST, HOOK_PATH, body, headers)


def series(guard: es.GuardedEnvoy, name: str) -> dict[str, int]:
    return {labels.get("result", ""): value for _, labels, value in es.prometheus_series(guard.prometheus(), name)}


def test_the_send_that_completes_a_split_answer_is_refused_and_service_sends_are_not(egress):
    service = [send_text(egress, "+44 7700 900111", text) for text in SERVICE_SENDS]
    split = [send_text(egress, "+44 7700 900222", part) for part in SPLIT_ANSWER]

    assert [r.status for r in service] == [200, 200, 200], service
    assert all(r.header("x-wa-guard-decision") == "allow" for r in service)
    assert [r.status for r in split] == [200, 200, 403], split
    last = split[2]
    assert last.header("x-wa-guard-rule") == "conversation_classifier"
    error = last.json()["error"]
    assert error["error_subcode"] == 4390015
    assert "general_assistant_conversation" in error["message"]

    egress.settle()
    for reply in service + split[:2]:
        [record] = egress.received(reply)
        assert record["complete"]
    assert egress.received(last) == [], "the completing part reached the upstream"
    line = egress.wait_for_decision_log(lambda d: d.get("rule") == "conversation_classifier")
    assert line["decision"] == "block" and line["score"] >= 0.71
    # No line holds a text or a number.
    text = egress.log_text()
    for secret in ("balance grows", "900222", "900111", "parcel"):
        assert secret not in text


def test_the_budget_refuses_after_n_unanswered_and_only_a_signed_webhook_resets_it(egress, ingress):
    to = "+34 612 000 333"
    wa_id = "34612000333"
    first = [send_text(egress, to, text) for text in SERVICE_SENDS]
    assert [r.status for r in first] == [200, 200, 200], first
    over = send_text(egress, to, "One more thing about your order.")
    assert over.status == 403, over
    assert over.header("x-wa-guard-rule") == "unanswered_budget"
    assert over.json()["error"]["error_subcode"] == 4390014
    egress.settle()
    assert egress.received(over) == []
    line = egress.wait_for_decision_log(lambda d: d.get("rule") == "unanswered_budget")
    assert line["unanswered"] == 3

    inbound_before = series(ingress, "wa_guard_conversation_inbound_total")
    # A forged delivery (signed with another key) and an unsigned one are refused at the
    # ingress and reset nothing.
    forged = deliver(ingress, delivery(wa_id), sign(delivery(wa_id), "an attacker's guess"))
    unsigned = deliver(ingress, delivery(wa_id), None)
    assert (forged.status, unsigned.status) == (401, 401)
    still = send_text(egress, to, "Are you still there?")
    assert still.status == 403 and still.header("x-wa-guard-rule") == "unanswered_budget", still

    # The recipient writes, in a later second than the sends above (a send in the message's own
    # second counts as after it): Meta's signed delivery reaches the endpoint and resets the count.
    time.sleep(1.1)
    body = delivery(wa_id)
    signed = deliver(ingress, body, sign(body))
    assert signed.status == 200, signed
    ingress.settle()
    [record] = ingress.received(signed)
    assert record["complete"]
    # The sends below may fall in the message's own second: the replay further down is told by
    # the message's timestamp and id, not by the second of the last send.
    after = [send_text(egress, to, text) for text in SERVICE_SENDS]
    assert [r.status for r in after] == [200, 200, 200], after
    assert send_text(egress, to, "And one too many.").status == 403
    # The same signed delivery, replayed (the last message recorded again): it resets nothing.
    replayed = deliver(ingress, body, sign(body))
    assert replayed.status == 200, replayed
    assert send_text(egress, to, "Replay this.").status == 403

    inbound_after = series(ingress, "wa_guard_conversation_inbound_total")
    assert inbound_after.get("recorded", 0) - inbound_before.get("recorded", 0) == 1, inbound_after
    assert inbound_after.get("replayed", 0) - inbound_before.get("replayed", 0) == 1, inbound_after
    decisions = es.prometheus_decisions(egress.prometheus())
    assert any(rule == "unanswered_budget" for (_, rule, *_rest) in decisions), decisions
    assert "wasmcustom" not in egress.prometheus()


def test_a_signed_delivery_links_a_user_id_to_its_number_and_they_share_one_budget(egress, ingress):
    """Review finding 4 of issue 16: once Meta's signed delivery names a person's number and
    business-scoped user id together, sends addressed by either are one conversation, one budget
    of 3 (before: one per address, up to 6 unanswered sends). A `to` that is no address at all is
    refused by `conversation_state` (finding 5)."""
    wa_id = "34612000444"
    user_id = "US.77120004440001"

    def send_to_user_id(text: str) -> es.Reply:
        body = {"messaging_product": "whatsapp", "recipient": user_id, "type": "text", "text": {"body": text}}
        return egress.send_whatsapp(body, path=SEND_PATH)

    linked_before = series(ingress, "wa_guard_conversation_inbound_total").get("linked", 0)
    body = delivery(wa_id, user_id)
    signed = deliver(ingress, body, sign(body))
    assert signed.status == 200, signed
    ingress.settle()
    assert series(ingress, "wa_guard_conversation_inbound_total").get("linked", 0) - linked_before == 1

    sent = [send_text(egress, wa_id, SERVICE_SENDS[0]), send_to_user_id(SERVICE_SENDS[1]),
            send_text(egress, "+34 612 000 444", SERVICE_SENDS[2])]
    assert [r.status for r in sent] == [200, 200, 200], sent
    for over in (send_to_user_id("One more thing about your order."),
                 send_text(egress, wa_id, "One more thing about your order.")):
        assert over.status == 403, over
        assert over.header("x-wa-guard-rule") == "unanswered_budget", over

    invalid = send_text(egress, "34612000444x", "Your order shipped.")
    assert invalid.status == 403, invalid
    assert invalid.header("x-wa-guard-rule") == "conversation_state"
    assert invalid.json()["error"]["error_subcode"] == 4390017
    egress.settle()
    assert egress.received(invalid) == []
    state = series(egress, "wa_guard_conversation_state_total")
    assert state.get("invalid_recipient", 0) >= 1, state
