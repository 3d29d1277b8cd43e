#!/usr/bin/env python3
"""Render the Istio manifests of wa-egress-guard from the policy, so the two never drift.

Outputs (committed; tests/test_istio_manifests.py checks they equal a fresh render):

  wasmplugin.yaml      the WasmPlugin for the egress gateway: selector, phase AUTHZ,
                       failStrategy FAIL_CLOSE, the module as an OCI image, and
                       pluginConfig = the policy (policies/default.json), verbatim
  egress-gateway.yaml  routing every WhatsApp and training host through the egress gateway:
                       ServiceEntry, Gateway (ISTIO_MUTUAL from the sidecars, so the guard
                       sees each caller's SPIFFE id), DestinationRules (mTLS to the gateway,
                       TLS origination from it), VirtualServices, and the EnvoyFilter that
                       puts Envoy's buffer filter behind the guard
  sidecar.yaml         the alternative without a gateway: the WasmPlugin on the workloads'
                       sidecars (outbound), ServiceEntry + TLS origination, buffer filter
  conversation.yaml    the policy's `conversation` section on Istio: the WasmPlugin on the
                       sidecars of the bot workloads in both directions (their sends outbound,
                       Meta's webhooks to them inbound: one Envoy, one VM config, so one
                       shared-data store), with the app secret from the pod's environment and
                       the buffer filter on the inbound webhook route. pluginConfig is
                       policies/examples/conversation.json (--conversation-policy)

Hosts come from the policy: `whatsapp.hosts`, the hosts of every `whatsapp.providers` entry (the
built-ins' hosts in PROVIDER_HOSTS, as filter/src/whatsapp/providers.rs lists them, or the entry's
`hosts`, plus its `extra_hosts`), and every `training.endpoints[].hosts` entry. Provider sends are
buffered as Cloud API sends are.
Istio cannot route to a host pattern (`*-aiplatform.googleapis.com`), so each pattern maps to
an example concrete host in REGIONAL_EXAMPLES (edit it to the regions and resources you use);
rendering fails on a pattern that has no example, so a new pattern in the policy cannot be
forgotten here.

CLI:
    python envoy/istio/render.py            # rewrite the three files next to this script
    python envoy/istio/render.py --check    # exit 1 if a committed file differs from a fresh render
    options: --policy FILE  --image REF (default registry.example.com/wa-egress-guard:<crate version>)
             --out-dir DIR

Python standard library only (it writes YAML itself; JSON-quoted scalars where needed).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

ISTIO_DIR = Path(__file__).resolve().parent
ENVOY_DIR = ISTIO_DIR.parent
REPO_ROOT = ENVOY_DIR.parent
DEFAULT_POLICY = REPO_ROOT / "policies" / "default.json"
DEFAULT_CONVERSATION_POLICY = REPO_ROOT / "policies" / "examples" / "conversation.json"
CONVERSATION_LABEL = {"wa-egress-guard": "conversation"}  # bots whose sends and webhooks meet in one sidecar
DEFAULT_REGISTRY = "registry.example.com/wa-egress-guard"

NAMESPACE = "istio-system"
GATEWAY_SELECTOR = {"istio": "egressgateway"}
GATEWAY_NAME = "wa-egress-gateway"
GATEWAY_SERVICE = "istio-egressgateway.istio-system.svc.cluster.local"
GATEWAY_PORT = 443  # sidecar -> gateway hop: HTTPS with ISTIO_MUTUAL (the mesh's mTLS)
WORKLOAD_LABEL = {"wa-egress-guard": "enabled"}  # sidecar example: workloads that get the guard
PLUGIN_NAME = "wa_egress_guard"  # root_id, as in the Envoy bootstraps
BUFFER_SLACK_BYTES = 4096  # as envoy/launch.py: the guard, not the buffer, decides on oversize bodies
READ_CHUNK_BYTES = 1 << 20  # as envoy/launch.py: the most one HTTP/1.1 read hands the guard at once
DEFAULT_MAX_BODY_BYTES = 65536
# The media upload edge, as the Envoy bootstraps' `whatsapp_media_upload` route matches it (RE2, whole
# path without the query): it streams large images, audio and video, so the buffer filter is off there.
MEDIA_PATH_REGEX = r"(?i)(/v[0-9]+(\.[0-9]+)?)?/[0-9]+/media/?"
MEDIA_ROUTE = "wa-guard-media-upload"

# Host patterns of the policy -> a concrete host to route (edit to your regions / resources).
REGIONAL_EXAMPLES = {
    "*.openai.azure.com": "example-resource.openai.azure.com",
    "*.services.ai.azure.com": "example-resource.services.ai.azure.com",
    "*.cognitiveservices.azure.com": "example.cognitiveservices.azure.com",
    "*-aiplatform.googleapis.com": "us-central1-aiplatform.googleapis.com",
    "bedrock.*.amazonaws.com": "bedrock.us-east-1.amazonaws.com",
    "api.*.*.twilio.com": "api.dublin.ie1.twilio.com",
    "api.*.twilio.com": "api.ie1.twilio.com",
    "*.api.infobip.com": "example.api.infobip.com",
    "*.platform.bird.com": "eu1.platform.bird.com",
    "social-messaging.*.amazonaws.com": "social-messaging.us-east-1.amazonaws.com",
    "social-messaging.*.api.aws": "social-messaging.us-east-1.api.aws",
}

# The built-in WhatsApp providers' hosts, as `Provider::default_hosts` in
# filter/src/whatsapp/providers.rs lists them (tests/test_providers.py checks they agree).
# cloud_api's hosts are `whatsapp.hosts`.
PROVIDER_HOSTS = {
    "cloud_api": [],
    "360dialog": ["waba-v2.360dialog.io", "waba-sandbox.360dialog.io", "waba.360dialog.io"],
    "twilio": ["api.twilio.com", "api.*.*.twilio.com", "api.*.twilio.com", "conversations.twilio.com",
               "content.twilio.com"],
    "vonage": ["api.nexmo.com", "api-eu.vonage.com", "api-us.vonage.com", "api-ap.vonage.com",
               "messages-sandbox.nexmo.com"],
    "infobip": ["*.api.infobip.com", "api.infobip.com"],
    "bird": ["api.bird.com", "*.platform.bird.com", "conversations.messagebird.com", "whatsapp-sandbox.messagebird.com"],
    "gupshup": ["api.gupshup.io", "partner.gupshup.io"],
    "sinch": ["us.conversation.api.sinch.com", "eu.conversation.api.sinch.com"],
    "aws_social_messaging": ["social-messaging.*.amazonaws.com", "social-messaging.*.api.aws"],
}

OUTPUTS = ("wasmplugin.yaml", "egress-gateway.yaml", "sidecar.yaml", "conversation.yaml")


class RenderError(Exception):
    pass


# --- inputs ----------------------------------------------------------------------------------


def crate_version() -> str:
    with open(REPO_ROOT / "Cargo.toml", "rb") as f:
        return str(tomllib.load(f)["workspace"]["package"]["version"])


def default_image() -> str:
    return f"{DEFAULT_REGISTRY}:{crate_version()}"


def load_policy(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def whatsapp_hosts(policy: dict[str, Any]) -> list[str]:
    return list(dict.fromkeys(policy.get("whatsapp", {}).get("hosts", [])))


def concrete_hosts(hosts: list[str], what: str) -> tuple[list[str], list[str]]:
    """(exact hosts, example hosts standing for the patterns), in order, no repeats."""
    exact: list[str] = []
    regional: list[str] = []
    for host in hosts:
        if "*" not in host:
            exact.append(host)
        elif host in REGIONAL_EXAMPLES:
            regional.append(REGIONAL_EXAMPLES[host])
        else:
            raise RenderError(f"{what} host pattern `{host}` has no entry in REGIONAL_EXAMPLES")
    return list(dict.fromkeys(exact)), [h for h in dict.fromkeys(regional) if h not in exact]


def training_hosts(policy: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(exact hosts, example hosts standing for the policy's patterns), policy order, no repeats."""
    hosts = [h for endpoint in policy.get("training", {}).get("endpoints", []) for h in endpoint.get("hosts", [])]
    return concrete_hosts(hosts, "training")


