//! The guard's verdict on one request, read from what the filter did: the decision and rule
//! headers (on its local reply or on the response), the reason from the decision counter it
//! incremented, and for training uploads the problem from its upload log line.

use std::fmt;

use crate::outcome::Outcome;

pub const DECISION_HEADER: &str = "x-wa-guard-decision";
pub const RULE_HEADER: &str = "x-wa-guard-rule";
pub const STRIPPED_HEADER: &str = "x-wa-guard-stripped";
const DECISIONS_COUNTER: &str = "wa_guard_decisions_total.";
const TRAINING_LOG: &str = "wa-egress-guard training ";

/// What the guard decided, in the terms of the policy test cases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// `allow`, `block`, `audit`; training: `forward`, `strip`, `block`, `audit`, `exclusive`;
    /// `none` when the filter made no decision.
    pub decision: String,
    pub rule: Option<String>,
    pub reason: Option<String>,
    /// The status the downstream client saw (`None` if it saw no response).
    pub status: Option<u16>,
    /// Training uploads: records stripped.
    pub records_stripped: Option<u64>,
}

impl Verdict {
    pub fn from_outcome(outcome: &Outcome) -> Verdict {
        let header = |name: &str| {
            outcome
                .local_response
                .as_ref()
                .and_then(|r| r.headers.get(name))
                .or_else(|| outcome.response_header(name))
                .map(str::to_string)
        };
        let counter = decision_counter(outcome);
        let training = training_log(outcome);
        let decision = header(DECISION_HEADER)
            .or_else(|| counter.as_ref().map(|c| c.decision.clone()))
            .or_else(|| training_field(training.as_ref(), "decision"))
            .unwrap_or_else(|| "none".to_string());
        let rule = header(RULE_HEADER)
            .or_else(|| counter.as_ref().map(|c| c.rule.clone()))
            .or_else(|| training_field(training.as_ref(), "endpoint"));
        let reason = match &counter {
            Some(c) => Some(c.reason.clone()),
            None => training_field(training.as_ref(), "problem"),
        };
        let records_stripped = header(STRIPPED_HEADER)
            .and_then(|s| s.parse().ok())
            .or_else(|| {
                training
                    .as_ref()
                    .and_then(|t| t.get("records_stripped"))
                    .and_then(serde_json::Value::as_u64)
            });
        Verdict {
            decision,
            rule,
            reason,
            status: outcome.status(),
            records_stripped,
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.decision)?;
        if let Some(rule) = &self.rule {
            write!(f, " rule={rule}")?;
        }
        if let Some(reason) = &self.reason {
            write!(f, " reason={reason}")?;
        }
        if let Some(n) = self.records_stripped {
            write!(f, " stripped={n}")?;
        }
        match self.status {
            Some(status) => write!(f, " status={status}"),
            None => write!(f, " status=none"),
        }
    }
}

struct DecisionCounter {
    decision: String,
    rule: String,
    reason: String,
}

/// `wa_guard_decisions_total.decision.<d>.rule.<r>.reason.<reason>.role.<role>.provider.<p>`, split from
/// the right so a rule id containing dots survives.
fn decision_counter(outcome: &Outcome) -> Option<DecisionCounter> {
    let deltas = outcome.counter_deltas();
    let name = deltas.keys().find(|k| k.starts_with(DECISIONS_COUNTER))?;
    let rest = name
        .strip_prefix(DECISIONS_COUNTER)?
        .strip_prefix("decision.")?;
    let (decision, rest) = rest.split_once(".rule.")?;
    let (rest, _role) = rest.rsplit_once(".role.")?;
    let (rule, reason) = rest.rsplit_once(".reason.")?;
    Some(DecisionCounter {
        decision: decision.to_string(),
        rule: rule.to_string(),
        reason: reason.to_string(),
    })
}

fn training_log(outcome: &Outcome) -> Option<serde_json::Value> {
    outcome.logs.iter().find_map(|log| {
        let json = log.message.strip_prefix(TRAINING_LOG)?;
        serde_json::from_str(json).ok()
    })
}

fn training_field(log: Option<&serde_json::Value>, field: &str) -> Option<String> {
    log?.get(field)?.as_str().map(str::to_string)
}
