//! What the decision and training log lines carry, through the real module: the host clock's
//! time (`ts`), the sampling of allowed decisions (`sample`, `log.allowed_sample_rate`), the
//! template's name and the score's bucket, and never a phone number.

use std::collections::BTreeSet;
use std::time::Duration;

use host_tests::{Filter, HostOptions, Outcome};
use serde_json::{Value, json};

use crate::support::*;

const DECISION: &str = "wa-egress-guard decision ";
const TRAINING: &str = "wa-egress-guard training ";

/// The decision lines of one request, parsed.
fn lines(outcome: &Outcome, marker: &str) -> Vec<Value> {
    outcome
        .logs_containing(marker)
        .map(|l| {
            let json = l.message.split_once(marker).unwrap().1;
            serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"))
        })
        .collect()
}

/// The demo policy with its `log` section replaced.
fn demo_with_log(log: Value) -> Filter {
    let mut policy: Value = serde_json::from_slice(&policy_bytes("examples/demo.json")).unwrap();
    policy["log"] = log;
    Filter::start(module(), HostOptions::default())
        .unwrap()
        .configure(serde_json::to_vec(&policy).unwrap())
        .unwrap()
}

fn send(filter: &mut Filter, identity: &str, request_id: &str, body: Vec<u8>) -> Outcome {
    filter
        .request()
        .method("POST")
        .authority("graph.facebook.com")
        .path(&format!("/v21.0/{SUPPORT_NUMBER}/messages"))
        .header("content-type", "application/json")
        .header("x-request-id", request_id)
        .property("connection.uri_san_peer_certificate", identity)
        .body(body)
        .send()
        .unwrap()
}

#[test]
fn a_line_carries_the_host_clock_as_rfc_3339_milliseconds() {
    let mut filter = demo_filter();
    // The host starts at 2026-01-01T00:00:00Z.
    let outcome = send(&mut filter, LAB_BOT, "r-1", text_message("Hi"));
    let [line] = lines(&outcome, DECISION).try_into().unwrap();
    assert_eq!(line["ts"], "2026-01-01T00:00:00.000Z");
    assert_eq!(line["sample"], 1);
    assert_eq!(line["decision"], "block");
    filter
        .advance_time(Duration::from_millis(86_400_000 + 1_234))
        .unwrap();
    let outcome = send(&mut filter, LAB_BOT, "r-2", text_message("Hi"));
    let [line] = lines(&outcome, DECISION).try_into().unwrap();
    assert_eq!(line["ts"], "2026-01-02T00:00:01.234Z");
}

#[test]
fn a_clock_the_host_cannot_read_leaves_the_line_without_ts() {
    let mut filter = demo_filter();
    filter.fail_hostcall("proxy_get_current_time_nanoseconds", 1);
    let outcome = send(&mut filter, LAB_BOT, "r-1", text_message("Hi"));
    assert_eq!(filter.faults_injected(), 1, "the clock was not read");
    assert!(outcome.blocked(), "{outcome:#?}");
    let [line] = lines(&outcome, DECISION).try_into().unwrap();
    assert!(line.get("ts").is_none(), "{line}");
    assert_eq!(
        (&line["decision"], &line["sample"]),
        (&json!("block"), &json!(1))
    );
    // The next request reads the clock again.
    let outcome = send(&mut filter, LAB_BOT, "r-2", text_message("Hi"));
    assert!(lines(&outcome, DECISION)[0]["ts"].is_string());
}

/// The ids whose allowed decisions were logged, and the `sample` of each line.
fn logged_ids(filter: &mut Filter, ids: &[String]) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut logged = BTreeSet::new();
    let mut samples = BTreeSet::new();
    for id in ids {
        let outcome = send(
            filter,
            SUPPORT_BOT,
            id,
            text_message("Your order has shipped."),
        );
        assert!(outcome.reached_upstream());
        for line in lines(&outcome, DECISION) {
            assert_eq!(line["decision"], "allow");
            assert_eq!(line["request_id"], id.as_str());
            logged.insert(id.clone());
            samples.insert(line["sample"].to_string());
        }
    }
    (logged, samples)
}

