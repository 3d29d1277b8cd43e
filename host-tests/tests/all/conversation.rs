//! Conversations through the real module, over one shared-data store that two VMs share (as
//! Envoy's worker threads of one `vm_id` do): the budget and the split answer across VMs, a
//! webhook on one VM resetting what the other reads, a compare-and-swap race injected between a
//! VM's read and its write (the other VM's whole send runs in between), a store that keeps
//! changing or refuses, and the bound of the state.

use std::sync::{Arc, Mutex};

use host_tests::state::shared::SharedDataHandle;
use host_tests::{Filter, HostOptions, Outcome, Verdict};
use serde_json::{Value, json};

use crate::support::*;

const NUMBER: &str = "106540352240000";
const HOOK_HOST: &str = "hooks.example.com";
const HOOK_PATH: &str = "/webhooks/whatsapp";
const SECRET: &str = "host-tests-app-secret";

/// The same texts as filter/tests/conversation.rs (each part alone scores under the threshold,
/// all three together over it).
const SPLIT_ANSWER: [&str; 3] = [
    "You earn interest not",
    "only on your original deposit but also on the interest already added, so the balance grows faster each year. For example,",
    "1000 at 5% becomes 1050 after one year and 1102.50 after two.",
];

/// policies/examples/conversation.json with the app secret inline, patched.
fn policy(patch: Value) -> Vec<u8> {
    let mut doc: Value =
        serde_json::from_slice(&policy_bytes("examples/conversation.json")).unwrap();
    wa_egress_guard::cases::merge_patch(
        &mut doc,
        &json!({"webhook": {"app_secrets": [SECRET], "app_secret_env": []},
                "log": {"recipient_hash_salt": "host-tests-conversation-3d9c"}}),
    );
    wa_egress_guard::cases::merge_patch(&mut doc, &patch);
    serde_json::to_vec(&doc).unwrap()
}

fn vm(policy: &[u8], store: Option<SharedDataHandle>) -> Filter {
    let options = HostOptions {
        shared_data: store,
        ..HostOptions::default()
    };
    Filter::start(module(), options)
        .unwrap()
        .configure(policy)
        .unwrap()
}

/// Two VMs (two workers) over one store.
fn two_vms(policy: &[u8]) -> (Filter, Filter) {
    let a = vm(policy, None);
    let b = vm(policy, Some(a.shared_store()));
    (a, b)
}

fn send(filter: &mut Filter, to: &str, text: &str) -> Outcome {
    let body =
        json!({"messaging_product": "whatsapp", "to": to, "type": "text", "text": {"body": text}});
    filter
        .request()
        .method("POST")
        .authority("graph.facebook.com")
        .path(&format!("/v21.0/{NUMBER}/messages"))
        .header("content-type", "application/json")
        .body(body.to_string().as_bytes())
        .send()
        .unwrap()
}

fn verdict(o: &Outcome) -> (String, Option<String>) {
    let v = Verdict::from_outcome(o);
    (v.decision, v.rule)
}

fn allowed(o: &Outcome) -> bool {
    verdict(o).0 == "allow" && o.reached_upstream()
}

fn refused_by(o: &Outcome, rule: &str) -> bool {
    verdict(o) == ("block".to_owned(), Some(rule.to_owned())) && !o.reached_upstream()
}

/// A delivery of one message from `from`, written now by `filter`'s clock.
fn delivery(filter: &Filter, from: &str) -> Vec<u8> {
    let timestamp = (filter.now_nanos() / 1_000_000_000).to_string();
    json!({"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages",
        "value": {"metadata": {"phone_number_id": NUMBER},
                  "messages": [{"from": from, "timestamp": timestamp, "type": "text",
                                "text": {"body": "ok"}}]}}]}]})
    .to_string()
    .into_bytes()
}

fn deliver(filter: &mut Filter, body: &[u8], secret: &str) -> Outcome {
    let mac = wa_egress_guard::digest::hmac_sha256(secret.as_bytes(), body);
    let signature: String = mac.iter().map(|b| format!("{b:02x}")).collect();
    filter
        .request()
        .method("POST")
        .authority(HOOK_HOST)
        .path(HOOK_PATH)
        .header("content-type", "application/json")
        .header("x-hub-signature-256", format!("sha256={signature}"))
        .body(body)
        .send()
        .unwrap()
}

