"""Fixtures for the end-to-end suite: the real Envoy 1.40 (V8) running the real .wasm.

Envoy comes from $ENVOY_BIN (default .venv/bin/envoy), the module from $WASM (default
target/wasm32-wasip1/release/wa_egress_guard.wasm). Every process listens on
127.0.0.1 on kernel-chosen ports; each Envoy runs without hot restart and with its
own --base-id; every wait is bounded; every process is stopped at teardown.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

import e2e_support as es
from e2e_support import launch, stand_in

_RUNNING: list[launch.EnvoyProcess] = []


@pytest.fixture(scope="session")
def envoy_binary() -> str:
    binary = launch.envoy_bin()
    if not os.access(binary, os.X_OK):
        pytest.fail(f"no Envoy at `{binary}`: run `make venv` or set ENVOY_BIN", pytrace=False)
    return binary


@pytest.fixture(scope="session")
def guard_wasm() -> str:
    path = launch.wasm_path()
    if not Path(path).is_file():
        pytest.fail(
            f"no module at `{path}`: run `cargo build -p wa-egress-guard --target wasm32-wasip1 --release` or set WASM",
            pytrace=False,
        )
    return str(Path(path).resolve())


@pytest.fixture(scope="session")
def upstream() -> Iterator[stand_in.StandIn]:
    server = stand_in.StandIn().start()
    yield server
    server.stop()


def policy_text(policy: dict[str, Any] | str) -> str:
    return policy if isinstance(policy, str) else json.dumps(policy, indent=2)


@pytest.fixture(scope="session")
def render(guard_wasm: str, upstream: stand_in.StandIn, tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Renders a bootstrap template to a file and returns its path."""

    def _render(
        policy: dict[str, Any] | str,
        *,
        template: str = "egress.yaml",
        extra: dict[str, Any] | None = None,
        wasm: str | None = None,
        name: str = "bootstrap",
    ) -> Path:
        workdir = tmp_path_factory.mktemp(name)
        text = launch.render_bootstrap(
            es.ENVOY_DIR / template,
            policy_text=policy_text(policy),
            upstream_port=upstream.api_port,
            wasm=wasm or guard_wasm,
            extra=extra,
        )
        path = workdir / "bootstrap.yaml"
        path.write_text(text, encoding="utf-8")
        return path

    return _render


@pytest.fixture(scope="module")
def start_guard(
    envoy_binary: str, upstream: stand_in.StandIn, render: Callable[..., Path]
) -> Iterator[Callable[..., es.GuardedEnvoy]]:
    """Starts an Envoy from a template + policy; all of them stop when the module ends."""
    started: list[launch.EnvoyProcess] = []

    def _start(
        policy: dict[str, Any] | str,
        *,
        name: str = "envoy",
        tls: Any = None,
        concurrency: int = 2,
        **render_args: Any,
    ) -> es.GuardedEnvoy:
        config = render(policy, name=name, **render_args)
        process = launch.EnvoyProcess(config, config.parent, binary=envoy_binary, name=name, concurrency=concurrency)
        started.append(process)
        _RUNNING.append(process)
        process.start()
        return es.GuardedEnvoy(process, process.listener_port(), upstream, tls=tls)

    yield _start
    for process in started:
        process.stop()
        _RUNNING.remove(process)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """On failure, attach the tail of every running Envoy's log and access log."""
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for process in _RUNNING:
            report.sections.append((f"envoy {process.name} log (tail)", process.log_tail(60)))
            if process.stdout_path.exists():
                access = process.stdout_path.read_text(errors="replace").splitlines()[-20:]
                report.sections.append((f"envoy {process.name} access log (tail)", "\n".join(access)))
