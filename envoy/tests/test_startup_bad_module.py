"""A missing or corrupt module at startup never yields an unfiltered proxy.

* Static bootstrap (egress.yaml): `envoy --mode validate` exits non-zero naming the
  problem, and a real start exits non-zero before serving anything.
* ECDS bootstrap (dynamic.yaml): Envoy starts (the listener does not depend on the
  module), but the guard's filter has no accepted configuration, so every request on
  every host gets a local 500 (response flag NFCF, "no filter config found") and nothing
  reaches an upstream. The first valid roll heals it. A missing ECDS file stops the start.
* `envoy --mode validate` of dynamic.yaml does not read the ECDS resource;
  `envoy/ecds.py check` is the pre-flight that does (it validates the module and policy
  through egress.yaml)."""

from __future__ import annotations

import json
import random
import subprocess
import sys

import pytest

from e2e_data import (
    ASSISTANT_IDENTITY,
    BAD_POLICY_UNKNOWN_FIELD,
    SUPPORT_IDENTITY,
    SUPPORT_TEXT,
    e2e_policy,
    text_message,
)
from e2e_support import ENVOY_DIR, GRAPH_PATH, OTHER_GRAPH_PATH, launch, wait_until


@pytest.fixture(scope="module")
def bad_modules(tmp_path_factory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("startup-modules")
    corrupt = folder / "corrupt.wasm"
    corrupt.write_bytes(random.Random(7).randbytes(32 * 1024))
    return {"missing": str(folder / "does-not-exist.wasm"), "corrupt": str(corrupt)}


EXPECTED = {
    "missing": "Invalid path",
    "corrupt": "Unable to create Wasm plugin wa_egress_guard",
}


@pytest.mark.parametrize("which", ["missing", "corrupt"])
def test_static_bootstrap_with_bad_module_does_not_validate(render, envoy_binary, bad_modules, which):
    rc, output = launch.validate_config(render(e2e_policy(), wasm=bad_modules[which], name=f"validate-{which}"),
                                        envoy_binary)
    assert rc != 0, output[-3000:]
    assert EXPECTED[which] in output


@pytest.mark.parametrize("which", ["missing", "corrupt"])
def test_static_bootstrap_with_bad_module_does_not_start(render, envoy_binary, bad_modules, which):
    config = render(e2e_policy(), wasm=bad_modules[which], name=f"start-{which}")
    process = launch.EnvoyProcess(config, config.parent, binary=envoy_binary, name=f"start-{which}")
    with pytest.raises(launch.EnvoyStartError):
        process.start(ready_timeout=20)
    assert process.proc is not None and process.proc.returncode not in (None, 0)
    assert EXPECTED[which] in process.log_text()


@pytest.fixture(scope="module")
def dark_guard(start_dynamic_guard, bad_modules):
    return start_dynamic_guard(e2e_policy(), wasm=bad_modules["corrupt"], name="dynamic-dark")


def test_dynamic_bootstrap_with_bad_module_serves_nothing_unfiltered(dark_guard):
    counters = dark_guard.ecds_counters()
    assert (counters["update_rejected"], counters.get("update_success", 0)) == (1, 0), counters
    upstream_before = sum(dark_guard.stat(f"cluster.{c}.upstream_rq_total")
                          for c in ("whatsapp_upstream", "training_upstream", "other_upstream"))
    replies = [
        dark_guard.send_whatsapp(text_message(SUPPORT_TEXT), identity=SUPPORT_IDENTITY, path=GRAPH_PATH),
        dark_guard.send_whatsapp(text_message(SUPPORT_TEXT), identity=ASSISTANT_IDENTITY, path=OTHER_GRAPH_PATH),
        dark_guard.request("POST", "api.openai.com", "/v1/files", b'{"wa_id": "1"}\n'),
        dark_guard.request("GET", "status.example.org", "/"),
    ]
    assert [r.status for r in replies] == [500] * len(replies), replies
    assert all(r.header("x-wa-guard-decision") is None for r in replies)
    assert all(dark_guard.received(r) == [] for r in replies)
    assert sum(dark_guard.stat(f"cluster.{c}.upstream_rq_total")
               for c in ("whatsapp_upstream", "training_upstream", "other_upstream")) == upstream_before
    wait_until(lambda: dark_guard.process.stdout_path.read_text(errors="replace").count(" 500 NFCF ") >= len(replies),
               timeout=5, what="NFCF in the access log")


def test_dynamic_bootstrap_heals_with_the_first_valid_roll(dark_guard, guard_wasm, tmp_path_factory):
    module = tmp_path_factory.mktemp("dark-heal") / "wa_egress_guard.wasm"
    module.write_bytes(open(guard_wasm, "rb").read())
    assert dark_guard.push(e2e_policy(), wasm=str(module), timeout=60) == "accepted"
    support = dark_guard.send_whatsapp(text_message(SUPPORT_TEXT), identity=SUPPORT_IDENTITY, path=GRAPH_PATH)
    assert (support.status, support.header("x-wa-guard-decision")) == (200, "allow"), support
    assistant = dark_guard.send_whatsapp(text_message(SUPPORT_TEXT), identity=ASSISTANT_IDENTITY,
                                         path=OTHER_GRAPH_PATH)
    assert (assistant.status, assistant.header("x-wa-guard-rule")) == (403, "assistant-lab"), assistant


def test_dynamic_bootstrap_without_its_ecds_file_does_not_start(envoy_binary, upstream, tmp_path):
    ecds_dir = tmp_path / "ecds"
    ecds_dir.mkdir()
    config = tmp_path / "bootstrap.yaml"
    config.write_text(launch.render_bootstrap(
        ENVOY_DIR / "dynamic.yaml", policy_text=json.dumps(e2e_policy()), upstream_port=upstream.api_port,
        extra={"ECDS_PATH": str(ecds_dir / "guard.yaml"), "ECDS_DIR": str(ecds_dir)}), encoding="utf-8")
    process = launch.EnvoyProcess(config, tmp_path, binary=envoy_binary, name="dynamic-no-file")
    with pytest.raises(launch.EnvoyStartError):
        process.start(ready_timeout=20)
    assert "does not exist" in process.log_text()


@pytest.mark.parametrize("policy, module, accepted", [
    (e2e_policy(), None, True),
    (BAD_POLICY_UNKNOWN_FIELD, None, False),
    (e2e_policy(), "corrupt", False),
], ids=["valid", "invalid-policy", "corrupt-module"])
def test_ecds_check_is_the_preflight(envoy_binary, guard_wasm, bad_modules, tmp_path, policy, module, accepted):
    policy_file = tmp_path / "policy.json"
    policy_file.write_text(json.dumps(policy), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(ENVOY_DIR / "ecds.py"), "check", "--policy", str(policy_file),
         "--wasm", bad_modules[module] if module else guard_wasm],
        capture_output=True, text=True, timeout=120, check=False,
        env={"ENVOY_BIN": envoy_binary, "PATH": "/usr/bin:/bin"},
    )
    assert (proc.returncode == 0) == accepted, proc.stdout + proc.stderr
    if not accepted:
        assert "Unable to create Wasm plugin wa_egress_guard" in proc.stderr
