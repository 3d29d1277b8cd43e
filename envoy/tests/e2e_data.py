"""Policies and messages the e2e suite sends through Envoy (all written for this suite)."""

from __future__ import annotations

import copy
from typing import Any

SUPPORT_IDENTITY = "spiffe://cluster.local/ns/support/sa/helpdesk"
ASSISTANT_IDENTITY = "spiffe://cluster.local/ns/ai-lab/sa/chatbot"
PILOT_IDENTITY = "spiffe://cluster.local/ns/pilot/sa/bot"
RECIPIENT = "+16505550123"
RECIPIENT_DIGITS = "16505550123"

_BASE_POLICY: dict[str, Any] = {
    "mode": "enforce",
    "default_action": "allow",
    "whatsapp": {"hosts": ["graph.facebook.com"]},
    "identity": {
        "sources": [
            {"type": "header", "name": "x-wa-guard-identity", "trusted_peers": {"addresses": ["127.0.0.1/32"]}},
            {"type": "source_address"},
        ]
    },
    "origins": [
        {
            "id": "support-bots",
            "identities": [{"glob": "spiffe://cluster.local/ns/support/sa/*"}],
            "role": "customer_service",
            "message_types": ["text", "template", "interactive"],
        },
        {
            "id": "assistant-lab",
            "identities": [{"regex": "^spiffe://cluster\\.local/ns/ai-lab/.*$"}],
            "role": "general_assistant",
        },
    ],
    "phone_numbers": {
        "unknown": "allow",
        "numbers": [
            {
                "id": "support-line",
                "path_ids": ["106540352242922"],
                "purpose": "customer_service",
                "allowed_origins": ["support-bots"],
            }
        ],
    },
    "content": {"enabled": True, "threshold": 0.71, "roles": ["unknown", "customer_service"]},
    "limits": {
        "max_body_bytes": 65536,
        "max_decompressed_bytes": 262144,
        "on_oversize": "block",
        "on_invalid_body": "block",
        "on_unsupported_encoding": "block",
    },
    "log": {"recipient_hash_salt": "e2e-salt"},
}


def e2e_policy(**top_level: Any) -> dict[str, Any]:
    """The suite's base policy; keyword arguments replace top-level sections."""
    policy = copy.deepcopy(_BASE_POLICY)
    policy.update(copy.deepcopy(top_level))
    return policy


def with_identity_sources(policy: dict[str, Any], sources: list[dict[str, Any]]) -> dict[str, Any]:
    policy = copy.deepcopy(policy)
    policy["identity"] = {"sources": sources}
    return policy


def text_message(body: str, to: str = RECIPIENT) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "text",
        "text": {"preview_url": False, "body": body},
    }


def template_message(to: str = RECIPIENT) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "template",
        "template": {
            "name": "delivery_update",
            "language": {"code": "en_US"},
            "components": [
                {"type": "body", "parameters": [{"type": "text", "text": "A-20931"}, {"type": "text", "text": "Friday"}]}
            ],
        },
    }


def interactive_message(to: str = RECIPIENT) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "interactive",
        "interactive": {
            "type": "button",
            "body": {"text": "Would you like to reschedule the delivery of parcel A-20931?"},
            "footer": {"text": "Northwind Parcels support"},
            "action": {
                "buttons": [
                    {"type": "reply", "reply": {"id": "resched-yes", "title": "Yes, reschedule"}},
                    {"type": "reply", "reply": {"id": "resched-no", "title": "No, keep it"}},
                ]
            },
        },
    }


SUPPORT_TEXT = "Hi Dana, parcel A-20931 left our depot this morning and should reach you on Friday. Reply HELP for options."

# A general-purpose assistant's answer: open-domain, long, essay-shaped, self-describing.
ASSISTANT_ANSWER = (
    "Great question! As an AI language model, I can walk you through it step by step.\n\n"
    "**1. What sourdough starter actually is**\n"
    "A starter is a culture of wild yeast and lactic acid bacteria. Feeding it flour and water "
    "keeps the population active, and the ratio you choose changes how sour the bread tastes.\n\n"
    "**2. A simple schedule**\n"
    "- Day 1: mix 50 g whole wheat flour with 50 g water.\n"
    "- Days 2-5: discard half and feed again every 24 hours.\n"
    "- Day 6 onwards: bake once it doubles within 6 hours.\n\n"
    "**3. Common pitfalls**\n"
    "Chlorinated water, a cold kitchen and inconsistent feeding are the usual culprits.\n\n"
    "In summary, patience matters more than equipment. I hope this helps! Let me know if you'd "
    "like a recipe for the first loaf, or if there is anything else I can help you with."
)
ASSISTANT_SECRET_PHRASE = "Chlorinated water, a cold kitchen"

# A valid policy with a typo a user could make: an unknown field must be refused.
BAD_POLICY_UNKNOWN_FIELD = {**copy.deepcopy(_BASE_POLICY), "mdoe": "audit"}


# --- hot reload (dynamic.yaml + ECDS) --------------------------------------------------
PARTNER_IDENTITY = "spiffe://cluster.local/ns/partner/sa/concierge"


def partner_policy(role: str, salt: str = "e2e-salt") -> dict[str, Any]:
    """The base policy plus origin `partner-bots` with `role`. Rolling the role between
    customer_service and general_assistant flips the partner's decision (allow <-> block)
    and leaves every other decision alone; `salt` makes otherwise equal policies distinct."""
    policy = e2e_policy(log={"recipient_hash_salt": salt})
    policy["origins"].append(
        {"id": "partner-bots", "identities": [{"glob": "spiffe://cluster.local/ns/partner/sa/*"}], "role": role}
    )
    return policy
