//! The conversation section as compiled: its limits and their bounds (one slot value, the whole
//! state), the salt a deployment must set, the budget's template exemptions.

use super::{
    ENTRY_HEADER_BYTES, FORMAT, KEY_PREFIX, NANOS_PER_SECOND, SenderIds, TEXT_HEADER_BYTES,
    VALUE_HEADER_BYTES,
};
use crate::document::{Action, ConversationSection, Mode};
use sha2::{Digest, Sha256};

/// What the example policies and manifests hold in `log.recipient_hash_salt` for a deployment
/// to replace: a policy that enforces conversation rules with it is refused.
pub const SALT_PLACEHOLDER: &str = "REPLACE-WITH-A-PER-DEPLOYMENT-SECRET";

/// Salts published in this repository's examples, manifests and tests (compared trimmed and
/// lowercased). Conversation keys hashed with a public salt can be recomputed from a phone
/// number by anyone, so a policy that enforces conversation rules refuses them.
pub(super) const PUBLIC_SALTS: &[&str] = &[
    "demo-salt",
    "change-me-per-deployment",
    "<a per-deployment secret>",
    "e2e",
    "e2e-salt",
    "inventory-e2e-salt",
    "salt",
    "s",
    "changeme",
    "change-me",
];

/// Why a salt cannot key enforced conversations: empty, the placeholder, or public.
pub fn salt_problem(salt: &str) -> Option<String> {
    let folded = salt.trim().to_ascii_lowercase();
    if folded.is_empty() {
        return Some(
            "must be set to a per-deployment secret when conversation rules are enforced (it keys every conversation)"
                .to_owned(),
        );
    }
    if folded == SALT_PLACEHOLDER.to_ascii_lowercase() || PUBLIC_SALTS.contains(&folded.as_str()) {
        return Some(format!(
            "`{}` is a published example value: set a per-deployment secret when conversation rules are enforced",
            salt.trim()
        ));
    }
    None
}

/// Upper bounds of the section's sizes, so that no policy can ask for unbounded memory.
pub(super) const MAX_SLOTS: u32 = 1 << 16;

pub(super) const MAX_ENTRIES_PER_SLOT: u32 = 64;

pub(super) const MAX_TEXTS: u32 = 16;

pub(super) const MAX_TEXT_BYTES: u32 = 16 * 1024;

pub(super) const MAX_WINDOW_SECONDS: u64 = 30 * 86_400;

pub(super) const MAX_INBOUND_AGE_SECONDS: u64 = 86_400;

/// The largest value one slot may hold: Envoy copies a slot's whole value on every read and
/// write of one of its conversations.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;

/// The largest the whole state may grow to, per Envoy process.
pub const MAX_STATE_BYTES: usize = 256 * 1024 * 1024;

/// The `conversation` section, compiled.
#[derive(Debug, Clone)]
pub struct ConversationPolicy {
    /// The layout's fingerprint in every key ([`ConversationPolicy::slot_key`]).
    pub layout: String,
    pub slots: u32,
    pub entries_per_slot: usize,
    pub on_store_error: Action,
    pub mode: Option<Mode>,
    /// An inbound message older than this (by its webhook `timestamp`) restarts nothing.
    pub inbound_max_age_nanos: u64,
    pub scoring: Option<ScoringPolicy>,
    pub budget: Option<BudgetPolicy>,
    /// Provider sender ids kept under the business's Graph phone-number id.
    pub sender_ids: SenderIds,
}

/// Conversation-level scoring.
#[derive(Debug, Clone)]
pub struct ScoringPolicy {
    pub window_nanos: u64,
    pub max_texts: usize,
    pub max_text_bytes: usize,
    pub mode: Option<Mode>,
}

impl ScoringPolicy {
    /// The bytes one text may keep: an equal share of `max_text_bytes`.
    pub fn text_share(&self) -> usize {
        (self.max_text_bytes / self.max_texts.max(1)).max(1)
    }
}

/// The unanswered-message budget.
#[derive(Debug, Clone)]
pub struct BudgetPolicy {
    pub max_unanswered: u32,
    pub window_nanos: u64,
    /// Names of the templates whose category is exempt.
    pub exempt_templates: Vec<String>,
    pub mode: Option<Mode>,
}

