//! The decision as a value: its verdict, the rule and reason behind it, and what logs, metrics
//! and the 403 are derived from.

use crate::identity::OriginIdentity;
use crate::whatsapp::Endpoint;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    Block,
    /// Would block, but the rule is in audit mode.
    Audit,
    /// The send was replaced by the policy's hand-off message and forwarded.
    Handoff,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Block => "block",
            Self::Audit => "audit",
            Self::Handoff => "handoff",
        }
    }
}

/// Why a rule fired (or, for allowed requests, why nothing did).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Allowed,
    GeneralAssistantOrigin,
    GeneralAssistantNumber,
    OriginNotAllowedForNumber,
    UnknownPhoneNumber,
    MessageTypeNotAllowed,
    GeneralAssistantContent,
    UnknownIdentity,
    IndirectSend,
    BodyTooLarge,
    DecompressedTooLarge,
    InvalidJson,
    UnsupportedContentEncoding,
    /// A rule hands the send off, but the send cannot be rewritten (a template, media...).
    HandoffUnavailable,
    /// The recipient got `max_unanswered` sends since their last inbound message.
    UnansweredBudget,
    /// The send joined to the recent sends to the same recipient reads as an assistant's answer.
    GeneralAssistantConversation,
    /// The conversation state could not be read or written, or the send cannot be keyed to one
    /// conversation (several recipients, none, no sender) (`conversation.on_store_error`).
    ConversationStateUnavailable,
    /// The send's recipient is neither a phone number nor a business-scoped user id, or it names
    /// a number and a user id not known as one person's: no conversation can be keyed by it
    /// (`conversation.on_store_error`).
    InvalidRecipient,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allowed => "allowed",
            Self::GeneralAssistantOrigin => "general_assistant_origin",
            Self::GeneralAssistantNumber => "general_assistant_number",
            Self::OriginNotAllowedForNumber => "origin_not_allowed_for_number",
            Self::UnknownPhoneNumber => "unknown_phone_number",
            Self::MessageTypeNotAllowed => "message_type_not_allowed",
            Self::GeneralAssistantContent => "general_assistant_content",
            Self::UnknownIdentity => "unknown_identity",
            Self::IndirectSend => "indirect_send",
            Self::BodyTooLarge => "body_too_large",
            Self::DecompressedTooLarge => "decompressed_too_large",
            Self::InvalidJson => "invalid_json",
            Self::UnsupportedContentEncoding => "unsupported_content_encoding",
            Self::HandoffUnavailable => "handoff_unavailable",
            Self::UnansweredBudget => "unanswered_budget_exceeded",
            Self::GeneralAssistantConversation => "general_assistant_conversation",
            Self::ConversationStateUnavailable => "conversation_state_unavailable",
            Self::InvalidRecipient => "invalid_recipient",
        }
    }

    /// The `error_subcode` of the Graph-shaped 403: stable numbers clients can switch on.
    pub fn error_subcode(self) -> u32 {
        4_390_000
            + match self {
                Self::Allowed => 0,
                Self::GeneralAssistantOrigin => 1,
                Self::GeneralAssistantNumber => 2,
                Self::OriginNotAllowedForNumber => 3,
                Self::UnknownPhoneNumber => 4,
                Self::MessageTypeNotAllowed => 5,
                Self::GeneralAssistantContent => 6,
                Self::UnknownIdentity => 7,
                Self::IndirectSend => 8,
                Self::BodyTooLarge => 9,
                Self::DecompressedTooLarge => 10,
                Self::InvalidJson => 11,
                Self::UnsupportedContentEncoding => 12,
                Self::HandoffUnavailable => 13,
                Self::UnansweredBudget => 14,
                Self::GeneralAssistantConversation => 15,
                Self::ConversationStateUnavailable => 16,
                Self::InvalidRecipient => 17,
            }
    }
}

/// The caller's role as labelled in metrics and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleLabel {
    CustomerService,
    GeneralAssistant,
    Unknown,
}

impl RoleLabel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CustomerService => "customer_service",
            Self::GeneralAssistant => "general_assistant",
            Self::Unknown => "unknown",
        }
    }
}

/// The outcome for one request to a WhatsApp host. Logs, metrics and the 403 derive from it.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub verdict: Verdict,
    pub rule: String,
    pub reason: Reason,
    pub role: RoleLabel,
    pub score: Option<f64>,
    pub signals: Vec<String>,
    pub identity: Option<OriginIdentity>,
    pub endpoint: Endpoint,
    /// The Graph edge's name (`messages`, `marketing_messages`, ...), as logged.
    pub edge: String,
    pub path_id: Option<String>,
    pub message_type: Option<String>,
    pub recipient: Option<String>,
    /// The template a send or a definition names, when it is a valid Meta template name.
    pub template_name: Option<String>,
    /// A template definition's category (`marketing`, `utility`, `authentication`).
    pub template_category: Option<String>,
    /// Whose API carried the call (`cloud_api`, `twilio`, ...): the block answers in its error
    /// shape, and metrics and logs carry it.
    pub provider: crate::whatsapp::providers::Provider,
    /// What became of a rule's hand-off, when the deciding rule's action is `handoff`.
    pub handoff: Option<HandoffNote>,
    /// The recipient's unanswered sends before this one, when the budget counted it.
    pub unanswered: Option<u32>,
}

/// A hand-off, as logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandoffNote {
    /// The send was replaced by the message in this language (`format`: `text`, `cta_url`).
    Sent {
        language: String,
        format: &'static str,
    },
    /// The send could not be rewritten and was blocked: why (`message_type`, ...), and the
    /// reason the rule fired for.
    Unavailable { cause: &'static str, reason: Reason },
    /// Audit: the rule would hand the send off.
    Audited,
}

impl Decision {
    /// The send cannot be rewritten: the hand-off becomes a block with reason
    /// `handoff_unavailable`, under the same rule.
    pub fn handoff_unavailable(&mut self, cause: &'static str) {
        self.handoff = Some(HandoffNote::Unavailable {
            cause,
            reason: self.reason,
        });
        self.verdict = Verdict::Block;
        self.reason = Reason::HandoffUnavailable;
    }
}
