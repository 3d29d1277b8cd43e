//! `--suggest-policy`: the base policy with every observed, undeclared sender declared as an
//! origin and every observed phone-number id linked to the origins that use it, plus the
//! evidence for each proposal as Markdown. Nothing is proposed as `general_assistant` without
//! its evidence in that file.
//!
//! The rule that proposes `general_assistant` ([`looks_like_assistant`]): at least
//! [`MIN_SCORED`] weighted scored sends, and more than [`ASSISTANT_SHARE`] of them (weighted)
//! at or above the classifier's threshold. Everything else observed is `customer_service`,
//! restricted to the message types it was seen sending.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::{Map, Value, json};

use super::aggregate::{Inventory, Sender, UNIDENTIFIED, top};
use super::markdown::{cell, code, n};
use crate::Fatal;

/// Fewer weighted scored sends than this are too few to call a sender an assistant.
pub const MIN_SCORED: f64 = 3.0;
/// The weighted share of scored sends at or above the threshold above which a sender is
/// proposed as `general_assistant`.
pub const ASSISTANT_SHARE: f64 = 0.5;

/// The message types an origin's `message_types` may name (the policy reference's list).
const MESSAGE_TYPES: &[&str] = &[
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

/// Rule ids the engine keeps for itself.
const RESERVED_IDS: &[&str] = &[
    "content_classifier",
    "default_action",
    "unknown_phone_number",
    "body_limit",
    "invalid_body",
    "unsupported_encoding",
    "graph_indirect_send",
    "no_rule",
];

pub struct Proposal {
    pub policy: Value,
    pub evidence: String,
    pub origins_added: usize,
    pub numbers_added: usize,
}

/// Whether a sender's scores support `general_assistant`.
pub fn looks_like_assistant(s: &Sender, threshold: f64) -> bool {
    let (scored, high) = s.scored(threshold);
    scored >= MIN_SCORED && high > ASSISTANT_SHARE * scored
}

/// What the proposal says about one sender.
struct Proposed {
    origin_id: Option<String>,
    assistant: bool,
}

/// Ids already taken in the policy, and the unique id made from a name.
#[derive(Default)]
struct Ids(BTreeSet<String>);

impl Ids {
    fn unique(&mut self, base: &str) -> String {
        let base: String = base.chars().take(56).collect();
        let base = base.trim_end_matches('-').to_owned();
        let mut id = base.clone();
        let mut k = 2u32;
        while self.0.contains(&id) || RESERVED_IDS.contains(&id.as_str()) {
            id = format!("{base}-{k}");
            k = k.saturating_add(1);
        }
        self.0.insert(id.clone());
        id
    }
}

/// `spiffe://cluster.local/ns/support/sa/helpdesk` -> `support-helpdesk`; anything else is
/// lowercased with every run of other characters as one `-`.
fn slug(identity: &str) -> String {
    let core = match identity.strip_prefix("spiffe://") {
        Some(rest) => {
            let path = rest.split_once('/').map_or(rest, |(_, p)| p);
            let parts: Vec<&str> = path.split('/').collect();
            match parts.as_slice() {
                ["ns", ns, "sa", sa] => format!("{ns}-{sa}"),
                _ => path.to_owned(),
            }
        }
        None => identity.to_owned(),
    };
    let mut out = String::new();
    for c in core.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let out = out.trim_end_matches('-').to_owned();
    if out.is_empty() { "origin".into() } else { out }
}

/// How the engine compares path ids: lowercased, a `+` number by its digits.
fn canonical_path_id(id: &str) -> String {
    let id = id.trim().to_ascii_lowercase();
    match id.strip_prefix('+') {
        Some(number) => {
            let digits: String = number
                .chars()
                .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.'))
                .collect();
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                digits
            } else {
                id
            }
        }
        None => id,
    }
}

fn array_mut<'a>(policy: &'a mut Value, path: &[&str]) -> Option<&'a mut Vec<Value>> {
    let mut at = policy;
    for (i, key) in path.iter().enumerate() {
        let last = i + 1 == path.len();
        let object = at.as_object_mut()?;
        let slot = object
            .entry((*key).to_owned())
            .or_insert_with(|| if last { json!([]) } else { json!({}) });
        at = slot;
    }
    at.as_array_mut()
}

