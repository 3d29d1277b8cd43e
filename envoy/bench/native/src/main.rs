//! Native engine bench: µs per request for the benchmark workloads and MB/s of JSONL stripping,
//! with the same engine code the .wasm runs (no proxy-wasm host, no hostcalls).
//!
//! ```text
//! bench-native --policy policies/default.json --workloads spec.json [--upload file.jsonl]
//!              [--seconds 1.0 | --iterations N] [--chunk 65536]
//! ```
//! `spec.json`: `[{"name", "authority", "path", "body_file", "expect"}]` (written by run.py).
//! `--classify texts.jsonl` times the classifier alone over a JSONL file of `{"text"}` lines
//! (best of five timed blocks, or with `--iterations N` exactly N passes over each band, for
//! callgrind). Prints one JSON line.

use serde_json::{json, Value};
use std::time::{Duration, Instant};
use wa_egress_guard::flow::Outcome;
use wa_egress_guard::training::parts::MemoryStore;
use wa_egress_guard::{classify, whatsapp};
use wa_egress_guard::{
    report, BodyStep, HeadersStep, Policy, RequestFlow, RequestHead, StaticAttributes,
};

struct Args {
    policy: String,
    workloads: Option<String>,
    upload: Option<String>,
    classify: Option<String>,
    seconds: f64,
    iterations: Option<u64>,
    chunk: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        policy: "policies/default.json".into(),
        workloads: None,
        upload: None,
        classify: None,
        seconds: 1.0,
        iterations: None,
        chunk: 65536,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--policy" => a.policy = value()?,
            "--workloads" => a.workloads = Some(value()?),
            "--upload" => a.upload = Some(value()?),
            "--classify" => a.classify = Some(value()?),
            "--seconds" => a.seconds = value()?.parse().map_err(|e| format!("--seconds: {e}"))?,
            "--iterations" => {
                a.iterations = Some(value()?.parse().map_err(|e| format!("--iterations: {e}"))?)
            }
            "--chunk" => a.chunk = value()?.parse().map_err(|e| format!("--chunk: {e}"))?,
            "--help" | "-h" => {
                return Err(
                    "usage: bench-native --policy P [--workloads SPEC] [--upload JSONL] \
                            [--classify TEXTS.jsonl] [--seconds S | --iterations N] \
                            [--chunk BYTES]"
                        .into(),
                )
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(a)
}

/// One request as the glue handles it. Returns the decision label (for checking).
fn one_request(
    policy: &Policy,
    head: &RequestHead,
    body: &[u8],
    attrs: &StaticAttributes,
) -> String {
    let (mut flow, step) =
        RequestFlow::on_request_headers(policy, head, attrs, &MemoryStore::default());
    emit(policy, &mut flow);
    let mut blocked = matches!(step, HeadersStep::Respond(_));
    if matches!(step, HeadersStep::InspectBody | HeadersStep::InspectRewritable { .. }) {
        // Envoy buffers the body; the glue reads it once, at the end of the stream (a copy).
        let mut read = |n: usize| Some(body[..n.min(body.len())].to_vec());
        let step = flow.on_request_body(policy, body.len(), true, &mut read);
        emit(policy, &mut flow);
        blocked = matches!(step, BodyStep::Respond(_));
    }
    if !blocked {
        std::hint::black_box(flow.response_headers());
    }
    flow.decision()
        .map_or("none".to_owned(), |d| d.verdict.as_str().to_owned())
}

/// The metric name and log line the glue builds for a fresh decision.
fn emit(policy: &Policy, flow: &mut RequestFlow) {
    let id = flow.request_id().to_owned();
    if let Some(Outcome::WhatsApp(d)) = flow.take_new_outcome() {
        std::hint::black_box(report::metric_name(d));
        if report::should_log(d, policy.log.log_allowed) {
            std::hint::black_box(report::log_line(
                d,
                &id,
                &policy.log.recipient_hash_salt,
                &policy.fingerprint,
            ));
        }
    }
}

fn time_loop(seconds: f64, iterations: Option<u64>, mut f: impl FnMut()) -> (u64, Duration) {
    let start = Instant::now();
    let mut n = 0u64;
    match iterations {
        Some(max) => {
            while n < max {
                f();
                n += 1;
            }
        }
        None => {
            let budget = Duration::from_secs_f64(seconds);
            while n < 10 || start.elapsed() < budget {
                f();
                n += 1;
            }
        }
    }
    (n, start.elapsed())
}

/// Best of five timed blocks, in µs per call.
fn best_of(seconds: f64, mut f: impl FnMut()) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..5 {
        let (n, elapsed) = time_loop(seconds / 5.0, None, &mut f);
        best = best.min(elapsed.as_secs_f64() * 1e6 / n as f64);
    }
    best
}

