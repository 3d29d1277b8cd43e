//! Training buckets: names checked at load with their JSON paths, requests read as each
//! service reads them, and objects judged without a byte changed.

use super::*;
use crate::document::TrainingSection;
use crate::training::{StripError, TrainingPolicy};
use crate::whatsapp::normalize_authority;

fn policy(buckets: &str) -> Result<TrainingPolicy, Vec<(String, String)>> {
    let doc: TrainingSection =
        serde_json::from_str(&format!(r#"{{"endpoints":[],"buckets":{buckets}}}"#)).unwrap();
    TrainingPolicy::compile(&doc)
}

const BUCKETS: &str = r#"[
  {"id":"s3","provider":"s3","bucket":"acme-train","prefix":"datasets/"},
  {"id":"gcs","provider":"gcs","bucket":"acme.tuning"},
  {"id":"az","provider":"azure_blob","account":"acmeai","container":"finetune"}
]"#;

/// The bucket id and shape of a request, with these headers.
fn route(
    method: &str,
    authority: &str,
    raw_path: &str,
    headers: &StorageHeaders,
) -> Option<(String, ObjectShape)> {
    let p = policy(BUCKETS).unwrap();
    let host = normalize_authority(authority);
    let path = crate::whatsapp::normalize_path(raw_path);
    let req = ObjectRequest {
        method,
        host: &host,
        raw_path,
        path: &path,
        headers,
    };
    p.route_object(&req)
        .map(|(r, shape)| (r.endpoint.id.clone(), shape))
}

fn put(authority: &str, raw_path: &str) -> Option<(String, ObjectShape)> {
    route("PUT", authority, raw_path, &StorageHeaders::default())
}

fn whole(id: &str, name: Option<&str>) -> Option<(String, ObjectShape)> {
    Some((
        id.to_owned(),
        ObjectShape::Whole {
            name: name.map(str::to_owned),
            multipart: false,
        },
    ))
}

#[test]
fn names_each_service_would_refuse_are_load_errors_with_their_paths() {
    let errs = policy(
        r#"[
      {"id":"a","provider":"s3","bucket":"Acme_Train"},
      {"id":"b","provider":"gcs","bucket":"google-data"},
      {"id":"c","provider":"azure_blob","account":"Acme-AI","container":"fine--tune"},
      {"id":"d","provider":"azure_blob","bucket":"x"},
      {"id":"e","provider":"s3","bucket":"192.168.1.10"},
      {"id":"a","provider":"s3","bucket":"ok-bucket","hosts":["bad host"]}
    ]"#,
    )
    .unwrap_err();
    let paths: Vec<&str> = errs.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        [
            "$.training.buckets[0].bucket",
            "$.training.buckets[1].bucket",
            "$.training.buckets[2].account",
            "$.training.buckets[2].container",
            "$.training.buckets[3].bucket",
            "$.training.buckets[3].account",
            "$.training.buckets[3].container",
            "$.training.buckets[4].bucket",
            "$.training.buckets[5].hosts[0]",
            "$.training.buckets[5].id",
        ],
        "{errs:?}"
    );
    assert!(errs[0].1.contains("`Acme_Train`"), "{}", errs[0].1);
    // A typo in a field is refused by the parser, not ignored.
    let typo: Result<TrainingSection, _> = serde_json::from_str(
        r#"{"endpoints":[],"buckets":[{"id":"a","provider":"s3","bukket":"x"}]}"#,
    );
    assert!(typo.is_err());
}

