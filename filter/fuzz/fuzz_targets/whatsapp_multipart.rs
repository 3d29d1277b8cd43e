//! The WhatsApp media multipart reader: part headers with quoted parameters, boundaries with
//! padding, and the streaming watcher for media too large to buffer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wa_egress_guard::whatsapp::media::{MediaScan, boundary, parts};
use wa_egress_guard_fuzz::Selectors;

const TYPES: &[&str] = &[
    "multipart/form-data; boundary=b",
    "multipart/form-data; boundary=\"a;b\"",
    "multipart/form-data; BOUNDARY=----x; charset=utf-8",
];

fuzz_target!(|data: &[u8]| {
    let mut s = Selectors::new(data);
    let content_type = s.pick(TYPES);
    let chunks = s.chunks();
    let body = s.rest();
    if let Some(b) = boundary(content_type)
        && let Ok(found) = parts(body, &b)
    {
        for part in &found {
            let _ = part.is_text_like();
        }
    }
    let split = chunks
        .first()
        .copied()
        .unwrap_or(body.len())
        .min(body.len());
    let (prefix, tail) = body.split_at(split);
    if let Some(mut scan) = MediaScan::start(Some(content_type), prefix) {
        for chunk in tail.chunks(chunks.get(1).copied().unwrap_or(512)) {
            if scan.feed(chunk).is_err() {
                break;
            }
        }
    }
});
