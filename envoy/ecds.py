#!/usr/bin/env python3
"""Roll a policy (or a module) into a running Envoy through file-based ECDS.

`envoy/dynamic.yaml` gives the guard no inline configuration: its HTTP filter entry
`wa_egress_guard` takes a TypedExtensionConfig from a file (`path_config_source`)
and Envoy re-reads that file whenever a file is *moved* into the watched directory.
This tool renders `envoy/dynamic-filter.yaml` (module path + policy) and installs it
the way the watch expects: it writes a temporary file in the same directory, fsyncs
it, and renames it over the watched path (atomic on one filesystem, so Envoy never
reads a half-written file).

With `--admin-url`, it then waits (bounded) until Envoy has accepted or rejected the
update, reading the ECDS counters on the admin `/stats` endpoint:

    extension_config_discovery.http_filter.wa_egress_guard.update_success
    extension_config_discovery.http_filter.wa_egress_guard.update_rejected

`envoy --mode validate` on dynamic.yaml does not read the ECDS resource (only checks that
the file exists), so `check` is the pre-flight for a roll: it renders the same module and
policy into the static bootstrap egress.yaml and runs `envoy --mode validate` on it, which
loads the module and runs on_configure exactly as the ECDS update will.

CLI:
    python envoy/ecds.py check  --policy P [--wasm W]          # exit 0 = Envoy would accept it
    python envoy/ecds.py render --policy P [--wasm W] [--version V] --out FILE
    python envoy/ecds.py push   --policy P [--wasm W] [--version V] --ecds-file FILE \\
        [--admin-url http://127.0.0.1:9901] [--timeout 30]

`push` exits 0 when the update was accepted (or written, without --admin-url), 1 when
Envoy rejected it (the previous configuration keeps serving; Envoy's log says why),
2 on a usage error or when Envoy answered neither way within the timeout.

Python standard library only.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path

ENVOY_DIR = Path(__file__).resolve().parent
if str(ENVOY_DIR) not in sys.path:
    sys.path.insert(0, str(ENVOY_DIR))

import launch  # noqa: E402

FILTER_TEMPLATE = ENVOY_DIR / "dynamic-filter.yaml"
FILTER_NAME = "wa_egress_guard"
STAT_PREFIX = f"extension_config_discovery.http_filter.{FILTER_NAME}."
OUTCOME_COUNTERS = ("update_success", "update_rejected")


class EcdsError(Exception):
    pass


def render_filter_config(policy_text: str, wasm: str | Path | None = None, version: str | None = None) -> str:
    """The ECDS resource for `policy_text`, with `wasm` as the module (default $WASM or the build output).

    Without `version`, the version is a digest of the rendered resource, so an identical
    push carries an identical version and any change a different one.
    """
    template = FILTER_TEMPLATE.read_text(encoding="utf-8")
    values = {
        "WASM_PATH": str(Path(wasm or launch.wasm_path()).resolve()),
        "POLICY_JSON": policy_text.rstrip("\n"),
    }
    if version is None:
        body = launch.render_template(template, {**values, "VERSION": ""})
        version = "sha256:" + hashlib.sha256(body.encode("utf-8")).hexdigest()[:16]
    return launch.render_template(template, {**values, "VERSION": version})


def write_atomically(path: str | Path, text: str) -> None:
    """Temporary file next to `path`, fsync, rename over `path`, fsync the directory."""
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as tmp:
            tmp.write(text)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def push(ecds_file: str | Path, policy_text: str, wasm: str | Path | None = None, version: str | None = None) -> str:
    """Render and install a new resource; returns its version."""
    text = render_filter_config(policy_text, wasm, version)
    write_atomically(ecds_file, text)
    for line in text.splitlines():
        if line.startswith("version_info:"):
            return line.split(":", 1)[1].strip().strip('"')
    raise EcdsError("rendered resource has no version_info")


def counters(admin_url: str) -> dict[str, int]:
    """The ECDS counters of the guard's filter (update_success, update_rejected, config_reload, ...)."""
    status, body = launch.http_get(f"{admin_url}/stats?filter=^{STAT_PREFIX.replace('.', '[.]')}")
    if status != 200:
        raise EcdsError(f"admin /stats answered {status}")
    out: dict[str, int] = {}
    for line in body.splitlines():
        name, sep, value = line.partition(": ")
        if sep and name.startswith(STAT_PREFIX) and value.strip().isdigit():
            out[name[len(STAT_PREFIX):]] = int(value)
    return out


