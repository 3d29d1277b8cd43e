//! Conversations through the native engine, request after request over one shared store, as
//! Envoy's workers share one VM's shared data: the send that completes a split answer, the
//! unanswered budget and its reset by a verified webhook, and the failure mode.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test helpers outside #[test] functions"
)]

use serde_json::{Value, json};
use wa_egress_guard::cases::{CaseRequest, Observed, run_native_at};
use wa_egress_guard::conversation;
use wa_egress_guard::flow::StateAccess;
use wa_egress_guard::shared_store::{MemoryStore, SharedStore, StoreError};
use wa_egress_guard::{Policy, RequestFlow, RequestHead, StaticAttributes};

const SECOND: u64 = 1_000_000_000;
const T0: u64 = 1_799_913_600 * SECOND;
const NUMBER: &str = "106540352240000";

/// An answer a general assistant streams in three sends: each part alone scores under the
/// threshold, the first two together too, all three together over it.
pub const SPLIT_ANSWER: [&str; 3] = [
    "You earn interest not",
    "only on your original deposit but also on the interest already added, so the balance grows faster each year. For example,",
    "1000 at 5% becomes 1050 after one year and 1102.50 after two.",
];

/// Three service sends to one recipient: none, alone or together, reads as an assistant.
pub const SERVICE_SENDS: [&str; 3] = [
    "Your order 4821 has shipped and should arrive on Thursday.",
    "You can track the parcel with the link in your confirmation email.",
    "Reply to this chat if you need to change the delivery address.",
];

fn policy_with(patch: Value) -> Policy {
    let mut doc: Value = serde_json::from_slice(
        &std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../policies/examples/conversation.json"
        ))
        .unwrap(),
    )
    .unwrap();
    // The example's salt is a placeholder a deployment must replace.
    wa_egress_guard::cases::merge_patch(
        &mut doc,
        &json!({"log": {"recipient_hash_salt": "native-tests-conversation-5b1e"}}),
    );
    wa_egress_guard::cases::merge_patch(&mut doc, &patch);
    Policy::from_json(doc.to_string().as_bytes()).unwrap()
}

fn policy() -> Policy {
    policy_with(json!({}))
}

fn send(to: &str, message: Value) -> CaseRequest {
    let mut body = json!({"messaging_product": "whatsapp", "to": to});
    wa_egress_guard::cases::merge_patch(&mut body, &message);
    CaseRequest {
        method: "POST".into(),
        authority: "graph.facebook.com".into(),
        path: format!("/v21.0/{NUMBER}/messages"),
        headers: [("content-type".to_owned(), "application/json".to_owned())].into(),
        body: Some(body),
        ..CaseRequest::default()
    }
}

fn text(to: &str, body: &str) -> CaseRequest {
    send(to, json!({"type": "text", "text": {"body": body}}))
}

fn template(to: &str, name: &str) -> CaseRequest {
    send(
        to,
        json!({"type": "template", "template": {"name": name, "language": {"code": "en"}}}),
    )
}

fn run(p: &Policy, store: &mut MemoryStore, req: &CaseRequest, at: u64) -> Observed {
    run_native_at(p, req, &[], store, at).unwrap()
}

fn verdict(o: &Observed) -> (&str, Option<&str>) {
    (o.decision.as_str(), o.rule.as_deref())
}

#[test]
fn the_send_that_completes_a_split_answer_is_blocked() {
    let p = policy();
    let mut store = MemoryStore::default();
    let to = "+34 612 345 678";
    let got: Vec<Observed> = SPLIT_ANSWER
        .iter()
        .enumerate()
        .map(|(i, part)| run(&p, &mut store, &text(to, part), T0 + i as u64 * SECOND))
        .collect();
    assert_eq!(verdict(&got[0]).0, "allow");
    assert_eq!(verdict(&got[1]).0, "allow");
    assert_eq!(verdict(&got[2]), ("block", Some("conversation_classifier")));
    assert_eq!(
        got[2].reason.as_deref(),
        Some("general_assistant_conversation")
    );
    assert_eq!(got[2].status, 403);
    // The state keeps the texts sent, never the recipient's number (read as a text here, since
    // it is written with spaces).
    let cp = p.conversation.as_ref().unwrap();
    let key = conversation::conversation_key(cp, &p.log.recipient_hash_salt, NUMBER, to).unwrap();
    let kept = conversation::read(&store, &key, cp, T0 + 3 * SECOND)
        .unwrap()
        .entry;
    assert_eq!(kept.texts.len(), 2, "the blocked part is not kept");
    let (bytes, _) = store.get(&key.slot_key).unwrap();
    let value = String::from_utf8_lossy(&bytes);
    assert!(value.contains("You earn interest"), "{value}");
    assert!(!value.contains("612"), "{value}");
    // Each part alone, to a fresh conversation, is allowed: only the conversation blocks it.
    for part in SPLIT_ANSWER {
        let alone = run(&p, &mut MemoryStore::default(), &text(to, part), T0);
        assert_eq!(alone.decision, "allow", "{part}");
    }
    // The same parts to three different recipients: three conversations, nothing joined.
    let mut store = MemoryStore::default();
    for (i, part) in SPLIT_ANSWER.iter().enumerate() {
        let got = run(&p, &mut store, &text(&format!("3461234500{i}"), part), T0);
        assert_eq!(got.decision, "allow", "{part}");
    }
    // Without conversation scoring the third part goes through.
    let p = policy_with(json!({"conversation": {"scoring": null}}));
    let mut store = MemoryStore::default();
    for part in SPLIT_ANSWER {
        assert_eq!(run(&p, &mut store, &text(to, part), T0).decision, "allow");
    }
}

/// Runs `sends` to one recipient a second apart; returns the decisions.
fn conversation(p: &Policy, sends: &[String]) -> Vec<Observed> {
    let mut store = MemoryStore::default();
    sends
        .iter()
        .enumerate()
        .map(|(i, t)| {
            run(
                p,
                &mut store,
                &text("34612345678", t),
                T0 + i as u64 * SECOND,
            )
        })
        .collect()
}

