//! Headers, local replies and upstream effects of WhatsApp calls, against the real module.

use host_tests::{Chunking, Outcome};

use crate::support::*;

fn send_as(identity: &str, text: &str, chunking: Chunking) -> Outcome {
    let mut filter = demo_filter();
    filter
        .request()
        .method("POST")
        .authority("graph.facebook.com")
        .path(&format!("/v21.0/{SUPPORT_NUMBER}/messages"))
        .header("content-type", "application/json")
        .property("connection.uri_san_peer_certificate", identity)
        .body(text_message(text))
        .chunking(chunking)
        .send()
        .unwrap()
}

#[test]
fn an_allowed_call_reaches_the_upstream_unchanged_and_is_labelled_on_the_way_back() {
    let body = text_message("Your order 4411 has shipped and arrives Thursday.");
    let outcome = send_as(
        SUPPORT_BOT,
        "Your order 4411 has shipped and arrives Thursday.",
        Chunking::Whole,
    );
    assert!(outcome.reached_upstream(), "{outcome:#?}");
    assert!(outcome.local_response.is_none());
    assert_eq!(outcome.upstream.body, body);
    let forwarded = outcome.upstream.headers.as_ref().unwrap();
    assert_eq!(forwarded.get(":authority"), Some("graph.facebook.com"));
    assert_eq!(
        forwarded.get("content-length"),
        Some(body.len().to_string().as_str())
    );
    assert_eq!(outcome.status(), Some(200));
    assert_eq!(
        outcome.response_header("x-wa-guard-decision"),
        Some("allow")
    );
    assert_eq!(
        outcome.response_header("x-wa-guard-rule"),
        Some("support-bots")
    );
}

#[test]
fn a_blocked_call_gets_a_graph_shaped_403_and_never_reaches_the_upstream() {
    let outcome = send_as(LAB_BOT, "Hello!", Chunking::Whole);
    assert!(outcome.blocked());
    assert!(!outcome.reached_upstream());
    assert!(outcome.upstream.body.is_empty());
    let reply = outcome.local_response.as_ref().unwrap();
    assert_eq!(reply.status, 403);
    assert_eq!(reply.headers.get("content-type"), Some("application/json"));
    assert_eq!(reply.headers.get("x-wa-guard-decision"), Some("block"));
    assert_eq!(reply.headers.get("x-wa-guard-rule"), Some("assistant-lab"));
    let error: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(error["error"]["code"], 10);
    assert_eq!(error["error"]["type"], "OAuthException");
    assert_eq!(error["error"]["fbtrace_id"], outcome.request_id.as_str());

    // Envoy encodes the local reply through the filter's response callbacks too: the client
    // sees one decision header, not two.
    let response = outcome.response.as_ref().unwrap();
    assert!(response.local_reply);
    assert_eq!(response.status, 403);
    assert_eq!(response.headers.get_all("x-wa-guard-decision").len(), 1);
    assert_eq!(
        response.headers.get("content-length"),
        Some(reply.body.len().to_string().as_str())
    );
}

#[test]
fn a_general_assistant_origin_is_blocked_in_the_headers_callback() {
    let outcome = send_as(LAB_BOT, "Hello!", Chunking::Every(3));
    assert!(outcome.blocked());
    // Decided from the identity alone: no body callback ran and nothing went upstream.
    assert!(outcome.upstream.headers.is_none(), "{:?}", outcome.upstream);
    assert!(
        !outcome
            .callbacks
            .iter()
            .any(|c| c.name == "proxy_on_request_body")
    );
}

#[test]
fn the_body_is_buffered_until_end_of_stream_then_released_once() {
    let text = "Your order 4411 has shipped and arrives Thursday.";
    let body = text_message(text);
    let outcome = send_as(SUPPORT_BOT, text, Chunking::Every(16));
    let calls: Vec<_> = outcome
        .callbacks
        .iter()
        .filter(|c| c.name == "proxy_on_request_body")
        .collect();
    assert_eq!(calls.len(), body.len().div_ceil(16));
    // Envoy passes the buffered (cumulative) size while the filter pauses.
    for (index, call) in calls.iter().enumerate() {
        let last = index + 1 == calls.len();
        assert_eq!(call.size, ((index + 1) * 16).min(body.len()));
        assert_eq!(call.end_of_stream, last);
        assert_eq!(call.result, Some(if last { 0 } else { 1 }), "{call:?}");
    }
    assert_eq!(outcome.upstream.body_chunks, vec![body]);
}

