"""Issue 15 end to end: from audit logs to an inventory, a suggested policy and a safe switch
to enforce.

A real Envoy runs the filter with an audit policy that logs allowed sends and declares only
two of five senders (inventory_workload.py). A generated workload goes through it: service
and assistant messages in several languages, text, template, interactive and image sends from
five phone-number-ids, and training uploads with some WhatsApp-derived records. Then, on the
log Envoy wrote:

* `wa-guard inventory --json --html --markdown` counts exactly what was sent, per sender,
  number, message type, decision and rule, and the records stripped per training endpoint;
* the HTML report renders in headless Chromium with its charts and no console error (a
  screenshot is taken; `make inventory-screenshot` writes docs/inventory-report.png with it);
* `wa-guard inventory --suggest-policy` proposes a policy that passes `wa-guard validate` and,
  switched to enforce and replayed over the recorded traffic with `wa-guard replay`, blocks
  exactly the assistants' sends and none of the service senders'.

`wa-guard` is $WA_GUARD, or target/host/wa-guard (`make cli`).
"""

from __future__ import annotations

import gzip
import ipaddress
import json
import os
import re
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import chromium
import inventory_workload as wl
from e2e_support import ENVOY_DIR, Reply, decision_log_entries, wait_until

REPO = ENVOY_DIR.parent
WA_GUARD_TIMEOUT_S = 120
TRAINING_LOG_MARKER = "wa-egress-guard training "
RFC3339_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
WORK = wl.workload()
ASSISTANT_SENDS = {s.id for s in WORK.sends if s.sender.kind == "assistant"}
SERVICE_SENDS = {s.id for s in WORK.sends if s.sender.kind == "service"}


def wa_guard_binary() -> Path:
    path = Path(os.environ.get("WA_GUARD") or REPO / "target" / "host" / "wa-guard")
    if not os.access(path, os.X_OK):
        pytest.fail(f"no wa-guard at `{path}`: run `make cli` or set WA_GUARD", pytrace=False)
    return path


def wa_guard(*args: str | Path, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(wa_guard_binary()), *map(str, args)], input=stdin.decode() if stdin else None,
                          capture_output=True, text=True, timeout=WA_GUARD_TIMEOUT_S, check=False)


def training_log_entries(log_text: str) -> list[dict[str, Any]]:
    entries = []
    for line in log_text.splitlines():
        _, marker, rest = line.partition(TRAINING_LOG_MARKER)
        if marker:
            entries.append(json.loads(rest))
    return entries


@dataclass
class Rollout:
    """What the audit phase left: the policy, the traffic, Envoy's replies and log."""

    dir: Path
    base: Path
    traffic: Path
    log: Path
    replies: dict[str, Reply]

    @property
    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def rollout(start_guard, tmp_path_factory) -> Rollout:
    workdir = tmp_path_factory.mktemp("rollout")
    policy = wl.base_policy()
    base = workdir / "base.json"
    base.write_text(json.dumps(policy, indent=2) + "\n", encoding="utf-8")
    guard = start_guard(policy, name="inventory")

    replies: dict[str, Reply] = {}
    for send in WORK.sends:
        replies[send.id] = guard.request(
            "POST", "graph.facebook.com", send.path, send.body,
            {"authorization": "Bearer EAAe2eTestToken", **send.sender.header}, source_ip=send.sender.source_ip)
    for upload in WORK.uploads:
        replies[upload.id] = guard.request("POST", upload.authority, upload.path, upload.body,
                                           {"content-type": "application/jsonl"})

    wait_until(lambda: len(decision_log_entries(guard.log_text())) >= len(WORK.sends)
               and len(training_log_entries(guard.log_text())) >= len(WORK.uploads),
               timeout=10, what="a log line for every request")
    log = workdir / "envoy.log"
    shutil.copyfile(guard.process.log_path, log)
    traffic = workdir / "traffic.jsonl"
    wl.write_traffic(traffic, WORK)
    return Rollout(workdir, base, traffic, log, replies)


