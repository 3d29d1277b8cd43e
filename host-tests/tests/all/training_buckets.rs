//! Objects written to training buckets (`training.buckets`), against the real module: a clean
//! object reaches the upstream byte for byte with every header as sent, one holding a WhatsApp
//! record is refused before its last byte is released, and other buckets are never touched.
//! (The policy cases in `policies/tests/training_buckets*.json` run here too, at every split,
//! through `differential`.)

use host_tests::{Chunking, Filter, HostOptions, Verdict};

use crate::support::*;

const CLEAN: &str = "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"Where is my parcel?\"}]},{\"role\":\"model\",\"parts\":[{\"text\":\"It ships today.\"}]}]}\n";
const FROM_WHATSAPP: &str = "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"hola\"}]}],\"meta\":{\"message_id\":\"wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQz\"}}\n";

fn buckets_filter() -> Filter {
    Filter::start(module(), HostOptions::default())
        .unwrap()
        .configure(policy_bytes("examples/training-buckets.json"))
        .unwrap()
}

/// One object upload: (method, authority, path, extra headers).
type Shape = (
    &'static str,
    &'static str,
    &'static str,
    Vec<(&'static str, &'static str)>,
);

/// One object upload per provider shape.
fn shapes() -> Vec<Shape> {
    vec![
        (
            "PUT",
            "acme-bedrock-tuning.s3.us-east-1.amazonaws.com",
            "/datasets/train.jsonl",
            vec![
                ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
                ("x-amz-checksum-crc32", "AAAAAA=="),
            ],
        ),
        (
            "PUT",
            "s3.us-east-1.amazonaws.com",
            "/acme-bedrock-tuning/datasets/train.jsonl",
            vec![("content-md5", "bm90LWEtcmVhbC1tZDU=")],
        ),
        (
            "POST",
            "storage.googleapis.com",
            "/upload/storage/v1/b/acme-vertex-tuning/o?uploadType=media&name=tuning%2Ftrain.jsonl",
            vec![("content-type", "application/jsonl")],
        ),
        (
            "PUT",
            "acme-vertex-tuning.storage.googleapis.com",
            "/tuning/train.jsonl",
            vec![],
        ),
        (
            "PUT",
            "acmeaitraining.blob.core.windows.net",
            "/finetune/train.jsonl",
            vec![
                ("x-ms-blob-type", "BlockBlob"),
                ("x-ms-content-crc64", "AAAAAAAAAAA="),
            ],
        ),
    ]
}

fn send(
    filter: &mut Filter,
    (method, authority, path, headers): &Shape,
    protocol: &str,
    body: &str,
    chunking: Chunking,
) -> host_tests::Outcome {
    let mut request = filter
        .request()
        .method(method)
        .authority(authority)
        .path(path)
        .property("request.protocol", protocol);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    request.body(body).chunking(chunking).send().unwrap()
}

#[test]
fn a_clean_object_reaches_the_upstream_byte_for_byte_with_its_headers() {
    let body = CLEAN.repeat(3);
    for shape in shapes() {
        for (protocol, chunking) in [
            ("HTTP/1.1", Chunking::Whole),
            ("HTTP/1.1", Chunking::Every(7)),
            ("HTTP/2", Chunking::Every(64)),
        ] {
            let mut filter = buckets_filter();
            let outcome = send(&mut filter, &shape, protocol, &body, chunking.clone());
            assert!(
                outcome.reached_upstream(),
                "{shape:?} {chunking:?}: {outcome:#?}"
            );
            assert_eq!(
                outcome.upstream.body,
                body.as_bytes(),
                "{shape:?} {chunking:?}"
            );
            // Nothing is removed: the object keeps its length, checksums and signature.
            let forwarded = outcome.upstream.headers.as_ref().unwrap();
            let length = body.len().to_string();
            assert_eq!(forwarded.get("content-length"), Some(length.as_str()));
            for (name, value) in &shape.3 {
                assert_eq!(forwarded.get(name), Some(*value), "{name}");
            }
            let verdict = Verdict::from_outcome(&outcome);
            assert_eq!(verdict.decision, "forward", "{shape:?}");
            assert_eq!(verdict.records_stripped, Some(0));
        }
    }
}

