//! Files uploaded in parts (OpenAI Uploads): parts cut at arbitrary bytes are judged as one
//! file, never stripped, and `/complete` only goes through for the parts judged, in order.
//! Each request runs through the native engine as Envoy drives it, with one shared store.

#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::too_many_arguments,
    reason = "test helpers outside #[test] functions; the policy is patched as JSON"
)]

use wa_egress_guard::cases::drive_body;
use wa_egress_guard::flow::{HeadersStep, RequestFlow, RequestHead, ResponseStep};
use wa_egress_guard::identity::StaticAttributes;
use wa_egress_guard::policy::Policy;
use wa_egress_guard::training::parts::{self, MemoryStore, SharedStore};

fn policy(mode: &str) -> Policy {
    let text = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../policies/examples/demo.json"
    ))
    .expect("the demo policy");
    let mut doc: serde_json::Value = serde_json::from_slice(&text).expect("JSON");
    doc["mode"] = mode.into();
    doc["training"]["mode"] = mode.into();
    doc["training"]["endpoints"] = serde_json::json!([
        {"id": "openai-uploads", "hosts": ["api.openai.com"], "paths": ["/v1/uploads"]},
        {"id": "openai-upload-parts", "hosts": ["api.openai.com"],
         "paths": ["/v1/uploads/*/parts"], "format": "upload_part"},
        {"id": "openai-upload-complete", "hosts": ["api.openai.com"],
         "paths": ["/v1/uploads/*/complete"], "format": "upload_complete"}
    ]);
    if let Some(t) = doc["training"].as_object_mut() {
        t.remove("exclusive");
    }
    Policy::from_json(doc.to_string().as_bytes()).expect("the test policy compiles")
}

/// What one request came to.
#[derive(Debug)]
struct Sent {
    status: u32,
    forwarded: Option<Vec<u8>>,
    decision: String,
    problem: Option<String>,
}

/// Sends one request; the upstream answers `status` with `{"id": part_id}`.
fn send(
    policy: &Policy,
    store: &mut MemoryStore,
    path: &str,
    content_type: &str,
    body: &[u8],
    chunk: usize,
    status: u32,
    part_id: &str,
) -> Sent {
    let head = RequestHead {
        method: "POST".into(),
        authority: "api.openai.com".into(),
        path: path.into(),
        content_type: Some(content_type.into()),
        request_id: Some("t".into()),
        end_of_stream: body.is_empty(),
        ..RequestHead::default()
    };
    let (mut flow, step) =
        RequestFlow::on_request_headers(policy, &head, &StaticAttributes::new(), store);
    let result = match step {
        HeadersStep::Respond(r) => Err(r),
        _ => drive_body(&mut flow, policy, body.chunks(chunk.max(1)), false),
    };
    let (status, forwarded) = match result {
        Ok(forwarded) => {
            if flow.on_response_headers(store, status) == ResponseStep::ReadBody {
                let answer = format!(r#"{{"id":"{part_id}","object":"upload.part"}}"#);
                flow.on_response_body(store, Some(answer.as_bytes()));
            }
            (status, Some(forwarded))
        }
        Err(reply) => {
            flow.on_response_headers(store, reply.status);
            (reply.status, None)
        }
    };
    let outcome = flow.training_outcome().expect("an upload outcome");
    Sent {
        status,
        forwarded,
        decision: outcome.verdict.as_str().to_owned(),
        problem: outcome.problem.map(str::to_owned),
    }
}

/// A part's request body as the OpenAI SDK sends it.
fn part_body(data: &[u8]) -> Vec<u8> {
    let mut b = b"--b\r\nContent-Disposition: form-data; name=\"data\"; filename=\"upload\"\r\nContent-Type: application/octet-stream\r\n\r\n".to_vec();
    b.extend_from_slice(data);
    b.extend_from_slice(b"\r\n--b--\r\n");
    b
}

fn send_part(
    policy: &Policy,
    store: &mut MemoryStore,
    upload: &str,
    data: &[u8],
    id: &str,
) -> Sent {
    send_part_with(policy, store, upload, data, id, 200)
}

fn send_part_with(
    policy: &Policy,
    store: &mut MemoryStore,
    upload: &str,
    data: &[u8],
    id: &str,
    status: u32,
) -> Sent {
    let body = part_body(data);
    let sent = send(
        policy,
        store,
        &format!("/v1/uploads/{upload}/parts"),
        "multipart/form-data; boundary=b",
        &body,
        7,
        status,
        id,
    );
    if let Some(f) = &sent.forwarded {
        assert_eq!(f, &body, "a part is forwarded byte for byte or not at all");
    }
    sent
}

fn complete(policy: &Policy, store: &mut MemoryStore, upload: &str, ids: &[&str]) -> Sent {
    let body = serde_json::json!({ "part_ids": ids }).to_string();
    let sent = send(
        policy,
        store,
        &format!("/v1/uploads/{upload}/complete"),
        "application/json",
        body.as_bytes(),
        body.len(),
        200,
        "",
    );
    if let Some(f) = &sent.forwarded {
        assert_eq!(f, body.as_bytes());
    }
    sent
}

const WHATSAPP: &str = r#"{"messages":[{"role":"user","content":"hola, ¿dónde está mi pedido?"},{"role":"assistant","content":"En camino"}],"meta":{"message_id":"wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQz"}}"#;

/// A clean JSONL file of `n` records, with accents and emoji so cuts land inside characters.
fn clean_file(n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                "{{\"messages\":[{{\"role\":\"user\",\"content\":\"Où est ma commande n° {i} ? 📦\"}},{{\"role\":\"assistant\",\"content\":\"Elle arrive demain, numéro de suivi FR{i:06}.\"}}]}}\n"
            )
        })
        .collect()
}