# --- the audit phase, as Envoy saw it ----------------------------------------------------
def test_envoy_decided_the_workload_as_designed(rollout):
    for send in WORK.sends:
        reply = rollout.replies[send.id]
        assert reply.status == 200, (send.id, reply)  # audit: everything goes through
        assert (reply.header("x-wa-guard-decision"), reply.header("x-wa-guard-rule")) == (
            send.expected_decision, send.expected_rule), send.id
    for upload in WORK.uploads:
        reply = rollout.replies[upload.id]
        assert reply.status == 200, (upload.id, reply)
        assert (reply.header("x-wa-guard-decision"), reply.header("x-wa-guard-rule")) == ("audit", upload.endpoint)
        assert reply.header("x-wa-guard-stripped") == str(upload.whatsapp_records), upload.id


def test_log_lines_carry_what_the_map_needs_and_no_content(rollout):
    text = rollout.log_text
    decisions = decision_log_entries(text)
    assert len(decisions) == len(WORK.sends)
    by_kind = Counter((d["identity"], d["phone_number_id"], d["message_type"]) for d in decisions)
    assert by_kind == Counter((s.sender.identity, s.phone_number_id, s.message_type) for s in WORK.sends)
    for d in decisions:
        assert RFC3339_MS.match(d.get("ts", "")), d
        assert d.get("sample") == 1, d
        if d["score"] is not None:  # logged rounded to 2 places; the bucket is of the exact score
            tenths = {min(int((d["score"] + e) * 10), 9) for e in (-0.005, 0.0)}
            assert d["score_bucket"] in {f"0.{t}-{(t + 1) / 10:.1f}" for t in tenths}, d
    templates = Counter(d.get("template_name") for d in decisions if d["message_type"] == "template")
    assert templates == Counter(s.template_name for s in WORK.sends if s.message_type == "template")
    for d in training_log_entries(text):
        assert RFC3339_MS.match(d.get("ts", "")), d
    # Not a word of any message, not a recipient's number.
    for send in WORK.sends:
        assert send.body["to"] not in text and send.body["to"].lstrip("+") not in text
    for phrase in ("order 48213 has shipped", "prise de la Bastille", "Sauerteig", "cambio gomme",
                   "water cycle step by step", "invoice_ready\",\"language"):
        assert phrase not in text, phrase