#[test]
fn a_split_answer_diluted_by_service_sentences_or_sends_is_still_blocked() {
    let p = policy_with(json!({"conversation": {"unanswered_budget": {"max_unanswered": 10}}}));
    // A service sentence after each part (its own line, or after the part's last sentence).
    let padded = [
        format!("{}\n{}", SPLIT_ANSWER[0], SERVICE_SENDS[0]),
        format!("{}\n{}", SPLIT_ANSWER[1], SERVICE_SENDS[1]),
        format!("{} {}", SPLIT_ANSWER[2], SERVICE_SENDS[2]),
    ];
    // The reviewer's case: only the completing part carries one.
    let last_padded = [
        SPLIT_ANSWER[0].to_owned(),
        SPLIT_ANSWER[1].to_owned(),
        padded[2].clone(),
    ];
    // A harmless send between the parts.
    let between = [
        SPLIT_ANSWER[0].to_owned(),
        SERVICE_SENDS[0].to_owned(),
        SPLIT_ANSWER[1].to_owned(),
        SPLIT_ANSWER[2].to_owned(),
    ];
    for sends in [&padded[..], &last_padded[..], &between[..]] {
        let got = conversation(&p, sends);
        let (last, earlier) = got.split_last().unwrap();
        for (o, t) in earlier.iter().zip(sends) {
            assert_eq!(o.decision, "allow", "{t}");
        }
        assert_eq!(
            verdict(last),
            ("block", Some("conversation_classifier")),
            "{sends:?}"
        );
    }
    // Each padded part alone is allowed.
    for t in &padded {
        assert_eq!(
            conversation(&p, std::slice::from_ref(t))[0].decision,
            "allow",
            "{t}"
        );
    }
}

/// Short service sends a bot may slip between the parts of an answer: each leans away from an
/// assistant, and none is a full sentence of 8 words that a reduced candidate could leave out.
pub const FILLER_SENDS: [&str; 2] = ["Ok.", "Order 4821 ships Thursday."];

#[test]
fn a_split_answer_padded_with_a_short_service_send_per_part_is_blocked_on_the_completing_part() {
    let p = policy_with(json!({"conversation": {"unanswered_budget": {"max_unanswered": 10}}}));
    let sends = [
        SPLIT_ANSWER[0],
        FILLER_SENDS[0],
        SPLIT_ANSWER[1],
        FILLER_SENDS[1],
        SPLIT_ANSWER[2],
    ]
    .map(str::to_owned);
    let got = conversation(&p, &sends);
    let (last, earlier) = got.split_last().unwrap();
    for (o, t) in earlier.iter().zip(&sends) {
        assert_eq!(o.decision, "allow", "{t}");
    }
    assert_eq!(verdict(last), ("block", Some("conversation_classifier")));
    assert_eq!(
        last.reason.as_deref(),
        Some("general_assistant_conversation")
    );
    // The same filler between unrelated service sends leaves them allowed.
    let service = [
        SERVICE_SENDS[0],
        FILLER_SENDS[0],
        SERVICE_SENDS[1],
        FILLER_SENDS[1],
        SERVICE_SENDS[2],
    ]
    .map(str::to_owned);
    for (o, t) in conversation(&p, &service).iter().zip(&service) {
        assert_eq!(o.decision, "allow", "{t}");
    }
}

#[test]
fn a_split_answer_with_a_short_service_line_after_each_part_is_blocked_on_the_completing_part() {
    let p = policy_with(json!({"conversation": {"unanswered_budget": {"max_unanswered": 10}}}));
    let sends = [
        format!("{}\n{}", SPLIT_ANSWER[0], FILLER_SENDS[1]),
        format!("{}\n{}", SPLIT_ANSWER[1], FILLER_SENDS[0]),
        format!("{}\n{}", SPLIT_ANSWER[2], FILLER_SENDS[1]),
    ];
    let got = conversation(&p, &sends);
    assert_eq!(got[0].decision, "allow");
    assert_eq!(got[1].decision, "allow");
    assert_eq!(verdict(&got[2]), ("block", Some("conversation_classifier")));
    // The same lines after unrelated service sends leave them allowed.
    let service: Vec<String> = SERVICE_SENDS
        .iter()
        .zip([FILLER_SENDS[1], FILLER_SENDS[0], FILLER_SENDS[1]])
        .map(|(s, f)| format!("{s}\n{f}"))
        .collect();
    for (o, t) in conversation(&p, &service).iter().zip(&service) {
        assert_eq!(o.decision, "allow", "{t}");
    }
}

#[test]
fn predecessors_padded_with_long_filler_keep_their_part_of_the_answer() {
    let p = policy_with(json!({"conversation": {"unanswered_budget": {"max_unanswered": 10}}}));
    // About 1,600 bytes of service sentences after each of the first two parts.
    let filler = SERVICE_SENDS.join(" ").repeat(9);
    assert!(filler.len() > 1600);
    let sends = [
        format!("{}\n{filler}", SPLIT_ANSWER[0]),
        format!("{}\n{filler}", SPLIT_ANSWER[1]),
        SPLIT_ANSWER[2].to_owned(),
    ];
    let got = conversation(&p, &sends);
    assert_eq!(got[0].decision, "allow");
    assert_eq!(got[1].decision, "allow");
    assert_eq!(verdict(&got[2]), ("block", Some("conversation_classifier")));
}

#[test]
fn exempt_templates_between_the_parts_do_not_push_the_earlier_parts_out() {
    let p = policy_with(json!({"conversation": {"unanswered_budget": {"max_unanswered": 10}}}));
    let mut store = MemoryStore::default();
    let to = "34612345678";
    let login_code = |code: &str| {
        send(
            to,
            json!({"type": "template", "template": {"name": "login_code", "language": {"code": "en"},
                "components": [{"type": "body", "parameters": [{"type": "text", "text": code}]}]}}),
        )
    };
    let mut at = T0;
    let mut next = |req: &CaseRequest, store: &mut MemoryStore| {
        at += SECOND;
        run(&p, store, req, at)
    };
    assert_eq!(
        next(&text(to, SPLIT_ANSWER[0]), &mut store).decision,
        "allow"
    );
    assert_eq!(
        next(&text(to, SPLIT_ANSWER[1]), &mut store).decision,
        "allow"
    );
    // Four places are kept (the example's `max_texts`): three exempt templates cost the budget
    // nothing, and must not flush the two parts.
    for code in ["482913", "551207", "190384"] {
        assert_eq!(next(&login_code(code), &mut store).decision, "allow");
    }
    assert_eq!(
        verdict(&next(&text(to, SPLIT_ANSWER[2]), &mut store)),
        ("block", Some("conversation_classifier"))
    );
}

#[test]
fn a_flood_of_sends_to_other_recipients_never_evicts_a_live_count() {
    // Few slots, so that the flood fills the recipient's slot quickly.
    let p = policy_with(json!({"conversation": {"slots": 4, "entries_per_slot": 2}}));
    let mut store = MemoryStore::default();
    let to = "34612345678";
    for (i, t) in SERVICE_SENDS.iter().enumerate() {
        let got = run(&p, &mut store, &text(to, t), T0 + i as u64 * SECOND);
        assert_eq!(got.decision, "allow");
    }
    // 3,000 sends to other recipients: those that find their slot full of live counts are
    // refused (`on_store_error: block`), never let through by evicting one.
    let mut refused = 0;
    for i in 0..3000u64 {
        let got = run(
            &p,
            &mut store,
            &text(&format!("4915{i:08}"), "Hi"),
            T0 + 5 * SECOND + i,
        );
        refused += usize::from(got.decision == "block");
    }
    assert!(refused > 2900, "{refused}");
    assert_eq!(
        verdict(&run(
            &p,
            &mut store,
            &text(to, "One more"),
            T0 + 10 * SECOND
        )),
        ("block", Some("unanswered_budget"))
    );
}

