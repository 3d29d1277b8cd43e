//! What a decision looks like outside: the Graph-shaped 403, response headers, the metric name
//! and the structured log line. None of them carries message text or a raw phone number.

use crate::decide::{Decision, HandoffNote, Reason, Verdict};
use crate::policy::document::LogSection;
use crate::training::upload::{TrainingOutcome, TrainingVerdict};
use crate::whatsapp::providers::Provider;
use serde_json::{Value, json};
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
    let why = match &decision.handoff {
        Some(HandoffNote::Unavailable { cause, reason }) => format!(
            " The rule hands such sends ({}) off to the policy's message, but this one cannot be rewritten ({}).",
            reason.as_str(),
            unavailable_text(cause, decision.message_type.as_deref())
        ),
        _ => String::new(),
    };
    let rule_text = match decision.reason {
        Reason::UnansweredBudget => {
            " The recipient has not written since the policy's limit of messages was sent to them; send again after they reply."
        }
        Reason::ConversationStateUnavailable => {
            " The proxy could not read or update the conversation's state, and the policy refuses sends it cannot count."
        }
        _ => " General-purpose AI assistants may not use the WhatsApp Business Platform.",
    };
    format!(
        "Blocked by the egress policy: rule `{}`, reason `{}`.{why}{rule_text}",
        decision.rule,
        decision.reason.as_str()
    )
}

/// Why a hand-off could not rewrite a send, in words.
fn unavailable_text(cause: &str, message_type: Option<&str>) -> String {
    match cause {
        "message_type" => format!(
            "a `{}` message has no compliant replacement",
            message_type.unwrap_or("other")
        ),
        "provider_format" => "a provider's own send format is not rewritten".into(),
        "body_format" => "only an uncompressed `application/json` body is rewritten".into(),
        "query_fields" => "the query string carries message fields".into(),
        "no_recipient" => {
            "the send names no recipient: `to` or `recipient` as a non-empty string".into()
        }
        "unwritable_body" => "the proxy would not take the rewritten body".into(),
        _ => "not a message send".into(),
    }
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
fn handoff_fields(note: Option<&HandoffNote>) -> Vec<(&'static str, String)> {
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
fn sample_value(sample: f64) -> Value {
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
fn logged_sender(decision: &Decision) -> Option<&str> {
    let id = decision.path_id.as_deref()?;
    match decision.provider {
        Provider::CloudApi => Some(id),
        _ if looks_like_phone_number(id) => None,
        _ => Some(id),
    }
}

/// Digits with the punctuation numbers are written with (`+`, blanks, `-`, `.`, brackets),
/// and enough digits to be a number rather than a short id.
fn looks_like_phone_number(s: &str) -> bool {
    let digits = s.bytes().filter(u8::is_ascii_digit).count();
    digits >= 5
        && s.bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b' ' | b'-' | b'.' | b'(' | b')'))
}

/// An RFC 3339 UTC time with milliseconds (`2026-12-07T03:51:22.123Z`) from nanoseconds since
/// the Unix epoch.
pub fn rfc3339_millis(nanos: u64) -> String {
    let millis = nanos / 1_000_000;
    let secs = millis / 1000;
    let (year, month, day) = civil_date(secs / 86_400);
    let of_day = secs % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60,
        millis % 1000
    )
}

/// The Gregorian (year, month, day) of a day count since 1970-01-01. Every 400 years hold
/// 146,097 days whatever year they start at, so whole cycles are skipped first and at most
/// 400 years and 12 months are walked.
fn civil_date(days: u64) -> (u64, u64, u64) {
    const CYCLE_DAYS: u64 = 146_097;
    let mut year = 1970 + 400 * (days / CYCLE_DAYS);
    let mut left = days % CYCLE_DAYS;
    loop {
        let length = if is_leap_year(year) { 366 } else { 365 };
        if left < length {
            break;
        }
        left -= length;
        year += 1;
    }
    let february = if is_leap_year(year) { 29 } else { 28 };
    let mut month = 1;
    for length in [31, february, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] {
        if left < length {
            break;
        }
        left -= length;
        month += 1;
    }
    (year, month, left + 1)
}

