//! A blocked send's 403 body in the error shape of the provider it was sent to, so that the
//! provider's own SDKs surface it: each carries the guard's explanation where the SDK reads its
//! message, and the guard's rule, reason, stable subcode and request id beside it.
//!
//! The Cloud API, 360dialog, Twilio, Vonage and Infobip shapes are built by `report`; the
//! providers added since are built here, and `report::blocked_reply` falls back to this for
//! every provider it does not name.

use super::Provider;
use serde_json::{Value, json};

/// What a blocked reply says: the explanation and the decision's identifiers.
#[derive(Debug, Clone, Copy)]
pub struct Blocked<'a> {
    pub explanation: &'a str,
    pub rule: &'a str,
    pub reason: &'a str,
    pub subcode: u32,
    pub request_id: &'a str,
}

/// The body of a blocked send to `provider`.
pub fn blocked_body(provider: Provider, b: &Blocked<'_>) -> Value {
    let guard = json!({
        "wa_guard_rule": b.rule,
        "wa_guard_reason": b.reason,
        "error_subcode": b.subcode,
        "request_id": b.request_id,
    });
    match provider {
        // Bird's API error (`code`, `message`), with the legacy MessageBird `errors` list its
        // older SDKs read (`code`, `description`).
        Provider::Bird => json!({
            "code": "Forbidden",
            "message": b.explanation,
            "errors": [{"code": 403, "description": b.explanation, "parameter": null}],
            "details": guard,
        }),
        // Gupshup's error (`status: error`, `message`).
        Provider::Gupshup => json!({
            "status": "error",
            "message": b.explanation,
            "details": guard,
        }),
        // Sinch's API error (Google's shape: `error.code`, `message`, `status`, `details`).
        Provider::Sinch => json!({"error": {
            "code": 403,
            "message": b.explanation,
            "status": "PERMISSION_DENIED",
            "details": [guard],
        }}),
        // AWS's JSON protocol error: the SDKs read the exception name from `__type`.
        Provider::AwsSocialMessaging => json!({
            "__type": "AccessDeniedException",
            "message": b.explanation,
            "details": guard,
        }),
        // Built by `report`; a Graph-shaped body if ever asked.
        Provider::CloudApi
        | Provider::Dialog360
        | Provider::Twilio
        | Provider::Vonage
        | Provider::Infobip => json!({"error": {
            "message": b.explanation,
            "type": "OAuthException",
            "code": 10,
            "error_subcode": b.subcode,
            "fbtrace_id": b.request_id,
        }}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_shape_carries_the_explanation_where_its_sdk_reads_it() {
        let b = Blocked {
            explanation: "Blocked by the egress policy",
            rule: "content_classifier",
            reason: "general_assistant_content",
            subcode: 4_390_006,
            request_id: "r1",
        };
        let bird = blocked_body(Provider::Bird, &b);
        assert_eq!(bird["message"], b.explanation);
        assert_eq!(bird["errors"][0]["description"], b.explanation);
        let gupshup = blocked_body(Provider::Gupshup, &b);
        assert_eq!(
            (gupshup["status"].as_str(), gupshup["message"].as_str()),
            (Some("error"), Some(b.explanation))
        );
        let sinch = blocked_body(Provider::Sinch, &b);
        assert_eq!(sinch["error"]["status"], "PERMISSION_DENIED");
        assert_eq!(
            sinch["error"]["details"][0]["wa_guard_rule"],
            "content_classifier"
        );
        let aws = blocked_body(Provider::AwsSocialMessaging, &b);
        assert_eq!(aws["__type"], "AccessDeniedException");
        assert_eq!(aws["details"]["request_id"], "r1");
    }
}
