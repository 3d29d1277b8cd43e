#!/usr/bin/env python3
"""The client half of the demo (envoy/scripts/demo.sh starts the processes).

Waits (bounded) for Envoy's admin /ready, sends about twenty real requests through the
egress listener, prints what happened to each one, the guard's decision log lines
and its Prometheus counters. Exits 1 if any decision differs from the expected one.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import http.client
import json
import sys
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ENVOY_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ENVOY_DIR))

import launch  # noqa: E402

TIMEOUT_S = 10.0
DEMO_ID_HEADER = "x-demo-id"
IDENTITY_HEADER = "x-wa-guard-identity"

SUPPORT = "spiffe://cluster.local/ns/support/sa/helpdesk"
ASSISTANT = "spiffe://cluster.local/ns/ai-lab/sa/chatbot"
PILOT = "spiffe://cluster.local/ns/pilot/sa/bot"
CONCIERGE = "spiffe://cluster.local/ns/concierge/sa/chatbot"
SUPPORT_LINE = "/v21.0/106540352242922/messages"
OTHER_LINE = "/v21.0/109876543210987/messages"
WABA_TEMPLATES = "/v21.0/102290129340398/message_templates"
TO = "+16505550147"
TO_SPAIN = "+34612345678"

LONG_ANSWER = (
    "Absolutely! As an AI language model, I'd be happy to explain how compound interest works.\n\n"
    "**The core idea**\n"
    "Interest is paid not only on the money you put in but also on the interest already earned, "
    "so growth speeds up over time.\n\n"
    "**The formula**\n"
    "1. A = P(1 + r/n)^(nt)\n"
    "2. P is the principal, r the yearly rate, n the number of compounding periods, t the years.\n\n"
    "**An example**\n"
    "- 1,000 at 5% compounded monthly for 10 years grows to about 1,647.\n"
    "- The same money at simple interest would reach only 1,500.\n\n"
    "In summary, starting early matters more than the rate. I hope this helps! Let me know if "
    "you'd like me to build a savings plan, compare loans, or explain anything else."
)


def wa_text(body: str, to: str = TO) -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, "type": "text",
            "text": {"preview_url": False, "body": body}}


def wa_template() -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "to": TO, "type": "template",
            "template": {"name": "appointment_reminder", "language": {"code": "en_US"},
                         "components": [{"type": "body", "parameters": [{"type": "text", "text": "Tue 10:30"}]}]}}


def wa_interactive() -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "to": TO, "type": "interactive",
            "interactive": {"type": "button", "body": {"text": "Was your issue with order 5521 resolved?"},
                            "action": {"buttons": [{"type": "reply", "reply": {"id": "y", "title": "Yes"}},
                                                   {"type": "reply", "reply": {"id": "n", "title": "Not yet"}}]}}}


def wa_video() -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "to": TO, "type": "video",
            "video": {"link": "https://cdn.example.com/unboxing.mp4", "caption": "How to unbox"}}


def template_creation() -> dict[str, Any]:
    return {"name": "daily_answer", "category": "MARKETING", "language": "en_US", "parameter_format": "positional",
            "components": [{"type": "BODY", "text": "Here is your daily AI answer: {{1}}"}]}


@dataclass
class Case:
    caller: str
    summary: str
    host: str
    path: str
    body: bytes
    identity: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    method: str = "POST"
    expect_decision: str = "-"  # "-" = not a WhatsApp call: no decision
    expect_rule: str = "-"
    ok_status: int = 200  # the upstream's answer when the request goes through (Twilio: 201 Created)


def js(obj: Any) -> bytes:
    return json.dumps(obj).encode("utf-8")


TWILIO_MESSAGES = "/2010-04-01/Accounts/ACd3m0d3m0d3m0d3m0d3m0d3m0d3m0d3m0/Messages.json"
TWILIO_HEADERS = {"content-type": "application/x-www-form-urlencoded", "authorization": "Basic QUNkZW1vOmRlbW8="}


def twilio_form(**fields: str) -> bytes:
    return urllib.parse.urlencode(fields).encode("utf-8")


def demo_cases(policy: dict[str, Any]) -> list[Case]:
    return [
        Case("support/helpdesk", 'text "Your order 5521 ships today"', "graph.facebook.com", SUPPORT_LINE,
             js(wa_text("Hi Sam, your order 5521 ships today. Reply HELP for options.")), SUPPORT,
             expect_decision="allow", expect_rule="support-bots"),
        Case("support/helpdesk", "template appointment_reminder", "graph.facebook.com", SUPPORT_LINE,
             js(wa_template()), SUPPORT, expect_decision="allow", expect_rule="support-bots"),
        Case("support/helpdesk", "interactive buttons (resolved?)", "graph.facebook.com", SUPPORT_LINE,
             js(wa_interactive()), SUPPORT, expect_decision="allow", expect_rule="support-bots"),
        Case("support/helpdesk", "video (type not allowed)", "graph.facebook.com", SUPPORT_LINE,
             js(wa_video()), SUPPORT, expect_decision="block", expect_rule="support-bots"),
        Case("ai-lab/chatbot", 'text "Sure! Here is a poem..."', "graph.facebook.com", OTHER_LINE,
             js(wa_text("Sure! Here is a short poem about the sea, as you asked.")), ASSISTANT,
             expect_decision="block", expect_rule="assistant-lab"),
        Case("ai-lab/chatbot", "create template on the WABA", "graph.facebook.com", WABA_TEMPLATES,
             js(template_creation()), ASSISTANT, expect_decision="block", expect_rule="assistant-lab"),
        Case("unknown 127.0.0.1", f"ChatGPT-like answer ({len(LONG_ANSWER)} chars)", "graph.facebook.com",
             OTHER_LINE, js(wa_text(LONG_ANSWER)), expect_decision="block", expect_rule="content_classifier"),
        Case("unknown 127.0.0.1", "same answer, gzip-compressed", "graph.facebook.com", OTHER_LINE,
             gzip.compress(js(wa_text(LONG_ANSWER)), mtime=0), headers={"content-encoding": "gzip"},
             expect_decision="block", expect_rule="content_classifier"),
        Case("unknown 127.0.0.1", 'text "Your table for 2 is confirmed"', "graph.facebook.com", OTHER_LINE,
             js(wa_text("Your table for 2 at 19:30 is confirmed. See you tonight!")),
             expect_decision="allow", expect_rule="no_rule"),
        Case("unknown 127.0.0.1", "text via the support line", "graph.facebook.com", SUPPORT_LINE,
             js(wa_text("Hello from an unregistered service.")), expect_decision="block", expect_rule="support-line"),
        # An origin in audit mode exempts its caller from nothing enforced: a short greeting is an
        # audit (would block), while a ChatGPT-like answer would still be blocked by the content rule.
        Case("pilot/bot", 'text "Hi! Ask me anything." (audit origin)', "graph.facebook.com:443", OTHER_LINE,
             js(wa_text("Hi! Ask me anything.")), PILOT, expect_decision="audit", expect_rule="pilot"),
        # A general-assistant origin whose action is `handoff`: its answer to a Spanish number is
        # replaced by the policy's Spanish message with the deep link, and forwarded.
        Case("concierge/chatbot", 'text "Sure! Here is a poem..." (hand-off)', "graph.facebook.com", OTHER_LINE,
             js(wa_text("Sure! Here is a short poem about the sea, as you asked.", to=TO_SPAIN)), CONCIERGE,
             expect_decision="handoff", expect_rule="concierge"),
        Case("support/helpdesk", "70 KB body (over the limit)", "graph.facebook.com", SUPPORT_LINE,
             js(wa_text("x" * 4000) | {"padding": "y" * 70000}), SUPPORT,
             expect_decision="block", expect_rule="body_limit"),
        Case("support/helpdesk", "360dialog: text \"Your order 5521 ships today\"", "waba-v2.360dialog.io",
             "/messages", js(wa_text("Hi Sam, your order 5521 ships today. Reply HELP for options.")), SUPPORT,
             headers={"D360-API-KEY": "demo"}, expect_decision="allow", expect_rule="support-bots"),
        Case("unknown 127.0.0.1", "Twilio: the ChatGPT-like answer to whatsapp:+1...", "api.twilio.com",
             TWILIO_MESSAGES, twilio_form(To=f"whatsapp:{TO}", From="whatsapp:+14155550100", Body=LONG_ANSWER),
             headers=TWILIO_HEADERS, expect_decision="block", expect_rule="content_classifier"),
        Case("unknown 127.0.0.1", "Twilio: the same answer as SMS (not WhatsApp)", "api.twilio.com",
             TWILIO_MESSAGES, twilio_form(To=TO, From="+14155550100", Body=LONG_ANSWER), headers=TWILIO_HEADERS,
             ok_status=201),
        Case("unknown 127.0.0.1", "webhook to hooks.example.com", "hooks.example.com", "/notify",
             js({"text": LONG_ANSWER})),
        training_case(policy),
    ]


def openai_files_endpoint(policy: dict[str, Any]) -> str | None:
    """The id of the policy's training endpoint for POST api.openai.com/v1/files, if any."""
    for endpoint in (policy.get("training") or {}).get("endpoints", []):
        if "api.openai.com" in endpoint.get("hosts", []) and "/v1/files" in endpoint.get("paths", ["/v1/files"]):
            return str(endpoint["id"])
    return None


