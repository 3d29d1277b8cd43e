"""The Envoy bootstraps are generated (envoy/bootstraps.py from the parts in envoy/bootstrap/):
the committed files must be exactly a fresh generation, so they share one filter chain, one route
table, one set of stats tags, one set of clusters and one Wasm filter config by construction.

What the generation does not guarantee is checked here on the rendered files: each passes
`envoy --mode validate` with the real module; dynamic.yaml's ECDS entry is wired to the resource
ecds.py writes (dynamic-filter.yaml, egress.yaml's Wasm filter config) and fails closed; the media
upload route and the WhatsApp hosts; conversation.yaml is egress.yaml's and webhook.yaml's
listeners in one Envoy on one VM config."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import yaml

from e2e_data import e2e_policy
from e2e_support import ENVOY_DIR, certs_module, ecds, launch

import bootstraps  # envoy/bootstraps.py (e2e_support puts envoy/ on sys.path)

STATIC_TEMPLATES = ["egress.yaml", "egress-mtls.yaml", "sidecar.yaml"]
TEMPLATES = STATIC_TEMPLATES + ["dynamic.yaml"]
GENERATED = sorted(bootstraps.generated())


@pytest.mark.parametrize("name", GENERATED)
def test_committed_bootstrap_is_the_generated_one(name):
    committed = (ENVOY_DIR / name).read_text(encoding="utf-8")
    assert committed == bootstraps.generated()[name], \
        f"envoy/{name} is not what envoy/bootstraps.py generates: edit envoy/bootstrap/ and run `make bootstraps`"
    assert committed.startswith("# GENERATED from envoy/bootstrap/ by `make bootstraps`")


def test_every_bootstrap_in_envoy_is_generated():
    """A new bootstrap template next to the generated ones is generated too (or it would drift)."""
    templates = {p.name for p in ENVOY_DIR.glob("*.yaml")}
    assert templates == set(GENERATED), "add the new bootstrap to envoy/bootstraps.py"
    assert {"egress.yaml", "egress-mtls.yaml", "sidecar.yaml", "dynamic.yaml", "dynamic-filter.yaml",
            "webhook.yaml", "conversation.yaml"} <= templates


def test_check_fails_on_a_hand_edited_file(tmp_path):
    """`bootstraps.py --check` (and so this suite) refuses a generated file edited by hand."""
    command = [sys.executable, str(ENVOY_DIR / "bootstraps.py"), "--out-dir", str(tmp_path)]
    subprocess.run(command, check=True, capture_output=True)
    assert subprocess.run([*command, "--check"], capture_output=True).returncode == 0
    edited = tmp_path / "sidecar.yaml"
    edited.write_text(edited.read_text(encoding="utf-8").replace("timeout: 300s", "timeout: 301s", 1), encoding="utf-8")
    result = subprocess.run([*command, "--check"], capture_output=True, text=True)
    assert result.returncode == 1
    assert "sidecar.yaml" in result.stderr


def rendered(template: str, policy_text: str, wasm: str, extra=None) -> dict:
    return yaml.safe_load(launch.render_bootstrap(ENVOY_DIR / template, policy_text=policy_text, upstream_port=1,
                                                  wasm=wasm, extra=extra))


def http_filters(bootstrap: dict) -> list[dict]:
    hcm = bootstrap["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    return hcm["http_filters"]


def test_ecds_resource_is_the_static_wasm_filter_config(guard_wasm, tmp_path):
    policy_text = json.dumps(e2e_policy(), indent=2)
    static = http_filters(rendered("egress.yaml", policy_text, guard_wasm))
    dynamic = http_filters(rendered("dynamic.yaml", policy_text, guard_wasm,
                                    {"ECDS_PATH": str(tmp_path / "guard.yaml"), "ECDS_DIR": str(tmp_path)}))
    resource = yaml.safe_load(ecds.render_filter_config(policy_text, guard_wasm))

    assert [f["name"] for f in static][1:] == [f["name"] for f in dynamic][1:]
    assert static[1:] == dynamic[1:], "the filters after the guard differ"
    guard_entry = dynamic[0]
    assert guard_entry["name"] == ecds.FILTER_NAME
    [typed] = resource["resources"]
    assert typed["@type"] == "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig"
    assert typed["name"] == guard_entry["name"], "the ECDS resource must be named after the filter entry"
    assert typed["typed_config"] == static[0]["typed_config"], "dynamic-filter.yaml drifted from egress.yaml"
    discovery = guard_entry["config_discovery"]
    assert discovery["type_urls"] == [static[0]["typed_config"]["@type"]]
    assert "default_config" not in discovery, "no default config: a guard without config must fail closed"
    assert discovery["config_source"]["path_config_source"] == {
        "path": str(tmp_path / "guard.yaml"), "watched_directory": {"path": str(tmp_path)}}


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    pki = certs_module().make_pki(tmp_path_factory.mktemp("pki-validate"), {})
    return {"TLS_CERT": pki.server.cert, "TLS_KEY": pki.server.key, "TLS_CA": pki.ca.cert}


@pytest.fixture(scope="module")
def ecds_files(tmp_path_factory, guard_wasm):
    folder = tmp_path_factory.mktemp("ecds-validate")
    ecds.push(folder / "guard.yaml", json.dumps(e2e_policy()), guard_wasm)
    return {"ECDS_PATH": str(folder / "guard.yaml"), "ECDS_DIR": str(folder)}


@pytest.mark.parametrize("template", TEMPLATES)
def test_template_validates_with_real_module(render, envoy_binary, tls_files, ecds_files, template):
    extra = {
        "egress.yaml": {},
        "egress-mtls.yaml": tls_files,
        "sidecar.yaml": {"NODE_NAMESPACE": "support", "NODE_SERVICE_ACCOUNT": "helpdesk"},
        "dynamic.yaml": ecds_files,
    }[template]
    rc, output = launch.validate_config(render(e2e_policy(), template=template, extra=extra, name="validate"),
                                        envoy_binary)
    assert rc == 0, output[-3000:]


# The media upload route: the one WhatsApp route without the buffer filter (large binary media
# stream; tests/test_large_media.py drives it through Envoy). Envoy matches safe_regex (RE2)
# against the whole path without its query; this pattern uses nothing Python's `re` reads
# differently, so `re.fullmatch` stands in for Envoy here.
MEDIA_ROUTE = "whatsapp_media_upload"
MEDIA_PATH_REGEX = r"(?i)(/v[0-9]+(\.[0-9]+)?)?/[0-9]+/media/?"
MEDIA_PATHS = ["/v21.0/106540352242922/media", "/v21.0/106540352242922/media/", "/V21.0/106540352242922/MEDIA",
               "/106540352242922/media", "/v21/106540352242922/media"]
# Paths the guard reads as something else (or as media, but that Graph may read otherwise) stay on
# the buffered catch-all: an id with an encoded slash, a matrix parameter, a longer path, a
# different edge, no id.
NOT_MEDIA_PATHS = ["/v21.0/106540352242922/messages", "/v21.0/106540352242922/media;x=1",
                   "/v21.0/106540352242922%2Fmessages%2F..%2F/media", "/v21.0/106540352242922/media%2F..%2Fmessages",
                   "/v21.0/106540352242922/messages;/media", "/v21.0/106540352242922/messages/media",
                   "/v21.0/media", "/v21.0/abc/media", "/v21.0/106540352242922/media/x", "/v21.0/1/mediax"]


def whatsapp_routes(bootstrap: dict) -> list[dict]:
    hcm = bootstrap["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    [vhost] = [v for v in hcm["route_config"]["virtual_hosts"] if "graph.facebook.com" in v["domains"]]
    return vhost["routes"]


@pytest.mark.parametrize("template", TEMPLATES)
def test_media_uploads_skip_the_buffer_and_nothing_else_does(guard_wasm, tmp_path, template):
    policy = e2e_policy(limits={**e2e_policy()["limits"], "max_body_bytes": 12345})
    text = json.dumps(policy)
    extra = {"egress-mtls.yaml": {"TLS_CERT": "c", "TLS_KEY": "k", "TLS_CA": "a"},
             "sidecar.yaml": {"NODE_NAMESPACE": "n", "NODE_SERVICE_ACCOUNT": "s"},
             "dynamic.yaml": {"ECDS_PATH": str(tmp_path / "g.yaml"), "ECDS_DIR": str(tmp_path)}}.get(template)
    media, catch_all = whatsapp_routes(rendered(template, text, guard_wasm, extra))
    assert media["name"] == MEDIA_ROUTE
    assert media["match"] == {"safe_regex": {"regex": MEDIA_PATH_REGEX}}
    assert media["typed_per_filter_config"]["envoy.filters.http.buffer"]["disabled"] is True
    assert media["request_body_buffer_limit"] == launch.media_buffer_limit_for(text) == 12345 + 4096 + (1 << 20)
    assert media["route"]["cluster"] == catch_all["route"]["cluster"] == "whatsapp_upstream"
    assert catch_all["match"] == {"prefix": "/"} and "typed_per_filter_config" not in catch_all, \
        "the rest of the WhatsApp host must stay buffered"
    for path in MEDIA_PATHS:
        assert re.fullmatch(MEDIA_PATH_REGEX, path), path
    for path in NOT_MEDIA_PATHS:
        assert not re.fullmatch(MEDIA_PATH_REGEX, path), path


@pytest.mark.parametrize("template", TEMPLATES)
def test_every_default_whatsapp_host_is_on_the_buffered_whatsapp_virtual_host(guard_wasm, tmp_path, template):
    """A host the guard governs by default must reach it through the WhatsApp virtual host:
    on the catch-all virtual host its request headers would go upstream before the decision."""
    hosts = json.loads((ENVOY_DIR.parent / "policies" / "default.json").read_text(encoding="utf-8"))["whatsapp"]["hosts"]
    extra = {"egress-mtls.yaml": {"TLS_CERT": "c", "TLS_KEY": "k", "TLS_CA": "a"},
             "sidecar.yaml": {"NODE_NAMESPACE": "n", "NODE_SERVICE_ACCOUNT": "s"},
             "dynamic.yaml": {"ECDS_PATH": str(tmp_path / "g.yaml"), "ECDS_DIR": str(tmp_path)}}.get(template)
    bootstrap = rendered(template, json.dumps(e2e_policy()), guard_wasm, extra)
    listener = bootstrap["static_resources"]["listeners"][0]
    hcm = listener["filter_chains"][0]["filters"][0]["typed_config"]
    [vhost] = [v for v in hcm["route_config"]["virtual_hosts"] if v["name"] == "whatsapp_cloud_api"]
    assert len(hosts) >= 4
    for host in hosts:
        for form in (host, f"{host}:443", f"{host}:80", f"{host}.", f"{host}.:443"):
            assert form in vhost["domains"], f"{template}: {form} is not on the WhatsApp virtual host"


# conversation.yaml: egress.yaml and webhook.yaml in one Envoy, one vm_id (policies/README.md#conversation).
CONVERSATION_EXTRA = {"WEBHOOK_APP_SECRET": "s", "WEBHOOK_LISTENER_PORT": 0, "WEBHOOK_BUFFER_MAX_BYTES": 1052672}


def conversation_policy_text() -> str:
    """The example conversation policy, its placeholder salt replaced (a deployment's own)."""
    text = (ENVOY_DIR.parent / "policies" / "examples" / "conversation.json").read_text(encoding="utf-8")
    return text.replace("REPLACE-WITH-A-PER-DEPLOYMENT-SECRET", "bootstrap-sync-salt-2e7b")


def without_vm_environment(listener: dict) -> dict:
    """The listener with its guard's vm_config.environment_variables cut out."""
    listener = json.loads(json.dumps(listener))
    hcm = listener["filter_chains"][0]["filters"][0]["typed_config"]
    hcm["http_filters"][0]["typed_config"]["config"]["vm_config"].pop("environment_variables", None)
    return listener


def guard_config(listener: dict) -> dict:
    hcm = listener["filter_chains"][0]["filters"][0]["typed_config"]
    return hcm["http_filters"][0]["typed_config"]["config"]


def test_conversation_bootstrap_is_egress_and_webhook_in_one_envoy_with_one_vm(guard_wasm):
    text = conversation_policy_text()
    both = rendered("conversation.yaml", text, guard_wasm, CONVERSATION_EXTRA)
    egress = rendered("egress.yaml", text, guard_wasm)
    webhook = rendered("webhook.yaml", text, guard_wasm, {"WEBHOOK_APP_SECRET": "s"})
    [egress_listener, webhook_listener] = both["static_resources"]["listeners"]
    assert without_vm_environment(egress_listener) == egress["static_resources"]["listeners"][0], \
        "conversation.yaml's egress listener drifted from egress.yaml"
    assert webhook_listener == webhook["static_resources"]["listeners"][0], \
        "conversation.yaml's webhook listener drifted from webhook.yaml"
    assert both["static_resources"]["clusters"] == (egress["static_resources"]["clusters"]
                                                    + webhook["static_resources"]["clusters"])
    assert both["stats_config"] == egress["stats_config"]
    # One VM for both listeners: the same vm_config (id, runtime, code, environment) and policy,
    # so the shared data the webhook writes is the one the sends read.
    configs = [guard_config(listener) for listener in (egress_listener, webhook_listener)]
    assert configs[0] == configs[1]
    assert configs[0]["vm_config"]["vm_id"] == "wa_egress_guard"
    assert configs[0]["vm_config"]["environment_variables"] == {"key_values": {"WA_GUARD_APP_SECRET": "s"}}


def test_conversation_bootstrap_validates_with_real_module(render, envoy_binary):
    config = render(json.loads(conversation_policy_text()), template="conversation.yaml",
                    extra=CONVERSATION_EXTRA, name="validate-conversation")
    rc, output = launch.validate_config(config, envoy_binary)
    assert rc == 0, output[-3000:]
