//! Metrics and logs the filter emits, against the real module.

use host_tests::LogLevel;

use crate::support::*;

fn send(filter: &mut host_tests::Filter, identity: &str, text: &str) -> host_tests::Outcome {
    filter
        .request()
        .method("POST")
        .authority("graph.facebook.com")
        .path(&format!("/v21.0/{SUPPORT_NUMBER}/messages"))
        .header("content-type", "application/json")
        .property("connection.uri_san_peer_certificate", identity)
        .body(text_message(text))
        .send()
        .unwrap()
}

#[test]
fn every_decision_increments_its_labelled_counter() {
    let mut filter = demo_filter();
    let allow = "wa_guard_decisions_total.decision.allow.rule.support-bots.reason.allowed.role.customer_service.provider.cloud_api";
    let block = "wa_guard_decisions_total.decision.block.rule.assistant-lab.reason.general_assistant_origin.role.general_assistant.provider.cloud_api";
    for _ in 0..3 {
        let outcome = send(&mut filter, SUPPORT_BOT, "Your order has shipped.");
        assert_eq!(outcome.counter_delta(allow), 1);
    }
    let outcome = send(&mut filter, LAB_BOT, "Hi");
    assert_eq!(outcome.counter_delta(block), 1);
    assert_eq!(filter.metric(allow), Some(3));
    assert_eq!(filter.metric(block), Some(1));
    assert_eq!(outcome.metrics.get(allow), Some(&3));
    let total: u64 = filter
        .metrics()
        .with_prefix("wa_guard_decisions_total.")
        .map(|(_, v)| v)
        .sum();
    assert_eq!(total, 4);
}

#[test]
fn a_block_logs_one_structured_line_without_content() {
    let mut filter = demo_filter();
    let secret_text = "Please remind me about the cake recipe";
    let outcome = send(&mut filter, LAB_BOT, secret_text);
    let lines: Vec<_> = outcome
        .logs_containing("wa-egress-guard decision ")
        .collect();
    assert_eq!(lines.len(), 1, "{:?}", outcome.logs);
    let line = lines[0];
    assert_eq!(line.level, LogLevel::Info);
    assert_eq!(line.context_id, outcome.context_id);
    let json: serde_json::Value = serde_json::from_str(
        line.message
            .strip_prefix("wa-egress-guard decision ")
            .unwrap(),
    )
    .unwrap();
    assert_eq!(json["decision"], "block");
    assert_eq!(json["rule"], "assistant-lab");
    assert_eq!(json["request_id"], outcome.request_id.as_str());
    for log in &outcome.logs {
        assert!(!log.message.contains("cake recipe"), "{}", log.message);
        assert!(!log.message.contains("15550001111"), "{}", log.message);
    }
}

#[test]
fn an_allowed_call_is_not_logged_by_default() {
    let mut filter = demo_filter();
    let outcome = send(&mut filter, SUPPORT_BOT, "Your order has shipped.");
    assert_eq!(
        outcome.logs_containing("wa-egress-guard decision").count(),
        0
    );
}
