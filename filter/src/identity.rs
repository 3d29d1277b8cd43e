//! Who is calling: the caller's identity, read from the sources the policy orders.
//!
//! The engine never talks to the host directly. It asks a `RequestAttributes` for properties and
//! headers; the glue implements it with proxy-wasm hostcalls, tests with `StaticAttributes`.

use crate::document::{IdentitySourceDoc, PatternDoc, TrustedPeersDoc};
use regex::Regex;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

/// The seam to the host: what the engine may read about the current request.
pub trait RequestAttributes {
    /// A host property by path, e.g. `["connection", "uri_san_peer_certificate"]`.
    fn property(&self, path: &[&str]) -> Option<Vec<u8>>;
    /// A request header by lowercase name, for identity sources: a header sent more than once
    /// reads as absent, since no single identity can be read from it (joined values could
    /// still match a `**` glob or a `.*` regex).
    fn request_header(&self, name: &str) -> Option<String>;
}

/// Attributes held in memory: for tests, the harness and offline replay.
#[derive(Debug, Clone, Default)]
pub struct StaticAttributes {
    properties: BTreeMap<String, Vec<u8>>,
    headers: BTreeMap<String, String>,
}

impl StaticAttributes {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a property by its dotted path, e.g. `node.metadata.NAMESPACE`.
    #[must_use]
    pub fn property(mut self, dotted: &str, value: impl Into<Vec<u8>>) -> Self {
        self.properties.insert(dotted.to_owned(), value.into());
        self
    }

    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers
            .insert(name.to_ascii_lowercase(), value.to_owned());
        self
    }
}

impl RequestAttributes for StaticAttributes {
    fn property(&self, path: &[&str]) -> Option<Vec<u8>> {
        self.properties.get(&path.join(".")).cloned()
    }

    fn request_header(&self, name: &str) -> Option<String> {
        self.headers.get(name).cloned()
    }
}

/// Where an identity came from; logged with every decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    PeerUriSan,
    NodeMetadata,
    Header,
    SourceAddress,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PeerUriSan => "peer_uri_san",
            Self::NodeMetadata => "node_metadata",
            Self::Header => "header",
            Self::SourceAddress => "source_address",
        }
    }
}

/// The caller, as the first source that knew it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginIdentity {
    pub source: SourceKind,
    pub value: String,
}

/// A compiled identity pattern.
#[derive(Debug, Clone)]
pub enum IdentityPattern {
    Exact(String),
    /// Globs are compiled to anchored regexes.
    Regex(Regex),
    Cidr(Cidr),
}

impl IdentityPattern {
    pub fn compile(doc: &PatternDoc) -> Result<Self, String> {
        match doc {
            PatternDoc::Exact(s) if s.is_empty() => Err("empty `exact` pattern".to_owned()),
            PatternDoc::Exact(s) => Ok(Self::Exact(s.clone())),
            PatternDoc::Glob(g) => glob_to_regex(g).map(Self::Regex),
            PatternDoc::Regex(r) => Regex::new(r)
                .map(Self::Regex)
                .map_err(|e| format!("invalid regex `{r}`: {}", first_line(&e.to_string()))),
            PatternDoc::Cidr(c) => Cidr::parse(c).map(Self::Cidr),
        }
    }

    pub fn matches(&self, value: &str) -> bool {
        match self {
            Self::Exact(s) => s == value,
            Self::Regex(r) => r.is_match(value),
            Self::Cidr(c) => value.parse::<IpAddr>().is_ok_and(|ip| c.contains(ip)),
        }
    }
}

fn first_line(s: &str) -> String {
    s.lines().last().unwrap_or(s).trim().to_owned()
}

/// `*` matches any run of characters except `/`; `**` matches any run; `?` one character.
fn glob_to_regex(glob: &str) -> Result<Regex, String> {
    if glob.is_empty() {
        return Err("empty `glob` pattern".to_owned());
    }
    let mut re = String::with_capacity(glob.len() * 2 + 2);
    re.push('^');
    let mut chars = glob.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                re.push_str(".*");
            }
            '*' => re.push_str("[^/]*"),
            '?' => re.push_str("[^/]"),
            other => re.push_str(&regex::escape(other.encode_utf8(&mut [0u8; 4]))),
        }
    }
    re.push('$');
    Regex::new(&re).map_err(|e| format!("invalid glob `{glob}`: {}", first_line(&e.to_string())))
}