#[test]
fn two_vms_share_one_budget_and_a_webhook_on_either_resets_it() {
    let (mut a, mut b) = two_vms(&policy(json!({})));
    let to = "+34 612 000 111";
    assert!(allowed(&send(&mut a, to, "Your order shipped.")));
    assert!(allowed(&send(&mut b, to, "It arrives on Thursday.")));
    assert!(allowed(&send(&mut a, to, "Track it in the app.")));
    // The fourth, on either VM, is over the budget both VMs count.
    assert!(refused_by(
        &send(&mut b, to, "Anything else?"),
        "unanswered_budget"
    ));
    assert!(refused_by(
        &send(&mut a, to, "Anything else?"),
        "unanswered_budget"
    ));
    // A forged delivery on B is refused and resets nothing.
    let body = delivery(&b, "34612000111");
    let forged = deliver(&mut b, &body, "a guess");
    assert_eq!(forged.response.as_ref().map(|r| r.status), Some(401));
    assert!(refused_by(&send(&mut a, to, "Hello?"), "unanswered_budget"));
    // A signed one on B resets what A reads.
    let signed = deliver(&mut b, &body, SECRET);
    assert!(signed.reached_upstream(), "{signed:?}");
    assert_eq!(
        b.metric("wa_guard_conversation_inbound_total.result.recorded"),
        Some(1)
    );
    // Two seconds later, three sends use the budget up again; the same signed delivery,
    // replayed, is older than them and resets nothing.
    for vm in [&mut a, &mut b] {
        vm.advance_time(std::time::Duration::from_secs(2)).unwrap();
    }
    assert!(allowed(&send(&mut a, to, "Thanks for writing back.")));
    assert!(allowed(&send(&mut b, to, "Your refund is on its way.")));
    assert!(allowed(&send(&mut a, to, "It takes three days.")));
    let replayed = deliver(&mut b, &body, SECRET);
    assert!(replayed.reached_upstream(), "{replayed:?}");
    assert_eq!(
        b.metric("wa_guard_conversation_inbound_total.result.replayed"),
        Some(1)
    );
    assert!(refused_by(&send(&mut a, to, "Hello?"), "unanswered_budget"));
}

#[test]
fn a_split_answer_across_two_vms_is_refused_on_its_last_part() {
    let (mut a, mut b) = two_vms(&policy(json!({})));
    let to = "34612000222";
    assert!(allowed(&send(&mut a, to, SPLIT_ANSWER[0])));
    assert!(allowed(&send(&mut b, to, SPLIT_ANSWER[1])));
    assert!(refused_by(
        &send(&mut a, to, SPLIT_ANSWER[2]),
        "conversation_classifier"
    ));
    // Each part on its own VM with its own store: nothing joined, nothing refused.
    for part in SPLIT_ANSWER {
        let mut alone = vm(&policy(json!({})), None);
        assert!(allowed(&send(&mut alone, to, part)), "{part}");
    }
}

/// Another VM's whole send runs between this VM's read of the conversation and its write: the
/// write meets a changed value, the send is decided again from a fresh read, and the cap holds.
#[test]
fn a_send_racing_another_vm_between_read_and_write_is_decided_again() {
    let (mut a, b) = two_vms(&policy(json!({})));
    let to = "34612000333";
    assert!(allowed(&send(&mut a, to, "Your order shipped.")));
    assert!(allowed(&send(&mut a, to, "It arrives on Thursday.")));
    let b = Arc::new(Mutex::new(b));
    let b_outcome: Arc<Mutex<Option<Outcome>>> = Arc::default();
    let (vm_b, out) = (Arc::clone(&b), Arc::clone(&b_outcome));
    a.shared_store().after_next_get(
        wa_egress_guard::conversation::KEY_PREFIX,
        Box::new(move || {
            let mut b = vm_b.lock().unwrap();
            *out.lock().unwrap() = Some(send(&mut b, to, "Track it in the app."));
        }),
    );
    let raced = send(&mut a, to, "Anything else?");
    let b_sent = b_outcome
        .lock()
        .unwrap()
        .take()
        .expect("B's send ran inside A's read");
    // B took the last place under the cap; A read 2, met B's write, read 3 and refused.
    assert!(allowed(&b_sent), "{b_sent:?}");
    assert!(refused_by(&raced, "unanswered_budget"), "{raced:?}");
    assert_eq!(
        a.metric("wa_guard_conversation_state_total.result.cas_retry"),
        Some(1)
    );
    // The count is 3: B's send counted, A's refused one not.
    let mut b = b.lock().unwrap();
    assert!(refused_by(&send(&mut b, to, "Hello?"), "unanswered_budget"));
    let body = delivery(&b, "34612000333");
    let signed = deliver(&mut b, &body, SECRET);
    assert!(signed.reached_upstream());
    assert!(allowed(&send(&mut a, to, "Back again.")));
}

