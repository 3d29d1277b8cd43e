//! The webhook ingress route through the real module: Meta's deliveries are held to their end,
//! verified over the exact bytes, then forwarded unchanged or refused with a 401.

use host_tests::{Chunking, Filter, HostOptions};

use crate::support::*;

const HOST: &str = "hooks.kettle-shop.example";
const PATH: &str = "/whatsapp/webhook";
const SECRET: &str = "kettle-shop-app-secret";
/// A delivery shaped like Meta's (our own text); `SIGNATURE` was made with Python's `hmac`.
const BODY: &str = r#"{"object":"whatsapp_business_account","entry":[{"id":"880011223344","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550001111","phone_number_id":"990011223344"},"messages":[{"from":"447700900123","id":"wamid.TESTONLY1","timestamp":"1765100000","type":"text","text":{"body":"Is the blue kettle back in stock?"}}]}}]}]}"#;
const SIGNATURE: &str = "sha256=7945fa2c7a5e5ba46d48b4de157891f466d61f7b9183cf1c46db43b208d798e6";

/// The shipped default policy with a webhook section.
fn policy_with(webhook: serde_json::Value) -> Vec<u8> {
    let mut policy: serde_json::Value =
        serde_json::from_slice(&policy_bytes("default.json")).unwrap();
    policy["webhook"] = webhook;
    serde_json::to_vec(&policy).unwrap()
}

fn webhook_filter(extra: serde_json::Value) -> Filter {
    let mut section = serde_json::json!({
        "hosts": [HOST],
        "path_prefixes": [PATH],
        "app_secrets": ["an-old-secret", SECRET],
    });
    for (k, v) in extra.as_object().unwrap() {
        section[k] = v.clone();
    }
    Filter::start(module(), HostOptions::default())
        .unwrap()
        .configure(policy_with(section))
        .unwrap()
}

fn delivery(
    filter: &mut Filter,
    signature: Option<&str>,
    body: &str,
    chunking: Chunking,
) -> host_tests::Outcome {
    let mut request = filter
        .request()
        .method("POST")
        .authority(HOST)
        .path(PATH)
        .header("content-type", "application/json")
        .body(body)
        .chunking(chunking);
    if let Some(signature) = signature {
        request = request.header("x-hub-signature-256", signature);
    }
    request.send().unwrap()
}

