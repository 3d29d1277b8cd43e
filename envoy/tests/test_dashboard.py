"""The Grafana dashboard (envoy/grafana/wa-guard.json) and the Prometheus alert rules
(envoy/grafana/alerts.yaml) load, promtool accepts them and its rule unit test shows the alert firing
on a spike in blocks and not on steady ones, and every metric and label their PromQL names is one a real
Envoy running the filter exposes at /stats/prometheus after traffic: allowed, blocked and
audited sends, and a training upload that loses records. So neither can drift from the code."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from e2e_data import ASSISTANT_ANSWER, ASSISTANT_IDENTITY, SUPPORT_IDENTITY, SUPPORT_TEXT, e2e_policy, text_message
from e2e_support import ENVOY_DIR, OTHER_GRAPH_PATH, PROM_LABEL, wait_until

GRAFANA_DIR = ENVOY_DIR / "grafana"
DASHBOARD = GRAFANA_DIR / "wa-guard.json"
ALERTS = GRAFANA_DIR / "alerts.yaml"
DEFAULT_POLICY = ENVOY_DIR.parent / "policies" / "default.json"
CONCIERGE_IDENTITY = "spiffe://cluster.local/ns/concierge/sa/chatbot"

# PromQL words that are not metric names.
PROMQL_WORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool", "and", "or", "unless",
    "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk", "quantile", "count_values", "group",
    "rate", "irate", "increase", "delta", "idelta", "deriv", "abs", "ceil", "floor", "round", "clamp_min",
    "clamp_max", "histogram_quantile", "label_values", "label_replace", "vector", "scalar", "time", "absent",
    "changes", "resets", "sort", "sort_desc", "sum_over_time", "avg_over_time", "max_over_time", "inf", "nan",
}
SERIES = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>[^}]*)\})?\s+\S+\s*$")


# --- PromQL, read just enough ----------------------------------------------------------
def promql_references(expr: str) -> list[tuple[str, dict[str, str]]]:
    """`[(metric, {label: matched value})]` for every selector of `expr`, and `("by", {label: ""})`
    for the labels of each `by (...)`, `on (...)` and similar clause. Grafana's `$variables`
    become the placeholder `VAR`."""
    text = re.sub(r"\$\{?\w+\}?", "VAR", expr)
    text = re.sub(r"\[[^\]]*\]", " ", text)  # range selectors and durations
    out: list[tuple[str, dict[str, str]]] = []
    for m in re.finditer(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)", text):
        out.append(("by", {label.strip(): "" for label in m.group(1).split(",") if label.strip()}))
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    for m in re.finditer(r"([a-zA-Z_:][a-zA-Z0-9_:]*)?\s*\{([^}]*)\}", text):
        matchers = {k: v for k, v in re.findall(r'(\w+)\s*[=!~]+\s*"((?:[^"\\]|\\.)*)"', m.group(2))}
        if m.group(1):
            out.append((m.group(1), matchers))
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r'"(?:[^"\\]|\\.)*"', " ", text)
    for m in re.finditer(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(\s*\()?", text):
        name, call = m.group(1), m.group(2)
        if call or name in PROMQL_WORDS or name == "VAR" or re.fullmatch(r"\d+\w*", name):
            continue
        if not any(name == ref for ref, _ in out):
            out.append((name, {}))
    return out


def test_promql_reader_finds_names_labels_and_groupings():
    refs = promql_references(
        'sum by (rule, reason) (rate(foo_total{decision="block",provider=~"$provider"}[5m])) '
        '/ ignoring(x) bar_total > 3 * baz offset 1d and vector(1)'
    )
    assert ("by", {"rule": "", "reason": ""}) in refs
    assert ("by", {"x": ""}) in refs
    assert ("foo_total", {"decision": "block", "provider": "VAR"}) in refs
    assert {name for name, _ in refs} == {"by", "foo_total", "bar_total", "baz"}


# --- the files -------------------------------------------------------------------------
def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def dashboard_queries(board: dict[str, Any]) -> list[tuple[str, str]]:
    """`[(where, PromQL)]`: every panel target and every query variable."""
    queries = []
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            queries.append((f"panel {panel['title']!r} {target['refId']}", target["expr"]))
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]["query"] if isinstance(variable["query"], dict) else variable["query"]
            inner = re.fullmatch(r"label_values\((\w+),\s*(\w+)\)", query)
            assert inner, f"variable {variable['name']}: unexpected query `{query}`"
            queries.append((f"variable {variable['name']}", f"sum by ({inner.group(2)}) ({inner.group(1)})"))
    return queries


def alert_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


def test_dashboard_is_a_grafana_dashboard():
    board = dashboard()
    assert board["uid"] and board["title"] and isinstance(board["schemaVersion"], int)
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    data_panels = [p for p in board["panels"] if p["type"] != "row"]
    assert len(data_panels) >= 8
    for panel in data_panels:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"], f"panel {panel['title']!r} has no query"
        grid = panel["gridPos"]
        assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 24 and grid["h"] > 0, panel["title"]
        for target in panel["targets"]:
            assert target["expr"].count("(") == target["expr"].count(")"), target["expr"]
    names = {name for _, expr in dashboard_queries(board) for name, _ in promql_references(expr)}
    assert {"wa_guard_decisions_total", "wa_guard_training_uploads_total", "wa_guard_training_records_total",
            "wa_guard_training_bytes_total", "wa_guard_config_loads_total"} <= names


def test_alert_rules_are_prometheus_rules():
    rules = alert_rules()
    assert [r["alert"] for r in rules] == ["WaGuardBlockSpike"]
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations", "keep_firing_for"}, rule
        assert re.fullmatch(r"\d+[smhd]", rule["for"])
        assert rule["labels"]["severity"] in {"warning", "critical", "info"}
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        assert rule["expr"].count("(") == rule["expr"].count(")")
        [metric] = {n for n, _ in promql_references(rule["expr"]) if n != "by"}
        assert metric == "wa_guard_decisions_total"
        assert any(m.get("decision") == "block" for n, m in promql_references(rule["expr"]) if n == metric)


# --- against a live Envoy --------------------------------------------------------------
@pytest.fixture(scope="module")
def exposed(start_guard) -> Iterator[dict[str, dict[str, set[str]]]]:
    """`{metric: {label: {values}}}` from /stats/prometheus after allowed, blocked, audited and
    handed-off sends and a stripped upload."""
    policy = e2e_policy(training=json.loads(DEFAULT_POLICY.read_text(encoding="utf-8"))["training"])
    policy["phone_numbers"]["numbers"][0]["mode"] = "audit"  # the support line only audits
    policy["origins"].append({"id": "concierge", "identities": [{"exact": CONCIERGE_IDENTITY}],
                              "role": "general_assistant", "action": "handoff"})
    policy["handoff"] = {"default_language": "en", "messages": {"en": {"type": "text", "body": "Continue in our app."}}}
    guard = start_guard(policy, name="dashboard")
    handed_off = guard.send_whatsapp(text_message("Sure! A poem."), identity=CONCIERGE_IDENTITY, path=OTHER_GRAPH_PATH)
    assert handed_off.header("x-wa-guard-decision") == "handoff", handed_off
    assert guard.send_whatsapp(text_message(SUPPORT_TEXT), identity=SUPPORT_IDENTITY).status == 200
    assert guard.send_whatsapp(text_message("Sure! A haiku."), identity=ASSISTANT_IDENTITY,
                               path=OTHER_GRAPH_PATH).status == 403
    audited = guard.send_whatsapp(text_message(SUPPORT_TEXT), identity="spiffe://cluster.local/ns/x/sa/y")
    assert audited.header("x-wa-guard-decision") == "audit", audited
    assert guard.send_whatsapp(text_message(ASSISTANT_ANSWER), path=OTHER_GRAPH_PATH).status == 403
    upload = (b'{"messages":[{"role":"user","content":"hi"}],"metadata":{"channel":"whatsapp"}}\n'
              b'{"messages":[{"role":"user","content":"hello"}]}\n')
    reply = guard.request("POST", "api.openai.com", "/v1/files", upload, {"content-type": "application/jsonl"})
    assert reply.header("x-wa-guard-stripped") == "1", reply

    def scrape() -> dict[str, dict[str, set[str]]]:
        found: dict[str, dict[str, set[str]]] = {}
        for line in guard.prometheus().splitlines():
            m = SERIES.match(line)
            if not m or not m.group("name").startswith("wa_guard_"):
                continue
            labels = found.setdefault(m.group("name"), {})
            for key, value in PROM_LABEL.findall(m.group("labels") or ""):
                labels.setdefault(key, set()).add(value)
        return found

    result: dict[str, dict[str, set[str]]] = {}

    def ready() -> bool:
        result.clear()
        result.update(scrape())
        return "wa_guard_training_uploads_total" in result and "audit" in result.get(
            "wa_guard_decisions_total", {}).get("decision", set())

    try:
        wait_until(ready, timeout=10, what="the guard's counters at /stats/prometheus")
    except AssertionError as e:
        raise AssertionError(f"{e}; Envoy showed {result}") from None
    yield result


def check_expression(where: str, expr: str, exposed: dict[str, dict[str, set[str]]]) -> list[str]:
    problems = []
    refs = promql_references(expr)
    metrics = [name for name, _ in refs if name != "by"]
    labels_of_metrics = set().union(*(set(exposed.get(m, {})) for m in metrics)) if metrics else set()
    for name, matchers in refs:
        if name == "by":
            problems += [f"{where}: groups by `{l}`, which no metric of it has" for l in matchers
                         if l not in labels_of_metrics]
            continue
        if name not in exposed:
            problems.append(f"{where}: `{name}` is not exposed by Envoy (exposed: {sorted(exposed)})")
            continue
        for label, value in matchers.items():
            if label not in exposed[name]:
                problems.append(f"{where}: `{name}` has no label `{label}`")
            elif value != "VAR" and not set(value.split("|")) <= exposed[name][label] | {".*"}:
                problems.append(f"{where}: `{name}{{{label}=\"{value}\"}}`: Envoy showed {sorted(exposed[name][label])}")
    return problems


def test_dashboard_queries_use_what_envoy_exposes(exposed):
    problems = [p for where, expr in dashboard_queries(dashboard()) for p in check_expression(where, expr, exposed)]
    assert not problems, "\n".join(problems)


def test_alert_expressions_use_what_envoy_exposes(exposed):
    problems = [p for rule in alert_rules() for p in check_expression(f"alert {rule['alert']}", rule["expr"], exposed)]
    assert not problems, "\n".join(problems)


def test_every_exposed_guard_metric_is_on_the_dashboard(exposed):
    shown = {name for _, expr in dashboard_queries(dashboard()) for name, _ in promql_references(expr)}
    assert set(exposed) <= shown, sorted(set(exposed) - shown)


def test_readme_shows_the_alert_as_shipped():
    readme = " ".join((ENVOY_DIR.parent / "README.md").read_text(encoding="utf-8").split())
    for rule in alert_rules():
        assert " ".join(rule["expr"].split()) in readme, f"README's alert differs from {ALERTS.name}"


# --- promtool: the PromQL parses, and the alert fires when it should ---------------------------
def promtool() -> str:
    found = shutil.which("promtool")
    if not found:
        pytest.fail("no `promtool`: run `make apt-deps` (Debian's prometheus)", pytrace=False)
    return found


def run_promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool(), *map(str, args)], capture_output=True, text=True, timeout=60, check=False)


def test_promtool_accepts_the_alert_and_every_dashboard_query(tmp_path):
    checked = run_promtool("check", "rules", ALERTS)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # Each panel's query as a recording rule, Grafana's variables given values.
    rules = []
    for i, (where, expr) in enumerate(dashboard_queries(dashboard())):
        for variable, value in (("$__rate_interval", "5m"), ("$__range", "1d"), ("$provider", ".*")):
            expr = expr.replace(variable, value)
        rules.append({"record": f"dashboard:query_{i}", "expr": expr})
    recorded = tmp_path / "dashboard-queries.yaml"
    recorded.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}), encoding="utf-8")
    checked = run_promtool("check", "rules", recorded)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def block_series(rule: str, reason: str, values: str) -> dict[str, str]:
    labels = f'decision="block",rule="{rule}",reason="{reason}",role="unknown",provider="cloud_api"'
    return {"series": f"wa_guard_decisions_total{{{labels}}}", "values": values}


def test_alert_fires_on_a_spike_and_on_a_fresh_rule_not_on_steady_blocks(tmp_path):
    """promtool's rule unit test over 26 hours of minutes: a rule blocking 1 a minute that jumps
    to 50, a rule that starts blocking 30 a minute, a rule blocking 5 a minute all along, and
    allowed traffic. The annotations are left out (their text is not under test)."""
    document = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    for group in document["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations", None)
    (tmp_path / "alerts.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")
    day = 1500  # minutes of history before the spike
    spike = {"alertname": "WaGuardBlockSpike", "severity": "warning"}
    test = {
        "rule_files": ["alerts.yaml"],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": [
                block_series("content_classifier", "general_assistant_content", f"0+1x{day} {day}+50x40"),
                block_series("pilot", "general_assistant_origin", f"0x{day} 0+30x40"),
                block_series("steady", "origin_not_allowed_for_number", f"0+5x{day + 40}"),
                {"series": 'wa_guard_decisions_total{decision="allow",rule="support-bots",reason="allowed",'
                           'role="customer_service",provider="cloud_api"}', "values": f"0+500x{day + 40}"},
            ],
            "alert_rule_test": [
                {"eval_time": f"{day - 1}m", "alertname": "WaGuardBlockSpike", "exp_alerts": []},
                # 4 minutes into the spike: the condition holds, but not yet for 5 minutes.
                {"eval_time": f"{day + 4}m", "alertname": "WaGuardBlockSpike", "exp_alerts": []},
                {"eval_time": f"{day + 20}m", "alertname": "WaGuardBlockSpike", "exp_alerts": [
                    {"exp_labels": {**spike, "rule": "content_classifier", "reason": "general_assistant_content"}},
                    {"exp_labels": {**spike, "rule": "pilot", "reason": "general_assistant_origin"}},
                ]},
            ],
        }],
    }
    (tmp_path / "alerts_test.yaml").write_text(yaml.safe_dump(test), encoding="utf-8")
    tested = run_promtool("test", "rules", tmp_path / "alerts_test.yaml")
    assert tested.returncode == 0, tested.stdout + tested.stderr
