//! Training uploads through the flow: what a streamed upload holds in the host's buffer, and a
//! chunk the host fails to hand over.

use crate::flow::tests::{head, policy};
use crate::flow::{BodyStep, HeadersStep, RequestFlow};
use crate::identity::StaticAttributes;
use crate::shared_store::MemoryStore;
use crate::training::upload::TrainingVerdict;

/// An HTTP/1.1 upload keeps nothing in the host's buffer (no trailers reach the filter, and
/// one read can bring the whole buffer limit); HTTP/2 and an unknown protocol hold.
#[test]
fn only_a_stream_that_can_end_with_trailers_holds_output() {
    let p = policy();
    let h = head("api.openai.com", "/v1/files", "application/jsonl");
    let line = br#"{"messages":[{"role":"user","content":"hi"}]}
"#;
    for (protocol, holds) in [
        (Some("HTTP/1.1"), false),
        (Some("HTTP/1.0"), false),
        (Some("HTTP/2"), true),
        (Some("HTTP/3"), true),
        (None, true),
    ] {
        let attrs = match protocol {
            Some(v) => StaticAttributes::default().property("request.protocol", v),
            None => StaticAttributes::default(),
        };
        let (mut flow, _) =
            RequestFlow::on_request_headers(&p, &h, &attrs, &MemoryStore::default());
        let step = flow.on_request_body(&p, line.len(), false, &mut |_| Some(line.to_vec()));
        let want = if holds {
            BodyStep::Hold(line.to_vec())
        } else {
            BodyStep::Replace(line.to_vec())
        };
        assert_eq!(step, want, "{protocol:?}");
        // Half a line: nothing to forward yet. HTTP/1.1 forwards nothing and keeps nothing.
        let mut buffer = if holds { line.to_vec() } else { Vec::new() };
        buffer.extend_from_slice(&line[..10]);
        let step = flow.on_request_body(&p, buffer.len(), false, &mut |n| {
            buffer.get(..n).map(<[u8]>::to_vec)
        });
        let want = if holds {
            BodyStep::Pause
        } else {
            BodyStep::Replace(Vec::new())
        };
        assert_eq!(step, want, "{protocol:?}");
    }
}

/// A chunk the host fails to hand over never leaves an upload forwarded short.
#[test]
fn an_unreadable_upload_chunk_refuses_the_upload() {
    let p = policy();
    let h = head("api.openai.com", "/v1/files", "application/jsonl");
    let (mut flow, step) = RequestFlow::on_request_headers(
        &p,
        &h,
        &StaticAttributes::default(),
        &MemoryStore::default(),
    );
    assert!(matches!(step, HeadersStep::Strip { .. }), "{step:?}");
    let first = br#"{"messages":[{"role":"user","content":"hi"}]}
"#;
    // A small upload's output is held in the host's buffer (for trailers).
    let step = flow.on_request_body(&p, first.len(), false, &mut |_| Some(first.to_vec()));
    assert_eq!(step, BodyStep::Hold(first.to_vec()));
    let step = flow.on_request_body(&p, 100, false, &mut |_| None);
    let BodyStep::Respond(reply) = step else {
        panic!("{step:?}");
    };
    assert_eq!(reply.status, 403);
    let outcome = flow.training_outcome().unwrap();
    assert_eq!(outcome.verdict, TrainingVerdict::Blocked);
    assert_eq!(outcome.problem, Some("unreadable_body"));
    // An empty final chunk is not a failure.
    let (mut flow, _) = RequestFlow::on_request_headers(
        &p,
        &h,
        &StaticAttributes::default(),
        &MemoryStore::default(),
    );
    flow.on_request_body(&p, first.len(), false, &mut |_| Some(first.to_vec()));
    let step = flow.on_request_body(&p, first.len(), true, &mut |_| Some(first.to_vec()));
    assert_eq!(step, BodyStep::Replace(first.to_vec()));
    assert_eq!(
        flow.training_outcome().unwrap().verdict,
        TrainingVerdict::Forwarded
    );
}