# --- wa-guard inventory --------------------------------------------------------------------
@dataclass
class Inventory:
    run: subprocess.CompletedProcess[str]
    json_path: Path
    html: Path
    markdown: Path

    @property
    def data(self) -> dict[str, Any]:
        return json.loads(self.json_path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def inventory(rollout) -> Inventory:
    out = rollout.dir / "inventory"
    out.mkdir()
    paths = Inventory(None, out / "inventory.json", out / "inventory.html", out / "inventory.md")  # type: ignore[arg-type]
    paths.run = wa_guard("inventory", "--json", paths.json_path, "--html", paths.html, "--markdown", paths.markdown,
                         rollout.log)
    return paths


def sender_entry(data: dict[str, Any], sender: wl.Sender) -> dict[str, Any]:
    [entry] = [s for s in data["senders"]
               if (s["identity"], s["identity_source"]) == (sender.identity, sender.identity_source)]
    return entry


def nonzero(counts: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in counts.items() if v}


def identities(listed: list[Any]) -> set[str]:
    return {item["identity"] if isinstance(item, dict) else item for item in listed}


def test_inventory_runs_and_writes_its_three_outputs(inventory):
    assert inventory.run.returncode == 0, inventory.run.stderr
    for path in (inventory.json_path, inventory.html, inventory.markdown):
        assert path.is_file() and path.stat().st_size > 0, path


def test_inventory_counts_lines(inventory, rollout):
    data = inventory.data
    lines = data["lines"]
    assert lines["decisions"] == len(WORK.sends)
    assert lines["training"] == len(WORK.uploads)
    assert lines["malformed"] == 0
    assert lines["skipped"] > 0  # Envoy's own lines around the filter's
    assert lines["read"] == len(rollout.log_text.splitlines())
    [fingerprint] = {d["policy"] for d in decision_log_entries(rollout.log_text)}
    assert data["policies"] == [fingerprint]
    assert data["period"]["first"] <= data["period"]["last"]


def test_inventory_counts_every_sender_as_sent(inventory):
    data = inventory.data
    assert {(s["identity"], s["identity_source"]) for s in data["senders"]} == {
        (s.identity, s.identity_source) for s in wl.SENDERS}
    for sender in wl.SENDERS:
        sent = WORK.sends_of(sender)
        entry = sender_entry(data, sender)
        assert entry["role"] == sender.declared_role, sender.key
        assert entry["sends"] == len(sent), sender.key
        assert nonzero(entry["phone_numbers"]) == Counter(s.phone_number_id for s in sent), sender.key
        assert nonzero(entry["message_types"]) == Counter(s.message_type for s in sent), sender.key
        assert nonzero(entry["decisions"]) == Counter(s.expected_decision for s in sent), sender.key
        assert nonzero(entry["rules"]) == Counter(s.expected_rule for s in sent), sender.key
        assert entry["would_block"] == sum(s.expected_decision == "audit" for s in sent), sender.key
        assert nonzero(entry["templates"]) == Counter(s.template_name for s in sent if s.template_name), sender.key


def test_inventory_score_histograms_separate_service_from_assistants(inventory, rollout):
    data = inventory.data
    scored = Counter(d["identity"] for d in decision_log_entries(rollout.log_text) if d["score"] is not None)
    for sender in wl.SENDERS:
        histogram = sender_entry(data, sender)["score_histogram"]
        assert len(histogram) == 10 and sum(histogram) == scored[sender.identity], sender.key
        high = sum(histogram[7:])  # at or above the 0.71 threshold's tenth
        if sender.kind == "service":
            assert high == 0, (sender.key, histogram)
        else:
            assert high == sum(histogram), (sender.key, histogram)
    assert scored[wl.CONNECTOR.identity] == len(WORK.sends_of(wl.CONNECTOR))


def test_inventory_counts_every_phone_number(inventory):
    numbers = {n["phone_number_id"]: n for n in inventory.data["phone_numbers"]}
    expected: dict[str, Counter[str]] = {}
    for send in WORK.sends:
        expected.setdefault(send.phone_number_id, Counter())[send.sender.identity] += 1
    assert set(numbers) == set(expected)
    for number, senders in expected.items():
        assert numbers[number]["provider"] == "cloud_api"
        assert nonzero(numbers[number]["senders"]) == senders, number
        assert numbers[number]["sends"] == sum(senders.values()), number


def test_inventory_counts_decisions_rules_and_time(inventory):
    data = inventory.data
    audited = [s for s in WORK.sends if s.expected_decision == "audit"]
    assert nonzero(data["would_block_by_rule"]) == Counter(s.expected_rule for s in audited)
    totals = Counter()
    for bucket in data["timeline"]:
        for decision in ("allow", "block", "audit"):
            totals[decision] += bucket[decision]
    assert nonzero(totals) == Counter(s.expected_decision for s in WORK.sends)


def test_inventory_counts_training_uploads_and_stripped_records(inventory):
    endpoints = {t["endpoint"]: t for t in inventory.data["training"]}
    assert set(endpoints) == {u.endpoint for u in WORK.uploads}
    for endpoint, entry in endpoints.items():
        uploads = [u for u in WORK.uploads if u.endpoint == endpoint]
        assert entry["uploads"] == len(uploads), endpoint
        assert entry["records_seen"] == sum(u.records for u in uploads), endpoint
        assert entry["records_stripped"] == sum(u.whatsapp_records for u in uploads), endpoint
        assert nonzero(entry["decisions"]) == {"audit": len(uploads)}, endpoint
        assert entry["bytes_in"] == sum(len(u.body) for u in uploads), endpoint
        # In audit the upload goes through unchanged, and the line says what enforce would forward.
        assert entry["bytes_out"] == sum(u.clean_bytes for u in uploads), endpoint
        assert sum(entry["detectors"].values()) >= entry["records_stripped"], endpoint


def test_inventory_says_not_ready_to_enforce_and_why(inventory):
    ready = inventory.data["ready_to_enforce"]
    assert ready["ready"] is False
    undeclared = {s.identity for s in wl.SENDERS if s.declared_role == "unknown"}
    assert identities(ready["undeclared_senders"]) == undeclared
    assert identities(ready["off_topic_service_senders"]) == set()


def test_inventory_markdown_names_every_sender_and_number(inventory, rollout):
    text = inventory.markdown.read_text(encoding="utf-8")
    for sender in wl.SENDERS:
        assert sender.identity in text, sender.key
    for number in {s.phone_number_id for s in WORK.sends}:
        assert number in text, number
    # Without an output flag the same summary goes to stdout.
    stdout = wa_guard("inventory", rollout.log)
    assert stdout.returncode == 0, stdout.stderr
    assert stdout.stdout.strip() == text.strip()


def test_inventory_reads_a_messy_log_from_gzip_glob_and_stdin(inventory, rollout):
    """The same log gzipped and cut in two files behind a glob, with garbage, another
    program's lines and a truncated decision line, and from stdin: the same counts, and the
    bad lines counted, never a crash."""
    lines = rollout.log.read_bytes().splitlines(keepends=True)
    half = len(lines) // 2
    messy = rollout.dir / "messy"
    messy.mkdir()
    truncated = next(l for l in lines if b"wa-egress-guard decision {" in l)
    truncated = truncated[: truncated.index(b"{") + 40] + b"\n"
    garbage = [b"\x00\xff\xfe garbage \x1b[31m red\n", truncated]
    other = [b'level=info msg="another program" ts=2026-12-07T03:00:00Z\n', b'{"not": "a decision"}\n']
    # A gzip file without a .gz name: read by its magic bytes.
    (messy / "envoy-1.log").write_bytes(gzip.compress(b"".join(lines[:half] + garbage)))
    (messy / "envoy-2.log").write_bytes(b"".join(other + lines[half:]))
    out = messy / "inventory.json"
    run = wa_guard("inventory", "--json", out, str(messy / "envoy-*"))
    assert run.returncode == 0, run.stderr
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["lines"]["decisions"] == len(WORK.sends)
    assert data["lines"]["training"] == len(WORK.uploads)
    clean = inventory.data["lines"]
    assert data["lines"]["read"] == clean["read"] + 4
    assert data["lines"]["malformed"] >= 1  # the truncated decision line, at least
    assert data["lines"]["skipped"] + data["lines"]["malformed"] == clean["skipped"] + 4
    assert data["senders"] == inventory.data["senders"]
    assert data["training"] == inventory.data["training"]

    piped = messy / "piped.json"
    run = wa_guard("inventory", "--json", piped, "-", stdin=rollout.log.read_bytes())
    assert run.returncode == 0, run.stderr
    assert json.loads(piped.read_text(encoding="utf-8"))["senders"] == inventory.data["senders"]


# --- the HTML report in a browser --------------------------------------------------------
def test_html_report_is_self_contained(inventory):
    html = inventory.html.read_text(encoding="utf-8")
    assert html.lstrip().lower().startswith("<!doctype html")
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", html, re.I), "external resource in the report"
    assert not re.search(r"url\(\s*['\"]?(?:https?:)?//", html, re.I), "external resource in the report's CSS"
    assert "<svg" in html and "data-value=" in html


def test_html_report_renders_in_chromium(inventory, tmp_path):
    if chromium.binary() is None:
        pytest.fail("no `chromium`: run `make apt-deps` (Debian's chromium) or set CHROMIUM", pytrace=False)
    shot = tmp_path / "inventory-report.png"
    with chromium.Chromium(width=1280, height=900) as browser:
        page = browser.open_page(inventory.html)
        assert page.errors == [], "\n".join(map(str, page.errors))
        assert [u for u in page.requested if not u.startswith(("file:", "data:", "about:"))] == []
        charts = page.evaluate("Array.from(document.querySelectorAll('svg')).filter("
                               "s => s.querySelector('[data-value]')).length")
        marks = page.evaluate("document.querySelectorAll('svg [data-value]').length")
        drawn = page.evaluate("Array.from(document.querySelectorAll('svg [data-value]')).filter(e => {"
                              " const r = e.getBoundingClientRect(); return r.width > 0 || r.height > 0; }).length")
        assert charts >= 6, f"{charts} charts with data (senders x numbers, types, scores, rules, time, training)"
        assert marks >= len(wl.SENDERS) and drawn == marks, (marks, drawn)
        page.screenshot(shot)
    png = shot.read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
    target = os.environ.get("WA_GUARD_SCREENSHOT")  # `make inventory-screenshot`
    if target:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, target)


