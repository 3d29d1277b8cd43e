"""WhatsApp sends through Business Solution Providers (issue 12), end to end through Envoy.

Vonage Messages: `channel: whatsapp` JSON, refused in Vonage's problem-details shape; an SMS is
not touched. Infobip: its WhatsApp API by path, its Messages API by `channel: WHATSAPP`, refused in
Infobip's `requestError` shape.

Twilio Conversations: a message on a service the policy names (conversation_services) is a
WhatsApp send, refused in Twilio's REST error shape; a message on another service is not touched.

Bird (Channels API on the WhatsApp channel the policy names), Gupshup (form with the message as
a JSON string), Sinch (channel identity WHATSAPP) and AWS End User Messaging Social (Meta's object
as base64): allowed byte for byte, refused in each provider's own error shape, other channels not
touched.

Twilio Programmable Messaging: a form post whose `To` is `whatsapp:+...` is a WhatsApp send,
judged by the same rules as a Cloud API send and refused in Twilio's REST error shape (the one
twilio-python turns into `TwilioRestException`: `code`, `message`, `more_info`, `status`); an SMS
on the same endpoint is not touched. 360dialog: Meta's Cloud API format on 360dialog's host,
refused in Graph's error shape. The stand-in plays both providers (envoy/stand_in.py).

The bootstraps buffer 360dialog's hosts and Twilio's Messages creates behind the guard, as they do
the Cloud API: the provider receives nothing of a blocked send, not even its headers.
"""

from __future__ import annotations

import base64
import json
import urllib.parse

import pytest

from e2e_data import ASSISTANT_ANSWER, ASSISTANT_IDENTITY, SUPPORT_IDENTITY, SUPPORT_TEXT, e2e_policy
from e2e_support import IDENTITY_HEADER, gzip_bytes

TWILIO = "api.twilio.com"
TWILIO_PATH = "/2010-04-01/Accounts/AC5e2ef1d3c4b5a6978877665544332211/Messages.json"
DIALOG = "waba-v2.360dialog.io"
VONAGE = "api.nexmo.com"
INFOBIP = "xk9f2.api.infobip.com"
FORM = {"content-type": "application/x-www-form-urlencoded", "authorization": "Basic QUM1ZTI6c2VjcmV0"}
TO_WHATSAPP = "whatsapp:+4915112345678"
FROM_WHATSAPP = "whatsapp:+14155550100"
BIRD_WHATSAPP_CHANNEL = "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d"
BIRD_SMS_CHANNEL = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"
CONVERSATIONS = "conversations.twilio.com"
WA_SERVICE = "IS3c4d5e6f708192a3b4c5d6e7f8091a2b"
SMS_SERVICE = "IS9a8b7c6d5e4f30211203f4e5d6c7b8a9"


@pytest.fixture(scope="module")
def guard(start_guard):
    policy = e2e_policy()
    policy["whatsapp"]["providers"] = ["cloud_api", "360dialog", {"name": "twilio", "conversation_services": [WA_SERVICE],
                                                    "content_templates": True},
                                       "vonage", "infobip", {"name": "bird", "channels": [BIRD_WHATSAPP_CHANNEL]},
                                       "gupshup", "sinch", "aws_social_messaging"]
    return start_guard(policy, name="providers")


def form(**fields: str) -> str:
    return urllib.parse.urlencode(fields)


def twilio(guard, body: str | bytes, *, identity: str | None = None, headers: dict[str, str] | None = None):
    all_headers = dict(FORM)
    if identity:
        all_headers[IDENTITY_HEADER] = identity
    all_headers.update(headers or {})
    return guard.request("POST", TWILIO, TWILIO_PATH, body, all_headers)


def dialog(guard, message: dict, *, identity: str | None = None):
    headers = {"D360-API-KEY": "e2e-key"}
    if identity:
        headers[IDENTITY_HEADER] = identity
    return guard.request("POST", DIALOG, "/messages", message, headers)


def forwarded_body(guard, reply) -> bytes:
    guard.settle()
    records = [r for r in guard.received(reply) if r["complete"]]
    assert len(records) == 1, records
    return base64.b64decode(records[0]["body_b64"])


def assert_nothing_reached_the_provider(guard, reply) -> None:
    guard.settle()
    assert guard.received(reply) == [], "the provider saw (part of) a blocked send"


