use super::*;
use crate::document::ConversationSection;
use crate::shared_store::{MemoryStore, NoStore};

const SECOND: u64 = 1_000_000_000;
const T0: u64 = 1_800_000_000 * SECOND;

fn section(json: &str) -> ConversationSection {
    serde_json::from_str(json).unwrap()
}

fn policy(json: &str) -> ConversationPolicy {
    ConversationPolicy::compile(&section(json)).unwrap()
}

fn p_of() -> ConversationPolicy {
    both()
}

fn both() -> ConversationPolicy {
    policy(
        r#"{"slots": 16, "entries_per_slot": 4,
            "scoring": {"window_seconds": 600, "max_texts": 3, "max_text_bytes": 64},
            "unanswered_budget": {"max_unanswered": 3, "window_seconds": 3600}}"#,
    )
}

#[test]
fn a_section_with_bad_sizes_reports_each_with_its_path() {
    let err = ConversationPolicy::compile(&section(
        r#"{"slots": 0, "entries_per_slot": 65,
            "scoring": {"window_seconds": 0, "max_texts": 17, "max_text_bytes": 16385},
            "unanswered_budget": {"max_unanswered": 1, "window_seconds": 9999999999,
              "template_categories": {"otp": "secret", "Bad Name": "utility"},
              "exempt_template_categories": ["authentication", "spam"]}}"#,
    ))
    .unwrap_err();
    let paths: Vec<&str> = err.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        [
            "$.conversation.slots",
            "$.conversation.entries_per_slot",
            "$.conversation.scoring.window_seconds",
            "$.conversation.scoring.max_texts",
            "$.conversation.scoring.max_text_bytes",
            "$.conversation.unanswered_budget.window_seconds",
            "$.conversation.unanswered_budget.exempt_template_categories[1]",
            "$.conversation.unanswered_budget.template_categories.Bad Name",
            "$.conversation.unanswered_budget.template_categories.otp",
        ]
    );
    let err = ConversationPolicy::compile(&section("{}")).unwrap_err();
    assert_eq!(err[0].0, "$.conversation");
}

#[test]
fn exempt_templates_are_those_whose_declared_category_is_exempt() {
    let p = policy(
        r#"{"unanswered_budget": {"max_unanswered": 1,
              "template_categories": {"login_code": "authentication", "order_update": "utility"},
              "exempt_template_categories": ["Authentication"]}}"#,
    );
    let b = p.budget.unwrap();
    assert_eq!(b.exempt_templates, ["login_code"]);
    assert!(b.exempts("template", Some("login_code")));
    assert!(!b.exempts("template", Some("order_update")));
    assert!(!b.exempts("template", None));
    assert!(!b.exempts("text", Some("login_code")));
}

#[test]
fn a_recipient_is_one_conversation_however_its_number_is_written() {
    let p = both();
    let k = |salt: &str, pnid: &str, to: &str| conversation_key(&p, salt, pnid, to).unwrap();
    let a = k("s", "106540352242922", "+34 612 345 678");
    assert_eq!(a, k("s", "106540352242922", "34612345678"));
    assert_eq!(a, k("s", "0106540352242922", "34-612-345-678"));
    assert_eq!(a, k("s", "106540352242922", "0034612345678"));
    assert_eq!(a, k("s", "106540352242922", "+00 34 (612) 345.678"));
    // A recipient with a digit or letter outside ASCII is unreadable, never collapsed into
    // another (Arabic-Indic and full-width digits, a Cyrillic letter).
    for unreadable in [
        "+٣٤٦١٢٣٤٥٦٧٨",
        "34612345678٥",
        "３４612345678",
        "34612345678а",
    ] {
        assert_eq!(recipient_key(unreadable), None, "{unreadable}");
        assert_eq!(
            conversation_key(&p, "s", "1", unreadable),
            None,
            "{unreadable}"
        );
    }
    assert_eq!(
        recipient_key("+34 612\u{200b}345 678").as_deref(),
        Some("34612345678")
    );
    assert_eq!(recipient_key("00").as_deref(), None);
    assert_eq!(recipient_key(" + ").as_deref(), None);
    assert_ne!(a.tag, k("s", "106540352242923", "34612345678").tag);
    assert_ne!(a.tag, k("s", "106540352242922", "34612345679").tag);
    assert_ne!(a.tag, k("t", "106540352242922", "34612345678").tag);
    // The key names a slot and a hash, never the number.
    let prefix = format!("{KEY_PREFIX}{}/", p.layout);
    assert!(a.slot_key.starts_with(&prefix), "{}", a.slot_key);
    let slot: u32 = a.slot_key.trim_start_matches(&prefix).parse().unwrap();
    assert!(slot < 16);
    assert!(!a.slot_key.contains("612"));
}

