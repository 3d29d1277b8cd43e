"""The three bootstraps share one filter chain, one route table, one set of stats
tags and one failure policy; each renders and passes `envoy --mode validate` with
the real module."""

from __future__ import annotations

import pytest

from e2e_data import e2e_policy
from e2e_support import ENVOY_DIR, certs_module, launch

TEMPLATES = ["egress.yaml", "egress-mtls.yaml", "sidecar.yaml"]


def section(text: str, start: str, end: str) -> str:
    begin = text.index(start)
    return text[begin : text.index(end, begin)]


@pytest.mark.parametrize("start, end", [
    ("stats_config:", "static_resources:"),
    ("      - name: envoy.filters.network.http_connection_manager", "\n  clusters:"),
    ("\n  clusters:", "\n\n\n"),
], ids=["stats-tags", "http-connection-manager", "clusters"])
def test_shared_sections_are_identical(start, end):
    texts = {name: (ENVOY_DIR / name).read_text(encoding="utf-8") + "\n\n\n" for name in TEMPLATES}
    reference = section(texts["egress.yaml"], start, end)
    for name, text in texts.items():
        assert section(text, start, end) == reference, f"{name} drifted from egress.yaml"


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    pki = certs_module().make_pki(tmp_path_factory.mktemp("pki-validate"), {})
    return {"TLS_CERT": pki.server.cert, "TLS_KEY": pki.server.key, "TLS_CA": pki.ca.cert}


@pytest.mark.parametrize("template", TEMPLATES)
def test_template_validates_with_real_module(render, envoy_binary, tls_files, template):
    extra = {
        "egress.yaml": {},
        "egress-mtls.yaml": tls_files,
        "sidecar.yaml": {"NODE_NAMESPACE": "support", "NODE_SERVICE_ACCOUNT": "helpdesk"},
    }[template]
    rc, output = launch.validate_config(render(e2e_policy(), template=template, extra=extra, name="validate"),
                                        envoy_binary)
    assert rc == 0, output[-3000:]
