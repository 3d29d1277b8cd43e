//! The `phone_numbers` section: the declared purpose of each sending number, and who may use it.

use super::{Action, Mode, Role, RuleAction, default_allow};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhoneNumbersSection {
    /// Action for a phone-number-id (or WABA id) no rule names.
    #[serde(default = "default_allow")]
    pub unknown: Action,
    #[serde(default)]
    pub numbers: Vec<PhoneNumberDoc>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhoneNumberDoc {
    pub id: String,
    /// Phone-number-ids and WABA ids as they appear in the request path.
    pub path_ids: Vec<String>,
    pub purpose: Role,
    /// Origin ids allowed to send from these numbers; empty means any origin.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    #[serde(default)]
    pub mode: Option<Mode>,
    /// What a send this rule refuses gets: blocked, or handed off.
    #[serde(default)]
    pub action: RuleAction,
}