# --- suggest, validate, replay, enforce ------------------------------------------------------
def pattern_matches(pattern: dict[str, str], identity: str) -> bool:
    """An identity pattern of the policy reference (exact, glob, regex, cidr)."""
    [(kind, value)] = pattern.items()
    if kind == "exact":
        return identity == value
    if kind == "glob":
        parts = re.split(r"(\*\*|\*|\?)", value)
        wild = {"**": ".*", "*": "[^/]*", "?": "[^/]"}
        return re.fullmatch("".join(wild.get(p, re.escape(p)) for p in parts), identity) is not None
    if kind == "regex":
        return re.search(value, identity) is not None
    if kind == "cidr":
        try:
            return ipaddress.ip_address(identity) in ipaddress.ip_network(value, strict=False)
        except ValueError:
            return False
    raise AssertionError(f"unknown identity pattern {pattern}")


def origin_of(policy: dict[str, Any], identity: str) -> dict[str, Any] | None:
    """The first origin with a matching pattern, as the filter picks it."""
    return next((o for o in policy["origins"] if any(pattern_matches(p, identity) for p in o["identities"])), None)


@pytest.fixture(scope="module")
def suggested(rollout) -> Path:
    out = rollout.dir / "suggested.json"
    run = wa_guard("inventory", "--suggest-policy", rollout.base, "--out", out, "--evidence", f"{out}.evidence.md",
                   rollout.log)
    assert run.returncode == 0, run.stderr
    return out


