"""Decision counters reach /stats/prometheus with their labels and exact counts."""

from __future__ import annotations

import pytest

from e2e_data import ASSISTANT_ANSWER, ASSISTANT_IDENTITY, SUPPORT_IDENTITY, SUPPORT_TEXT, e2e_policy, text_message
from e2e_support import OTHER_GRAPH_PATH


@pytest.fixture(scope="module")
def guard(start_guard):
    return start_guard(e2e_policy(), name="metrics")


def test_decisions_are_counted_with_labels(guard):
    assert guard.decision_counts() == {}

    for _ in range(3):
        assert guard.send_whatsapp(text_message(SUPPORT_TEXT), identity=SUPPORT_IDENTITY).status == 200
    for _ in range(2):
        assert guard.send_whatsapp(text_message("Sure! A haiku."), identity=ASSISTANT_IDENTITY).status == 403
    assert guard.send_whatsapp(text_message(ASSISTANT_ANSWER), path=OTHER_GRAPH_PATH).status == 403
    # Not WhatsApp: no decision, no counter.
    assert guard.request("POST", "example.com", "/hook", {"text": ASSISTANT_ANSWER}).status == 200

    assert guard.decision_counts() == {
        ("allow", "support-bots", "allowed", "customer_service"): 3,
        ("block", "assistant-lab", "general_assistant_origin", "general_assistant"): 2,
        ("block", "content_classifier", "general_assistant_content", "unknown"): 1,
    }
    text = guard.prometheus()
    assert "# TYPE wa_guard_decisions_total counter" in text
    # The dotted name is fully consumed by the tag regexes: no unlabelled leftovers.
    assert "wasmcustom" not in text
    assert not [line for line in text.splitlines() if line.startswith("wa_guard_decisions_total_")]


def test_config_load_counter_has_result_label(guard):
    lines = [l for l in guard.prometheus().splitlines() if l.startswith("wa_guard_config_loads_total{")]
    assert lines, "no wa_guard_config_loads_total in /stats/prometheus"
    assert all('result="ok"' in line for line in lines), lines