#[test]
fn a_slot_value_round_trips_and_garbage_reads_as_empty() {
    let slot = Slot {
        entries: vec![
            Entry {
                tag: [1; 8],
                updated: T0,
                last_inbound: T0 - SECOND,
                unanswered: 2,
                unanswered_since: T0 - 5,
                last_counted: T0 - 2,
                last_message: (T0 - 3 * SECOND, [7; 8]),
                send_times: vec![T0 - 5, T0 - 2],
                texts: vec![(T0, "héllo".into()), (T0 + 1, "👋 there".into())],
            },
            Entry::new([2; 8]),
        ],
    };
    let bytes = slot.encode();
    assert_eq!(Slot::decode(&bytes), Some(slot));
    for cut in 0..bytes.len() {
        assert_eq!(Slot::decode(&bytes[..cut]), None, "cut at {cut}");
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert_eq!(Slot::decode(&longer), None);
    assert_eq!(Slot::decode(b"{\"json\":1}"), None);
    // A value that is not ours is overwritten, never an error.
    let p = both();
    let key = conversation_key(&p, "s", "1", "34600000002").unwrap();
    let mut store = MemoryStore::default();
    store.set(&key.slot_key, b"garbage", None).unwrap();
    let snap = read(&store, &key, &p, T0).unwrap();
    assert_eq!(snap.entry, Entry::new(key.tag));
}

#[test]
fn the_budget_counts_sends_since_the_last_inbound_within_its_window() {
    let p = both();
    let b = p.budget.as_ref().unwrap();
    let mut e = Entry::new([0; 8]);
    for i in 0..3 {
        assert_eq!(e.unanswered_at(T0 + i, b), u32::try_from(i).unwrap());
        e.count_send(T0 + i, b);
    }
    assert_eq!(e.unanswered_at(T0 + 10, b), 3);
    assert!(e.record_inbound(T0 + 20, T0 + 20));
    assert_eq!((e.unanswered_at(T0 + 21, b), e.last_inbound), (0, T0 + 20));
    e.count_send(T0 + 30, b);
    assert_eq!(e.unanswered_at(T0 + 30, b), 1);
    // An hour after its last send, the count starts again.
    assert_eq!(e.unanswered_at(T0 + 30 + 3600 * SECOND, b), 1);
    assert_eq!(e.unanswered_at(T0 + 31 + 3600 * SECOND, b), 0);
    e.count_send(T0 + 31 + 3600 * SECOND, b);
    assert_eq!(e.unanswered, 1);
}

/// Sends spread over the window keep the count: it restarts only once the last counted send
/// is older than the window, so no more than the cap goes out within any window.
#[test]
fn the_budget_window_runs_from_the_last_counted_send_not_the_first() {
    let p = both(); // a cap of 3 in an hour
    let b = p.budget.as_ref().unwrap();
    let mut e = Entry::new([0; 8]);
    let minute = 60 * SECOND;
    for at in [T0, T0 + 58 * minute, T0 + 59 * minute] {
        e.count_send(at, b);
    }
    // Just past an hour after the first send, but two minutes after the last: still 3.
    assert_eq!(e.unanswered_at(T0 + 61 * minute, b), 3);
    assert_eq!(e.unanswered_at(T0 + 119 * minute, b), 3);
    assert_eq!(e.unanswered_at(T0 + 119 * minute + 1, b), 0);
}

fn unranked(_: &str) -> f64 {
    0.0
}

#[test]
fn texts_are_bounded_in_count_bytes_and_time() {
    let p = both();
    let s = p.scoring.as_ref().unwrap();
    let mut e = Entry::new([0; 8]);
    for i in 0..5 {
        e.push_text(T0 + i, &format!("part {i}"), s, &unranked);
    }
    assert_eq!(e.recent_texts(T0 + 5, s), ["part 2", "part 3", "part 4"]);
    // The bytes: each text gets a third of 64 (21); a long text of one sentence keeps its end,
    // on a character boundary, and pushes no predecessor out.
    let long = format!("{}é{}", "a".repeat(40), "b".repeat(40));
    e.push_text(T0 + 6, &long, s, &unranked);
    let kept = e.recent_texts(T0 + 6, s);
    assert_eq!(kept.len(), 3);
    assert_eq!(kept[..2], ["part 3", "part 4"]);
    assert!(kept[2].len() <= 21 && long.ends_with(kept[2]), "{kept:?}");
    let e2 = {
        let mut e = Entry::new([0; 8]);
        e.push_text(T0, &"é".repeat(40), s, &unranked); // 80 bytes, 2 each
        e
    };
    assert_eq!(e2.texts[0].1.len(), 20);
    // Older than the window: not joined.
    assert!(e.recent_texts(T0 + 6 + 601 * SECOND, s).is_empty());
    e.push_text(T0 + 7, "   ", s, &unranked);
    assert_eq!(e.texts.len(), 3, "a blank text is not kept");
}

#[test]
fn an_update_reads_modifies_and_writes_one_conversation() {
    let p = both();
    let b = p.budget.clone().unwrap();
    let mut store = MemoryStore::default();
    let key = conversation_key(&p, "s", "1", "34600000001").unwrap();
    for i in 0..3 {
        let done = update(&mut store, &key, &p, T0 + i, &mut |e| {
            e.count_send(T0 + i, &b)
        })
        .unwrap();
        assert_eq!(done.retries, 0);
    }
    let snap = read(&store, &key, &p, T0 + 3).unwrap();
    assert_eq!(snap.entry.unanswered, 3);
    assert_eq!(snap.entry.updated, T0 + 2);
    // Another conversation in the same store is its own.
    let other = conversation_key(&p, "s", "1", "34600000002").unwrap();
    assert_eq!(read(&store, &other, &p, T0).unwrap().entry.unanswered, 0);
}

#[test]
fn an_entry_past_its_lifetime_is_ignored_and_dropped_on_the_next_write() {
    let p = both();
    let b = p.budget.clone().unwrap();
    let ttl = p.ttl_nanos();
    assert_eq!(ttl, 3600 * SECOND);
    let mut store = MemoryStore::default();
    // Two conversations in one slot.
    let (a, c) = same_slot_keys(&p, 2);
    update(&mut store, &a, &p, T0, &mut |e| e.count_send(T0, &b)).unwrap();
    let later = T0 + ttl + 1;
    assert_eq!(
        read(&store, &a, &p, later).unwrap().entry,
        Entry::new(a.tag)
    );
    update(&mut store, &c, &p, later, &mut |e| e.count_send(later, &b)).unwrap();
    let (bytes, _) = store.get(&a.slot_key).unwrap();
    let slot = Slot::decode(&bytes).unwrap();
    assert_eq!(slot.entries.len(), 1, "the expired conversation is gone");
    assert_eq!(slot.entries[0].tag, c.tag);
}

/// `n` distinct conversation keys that share one slot.
fn same_slot_keys(p: &ConversationPolicy, n: usize) -> (ConversationKey, ConversationKey) {
    let keys = same_slot(p, n);
    (keys[0].clone(), keys[n - 1].clone())
}

fn same_slot(p: &ConversationPolicy, n: usize) -> Vec<ConversationKey> {
    let first = conversation_key(p, "s", "1", "34600000000").unwrap();
    let mut keys = vec![first.clone()];
    let mut i = 1;
    while keys.len() < n {
        let k = conversation_key(p, "s", "1", &format!("346{i:08}")).unwrap();
        if k.slot_key == first.slot_key {
            keys.push(k);
        }
        i += 1;
    }
    keys
}

#[test]
fn a_full_slot_evicts_its_least_recently_updated_idle_conversation_never_a_live_count() {
    let count = |store: &MemoryStore, k: &ConversationKey, at: u64| {
        read(store, k, &p_of(), at).unwrap().entry.unanswered
    };
    let p = both();
    let b = p.budget.clone().unwrap();
    let keys = same_slot(&p, 5);
    let mut store = MemoryStore::default();
    for (i, k) in keys.iter().take(4).enumerate() {
        let now = T0 + i as u64;
        let done = update(&mut store, k, &p, now, &mut |e| e.count_send(now, &b)).unwrap();
        assert_eq!(done.evicted, 0);
    }
    // Every conversation of the slot holds a live count: the fifth is refused, none evicted.
    let full = update(&mut store, &keys[4], &p, T0 + 11, &mut |e| {
        e.count_send(T0 + 11, &b)
    });
    assert_eq!(full, Err(StateFailure::SlotFull));
    assert_eq!(
        keys.iter()
            .map(|k| count(&store, k, T0 + 12))
            .collect::<Vec<_>>(),
        [1, 1, 1, 1, 0]
    );
    // The second conversation's recipient replies: its count is 0, so it is idle and the
    // least recently updated idle one makes room.
    update(&mut store, &keys[1], &p, T0 + 20, &mut |e| {
        e.record_inbound(T0 + 20, T0 + 20);
    })
    .unwrap();
    let done = update(&mut store, &keys[4], &p, T0 + 21, &mut |e| {
        e.count_send(T0 + 21, &b)
    })
    .unwrap();
    assert_eq!(done.evicted, 1);
    assert_eq!(
        keys.iter()
            .map(|k| count(&store, k, T0 + 22))
            .collect::<Vec<_>>(),
        [1, 0, 1, 1, 1],
        "the idle second conversation was evicted"
    );
}

/// A store where another worker writes the key between this worker's read and its write, a
/// given number of times (its write is a real change: it counts a send of its own).
struct RacingStore {
    inner: MemoryStore,
    races: usize,
    policy: ConversationPolicy,
    key: ConversationKey,
    now: u64,
}

impl SharedStore for RacingStore {
    fn get(&self, key: &str) -> Option<(Vec<u8>, u32)> {
        self.inner.get(key)
    }

    fn set(&mut self, key: &str, value: &[u8], cas: Option<u32>) -> Result<(), StoreError> {
        if self.races > 0 {
            self.races -= 1;
            let b = self.policy.budget.clone().unwrap();
            let now = self.now;
            update(&mut self.inner, &self.key, &self.policy, now, &mut |e| {
                e.count_send(now, &b)
            })
            .unwrap();
        }
        self.inner.set(key, value, cas)
    }
}

#[test]
fn a_write_that_meets_another_workers_change_is_retried_from_a_fresh_read() {
    let p = both();
    let b = p.budget.clone().unwrap();
    let key = conversation_key(&p, "s", "1", "34600000001").unwrap();
    // The slot exists (a first write of a slot is guarded by a read just before it, see
    // `a_first_write_to_a_new_slot_loses_to_a_concurrent_first_write`).
    let mut inner = MemoryStore::default();
    inner
        .set(&key.slot_key, &Slot::default().encode(), None)
        .unwrap();
    let mut store = RacingStore {
        inner,
        races: 2,
        policy: p.clone(),
        key: key.clone(),
        now: T0,
    };
    let done = update(&mut store, &key, &p, T0, &mut |e| e.count_send(T0, &b)).unwrap();
    assert_eq!(done.retries, 2);
    // Both racers' sends and this one: nothing lost.
    assert_eq!(read(&store, &key, &p, T0).unwrap().entry.unanswered, 3);
    // A store that keeps changing: the update gives up after MAX_ATTEMPTS.
    store.races = MAX_ATTEMPTS;
    let err = update(&mut store, &key, &p, T0, &mut |e| e.count_send(T0, &b)).unwrap_err();
    assert_eq!(err, StateFailure::CasExhausted);
    assert_eq!(
        read(&store, &key, &p, T0).unwrap().entry.unanswered,
        3 + 3,
        "only the racers' writes landed"
    );
}

#[test]
fn a_store_that_fails_is_a_failure_never_an_empty_conversation() {
    let p = both();
    let key = conversation_key(&p, "s", "1", "34600000002").unwrap();
    assert_eq!(
        read(&NoStore, &key, &p, T0).unwrap_err(),
        StoreError::Failed
    );
    let err = update(&mut NoStore, &key, &p, T0, &mut |_| {}).unwrap_err();
    assert_eq!(err, StateFailure::StoreFailed);
}

#[test]
fn a_first_write_to_a_new_slot_loses_to_a_concurrent_first_write() {
    let p = both();
    let key = conversation_key(&p, "s", "1", "34600000002").unwrap();
    let mut store = MemoryStore::default();
    let snap = read(&store, &key, &p, T0).unwrap();
    // Another worker creates the slot between this read and this write.
    store
        .set(&key.slot_key, &Slot::default().encode(), None)
        .unwrap();
    let entry = snap.entry.clone();
    assert_eq!(
        snap.write(&mut store, &key, entry, &p, T0),
        Err(StoreError::Mismatch.into())
    );
}

/// The bound holds under a million distinct recipients: the store never holds more than
/// `slots` keys of at most the largest value, whatever the traffic.
#[test]
fn a_million_recipients_keep_the_state_within_its_stated_bound() {
    let p = policy(
        r#"{"slots": 256, "entries_per_slot": 8,
            "scoring": {"window_seconds": 600, "max_texts": 2, "max_text_bytes": 48},
            "unanswered_budget": {"max_unanswered": 3}}"#,
    );
    let b = p.budget.clone().unwrap();
    let s = p.scoring.clone().unwrap();
    let bound = p.max_bytes();
    assert_eq!(p.max_value_bytes(), 2 + 8 * (126 + 2 * 10 + 48));
    let mut store = MemoryStore::default();
    for i in 0..1_000_000u64 {
        let now = T0 + i * 1000;
        let number = format!("{}", 10_000_000_000 + i);
        let key = conversation_key(&p, "salt", "106540352242922", &number).unwrap();
        // Each recipient also writes under a user id: its link fills the links' keys.
        let linked = link(
            &mut store,
            &p,
            "salt",
            "106540352242922",
            &address(&number).unwrap(),
            &address(&format!("US.{i}")).unwrap(),
            now,
        );
        assert!(linked.is_ok(), "{linked:?}");
        let done = update(&mut store, &key, &p, now, &mut |e| {
            // Eight counted sends (every send time kept) and two texts of 24 bytes: every
            // entry at its largest.
            e.count_sends(now, &b, 8);
            e.push_text(now, "Your order ships today. ", &s, &unranked);
            e.push_text(now, "Anything else? Write us.", &s, &unranked);
        });
        // A slot full of live conversations refuses the rest (never evicts a live count).
        assert!(
            matches!(done, Ok(_) | Err(StateFailure::SlotFull)),
            "{done:?}"
        );
    }
    // 256 keys of conversations and 256 of links.
    assert_eq!(store.key_count(), 512);
    let total = store.total_bytes();
    assert!(total <= bound, "{total} > {bound}");
    // Every slot is full: the bound is what a busy proxy holds, not a loose ceiling.
    assert!(total * 100 >= bound * 98, "{total} is far under {bound}");
}

