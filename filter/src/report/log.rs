//! The structured decision log line and what it may carry: the sampled request, the policy and
//! model fingerprint, hashed recipients, score buckets, RFC 3339 times; never message text or a
//! raw phone number.

use crate::decide::{Decision, HandoffNote, Verdict};
use crate::document::LogSection;
use crate::timestamp::rfc3339_millis;
use crate::training::upload::TrainingOutcome;
use crate::whatsapp::providers::Provider;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Whether the decision gets a log line when every allowed line is kept (no sampling).
pub fn should_log(decision: &Decision, log_allowed: bool) -> bool {
    decision.verdict != Verdict::Allow || log_allowed
}

/// Whether the decision gets a log line, and if so the fraction of such decisions that get
/// one (the line's `sample`): 1 for blocks and audits, which are always logged; for allowed
/// decisions, `log.allowed_sample_rate` when `log.log_allowed` is set. The choice is a hash of
/// the request id keyed by `log.recipient_hash_salt`, so a replay of the same requests keeps the
/// same lines, and a caller that sets its own `x-request-id` cannot pick ids that are (or are
/// not) logged without knowing the salt. A request without an id cannot be sampled
/// deterministically: it is logged, with sample 1, so that weighting each line by 1/sample
/// still counts every decision once.
pub fn log_sample(decision: &Decision, log: &LogSection, request_id: &str) -> Option<f64> {
    if decision.verdict != Verdict::Allow {
        return Some(1.0);
    }
    if !log.log_allowed {
        return None;
    }
    let rate = log.allowed_sample_rate;
    if rate >= 1.0 || request_id.is_empty() {
        return Some(1.0);
    }
    sampled(request_id, &log.recipient_hash_salt, rate).then_some(rate)
}

/// Whether a request id falls in the sampled fraction `rate`: the first 53 bits of the SHA-256
/// of the key and the id, read as a number in [0, 1), are below `rate`. The same id and key
/// always get the same answer.
pub fn sampled(request_id: &str, key: &str, rate: f64) -> bool {
    if rate >= 1.0 {
        return true;
    }
    let mut h = Sha256::new();
    h.update(b"wa-guard-sample\0");
    h.update(key.as_bytes());
    h.update([0]);
    h.update(request_id.as_bytes());
    let digest = h.finalize();
    let bits = digest
        .iter()
        .take(8)
        .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    // INVARIANT: 53 bits fit an f64's mantissa exactly, so the fraction is below 1.
    let fraction = (bits >> 11) as f64 / (1u64 << 53) as f64;
    fraction < rate
}

/// What a decision's log line carries besides the decision itself.
#[derive(Debug, Clone, Copy)]
pub struct LineContext<'a> {
    pub request_id: &'a str,
    /// The policy's fingerprint.
    pub policy: &'a str,
    /// `log.recipient_hash_salt`: without one, `recipient_hash` is left out.
    pub salt: &'a str,
    /// The fraction of such decisions that get a line ([`log_sample`]).
    pub sample: f64,
    /// The host clock, in nanoseconds since the Unix epoch; `None` where the engine runs
    /// without a clock (the WASI component), and the line then has no `ts`.
    pub now_nanos: Option<u64>,
}

/// One JSON object per decision, without content, as the proxy-wasm glue logs it without a
/// clock and with every such decision logged (sample 1).
pub fn log_line(decision: &Decision, request_id: &str, salt: &str, policy: &str) -> String {
    decision_line(
        decision,
        &LineContext {
            request_id,
            policy,
            salt,
            sample: 1.0,
            now_nanos: None,
        },
    )
}

/// One JSON object per decision, without content: no message text, no phone number (the
/// recipient only as a salted hash, a sender only as a Graph or provider id).
pub fn decision_line(decision: &Decision, ctx: &LineContext<'_>) -> String {
    let score = decision.score.map(|s| (s * 100.0).round() / 100.0);
    let mut line = json!({
        "event": "wa_egress_guard.decision",
        "request_id": ctx.request_id,
        "policy": ctx.policy,
        "decision": decision.verdict.as_str(),
        "rule": decision.rule,
        "reason": decision.reason.as_str(),
        "role": decision.role.as_str(),
        "score": score,
        "signals": decision.signals,
        "identity": decision.identity.as_ref().map(|i| i.value.as_str()),
        "identity_source": decision.identity.as_ref().map(|i| i.source.as_str()),
        "provider": decision.provider.as_str(),
        "endpoint": decision.edge,
        "phone_number_id": logged_sender(decision),
        "message_type": decision.message_type,
        // Without a salt, a hash of a phone number is reversed by hashing candidate numbers:
        // it is left out rather than logged brute-forceable.
        "recipient_hash": decision
            .recipient
            .as_deref()
            .filter(|_| !ctx.salt.is_empty())
            .map(|r| recipient_hash(r, ctx.salt)),
        "sample": sample_value(ctx.sample),
    });
    if let Some(fields) = line.as_object_mut() {
        let optional = [
            ("ts", ctx.now_nanos.map(rfc3339_millis)),
            (
                "template_name",
                decision
                    .template_name
                    .as_deref()
                    .and_then(crate::whatsapp::fields::template_name),
            ),
            (
                "template_category",
                decision
                    .template_category
                    .as_deref()
                    .and_then(crate::whatsapp::fields::template_category),
            ),
            ("score_bucket", score.and_then(score_bucket)),
        ];
        let handoff = handoff_fields(decision.handoff.as_ref())
            .into_iter()
            .map(|(k, v)| (k, Some(v)));
        let optional = optional.into_iter().chain(handoff);
        for (key, value) in optional {
            if let Some(v) = value {
                fields.insert(key.to_owned(), Value::String(v));
            }
        }
        if let Some(n) = decision.unanswered {
            fields.insert("unanswered".to_owned(), Value::from(n));
        }
    }
    line.to_string()
}