fn strings_at<'a>(items: &'a [Value], key: &str) -> impl Iterator<Item = &'a str> {
    items
        .iter()
        .filter_map(move |v| v.get(key).and_then(Value::as_str))
}

pub fn propose(inv: &Inventory, mut policy: Value, threshold: f64, base_name: &str) -> Proposal {
    let origins = policy
        .get("origins")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let rules = policy
        .pointer("/phone_numbers/numbers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let sources: BTreeSet<String> = policy
        .pointer("/identity/sources")
        .and_then(Value::as_array)
        .map(|s| strings_at(s, "type").map(str::to_owned).collect())
        .unwrap_or_default();
    let mut ids = Ids::default();
    ids.0.extend(strings_at(&origins, "id").map(str::to_owned));
    ids.0.extend(strings_at(&rules, "id").map(str::to_owned));
    let declared_ids: BTreeSet<&str> = strings_at(&origins, "id").collect();
    let mut claimed: BTreeMap<String, String> = BTreeMap::new();
    for r in &rules {
        let rule = r.get("id").and_then(Value::as_str).unwrap_or("?");
        for p in r
            .get("path_ids")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(p) = p.as_str() {
                claimed.insert(canonical_path_id(p), rule.to_owned());
            }
        }
    }

    let mut ev = Evidence::new(base_name, threshold);
    let mut new_origins = Vec::new();
    // Per identity: what the policy will make of it.
    let mut proposed: BTreeMap<String, Proposed> = BTreeMap::new();
    for ((identity, source), s) in &inv.senders {
        let assistant = looks_like_assistant(s, threshold);
        if identity == UNIDENTIFIED {
            ev.unidentified(s);
            proposed.insert(
                identity.clone(),
                Proposed {
                    origin_id: None,
                    assistant,
                },
            );
            continue;
        }
        if s.role != "unknown" {
            let origin_id = top(&s.origin_rules, 1)
                .into_iter()
                .map(|(id, _)| id)
                .find(|id| declared_ids.contains(id.as_str()));
            ev.declared(identity, s, origin_id.as_deref(), assistant);
            proposed.insert(
                identity.clone(),
                Proposed {
                    origin_id,
                    assistant: s.role == "general_assistant",
                },
            );
            continue;
        }
        let id = ids.unique(&slug(identity));
        let origin = origin_for(&id, identity, source, s, assistant);
        if !source.is_empty() && !sources.contains(source) {
            ev.warn(format!(
                "`{}` was identified by source `{}`, which the base policy's `identity.sources` does not list: add it, or the origin `{id}` matches no request.",
                code(identity),
                cell(source)
            ));
        }
        ev.origin(&id, identity, source, s, &origin);
        new_origins.push(origin);
        proposed.insert(
            identity.clone(),
            Proposed {
                origin_id: Some(id),
                assistant,
            },
        );
    }

    let new_rules = number_rules(inv, &claimed, &proposed, &mut ids, &mut ev);
    let (origins_added, numbers_added) = (new_origins.len(), new_rules.len());
    if let Some(list) = array_mut(&mut policy, &["origins"]) {
        list.extend(new_origins);
    }
    if let Some(list) = array_mut(&mut policy, &["phone_numbers", "numbers"]) {
        list.extend(new_rules);
    }
    Proposal {
        policy,
        evidence: ev.finish(),
        origins_added,
        numbers_added,
    }
}

fn origin_for(id: &str, identity: &str, source: &str, s: &Sender, assistant: bool) -> Value {
    let pattern = match identity.parse::<IpAddr>() {
        Ok(_) if source == "source_address" => json!({"cidr": identity}),
        _ => json!({"exact": identity}),
    };
    let mut origin = Map::new();
    origin.insert("id".into(), json!(id));
    origin.insert("identities".into(), json!([pattern]));
    if assistant {
        origin.insert("role".into(), json!("general_assistant"));
        return Value::Object(origin);
    }
    origin.insert("role".into(), json!("customer_service"));
    let types: BTreeSet<String> = s
        .message_types
        .keys()
        .map(|t| t.to_ascii_lowercase())
        .collect();
    if !types.is_empty() && types.iter().all(|t| MESSAGE_TYPES.contains(&t.as_str())) {
        origin.insert("message_types".into(), json!(types));
    }
    Value::Object(origin)
}