def training_case(policy: dict[str, Any]) -> Case:
    """A fine-tuning upload with one WhatsApp-derived record among three."""
    def record(question: str, **extra: Any) -> bytes:
        line = {"messages": [{"role": "user", "content": question},
                             {"role": "assistant", "content": "Happy to help with that."}], **extra}
        return json.dumps(line).encode("utf-8") + b"\n"

    body = (record("Can I change my delivery slot?")
            + record("Is my refund processed?", metadata={"channel": "whatsapp", "ticket": 8812})
            + record("Do you ship to Lisbon?"))
    endpoint = openai_files_endpoint(policy)
    return Case("unknown 127.0.0.1", "fine-tune upload, 1 of 3 from WhatsApp", "api.openai.com", "/v1/files",
                body, headers={"content-type": "application/jsonl"},
                expect_decision="strip" if endpoint else "-", expect_rule=endpoint or "-")


@dataclass
class Outcome:
    status: int
    decision: str
    rule: str
    demo_id: str


def send(port: int, case: Case) -> Outcome:
    demo_id = uuid.uuid4().hex
    headers = {"Host": case.host, "content-type": "application/json", "authorization": "Bearer EAAdemo",
               DEMO_ID_HEADER: demo_id}
    if case.identity:
        headers[IDENTITY_HEADER] = case.identity
    headers.update(case.headers)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT_S)
    try:
        conn.request(case.method, case.path, body=case.body, headers=headers)
        resp = conn.getresponse()
        resp.read()
        return Outcome(resp.status, resp.getheader("x-wa-guard-decision") or "-",
                       resp.getheader("x-wa-guard-rule") or "-", demo_id)
    finally:
        conn.close()


