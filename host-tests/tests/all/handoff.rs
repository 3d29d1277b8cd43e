//! The `handoff` action through the real module (the demo policy's `concierge` origin): the
//! headers callback drops `content-length`, the body callback replaces the buffered send with
//! the policy's message, and the decision is labelled, logged and counted. A body the host
//! will not take is blocked, never forwarded as the assistant sent it.

use host_tests::{Chunking, Outcome};
use serde_json::{Value, json};

use crate::support::*;

const CONCIERGE: &str = "spiffe://cluster.local/ns/concierge/sa/chatbot";

/// A request id the caller chose (not a proxy's shape): the link carries its HMAC-SHA256 under
/// the demo's `log.recipient_hash_salt` (`demo-salt`), first 16 bytes in hex.
const CALLER_ID: &str = "req/42 a";
const CALLER_ID_HASH: &str = "18675340e2c40bf06c6de1da2281a862";

fn send(filter: &mut host_tests::Filter, body: &[u8], chunking: Chunking) -> Outcome {
    send_with(filter, body, chunking, &[])
}

fn send_with(
    filter: &mut host_tests::Filter,
    body: &[u8],
    chunking: Chunking,
    headers: &[(&str, &str)],
) -> Outcome {
    let mut request = filter
        .request()
        .method("POST")
        .authority("graph.facebook.com")
        .path("/v21.0/109876543210987/messages")
        .header("content-type", "application/json")
        .property("connection.uri_san_peer_certificate", CONCIERGE);
    if !headers.iter().any(|(name, _)| *name == "x-request-id") {
        request = request.header("x-request-id", CALLER_ID);
    }
    for (name, value) in headers {
        request = request.header(name, value);
    }
    request.body(body).chunking(chunking).send().unwrap()
}

fn answer(to: &str) -> Vec<u8> {
    serde_json::to_vec(
        &json!({"messaging_product": "whatsapp", "recipient_type": "individual",
        "to": to, "type": "text", "text": {"body": "Sure! Here is a poem about the sea."}}),
    )
    .unwrap()
}

#[test]
fn the_send_is_replaced_in_every_chunking_and_loses_its_content_length() {
    for chunking in [Chunking::Whole, Chunking::Every(7), Chunking::Every(1)] {
        let mut filter = demo_filter();
        let outcome = send(&mut filter, &answer("+34 612 345 678"), chunking.clone());
        assert!(outcome.reached_upstream(), "{outcome:#?}");
        assert!(outcome.upstream.complete);
        let headers = outcome.upstream.headers.as_ref().unwrap();
        assert_eq!(headers.get("content-length"), None, "{chunking:?}");
        let sent: Value = serde_json::from_slice(&outcome.upstream.body).unwrap();
        assert_eq!(
            sent,
            json!({"messaging_product": "whatsapp", "recipient_type": "individual",
                   "to": "+34 612 345 678", "type": "text",
                   "text": {"preview_url": true, "body": format!("Nuestro asistente general está ahora en nuestra app: https://app.example/assistant?ref={CALLER_ID_HASH}&lang=es . Este chat sigue abierto para pedidos y soporte.")}}),
            "{chunking:?}"
        );
        assert_eq!(
            outcome.response_header("x-wa-guard-decision"),
            Some("handoff")
        );
        assert_eq!(
            outcome.response_header("x-wa-guard-rule"),
            Some("concierge")
        );
        assert_eq!(
            filter.metric("wa_guard_decisions_total.decision.handoff.rule.concierge.reason.general_assistant_origin.role.general_assistant.provider.cloud_api"),
            Some(1)
        );
    }
}

#[test]
fn the_hand_off_is_logged_with_its_language_and_no_number() {
    let mut filter = demo_filter();
    let outcome = send(&mut filter, &answer("15550001111"), Chunking::Whole);
    let lines: Vec<Value> = outcome
        .logs
        .iter()
        .filter_map(|l| l.message.strip_prefix("wa-egress-guard decision "))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let [line] = lines.try_into().unwrap();
    assert_eq!(line["decision"], "handoff");
    assert_eq!(line["rule"], "concierge");
    assert_eq!(line["reason"], "general_assistant_origin");
    assert_eq!(line["handoff_language"], "en");
    assert_eq!(line["handoff_format"], "cta_url");
    assert!(!line.to_string().contains("15550001111"), "{line}");
    let sent: Value = serde_json::from_slice(&outcome.upstream.body).unwrap();
    assert_eq!(sent["interactive"]["type"], "cta_url");
    assert_eq!(
        sent["interactive"]["action"]["parameters"]["url"],
        format!("https://app.example/assistant?ref={CALLER_ID_HASH}&lang=en")
    );
}

