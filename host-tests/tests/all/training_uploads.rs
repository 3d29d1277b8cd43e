//! Training uploads are streamed: each body callback forwards its rewritten chunk
//! (`proxy_set_buffer_bytes`), against the real module.

use host_tests::{Chunking, Verdict};

use crate::support::*;

const CLEAN: &str = "{\"messages\":[{\"role\":\"user\",\"content\":\"Where is my parcel?\"},{\"role\":\"assistant\",\"content\":\"It ships today.\"}]}\n";
const FROM_WHATSAPP: &str = "{\"messages\":[{\"role\":\"user\",\"content\":\"hola\"}],\"meta\":{\"message_id\":\"wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQz\"}}\n";

/// A JSONL upload to OpenAI's files endpoint, the request the tests here send.
fn upload(filter: &mut host_tests::Filter) -> host_tests::RequestBuilder<'_> {
    filter
        .request()
        .method("POST")
        .authority("api.openai.com")
        .path("/v1/files")
        .header("content-type", "application/jsonl")
}

/// About 1.2 MiB of JSONL with one WhatsApp record after the first 100 KiB.
fn large_upload() -> String {
    let mut body = CLEAN.repeat(100 * 1024 / CLEAN.len());
    body.push_str(FROM_WHATSAPP);
    body.push_str(&CLEAN.repeat(1100 * 1024 / CLEAN.len()));
    body
}

/// Deliveries of a client ahead of the proxy: 100 KiB, then nearly Envoy's whole buffer
/// limit in one read, then the rest.
fn client_ahead_of_the_proxy() -> Chunking {
    let first = 100 * 1024;
    Chunking::SplitAt(vec![
        first,
        first + host_tests::ENVOY_DEFAULT_BUFFER_LIMIT - 8 * 1024,
    ])
}

#[test]
fn whatsapp_records_are_stripped_from_a_streamed_upload_whatever_the_chunking() {
    let body = format!("{CLEAN}{FROM_WHATSAPP}{CLEAN}");
    // HTTP/2 holds output in the host's buffer (for trailers); HTTP/1.1 forwards it at once.
    let chunkings = [
        Chunking::Whole,
        Chunking::Every(1),
        Chunking::Every(10),
        Chunking::SplitAt(vec![CLEAN.len() + 5]),
    ];
    for (protocol, chunking) in ["HTTP/2", "HTTP/1.1"]
        .into_iter()
        .flat_map(|p| chunkings.iter().map(move |c| (p, c.clone())))
    {
        let mut filter = default_filter();
        let outcome = upload(&mut filter)
            .property("request.protocol", protocol)
            .body(&body)
            .chunking(chunking.clone())
            .send()
            .unwrap();
        assert!(outcome.reached_upstream(), "{chunking:?}: {outcome:#?}");
        assert_eq!(
            String::from_utf8_lossy(&outcome.upstream.body),
            format!("{CLEAN}{CLEAN}"),
            "{chunking:?}"
        );
        // The length changes, so the filter drops content-length in the headers callback.
        let forwarded = outcome.upstream.headers.as_ref().unwrap();
        assert!(!forwarded.contains("content-length"), "{forwarded:?}");
        // Only StopIterationAndBuffer (1, HTTP/2: a small upload's output stays in the host's
        // buffer until the end, so that trailers could still be written) or Continue (0).
        assert!(
            outcome
                .callbacks
                .iter()
                .filter(|c| c.name == "proxy_on_request_body")
                .all(|c| matches!(c.result, Some(0 | 1)))
        );
        let held = outcome
            .callbacks
            .iter()
            .filter(|c| c.name == "proxy_on_request_body" && c.result == Some(1))
            .count();
        if protocol == "HTTP/1.1" {
            assert_eq!(held, 0, "{chunking:?}: {:?}", outcome.callbacks);
        } else if chunking != Chunking::Whole {
            assert!(held > 0, "{chunking:?}: {:?}", outcome.callbacks);
        }
        let verdict = Verdict::from_outcome(&outcome);
        assert_eq!(verdict.decision, "strip");
        assert_eq!(verdict.rule.as_deref(), Some("openai-files"));
        assert_eq!(verdict.records_stripped, Some(1));
    }
}

/// An upload ending with trailers: the stripper's last record (no final newline) is only
/// judged when the stream ends, in the trailers callback. It must be stripped there too.
#[test]
fn an_upload_ending_with_trailers_is_finished_in_the_trailers_callback() {
    let body = format!("{CLEAN}{}", FROM_WHATSAPP.trim_end());
    let mut filter = default_filter();
    let outcome = upload(&mut filter)
        .body(&body)
        .chunking(Chunking::Every(16))
        .trailer("x-checksum", "abc")
        .send()
        .unwrap();
    let verdict = Verdict::from_outcome(&outcome);
    assert_eq!(verdict.decision, "strip", "{outcome:#?}");
    assert_eq!(verdict.records_stripped, Some(1));
    assert_eq!(String::from_utf8_lossy(&outcome.upstream.body), CLEAN);
}

