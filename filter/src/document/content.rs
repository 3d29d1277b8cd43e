//! The `content` section: the classifier's threshold, the roles it scores, the business's terms.

use super::{DEFAULT_THRESHOLD, Mode, RuleAction, ScoredRole, default_true};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContentSection {
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Block when the classifier's probability that a message comes from a general assistant
    /// reaches this value (between 0 and 1).
    #[serde(default = "default_threshold")]
    pub threshold: f64,
    #[serde(default = "default_scored_roles")]
    pub roles: Vec<ScoredRole>,
    /// The business's own weighted terms, added to the model's score of every part they
    /// appear in (negative: a service signal, such as a brand or product name).
    #[serde(default)]
    pub terms: Vec<ContentTermsDoc>,
    #[serde(default)]
    pub mode: Option<Mode>,
    /// What a send the classifier finds gets: blocked, or handed off.
    #[serde(default)]
    pub action: RuleAction,
}

/// The default probability threshold, chosen on the project's held-out split (see MODEL.md).
pub(crate) fn default_threshold() -> f64 {
    DEFAULT_THRESHOLD
}

fn default_scored_roles() -> Vec<ScoredRole> {
    vec![ScoredRole::Unknown]
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContentTermsDoc {
    pub id: String,
    /// Words or phrases, matched whole after the same normalisation as the text.
    pub terms: Vec<String>,
    /// Added to the score (log-odds units) of a part that holds any of the terms.
    pub weight: f64,
    #[serde(default)]
    pub note: Option<String>,
}