#[test]
fn unrelated_service_sends_to_one_recipient_stay_allowed() {
    let p = policy_with(json!({"conversation": {"unanswered_budget": {"max_unanswered": 10}}}));
    let mut store = MemoryStore::default();
    for (i, t) in SERVICE_SENDS.iter().chain(SERVICE_SENDS.iter()).enumerate() {
        let got = run(&p, &mut store, &text("34612345678", t), T0 + i as u64);
        assert_eq!(got.decision, "allow", "{t}");
    }
}

#[test]
fn texts_older_than_the_window_are_not_joined() {
    let p = policy();
    let mut store = MemoryStore::default();
    let to = "34612345678";
    run(&p, &mut store, &text(to, SPLIT_ANSWER[0]), T0);
    run(&p, &mut store, &text(to, SPLIT_ANSWER[1]), T0 + SECOND);
    let late = T0 + 602 * SECOND;
    assert_eq!(
        run(&p, &mut store, &text(to, SPLIT_ANSWER[2]), late).decision,
        "allow"
    );
}

#[test]
fn the_budget_blocks_the_send_after_n_unanswered_and_an_inbound_message_resets_it() {
    let p = policy();
    let salt = &p.log.recipient_hash_salt;
    let cp = p.conversation.as_ref().unwrap();
    let mut store = MemoryStore::default();
    let to = "+34 612 345 678";
    for (i, t) in SERVICE_SENDS.iter().enumerate() {
        let got = run(&p, &mut store, &text(to, t), T0 + i as u64);
        assert_eq!(got.decision, "allow", "send {i}");
    }
    let over = run(&p, &mut store, &text(to, SERVICE_SENDS[0]), T0 + 10);
    assert_eq!(verdict(&over), ("block", Some("unanswered_budget")));
    assert_eq!(over.reason.as_deref(), Some("unanswered_budget_exceeded"));
    // A refused send is not counted, and the recipient's other conversations are their own.
    let key = conversation::conversation_key(cp, salt, NUMBER, to).unwrap();
    assert_eq!(
        conversation::read(&store, &key, cp, T0 + 11)
            .unwrap()
            .entry
            .unanswered,
        3
    );
    assert_eq!(
        run(&p, &mut store, &text("34612345679", "Hello"), T0 + 12).decision,
        "allow"
    );
    // An authentication template is exempt (neither counted nor refused); a marketing or
    // undeclared template is counted like any send; a mark-as-read is no send.
    assert_eq!(
        run(&p, &mut store, &template(to, "login_code"), T0 + 13).decision,
        "allow"
    );
    assert_eq!(
        verdict(&run(&p, &mut store, &template(to, "order_update"), T0 + 14)),
        ("block", Some("unanswered_budget"))
    );
    let read = send(to, json!({"status": "read", "message_id": "wamid.X"}));
    assert_eq!(run(&p, &mut store, &read, T0 + 15).decision, "allow");
    // The recipient writes (a verified webhook's message): the count starts again.
    let inbound = conversation::inbound_messages(
        json!({"entry": [{"changes": [{"value": {"metadata": {"phone_number_id": NUMBER},
            "messages": [{"from": "34612345678", "timestamp": (T0 / SECOND + 1).to_string(), "type": "text"}]}}]}]})
        .to_string()
        .as_bytes(),
    );
    let report = conversation::record_inbound(&mut store, cp, salt, &inbound, T0 + 20);
    assert_eq!(report.recorded, 1);
    for (i, t) in SERVICE_SENDS.iter().enumerate() {
        let got = run(&p, &mut store, &text(to, t), T0 + 21 + i as u64);
        assert_eq!(got.decision, "allow", "after the reply, send {i}");
    }
    assert_eq!(
        run(&p, &mut store, &text(to, "One more"), T0 + 30).decision,
        "block"
    );
    // A day after the last counted send, the count starts again too.
    let next_day = T0 + 21 + 86_401 * SECOND;
    assert_eq!(
        run(&p, &mut store, &text(to, "Hello again"), next_day).decision,
        "allow"
    );
}

#[test]
fn an_audited_budget_forwards_and_still_counts() {
    let p = policy_with(
        json!({"conversation": {"unanswered_budget": {"max_unanswered": 1, "mode": "audit"}}}),
    );
    let mut store = MemoryStore::default();
    let to = "34612345678";
    assert_eq!(
        run(&p, &mut store, &text(to, "Your order shipped."), T0).decision,
        "allow"
    );
    let second = run(&p, &mut store, &text(to, "It arrives Thursday."), T0 + 1);
    assert_eq!(verdict(&second), ("audit", Some("unanswered_budget")));
    assert_eq!(second.status, 200);
}

/// A store whose every write meets a value another worker just changed.
#[derive(Default)]
struct ContendedStore(MemoryStore);

impl SharedStore for ContendedStore {
    fn get(&self, key: &str) -> Option<(Vec<u8>, u32)> {
        self.0.get(key)
    }

    fn set(&mut self, _: &str, _: &[u8], _: Option<u32>) -> Result<(), StoreError> {
        Err(StoreError::Mismatch)
    }
}

fn decide_with(
    p: &Policy,
    store: &mut dyn SharedStore,
    now: Option<u64>,
) -> (String, Vec<(String, u64)>) {
    decide_request_with(p, store, now, &text("34612345678", SERVICE_SENDS[0]))
}

/// Decides `req` over `store`: the decision as `verdict rule reason`, and the state counters.
fn decide_request_with(
    p: &Policy,
    store: &mut dyn SharedStore,
    now: Option<u64>,
    req: &CaseRequest,
) -> (String, Vec<(String, u64)>) {
    let body = req.body_bytes().unwrap();
    let head = RequestHead::from_headers(
        req.method.clone(),
        req.authority.clone(),
        req.path.clone(),
        &|name| (name == "content-type").then(|| "application/json".to_owned()),
        false,
    );
    let (mut flow, _) = RequestFlow::on_request_headers(
        p,
        &head,
        &StaticAttributes::default(),
        &MemoryStore::default(),
    );
    let mut state = StateAccess::new(store, now);
    flow.on_request_body_with_state(
        p,
        body.len(),
        true,
        &mut |n| body.get(..n).map(<[u8]>::to_vec),
        &mut state,
    );
    let d = flow.decision().unwrap();
    (
        format!("{} {} {}", d.verdict.as_str(), d.rule, d.reason.as_str()),
        flow.take_state_metrics(),
    )
}

