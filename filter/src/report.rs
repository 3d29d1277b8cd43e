//! What a decision looks like outside: the Graph-shaped 403, response headers, the metric name
//! and the structured log line. None of them carries message text or a raw phone number.

use crate::decide::{Decision, Verdict};
use crate::training::upload::{TrainingOutcome, TrainingVerdict};
use crate::whatsapp::providers::Provider;
use serde_json::json;
use sha2::{Digest, Sha256};

pub const DECISION_HEADER: &str = "x-wa-guard-decision";
pub const RULE_HEADER: &str = "x-wa-guard-rule";
pub const STRIPPED_HEADER: &str = "x-wa-guard-stripped";

/// The counter every decision increments. Envoy shows it as
/// `wa_guard_decisions_total{decision,rule,reason,role,provider}` once the bootstrap's `stats_tags`
/// extract the labels (see `envoy/`).
pub const DECISIONS_METRIC: &str = "wa_guard_decisions_total";

/// A reply the filter sends instead of forwarding the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalReply {
    pub status: u32,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// The 403 for a blocked WhatsApp call, shaped like a Graph API error so existing clients surface it.
pub fn graph_error(decision: &Decision, request_id: &str) -> LocalReply {
    let message = format!("(#10) {}", explanation(decision));
    let body = json!({"error": {
        "message": message,
        "type": "OAuthException",
        "code": 10,
        "error_subcode": decision.reason.error_subcode(),
        "fbtrace_id": request_id,
    }});
    json_403(decision, &body)
}

/// The 403 for a blocked WhatsApp send, in the error shape of the API it was sent to, so that
/// the provider's own SDKs surface it: Graph's for the Cloud API and for providers that pass
/// the Cloud API through (360dialog), Twilio's REST error for Twilio.
pub fn blocked_reply(decision: &Decision, request_id: &str) -> LocalReply {
    match decision.provider {
        Provider::Twilio => twilio_error(decision, request_id),
        Provider::Vonage => vonage_error(decision, request_id),
        Provider::Infobip => infobip_error(decision, request_id),
        Provider::CloudApi | Provider::Dialog360 => graph_error(decision, request_id),
        other => json_403(
            decision,
            &crate::whatsapp::providers::blocked_body(
                other,
                &crate::whatsapp::providers::error_shape::Blocked {
                    explanation: &explanation(decision),
                    rule: &decision.rule,
                    reason: decision.reason.as_str(),
                    subcode: decision.reason.error_subcode(),
                    request_id,
                },
            ),
        ),
    }
}

/// Twilio's REST error shape (`code`, `message`, `more_info`, `status`), as its SDKs parse it
/// into an exception; `details` carries the guard's rule, reason and stable subcode.
fn twilio_error(decision: &Decision, request_id: &str) -> LocalReply {
    let message = explanation(decision);
    let body = json!({
        "code": TWILIO_FORBIDDEN_CODE,
        "message": message,
        "more_info": format!("https://www.twilio.com/docs/errors/{TWILIO_FORBIDDEN_CODE}"),
        "status": 403,
        "details": {
            "wa_guard_rule": decision.rule,
            "wa_guard_reason": decision.reason.as_str(),
            "error_subcode": decision.reason.error_subcode(),
            "request_id": request_id,
        },
    });
    json_403(decision, &body)
}

/// Vonage's error shape (RFC 7807 problem details: `type`, `title`, `detail`, `instance`), as
/// its SDKs parse it; the guard's rule, reason and subcode are extension members.
fn vonage_error(decision: &Decision, request_id: &str) -> LocalReply {
    let detail = explanation(decision);
    let body = json!({
        "type": "https://developer.vonage.com/api-errors#forbidden",
        "title": "Forbidden",
        "detail": detail,
        "instance": request_id,
        "wa_guard_rule": decision.rule,
        "wa_guard_reason": decision.reason.as_str(),
        "error_subcode": decision.reason.error_subcode(),
    });
    json_403(decision, &body)
}

/// Infobip's error shape (`requestError.serviceException` with `messageId` and `text`), as its
/// SDKs parse it; the guard's rule, reason and subcode sit next to them.
fn infobip_error(decision: &Decision, request_id: &str) -> LocalReply {
    let text = explanation(decision);
    let body = json!({"requestError": {"serviceException": {
        "messageId": "FORBIDDEN",
        "text": text,
        "wa_guard_rule": decision.rule,
        "wa_guard_reason": decision.reason.as_str(),
        "error_subcode": decision.reason.error_subcode(),
        "request_id": request_id,
    }}});
    json_403(decision, &body)
}