def test_suggested_policy_keeps_the_mode_and_shows_its_evidence(suggested, rollout):
    policy = json.loads(suggested.read_text(encoding="utf-8"))
    assert policy["mode"] == "audit"  # as in the base policy
    assert wa_guard("validate", suggested).returncode == 0
    evidence = Path(f"{suggested}.evidence.md").read_text(encoding="utf-8")
    # No sender is proposed as a general assistant silently.
    for sender in wl.SENDERS:
        if sender.kind == "assistant" and sender.declared_role == "unknown":
            assert sender.identity in evidence, sender.key
    # Every observed sender is declared now, with the role its messages support.
    base_ids = [o["id"] for o in json.loads(rollout.base.read_text(encoding="utf-8"))["origins"]]
    assert [o["id"] for o in policy["origins"] if o["id"] in base_ids] == base_ids
    for sender in wl.SENDERS:
        origin = origin_of(policy, sender.identity)
        assert origin is not None, f"{sender.key} is not declared"
        want = "general_assistant" if sender.kind == "assistant" else "customer_service"
        assert origin["role"] == want, (sender.key, origin)
        if sender.kind == "service":
            allowed = origin.get("message_types")
            seen = {s.message_type for s in WORK.sends_of(sender)}
            assert allowed is None or seen <= {t.lower() for t in allowed}, (sender.key, allowed)
    # Every number is linked to the origins that used it (or to no one in particular).
    rules = policy["phone_numbers"]["numbers"]
    for number in {s.phone_number_id for s in WORK.sends}:
        [rule] = [r for r in rules if number in r["path_ids"]]
        users = {origin_of(policy, s.sender.identity)["id"] for s in WORK.sends if s.phone_number_id == number}
        if rule["purpose"] == "customer_service" and rule.get("allowed_origins"):
            assert users <= set(rule["allowed_origins"]), (number, rule)
        if rule["purpose"] == "general_assistant":
            assert all(s.sender.kind == "assistant" for s in WORK.sends if s.phone_number_id == number), rule


def test_suggested_policy_enforced_blocks_exactly_the_assistants(suggested, rollout):
    policy = json.loads(suggested.read_text(encoding="utf-8"))
    policy["mode"] = "enforce"
    enforced = rollout.dir / "suggested-enforce.json"
    enforced.write_text(json.dumps(policy, indent=2) + "\n", encoding="utf-8")
    validate = wa_guard("validate", enforced)
    assert validate.returncode == 0, validate.stdout + validate.stderr

    run = wa_guard("replay", "--old", rollout.base, "--new", enforced, "--format", "json", rollout.traffic)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["requests"] == len(WORK.sends) + len(WORK.uploads)
    assert report["requests"] == len(report["changed"]) + report["unchanged"]
    blocked = {c["id"] for c in report["changed"] if c["new"].get("action") == "block"}
    assert blocked == ASSISTANT_SENDS, {
        "service sends blocked": sorted(blocked & SERVICE_SENDS),
        "assistant sends not blocked": sorted(ASSISTANT_SENDS - blocked),
    }
    # Under the base policy they were audited, not blocked: the switch is what blocks them.
    assert {c["old"]["action"] for c in report["changed"] if c["id"] in ASSISTANT_SENDS} == {"audit"}
    assert not [c for c in report["changed"] if c["id"] in {u.id for u in WORK.uploads}
                and c["new"].get("action") == "block"]
