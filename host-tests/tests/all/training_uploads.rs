//! Training uploads are streamed: each body callback forwards its rewritten chunk
//! (`proxy_set_buffer_bytes`), against the real module.

use host_tests::{Chunking, Verdict};

use crate::support::*;

const CLEAN: &str = "{\"messages\":[{\"role\":\"user\",\"content\":\"Where is my parcel?\"},{\"role\":\"assistant\",\"content\":\"It ships today.\"}]}\n";
const FROM_WHATSAPP: &str = "{\"messages\":[{\"role\":\"user\",\"content\":\"hola\"}],\"meta\":{\"message_id\":\"wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQz\"}}\n";

#[test]
fn whatsapp_records_are_stripped_from_a_streamed_upload_whatever_the_chunking() {
    let body = format!("{CLEAN}{FROM_WHATSAPP}{CLEAN}");
    for chunking in [
        Chunking::Whole,
        Chunking::Every(1),
        Chunking::Every(10),
        Chunking::SplitAt(vec![CLEAN.len() + 5]),
    ] {
        let mut filter = default_filter();
        let outcome = filter
            .request()
            .method("POST")
            .authority("api.openai.com")
            .path("/v1/files")
            .header("content-type", "application/jsonl")
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
        // Streamed: no body callback holds data back with StopIterationAndBuffer.
        assert!(
            outcome
                .callbacks
                .iter()
                .filter(|c| c.name == "proxy_on_request_body")
                .all(|c| c.result == Some(0))
        );
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
    let outcome = filter
        .request()
        .method("POST")
        .authority("api.openai.com")
        .path("/v1/files")
        .header("content-type", "application/jsonl")
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