/// What every blocked reply says, in the message field of the API's own error shape.
fn explanation(decision: &Decision) -> String {
    format!(
        "Blocked by the egress policy: rule `{}`, reason `{}`. General-purpose AI assistants may not use the WhatsApp Business Platform.",
        decision.rule,
        decision.reason.as_str()
    )
}

/// A 403 with a JSON body and the decision headers.
fn json_403(decision: &Decision, body: &serde_json::Value) -> LocalReply {
    LocalReply {
        status: 403,
        headers: vec![
            ("content-type".into(), "application/json".into()),
            (DECISION_HEADER.into(), decision.verdict.as_str().into()),
            (RULE_HEADER.into(), decision.rule.clone()),
        ],
        body: body.to_string().into_bytes(),
    }
}

/// Twilio's error code for a forbidden request (HTTP 403).
const TWILIO_FORBIDDEN_CODE: u32 = 20403;

/// Headers added to the response of a request that went through.
pub fn response_headers(decision: &Decision) -> Vec<(&'static str, String)> {
    vec![
        (DECISION_HEADER, decision.verdict.as_str().to_owned()),
        (RULE_HEADER, decision.rule.clone()),
    ]
}

/// The counter name with its labels in the dotted form the bootstrap's tag regexes extract.
pub fn metric_name(decision: &Decision) -> String {
    format!(
        "{DECISIONS_METRIC}.decision.{}.rule.{}.reason.{}.role.{}.provider.{}",
        decision.verdict.as_str(),
        decision.rule,
        decision.reason.as_str(),
        decision.role.as_str(),
        decision.provider.as_str()
    )
}

/// Whether the decision gets a log line.
pub fn should_log(decision: &Decision, log_allowed: bool) -> bool {
    decision.verdict != Verdict::Allow || log_allowed
}

/// One JSON object per decision, without content.
pub fn log_line(decision: &Decision, request_id: &str, salt: &str, policy: &str) -> String {
    json!({
        "event": "wa_egress_guard.decision",
        "request_id": request_id,
        "policy": policy,
        "decision": decision.verdict.as_str(),
        "rule": decision.rule,
        "reason": decision.reason.as_str(),
        "role": decision.role.as_str(),
        "score": decision.score.map(|s| (s * 100.0).round() / 100.0),
        "signals": decision.signals,
        "identity": decision.identity.as_ref().map(|i| i.value.as_str()),
        "identity_source": decision.identity.as_ref().map(|i| i.source.as_str()),
        "provider": decision.provider.as_str(),
        "endpoint": decision.edge,
        "phone_number_id": decision.path_id,
        "message_type": decision.message_type,
        // Without a salt, a hash of a phone number is reversed by hashing candidate numbers:
        // it is left out rather than logged brute-forceable.
        "recipient_hash": decision
            .recipient
            .as_deref()
            .filter(|_| !salt.is_empty())
            .map(|r| recipient_hash(r, salt)),
    })
    .to_string()
}

// The classifier's model version is named with it too (`classify/model.rs`).
pub use crate::policy::short_hash;

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
    h.finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The 403 for a refused training upload, in the OpenAI-style error shape most vendor SDKs parse.
pub fn training_error(code: &str, endpoint: &str) -> LocalReply {
    let message = match code {
        "all_records_whatsapp" => "Every record of this upload is derived from WhatsApp conversations; WhatsApp Business data may not be used to train AI models.".to_owned(),
        "whatsapp_records_in_part" => "wa-egress-guard: this part of the upload holds WhatsApp-derived records, and WhatsApp Business data may not be used to train AI models. A part cannot be stripped without breaking the size declared when the Upload was created, so the part is refused: remove those records from the file before uploading it.".to_owned(),
        "upload_parts_out_of_order" => "wa-egress-guard: `part_ids` must list exactly the parts that went through this proxy, in the order they were uploaded; the records that cross parts were judged in that order.".to_owned(),
        "upload_parts_not_seen" => "wa-egress-guard: the parts of this upload did not go through this proxy (or its record of them expired), so the file was not inspected. Upload every part through the same egress proxy.".to_owned(),
        "upload_parts_concurrent" => "wa-egress-guard: parts of this upload were sent concurrently, so the records that cross parts could not be joined in order. Upload the parts one after the other.".to_owned(),
        other => format!("The upload could not be inspected for WhatsApp-derived data (`{other}`), and the egress policy refuses uninspectable uploads."),
    };
    let body = json!({"error": {"message": message, "type": "wa_egress_guard", "code": code, "param": null}});
    LocalReply {
        status: 403,
        headers: vec![
            ("content-type".into(), "application/json".into()),
            (DECISION_HEADER.into(), "block".into()),
            (RULE_HEADER.into(), endpoint.to_owned()),
        ],
        body: body.to_string().into_bytes(),
    }
}

