//! A WhatsApp send through the whole engine: the body extractor (JSON, form, query, multipart,
//! flows, templates), the gzip and deflate decoders, the field sweep and the classifier.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wa_egress_guard_fuzz::{Request, Selectors, assert_send_untouched};

const PATHS: &[&str] = &[
    "/v21.0/106540352242922/messages",
    "/v21.0/106540352242922/media",
    "/v21.0/106540352242922/marketing_messages",
    "/v21.0/102290129340398/message_templates",
    "/v21.0/102290129340398/flows",
    "/v21.0/1234567890",
    "/v21.0/106540352242922/messages?text[body]=x&to=1",
    "/v21.0/",
];
const TYPES: &[&str] = &[
    "application/json",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=b",
    "multipart/form-data; boundary=\"a b\"",
    "text/plain",
    "",
];
const ENCODINGS: &[&str] = &["", "gzip", "deflate", "gzip, gzip", "br"];
const METHODS: &[&str] = &["POST", "PUT", "PATCH", "GET"];

fuzz_target!(|data: &[u8]| {
    let mut s = Selectors::new(data);
    let path = s.pick(PATHS);
    let content_type = s.pick(TYPES);
    let encoding = s.pick(ENCODINGS);
    // Half the time the body is compressed by the client; otherwise it is sent as it is,
    // labelled with `encoding` (so the decoders see arbitrary bytes too).
    let compress = s.byte() & 1 == 1 && matches!(encoding, "gzip" | "deflate");
    let method = s.pick(METHODS);
    let chunks = s.chunks();
    let body = s.rest();
    let mut headers = vec![("content-type", content_type)];
    if !encoding.is_empty() && !compress {
        headers.push(("content-encoding", encoding));
    }
    let request = Request {
        method,
        authority: "graph.facebook.com",
        path,
        headers: &headers,
        body,
        encode: compress.then_some(encoding),
    };
    let (observed, _) = request.run(&chunks);
    assert_send_untouched(&observed, body, compress);
});
