#!/usr/bin/env python3
"""Validates every policy the project ships against policies/policy.schema.json.

Checked: policies/default.json, policies/examples/*.json, and the policy of every case file in
policies/tests/ (*.json and the not-yet-loaded *.json.txt), resolved the way the case runner
resolves it: `{"inline": {...}}`, or `{"file": "...", "patch": {...}}` with an RFC 7386 merge
patch. Then a set of deliberately broken policies must each FAIL the schema.

Prints one line per check and a final `N passed, M failed` line; exits non-zero on any failure.
Needs the `jsonschema` package (requirements-test.txt). Run from anywhere:
    python3 policies/tests/schema_check.py
"""

import copy
import json
import sys
from pathlib import Path

try:
    import jsonschema
except ImportError:
    print("error: the `jsonschema` package is required (pip install -r requirements-test.txt)")
    sys.exit(2)

TESTS = Path(__file__).resolve().parent
POLICIES = TESTS.parent
ROOT = POLICIES.parent
SCHEMA = POLICIES / "policy.schema.json"


def merge_patch(target, patch):
    """RFC 7386: objects merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def case_file_policy(path):
    ref = json.loads(path.read_text(encoding="utf-8"))["policy"]
    if "inline" in ref:
        return ref["inline"]
    base = json.loads((path.parent / ref["file"]).read_text(encoding="utf-8"))
    return merge_patch(base, ref["patch"]) if ref.get("patch") is not None else base


def describe(error):
    return f"{error.json_path}: {error.message[:300]}"


def broken_policies(default):
    """(name, policy) pairs that the filter refuses and the schema must refuse too."""
    def patched(patch):
        return merge_patch(default, patch)

    origin = {"id": "bots", "identities": [{"glob": "spiffe://cluster.local/ns/support/sa/*"}], "role": "customer_service"}
    without_limits = copy.deepcopy(default)
    del without_limits["limits"]
    return [
        ("unknown top-level field `modes`", patched({"modes": "audit"})),
        ("unknown field `max_body_byte` in limits", patched({"limits": {"max_body_byte": 10}})),
        ("unknown field in an origin", patched({"origins": [dict(origin, roles="customer_service")]})),
        ("bad enum: mode `enforcing`", patched({"mode": "enforcing"})),
        ("bad enum: default_action `deny`", patched({"default_action": "deny"})),
        ("bad enum: origin role `chatbot`", patched({"origins": [dict(origin, role="chatbot")]})),
        ("bad enum: content role `general_assistant`", patched({"content": {"roles": ["general_assistant"]}})),
        ("bad enum: identity source type `cookie`", patched({"identity": {"sources": [{"type": "cookie"}]}})),
        ("identity pattern with two keys", patched({"origins": [dict(origin, identities=[{"exact": "a", "glob": "b*"}])]})),
        ("missing required section `limits`", without_limits),
        ("header source without trusted peers", patched({"identity": {"sources": [{"type": "header", "name": "x-id", "trusted_peers": {}}]}})),
        ("extra field on a peer_uri_san source", patched({"identity": {"sources": [{"type": "peer_uri_san", "name": "x"}]}})),
        ("general_assistant origin with message_types", patched({"origins": [dict(origin, role="general_assistant", message_types=["text"])]})),
        ("unknown message type `txt`", patched({"origins": [dict(origin, message_types=["txt"])]})),
        ("reserved rule id `no_rule`", patched({"origins": [dict(origin, id="no_rule")]})),
        ("rule id with upper case", patched({"origins": [dict(origin, id="Support")]})),
        ("retired lexicon field `builtin_lexicon`", patched({"content": {"builtin_lexicon": True}})),
        ("non-positive threshold", patched({"content": {"threshold": 0}})),
        ("threshold of 1 or more (not a probability)", patched({"content": {"threshold": 1.2}})),
        ("term group without terms", patched({"content": {"terms": [{"id": "brand", "terms": [], "weight": -2}]}})),
        ("max_body_bytes of 0", patched({"limits": {"max_body_bytes": 0}})),
        ("empty whatsapp.hosts", patched({"whatsapp": {"hosts": []}})),
        ("phone-number path id with a slash", patched({"phone_numbers": {"numbers": [
            {"id": "line", "path_ids": ["1/2"], "purpose": "customer_service"}]}})),
        ("training endpoint without hosts", patched({"training": {"endpoints": [{"id": "x"}]}})),
        ("training bucket without a provider", patched({"training": {"buckets": [{"id": "x", "bucket": "acme-data"}]}})),
        ("bad enum: unknown_gcs_sessions `allow`", patched({"training": {"endpoints": [], "unknown_gcs_sessions": "allow"}})),
        ("S3 training bucket with an upper-case name", patched({"training": {"buckets": [
            {"id": "x", "provider": "s3", "bucket": "Acme-Data"}]}})),
        ("Azure training bucket naming a `bucket`", patched({"training": {"buckets": [
            {"id": "x", "provider": "azure_blob", "bucket": "acme-data", "account": "acme", "container": "data"}]}})),
        ("GCS training bucket naming a `container`", patched({"training": {"buckets": [
            {"id": "x", "provider": "gcs", "bucket": "acme-data", "container": "data"}]}})),
        ("training bucket with an unknown field `region`", patched({"training": {"buckets": [
            {"id": "x", "provider": "s3", "bucket": "acme-data", "region": "us-east-1"}]}})),
        ("bad enum: rule action `rewrite`", patched({"content": {"action": "rewrite"}})),
        ("customer_service origin with action handoff", patched({"origins": [dict(origin, action="handoff")]})),
        ("handoff section without default_language", patched({"handoff": {"messages": {"en": {"type": "text", "body": "hi"}}}})),
        ("handoff cta_url message without a button", patched({"handoff": {"default_language": "en",
            "url": "https://app.example/?ref={request_id}", "messages": {"en": {"type": "cta_url", "body": "hi"}}}})),
        ("handoff url over plain http", patched({"handoff": {"default_language": "en",
            "url": "http://app.example/", "messages": {"en": {"type": "text", "body": "hi"}}}})),
        ("handoff country code with `+`", patched({"handoff": {"default_language": "en",
            "country_codes": {"+34": "es"}, "messages": {"en": {"type": "text", "body": "hi"}}}})),
        ("handoff button over 20 characters", patched({"handoff": {"default_language": "en",
            "url": "https://app.example/", "messages": {"en": {"type": "cta_url", "body": "hi",
                                                               "button": "Open the assistant now!"}}}})),
        ("conversation with 0 slots", patched({"conversation": {"slots": 0, "unanswered_budget": {"max_unanswered": 3}}})),
        ("conversation budget without max_unanswered", patched({"conversation": {"unanswered_budget": {"window_seconds": 60}}})),
        ("conversation budget with an unknown template category", patched({"conversation": {"unanswered_budget": {
            "max_unanswered": 3, "exempt_template_categories": ["otp"]}}})),
        ("conversation scoring with an unknown field", patched({"conversation": {"scoring": {"window": 60}}})),
        ("conversation sender id mapped to a number, not a Graph id", patched({"conversation": {
            "unanswered_budget": {"max_unanswered": 3}, "sender_ids": {"whatsapp:+14155550100": "+14155550100"}}})),
        ("conversation sender id that is empty", patched({"conversation": {
            "unanswered_budget": {"max_unanswered": 3}, "sender_ids": {"": "106540352240000"}}})),
    ]


def main():
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    passed = failed = 0

    def report(ok, line):
        nonlocal passed, failed
        if ok:
            passed += 1
            print(f"PASS {line}")
        else:
            failed += 1
            print(f"FAIL {line}")

    targets = [POLICIES / "default.json", *sorted((POLICIES / "examples").glob("*.json"))]
    cases = sorted(TESTS.glob("*.json")) + sorted(TESTS.glob("*.json.txt"))
    for path in targets + cases:
        name = path.relative_to(ROOT)
        try:
            policy = case_file_policy(path) if path in cases else json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, KeyError) as e:
            report(False, f"{name}: cannot load the policy: {e}")
            continue
        errors = sorted(validator.iter_errors(policy), key=lambda e: list(e.path))
        report(not errors, f"{name}" + (f": {describe(errors[0])}" + (f" (+{len(errors) - 1} more)" if len(errors) > 1 else "") if errors else ""))

    default = json.loads((POLICIES / "default.json").read_text(encoding="utf-8"))
    for what, policy in broken_policies(default):
        errors = list(validator.iter_errors(policy))
        report(bool(errors), f"broken policy rejected: {what}" + (f" ({describe(errors[0])})" if errors else " -- but the schema ACCEPTED it"))

    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