/// An IP network: an address and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Result<Self, String> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let network: IpAddr = addr
            .parse()
            .map_err(|_| format!("invalid address in CIDR `{s}`"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("invalid prefix length in CIDR `{s}`"))?,
            None => max,
        };
        // An IPv4-mapped network (`::ffff:10.0.0.0/104`) is the IPv4 network it maps, as callers are.
        if let IpAddr::V6(v6) = network
            && prefix >= 96
            && let Some(v4) = v6.to_ipv4_mapped()
        {
            return Ok(Self {
                network: IpAddr::V4(v4),
                prefix: prefix - 96,
            });
        }
        Ok(Self { network, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (self.network, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => prefix_eq(&n.octets(), &a.octets(), self.prefix),
            (IpAddr::V6(n), IpAddr::V6(a)) => prefix_eq(&n.octets(), &a.octets(), self.prefix),
            _ => false,
        }
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`) are matched as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn prefix_eq(a: &[u8], b: &[u8], prefix: u8) -> bool {
    let full = usize::from(prefix / 8);
    let rest = prefix % 8;
    if a.get(..full) != b.get(..full) {
        return false;
    }
    if rest == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    match (a.get(full), b.get(full)) {
        (Some(x), Some(y)) => x & mask == y & mask,
        _ => false,
    }
}

/// A compiled identity source.
#[derive(Debug, Clone)]
pub enum IdentitySource {
    PeerUriSan,
    NodeMetadata { template: Vec<TemplatePart> },
    Header { name: String, trusted: TrustedPeers },
    SourceAddress,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplatePart {
    Literal(String),
    Key(String),
}

#[derive(Debug, Clone, Default)]
pub struct TrustedPeers {
    uri_sans: Vec<IdentityPattern>,
    addresses: Vec<Cidr>,
}

impl IdentitySource {
    /// Compiles one source; errors are `(relative json path, message)`.
    pub fn compile(doc: &IdentitySourceDoc) -> Result<Self, Vec<(String, String)>> {
        match doc {
            IdentitySourceDoc::PeerUriSan {} => Ok(Self::PeerUriSan),
            IdentitySourceDoc::SourceAddress {} => Ok(Self::SourceAddress),
            IdentitySourceDoc::NodeMetadata { template } => parse_template(template)
                .map(|template| Self::NodeMetadata { template })
                .map_err(|e| vec![("template".to_owned(), e)]),
            IdentitySourceDoc::Header {
                name,
                trusted_peers,
            } => {
                let mut errors = Vec::new();
                if !is_header_name(name) {
                    errors.push(("name".to_owned(), format!("invalid header name `{name}`")));
                }
                let trusted = compile_trusted(trusted_peers, &mut errors);
                if errors.is_empty() {
                    Ok(Self::Header {
                        name: name.to_ascii_lowercase(),
                        trusted,
                    })
                } else {
                    Err(errors)
                }
            }
        }
    }

    fn read(&self, attrs: &dyn RequestAttributes) -> Option<OriginIdentity> {
        let (source, value) = match self {
            Self::PeerUriSan => (SourceKind::PeerUriSan, peer_uri_san(attrs)?),
            Self::SourceAddress => (SourceKind::SourceAddress, source_ip(attrs)?.to_string()),
            Self::NodeMetadata { template } => (SourceKind::NodeMetadata, render(template, attrs)?),
            Self::Header { name, trusted } => {
                if !trusted.admits(attrs) {
                    return None;
                }
                (
                    SourceKind::Header,
                    attrs.request_header(name)?.trim().to_owned(),
                )
            }
        };
        (!value.is_empty()).then_some(OriginIdentity { source, value })
    }
}

fn compile_trusted(doc: &TrustedPeersDoc, errors: &mut Vec<(String, String)>) -> TrustedPeers {
    let mut trusted = TrustedPeers::default();
    for (i, p) in doc.uri_sans.iter().enumerate() {
        match IdentityPattern::compile(p) {
            Ok(p) => trusted.uri_sans.push(p),
            Err(e) => errors.push((format!("trusted_peers.uri_sans[{i}]"), e)),
        }
    }
    for (i, a) in doc.addresses.iter().enumerate() {
        match Cidr::parse(a) {
            Ok(c) => trusted.addresses.push(c),
            Err(e) => errors.push((format!("trusted_peers.addresses[{i}]"), e)),
        }
    }
    if trusted.uri_sans.is_empty() && trusted.addresses.is_empty() && errors.is_empty() {
        errors.push((
            "trusted_peers".to_owned(),
            "a header source needs at least one trusted peer (`uri_sans` or `addresses`)"
                .to_owned(),
        ));
    }
    trusted
}

impl TrustedPeers {
    /// The header is honoured only when the direct peer (not the header) is a trusted hop.
    fn admits(&self, attrs: &dyn RequestAttributes) -> bool {
        if !self.uri_sans.is_empty()
            && let Some(san) = peer_uri_san(attrs)
            && self.uri_sans.iter().any(|p| p.matches(&san))
        {
            return true;
        }
        if !self.addresses.is_empty()
            && let Some(ip) = source_ip(attrs)
        {
            return self.addresses.iter().any(|c| c.contains(ip));
        }
        false
    }
}

fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(':')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.!#$%&'*+^`|~".contains(&b))
}

fn parse_template(t: &str) -> Result<Vec<TemplatePart>, String> {
    let mut parts = Vec::new();
    let mut rest = t;
    while let Some(open) = rest.find('{') {
        let (lit, after) = rest.split_at(open);
        if !lit.is_empty() {
            parts.push(TemplatePart::Literal(lit.to_owned()));
        }
        let after = after.get(1..).unwrap_or("");
        let close = after
            .find('}')
            .ok_or_else(|| format!("unclosed `{{` in template `{t}`"))?;
        let (key, tail) = after.split_at(close);
        if key.is_empty()
            || !key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(format!("invalid placeholder `{{{key}}}` in template `{t}`"));
        }
        parts.push(TemplatePart::Key(key.to_owned()));
        rest = tail.get(1..).unwrap_or("");
    }
    if !rest.is_empty() {
        parts.push(TemplatePart::Literal(rest.to_owned()));
    }
    if !parts.iter().any(|p| matches!(p, TemplatePart::Key(_))) {
        return Err(format!("template `{t}` has no `{{KEY}}` placeholder"));
    }
    Ok(parts)
}

