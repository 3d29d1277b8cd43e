#!/usr/bin/env python3
"""Render the egress bootstraps and run Envoy with them, on loopback only.

Shared by the e2e suite (envoy/tests) and the demo (envoy/scripts/demo.sh).

Rendering: a template holds `{{NAME}}` placeholders. A placeholder that stands
alone on its line is a *block*: every line of its value is indented to the
placeholder's column (that is how the policy file lands inside the YAML block
scalar of the plugin configuration, verbatim). Rendering fails if any placeholder
is left unfilled or a value was given for a name the template does not use.

Running: `EnvoyProcess` starts the binary with a kernel-chosen admin port
(`--admin-address-path`), hot restart disabled and a base id of its own,
waits (bounded) for admin `/ready`, finds the listener ports through admin
`/listeners`, and kills the process on stop.

CLI (for the demo):
    python envoy/launch.py render --template envoy/egress.yaml --policy P --wasm W \
        --upstream-port N --out F [--set NAME=VALUE ...]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ENVOY_DIR = Path(__file__).resolve().parent
REPO_ROOT = ENVOY_DIR.parent
DEFAULT_ENVOY_BIN = REPO_ROOT / ".venv" / "bin" / "envoy"
DEFAULT_WASM = REPO_ROOT / "target" / "wasm32-wasip1" / "release" / "wa_egress_guard.wasm"

DEFAULT_MAX_BODY_BYTES = 65536
BUFFER_SLACK_BYTES = 4096
# Envoy's default per-connection buffer limit, and so the most one HTTP/1.1 read hands a filter
# as a single body chunk (the bootstraps leave per_connection_buffer_limit_bytes unset).
READ_CHUNK_BYTES = 1 << 20
HTTP_TIMEOUT_S = 5.0

_PLACEHOLDER = re.compile(r"\{\{([A-Z][A-Z0-9_]*)\}\}")


class RenderError(Exception):
    pass


class EnvoyStartError(Exception):
    pass


def envoy_bin() -> str:
    return os.environ.get("ENVOY_BIN") or str(DEFAULT_ENVOY_BIN)


def wasm_path() -> str:
    return os.environ.get("WASM") or str(DEFAULT_WASM)


def buffer_limit_for(policy_text: str) -> int:
    """Buffer filter limit: the policy's limits.max_body_bytes plus a little slack.

    The guard must be the one that decides about an oversize body (rule
    `body_limit`), so the buffer behind it never refuses first.
    """
    try:
        limits = json.loads(policy_text).get("limits", {})
        max_body = int(limits.get("max_body_bytes", DEFAULT_MAX_BODY_BYTES))
    except (ValueError, AttributeError, TypeError):
        max_body = DEFAULT_MAX_BODY_BYTES
    return max(max_body, 1) + BUFFER_SLACK_BYTES


def media_buffer_limit_for(policy_text: str) -> int:
    """Stream buffer limit on the media upload route, where the buffer filter is off.

    The guard holds a media upload until it is larger than limits.max_body_bytes, then lets
    an image, audio or video stream; Envoy appends each chunk before the guard sees it, so the
    limit must hold max_body_bytes plus one whole chunk, or Envoy answers 413 first.
    """
    return buffer_limit_for(policy_text) + READ_CHUNK_BYTES


def webhook_virtual_hosts(policy_text: str) -> str:
    """The webhook ingress route's virtual hosts, from the policy's `webhook` section.

    Only the section's hosts (any port) and path prefixes reach the business's endpoint, the
    requests the guard checks; any other host or path is answered 404 by Envoy, so a forged
    delivery cannot reach the endpoint under a name the guard does not govern. A prefix matches
    on a segment boundary (`path_separated_prefix`), as the guard's `matches_path` does.
    """
    try:
        section = json.loads(policy_text).get("webhook") or {}
        hosts = [str(h) for h in section.get("hosts", [])]
        prefixes = [str(p) for p in section.get("path_prefixes", [])]
    except (ValueError, AttributeError, TypeError) as e:
        raise RenderError(f"the policy's webhook section is unreadable: {e}") from e
    if not hosts or not prefixes:
        raise RenderError("the webhook route needs the policy's webhook.hosts and webhook.path_prefixes")
    domains = ", ".join(json.dumps(d) for h in hosts for d in (h, f"{h}:*"))
    lines = ["- name: webhook_endpoint", f"  domains: [{domains}]", "  routes:"]
    for prefix in prefixes:
        trimmed = prefix.rstrip("/")
        match = f"path_separated_prefix: {json.dumps(trimmed)}" if trimmed else 'prefix: "/"'
        lines += [f"  - match: {{{match}}}", "    route: {cluster: webhook_endpoint, timeout: 30s}"]
    lines += [
        "  - match: {prefix: \"/\"}",
        "    direct_response: {status: 404}",
        "- name: not_the_webhook",
        "  domains: [\"*\"]",
        "  routes:",
        "  - match: {prefix: \"/\"}",
        "    direct_response: {status: 404}",
    ]
    return "\n".join(lines)


def render_template(template: str, values: dict[str, Any]) -> str:
    used: set[str] = set()
    out_lines: list[str] = []
    for line in template.splitlines(keepends=True):
        stripped = line.strip()
        block = _PLACEHOLDER.fullmatch(stripped)
        if block:
            name = block.group(1)
            if name not in values:
                raise RenderError(f"placeholder `{name}` has no value")
            used.add(name)
            indent = line[: len(line) - len(line.lstrip())]
            text = str(values[name])
            value_lines = text.splitlines() or [""]
            out_lines.extend(f"{indent}{v}\n" if v else "\n" for v in value_lines)
            continue

        def inline(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in values:
                raise RenderError(f"placeholder `{name}` has no value")
            used.add(name)
            value = str(values[name])
            if "\n" in value:
                raise RenderError(f"placeholder `{name}` is inline but its value spans lines")
            return value

        out_lines.append(_PLACEHOLDER.sub(inline, line))
    unused = set(values) - used
    if unused:
        raise RenderError(f"values given for placeholders the template lacks: {sorted(unused)}")
    return "".join(out_lines)


def render_bootstrap(
    template_path: str | Path,
    *,
    policy_text: str,
    upstream_port: int,
    wasm: str | Path | None = None,
    listener_port: int = 0,
    admin_port: int = 0,
    extra: dict[str, Any] | None = None,
) -> str:
    template = Path(template_path).read_text(encoding="utf-8")
    defaults: dict[str, Any] = {
        "LISTENER_PORT": listener_port,
        "ADMIN_PORT": admin_port,
        "WASM_PATH": str(Path(wasm or wasm_path()).resolve()),
        "POLICY_JSON": policy_text.rstrip("\n"),
        "BUFFER_MAX_BYTES": buffer_limit_for(policy_text),
        "MEDIA_BUFFER_MAX_BYTES": media_buffer_limit_for(policy_text),
        "UPSTREAM_PORT": upstream_port,
    }
    # A template may leave out some of the standard values (dynamic.yaml takes the module and
    # the policy from its ECDS file, not from the bootstrap); `extra` values must all be used.
    used = set(_PLACEHOLDER.findall(template))
    values = {name: value for name, value in defaults.items() if name in used}
    if "WEBHOOK_VIRTUAL_HOSTS" in used:
        values["WEBHOOK_VIRTUAL_HOSTS"] = webhook_virtual_hosts(policy_text)
    values.update(extra or {})
    return render_template(template, values)


def http_get(url: str, timeout: float = HTTP_TIMEOUT_S) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (loopback admin only)
            return resp.status, resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode("utf-8", "replace")


def validate_config(config_path: str | Path, binary: str | None = None, timeout: float = 60.0) -> tuple[int, str]:
    """`envoy --mode validate`: loads the module and runs vm_start + configure."""
    proc = subprocess.run(
        [binary or envoy_bin(), "--mode", "validate", "-c", str(config_path), "-l", "info",
         "--component-log-level", "wasm:info"],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return proc.returncode, proc.stdout + proc.stderr


_base_ids = itertools.count()


def next_base_id() -> int:
    """Distinct per Envoy this process runs at once (up to 64) and across concurrent processes."""
    return (os.getpid() * 64 + next(_base_ids) % 64) % (2**31)


class EnvoyProcess:
    """One Envoy on loopback, started from a rendered bootstrap."""

    def __init__(
        self,
        config_path: str | Path,
        workdir: str | Path,
        *,
        binary: str | None = None,
        concurrency: int = 2,
        name: str = "envoy",
    ) -> None:
        self.config_path = Path(config_path)
        self.workdir = Path(workdir)
        self.binary = binary or envoy_bin()
        self.concurrency = concurrency
        self.name = name
        self.admin_address_path = self.workdir / f"{name}.admin"
        self.log_path = self.workdir / f"{name}.log"
        self.stdout_path = self.workdir / f"{name}.stdout"
        self.proc: subprocess.Popen[bytes] | None = None
        self.admin_url = ""

    def start(self, ready_timeout: float = 30.0) -> "EnvoyProcess":
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.admin_address_path.unlink(missing_ok=True)
        cmd = [
            self.binary,
            "-c", str(self.config_path),
            # No hot restart: no shared-memory region, so Envoys on one machine never collide
            # (and Envoy 1.40 leaves no /dev/shm/envoy_shared_memory_* behind). The base id is
            # still distinct per process in case someone re-enables hot restart.
            "--disable-hot-restart",
            "--base-id", str(next_base_id()),
            "--admin-address-path", str(self.admin_address_path),
            # Flush the access log quickly so tests and the demo can read it while Envoy runs.
            "--file-flush-interval-msec", "100",
            "-l", "info",
            "--component-log-level", "wasm:info",
            "--concurrency", str(self.concurrency),
        ]
        # Envoy's own log goes to stderr (unbuffered) -> log_path; the access log to stdout -> stdout_path.
        with open(self.stdout_path, "wb") as stdout, open(self.log_path, "wb") as stderr:
            self.proc = subprocess.Popen(cmd, stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL)
        try:
            self._wait_ready(ready_timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise EnvoyStartError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
            if not self.admin_url and self.admin_address_path.exists():
                address = self.admin_address_path.read_text(encoding="utf-8").strip()
                if address:
                    self.admin_url = f"http://{address}"
            if self.admin_url:
                try:
                    status, body = http_get(f"{self.admin_url}/ready", timeout=1.0)
                    if status == 200 and body.strip() == "LIVE":
                        return
                except OSError:
                    pass
            time.sleep(0.05)
        raise EnvoyStartError(f"{self.name} not ready after {timeout}s:\n{self.log_tail()}")

    def listener_port(self, name: str = "egress") -> int:
        status, body = http_get(f"{self.admin_url}/listeners?format=json")
        if status != 200:
            raise EnvoyStartError(f"admin /listeners answered {status}")
        for listener in json.loads(body).get("listener_statuses", []):
            if listener.get("name") == name:
                return int(listener["local_address"]["socket_address"]["port_value"])
        raise EnvoyStartError(f"listener `{name}` not found in {body}")

    def admin(self, path: str) -> str:
        status, body = http_get(f"{self.admin_url}{path}")
        if status != 200:
            raise EnvoyStartError(f"admin {path} answered {status}: {body[:200]}")
        return body

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_text() or (self.stdout_path.read_text(errors="replace") if self.stdout_path.exists() else "")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 5.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=timeout)


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="render an egress bootstrap template")
    sub = parser.add_subparsers(dest="command", required=True)
    render = sub.add_parser("render")
    render.add_argument("--template", required=True)
    render.add_argument("--policy", required=True, help="policy JSON file (becomes the plugin configuration)")
    render.add_argument("--wasm", default=None, help="default: $WASM or target/wasm32-wasip1/release/wa_egress_guard.wasm")
    render.add_argument("--upstream-port", type=int, required=True)
    render.add_argument("--listener-port", type=int, default=0)
    render.add_argument("--admin-port", type=int, default=0)
    render.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="extra placeholder values")
    render.add_argument("--out", required=True)
    args = parser.parse_args(argv)

    extra = {}
    for item in args.set:
        name, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--set expects NAME=VALUE, got `{item}`")
        extra[name] = value
    try:
        text = render_bootstrap(
            args.template,
            policy_text=Path(args.policy).read_text(encoding="utf-8"),
            upstream_port=args.upstream_port,
            wasm=args.wasm,
            listener_port=args.listener_port,
            admin_port=args.admin_port,
            extra=extra,
        )
    except (RenderError, OSError) as err:
        print(f"render: {err}", file=sys.stderr)
        return 2
    Path(args.out).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(_main())