def provider_hosts(policy: dict[str, Any]) -> list[str]:
    """The hosts of the policy's WhatsApp providers, patterns as their example hosts, no repeats."""
    hosts: list[str] = []
    for entry in policy.get("whatsapp", {}).get("providers", []):
        custom = entry if isinstance(entry, dict) else {"name": entry}
        name = str(custom.get("name", "")).strip().lower()
        if name not in PROVIDER_HOSTS:
            raise RenderError(f"unknown WhatsApp provider `{name}`")
        given = custom.get("hosts")
        hosts += (PROVIDER_HOSTS[name] if given is None else given) + custom.get("extra_hosts", [])
    exact, regional = concrete_hosts(hosts, "provider")
    return exact + regional


def buffer_limit(policy: dict[str, Any]) -> int:
    return int(policy.get("limits", {}).get("max_body_bytes", DEFAULT_MAX_BODY_BYTES)) + BUFFER_SLACK_BYTES


def media_buffer_limit(policy: dict[str, Any]) -> int:
    """The media route's stream buffer limit: the guard holds up to max_body_bytes plus one read."""
    return buffer_limit(policy) + READ_CHUNK_BYTES


def slug(host: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", host.lower()).strip("-")


# --- manifests -------------------------------------------------------------------------------

Doc = tuple[str, dict[str, Any]]  # (comment above the document, the document)


def metadata(name: str, namespace: str = NAMESPACE) -> dict[str, Any]:
    return {"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/part-of": "wa-egress-guard"}}


