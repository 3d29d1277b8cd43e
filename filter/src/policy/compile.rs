//! `Policy::compile`: each section of a `PolicyDocument` checked and compiled in turn, and
//! every problem kept with its JSON path.

use super::cloud_api::{compile_edges, compile_hosts};
use super::rules::{RuleIds, compile_numbers, compile_origins};
use super::{ContentPolicy, Limits, Policy, PolicyError, Problem};
use crate::classify::Classifier;
use crate::document::{
    IdentitySection, LimitsSection, MIN_SAMPLE_RATE, Mode, PolicyDocument, RuleAction, ScoredRole,
};
use crate::identity::IdentitySource;
use crate::training::TrainingPolicy;

/// Upper bounds that keep a typo from turning into unbounded memory per request.
const MAX_BODY_LIMIT: u64 = 16 << 20;
const MAX_DECOMPRESSED_LIMIT: u64 = 64 << 20;

impl Policy {
    /// Validates a document and compiles it, reporting every problem.
    pub fn compile(doc: &PolicyDocument) -> Result<Self, PolicyError> {
        let mut problems = Vec::new();
        let mut push = |path: String, message: String| problems.push(Problem { path, message });

        let whatsapp_hosts = compile_hosts(&doc.whatsapp.hosts, &mut push);
        let edges = compile_edges(&doc.whatsapp.edges, &mut push);
        let providers = crate::whatsapp::providers::compile(
            &doc.whatsapp.providers,
            &whatsapp_hosts,
            &mut push,
        );

        let identity_sources = compile_identity_sources(&doc.identity, &mut push);

        let mut ids = RuleIds::default();
        let origins = compile_origins(&doc.origins, &mut ids, &mut push);
        let numbers = compile_numbers(&doc.phone_numbers, &doc.origins, &mut ids, &mut push);

        let classifier = match Classifier::compile(&doc.content) {
            Ok(c) => Some(c),
            Err(errs) => {
                errs.into_iter()
                    .for_each(|(p, m)| push(format!("$.content.{p}"), m));
                None
            }
        };

        let l = &doc.limits;
        check_limits(l, &mut push);
        check_sample_rate(doc.log.allowed_sample_rate, &mut push);

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
        check_conversation_salt(doc, &mut push);
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
}

/// The identity sources, tried in order: at least one.
fn compile_identity_sources(
    section: &IdentitySection,
    push: &mut impl FnMut(String, String),
) -> Vec<IdentitySource> {
    let mut identity_sources = Vec::new();
    if section.sources.is_empty() {
        push(
            "$.identity.sources".into(),
            "at least one identity source is required".into(),
        );
    }
    for (i, s) in section.sources.iter().enumerate() {
        match IdentitySource::compile(s) {
            Ok(s) => identity_sources.push(s),
            Err(errs) => errs
                .into_iter()
                .for_each(|(p, m)| push(format!("$.identity.sources[{i}].{p}"), m)),
        }
    }
    identity_sources
}

/// Body limits: each between 1 and its upper bound.
fn check_limits(l: &LimitsSection, push: &mut impl FnMut(String, String)) {
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
}

/// The sample rate of allowed lines: from `MIN_SAMPLE_RATE` to 1.
fn check_sample_rate(rate: f64, push: &mut impl FnMut(String, String)) {
    if !(MIN_SAMPLE_RATE..=1.0).contains(&rate) {
        push(
            "$.log.allowed_sample_rate".into(),
            format!(
                "must be a number from {MIN_SAMPLE_RATE} (one line in 10,000) to 1, got `{rate}`"
            ),
        );
    }
}

/// Conversation keys are salted hashes of phone numbers: enforced, they need a salt that
/// nobody else knows.
fn check_conversation_salt(doc: &PolicyDocument, push: &mut impl FnMut(String, String)) {
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
