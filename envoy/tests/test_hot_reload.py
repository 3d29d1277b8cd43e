"""A new policy takes effect without restarting Envoy, and the traffic flowing while it is
rolled never fails (dynamic.yaml: the guard's config arrives by file-based ECDS).

Two trickles run for the whole test, one request every 20 ms each: the support bot on a
fresh connection per request (always allowed) and the partner bot on one kept-alive
connection (its decision is what the roll changes). The policy is rolled twice
(partner-bots: customer_service -> general_assistant -> customer_service). No request may
get a 5xx or a connection error; the partner's decisions on its connection (one worker)
must switch exactly at the rolls, never flap; and once a roll is confirmed the new
decision holds for every later request."""

from __future__ import annotations

import http.client
import json
import threading
import time
from dataclasses import dataclass, field

import pytest

from e2e_data import PARTNER_IDENTITY, SUPPORT_IDENTITY, SUPPORT_TEXT, partner_policy, text_message
from e2e_support import IDENTITY_HEADER, OTHER_GRAPH_PATH, REQUEST_TIMEOUT_S, ecds, wait_until

INTERVAL_S = 0.02
MAX_REQUESTS = 1500  # per trickle: a hard stop whatever happens (30 s at 20 ms)
SETTLE_S = 0.5  # trickle time before, between and after the rolls
CONFIRM_TIMEOUT_S = 10.0

ALLOWED = partner_policy("customer_service")
BLOCKED = partner_policy("general_assistant")


@dataclass
class Sample:
    started: float
    status: int | None  # None = connection error
    decision: str | None
    rule: str | None
    error: str = ""


@dataclass
class Trickle:
    """Sends one WhatsApp send every INTERVAL_S until stopped (bounded by MAX_REQUESTS)."""

    port: int
    identity: str
    keep_alive: bool
    samples: list[Sample] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def start(self) -> "Trickle":
        self.thread = threading.Thread(target=self._run, name=f"trickle-{self.identity}", daemon=True)
        self.thread.start()
        return self

    def finish(self) -> list[Sample]:
        self.stop.set()
        assert self.thread is not None
        self.thread.join(timeout=REQUEST_TIMEOUT_S + 5)
        assert not self.thread.is_alive(), "trickle thread did not stop"
        return self.samples

    def _run(self) -> None:
        body = json.dumps(text_message(SUPPORT_TEXT)).encode("utf-8")
        headers = {
            "Host": "graph.facebook.com",
            "content-type": "application/json",
            "authorization": "Bearer EAAe2eTestToken",
            IDENTITY_HEADER: self.identity,
        }
        conn: http.client.HTTPConnection | None = None
        try:
            for _ in range(MAX_REQUESTS):
                if self.stop.is_set():
                    return
                started = time.monotonic()
                if conn is None or not self.keep_alive:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT_S)
                try:
                    conn.request("POST", OTHER_GRAPH_PATH, body=body, headers=headers)
                    resp = conn.getresponse()
                    resp.read()
                    self.samples.append(Sample(started, resp.status, resp.getheader("x-wa-guard-decision"),
                                               resp.getheader("x-wa-guard-rule")))
                    if resp.getheader("connection", "").lower() == "close" or not self.keep_alive:
                        conn.close()
                        conn = None
                except (OSError, http.client.HTTPException) as err:
                    self.samples.append(Sample(started, None, None, None, repr(err)))
                    conn.close()
                    conn = None
                time.sleep(max(0.0, INTERVAL_S - (time.monotonic() - started)))
        finally:
            if conn is not None:
                conn.close()


@pytest.fixture(scope="module")
def guard(start_dynamic_guard):
    return start_dynamic_guard(ALLOWED, name="hot-reload")


def partner_decision(guard) -> tuple[int, str | None]:
    reply = guard.send_whatsapp(text_message(SUPPORT_TEXT), identity=PARTNER_IDENTITY, path=OTHER_GRAPH_PATH)
    assert reply.header("x-wa-guard-rule") == "partner-bots", reply
    return reply.status, reply.header("x-wa-guard-decision")