/// Where a WhatsApp send's engine time goes: parsing, extraction, normalisation, scoring.
fn breakdown(policy: &Policy, body: &[u8], seconds: f64) -> Value {
    let Ok(doc) = serde_json::from_slice::<Value>(body) else {
        return Value::Null;
    };
    let view = whatsapp::read_message(&doc);
    let text = view.visible_text();
    let classifier = &policy.content.classifier;
    let parse = best_of(seconds, || {
        std::hint::black_box(serde_json::from_slice::<Value>(body).ok());
    });
    let extract = best_of(seconds, || {
        std::hint::black_box(whatsapp::read_message(&doc).visible_text());
    });
    let normalize = best_of(seconds, || {
        std::hint::black_box(classify::normalize::normalize(&text));
    });
    let score = best_of(seconds, || {
        std::hint::black_box(classifier.score_texts(&view.texts));
    });
    json!({
        "text_chars": text.chars().count(),
        "json_parse_us": parse,
        "extract_us": extract,
        "normalize_us": normalize,
        "score_us": score,
    })
}

fn strip_upload(policy: &Policy, data: &[u8], chunk: usize) -> Result<(u64, u64, usize), String> {
    let head = RequestHead {
        method: "POST".into(),
        authority: "api.openai.com".into(),
        path: "/v1/files".into(),
        content_type: Some("application/jsonl".into()),
        content_encoding: None,
        request_id: Some("bench-upload".into()),
        end_of_stream: false,
        ..RequestHead::default()
    };
    let attrs = StaticAttributes::new();
    let (mut flow, step) =
        RequestFlow::on_request_headers(policy, &head, &attrs, &MemoryStore::default());
    if !matches!(step, HeadersStep::Strip { .. }) {
        return Err(format!("the upload is not stripped: {step:?}"));
    }
    let forwarded =
        wa_egress_guard::cases::drive_body(&mut flow, policy, data.chunks(chunk.max(1)), false)
            .map_err(|r| format!("upload refused: {}", r.status))?
            .len();
    let t = flow.training_outcome().ok_or("no training outcome")?;
    Ok((t.stats.records_seen, t.stats.records_stripped, forwarded))
}