impl BudgetPolicy {
    /// Whether a send is exempt: a template send whose template's category is exempt.
    pub fn exempts(&self, message_type: &str, template_name: Option<&str>) -> bool {
        message_type == "template"
            && template_name.is_some_and(|n| self.exempt_templates.iter().any(|t| t == n))
    }
}

impl ConversationPolicy {
    pub fn compile(doc: &ConversationSection) -> Result<Self, Vec<(String, String)>> {
        let mut problems = Vec::new();
        let mut range = |path: &str, value: u64, max: u64| {
            if value == 0 || value > max {
                problems.push((
                    format!("$.conversation.{path}"),
                    format!("must be between 1 and {max}, got `{value}`"),
                ));
            }
        };
        range("slots", u64::from(doc.slots), u64::from(MAX_SLOTS));
        range(
            "entries_per_slot",
            u64::from(doc.entries_per_slot),
            u64::from(MAX_ENTRIES_PER_SLOT),
        );
        range(
            "inbound_max_age_seconds",
            doc.inbound_max_age_seconds,
            MAX_INBOUND_AGE_SECONDS,
        );
        let scoring = doc.scoring.as_ref().map(|s| {
            range(
                "scoring.window_seconds",
                s.window_seconds,
                MAX_WINDOW_SECONDS,
            );
            range(
                "scoring.max_texts",
                u64::from(s.max_texts),
                u64::from(MAX_TEXTS),
            );
            range(
                "scoring.max_text_bytes",
                u64::from(s.max_text_bytes),
                u64::from(MAX_TEXT_BYTES),
            );
            ScoringPolicy {
                window_nanos: s.window_seconds.saturating_mul(NANOS_PER_SECOND),
                max_texts: usize::try_from(s.max_texts).unwrap_or(usize::MAX),
                max_text_bytes: usize::try_from(s.max_text_bytes).unwrap_or(usize::MAX),
                mode: s.mode,
            }
        });
        let budget = doc.unanswered_budget.as_ref().map(|b| {
            range(
                "unanswered_budget.window_seconds",
                b.window_seconds,
                MAX_WINDOW_SECONDS,
            );
            BudgetPolicy {
                max_unanswered: b.max_unanswered,
                window_nanos: b.window_seconds.saturating_mul(NANOS_PER_SECOND),
                exempt_templates: Vec::new(),
                mode: b.mode,
            }
        });
        let budget = match (budget, doc.unanswered_budget.as_ref()) {
            (Some(mut budget), Some(b)) => {
                budget.exempt_templates = exempt_templates(b, &mut problems);
                Some(budget)
            }
            _ => None,
        };
        let sender_ids = SenderIds::compile(&doc.sender_ids, &mut problems);
        if scoring.is_none() && budget.is_none() {
            problems.push((
                "$.conversation".into(),
                "keeps state for nothing: add `scoring`, `unanswered_budget` or both".into(),
            ));
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let mut compiled = Self {
            layout: String::new(),
            slots: doc.slots,
            entries_per_slot: usize::try_from(doc.entries_per_slot).unwrap_or(usize::MAX),
            on_store_error: doc.on_store_error,
            mode: doc.mode,
            inbound_max_age_nanos: doc.inbound_max_age_seconds.saturating_mul(NANOS_PER_SECOND),
            scoring,
            budget,
            sender_ids,
        };
        compiled.layout = compiled.layout_fingerprint();
        let value = compiled.max_value_bytes();
        if value > MAX_VALUE_BYTES {
            problems.push((
                "$.conversation".into(),
                format!(
                    "a slot could hold {value} bytes (entries_per_slot x (126 + max_texts x 10 + max_text_bytes) + 2), more than {MAX_VALUE_BYTES}: lower entries_per_slot, max_texts or max_text_bytes"
                ),
            ));
        }
        let total = compiled.max_bytes();
        if total > MAX_STATE_BYTES {
            problems.push((
                "$.conversation".into(),
                format!(
                    "the state could grow to {total} bytes (slots x (key + largest value)), more than {MAX_STATE_BYTES}: lower slots or the slot's size"
                ),
            ));
        }
        if problems.is_empty() {
            Ok(compiled)
        } else {
            Err(problems)
        }
    }

    /// A short fingerprint of how slots are laid out (the value format, `slots`,
    /// `entries_per_slot`, `max_texts`, `max_text_bytes`): 8 hex digits of their SHA-256. It is
    /// part of every key, so two listeners of one `vm_id` whose `conversation` sections lay
    /// slots out differently keep apart keys instead of rewriting each other's slots (each with
    /// its own state).
    fn layout_fingerprint(&self) -> String {
        let (texts, bytes) = self
            .scoring
            .as_ref()
            .map_or((0, 0), |s| (s.max_texts, s.max_text_bytes));
        let layout = format!(
            "{FORMAT}/{}/{}/{texts}/{bytes}",
            self.slots, self.entries_per_slot
        );
        let digest: [u8; 32] = Sha256::digest(layout.as_bytes()).into();
        crate::hex::encode(digest.into_iter().take(4))
    }

    /// The shared-data key of a slot: `wa-guard/conv/<layout>/<slot>`.
    pub fn slot_key(&self, slot: u32) -> String {
        format!("{KEY_PREFIX}{}/{slot}", self.layout)
    }

    /// The shared-data key of a link slot ([`super::link`]): `wa-guard/alias/<layout>/<slot>`.
    pub fn alias_slot_key(&self, slot: u32) -> String {
        format!("{}{}/{slot}", super::ALIAS_KEY_PREFIX, self.layout)
    }

    /// How long an entry lives after its last update: the longer of the two windows.
    pub fn ttl_nanos(&self) -> u64 {
        let scoring = self.scoring.as_ref().map_or(0, |s| s.window_nanos);
        let budget = self.budget.as_ref().map_or(0, |b| b.window_nanos);
        scoring.max(budget)
    }

    /// The largest value a slot can hold under this policy.
    pub fn max_value_bytes(&self) -> usize {
        let texts = self.scoring.as_ref().map_or(0, |s| {
            s.max_texts
                .saturating_mul(TEXT_HEADER_BYTES)
                .saturating_add(s.max_text_bytes)
        });
        VALUE_HEADER_BYTES.saturating_add(
            self.entries_per_slot
                .saturating_mul(ENTRY_HEADER_BYTES.saturating_add(texts)),
        )
    }

    /// The bound of the whole state: every conversation slot's key and largest value, and
    /// every link slot's ([`super::link`]).
    pub fn max_bytes(&self) -> usize {
        let last = self.slots.saturating_sub(1);
        let slots = usize::try_from(self.slots).unwrap_or(usize::MAX);
        let conversations = slots.saturating_mul(
            self.slot_key(last)
                .len()
                .saturating_add(self.max_value_bytes()),
        );
        let links = slots.saturating_mul(
            self.alias_slot_key(last)
                .len()
                .saturating_add(super::alias::max_value_bytes(self)),
        );
        conversations.saturating_add(links)
    }
}

/// The names of the templates whose declared category is exempt, checking both lists.
pub(super) fn exempt_templates(
    doc: &crate::document::UnansweredBudgetDoc,
    problems: &mut Vec<(String, String)>,
) -> Vec<String> {
    let mut exempt = Vec::new();
    for (i, c) in doc.exempt_template_categories.iter().enumerate() {
        if crate::whatsapp::template_category(c).is_none() {
            problems.push((
                format!("$.conversation.unanswered_budget.exempt_template_categories[{i}]"),
                format!(
                    "unknown template category `{c}` (known: marketing, utility, authentication)"
                ),
            ));
        }
    }
    for (name, category) in &doc.template_categories {
        let path = format!("$.conversation.unanswered_budget.template_categories.{name}");
        if crate::whatsapp::template_name(name).as_deref() != Some(name.as_str()) {
            problems.push((
                path.clone(),
                format!("`{name}` is not a template name (1 to 512 of a-z, 0-9 and _)"),
            ));
        }
        match crate::whatsapp::template_category(category) {
            None => problems.push((
                path,
                format!("unknown template category `{category}` (known: marketing, utility, authentication)"),
            )),
            Some(c)
                if doc
                    .exempt_template_categories
                    .iter()
                    .any(|e| e.trim().eq_ignore_ascii_case(&c)) =>
            {
                exempt.push(name.clone());
            }
            Some(_) => {}
        }
    }
    exempt
}