/// Renders the template; any missing or empty key means the source knows nothing.
fn render(template: &[TemplatePart], attrs: &dyn RequestAttributes) -> Option<String> {
    let mut out = String::new();
    for part in template {
        match part {
            TemplatePart::Literal(l) => out.push_str(l),
            TemplatePart::Key(k) => {
                // Envoy 1.40 serves the node as `xds.node`; older hosts as `node`.
                let v = string_property(attrs, &["xds", "node", "metadata", k])
                    .or_else(|| string_property(attrs, &["node", "metadata", k]))?;
                if v.is_empty() {
                    return None;
                }
                out.push_str(&v);
            }
        }
    }
    Some(out)
}

fn string_property(attrs: &dyn RequestAttributes, path: &[&str]) -> Option<String> {
    let bytes = attrs.property(path)?;
    String::from_utf8(bytes).ok().map(|s| s.trim().to_owned())
}

fn peer_uri_san(attrs: &dyn RequestAttributes) -> Option<String> {
    string_property(attrs, &["connection", "uri_san_peer_certificate"]).filter(|s| !s.is_empty())
}

/// `source.address` is `ip:port` or `[ipv6]:port`; the port is dropped.
fn source_ip(attrs: &dyn RequestAttributes) -> Option<IpAddr> {
    let raw = string_property(attrs, &["source", "address"])?;
    raw.parse::<SocketAddr>()
        .map(|s| s.ip())
        .or_else(|_| {
            raw.trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
        })
        .ok()
        .map(canonical)
}

