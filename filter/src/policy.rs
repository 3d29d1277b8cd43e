//! Load, then compile: the plugin configuration becomes a runnable `Policy`, or a list of every
//! problem with its JSON path. Regexes are compiled here, once per configuration, never per request.

use crate::classify::Classifier;
use crate::digest::short_hash;
use crate::document::{
    self, Action, LogSection, Mode, PolicyDocument, Role, RuleAction, ScoredRole,
};
use crate::identity::{IdentityPattern, IdentitySource};
use crate::training::TrainingPolicy;
use crate::whatsapp::canonical_path_id;
use std::collections::HashSet;
use std::fmt;

/// Message types an origin's `message_types` may name.
pub const MESSAGE_TYPES: &[&str] = &[
    "text",
    "template",
    "interactive",
    "image",
    "video",
    "audio",
    "document",
    "sticker",
    "reaction",
    "location",
    "contacts",
    "read",
];

/// Rule ids the engine uses itself; user ids may not shadow them.
pub const BUILTIN_RULES: &[&str] = &[
    "content_classifier",
    "default_action",
    "unknown_phone_number",
    "body_limit",
    "invalid_body",
    "unsupported_encoding",
    "graph_indirect_send",
    "no_rule",
    "webhook_signature",
    "unanswered_budget",
    "conversation_classifier",
    "conversation_state",
];

/// One problem in a policy, at a JSON path such as `$.origins[2].identities[0]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`: {}", self.path, self.message)
    }
}

/// Why a configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("policy is not valid JSON: {0}")]
    Syntax(String),
    #[error("policy has {} problem(s): {}", .0.len(), .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<Problem>),
}

impl PolicyError {
    pub fn problems(&self) -> Vec<Problem> {
        match self {
            Self::Syntax(m) => vec![Problem {
                path: "$".into(),
                message: m.clone(),
            }],
            Self::Invalid(p) => p.clone(),
        }
    }
}

/// An origin: identity patterns mapped to a role.
#[derive(Debug, Clone)]
pub struct Origin {
    pub id: String,
    pub patterns: Vec<IdentityPattern>,
    pub role: Role,
    pub message_types: Option<Vec<String>>,
    pub mode: Option<Mode>,
    /// What a `general_assistant` origin's sends get.
    pub action: RuleAction,
}

/// A phone-number rule: path ids mapped to a declared purpose and the origins allowed to use them.
#[derive(Debug, Clone)]
pub struct PhoneNumberRule {
    pub id: String,
    pub path_ids: Vec<String>,
    pub purpose: Role,
    pub allowed_origins: Vec<String>,
    pub mode: Option<Mode>,
    /// What the sends this rule refuses get.
    pub action: RuleAction,
}

#[derive(Debug, Clone)]
pub struct ContentPolicy {
    pub enabled: bool,
    pub score_unknown: bool,
    pub score_customer_service: bool,
    pub classifier: Classifier,
    pub mode: Option<Mode>,
    /// What a send the classifier finds gets.
    pub action: RuleAction,
}

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_body_bytes: usize,
    pub max_decompressed_bytes: usize,
    pub on_oversize: Action,
    pub on_invalid_body: Action,
    pub on_unsupported_encoding: Action,
    pub mode: Option<Mode>,
}

/// A compiled, validated policy.
#[derive(Debug, Clone)]
pub struct Policy {
    pub mode: Mode,
    pub default_action: Action,
    pub whatsapp_hosts: Vec<String>,
    pub edges: Vec<crate::whatsapp::Edge>,
    /// The providers whose WhatsApp sends are read (`whatsapp.providers`).
    pub providers: Vec<crate::whatsapp::providers::ProviderRoute>,
    pub indirect_sends: Action,
    pub identity_sources: Vec<IdentitySource>,
    pub origins: Vec<Origin>,
    pub unknown_number: Action,
    pub numbers: Vec<PhoneNumberRule>,
    pub content: ContentPolicy,
    pub limits: Limits,
    pub log: LogSection,
    pub training: Option<TrainingPolicy>,
    /// The signature check of Meta's webhook deliveries on the ingress route.
    pub webhook: Option<crate::webhook::WebhookPolicy>,
    /// The message a handed-off send is replaced with (present whenever a rule hands off).
    pub handoff: Option<crate::handoff::HandoffPolicy>,
    /// State across the sends to one recipient: the unanswered budget, conversation scoring.
    pub conversation: Option<crate::conversation::ConversationPolicy>,
    /// A short SHA-256 of the configuration bytes, logged with every decision so that each one
    /// can be tied to the policy version that made it.
    pub fingerprint: String,
}

