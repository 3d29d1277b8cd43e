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
        training("2026-12-07T03:30:00.000Z", "strip", 10, 3),
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
    let cut_training = training("2026-12-07T03:41:00.000Z", "forward", 1, 0);
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
        training("2026-12-07T03:55:00.000Z", "forward", 5, 0),
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
        json!({"read": 24, "decisions": 16, "training": 2, "skipped": 4, "malformed": 2,
               "duplicates": 0, "malformed_reasons": {"broken_json": 2}}),
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
    assert_eq!(t["decisions"], json!({"strip": 1, "forward": 1}));
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
    // Four clean lines sampled at 0.5 weigh 8: too few to vouch for a service bot, which
    // would no longer be scored once declared.
    assert!(
        !origins
            .iter()
            .any(|o| o["identities"][0]["exact"] == HELPDESK),
        "{policy:#}"
    );
    assert_eq!(
        origin("lab-assistant"),
        json!({"id": "lab-assistant", "identities": [{"exact": ASSISTANT}], "role": "general_assistant"})
    );
    assert_eq!(
        origins.len(),
        2,
        "the helpdesk and 10.0.0.7 (too few scored sends) and the hostile identity (none) need review"
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
        rule("106540352242922").get("allowed_origins"),
        None,
        "an undeclared sender used it"
    );
    assert_eq!(
        rule("106540352242955")["purpose"],
        "general_assistant",
        "only the assistant sent from it"
    );
    assert_eq!(rule("106540352242977").get("allowed_origins"), None);

    let evidence = std::fs::read_to_string(dir.join("proposed.evidence.md")).unwrap();
    assert!(
        evidence.contains("### Origin `lab-assistant`: `general_assistant`"),
        "{evidence}"
    );
    assert!(evidence.contains("4 of 6 scored sends (67%)"), "{evidence}");
    assert!(
        evidence.contains("## Needs review (not declared)")
            && evidence.contains(&format!(
                "### `{HELPDESK}` (source `peer_uri_san`): not declared"
            ))
            && evidence.contains("too few scored sends to vouch for it as customer service"),
        "{evidence}"
    );
    assert!(
        evidence.contains(
            "is not scored by the classifier unless `content.roles` lists `customer_service`"
        ),
        "{evidence}"
    );
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
    assert_eq!(decide(HELPDESK), ("allow".into(), "no_rule".into()));
}

/// One decision line of the review findings' cases, Envoy-prefixed, with a unique request id.
#[allow(clippy::too_many_arguments)]
fn case_line(
    n: usize,
    who: (&str, &str),
    role: &str,
    decision: &str,
    rule: &str,
    score: Option<f64>,
    number: &str,
    sample: f64,
) -> String {
    let line = json!({
        "event": "wa_egress_guard.decision", "ts": format!("2026-12-07T04:{:02}:{:02}.000Z", n / 60 % 60, n % 60),
        "request_id": format!("case-{n}"), "policy": "p1", "decision": decision, "rule": rule,
        "reason": if decision == "allow" { "allowed" } else { "general_assistant_content" },
        "role": role, "score": score, "signals": [], "identity": who.0, "identity_source": who.1,
        "provider": "cloud_api", "endpoint": "messages", "phone_number_id": number,
        "message_type": "text", "sample": sample,
    });
    envoy("2026-12-07T04:00:00.000Z", "decision", &line)
}

