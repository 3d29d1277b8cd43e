//! An object upload to object storage (`training.buckets`): the bucket and key read from the
//! raw path of GCS (JSON and XML APIs), S3 (virtual-hosted, path style, a private endpoint)
//! and Azure Blob, under the example policy that names four buckets; `aws-chunked` framing,
//! copies, pieces and compressed objects; cut into chunks the way Envoy delivers them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use wa_egress_guard::policy::Policy;
use wa_egress_guard_fuzz::{Request, Selectors};

fn policy() -> &'static Policy {
    static POLICY: OnceLock<Policy> = OnceLock::new();
    POLICY.get_or_init(|| {
        match Policy::from_json(include_bytes!(
            "../../../policies/examples/training-buckets.json"
        )) {
            Ok(p) => p,
            Err(e) => panic!("the example policy must compile: {e}"),
        }
    })
}

/// (authority, the path before the fuzzed key): named buckets in every addressing style the
/// services accept, and one bucket the policy does not name.
const ROUTES: &[(&str, &str)] = &[
    ("acme-bedrock-tuning.s3.us-east-1.amazonaws.com", "/datasets/"),
    ("s3.eu-west-1.amazonaws.com", "/acme-bedrock-tuning/datasets/"),
    ("acme-bedrock-tuning.s3.amazonaws.com", "/"),
    ("s3.dualstack.us-east-1.amazonaws.com", "/acme-bedrock-tuning/"),
    (
        "storage.googleapis.com",
        "/upload/storage/v1/b/acme-vertex-tuning/o?uploadType=media&name=",
    ),
    ("storage.googleapis.com", "/acme-vertex-tuning/"),
    ("acme-vertex-tuning.storage.googleapis.com", "/"),
    ("acmeaitraining.blob.core.windows.net", "/finetune/"),
    ("minio.data.acme.internal", "/datasets/"),
    ("someone-else.s3.amazonaws.com", "/"),
];
const METHODS: &[&str] = &["PUT", "POST", "PUT", "PATCH"];
/// Header sets a client controls: none, aws-chunked framing (signed or not, with a trailer),
/// a copy, a compressed object, an Azure block, a GCS resumable chunk, a JSONL label.
const HEADERS: &[&[(&str, &str)]] = &[
    &[],
    &[
        ("content-encoding", "aws-chunked"),
        ("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
        ("x-amz-trailer", "x-amz-checksum-crc32"),
    ],
    &[("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")],
    &[("x-amz-copy-source", "/acme-bedrock-tuning/datasets/a.jsonl")],
    &[("content-encoding", "gzip")],
    &[("x-ms-blob-type", "BlockBlob"), ("content-type", "application/octet-stream")],
    &[("content-range", "bytes 0-99/*")],
    &[("content-type", "application/jsonl")],
];

fuzz_target!(|data: &[u8]| {
    let mut s = Selectors::new(data);
    let (authority, prefix) = s.pick(ROUTES);
    let method = s.pick(METHODS);
    let headers = s.pick(HEADERS);
    let chunks = s.chunks();
    // The key: up to 31 bytes of the input, as the client writes it in the request line.
    let key_len = usize::from(s.byte() & 0x1f);
    let rest = s.rest();
    let (key, body) = rest.split_at(key_len.min(rest.len()));
    let path = format!("{prefix}{}", String::from_utf8_lossy(key));
    let request = Request {
        method,
        authority,
        path: &path,
        headers,
        body,
        encode: None,
    };
    let (observed, plain) = request.run_with(policy(), &chunks);
    // An object is forwarded byte for byte or refused: never rewritten.
    assert!(
        observed.decision != "strip",
        "an object was stripped ({authority}{path})"
    );
    if let Some(forwarded) = &observed.forwarded_body {
        assert!(
            forwarded.as_slice() == plain.as_slice() || observed.decision != "forward",
            "an object was forwarded changed ({} bytes sent, {} forwarded)",
            plain.len(),
            forwarded.len()
        );
    }
});