#[test]
fn inbound_messages_are_read_from_a_delivery_and_statuses_are_not() {
    let body = serde_json::json!({"object": "whatsapp_business_account", "entry": [
        {"id": "waba", "changes": [
            {"field": "messages", "value": {"messaging_product": "whatsapp",
              "metadata": {"display_phone_number": "15550001", "phone_number_id": "106540352242922"},
              "messages": [{"from": "34612345678", "id": "wamid.A", "timestamp": "1800000000", "type": "text", "text": {"body": "hi"}},
                           {"from": "34612345678", "id": "wamid.B", "type": "text", "text": {"body": "again"}},
                           {"id": "wamid.C"}]}},
            {"field": "messages", "value": {"metadata": {"phone_number_id": "999"},
              "statuses": [{"recipient_id": "34611111111", "status": "read"}]}},
            {"field": "messages", "value": {"messages": [{"from": "no metadata"}]}}]},
        {"changes": [{"value": {"metadata": {"phone_number_id": "777"},
              "messages": [{"from": "447700900000"}]}}]}]});
    let found = inbound_messages(body.to_string().as_bytes());
    assert_eq!(
        found,
        [
            Inbound {
                phone_number_id: "106540352242922".into(),
                from: "34612345678".into(),
                timestamp: Some(1_800_000_000),
                id: Some("wamid.A".into()),
                user_ids: Vec::new(),
            },
            Inbound {
                phone_number_id: "106540352242922".into(),
                from: "34612345678".into(),
                timestamp: None,
                id: Some("wamid.B".into()),
                user_ids: Vec::new(),
            },
            Inbound {
                phone_number_id: "777".into(),
                from: "447700900000".into(),
                timestamp: None,
                id: None,
                user_ids: Vec::new(),
            },
        ]
    );
    for bad in [
        &b"not json"[..],
        b"[]",
        b"{\"entry\": 5}",
        b"{\"a\":1,\"a\":2}",
    ] {
        assert!(inbound_messages(bad).is_empty());
    }
    let many: Vec<_> = (0..500)
        .map(|i| serde_json::json!({"from": format!("3460000{i:04}")}))
        .collect();
    let body = serde_json::json!({"entry": [{"changes": [{"value": {
        "metadata": {"phone_number_id": "1"}, "messages": many}}]}]});
    assert_eq!(
        inbound_messages(body.to_string().as_bytes()).len(),
        MAX_INBOUND_PER_DELIVERY
    );
}

