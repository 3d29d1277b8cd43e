//! `wa-guard inventory`, run as a user runs it: a log written here with the filter's lines as
//! Envoy prefixes them (several senders, numbers and message types; allowed lines sampled at
//! 0.5, audit lines, training uploads, older lines without the new fields) mixed with garbage,
//! truncated JSON and other programs' lines, read from a plain file and a gzip file through a
//! glob and from stdin. The JSON's counts are exact; the HTML is one file with SVG marks and no
//! external reference; the suggested policy compiles and declares the roles the scores support.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "a test: a failure is a panic with its message"
)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn component_path() -> PathBuf {
    std::env::var_os("WA_GUARD_COMPONENT")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(host_tests::component::DEFAULT_COMPONENT_PATH))
}

fn wa_guard(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let path = component_path();
    assert!(
        path.exists(),
        "`{}` is missing: build it first with `make component`",
        path.display()
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_wa-guard"))
        .current_dir(workspace_root())
        .arg("--component")
        .arg(path)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or_default()).unwrap();
    drop(input);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.code().is_some(),
        "wa-guard died: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn scratch(test: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("wa-guard-inventory-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const HELPDESK: &str = "spiffe://cluster.local/ns/support/sa/helpdesk";
const ASSISTANT: &str = "spiffe://cluster.local/ns/lab/sa/assistant";
const SHOP: &str = "spiffe://cluster.local/ns/shop/sa/bot";
const HOSTILE: &str = "\"><script>alert(1)</script><b onmouseover=x>";

/// Envoy's prefix, as its default log format writes a wasm log line.
fn envoy(ts: &str, kind: &str, line: &Value) -> String {
    let prefix_time = ts.replace('T', " ").trim_end_matches('Z').to_owned();
    format!(
        "[{prefix_time}][17][info][wasm] [source/extensions/common/wasm/context.cc:1192] wasm log wa_guard wa_guard_root: wa-egress-guard {kind} {line}"
    )
}

#[allow(clippy::too_many_arguments)]
fn send(
    ts: &str,
    identity: Option<(&str, &str)>,
    role: &str,
    decision: &str,
    rule: &str,
    score: Option<f64>,
    number: Option<&str>,
    kind: Option<&str>,
    sample: f64,
) -> String {
    let reason = match (decision, rule) {
        ("allow", _) => "allowed",
        (_, "content_classifier") => "general_assistant_content",
        _ => "general_assistant_origin",
    };
    let line = json!({
        "event": "wa_egress_guard.decision", "ts": ts, "request_id": format!("r-{ts}"),
        "policy": "p0123456789abcdef", "decision": decision, "rule": rule, "reason": reason,
        "role": role, "score": score,
        "score_bucket": score.map(|s| format!("{:.1}-{:.1}", (s * 10.0).floor() / 10.0, (s * 10.0).floor() / 10.0 + 0.1)),
        "signals": if score.is_some_and(|s| s >= 0.71) { json!(["char_ngrams", "s:?"]) } else { json!(["char_ngrams"]) },
        "identity": identity.map(|i| i.0), "identity_source": identity.map(|i| i.1),
        "provider": "cloud_api", "endpoint": "messages", "phone_number_id": number,
        "message_type": kind, "recipient_hash": null, "sample": sample,
    });
    envoy(ts, "decision", &line)
}

fn training(ts: &str, decision: &str, seen: u64, stripped: u64) -> String {
    let line = json!({
        "event": "wa_egress_guard.training_upload", "ts": ts, "request_id": format!("t-{ts}"),
        "policy": "p0123456789abcdef", "decision": decision, "endpoint": "openai-files",
        "records_seen": seen, "records_stripped": stripped,
        "detectors": {"whatsapp_export_line": stripped}, "bytes_in": 1000, "bytes_out": 900,
        "problem": null, "sample": 1,
    });
    envoy(ts, "training", &line)
}

/// Two log files' lines: (plain, gzip).
fn logs() -> (Vec<String>, Vec<String>) {
    let h = Some((HELPDESK, "peer_uri_san"));
    let a = Some((ASSISTANT, "peer_uri_san"));
    let c = Some(("10.0.0.7", "source_address"));
    let shop = Some((SHOP, "peer_uri_san"));
    let n922 = Some("106540352242922");
    let n955 = Some("106540352242955");
    let n977 = Some("106540352242977");
    let mut template = send(
        "2026-12-07T03:20:00.000Z",
        h,
        "unknown",
        "allow",
        "no_rule",
        Some(0.31),
        n922,
        Some("template"),
        0.5,
    );
    template = template.replace(
        "\"sample\":0.5",
        "\"sample\":0.5,\"template_name\":\"order_update\",\"template_category\":\"utility\"",
    );
    let first = vec![
        "[2026-12-07 02:59:59.001][1][info][main] [source/server/server.cc:431] initializing epoch 0".to_owned(),
        send("2026-12-07T03:00:00.000Z", h, "unknown", "allow", "no_rule", Some(0.05), n922, Some("text"), 0.5),
        send("2026-12-07T03:05:00.000Z", h, "unknown", "allow", "no_rule", Some(0.12), n922, Some("text"), 0.5),
        "some other program's line".to_owned(),
        send("2026-12-07T03:10:00.000Z", h, "unknown", "allow", "no_rule", Some(0.2), n922, Some("text"), 0.5),
        template,
        send("2026-12-07T03:01:00.000Z", a, "unknown", "audit", "content_classifier", Some(0.93), n922, Some("text"), 1.0),
        send("2026-12-07T03:02:00.000Z", a, "unknown", "audit", "content_classifier", Some(0.88), n922, Some("text"), 1.0),
        String::new(),
        r#"{"level":"info","msg":"a JSON line of another program"}"#.to_owned(),
        training("2026-12-07T03:30:00.000Z", "stripped", 10, 3),
    ];
    // A line cut off mid-JSON, as a full disk or a log shipper's limit leaves it.
    let cut = send(
        "2026-12-07T03:40:00.000Z",
        a,
        "unknown",
        "audit",
        "content_classifier",
        Some(0.9),
        n955,
        Some("text"),
        1.0,
    );
    let cut_training = training("2026-12-07T03:41:00.000Z", "forwarded", 1, 0);
    // An older filter's line: no ts, no sample (its time from Envoy's prefix).
    let old = "[2026-12-07 03:50:00.000][17][info][wasm] wasm log wa_guard: wa-egress-guard decision {\"event\":\"wa_egress_guard.decision\",\"decision\":\"allow\",\"rule\":\"no_rule\",\"reason\":\"allowed\",\"role\":\"unknown\",\"score\":0.1,\"signals\":[],\"identity\":null,\"identity_source\":null,\"provider\":\"cloud_api\",\"endpoint\":\"messages\",\"phone_number_id\":null,\"message_type\":\"text\"}".to_owned();
    let second = vec![
        send(
            "2026-12-07T03:15:00.000Z",
            a,
            "unknown",
            "audit",
            "content_classifier",
            Some(0.97),
            n955,
            Some("text"),
            1.0,
        ),
        send(
            "2026-12-07T03:16:00.000Z",
            a,
            "unknown",
            "audit",
            "content_classifier",
            Some(0.75),
            n955,
            Some("text"),
            1.0,
        ),
        send(
            "2026-12-07T03:17:00.000Z",
            a,
            "unknown",
            "allow",
            "no_rule",
            Some(0.4),
            n955,
            Some("text"),
            0.5,
        ),
        send(
            "2026-12-07T03:21:00.000Z",
            c,
            "unknown",
            "allow",
            "no_rule",
            Some(0.3),
            n977,
            Some("interactive"),
            1.0,
        ),
        send(
            "2026-12-07T03:22:00.000Z",
            c,
            "unknown",
            "allow",
            "no_rule",
            Some(0.3),
            n977,
            Some("interactive"),
            1.0,
        ),
        send(
            "2026-12-07T03:23:00.000Z",
            shop,
            "customer_service",
            "allow",
            "shop-bots",
            None,
            n977,
            Some("template"),
            1.0,
        ),
        send(
            "2026-12-07T03:24:00.000Z",
            shop,
            "customer_service",
            "allow",
            "shop-bots",
            None,
            n977,
            Some("template"),
            1.0,
        ),
        send(
            "2026-12-07T03:25:00.000Z",
            shop,
            "customer_service",
            "audit",
            "content_classifier",
            Some(0.85),
            n977,
            Some("text"),
            1.0,
        ),
        send(
            "2026-12-07T03:26:00.000Z",
            Some((HOSTILE, "header")),
            "unknown",
            "allow",
            "no_rule",
            None,
            None,
            None,
            1.0,
        ),
        cut.get(..cut.len() - 40).unwrap().to_owned(),
        cut_training
            .get(..cut_training.len() - 15)
            .unwrap()
            .to_owned(),
        old,
        training("2026-12-07T03:55:00.000Z", "forwarded", 5, 0),
    ];
    (first, second)
}

/// The two files in a directory: `envoy-1.log` plain, `envoy-2.log.gz` gzip.
fn write_logs(dir: &Path) {
    let (first, second) = logs();
    std::fs::write(dir.join("envoy-1.log"), first.join("\n") + "\n").unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all((second.join("\r\n") + "\r\n").as_bytes())
        .unwrap();
    std::fs::write(dir.join("envoy-2.log.gz"), gz.finish().unwrap()).unwrap();
    std::fs::write(dir.join("unrelated.txt"), "not matched by the glob\n").unwrap();
}

fn sender<'a>(doc: &'a Value, identity: &str) -> &'a Value {
    doc["senders"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["identity"] == identity)
        .unwrap_or_else(|| panic!("no sender `{identity}` in {doc:#}"))
}