#[test]
fn a_signed_delivery_reaches_the_upstream_byte_for_byte_whatever_the_chunking() {
    for chunking in [
        Chunking::Whole,
        Chunking::Every(1),
        Chunking::Every(17),
        Chunking::SplitAt(vec![5, 200]),
    ] {
        let mut filter = webhook_filter(serde_json::json!({}));
        let outcome = delivery(&mut filter, Some(SIGNATURE), BODY, chunking.clone());
        assert!(outcome.reached_upstream(), "{chunking:?}: {outcome:#?}");
        assert_eq!(outcome.upstream.body, BODY.as_bytes(), "{chunking:?}");
        assert_eq!(
            outcome.counter_delta("wa_guard_webhooks_total.result.valid"),
            1
        );
        let line = outcome
            .logs_containing("wa-egress-guard webhook")
            .next()
            .unwrap();
        assert!(
            line.message.contains(r#""result":"valid""#),
            "{}",
            line.message
        );
    }
}

#[test]
fn a_forged_delivery_is_refused_with_a_401_and_never_reaches_the_upstream() {
    let forged = BODY.replace("blue kettle", "red kettle");
    for chunking in [Chunking::Whole, Chunking::Every(9)] {
        let mut filter = webhook_filter(serde_json::json!({}));
        let outcome = delivery(&mut filter, Some(SIGNATURE), &forged, chunking);
        let reply = outcome.local_response.as_ref().unwrap();
        assert_eq!(reply.status, 401);
        assert!(reply.body_text().contains("webhook_signature_invalid"));
        assert!(!outcome.reached_upstream());
        assert!(outcome.upstream.body.is_empty());
        assert_eq!(
            outcome.counter_delta("wa_guard_webhooks_total.result.invalid"),
            1
        );
        // The line says what was decided, never what was sent or signed.
        let line = outcome
            .logs_containing("wa-egress-guard webhook")
            .next()
            .unwrap();
        assert!(!line.message.contains("kettle") && !line.message.contains("7945fa"));
    }
}

#[test]
fn an_unsigned_delivery_is_refused_as_missing() {
    let mut filter = webhook_filter(serde_json::json!({}));
    let outcome = delivery(&mut filter, None, BODY, Chunking::Whole);
    assert_eq!(outcome.local_response.as_ref().map(|r| r.status), Some(401));
    assert_eq!(
        outcome.counter_delta("wa_guard_webhooks_total.result.missing"),
        1
    );
}

#[test]
fn a_body_over_the_limit_is_refused_before_or_while_it_arrives() {
    let mut filter = webhook_filter(serde_json::json!({"max_body_bytes": 100}));
    // Declared by content-length: refused at the headers.
    let outcome = delivery(&mut filter, Some(SIGNATURE), BODY, Chunking::Every(40));
    assert_eq!(outcome.local_response.as_ref().map(|r| r.status), Some(413));
    assert!(outcome.upstream.body.is_empty());
    assert_eq!(
        outcome.counter_delta("wa_guard_webhooks_total.result.too_large"),
        1
    );
    // Undeclared: refused once the buffer passes the limit.
    let outcome = filter
        .request()
        .method("POST")
        .authority(HOST)
        .path(PATH)
        .header("x-hub-signature-256", SIGNATURE)
        .body(BODY)
        .chunking(Chunking::Every(40))
        .without_content_length()
        .send()
        .unwrap();
    assert_eq!(outcome.local_response.as_ref().map(|r| r.status), Some(413));
    assert!(outcome.upstream.body.is_empty());
}

#[test]
fn audit_mode_forwards_a_forged_delivery_and_counts_it() {
    let mut filter = webhook_filter(serde_json::json!({"mode": "audit"}));
    let outcome = delivery(&mut filter, Some("sha256=00"), BODY, Chunking::Every(30));
    assert!(outcome.reached_upstream(), "{outcome:#?}");
    assert_eq!(outcome.upstream.body, BODY.as_bytes());
    assert_eq!(
        outcome.counter_delta("wa_guard_webhooks_total.result.invalid"),
        1
    );
    let line = outcome
        .logs_containing("wa-egress-guard webhook")
        .next()
        .unwrap();
    assert!(
        line.message.contains(r#""decision":"audit""#),
        "{}",
        line.message
    );
}

#[test]
fn the_verification_handshake_and_other_paths_pass_untouched() {
    let mut filter = webhook_filter(serde_json::json!({}));
    let outcome = filter
        .request()
        .method("GET")
        .authority(HOST)
        .path("/whatsapp/webhook?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=t")
        .send()
        .unwrap();
    assert!(outcome.reached_upstream(), "{outcome:#?}");
    assert!(
        outcome
            .logs_containing("wa-egress-guard webhook")
            .next()
            .is_none()
    );
    let outcome = filter
        .request()
        .method("POST")
        .authority(HOST)
        .path("/healthz")
        .body("{}")
        .send()
        .unwrap();
    assert!(outcome.reached_upstream(), "{outcome:#?}");
}

#[test]
fn a_delivery_ending_with_trailers_is_verified_there() {
    let mut filter = webhook_filter(serde_json::json!({}));
    let outcome = filter
        .request()
        .method("POST")
        .authority(HOST)
        .path(PATH)
        .header("x-hub-signature-256", SIGNATURE)
        .body(BODY.replace("blue", "grey"))
        .chunking(Chunking::Every(50))
        .trailer("x-extra", "1")
        .send()
        .unwrap();
    assert_eq!(
        outcome.local_response.as_ref().map(|r| r.status),
        Some(401),
        "{outcome:#?}"
    );
}

#[test]
fn a_secret_from_the_vm_environment_verifies_and_a_missing_one_refuses_the_policy() {
    let section = serde_json::json!({
        "hosts": [HOST],
        "path_prefixes": [PATH],
        "app_secret_env": ["WA_GUARD_APP_SECRET"],
    });
    let options = HostOptions {
        environment: vec![("WA_GUARD_APP_SECRET".into(), SECRET.into())],
        ..HostOptions::default()
    };
    let mut filter = Filter::start(module(), options)
        .unwrap()
        .configure(policy_with(section.clone()))
        .unwrap();
    let outcome = delivery(&mut filter, Some(SIGNATURE), BODY, Chunking::Every(64));
    assert!(outcome.reached_upstream(), "{outcome:#?}");
    let refused = Filter::start(module(), HostOptions::default())
        .unwrap()
        .configure(policy_with(section));
    assert!(refused.is_err());
}

#[test]
fn another_spelling_of_the_path_or_a_handshake_with_a_body_is_still_checked() {
    let mut filter = webhook_filter(serde_json::json!({}));
    let outcome = filter
        .request()
        .method("POST")
        .authority("Hooks.Kettle-Shop.Example:443")
        .path("/WhatsApp//%77ebhook")
        .body(BODY)
        .send()
        .unwrap();
    assert_eq!(outcome.local_response.as_ref().map(|r| r.status), Some(401));
    let outcome = filter
        .request()
        .method("GET")
        .authority(HOST)
        .path("/whatsapp/webhook?hub.mode=subscribe")
        .body(BODY)
        .send()
        .unwrap();
    assert_eq!(outcome.local_response.as_ref().map(|r| r.status), Some(401));
    assert!(outcome.upstream.body.is_empty());
}