#[test]
fn requests_to_other_hosts_pass_untouched_with_no_decision() {
    let mut filter = demo_filter();
    let outcome = filter
        .request()
        .method("POST")
        .authority("api.example.com")
        .path("/v1/things")
        .header("content-type", "application/json")
        .body(br#"{"x":1}"#)
        .send()
        .unwrap();
    assert!(outcome.reached_upstream());
    assert_eq!(outcome.upstream.body, br#"{"x":1}"#);
    assert_eq!(outcome.response_header("x-wa-guard-decision"), None);
    assert!(
        outcome.metric_events.is_empty(),
        "{:?}",
        outcome.metric_events
    );
}

#[test]
fn an_invalid_json_body_is_blocked() {
    let mut filter = demo_filter();
    let outcome = filter
        .request()
        .method("POST")
        .authority("graph.facebook.com")
        .path("/v21.0/999000/messages")
        .header("content-type", "application/json")
        .body(b"{not json")
        .send()
        .unwrap();
    let verdict = host_tests::Verdict::from_outcome(&outcome);
    assert_eq!(verdict.decision, "block", "{outcome:#?}");
    assert_eq!(verdict.reason.as_deref(), Some("invalid_json"));
}

/// A general-knowledge explainer, far above the default threshold, so that these tests are
/// about how the body arrives, not about the classifier's margin.
const ASSISTANT_TEXT: &str = "# How vaccines work\n\nA vaccine trains your immune system to recognise a germ without making you ill. It contains a harmless piece or weakened form of the virus or bacterium, called an **antigen**.\n\n## What happens next\n\n1. Immune cells notice the antigen and make **antibodies** that fit it.\n2. Memory cells keep a record of it for years.\n3. If the real germ arrives later, the body reacts in hours instead of weeks.\n\nIn short, vaccination is a rehearsal that lets your body win the real fight quickly.";

fn assistant_text_call(filter: &mut host_tests::Filter) -> host_tests::RequestBuilder<'_> {
    filter
        .request()
        .method("POST")
        .authority("graph.facebook.com")
        .path("/v21.0/999000/messages")
        .header("content-type", "application/json")
        .body(text_message(ASSISTANT_TEXT))
}

#[test]
fn an_empty_final_data_frame_ends_the_stream_like_end_of_stream_on_the_last_chunk() {
    let mut filter = demo_filter();
    let plain = assistant_text_call(&mut filter).send().unwrap();
    let framed = assistant_text_call(&mut filter)
        .chunking(Chunking::Every(40))
        .end_with_empty_frame()
        .send()
        .unwrap();
    let last = framed
        .callbacks
        .iter()
        .rfind(|c| c.name == "proxy_on_request_body")
        .unwrap();
    assert!(last.end_of_stream);
    assert_eq!(last.size, text_message(ASSISTANT_TEXT).len());
    assert_eq!(
        host_tests::Verdict::from_outcome(&framed),
        host_tests::Verdict::from_outcome(&plain)
    );
    assert!(plain.blocked());
}

/// HTTP/2 requests may end with trailers: the last data callback then has
/// `end_of_stream = false` and the stream ends in `proxy_on_request_trailers`, where the
/// buffered body is still readable. The filter must decide there too, or the buffered body
/// goes upstream uninspected.
#[test]
fn a_request_ending_with_trailers_is_still_inspected() {
    let mut filter = demo_filter();
    let outcome = assistant_text_call(&mut filter)
        .trailer("x-checksum", "abc")
        .send()
        .unwrap();
    assert_eq!(
        host_tests::Verdict::from_outcome(&outcome).decision,
        "block",
        "{outcome:#?}"
    );
    assert!(!outcome.reached_upstream());
}