def assert_twilio_403(reply, rule: str) -> dict:
    assert reply.status == 403, reply
    assert reply.header("content-type") == "application/json"
    assert (reply.header("x-wa-guard-decision"), reply.header("x-wa-guard-rule")) == ("block", rule)
    error = reply.json()
    # What twilio-python's TwilioRestException reads from an error response.
    assert error["status"] == 403 and error["code"] == 20403
    assert error["more_info"] == "https://www.twilio.com/docs/errors/20403"
    assert rule in error["message"]
    assert error["details"]["wa_guard_rule"] == rule
    return error


def test_twilio_service_message_is_forwarded_byte_for_byte(guard):
    body = form(To=TO_WHATSAPP, From=FROM_WHATSAPP, Body=SUPPORT_TEXT)
    reply = twilio(guard, body, identity=SUPPORT_IDENTITY)
    assert reply.status == 201, reply
    assert reply.json()["to"] == TO_WHATSAPP
    assert (reply.header("x-wa-guard-decision"), reply.header("x-wa-guard-rule")) == ("allow", "support-bots")
    assert forwarded_body(guard, reply) == body.encode()


def test_twilio_assistant_answer_is_blocked_in_twilio_shape(guard):
    reply = twilio(guard, form(To=TO_WHATSAPP, From=FROM_WHATSAPP, Body=ASSISTANT_ANSWER))
    error = assert_twilio_403(reply, "content_classifier")
    assert error["details"]["wa_guard_reason"] == "general_assistant_content"
    assert_nothing_reached_the_provider(guard, reply)
    request_id = error["details"]["request_id"]
    entry = guard.wait_for_decision_log(lambda e: e.get("request_id") == request_id)
    assert (entry["provider"], entry["decision"], entry["endpoint"]) == ("twilio", "block", "messages")
    # The sender is a phone number (`From`): it is never logged (the phone-number rules still match it).
    assert entry["phone_number_id"] is None
    assert "4155550100" not in json.dumps(entry)
    assert ASSISTANT_ANSWER[:20] not in json.dumps(entry)


def test_twilio_content_template_variables_are_scored(guard):
    variables = json.dumps({"1": "Dana", "2": ASSISTANT_ANSWER})
    reply = twilio(guard, form(To=TO_WHATSAPP, From=FROM_WHATSAPP, ContentSid="HX0123456789abcdef", ContentVariables=variables))
    assert_twilio_403(reply, "content_classifier")
    assert_nothing_reached_the_provider(guard, reply)


def test_twilio_compressed_assistant_answer_is_blocked(guard):
    body = gzip_bytes(form(To=TO_WHATSAPP, Body=ASSISTANT_ANSWER).encode())
    reply = twilio(guard, body, headers={"content-encoding": "gzip"})
    assert_twilio_403(reply, "content_classifier")


def test_twilio_sms_is_not_touched(guard):
    # The same answer as an SMS, from a general-assistant origin: not a WhatsApp send.
    body = form(To="+4915112345678", From="+14155550100", Body=ASSISTANT_ANSWER)
    reply = twilio(guard, body, identity=ASSISTANT_IDENTITY)
    assert reply.status == 201, reply
    assert reply.header("x-wa-guard-decision") is None
    assert forwarded_body(guard, reply) == body.encode()


def test_twilio_general_assistant_origin_is_blocked_on_whatsapp(guard):
    reply = twilio(guard, form(To=TO_WHATSAPP, From=FROM_WHATSAPP, Body="Hello!"), identity=ASSISTANT_IDENTITY)
    assert_twilio_403(reply, "assistant-lab")
    assert_nothing_reached_the_provider(guard, reply)


def test_360dialog_service_message_is_forwarded_byte_for_byte(guard):
    message = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": "4915112345678",
               "type": "text", "text": {"body": SUPPORT_TEXT}}
    reply = dialog(guard, message, identity=SUPPORT_IDENTITY)
    assert reply.status == 200, reply
    assert reply.json()["messages"][0]["id"].startswith("wamid.")
    assert reply.header("x-wa-guard-decision") == "allow"
    assert forwarded_body(guard, reply) == json.dumps(message).encode()


def test_360dialog_assistant_answer_is_blocked_in_graph_shape(guard):
    message = {"messaging_product": "whatsapp", "to": "4915112345678", "type": "text", "text": {"body": ASSISTANT_ANSWER}}
    reply = dialog(guard, message)
    assert reply.status == 403, reply
    error = reply.json()["error"]
    assert (error["code"], error["type"]) == (10, "OAuthException")
    assert "content_classifier" in error["message"]
    assert_nothing_reached_the_provider(guard, reply)
    entry = guard.wait_for_decision_log(lambda e: e.get("request_id") == error["fbtrace_id"])
    assert (entry["provider"], entry["decision"], entry["reason"]) == ("360dialog", "block", "general_assistant_content")


