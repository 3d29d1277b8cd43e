"""Fixtures for the end-to-end suite: the real Envoy 1.40 (V8) running the real .wasm.

Envoy comes from $ENVOY_BIN (default .venv/bin/envoy), the module from $WASM (default
target/wasm32-wasip1/release/wa_egress_guard.wasm). Every process listens on
127.0.0.1 on kernel-chosen ports; each Envoy runs without hot restart and with its
own --base-id; every wait is bounded; every process is stopped at teardown.
"""

from __future__ import annotations

import json
import os
import shutil
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


@pytest.fixture(scope="module")
def start_dynamic_guard(
    envoy_binary: str, guard_wasm: str, upstream: stand_in.StandIn, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., es.DynamicGuard]]:
    """Starts an Envoy from dynamic.yaml whose guard config is the ECDS file `<workdir>/ecds/guard.yaml`,
    first written with `policy`. The module is copied into the workdir first, so a rebuild of
    the shared target/ during the test cannot change the code under it."""
    started: list[launch.EnvoyProcess] = []

    def _start(
        policy: dict[str, Any] | str, *, name: str = "dynamic", wasm: str | None = None, concurrency: int = 2
    ) -> es.DynamicGuard:
        workdir = tmp_path_factory.mktemp(name)
        ecds_dir = workdir / "ecds"
        ecds_dir.mkdir()
        module = wasm
        if module is None:
            module = str(workdir / "wa_egress_guard.wasm")
            shutil.copyfile(guard_wasm, module)
        ecds_file = ecds_dir / "guard.yaml"
        es.ecds.push(ecds_file, policy_text(policy), module)
        config = workdir / "bootstrap.yaml"
        config.write_text(
            launch.render_bootstrap(
                es.ENVOY_DIR / "dynamic.yaml",
                policy_text=policy_text(policy),
                upstream_port=upstream.api_port,
                extra={"ECDS_PATH": str(ecds_file), "ECDS_DIR": str(ecds_dir)},
            ),
            encoding="utf-8",
        )
        process = launch.EnvoyProcess(config, workdir, binary=envoy_binary, name=name, concurrency=concurrency)
        started.append(process)
        _RUNNING.append(process)
        process.start()
        guard = es.DynamicGuard(process, process.listener_port(), upstream, ecds_file=ecds_file, wasm=module)
        # The first resource is read while the listener warms; wait (bounded) for Envoy's verdict on it.
        es.wait_until(lambda: sum(guard.ecds_counters().get(k, 0) for k in es.ecds.OUTCOME_COUNTERS) >= 1,
                      timeout=30, what="Envoy's verdict on the first ECDS resource")
        return guard

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