#[test]
fn a_template_under_a_hand_off_rule_is_blocked_with_the_reason() {
    let mut filter = demo_filter();
    let template = serde_json::to_vec(
        &json!({"messaging_product": "whatsapp", "to": "15550001111",
        "type": "template", "template": {"name": "daily_answer", "language": {"code": "en_US"}}}),
    )
    .unwrap();
    let outcome = send(&mut filter, &template, Chunking::Whole);
    assert!(outcome.blocked(), "{outcome:#?}");
    assert!(outcome.upstream.body.is_empty());
    let reply = outcome.local_response.as_ref().unwrap();
    assert_eq!(reply.status, 403);
    let error: Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(error["error"]["error_subcode"], 4_390_013);
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("reason `handoff_unavailable`")
    );
}

#[test]
fn a_content_length_the_host_will_not_remove_blocks_the_hand_off() {
    let mut filter = demo_filter();
    filter.fail_hostcall("proxy_remove_header_map_value", 1);
    let outcome = send(&mut filter, &answer("15550001111"), Chunking::Whole);
    assert_eq!(filter.faults_injected(), 1);
    assert!(outcome.blocked(), "{outcome:#?}");
    assert!(outcome.upstream.body.is_empty(), "{outcome:#?}");
    let error: Value =
        serde_json::from_slice(&outcome.local_response.as_ref().unwrap().body).unwrap();
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("the proxy would not take the rewritten body"),
        "{error}"
    );
    // The next send is handed off as usual.
    let outcome = send(&mut filter, &answer("15550001111"), Chunking::Whole);
    assert_eq!(
        outcome.response_header("x-wa-guard-decision"),
        Some("handoff")
    );
}

#[test]
fn a_rewritten_body_the_host_refuses_is_blocked_not_forwarded() {
    let mut filter = demo_filter();
    filter.fail_hostcall("proxy_set_buffer_bytes", 1);
    let outcome = send(&mut filter, &answer("15550001111"), Chunking::Whole);
    assert_eq!(filter.faults_injected(), 1);
    assert!(outcome.blocked(), "{outcome:#?}");
    assert!(outcome.upstream.body.is_empty(), "{outcome:#?}");
    let reply = outcome.local_response.as_ref().unwrap();
    assert_eq!(reply.status, 403);
    let error: Value = serde_json::from_slice(&reply.body).unwrap();
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("the proxy would not take the rewritten body")
    );
    assert_eq!(
        filter.metric("wa_guard_decisions_total.decision.block.rule.concierge.reason.handoff_unavailable.role.general_assistant.provider.cloud_api"),
        Some(1)
    );
    assert_eq!(
        filter.metric("wa_guard_decisions_total.decision.handoff.rule.concierge.reason.general_assistant_origin.role.general_assistant.provider.cloud_api"),
        None
    );
}

/// `content-encoding: identity` (or empty) is no encoding: the send is rewritten, so it loses
/// its `content-length` too, and the upstream reads the new body whole.
#[test]
fn an_identity_encoded_send_loses_its_content_length_when_rewritten() {
    for encoding in ["identity", ""] {
        let mut filter = demo_filter();
        let body = answer("15550001111");
        let outcome = send_with(
            &mut filter,
            &body,
            Chunking::Whole,
            &[("content-encoding", encoding)],
        );
        assert_eq!(
            outcome.response_header("x-wa-guard-decision"),
            Some("handoff"),
            "{encoding:?}: {outcome:#?}"
        );
        let headers = outcome.upstream.headers.as_ref().unwrap();
        assert_eq!(headers.get("content-length"), None, "{encoding:?}");
        let sent: Value = serde_json::from_slice(&outcome.upstream.body).unwrap();
        assert_eq!(sent["interactive"]["type"], "cta_url", "{encoding:?}");
        assert_ne!(outcome.upstream.body, body);
    }
}

/// The caller's own request id never reaches the link as text; a UUID does, as it is.
#[test]
fn the_link_carries_a_caller_chosen_request_id_only_hashed() {
    let mut filter = demo_filter();
    let outcome = send(&mut filter, &answer("15550001111"), Chunking::Whole);
    let sent: Value = serde_json::from_slice(&outcome.upstream.body).unwrap();
    let url = sent["interactive"]["action"]["parameters"]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        url,
        format!("https://app.example/assistant?ref={CALLER_ID_HASH}&lang=en")
    );
    let uuid = "0f4e2c1a-9b7d-4e3f-8a21-6c5d4b3a2f10";
    let outcome = send_with(
        &mut filter,
        &answer("15550001111"),
        Chunking::Whole,
        &[("x-request-id", uuid)],
    );
    let sent: Value = serde_json::from_slice(&outcome.upstream.body).unwrap();
    assert_eq!(
        sent["interactive"]["action"]["parameters"]["url"],
        format!("https://app.example/assistant?ref={uuid}&lang=en")
    );
}
