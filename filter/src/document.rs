//! The policy as users write it: plain serde types, deserialised from the plugin configuration.
//!
//! Every type denies unknown fields, because a typo in a security policy must never be ignored
//! silently. Optional fields have explicit defaults. Nothing here is validated beyond its JSON
//! shape: `policy::compile` turns a `PolicyDocument` into a runnable `Policy` and reports every
//! semantic problem with its JSON path.

use serde::Deserialize;

mod content;
mod conversation;
mod handoff;
mod identity;
mod limits;
mod log;
mod phone_numbers;
mod training;
mod webhook;
mod whatsapp;

pub use content::{ContentSection, ContentTermsDoc};
pub use conversation::{ConversationScoringDoc, ConversationSection, UnansweredBudgetDoc};
pub use handoff::{HandoffMessageDoc, HandoffSection};
pub use identity::{IdentitySection, IdentitySourceDoc, OriginDoc, PatternDoc, TrustedPeersDoc};
pub use limits::LimitsSection;
pub use log::LogSection;
pub use phone_numbers::{PhoneNumberDoc, PhoneNumbersSection};
pub use training::{
    BodyFormat, BucketDoc, BucketProvider, DetectorsDoc, EndpointDoc, ProvenanceDoc,
    TrainingSection, UnknownGcsSessions,
};
pub use webhook::WebhookSection;
pub use whatsapp::{
    DEFAULT_EDGES, EdgeDoc, EdgeReads, ProviderDoc, ProviderOverrideDoc, WhatsAppSection,
};

/// The default probability threshold of a policy, chosen on the project's held-out split so
/// that false blocks of service messages stay at or below 1% (see MODEL.md).
pub const DEFAULT_THRESHOLD: f64 = 0.71;

/// The lowest `log.allowed_sample_rate`: one allowed line in 10,000. Below it one line would
/// stand for more decisions than an inventory can weigh sensibly (a line at 1e-300 counts as
/// 1e300 sends), and `wa-guard inventory` reads a lower `sample` as a forged line.
pub const MIN_SAMPLE_RATE: f64 = 0.0001;

/// The whole plugin configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyDocument {
    /// Global mode; a rule's own `mode` overrides it.
    #[serde(default)]
    pub mode: Mode,
    /// What happens to a caller whose identity matches no origin.
    pub default_action: Action,
    pub whatsapp: WhatsAppSection,
    pub identity: IdentitySection,
    pub origins: Vec<OriginDoc>,
    pub phone_numbers: PhoneNumbersSection,
    pub content: ContentSection,
    pub limits: LimitsSection,
    #[serde(default)]
    pub log: LogSection,
    /// Uploads to AI training endpoints; absent means the filter does not touch them.
    #[serde(default)]
    pub training: Option<TrainingSection>,
    /// Meta's webhook deliveries on the ingress route, whose signature is verified; absent
    /// means the filter does not touch inbound requests.
    #[serde(default)]
    pub webhook: Option<WebhookSection>,
    /// The compliant message a send is replaced with when a rule's `action` is `handoff`;
    /// required when any rule hands off.
    #[serde(default)]
    pub handoff: Option<HandoffSection>,
    /// State kept across the sends to one recipient from one phone number (Envoy's shared
    /// data): the unanswered-message budget and conversation-level scoring; absent means no
    /// state is kept.
    #[serde(default)]
    pub conversation: Option<ConversationSection>,
}

/// What a rule does to a send it finds: refuse it, or hand the recipient off to the
/// business's own channel by replacing the message with the policy's compliant one.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RuleAction {
    #[default]
    Block,
    Handoff,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    #[default]
    Enforce,
    Audit,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Allow,
    Block,
}

/// A declared role of an origin, or the declared purpose of a phone number.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    CustomerService,
    GeneralAssistant,
}

/// Which roles the content classifier runs on. `unknown` is a caller that matched no origin.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ScoredRole {
    Unknown,
    CustomerService,
}

fn default_block() -> Action {
    Action::Block
}

fn default_allow() -> Action {
    Action::Allow
}

fn default_true() -> bool {
    true
}
