#!/usr/bin/env python3
"""Generate the Envoy bootstrap templates (envoy/*.yaml) from one set of parts, so they never drift.

The bootstraps share one egress listener (routes, access log, the guard -> buffer -> router
chain), one set of stats tags, one set of clusters and one Wasm filter config; they differ in a
few places, which this module composes:

  egress.yaml          the egress listener, the guard's config inline
  egress-mtls.yaml     + downstream TLS requiring a client certificate (tls-mtls.yaml)
  sidecar.yaml         egress.yaml with the workload's node metadata (its head)
  dynamic.yaml         the guard's config from file-based ECDS (guard-ecds.yaml) instead of inline
  dynamic-filter.yaml  that ECDS resource: the same Wasm filter config as egress.yaml's
  webhook.yaml         the webhook ingress listener, its guard given the app secret
  conversation.yaml    egress.yaml's listener and webhook.yaml's in one Envoy, one VM config

The parts live in envoy/bootstrap/: `head-<bootstrap>.yaml` holds a file's opening comment and
its `node`, every other part is a block shared by several files (see PARTS below). A part is
plain YAML text at column 0, comments included; this module only indents parts and puts them
in order. Both parts and outputs are TEMPLATES for `envoy/launch.py render`: their double-brace
placeholders are filled at run time, never here (this module has no placeholder syntax of its own;
where a bootstrap names a different run-time value, the name is an argument in Python).

The outputs are committed; tests/test_bootstrap_sync.py checks they equal a fresh generation.

CLI:
    python envoy/bootstraps.py            # rewrite the generated files next to this script
    python envoy/bootstraps.py --check    # exit 1 if a committed file differs from a fresh generation
    options: --out-dir DIR

Python standard library only.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

ENVOY_DIR = Path(__file__).resolve().parent
PARTS_DIR = ENVOY_DIR / "bootstrap"
GENERATED_HEADER = "# GENERATED from envoy/bootstrap/ by `make bootstraps` (python envoy/bootstraps.py): do not edit.\n#\n"
# Webhook bodies are held up to webhook.max_body_bytes (1 MiB by default); the buffer behind the
# guard allows 4 KiB more, so the guard, not the buffer, refuses an oversize delivery.
WEBHOOK_BUFFER_MAX_BYTES = "1052672"


def run_time(name: str) -> str:
    """A placeholder `envoy/launch.py render` fills when Envoy is started (never filled here)."""
    return "{{" + name + "}}"


def part(name: str) -> str:
    """A part of envoy/bootstrap/, as text ending in one newline."""
    return (PARTS_DIR / name).read_text(encoding="utf-8").rstrip("\n") + "\n"


def indent(text: str, columns: int) -> str:
    pad = " " * columns
    return "".join(pad + line if line.strip() else line for line in text.splitlines(keepends=True))


def list_item(mapping: str) -> str:
    """A YAML mapping at column 0 as one item of a block sequence at column 0.

    Comment lines before the mapping's first key stay above the item's dash."""
    lines = mapping.splitlines(keepends=True)
    first_key = next(i for i, line in enumerate(lines) if line.strip() and not line.startswith("#"))
    return ("".join(lines[:first_key]) + "- " + lines[first_key]
            + indent("".join(lines[first_key + 1:]), 2))


def mapping(name: str, block: str) -> str:
    """`name:` with a block mapping as its value."""
    return f"{name}:\n" + indent(block, 2)


def sequence(name: str, items: str) -> str:
    """`name:` with a block sequence as its value, its dashes at the key's column (as the parts write it)."""
    return f"{name}:\n" + items


class GuardConfig(Enum):
    """Where the guard's HTTP filter entry gets its Wasm config from."""

    INLINE = "inline"  # module and policy in the bootstrap (guard-wasm.yaml)
    INLINE_WITH_APP_SECRET = "inline_with_app_secret"  # the same, the app secret in the VM's environment
    ECDS = "ecds"  # file-based ECDS (guard-ecds.yaml; the resource is dynamic-filter.yaml)


def wasm_config(app_secret: bool) -> str:
    """The Wasm filter's typed_config (guard-wasm.yaml keeps vm_config last, so the environment joins it)."""
    return part("guard-wasm.yaml") + (indent(part("guard-app-secret.yaml"), 4) if app_secret else "")


def guard_entry(config: GuardConfig) -> str:
    if config is GuardConfig.ECDS:
        return part("guard-ecds.yaml")
    return list_item("name: envoy.filters.http.wasm\n"
                     + mapping("typed_config", wasm_config(config is GuardConfig.INLINE_WITH_APP_SECRET)))


