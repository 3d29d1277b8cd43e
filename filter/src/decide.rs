//! Decisions are values: origin + phone number + content → `Decision`.
//!
//! Rules are evaluated in a fixed order and each one that would block is recorded as a finding
//! with its mode. The first enforced finding blocks; otherwise the first audit finding makes the
//! decision `audit` (would block); otherwise the request is allowed. An audit-mode rule therefore
//! never hides a later enforced rule. A rule whose action is `handoff` records a hand-off
//! finding: enforced, it makes the decision `handoff` unless an enforced rule blocks (a block
//! wins over a hand-off, since the hand-off message is still a send).

use crate::classify::Score;
use crate::document::{Action, Mode, Role, RuleAction};
use crate::identity::OriginIdentity;
use crate::policy::{Origin, Policy};
use crate::whatsapp::body::BodyProblem;
use crate::whatsapp::{Endpoint, MessageView, WhatsAppCall};

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

#[derive(Debug, Clone)]
struct Finding {
    rule: String,
    reason: Reason,
    handoff: bool,
}

/// The findings so far for one request.
#[derive(Debug, Clone, Default)]
pub struct Findings {
    enforced: Option<Finding>,
    /// The first enforced finding of a rule that hands off.
    handoff: Option<Finding>,
    audited: Option<Finding>,
    score: Option<Score>,
    unanswered: Option<u32>,
}

impl Findings {
    /// Records a rule outcome; `Allow` records nothing.
    pub fn record(&mut self, rule: &str, reason: Reason, action: Action, mode: Mode) {
        if action == Action::Allow {
            return;
        }
        self.record_rule(rule, reason, RuleAction::Block, mode);
    }

    /// Records a rule that fired, with what its action does.
    pub fn record_rule(&mut self, rule: &str, reason: Reason, action: RuleAction, mode: Mode) {
        let handoff = action == RuleAction::Handoff;
        let slot = match (mode, handoff) {
            (Mode::Enforce, false) => &mut self.enforced,
            (Mode::Enforce, true) => &mut self.handoff,
            (Mode::Audit, _) => &mut self.audited,
        };
        if slot.is_none() {
            *slot = Some(Finding {
                rule: rule.to_owned(),
                reason,
                handoff,
            });
        }
    }

    /// An enforced rule blocks the request.
    pub fn blocks(&self) -> bool {
        self.enforced.is_some()
    }

    /// An enforced rule hands the send off (and none blocks it).
    pub fn hands_off(&self) -> bool {
        self.enforced.is_none() && self.handoff.is_some()
    }
}

/// What the headers tell: the call, the caller and the rules that need no body.
#[derive(Debug, Clone)]
pub struct HeadEvaluation {
    pub call: WhatsAppCall,
    pub identity: Option<OriginIdentity>,
    origin_index: Option<usize>,
    pub findings: Findings,
}

impl HeadEvaluation {
    pub fn origin<'p>(&self, policy: &'p Policy) -> Option<&'p Origin> {
        self.origin_index.and_then(|i| policy.origins.get(i))
    }

    pub fn role(&self, policy: &Policy) -> RoleLabel {
        match self.origin(policy).map(|o| o.role) {
            Some(Role::CustomerService) => RoleLabel::CustomerService,
            Some(Role::GeneralAssistant) => RoleLabel::GeneralAssistant,
            None => RoleLabel::Unknown,
        }
    }

    /// Whether the body must be read before deciding.
    pub fn needs_body(&self, method: &str) -> bool {
        // A hand-off decided on the headers needs the body only where it can be rewritten.
        let handoff_settled = self.findings.hands_off() && !self.call.can_hand_off();
        !self.findings.blocks()
            && !handoff_settled
            && (method.eq_ignore_ascii_case("POST") || self.call.post)
            && matches!(
                self.call.endpoint,
                Endpoint::Messages
                    | Endpoint::MessageTemplates
                    | Endpoint::ObjectUpdate
                    | Endpoint::Flows
                    | Endpoint::Media
            )
    }
}

fn mode_of(policy: &Policy, own: Option<Mode>) -> Mode {
    own.unwrap_or(policy.mode)
}