#[test]
fn state_that_cannot_be_used_follows_the_failure_mode() {
    let closed = policy();
    let open = policy_with(json!({"conversation": {"on_store_error": "allow"}}));
    type StoreMaker = Box<dyn Fn() -> Box<dyn SharedStore>>;
    let cases: [(&str, StoreMaker, Option<u64>, &str); 3] = [
        (
            "store refused",
            Box::new(|| Box::new(wa_egress_guard::shared_store::NoStore)),
            Some(T0),
            "store_failed",
        ),
        (
            "no clock",
            Box::new(|| Box::new(MemoryStore::default())),
            None,
            "store_failed",
        ),
        (
            "cas keeps failing",
            Box::new(|| Box::new(ContendedStore::default())),
            Some(T0),
            "cas_exhausted",
        ),
    ];
    for (what, store, now, metric) in cases {
        let (d, metrics) = decide_with(&closed, store().as_mut(), now);
        assert_eq!(
            d, "block conversation_state conversation_state_unavailable",
            "{what}"
        );
        // Each write that met a changed value is counted as a retry, then the failure once.
        let retries = usize::from(metric == "cas_exhausted") * conversation::MAX_ATTEMPTS;
        let mut want = vec![
            (
                "wa_guard_conversation_state_total.result.cas_retry".to_owned(),
                1
            );
            retries
        ];
        want.push((
            format!("wa_guard_conversation_state_total.result.{metric}"),
            1,
        ));
        assert_eq!(metrics, want, "{what}");
        let (d, _) = decide_with(&open, store().as_mut(), now);
        assert!(d.starts_with("allow "), "{what}: {d}");
    }
    // The same send with a store that works is allowed, and moves no failure counter.
    let (d, metrics) = decide_with(&closed, &mut MemoryStore::default(), Some(T0));
    assert!(d.starts_with("allow "), "{d}");
    assert!(metrics.is_empty(), "{metrics:?}");
}

fn provider_send(authority: &str, path: &str, body: Value) -> CaseRequest {
    CaseRequest {
        method: "POST".into(),
        authority: authority.into(),
        path: path.into(),
        headers: [("content-type".to_owned(), "application/json".to_owned())].into(),
        body: Some(body),
        ..CaseRequest::default()
    }
}

/// Provider sends with several recipients, none, or no sender: each one under the conversation
/// rules follows `on_store_error` (refused by default), since it cannot be counted in one
/// conversation; the same provider's send to one recipient from a known sender is counted.
#[test]
fn sends_that_name_several_recipients_none_or_no_sender_follow_the_failure_mode() {
    let patch = |on_store_error: &str| {
        json!({"whatsapp": {"providers": ["infobip", "twilio", "sinch", {"name": "360dialog"},
                {"name": "bird", "channels": ["*"]}]},
               "conversation": {"on_store_error": on_store_error,
                                "unanswered_budget": {"max_unanswered": 10}}})
    };
    let text = "Your parcel 88213 is out for delivery today.";
    let infobip = |to: Vec<&str>| {
        let destinations: Vec<Value> = to.iter().map(|t| json!({"to": t})).collect();
        provider_send(
            "xk9f2.api.infobip.com",
            "/messages-api/1/messages",
            json!({"messages": [{"channel": "WHATSAPP", "sender": "441134960000",
                "destinations": destinations, "content": {"body": {"type": "TEXT", "text": text}}}]}),
        )
    };
    let twilio_v2 = |to: Vec<&str>| {
        let to: Vec<Value> = to
            .iter()
            .map(|t| json!({"channel": "WHATSAPP", "address": format!("whatsapp:{t}")}))
            .collect();
        provider_send(
            "conversations.twilio.com",
            "/v2/Conversations/conv_8f2a61/Actions",
            json!({"type": "SEND_MESSAGE", "payload": {"to": to,
                "from": {"address": "whatsapp:+14155550100"}, "content": {"text": text}}}),
        )
    };
    let bird_batch = |to: Vec<&str>| {
        let requests: Vec<Value> = to
            .iter()
            .map(|t| {
                json!({"receiver": {"contacts": [{"identifierValue": t}]},
                            "body": {"type": "text", "text": {"text": text}}})
            })
            .collect();
        provider_send(
            "api.bird.com",
            "/workspaces/2b7c91d0/channels/4f1d2c3b/batch/messages",
            json!({"messageRequests": requests}),
        )
    };
    let sinch_contact = provider_send(
        "eu.conversation.api.sinch.com",
        "/v1/projects/7d1c9e2a/messages:send",
        json!({"app_id": "01HT4K9Q2W7E5R3T8Y6U1I0O9P", "recipient": {"contact_id": "01HT4M2N3B"},
               "message": {"text_message": {"text": text}}}),
    );
    let dialog_without_sender = provider_send(
        "waba-v2.360dialog.io",
        "/messages",
        json!({"messaging_product": "whatsapp", "to": "4915112345678", "type": "text",
               "text": {"body": text}}),
    );
    let two = vec!["+4915112345678", "+4915112345679"];
    let one = vec!["+4915112345678"];
    let unkeyed = [
        ("infobip, two destinations", infobip(two.clone())),
        ("twilio v2, two recipients", twilio_v2(two.clone())),
        ("bird, a batch of two", bird_batch(two.clone())),
        ("sinch, a contact id", sinch_contact),
        ("360dialog, no sender", dialog_without_sender),
    ];
    let closed = policy_with(patch("block"));
    let open = policy_with(patch("allow"));
    for (what, req) in &unkeyed {
        let got = run(&closed, &mut MemoryStore::default(), req, T0);
        assert_eq!(
            verdict(&got),
            ("block", Some("conversation_state")),
            "{what}"
        );
        assert_eq!(
            got.reason.as_deref(),
            Some("conversation_state_unavailable")
        );
        let got = run(&open, &mut MemoryStore::default(), req, T0);
        assert_eq!(got.decision, "allow", "{what}");
    }
    for (what, req) in [
        ("infobip", infobip(one.clone())),
        ("twilio v2", twilio_v2(one.clone())),
        ("bird", bird_batch(one.clone())),
    ] {
        let mut store = MemoryStore::default();
        assert_eq!(
            run(&closed, &mut store, &req, T0).decision,
            "allow",
            "{what}"
        );
        assert_eq!(store.key_count(), 1, "{what}: counted in its conversation");
    }
}