/// A phone-number rule per observed id that no rule of the base claims.
fn number_rules(
    inv: &Inventory,
    claimed: &BTreeMap<String, String>,
    proposed: &BTreeMap<String, Proposed>,
    ids: &mut Ids,
    ev: &mut Evidence,
) -> Vec<Value> {
    // Per canonical id: the id as seen, and its senders over every provider.
    let mut numbers: BTreeMap<String, (String, BTreeMap<String, f64>)> = BTreeMap::new();
    for ((id, _provider), p) in &inv.phone_numbers {
        let entry = numbers
            .entry(canonical_path_id(id))
            .or_insert_with(|| (id.clone(), BTreeMap::new()));
        for (sender, w) in &p.senders {
            *entry.1.entry(sender.clone()).or_insert(0.0) += w;
        }
    }
    let mut rules = Vec::new();
    for (canonical, (id, senders)) in numbers {
        if canonical.is_empty() || id.contains('/') {
            continue;
        }
        if let Some(rule) = claimed.get(&canonical) {
            ev.number_kept(&id, rule);
            continue;
        }
        let mut service = BTreeSet::new();
        let mut assistants = BTreeSet::new();
        let mut unlinked = Vec::new();
        for sender in senders.keys() {
            match proposed.get(sender) {
                Some(Proposed {
                    assistant: true,
                    origin_id,
                }) => {
                    assistants.insert(origin_id.clone().unwrap_or_else(|| sender.clone()));
                }
                Some(Proposed {
                    origin_id: Some(o), ..
                }) => {
                    service.insert(o.clone());
                }
                _ => unlinked.push(sender.clone()),
            }
        }
        let rule_id = ids.unique(&format!("number-{}", slug(&id)));
        let rule = if service.is_empty() && unlinked.is_empty() && !assistants.is_empty() {
            json!({"id": rule_id, "path_ids": [id], "purpose": "general_assistant"})
        } else if unlinked.is_empty() {
            json!({"id": rule_id, "path_ids": [id], "purpose": "customer_service",
                   "allowed_origins": service})
        } else {
            json!({"id": rule_id, "path_ids": [id], "purpose": "customer_service"})
        };
        ev.number(&id, &rule_id, &senders, &service, &assistants, &unlinked);
        rules.push(rule);
    }
    rules
}

/// The evidence file, built as the proposals are made.
struct Evidence {
    head: String,
    origins: String,
    declared: String,
    numbers: String,
    warnings: Vec<String>,
    threshold: f64,
}

impl Evidence {
    fn new(base: &str, threshold: f64) -> Self {
        let mut head = String::new();
        let _ = writeln!(head, "# Suggested policy: evidence\n");
        let _ = writeln!(
            head,
            "Base policy: `{}`. Classifier threshold: {threshold:.2}. Counts are weighted by 1/sample.\n",
            code(base)
        );
        let _ = writeln!(
            head,
            "**Rule.** An undeclared sender is proposed as `general_assistant` when it has at least {MIN_SCORED:.0} weighted scored sends and more than {:.0}% of them (weighted) scored at or above the threshold. Every other undeclared sender is proposed as `customer_service`, restricted to the message types it was seen sending. A phone-number id is linked to the origins that sent from it (`allowed_origins`); one used only by proposed assistants gets purpose `general_assistant`. Review every proposal before applying it, then replay it (`wa-guard replay`).\n",
            ASSISTANT_SHARE * 100.0
        );
        Self {
            head,
            origins: String::new(),
            declared: String::new(),
            numbers: String::new(),
            warnings: Vec::new(),
            threshold,
        }
    }

    fn warn(&mut self, w: String) {
        self.warnings.push(w);
    }

