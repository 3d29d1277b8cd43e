"""The bootstrap's failure_policy (FAIL_RELOAD) keeps a crashed guard fail-closed.

The real guard has no crash path to trigger on purpose, so this uses a minimal
module (fixtures/trap.wat) that traps when asked, loaded by the same bootstrap
template. It shows: the trapping request gets 503 and never reaches the upstream,
requests right after the crash get 503 too (closed, not open), and traffic is
inspected again once Envoy has reloaded the VM."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest

from e2e_data import e2e_policy, text_message
from e2e_support import FIXTURES_DIR, OTHER_GRAPH_PATH

RECOVERY_TIMEOUT_S = 15.0


@pytest.fixture(scope="module")
def trap_wasm(tmp_path_factory):
    wasm_as = shutil.which("wasm-as")
    assert wasm_as is not None, "binaryen's wasm-as is required (make apt-deps installs it)"
    out = tmp_path_factory.mktemp("trap") / "trap.wasm"
    subprocess.run([wasm_as, str(FIXTURES_DIR / "trap.wat"), "-o", str(out)], check=True, timeout=30)
    return str(out)


@pytest.fixture
def guard(start_guard, trap_wasm, request):
    # One worker, so the request after the crash meets the crashed VM (each worker has its own).
    return start_guard(e2e_policy(), wasm=trap_wasm, name=f"trap-{request.node.name[:20]}", concurrency=1)


def send(guard, **headers):
    return guard.send_whatsapp(text_message("hello"), path=OTHER_GRAPH_PATH, headers=headers)


def wait_for_recovery(guard) -> float:
    start = time.monotonic()
    while time.monotonic() - start < RECOVERY_TIMEOUT_S:
        reply = send(guard)
        if reply.status == 200:
            return time.monotonic() - start
        assert reply.status == 503, reply  # while failed: closed, never open
        time.sleep(0.1)
    raise AssertionError(f"the guard VM was not reloaded within {RECOVERY_TIMEOUT_S}s")


def test_trap_in_headers_fails_closed_then_reloads(guard):
    assert send(guard).status == 200  # healthy first

    before = guard.stat("cluster.whatsapp_upstream.upstream_rq_total")
    crashed = send(guard, **{"x-trap": "1"})
    assert crashed.status == 503, crashed
    right_after = send(guard)
    assert right_after.status == 503, "a crashed guard must fail closed"
    other_host = guard.request("GET", "status.example.org", "/")
    assert other_host.status == 503, "the crashed filter closes every route it is on"
    assert guard.stat("cluster.whatsapp_upstream.upstream_rq_total") == before

    wait_for_recovery(guard)
    guard.settle()
    assert guard.received(crashed) == [] and guard.received(right_after) == []


def test_trap_in_body_never_leaks_headers_upstream(guard):
    """The crash happens after the headers were let through by the guard; the buffer
    filter behind it still holds them, so the upstream sees nothing."""
    before = guard.stat("cluster.whatsapp_upstream.upstream_rq_total")
    crashed = send(guard, **{"x-trap-body": "1"})
    assert crashed.status == 503, crashed
    assert guard.stat("cluster.whatsapp_upstream.upstream_rq_total") == before
    wait_for_recovery(guard)
    guard.settle()
    assert guard.received(crashed) == []