/// Reads the caller's identity from the first source that yields one.
pub fn resolve(
    sources: &[IdentitySource],
    attrs: &dyn RequestAttributes,
) -> Option<OriginIdentity> {
    sources.iter().find_map(|s| s.read(attrs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(json: &str) -> IdentitySource {
        IdentitySource::compile(&serde_json::from_str(json).unwrap()).unwrap()
    }

    #[test]
    fn glob_star_stops_at_slash_double_star_does_not() {
        let p = IdentityPattern::compile(&PatternDoc::Glob(
            "spiffe://cluster.local/ns/support/sa/*".into(),
        ))
        .unwrap();
        assert!(p.matches("spiffe://cluster.local/ns/support/sa/helpdesk"));
        assert!(!p.matches("spiffe://cluster.local/ns/support/sa/a/b"));
        assert!(!p.matches("spiffe://cluster.local/ns/support-evil/sa/x"));
        let p = IdentityPattern::compile(&PatternDoc::Glob("spiffe://cluster.local/**".into()))
            .unwrap();
        assert!(p.matches("spiffe://cluster.local/ns/a/sa/b"));
    }

    #[test]
    fn glob_escapes_regex_metacharacters() {
        let p = IdentityPattern::compile(&PatternDoc::Glob("a.b".into())).unwrap();
        assert!(p.matches("a.b"));
        assert!(!p.matches("axb"));
    }

    #[test]
    fn cidr_matching_handles_v4_v6_and_mapped() {
        let c = Cidr::parse("10.1.0.0/16").unwrap();
        assert!(c.contains("10.1.200.3".parse().unwrap()));
        assert!(!c.contains("10.2.0.1".parse().unwrap()));
        assert!(c.contains("::ffff:10.1.0.9".parse().unwrap()));
        let c6 = Cidr::parse("fd00::/8").unwrap();
        assert!(c6.contains("fd12::1".parse().unwrap()));
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        let mapped = Cidr::parse("::ffff:10.30.0.0/112").unwrap();
        assert!(mapped.contains("10.30.0.5".parse().unwrap()));
        assert!(mapped.contains("::ffff:10.30.0.6".parse().unwrap()));
        assert!(!mapped.contains("10.31.0.5".parse().unwrap()));
        assert!(Cidr::parse("nope/8").is_err());
        assert!(
            Cidr::parse("10.0.0.1/13")
                .unwrap()
                .contains("10.7.255.255".parse().unwrap())
        );
        assert!(
            !Cidr::parse("10.0.0.1/13")
                .unwrap()
                .contains("10.8.0.0".parse().unwrap())
        );
    }

    #[test]
    fn header_identity_needs_a_trusted_peer() {
        let s = src(
            r#"{"type":"header","name":"X-Who","trusted_peers":{"addresses":["127.0.0.1/32"]}}"#,
        );
        let trusted = StaticAttributes::new()
            .property("source.address", "127.0.0.1:4000")
            .header("x-who", "spiffe://a/b");
        let untrusted = StaticAttributes::new()
            .property("source.address", "10.0.0.1:4000")
            .header("x-who", "spiffe://a/b");
        assert_eq!(
            resolve(std::slice::from_ref(&s), &trusted).unwrap().value,
            "spiffe://a/b"
        );
        assert_eq!(resolve(&[s], &untrusted), None);
    }

    #[test]
    fn header_source_without_trusted_peers_is_a_config_error() {
        let doc =
            serde_json::from_str(r#"{"type":"header","name":"x","trusted_peers":{}}"#).unwrap();
        assert!(IdentitySource::compile(&doc).is_err());
    }

    #[test]
    fn first_source_that_knows_wins() {
        let sources = vec![
            src(r#"{"type":"peer_uri_san"}"#),
            src(r#"{"type":"source_address"}"#),
        ];
        let both = StaticAttributes::new()
            .property(
                "connection.uri_san_peer_certificate",
                "spiffe://x/ns/a/sa/b",
            )
            .property("source.address", "[::1]:9");
        let addr_only = StaticAttributes::new().property("source.address", "[::1]:9");
        assert_eq!(
            resolve(&sources, &both).unwrap().source,
            SourceKind::PeerUriSan
        );
        let id = resolve(&sources, &addr_only).unwrap();
        assert_eq!(
            (id.source, id.value.as_str()),
            (SourceKind::SourceAddress, "::1")
        );
    }

    #[test]
    fn node_metadata_is_read_from_xds_node_first() {
        let s = src(r#"{"type":"node_metadata","template":"{NAMESPACE}/{SERVICE_ACCOUNT}"}"#);
        let attrs = StaticAttributes::new()
            .property("xds.node.metadata.NAMESPACE", "support")
            .property("xds.node.metadata.SERVICE_ACCOUNT", "bot")
            .property("node.metadata.NAMESPACE", "stale");
        assert_eq!(resolve(&[s], &attrs).unwrap().value, "support/bot");
    }

    #[test]
    fn node_metadata_template_renders_or_yields_nothing() {
        let s = src(r#"{"type":"node_metadata"}"#);
        let full = StaticAttributes::new()
            .property("node.metadata.NAMESPACE", "support")
            .property("node.metadata.SERVICE_ACCOUNT", "bot");
        let partial = StaticAttributes::new().property("node.metadata.NAMESPACE", "support");
        assert_eq!(
            resolve(std::slice::from_ref(&s), &full).unwrap().value,
            "spiffe://cluster.local/ns/support/sa/bot"
        );
        assert_eq!(resolve(&[s], &partial), None);
        assert!(parse_template("no keys").is_err());
        assert!(parse_template("{open").is_err());
    }
}