/// Evaluates every rule that the headers alone can decide.
pub fn evaluate_head(
    policy: &Policy,
    call: WhatsAppCall,
    identity: Option<OriginIdentity>,
) -> HeadEvaluation {
    let origin_index = identity.as_ref().and_then(|id| {
        policy
            .origins
            .iter()
            .position(|o| o.patterns.iter().any(|p| p.matches(&id.value)))
    });
    let origin = origin_index.and_then(|i| policy.origins.get(i));
    let mut f = Findings::default();

    if call.endpoint == Endpoint::Indirect {
        f.record(
            "graph_indirect_send",
            Reason::IndirectSend,
            policy.indirect_sends,
            policy.mode,
        );
    }
    if let Some(o) = origin.filter(|o| o.role == Role::GeneralAssistant) {
        f.record_rule(
            &o.id,
            Reason::GeneralAssistantOrigin,
            o.action,
            mode_of(policy, o.mode),
        );
    }
    if let Some(path_id) = call
        .path_id
        .as_deref()
        .filter(|_| call.governed_by_number_rules())
    {
        match policy.number_rule(path_id) {
            Some(n) => {
                let mode = mode_of(policy, n.mode);
                if n.purpose == Role::GeneralAssistant {
                    f.record_rule(&n.id, Reason::GeneralAssistantNumber, n.action, mode);
                }
                let allowed = n.allowed_origins.is_empty()
                    || origin.is_some_and(|o| n.allowed_origins.iter().any(|a| a == &o.id));
                if !allowed {
                    f.record_rule(&n.id, Reason::OriginNotAllowedForNumber, n.action, mode);
                }
            }
            None => f.record(
                "unknown_phone_number",
                Reason::UnknownPhoneNumber,
                policy.unknown_number,
                policy.mode,
            ),
        }
    }
    // A provider send whose request does not name its number (360dialog without a declared
    // `sender`, a Twilio or Vonage send without `From`) is a send from an unknown number.
    if call.path_id.is_none()
        && call.provider != crate::whatsapp::providers::Provider::CloudApi
        && call.governed_by_number_rules()
    {
        f.record(
            "unknown_phone_number",
            Reason::UnknownPhoneNumber,
            policy.unknown_number,
            policy.mode,
        );
    }
    if origin.is_none() {
        f.record(
            "default_action",
            Reason::UnknownIdentity,
            policy.default_action,
            policy.mode,
        );
    }
    HeadEvaluation {
        call,
        identity,
        origin_index,
        findings: f,
    }
}

/// Records a body problem under the limits section.
pub fn record_body_problem(policy: &Policy, head: &mut HeadEvaluation, problem: BodyProblem) {
    let l = &policy.limits;
    let mode = mode_of(policy, l.mode);
    let (rule, reason, action) = match problem {
        BodyProblem::TooLarge => ("body_limit", Reason::BodyTooLarge, l.on_oversize),
        BodyProblem::DecompressedTooLarge => {
            ("body_limit", Reason::DecompressedTooLarge, l.on_oversize)
        }
        BodyProblem::UnsupportedEncoding => (
            "unsupported_encoding",
            Reason::UnsupportedContentEncoding,
            l.on_unsupported_encoding,
        ),
        BodyProblem::InvalidJson => ("invalid_body", Reason::InvalidJson, l.on_invalid_body),
    };
    head.findings.record(rule, reason, action, mode);
}

/// Evaluates the rules that need the message: type restrictions and the content classifier.
pub fn evaluate_message(policy: &Policy, head: &mut HeadEvaluation, message: &MessageView) {
    let origin = head.origin(policy);
    if let Some(o) = origin
        && let Some(types) = &o.message_types
    {
        let t = message.message_type.as_str();
        let may = |x: &str| types.iter().any(|y| y == x);
        // Definitions and uploads are allowed through the types they are later sent as.
        let ok = t == "object_update"
            || may(t)
            || (t == "template_creation" && may("template"))
            || (t == "flow_definition" && may("interactive"))
            || (t == "media"
                && ["image", "video", "audio", "document", "sticker"]
                    .iter()
                    .any(|m| may(m)));
        if !ok {
            head.findings.record(
                &o.id,
                Reason::MessageTypeNotAllowed,
                Action::Block,
                mode_of(policy, o.mode),
            );
        }
    }
    let c = &policy.content;
    if content_scores(policy, head) && !message.texts.is_empty() {
        let mut score = c.classifier.score_texts(&message.texts);
        let fires = score.probability >= c.classifier.threshold;
        if fires || policy.log.log_allowed {
            c.classifier.explain(&message.texts, &mut score);
        }
        if fires {
            head.findings.record_rule(
                "content_classifier",
                Reason::GeneralAssistantContent,
                c.action,
                mode_of(policy, c.mode),
            );
        }
        head.findings.score = Some(score);
    }
}

/// Whether the content classifier scores this caller's sends. An origin in audit mode changes
/// nothing that is enforced: for the content rule its caller is as unknown as an undeclared one
/// (a general-assistant pilot in audit is still scored, and blocked when the content rule is
/// enforced).
pub fn content_scores(policy: &Policy, head: &HeadEvaluation) -> bool {
    let c = &policy.content;
    let enforced_role = head
        .origin(policy)
        .filter(|o| mode_of(policy, o.mode) != Mode::Audit)
        .map(|o| o.role);
    let scored = match enforced_role {
        None => c.score_unknown,
        Some(Role::CustomerService) => c.score_customer_service,
        Some(Role::GeneralAssistant) => false,
    };
    c.enabled && scored
}