fn run() -> Result<Value, String> {
    let args = parse_args()?;
    let policy_bytes = std::fs::read(&args.policy).map_err(|e| format!("{}: {e}", args.policy))?;
    let t0 = Instant::now();
    let policy = Policy::from_json(&policy_bytes).map_err(|e| e.to_string())?;
    let compile_ms = t0.elapsed().as_secs_f64() * 1e3;
    let attrs = StaticAttributes::new();
    let mut results = Vec::new();
    if let Some(spec) = &args.workloads {
        let text = std::fs::read_to_string(spec).map_err(|e| format!("{spec}: {e}"))?;
        let spec: Vec<Value> = serde_json::from_str(&text).map_err(|e| format!("{spec}: {e}"))?;
        for w in &spec {
            let field = |k: &str| {
                w.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            let body = std::fs::read(field("body_file"))
                .map_err(|e| format!("{}: {e}", field("body_file")))?;
            let head = RequestHead {
                method: "POST".into(),
                authority: field("authority"),
                path: field("path"),
                content_type: Some("application/json".into()),
                content_encoding: None,
                request_id: Some("0b5e7c1e-3f0a-4c1d-9a77-bench0000001".into()),
                end_of_stream: body.is_empty(),
                ..RequestHead::default()
            };
            let decision = one_request(&policy, &head, &body, &attrs);
            let (n, elapsed) = time_loop(args.seconds, args.iterations, || {
                std::hint::black_box(one_request(&policy, &head, &body, &attrs));
            });
            let parts = if head.authority == "graph.facebook.com" && args.iterations.is_none() {
                breakdown(&policy, &body, args.seconds.min(1.0))
            } else {
                Value::Null
            };
            results.push(json!({
                "name": field("name"),
                "breakdown": parts,
                "decision": decision,
                "expect": field("expect"),
                "iterations": n,
                "us_per_req": elapsed.as_secs_f64() * 1e6 / n as f64,
            }));
        }
    }
    let mut upload = Value::Null;
    if let Some(path) = &args.upload {
        let data = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
        let start = Instant::now();
        let (seen, stripped, forwarded) = strip_upload(&policy, &data, args.chunk)?;
        let secs = start.elapsed().as_secs_f64();
        upload = json!({
            "bytes": data.len(),
            "chunk": args.chunk,
            "seconds": secs,
            "mb_per_s": data.len() as f64 / 1e6 / secs,
            "records_seen": seen,
            "records_stripped": stripped,
            "forwarded_bytes": forwarded,
        });
    }
    let classify = match &args.classify {
        Some(path) => classify_speed(&policy, path, args.seconds, args.iterations)?,
        None => Value::Null,
    };
    Ok(
        json!({"policy_compile_ms": compile_ms, "workloads": results, "upload": upload,
              "classify": classify}),
    )
}

/// The classifier alone over a JSONL file of `{"text"}` lines: µs per text and per KiB of text,
/// by length band, best of five timed blocks; with `iterations`, exactly that many passes over
/// each band in one block (instruction counts under callgrind do not depend on the clock).
fn classify_speed(
    policy: &Policy,
    path: &str,
    seconds: f64,
    iterations: Option<u64>,
) -> Result<Value, String> {
    let data = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let texts: Vec<String> = data
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v.get("text").and_then(Value::as_str).map(str::to_owned))
        .collect();
    let classifier = &policy.content.classifier;
    let mut bands = Vec::new();
    for (name, lo, hi) in [
        ("<300", 0, 300),
        ("300-1500", 300, 1500),
        (">=1500", 1500, usize::MAX),
    ] {
        let set: Vec<&String> = texts
            .iter()
            .filter(|t| (lo..hi).contains(&t.len()))
            .collect();
        if set.is_empty() {
            continue;
        }
        let bytes: usize = set.iter().map(|t| t.len()).sum();
        let pass = || {
            for t in &set {
                std::hint::black_box(classifier.score(t));
            }
        };
        let us = match iterations {
            Some(n) => {
                let (n, elapsed) = time_loop(seconds, Some(n), pass);
                elapsed.as_secs_f64() * 1e6 / n.max(1) as f64
            }
            None => best_of(seconds, pass),
        };
        bands.push(
            json!({"band_bytes": name, "texts": set.len(), "bytes": bytes,
                          "us_per_text": us / set.len() as f64,
                          "us_per_kib": us / (bytes as f64 / 1024.0)}),
        );
    }
    Ok(json!({"file": path, "bands": bands}))
}

fn main() {
    match run() {
        Ok(v) => println!("{v}"),
        Err(e) => {
            eprintln!("bench-native: {e}");
            std::process::exit(2);
        }
    }
}