/// Cuts `file` at `cuts` and uploads the parts in order; returns each part's outcome.
fn upload_in_parts(
    policy: &Policy,
    store: &mut MemoryStore,
    upload: &str,
    file: &[u8],
    cuts: &[usize],
) -> Vec<Sent> {
    let mut bounds = vec![0];
    bounds.extend_from_slice(cuts);
    bounds.push(file.len());
    bounds
        .windows(2)
        .enumerate()
        .map(|(i, w)| {
            send_part(
                policy,
                store,
                upload,
                &file[w[0]..w[1]],
                &format!("part_{i}"),
            )
        })
        .collect()
}

#[test]
fn a_clean_file_cut_anywhere_goes_through_byte_for_byte() {
    let p = policy("enforce");
    let file = clean_file(40);
    let bytes = file.as_bytes();
    // Cuts inside records, inside multi-byte characters, right after a newline and right
    // before one.
    let nl = bytes.iter().position(|b| *b == b'\n').expect("a newline");
    let emoji = file.find('📦').expect("an emoji") + 2;
    for (n, cuts) in [
        vec![101, 777, 2023],
        vec![emoji, nl, nl + 1],
        vec![nl + 1, 2 * nl + 2],
        vec![1, 2, 3, bytes.len() - 1],
    ]
    .into_iter()
    .map(|mut c| {
        c.sort_unstable();
        c.dedup();
        c
    })
    .enumerate()
    {
        let mut store = MemoryStore::default();
        let upload = format!("upload_{n}");
        let sent = upload_in_parts(&p, &mut store, &upload, bytes, &cuts);
        for (i, s) in sent.iter().enumerate() {
            assert_eq!(s.status, 200, "cuts {cuts:?}, part {i}: {s:?}");
            assert_eq!(s.decision, "forward", "cuts {cuts:?}, part {i}");
        }
        let ids: Vec<String> = (0..sent.len()).map(|i| format!("part_{i}")).collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let done = complete(&p, &mut store, &upload, &ids);
        assert_eq!(done.status, 200, "cuts {cuts:?}: {done:?}");
        // The upload's state is gone once it is complete.
        assert!(
            store
                .get(&parts::state_key(&upload))
                .is_none_or(|(v, _)| v.is_empty())
        );
    }
}

#[test]
fn a_whatsapp_record_split_across_two_parts_refuses_the_part_that_completes_it() {
    let p = policy("enforce");
    let file = format!("{}{WHATSAPP}\n{}", clean_file(3), clean_file(2));
    let at = file.find("wamid").expect("the marker") + 3; // inside `wamid`
    let mut store = MemoryStore::default();
    let first = send_part(&p, &mut store, "upload_x", &file.as_bytes()[..at], "part_0");
    assert_eq!(first.status, 200, "{first:?}");
    let second = send_part(&p, &mut store, "upload_x", &file.as_bytes()[at..], "part_1");
    assert_eq!(second.status, 403, "{second:?}");
    assert_eq!(second.decision, "block");
    assert_eq!(second.problem.as_deref(), Some("whatsapp_records_in_part"));
    // The refused part was never added, so completing with it is refused too.
    let done = complete(&p, &mut store, "upload_x", &["part_0", "part_1"]);
    assert_eq!(done.status, 403, "{done:?}");
    assert_eq!(done.problem.as_deref(), Some("upload_parts_out_of_order"));
}

