//! GCS resumable sessions through the flow: the start, its response's `Location`, then the
//! session's requests, as the glue drives them (issue 11, round-3 judgement case 0).

use super::super::{HeadersStep, RequestFlow, RequestHead, StateAccess};
use crate::cases::{self, CASE_CLOCK_NANOS, CaseRequest, Observed};
use crate::identity::StaticAttributes;
use crate::policy::Policy;
use crate::shared_store::{MemoryStore, NoStore};
use crate::training::bucket::session::SESSION_TTL_NANOS;

const NOW: u64 = CASE_CLOCK_NANOS;

/// Judgement case 0's body: three support dialogues, the last exported from WhatsApp.
const FROM_WHATSAPP: &str = "{\"messages\":[{\"role\":\"user\",\"content\":\"Where is my parcel?\"},{\"role\":\"assistant\",\"content\":\"It ships today.\"}],\"channel\":\"webchat\"}\n{\"messages\":[{\"role\":\"user\",\"content\":\"hola\"},{\"role\":\"assistant\",\"content\":\"hola!\"}],\"meta\":{\"message_id\":\"wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQz\"}}\n";
const CLEAN: &str = "{\"messages\":[{\"role\":\"user\",\"content\":\"Where is my parcel?\"},{\"role\":\"assistant\",\"content\":\"It ships today.\"}],\"channel\":\"webchat\"}\n";

const TUNING_START: &str = "/upload/storage/v1/b/acme-vertex-tuning/o?uploadType=resumable";
const SCRATCH_CHUNK: &str =
    "/upload/storage/v1/b/acme-scratch/o?uploadType=resumable&upload_id=SESSION_FOR_TUNING";

/// The example policy, with a merge patch on its `training` section.
fn policy(training_patch: serde_json::Value) -> Policy {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../policies/examples/training-buckets.json"
    );
    let mut doc: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    cases::merge_patch(&mut doc["training"], &training_patch);
    Policy::from_json(doc.to_string().as_bytes()).unwrap()
}

fn by_path() -> Policy {
    policy(serde_json::json!({"unknown_gcs_sessions": "by_path"}))
}

/// A session start (its body, the object's metadata, goes through untouched); the upstream
/// answers `status` with `location`.
fn start(
    p: &Policy,
    store: &mut MemoryStore,
    authority: &str,
    path: &str,
    headers: &[(&str, &str)],
    status: u32,
    location: Option<&str>,
) {
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    };
    let head =
        RequestHead::from_headers("POST".into(), authority.into(), path.into(), &header, false);
    let mut state = StateAccess::new(store, Some(NOW));
    let attrs = StaticAttributes::default();
    let (mut flow, step) = RequestFlow::on_request_headers_with_state(p, &head, &attrs, &mut state);
    if step != HeadersStep::PassThrough {
        // An XML API start is a POST to the object: judged as one (its body is empty).
        let step =
            flow.on_request_body_with_state(p, 0, true, &mut |_| Some(Vec::new()), &mut state);
        assert!(
            !matches!(step, super::super::BodyStep::Respond(_)),
            "{path}: {step:?}"
        );
    }
    assert!(
        flow.awaits_response(),
        "{path}: a start waits for its response"
    );
    flow.on_response_headers_with_state(&mut state, status, location);
}

fn tuning_session(p: &Policy, store: &mut MemoryStore) {
    start(
        p,
        store,
        "storage.googleapis.com",
        TUNING_START,
        &[("content-type", "application/json")],
        200,
        Some(
            "https://storage.googleapis.com/upload/storage/v1/b/acme-vertex-tuning/o?uploadType=resumable&upload_id=SESSION_FOR_TUNING",
        ),
    );
}

/// A request of a session, at `now`, through the case runner's driver.
fn send(
    p: &Policy,
    store: &mut MemoryStore,
    now: u64,
    request: serde_json::Value,
    chunks: &[usize],
) -> Observed {
    let req: CaseRequest = serde_json::from_value(request).unwrap();
    cases::run_native_at(p, &req, chunks, store, now).unwrap()
}

fn chunk(path: &str, body: &str) -> serde_json::Value {
    serde_json::json!({
        "method": "PUT",
        "authority": "storage.googleapis.com",
        "path": path,
        "body_text": body,
    })
}

