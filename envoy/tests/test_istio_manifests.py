"""The Istio manifests (envoy/istio/*.yaml) are what envoy/istio/render.py makes from the
policy, parse as YAML, and carry the fields the deployment depends on. The Envoy
fragments inside the EnvoyFilters (buffer filter and per-vhost settings) are checked by
the real Envoy (`--mode validate`)."""

from __future__ import annotations

import fnmatch
import json
import sys

import pytest
import yaml

from e2e_support import ENVOY_DIR, launch

ISTIO_DIR = ENVOY_DIR / "istio"
if str(ISTIO_DIR) not in sys.path:
    sys.path.insert(0, str(ISTIO_DIR))

import render  # noqa: E402  (envoy/istio/render.py)

POLICY = json.loads((ENVOY_DIR.parent / "policies" / "default.json").read_text(encoding="utf-8"))
BUFFER_LIMIT = POLICY["limits"]["max_body_bytes"] + 4096
MEDIA_BUFFER_LIMIT = BUFFER_LIMIT + (1 << 20)
BUFFER_FILTERS = {"egress-gateway.yaml": "wa-egress-guard-buffer", "sidecar.yaml": "wa-egress-guard-sidecar-buffer"}
MEDIA_LIMIT_FILTERS = {"egress-gateway.yaml": "wa-egress-guard-media-limit",
                       "sidecar.yaml": "wa-egress-guard-sidecar-media-limit"}
IMAGE = f"oci://registry.example.com/wa-egress-guard:{render.crate_version()}"


def load(name: str) -> list[dict]:
    docs = [d for d in yaml.safe_load_all((ISTIO_DIR / name).read_text(encoding="utf-8")) if d is not None]
    assert docs, name
    return docs


def of_kind(docs: list[dict], kind: str) -> list[dict]:
    return [d for d in docs if d["kind"] == kind]


def policy_hosts() -> tuple[list[str], list[str]]:
    training = [h for e in POLICY["training"]["endpoints"] for h in e["hosts"]]
    return POLICY["whatsapp"]["hosts"], training


@pytest.mark.parametrize("name", render.OUTPUTS)
def test_committed_manifest_equals_a_fresh_render(name):
    fresh = render.render_all(render.load_policy(render.DEFAULT_POLICY), render.default_image())[name]
    assert (ISTIO_DIR / name).read_text(encoding="utf-8") == fresh, (
        f"envoy/istio/{name} is stale: run `python envoy/istio/render.py`")


@pytest.mark.parametrize("name", render.OUTPUTS)
def test_every_document_parses_and_is_named(name):
    for doc in load(name):
        assert doc["apiVersion"].split("/")[0] in {"extensions.istio.io", "networking.istio.io"}, doc
        assert doc["metadata"]["name"] and doc["metadata"]["namespace"] == "istio-system", doc["metadata"]
        assert len(doc["metadata"]["name"]) <= 63
        assert isinstance(doc["spec"], dict)


def assert_guard_plugin(plugin: dict) -> dict:
    spec = plugin["spec"]
    assert plugin["apiVersion"] == "extensions.istio.io/v1alpha1"
    assert spec["phase"] == "AUTHZ"
    assert spec["failStrategy"] == "FAIL_CLOSE"
    assert spec["url"] == IMAGE
    assert spec["pluginName"] == "wa_egress_guard"
    assert spec["pluginConfig"] == POLICY, "pluginConfig drifted from policies/default.json"
    return spec


def test_gateway_wasmplugin():
    [plugin] = load("wasmplugin.yaml")
    spec = assert_guard_plugin(plugin)
    assert spec["selector"] == {"matchLabels": {"istio": "egressgateway"}}
    assert "match" not in spec


def test_sidecar_wasmplugin_selects_workloads_outbound_only():
    [plugin] = of_kind(load("sidecar.yaml"), "WasmPlugin")
    spec = assert_guard_plugin(plugin)
    assert spec["selector"] == {"matchLabels": {"wa-egress-guard": "enabled"}}
    assert spec["match"] == [{"mode": "CLIENT"}]