#[test]
fn a_recorded_inbound_message_restarts_the_count() {
    let p = both();
    let b = p.budget.clone().unwrap();
    let mut store = MemoryStore::default();
    let key = conversation_key(&p, "s", "106540352242922", "+34 612 345 678").unwrap();
    for i in 0..3 {
        update(&mut store, &key, &p, T0 + i, &mut |e| {
            e.count_send(T0 + i, &b)
        })
        .unwrap();
    }
    // Written in the second after the sends (a send in the message's second counts as after).
    let inbound = [Inbound {
        phone_number_id: "106540352242922".into(),
        from: "34612345678".into(),
        timestamp: Some(T0 / SECOND + 1),
        id: Some("wamid.R".into()),
        user_ids: Vec::new(),
    }];
    let report = record_inbound(&mut store, &p, "s", &inbound, T0 + 10);
    assert_eq!((report.recorded, report.failures.len()), (1, 0));
    let e = read(&store, &key, &p, T0 + 11).unwrap().entry;
    assert_eq!((e.unanswered, e.last_inbound), (0, T0 + 10));
    // Another salt is another conversation: nothing reset there.
    let report = record_inbound(&mut NoStore, &p, "s", &inbound, T0);
    assert_eq!(report.failures, [StateFailure::StoreFailed]);
    assert_eq!(
        report.metrics(),
        [
            (format!("{STATE_METRIC}.result.store_failed"), 1),
            (format!("{INBOUND_METRIC}.result.failed"), 1)
        ]
    );
}