#[test]
fn a_whatsapp_record_inside_a_part_or_ending_the_file_refuses_that_part() {
    let p = policy("enforce");
    let mut store = MemoryStore::default();
    let inside = format!("{}{WHATSAPP}\n{}", clean_file(2), clean_file(1));
    let sent = send_part(&p, &mut store, "upload_a", inside.as_bytes(), "part_0");
    assert_eq!(sent.status, 403, "{sent:?}");
    // The last record of the file, without a final newline: judged whole in the last part.
    let mut store = MemoryStore::default();
    let last = format!("{}{WHATSAPP}", clean_file(2));
    let cut = last.len() / 2;
    let first = send_part(
        &p,
        &mut store,
        "upload_b",
        &last.as_bytes()[..cut],
        "part_0",
    );
    assert_eq!(first.status, 200, "{first:?}");
    let second = send_part(
        &p,
        &mut store,
        "upload_b",
        &last.as_bytes()[cut..],
        "part_1",
    );
    assert_eq!(second.status, 403, "{second:?}");
    assert_eq!(second.problem.as_deref(), Some("whatsapp_records_in_part"));
}

#[test]
fn complete_refuses_parts_it_did_not_judge_or_in_another_order() {
    let p = policy("enforce");
    let file = clean_file(10);
    let mut store = MemoryStore::default();
    upload_in_parts(&p, &mut store, "upload_o", file.as_bytes(), &[300, 900]);
    for ids in [
        vec!["part_1", "part_0", "part_2"],
        vec!["part_0", "part_2"],
        vec!["part_0", "part_1", "part_2", "part_9"],
    ] {
        let done = complete(&p, &mut store, "upload_o", &ids);
        assert_eq!(done.status, 403, "{ids:?}: {done:?}");
        assert_eq!(done.problem.as_deref(), Some("upload_parts_out_of_order"));
    }
    // An upload whose parts went through another proxy (no state here).
    let done = complete(&p, &mut store, "upload_elsewhere", &["part_0"]);
    assert_eq!(done.problem.as_deref(), Some("upload_parts_not_seen"));
    // The right order still completes.
    let done = complete(&p, &mut store, "upload_o", &["part_0", "part_1", "part_2"]);
    assert_eq!(done.status, 200, "{done:?}");
}

/// The reordering attack: a part's tail and another part's head are each harmless where
/// they were judged, but `/complete` assembles them in another order into a WhatsApp record.
#[test]
fn parts_cannot_be_reassembled_in_an_order_other_than_the_one_judged() {
    let p = policy("enforce");
    let mut store = MemoryStore::default();
    // Judged in upload order: A's tail + B's head is a clean record.
    let a = format!("{}{{\"wa_id\":\"15551234567\",\"note\":\"", clean_file(1));
    let b = "x\"}\n".to_owned();
    let first = send_part(&p, &mut store, "upload_r", a.as_bytes(), "part_a");
    let second = send_part(&p, &mut store, "upload_r", b.as_bytes(), "part_b");
    // A's tail with B's head is `{"wa_id":...,"note":"x"}`: WhatsApp-derived, refused.
    assert_eq!(first.status, 200, "{first:?}");
    assert_eq!(second.status, 403, "{second:?}");
    let done = complete(&p, &mut store, "upload_r", &["part_b", "part_a"]);
    assert_eq!(done.status, 403, "{done:?}");
}