#[test]
fn s3_buckets_are_read_from_virtual_hosts_and_path_style() {
    let want = whole("s3", Some("datasets/a.jsonl"));
    for (authority, path) in [
        ("acme-train.s3.amazonaws.com", "/datasets/a.jsonl"),
        ("acme-train.s3.us-east-1.amazonaws.com", "/datasets/a.jsonl"),
        ("acme-train.s3-us-west-2.amazonaws.com", "/datasets/a.jsonl"),
        (
            "acme-train.s3.dualstack.eu-west-1.amazonaws.com",
            "/datasets/a.jsonl",
        ),
        (
            "acme-train.s3-fips.us-east-1.amazonaws.com",
            "/datasets/a.jsonl",
        ),
        (
            "acme-train.s3-accelerate.amazonaws.com",
            "/datasets/a.jsonl",
        ),
        (
            "acme-train.s3.cn-north-1.amazonaws.com.cn",
            "/datasets/a.jsonl",
        ),
        ("s3.us-east-1.amazonaws.com", "/acme-train/datasets/a.jsonl"),
        ("s3.amazonaws.com", "/acme-train/datasets/a.jsonl"),
        (
            "key:secret@ACME-TRAIN.S3.AMAZONAWS.COM.:443",
            "/datasets/a.jsonl",
        ),
        ("s3.amazonaws.com", "/%61cme-train/datasets/a.jsonl"),
    ] {
        assert_eq!(put(authority, path), want, "{authority}{path}");
    }
    // The key is the path decoded once: `%2F` is a slash of the key, `%252F` is `%2F`.
    assert_eq!(
        put("acme-train.s3.amazonaws.com", "/datasets%2Fa.jsonl"),
        want
    );
    // Outside the prefix, another bucket, a bucket only named in the key: not training.
    assert_eq!(put("acme-train.s3.amazonaws.com", "/reports/a.jsonl"), None);
    assert_eq!(
        put("other.s3.amazonaws.com", "/acme-train/datasets/a"),
        None
    );
    assert_eq!(
        put("s3.amazonaws.com", "/other/acme-train/datasets/a"),
        None
    );
    assert_eq!(put("acme-train.s3.example.com", "/datasets/a"), None);
    assert_eq!(put("acme-train.amazonaws.com", "/datasets/a"), None);
    // Reads and deletes are not uploads.
    let h = StorageHeaders::default();
    assert_eq!(
        route("GET", "acme-train.s3.amazonaws.com", "/datasets/a", &h),
        None
    );
    assert_eq!(
        route("DELETE", "acme-train.s3.amazonaws.com", "/datasets/a", &h),
        None
    );
}

#[test]
fn readings_the_filter_cannot_be_sure_of_fail_closed() {
    // The normalised path resolves `..` into the training bucket and prefix: S3 would not,
    // a proxy on the way might.
    assert!(put("s3.amazonaws.com", "/other/../acme-train/datasets/a.jsonl").is_some());
    assert!(put("acme-train.s3.amazonaws.com", "/x/../datasets/a.jsonl").is_some());
    // Doubly encoded: S3 reads `datasets%2Fa` (not under `datasets/`), a decoding hop would
    // read `datasets/a`.
    assert!(put("acme-train.s3.amazonaws.com", "/datasets%252Fa.jsonl").is_some());
    // A key that is not UTF-8 once decoded has no name to compare: under the prefix.
    assert_eq!(
        put("acme-train.s3.amazonaws.com", "/%FF.jsonl"),
        whole("s3", None)
    );
    // The prefix is compared without case.
    assert!(put("acme-train.s3.amazonaws.com", "/DataSets/a.jsonl").is_some());
}

#[test]
fn s3_shapes_pieces_copies_and_control_requests() {
    let h = StorageHeaders::default();
    let host = "acme-train.s3.amazonaws.com";
    let shape = |m: &str, p: &str, h: &StorageHeaders| route(m, host, p, h).map(|(_, s)| s);
    assert_eq!(
        shape("PUT", "/datasets/a?partNumber=3&uploadId=x", &h),
        Some(ObjectShape::Piece)
    );
    for control in [
        "/datasets/a?uploads",
        "/datasets/a?uploadId=x",
        "/datasets/a?tagging",
        "/datasets/a?acl",
    ] {
        let method = if control.contains("upload") {
            "POST"
        } else {
            "PUT"
        };
        assert_eq!(shape(method, control, &h), None, "{control}");
    }
    let copy = StorageHeaders {
        copy_source: true,
        ..StorageHeaders::default()
    };
    assert_eq!(shape("PUT", "/datasets/a", &copy), Some(ObjectShape::Copy));
    // A form POST to the bucket names its key in the form: unknown, so judged; S3 parses
    // its body as a form.
    assert_eq!(
        shape("POST", "/", &h),
        Some(ObjectShape::Whole {
            name: None,
            multipart: true
        })
    );
    // A presigned PUT keeps its signature in the query: still an object.
    assert_eq!(
        shape(
            "PUT",
            "/datasets/a.jsonl?X-Amz-Signature=abc&X-Amz-Expires=60",
            &h
        ),
        Some(ObjectShape::Whole {
            name: Some("datasets/a.jsonl".into()),
            multipart: false
        })
    );
}