def test_istio_render_knows_every_built_in_provider_host():
    """envoy/istio/render.py routes the built-in providers' hosts through the guard: its table must
    list exactly the hosts `Provider::default_hosts` holds."""
    import re
    import sys

    from e2e_support import ENVOY_DIR

    sys.path.insert(0, str(ENVOY_DIR / "istio"))
    import render  # noqa: E402  (envoy/istio/render.py)

    source = (ENVOY_DIR.parent / "filter/src/whatsapp/providers.rs").read_text(encoding="utf-8")
    body = source.split("pub fn default_hosts", 1)[1].split("\n    }\n", 1)[0]
    rust = {
        name: re.findall(r'"([^"]+)"', arm)
        for name, arm in zip(["cloud_api", "360dialog", "twilio", "vonage", "infobip", "bird", "gupshup", "sinch",
                             "aws_social_messaging"], re.split(r"Self::\w+ =>", body)[1:])
    }
    assert rust == render.PROVIDER_HOSTS


def vonage(guard, message: dict, *, identity: str | None = None):
    headers = {"authorization": "Bearer e2e.jwt.token"}
    if identity:
        headers[IDENTITY_HEADER] = identity
    return guard.request("POST", VONAGE, "/v1/messages", message, headers)


def vonage_text(text: str, channel: str = "whatsapp") -> dict:
    return {"channel": channel, "message_type": "text", "to": "4915112345678", "from": "14155550100", "text": text}


def test_vonage_service_message_is_forwarded_byte_for_byte(guard):
    message = vonage_text(SUPPORT_TEXT)
    reply = vonage(guard, message, identity=SUPPORT_IDENTITY)
    assert reply.status == 202, reply
    assert reply.json()["message_uuid"]
    assert (reply.header("x-wa-guard-decision"), reply.header("x-wa-guard-rule")) == ("allow", "support-bots")
    assert forwarded_body(guard, reply) == json.dumps(message).encode()


def test_vonage_assistant_answer_is_blocked_in_vonage_shape(guard):
    reply = vonage(guard, vonage_text(ASSISTANT_ANSWER))
    assert reply.status == 403, reply
    assert (reply.header("x-wa-guard-decision"), reply.header("x-wa-guard-rule")) == ("block", "content_classifier")
    problem = reply.json()
    assert (problem["title"], problem["type"]) == ("Forbidden", "https://developer.vonage.com/api-errors#forbidden")
    assert "content_classifier" in problem["detail"]
    assert_nothing_reached_the_provider(guard, reply)
    entry = guard.wait_for_decision_log(lambda e: e.get("request_id") == problem["instance"])
    assert (entry["provider"], entry["decision"]) == ("vonage", "block")


def test_vonage_sms_is_not_touched(guard):
    message = vonage_text(ASSISTANT_ANSWER, channel="sms")
    reply = vonage(guard, message, identity=ASSISTANT_IDENTITY)
    assert reply.status == 202, reply
    assert reply.header("x-wa-guard-decision") is None
    assert forwarded_body(guard, reply) == json.dumps(message).encode()


def infobip(guard, path: str, message: dict, *, identity: str | None = None):
    headers = {"authorization": "App e2e-key"}
    if identity:
        headers[IDENTITY_HEADER] = identity
    return guard.request("POST", INFOBIP, path, message, headers)


def test_infobip_service_buttons_are_forwarded_byte_for_byte(guard):
    message = {"from": "14155550100", "to": "4915112345678", "content": {
        "body": {"text": "Confirm your appointment on Tuesday at 10:00?"},
        "action": {"buttons": [{"type": "REPLY", "id": "y", "title": "Confirm"}]}}}
    reply = infobip(guard, "/whatsapp/1/message/interactive/buttons", message, identity=SUPPORT_IDENTITY)
    assert reply.status == 200, reply
    assert reply.header("x-wa-guard-decision") == "allow"
    assert forwarded_body(guard, reply) == json.dumps(message).encode()


