"""A roll that points the guard at a missing or corrupt .wasm is refused, and nothing goes
through unfiltered: Envoy rejects the ECDS update (it loads the module on the main thread
before swapping anything), the previous VM keeps filtering, and the log says why. Rolling a
good module from a new path afterwards is accepted (that is how a new module version is
rolled: a new file, never an overwrite of the one in use)."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest

from e2e_data import ASSISTANT_IDENTITY, SUPPORT_IDENTITY, SUPPORT_TEXT, partner_policy, text_message
from e2e_support import OTHER_GRAPH_PATH, wait_until


@pytest.fixture(scope="module")
def guard(start_dynamic_guard):
    return start_dynamic_guard(partner_policy("customer_service"), name="reload-module")


@pytest.fixture(scope="module")
def bad_modules(tmp_path_factory, guard_wasm) -> dict[str, tuple[Path, tuple[str, ...]]]:
    """name -> (path, what Envoy's log says about it)."""
    folder = tmp_path_factory.mktemp("bad-modules")
    real = Path(guard_wasm).read_bytes()
    random_bytes = folder / "random.wasm"
    random_bytes.write_bytes(random.Random(5).randbytes(64 * 1024))
    truncated = folder / "truncated.wasm"
    truncated.write_bytes(real[: len(real) // 2])
    empty = folder / "empty.wasm"
    empty.write_bytes(b"")
    unable = "Filesystem config update rejected: Unable to create Wasm plugin wa_egress_guard"
    corrupted = "Wasm VM failed Failed to parse corrupted Wasm module"
    return {
        "missing": (folder / "does-not-exist.wasm", (f"Filesystem config update rejected: Invalid path: {folder}",)),
        "random-bytes": (random_bytes, (corrupted, unable)),
        "truncated": (truncated, (corrupted, unable)),
        "empty": (empty, (unable,)),
    }


def assert_still_filtered(guard) -> None:
    """Both decisions come from the guard: the allowed reply carries the guard's headers,
    which only the filter adds, and the assistant is blocked by its origin rule."""
    support = guard.send_whatsapp(text_message(SUPPORT_TEXT), identity=SUPPORT_IDENTITY, path=OTHER_GRAPH_PATH)
    assert (support.status, support.header("x-wa-guard-decision"), support.header("x-wa-guard-rule")) == (
        200, "allow", "support-bots"), support
    assistant = guard.send_whatsapp(text_message(SUPPORT_TEXT), identity=ASSISTANT_IDENTITY, path=OTHER_GRAPH_PATH)
    assert (assistant.status, assistant.header("x-wa-guard-rule")) == (403, "assistant-lab"), assistant
    guard.settle()
    assert guard.received(assistant) == []


@pytest.mark.parametrize("which", ["missing", "random-bytes", "truncated", "empty"])
def test_bad_module_roll_is_rejected_and_the_previous_vm_keeps_filtering(guard, bad_modules, which):
    path, says = bad_modules[which]
    assert_still_filtered(guard)
    version = guard.ecds_version()
    counters = guard.ecds_counters()
    log_offset = len(guard.log_text())

    assert guard.push(partner_policy("general_assistant"), wasm=str(path)) == "rejected"

    after = guard.ecds_counters()
    assert after["update_rejected"] == counters["update_rejected"] + 1
    assert after["update_success"] == counters["update_success"]
    assert guard.ecds_version() == version
    wait_until(lambda: "Filesystem config update rejected" in guard.log_text()[log_offset:], timeout=5,
               what="the rejection log line")
    new_log = guard.log_text()[log_offset:]
    assert all(line in new_log for line in says), new_log[-3000:]
    assert_still_filtered(guard)


def test_a_good_module_from_a_new_path_is_accepted(guard, tmp_path_factory):
    fresh = tmp_path_factory.mktemp("module-v2") / "wa_egress_guard.wasm"
    shutil.copyfile(guard.wasm, fresh)
    assert guard.push(partner_policy("customer_service", salt="module-v2"), wasm=str(fresh)) == "accepted"
    assert_still_filtered(guard)