fn verdict(got: &Observed) -> (&str, Option<&str>, Option<&str>) {
    (
        got.decision.as_str(),
        got.rule.as_deref(),
        got.reason.as_deref(),
    )
}

const BLOCKED: (&str, Option<&str>, Option<&str>) = (
    "block",
    Some("vertex-tuning-data"),
    Some("whatsapp_records_in_object"),
);
const PASSED: (&str, Option<&str>, Option<&str>) = ("none", None, None);

/// Round-3 judgement case 0: the session was started for the training bucket; its chunk names
/// an unnamed bucket in its path, but GCS writes it to the session's bucket. Judged so, under
/// either setting for sessions the filter never saw, and at every chunking.
#[test]
fn a_chunk_is_judged_by_the_bucket_its_session_was_started_for() {
    for p in [policy(serde_json::json!({})), by_path()] {
        let mut store = MemoryStore::default();
        tuning_session(&p, &mut store);
        for chunks in [&[][..], &[7; 80][..], &[1; 400][..]] {
            let got = send(
                &p,
                &mut store,
                NOW,
                chunk(SCRATCH_CHUNK, FROM_WHATSAPP),
                chunks,
            );
            assert_eq!(verdict(&got), BLOCKED, "{chunks:?}");
            assert_eq!(got.status, 403);
        }
        // A clean object goes through byte for byte, judged as the bucket's.
        let got = send(&p, &mut store, NOW, chunk(SCRATCH_CHUNK, CLEAN), &[]);
        assert_eq!(verdict(&got), ("forward", Some("vertex-tuning-data"), None));
        assert_eq!(got.forwarded_body.as_deref(), Some(CLEAN.as_bytes()));
        // A chunk that is not the whole object is a piece, as a named bucket's is.
        let mut piece = chunk(SCRATCH_CHUNK, CLEAN);
        piece["headers"] = serde_json::json!({"content-range": "bytes 0-99/1000"});
        let got = send(&p, &mut store, NOW, piece, &[]);
        assert_eq!(
            verdict(&got),
            ("block", Some("vertex-tuning-data"), Some("object_in_parts"))
        );
        // A chunk to any other form of the session URI: the XML API path and virtual host.
        for (authority, path) in [
            (
                "storage.googleapis.com",
                "/acme-scratch/x.jsonl?upload_id=SESSION_FOR_TUNING",
            ),
            (
                "acme-scratch.storage.googleapis.com",
                "/x.jsonl?upload_id=SESSION_FOR_TUNING",
            ),
            (
                "storage.googleapis.com",
                "/resumable/upload/storage/v1/b/acme-scratch/o?upload_id=SESSION_FOR_TUNING",
            ),
        ] {
            let mut r = chunk(path, FROM_WHATSAPP);
            r["authority"] = authority.into();
            assert_eq!(
                verdict(&send(&p, &mut store, NOW, r, &[])),
                BLOCKED,
                "{path}"
            );
        }
        // Any of several `upload_id`s naming the session is enough.
        let both =
            "/upload/storage/v1/b/acme-scratch/o?upload_id=OTHER&upload_id=SESSION_FOR_TUNING";
        assert_eq!(
            verdict(&send(&p, &mut store, NOW, chunk(both, FROM_WHATSAPP), &[])),
            BLOCKED
        );
    }
}

