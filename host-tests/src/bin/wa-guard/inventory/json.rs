//! The inventory as one JSON document, for other tools (the keys of the shared spec; the
//! end-to-end test reads them). Weighted counts are written as integers when they are whole.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::aggregate::{Inventory, Judgement, Sender, SenderKey};
use super::time;

/// How many signals each sender lists.
pub const TOP_SIGNALS: usize = 10;

/// A weighted count: `3` rather than `3.0` when whole; never `null` (a count that is not a
/// finite number, which bounded samples cannot make, is written as 0).
pub fn number(n: f64) -> Value {
    if !n.is_finite() {
        return json!(0);
    }
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        // Whole and well inside i64: the cast is exact.
        #[allow(clippy::cast_possible_truncation, reason = "whole and below 2^53")]
        return json!(n as i64);
    }
    json!((n * 1000.0).round() / 1000.0)
}

pub fn counts(map: &BTreeMap<String, f64>) -> Value {
    Value::Object(map.iter().map(|(k, n)| (k.clone(), number(*n))).collect())
}

fn sender(key: &SenderKey, s: &Sender) -> Value {
    let signals: Vec<Value> = s
        .top_signals(TOP_SIGNALS)
        .into_iter()
        .map(|(id, n)| json!([id, number(n)]))
        .collect();
    json!({
        "identity": key.0,
        "identity_source": if key.1.is_empty() { Value::Null } else { json!(key.1) },
        "role": s.role,
        "sends": number(s.sends),
        "phone_numbers": counts(&s.phone_numbers),
        "message_types": counts(&s.message_types),
        "decisions": counts(&s.decisions),
        "would_block": number(s.would_block),
        "rules": counts(&s.rules),
        "score_histogram": s.score_histogram.iter().map(|n| number(*n)).collect::<Vec<_>>(),
        "top_signals": signals,
        "templates": counts(&s.templates),
        "template_categories": counts(&s.template_categories),
        "providers": counts(&s.providers),
        "endpoints": counts(&s.endpoints),
    })
}

/// Identities, once each (a sender is keyed by identity and source; these lists name people).
fn sender_names(keys: Vec<&SenderKey>) -> Vec<Value> {
    let mut names: Vec<&String> = keys.into_iter().map(|(identity, _)| identity).collect();
    names.dedup();
    names.into_iter().map(|n| json!(n)).collect()
}

pub fn document(inv: &Inventory, j: &Judgement) -> Value {
    let l = &inv.lines;
    let senders: Vec<Value> = inv.senders.iter().map(|(k, s)| sender(k, s)).collect();
    let numbers: Vec<Value> = inv
        .phone_numbers
        .iter()
        .map(|((id, provider), n)| {
            json!({"phone_number_id": id, "provider": provider,
                   "senders": counts(&n.senders), "sends": number(n.sends)})
        })
        .collect();
    let timeline: Vec<Value> = inv
        .timeline()
        .into_iter()
        .map(|(start, t)| {
            json!({"bucket": time::format_seconds(start), "allow": number(t.allow),
                   "block": number(t.block), "audit": number(t.audit),
                   "handoff": number(t.handoff)})
        })
        .collect();
    let training: Vec<Value> = inv
        .training
        .iter()
        .map(|(endpoint, e)| {
            let detectors: Map<String, Value> = e
                .detectors
                .iter()
                .map(|(k, n)| (k.clone(), json!(n)))
                .collect();
            json!({"endpoint": endpoint, "uploads": number(e.uploads),
                   "records_seen": e.records_seen, "records_stripped": e.records_stripped,
                   "bytes_in": e.bytes_in, "bytes_out": e.bytes_out,
                   "detectors": detectors, "decisions": counts(&e.decisions)})
        })
        .collect();
    json!({
        "lines": {"read": l.read, "decisions": l.decisions, "training": l.training,
                  "skipped": l.skipped, "malformed": l.malformed, "duplicates": l.duplicates,
                  "malformed_reasons": inv.malformed_reasons},
        "policies": inv.policies,
        "period": {"first": inv.first.map(time::format_millis),
                   "last": inv.last.map(time::format_millis)},
        "threshold": j.threshold,
        "threshold_source": j.source.as_str(),
        "senders": senders,
        "phone_numbers": numbers,
        "would_block_by_rule": counts(&inv.would_block_by_rule),
        "timeline_bucket_seconds": inv.bucket_width() / 1000,
        "timeline": timeline,
        "undated_decisions": number(inv.undated),
        "training": training,
        "ready_to_enforce": {
            "ready": inv.ready(j),
            "undeclared_senders": sender_names(inv.undeclared()),
            "off_topic_service_senders": sender_names(inv.off_topic(j)),
        },
        "problems": inv.problems,
    })
}