def version_text(admin_url: str) -> str:
    status, body = launch.http_get(f"{admin_url}/stats?filter=^{STAT_PREFIX.replace('.', '[.]')}version_text$")
    if status != 200:
        raise EcdsError(f"admin /stats answered {status}")
    for line in body.splitlines():
        name, _, value = line.partition(": ")
        if name == f"{STAT_PREFIX}version_text":
            return value.strip().strip('"')
    return ""


def wait_for_outcome(admin_url: str, before: dict[str, int], timeout: float = 30.0) -> str:
    """'accepted' or 'rejected', whichever counter moves first past `before`."""
    deadline = time.monotonic() + timeout
    while True:
        now = counters(admin_url)
        if now.get("update_rejected", 0) > before.get("update_rejected", 0):
            return "rejected"
        if now.get("update_success", 0) > before.get("update_success", 0):
            return "accepted"
        if time.monotonic() >= deadline:
            raise EcdsError(f"Envoy neither accepted nor rejected the update within {timeout}s")
        time.sleep(0.05)


def push_and_wait(
    ecds_file: str | Path,
    admin_url: str,
    policy_text: str,
    wasm: str | Path | None = None,
    version: str | None = None,
    timeout: float = 30.0,
) -> tuple[str, str]:
    """Push, then wait for Envoy's verdict: `(outcome, version)`."""
    before = counters(admin_url)
    pushed = push(ecds_file, policy_text, wasm, version)
    return wait_for_outcome(admin_url, before, timeout), pushed


def check(policy_text: str, wasm: str | Path | None = None, binary: str | None = None) -> tuple[int, str]:
    """`envoy --mode validate` of egress.yaml with this module and policy: `(exit code, output)`."""
    with tempfile.TemporaryDirectory(prefix="wa-guard-check.") as tmp:
        config = Path(tmp) / "check.yaml"
        config.write_text(
            launch.render_bootstrap(ENVOY_DIR / "egress.yaml", policy_text=policy_text, upstream_port=1, wasm=wasm),
            encoding="utf-8",
        )
        return launch.validate_config(config, binary)


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="render / push the guard's ECDS resource")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("check", "render", "push"):
        cmd = sub.add_parser(name)
        cmd.add_argument("--policy", required=True, help="policy JSON file")
        cmd.add_argument("--wasm", default=None, help="module path (default: $WASM or the release build)")
        cmd.add_argument("--version", default=None, help="version_info (default: digest of the resource)")
    sub.choices["render"].add_argument("--out", required=True)
    push_cmd = sub.choices["push"]
    push_cmd.add_argument("--ecds-file", required=True, help="the path dynamic.yaml's ECDS_PATH names")
    push_cmd.add_argument("--admin-url", default=None, help="wait for Envoy's verdict on this admin endpoint")
    push_cmd.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args(argv)

    try:
        policy_text = Path(args.policy).read_text(encoding="utf-8")
        if args.command == "check":
            if args.version is not None:
                parser.error("check takes no --version")
            rc, output = check(policy_text, args.wasm)
            problems = [line for line in output.splitlines()
                        if "invalid policy" in line or "[critical]" in line or "[error]" in line]
            print("\n".join(problems) if rc else "OK: Envoy would accept this module and policy",
                  file=sys.stderr if rc else sys.stdout)
            return 1 if rc else 0
        if args.command == "render":
            Path(args.out).write_text(render_filter_config(policy_text, args.wasm, args.version), encoding="utf-8")
            return 0
        if args.admin_url is None:
            print(f"pushed version {push(args.ecds_file, policy_text, args.wasm, args.version)}")
            return 0
        outcome, version = push_and_wait(args.ecds_file, args.admin_url.rstrip("/"), policy_text, args.wasm,
                                         args.version, args.timeout)
    except (EcdsError, launch.RenderError, OSError) as err:
        print(f"ecds: {err}", file=sys.stderr)
        return 2
    if outcome == "accepted":
        print(f"accepted version {version}")
        return 0
    print(f"REJECTED version {version}: Envoy keeps the previous configuration "
          f"(serving version `{version_text(args.admin_url.rstrip('/'))}`); its log says why", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(_main())