/// An Infobip bulk of several messages to one recipient counts every message, and is refused
/// when its last message would go over the cap.
#[test]
fn a_provider_bulk_to_one_recipient_counts_every_message() {
    let p = policy_with(json!({"whatsapp": {"providers": ["infobip"]},
        "conversation": {"scoring": null, "unanswered_budget": {"max_unanswered": 3}}}));
    let bulk = |n: usize| {
        let messages: Vec<Value> = (0..n)
            .map(|i| json!({"channel": "WHATSAPP", "sender": "441134960000",
                "destinations": [{"to": "34612345678"}],
                "content": {"body": {"type": "TEXT", "text": format!("Update {i} on your order.")}}}))
            .collect();
        provider_send(
            "xk9f2.api.infobip.com",
            "/messages-api/1/messages",
            json!({ "messages": messages }),
        )
    };
    // Ten messages to one recipient in one request: over a cap of three.
    let got = run(&p, &mut MemoryStore::default(), &bulk(10), T0);
    assert_eq!(verdict(&got), ("block", Some("unanswered_budget")));
    // Two, then two more: the second request would make four.
    let mut store = MemoryStore::default();
    assert_eq!(run(&p, &mut store, &bulk(2), T0).decision, "allow");
    assert_eq!(
        verdict(&run(&p, &mut store, &bulk(2), T0 + SECOND)),
        ("block", Some("unanswered_budget"))
    );
    assert_eq!(
        run(&p, &mut store, &bulk(1), T0 + 2 * SECOND).decision,
        "allow"
    );
    assert_eq!(
        verdict(&run(&p, &mut store, &bulk(1), T0 + 3 * SECOND)),
        ("block", Some("unanswered_budget"))
    );
}

#[test]
fn a_recipient_written_with_00_shares_its_budget_and_an_unreadable_one_is_refused() {
    let p = policy();
    let mut store = MemoryStore::default();
    for (i, to) in ["+34612345678", "0034612345678", "+34 612 345 678"]
        .iter()
        .enumerate()
    {
        let got = run(&p, &mut store, &text(to, SERVICE_SENDS[i]), T0 + i as u64);
        assert_eq!(got.decision, "allow", "{to}");
    }
    let over = run(&p, &mut store, &text("00 34 612 345 678", "Hello?"), T0 + 5);
    assert_eq!(verdict(&over), ("block", Some("unanswered_budget")));
    // Arabic-Indic or full-width digits are not read as the ASCII number: refused as
    // unreadable (on_store_error: block), not counted in another conversation.
    for to in ["+٣٤٦١٢٣٤٥٦٧٩", "３４612345679"] {
        let got = run(&p, &mut store, &text(to, "Hello?"), T0 + 6);
        assert_eq!(verdict(&got), ("block", Some("conversation_state")), "{to}");
    }
    let open = policy_with(json!({"conversation": {"on_store_error": "allow"}}));
    let got = run(&open, &mut store, &text("+٣٤٦١٢٣٤٥٦٧٩", "Hello?"), T0 + 7);
    assert_eq!(got.decision, "allow");
}

/// A send with its fields in the query string and no body is decided at the headers: it is
/// counted in its conversation there, as a send with a body is.
#[test]
fn a_send_without_a_body_is_counted_in_its_conversation() {
    let p = policy();
    let mut store = MemoryStore::default();
    let query_send = |body: &str| CaseRequest {
        method: "POST".into(),
        authority: "api.twilio.com".into(),
        path: format!(
            "/2010-04-01/Accounts/AC3f2a9c0d8e7b6a5f4e3d2c1b0a9f8e7d/Messages.json?To=whatsapp%3A%2B34612345678&From=whatsapp%3A%2B14155550100&Body={}",
            body.replace(' ', "+")
        ),
        ..CaseRequest::default()
    };
    for (i, t) in SERVICE_SENDS.iter().enumerate() {
        let got = run(&p, &mut store, &query_send(t), T0 + i as u64);
        assert_eq!(got.decision, "allow", "{t}");
    }
    assert_eq!(store.key_count(), 1, "counted in one conversation");
    let over = run(&p, &mut store, &query_send(SERVICE_SENDS[0]), T0 + 5);
    assert_eq!(verdict(&over), ("block", Some("unanswered_budget")));
}

/// A limitation the reference states: with `limits.on_oversize: allow`, a send over the body
/// limit is forwarded unread, so the conversation rules never see it and it is not counted.
#[test]
fn an_oversized_send_let_through_by_on_oversize_allow_is_not_counted() {
    let p = policy_with(json!({"limits": {"max_body_bytes": 1024, "on_oversize": "allow"}}));
    let mut store = MemoryStore::default();
    let long = SERVICE_SENDS.join(" ").repeat(8);
    for i in 0..5 {
        let got = run(&p, &mut store, &text("34612345678", &long), T0 + i);
        assert_eq!(got.decision, "allow");
    }
    assert_eq!(store.key_count(), 0, "never counted");
}

/// The business number's Twilio sender ids: its `From` address and a Messaging Service that
/// sends from it.
const TWILIO_FROM: &str = "whatsapp:+14155550100";
const MESSAGING_SERVICE: &str = "MG0123456789abcdef0123456789abcdef";

/// The example policy with both Twilio sender ids mapped to the number's Graph id.
fn mapped_policy() -> Policy {
    policy_with(json!({"conversation": {"sender_ids": {
        TWILIO_FROM: NUMBER, MESSAGING_SERVICE: NUMBER}}}))
}

/// A Twilio Programmable Messaging WhatsApp send of `body` to `to`, from `sender`: a
/// `whatsapp:` address goes in `From`, anything else in `MessagingServiceSid`.
fn twilio(sender: &str, to: &str, body: &str) -> CaseRequest {
    let field = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b' ' => "+".to_owned(),
                b if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) => char::from(b).to_string(),
                b => format!("%{b:02X}"),
            })
            .collect()
    };
    let from = if sender.starts_with("whatsapp:") {
        format!("From={}", field(sender))
    } else {
        format!("MessagingServiceSid={}", field(sender))
    };
    CaseRequest {
        method: "POST".into(),
        authority: "api.twilio.com".into(),
        path: "/2010-04-01/Accounts/AC3f2a9c0d8e7b6a5f4e3d2c1b0a9f8e7d/Messages.json".into(),
        headers: [(
            "content-type".to_owned(),
            "application/x-www-form-urlencoded".to_owned(),
        )]
        .into(),
        body_text: Some(format!(
            "To={}&{from}&Body={}",
            field(&format!("whatsapp:{to}")),
            field(body)
        )),
        ..CaseRequest::default()
    }
}

/// A verified delivery's message from `from` to the business number `phone_number_id`, written
/// at `written` (nanoseconds), as the webhook route records it at `now`.
fn reply(
    p: &Policy,
    store: &mut MemoryStore,
    phone_number_id: &str,
    from: &str,
    written: u64,
    now: u64,
) -> conversation::InboundReport {
    let inbound = conversation::inbound_messages(
        json!({"entry": [{"changes": [{"value": {"metadata": {"phone_number_id": phone_number_id},
            "messages": [{"from": from, "timestamp": (written / SECOND).to_string(), "type": "text"}]}}]}]})
        .to_string()
        .as_bytes(),
    );
    let cp = p.conversation.as_ref().unwrap();
    conversation::record_inbound(store, cp, &p.log.recipient_hash_salt, &inbound, now)
}