#[test]
fn allowed_decisions_are_sampled_by_request_id_and_blocks_never() {
    let ids: Vec<String> = (0..400)
        .map(|i| format!("5b0e{i:04x}-7c1d-4e2f-9a3b-{i:012x}"))
        .collect();
    let sampled =
        json!({"recipient_hash_salt": "s", "log_allowed": true, "allowed_sample_rate": 0.25});
    let mut filter = demo_with_log(sampled.clone());
    let (logged, samples) = logged_ids(&mut filter, &ids);
    assert!(
        (60..=140).contains(&logged.len()),
        "0.25 of 400 kept {}",
        logged.len()
    );
    assert_eq!(samples, BTreeSet::from(["0.25".to_owned()]));
    // The module's choice is the engine's, and a replay of the same ids keeps the same lines.
    let native: BTreeSet<String> = ids
        .iter()
        .filter(|id| wa_egress_guard::report::sampled(id, "s", 0.25))
        .cloned()
        .collect();
    assert_eq!(logged, native);
    let (again, _) = logged_ids(&mut demo_with_log(sampled), &ids);
    assert_eq!(again, logged);
    // Blocks are always logged, with sample 1.
    for id in ids.iter().take(20) {
        let outcome = send(&mut filter, LAB_BOT, id, text_message("Hi"));
        let [line] = lines(&outcome, DECISION).try_into().unwrap();
        assert_eq!(
            (&line["decision"], &line["sample"]),
            (&json!("block"), &json!(1))
        );
    }
    // Rate 1 (the default) keeps every allowed line.
    let mut filter = demo_with_log(json!({"recipient_hash_salt": "s", "log_allowed": true}));
    let (logged, samples) = logged_ids(&mut filter, &ids[..50]);
    assert_eq!(
        (logged.len(), samples),
        (50, BTreeSet::from(["1".to_owned()]))
    );
}

#[test]
fn a_template_send_logs_its_name_and_its_score_bucket() {
    let mut filter = demo_with_log(json!({"recipient_hash_salt": "s", "log_allowed": true}));
    let template = serde_json::to_vec(&json!({
        "messaging_product": "whatsapp",
        "to": "15550001111",
        "type": "template",
        "template": {"name": "delivery_window", "language": {"code": "en"},
            "components": [{"type": "body", "parameters": [{"type": "text", "text": "Tuesday, 9-11am"}]}]}
    }))
    .unwrap();
    // No identity, on a number no rule names: an unknown caller, whose content the demo
    // policy scores and allows under the threshold.
    let outcome = filter
        .request()
        .method("POST")
        .authority("graph.facebook.com")
        .path("/v21.0/109000000000001/messages")
        .header("content-type", "application/json")
        .body(template)
        .send()
        .unwrap();
    let [line] = lines(&outcome, DECISION).try_into().unwrap();
    assert_eq!(line["message_type"], "template");
    assert_eq!(line["template_name"], "delivery_window");
    assert!(line.get("template_category").is_none(), "{line}");
    let score = line["score"].as_f64().unwrap();
    let bucket = line["score_bucket"].as_str().unwrap();
    let tenth = ((score * 100.0).round() as u32 / 10).min(9);
    assert!(
        bucket.starts_with(&format!("0.{tenth}-")),
        "{score} in {bucket}"
    );
}

#[test]
fn a_provider_sender_that_is_a_phone_number_is_not_logged() {
    let mut filter = demo_filter();
    let body = "To=whatsapp%3A%2B4915112345678&From=whatsapp%3A%2B14155550100&Body=Sure%21+Here+is+a+haiku+about+autumn+leaves.";
    let outcome = filter
        .request()
        .method("POST")
        .authority("api.twilio.com")
        .path("/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json")
        .header("content-type", "application/x-www-form-urlencoded")
        .property("connection.uri_san_peer_certificate", LAB_BOT)
        .body(body)
        .send()
        .unwrap();
    assert!(outcome.blocked(), "{outcome:#?}");
    let [line] = lines(&outcome, DECISION).try_into().unwrap();
    assert_eq!(
        (&line["provider"], &line["decision"]),
        (&json!("twilio"), &json!("block"))
    );
    assert!(line["phone_number_id"].is_null(), "{line}");
    for log in &outcome.logs {
        assert!(!log.message.contains("4155550100"), "{}", log.message);
        assert!(!log.message.contains("15112345678"), "{}", log.message);
    }
}

#[test]
fn a_training_line_carries_ts_and_sample_one() {
    let mut filter = default_filter();
    filter.advance_time(Duration::from_secs(60)).unwrap();
    let record = "{\"messages\":[{\"role\":\"user\",\"content\":\"hola\"}],\"meta\":{\"message_id\":\"wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQz\"}}\n";
    let outcome = filter
        .request()
        .method("POST")
        .authority("api.openai.com")
        .path("/v1/files")
        .header("content-type", "application/jsonl")
        .body(record)
        .send()
        .unwrap();
    let [line] = lines(&outcome, TRAINING).try_into().unwrap();
    assert_eq!(line["ts"], "2026-01-01T00:01:00.000Z");
    assert_eq!(line["sample"], 1);
    assert_eq!(line["records_seen"], 1);
}