#[test]
fn parts_judged_concurrently_break_the_chain_and_complete_is_refused() {
    let p = policy("enforce");
    let mut store = MemoryStore::default();
    let file = clean_file(6);
    send_part(
        &p,
        &mut store,
        "upload_c",
        &file.as_bytes()[..200],
        "part_0",
    );
    // Two parts start from the same state; the second to commit finds it changed.
    let head = RequestHead {
        method: "POST".into(),
        authority: "api.openai.com".into(),
        path: "/v1/uploads/upload_c/parts".into(),
        content_type: Some("multipart/form-data; boundary=b".into()),
        ..RequestHead::default()
    };
    let attrs = StaticAttributes::new();
    let body_1 = part_body(&file.as_bytes()[200..400]);
    let body_2 = part_body(&file.as_bytes()[400..]);
    let (mut one, _) = RequestFlow::on_request_headers(&p, &head, &attrs, &store);
    let (mut two, _) = RequestFlow::on_request_headers(&p, &head, &attrs, &store);
    drive_body(&mut one, &p, [body_1.as_slice()], false).expect("part 1 goes through");
    let _ = drive_body(&mut two, &p, [body_2.as_slice()], false);
    assert_eq!(
        one.on_response_headers(&mut store, 200),
        ResponseStep::ReadBody
    );
    one.on_response_body(&mut store, Some(br#"{"id":"part_1"}"#));
    if two.on_response_headers(&mut store, 200) == ResponseStep::ReadBody {
        two.on_response_body(&mut store, Some(br#"{"id":"part_2"}"#));
    }
    let done = complete(&p, &mut store, "upload_c", &["part_0", "part_1", "part_2"]);
    assert_eq!(done.status, 403, "{done:?}");
    assert_eq!(done.problem.as_deref(), Some("upload_parts_concurrent"));
    // A later part is refused at once.
    let late = send_part(&p, &mut store, "upload_c", b"{}\n", "part_3");
    assert_eq!(late.status, 403, "{late:?}");
    assert_eq!(late.problem.as_deref(), Some("upload_parts_concurrent"));
}

#[test]
fn a_part_the_upstream_refused_is_not_joined_and_its_retry_is() {
    let p = policy("enforce");
    let mut store = MemoryStore::default();
    let file = clean_file(5);
    let (a, b) = file.as_bytes().split_at(333);
    send_part(&p, &mut store, "upload_t", a, "part_0");
    let failed = send_part_with(&p, &mut store, "upload_t", b, "part_x", 500);
    assert_eq!(
        failed.forwarded.as_deref().map(<[u8]>::len),
        Some(part_body(b).len())
    );
    let retried = send_part(&p, &mut store, "upload_t", b, "part_1");
    assert_eq!(retried.status, 200, "{retried:?}");
    let done = complete(&p, &mut store, "upload_t", &["part_0", "part_1"]);
    assert_eq!(done.status, 200, "{done:?}");
}

#[test]
fn the_oldest_upload_state_is_evicted_and_its_completion_refused() {
    let p = policy("enforce");
    let mut store = MemoryStore::default();
    for i in 0..=parts::MAX_UPLOADS {
        send_part(
            &p,
            &mut store,
            &format!("upload_{i}"),
            b"{\"a\":1}\n",
            "part_0",
        );
    }
    let evicted = complete(&p, &mut store, "upload_0", &["part_0"]);
    assert_eq!(evicted.problem.as_deref(), Some("upload_parts_not_seen"));
    let kept = complete(&p, &mut store, "upload_1", &["part_0"]);
    assert_eq!(kept.status, 200, "{kept:?}");
}

#[test]
fn a_record_longer_than_the_carry_limit_across_parts_is_refused() {
    let p = policy("enforce");
    let mut store = MemoryStore::default();
    let long = format!(
        "{{\"messages\":[{{\"role\":\"user\",\"content\":\"{}\"}}]}}\n",
        "a".repeat(parts::MAX_TAIL_BYTES + 10)
    );
    let sent = send_part(
        &p,
        &mut store,
        "upload_l",
        &long.as_bytes()[..parts::MAX_TAIL_BYTES + 20],
        "part_0",
    );
    assert_eq!(sent.status, 403, "{sent:?}");
    assert_eq!(sent.problem.as_deref(), Some("record_too_large"));
}

#[test]
fn audit_mode_lets_a_whatsapp_part_through_and_says_so() {
    let p = policy("audit");
    let mut store = MemoryStore::default();
    let inside = format!("{}{WHATSAPP}\n", clean_file(1));
    let sent = send_part(&p, &mut store, "upload_audit", inside.as_bytes(), "part_0");
    assert_eq!(sent.status, 200, "{sent:?}");
    assert_eq!(sent.decision, "audit");
}

#[test]
fn a_whatsapp_part_is_refused_even_where_uninspectable_bodies_are_allowed() {
    // `on_uninspectable: allow` forgives a body the guard cannot read; a part found to hold a
    // WhatsApp record is a finding, and went through before (the stripper's bypass took it).
    let raw = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../policies/examples/demo.json"
    ))
    .expect("the demo policy");
    let mut doc: serde_json::Value = serde_json::from_slice(&raw).expect("JSON");
    doc["mode"] = "enforce".into();
    doc["training"]["mode"] = "enforce".into();
    doc["training"]["on_uninspectable"] = "allow".into();
    doc["training"]["endpoints"] = serde_json::json!([
        {"id": "openai-upload-parts", "hosts": ["api.openai.com"],
         "paths": ["/v1/uploads/*/parts"], "format": "upload_part"}
    ]);
    if let Some(t) = doc["training"].as_object_mut() {
        t.remove("exclusive");
    }
    let p = Policy::from_json(doc.to_string().as_bytes()).expect("the test policy compiles");
    let mut store = MemoryStore::default();
    let inside = format!("{}{WHATSAPP}\n{}", clean_file(2), clean_file(1));
    let sent = send_part(&p, &mut store, "upload_u", inside.as_bytes(), "part_0");
    assert_eq!(sent.status, 403, "{sent:?}");
    assert_eq!(sent.problem.as_deref(), Some("whatsapp_records_in_part"));
}