fn is_leap_year(year: u64) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::RoleLabel;
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
            template_name: None,
            template_category: None,
            provider: Provider::CloudApi,
            handoff: None,
            unanswered: None,
        }
    }

    fn line(d: &Decision, ctx: &LineContext<'_>) -> Value {
        serde_json::from_str(&decision_line(d, ctx)).unwrap()
    }

    const CTX: LineContext<'static> = LineContext {
        request_id: "r1",
        policy: "p",
        salt: "",
        sample: 1.0,
        now_nanos: None,
    };

    #[test]
    fn a_hand_off_is_logged_counted_and_marked_on_the_response() {
        let mut d = decision("text");
        d.verdict = Verdict::Handoff;
        d.handoff = Some(HandoffNote::Sent {
            language: "es".into(),
            format: "cta_url",
        });
        let l = line(&d, &CTX);
        assert_eq!(l["decision"], "handoff");
        assert_eq!(l["reason"], "general_assistant_content");
        assert_eq!(l["handoff_language"], "es");
        assert_eq!(l["handoff_format"], "cta_url");
        assert_eq!(log_sample(&d, &LogSection::default(), "r1"), Some(1.0));
        assert_eq!(
            metric_name(&d),
            "wa_guard_decisions_total.decision.handoff.rule.content_classifier.reason.general_assistant_content.role.unknown.provider.cloud_api"
        );
        assert_eq!(
            response_headers(&d),
            [
                (DECISION_HEADER, "handoff".to_owned()),
                (RULE_HEADER, "content_classifier".to_owned())
            ]
        );
    }

    #[test]
    fn a_hand_off_that_cannot_rewrite_is_a_403_that_says_why() {
        let mut d = decision("template");
        d.verdict = Verdict::Handoff;
        d.handoff_unavailable("message_type");
        assert_eq!(d.verdict, Verdict::Block);
        assert_eq!(d.reason, Reason::HandoffUnavailable);
        let reply = blocked_reply(&d, "r1");
        assert_eq!(reply.status, 403);
        let body: Value = serde_json::from_slice(&reply.body).unwrap();
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("reason `handoff_unavailable`")
                && message.contains("(general_assistant_content)")
                && message.contains("a `template` message has no compliant replacement"),
            "{message}"
        );
        assert_eq!(body["error"]["error_subcode"], 4_390_013);
        let l = line(&d, &CTX);
        assert_eq!(l["decision"], "block");
        assert_eq!(l["handoff_unavailable"], "message_type");
        assert_eq!(l["handoff_reason"], "general_assistant_content");
        d.provider = Provider::Twilio;
        let twilio: Value = serde_json::from_slice(&blocked_reply(&d, "r1").body).unwrap();
        assert_eq!(twilio["details"]["wa_guard_reason"], "handoff_unavailable");
    }

    #[test]
    fn timestamps_are_rfc_3339_utc_with_milliseconds() {
        let s = 1_000_000_000;
        for (nanos, want) in [
            (0, "1970-01-01T00:00:00.000Z"),
            (999_999, "1970-01-01T00:00:00.000Z"),
            (1_796_615_482 * s + 123_456_789, "2026-12-07T03:51:22.123Z"),
            (1_767_225_600 * s, "2026-01-01T00:00:00.000Z"),
            // Leap days: a year divisible by 4, by 400, and 2100 (by 100, not a leap year).
            (951_782_400 * s, "2000-02-29T00:00:00.000Z"),
            (1_709_164_800 * s + 1_000_000, "2024-02-29T00:00:00.001Z"),
            (1_709_251_199 * s + 999_000_000, "2024-02-29T23:59:59.999Z"),
            (4_107_542_400 * s, "2100-03-01T00:00:00.000Z"),
            (4_107_542_399 * s, "2100-02-28T23:59:59.000Z"),
            (1_703_980_800 * s, "2023-12-31T00:00:00.000Z"),
            // Past 32-bit seconds, and the end of the u64 nanosecond range.
            (2_147_483_647 * s, "2038-01-19T03:14:07.000Z"),
            (2_147_483_648 * s, "2038-01-19T03:14:08.000Z"),
            (u64::MAX, "2554-07-21T23:34:33.709Z"),
        ] {
            assert_eq!(rfc3339_millis(nanos), want, "{nanos}");
        }
    }

    #[test]
    fn score_buckets_are_tenths_with_one_in_the_last() {
        for (score, want) in [
            (0.0, Some("0.0-0.1")),
            (0.094, Some("0.0-0.1")),
            (0.099, Some("0.1-0.2")), // logged as 0.10
            (0.1, Some("0.1-0.2")),
            (0.7, Some("0.7-0.8")),
            (0.799, Some("0.8-0.9")), // logged as 0.80
            (0.91, Some("0.9-1.0")),
            (1.0, Some("0.9-1.0")),
            (f64::NAN, None),
        ] {
            assert_eq!(score_bucket(score).as_deref(), want, "{score}");
        }
        for hundredths in 0..=100u32 {
            let score = f64::from(hundredths) / 100.0;
            let bucket = score_bucket(score).unwrap();
            let low: f64 = bucket[..3].parse().unwrap();
            let high: f64 = bucket[4..].parse().unwrap();
            assert!(
                low <= score && (score < high || score == 1.0),
                "{score} in {bucket}"
            );
        }
    }

    #[test]
    fn sampling_is_deterministic_per_request_id() {
        let ids: Vec<String> = (0..10_000)
            .map(|i| format!("{i:08x}-4f1c-9b2e-request"))
            .collect();
        assert!(
            ids.iter().all(|id| sampled(id, "k", 1.0)),
            "rate 1 keeps every line"
        );
        let kept = ids.iter().filter(|id| sampled(id, "k", 0.25)).count();
        assert!(
            (2_350..=2_650).contains(&kept),
            "0.25 kept {kept} of 10,000"
        );
        let kept_small = ids.iter().filter(|id| sampled(id, "k", 0.01)).count();
        assert!((60..=140).contains(&kept_small), "0.01 kept {kept_small}");
        for id in ids.iter().take(500) {
            assert_eq!(sampled(id, "k", 0.25), sampled(id, "k", 0.25), "{id}");
            // A lower rate keeps a subset of a higher one's lines.
            assert!(!sampled(id, "k", 0.1) || sampled(id, "k", 0.25), "{id}");
        }
        // Another key (the deployment's salt) picks other ids: a caller that chooses its own
        // request ids cannot tell which are logged without the salt.
        let same = ids
            .iter()
            .filter(|id| sampled(id, "k", 0.25) == sampled(id, "other salt", 0.25))
            .count();
        assert!((5_700..=6_800).contains(&same), "{same} of 10,000 agree");
    }

    #[test]
    fn blocks_and_audits_are_always_logged_and_allowed_ones_sampled() {
        let mut log = LogSection::default();
        let mut d = decision("text");
        assert_eq!(log_sample(&d, &log, "r1"), Some(1.0));
        d.verdict = Verdict::Audit;
        log.allowed_sample_rate = 0.01;
        assert_eq!(log_sample(&d, &log, "r1"), Some(1.0));
        d.verdict = Verdict::Allow;
        assert_eq!(log_sample(&d, &log, "r1"), None, "log_allowed is off");
        log.log_allowed = true;
        let ids: Vec<String> = (0..1_000).map(|i| format!("req-{i}")).collect();
        let samples: Vec<Option<f64>> = ids.iter().map(|id| log_sample(&d, &log, id)).collect();
        assert!(samples.iter().all(|s| s.is_none() || *s == Some(0.01)));
        assert!((1..=30).contains(&samples.iter().flatten().count()));
        // No request id: logged, and counted as such.
        assert_eq!(log_sample(&d, &log, ""), Some(1.0));
        log.allowed_sample_rate = 1.0;
        assert!(ids.iter().all(|id| log_sample(&d, &log, id) == Some(1.0)));
    }

    #[test]
    fn a_line_carries_time_sample_template_and_score_bucket() {
        let mut d = decision("template");
        d.template_name = Some("order_update".into());
        let with_clock = LineContext {
            sample: 0.25,
            now_nanos: Some(1_796_615_482_123_000_000),
            ..CTX
        };
        let v = line(&d, &with_clock);
        assert_eq!(v["ts"], "2026-12-07T03:51:22.123Z");
        assert_eq!(v["sample"], 0.25);
        assert_eq!(v["template_name"], "order_update");
        assert_eq!(v["score_bucket"], "0.9-1.0");
        assert!(v.get("template_category").is_none(), "{v}");
        // Without a clock, no `ts`; every kept line says `sample: 1`; no score, no bucket.
        d.score = None;
        d.template_name = Some("Hello Anna, your order".into());
        d.template_category = Some("MARKETING".into());
        let v = line(&d, &CTX);
        assert!(
            v.get("ts").is_none() && v.get("score_bucket").is_none(),
            "{v}"
        );
        assert!(v.get("template_name").is_none(), "not a template name: {v}");
        assert_eq!(v["template_category"], "marketing");
        assert_eq!(decision_line(&d, &CTX).matches("\"sample\":1").count(), 1);
        let v = line(&decision("text"), &CTX);
        assert_eq!(v["score"], 0.91);
    }

    #[test]
    fn a_sender_that_is_a_phone_number_is_never_logged() {
        let logged = |provider: Provider, sender: &str| {
            let mut d = decision("text");
            d.provider = provider;
            d.path_id = Some(sender.into());
            let text = decision_line(&d, &CTX);
            let v: Value = serde_json::from_str(&text).unwrap();
            (v["phone_number_id"].as_str().map(str::to_owned), text)
        };
        for (provider, number) in [
            (Provider::Twilio, "+14155550100"),
            (Provider::Vonage, "14155550100"),
            (Provider::Infobip, "441134960000"),
            (Provider::Gupshup, "917834811114"),
            (Provider::Bird, "+3197010000000"),
            (Provider::Dialog360, "+49 151 1234-5678"),
        ] {
            let (id, text) = logged(provider, number);
            assert_eq!(id, None, "{provider:?}");
            assert!(!text.contains(number), "{text}");
        }
        for (provider, id) in [
            (Provider::CloudApi, "106540352240000"),
            (Provider::Twilio, "MG9752274e9e519418a7406176694466fa"),
            (Provider::Twilio, "is0123"),
            (Provider::Sinch, "01HQ7Z3X9K"),
            (Provider::Bird, "9c2e-77"),
            (Provider::AwsSocialMessaging, "phone-number-id-0a1b2c3d"),
            (Provider::Gupshup, "f1b2c3d4-0e5f-4a6b-8c7d-9e0f1a2b3c4d"),
        ] {
            assert_eq!(logged(provider, id).0.as_deref(), Some(id), "{provider:?}");
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