def wasm_plugin(name: str, policy: dict[str, Any], image: str, selector: dict[str, str],
                client_only: bool) -> dict[str, Any]:
    spec: dict[str, Any] = {"selector": {"matchLabels": selector}}
    if client_only:
        spec["match"] = [{"mode": "CLIENT"}]
    spec.update({
        "url": f"oci://{image}",
        "imagePullPolicy": "IfNotPresent",
        "phase": "AUTHZ",
        "failStrategy": "FAIL_CLOSE",
        "pluginName": PLUGIN_NAME,
        "pluginConfig": policy,
    })
    return {"apiVersion": "extensions.istio.io/v1alpha1", "kind": "WasmPlugin", "metadata": metadata(name),
            "spec": spec}


def service_entry(name: str, hosts: list[str], *, http_target_port: int | None) -> dict[str, Any]:
    http_port: dict[str, Any] = {"number": 80, "name": "http", "protocol": "HTTP"}
    if http_target_port is not None:
        http_port["targetPort"] = http_target_port
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "ServiceEntry",
        "metadata": metadata(name),
        "spec": {
            "hosts": hosts,
            "location": "MESH_EXTERNAL",
            "resolution": "DNS",
            "ports": [http_port, {"number": 443, "name": "https", "protocol": "HTTPS"}],
        },
    }


def originate_tls(host: str, port: int, name_prefix: str, export_to: list[str] | None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "host": host,
        "trafficPolicy": {"portLevelSettings": [{"port": {"number": port}, "tls": {"mode": "SIMPLE", "sni": host}}]},
    }
    if export_to is not None:
        spec["exportTo"] = export_to
    return {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
            "metadata": metadata(f"{name_prefix}-{slug(host)}"), "spec": spec}


def buffer_filter_patch(context: str, limit: int, disabled_by_default: bool) -> dict[str, Any]:
    value: dict[str, Any] = {"name": "envoy.filters.http.buffer"}
    if disabled_by_default:
        value["disabled"] = True
    value["typed_config"] = {"@type": "type.googleapis.com/envoy.extensions.filters.http.buffer.v3.Buffer",
                             "max_request_bytes": limit}
    return {
        "applyTo": "HTTP_FILTER",
        "match": {"context": context, "listener": {"filterChain": {"filter": {
            "name": "envoy.filters.network.http_connection_manager",
            "subFilter": {"name": "envoy.filters.http.router"}}}}},
        "patch": {"operation": "INSERT_BEFORE", "value": value},
    }


