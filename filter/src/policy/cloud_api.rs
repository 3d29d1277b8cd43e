//! The Cloud API's part of a policy compiled: its hosts, and the Graph edges whose bodies are read.

use crate::document::EdgeDoc;
use crate::whatsapp::{Edge, Endpoint};

/// The Cloud API's hosts, normalised: at least one, each a plain DNS name.
pub(super) fn compile_hosts(
    hosts: &[String],
    push: &mut impl FnMut(String, String),
) -> Vec<String> {
    let mut whatsapp_hosts = Vec::new();
    if hosts.is_empty() {
        push(
            "$.whatsapp.hosts".into(),
            "at least one host is required".into(),
        );
    }
    for (i, h) in hosts.iter().enumerate() {
        let norm = crate::whatsapp::normalize_authority(h);
        if norm.is_empty()
            || !norm
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        {
            push(
                format!("$.whatsapp.hosts[{i}]"),
                format!("invalid host `{h}`"),
            );
        } else {
            whatsapp_hosts.push(norm);
        }
    }
    whatsapp_hosts
}

/// The policy's edges: names are single lowercase path segments, each listed once.
pub(super) fn compile_edges(
    docs: &[EdgeDoc],
    push: &mut impl FnMut(String, String),
) -> Vec<crate::whatsapp::Edge> {
    let mut edges: Vec<Edge> = Vec::new();
    for (i, e) in docs.iter().enumerate() {
        let name = e.edge.trim().to_ascii_lowercase();
        let valid = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !valid {
            push(
                format!("$.whatsapp.edges[{i}].edge"),
                format!(
                    "an edge is one path segment of letters, digits, `_` or `-`, got `{}`",
                    e.edge
                ),
            );
            continue;
        }
        if edges.iter().any(|x| x.name == name) {
            push(
                format!("$.whatsapp.edges[{i}].edge"),
                format!("edge `{name}` is listed twice"),
            );
            continue;
        }
        let endpoint = Endpoint::from(e.reads);
        edges.push(Edge { name, endpoint });
    }
    edges
}
