"""The setups of the Envoy under test, and the rendering of their bootstraps.

Every setup is envoy/egress.yaml rendered by `launch.render_bootstrap` (the same listener,
routes, per-route buffer settings, access log and stats tags) and differs only in its first
HTTP filter:

  bare             none: buffer -> router
  floor_headers    the floor module configured `{"body": "none"}`: reads the request headers,
                   holds the body to its end without reading it (the floor before issue 13)
  floor            the floor module: reads the headers, then the whole body once with
                   get_http_request_body at its end, and scans it
  guard            wa-egress-guard with policies/default.json
  lua              envoy.filters.http.lua running wa_check.lua (the nearest Lua equivalent)
  guard_nocontent  (diagnostic) the guard with content.enabled=false
  floor_hostcalls  (diagnostic) the floor making the guard's hostcalls of an allowed send

A wasm setup is the template rendered with its module and its plugin configuration as
parameters (the floor ignores the guard's root id, and takes its variant from the
configuration); every setup keeps the guard policy's buffer limits, so only the filter
differs. bare and lua cannot be said with the template's parameters: they are the rendered
guard bootstrap, read as YAML, with its wasm entry removed or replaced by the Lua filter.
"""

from __future__ import annotations

import enum
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

import launch  # envoy/launch.py
import lua_lexicon
from progress import log

BENCH_DIR = Path(__file__).resolve().parent
ENVOY_DIR = BENCH_DIR.parent
REPO = ENVOY_DIR.parent
EGRESS_TEMPLATE = ENVOY_DIR / "egress.yaml"
UPSTREAM_TEMPLATE = BENCH_DIR / "upstream.yaml"
DEFAULT_POLICY = REPO / "policies" / "default.json"
FLOOR_MANIFEST = BENCH_DIR / "floor" / "Cargo.toml"
FLOOR_TARGET_DIR = REPO / "target" / "bench-floor"
FLOOR_WASM = FLOOR_TARGET_DIR / "wasm32-wasip1" / "release" / "bench_floor.wasm"
FLOOR_BUILD_TIMEOUT_S = 900
LUA_LEXICON_THRESHOLD = 1.2
LUA_FILTER_TYPE = "type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua"
WASM_FILTER = "envoy.filters.http.wasm"
BUFFER_FILTER = "envoy.filters.http.buffer"


class Filter(enum.Enum):
    """The first HTTP filter of a setup, before the buffer and the router."""

    NONE = "none"
    FLOOR = "floor"
    GUARD = "guard"
    LUA = "lua"


@dataclass(frozen=True)
class Setup:
    name: str
    filter: Filter
    # The floor's plugin configuration (FLOOR only).
    floor_configuration: str = "{}"
    # The guard's policy is policies/default.json, with the content classifier on or off (GUARD only).
    content_enabled: bool = True
    diagnostic: bool = False


SETUPS: tuple[Setup, ...] = (
    Setup("bare", Filter.NONE),
    Setup("floor_headers", Filter.FLOOR, floor_configuration='{"body": "none"}'),
    Setup("floor", Filter.FLOOR),
    Setup("guard", Filter.GUARD),
    Setup("lua", Filter.LUA),
    Setup("guard_nocontent", Filter.GUARD, content_enabled=False, diagnostic=True),
    Setup("floor_hostcalls", Filter.FLOOR, floor_configuration='{"hostcalls": "guard"}', diagnostic=True),
)
BY_NAME = {s.name: s for s in SETUPS}


def chosen(diagnostic: bool) -> list[Setup]:
    """The setups a run measures: the main ones, and the diagnostic ones unless left out."""
    return [s for s in SETUPS if diagnostic or not s.diagnostic]


@dataclass(frozen=True)
class Modules:
    """The inputs every bootstrap is rendered from."""

    guard_wasm: Path
    floor_wasm: Path
    lua_script: Path  # wa_check.lua with its generated lexicon, written by `write_lua_script`


class SetupError(Exception):
    pass