/// The unanswered count of the conversation between `number` and `to`, as stored.
fn unanswered(p: &Policy, store: &MemoryStore, number: &str, to: &str, now: u64) -> u32 {
    let cp = p.conversation.as_ref().unwrap();
    let key = conversation::conversation_key(cp, &p.log.recipient_hash_salt, number, to).unwrap();
    conversation::read(store, &key, cp, now)
        .unwrap()
        .entry
        .unanswered
}

/// Review finding 5 of issue 16: a Twilio send is keyed by its sender id, which no webhook
/// names. Mapped to the number's Graph id (`sender_ids`), it is kept in that id's conversation,
/// so the recipient's reply, delivered by Meta under `metadata.phone_number_id`, resets it.
#[test]
fn a_mapped_provider_send_is_reset_by_a_reply_to_its_graph_id() {
    let p = mapped_policy();
    let mut store = MemoryStore::default();
    let to = "+34612345678";
    for (i, t) in SERVICE_SENDS.iter().enumerate() {
        let got = run(&p, &mut store, &twilio(TWILIO_FROM, to, t), T0 + i as u64);
        assert_eq!(got.decision, "allow", "send {i}");
    }
    let over = run(&p, &mut store, &twilio(TWILIO_FROM, to, "One more"), T0 + 5);
    assert_eq!(verdict(&over), ("block", Some("unanswered_budget")));
    assert_eq!(
        unanswered(&p, &store, NUMBER, to, T0 + 6),
        3,
        "kept under the Graph id"
    );
    // The recipient writes to the business number (Meta's `wa_id`, digits), in the second
    // after the sends (a send in the message's own second counts as after it).
    let report = reply(&p, &mut store, NUMBER, "34612345678", T0 + SECOND, T0 + 10);
    assert_eq!(report.recorded, 1);
    assert_eq!(unanswered(&p, &store, NUMBER, to, T0 + 11), 0);
    let got = run(
        &p,
        &mut store,
        &twilio(TWILIO_FROM, to, "Thanks, it is on its way."),
        T0 + 12,
    );
    assert_eq!(got.decision, "allow", "the reply restarted the count");
    // The map's Graph id is compared as rules compare ids: a delivery naming `0106...` is one
    // to `106...`.
    let p =
        policy_with(json!({"conversation": {"sender_ids": {TWILIO_FROM: format!("0{NUMBER}")}}}));
    let mut store = MemoryStore::default();
    for (i, t) in SERVICE_SENDS.iter().enumerate() {
        let got = run(&p, &mut store, &twilio(TWILIO_FROM, to, t), T0 + i as u64);
        assert_eq!(got.decision, "allow", "send {i}");
    }
    assert_eq!(unanswered(&p, &store, NUMBER, to, T0 + 4), 3);
    assert_eq!(
        reply(&p, &mut store, NUMBER, "34612345678", T0 + SECOND, T0 + 10).recorded,
        1
    );
    assert_eq!(unanswered(&p, &store, NUMBER, to, T0 + 11), 0);
}

/// One business number sending under its `From` address and under a Messaging Service: both
/// mapped to its Graph id, they share one count, so the cap holds across the two.
#[test]
fn two_sender_ids_mapped_to_one_number_share_one_count() {
    let p = mapped_policy();
    let mut store = MemoryStore::default();
    let to = "+34612345678";
    let senders = [TWILIO_FROM, MESSAGING_SERVICE, TWILIO_FROM];
    for (i, (sender, t)) in senders.iter().zip(SERVICE_SENDS).enumerate() {
        let got = run(&p, &mut store, &twilio(sender, to, t), T0 + i as u64);
        assert_eq!(got.decision, "allow", "send {i} from {sender}");
    }
    assert_eq!(unanswered(&p, &store, NUMBER, to, T0 + 4), 3);
    assert_eq!(store.key_count(), 1, "one conversation");
    for sender in [MESSAGING_SERVICE, TWILIO_FROM] {
        let over = run(&p, &mut store, &twilio(sender, to, "One more"), T0 + 5);
        assert_eq!(
            verdict(&over),
            ("block", Some("unanswered_budget")),
            "{sender}"
        );
    }
    // A Messaging Service SID is compared in any case, as the Twilio reader passes it on.
    let upper = MESSAGING_SERVICE.to_ascii_uppercase();
    let over = run(&p, &mut store, &twilio(&upper, to, "One more"), T0 + 6);
    assert_eq!(verdict(&over), ("block", Some("unanswered_budget")));
}

/// A sender id the map does not name keeps today's key, its own: its count is apart from the
/// mapped number's, and a reply to the Graph id leaves it as it was (the documented limit).
#[test]
fn an_unmapped_sender_keeps_its_own_count() {
    let p = mapped_policy();
    let mut store = MemoryStore::default();
    let to = "+34612345678";
    let other = "whatsapp:+14155550199";
    for (i, t) in SERVICE_SENDS.iter().enumerate() {
        let got = run(&p, &mut store, &twilio(other, to, t), T0 + i as u64);
        assert_eq!(got.decision, "allow", "send {i}");
    }
    assert_eq!(unanswered(&p, &store, "+14155550199", to, T0 + 4), 3);
    assert_eq!(unanswered(&p, &store, NUMBER, to, T0 + 4), 0);
    // The mapped number's sends are not refused by the unmapped sender's count.
    let got = run(
        &p,
        &mut store,
        &twilio(TWILIO_FROM, to, SERVICE_SENDS[0]),
        T0 + 5,
    );
    assert_eq!(got.decision, "allow");
    // A reply to the Graph id resets the mapped conversation only.
    assert_eq!(
        reply(&p, &mut store, NUMBER, "34612345678", T0 + SECOND, T0 + 10).recorded,
        1
    );
    let over = run(&p, &mut store, &twilio(other, to, "One more"), T0 + 11);
    assert_eq!(verdict(&over), ("block", Some("unanswered_budget")));
    assert_eq!(unanswered(&p, &store, "+14155550199", to, T0 + 12), 3);
}

/// A delivery of one message `id` from the recipient, written at `written`.
fn reply_with_id(
    p: &Policy,
    store: &mut MemoryStore,
    id: &str,
    written: u64,
    now: u64,
) -> conversation::InboundReport {
    let inbound = conversation::inbound_messages(
        json!({"entry": [{"changes": [{"value": {"metadata": {"phone_number_id": NUMBER},
            "messages": [{"from": "34612345678", "id": id,
                "timestamp": (written / SECOND).to_string(), "type": "text"}]}}]}]})
        .to_string()
        .as_bytes(),
    );
    let cp = p.conversation.as_ref().unwrap();
    conversation::record_inbound(store, cp, &p.log.recipient_hash_salt, &inbound, now)
}