def test_infobip_assistant_answer_is_blocked_in_infobip_shape(guard):
    message = {"from": "14155550100", "to": "4915112345678", "content": {"text": ASSISTANT_ANSWER}}
    reply = infobip(guard, "/whatsapp/1/message/text", message)
    assert reply.status == 403, reply
    error = reply.json()["requestError"]["serviceException"]
    assert error["messageId"] == "FORBIDDEN" and "content_classifier" in error["text"]
    assert_nothing_reached_the_provider(guard, reply)
    entry = guard.wait_for_decision_log(lambda e: e.get("request_id") == error["request_id"])
    assert (entry["provider"], entry["decision"]) == ("infobip", "block")


def test_infobip_sms_is_not_touched(guard):
    message = {"messages": [{"channel": "SMS", "sender": "Acme", "destinations": [{"to": "4915112345678"}],
                             "content": {"body": {"type": "TEXT", "text": ASSISTANT_ANSWER}}}]}
    reply = infobip(guard, "/messages-api/1/messages", message, identity=ASSISTANT_IDENTITY)
    assert reply.status == 200, reply
    assert reply.header("x-wa-guard-decision") is None
    assert forwarded_body(guard, reply) == json.dumps(message).encode()


def test_decisions_are_counted_with_their_provider(guard):
    twilio(guard, form(To=TO_WHATSAPP, From=FROM_WHATSAPP, Body=ASSISTANT_ANSWER))
    dialog(guard, {"messaging_product": "whatsapp", "to": "4915112345678", "type": "text", "text": {"body": SUPPORT_TEXT}})
    text = guard.prometheus()
    series = [line for line in text.splitlines() if line.startswith("wa_guard_decisions_total{")]
    assert any('decision="block"' in s and 'provider="twilio"' in s for s in series), series
    assert any('provider="360dialog"' in s for s in series), series
    # Every label is extracted: no flattened name is left.
    assert not [line for line in text.splitlines() if line.startswith("wa_guard_decisions_total_")]


def conversation(guard, service: str, body: str, *, identity: str | None = None):
    all_headers = dict(FORM)
    if identity:
        all_headers[IDENTITY_HEADER] = identity
    path = f"/v1/Services/{service}/Conversations/CH0e1d2c3b4a5968778695a4b3c2d1e0f9/Messages"
    return guard.request("POST", CONVERSATIONS, path, body, all_headers)


def test_twilio_conversations_service_message_is_forwarded_byte_for_byte(guard):
    body = form(Author="support", Body=SUPPORT_TEXT)
    reply = conversation(guard, WA_SERVICE, body, identity=SUPPORT_IDENTITY)
    assert reply.status == 201, reply
    assert reply.json()["sid"].startswith("IM")
    assert (reply.header("x-wa-guard-decision"), reply.header("x-wa-guard-rule")) == ("allow", "support-bots")
    assert forwarded_body(guard, reply) == body.encode()


def test_twilio_conversations_assistant_answer_is_blocked_in_twilio_shape(guard):
    reply = conversation(guard, WA_SERVICE, form(Author="system", Body=ASSISTANT_ANSWER))
    error = assert_twilio_403(reply, "content_classifier")
    assert_nothing_reached_the_provider(guard, reply)
    entry = guard.wait_for_decision_log(lambda e: e.get("request_id") == error["details"]["request_id"])
    assert (entry["provider"], entry["decision"], entry["endpoint"]) == ("twilio", "block", "messages")
    # The request names no number: the Conversations service stands for it.
    assert entry["phone_number_id"] == WA_SERVICE.lower()


def test_twilio_conversations_on_another_service_are_not_touched(guard):
    body = form(Author="system", Body=ASSISTANT_ANSWER)
    reply = conversation(guard, SMS_SERVICE, body, identity=ASSISTANT_IDENTITY)
    assert reply.status == 201, reply
    assert reply.header("x-wa-guard-decision") is None
    assert forwarded_body(guard, reply) == body.encode()


def test_twilio_regional_edge_is_buffered_and_read(guard):
    # api.{edge}.{region}.twilio.com is under the bootstraps' *.twilio.com: buffered, read, refused
    # before the provider sees anything.
    reply = guard.request("POST", "api.dublin.ie1.twilio.com", TWILIO_PATH,
                          form(To=TO_WHATSAPP, From=FROM_WHATSAPP, Body=ASSISTANT_ANSWER), dict(FORM))
    assert_twilio_403(reply, "content_classifier")
    assert_nothing_reached_the_provider(guard, reply)


def content_template(body_text: str) -> dict:
    return {"friendly_name": "repair_update", "language": "en", "variables": {"1": "Dana"},
            "types": {"twilio/text": {"body": body_text}}}


