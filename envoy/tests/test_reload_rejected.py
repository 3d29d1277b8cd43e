"""An invalid policy rolled into a running Envoy is refused: Envoy keeps serving with the
previous policy (same decisions, same version), counts the rejection on the ECDS
counters and on the guard's own config-load counter, and its log says why with the
policy's JSON path. A valid roll afterwards still applies."""

from __future__ import annotations

import pytest

from e2e_data import (
    ASSISTANT_IDENTITY,
    BAD_POLICY_UNKNOWN_FIELD,
    PARTNER_IDENTITY,
    SUPPORT_TEXT,
    partner_policy,
    text_message,
)
from e2e_support import OTHER_GRAPH_PATH, prometheus_series, wait_until

REJECTED_LOG = "Filesystem config update rejected"


def bad_regex_policy():
    policy = partner_policy("customer_service")
    policy["origins"][1]["identities"] = [{"regex": "^spiffe://(unclosed"}]
    return policy


def dangling_number_origin_policy():
    policy = partner_policy("customer_service")
    policy["phone_numbers"]["numbers"][0]["allowed_origins"] = ["no-such-origin"]
    return policy


@pytest.fixture(scope="module")
def guard(start_dynamic_guard):
    return start_dynamic_guard(partner_policy("customer_service"), name="reload-rejected")


def decisions(guard) -> tuple[tuple[int, str | None, str | None], ...]:
    out = []
    for identity in (PARTNER_IDENTITY, ASSISTANT_IDENTITY):
        reply = guard.send_whatsapp(text_message(SUPPORT_TEXT), identity=identity, path=OTHER_GRAPH_PATH)
        out.append((reply.status, reply.header("x-wa-guard-decision"), reply.header("x-wa-guard-rule")))
    return tuple(out)


def config_loads(guard, result: str) -> int:
    for name, labels, value in prometheus_series(guard.prometheus(), "wa_guard_config_loads_total"):
        if labels.get("result") == result:
            return value
    return 0


BEFORE = ((200, "allow", "partner-bots"), (403, "block", "assistant-lab"))


@pytest.mark.parametrize(
    "policy, problem",
    [
        (BAD_POLICY_UNKNOWN_FIELD, "invalid policy: `$.mdoe`: unknown field"),
        (bad_regex_policy(), "invalid policy: `$.origins[1].identities[0]`: invalid regex"),
        (dangling_number_origin_policy(), "invalid policy: `$.phone_numbers.numbers[0].allowed_origins[0]`"),
        ('{"mode": "enforce", ', "invalid policy: `$`"),
    ],
    ids=["unknown-field", "bad-regex", "dangling-origin", "not-json"],
)
def test_invalid_policy_is_rejected_and_the_previous_one_keeps_serving(guard, policy, problem):
    assert decisions(guard) == BEFORE
    version = guard.ecds_version()
    counters = guard.ecds_counters()
    rejected_loads = config_loads(guard, "rejected")
    log_offset = len(guard.log_text())

    assert guard.push(policy) == "rejected"

    after = guard.ecds_counters()
    assert after["update_rejected"] == counters["update_rejected"] + 1
    assert after["update_success"] == counters["update_success"]
    assert guard.ecds_version() == version
    assert config_loads(guard, "rejected") == rejected_loads + 1
    wait_until(lambda: REJECTED_LOG in guard.log_text()[log_offset:], timeout=5, what="the rejection log line")
    new_log = guard.log_text()[log_offset:]
    guard_lines = [line for line in new_log.splitlines() if "wa-egress-guard: invalid policy" in line]
    assert any(problem in line for line in guard_lines), "\n".join(guard_lines) or new_log[-3000:]
    assert "Unable to create Wasm plugin wa_egress_guard" in new_log
    assert decisions(guard) == BEFORE


def test_a_valid_roll_after_rejections_applies(guard):
    assert guard.push(partner_policy("general_assistant")) == "accepted"
    wait_until(lambda: decisions(guard)[0] == (403, "block", "partner-bots"), timeout=10,
               what="the rolled policy's decision")
    assert decisions(guard)[1] == (403, "block", "assistant-lab")
