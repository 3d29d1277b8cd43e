//! `--suggest-policy`: the base policy with the observed, undeclared senders whose evidence
//! is strong declared as origins and the observed phone-number ids linked to the origins that
//! use them, plus the evidence for each proposal as Markdown. Nothing is proposed as
//! `general_assistant` without its evidence in that file.
//!
//! The rule ([`judge`]), on weighted counts (1/sample) and on lines (each line once, so one
//! sampled line cannot outweigh audits):
//! - `general_assistant`: at least [`MIN_SCORED`] scored sends and scored lines, and more
//!   than [`ASSISTANT_SHARE`] of both at or above the threshold;
//! - `customer_service`, restricted to the message types it was seen sending: at least
//!   [`MIN_SERVICE_SCORED`] weighted scored sends and [`MIN_SERVICE_LINES`] scored lines, and
//!   not one scored line at or above the threshold. A customer_service origin is not scored
//!   again unless `content.roles` lists `customer_service`, so this needs strong evidence;
//! - anything else is not declared: it is listed under "needs review" with why, and stays
//!   undeclared, so the classifier keeps scoring it. A sender only seen stopped by rules that
//!   act before scoring (no score at all) has no content evidence and is never declared.
//!
//! "At or above the threshold" is read from the classifier's own decision where it made one
//! (a block or audit by `content_classifier`), and otherwise from the logged score, which is
//! rounded to two decimals: [`Scored::high`] needs it above the threshold by more than the
//! rounding, and vouching for a service bot needs no line even within it
//! ([`Scored::maybe_high`]). An identity seen under several identity sources is judged on all
//! its lines, and each of its origins gets the same role and message types.
//!
//! A phone number whose every send was blocked is proposed in the evidence only: a rule for
//! it would allow what the base stops. Next to every link, the evidence says which of the
//! sender's sends from that number were blocked or audited, and by which rule.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::{Map, Value, json};

#[cfg(doc)]
use super::aggregate::Scored;
use super::aggregate::{Inventory, NumberUse, Sender, UNIDENTIFIED, top};
use super::markdown::{cell, code, n, to_f64};

/// A count of lines as a number.
fn count_f64(c: usize) -> f64 {
    to_f64(u64::try_from(c).unwrap_or(u64::MAX))
}
use crate::Fatal;
// The message types an origin's `message_types` may name, and the rule ids the engine keeps
// for itself: the engine's own lists (a copy here had fallen behind the engine's rule ids).
use wa_egress_guard::policy::{BUILTIN_RULES, MESSAGE_TYPES};

/// Fewer scored sends (weighted, and lines) than this are too few to call a sender an
/// assistant.
pub const MIN_SCORED: f64 = 3.0;
/// The share of scored sends (weighted, and lines) at or above the threshold above which a
/// sender is proposed as `general_assistant`.
pub const ASSISTANT_SHARE: f64 = 0.5;
/// Weighted scored sends a sender needs before it is proposed as `customer_service`.
pub const MIN_SERVICE_SCORED: f64 = 10.0;
/// Scored lines (unweighted) a sender needs before it is proposed as `customer_service`: one
/// line sampled at 0.1 weighs 10 but is one message seen.
pub const MIN_SERVICE_LINES: usize = 3;

pub struct Proposal {
    pub policy: Value,
    pub evidence: String,
    pub origins_added: usize,
    pub numbers_added: usize,
}

/// What a sender's evidence supports.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Assistant,
    Service,
    /// Not declared, and why.
    Review(String),
}