def test_twilio_content_template_is_read_as_a_definition(guard):
    template = content_template("Hi {{1}}, your parcel left our depot and should reach you on Friday.")
    reply = guard.request("POST", "content.twilio.com", "/v1/Content", template, dict(FORM, **{"content-type": "application/json"}))
    assert reply.status == 201, reply
    assert reply.header("x-wa-guard-decision") == "allow"
    assert forwarded_body(guard, reply) == json.dumps(template).encode()
    reply = guard.request("POST", "content.twilio.com", "/v1/Content", content_template(ASSISTANT_ANSWER),
                          dict(FORM, **{"content-type": "application/json"}))
    error = assert_twilio_403(reply, "content_classifier")
    assert_nothing_reached_the_provider(guard, reply)
    entry = guard.wait_for_decision_log(lambda e: e.get("request_id") == error["details"]["request_id"])
    assert (entry["provider"], entry["endpoint"]) == ("twilio", "message_templates")


def post_json(guard, host: str, path: str, body: dict, headers: dict[str, str], identity: str | None = None):
    all_headers = dict(headers)
    if identity:
        all_headers[IDENTITY_HEADER] = identity
    return guard.request("POST", host, path, body, all_headers)


def assert_blocked(guard, reply, provider: str, request_id_of) -> dict:
    assert reply.status == 403, reply
    assert (reply.header("x-wa-guard-decision"), reply.header("x-wa-guard-rule")) == ("block", "content_classifier")
    assert reply.header("content-type") == "application/json"
    error = reply.json()
    assert_nothing_reached_the_provider(guard, reply)
    entry = guard.wait_for_decision_log(lambda e: e.get("request_id") == request_id_of(error))
    assert (entry["provider"], entry["decision"], entry["reason"]) == (provider, "block", "general_assistant_content")
    assert ASSISTANT_ANSWER[:20] not in json.dumps(entry)
    return error


def bird(guard, channel: str, text: str, identity: str | None = None):
    body = {"receiver": {"contacts": [{"identifierValue": "+4915112345678"}]}, "body": {"type": "text", "text": {"text": text}}}
    path = f"/workspaces/2b7c91d0-5e4f-4a3b-9c8d-7e6f5a4b3c2d/channels/{channel}/messages"
    return body, post_json(guard, "api.bird.com", path, body, {"authorization": "AccessKey e2e-key"}, identity)


def test_bird_service_message_is_forwarded_byte_for_byte(guard):
    body, reply = bird(guard, BIRD_WHATSAPP_CHANNEL, SUPPORT_TEXT, SUPPORT_IDENTITY)
    assert reply.status == 202, reply
    assert (reply.header("x-wa-guard-decision"), reply.header("x-wa-guard-rule")) == ("allow", "support-bots")
    assert forwarded_body(guard, reply) == json.dumps(body).encode()


def test_bird_assistant_answer_is_blocked_in_bird_shape(guard):
    _, reply = bird(guard, BIRD_WHATSAPP_CHANNEL, ASSISTANT_ANSWER)
    error = assert_blocked(guard, reply, "bird", lambda e: e["details"]["request_id"])
    assert error["code"] == "Forbidden" and "content_classifier" in error["message"]
    assert "content_classifier" in error["errors"][0]["description"]


def test_bird_sms_channel_is_not_touched(guard):
    body, reply = bird(guard, BIRD_SMS_CHANNEL, ASSISTANT_ANSWER, ASSISTANT_IDENTITY)
    assert reply.status == 202, reply
    assert reply.header("x-wa-guard-decision") is None
    assert forwarded_body(guard, reply) == json.dumps(body).encode()


def gupshup(guard, text: str, *, channel: str = "whatsapp", path: str = "/wa/api/v1/msg", identity: str | None = None):
    body = form(channel=channel, source="917834811114", destination="4915112345678", **{"src.name": "AcmeRepairs"},
                message=json.dumps({"type": "text", "text": text}))
    headers = {"content-type": "application/x-www-form-urlencoded", "apikey": "e2e-key"}
    if identity:
        headers[IDENTITY_HEADER] = identity
    return body, guard.request("POST", "api.gupshup.io", path, body, headers)


def test_gupshup_service_message_is_forwarded_byte_for_byte(guard):
    body, reply = gupshup(guard, SUPPORT_TEXT, identity=SUPPORT_IDENTITY)
    assert reply.status == 202, reply
    assert reply.json()["status"] == "submitted"
    assert reply.header("x-wa-guard-decision") == "allow"
    assert forwarded_body(guard, reply) == body.encode()