def test_service_entries_cover_every_policy_host():
    whatsapp, training = policy_hosts()
    for name in ("egress-gateway.yaml", "sidecar.yaml"):
        entries = of_kind(load(name), "ServiceEntry")
        hosts = [h for e in entries for h in e["spec"]["hosts"]]
        assert len(hosts) == len(set(hosts)), name
        assert all("*" not in h for h in hosts), "a DNS ServiceEntry cannot hold a pattern"
        for pattern in whatsapp + training:
            assert any(fnmatch.fnmatchcase(h, pattern) for h in hosts), f"{name}: nothing routes `{pattern}`"
        for entry in entries:
            spec = entry["spec"]
            assert (spec["location"], spec["resolution"]) == ("MESH_EXTERNAL", "DNS")
            assert {p["number"]: p["protocol"] for p in spec["ports"]} == {80: "HTTP", 443: "HTTPS"}


def test_egress_gateway_takes_mesh_mtls_and_originates_tls():
    docs = load("egress-gateway.yaml")
    hosts = [h for e in of_kind(docs, "ServiceEntry") for h in e["spec"]["hosts"]]
    [gateway] = of_kind(docs, "Gateway")
    [server] = gateway["spec"]["servers"]
    assert gateway["spec"]["selector"] == {"istio": "egressgateway"}
    assert server["tls"] == {"mode": "ISTIO_MUTUAL"}
    assert server["port"]["protocol"] == "HTTPS"
    assert sorted(server["hosts"]) == sorted(hosts)

    rules = {d["spec"]["host"]: d for d in of_kind(docs, "DestinationRule")}
    to_gateway = rules.pop(render.GATEWAY_SERVICE)
    subsets = {s["name"]: s for s in to_gateway["spec"]["subsets"]}
    for host in hosts:
        [port_tls] = subsets[f"wa-guard-{render.slug(host)}"]["trafficPolicy"]["portLevelSettings"]
        assert port_tls == {"port": {"number": server["port"]["number"]}, "tls": {"mode": "ISTIO_MUTUAL", "sni": host}}
        [origination] = rules[host]["spec"]["trafficPolicy"]["portLevelSettings"]
        assert origination == {"port": {"number": 443}, "tls": {"mode": "SIMPLE", "sni": host}}
        assert rules[host]["spec"]["exportTo"] == ["."], "only the gateway may originate TLS"

    services = {tuple(d["spec"]["hosts"]): d["spec"] for d in of_kind(docs, "VirtualService")}
    gateway_ref = f"istio-system/{gateway['metadata']['name']}"
    whatsapp, _ = policy_hosts()
    for host in hosts:
        spec = services[(host,)]
        assert spec["gateways"] == ["mesh", gateway_ref]
        from_mesh, *media, from_gateway = spec["http"]
        if host in whatsapp:  # the media upload edge first, to the same upstream
            [media_route] = media
            assert media_route["name"] == render.MEDIA_ROUTE
            assert media_route["match"] == [{**from_gateway["match"][0], "uri": {"regex": bootstrap_media_regex()}}]
            assert media_route["route"] == from_gateway["route"]
        else:
            assert media == [], host
        assert from_mesh["match"] == [{"gateways": ["mesh"], "port": 80}]
        assert from_mesh["route"][0]["destination"]["host"] == render.GATEWAY_SERVICE
        assert from_mesh["route"][0]["destination"]["subset"] in subsets
        assert from_gateway["match"][0]["gateways"] == [gateway_ref]
        assert from_gateway["route"][0]["destination"] == {"host": host, "port": {"number": 443}}