#[test]
fn a_long_text_keeps_its_ends_and_its_most_telling_sentences_not_its_padding() {
    // A fragment, padding, a telling sentence, more padding, a closing fragment.
    let pad = "Thanks for shopping with us at the store today, friend. ";
    let text = format!(
        "You earn interest not\n{}The balance grows faster every single year because of compounding. {}and more",
        pad.repeat(12),
        pad.repeat(12)
    );
    let rank = |t: &str| if t.contains("compounding") { 0.9 } else { 0.1 };
    let kept = most_telling_part(&text, 160, &rank);
    assert!(kept.len() <= 160, "{kept}");
    assert!(kept.starts_with("You earn interest not\n"), "{kept}");
    assert!(kept.contains("because of compounding."), "{kept}");
    assert!(kept.ends_with("and more"), "{kept}");
    // A text within its share is kept as it is.
    assert_eq!(
        most_telling_part("Short one.  ", 160, &rank),
        "Short one.  "
    );
    // Three padded texts under one policy: each keeps its own share, none is pushed out.
    let p = both();
    let s = p.scoring.as_ref().unwrap();
    let mut e = Entry::new([0; 8]);
    for i in 0..3 {
        e.push_text(
            T0 + i,
            &format!("part{i}\n{}", "x y. ".repeat(100)),
            s,
            &unranked,
        );
    }
    let kept = e.recent_texts(T0 + 3, s);
    assert_eq!(kept.len(), 3);
    for (i, t) in kept.iter().enumerate() {
        assert!(t.starts_with(&format!("part{i}")), "{t}");
    }
}

#[test]
fn a_replayed_or_stale_inbound_message_restarts_nothing() {
    let p = both();
    assert_eq!(p.inbound_max_age_nanos, 300 * SECOND);
    let b = p.budget.clone().unwrap();
    let mut store = MemoryStore::default();
    let key = conversation_key(&p, "s", "1", "34612345678").unwrap();
    let count = |store: &MemoryStore, now| read(store, &key, &p, now).unwrap().entry.unanswered;
    let message = |timestamp| Inbound {
        phone_number_id: "1".into(),
        from: "34612345678".into(),
        timestamp,
        id: Some(format!("wamid.{timestamp:?}")),
        user_ids: Vec::new(),
    };
    // The recipient writes at T0 + 10 s, then the bot sends three times.
    let reply = [message(Some(T0 / SECOND + 10))];
    let report = record_inbound(&mut store, &p, "s", &reply, T0 + 11 * SECOND);
    assert_eq!(report.recorded, 1);
    for i in 0..3 {
        let now = T0 + (20 + i) * SECOND;
        update(&mut store, &key, &p, now, &mut |e| e.count_send(now, &b)).unwrap();
    }
    // The same signed delivery, replayed after those sends: no reset.
    let now = T0 + 30 * SECOND;
    let report = record_inbound(&mut store, &p, "s", &reply, now);
    assert_eq!((report.recorded, report.replayed), (0, 1));
    assert_eq!(count(&store, now), 3);
    assert!(
        report
            .metrics()
            .contains(&(format!("{INBOUND_METRIC}.result.replayed"), 1))
    );
    // Older than five minutes, from the future, or without a timestamp: ignored as stale.
    for stale in [
        Some(T0 / SECOND + 30 - 301),
        Some(T0 / SECOND + 30 + 301),
        None,
    ] {
        let report = record_inbound(&mut store, &p, "s", &[message(stale)], now);
        assert_eq!((report.recorded, report.stale), (0, 1), "{stale:?}");
        assert_eq!(count(&store, now), 3);
    }
    // A new message, written after the last send: the count starts again.
    let report = record_inbound(&mut store, &p, "s", &[message(Some(T0 / SECOND + 29))], now);
    assert_eq!(report.recorded, 1);
    assert_eq!(count(&store, now), 0);
}