/// The role a sender's scores support, or why they support none (see the module's rule).
pub fn judge(s: &Sender, threshold: f64) -> Verdict {
    let (scored, high) = s.scored(threshold);
    let (lines, high_lines) = s.scored_lines(threshold);
    let (lines_f, high_lines_f) = (count_f64(lines), count_f64(high_lines));
    if lines == 0 {
        if !s.stopped_unscored.is_empty() && s.would_block >= s.sends {
            return Verdict::Review(format!(
                "no content evidence: it was only seen stopped before the classifier scored it, by {}. Declaring it would let these sends through unexamined.",
                rule_list(&s.stopped_unscored)
            ));
        }
        return Verdict::Review("no content evidence: none of its sends was scored.".to_owned());
    }
    let majority = high > ASSISTANT_SHARE * scored && high_lines_f > ASSISTANT_SHARE * lines_f;
    if majority && scored >= MIN_SCORED && lines_f >= MIN_SCORED {
        return Verdict::Assistant;
    }
    if s.maybe_high_lines(threshold) == 0
        && scored >= MIN_SERVICE_SCORED
        && lines >= MIN_SERVICE_LINES
    {
        return Verdict::Service;
    }
    let counts = format!(
        "{} of {} scored sends ({} of {} lines) at or above the threshold",
        n(high),
        n(scored),
        high_lines,
        lines
    );
    Verdict::Review(if majority {
        format!(
            "too few scored sends to call it an assistant ({counts}; at least {MIN_SCORED:.0} needed)."
        )
    } else if s.maybe_high_lines(threshold) == 0 {
        format!(
            "too few scored sends to vouch for it as customer service ({counts}; at least {MIN_SERVICE_SCORED:.0} weighted and {MIN_SERVICE_LINES} lines needed, none at or above the threshold)."
        )
    } else {
        format!(
            "mixed: {counts}. A customer_service origin would no longer be scored, and these sends would go through in enforce; a general_assistant one would block all of it."
        )
    })
}