def received_records(control_port: int) -> dict[str, dict[str, Any]]:
    """What the stand-in received, by demo id."""
    status, body = launch.http_get(f"http://127.0.0.1:{control_port}/__received")
    if status != 200:
        raise RuntimeError(f"stand-in control answered {status}")
    records = {}
    for record in json.loads(body)["requests"]:
        for key, value in record["headers"]:
            if key.lower() == DEMO_ID_HEADER:
                records[value] = record
    return records


def wait_ready(admin_file: Path, envoy_pid: int, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    admin = ""
    while time.monotonic() < deadline:
        if not Path(f"/proc/{envoy_pid}").exists():
            raise RuntimeError("envoy exited during startup (see its log above)")
        if not admin and admin_file.exists():
            admin = admin_file.read_text().strip()
        if admin:
            try:
                status, body = launch.http_get(f"http://{admin}/ready", timeout=1.0)
                if status == 200 and body.strip() == "LIVE":
                    return f"http://{admin}"
            except OSError:
                pass
        time.sleep(0.05)
    raise RuntimeError(f"envoy not ready after {timeout}s")


def listener_port(admin_url: str) -> int:
    _, body = launch.http_get(f"{admin_url}/listeners?format=json")
    for listener in json.loads(body)["listener_statuses"]:
        if listener["name"] == "egress":
            return int(listener["local_address"]["socket_address"]["port_value"])
    raise RuntimeError("egress listener not found")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", required=True, type=Path)
    parser.add_argument("--envoy-pid", required=True, type=int)
    parser.add_argument("--policy", required=True, type=Path)
    args = parser.parse_args()

    admin_url = wait_ready(args.work / "admin.txt", args.envoy_pid, timeout=30)
    port = listener_port(admin_url)
    control_port = json.loads((args.work / "stand-in.json").read_text())["control_port"]
    print(f"Envoy ready: egress listener 127.0.0.1:{port}, admin {admin_url}\n")

    cases = demo_cases(json.loads(args.policy.read_text(encoding="utf-8")))
    outcomes = [send(port, case) for case in cases]
    time.sleep(0.3)  # let the stand-in finish recording the last forwarded request
    records = received_records(control_port)
    got = set(records)

    head = f"{'#':>2}  {'caller':<18} {'message':<40} {'HTTP':>4}  {'decision':<8} {'rule':<18} {'upstream':<9} check"
    print(head)
    print("-" * len(head))
    mismatches = 0
    for i, (case, out) in enumerate(zip(cases, outcomes), start=1):
        received = out.demo_id in got
        expected_received = case.expect_decision != "block"
        expected_status = 403 if case.expect_decision == "block" else case.ok_status
        ok = (
            out.decision == case.expect_decision
            and out.rule == case.expect_rule
            and received == expected_received
            and out.status == expected_status
        )
        mark = "ok" if ok else f"MISMATCH (want {case.expect_decision}/{case.expect_rule})"
        mismatches += 0 if ok else 1
        summary = case.summary if len(case.summary) <= 40 else case.summary[:39] + "…"
        print(f"{i:>2}  {case.caller:<18} {summary:<40} {out.status:>4}  {out.decision:<8} {out.rule:<18} "
              f"{'received' if received else 'NOTHING':<9} {mark}")

    for case, out in zip(cases, outcomes):
        record = records.get(out.demo_id)
        if case.expect_decision != "handoff" or record is None:
            continue
        sent = base64.b64decode(record["body_b64"])
        print(f"\nThe hand-off: {len(case.body)} bytes sent by {case.caller}, {len(sent)} bytes received "
              f"upstream with content-length {record['content_length']}:")
        print(f"  {sent.decode('utf-8', errors='replace')}")
        if record["content_length"] != str(len(sent)):
            print("  !! the upstream's content-length does not match the body")
            mismatches += 1

    time.sleep(0.2)
    log = (args.work / "envoy.log").read_text(errors="replace")
    print("\nDecision log lines (Envoy log, info level; no message text, no phone numbers):")
    for line in log.splitlines():
        for kind in ("decision", "training"):
            _, marker, rest = line.partition(f"wa-egress-guard {kind} ")
            if marker:
                print(f"  wa-egress-guard {kind} {rest}")
    if LONG_ANSWER[:40] in log or TO.lstrip("+") in log or TO_SPAIN.lstrip("+") in log:
        print("  !! message text or a raw phone number appears in the log")
        mismatches += 1

    print("\nPrometheus (/stats/prometheus):")
    _, prom = launch.http_get(f"{admin_url}/stats/prometheus")
    for line in prom.splitlines():
        if "wa_guard_" in line:
            print(f"  {line}")

    print()
    if mismatches:
        print(f"demo: {mismatches} request(s) did not get the expected decision")
        return 1
    print(f"demo: all {len(cases)} requests got the expected decision")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (RuntimeError, OSError, ValueError) as err:  # the demo itself broke: exit 2, not "mismatch"
        print(f"demo: {err}", file=sys.stderr)
        sys.exit(2)
