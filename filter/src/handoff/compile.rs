//! `HandoffPolicy::compile`: languages, messages and the link, checked against Meta's limits.

use super::link::{compile_url, longest_url_value};
use super::template::{Placeholder, Template};
use super::{HandoffPolicy, Message};
use crate::document::{HandoffMessageDoc, HandoffSection};
use std::collections::BTreeMap;

/// The placeholders a message body may name.
const BODY_PLACEHOLDERS: &[Placeholder] = &[Placeholder::Url];

/// Meta's limits: a text body, an interactive body, a CTA button's display text.
const MAX_TEXT_BODY: usize = 4096;
const MAX_INTERACTIVE_BODY: usize = 1024;
const MAX_BUTTON_TEXT: usize = 20;

/// The longest country-code prefix (a NANP area code is 4 digits with its `1`; 6 leaves room
/// for a finer split).
const MAX_PREFIX_DIGITS: usize = 6;

impl HandoffPolicy {
    /// Checks and compiles the section; problems are `(JSON path, message)`.
    pub fn compile(doc: &HandoffSection) -> Result<Self, Vec<(String, String)>> {
        let mut problems = Vec::new();
        let mut push = |path: String, message: String| problems.push((path, message));
        let url = doc.url.as_deref().and_then(|u| match compile_url(u) {
            Ok(t) => Some(t),
            Err(m) => {
                push("$.handoff.url".into(), m);
                None
            }
        });
        let mut messages = BTreeMap::new();
        if doc.messages.is_empty() {
            push(
                "$.handoff.messages".into(),
                "at least one language's message is required".into(),
            );
        }
        for (language, m) in &doc.messages {
            let path = format!("$.handoff.messages.{language}");
            if !is_language(language) {
                push(
                    path.clone(),
                    format!(
                        "invalid language `{language}`: use a language code such as `en`, `es` or `pt_BR`"
                    ),
                );
            }
            match compile_message(
                m,
                url.as_ref(),
                doc.url.is_some(),
                language,
                &path,
                &mut push,
            ) {
                Some(m) => {
                    messages.insert(language.clone(), m);
                }
                None => continue,
            }
        }
        if !doc.messages.contains_key(&doc.default_language) {
            push(
                "$.handoff.default_language".into(),
                format!(
                    "language `{}` has no message in `handoff.messages`",
                    doc.default_language
                ),
            );
        }
        let mut prefixes = Vec::new();
        for (prefix, language) in &doc.country_codes {
            let path = format!("$.handoff.country_codes.{prefix}");
            if prefix.is_empty()
                || prefix.len() > MAX_PREFIX_DIGITS
                || !prefix.bytes().all(|b| b.is_ascii_digit())
            {
                push(
                    path,
                    format!(
                        "a country calling code is 1 to {MAX_PREFIX_DIGITS} digits without `+`, got `{prefix}`"
                    ),
                );
            } else if !doc.messages.contains_key(language) {
                push(
                    path,
                    format!("language `{language}` has no message in `handoff.messages`"),
                );
            } else {
                prefixes.push((prefix.clone(), language.clone()));
            }
        }
        prefixes.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        match messages.get(&doc.default_language).cloned() {
            Some(default_message) if problems.is_empty() => Ok(Self {
                default_language: doc.default_language.clone(),
                default_message,
                prefixes,
                url,
                messages,
            }),
            _ => Err(problems),
        }
    }
}

fn compile_message(
    m: &HandoffMessageDoc,
    url: Option<&Template>,
    has_url: bool,
    language: &str,
    path: &str,
    push: &mut impl FnMut(String, String),
) -> Option<Message> {
    let (body, max) = match m {
        HandoffMessageDoc::Text { body } => (body, MAX_TEXT_BODY),
        HandoffMessageDoc::CtaUrl { body, .. } => (body, MAX_INTERACTIVE_BODY),
    };
    let chars = body.chars().count();
    if body.trim().is_empty() || chars > max {
        push(
            format!("{path}.body"),
            format!("must be 1 to {max} characters, got {chars}"),
        );
        return None;
    }
    let template = match Template::parse(body, BODY_PLACEHOLDERS) {
        Ok(t) => t,
        Err(e) => {
            push(format!("{path}.body"), e);
            return None;
        }
    };
    if template.uses(Placeholder::Url) && !has_url {
        push(format!("{path}.body"), "`{url}` needs `handoff.url`".into());
        return None;
    }
    // What Meta counts is the rendered body: each `{url}` at the longest link this language's
    // message can carry.
    let longest_url = url.map_or(0, |u| u.max_chars(&|p| longest_url_value(p, language)));
    let longest = template.max_chars(&|p| match p {
        Placeholder::Url => longest_url,
        _ => 0,
    });
    if longest > max {
        push(
            format!("{path}.body"),
            format!(
                "rendered with the longest link ({longest_url} characters), the body reaches {longest} characters, over Meta's limit of {max}"
            ),
        );
        return None;
    }
    match m {
        HandoffMessageDoc::Text { .. } => Some(Message::Text { body: template }),
        HandoffMessageDoc::CtaUrl { button, .. } => {
            let n = button.chars().count();
            if button.trim().is_empty() || n > MAX_BUTTON_TEXT {
                push(
                    format!("{path}.button"),
                    format!("must be 1 to {MAX_BUTTON_TEXT} characters, got {n}"),
                );
                return None;
            }
            if !has_url {
                push(
                    path.to_owned(),
                    "a `cta_url` message needs `handoff.url`".into(),
                );
                return None;
            }
            Some(Message::CtaUrl {
                body: template,
                button: button.clone(),
            })
        }
    }
}

/// A language code: 2 or 3 lowercase letters, optionally `_` or `-` and a region or script
/// of 2 to 4 letters or digits (`en`, `es`, `pt_BR`, `zh-Hant`).
fn is_language(s: &str) -> bool {
    let (lang, region) = match s.split_once(['_', '-']) {
        Some((l, r)) => (l, Some(r)),
        None => (s, None),
    };
    (2..=3).contains(&lang.len())
        && lang.bytes().all(|b| b.is_ascii_lowercase())
        && region.is_none_or(|r| {
            (2..=4).contains(&r.len()) && r.bytes().all(|b| b.is_ascii_alphanumeric())
        })
}