#[test]
fn gcs_json_and_xml_api_requests() {
    let h = StorageHeaders::default();
    let post = |p: &str| route("POST", "storage.googleapis.com", p, &h);
    assert_eq!(
        post("/upload/storage/v1/b/acme.tuning/o?uploadType=media&name=t%2Fa.jsonl"),
        whole("gcs", Some("t/a.jsonl"))
    );
    assert_eq!(
        post("/upload/storage/v1/b/acme.tuning/o?uploadType=multipart"),
        Some((
            "gcs".into(),
            ObjectShape::Whole {
                name: None,
                multipart: true
            }
        ))
    );
    assert_eq!(
        post("/upload/storage/v1/b/acme.tuning/o?uploadType=resumable"),
        None
    );
    assert_eq!(
        post("/upload/storage/v1/b/other/o?uploadType=media&name=a"),
        None
    );
    assert_eq!(
        post("/storage/v1/b/src/o/a/rewriteTo/b/acme.tuning/o/b"),
        Some(("gcs".into(), ObjectShape::Copy))
    );
    assert_eq!(
        post("/storage/v1/b/acme.tuning/o/a/rewriteTo/b/other/o/b"),
        None
    );
    assert_eq!(
        put("acme.tuning.storage.googleapis.com", "/a.jsonl"),
        whole("gcs", Some("a.jsonl"))
    );
    assert_eq!(
        put("storage.googleapis.com", "/acme.tuning/a.jsonl"),
        whole("gcs", Some("a.jsonl"))
    );
    let session = "/upload/storage/v1/b/acme.tuning/o?uploadType=resumable&upload_id=x";
    let ranged = |range: &str| {
        let h = StorageHeaders {
            content_range: Some(range.into()),
            ..StorageHeaders::default()
        };
        route("PUT", "storage.googleapis.com", session, &h).map(|(_, s)| s)
    };
    assert_eq!(
        ranged("bytes 0-9/10"),
        Some(ObjectShape::Whole {
            name: None,
            multipart: false
        })
    );
    assert_eq!(
        ranged("bytes */10"),
        Some(ObjectShape::Whole {
            name: None,
            multipart: false
        })
    );
    for piece in [
        "bytes 0-9/20",
        "bytes 10-19/20",
        "bytes 0-9/*",
        "items 0-9/10",
    ] {
        assert_eq!(ranged(piece), Some(ObjectShape::Piece), "{piece}");
    }
}

#[test]
fn azure_blob_requests() {
    let h = StorageHeaders::default();
    let az = |m: &str, host: &str, p: &str| route(m, host, p, &h).map(|(_, s)| s);
    let account = "acmeai.blob.core.windows.net";
    assert_eq!(
        az("PUT", account, "/finetune/a.jsonl"),
        Some(ObjectShape::Whole {
            name: Some("a.jsonl".into()),
            multipart: false
        })
    );
    for host in [
        "acmeai.blob.core.usgovcloudapi.net",
        "acmeai.privatelink.blob.core.windows.net",
        "acmeai.z13.blob.storage.azure.net",
        "acmeai.dfs.core.windows.net",
    ] {
        assert!(az("PUT", host, "/finetune/a.jsonl").is_some(), "{host}");
    }
    assert_eq!(
        az("PUT", account, "/finetune/a?comp=block&blockid=AA"),
        Some(ObjectShape::Piece)
    );
    assert_eq!(
        az("PUT", account, "/finetune/a?comp=appendblock"),
        Some(ObjectShape::Piece)
    );
    assert_eq!(az("PUT", account, "/finetune/a?comp=blocklist"), None);
    assert_eq!(az("PUT", account, "/finetune/a?comp=metadata"), None);
    assert_eq!(az("PUT", account, "/backups/a.jsonl"), None);
    assert_eq!(
        az("PUT", "acmeai2.blob.core.windows.net", "/finetune/a"),
        None
    );
    assert_eq!(
        az(
            "PUT",
            "acmeai.blob.core.windows.net.evil.com",
            "/finetune/a"
        ),
        None
    );
}

