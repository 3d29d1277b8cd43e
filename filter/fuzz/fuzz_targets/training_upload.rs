//! A training upload through the whole stripping pipeline: JSONL, JSON documents, multipart
//! (files of every text format: JSONL, CSV, chat exports, prose), Hugging Face commits, gzip
//! and deflate, cut into chunks the way Envoy delivers them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wa_egress_guard_fuzz::{Request, Selectors, assert_upload_consistent};

/// (authority, path, content type): one per body format the policy routes.
const ROUTES: &[(&str, &str, &str)] = &[
    ("api.openai.com", "/v1/files", "application/jsonl"),
    ("api.openai.com", "/v1/fine_tuning/jobs", "application/json"),
    (
        "api.openai.com",
        "/v1/files",
        "multipart/form-data; boundary=b",
    ),
    (
        "api.openai.com",
        "/v1/uploads/upload_1/parts",
        "multipart/form-data; boundary=\"x;y\"",
    ),
    (
        "huggingface.co",
        "/api/datasets/u/d/commit/main",
        "application/x-ndjson",
    ),
    ("api.mistral.ai", "/v1/files", "text/plain"),
    ("api.openai.com", "/v1/files", "text/csv"),
];
const ENCODINGS: &[&str] = &["", "gzip", "deflate", "x-gzip", "gzip, identity"];

fuzz_target!(|data: &[u8]| {
    let mut s = Selectors::new(data);
    let (authority, path, content_type) = s.pick(ROUTES);
    let encoding = s.pick(ENCODINGS);
    // Either the client compresses the body (the filter must read it and forward it
    // decoded), or the raw input is labelled with the encoding (the decoder sees any bytes).
    let compress = s.byte() & 1 == 1 && matches!(encoding, "gzip" | "deflate");
    let chunks = s.chunks();
    let body = s.rest();
    let mut headers = vec![("content-type", content_type)];
    if !encoding.is_empty() && !compress {
        headers.push(("content-encoding", encoding));
    }
    let request = Request {
        method: "POST",
        authority,
        path,
        headers: &headers,
        body,
        encode: compress.then_some(encoding),
    };
    let (observed, plain) = request.run(&chunks);
    if encoding.is_empty() || compress {
        assert_upload_consistent(&observed, &plain);
    }
});