def http_filters(guard: GuardConfig, buffer_max_bytes: str) -> str:
    """wasm guard -> buffer -> router: the buffer after the guard holds the request headers back
    until the guard has decided (envoy/README.md, "Filter order, and why")."""
    buffer = ("name: envoy.filters.http.buffer\n"
              "typed_config:\n"
              '  "@type": type.googleapis.com/envoy.extensions.filters.http.buffer.v3.Buffer\n'
              f"  max_request_bytes: {buffer_max_bytes}\n")
    router = ("name: envoy.filters.http.router\n"
              "typed_config:\n"
              '  "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router\n')
    return guard_entry(guard) + list_item(buffer) + list_item(router)


def listener(name: str, port: str, connection_manager: str, filters: str, tls: bool = False) -> str:
    """A listener on 127.0.0.1 with one filter chain: an HTTP connection manager whose typed_config
    is the part `connection_manager` plus its HTTP filters."""
    hcm = ("name: envoy.filters.network.http_connection_manager\n"
           + mapping("typed_config", part(connection_manager) + sequence("http_filters", filters)))
    chain = (part("tls-mtls.yaml") if tls else "") + sequence("filters", list_item(hcm))
    return list_item(f"name: {name}\n"
                     "address:\n"
                     "  socket_address: {address: 127.0.0.1, port_value: " + port + "}\n"
                     + sequence("filter_chains", list_item(chain)))


def egress_listener(guard: GuardConfig = GuardConfig.INLINE, tls: bool = False) -> str:
    return listener("egress", run_time("LISTENER_PORT"), "http-egress.yaml",
                    http_filters(guard, run_time("BUFFER_MAX_BYTES")), tls=tls)


def webhook_listener(port: str, buffer_max_bytes: str) -> str:
    return listener("webhook_ingress", port, "http-webhook.yaml",
                    http_filters(GuardConfig.INLINE_WITH_APP_SECRET, buffer_max_bytes))


@dataclass(frozen=True)
class Bootstrap:
    """One generated bootstrap: its head part (opening comment and node), admin, its stats tags
    part, then its listeners (composed above) and its cluster parts."""

    file: str
    stats: str
    listeners: tuple[str, ...]
    clusters: tuple[str, ...]

    def text(self) -> str:
        resources = (sequence("listeners", "".join(self.listeners)) + "\n"
                     + sequence("clusters", "".join(part(name) for name in self.clusters)))
        return (GENERATED_HEADER + part(f"head-{self.file}") + "\n" + part("admin.yaml") + "\n"
                + part(self.stats) + "\n" + mapping("static_resources", resources))


EGRESS_CLUSTERS = ("clusters-egress.yaml",)
WEBHOOK_CLUSTERS = ("cluster-webhook.yaml",)


def bootstraps() -> tuple[Bootstrap, ...]:
    return (
        Bootstrap("egress.yaml", "stats-egress.yaml", (egress_listener(),), EGRESS_CLUSTERS),
        Bootstrap("egress-mtls.yaml", "stats-egress.yaml", (egress_listener(tls=True),), EGRESS_CLUSTERS),
        Bootstrap("sidecar.yaml", "stats-egress.yaml", (egress_listener(),), EGRESS_CLUSTERS),
        Bootstrap("dynamic.yaml", "stats-egress.yaml", (egress_listener(GuardConfig.ECDS),), EGRESS_CLUSTERS),
        Bootstrap("webhook.yaml", "stats-webhook.yaml",
                  (webhook_listener(run_time("LISTENER_PORT"), WEBHOOK_BUFFER_MAX_BYTES),), WEBHOOK_CLUSTERS),
        # One Envoy, one VM config: the egress guard gets the webhook guard's environment too.
        Bootstrap("conversation.yaml", "stats-egress.yaml",
                  (egress_listener(GuardConfig.INLINE_WITH_APP_SECRET),
                   webhook_listener(run_time("WEBHOOK_LISTENER_PORT"), run_time("WEBHOOK_BUFFER_MAX_BYTES"))),
                  EGRESS_CLUSTERS + WEBHOOK_CLUSTERS),
    )


def ecds_resource() -> str:
    """dynamic-filter.yaml: the TypedExtensionConfig dynamic.yaml's guard entry reads, holding
    egress.yaml's Wasm filter config."""
    resource = ('"@type": type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig\n'
                "name: wa_egress_guard\n"
                + mapping("typed_config", wasm_config(app_secret=False)))
    return GENERATED_HEADER + part("head-dynamic-filter.yaml") + sequence("resources", list_item(resource))


def generated() -> dict[str, str]:
    """Every generated file's name (in envoy/) and text."""
    files = {bootstrap.file: bootstrap.text() for bootstrap in bootstraps()}
    files["dynamic-filter.yaml"] = ecds_resource()
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a committed file differs from a fresh generation")
    parser.add_argument("--out-dir", type=Path, default=ENVOY_DIR)
    args = parser.parse_args(argv)
    stale = []
    for name, text in generated().items():
        path = args.out_dir / name
        if args.check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    if stale:
        print(f"not what envoy/bootstraps.py generates: {', '.join(stale)} (run `make bootstraps`)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