/// Feeds an object in chunks of `size`; returns what was forwarded, or the refusal.
fn feed_object(p: &TrainingPolicy, body: &[u8], size: usize) -> (Vec<u8>, Option<StripError>) {
    let mut s = p.object_stripper("a.jsonl", false, None, None, false);
    let mut out = Vec::new();
    for chunk in body.chunks(size) {
        if let Err(e) = s.feed(chunk, &mut out) {
            return (out, Some(e));
        }
    }
    let end = s.finish(&mut out).err();
    (out, end)
}

#[test]
fn an_object_is_forwarded_byte_for_byte_or_never_reaches_its_length() {
    let p = policy(BUCKETS).unwrap();
    let clean = b"{\"text\":\"Where is my parcel?\"}\n{\"text\":\"It ships today.\"}\n".to_vec();
    let mut with_record = clean.clone();
    with_record
        .extend_from_slice(b"{\"text\":\"hola\",\"id\":\"wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQz\"}");
    for size in 1..=clean.len() {
        assert_eq!(
            feed_object(&p, &clean, size),
            (clean.clone(), None),
            "{size}"
        );
    }
    for size in 1..=with_record.len() {
        let (out, err) = feed_object(&p, &with_record, size);
        assert_eq!(err, Some(StripError::RecordsInObject), "{size}");
        // The last byte is held until every record is judged.
        assert!(out.len() < with_record.len(), "{size}");
        assert_eq!(out[..], with_record[..out.len()]);
    }
}

#[test]
fn aws_chunked_framing_is_read_to_judge_and_forwarded_as_sent() {
    let p = policy(BUCKETS).unwrap();
    let framed =
        b"1a;chunk-signature=ab\r\n{\"text\":\"wamid.HBgLMTY1\"}\n\r\n0;chunk-signature=cd\r\n\r\n";
    let mut s = p.object_stripper("a.jsonl", false, None, Some("aws-chunked"), true);
    let mut out = Vec::new();
    let r = s.feed(framed, &mut out).and_then(|()| s.finish(&mut out));
    assert_eq!(r, Err(StripError::RecordsInObject));
    let clean = b"11\r\n{\"text\":\"hello\"}\n\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n";
    let mut s = p.object_stripper("a.jsonl", false, None, Some("aws-chunked"), true);
    let mut out = Vec::new();
    for b in clean.chunks(3) {
        s.feed(b, &mut out).unwrap();
    }
    s.finish(&mut out).unwrap();
    assert_eq!(out, clean);
    // A body that stops before the zero-size chunk is not a whole object.
    let mut s = p.object_stripper("a.jsonl", false, None, Some("aws-chunked"), true);
    let mut out = Vec::new();
    s.feed(b"11\r\n{\"text\":\"hello\"}\n\r\n", &mut out)
        .unwrap();
    assert_eq!(s.finish(&mut out), Err(StripError::InvalidAwsChunked));
}

#[test]
fn an_object_with_a_record_is_never_bypassed() {
    let p = policy(BUCKETS).unwrap();
    let mut s = p.object_stripper("a.jsonl", false, None, None, false);
    let mut out = Vec::new();
    let r = s.feed(b"{\"id\":\"wamid.HBgLMTY1MDM4\"}\n", &mut out);
    assert_eq!(r, Err(StripError::RecordsInObject));
    assert!(!s.bypass(&mut out));
}

#[test]
fn gcs_server_side_writes_are_read_at_their_fixed_places() {
    let h = StorageHeaders::default();
    let post = |p: &str| route("POST", "storage.googleapis.com", p, &h).map(|(_, s)| s);
    let copy = Some(ObjectShape::Copy);
    // The source name hides a destination; the real one is the training bucket.
    assert_eq!(
        post("/storage/v1/b/src/o/x%2FrewriteTo%2Fb%2Fother%2Fo%2Fz/rewriteTo/b/acme.tuning/o/t"),
        copy
    );
    // A source bucket named like a verb.
    assert_eq!(
        post("/storage/v1/b/copyto/o/a/rewriteTo/b/acme.tuning/o/t"),
        copy
    );
    assert_eq!(post("/storage/v1/b/acme.tuning/o/t/compose"), copy);
    assert_eq!(post("/storage/v1/b/acme.tuning/o/a/moveTo/o/b"), copy);
    assert_eq!(post("/storage/v1/b/other/o/t/compose"), None);
    assert_eq!(
        post("/resumable/upload/storage/v1/b/acme.tuning/o?uploadType=multipart"),
        Some(ObjectShape::Whole {
            name: None,
            multipart: true
        })
    );
    // GCS reads its parameters with case; where they repeat, the object is judged.
    assert_eq!(
        post("/upload/storage/v1/b/acme.tuning/o?uploadType=resumable&uploadType=media&name=a"),
        Some(ObjectShape::Whole {
            name: Some("a".into()),
            multipart: false
        })
    );
    assert_eq!(
        post("/upload/storage/v1/b/acme.tuning/o?uploadType=media&name=a&name=b"),
        Some(ObjectShape::Whole {
            name: None,
            multipart: false
        })
    );
}