/// Whether the content rule may hand this send off once it has read it: it is enforced, its
/// action is `handoff`, and it scores this caller.
pub fn content_may_hand_off(policy: &Policy, head: &HeadEvaluation) -> bool {
    let c = &policy.content;
    c.action == RuleAction::Handoff
        && mode_of(policy, c.mode) == Mode::Enforce
        && content_scores(policy, head)
}

/// Turns the findings into the decision.
pub fn conclude(policy: &Policy, head: &HeadEvaluation, message: Option<&MessageView>) -> Decision {
    let f = &head.findings;
    let (verdict, finding) = match (&f.enforced, &f.handoff, &f.audited) {
        (Some(e), _, _) => (Verdict::Block, Some(e)),
        (None, Some(h), _) => (Verdict::Handoff, Some(h)),
        (None, None, Some(a)) => (Verdict::Audit, Some(a)),
        (None, None, None) => (Verdict::Allow, None),
    };
    let handoff = match (verdict, finding) {
        (Verdict::Audit, Some(a)) if a.handoff => Some(HandoffNote::Audited),
        _ => None,
    };
    let (rule, reason) = match finding {
        Some(x) => (x.rule.clone(), x.reason),
        None => (
            head.origin(policy)
                .map_or_else(|| "no_rule".to_owned(), |o| o.id.clone()),
            Reason::Allowed,
        ),
    };
    Decision {
        verdict,
        rule,
        reason,
        role: head.role(policy),
        score: f.score.as_ref().map(|s| s.probability),
        signals: f.score.as_ref().map(Score::signal_ids).unwrap_or_default(),
        identity: head.identity.clone(),
        endpoint: head.call.endpoint,
        edge: head.call.edge.clone(),
        path_id: head.call.path_id.clone(),
        message_type: message.map(|m| m.message_type.clone()),
        recipient: message.and_then(|m| m.recipient.clone()),
        template_name: message.and_then(|m| m.template_name.clone()),
        template_category: message.and_then(|m| m.template_category.clone()),
        provider: head.call.provider,
        handoff,
        unanswered: f.unanswered,
    }
}

/// What the conversation tells about a send: its recent predecessors and its count.
pub struct ConversationView<'a> {
    /// The recent sends' texts to the same recipient from the same number, oldest first, when
    /// conversation scoring applies to this send.
    pub recent_texts: Option<Vec<&'a str>>,
    /// This send's texts as the conversation keeps them (without the recipient's address).
    pub current_text: String,
    /// The unanswered count and the cap, when the budget counts this send.
    pub unanswered: Option<(u32, u32)>,
    pub budget_mode: Option<Mode>,
    pub scoring_mode: Option<Mode>,
}

/// Evaluates the conversation rules: the unanswered budget (rule `unanswered_budget`), then
/// the send scored joined to its recent predecessors (rule `conversation_classifier`), unless
/// an enforced rule already blocks it.
pub fn evaluate_conversation(
    policy: &Policy,
    head: &mut HeadEvaluation,
    view: &ConversationView<'_>,
) {
    if let Some((count, cap)) = view.unanswered {
        head.findings.unanswered = Some(count);
        if count >= cap {
            head.findings.record(
                "unanswered_budget",
                Reason::UnansweredBudget,
                Action::Block,
                mode_of(policy, view.budget_mode),
            );
        }
    }
    let Some(recent) = view.recent_texts.as_ref().filter(|r| !r.is_empty()) else {
        return;
    };
    if head.findings.blocks() {
        return;
    }
    let c = &policy.content;
    let (mut score, scored) =
        crate::conversation::scoring::score_conversation(&c.classifier, recent, &view.current_text);
    let fires = score.probability >= c.classifier.threshold;
    if fires {
        c.classifier.explain(&[scored], &mut score);
        head.findings.record_rule(
            "conversation_classifier",
            Reason::GeneralAssistantConversation,
            c.action,
            mode_of(policy, view.scoring_mode.or(c.mode)),
        );
    }
    let higher = head
        .findings
        .score
        .as_ref()
        .is_none_or(|s| score.probability > s.probability);
    if fires && higher {
        head.findings.score = Some(score);
    }
}

/// Records that the conversation state could not be used: the send is refused
/// (`on_store_error: block`, rule `conversation_state`) or decided without it (`allow`).
pub fn record_state_failure(
    policy: &Policy,
    head: &mut HeadEvaluation,
    failure: crate::conversation::StateFailure,
) {
    let reason = match failure {
        crate::conversation::StateFailure::InvalidRecipient => Reason::InvalidRecipient,
        _ => Reason::ConversationStateUnavailable,
    };
    if let Some(conversation) = &policy.conversation {
        head.findings.record(
            "conversation_state",
            reason,
            conversation.on_store_error,
            mode_of(policy, conversation.mode),
        );
    }
}
