//! One file inside a multipart training upload, as a data team's SDK sends it: the file name
//! and type pick the text stage (JSONL, CSV with its header and separators, WhatsApp chat
//! exports in every locale, prose), so the fuzzer works on the file's text and nothing else.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wa_egress_guard_fuzz::{Request, Selectors, assert_upload_consistent};

const FILES: &[(&str, &str)] = &[
    ("chat.txt", "text/plain"),
    ("export.csv", "text/csv"),
    ("train.jsonl", "application/jsonl"),
    ("data.json", "application/json"),
    ("WhatsApp Chat with Ana.txt", "application/octet-stream"),
    ("README.md", "text/markdown"),
    ("notes", ""),
];

fuzz_target!(|data: &[u8]| {
    let mut s = Selectors::new(data);
    let (filename, file_type) = s.pick(FILES);
    let chunks = s.chunks();
    let file = s.rest();
    let mut body = Vec::with_capacity(file.len() + 256);
    body.extend_from_slice(
        b"--b\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nfine-tune\r\n",
    );
    body.extend_from_slice(b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"");
    body.extend_from_slice(filename.as_bytes());
    body.extend_from_slice(b"\"\r\n");
    if !file_type.is_empty() {
        body.extend_from_slice(b"Content-Type: ");
        body.extend_from_slice(file_type.as_bytes());
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"\r\n");
    body.extend_from_slice(file);
    body.extend_from_slice(b"\r\n--b--\r\n");
    let request = Request {
        method: "POST",
        authority: "api.openai.com",
        path: "/v1/files",
        headers: &[("content-type", "multipart/form-data; boundary=b")],
        body: &body,
        encode: None,
    };
    let (observed, plain) = request.run(&chunks);
    assert_upload_consistent(&observed, &plain);
});