def test_gupshup_assistant_answer_is_blocked_in_gupshup_shape(guard):
    _, reply = gupshup(guard, ASSISTANT_ANSWER)
    error = assert_blocked(guard, reply, "gupshup", lambda e: e["details"]["request_id"])
    assert error["status"] == "error" and "content_classifier" in error["message"]


def test_gupshup_sms_is_not_touched(guard):
    body, reply = gupshup(guard, ASSISTANT_ANSWER, channel="sms", path="/sm/api/v1/msg", identity=ASSISTANT_IDENTITY)
    assert reply.status == 202, reply
    assert reply.header("x-wa-guard-decision") is None
    assert forwarded_body(guard, reply) == body.encode()


SINCH_PATH = "/v1/projects/7d1c9e2a-4b3f-4a5e-8c6d-9f0e1a2b3c4d/messages:send"


def sinch_text(text: str, channel: str = "WHATSAPP") -> dict:
    return {"app_id": "01HT4K9Q2W7E5R3T8Y6U1I0O9P",
            "recipient": {"identified_by": {"channel_identities": [{"channel": channel, "identity": "4915112345678"}]}},
            "message": {"text_message": {"text": text}}}


def test_sinch_service_message_is_forwarded_byte_for_byte(guard):
    body = sinch_text(SUPPORT_TEXT)
    reply = post_json(guard, "eu.conversation.api.sinch.com", SINCH_PATH, body, {"authorization": "Bearer e2e"}, SUPPORT_IDENTITY)
    assert reply.status == 200, reply
    assert reply.json()["message_id"]
    assert reply.header("x-wa-guard-decision") == "allow"
    assert forwarded_body(guard, reply) == json.dumps(body).encode()


def test_sinch_assistant_answer_is_blocked_in_sinch_shape(guard):
    reply = post_json(guard, "eu.conversation.api.sinch.com", SINCH_PATH, sinch_text(ASSISTANT_ANSWER), {"authorization": "Bearer e2e"})
    error = assert_blocked(guard, reply, "sinch", lambda e: e["error"]["details"][0]["request_id"])
    assert (error["error"]["code"], error["error"]["status"]) == (403, "PERMISSION_DENIED")
    assert "content_classifier" in error["error"]["message"]


def test_sinch_sms_is_not_touched(guard):
    body = sinch_text(ASSISTANT_ANSWER, channel="SMS")
    reply = post_json(guard, "eu.conversation.api.sinch.com", SINCH_PATH, body, {"authorization": "Bearer e2e"}, ASSISTANT_IDENTITY)
    assert reply.status == 200, reply
    assert reply.header("x-wa-guard-decision") is None
    assert forwarded_body(guard, reply) == json.dumps(body).encode()


def aws_send(text: str) -> dict:
    meta = {"messaging_product": "whatsapp", "to": "+4915112345678", "type": "text", "text": {"body": text}}
    return {"originationPhoneNumberId": "phone-number-id-8f2b1c9d0e7a4b3c5d6e7f8091a2b3c4", "metaApiVersion": "v20.0",
            "message": base64.b64encode(json.dumps(meta).encode()).decode()}


@pytest.mark.parametrize("host", ["social-messaging.eu-west-1.amazonaws.com", "social-messaging.eu-west-1.api.aws"])
def test_aws_social_messaging_service_message_is_forwarded_byte_for_byte(guard, host):
    body = aws_send(SUPPORT_TEXT)
    reply = post_json(guard, host, "/v1/whatsapp/send", body, {"authorization": "AWS4-HMAC-SHA256 Credential=e2e"}, SUPPORT_IDENTITY)
    assert reply.status == 200, reply
    assert reply.json()["messageId"]
    assert reply.header("x-wa-guard-decision") == "allow"
    assert forwarded_body(guard, reply) == json.dumps(body).encode()


@pytest.mark.parametrize("host", ["social-messaging.eu-west-1.amazonaws.com", "social-messaging.eu-west-1.api.aws"])
def test_aws_social_messaging_assistant_answer_is_blocked_in_aws_shape(guard, host):
    reply = post_json(guard, host, "/v1/whatsapp/send", aws_send(ASSISTANT_ANSWER), {"authorization": "AWS4-HMAC-SHA256 Credential=e2e"})
    error = assert_blocked(guard, reply, "aws_social_messaging", lambda e: e["details"]["request_id"])
    assert error["__type"] == "AccessDeniedException" and "content_classifier" in error["message"]