    fn stats(&self, out: &mut String, s: &Sender) {
        let (scored, high) = s.scored(self.threshold);
        let _ = writeln!(
            out,
            "- Sends: {} (decisions: {}); would block under enforce: {}.",
            n(s.sends),
            listing(&s.decisions),
            n(s.would_block)
        );
        let _ = writeln!(out, "- Message types: {}.", listing(&s.message_types));
        let _ = writeln!(out, "- Phone-number ids: {}.", listing(&s.phone_numbers));
        if !s.templates.is_empty() {
            let _ = writeln!(out, "- Templates: {}.", listing(&s.templates));
        }
        let _ = writeln!(
            out,
            "- Scored sends: {}, of which {} at or above {:.2}.",
            n(scored),
            n(high),
            self.threshold
        );
        if scored > 0.0 {
            let _ = writeln!(out, "\n  | score | sends |\n  | --- | ---: |");
            for (i, v) in s.score_histogram.iter().enumerate() {
                let _ = writeln!(out, "  | {:.1}-{:.1} | {} |", tenth(i), tenth(i + 1), n(*v));
            }
            out.push('\n');
        }
        let signals: Vec<String> = s
            .top_signals(8)
            .iter()
            .map(|(id, c)| format!("`{}` {}", code(id), n(*c)))
            .collect();
        if !signals.is_empty() {
            let _ = writeln!(out, "- Top signals: {}.", signals.join(", "));
        }
    }

    fn origin(&mut self, id: &str, identity: &str, source: &str, s: &Sender, origin: &Value) {
        let role = origin.get("role").and_then(Value::as_str).unwrap_or("");
        let mut out = String::new();
        let _ = writeln!(out, "### Origin `{id}`: `{role}`\n");
        let _ = writeln!(
            out,
            "- Identity: `{}` (source `{}`).",
            code(identity),
            code(if source.is_empty() { "unknown" } else { source })
        );
        let (scored, high) = s.scored(self.threshold);
        let why = if role == "general_assistant" {
            format!(
                "**Proposed as a general assistant**: {} of {} scored sends ({:.0}%) at or above the threshold. Every request from it to a WhatsApp host will be blocked in enforce mode.",
                n(high),
                n(scored),
                share(high, scored)
            )
        } else if scored < MIN_SCORED {
            format!(
                "Proposed as customer service: too few scored sends ({}) to judge it an assistant.",
                n(scored)
            )
        } else {
            format!(
                "Proposed as customer service: {} of {} scored sends ({:.0}%) at or above the threshold.",
                n(high),
                n(scored),
                share(high, scored)
            )
        };
        let _ = writeln!(out, "- {why}");
        match origin.get("message_types") {
            Some(types) => {
                let _ = writeln!(out, "- Restricted to the message types it sent: `{types}`.");
            }
            None if role == "customer_service" => {
                let _ = writeln!(
                    out,
                    "- No `message_types` restriction: it sent no message type, or one an origin cannot name."
                );
            }
            None => {}
        }
        self.stats(&mut out, s);
        out.push('\n');
        self.origins.push_str(&out);
    }

