//! The rules a caller and a sending number are held to: origins and phone-number rules
//! compiled, with the ids that every user rule shares.

use super::{Origin, PhoneNumberRule};
use crate::document::{OriginDoc, PhoneNumbersSection, Role, RuleAction};
use crate::identity::IdentityPattern;
use crate::whatsapp::canonical_path_id;
use std::collections::HashSet;

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

/// The ids of a policy's user rules: each well formed, none a built-in's, none used twice.
#[derive(Default)]
pub(super) struct RuleIds(HashSet<String>);

impl RuleIds {
    /// Records `id`, or reports at `path` why no rule may have it.
    pub(super) fn check(&mut self, path: String, id: &str, push: &mut impl FnMut(String, String)) {
        if !is_rule_id(id) {
            push(
                path,
                format!(
                    "invalid id `{id}`: use 1-64 of [a-z0-9_-], starting with a letter or digit"
                ),
            );
        } else if BUILTIN_RULES.contains(&id) {
            push(path, format!("id `{id}` is reserved for a built-in rule"));
        } else if !self.0.insert(id.to_owned()) {
            push(path, format!("duplicate id `{id}`"));
        }
    }
}

/// The policy's origins: identity patterns compiled, message types and actions checked.
pub(super) fn compile_origins(
    docs: &[OriginDoc],
    ids: &mut RuleIds,
    push: &mut impl FnMut(String, String),
) -> Vec<Origin> {
    let mut origins = Vec::new();
    for (i, o) in docs.iter().enumerate() {
        ids.check(format!("$.origins[{i}].id"), &o.id, push);
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
    origins
}

/// The phone-number rules: path ids claimed once each, allowed origins that exist.
pub(super) fn compile_numbers(
    section: &PhoneNumbersSection,
    origin_docs: &[OriginDoc],
    ids: &mut RuleIds,
    push: &mut impl FnMut(String, String),
) -> Vec<PhoneNumberRule> {
    let origin_ids: HashSet<&str> = origin_docs.iter().map(|o| o.id.as_str()).collect();

    let mut numbers = Vec::new();
    let mut seen_path_ids: HashSet<&str> = HashSet::new();
    for (i, n) in section.numbers.iter().enumerate() {
        ids.check(format!("$.phone_numbers.numbers[{i}].id"), &n.id, push);
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
    numbers
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