/// The review's findings (H1, H2, M1, M2): a service bot is declared only on strong evidence,
/// a sender without content evidence never, every origin that used a number is linked to it,
/// and a number whose every send was stopped is proposed in the evidence only.
#[test]
fn suggestion_declares_only_what_the_evidence_supports() {
    let dir = scratch("evidence");
    let h = |id: &'static str| (id, "header");
    let mut lines = Vec::new();
    let mut k = 0usize;
    let mut push = |lines: &mut Vec<String>,
                    who: (&str, &str),
                    decision: &str,
                    rule: &str,
                    score: Option<f64>,
                    number: &str,
                    sample: f64| {
        k += 1;
        lines.push(case_line(
            k, who, "unknown", decision, rule, score, number, sample,
        ));
    };
    for _ in 0..2 {
        push(
            &mut lines,
            h("two-audits"),
            "audit",
            "content_classifier",
            Some(0.97),
            "201",
            1.0,
        );
    }
    for _ in 0..4 {
        push(
            &mut lines,
            h("mixed"),
            "audit",
            "content_classifier",
            Some(0.93),
            "202",
            1.0,
        );
    }
    for _ in 0..5 {
        push(
            &mut lines,
            h("mixed"),
            "allow",
            "no_rule",
            Some(0.2),
            "202",
            1.0,
        );
    }
    for _ in 0..9 {
        push(
            &mut lines,
            h("outweighed"),
            "audit",
            "content_classifier",
            Some(0.93),
            "203",
            1.0,
        );
    }
    push(
        &mut lines,
        h("outweighed"),
        "allow",
        "no_rule",
        Some(0.1),
        "203",
        0.1,
    );
    // One clean line sampled at 0.1 weighs 10, but is one message seen.
    push(
        &mut lines,
        h("one-sampled"),
        "allow",
        "no_rule",
        Some(0.1),
        "204",
        0.1,
    );
    for _ in 0..5 {
        push(
            &mut lines,
            h("assistant"),
            "audit",
            "content_classifier",
            Some(0.95),
            "205",
            1.0,
        );
    }
    // A service bot seen under two identity sources, both using 206.
    for source in ["header", "source_address"] {
        for _ in 0..12 {
            push(
                &mut lines,
                ("10.1.1.1", source),
                "allow",
                "no_rule",
                Some(0.1),
                "206",
                1.0,
            );
        }
    }
    // Stopped before scoring only: no content evidence.
    for rule in ["default_action", "default_action", "unknown_phone_number"] {
        push(&mut lines, h("stopped"), "block", rule, None, "207", 1.0);
    }
    // A clean service bot whose sends to 208 were blocked as an unknown number, and 209
    // (shared with the clean 10.1.1.1) where some were.
    for _ in 0..12 {
        push(
            &mut lines,
            h("notifier"),
            "allow",
            "no_rule",
            Some(0.05),
            "210",
            1.0,
        );
    }
    for _ in 0..3 {
        push(
            &mut lines,
            h("notifier"),
            "block",
            "unknown_phone_number",
            None,
            "208",
            1.0,
        );
    }
    for _ in 0..2 {
        push(
            &mut lines,
            h("notifier"),
            "block",
            "unknown_phone_number",
            None,
            "209",
            1.0,
        );
    }
    push(
        &mut lines,
        ("10.1.1.1", "header"),
        "allow",
        "no_rule",
        Some(0.1),
        "209",
        1.0,
    );
    std::fs::write(dir.join("envoy.log"), lines.join("\n") + "\n").unwrap();

    let mut base: Value = serde_json::from_str(
        &std::fs::read_to_string(workspace_root().join("policies/default.json")).unwrap(),
    )
    .unwrap();
    base["identity"]["sources"] = json!([
        {"type": "header", "name": "x-caller", "trusted_peers": {"addresses": ["127.0.0.1/32"]}},
        {"type": "source_address"}
    ]);
    base["phone_numbers"] = json!({"unknown": "block", "numbers": []});
    let base_file = dir.join("base.json");
    std::fs::write(&base_file, base.to_string()).unwrap();
    let out_file = dir.join("out.json");
    let out = wa_guard(
        &[
            "inventory",
            "--json",
            dir.join("inv.json").to_str().unwrap(),
            "--suggest-policy",
            base_file.to_str().unwrap(),
            "--out",
            out_file.to_str().unwrap(),
            dir.join("envoy.log").to_str().unwrap(),
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let policy: Value = serde_json::from_str(&std::fs::read_to_string(&out_file).unwrap()).unwrap();
    let evidence = std::fs::read_to_string(dir.join("out.evidence.md")).unwrap();
    let roles: Vec<(String, String)> = policy["origins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            let p = &o["identities"][0];
            let who = p.get("exact").or_else(|| p.get("cidr")).unwrap();
            (
                who.as_str().unwrap().to_owned(),
                o["role"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let role_of = |who: &str| -> Vec<&str> {
        roles
            .iter()
            .filter(|(w, _)| w == who)
            .map(|(_, r)| r.as_str())
            .collect()
    };
    // H1: too few, mixed, or outweighed by one sampled line: not declared, and why.
    for who in [
        "two-audits",
        "mixed",
        "outweighed",
        "one-sampled",
        "stopped",
    ] {
        assert!(role_of(who).is_empty(), "{who}: {policy:#}");
        assert!(
            evidence.contains(&format!("### `{who}` (source `header`): not declared")),
            "{who}: {evidence}"
        );
    }
    assert!(
        evidence.contains("too few scored sends to call it an assistant"),
        "{evidence}"
    );
    assert!(
        evidence.contains("mixed: 4 of 9 scored sends (4 of 9 lines)"),
        "{evidence}"
    );
    assert!(
        evidence.contains("mixed: 9 of 19 scored sends (9 of 10 lines)"),
        "{evidence}"
    );
    assert_eq!(role_of("assistant"), ["general_assistant"]);
    assert_eq!(role_of("notifier"), ["customer_service"]);
    // H2: the rules that stopped it.
    assert!(
        evidence.contains("only seen stopped before the classifier scored it, by `default_action` 2, `unknown_phone_number` 1"),
        "{evidence}"
    );
    // M1: both origins of 10.1.1.1 linked to the number both used.
    assert_eq!(
        role_of("10.1.1.1"),
        ["customer_service", "customer_service"]
    );
    assert!(
        evidence.contains("seen under 2 identity sources"),
        "{evidence}"
    );
    let rules = policy["phone_numbers"]["numbers"].as_array().unwrap();
    let rule = |id: &str| rules.iter().find(|r| r["path_ids"] == json!([id])).cloned();
    assert_eq!(
        rule("206").unwrap()["allowed_origins"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "{policy:#}"
    );
    // M2: every send to 208 was blocked: evidence only. 209's link says what it allows.
    // 201's sends were audited, so they went through: it is proposed.
    assert!(rule("208").is_none(), "{policy:#}");
    assert!(rule("201").is_some(), "{policy:#}");
    assert!(rule("207").is_none(), "{policy:#}");
    assert!(
        evidence.contains("`208` (rule `number-208`, **not in the policy**)"),
        "{evidence}"
    );
    let r209 = rule("209").unwrap();
    assert_eq!(
        r209["allowed_origins"].as_array().unwrap().len(),
        2,
        "{r209}"
    );
    assert!(
        evidence.contains("2 sends from `notifier` (source `header`) were blocked by rule `unknown_phone_number`; this rule allows them."),
        "{evidence}"
    );
    let validate = wa_guard(&["validate", out_file.to_str().unwrap()], None);
    assert!(
        validate.status.success(),
        "{}",
        String::from_utf8_lossy(&validate.stderr)
    );
}

/// H3, M3, M4, L1, L2: forged markers are other programs' lines, suspect samples and unknown
/// decisions are malformed, the same line read twice counts once, implausible times stay out
/// of the period, and without --policy a service bot's high score is flagged at the default.
#[test]
fn inventory_counts_only_lines_it_can_trust() {
    let dir = scratch("trust");
    let ok = |n: usize, extra: Value| {
        let mut v = json!({
            "event": "wa_egress_guard.decision", "ts": "2026-12-07T05:00:00.000Z",
            "request_id": format!("t-{n}"), "decision": "allow", "rule": "no_rule",
            "reason": "allowed", "role": "unknown", "score": 0.1, "identity": "svc",
            "identity_source": "header", "phone_number_id": "301", "message_type": "text",
            "sample": 1,
        });
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        v
    };
    let forged = ok(1, json!({"identity": "forged"}));
    let lines = vec![
        // Accepted: Envoy's prefix, Istio's tab-separated one, a bare object, a Docker record.
        envoy("2026-12-07T05:00:00.000Z", "decision", &ok(2, json!({}))),
        format!(
            "2026-12-07T05:00:01.000000Z\tinfo\tenvoy wasm external/envoy/source/extensions/common/wasm/context.cc:1192\twasm log wa_guard: wa-egress-guard decision {}",
            ok(3, json!({}))
        ),
        ok(4, json!({})).to_string(),
        json!({"log": format!("wa-egress-guard decision {}\n", ok(5, json!({}))), "stream": "stderr"}).to_string(),
        // Forged: the marker in an access log's User-Agent, mid-message in a JSON record,
        // after a prefix with a quote, and a JSON line whose `event` is not ours.
        format!(
            "[2026-12-07T05:00:02.000Z] \"POST /v21.0/301/messages HTTP/1.1\" 200 - \"curl wa-egress-guard decision {forged}\" \"graph.facebook.com\""
        ),
        json!({"message": format!("user said wa-egress-guard decision {forged}")}).to_string(),
        format!("[2026-12-07 05:00:03.000][1][info][wasm] \"x\" wasm log a: wa-egress-guard decision {forged}"),
        json!({"event": "other", "line": format!("wa-egress-guard decision {forged}")}).to_string(),
        // Malformed: suspect samples, an unknown decision, a training line stripping more
        // than it saw.
        envoy("2026-12-07T05:00:00.000Z", "decision", &ok(6, json!({"sample": 0.00005}))),
        envoy("2026-12-07T05:00:00.000Z", "decision", &ok(7, json!({"sample": 1e-300}))),
        envoy("2026-12-07T05:00:00.000Z", "decision", &ok(8, json!({"sample": "0.5"}))),
        envoy("2026-12-07T05:00:00.000Z", "decision", &ok(9, json!({"decision": "audit", "sample": 0.5}))),
        envoy("2026-12-07T05:00:00.000Z", "decision", &ok(10, json!({"decision": "maybe"}))),
        envoy("2026-12-07T05:00:00.000Z", "training", &json!({
            "event": "wa_egress_guard.training_upload", "request_id": "u1", "decision": "strip",
            "endpoint": "openai-files", "records_seen": 1, "records_stripped": 5, "sample": 1})),
        // Accepted, but its time (year 9999) stays out of the period; the lowest sample.
        envoy("2026-12-07T05:00:00.000Z", "decision", &ok(11, json!({"ts": "9999-12-31T23:59:59.999Z", "sample": 0.0001}))),
        // A declared service bot with an allowed line scoring 0.8 (its origin's rule won).
        envoy("2026-12-07T05:00:00.000Z", "decision", &ok(12, json!({"identity": "shop", "role": "customer_service", "rule": "shop-bots", "score": 0.8}))),
    ];
    let log = dir.join("a.log");
    std::fs::write(&log, lines.join("\n") + "\n").unwrap();
    // The same file twice (by two names) and a rotated copy of it.
    std::fs::copy(&log, dir.join("a.log.1")).unwrap();
    let json_file = dir.join("inv.json");
    let out = wa_guard(
        &[
            "inventory",
            "--json",
            json_file.to_str().unwrap(),
            "--markdown",
            dir.join("inv.md").to_str().unwrap(),
            log.to_str().unwrap(),
            &format!("{}/./a.log", dir.display()),
            dir.join("a.log.*").to_str().unwrap(),
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&json_file).unwrap()).unwrap();
    assert_eq!(
        doc["lines"],
        json!({"read": 32, "decisions": 6, "training": 0, "skipped": 8, "malformed": 12,
               "duplicates": 6,
               "malformed_reasons": {"suspect_sample": 8, "unknown_decision": 2,
                                     "stripped_more_than_seen": 2}}),
        "{doc:#}"
    );
    assert!(
        doc["senders"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["identity"] != "forged"),
        "{doc:#}"
    );
    assert_eq!(
        sender(&doc, "svc")["sends"],
        10_004,
        "four lines and one at sample 0.0001"
    );
    assert_eq!(
        doc["period"]["last"], "2026-12-07T05:00:00.000Z",
        "not the year 9999"
    );
    assert_eq!(doc["threshold_source"], "default");
    assert_eq!(
        doc["ready_to_enforce"]["off_topic_service_senders"],
        json!(["shop"]),
        "a score at or above the default 0.71, whatever rule won"
    );
    let md = std::fs::read_to_string(dir.join("inv.md")).unwrap();
    assert!(
        md.contains("the engine's default, assumed: no --policy was given"),
        "{md}"
    );
}

/// The second review's findings: the suggestion reads the classifier's own decision, not the
/// score rounded to two decimals in the log (D1, D2); two different lines with one request id
/// and time are two decisions (D3); one identity under two sources is judged on all its lines
/// and gets one role (D4).
#[test]
fn suggestion_reads_decisions_not_rounded_scores() {
    let dir = scratch("rounding");
    let h = |id: &'static str| (id, "header");
    let mut lines = Vec::new();
    let mut k = 0usize;
    let mut push = |lines: &mut Vec<String>,
                    who: (&str, &str),
                    decision: &str,
                    rule: &str,
                    score: f64,
                    number: &str| {
        k += 1;
        lines.push(case_line(
            k,
            who,
            "unknown",
            decision,
            rule,
            Some(score),
            number,
            1.0,
        ));
    };
    for _ in 0..12 {
        // D1: blocked by the classifier at a threshold of 0.713, logged as 0.71.
        push(
            &mut lines,
            h("d1-blocked"),
            "block",
            "content_classifier",
            0.71,
            "301",
        );
        // D2: allowed by the classifier at 0.71, logged as 0.71 (a real 0.705 to 0.7099).
        push(&mut lines, h("d2-allowed"), "allow", "no_rule", 0.71, "302");
    }
    // D3: a clean send and a blocked one under one request id and millisecond, twelve times.
    for n in 0..12 {
        for (decision, rule, score) in [
            ("allow", "no_rule", 0.05),
            ("block", "content_classifier", 0.97),
        ] {
            let line = json!({
                "event": "wa_egress_guard.decision", "ts": format!("2026-12-07T05:00:{n:02}.000Z"),
                "request_id": format!("shared-{n}"), "policy": "p1", "decision": decision,
                "rule": rule, "reason": "x", "role": "unknown", "score": score, "signals": [],
                "identity": "d3-same-id", "identity_source": "header", "provider": "cloud_api",
                "endpoint": "messages", "phone_number_id": "303", "message_type": "text",
                "sample": 1,
            });
            lines.push(envoy("2026-12-07T05:00:00.000Z", "decision", &line));
        }
    }
    // D4: clean under one source, assistant answers under another.
    for _ in 0..12 {
        push(
            &mut lines,
            ("d4-both", "node_metadata"),
            "allow",
            "no_rule",
            0.05,
            "304",
        );
    }
    for _ in 0..5 {
        push(
            &mut lines,
            ("d4-both", "peer_uri_san"),
            "block",
            "content_classifier",
            0.95,
            "304",
        );
    }
    std::fs::write(dir.join("envoy.log"), lines.join("\n") + "\n").unwrap();
    let mut base: Value = serde_json::from_str(
        &std::fs::read_to_string(workspace_root().join("policies/default.json")).unwrap(),
    )
    .unwrap();
    base["content"]["threshold"] = json!(0.713);
    let base_file = dir.join("base.json");
    std::fs::write(&base_file, base.to_string()).unwrap();
    let out_file = dir.join("out.json");
    let out = wa_guard(
        &[
            "inventory",
            "--json",
            dir.join("inv.json").to_str().unwrap(),
            "--suggest-policy",
            base_file.to_str().unwrap(),
            "--out",
            out_file.to_str().unwrap(),
            dir.join("envoy.log").to_str().unwrap(),
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let inv: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("inv.json")).unwrap()).unwrap();
    assert_eq!(inv["lines"]["duplicates"], 0, "{:#}", inv["lines"]);
    assert_eq!(sender(&inv, "d3-same-id")["sends"], 24.0);
    let policy: Value = serde_json::from_str(&std::fs::read_to_string(&out_file).unwrap()).unwrap();
    let role_of = |who: &str| -> Vec<String> {
        policy["origins"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["identities"][0]["exact"] == json!(who))
            .map(|o| o["role"].as_str().unwrap().to_owned())
            .collect()
    };
    // D1: every send was the classifier's block: an assistant, never a service bot.
    assert_eq!(role_of("d1-blocked"), ["general_assistant"], "{policy:#}");
    // D2: every send was allowed: never an assistant; the rounding leaves it for review.
    assert!(role_of("d2-allowed").is_empty(), "{policy:#}");
    // D3: half its sends were blocked by the classifier: not a service bot.
    assert!(
        !role_of("d3-same-id").contains(&"customer_service".to_owned()),
        "{policy:#}"
    );
    // D4: one role for both sources, and not customer_service (5 of 17 flagged).
    let d4 = role_of("d4-both");
    assert!(d4.iter().all(|r| r != "customer_service"), "{policy:#}");
    let validate = wa_guard(&["validate", out_file.to_str().unwrap()], None);
    assert_eq!(validate.status.code(), Some(0));
}