    fn declared(&mut self, identity: &str, s: &Sender, origin: Option<&str>, assistant: bool) {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "- `{}`: already declared (role `{}`{}); not changed.",
            code(identity),
            code(&s.role),
            origin
                .map(|o| format!(", origin `{}`", code(o)))
                .unwrap_or_default()
        );
        if assistant && s.role == "customer_service" {
            let (scored, high) = s.scored(self.threshold);
            let _ = writeln!(
                out,
                "  **Review**: {} of {} of its scored sends are at or above the threshold; its scores look like an assistant's. Consider `general_assistant`, or check its prompts.",
                n(high),
                n(scored)
            );
        }
        self.declared.push_str(&out);
    }

    fn unidentified(&mut self, s: &Sender) {
        self.warn(format!(
            "{} decision(s) carried no identity: they cannot be declared. Add an identity source that knows these callers (see the policy reference, `identity`).",
            n(s.sends)
        ));
    }

    fn number_kept(&mut self, id: &str, rule: &str) {
        let _ = writeln!(
            self.numbers,
            "- `{}`: already claimed by rule `{}`; not changed.",
            code(id),
            code(rule)
        );
    }

    fn number(
        &mut self,
        id: &str,
        rule: &str,
        senders: &BTreeMap<String, f64>,
        service: &BTreeSet<String>,
        assistants: &BTreeSet<String>,
        unlinked: &[String],
    ) {
        let used: Vec<String> = top(senders, usize::MAX)
            .iter()
            .map(|(s, w)| format!("`{}` {}", code(s), n(*w)))
            .collect();
        let _ = writeln!(
            self.numbers,
            "- `{}` (rule `{}`), used by {}.",
            code(id),
            code(rule),
            used.join(", ")
        );
        if service.is_empty() && unlinked.is_empty() && !assistants.is_empty() {
            let _ = writeln!(
                self.numbers,
                "  Purpose `general_assistant`: only proposed assistants sent from it, so every call to it will be blocked."
            );
        } else if unlinked.is_empty() {
            let list: Vec<String> = service.iter().map(|o| format!("`{o}`")).collect();
            let _ = writeln!(self.numbers, "  Allowed origins: {}.", list.join(", "));
        } else {
            let list: Vec<String> = unlinked.iter().map(|o| format!("`{}`", code(o))).collect();
            let _ = writeln!(
                self.numbers,
                "  No `allowed_origins`: {} sent from it without an origin to name, and restricting the number would block them.",
                list.join(", ")
            );
        }
    }

    fn finish(self) -> String {
        let mut out = self.head;
        let _ = writeln!(out, "## Proposed origins\n");
        if self.origins.is_empty() {
            let _ = writeln!(out, "None: every identified sender is declared already.\n");
        }
        out.push_str(&self.origins);
        if !self.declared.is_empty() {
            let _ = writeln!(out, "## Senders already declared\n\n{}", self.declared);
        }
        if !self.numbers.is_empty() {
            let _ = writeln!(out, "## Phone numbers\n\n{}", self.numbers);
        }
        if !self.warnings.is_empty() {
            let _ = writeln!(out, "## Warnings\n");
            for w in &self.warnings {
                let _ = writeln!(out, "- {w}");
            }
        }
        out
    }
}

fn listing(map: &BTreeMap<String, f64>) -> String {
    let items: Vec<String> = top(map, 8)
        .iter()
        .map(|(k, v)| format!("{} {}", cell(k), n(*v)))
        .collect();
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

fn share(part: f64, whole: f64) -> f64 {
    if whole > 0.0 {
        part / whole * 100.0
    } else {
        0.0
    }
}

#[allow(clippy::cast_precision_loss, reason = "0..=10")]
fn tenth(i: usize) -> f64 {
    i as f64 / 10.0
}

/// Compiles the written policy with the engine component, as `wa-guard validate` does.
pub fn check(component: Option<PathBuf>, file: &str, text: &str) -> Result<ExitCode, Fatal> {
    let mut guard = crate::load(component)?;
    match guard.compile(text)? {
        Ok(policy) => {
            let fingerprint = guard.fingerprint(policy)?;
            guard.drop_policy(policy)?;
            eprintln!("{file}: valid (fingerprint {fingerprint})");
            Ok(ExitCode::SUCCESS)
        }
        Err(problems) => {
            for p in &problems {
                eprintln!("error: {}\n  --> {file} at `{}`", p.message, p.path);
            }
            eprintln!("{file}: {} problem(s): review the proposal", problems.len());
            Ok(ExitCode::from(1))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(
            slug("spiffe://cluster.local/ns/support/sa/helpdesk"),
            "support-helpdesk"
        );
        assert_eq!(slug("10.0.0.7"), "10-0-0-7");
        assert_eq!(slug("spiffe://td/a/b"), "a-b");
        assert_eq!(slug("<<>>"), "origin");
        let mut ids = Ids::default();
        assert_eq!(ids.unique("no_rule"), "no_rule-2");
        assert_eq!(ids.unique("a"), "a");
        assert_eq!(ids.unique("a"), "a-2");
        assert_eq!(canonical_path_id("+1 (415) 555-0100"), "14155550100");
    }
}
