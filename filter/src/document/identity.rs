//! The `identity` and `origins` sections: where a caller's identity comes from, and its role.

use super::{Mode, Role, RuleAction};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentitySection {
    /// Tried in order; the first source that yields a value is the caller's identity.
    pub sources: Vec<IdentitySourceDoc>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum IdentitySourceDoc {
    /// `connection.uri_san_peer_certificate`: the SPIFFE id of the mTLS peer.
    PeerUriSan {},
    /// The proxy's own node metadata, rendered through a template of `{KEY}` placeholders.
    NodeMetadata {
        #[serde(default = "default_node_template")]
        template: String,
    },
    /// A request header, honoured only when the direct peer is a trusted hop.
    Header {
        name: String,
        trusted_peers: TrustedPeersDoc,
    },
    /// `source.address`, without its port.
    SourceAddress {},
}

fn default_node_template() -> String {
    "spiffe://cluster.local/ns/{NAMESPACE}/sa/{SERVICE_ACCOUNT}".to_owned()
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedPeersDoc {
    #[serde(default)]
    pub uri_sans: Vec<PatternDoc>,
    /// CIDR blocks, e.g. `10.0.0.0/8` or `::1/128`.
    #[serde(default)]
    pub addresses: Vec<String>,
}

/// An identity pattern: exactly one of its keys.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum PatternDoc {
    Exact(String),
    Glob(String),
    Regex(String),
    Cidr(String),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OriginDoc {
    pub id: String,
    pub identities: Vec<PatternDoc>,
    pub role: Role,
    /// Message types this origin may send; absent means all.
    #[serde(default)]
    pub message_types: Option<Vec<String>>,
    #[serde(default)]
    pub mode: Option<Mode>,
    /// What a `general_assistant` origin's sends get: blocked, or handed off.
    #[serde(default)]
    pub action: RuleAction,
}
