//! A reply the filter sends instead of forwarding a request, and the response headers that
//! name a decision.

/// The response header naming the decision (`allow`, `block`, `audit`, `handoff`, `strip`).
pub const DECISION_HEADER: &str = "x-wa-guard-decision";
/// The response header naming the rule that decided.
pub const RULE_HEADER: &str = "x-wa-guard-rule";
/// The response header counting the records stripped from a training upload.
pub const STRIPPED_HEADER: &str = "x-wa-guard-stripped";

/// A reply the filter sends instead of forwarding the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalReply {
    pub status: u32,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}
