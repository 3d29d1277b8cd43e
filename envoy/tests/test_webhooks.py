"""The webhook ingress route through real Envoy (envoy/webhook.yaml): a forged or unsigned
delivery is refused with a 401 and counted, a correctly signed one reaches the business's
endpoint byte for byte, and the verification handshake passes."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any, Iterator

import pytest

import e2e_support as es
from e2e_support import launch, stand_in

HOST = "hooks.kettle-shop.example"
PATH = "/whatsapp/webhook"
# The app secret reaches the VM through vm_config.environment_variables; the policy keeps a
# second, older secret inline, as during a rotation.
ENV_SECRET = "e2e-kettle-shop-app-secret"
INLINE_SECRET = "e2e-previous-app-secret"

# A delivery shaped like Meta's (our own text). Its exact bytes are signed: Meta signs the raw
# body, and a re-serialised JSON would not verify.
DELIVERY = (
    b'{"object":"whatsapp_business_account","entry":[{"id":"880011223344","changes":[{"field":"messages",'
    b'"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550001111",'
    b'"phone_number_id":"990011223344"},"contacts":[{"profile":{"name":"Ada K."},"wa_id":"447700900123"}],'
    b'"messages":[{"from":"447700900123","id":"wamid.E2ETESTONLY","timestamp":"1765100000","type":"text",'
    b'"text":{"body":"Is the blue kettle back in stock?  \\u00bfY en verde?"}}]}}]}]}'
)


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_policy(mode: str = "enforce") -> dict[str, Any]:
    policy = json.loads((es.ENVOY_DIR.parent / "policies" / "default.json").read_text(encoding="utf-8"))
    policy["webhook"] = {
        "hosts": [HOST],
        "path_prefixes": [PATH],
        "app_secrets": [INLINE_SECRET],
        "app_secret_env": ["WA_GUARD_APP_SECRET"],
        "mode": mode,
    }
    return policy


@pytest.fixture(scope="module")
def ingress(envoy_binary: str, upstream: stand_in.StandIn, render: Any) -> Iterator[es.GuardedEnvoy]:
    config = render(webhook_policy(), template="webhook.yaml", extra={"WEBHOOK_APP_SECRET": ENV_SECRET},
                    name="webhook")
    process = launch.EnvoyProcess(config, config.parent, binary=envoy_binary, name="webhook")
    process.start()
    try:
        yield es.GuardedEnvoy(process, process.listener_port("webhook_ingress"), upstream,
                              barrier=(HOST, f"{PATH}?hub.mode=subscribe&hub.challenge=1&hub.verify_token=barrier"))
    finally:
        process.stop()


def webhook_counts(guard: es.GuardedEnvoy) -> dict[str, int]:
    return {labels.get("result", ""): value
            for _, labels, value in es.prometheus_series(guard.prometheus(), "wa_guard_webhooks_total")}


def deliver(guard: es.GuardedEnvoy, body: bytes, signature: str | None, **kwargs: Any) -> es.Reply:
    headers = {"content-type": "application/json"}
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    return guard.request("POST", HOST, PATH, body, headers, **kwargs)


def test_forged_and_unsigned_deliveries_are_refused_and_signed_ones_arrive_byte_for_byte(ingress):
    before = webhook_counts(ingress)

    forged = DELIVERY.replace(b"blue kettle", b"gold kettle")
    reply = deliver(ingress, forged, sign(DELIVERY, ENV_SECRET))
    assert reply.status == 401, reply
    assert reply.json()["error"]["code"] == "webhook_signature_invalid"
    assert reply.header("x-wa-guard-rule") == "webhook_signature"
    signed_elsewhere = deliver(ingress, DELIVERY, sign(DELIVERY, "an attacker's guess"))
    assert signed_elsewhere.status == 401
    unsigned = deliver(ingress, DELIVERY, None)
    assert unsigned.status == 401
    assert unsigned.json()["error"]["code"] == "webhook_signature_missing"

    signed = deliver(ingress, DELIVERY, sign(DELIVERY, ENV_SECRET))
    assert signed.status == 200, signed
    rotated = deliver(ingress, DELIVERY, sign(DELIVERY, INLINE_SECRET).upper().replace("SHA256=", "sha256="),
                      chunked=True)
    assert rotated.status == 200, rotated

    ingress.settle()
    for refused in (reply, signed_elsewhere, unsigned):
        assert ingress.received(refused) == [], "a refused delivery reached the endpoint"
    for accepted in (signed, rotated):
        [record] = ingress.received(accepted)
        assert record["complete"]
        assert stand_in.record_body(record) == DELIVERY
        assert stand_in.record_header(record, "x-hub-signature-256") is not None

    after = webhook_counts(ingress)
    grew = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    assert grew == {"invalid": 2, "missing": 1, "valid": 2}, after
    assert "wasmcustom" not in ingress.prometheus()

    lines = [json.loads(line.partition("wa-egress-guard webhook ")[2])
             for line in ingress.log_text().splitlines() if "wa-egress-guard webhook " in line]
    assert {line["result"] for line in lines} >= {"valid", "invalid", "missing"}
    assert "kettle" not in "".join(json.dumps(line) for line in lines)


def test_the_verification_handshake_passes_untouched(ingress):
    reply = ingress.request("GET", HOST, f"{PATH}?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=vt")
    assert reply.status == 200, reply
    ingress.settle()
    [record] = ingress.received(reply)
    assert record["path"] == f"{PATH}?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=vt"



@pytest.mark.parametrize("host,path", [
    ("hooks.other-shop.example", PATH),  # a host the guard does not govern
    (HOST, "/whatsapp/webhooks"),  # a path beside the prefix, not under it
    (HOST, "/admin"),
])
def test_a_route_the_guard_does_not_check_never_reaches_the_endpoint(ingress, host, path):
    # A forged delivery under a name the policy's webhook section does not cover would pass
    # the guard unchecked; Envoy's route answers 404 before the endpoint sees it.
    forged = DELIVERY.replace(b"blue kettle", b"gold kettle")
    reply = ingress.request("POST", host, path, forged,
                            {"content-type": "application/json",
                             "X-Hub-Signature-256": sign(DELIVERY, ENV_SECRET)})
    assert reply.status == 404, reply
    assert ingress.received(reply) == []


def test_the_governed_host_reaches_the_endpoint_on_any_port_and_below_the_prefix(ingress):
    for host, path in ((HOST + ":8443", PATH), (HOST, PATH + "/v2"), (HOST, PATH + "?x=1")):
        reply = ingress.request("POST", host, path, DELIVERY,
                                {"content-type": "application/json",
                                 "X-Hub-Signature-256": sign(DELIVERY, ENV_SECRET)})
        assert reply.status == 200, (host, path, reply)
        assert len(ingress.received(reply)) == 1, (host, path)
