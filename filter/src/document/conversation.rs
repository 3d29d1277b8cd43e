//! The `conversation` section: the state kept per recipient, its scoring and its unanswered budget.

use super::{Action, Mode, default_block};
use serde::Deserialize;

/// Conversations: per (phone-number id, salted recipient hash) the time of the recipient's last
/// inbound message, the sends since then, and the recent sends' texts. Held in `slots` keys of
/// at most `entries_per_slot` conversations each, so memory is bounded whatever the number of
/// recipients.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConversationSection {
    /// How many shared-data keys hold conversations (a recipient's key is its hash modulo this).
    #[serde(default = "default_conversation_slots")]
    pub slots: u32,
    /// At most this many conversations per key; the least recently updated is evicted.
    #[serde(default = "default_entries_per_slot")]
    pub entries_per_slot: u32,
    /// What a send gets when the state cannot be read or written (the host refused, or the
    /// compare-and-swap kept failing): `block` (fail closed) or `allow` (decided without it).
    #[serde(default = "default_block")]
    pub on_store_error: Action,
    /// The mode of the `conversation_state` rule (the failure above); the policy's by default.
    #[serde(default)]
    pub mode: Option<Mode>,
    /// An inbound message (webhook) whose `timestamp` is further than this from the proxy's
    /// clock restarts no count: a captured delivery replayed later is ignored.
    #[serde(default = "default_inbound_max_age")]
    pub inbound_max_age_seconds: u64,
    /// Each send the content rule scores is scored again joined to the recent sends' texts.
    #[serde(default)]
    pub scoring: Option<ConversationScoringDoc>,
    /// Sends to a recipient since their last inbound message are counted and capped.
    #[serde(default)]
    pub unanswered_budget: Option<UnansweredBudgetDoc>,
    /// A provider's sender id (Twilio's `whatsapp:+...` `From` or `MG...` Messaging Service
    /// SID, a 360dialog entry's `sender`, ...) → the business's Graph phone-number id: a send
    /// under a mapped id is kept in that id's conversations, where Meta's webhooks reset counts.
    #[serde(default)]
    pub sender_ids: std::collections::BTreeMap<String, String>,
}

fn default_conversation_slots() -> u32 {
    1024
}

fn default_entries_per_slot() -> u32 {
    8
}

fn default_inbound_max_age() -> u64 {
    300
}

/// Conversation-level scoring: the texts kept, and for how long.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConversationScoringDoc {
    /// Texts older than this are not joined to a send.
    #[serde(default = "default_scoring_window")]
    pub window_seconds: u64,
    /// At most this many recent texts per conversation.
    #[serde(default = "default_max_texts")]
    pub max_texts: u32,
    /// At most this many bytes of text per conversation (the most recent kept).
    #[serde(default = "default_max_text_bytes")]
    pub max_text_bytes: u32,
    /// The rule's mode; the content section's, else the policy's, by default.
    #[serde(default)]
    pub mode: Option<Mode>,
}

fn default_scoring_window() -> u64 {
    600
}

fn default_max_texts() -> u32 {
    4
}

fn default_max_text_bytes() -> u32 {
    1536
}

/// The unanswered-message budget (rule `unanswered_budget`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnansweredBudgetDoc {
    /// Sends allowed since the recipient's last inbound message; the next one is refused.
    pub max_unanswered: u32,
    /// The count restarts when its last counted send is older than this.
    #[serde(default = "default_budget_window")]
    pub window_seconds: u64,
    /// The categories of the business's templates (a send names its template, not its
    /// category): template name → `marketing`, `utility` or `authentication`.
    #[serde(default)]
    pub template_categories: std::collections::BTreeMap<String, String>,
    /// Template sends of these categories are neither counted nor refused.
    #[serde(default)]
    pub exempt_template_categories: Vec<String>,
    #[serde(default)]
    pub mode: Option<Mode>,
}

fn default_budget_window() -> u64 {
    86_400
}