/// Response headers of an upload that went through.
pub fn training_response_headers(t: &TrainingOutcome) -> Vec<(&'static str, String)> {
    if t.verdict == TrainingVerdict::Blocked {
        return Vec::new();
    }
    vec![
        (DECISION_HEADER, t.verdict.as_str().to_owned()),
        (RULE_HEADER, t.endpoint.clone()),
        (STRIPPED_HEADER, t.stats.records_stripped.to_string()),
    ]
}

/// Counter increments for one upload: `(metric name, amount)`.
pub fn training_metrics(t: &TrainingOutcome) -> Vec<(String, u64)> {
    let e = &t.endpoint;
    vec![
        (
            format!(
                "wa_guard_training_uploads_total.endpoint.{e}.outcome.{}",
                t.verdict.as_str()
            ),
            1,
        ),
        (
            format!("wa_guard_training_records_total.endpoint.{e}.result.seen"),
            t.stats.records_seen,
        ),
        (
            format!("wa_guard_training_records_total.endpoint.{e}.result.stripped"),
            t.stats.records_stripped,
        ),
        (
            format!("wa_guard_training_bytes_total.endpoint.{e}.direction.in"),
            t.bytes_in,
        ),
        (
            format!("wa_guard_training_bytes_total.endpoint.{e}.direction.out"),
            t.bytes_out,
        ),
    ]
}

/// One JSON log line per upload, with counts and no content.
pub fn training_log_line(t: &TrainingOutcome, request_id: &str, policy: &str) -> String {
    json!({
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
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::{Reason, RoleLabel};
    use crate::whatsapp::Endpoint;
    use serde_json::Value;

    fn decision(message_type: &str) -> Decision {
        Decision {
            verdict: Verdict::Block,
            rule: "content_classifier".into(),
            reason: Reason::GeneralAssistantContent,
            role: RoleLabel::Unknown,
            score: Some(0.91),
            signals: vec!["md_bold=+0.40".into()],
            identity: None,
            endpoint: Endpoint::Messages,
            edge: "messages".into(),
            path_id: Some("106540352240000".into()),
            message_type: Some(message_type.into()),
            recipient: Some("+1 650 555 0123".into()),
            provider: Provider::CloudApi,
        }
    }

    #[test]
    fn recipient_hash_needs_a_salt() {
        let with: Value =
            serde_json::from_str(&log_line(&decision("text"), "r1", "s3cret", "p")).unwrap();
        let hash = with["recipient_hash"].as_str().unwrap();
        assert_eq!(hash, recipient_hash("16505550123", "s3cret"));
        assert!(!with.to_string().contains("6505550123"));
        let without: Value =
            serde_json::from_str(&log_line(&decision("text"), "r1", "", "p")).unwrap();
        assert!(without["recipient_hash"].is_null(), "{without}");
    }

    #[test]
    fn a_twilio_block_answers_in_twilio_s_error_shape() {
        let mut d = decision("text");
        d.provider = Provider::Twilio;
        let reply = blocked_reply(&d, "r1");
        assert_eq!(reply.status, 403);
        let body: Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(body["code"], 20403);
        assert_eq!(body["status"], 403);
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("content_classifier")
        );
        assert!(body["more_info"].as_str().unwrap().starts_with("https://"));
        assert_eq!(body["details"]["error_subcode"], 4390006);
        d.provider = Provider::Dialog360;
        let body: Value = serde_json::from_slice(&blocked_reply(&d, "r1").body).unwrap();
        assert_eq!(body["error"]["code"], 10);
        d.provider = Provider::Vonage;
        let body: Value = serde_json::from_slice(&blocked_reply(&d, "r1").body).unwrap();
        assert_eq!(
            (body["title"].as_str(), body["instance"].as_str()),
            (Some("Forbidden"), Some("r1"))
        );
        assert_eq!(body["error_subcode"], 4390006);
        d.provider = Provider::Infobip;
        let body: Value = serde_json::from_slice(&blocked_reply(&d, "r1").body).unwrap();
        let e = &body["requestError"]["serviceException"];
        assert_eq!(
            (e["messageId"].as_str(), e["request_id"].as_str()),
            (Some("FORBIDDEN"), Some("r1"))
        );
    }
}
