//! WhatsApp sends through the flow: which sends lose their `content-length` for a hand-off,
//! the rewrite itself, and a body the host fails to hand over.

use crate::decide;
use crate::flow::tests::{head, policy};
use crate::flow::{BodyStep, HeadersStep, RequestFlow, RequestHead};
use crate::identity::StaticAttributes;
use crate::policy::Policy;
use crate::shared_store::MemoryStore;

/// A send that a hand-off may rewrite loses its `content-length` in the headers phase (the
/// only one where headers can change), so the rewritten body is framed by its own length;
/// every other send keeps its headers.
#[test]
fn only_a_send_that_may_be_handed_off_loses_its_content_length() {
    let p = policy();
    let h = head(
        "graph.facebook.com",
        "/v21.0/106540352240000/messages",
        "application/json",
    );
    let caller = |who: &str| {
        StaticAttributes::default().property(
            "connection.uri_san_peer_certificate",
            format!("spiffe://cluster.local/ns/{who}/sa/bot").as_bytes(),
        )
    };
    let store = MemoryStore::default();
    let (_, step) = RequestFlow::on_request_headers(&p, &h, &caller("concierge"), &store);
    assert_eq!(
        step,
        HeadersStep::InspectRewritable {
            remove_headers: vec!["content-length"]
        }
    );
    for who in ["support", "nobody"] {
        let (_, step) = RequestFlow::on_request_headers(&p, &h, &caller(who), &store);
        assert_eq!(step, HeadersStep::InspectBody, "{who}");
    }
    // A body that could not be rewritten anyway keeps its headers: gzip, a form.
    let gzip = RequestHead {
        content_encoding: Some("gzip".into()),
        ..h.clone()
    };
    let form = head(
        "graph.facebook.com",
        "/v21.0/106540352240000/messages",
        "application/x-www-form-urlencoded",
    );
    for h in [gzip, form] {
        let (_, step) = RequestFlow::on_request_headers(&p, &h, &caller("concierge"), &store);
        assert_eq!(step, HeadersStep::InspectBody);
    }
    // `identity` and an empty `content-encoding` are no encoding: rewritten, so their
    // `content-length` goes too (one test for both phases).
    for encoding in ["identity", "", " Identity , "] {
        let h = RequestHead {
            content_encoding: Some(encoding.into()),
            ..h.clone()
        };
        let (_, step) = RequestFlow::on_request_headers(&p, &h, &caller("concierge"), &store);
        assert!(
            matches!(step, HeadersStep::InspectRewritable { .. }),
            "{encoding:?}: {step:?}"
        );
    }
    // The rewrite replaces the whole buffered body at its end, once the host confirmed the
    // removal.
    let (mut flow, _) = RequestFlow::on_request_headers(&p, &h, &caller("concierge"), &store);
    flow.framing_removed();
    let body = br#"{"messaging_product":"whatsapp","to":"34612345678","type":"text","text":{"body":"Sure! A poem."}}"#;
    assert_eq!(
        flow.on_request_body(&p, 10, false, &mut |_| None),
        BodyStep::Pause
    );
    let step = flow.on_request_body(&p, body.len(), true, &mut |n| {
        body.get(..n).map(<[u8]>::to_vec)
    });
    let BodyStep::Replace(bytes) = step else {
        panic!("{step:?}");
    };
    let sent: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(sent["to"], "34612345678");
    assert_eq!(sent["type"], "text");
    assert!(
        sent["text"]["body"]
            .as_str()
            .unwrap()
            .starts_with("Nuestro asistente")
    );
    assert_eq!(
        flow.response_headers()[0],
        ("x-wa-guard-decision", "handoff".into())
    );
    // A host that kept `content-length` (no confirmation) cannot frame the rewrite:
    // blocked, not sent short.
    let (mut flow, _) = RequestFlow::on_request_headers(&p, &h, &caller("concierge"), &store);
    let step = flow.on_request_body(&p, body.len(), true, &mut |n| {
        body.get(..n).map(<[u8]>::to_vec)
    });
    assert!(
        matches!(step, BodyStep::Respond(ref r) if r.status == 403),
        "{step:?}"
    );
    assert_eq!(
        flow.decision().map(|d| d.reason),
        Some(decide::Reason::HandoffUnavailable)
    );
}

/// The content rule can hand a send off only where it is enforced and scores the caller:
/// elsewhere the send keeps its `content-length`.
#[test]
fn content_length_goes_only_where_the_content_rule_may_hand_off() {
    let h = head(
        "graph.facebook.com",
        "/v21.0/106540352240000/messages",
        "application/json",
    );
    let store = MemoryStore::default();
    let with = |content: &str, mode: &str| {
        let mut doc: serde_json::Value = serde_json::from_slice(
            &std::fs::read(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../policies/examples/demo.json"
            ))
            .unwrap(),
        )
        .unwrap();
        let c = doc["content"].as_object_mut().unwrap();
        c.insert("action".into(), "handoff".into());
        for (k, v) in serde_json::from_str::<serde_json::Map<_, _>>(content).unwrap() {
            c.insert(k, v);
        }
        doc["mode"] = mode.into();
        Policy::from_json(doc.to_string().as_bytes()).unwrap()
    };
    let caller = |who: &str| {
        StaticAttributes::default().property(
            "connection.uri_san_peer_certificate",
            format!("spiffe://cluster.local/ns/{who}/sa/bot").as_bytes(),
        )
    };
    let rewritable = |p: &Policy, who: &str| {
        let (_, step) = RequestFlow::on_request_headers(p, &h, &caller(who), &store);
        matches!(step, HeadersStep::InspectRewritable { .. })
    };
    // Enforced and scoring unknown callers: an unknown caller's send may be handed off, a
    // customer-service bot's is never scored.
    let p = with("{}", "enforce");
    assert!(rewritable(&p, "nobody"));
    assert!(!rewritable(&p, "support"));
    let p = with(r#"{"roles": ["unknown", "customer_service"]}"#, "enforce");
    assert!(rewritable(&p, "support"));
    // In audit (its own mode, or the policy's), nothing is rewritten.
    assert!(!rewritable(
        &with(r#"{"mode": "audit"}"#, "enforce"),
        "nobody"
    ));
    assert!(!rewritable(&with("{}", "audit"), "nobody"));
}

/// A WhatsApp body the host fails to hand over is an invalid body: refused.
#[test]
fn an_unreadable_send_body_is_refused() {
    let p = policy();
    let h = head(
        "graph.facebook.com",
        "/v21.0/106540352240000/messages",
        "application/json",
    );
    let (mut flow, step) = RequestFlow::on_request_headers(
        &p,
        &h,
        &StaticAttributes::default(),
        &MemoryStore::default(),
    );
    assert_eq!(step, HeadersStep::InspectBody);
    let step = flow.on_request_body(&p, 40, true, &mut |_| None);
    assert!(matches!(step, BodyStep::Respond(_)), "{step:?}");
    assert_eq!(
        flow.decision().map(|d| d.rule.as_str()),
        Some("invalid_body")
    );
}