/// `` `default_action` 3, `unknown_phone_number` 1 ``.
fn rule_list(rules: &BTreeMap<String, f64>) -> String {
    top(rules, usize::MAX)
        .iter()
        .map(|(rule, w)| format!("`{}` {}", code(rule), n(*w)))
        .collect::<Vec<_>>()
        .join(", ")
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
        while self.0.contains(&id) || BUILTIN_RULES.contains(&id.as_str()) {
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

    let roles: Vec<String> = policy
        .pointer("/content/roles")
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_else(|| vec!["unknown".to_owned()]);
    let mut ev = Evidence::new(base_name, threshold, &roles);
    let mut new_origins = Vec::new();
    // Per sender (identity and source): what the policy will make of it.
    let mut proposed: BTreeMap<(String, String), Proposed> = BTreeMap::new();
    let mut sources_of: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (identity, source) in inv.senders.keys() {
        sources_of.entry(identity).or_default().push(source);
    }
    for (identity, list) in &sources_of {
        if list.len() > 1 && *identity != UNIDENTIFIED {
            let named: Vec<String> = list.iter().map(|s| format!("`{}`", code(s))).collect();
            ev.warn(format!(
                "`{}` was seen under {} identity sources ({}): an origin matches the identity whatever source yielded it, so the first origin that matches decides for all of them.",
                code(identity),
                list.len(),
                named.join(", ")
            ));
        }
    }
    // An identity seen under several sources is judged on all its lines, and every origin
    // made for it gets the same role and message types: the engine matches origins on the
    // identity whatever source yielded it, so the first would decide for all.
    let mut by_identity: BTreeMap<&str, Sender> = BTreeMap::new();
    for ((identity, _), s) in &inv.senders {
        by_identity
            .entry(identity.as_str())
            .and_modify(|m| *m = m.merged_with(s))
            .or_insert_with(|| s.clone());
    }
    for (key, own) in &inv.senders {
        let (identity, source) = key;
        let s = by_identity.get(identity.as_str()).unwrap_or(own);
        let verdict = judge(s, threshold);
        let assistant = verdict == Verdict::Assistant;
        if identity == UNIDENTIFIED {
            ev.unidentified(s);
            proposed.insert(
                key.clone(),
                Proposed {
                    origin_id: None,
                    assistant,
                },
            );
            continue;
        }
        if own.role != "unknown" {
            let origin_id = top(&own.origin_rules, 1)
                .into_iter()
                .map(|(id, _)| id)
                .find(|id| declared_ids.contains(id.as_str()));
            ev.declared(
                identity,
                own,
                origin_id.as_deref(),
                judge(own, threshold) == Verdict::Assistant,
            );
            proposed.insert(
                key.clone(),
                Proposed {
                    origin_id,
                    assistant: own.role == "general_assistant",
                },
            );
            continue;
        }
        if let Verdict::Review(why) = &verdict {
            ev.review(identity, source, s, why);
            proposed.insert(
                key.clone(),
                Proposed {
                    origin_id: None,
                    assistant: false,
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
            key.clone(),
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

/// A phone-number rule per observed id that no rule of the base claims. Senders are keyed by
/// identity and source, so every origin that sent from a number is linked to it.
fn number_rules(
    inv: &Inventory,
    claimed: &BTreeMap<String, String>,
    proposed: &BTreeMap<(String, String), Proposed>,
    ids: &mut Ids,
    ev: &mut Evidence,
) -> Vec<Value> {
    // Per canonical id: the id as seen, its senders over every provider, and its allowed lines.
    let mut numbers: BTreeMap<String, (String, Users, u64)> = BTreeMap::new();
    for ((id, _provider), p) in &inv.phone_numbers {
        let entry = numbers
            .entry(canonical_path_id(id))
            .or_insert_with(|| (id.clone(), BTreeMap::new(), 0));
        entry.2 = entry.2.saturating_add(p.passed_lines);
        for (sender, u) in &p.users {
            let slot = entry.1.entry(sender.clone()).or_default();
            slot.sends += u.sends;
            for (rule, w) in &u.blocked {
                *slot.blocked.entry(rule.clone()).or_insert(0.0) += w;
            }
            for (rule, w) in &u.audited {
                *slot.audited.entry(rule.clone()).or_insert(0.0) += w;
            }
        }
    }
    let mut rules = Vec::new();
    for (canonical, (id, users, passed_lines)) in numbers {
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
        for sender in users.keys() {
            match proposed.get(sender) {
                Some(Proposed {
                    assistant: true,
                    origin_id,
                }) => {
                    assistants.insert(origin_id.clone().unwrap_or_else(|| sender.0.clone()));
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
        let assistant_only = service.is_empty() && unlinked.is_empty() && !assistants.is_empty();
        let rule = if assistant_only {
            json!({"id": rule_id, "path_ids": [id], "purpose": "general_assistant"})
        } else if unlinked.is_empty() {
            json!({"id": rule_id, "path_ids": [id], "purpose": "customer_service",
                   "allowed_origins": service})
        } else {
            json!({"id": rule_id, "path_ids": [id], "purpose": "customer_service"})
        };
        // A rule for a number the base blocked every send from would allow them all: it goes
        // in the evidence only. (Audited sends went through: an audit rollout maps them.) A
        // general_assistant rule blocks every call, so it widens nothing.
        let in_policy = assistant_only || passed_lines > 0;
        ev.number(&NumberProposal {
            id: &id,
            rule: &rule,
            users: &users,
            proposed,
            unlinked: &unlinked,
            in_policy,
        });
        if in_policy {
            rules.push(rule);
        }
    }
    rules
}

/// A number's senders (identity and source) and their use of it.
type Users = BTreeMap<(String, String), NumberUse>;

/// One proposed phone-number rule, for the evidence.
struct NumberProposal<'a> {
    id: &'a str,
    rule: &'a Value,
    users: &'a Users,
    proposed: &'a BTreeMap<(String, String), Proposed>,
    unlinked: &'a [(String, String)],
    in_policy: bool,
}

/// `identity` (source `header`).
fn sender_name(key: &(String, String)) -> String {
    if key.1.is_empty() {
        format!("`{}`", code(&key.0))
    } else {
        format!("`{}` (source `{}`)", code(&key.0), code(&key.1))
    }
}

/// The evidence file, built as the proposals are made.
struct Evidence {
    head: String,
    origins: String,
    review: String,
    declared: String,
    numbers: String,
    warnings: Vec<String>,
    threshold: f64,
}

impl Evidence {
    fn new(base: &str, threshold: f64, roles: &[String]) -> Self {
        let mut head = String::new();
        let _ = writeln!(head, "# Suggested policy: evidence\n");
        let _ = writeln!(
            head,
            "Base policy: `{}`. Classifier threshold: {threshold:.2}. Counts are weighted by 1/sample; \"lines\" count each log line once.\n",
            code(base)
        );
        let _ = writeln!(
            head,
            "**Rule.** An undeclared sender is proposed as `general_assistant` when it has at least {MIN_SCORED:.0} scored sends and more than {share:.0}% of them scored at or above the threshold, both weighted and counting lines. It is proposed as `customer_service`, restricted to the message types it was seen sending, only on strong evidence: at least {MIN_SERVICE_SCORED:.0} weighted scored sends in at least {MIN_SERVICE_LINES} scored lines, and not one scored line at or above the threshold (one sampled line cannot outweigh audits). Every other sender is **not declared**: it is listed under \"Needs review\" with why, and stays undeclared, so the classifier keeps scoring it. A sender only seen blocked or audited by rules that act before scoring (no score) has no content evidence and is never declared. A phone-number id is linked to the origins that sent from it (`allowed_origins`); one used only by proposed assistants gets purpose `general_assistant`; one whose every send was blocked is proposed here only, not in the policy, and next to each link it says which sends were blocked or audited and by which rule. Review every proposal before applying it, then replay it (`wa-guard replay`).\n",
            share = ASSISTANT_SHARE * 100.0
        );
        let scored_service = roles.iter().any(|r| r == "customer_service");
        let _ = writeln!(
            head,
            "**A `customer_service` origin is not scored by the classifier unless `content.roles` lists `customer_service`** (the default is `[\"unknown\"]`). The base's `content.roles`: `{}`{}\n",
            code(&roles.join(", ")),
            if scored_service {
                ": the proposed service origins stay scored."
            } else {
                ": once applied, the proposed service origins' sends are no longer scored, and an off-topic send of theirs goes through in enforce. Add `customer_service` to `content.roles` (in `audit` mode first) to keep watching them."
            }
        );
        Self {
            head,
            origins: String::new(),
            review: String::new(),
            declared: String::new(),
            numbers: String::new(),
            warnings: Vec::new(),
            threshold,
        }
    }

    /// A sender left undeclared: why, and its evidence.
    fn review(&mut self, identity: &str, source: &str, s: &Sender, why: &str) {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "### `{}` (source `{}`): not declared\n",
            code(identity),
            code(if source.is_empty() { "unknown" } else { source })
        );
        let _ = writeln!(out, "- Why: {why}");
        if !s.stopped_unscored.is_empty() {
            let _ = writeln!(
                out,
                "- Stopped before scoring by: {}.",
                rule_list(&s.stopped_unscored)
            );
        }
        let _ = writeln!(
            out,
            "- It stays undeclared: the classifier keeps scoring its sends (when `content.roles` lists `unknown`, the default). Declare it by hand once you know what it is."
        );
        self.stats(&mut out, s);
        out.push('\n');
        self.review.push_str(&out);
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
        } else {
            format!(
                "Proposed as customer service: {} scored sends ({} lines), none at or above the threshold. Once declared, its sends are not scored unless `content.roles` lists `customer_service`.",
                n(scored),
                s.scores.len()
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

    fn number(&mut self, p: &NumberProposal<'_>) {
        let rule_id = p.rule.get("id").and_then(Value::as_str).unwrap_or("?");
        let purpose = p.rule.get("purpose").and_then(Value::as_str).unwrap_or("");
        let mut users: Vec<(&(String, String), &NumberUse)> = p.users.iter().collect();
        users.sort_by(|a, b| b.1.sends.total_cmp(&a.1.sends).then_with(|| a.0.cmp(b.0)));
        let used: Vec<String> = users
            .iter()
            .map(|(k, u)| format!("{} {}", sender_name(k), n(u.sends)))
            .collect();
        let _ = writeln!(
            self.numbers,
            "- `{}` (rule `{}`{}), used by {}.",
            code(p.id),
            code(rule_id),
            if p.in_policy {
                ""
            } else {
                ", **not in the policy**"
            },
            used.join(", ")
        );
        if purpose == "general_assistant" {
            let _ = writeln!(
                self.numbers,
                "  Purpose `general_assistant`: only proposed assistants sent from it, so every call to it will be blocked."
            );
        } else if p.unlinked.is_empty() {
            let list: Vec<String> = p
                .rule
                .get("allowed_origins")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(|o| format!("`{}`", code(o)))
                .collect();
            let _ = writeln!(self.numbers, "  Allowed origins: {}.", list.join(", "));
        } else {
            let list: Vec<String> = p.unlinked.iter().map(sender_name).collect();
            let _ = writeln!(
                self.numbers,
                "  No `allowed_origins`: {} sent from it without an origin to name, and restricting the number would block them.",
                list.join(", ")
            );
        }
        if purpose != "general_assistant" {
            for (key, u) in &users {
                self.stopped_on_number(key, u, p.proposed.get(*key));
            }
        }
        if !p.in_policy {
            let _ = writeln!(
                self.numbers,
                "  Every send from it was blocked: a rule for it would allow what the base stops, so it is proposed here only. Add it by hand if these sends are legitimate:\n\n  ```json\n  {}\n  ```\n",
                p.rule
            );
        }
    }

    /// What stopped one sender's sends from a proposed number, next to the link.
    fn stopped_on_number(&mut self, key: &(String, String), u: &NumberUse, p: Option<&Proposed>) {
        for (verb, map) in [
            ("blocked", &u.blocked),
            ("audited (blocked under enforce)", &u.audited),
        ] {
            for (rule, w) in top(map, usize::MAX) {
                let effect = match rule.as_str() {
                    "unknown_phone_number" => "this rule allows them",
                    "default_action" if p.is_some_and(|p| p.origin_id.is_some()) => {
                        "the proposed origin allows them"
                    }
                    _ => "that rule still applies",
                };
                let _ = writeln!(
                    self.numbers,
                    "  - {} sends from {} were {verb} by rule `{}`; {effect}.",
                    n(w),
                    sender_name(key),
                    code(&rule)
                );
            }
        }
    }

    fn finish(self) -> String {
        let mut out = self.head;
        let _ = writeln!(out, "## Proposed origins\n");
        if self.origins.is_empty() {
            let _ = writeln!(
                out,
                "None: every identified sender is declared already, or its evidence supports no role (see \"Needs review\").\n"
            );
        }
        out.push_str(&self.origins);
        if !self.review.is_empty() {
            let _ = writeln!(
                out,
                "## Needs review (not declared)\n\nThese senders are left out of the policy: their evidence supports no role. They stay undeclared, so they stay scored.\n"
            );
            out.push_str(&self.review);
        }
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
        // Every rule id the engine keeps, the newer ones too.
        assert_eq!(ids.unique("webhook_signature"), "webhook_signature-2");
        assert_eq!(ids.unique("conversation_state"), "conversation_state-2");
        assert_eq!(ids.unique("a"), "a");
        assert_eq!(ids.unique("a"), "a-2");
        assert_eq!(canonical_path_id("+1 (415) 555-0100"), "14155550100");
    }
}
