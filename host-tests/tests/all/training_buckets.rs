//! Objects written to training buckets (`training.buckets`), against the real module: a clean
//! object reaches the upstream byte for byte with every header as sent, one holding a WhatsApp
//! record is refused before its last byte is released, and other buckets are never touched.
//! (The policy cases in `policies/tests/training_buckets*.json` run here too, at every split,
//! through `differential`.)

use host_tests::{Chunking, Filter, HostOptions, UpstreamResponse, Verdict};

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

/// A GCS resumable session start that the upstream accepts, answering with the session URI.
fn start_gcs_session(filter: &mut Filter, bucket: &str, upload_id: &str) -> host_tests::Outcome {
    let location = format!(
        "https://storage.googleapis.com/upload/storage/v1/b/{bucket}/o?uploadType=resumable&name=train.jsonl&upload_id={upload_id}"
    );
    filter
        .request()
        .method("POST")
        .authority("storage.googleapis.com")
        .path(&format!(
            "/upload/storage/v1/b/{bucket}/o?uploadType=resumable"
        ))
        .header("content-type", "application/json")
        .body(r#"{"name":"train.jsonl"}"#)
        .upstream_response(UpstreamResponse {
            status: 200,
            headers: vec![("location".into(), location)],
            body: Vec::new(),
        })
        .send()
        .unwrap()
}

fn gcs_chunk(
    filter: &mut Filter,
    upload_id: &str,
    body: &str,
    chunking: Chunking,
) -> host_tests::Outcome {
    filter
        .request()
        .method("PUT")
        .authority("storage.googleapis.com")
        .path(&format!(
            "/upload/storage/v1/b/acme-scratch/o?uploadType=resumable&upload_id={upload_id}"
        ))
        .body(body)
        .chunking(chunking)
        .send()
        .unwrap()
}

/// Round-3 judgement case 0 through the `.wasm`: the session start for the training bucket goes
/// through and its response's `Location` is recorded in the host's shared data; a chunk of
/// that session sent with an unnamed bucket in its path is judged as the training bucket's
/// object. A session started for an unnamed bucket stays untouched; one the filter never saw
/// start is inspected (`unknown_gcs_sessions: inspect`).
#[test]
fn a_gcs_session_chunk_is_judged_by_the_bucket_its_session_was_started_for() {
    let mut filter = buckets_filter();
    for (bucket, id) in [
        ("acme-vertex-tuning", "SESSION_FOR_TUNING"),
        ("acme-scratch", "SCRATCH_SESSION"),
    ] {
        let start = start_gcs_session(&mut filter, bucket, id);
        assert!(start.reached_upstream(), "{bucket}: {start:#?}");
        assert!(start.response_header("x-wa-guard-decision").is_none());
    }
    assert_eq!(
        filter.metric("wa_guard_gcs_session_total.result.recorded"),
        Some(2)
    );
    let body = format!("{CLEAN}{FROM_WHATSAPP}");
    for chunking in [Chunking::Whole, Chunking::Every(1), Chunking::Every(50)] {
        let outcome = gcs_chunk(&mut filter, "SESSION_FOR_TUNING", &body, chunking.clone());
        let reply = outcome.local_response.as_ref().expect("refused");
        assert_eq!(reply.status, 403, "{chunking:?}");
        assert!(!outcome.upstream.complete, "{chunking:?}");
        let verdict = Verdict::from_outcome(&outcome);
        assert_eq!(verdict.decision, "block");
        assert_eq!(verdict.rule.as_deref(), Some("vertex-tuning-data"));
        assert_eq!(
            verdict.reason.as_deref(),
            Some("whatsapp_records_in_object")
        );

        let outcome = gcs_chunk(&mut filter, "SCRATCH_SESSION", &body, chunking.clone());
        assert!(outcome.reached_upstream(), "{chunking:?}: {outcome:#?}");
        assert_eq!(outcome.upstream.body, body.as_bytes());
        assert!(outcome.response_header("x-wa-guard-decision").is_none());

        let outcome = gcs_chunk(&mut filter, "NEVER_SEEN", &body, chunking.clone());
        assert_eq!(
            outcome.local_response.as_ref().map(|r| r.status),
            Some(403),
            "{chunking:?}"
        );
    }
    // A clean object of the training session is forwarded byte for byte.
    let outcome = gcs_chunk(&mut filter, "SESSION_FOR_TUNING", CLEAN, Chunking::Every(7));
    assert!(outcome.reached_upstream(), "{outcome:#?}");
    assert_eq!(outcome.upstream.body, CLEAN.as_bytes());
    assert_eq!(Verdict::from_outcome(&outcome).decision, "forward");
    assert_eq!(
        filter.metric("wa_guard_gcs_session_total.result.training"),
        Some(4)
    );
    assert_eq!(
        filter.metric("wa_guard_gcs_session_total.result.unknown"),
        Some(3)
    );
}