def buffer_vhost_patch(context: str, vhost: str, per_route: dict[str, Any]) -> dict[str, Any]:
    return {
        "applyTo": "VIRTUAL_HOST",
        "match": {"context": context, "routeConfiguration": {"vhost": {"name": vhost}}},
        "patch": {"operation": "MERGE", "value": {"typed_per_filter_config": {"envoy.filters.http.buffer": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.buffer.v3.BufferPerRoute", **per_route}}}},
    }


def media_route_patch(context: str, vhost: str, value: dict[str, Any]) -> dict[str, Any]:
    """Merges `value` into the media upload route of a WhatsApp virtual host (routed by name)."""
    return {
        "applyTo": "HTTP_ROUTE",
        "match": {"context": context, "routeConfiguration": {"vhost": {"name": vhost, "route": {"name": MEDIA_ROUTE}}}},
        "patch": {"operation": "MERGE", "value": value},
    }


def media_route_unbuffered(context: str, vhost: str) -> dict[str, Any]:
    return media_route_patch(context, vhost, {"typed_per_filter_config": {"envoy.filters.http.buffer": {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.buffer.v3.BufferPerRoute", "disabled": True}}})


def media_limit_filter(name: str, selector: dict[str, str], context: str, vhosts: list[str],
                       limit: int) -> Doc:
    return (
        "The media upload route's stream buffer limit: the guard holds a body there until it has read it "
        "(up to limits.max_body_bytes) and Envoy hands it up to 1 MiB per read, so the limit is "
        "max_body_bytes + 4 KiB + 1 MiB. Route.request_body_buffer_limit is an Envoy 1.36 field: where the "
        "mesh's proxies are older, delete this document. The limit on that route is then the listener's "
        "per-connection buffer limit (Envoy's default 1 MiB), and a body the guard must hold beyond it "
        "is refused with 413 by Envoy.",
        {"apiVersion": "networking.istio.io/v1alpha3", "kind": "EnvoyFilter", "metadata": metadata(name),
         "spec": {"workloadSelector": {"labels": selector}, "configPatches": [
             media_route_patch(context, vhost, {"request_body_buffer_limit": limit}) for vhost in vhosts]}})


def media_http_route(destination: dict[str, Any], match: dict[str, Any]) -> dict[str, Any]:
    """A VirtualService route for the media upload edge, named so the EnvoyFilters can find it."""
    return {"name": MEDIA_ROUTE, "match": [{**match, "uri": {"regex": MEDIA_PATH_REGEX}}],
            "route": [{"destination": destination}]}


def render_wasmplugin(policy: dict[str, Any], image: str) -> list[Doc]:
    return [("The guard on the egress gateway. pluginConfig is policies/default.json, verbatim.",
             wasm_plugin("wa-egress-guard", policy, image, GATEWAY_SELECTOR, client_only=False))]


def render_egress_gateway(policy: dict[str, Any]) -> list[Doc]:
    wa = whatsapp_hosts(policy)
    providers = provider_hosts(policy)
    exact, regional = training_hosts(policy)
    training = exact + regional
    hosts = wa + providers + training
    gateway_ref = f"{NAMESPACE}/{GATEWAY_NAME}"
    docs: list[Doc] = [
        ("WhatsApp Cloud API hosts (policy whatsapp.hosts).",
         service_entry("wa-guard-whatsapp", wa, http_target_port=None)),
    ]
    if providers:
        docs.append(("WhatsApp providers' hosts (policy whatsapp.providers; patterns as EXAMPLE hosts: list the "
                     "regions you use).", service_entry("wa-guard-providers", providers, http_target_port=None)))
    docs += [
        ("AI training endpoints (policy training.endpoints[].hosts).",
         service_entry("wa-guard-training", exact, http_target_port=None)),
    ]
    if regional:
        docs.append(("EXAMPLE hosts standing for the policy's host patterns: list the regions and resources you use.",
                     service_entry("wa-guard-training-regional", regional, http_target_port=None)))
    docs.append((
        "The egress gateway accepts these hosts only over the mesh's mTLS: every caller presents its "
        "workload certificate, whose SPIFFE id the guard reads (identity source peer_uri_san).",
        {"apiVersion": "networking.istio.io/v1", "kind": "Gateway", "metadata": metadata(GATEWAY_NAME),
         "spec": {"selector": GATEWAY_SELECTOR, "servers": [{
             "port": {"number": GATEWAY_PORT, "name": "https-wa-guard", "protocol": "HTTPS"},
             "hosts": hosts, "tls": {"mode": "ISTIO_MUTUAL"}}]}}))
    docs.append((
        "Sidecars reach the gateway with ISTIO_MUTUAL, one subset per host (its SNI selects the gateway server).",
        {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule", "metadata": metadata(GATEWAY_NAME),
         "spec": {"host": GATEWAY_SERVICE, "subsets": [
             {"name": f"wa-guard-{slug(h)}", "trafficPolicy": {"portLevelSettings": [
                 {"port": {"number": GATEWAY_PORT}, "tls": {"mode": "ISTIO_MUTUAL", "sni": h}}]}}
             for h in hosts]}}))
    for host in hosts:
        from_gateway = {"gateways": [gateway_ref], "port": GATEWAY_PORT}
        upstream = {"host": host, "port": {"number": 443}}
        # On a WhatsApp host the media upload edge gets a route of its own (unbuffered, below).
        media = [media_http_route(upstream, from_gateway)] if host in wa else []
        docs.append((
            f"{host}: workloads send plain HTTP to port 80 (the mesh encrypts it to the gateway); "
            "the gateway inspects it and originates TLS to port 443."
            + (" Media uploads take a route of their own (no buffer filter)." if media else ""),
            {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
             "metadata": metadata(f"wa-guard-{slug(host)}"),
             "spec": {"hosts": [host], "gateways": ["mesh", gateway_ref], "http": [
                 {"name": "to-egress-gateway", "match": [{"gateways": ["mesh"], "port": 80}],
                  "route": [{"destination": {"host": GATEWAY_SERVICE, "subset": f"wa-guard-{slug(host)}",
                                             "port": {"number": GATEWAY_PORT}}}]},
                 *media,
                 {"name": "to-upstream", "match": [from_gateway], "route": [{"destination": upstream}]},
             ]}}))
    for host in hosts:
        docs.append((f"TLS origination to {host}, used by the gateway only (exportTo: this namespace).",
                     originate_tls(host, 443, "wa-guard-tls", export_to=["."])))
    docs.append((
        "Envoy's buffer filter right before the router, i.e. after the guard: the router sends nothing "
        "of a WhatsApp request (Cloud API or provider) upstream, not even its headers, until the guard let "
        "the whole body through. "
        "Training uploads stream: the buffer is disabled on their virtual hosts. A training host missing "
        "here fails loudly (413 above the limit), never silently. WhatsApp media uploads stream too (the "
        "buffer is off on their route), so a large image, audio or video the guard lets through is not "
        "refused; the guard still holds every body it reads there, but the headers go upstream first.",
        {"apiVersion": "networking.istio.io/v1alpha3", "kind": "EnvoyFilter",
         "metadata": metadata("wa-egress-guard-buffer"),
         "spec": {"workloadSelector": {"labels": GATEWAY_SELECTOR}, "configPatches": [
             buffer_filter_patch("GATEWAY", buffer_limit(policy), disabled_by_default=False),
             *[buffer_vhost_patch("GATEWAY", f"{h}:{GATEWAY_PORT}", {"disabled": True}) for h in training],
             *[media_route_unbuffered("GATEWAY", f"{h}:{GATEWAY_PORT}") for h in wa],
         ]}}))
    docs.append(media_limit_filter("wa-egress-guard-media-limit", GATEWAY_SELECTOR, "GATEWAY",
                                   [f"{h}:{GATEWAY_PORT}" for h in wa], media_buffer_limit(policy)))
    return docs


def render_sidecar(policy: dict[str, Any], image: str) -> list[Doc]:
    wa = whatsapp_hosts(policy)
    providers = provider_hosts(policy)
    exact, regional = training_hosts(policy)
    hosts = wa + providers + exact + regional
    limit = buffer_limit(policy)
    docs: list[Doc] = [
        ("The guard on the sidecars of workloads labelled wa-egress-guard=enabled, outbound only (mode CLIENT). "
         "The caller is the workload itself: identity source node_metadata (NAMESPACE, SERVICE_ACCOUNT).",
         wasm_plugin("wa-egress-guard-sidecar", policy, image, WORKLOAD_LABEL, client_only=True)),
        ("Workloads send plain HTTP to port 80; the sidecar inspects it and originates TLS to 443 (targetPort).",
         service_entry("wa-guard-sidecar-whatsapp", wa, http_target_port=443)),
    ]
    if providers:
        docs.append(("WhatsApp providers' hosts (policy whatsapp.providers; patterns as EXAMPLE hosts: list the "
                     "regions you use).", service_entry("wa-guard-sidecar-providers", providers, http_target_port=443)))
    docs += [
        ("AI training endpoints (policy training.endpoints[].hosts).",
         service_entry("wa-guard-sidecar-training", exact, http_target_port=443)),
    ]
    if regional:
        docs.append(("EXAMPLE hosts standing for the policy's host patterns: list the regions and resources you use.",
                     service_entry("wa-guard-sidecar-training-regional", regional, http_target_port=443)))
    for host in hosts:
        docs.append((f"TLS origination to {host} on the sidecar's port 80 route.",
                     originate_tls(host, 80, "wa-guard-sidecar-tls", export_to=None)))
    for host in wa:
        destination = {"host": host, "port": {"number": 80}}
        docs.append((
            f"{host} as Istio routes it anyway, plus a named route for media uploads, so the EnvoyFilters "
            "below can turn the buffer off there (large images, audio and video stream).",
            {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
             "metadata": metadata(f"wa-guard-sidecar-{slug(host)}"),
             "spec": {"hosts": [host], "http": [
                 media_http_route(destination, {"port": 80}),
                 {"name": "wa-guard-graph-api", "route": [{"destination": destination}]},
             ]}}))
    docs.append((
        "The sidecar's outbound port-80 route table is shared with all in-mesh HTTP, so the buffer filter is "
        "disabled by default and enabled on the WhatsApp and provider virtual hosts only (training uploads stream), "
        "except their media upload route (large images, audio and video stream; the guard still holds "
        "every body it reads there, but the headers go upstream first).",
        {"apiVersion": "networking.istio.io/v1alpha3", "kind": "EnvoyFilter",
         "metadata": metadata("wa-egress-guard-sidecar-buffer"),
         "spec": {"workloadSelector": {"labels": WORKLOAD_LABEL}, "configPatches": [
             buffer_filter_patch("SIDECAR_OUTBOUND", limit, disabled_by_default=True),
             *[buffer_vhost_patch("SIDECAR_OUTBOUND", f"{h}:80", {"buffer": {"max_request_bytes": limit}})
               for h in wa + providers],
             *[media_route_unbuffered("SIDECAR_OUTBOUND", f"{h}:80") for h in wa],
         ]}}))
    docs.append(media_limit_filter("wa-egress-guard-sidecar-media-limit", WORKLOAD_LABEL, "SIDECAR_OUTBOUND",
                                   [f"{h}:80" for h in wa], media_buffer_limit(policy)))
    return docs


def render_conversation(policy: dict[str, Any], image: str) -> list[Doc]:
    """The guard on bot workloads whose own sidecar carries both their sends and Meta's webhooks."""
    if not policy.get("conversation") or not policy.get("webhook"):
        raise RenderError("the conversation manifest needs a policy with `conversation` and `webhook` sections")
    plugin = wasm_plugin("wa-egress-guard-conversation", policy, image, CONVERSATION_LABEL, client_only=False)
    spec = plugin["spec"]
    spec["match"] = [{"mode": "CLIENT_AND_SERVER"}]
    secrets = policy["webhook"].get("app_secret_env", [])
    if secrets:
        spec["vmConfig"] = {"env": [{"name": name, "valueFrom": "HOST"} for name in secrets]}
    hook_limit = int(policy["webhook"].get("max_body_bytes", 1 << 20)) + BUFFER_SLACK_BYTES
    return [
        ("Conversation state lives in Envoy's shared data, per Envoy process and vm_id: a bot's sends "
         "(outbound) and the webhooks Meta delivers to it (inbound) must pass the same Envoy. On Istio that "
         "is the bot pod's own sidecar, with the guard in both directions (CLIENT_AND_SERVER): one WasmPlugin "
         "is one VM config, so both directions share one store. The app secret comes from the sidecar's "
         "environment (valueFrom HOST: give the istio-proxy container the variable from a Kubernetes Secret "
         "through your injection template). log.recipient_hash_salt is a placeholder: the guard refuses to "
         "load (fail closed) until you replace it with a per-deployment secret, the same on every replica "
         "(render with --conversation-policy pointing at your policy). Each replica keeps its own store: "
         "route each recipient to one replica, or keep the state elsewhere (policies/README.md#conversation). "
         "Outbound routing, TLS origination and the outbound buffer filter are sidecar.yaml's, for the "
         "workloads labelled wa-egress-guard=conversation as well.",
         plugin),
        ("The inbound webhook route: Envoy's buffer filter behind the guard holds each delivery until the "
         "guard has verified it (webhook.max_body_bytes + 4 KiB), so a forged delivery never reaches the bot.",
         {"apiVersion": "networking.istio.io/v1alpha3", "kind": "EnvoyFilter",
          "metadata": metadata("wa-egress-guard-conversation-inbound-buffer"),
          "spec": {"workloadSelector": {"labels": CONVERSATION_LABEL}, "configPatches": [
              buffer_filter_patch("SIDECAR_INBOUND", hook_limit, disabled_by_default=False),
          ]}}),
    ]


# --- YAML ------------------------------------------------------------------------------------

_PLAIN = re.compile(r"[A-Za-z_/][A-Za-z0-9_./:@+-]*")
_RESERVED = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"}


def scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, str):
        if _PLAIN.fullmatch(value) and not value.endswith(":") and value.lower() not in _RESERVED:
            return value
        return json.dumps(value, ensure_ascii=False)
    raise RenderError(f"cannot write {type(value).__name__} as YAML")


def emit(value: Any, indent: int = 0) -> list[str]:
    """Block-style YAML lines for a mapping or a sequence (lists are not indented under their key)."""
    pad = " " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            head = f"{pad}{scalar(str(key))}:"
            if isinstance(item, dict) and item:
                lines.append(head)
                lines.extend(emit(item, indent + 2))
            elif isinstance(item, list) and item:
                lines.append(head)
                lines.extend(emit(item, indent))
            else:
                lines.append(f"{head} {'{}' if item == {} else '[]' if item == [] else scalar(item)}")
        return lines
    if isinstance(value, list):
        for item in value:
            if isinstance(item, (dict, list)) and item:
                inner = emit(item, indent + 2)
                lines.append(f"{pad}- {inner[0][indent + 2:]}")
                lines.extend(inner[1:])
            else:
                lines.append(f"{pad}- {'{}' if item == {} else '[]' if item == [] else scalar(item)}")
        return lines
    raise RenderError("a document must be a mapping or a sequence")


def to_yaml(docs: list[Doc], title: str, source: str = "policies/default.json") -> str:
    out = [
        f"# {title}",
        f"# GENERATED by envoy/istio/render.py from {source}: do not edit by hand;",
        "# change the policy (or render.py) and run `python envoy/istio/render.py`.",
    ]
    for comment, doc in docs:
        out.append("---")
        out.extend(f"# {line}" for line in wrap(comment))
        out.extend(emit(doc))
    return "\n".join(out) + "\n"


def wrap(text: str, width: int = 96) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in text.split():
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    return lines + ([current] if current else [])


def render_all(policy: dict[str, Any], image: str, conversation: dict[str, Any] | None = None) -> dict[str, str]:
    if conversation is None:
        conversation = load_policy(DEFAULT_CONVERSATION_POLICY)
    return {
        "wasmplugin.yaml": to_yaml(render_wasmplugin(policy, image),
                                   "wa-egress-guard on the Istio egress gateway (WasmPlugin)"),
        "egress-gateway.yaml": to_yaml(render_egress_gateway(policy),
                                       "Route the WhatsApp and AI training hosts through the egress gateway"),
        "sidecar.yaml": to_yaml(render_sidecar(policy, image),
                                "Alternative without a gateway: wa-egress-guard on the workloads' sidecars"),
        "conversation.yaml": to_yaml(render_conversation(conversation, image),
                                     "Conversation rules: wa-egress-guard on a bot's sidecar, both directions",
                                     source="policies/examples/conversation.json"),
    }


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="render the Istio manifests from the policy")
    parser.add_argument("--policy", type=Path, default=DEFAULT_POLICY)
    parser.add_argument("--conversation-policy", type=Path, default=DEFAULT_CONVERSATION_POLICY,
                        help="the policy of conversation.yaml (with `conversation` and `webhook` sections)")
    parser.add_argument("--image", default=None, help=f"OCI reference (default {DEFAULT_REGISTRY}:<crate version>)")
    parser.add_argument("--out-dir", type=Path, default=ISTIO_DIR)
    parser.add_argument("--check", action="store_true", help="compare with the files instead of writing them")
    args = parser.parse_args(argv)
    try:
        rendered = render_all(load_policy(args.policy), args.image or default_image(),
                              load_policy(args.conversation_policy))
    except (RenderError, OSError, ValueError, KeyError) as err:
        print(f"render: {err}", file=sys.stderr)
        return 2
    stale = []
    for name, text in rendered.items():
        path = args.out_dir / name
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
    if stale:
        print(f"stale (run python envoy/istio/render.py): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_main())