/// A reply written between two sends, its webhook arriving after both, is no replay: it leaves
/// counted only the send made after it.
#[test]
fn a_reply_written_between_two_sends_leaves_only_the_later_send_counted() {
    let p = policy();
    let mut store = MemoryStore::default();
    let to = "34612345678";
    for (i, t) in SERVICE_SENDS.iter().enumerate() {
        let got = run(&p, &mut store, &text(to, t), T0 + i as u64 * 10 * SECOND);
        assert_eq!(got.decision, "allow");
    }
    let report = reply_with_id(
        &p,
        &mut store,
        "wamid.R1",
        T0 + 15 * SECOND,
        T0 + 22 * SECOND,
    );
    assert_eq!((report.recorded, report.replayed), (1, 0));
    assert_eq!(unanswered(&p, &store, NUMBER, to, T0 + 23 * SECOND), 1);
    for (i, t) in SERVICE_SENDS.iter().take(2).enumerate() {
        let got = run(&p, &mut store, &text(to, t), T0 + (24 + i as u64) * SECOND);
        assert_eq!(got.decision, "allow", "send {i} after the reply");
    }
    assert_eq!(
        verdict(&run(
            &p,
            &mut store,
            &text(to, "One more"),
            T0 + 30 * SECOND
        )),
        ("block", Some("unanswered_budget"))
    );
}

/// A delivery replayed within the second of the message it carries resets nothing, while
/// another message of that same second is recorded.
#[test]
fn a_replay_in_the_same_second_resets_nothing() {
    let p = policy();
    let mut store = MemoryStore::default();
    let to = "34612345678";
    let written = T0 + 100 * SECOND;
    assert_eq!(
        reply_with_id(&p, &mut store, "wamid.A", written, written).recorded,
        1
    );
    // Three sends within that same second, then the same delivery again.
    for i in 0..3 {
        let at = written + 100_000_000 * (i + 1);
        assert_eq!(
            run(&p, &mut store, &text(to, SERVICE_SENDS[0]), at).decision,
            "allow"
        );
    }
    let report = reply_with_id(&p, &mut store, "wamid.A", written, written + 500_000_000);
    assert_eq!((report.recorded, report.replayed), (0, 1));
    assert_eq!(unanswered(&p, &store, NUMBER, to, written + 600_000_000), 3);
    // Another message of the same second is recorded, but the sends in that second still
    // count (they may have come after it).
    let report = reply_with_id(&p, &mut store, "wamid.B", written, written + 700_000_000);
    assert_eq!((report.recorded, report.replayed), (1, 0));
    assert_eq!(
        verdict(&run(
            &p,
            &mut store,
            &text(to, "One more"),
            written + 800_000_000
        )),
        ("block", Some("unanswered_budget"))
    );
}

/// Meta's business-scoped user ids: a reply names its sender by `from` (the phone number) and
/// `from_user_id` (or `contacts[].user_id`), or by the user id alone; it resets the
/// conversation of sends addressed to the user id (`recipient`) as well as to the number.
#[test]
fn a_reply_naming_a_user_id_resets_the_sends_addressed_to_it() {
    const USER_ID: &str = "US.13491208655302741918";
    let p = policy();
    let to_user = |body: &str| {
        send(
            "",
            json!({"to": null, "recipient": USER_ID, "type": "text", "text": {"body": body}}),
        )
    };
    let deliver = |store: &mut MemoryStore, message: Value, contacts: Value, now: u64| {
        let inbound = conversation::inbound_messages(
            json!({"entry": [{"changes": [{"value": {"metadata": {"phone_number_id": NUMBER},
                "contacts": contacts, "messages": [message]}}]}]})
            .to_string()
            .as_bytes(),
        );
        let cp = p.conversation.as_ref().unwrap();
        conversation::record_inbound(store, cp, &p.log.recipient_hash_salt, &inbound, now)
    };
    let shapes = [
        // The user id alone (a user who hides their number).
        (
            json!({"from_user_id": USER_ID, "id": "wamid.U1", "timestamp": "0"}),
            json!([]),
        ),
        // The number and the user id.
        (
            json!({"from": "34612345678", "from_user_id": USER_ID, "id": "wamid.U2", "timestamp": "0"}),
            json!([]),
        ),
        // The number, and the user id in the contact.
        (
            json!({"from": "34612345678", "id": "wamid.U3", "timestamp": "0"}),
            json!([{"wa_id": "34612345678", "user_id": USER_ID}]),
        ),
    ];
    for (message, contacts) in shapes {
        let mut store = MemoryStore::default();
        for (i, t) in SERVICE_SENDS.iter().enumerate() {
            let got = run(&p, &mut store, &to_user(t), T0 + i as u64 * SECOND);
            assert_eq!(got.decision, "allow", "send {i}");
        }
        let over = run(&p, &mut store, &to_user("One more"), T0 + 4 * SECOND);
        assert_eq!(verdict(&over), ("block", Some("unanswered_budget")));
        let mut message = message;
        message["timestamp"] = json!((T0 / SECOND + 5).to_string());
        let report = deliver(&mut store, message.clone(), contacts, T0 + 6 * SECOND);
        assert!(report.recorded >= 1, "{message}");
        let got = run(&p, &mut store, &to_user("Thanks!"), T0 + 7 * SECOND);
        assert_eq!(got.decision, "allow", "{message}");
    }
}

/// A person's business-scoped user id, and the number Meta's deliveries name beside it.
const USER_ID: &str = "US.13491208655302741918";
const USER_NUMBER: &str = "34612345678";

fn to_user_id(body: &str) -> CaseRequest {
    send(
        "",
        json!({"to": null, "recipient": USER_ID, "type": "text", "text": {"body": body}}),
    )
}

/// A verified delivery of a message the person wrote at `written`, naming their number and
/// their user id (as `from` and `from_user_id`), recorded at `now`.
fn linking_reply(p: &Policy, store: &mut MemoryStore, written: u64, now: u64) {
    let inbound = conversation::inbound_messages(
        json!({"entry": [{"changes": [{"value": {"metadata": {"phone_number_id": NUMBER},
            "messages": [{"from": USER_NUMBER, "from_user_id": USER_ID, "id": "wamid.L",
                "timestamp": (written / SECOND).to_string(), "type": "text"}]}}]}]})
        .to_string()
        .as_bytes(),
    );
    let cp = p.conversation.as_ref().unwrap();
    let report = conversation::record_inbound(store, cp, &p.log.recipient_hash_salt, &inbound, now);
    assert_eq!((report.recorded, report.linked), (2, 1), "{report:?}");
}