/// The policy's edges: names are single lowercase path segments, each listed once.
fn compile_edges(
    docs: &[document::EdgeDoc],
    push: &mut impl FnMut(String, String),
) -> Vec<crate::whatsapp::Edge> {
    use crate::whatsapp::{Edge, Endpoint};
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

/// Upper bounds that keep a typo from turning into unbounded memory per request.
const MAX_BODY_LIMIT: u64 = 16 << 20;
const MAX_DECOMPRESSED_LIMIT: u64 = 64 << 20;
pub use crate::document::MIN_SAMPLE_RATE;

impl Policy {
    /// Parses and compiles a policy from the plugin configuration bytes.
    pub fn from_json(bytes: &[u8]) -> Result<Self, PolicyError> {
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| PolicyError::Syntax(e.to_string()))?;
        let fingerprint = short_hash(bytes);
        let doc: PolicyDocument = serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            let path = if path == "." {
                "$".to_owned()
            } else {
                format!("$.{path}")
            };
            PolicyError::Invalid(vec![Problem {
                path,
                message: e.into_inner().to_string(),
            }])
        })?;
        let mut policy = Self::compile(&doc)?;
        // The model is part of what decides: a retrained model is a new policy version.
        policy.fingerprint = format!(
            "{fingerprint}.{}",
            policy.content.classifier.model_version()
        );
        Ok(policy)
    }

    /// Validates a document and compiles it, reporting every problem.
    pub fn compile(doc: &PolicyDocument) -> Result<Self, PolicyError> {
        let mut problems = Vec::new();
        let mut push = |path: String, message: String| problems.push(Problem { path, message });

        let mut whatsapp_hosts = Vec::new();
        if doc.whatsapp.hosts.is_empty() {
            push(
                "$.whatsapp.hosts".into(),
                "at least one host is required".into(),
            );
        }
        for (i, h) in doc.whatsapp.hosts.iter().enumerate() {
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

        let edges = compile_edges(&doc.whatsapp.edges, &mut push);
        let providers = crate::whatsapp::providers::compile(
            &doc.whatsapp.providers,
            &whatsapp_hosts,
            &mut push,
        );

        let mut identity_sources = Vec::new();
        if doc.identity.sources.is_empty() {
            push(
                "$.identity.sources".into(),
                "at least one identity source is required".into(),
            );
        }
        for (i, s) in doc.identity.sources.iter().enumerate() {
            match IdentitySource::compile(s) {
                Ok(s) => identity_sources.push(s),
                Err(errs) => errs
                    .into_iter()
                    .for_each(|(p, m)| push(format!("$.identity.sources[{i}].{p}"), m)),
            }
        }

        let mut ids: HashSet<String> = HashSet::new();
        let mut check_id = |path: String, id: &str, push: &mut dyn FnMut(String, String)| {
            if !is_rule_id(id) {
                push(
                    path,
                    format!(
                        "invalid id `{id}`: use 1-64 of [a-z0-9_-], starting with a letter or digit"
                    ),
                );
            } else if BUILTIN_RULES.contains(&id) {
                push(path, format!("id `{id}` is reserved for a built-in rule"));
            } else if !ids.insert(id.to_owned()) {
                push(path, format!("duplicate id `{id}`"));
            }
        };

        let mut origins = Vec::new();
        for (i, o) in doc.origins.iter().enumerate() {
            check_id(format!("$.origins[{i}].id"), &o.id, &mut push);
            if o.identities.is_empty() {
                push(
                    format!("$.origins[{i}].identities"),
                    "at least one identity pattern is required".into(),
                );
            }
            let mut patterns = Vec::new();
            for (j, p) in o.identities.iter().enumerate() {
                match IdentityPattern::compile(p) {
                    Ok(p) => patterns.push(p),
                    Err(e) => push(format!("$.origins[{i}].identities[{j}]"), e),
                }
            }
            let message_types = o.message_types.as_ref().map(|types| {
                types
                    .iter()
                    .enumerate()
                    .filter_map(|(j, t)| {
                        let t = t.to_ascii_lowercase();
                        if MESSAGE_TYPES.contains(&t.as_str()) {
                            Some(t)
                        } else {
                            push(
                                format!("$.origins[{i}].message_types[{j}]"),
                                format!(
                                    "unknown message type `{t}` (known: {})",
                                    MESSAGE_TYPES.join(", ")
                                ),
                            );
                            None
                        }
                    })
                    .collect::<Vec<_>>()
            });
            if o.role == Role::GeneralAssistant && o.message_types.is_some() {
                push(
                    format!("$.origins[{i}].message_types"),
                    "a general_assistant origin is always blocked; `message_types` has no effect"
                        .into(),
                );
            }
            if o.action == RuleAction::Handoff && o.role != Role::GeneralAssistant {
                push(
                    format!("$.origins[{i}].action"),
                    "only a general_assistant origin's sends are refused by its role; `handoff` needs `role: general_assistant`".into(),
                );
            }
            origins.push(Origin {
                id: o.id.clone(),
                patterns,
                role: o.role,
                message_types,
                mode: o.mode,
                action: o.action,
            });
        }
        let origin_ids: HashSet<&str> = doc.origins.iter().map(|o| o.id.as_str()).collect();

        let mut numbers = Vec::new();
        let mut seen_path_ids: HashSet<&str> = HashSet::new();
        for (i, n) in doc.phone_numbers.numbers.iter().enumerate() {
            check_id(format!("$.phone_numbers.numbers[{i}].id"), &n.id, &mut push);
            if n.path_ids.is_empty() {
                push(
                    format!("$.phone_numbers.numbers[{i}].path_ids"),
                    "at least one path id is required".into(),
                );
            }
            for (j, p) in n.path_ids.iter().enumerate() {
                if p.is_empty() || p.contains('/') {
                    push(
                        format!("$.phone_numbers.numbers[{i}].path_ids[{j}]"),
                        format!("invalid path id `{p}`"),
                    );
                } else if !seen_path_ids.insert(p) {
                    push(
                        format!("$.phone_numbers.numbers[{i}].path_ids[{j}]"),
                        format!("path id `{p}` is already claimed by another rule"),
                    );
                }
            }
            for (j, o) in n.allowed_origins.iter().enumerate() {
                if !origin_ids.contains(o.as_str()) {
                    push(
                        format!("$.phone_numbers.numbers[{i}].allowed_origins[{j}]"),
                        format!("no origin with id `{o}`"),
                    );
                }
            }
            numbers.push(PhoneNumberRule {
                id: n.id.clone(),
                path_ids: n.path_ids.iter().map(|p| canonical_path_id(p)).collect(),
                purpose: n.purpose,
                allowed_origins: n.allowed_origins.clone(),
                mode: n.mode,
                action: n.action,
            });
        }

        let classifier = match Classifier::compile(&doc.content) {
            Ok(c) => Some(c),
            Err(errs) => {
                errs.into_iter()
                    .for_each(|(p, m)| push(format!("$.content.{p}"), m));
                None
            }
        };

        let l = &doc.limits;
        if l.max_body_bytes == 0 || l.max_body_bytes > MAX_BODY_LIMIT {
            push(
                "$.limits.max_body_bytes".into(),
                format!(
                    "must be between 1 and {MAX_BODY_LIMIT}, got `{}`",
                    l.max_body_bytes
                ),
            );
        }
        if l.max_decompressed_bytes == 0 || l.max_decompressed_bytes > MAX_DECOMPRESSED_LIMIT {
            push(
                "$.limits.max_decompressed_bytes".into(),
                format!(
                    "must be between 1 and {MAX_DECOMPRESSED_LIMIT}, got `{}`",
                    l.max_decompressed_bytes
                ),
            );
        }

        let rate = doc.log.allowed_sample_rate;
        if !(MIN_SAMPLE_RATE..=1.0).contains(&rate) {
            push(
                "$.log.allowed_sample_rate".into(),
                format!(
                    "must be a number from {MIN_SAMPLE_RATE} (one line in 10,000) to 1, got `{rate}`"
                ),
            );
        }

        let training = compiled_section(
            doc.training.as_ref().map(TrainingPolicy::compile),
            &mut push,
        );

        let handoff = compiled_section(
            doc.handoff
                .as_ref()
                .map(crate::handoff::HandoffPolicy::compile),
            &mut push,
        );
        if doc.handoff.is_none() {
            for path in handoff_rules(doc) {
                push(
                    path,
                    "`action: handoff` needs a `handoff` section (the messages a handed-off send is replaced with)".into(),
                );
            }
        }

        let webhook = compiled_section(
            doc.webhook
                .as_ref()
                .map(crate::webhook::WebhookPolicy::compile),
            &mut push,
        );

        let conversation = compiled_section(
            doc.conversation
                .as_ref()
                .map(crate::conversation::ConversationPolicy::compile),
            &mut push,
        );
        // Conversation keys are salted hashes of phone numbers: enforced, they need a salt that
        // nobody else knows.
        if let Some(section) = &doc.conversation {
            let enforced = |m: Option<Mode>| m.unwrap_or(doc.mode) == Mode::Enforce;
            let enforces = enforced(section.mode)
                || section
                    .scoring
                    .as_ref()
                    .is_some_and(|s| enforced(s.mode.or(doc.content.mode)))
                || section
                    .unanswered_budget
                    .as_ref()
                    .is_some_and(|b| enforced(b.mode));
            if let Some(problem) = enforces
                .then(|| crate::conversation::salt_problem(&doc.log.recipient_hash_salt))
                .flatten()
            {
                push("$.log.recipient_hash_salt".to_owned(), problem);
            }
        }
        // The webhook route records inbound messages only where conversations are kept.
        let webhook = webhook.map(|mut w| {
            w.reads_inbound = conversation.is_some();
            w
        });

        match classifier {
            Some(classifier) if problems.is_empty() => Ok(Self {
                mode: doc.mode,
                default_action: doc.default_action,
                whatsapp_hosts,
                edges,
                providers,
                indirect_sends: doc.whatsapp.indirect_sends,
                identity_sources,
                origins,
                unknown_number: doc.phone_numbers.unknown,
                numbers,
                content: ContentPolicy {
                    enabled: doc.content.enabled,
                    score_unknown: doc.content.roles.contains(&ScoredRole::Unknown),
                    score_customer_service: doc
                        .content
                        .roles
                        .contains(&ScoredRole::CustomerService),
                    classifier,
                    mode: doc.content.mode,
                    action: doc.content.action,
                },
                limits: Limits {
                    max_body_bytes: usize::try_from(l.max_body_bytes).unwrap_or(usize::MAX),
                    max_decompressed_bytes: usize::try_from(l.max_decompressed_bytes)
                        .unwrap_or(usize::MAX),
                    on_oversize: l.on_oversize,
                    on_invalid_body: l.on_invalid_body,
                    on_unsupported_encoding: l.on_unsupported_encoding,
                    mode: l.mode,
                },
                log: doc.log.clone(),
                training,
                webhook,
                handoff,
                conversation,
                fingerprint: String::new(),
            }),
            _ => Err(PolicyError::Invalid(problems)),
        }
    }

    /// Whether any rule of the policy can apply to a request for this authority. Everything
    /// else passes untouched without reading more of the request.
    pub fn governs_host(&self, authority: &str) -> bool {
        let host = crate::whatsapp::normalize_authority(authority);
        self.is_whatsapp_host(&host)
            || self.provider_for(&host).is_some()
            || self
                .training
                .as_ref()
                .is_some_and(|t| t.governs_host(&host))
            || self.webhook_host(&host)
    }

    /// Whether `authority` (normalised) is a host of the webhook ingress route.
    pub fn webhook_host(&self, normalized_authority: &str) -> bool {
        self.webhook
            .as_ref()
            .is_some_and(|w| w.matches_host(normalized_authority))
    }

    /// Whether `authority` names a WhatsApp Cloud API host.
    pub fn is_whatsapp_host(&self, normalized_authority: &str) -> bool {
        self.whatsapp_hosts
            .iter()
            .any(|h| h == normalized_authority)
    }

    /// The enabled provider serving `authority` (normalised), if any.
    pub fn provider_for(
        &self,
        normalized_authority: &str,
    ) -> Option<&crate::whatsapp::providers::ProviderRoute> {
        self.providers
            .iter()
            .find(|p| p.matches(normalized_authority))
    }

    /// The rule naming a path id (rules hold their ids canonical, see [`canonical_path_id`]).
    pub fn number_rule(&self, path_id: &str) -> Option<&PhoneNumberRule> {
        let id = canonical_path_id(path_id);
        self.numbers.iter().find(|n| n.path_ids.contains(&id))
    }
}