def build_floor() -> Path:
    """Builds the floor module (a crate of its own) into target/bench-floor, returns its path."""
    log("building the floor module (envoy/bench/floor)")
    subprocess.run(["cargo", "build", "--manifest-path", str(FLOOR_MANIFEST), "--target", "wasm32-wasip1",
                    "--release", "-q", "--target-dir", str(FLOOR_TARGET_DIR)], check=True,
                   timeout=FLOOR_BUILD_TIMEOUT_S)
    if not FLOOR_WASM.is_file():
        raise SetupError(f"no floor module at {FLOOR_WASM}")
    return FLOOR_WASM


def write_lua_script(path: Path) -> dict[str, Any]:
    """wa_check.lua with the lexicon it matches, written to `path`; returns the lexicon's statistics."""
    lexicon, counts = lua_lexicon.generate(BENCH_DIR / "lexicon.json")
    # The Lua filter keeps the guard's former design (lexicon score plus structural weights) and
    # its former threshold: the guard's threshold is now a probability of the trained model.
    stats: dict[str, Any] = dict(counts, threshold=LUA_LEXICON_THRESHOLD)
    source = (lexicon + f"POLICY_THRESHOLD = {LUA_LEXICON_THRESHOLD!r}\n\n"
              + (BENCH_DIR / "wa_check.lua").read_text(encoding="utf-8"))
    path.write_text(source, encoding="utf-8")
    return stats


def guard_policy(content_enabled: bool) -> str:
    text = DEFAULT_POLICY.read_text(encoding="utf-8")
    if content_enabled:
        return text
    doc = json.loads(text)
    doc["content"]["enabled"] = False
    return json.dumps(doc, indent=2)


def render(setup: Setup, modules: Modules, upstream_port: int) -> str:
    """The bootstrap of one setup, its egress listener on a kernel-chosen loopback port."""
    policy = guard_policy(setup.content_enabled)
    if setup.filter is Filter.GUARD:
        return launch.render_bootstrap(EGRESS_TEMPLATE, policy_text=policy, upstream_port=upstream_port,
                                       wasm=modules.guard_wasm)
    if setup.filter is Filter.FLOOR:
        # The buffer limits stay the guard policy's: the template would derive them from the
        # plugin configuration, which is the floor's here.
        limits = {"BUFFER_MAX_BYTES": launch.buffer_limit_for(policy),
                  "MEDIA_BUFFER_MAX_BYTES": launch.media_buffer_limit_for(policy)}
        return launch.render_bootstrap(EGRESS_TEMPLATE, policy_text=setup.floor_configuration,
                                       upstream_port=upstream_port, wasm=modules.floor_wasm, extra=limits)
    doc = yaml.safe_load(launch.render_bootstrap(EGRESS_TEMPLATE, policy_text=policy,
                                                 upstream_port=upstream_port, wasm=modules.guard_wasm))
    filters = http_filters(doc)
    if setup.filter is Filter.NONE:
        del filters[0]
    else:
        filters[0] = {"name": "envoy.filters.http.lua",
                      "typed_config": {"@type": LUA_FILTER_TYPE,
                                       "default_source_code": {"filename": str(modules.lua_script)}}}
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=1 << 16)


def http_filters(bootstrap: dict[str, Any]) -> list[dict[str, Any]]:
    """The egress listener's HTTP filters, checked to start with the guard's wasm entry then the buffer."""
    try:
        listener = next(x for x in bootstrap["static_resources"]["listeners"] if x["name"] == "egress")
        hcm = listener["filter_chains"][0]["filters"][0]["typed_config"]
        filters: list[dict[str, Any]] = hcm["http_filters"]
    except (KeyError, IndexError, StopIteration) as err:
        raise SetupError(f"{EGRESS_TEMPLATE.name} changed shape: no egress HTTP filters ({err!r})") from err
    names = [f.get("name") for f in filters]
    if names[:2] != [WASM_FILTER, BUFFER_FILTER]:
        raise SetupError(f"{EGRESS_TEMPLATE.name} changed shape: its HTTP filters start {names[:2]}, "
                         f"not [{WASM_FILTER}, {BUFFER_FILTER}]")
    return filters


def render_upstream() -> str:
    """The upstream of the request workloads: an Envoy answering with direct_response."""
    return launch.render_template(UPSTREAM_TEMPLATE.read_text(encoding="utf-8"),
                                  {"LISTENER_PORT": 0, "ADMIN_PORT": 0})