/// What a decision line says of a hand-off: the language and format sent; why a send could
/// not be rewritten and what the rule fired for; or that an audited rule would hand off.
pub(super) fn handoff_fields(note: Option<&HandoffNote>) -> Vec<(&'static str, String)> {
    match note {
        Some(HandoffNote::Sent { language, format }) => vec![
            ("handoff_language", language.clone()),
            ("handoff_format", (*format).to_owned()),
        ],
        Some(HandoffNote::Unavailable { cause, reason }) => vec![
            ("handoff_unavailable", (*cause).to_owned()),
            ("handoff_reason", reason.as_str().to_owned()),
        ],
        Some(HandoffNote::Audited) => vec![("audited_action", "handoff".to_owned())],
        None => Vec::new(),
    }
}

/// `sample` as logged: `1` for every line kept, else the rate (`0.25`).
pub(super) fn sample_value(sample: f64) -> Value {
    if sample >= 1.0 {
        json!(1)
    } else {
        json!(sample)
    }
}

/// The score's tenth as a label, `"0.7-0.8"`; the last one, `"0.9-1.0"`, includes 1.0. Taken
/// from the score as logged (two decimals), so a line's bucket always holds its score.
pub fn score_bucket(score: f64) -> Option<String> {
    if !score.is_finite() {
        return None;
    }
    let hundredths = (score.clamp(0.0, 1.0) * 100.0).round() as u32;
    let tenth = (hundredths / 10).min(9);
    Some(if tenth == 9 {
        "0.9-1.0".to_owned()
    } else {
        format!("0.{tenth}-0.{}", tenth + 1)
    })
}

/// The sender as logged in `phone_number_id`: a Graph id (the Cloud API's path), or a
/// provider's id for the number (a Twilio Messaging Service or Conversations service, a Bird
/// channel, a Sinch app, a Gupshup app, an AWS phone number id). Providers whose requests name
/// the sending number itself (Twilio's `From`, Vonage's and Infobip's `from`, Gupshup's
/// `source`, Bird's WhatsApp API) would log a phone number: it is left out.
pub(super) fn logged_sender(decision: &Decision) -> Option<&str> {
    let id = decision.path_id.as_deref()?;
    match decision.provider {
        Provider::CloudApi => Some(id),
        _ if looks_like_phone_number(id) => None,
        _ => Some(id),
    }
}

/// Digits with the punctuation numbers are written with (`+`, blanks, `-`, `.`, brackets),
/// and enough digits to be a number rather than a short id.
pub(super) fn looks_like_phone_number(s: &str) -> bool {
    let digits = s.bytes().filter(u8::is_ascii_digit).count();
    digits >= 5
        && s.bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b' ' | b'-' | b'.' | b'(' | b')'))
}

/// A salted SHA-256 of the recipient, truncated to 16 hex digits: joinable across log lines,
/// not reversible to a phone number without the salt.
pub fn recipient_hash(recipient: &str, salt: &str) -> String {
    let digits: String = recipient
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    h.update([0]);
    h.update(digits.as_bytes());
    crate::hex::encode(h.finalize().into_iter().take(8))
}

/// One JSON log line per upload, with counts and no content, without a clock.
pub fn training_log_line(t: &TrainingOutcome, request_id: &str, policy: &str) -> String {
    training_line(t, request_id, policy, None)
}

/// One JSON log line per upload, with counts and no content; `ts` from the host clock when
/// there is one. Every upload is logged: `sample` is always 1.
pub fn training_line(
    t: &TrainingOutcome,
    request_id: &str,
    policy: &str,
    now_nanos: Option<u64>,
) -> String {
    let mut line = json!({
        "event": "wa_egress_guard.training_upload",
        "request_id": request_id,
        "policy": policy,
        "decision": t.verdict.as_str(),
        "endpoint": t.endpoint,
        "records_seen": t.stats.records_seen,
        "records_stripped": t.stats.records_stripped,
        "detectors": t.stats.detectors,
        "bytes_in": t.bytes_in,
        "bytes_out": t.bytes_out,
        "problem": t.problem,
        "sample": 1,
    });
    if let (Some(fields), Some(now)) = (line.as_object_mut(), now_nanos) {
        fields.insert("ts".to_owned(), Value::String(rfc3339_millis(now)));
    }
    line.to_string()
}
