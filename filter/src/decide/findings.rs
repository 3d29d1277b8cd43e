//! The findings of one request: the first enforced, handed-off and audited rule, as the rules are
//! evaluated in order.

use super::Reason;
use crate::classify::Score;
use crate::document::{Action, Mode, RuleAction};

#[derive(Debug, Clone)]
pub(super) struct Finding {
    pub(super) rule: String,
    pub(super) reason: Reason,
    pub(super) handoff: bool,
}

/// The findings so far for one request.
#[derive(Debug, Clone, Default)]
pub struct Findings {
    pub(super) enforced: Option<Finding>,
    /// The first enforced finding of a rule that hands off.
    pub(super) handoff: Option<Finding>,
    pub(super) audited: Option<Finding>,
    pub(super) score: Option<Score>,
    pub(super) unanswered: Option<u32>,
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
