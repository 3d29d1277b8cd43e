//! The local replies of a refusal: the Graph-shaped 403 (or the provider's own error shape) for a
//! send, and the OpenAI-style 403 for a training upload.

use crate::decide::{Decision, HandoffNote, Reason};
use crate::local_reply::{DECISION_HEADER, LocalReply, RULE_HEADER};
use crate::whatsapp::providers::Provider;
use serde_json::json;

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
pub(super) fn twilio_error(decision: &Decision, request_id: &str) -> LocalReply {
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
pub(super) fn vonage_error(decision: &Decision, request_id: &str) -> LocalReply {
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
pub(super) fn infobip_error(decision: &Decision, request_id: &str) -> LocalReply {
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
pub(super) fn explanation(decision: &Decision) -> String {
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
            " The proxy could not read or update the conversation's state, or the send names several recipients, none, or no sender (send to one recipient per request), and the policy refuses sends it cannot count."
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
pub(super) fn unavailable_text(cause: &str, message_type: Option<&str>) -> String {
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
pub(super) fn json_403(decision: &Decision, body: &serde_json::Value) -> LocalReply {
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
pub(super) const TWILIO_FORBIDDEN_CODE: u32 = 20403;

/// The 403 for a refused training upload, in the OpenAI-style error shape most vendor SDKs parse.
pub fn training_error(code: &str, endpoint: &str) -> LocalReply {
    let message = match code {
        "all_records_whatsapp" => "Every record of this upload is derived from WhatsApp conversations; WhatsApp Business data may not be used to train AI models.".to_owned(),
        "whatsapp_records_in_part" => "wa-egress-guard: this part of the upload holds WhatsApp-derived records, and WhatsApp Business data may not be used to train AI models. A part cannot be stripped without breaking the size declared when the Upload was created, so the part is refused: remove those records from the file before uploading it.".to_owned(),
        "whatsapp_records_in_object" => "wa-egress-guard: this object holds WhatsApp-derived records and is written to a bucket that AI training jobs read; WhatsApp Business data may not be used to train AI models. An object is never stripped (its signature, checksums or declared length would break), so the upload is refused: remove those records from the file before uploading it.".to_owned(),
        "object_in_parts" => "wa-egress-guard: this request writes a piece of an object (a multipart part, a block, a resumable chunk) to a bucket that AI training jobs read; pieces cut at arbitrary bytes cannot be inspected, so the request is refused. Upload training data in one request (a single PUT or a multipart/related upload).".to_owned(),
        "object_copy" => "wa-egress-guard: this request copies data the proxy does not see into a bucket that AI training jobs read, so it cannot be inspected and is refused. Upload the object's bytes through the egress proxy instead.".to_owned(),
        "object_in_batch" => "wa-egress-guard: this GCS batch request embeds an object upload into a bucket that AI training jobs read; the bytes of an embedded upload are not inspected, so the batch is refused. Upload the object in a request of its own.".to_owned(),
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
