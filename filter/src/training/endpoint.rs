//! A compiled training endpoint or bucket: the hosts, paths and methods an upload is matched by.

use super::bucket;
use crate::document::{BodyFormat, BucketDoc, EndpointDoc, PatternDoc};
use crate::identity::IdentityPattern;

/// A compiled endpoint entry.
#[derive(Debug, Clone)]
pub struct TrainingEndpoint {
    pub id: String,
    hosts: Vec<HostPattern>,
    paths: Vec<IdentityPattern>,
    methods: Vec<String>,
    pub format: BodyFormat,
    /// A training bucket (`training.buckets`): matched by `route_object`, never by `route`.
    pub(super) bucket: Option<bucket::TrainingBucket>,
}

/// A host pattern: exact, or with `*` standing for the characters of one DNS label
/// (`*.openai.azure.com`, `*-aiplatform.googleapis.com`, `bedrock.*.amazonaws.com`).
#[derive(Debug, Clone)]
pub(super) struct HostPattern(regex::Regex);

impl HostPattern {
    pub(super) fn parse(s: &str) -> Result<Self, String> {
        let h = crate::whatsapp::normalize_authority(s);
        if h.is_empty()
            || !h
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'*')
        {
            return Err(format!("invalid host pattern `{s}`"));
        }
        let body: Vec<String> = h.split('*').map(regex::escape).collect();
        regex::Regex::new(&format!("^{}$", body.join("[a-z0-9-]+")))
            .map(Self)
            .map_err(|e| format!("invalid host pattern `{s}`: {e}"))
    }

    pub(super) fn matches(&self, host: &str) -> bool {
        self.0.is_match(host)
    }
}

impl TrainingEndpoint {
    pub(super) fn compile(
        doc: &EndpointDoc,
        path: &str,
        errors: &mut Vec<(String, String)>,
    ) -> Self {
        let mut hosts = Vec::new();
        for (i, h) in doc.hosts.iter().enumerate() {
            match HostPattern::parse(h) {
                Ok(p) => hosts.push(p),
                Err(e) => errors.push((format!("{path}.hosts[{i}]"), e)),
            }
        }
        if doc.hosts.is_empty() {
            errors.push((
                format!("{path}.hosts"),
                "at least one host is required".into(),
            ));
        }
        let mut paths = Vec::new();
        for (i, p) in doc.paths.iter().enumerate() {
            if !p.starts_with('/') {
                errors.push((
                    format!("{path}.paths[{i}]"),
                    format!("path glob `{p}` must start with `/`"),
                ));
                continue;
            }
            match IdentityPattern::compile(&PatternDoc::Glob(p.to_ascii_lowercase())) {
                Ok(g) => paths.push(g),
                Err(e) => errors.push((format!("{path}.paths[{i}]"), e)),
            }
        }
        Self {
            id: doc.id.clone(),
            hosts,
            paths,
            methods: doc.methods.iter().map(|m| m.to_ascii_uppercase()).collect(),
            format: doc.format,
            bucket: None,
        }
    }

    /// A training bucket as an endpoint: its outcomes, metrics and logs carry its id.
    pub(super) fn for_bucket(
        doc: &BucketDoc,
        path: &str,
        errors: &mut Vec<(String, String)>,
    ) -> Self {
        Self {
            id: doc.id.clone(),
            hosts: Vec::new(),
            paths: Vec::new(),
            methods: Vec::new(),
            format: BodyFormat::Object,
            bucket: Some(bucket::TrainingBucket::compile(doc, path, errors)),
        }
    }

    pub(super) fn governs_host(&self, host: &str) -> bool {
        self.hosts.iter().any(|h| h.matches(host))
            || self.bucket.as_ref().is_some_and(|b| b.governs_host(host))
    }

    pub(super) fn matches(&self, method: &str, host: &str, path: &str) -> bool {
        self.methods.iter().any(|m| m.eq_ignore_ascii_case(method))
            && self.hosts.iter().any(|h| h.matches(host))
            && self.paths.iter().any(|p| p.matches(path))
    }
}