#[test]
fn an_object_holding_a_whatsapp_record_is_refused_before_its_last_byte() {
    let body = format!("{CLEAN}{FROM_WHATSAPP}{CLEAN}");
    let ids = [
        "bedrock-tuning-data",
        "bedrock-tuning-data",
        "vertex-tuning-data",
        "vertex-tuning-data",
        "azure-ai-tuning-data",
    ];
    for (shape, id) in shapes().into_iter().zip(ids) {
        for chunking in [Chunking::Whole, Chunking::Every(1), Chunking::Every(50)] {
            let mut filter = buckets_filter();
            let outcome = send(&mut filter, &shape, "HTTP/1.1", &body, chunking.clone());
            let reply = outcome.local_response.as_ref().expect("refused");
            assert_eq!(reply.status, 403, "{shape:?} {chunking:?}");
            let json: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
            assert_eq!(json["error"]["code"], "whatsapp_records_in_object");
            assert!(
                json["error"]["message"]
                    .as_str()
                    .unwrap()
                    .starts_with("wa-egress-guard:")
            );
            // The upstream never gets the whole object, so the service never stores it.
            assert!(!outcome.upstream.complete);
            assert!(outcome.upstream.body.len() < body.len(), "{chunking:?}");
            assert_eq!(
                outcome.upstream.body[..],
                body.as_bytes()[..outcome.upstream.body.len()]
            );
            let verdict = Verdict::from_outcome(&outcome);
            assert_eq!(verdict.decision, "block");
            assert_eq!(verdict.rule.as_deref(), Some(id));
            assert_eq!(
                filter.metric(&format!(
                    "wa_guard_training_uploads_total.endpoint.{id}.outcome.block"
                )),
                Some(1)
            );
        }
    }
}

#[test]
fn a_streaming_signed_s3_upload_is_read_through_its_aws_chunked_framing() {
    let frame = |data: &str| {
        format!(
            "{:x};chunk-signature={}\r\n{data}\r\n0;chunk-signature={}\r\n\r\n",
            data.len(),
            "a".repeat(64),
            "b".repeat(64)
        )
    };
    let shape = (
        "PUT",
        "acme-bedrock-tuning.s3.us-east-1.amazonaws.com",
        "/datasets/train.jsonl",
        vec![
            ("content-encoding", "aws-chunked"),
            ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
        ],
    );
    let clean = frame(CLEAN);
    let mut filter = buckets_filter();
    let outcome = send(&mut filter, &shape, "HTTP/2", &clean, Chunking::Every(9));
    assert!(outcome.reached_upstream(), "{outcome:#?}");
    assert_eq!(outcome.upstream.body, clean.as_bytes());
    let forwarded = outcome.upstream.headers.as_ref().unwrap();
    assert_eq!(forwarded.get("content-encoding"), Some("aws-chunked"));
    let dirty = frame(&format!("{CLEAN}{FROM_WHATSAPP}"));
    let outcome = send(&mut filter, &shape, "HTTP/2", &dirty, Chunking::Every(9));
    assert_eq!(outcome.local_response.as_ref().map(|r| r.status), Some(403));
    assert!(!outcome.upstream.complete);
}

#[test]
fn pieces_are_refused_and_unnamed_buckets_are_untouched() {
    let mut filter = buckets_filter();
    let part = filter
        .request()
        .method("PUT")
        .authority("acme-bedrock-tuning.s3.us-east-1.amazonaws.com")
        .path("/datasets/big.jsonl?partNumber=1&uploadId=abc")
        .body(CLEAN)
        .send()
        .unwrap();
    let reply = part.local_response.as_ref().expect("refused");
    assert_eq!(reply.status, 403);
    assert!(part.upstream.headers.is_none(), "{part:#?}");
    assert_eq!(
        Verdict::from_outcome(&part).reason.as_deref(),
        Some("object_in_parts")
    );
    // An ordinary backup, a read of the training bucket, and the multipart completion.
    let body = format!("{CLEAN}{FROM_WHATSAPP}");
    for (method, authority, path) in [
        (
            "PUT",
            "acme-backups.s3.us-east-1.amazonaws.com",
            "/db/chats.jsonl",
        ),
        (
            "PUT",
            "acmeaitraining.blob.core.windows.net",
            "/backups/chats.jsonl",
        ),
        (
            "GET",
            "acme-bedrock-tuning.s3.us-east-1.amazonaws.com",
            "/datasets/a.jsonl",
        ),
        (
            "POST",
            "acme-bedrock-tuning.s3.us-east-1.amazonaws.com",
            "/datasets/big.jsonl?uploadId=abc",
        ),
    ] {
        let outcome = filter
            .request()
            .method(method)
            .authority(authority)
            .path(path)
            .body(&body)
            .chunking(Chunking::Every(13))
            .send()
            .unwrap();
        assert!(outcome.reached_upstream(), "{path}: {outcome:#?}");
        assert_eq!(outcome.upstream.body, body.as_bytes());
        assert!(outcome.response_header("x-wa-guard-decision").is_none());
    }
}
