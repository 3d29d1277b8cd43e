//! A conversation over the shared store, request after request, as Envoy's workers share one
//! VM's shared data: text and template sends to a few recipients (spelled in several ways) from
//! no workload, the example's hand-off origin (its sends are rewritten) or another,
//! webhook deliveries read for their inbound messages (well formed with arbitrary text, or
//! arbitrary bytes), the clock moving on, and arbitrary bytes written into a slot between
//! requests (a corrupt or foreign value in the host's store). Two slots of two entries, so
//! that recipients share, evict and overwrite each other's slots. Every send must end in an
//! outcome, a hand-off forwards a valid message, and the store never holds more than the
//! policy's bound besides what the input wrote into it itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use std::sync::OnceLock;
use wa_egress_guard::cases::{CaseRequest, merge_patch, run_native_at};
use wa_egress_guard::conversation::{self, ConversationPolicy};
use wa_egress_guard::policy::Policy;
use wa_egress_guard::shared_store::{MemoryStore, SharedStore};
use wa_egress_guard_fuzz::Selectors;

const NUMBER: &str = "106540352240000";
const RECIPIENTS: &[&str] = &[
    "+34 612 345 678",
    "0034612345678",
    "34612345678",
    "447700900123",
    "+\u{663}\u{664}612",
    "",
];
const TEMPLATES: &[&str] = &["login_code", "order_update", "unknown_template"];
/// The caller's workload: none, the example's hand-off origin (its sends are rewritten), or
/// another.
const PEERS: &[&str] = &[
    "",
    "spiffe://cluster.local/ns/concierge/sa/bot",
    "spiffe://cluster.local/ns/shop/sa/support",
];
const SECOND: u64 = 1_000_000_000;
const START: u64 = 1_799_913_600 * SECOND;

fn policy() -> &'static Policy {
    static POLICY: OnceLock<Policy> = OnceLock::new();
    POLICY.get_or_init(|| {
        let mut doc: Value = match serde_json::from_slice(include_bytes!(
            "../../../policies/examples/conversation.json"
        )) {
            Ok(v) => v,
            Err(e) => panic!("the conversation example must be JSON: {e}"),
        };
        merge_patch(
            &mut doc,
            &json!({
                "log": {"recipient_hash_salt": "fuzz-conversation-9f2c"},
                "conversation": {"slots": 2, "entries_per_slot": 2}
            }),
        );
        match Policy::from_json(doc.to_string().as_bytes()) {
            Ok(p) => p,
            Err(e) => panic!("the fuzz conversation policy must compile: {e}"),
        }
    })
}

fn send(to: &str, peer: &str, message: Value) -> CaseRequest {
    let mut body = json!({"messaging_product": "whatsapp", "to": to});
    merge_patch(&mut body, &message);
    let properties = if peer.is_empty() {
        Default::default()
    } else {
        [(
            "connection.uri_san_peer_certificate".to_owned(),
            peer.to_owned(),
        )]
        .into()
    };
    CaseRequest {
        properties,
        method: "POST".into(),
        authority: "graph.facebook.com".into(),
        path: format!("/v21.0/{NUMBER}/messages"),
        headers: [("content-type".to_owned(), "application/json".to_owned())].into(),
        body: Some(body),
        ..CaseRequest::default()
    }
}

fn delivery(from: &str, timestamp: u64, text: &str) -> Vec<u8> {
    json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{
        "field": "messages",
        "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550001111", "phone_number_id": NUMBER},
            "messages": [{"from": from, "id": "wamid.fuzz", "timestamp": timestamp.to_string(),
                          "type": "text", "text": {"body": text}}]
        }
    }]}]})
    .to_string()
    .into_bytes()
}

fn inbound(store: &mut MemoryStore, cp: &ConversationPolicy, body: &[u8], now: u64) {
    let messages = conversation::inbound_messages(body);
    let report =
        conversation::record_inbound(store, cp, &policy().log.recipient_hash_salt, &messages, now);
    assert!(report.recorded + report.stale + report.replayed <= messages.len());
}

fuzz_target!(|data: &[u8]| {
    let policy = policy();
    let Some(cp) = policy.conversation.as_ref() else {
        panic!("the fuzz policy has a conversation section");
    };
    let mut s = Selectors::new(data);
    let steps = 1 + usize::from(s.byte() % 8);
    let plan: Vec<(u8, &str, u8)> = (0..steps)
        .map(|_| (s.byte(), s.pick(RECIPIENTS), s.byte()))
        .collect();
    let mut pieces = s.rest().split(|&b| b == 0xff);
    let mut store = MemoryStore::default();
    let mut now = START;
    let mut written_by_input = 0usize;
    for (kind, to, wait) in plan {
        // Up to about half an hour between steps: inside and past the scoring window.
        now = now.saturating_add(u64::from(wait).saturating_mul(7 * SECOND));
        let piece = pieces.next().unwrap_or_default();
        let text = String::from_utf8_lossy(piece);
        match kind % 6 {
            0 | 1 => {
                let peer = PEERS[usize::from(kind >> 3) % PEERS.len()];
                let request = send(to, peer, json!({"type": "text", "text": {"body": text}}));
                match run_native_at(policy, &request, &[], &mut store, now) {
                    Ok(observed) if observed.decision == "handoff" => {
                        // The rewrite replaces the send: what reaches Meta is a valid message.
                        let forwarded = observed.forwarded_body.unwrap_or_default();
                        let Ok(message) = serde_json::from_slice::<Value>(&forwarded) else {
                            panic!("a hand-off forwarded a body that is not JSON");
                        };
                        assert_eq!(message["messaging_product"], "whatsapp");
                    }
                    Ok(_) => {}
                    Err(e) => panic!("a send must always produce an outcome: {e}"),
                }
            }
            2 => {
                let name = TEMPLATES[usize::from(kind >> 4) % TEMPLATES.len()];
                let request = send(
                    to,
                    PEERS[usize::from(kind >> 3) % PEERS.len()],
                    json!({"type": "template", "template": {"name": name, "language": {"code": "en"}}}),
                );
                if let Err(e) = run_native_at(policy, &request, &[], &mut store, now) {
                    panic!("a send must always produce an outcome: {e}");
                }
            }
            3 => {
                let age = u64::from(kind >> 3) * 60;
                let from: String = to.chars().filter(char::is_ascii_digit).collect();
                let body = delivery(&from, (now / SECOND).saturating_sub(age), &text);
                inbound(&mut store, cp, &body, now);
            }
            4 => inbound(&mut store, cp, piece, now),
            _ => {
                let key = cp.slot_key(u32::from(kind >> 3) % 2);
                written_by_input = written_by_input.saturating_add(key.len() + piece.len());
                if store.set(&key, piece, None).is_err() {
                    panic!("an unconditional write to the memory store cannot fail");
                }
            }
        }
    }
    assert!(
        store.total_bytes() <= cp.max_bytes().saturating_add(written_by_input),
        "the store holds {} bytes, over the bound {} (+{} the input wrote)",
        store.total_bytes(),
        cp.max_bytes(),
        written_by_input
    );
});