/// Every read meets a write of another worker before this worker writes: after three
/// attempts the send follows `on_store_error`.
#[test]
fn a_conversation_that_keeps_changing_fails_closed_or_open_as_the_policy_says() {
    for (on_error, want) in [("block", "block"), ("allow", "allow")] {
        let mut a = vm(
            &policy(json!({"conversation": {"on_store_error": on_error}})),
            None,
        );
        let to = "34612000444";
        assert!(allowed(&send(&mut a, to, "Your order shipped.")));
        let store = a.shared_store();
        for _ in 0..wa_egress_guard::conversation::MAX_ATTEMPTS {
            let other = store.clone();
            store.after_next_get(
                wa_egress_guard::conversation::KEY_PREFIX,
                Box::new(move || {
                    for (key, _) in other.sizes() {
                        if let Some((value, _)) = other.get(key.as_bytes()) {
                            other.set(key.as_bytes(), &value, 0).unwrap();
                        }
                    }
                }),
            );
        }
        let o = send(&mut a, to, "It arrives on Thursday.");
        assert_eq!(verdict(&o).0, want, "{on_error}: {o:?}");
        if want == "block" {
            assert!(refused_by(&o, "conversation_state"));
        }
        assert_eq!(
            a.metric("wa_guard_conversation_state_total.result.cas_exhausted"),
            Some(1),
            "{on_error}"
        );
    }
}

#[test]
fn a_store_the_host_refuses_fails_closed_and_never_traps() {
    for hostcall in ["proxy_get_shared_data", "proxy_set_shared_data"] {
        let mut a = vm(&policy(json!({})), None);
        a.fail_hostcall(hostcall, 1);
        let o = send(&mut a, "34612000555", "Your order shipped.");
        assert!(refused_by(&o, "conversation_state"), "{hostcall}: {o:?}");
        assert_eq!(a.faults_injected(), 1, "{hostcall}");
        assert_eq!(
            a.metric("wa_guard_conversation_state_total.result.store_failed"),
            Some(1)
        );
        // The next send, with the host healthy again, is decided normally.
        assert!(allowed(&send(
            &mut a,
            "34612000555",
            "It arrives Thursday."
        )));
    }
}

/// The state never holds more than `slots` keys of at most the largest value, however many
/// recipients: conversations beyond `slots` × `entries_per_slot` are evicted.
#[test]
fn the_state_stays_within_its_bound_through_the_module() {
    let doc = policy(json!({"conversation": {"slots": 4, "entries_per_slot": 2,
        "scoring": {"max_texts": 2, "max_text_bytes": 64}}}));
    let compiled = wa_egress_guard::Policy::from_json(&doc).unwrap();
    let bound = compiled.conversation.as_ref().unwrap();
    let mut a = vm(&doc, None);
    let mut sent = 0u64;
    for i in 0..200 {
        let o = send(
            &mut a,
            &format!("3461200{i:04}"),
            "Your order ships today and arrives on Thursday. Track it in the app.",
        );
        sent += u64::from(allowed(&o));
    }
    let sizes = a.shared_store().sizes();
    let conversation: Vec<_> = sizes
        .iter()
        .filter(|(k, _)| k.starts_with(wa_egress_guard::conversation::KEY_PREFIX))
        .collect();
    assert!(conversation.len() <= 4, "{conversation:?}");
    let total: usize = conversation.iter().map(|(k, v)| k.len() + v).sum();
    assert!(
        total <= bound.max_bytes(),
        "{total} > {}",
        bound.max_bytes()
    );
    for (key, len) in &conversation {
        assert!(*len <= bound.max_value_bytes(), "{key}: {len}");
    }
    // A live count is never evicted: once a slot holds two live conversations, a send to a
    // third recipient of that slot is refused (`on_store_error: block`) as `slot_full`.
    assert!((1..=8).contains(&sent), "{sent}");
    assert_eq!(
        a.metric("wa_guard_conversation_state_total.result.slot_full"),
        Some(200 - sent)
    );
    assert_eq!(
        a.metric("wa_guard_conversation_state_total.result.evicted"),
        None
    );
    // The value holds hashes and texts, never a recipient's number.
    for (key, _) in &conversation {
        let (value, _) = a.shared_data(key).unwrap();
        assert!(!String::from_utf8_lossy(&value).contains("3461200"));
    }
}

/// A send with its fields in the query and no body is decided in the headers callback with the
/// host's shared data and clock: counted in its conversation, and refused over the budget.
#[test]
fn a_send_without_a_body_is_counted_through_the_module() {
    let mut a = vm(&policy(json!({})), None);
    let query_send = |filter: &mut Filter, body: &str| {
        filter
            .request()
            .method("POST")
            .authority("api.twilio.com")
            .path(&format!(
                "/2010-04-01/Accounts/AC3f2a9c0d8e7b6a5f4e3d2c1b0a9f8e7d/Messages.json?To=whatsapp%3A%2B34612000444&From=whatsapp%3A%2B14155550100&Body={}",
                body.replace(' ', "+")
            ))
            .send()
            .unwrap()
    };
    for text in [
        "Your order shipped.",
        "It arrives on Thursday.",
        "Track it in the app.",
    ] {
        let got = query_send(&mut a, text);
        assert!(allowed(&got), "{text}: {got:?}");
    }
    assert!(refused_by(
        &query_send(&mut a, "Your order shipped."),
        "unanswered_budget"
    ));
}
