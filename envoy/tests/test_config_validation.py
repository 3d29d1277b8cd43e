"""A policy that does not validate is refused by Envoy itself: `envoy --mode validate`
(which loads the module and runs configure) exits non-zero naming the problem, and a
real start fails; a valid policy passes."""

from __future__ import annotations

import copy
import json

import pytest

from e2e_data import BAD_POLICY_UNKNOWN_FIELD, e2e_policy
from e2e_support import launch


def bad_regex_policy():
    policy = e2e_policy()
    policy["origins"][1]["identities"] = [{"regex": "^spiffe://(unclosed"}]
    return policy


def untrusted_header_source_policy():
    policy = e2e_policy()
    policy["identity"]["sources"][0] = {"type": "header", "name": "x-wa-guard-identity", "trusted_peers": {}}
    return policy


def test_valid_policy_validates(render, envoy_binary):
    rc, output = launch.validate_config(render(e2e_policy(), name="valid"), envoy_binary)
    assert rc == 0, output
    assert "OK" in output


@pytest.mark.parametrize(
    "policy, problem",
    [
        (BAD_POLICY_UNKNOWN_FIELD, "`$.mdoe`: unknown field"),
        (bad_regex_policy(), "`$.origins[1].identities[0]`: invalid regex"),
        (untrusted_header_source_policy(), "`$.identity.sources[0].trusted_peers`"),
        ('{"mode": "enforce", ', "invalid policy: `$`"),
    ],
    ids=["unknown-field", "bad-regex", "header-without-trusted-peers", "not-json"],
)
def test_invalid_policy_is_refused_by_validate(render, envoy_binary, policy, problem):
    rc, output = launch.validate_config(render(policy, name="invalid"), envoy_binary)
    assert rc != 0, output
    guard_lines = [l for l in output.splitlines() if "wa-egress-guard" in l]
    assert any(problem in l for l in guard_lines), "\n".join(guard_lines) or output[-3000:]


def test_invalid_policy_stops_a_real_start(render, envoy_binary):
    config = render(BAD_POLICY_UNKNOWN_FIELD, name="invalid-start")
    process = launch.EnvoyProcess(config, config.parent, binary=envoy_binary, name="invalid-start")
    with pytest.raises(launch.EnvoyStartError):
        process.start(ready_timeout=20)
    assert process.proc is not None and process.proc.returncode not in (None, 0)
    assert "mdoe" in process.log_text()