/// Review finding 4 of issue 16: once a verified delivery named a person's number and user id
/// together, sends addressed by either are one conversation: one budget of `max_unanswered`
/// (was: one per address, twice the cap in all).
#[test]
fn sends_to_a_linked_user_id_and_to_its_number_share_one_budget() {
    let p = policy();
    let mut store = MemoryStore::default();
    linking_reply(&p, &mut store, T0, T0 + SECOND);
    let sends = [
        text(USER_NUMBER, SERVICE_SENDS[0]),
        to_user_id(SERVICE_SENDS[1]),
        text("+34 612 345 678", SERVICE_SENDS[2]),
    ];
    for (i, req) in sends.iter().enumerate() {
        let got = run(&p, &mut store, req, T0 + (2 + i as u64) * SECOND);
        assert_eq!(got.decision, "allow", "send {i}");
    }
    assert_eq!(
        unanswered(&p, &store, NUMBER, USER_NUMBER, T0 + 5 * SECOND),
        3
    );
    for req in [to_user_id("One more"), text(USER_NUMBER, "One more")] {
        let over = run(&p, &mut store, &req, T0 + 6 * SECOND);
        assert_eq!(verdict(&over), ("block", Some("unanswered_budget")));
    }
    // The person writes again: both addresses are free again.
    linking_reply(&p, &mut store, T0 + 7 * SECOND, T0 + 8 * SECOND);
    let got = run(&p, &mut store, &to_user_id("Thanks!"), T0 + 9 * SECOND);
    assert_eq!(got.decision, "allow");
}

/// Review finding 4 of issue 16: a split answer whose parts alternate between a linked user id
/// and the number is joined in one conversation, so the part that completes it is refused
/// (was: scored in two halves, each harmless).
#[test]
fn a_split_answer_alternating_between_a_linked_user_id_and_its_number_is_blocked() {
    let p = policy_with(json!({"conversation": {"unanswered_budget": {"max_unanswered": 10}}}));
    let mut store = MemoryStore::default();
    linking_reply(&p, &mut store, T0, T0 + SECOND);
    let first = run(
        &p,
        &mut store,
        &to_user_id(SPLIT_ANSWER[0]),
        T0 + 2 * SECOND,
    );
    let second = run(
        &p,
        &mut store,
        &to_user_id(SPLIT_ANSWER[1]),
        T0 + 3 * SECOND,
    );
    let third = run(
        &p,
        &mut store,
        &text(USER_NUMBER, SPLIT_ANSWER[2]),
        T0 + 4 * SECOND,
    );
    assert_eq!(
        (first.decision.as_str(), second.decision.as_str()),
        ("allow", "allow")
    );
    assert_eq!(verdict(&third), ("block", Some("conversation_classifier")));
}

/// What stays a limit: before any delivery links them, a number and a user id are two
/// conversations (the filter cannot know they are one person's).
#[test]
fn sends_made_before_a_link_is_known_stay_separate() {
    let p = policy();
    let mut store = MemoryStore::default();
    for (i, t) in SERVICE_SENDS.iter().enumerate() {
        let at = T0 + i as u64 * SECOND;
        assert_eq!(
            run(&p, &mut store, &text(USER_NUMBER, t), at).decision,
            "allow"
        );
        assert_eq!(run(&p, &mut store, &to_user_id(t), at).decision, "allow");
    }
    assert_eq!(
        unanswered(&p, &store, NUMBER, USER_NUMBER, T0 + 3 * SECOND),
        3
    );
    assert_eq!(unanswered(&p, &store, NUMBER, USER_ID, T0 + 3 * SECOND), 3);
}

/// A send naming both `to` and `recipient` is kept when both lead to one conversation (the
/// user id linked to that number), and refused otherwise: which of the two Meta would deliver
/// to is not known, and counting it under one would let the other escape.
#[test]
fn a_send_naming_a_number_and_a_user_id_needs_them_linked() {
    let p = policy();
    let both = |to: &str| {
        send(
            to,
            json!({"recipient": USER_ID, "type": "text", "text": {"body": SERVICE_SENDS[0]}}),
        )
    };
    let mut store = MemoryStore::default();
    let (d, metrics) = decide_request_with(&p, &mut store, Some(T0), &both(USER_NUMBER));
    assert_eq!(d, "block conversation_state invalid_recipient");
    assert_eq!(
        metrics,
        [(
            "wa_guard_conversation_state_total.result.invalid_recipient".to_owned(),
            1
        )]
    );
    linking_reply(&p, &mut store, T0, T0 + SECOND);
    let got = run(&p, &mut store, &both("+34 612 345 678"), T0 + 2 * SECOND);
    assert_eq!(got.decision, "allow");
    assert_eq!(
        unanswered(&p, &store, NUMBER, USER_NUMBER, T0 + 2 * SECOND),
        1
    );
    // Linked to another number: refused.
    let got = run(&p, &mut store, &both("34612345679"), T0 + 3 * SECOND);
    assert_eq!(verdict(&got), ("block", Some("conversation_state")));
    assert_eq!(got.reason.as_deref(), Some("invalid_recipient"));
}

/// Review finding 5 of issue 16: every spelling of one number is one conversation, and a `to`
/// that is neither a phone number nor a user id is refused by `conversation_state` (reason
/// `invalid_recipient`, counted), or with `on_store_error: allow` decided without the
/// conversation rules and not counted; it never opens a fresh budget.
#[test]
fn a_to_that_is_no_address_is_refused_and_every_spelling_of_a_number_is_one() {
    let p = policy();
    let mut store = MemoryStore::default();
    let spellings = [
        "+34 600 123 456",
        "0034600123456",
        "34600123456",
        "+34-600-123-456",
        "(+34) 600 123 456",
    ];
    for (i, to) in spellings.iter().enumerate() {
        let got = run(
            &p,
            &mut store,
            &text(to, "Your order ships today."),
            T0 + i as u64,
        );
        let want = if i < 3 { "allow" } else { "block" };
        assert_eq!(got.decision, want, "{to}");
    }
    let open = policy_with(json!({"conversation": {"on_store_error": "allow"}}));
    for to in [
        "34600123456x",
        "whatsapp:+34600123456",
        "34#600123456",
        "hello",
        "123",
        "120363044447777777@g.us",
    ] {
        let mut store = MemoryStore::default();
        let (d, metrics) = decide_request_with(&p, &mut store, Some(T0), &text(to, "Hi"));
        assert_eq!(d, "block conversation_state invalid_recipient", "{to}");
        assert_eq!(
            metrics,
            [(
                "wa_guard_conversation_state_total.result.invalid_recipient".to_owned(),
                1
            )],
            "{to}"
        );
        let got = run(&p, &mut store, &text(to, "Hi"), T0);
        assert_eq!(got.status, 403, "{to}");
        let (d, _) = decide_request_with(&open, &mut store, Some(T0), &text(to, "Hi"));
        assert!(d.starts_with("allow "), "{to}: {d}");
        assert_eq!(store.key_count(), 0, "{to}: not counted anywhere");
    }
}
