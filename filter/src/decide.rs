//! Decisions are values: origin + phone number + content → `Decision`.
//!
//! Rules are evaluated in a fixed order and each one that would block is recorded as a finding
//! with its mode. The first enforced finding blocks; otherwise the first audit finding makes the
//! decision `audit` (would block); otherwise the request is allowed. An audit-mode rule therefore
//! never hides a later enforced rule. A rule whose action is `handoff` records a hand-off
//! finding: enforced, it makes the decision `handoff` unless an enforced rule blocks (a block
//! wins over a hand-off, since the hand-off message is still a send).

mod conversation;
mod decision;
mod findings;

pub use conversation::{ConversationView, evaluate_conversation, record_state_failure};
pub use decision::{Decision, HandoffNote, Reason, RoleLabel, Verdict};
pub use findings::Findings;

use crate::classify::Score;
use crate::document::{Action, Mode, Role, RuleAction};
use crate::identity::OriginIdentity;
use crate::policy::{Origin, Policy};
use crate::whatsapp::body::BodyProblem;
use crate::whatsapp::{Endpoint, MessageView, WhatsAppCall};

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