def bootstrap_media_regex() -> str:
    """The media route's regex in the Envoy bootstraps (test_bootstrap_sync.py checks they are what envoy/bootstraps.py generates)."""
    bootstrap = yaml.safe_load(launch.render_bootstrap(ENVOY_DIR / "egress.yaml", policy_text=json.dumps(POLICY),
                                                       upstream_port=1, wasm=__file__))
    hcm = bootstrap["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    [vhost] = [v for v in hcm["route_config"]["virtual_hosts"] if "graph.facebook.com" in v["domains"]]
    return vhost["routes"][0]["match"]["safe_regex"]["regex"]


def envoy_filter(name: str, filter_name: str) -> dict:
    [found] = [d for d in of_kind(load(name), "EnvoyFilter") if d["metadata"]["name"] == filter_name]
    return found


def route_patches(envoy_filter: dict) -> dict[tuple[str, str], dict]:
    """{(vhost, route): merged value} of the HTTP_ROUTE patches."""
    out = {}
    for p in envoy_filter["spec"]["configPatches"]:
        if p["applyTo"] == "HTTP_ROUTE":
            vhost = p["match"]["routeConfiguration"]["vhost"]
            assert p["patch"]["operation"] == "MERGE"
            out[(vhost["name"], vhost["route"]["name"])] = p["patch"]["value"]
    return out


def buffer_patches(name: str) -> tuple[dict, dict, dict[str, dict]]:
    buffer_filter = envoy_filter(name, BUFFER_FILTERS[name])
    patches = buffer_filter["spec"]["configPatches"]
    [insert] = [p for p in patches if p["applyTo"] == "HTTP_FILTER"]
    vhosts = {p["match"]["routeConfiguration"]["vhost"]["name"]: p["patch"]["value"]["typed_per_filter_config"]
              ["envoy.filters.http.buffer"] for p in patches if p["applyTo"] == "VIRTUAL_HOST"}
    return buffer_filter, insert, vhosts


def test_buffer_sits_before_the_router_and_streams_training_uploads():
    whatsapp, _ = policy_hosts()
    # WhatsApp sends through providers are buffered as Cloud API sends are.
    whatsapp = whatsapp + render.provider_hosts(POLICY)
    gateway_hosts = [h for e in of_kind(load("egress-gateway.yaml"), "ServiceEntry") for h in e["spec"]["hosts"]]

    envoy_filter, insert, vhosts = buffer_patches("egress-gateway.yaml")
    assert envoy_filter["spec"]["workloadSelector"] == {"labels": {"istio": "egressgateway"}}
    assert insert["match"]["listener"]["filterChain"]["filter"]["subFilter"] == {"name": "envoy.filters.http.router"}
    assert insert["patch"]["operation"] == "INSERT_BEFORE"
    assert insert["patch"]["value"]["typed_config"]["max_request_bytes"] == BUFFER_LIMIT
    assert "disabled" not in insert["patch"]["value"]  # on by default at the gateway...
    assert set(vhosts) == {f"{h}:443" for h in gateway_hosts if h not in whatsapp}  # ...off for training
    assert all(v["disabled"] is True for v in vhosts.values())

    envoy_filter, insert, vhosts = buffer_patches("sidecar.yaml")
    assert envoy_filter["spec"]["workloadSelector"] == {"labels": {"wa-egress-guard": "enabled"}}
    assert insert["match"]["context"] == "SIDECAR_OUTBOUND"
    assert insert["patch"]["value"]["disabled"] is True  # off by default on a sidecar...
    assert set(vhosts) == {f"{h}:80" for h in whatsapp}  # ...on for WhatsApp
    assert all(v["buffer"]["max_request_bytes"] == BUFFER_LIMIT for v in vhosts.values())


@pytest.mark.parametrize("name, port", [("egress-gateway.yaml", 443), ("sidecar.yaml", 80)])
def test_media_uploads_skip_the_buffer_on_every_whatsapp_host(name, port):
    """As in the Envoy bootstraps: the media upload edge of every WhatsApp host has a named route
    with the bootstraps' regex, the buffer filter off and the stream limit raised to
    max_body_bytes + 4 KiB + 1 MiB (a separate EnvoyFilter, which an old mesh can drop)."""
    whatsapp, _ = policy_hosts()
    expected = {(f"{h}:{port}", render.MEDIA_ROUTE) for h in whatsapp}
    unbuffered = route_patches(envoy_filter(name, BUFFER_FILTERS[name]))
    assert set(unbuffered) == expected
    for value in unbuffered.values():
        assert value == {"typed_per_filter_config": {"envoy.filters.http.buffer": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.buffer.v3.BufferPerRoute", "disabled": True}}}
    limits = route_patches(envoy_filter(name, MEDIA_LIMIT_FILTERS[name]))
    assert limits == {key: {"request_body_buffer_limit": MEDIA_BUFFER_LIMIT} for key in expected}
    # The route those patches name exists, with the bootstraps' regex.
    routes = [r for d in of_kind(load(name), "VirtualService") if set(d["spec"]["hosts"]) <= set(whatsapp)
              for r in d["spec"]["http"] if r["name"] == render.MEDIA_ROUTE]
    assert len(routes) == len(whatsapp)
    assert all(r["match"][0]["uri"] == {"regex": bootstrap_media_regex()} for r in routes)
    assert render.MEDIA_PATH_REGEX == bootstrap_media_regex()


@pytest.mark.parametrize("name", ["egress-gateway.yaml", "sidecar.yaml"])
def test_envoy_accepts_the_envoyfilter_fragments(name, envoy_binary, tmp_path):
    """The HTTP filter and per-vhost values go into a static bootstrap, which Envoy validates."""
    _, insert, vhosts = buffer_patches(name)
    media = route_patches(envoy_filter(name, BUFFER_FILTERS[name]))
    for key, value in route_patches(envoy_filter(name, MEDIA_LIMIT_FILTERS[name])).items():
        media[key] = {**media[key], **value}
    assert media

    def routes(vhost: str) -> list[dict]:
        named = [{"name": route, "match": {"safe_regex": {"regex": render.MEDIA_PATH_REGEX}},
                  "direct_response": {"status": 200}, **value}
                 for (host, route), value in media.items() if host == vhost]
        return named + [{"match": {"prefix": "/"}, "direct_response": {"status": 200}}]

    def per_vhost(vhost: str) -> dict:
        cfg = vhosts.get(vhost)
        return {"typed_per_filter_config": {"envoy.filters.http.buffer": cfg}} if cfg else {}

    names = list(vhosts) + [host for host, _ in media if host not in vhosts]
    virtual_hosts = [{"name": vhost, "domains": [vhost], **per_vhost(vhost), "routes": routes(vhost)}
                     for vhost in names]
    bootstrap = {
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}}},
        "static_resources": {"listeners": [{
            "name": "check",
            "address": {"socket_address": {"address": "127.0.0.1", "port_value": 0}},
            "filter_chains": [{"filters": [{
                "name": "envoy.filters.network.http_connection_manager",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3"
                             ".HttpConnectionManager",
                    "stat_prefix": "check",
                    "route_config": {"virtual_hosts": virtual_hosts},
                    "http_filters": [insert["patch"]["value"], {
                        "name": "envoy.filters.http.router",
                        "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"},
                    }],
                },
            }]}],
        }]},
    }
    config = tmp_path / "fragments.json"
    config.write_text(json.dumps(bootstrap), encoding="utf-8")
    rc, output = launch.validate_config(config, envoy_binary)
    assert rc == 0, output[-3000:]