#[test]
fn hosts_are_the_services_own() {
    // `s3-scratch` is a bucket, not an endpoint label.
    assert_eq!(
        put(
            "s3-scratch.s3.us-east-1.amazonaws.com",
            "/acme-train/datasets/a"
        ),
        None
    );
    assert_eq!(
        put("s3-us-west-2.amazonaws.com", "/acme-train/datasets/a"),
        whole("s3", Some("datasets/a"))
    );
    let vpce = "bucket.vpce-1a2b-3c.s3.us-east-1.vpce.amazonaws.com";
    assert_eq!(
        put(vpce, "/acme-train/datasets/a"),
        whole("s3", Some("datasets/a"))
    );
    assert_eq!(
        put(&format!("acme-train.{vpce}"), "/datasets/a"),
        whole("s3", Some("datasets/a"))
    );
    for host in [
        "storage.mtls.googleapis.com",
        "commondatastorage.googleapis.com",
    ] {
        assert_eq!(
            put(host, "/acme.tuning/a.jsonl"),
            whole("gcs", Some("a.jsonl"))
        );
    }
    assert_eq!(
        put("acme.tuning.commondatastorage.googleapis.com", "/a.jsonl"),
        whole("gcs", Some("a.jsonl"))
    );
}

#[test]
fn a_put_to_a_key_is_an_object_unless_its_subresource_exists_for_put() {
    let host = "acme-train.s3.us-east-1.amazonaws.com";
    for q in [
        "uploads",
        "select",
        "delete",
        "versioning",
        "attributes",
        "restore",
    ] {
        assert_eq!(
            put(host, &format!("/datasets/a?{q}")),
            whole("s3", Some("datasets/a")),
            "{q}"
        );
    }
    for q in ["acl", "tagging", "retention", "legal-hold"] {
        assert_eq!(put(host, &format!("/datasets/a?{q}")), None, "{q}");
    }
    assert_eq!(
        put(host, "/datasets/a?renameObject"),
        Some(("s3".into(), ObjectShape::Copy))
    );
}

#[test]
fn azure_reads_data_lake_parameters_only_on_the_dfs_host() {
    let blob = "acmeai.blob.core.windows.net";
    assert_eq!(
        put(blob, "/finetune/a?resource=file"),
        Some((
            "az".into(),
            ObjectShape::Whole {
                name: Some("a".into()),
                multipart: false
            }
        ))
    );
    assert_eq!(
        put("acmeai.dfs.core.windows.net", "/finetune/a?resource=file"),
        None
    );
    assert_eq!(
        put(
            "acmeai.dfs.core.windows.net",
            "/finetune/a?action=append&position=0"
        ),
        Some(("az".into(), ObjectShape::Piece))
    );
    // A single segment is a blob of `$root`, not the container.
    assert_eq!(put(blob, "/finetune"), None);
}

/// Feeds a GCS batch body to the batch stripper in 7-byte chunks: the bytes forwarded, or why
/// the batch is refused.
fn batch(content_type: &str, body: &str) -> Result<Vec<u8>, StripError> {
    let p = policy(BUCKETS).unwrap();
    let mut s = p.batch_stripper(Some(content_type));
    let mut out = Vec::new();
    for chunk in body.as_bytes().chunks(7) {
        s.feed(chunk, &mut out)?;
    }
    s.finish(&mut out)?;
    Ok(out)
}

fn batch_part(request_line: &str) -> String {
    format!("--b1\r\nContent-Type: application/http\r\n\r\n{request_line}\r\n\r\n\r\n")
}