fn check_counts(doc: &Value) {
    assert_eq!(
        doc["lines"],
        json!({"read": 24, "decisions": 16, "training": 2, "skipped": 4, "malformed": 2}),
        "{doc:#}"
    );
    assert_eq!(doc["policies"], json!(["p0123456789abcdef"]));
    assert_eq!(doc["period"]["first"], "2026-12-07T03:00:00.000Z");
    assert_eq!(doc["period"]["last"], "2026-12-07T03:55:00.000Z");

    let h = sender(doc, HELPDESK);
    assert_eq!(h["identity_source"], "peer_uri_san");
    assert_eq!(h["role"], "unknown");
    assert_eq!(h["sends"], 8, "four lines sampled at 0.5");
    assert_eq!(h["message_types"], json!({"text": 6, "template": 2}));
    assert_eq!(h["phone_numbers"], json!({"106540352242922": 8}));
    assert_eq!(h["decisions"], json!({"allow": 8}));
    assert_eq!(h["would_block"], 0);
    assert_eq!(h["score_histogram"], json!([2, 2, 2, 2, 0, 0, 0, 0, 0, 0]));
    assert_eq!(h["templates"], json!({"order_update": 2}));

    let a = sender(doc, ASSISTANT);
    assert_eq!(a["sends"], 6);
    assert_eq!(a["decisions"], json!({"audit": 4, "allow": 2}));
    assert_eq!(a["would_block"], 4);
    assert_eq!(a["rules"], json!({"content_classifier": 4, "no_rule": 2}));
    assert_eq!(a["score_histogram"], json!([0, 0, 0, 0, 2, 0, 0, 1, 1, 2]));
    assert_eq!(a["top_signals"][0], json!(["char_ngrams", 6]));
    assert_eq!(a["top_signals"][1], json!(["s:?", 4]));
    assert_eq!(
        a["phone_numbers"],
        json!({"106540352242922": 2, "106540352242955": 4})
    );

    let c = sender(doc, "10.0.0.7");
    assert_eq!(
        (c["sends"].clone(), c["identity_source"].clone()),
        (json!(2), json!("source_address"))
    );
    let shop = sender(doc, SHOP);
    assert_eq!(shop["role"], "customer_service");
    assert_eq!(shop["decisions"], json!({"allow": 2, "audit": 1}));
    let unidentified = sender(doc, "(unidentified)");
    assert_eq!(unidentified["sends"], 1);
    assert_eq!(unidentified["identity_source"], Value::Null);
    assert_eq!(sender(doc, HOSTILE)["identity_source"], "header");

    let numbers = doc["phone_numbers"].as_array().unwrap();
    let number = |id: &str| {
        numbers
            .iter()
            .find(|n| n["phone_number_id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(number("106540352242922")["sends"], 10);
    assert_eq!(
        number("106540352242922")["senders"],
        json!({HELPDESK: 8, ASSISTANT: 2})
    );
    assert_eq!(number("106540352242955")["sends"], 4);
    assert_eq!(
        number("106540352242977")["senders"],
        json!({"10.0.0.7": 2, SHOP: 3})
    );
    assert_eq!(number("106540352242977")["provider"], "cloud_api");

    assert_eq!(doc["would_block_by_rule"], json!({"content_classifier": 5}));
    let timeline = doc["timeline"].as_array().unwrap();
    let total = |k: &str| timeline.iter().map(|b| b[k].as_f64().unwrap()).sum::<f64>();
    assert_eq!(
        (total("allow"), total("audit"), total("block")),
        (16.0, 5.0, 0.0)
    );
    assert_eq!(timeline[0]["bucket"], "2026-12-07T03:00:00Z");

    let t = &doc["training"][0];
    assert_eq!(t["endpoint"], "openai-files");
    assert_eq!(
        (
            t["uploads"].clone(),
            t["records_seen"].clone(),
            t["records_stripped"].clone()
        ),
        (json!(2), json!(15), json!(3))
    );
    assert_eq!(t["decisions"], json!({"stripped": 1, "forwarded": 1}));
    assert_eq!(t["detectors"], json!({"whatsapp_export_line": 3}));

    let ready = &doc["ready_to_enforce"];
    assert_eq!(ready["ready"], false);
    let mut undeclared: Vec<&str> = ready["undeclared_senders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    undeclared.sort_unstable();
    let mut want = vec![HOSTILE, "(unidentified)", "10.0.0.7", ASSISTANT, HELPDESK];
    want.sort_unstable();
    assert_eq!(undeclared, want);
    assert_eq!(ready["off_topic_service_senders"], json!([SHOP]));
}

#[test]
fn inventory_counts_a_mixed_log_exactly_through_a_glob_and_gzip() {
    let dir = scratch("glob");
    write_logs(&dir);
    let json_file = dir.join("inventory.json");
    let glob = dir.join("envoy-*").display().to_string();
    let out = wa_guard(
        &["inventory", "--json", json_file.to_str().unwrap(), &glob],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&json_file).unwrap()).unwrap();
    check_counts(&doc);
}

#[test]
fn inventory_reads_stdin_and_writes_markdown_by_default() {
    let (first, second) = logs();
    let text = first
        .into_iter()
        .chain(second)
        .collect::<Vec<_>>()
        .join("\n");
    let out = wa_guard(&["inventory", "-"], Some(text.as_bytes()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let md = String::from_utf8(out.stdout).unwrap();
    assert!(md.starts_with("# WhatsApp flow inventory"), "{md}");
    assert!(
        md.contains(
            "24 read, 16 decisions, 2 training uploads, 4 skipped (other content), 2 malformed"
        ),
        "{md}"
    );
    assert!(md.contains("## Ready to enforce?"), "{md}");
    assert!(
        !md.contains("<script"),
        "a hostile identity is escaped: {md}"
    );

    let json_out = wa_guard(&["inventory", "--json", "-", "-"], Some(text.as_bytes()));
    check_counts(&serde_json::from_slice(&json_out.stdout).unwrap());
}

#[test]
fn inventory_html_is_one_offline_file_with_data_marks() {
    let dir = scratch("html");
    write_logs(&dir);
    let html_file = dir.join("report.html");
    let out = wa_guard(
        &[
            "inventory",
            "--html",
            html_file.to_str().unwrap(),
            dir.join("envoy-*").to_str().unwrap(),
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = std::fs::read_to_string(&html_file).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    for external in [
        "http://", "https://", "src=", "href=", "<script", "<link", "@import", "url(",
    ] {
        assert!(!html.contains(external), "`{external}` in the report");
    }
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "the hostile identity is shown escaped"
    );
    let svgs = html.matches("<svg").count();
    // Heat map, message types, a histogram per scored sender (4), would-block, timeline, training.
    assert!(svgs >= 9, "{svgs} charts");
    assert_eq!(svgs, html.matches("</svg>").count());
    let marks = html.matches("data-value=\"").count();
    assert!(marks > 40, "{marks} marks");
    assert!(
        html.contains("data-value=\"8\""),
        "the helpdesk's weighted sends to its number"
    );
    for title in [
        "Senders × phone numbers",
        "Message types per sender",
        "Score distribution per sender",
        "Would be blocked under enforce, per rule",
        "Decisions over time",
        "Training uploads per endpoint",
        "Ready to enforce?",
    ] {
        assert!(html.contains(title), "no `{title}`");
    }
}

#[test]
fn inventory_survives_binary_garbage_and_empty_input() {
    let dir = scratch("garbage");
    let mut bytes: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    bytes.extend_from_slice(
        b"\nwa-egress-guard decision {\"event\n{\"event\":\"wa_egress_guard.decision\"}\n",
    );
    std::fs::write(dir.join("garbage.log"), &bytes).unwrap();
    std::fs::write(dir.join("empty.log"), b"").unwrap();
    // A gzip file cut in the middle.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(logs().0.join("\n").as_bytes()).unwrap();
    let full = gz.finish().unwrap();
    std::fs::write(dir.join("cut.gz"), &full[..full.len() / 2]).unwrap();
    let json_file = dir.join("out.json");
    let out = wa_guard(
        &[
            "inventory",
            "--json",
            json_file.to_str().unwrap(),
            "--html",
            dir.join("r.html").to_str().unwrap(),
            dir.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&json_file).unwrap()).unwrap();
    assert_eq!(doc["lines"]["malformed"], 2, "{doc:#}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("reading stopped early"));

    let missing = wa_guard(
        &["inventory", dir.join("nothing-*.log").to_str().unwrap()],
        None,
    );
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn suggested_policy_validates_and_declares_the_roles_the_scores_support() {
    let dir = scratch("suggest");
    write_logs(&dir);
    let mut base: Value = serde_json::from_str(
        &std::fs::read_to_string(workspace_root().join("policies/default.json")).unwrap(),
    )
    .unwrap();
    base["origins"] =
        json!([{"id": "shop-bots", "identities": [{"exact": SHOP}], "role": "customer_service"}]);
    base["identity"]["sources"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "source_address"}));
    let base_file = dir.join("base.json");
    std::fs::write(&base_file, base.to_string()).unwrap();
    let policy_file = dir.join("proposed.json");
    let out = wa_guard(
        &[
            "inventory",
            "--markdown",
            dir.join("summary.md").to_str().unwrap(),
            "--suggest-policy",
            base_file.to_str().unwrap(),
            "--out",
            policy_file.to_str().unwrap(),
            dir.join("envoy-*").to_str().unwrap(),
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let policy: Value =
        serde_json::from_str(&std::fs::read_to_string(&policy_file).unwrap()).unwrap();
    assert_eq!(
        policy["mode"], base["mode"],
        "the mode stays as in the base"
    );
    let origins = policy["origins"].as_array().unwrap();
    let origin = |id: &str| {
        origins
            .iter()
            .find(|o| o["id"] == id)
            .unwrap_or_else(|| panic!("no origin `{id}`: {policy:#}"))
            .clone()
    };
    assert_eq!(
        origin("shop-bots"),
        base["origins"][0],
        "a declared origin is kept as it was"
    );
    assert_eq!(
        origin("support-helpdesk"),
        json!({"id": "support-helpdesk", "identities": [{"exact": HELPDESK}], "role": "customer_service", "message_types": ["template", "text"]})
    );
    assert_eq!(
        origin("lab-assistant"),
        json!({"id": "lab-assistant", "identities": [{"exact": ASSISTANT}], "role": "general_assistant"})
    );
    assert_eq!(
        origin("10-0-0-7"),
        json!({"id": "10-0-0-7", "identities": [{"cidr": "10.0.0.7"}], "role": "customer_service", "message_types": ["interactive"]})
    );
    assert_eq!(
        origins.len(),
        5,
        "the hostile identity is declared too, by exact match"
    );
    let rules = policy["phone_numbers"]["numbers"].as_array().unwrap();
    let rule = |path_id: &str| {
        rules
            .iter()
            .find(|r| r["path_ids"] == json!([path_id]))
            .unwrap()
            .clone()
    };
    assert_eq!(
        rule("106540352242922")["allowed_origins"],
        json!(["support-helpdesk"])
    );
    assert_eq!(
        rule("106540352242955")["purpose"],
        "general_assistant",
        "only the assistant sent from it"
    );
    assert_eq!(
        rule("106540352242977")["allowed_origins"],
        json!(["10-0-0-7", "shop-bots"])
    );

    let evidence = std::fs::read_to_string(dir.join("proposed.evidence.md")).unwrap();
    assert!(
        evidence.contains("### Origin `lab-assistant`: `general_assistant`"),
        "{evidence}"
    );
    assert!(evidence.contains("4 of 6 scored sends (67%)"), "{evidence}");
    assert!(evidence.contains("carried no identity"), "{evidence}");

    let validate = wa_guard(&["validate", policy_file.to_str().unwrap()], None);
    assert!(
        validate.status.success(),
        "{}",
        String::from_utf8_lossy(&validate.stdout)
    );

    // Applied: the assistant's send is blocked by its origin, the helpdesk's goes through.
    let request = json!({"method": "POST", "authority": "graph.facebook.com",
        "path": "/v21.0/106540352242922/messages",
        "body": {"messaging_product": "whatsapp", "to": "15550001111", "type": "text",
                 "text": {"body": "Your parcel 4411 leaves the depot today."}}});
    let request_file = dir.join("send.json");
    std::fs::write(&request_file, request.to_string()).unwrap();
    let decide = |identity: &str| {
        let attr = format!("connection.uri_san_peer_certificate={identity}");
        let out = wa_guard(
            &[
                "explain",
                "--format",
                "json",
                "--attr",
                &attr,
                policy_file.to_str().unwrap(),
                request_file.to_str().unwrap(),
            ],
            None,
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        (
            v["evaluation"]["decision"].as_str().unwrap().to_owned(),
            v["evaluation"]["rule"].as_str().unwrap().to_owned(),
        )
    };
    assert_eq!(decide(ASSISTANT), ("block".into(), "lab-assistant".into()));
    assert_eq!(
        decide(HELPDESK),
        ("allow".into(), "support-helpdesk".into())
    );
}