def test_conversation_plugin_runs_both_directions_of_a_bots_sidecar_with_one_vm():
    docs = load("conversation.yaml")
    [plugin] = of_kind(docs, "WasmPlugin")
    spec = plugin["spec"]
    conversation = json.loads((ENVOY_DIR.parent / "policies" / "examples" / "conversation.json").read_text(encoding="utf-8"))
    assert spec["pluginConfig"] == conversation
    assert spec["selector"] == {"matchLabels": {"wa-egress-guard": "conversation"}}
    assert spec["match"] == [{"mode": "CLIENT_AND_SERVER"}], "sends and webhooks must meet in one Envoy"
    assert spec["vmConfig"] == {"env": [{"name": n, "valueFrom": "HOST"} for n in conversation["webhook"]["app_secret_env"]]}
    assert spec["failStrategy"] == "FAIL_CLOSE" and spec["pluginName"] == "wa_egress_guard"
    [buffer] = of_kind(docs, "EnvoyFilter")
    [patch] = buffer["spec"]["configPatches"]
    assert patch["match"]["context"] == "SIDECAR_INBOUND"
    assert patch["patch"]["value"]["typed_config"]["max_request_bytes"] == (1 << 20) + 4096
    with pytest.raises(render.RenderError):
        render.render_conversation(POLICY, IMAGE)