const MIXED: &str = "multipart/mixed; boundary=b1";

#[test]
fn gcs_batch_paths_are_batches_when_a_gcs_bucket_is_named() {
    let none = StorageHeaders::default();
    for (authority, path) in [
        ("storage.googleapis.com", "/batch/storage/v1"),
        ("www.googleapis.com", "/batch"),
        ("storage.googleapis.com", "/Batch/storage/v1?x=1"),
        ("storage.googleapis.com", "/%62atch/storage/v1"),
        ("storage.mtls.googleapis.com", "//batch/./storage/v1"),
    ] {
        assert_eq!(
            route("POST", authority, path, &none),
            Some(("gcs".into(), ObjectShape::Batch)),
            "{authority}{path}"
        );
    }
    assert_eq!(
        route("GET", "storage.googleapis.com", "/batch/storage/v1", &none),
        None
    );
    let s3_only = policy(r#"[{"id":"s3","provider":"s3","bucket":"acme-train"}]"#).unwrap();
    let path = crate::whatsapp::normalize_path("/batch/storage/v1");
    let req = ObjectRequest {
        method: "POST",
        host: "storage.googleapis.com",
        raw_path: "/batch/storage/v1",
        path: &path,
        headers: &none,
    };
    assert!(s3_only.route_object(&req).is_none());
}

#[test]
fn a_gcs_batch_is_refused_for_any_embedded_write_into_the_bucket() {
    for (line, reason) in [
        (
            "POST /storage/v1/b/other/o/a/rewriteTo/b/acme.tuning/o/t.jsonl HTTP/1.1",
            StripError::ObjectCopy,
        ),
        (
            "POST /storage/v1/b/other/o/a/copyTo/b/ACME.TUNING/o/t.jsonl HTTP/1.1",
            StripError::ObjectCopy,
        ),
        (
            "POST /storage/v1/b/acme.tuning/o/t.jsonl/compose HTTP/1.1",
            StripError::ObjectCopy,
        ),
        (
            "post http://storage.googleapis.com/storage/v1/b/acme.tuning/o/a/moveTo/o/b",
            StripError::ObjectCopy,
        ),
        (
            "POST /upload/storage/v1/b/acme.tuning/o?uploadType=media&name=t.jsonl HTTP/1.1",
            StripError::ObjectInBatch,
        ),
        ("POST /batch/storage/v1 HTTP/1.1", StripError::ObjectInBatch),
    ] {
        let body = format!(
            "{}{}--b1--\r\n",
            batch_part("GET /storage/v1/b/x/o/y HTTP/1.1"),
            batch_part(line)
        );
        assert_eq!(batch(MIXED, &body), Err(reason), "{line}");
    }
}

#[test]
fn a_clean_gcs_batch_is_forwarded_byte_for_byte() {
    let body = format!(
        "preamble\r\n{}{}{}--b1--\r\n",
        batch_part("PATCH /storage/v1/b/acme.tuning/o/t.jsonl HTTP/1.1"),
        batch_part("DELETE /storage/v1/b/acme.tuning/o/t.jsonl HTTP/1.1"),
        batch_part("POST /storage/v1/b/acme.tuning/o/a/rewriteTo/b/other/o/a HTTP/1.1"),
    );
    assert_eq!(batch(MIXED, &body), Ok(body.into_bytes()));
}

#[test]
fn a_broken_gcs_batch_is_malformed() {
    let part = batch_part("PATCH /storage/v1/b/x/o/y HTTP/1.1");
    for (content_type, body) in [
        ("multipart/mixed", format!("{part}--b1--\r\n")),
        (MIXED, part.clone()),
        (MIXED, "no delimiter at all".to_owned()),
        (MIXED, format!("{part}--b1--\r\n{part}--b1--\r\n")),
        (
            MIXED,
            "--b1\r\nContent-Type: application/http\r\n\r\nhello\r\n--b1--\r\n".to_owned(),
        ),
        (
            MIXED,
            "--b1\r\nContent-Type: application/http\r\n".to_owned() + "--b1--\r\n",
        ),
        (
            MIXED,
            "--b1x\r\n\r\nGET /a HTTP/1.1\r\n\r\n--b1--\r\n".to_owned(),
        ),
    ] {
        assert_eq!(
            batch(content_type, &body),
            Err(StripError::MalformedMultipart),
            "{body:?}"
        );
    }
}

#[test]
fn a_gcs_batch_larger_than_a_json_document_is_refused() {
    let body = format!(
        "{}--b1--\r\n{}",
        batch_part("GET /a HTTP/1.1"),
        " ".repeat(17 << 20)
    );
    assert_eq!(batch(MIXED, &body), Err(StripError::RecordTooLarge));
}

/// What a request to a GCS host is to a resumable session: a start (with the training bucket
/// it starts a session for), a request naming sessions, or nothing.
#[test]
fn gcs_session_requests_are_read_on_every_gcs_host() {
    let p = policy(BUCKETS).unwrap();
    let read = |method: &str, authority: &str, raw_path: &str, xml_start: bool| {
        let host = normalize_authority(authority);
        let path = crate::whatsapp::normalize_path(raw_path);
        let headers = StorageHeaders {
            goog_resumable_start: xml_start,
            ..StorageHeaders::default()
        };
        let req = ObjectRequest {
            method,
            host: &host,
            raw_path,
            path: &path,
            headers: &headers,
        };
        match p.gcs_session(&req) {
            None => "none".to_owned(),
            Some(crate::training::GcsSession::Start { rule }) => {
                format!("start {}", rule.map_or("-", |e| e.id.as_str()))
            }
            Some(crate::training::GcsSession::Chunk(ids)) => format!("chunk {}", ids.join(",")),
        }
    };
    let gcs = "storage.googleapis.com";
    for (method, authority, path, xml, want) in [
        (
            "POST",
            gcs,
            "/upload/storage/v1/b/acme.tuning/o?uploadType=resumable",
            false,
            "start gcs",
        ),
        (
            "POST",
            gcs,
            "/resumable/upload/storage/v1/b/acme.tuning/o?uploadType=resumable",
            false,
            "start gcs",
        ),
        (
            "POST",
            gcs,
            "/upload/storage/v1/b/scratch/o?uploadType=resumable",
            false,
            "start -",
        ),
        ("POST", gcs, "/acme.tuning/a.jsonl", true, "start gcs"),
        (
            "POST",
            "acme.tuning.storage.googleapis.com",
            "/a.jsonl",
            true,
            "start gcs",
        ),
        (
            "POST",
            "scratch.storage.googleapis.com",
            "/a.jsonl",
            true,
            "start -",
        ),
        // Not a start: another upload type, a start GCS does not read as one, an XML POST
        // without the header.
        (
            "POST",
            gcs,
            "/upload/storage/v1/b/scratch/o?uploadType=media",
            false,
            "none",
        ),
        (
            "POST",
            gcs,
            "/upload/storage/v1/b/scratch/o?uploadType=Resumable",
            false,
            "none",
        ),
        ("POST", gcs, "/scratch/a.jsonl", false, "none"),
        (
            "PUT",
            gcs,
            "/upload/storage/v1/b/scratch/o?upload_id=A%2BB",
            false,
            "chunk A+B",
        ),
        (
            "PUT",
            gcs,
            "/scratch/a.jsonl?upload_id=A&upload_id=B",
            false,
            "chunk A,B",
        ),
        ("PUT", gcs, "/scratch/a.jsonl?Upload_Id=A", false, "chunk "),
        (
            "PATCH",
            "scratch.commondatastorage.googleapis.com",
            "/a?upload_id=A",
            false,
            "chunk A",
        ),
        ("GET", gcs, "/scratch/a.jsonl?upload_id=A", false, "none"),
        ("POST", gcs, "/batch/storage/v1?upload_id=A", false, "none"),
        // Not a GCS host.
        (
            "PUT",
            "s3.amazonaws.com",
            "/scratch/a?upload_id=A",
            false,
            "none",
        ),
    ] {
        assert_eq!(
            read(method, authority, path, xml),
            want,
            "{method} {authority}{path}"
        );
    }
    // A policy without a GCS bucket reads no session.
    let s3_only = policy(r#"[{"id":"s3","provider":"s3","bucket":"acme-train"}]"#).unwrap();
    assert!(!s3_only.serves_gcs_host(gcs));
    assert!(p.serves_gcs_host("scratch.storage.googleapis.com"));
    assert!(p.governs_host("scratch.storage.googleapis.com"));
}