/// A large HTTP/2 upload streams: the output held in the host's buffer (for trailers) is
/// bounded by `HOLD_LIMIT`, then released, so Envoy's per-connection buffer limit is never
/// reached by a held buffer and one frame.
#[test]
fn a_large_upload_streams_with_a_bounded_hold() {
    let body = CLEAN.repeat(600 * 1024 / CLEAN.len());
    let mut filter = default_filter();
    let outcome = upload(&mut filter)
        .property("request.protocol", "HTTP/2")
        .body(body.as_bytes())
        .chunking(Chunking::Every(16 * 1024 + 7))
        .send()
        .unwrap();
    assert!(outcome.reached_upstream(), "{outcome:#?}");
    assert_eq!(outcome.upstream.body, body.as_bytes());
    let body_callbacks: Vec<_> = outcome
        .callbacks
        .iter()
        .filter(|c| c.name == "proxy_on_request_body")
        .collect();
    let released_early = body_callbacks
        .iter()
        .filter(|c| !c.end_of_stream && c.result == Some(0))
        .count();
    assert!(released_early >= 2, "{body_callbacks:?}");
    let limit = wa_egress_guard::training::upload::HOLD_LIMIT + 16 * 1024 + 7;
    assert!(
        body_callbacks.iter().all(|c| c.size <= limit),
        "the buffer grew past the hold limit: {body_callbacks:?}"
    );
}

/// An HTTP/1.1 client ahead of the proxy: one socket read hands the filter up to Envoy's whole
/// buffer limit at once. Output held from a small first delivery plus such a delivery would be
/// Envoy's 413, so an HTTP/1.1 upload (no trailers reach the filter) holds nothing: every
/// callback forwards what it stripped, the last record included.
#[test]
fn an_http1_upload_delivered_in_reads_as_large_as_the_buffer_limit_is_never_refused() {
    let mut body = large_upload();
    body.push_str(FROM_WHATSAPP.trim_end());
    let mut filter = default_filter();
    let outcome = upload(&mut filter)
        .property("request.protocol", "HTTP/1.1")
        .body(body.as_bytes())
        .chunking(client_ahead_of_the_proxy())
        .send()
        .unwrap();
    assert!(!outcome.payload_too_large, "{:?}", outcome.callbacks);
    assert!(outcome.reached_upstream(), "{outcome:#?}");
    let kept: String = body
        .lines()
        .filter(|l| !l.contains("wamid."))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(outcome.upstream.body, kept.as_bytes());
    let verdict = Verdict::from_outcome(&outcome);
    assert_eq!(verdict.records_stripped, Some(2));
    // Nothing was kept in the host's buffer: every callback forwarded (Continue).
    assert!(
        outcome
            .callbacks
            .iter()
            .filter(|c| c.name == "proxy_on_request_body")
            .all(|c| c.result == Some(0)),
        "{:?}",
        outcome.callbacks
    );
}

/// The same deliveries on a stream that can end with trailers (HTTP/2): the first one's output
/// is held, and the held buffer plus the next delivery pass the limit. Envoy answers 413
/// itself; nothing unstripped left. (Envoy's HTTP/2 deliveries are single DATA frames, 16 KiB
/// by default, so this needs a peer allowed frames near the whole buffer limit.)
#[test]
fn a_held_buffer_past_the_limit_is_envoys_413_and_nothing_unstripped_leaves() {
    let body = large_upload();
    let mut filter = default_filter();
    let outcome = upload(&mut filter)
        .property("request.protocol", "HTTP/2")
        .body(body.as_bytes())
        .chunking(client_ahead_of_the_proxy())
        .send()
        .unwrap();
    assert!(outcome.payload_too_large, "{:?}", outcome.callbacks);
    assert_eq!(outcome.status(), Some(413));
    assert!(!outcome.upstream.complete);
    assert!(!String::from_utf8_lossy(&outcome.upstream.body).contains("wamid."));
}

/// Trailers right after the held output was released, while the stripper still holds an
/// unfinished last line: the host has no buffer to write it into, so the upload is refused
/// (`unwritable_body`), never forwarded without its last record.
#[test]
fn trailers_after_a_release_with_a_held_line_refuse_the_upload() {
    let mut body = CLEAN.repeat(wa_egress_guard::training::upload::HOLD_LIMIT / CLEAN.len() + 1);
    body.push_str(CLEAN.trim_end());
    let mut filter = default_filter();
    let outcome = upload(&mut filter)
        .body(body.as_bytes())
        .chunking(Chunking::Whole)
        .trailer("x-upload-checksum", "sha256=0")
        .send()
        .unwrap();
    let response = outcome.response.as_ref().expect("a reply");
    assert_eq!(response.status, 403, "{outcome:#?}");
    assert!(response.local_reply);
    // One decision on the reply, not the reply's and the upload's.
    assert_eq!(
        response.headers.get_all("x-wa-guard-decision"),
        vec![b"block".as_slice()]
    );
    assert!(!outcome.upstream.complete, "{outcome:#?}");
    let verdict = Verdict::from_outcome(&outcome);
    assert_eq!(verdict.decision, "block");
    assert_eq!(verdict.reason.as_deref(), Some("unwritable_body"));
}