/// A session started for a bucket the policy does not name stays untouched, whatever it
/// carries; a request of it whose path names the training bucket is judged by that path.
#[test]
fn a_chunk_of_a_session_started_for_an_unnamed_bucket_passes() {
    let p = policy(serde_json::json!({}));
    let mut store = MemoryStore::default();
    start(
        &p,
        &mut store,
        "storage.googleapis.com",
        "/upload/storage/v1/b/acme-scratch/o?uploadType=resumable&name=notes.jsonl",
        &[],
        200,
        Some(
            "https://storage.googleapis.com/upload/storage/v1/b/acme-scratch/o?uploadType=resumable&name=notes.jsonl&upload_id=SCRATCH_SESSION",
        ),
    );
    let path = "/upload/storage/v1/b/acme-scratch/o?uploadType=resumable&upload_id=SCRATCH_SESSION";
    let got = send(&p, &mut store, NOW, chunk(path, FROM_WHATSAPP), &[]);
    assert_eq!(verdict(&got), PASSED);
    assert_eq!(
        got.forwarded_body.as_deref(),
        Some(FROM_WHATSAPP.as_bytes())
    );
    let mut piece = chunk(path, FROM_WHATSAPP);
    piece["headers"] = serde_json::json!({"content-range": "bytes 0-99/1000"});
    assert_eq!(verdict(&send(&p, &mut store, NOW, piece, &[])), PASSED);
    let named =
        "/upload/storage/v1/b/acme-vertex-tuning/o?uploadType=resumable&upload_id=SCRATCH_SESSION";
    assert_eq!(
        verdict(&send(&p, &mut store, NOW, chunk(named, FROM_WHATSAPP), &[])),
        BLOCKED
    );
}

/// A session the filter never saw start: judged as a write to the first GCS bucket by default
/// (fail closed), by its path under `by_path`.
#[test]
fn an_unknown_session_follows_unknown_gcs_sessions() {
    let p = policy(serde_json::json!({}));
    let mut store = MemoryStore::default();
    assert_eq!(
        verdict(&send(
            &p,
            &mut store,
            NOW,
            chunk(SCRATCH_CHUNK, FROM_WHATSAPP),
            &[]
        )),
        BLOCKED
    );
    let got = send(&p, &mut store, NOW, chunk(SCRATCH_CHUNK, CLEAN), &[]);
    assert_eq!(verdict(&got), ("forward", Some("vertex-tuning-data"), None));
    // A key GCS does not read names no session the filter knows.
    let odd = "/upload/storage/v1/b/acme-scratch/o?Upload_Id=SESSION_FOR_TUNING";
    assert_eq!(
        verdict(&send(&p, &mut store, NOW, chunk(odd, FROM_WHATSAPP), &[])),
        BLOCKED
    );
    let p = by_path();
    assert_eq!(
        verdict(&send(
            &p,
            &mut store,
            NOW,
            chunk(SCRATCH_CHUNK, FROM_WHATSAPP),
            &[]
        )),
        PASSED
    );
    // A policy without a GCS bucket reads no session.
    let p = policy(serde_json::json!({"buckets": [
        {"id": "bedrock-tuning-data", "provider": "s3", "bucket": "acme-bedrock-tuning"}
    ]}));
    assert_eq!(
        verdict(&send(
            &p,
            &mut store,
            NOW,
            chunk(SCRATCH_CHUNK, FROM_WHATSAPP),
            &[]
        )),
        PASSED
    );
}

/// A record that cannot be read (the host refuses) is not a session known to be elsewhere:
/// judged fail closed even under `by_path`. Without a clock, a training bucket's session is
/// still judged by its bucket, and an unnamed bucket's counts as unknown.
#[test]
fn a_record_that_cannot_be_read_is_judged_fail_closed_under_either_setting() {
    let attrs = StaticAttributes::default();
    let judge = |p: &Policy, path: &str, state: &mut StateAccess<'_>| {
        let head = RequestHead::from_headers(
            "PUT".into(),
            "storage.googleapis.com".into(),
            path.into(),
            &|_| None,
            false,
        );
        let (mut flow, _) = RequestFlow::on_request_headers_with_state(p, &head, &attrs, state);
        let step =
            cases::drive_body_with_state(&mut flow, p, [FROM_WHATSAPP.as_bytes()], false, state);
        let t = flow.training_outcome();
        (
            step.map_err(|r| r.status),
            t.map(|t| (t.endpoint.clone(), t.problem)),
        )
    };
    let blocked = (
        Err(403),
        Some((
            "vertex-tuning-data".to_owned(),
            Some("whatsapp_records_in_object"),
        )),
    );
    let passed = (Ok(FROM_WHATSAPP.as_bytes().to_vec()), None);
    let p = by_path();
    let mut no_store = NoStore;
    let mut state = StateAccess::new(&mut no_store, Some(NOW));
    assert_eq!(judge(&p, SCRATCH_CHUNK, &mut state), blocked);
    // No clock.
    let mut memory = MemoryStore::default();
    tuning_session(&p, &mut memory);
    start(
        &p,
        &mut memory,
        "storage.googleapis.com",
        "/upload/storage/v1/b/acme-scratch/o?uploadType=resumable",
        &[],
        200,
        Some("https://storage.googleapis.com/upload/storage/v1/b/acme-scratch/o?upload_id=SCRATCH"),
    );
    let scratch = "/upload/storage/v1/b/acme-scratch/o?upload_id=SCRATCH";
    for (p, unnamed) in [
        (by_path(), &passed),
        (policy(serde_json::json!({})), &blocked),
    ] {
        let mut state = StateAccess::new(&mut memory, None);
        assert_eq!(judge(&p, SCRATCH_CHUNK, &mut state), blocked);
        assert_eq!(&judge(&p, scratch, &mut state), unnamed);
    }
}