def roll(guard, policy, want: tuple[int, str]) -> tuple[float, float]:
    """Push `policy`, wait until a fresh connection sees `want`, then require 10 more in a row.
    Returns when the push started and when the roll was confirmed."""
    pushed = time.monotonic()
    assert guard.push(policy) == "accepted"
    wait_until(lambda: partner_decision(guard) == want, timeout=CONFIRM_TIMEOUT_S,
               what=f"the rolled policy's decision {want}")
    confirmed = time.monotonic()
    for _ in range(10):
        assert partner_decision(guard) == want
    return pushed, confirmed


def runs(values: list[str | None]) -> list[str | None]:
    out: list[str | None] = []
    for value in values:
        if not out or out[-1] != value:
            out.append(value)
    return out


def test_policy_roll_under_steady_traffic(guard):
    assert partner_decision(guard) == (200, "allow")
    errors_before = guard.stat("http.egress.downstream_rq_5xx")
    success_before = guard.ecds_counters()["update_success"]

    support = Trickle(guard.port, SUPPORT_IDENTITY, keep_alive=False).start()
    partner = Trickle(guard.port, PARTNER_IDENTITY, keep_alive=True).start()
    try:
        time.sleep(SETTLE_S)
        block_pushed, blocked_at = roll(guard, BLOCKED, (403, "block"))
        time.sleep(SETTLE_S)
        unblock_pushed, allowed_at = roll(guard, ALLOWED, (200, "allow"))
        time.sleep(SETTLE_S)
    finally:
        support_samples = support.finish()
        partner_samples = partner.finish()

    print(f"support: {len(support_samples)} requests, partner: {len(partner_samples)} requests; "
          f"push -> confirmed: {blocked_at - block_pushed:.3f} s and {allowed_at - unblock_pushed:.3f} s")
    # Nothing failed: no connection error, no 5xx, on either trickle, and Envoy agrees.
    for samples in (support_samples, partner_samples):
        failures = [s for s in samples if s.status is None or s.status >= 500]
        assert not failures, failures[:5]
    assert guard.stat("http.egress.downstream_rq_5xx") == errors_before
    # Both trickles ran through every phase: before the first push, between the confirmed block
    # and the second push, and after the confirmed allow. (How many requests fit in a phase
    # depends on the machine's load, so the test counts phases, not requests.)
    phases = [(float("-inf"), block_pushed), (blocked_at, unblock_pushed), (allowed_at, float("inf"))]
    for name, samples in (("support", support_samples), ("partner", partner_samples)):
        for begin, end in phases:
            assert sum(begin < s.started < end for s in samples) >= 3, (name, begin, end, len(samples))

    # The support bot is untouched by the rolls.
    assert {(s.status, s.decision, s.rule) for s in support_samples} == {(200, "allow", "support-bots")}

    # The partner's kept-alive connection saw allow -> block -> allow, switching once per roll.
    assert all((s.status, s.decision, s.rule) in {(200, "allow", "partner-bots"), (403, "block", "partner-bots")}
               for s in partner_samples), partner_samples[:5]
    assert runs([s.decision for s in partner_samples]) == ["allow", "block", "allow"]
    # Once a roll was confirmed, its decision held (100 ms margin for a request already in flight).
    assert all(s.decision == "block" for s in partner_samples if blocked_at + 0.1 < s.started < unblock_pushed)
    assert all(s.decision == "allow" for s in partner_samples if s.started > allowed_at + 0.1)

    assert guard.ecds_counters()["update_success"] == success_before + 2
    assert guard.ecds_counters().get("update_rejected", 0) == 0


def test_a_file_written_in_place_is_not_picked_up_only_a_rename_is(guard):
    """Envoy's watch reacts to a file moved into the directory, not to writes: an in-place
    edit of the ECDS file changes nothing (which is why ecds.py renames)."""
    assert partner_decision(guard) == (200, "allow")
    counters = guard.ecds_counters()
    guard.ecds_file.write_text(ecds.render_filter_config(json.dumps(BLOCKED), guard.wasm), encoding="utf-8")
    time.sleep(1.5)
    assert guard.ecds_counters()["update_attempt"] == counters["update_attempt"]
    assert partner_decision(guard) == (200, "allow")
    assert guard.push(BLOCKED) == "accepted"
    wait_until(lambda: partner_decision(guard) == (403, "block"), timeout=CONFIRM_TIMEOUT_S,
               what="the renamed policy's decision")