/// The JSON paths of the `action` of every rule that hands off.
fn handoff_rules(doc: &PolicyDocument) -> Vec<String> {
    let origins = doc
        .origins
        .iter()
        .enumerate()
        .filter(|(_, o)| o.action == RuleAction::Handoff)
        .map(|(i, _)| format!("$.origins[{i}].action"));
    let numbers = doc
        .phone_numbers
        .numbers
        .iter()
        .enumerate()
        .filter(|(_, n)| n.action == RuleAction::Handoff)
        .map(|(i, _)| format!("$.phone_numbers.numbers[{i}].action"));
    let content =
        (doc.content.action == RuleAction::Handoff).then(|| "$.content.action".to_owned());
    origins.chain(numbers).chain(content).collect()
}

fn is_rule_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// An optional section compiled on its own: its problems (JSON path, message) join the
/// policy's, and a section with problems is left out.
fn compiled_section<T>(
    compiled: Option<Result<T, Vec<(String, String)>>>,
    push: &mut impl FnMut(String, String),
) -> Option<T> {
    match compiled? {
        Ok(section) => Some(section),
        Err(problems) => {
            problems.into_iter().for_each(|(p, m)| push(p, m));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"{
        "default_action": "allow",
        "whatsapp": {},
        "identity": {"sources": [{"type": "peer_uri_san"}]},
        "origins": [],
        "phone_numbers": {},
        "content": {},
        "limits": {}
    }"#;

    fn with(patch: &str) -> Result<Policy, PolicyError> {
        let mut base: serde_json::Value = serde_json::from_str(MINIMAL).unwrap();
        let patch: serde_json::Value = serde_json::from_str(patch).unwrap();
        for (k, v) in patch.as_object().unwrap() {
            base[k] = v.clone();
        }
        Policy::from_json(base.to_string().as_bytes())
    }

    fn paths(err: PolicyError) -> Vec<String> {
        err.problems().into_iter().map(|p| p.path).collect()
    }

    #[test]
    fn minimal_policy_compiles_with_defaults() {
        let p = Policy::from_json(MINIMAL.as_bytes()).unwrap();
        assert_eq!(
            p.whatsapp_hosts,
            [
                "graph.facebook.com",
                "graph.beta.facebook.com",
                "graph-video.facebook.com",
                "b-graph.facebook.com"
            ]
        );
        assert_eq!(p.limits.max_body_bytes, 65536);
        assert_eq!(p.limits.on_oversize, Action::Block);
        assert!(p.content.score_unknown && !p.content.score_customer_service);
    }

    #[test]
    fn unknown_field_is_an_error_with_its_path() {
        let err = with(r#"{"limits": {"max_body_byte": 10}}"#).unwrap_err();
        let p = err.problems();
        assert_eq!(p[0].path, "$.limits.max_body_byte");
        assert!(p[0].message.contains("max_body_byte"), "{}", p[0].message);
    }

    #[test]
    fn missing_section_is_an_error() {
        let err = Policy::from_json(br#"{"default_action":"allow"}"#).unwrap_err();
        assert!(err.to_string().contains("missing field"), "{err}");
    }

    #[test]
    fn unknown_role_is_an_error() {
        let err =
            with(r#"{"origins": [{"id":"a","identities":[{"exact":"x"}],"role":"chatbot"}]}"#)
                .unwrap_err();
        assert_eq!(paths(err), ["$.origins[0].role"]);
    }

    #[test]
    fn every_semantic_problem_is_reported_with_its_path() {
        let err = with(
            r#"{"origins": [
                  {"id":"Bad Id","identities":[{"regex":"("}],"role":"customer_service","message_types":["txt"]},
                  {"id":"dup","identities":[],"role":"customer_service"},
                  {"id":"dup","identities":[{"glob":""}],"role":"general_assistant"}],
                "phone_numbers": {"numbers":[{"id":"line","path_ids":["1","1"],"purpose":"customer_service","allowed_origins":["ghost"]}]},
                "limits": {"max_body_bytes": 0}}"#,
        )
        .unwrap_err();
        assert_eq!(
            paths(err),
            [
                "$.origins[0].id",
                "$.origins[0].identities[0]",
                "$.origins[0].message_types[0]",
                "$.origins[1].identities",
                "$.origins[2].id",
                "$.origins[2].identities[0]",
                "$.phone_numbers.numbers[0].path_ids[1]",
                "$.phone_numbers.numbers[0].allowed_origins[0]",
                "$.limits.max_body_bytes",
            ]
        );
    }

    #[test]
    fn the_allowed_sample_rate_is_a_number_in_zero_to_one() {
        assert_eq!(
            with("{}").unwrap().log.allowed_sample_rate,
            1.0,
            "the default keeps every allowed line"
        );
        let p = with(r#"{"log": {"log_allowed": true, "allowed_sample_rate": 0.05}}"#).unwrap();
        assert_eq!(p.log.allowed_sample_rate, 0.05);
        assert!(with(r#"{"log": {"allowed_sample_rate": 1}}"#).is_ok());
        assert!(with(r#"{"log": {"allowed_sample_rate": 0.0001}}"#).is_ok());
        for bad in [
            "0", "-0.5", "1.01", "7", r#""0.5""#, "null", "true", "[0.5]", "0.00005", "5e-324",
        ] {
            let err = with(&format!(r#"{{"log": {{"allowed_sample_rate": {bad}}}}}"#)).unwrap_err();
            let problems = err.problems();
            assert_eq!(
                problems.iter().map(|p| p.path.as_str()).collect::<Vec<_>>(),
                ["$.log.allowed_sample_rate"],
                "{bad}"
            );
            assert!(
                problems[0]
                    .message
                    .contains("must be a number from 0.0001 (one line in 10,000) to 1"),
                "{bad}: {}",
                problems[0].message
            );
        }
    }

    #[test]
    fn a_handoff_rule_needs_a_handoff_section() {
        let err = with(
            r#"{"origins": [{"id":"bot","identities":[{"exact":"x"}],"role":"general_assistant","action":"handoff"}],
                "phone_numbers": {"numbers":[{"id":"line","path_ids":["1"],"purpose":"general_assistant","action":"handoff"}]},
                "content": {"action": "handoff"}}"#,
        )
        .unwrap_err();
        let problems = err.problems();
        assert_eq!(
            problems.iter().map(|p| p.path.as_str()).collect::<Vec<_>>(),
            [
                "$.origins[0].action",
                "$.phone_numbers.numbers[0].action",
                "$.content.action"
            ]
        );
        assert!(
            problems[0].message.contains("needs a `handoff` section"),
            "{}",
            problems[0].message
        );
        let section = r#""handoff": {"default_language":"en","messages":{"en":{"type":"text","body":"Continue in our app."}}}"#;
        let p = with(&format!(
            r#"{{"content": {{"action": "handoff"}}, {section}}}"#
        ))
        .unwrap();
        assert_eq!(p.content.action, RuleAction::Handoff);
        assert!(p.handoff.is_some());
        // A section's own problems are reported with their paths, with the rules' others.
        let err = with(
            r#"{"content": {"action": "handoff"}, "handoff": {"default_language":"de","url":"https://a.example/{who}","messages":{"en":{"type":"text","body":"x"}}}}"#,
        )
        .unwrap_err();
        assert_eq!(paths(err), ["$.handoff.url", "$.handoff.default_language"]);
    }

    #[test]
    fn enforced_conversations_refuse_an_empty_placeholder_or_public_salt() {
        let conversation = r#""conversation": {"unanswered_budget": {"max_unanswered": 3}}"#;
        for salt in [
            "",
            "  ",
            "demo-salt",
            "Demo-Salt",
            crate::conversation::SALT_PLACEHOLDER,
        ] {
            let patch =
                format!(r#"{{{conversation}, "log": {{"recipient_hash_salt": "{salt}"}}}}"#);
            let err = with(&patch).unwrap_err();
            assert_eq!(paths(err), ["$.log.recipient_hash_salt"], "{salt:?}");
        }
        let own = format!(r#"{{{conversation}, "log": {{"recipient_hash_salt": "x7-our-own"}}}}"#);
        assert!(with(&own).is_ok());
        // In audit mode, every conversation rule audited, or without conversations: loaded.
        let audit = format!(r#"{{"mode": "audit", {conversation}}}"#);
        assert!(with(&audit).is_ok());
        assert!(with(r#"{"log": {"recipient_hash_salt": "demo-salt"}}"#).is_ok());
        // Scoring takes the content rule's mode when it has none: enforced there, refused.
        let scoring = r#""conversation": {"scoring": {}}, "content": {"mode": "enforce"}"#;
        let err = with(&format!(r#"{{"mode": "audit", {scoring}}}"#)).unwrap_err();
        assert_eq!(paths(err), ["$.log.recipient_hash_salt"]);
    }

    #[test]
    fn only_a_general_assistant_origin_hands_off() {
        let err = with(
            r#"{"origins": [{"id":"bot","identities":[{"exact":"x"}],"role":"customer_service","action":"handoff"}],
                "handoff": {"default_language":"en","messages":{"en":{"type":"text","body":"x"}}}}"#,
        )
        .unwrap_err();
        assert_eq!(paths(err), ["$.origins[0].action"]);
        let err = with(r#"{"content": {"action": "redirect"}}"#).unwrap_err();
        assert_eq!(paths(err), ["$.content.action"]);
    }

    #[test]
    fn builtin_rule_ids_are_reserved() {
        let err = with(r#"{"origins": [{"id":"content_classifier","identities":[{"exact":"x"}],"role":"customer_service"}]}"#).unwrap_err();
        assert!(err.to_string().contains("reserved"));
    }

    #[test]
    fn every_shipped_policy_compiles() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies");
        let mut files = vec![dir.join("default.json")];
        files.extend(
            std::fs::read_dir(dir.join("examples"))
                .unwrap()
                .map(|e| e.unwrap().path()),
        );
        for f in files {
            // A placeholder salt is the deployment's to replace (and refused until then).
            let text = std::fs::read_to_string(&f).unwrap().replace(
                crate::conversation::SALT_PLACEHOLDER,
                "a-per-deployment-secret-9c2d",
            );
            let p = Policy::from_json(text.as_bytes());
            assert!(p.is_ok(), "{}: {}", f.display(), p.unwrap_err());
        }
    }

    #[test]
    fn governed_hosts_are_whatsapp_and_training_hosts_only() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/default.json");
        let p = Policy::from_json(&std::fs::read(path).unwrap()).unwrap();
        for host in [
            "graph.facebook.com",
            "Graph.Facebook.com.:443",
            "api.openai.com",
            "acme.openai.azure.com",
            "bedrock.eu-west-1.amazonaws.com",
        ] {
            assert!(p.governs_host(host), "{host}");
        }
        for host in [
            "example.com",
            "facebook.com",
            "graph.facebook.com.evil.com",
            "openai.azure.com",
            "",
        ] {
            assert!(!p.governs_host(host), "{host}");
        }
    }

    #[test]
    fn not_json_is_a_syntax_error() {
        assert!(matches!(
            Policy::from_json(b"{nope"),
            Err(PolicyError::Syntax(_))
        ));
        assert!(matches!(
            Policy::from_json(b""),
            Err(PolicyError::Syntax(_))
        ));
    }
}