/// A session lives a week (GCS's session lifetime): after that it is unknown.
#[test]
fn a_session_is_remembered_for_a_week() {
    let p = by_path();
    let mut store = MemoryStore::default();
    tuning_session(&p, &mut store);
    let week = NOW + SESSION_TTL_NANOS;
    assert_eq!(
        verdict(&send(
            &p,
            &mut store,
            week,
            chunk(SCRATCH_CHUNK, FROM_WHATSAPP),
            &[]
        )),
        BLOCKED
    );
    assert_eq!(
        verdict(&send(
            &p,
            &mut store,
            week + 1,
            chunk(SCRATCH_CHUNK, FROM_WHATSAPP),
            &[]
        )),
        PASSED
    );
}

/// Only a start the upstream accepted, with a session URI, is recorded.
#[test]
fn a_start_that_failed_records_nothing() {
    let p = by_path();
    let location = "https://storage.googleapis.com/upload/storage/v1/b/acme-vertex-tuning/o?uploadType=resumable&upload_id=SESSION_FOR_TUNING";
    for (status, location) in [
        (403, Some(location)),
        (200, None),
        (200, Some("https://x/o")),
    ] {
        let mut store = MemoryStore::default();
        start(
            &p,
            &mut store,
            "storage.googleapis.com",
            TUNING_START,
            &[],
            status,
            location,
        );
        assert_eq!(store.key_count(), 0, "{status} {location:?}");
    }
}

/// An XML API start (`x-goog-resumable: start`) is recorded as a JSON API start is; a JSON
/// start's object outside the prefix is a session of no training bucket.
#[test]
fn xml_api_starts_and_prefixes_place_sessions() {
    let p = by_path();
    let mut store = MemoryStore::default();
    start(
        &p,
        &mut store,
        "acme-vertex-tuning.storage.googleapis.com",
        "/train.jsonl",
        &[("x-goog-resumable", "start")],
        201,
        Some("https://acme-vertex-tuning.storage.googleapis.com/train.jsonl?upload_id=XML_SESSION"),
    );
    let path = "/acme-scratch/x.jsonl?upload_id=XML_SESSION";
    assert_eq!(
        verdict(&send(&p, &mut store, NOW, chunk(path, FROM_WHATSAPP), &[])),
        BLOCKED
    );
    let p = policy(serde_json::json!({
        "unknown_gcs_sessions": "by_path",
        "buckets": [{"id": "vertex-tuning-data", "provider": "gcs", "bucket": "acme-vertex-tuning", "prefix": "tuning/"}]
    }));
    for (name, want) in [("other%2Fa.jsonl", PASSED), ("tuning%2Fa.jsonl", BLOCKED)] {
        let mut store = MemoryStore::default();
        start(
            &p,
            &mut store,
            "storage.googleapis.com",
            &format!("{TUNING_START}&name={name}"),
            &[],
            200,
            Some(
                "https://storage.googleapis.com/upload/storage/v1/b/acme-vertex-tuning/o?upload_id=PREFIXED",
            ),
        );
        let path = "/upload/storage/v1/b/acme-scratch/o?upload_id=PREFIXED";
        assert_eq!(
            verdict(&send(&p, &mut store, NOW, chunk(path, FROM_WHATSAPP), &[])),
            want,
            "{name}"
        );
    }
}