#[test]
fn a_section_whose_bound_is_too_large_is_refused() {
    let refused = |json: &str| ConversationPolicy::compile(&section(json)).unwrap_err();
    // One slot of 64 conversations with 16 KiB of text each: over 64 KiB a value.
    let big_value = refused(
        r#"{"slots": 1, "entries_per_slot": 64, "scoring": {"max_texts": 16, "max_text_bytes": 16384}}"#,
    );
    assert_eq!(big_value.len(), 1, "{big_value:?}");
    assert!(big_value[0].1.contains("more than 65536"), "{big_value:?}");
    // Slots of just under 64 KiB each, 65,536 of them: over 256 MiB in all.
    let big_state = refused(
        r#"{"slots": 65536, "entries_per_slot": 3, "scoring": {"max_texts": 16, "max_text_bytes": 16384}}"#,
    );
    assert_eq!(big_state.len(), 1, "{big_state:?}");
    assert!(
        big_state[0].1.contains("more than 268435456"),
        "{big_state:?}"
    );
    // The largest that fits is loaded and keeps its bounds.
    let p = policy(
        r#"{"slots": 4096, "entries_per_slot": 3, "scoring": {"max_texts": 16, "max_text_bytes": 16384}}"#,
    );
    assert!(p.max_value_bytes() <= MAX_VALUE_BYTES);
    assert!(p.max_bytes() <= MAX_STATE_BYTES);
    // The defaults are far under both.
    let d = policy(r#"{"scoring": {}, "unanswered_budget": {"max_unanswered": 3}}"#);
    assert_eq!(d.max_value_bytes(), 2 + 8 * (126 + 4 * 10 + 1536));
    // The figures of the reference: keys included (`wa-guard/conv/<8 hex>/1023`, 27 bytes).
    assert_eq!(d.slot_key(1023).len(), 27);
    // The links of numbers and user ids: `wa-guard/alias/<8 hex>/1023`, 28 bytes, and 8 links
    // of 28 bytes a key.
    assert_eq!(d.alias_slot_key(1023).len(), 28);
    let links = 1024 * (28 + 2 + 8 * 28);
    assert_eq!(links, 260_096);
    assert_eq!(d.max_bytes(), 1024 * (27 + 13_618) + links);
    assert_eq!(d.max_bytes(), 14_232_576);
    let budget_only = policy(r#"{"unanswered_budget": {"max_unanswered": 3}}"#);
    assert_eq!(budget_only.max_bytes(), 1024 * (27 + 2 + 8 * 126) + links);
    assert_eq!(budget_only.max_bytes(), 1_321_984);
}

/// Two `conversation` sections with different layouts on one `vm_id` (two listeners) keep their
/// slots under different keys, so neither decodes, evicts or overwrites the other's; the same
/// layout shares them.
#[test]
fn sections_laid_out_differently_never_share_a_key() {
    let a = policy(
        r#"{"slots": 16, "entries_per_slot": 4, "unanswered_budget": {"max_unanswered": 3}}"#,
    );
    let b = policy(
        r#"{"slots": 16, "entries_per_slot": 2, "unanswered_budget": {"max_unanswered": 3}}"#,
    );
    let c = policy(
        r#"{"slots": 16, "entries_per_slot": 4, "unanswered_budget": {"max_unanswered": 9}}"#,
    );
    let texts = policy(
        r#"{"slots": 16, "entries_per_slot": 4, "scoring": {}, "unanswered_budget": {"max_unanswered": 3}}"#,
    );
    assert_eq!(a.layout.len(), 8);
    assert_ne!(a.layout, b.layout);
    assert_ne!(a.layout, texts.layout);
    assert_eq!(a.layout, c.layout, "a budget's cap is no layout");
    let (ba, bb) = (a.budget.clone().unwrap(), b.budget.clone().unwrap());
    let mut store = MemoryStore::default();
    let ka = conversation_key(&a, "s", "1", "34612345678").unwrap();
    let kb = conversation_key(&b, "s", "1", "34612345678").unwrap();
    assert_ne!(ka.slot_key, kb.slot_key);
    update(&mut store, &ka, &a, T0, &mut |e| e.count_send(T0, &ba)).unwrap();
    update(&mut store, &kb, &b, T0, &mut |e| e.count_send(T0, &bb)).unwrap();
    update(&mut store, &ka, &a, T0, &mut |e| e.count_send(T0, &ba)).unwrap();
    assert_eq!(read(&store, &ka, &a, T0).unwrap().entry.unanswered, 2);
    assert_eq!(read(&store, &kb, &b, T0).unwrap().entry.unanswered, 1);
}

#[test]
fn sender_ids_are_compared_as_provider_readers_give_them() {
    use crate::whatsapp::providers::Provider;
    let p = policy(
        r#"{"unanswered_budget": {"max_unanswered": 1},
            "sender_ids": {"whatsapp:+1 (415) 555-0100": "0106540352240000",
                           "MG0123abcd": "106540352240000"}}"#,
    );
    let graph = "106540352240000";
    // Twilio's reader gives `From` as `+` and digits; Vonage's as digits; a Messaging Service
    // SID as written.
    for sender in ["+14155550100", "14155550100", "MG0123abcd", "mg0123ABCD"] {
        assert_eq!(
            p.sender_ids.keyed(Provider::Twilio, sender),
            graph,
            "{sender}"
        );
    }
    assert_eq!(p.sender_ids.keyed(Provider::Vonage, "14155550100"), graph);
    // Unmapped: its own id, as before. A Cloud API send names its Graph id and is never mapped.
    assert_eq!(
        p.sender_ids.keyed(Provider::Twilio, "+14155550199"),
        "+14155550199"
    );
    assert_eq!(
        p.sender_ids.keyed(Provider::CloudApi, "14155550100"),
        "14155550100"
    );
    // So both ids of the number key one conversation, the one its webhooks name.
    let keyed = |sender: &str| {
        conversation_key(
            &p,
            "s1",
            p.sender_ids.keyed(Provider::Twilio, sender),
            "34612345678",
        )
    };
    assert_eq!(keyed("+14155550100"), keyed("MG0123abcd"));
    assert_eq!(
        keyed("+14155550100"),
        conversation_key(&p, "s1", graph, "34612345678")
    );
    assert!(policy(r#"{"scoring": {}}"#).sender_ids.is_empty());
}

#[test]
fn sender_ids_that_cannot_apply_or_name_no_graph_id_are_refused_with_their_paths() {
    let err = ConversationPolicy::compile(&section(
        r#"{"unanswered_budget": {"max_unanswered": 1},
            "sender_ids": {"": "106", "whatsapp:": "106", "+1 415\t555": "106",
                           "MG01": "", "MG02": "+106", "MG03": "1O6",
                           "+1 (415) 555-0100": "107", "whatsapp:+14155550100": "106",
                           "whatsapp:+14155550111": "0107", "+14155550111": "107"}}"#,
    ))
    .unwrap_err();
    let paths: Vec<&str> = err.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        [
            "$.conversation.sender_ids.",
            "$.conversation.sender_ids.+1 415\t555",
            "$.conversation.sender_ids.MG01",
            "$.conversation.sender_ids.MG02",
            "$.conversation.sender_ids.MG03",
            "$.conversation.sender_ids.whatsapp:",
            "$.conversation.sender_ids.whatsapp:+14155550100",
        ],
        "{err:?}"
    );
    let message = |path: &str| {
        err.iter()
            .find(|(p, _)| p == path)
            .map(|(_, m)| m.as_str())
            .unwrap()
    };
    assert!(message("$.conversation.sender_ids.").contains("empty sender id"));
    assert!(
        message("$.conversation.sender_ids.MG03").contains("`1O6` is not a Graph phone-number id")
    );
    assert!(
        message("$.conversation.sender_ids.whatsapp:+14155550100").contains("`+1 (415) 555-0100`"),
        "{err:?}"
    );
}

/// Review finding 5 of issue 16: `to` is read as the shapes Meta takes, a phone number or a
/// business-scoped user id. Every spelling of one number is one conversation; anything else is
/// no address (a send to it is refused by the flow, not given a fresh budget).
#[test]
fn every_spelling_of_a_number_is_one_address_and_other_shapes_are_none() {
    let number = Address::Number("34600123456".into());
    for spelling in [
        "+34 600 123 456",
        "0034600123456",
        "34600123456",
        "+34-600-123-456",
        "+34 (600) 123-456",
        "(+34) 600.123.456",
        "00 34 600 123 456",
        " +34600123456\u{200b}",
    ] {
        assert_eq!(address(spelling), Ok(number.clone()), "{spelling}");
    }
    let user = Address::UserId("us13491208655302741918".into());
    assert_eq!(address("US.13491208655302741918"), Ok(user.clone()));
    assert_eq!(address("us.13491208655302741918"), Ok(user));
    assert_eq!(
        address("US.ENT.11815799212886844830"),
        Ok(Address::UserId("usent11815799212886844830".into()))
    );
    for invalid in [
        "34600123456x",
        "x34600123456",
        "34#600123456",
        "whatsapp:+34600123456",
        "+34+600123456",
        "34600123456+",
        "hello",
        "123456",
        "1234567890123456",
        "00",
        " + ",
        "US.",
        "USA.1349",
        "U.S.1349",
        "US.13-49",
        "US.ENT.",
        "120363044447777777@g.us",
        "Y2FwaV9ncm91cDoxNzA1NTU1MDEzOToxMjAzNjM0MDQ2OTQyMzM4MjAZD",
    ] {
        assert_eq!(
            address(invalid),
            Err(StateFailure::InvalidRecipient),
            "{invalid}"
        );
        assert_eq!(recipient_key(invalid), None, "{invalid}");
    }
    assert_eq!(
        address(&format!("US.{}", "1".repeat(128))).map(|a| a.key().len()),
        Ok(130)
    );
    assert_eq!(
        address(&format!("US.{}", "1".repeat(129))),
        Err(StateFailure::InvalidRecipient)
    );
    assert_eq!(
        address("７４600123456"),
        Err(StateFailure::UnreadableRecipient)
    );
    assert_eq!(StateFailure::InvalidRecipient.as_str(), "invalid_recipient");
}

/// Review finding 4 of issue 16: a link keeps a user id's sends in its number's conversation,
/// per business number, for [`ALIAS_TTL_NANOS`] after the delivery that last named it.
#[test]
fn a_link_leads_a_user_id_to_its_numbers_conversation_until_it_expires() {
    let p = both();
    let mut store = MemoryStore::default();
    let number = address("34612345678").unwrap();
    let user = address("US.13491208655302741918").unwrap();
    let theirs = key_of(&p, "s", "106540352242922", &number);
    assert_eq!(
        resolve(&store, &p, "s", "106540352242922", &user, T0),
        Ok(None)
    );
    let done = link(&mut store, &p, "s", "106540352242922", &number, &user, T0).unwrap();
    assert_eq!(done, Linked::default());
    let resolved = |store: &MemoryStore, pnid: &str, salt: &str, now: u64| {
        resolve(store, &p, salt, pnid, &user, now).unwrap()
    };
    assert_eq!(
        resolved(&store, "106540352242922", "s", T0),
        Some(theirs.clone())
    );
    // The number as rules compare it (`0106...`), within its lifetime.
    assert_eq!(
        resolved(&store, "0106540352242922", "s", T0 + ALIAS_TTL_NANOS),
        Some(theirs.clone())
    );
    // Another business number, another salt: no link.
    assert_eq!(resolved(&store, "106540352242923", "s", T0), None);
    assert_eq!(resolved(&store, "106540352242922", "t", T0), None);
    // Past its lifetime it is forgotten, and a later delivery confirms it again.
    let later = T0 + ALIAS_TTL_NANOS + 1;
    assert_eq!(resolved(&store, "106540352242922", "s", later), None);
    link(
        &mut store,
        &p,
        "s",
        "106540352242922",
        &number,
        &user,
        later,
    )
    .unwrap();
    assert_eq!(
        resolved(&store, "106540352242922", "s", later),
        Some(theirs)
    );
    // The value holds hashes, never the number or the user id.
    for (key, value) in [p.alias_slot_key(0), p.alias_slot_key(15)]
        .iter()
        .filter_map(|k| store.get(k).map(|v| (k.clone(), v.0)))
    {
        assert!(key.starts_with(ALIAS_KEY_PREFIX), "{key}");
        let text = String::from_utf8_lossy(&value);
        assert!(!text.contains("612") && !text.contains("1349"), "{text}");
    }
}

#[test]
fn a_full_link_key_forgets_its_least_recently_confirmed_link() {
    let p = both();
    let mut store = MemoryStore::default();
    let number = address("34612345678").unwrap();
    // Users whose links share a key.
    let first = address("US.1").unwrap();
    let (_, slot) = keyed_hash(&p, "alias", "s", "1", first.key());
    let mut same: Vec<Address> = vec![first];
    for i in 2..10_000 {
        let u = address(&format!("US.{i}")).unwrap();
        if keyed_hash(&p, "alias", "s", "1", u.key()).1 == slot {
            same.push(u);
        }
        if same.len() > p.entries_per_slot {
            break;
        }
    }
    assert_eq!(same.len(), p.entries_per_slot + 1);
    for (i, u) in same.iter().enumerate() {
        let done = link(&mut store, &p, "s", "1", &number, u, T0 + i as u64).unwrap();
        let evicted = usize::from(i == p.entries_per_slot);
        assert_eq!(done.evicted, evicted, "link {i}");
    }
    let known = |u: &Address| {
        resolve(&store, &p, "s", "1", u, T0 + 100)
            .unwrap()
            .is_some()
    };
    assert!(
        !known(&same[0]),
        "the least recently confirmed is forgotten"
    );
    assert!(same[1..].iter().all(known));
    let (bytes, _) = store.get(&p.alias_slot_key(slot)).unwrap();
    assert_eq!(bytes.len(), alias::max_value_bytes(&p));
}

#[test]
fn a_link_slot_that_cannot_be_read_fails_and_garbage_reads_as_no_link() {
    let p = both();
    let number = address("34612345678").unwrap();
    let user = address("US.1").unwrap();
    assert_eq!(
        link(&mut NoStore, &p, "s", "1", &number, &user, T0),
        Err(StateFailure::StoreFailed)
    );
    assert_eq!(
        resolve(&NoStore, &p, "s", "1", &user, T0),
        Err(StoreError::Failed)
    );
    let mut store = MemoryStore::default();
    let (_, slot) = keyed_hash(&p, "alias", "s", "1", user.key());
    let key = p.alias_slot_key(slot);
    for garbage in [&b""[..], b"\x01", b"\x02\x00", b"\x01\x01short"] {
        store.set(&key, garbage, None).unwrap();
        assert_eq!(resolve(&store, &p, "s", "1", &user, T0), Ok(None));
    }
    // A link naming a conversation slot outside the policy's is not one this code wrote.
    link(&mut store, &p, "s", "1", &number, &user, T0).unwrap();
    let (mut bytes, _) = store.get(&key).unwrap();
    let slot_at = 2 + 8 + 8;
    bytes[slot_at..slot_at + 4].copy_from_slice(&p.slots.to_be_bytes());
    store.set(&key, &bytes, None).unwrap();
    assert_eq!(resolve(&store, &p, "s", "1", &user, T0), Ok(None));
}

/// A delivery naming a sender's number and user id links them; one naming the user id alone,
/// or an id of no known shape, links nothing.
#[test]
fn a_delivery_naming_a_number_and_a_user_id_links_them() {
    let p = both();
    let delivery = |messages: serde_json::Value, contacts: serde_json::Value| {
        let body = serde_json::json!({"entry": [{"changes": [{"value": {
            "metadata": {"phone_number_id": "1"}, "contacts": contacts, "messages": messages}}]}]});
        inbound_messages(body.to_string().as_bytes())
    };
    let ts = (T0 / SECOND).to_string();
    let user = address("US.77").unwrap();
    let shapes = [
        delivery(
            serde_json::json!([{"from": "34612345678", "from_user_id": "US.77", "timestamp": ts}]),
            serde_json::json!([]),
        ),
        delivery(
            serde_json::json!([{"from": "34612345678", "timestamp": ts}]),
            serde_json::json!([{"wa_id": "34612345678", "user_id": "US.77"}]),
        ),
        delivery(
            serde_json::json!([{"from_user_id": "US.77", "timestamp": ts}]),
            serde_json::json!([{"wa_id": "34612345678", "user_id": "US.77"}]),
        ),
    ];
    for found in shapes {
        assert_eq!(found[0].from, "34612345678", "{found:?}");
        assert_eq!(found[0].user_ids, ["US.77"], "{found:?}");
        let mut store = MemoryStore::default();
        let report = record_inbound(&mut store, &p, "s", &found, T0);
        assert_eq!(report.linked, 1, "{report:?}");
        assert!(
            report
                .metrics()
                .contains(&(format!("{INBOUND_METRIC}.result.linked"), 1))
        );
        let number = address("34612345678").unwrap();
        assert_eq!(
            resolve(&store, &p, "s", "1", &user, T0).unwrap(),
            Some(key_of(&p, "s", "1", &number))
        );
    }
    for (messages, contacts) in [
        (
            serde_json::json!([{"from_user_id": "US.77", "timestamp": ts}]),
            serde_json::json!([]),
        ),
        (
            serde_json::json!([{"from": "34612345678", "from_user_id": "not an id", "timestamp": ts}]),
            serde_json::json!([]),
        ),
    ] {
        let found = delivery(messages, contacts);
        let mut store = MemoryStore::default();
        let report = record_inbound(&mut store, &p, "s", &found, T0);
        assert_eq!(report.linked, 0, "{found:?}");
        assert_eq!(resolve(&store, &p, "s", "1", &user, T0), Ok(None));
    }
}
