//! The conversation rules: the unanswered budget, the send scored with its recent predecessors,
//! and what a send gets when the conversation state cannot be used.

use super::{HeadEvaluation, Reason, mode_of};
use crate::document::{Action, Mode};
use crate::policy::Policy;

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
