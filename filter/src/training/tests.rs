//! Stripper tests: every format, every chunking.

#[cfg(test)]
use super::*;
use crate::document::{BodyFormat, TrainingSection};
use flate2::Compression;
use flate2::write::GzEncoder;
use std::io::Write;

fn policy(extra: &str) -> TrainingPolicy {
    let doc: TrainingSection = serde_json::from_str(&format!(
        r#"{{"endpoints":[{{"id":"openai","hosts":["api.openai.com"],"paths":["/v1/files","/v1/uploads/**"]}}]{extra}}}"#
    ))
    .unwrap();
    TrainingPolicy::compile(&doc).unwrap()
}

const KEEP1: &str = r#"{"messages":[{"role":"user","content":"Where is my parcel?"},{"role":"assistant","content":"It ships today."}],"channel":"webchat"}"#;
const KEEP2: &str =
    r#"{"messages":[{"role":"user","content":"Reset my password"}],"channel":"email"}"#;
const WA1: &str = r#"{"messages":[{"role":"user","content":"hola"}],"meta":{"id":"wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQz"}}"#;
const WA2: &str = r#"{"messages":[{"role":"user","content":"oi"}],"channel":"WhatsApp"}"#;

/// Runs the stripper over `body` cut at `cuts`, returning the forwarded bytes.
fn run(s: &mut Stripper, body: &[u8], cuts: &[usize]) -> Result<Vec<u8>, StripError> {
    let mut out = Vec::new();
    let mut at = 0;
    for &c in cuts.iter().chain(std::iter::once(&body.len())) {
        s.feed(&body[at..c], &mut out)?;
        at = c;
    }
    s.finish(&mut out)?;
    Ok(out)
}

fn every_split(body: &[u8], make: impl Fn() -> Stripper, want: &[u8]) {
    for cut in 0..=body.len() {
        let mut s = make();
        assert_eq!(run(&mut s, body, &[cut]).unwrap(), want, "split at {cut}");
    }
    let mut s = make();
    let all: Vec<usize> = (1..body.len()).collect();
    assert_eq!(run(&mut s, body, &all).unwrap(), want, "byte by byte");
}

#[test]
fn jsonl_drops_whatsapp_lines_and_keeps_the_rest_byte_for_byte() {
    let p = policy("");
    let body = format!("{KEEP1}\n{WA1}\r\n\n{KEEP2}\r\n{WA2}");
    let want = format!("{KEEP1}\n\n{KEEP2}\r\n");
    every_split(
        body.as_bytes(),
        || p.stripper(BodyFormat::Auto, Some("application/jsonl"), None),
        want.as_bytes(),
    );
    let mut s = p.stripper(BodyFormat::Auto, Some("application/jsonl"), None);
    run(&mut s, body.as_bytes(), &[]).unwrap();
    assert_eq!((s.stats.records_seen, s.stats.records_stripped), (4, 2));
    assert_eq!(s.stats.detectors.get("wamid"), Some(&1));
}

#[test]
fn a_marker_split_across_chunks_is_found() {
    let p = policy("");
    let body = format!("{KEEP1}\n{WA1}\n");
    let at = body.find("wamid.").unwrap() + 3;
    let mut s = p.stripper(BodyFormat::Jsonl, None, None);
    assert_eq!(
        run(&mut s, body.as_bytes(), &[at]).unwrap(),
        format!("{KEEP1}\n").as_bytes()
    );
}

#[test]
fn invalid_lines_and_oversize_records_are_uninspectable() {
    let p = policy(r#","max_record_bytes": 64"#);
    let mut s = p.stripper(BodyFormat::Jsonl, None, None);
    assert_eq!(
        run(&mut s, b"{\"a\":1}\n{oops}\n", &[]),
        Err(StripError::InvalidRecord)
    );
    let mut s = p.stripper(BodyFormat::Jsonl, None, None);
    assert_eq!(
        run(&mut s, b"{\"a\":\"\xff\"}\n", &[]),
        Err(StripError::InvalidRecord)
    );
    let mut s = p.stripper(BodyFormat::Jsonl, None, None);
    let long = format!("{{\"t\":\"{}\"}}", "x".repeat(200));
    assert_eq!(
        run(&mut s, long.as_bytes(), &[10, 100]),
        Err(StripError::RecordTooLarge)
    );
}

#[test]
fn bypass_forwards_everything_held_unchanged() {
    let p = policy("");
    let body = b"{\"a\":1}\n{oops}\n{\"b\":2}\n";
    let mut s = p.stripper(BodyFormat::Jsonl, None, None);
    let mut out = Vec::new();
    s.feed(&body[..12], &mut out).unwrap();
    assert!(s.feed(&body[12..], &mut out).is_err());
    assert!(s.bypass(&mut out));
    s.feed(b"tail", &mut out).unwrap();
    s.finish(&mut out).unwrap();
    assert_eq!(out, b"{\"a\":1}\n{oops}\n{\"b\":2}\ntail");
}

fn multipart(boundary: &str, file: &str) -> String {
    format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nfine-tune\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"train.jsonl\"\r\nContent-Type: application/octet-stream\r\n\r\n{file}\r\n--{boundary}--\r\n"
    )
}

#[test]
fn multipart_rewrites_only_the_file_part() {
    let p = policy("");
    let b = "----wa-guard-7MA4YWxk";
    let body = multipart(b, &format!("{KEEP1}\n{WA2}\n{KEEP2}\n"));
    let want = multipart(b, &format!("{KEEP1}\n{KEEP2}\n"));
    let ct = format!("multipart/form-data; boundary={b}");
    every_split(
        body.as_bytes(),
        || p.stripper(BodyFormat::Auto, Some(&ct), None),
        want.as_bytes(),
    );
}

#[test]
fn malformed_multipart_is_uninspectable() {
    let p = policy("");
    let ct = "multipart/form-data; boundary=xyz";
    for body in [
        "no delimiter at all",
        "--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.jsonl\"\r\n\r\n{}\r\n",
    ] {
        let mut s = p.stripper(BodyFormat::Auto, Some(ct), None);
        assert_eq!(
            run(&mut s, body.as_bytes(), &[]),
            Err(StripError::MalformedMultipart),
            "{body}"
        );
    }
    let mut s = p.stripper(BodyFormat::Auto, Some("multipart/form-data"), None);
    assert!(run(&mut s, b"x", &[]).is_err());
    let body = multipart("xyz", "PAR1 binary").replace("train.jsonl", "train.parquet");
    let mut s = p.stripper(BodyFormat::Auto, Some(ct), None);
    assert_eq!(
        run(&mut s, body.as_bytes(), &[]),
        Err(StripError::UnsupportedPart)
    );
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[test]
fn gzip_uploads_are_decoded_stripped_and_forwarded_identity_encoded() {
    let p = policy("");
    let body = format!("{KEEP1}\n{WA1}\n{KEEP2}\n");
    let z = gzip(body.as_bytes());
    let want = format!("{KEEP1}\n{KEEP2}\n");
    every_split(
        &z,
        || p.stripper(BodyFormat::Jsonl, None, Some("gzip")),
        want.as_bytes(),
    );
    // Two concatenated members are one stream.
    let mut two = gzip(format!("{KEEP1}\n").as_bytes());
    two.extend(gzip(format!("{WA2}\n").as_bytes()));
    // At every split point, including exactly where the first member ends (the second then
    // starts in a new chunk), and with zero padding after the last member.
    every_split(
        &two,
        || p.stripper(BodyFormat::Jsonl, None, Some("gzip")),
        format!("{KEEP1}\n").as_bytes(),
    );
    let mut padded = two.clone();
    padded.extend([0u8; 4]);
    every_split(
        &padded,
        || p.stripper(BodyFormat::Jsonl, None, Some("gzip")),
        format!("{KEEP1}\n").as_bytes(),
    );
}

#[test]
fn compression_bombs_and_corrupt_streams_are_refused_without_bypass() {
    let p = policy(r#","max_expansion_ratio": 50"#);
    let bomb = gzip(&vec![b' '; 20 << 20]);
    let mut s = p.stripper(BodyFormat::Jsonl, None, Some("gzip"));
    assert_eq!(run(&mut s, &bomb, &[]), Err(StripError::ExpansionTooLarge));
    assert!(!s.bypass(&mut Vec::new()));
    let mut s = p.stripper(BodyFormat::Jsonl, None, Some("gzip"));
    assert_eq!(
        run(&mut s, b"definitely not gzip", &[]),
        Err(StripError::InvalidCompression)
    );
    let mut s = p.stripper(BodyFormat::Jsonl, None, Some("br"));
    assert_eq!(run(&mut s, b"x", &[]), Err(StripError::InvalidCompression));
    let truncated = &gzip(b"{\"a\":1}\n")[..12];
    let mut s = p.stripper(BodyFormat::Jsonl, None, Some("gzip"));
    assert_eq!(
        run(&mut s, truncated, &[]),
        Err(StripError::InvalidCompression)
    );
}

#[test]
fn hf_commit_file_content_is_decoded_stripped_and_reencoded() {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let p = policy("");
    let header = r#"{"key":"header","value":{"summary":"add data"}}"#;
    let readme = format!(
        r#"{{"key":"file","value":{{"path":"README.md","content":"{}","encoding":"base64"}}}}"#,
        b64("# data")
    );
    let data = format!(
        r#"{{"key":"file","value":{{"content":"{}","encoding":"base64","path":"train.jsonl"}}}}"#,
        b64(&format!("{KEEP1}\n{WA2}\n"))
    );
    let body = format!("{header}\n{readme}\n{data}\n");
    let mut s = p.stripper(BodyFormat::HfCommit, Some("application/x-ndjson"), None);
    let out = String::from_utf8(run(&mut s, body.as_bytes(), &[7, 90]).unwrap()).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], header);
    assert_eq!(lines[1], readme);
    let v: serde_json::Value = serde_json::from_str(lines[2]).unwrap();
    assert_eq!(v["value"]["content"], b64(&format!("{KEEP1}\n")));
    assert_eq!(s.stats.records_stripped, 1);
}

#[test]
fn json_documents_strip_inline_examples() {
    let p = policy("");
    let body = format!(r#"{{"examples":[{KEEP1},{WA1}]}}"#);
    let mut s = p.stripper(BodyFormat::Auto, Some("application/json"), None);
    assert_eq!(
        run(&mut s, body.as_bytes(), &[5]).unwrap(),
        format!(r#"{{"examples":[{KEEP1}]}}"#).as_bytes()
    );
}

#[test]
fn stripped_everything_is_reported() {
    let p = policy("");
    let mut s = p.stripper(BodyFormat::Jsonl, None, None);
    run(&mut s, format!("{WA1}\n{WA2}\n").as_bytes(), &[]).unwrap();
    assert!(s.stripped_everything());
}

#[test]
fn endpoints_match_hosts_paths_and_methods() {
    let doc: TrainingSection = serde_json::from_str(
        r#"{"endpoints":[{"id":"azure","hosts":["*.openai.azure.com"],"paths":["/openai/files"]},
                         {"id":"vertex","hosts":["*-aiplatform.googleapis.com"],"paths":["/v1/projects/*/locations/*/tuningjobs"]}],
            "exclusive":[{"id":"ours","hosts":["api.openai.com"],"paths":["/v1/files"]}]}"#,
    )
    .unwrap();
    let p = TrainingPolicy::compile(&doc).unwrap();
    assert_eq!(
        p.route("POST", "acme.openai.azure.com", "/openai/files")
            .unwrap()
            .endpoint
            .id,
        "azure"
    );
    assert!(
        p.route("POST", "evil.acme.openai.azure.com", "/openai/files")
            .is_none()
    );
    assert!(
        p.route("GET", "acme.openai.azure.com", "/openai/files")
            .is_none()
    );
    assert_eq!(
        p.route(
            "POST",
            "us-central1-aiplatform.googleapis.com",
            "/v1/projects/p/locations/us/tuningjobs"
        )
        .unwrap()
        .endpoint
        .id,
        "vertex"
    );
    assert!(
        p.route("POST", "api.openai.com", "/v1/files")
            .unwrap()
            .exclusive
    );
}

#[test]
fn bad_training_config_is_reported_with_paths() {
    let doc: TrainingSection = serde_json::from_str(
        r#"{"endpoints":[{"id":"x","hosts":["bad host"],"paths":["v1"]}],"max_record_bytes":0}"#,
    )
    .unwrap();
    let errs = TrainingPolicy::compile(&doc).unwrap_err();
    let paths: Vec<&str> = errs.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        [
            "$.training.endpoints[0].hosts[0]",
            "$.training.endpoints[0].paths[0]",
            "$.training.max_record_bytes"
        ]
    );
}

/// Feeds `body` in two pieces, bypassing after the first error as the glue does.
fn run_with_bypass(s: &mut Stripper, body: &[u8], cut: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut failed = false;
    for piece in [&body[..cut], &body[cut..]] {
        if s.feed(piece, &mut out).is_err() && !failed {
            failed = true;
            assert!(s.bypass(&mut out));
        }
    }
    if s.finish(&mut out).is_err() && !failed {
        failed = true;
        assert!(s.bypass(&mut out));
    }
    assert!(failed, "the invalid record was not noticed");
    out
}

#[test]
fn bypass_after_an_invalid_record_forwards_every_later_byte_once_at_any_split() {
    let p = policy("");
    let file = format!("{KEEP1}\n{WA1}\n{{oops}}\n{WA2}\n{KEEP2}");
    let want_file = format!("{KEEP1}\n{{oops}}\n{WA2}\n{KEEP2}");
    let b = "b0undary";
    for (body, want, ct) in [
        (
            file.clone(),
            want_file.clone(),
            "application/jsonl".to_owned(),
        ),
        (
            multipart(b, &file),
            multipart(b, &want_file),
            format!("multipart/form-data; boundary={b}"),
        ),
    ] {
        for cut in 0..=body.len() {
            let mut s = p.stripper(BodyFormat::Auto, Some(&ct), None);
            let out = run_with_bypass(&mut s, body.as_bytes(), cut);
            assert_eq!(String::from_utf8_lossy(&out), want, "{ct} split at {cut}");
        }
    }
}

/// A multipart upload of one file part named `name` with `content_type`.
fn file_part(boundary: &str, name: &str, content_type: &str, file: &str) -> String {
    format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: {content_type}\r\n\r\n{file}\r\n--{boundary}--\r\n"
    )
}

/// Strips a text file uploaded in a multipart body, at every split point, and returns the
/// forwarded file and the stripped count.
fn strip_text_file(name: &str, content_type: &str, file: &str, want: &str) -> u64 {
    let p = policy("");
    let b = "t3xt";
    let ct = format!("multipart/form-data; boundary={b}");
    let body = file_part(b, name, content_type, file);
    every_split(
        body.as_bytes(),
        || p.stripper(BodyFormat::Auto, Some(&ct), None),
        file_part(b, name, content_type, want).as_bytes(),
    );
    let mut s = p.stripper(BodyFormat::Auto, Some(&ct), None);
    run(&mut s, body.as_bytes(), &[]).unwrap();
    s.stats.records_stripped
}

#[test]
fn csv_provenance_envelope_and_ctwa_columns_mark_their_rows() {
    // A provenance column naming WhatsApp (any spelling the JSON walk accepts).
    let file = "ticket_id,Channel,customer_message\nT-1,WhatsApp,is my order late?\nT-2,email,reset my password\nT-3,ＷｈａｔｓＡｐｐ,hi\nT-4,web,where is it?\n";
    let want =
        "ticket_id,Channel,customer_message\nT-2,email,reset my password\nT-4,web,where is it?\n";
    assert_eq!(strip_text_file("tickets.csv", "text/csv", file, want), 2);
    // A TSV `source` column, and a flattened webhook's `messaging_product` column.
    let file = "id\tsource\tprompt\n1\tWhatsApp Cloud API\tis it late?\n2\tweb\treset\n";
    let want = "id\tsource\tprompt\n2\tweb\treset\n";
    assert_eq!(
        strip_text_file("pairs.tsv", "text/tab-separated-values", file, want),
        1
    );
    let file =
        "messaging_product,contact_name,text_body\nwhatsapp,Ana,is my order late?\nsms,Bo,hi\n";
    let want = "messaging_product,contact_name,text_body\nsms,Bo,hi\n";
    assert_eq!(strip_text_file("flat.csv", "text/csv", file, want), 1);
    let file = "text,ctwa_clid\nhello,ARAkLkA8rmlFeiCktEJQ\nhi,\n";
    let want = "text,ctwa_clid\nhi,\n";
    assert_eq!(strip_text_file("ads.csv", "text/csv", file, want), 1);
}

#[test]
fn a_csv_title_or_comment_line_comes_before_the_header() {
    let file =
        "# Inbox export 2024-03\nwa_id,question\n16505551234,is it late?\n,reset my password\n";
    let want = "# Inbox export 2024-03\nwa_id,question\n,reset my password\n";
    assert_eq!(strip_text_file("inbox.csv", "text/csv", file, want), 1);
    let file = "Inbox export\n\nwa_id;question\n16505551234;is it late?\n;reset\n";
    let want = "Inbox export\n\nwa_id;question\n;reset\n";
    assert_eq!(strip_text_file("inbox.csv", "text/csv", file, want), 1);
    // Clean files keep every byte: a `#` title, a `#` column, a one-column file.
    for file in [
        "# Support FAQ, March\nquestion,answer\nwhere is my parcel?,it ships today\n",
        "#,question,answer\n1,where is my parcel?,it ships today\n",
        "question\nwhere is my parcel?\nreset my password\n",
    ] {
        assert_eq!(
            strip_text_file("faq.csv", "text/csv", file, file),
            0,
            "{file}"
        );
    }
    // A `#` column header and a one-column `wa_id` file are headers, not titles.
    let file = "#,wa_id\n1,16505551234\n2,\n";
    assert_eq!(
        strip_text_file("n.csv", "text/csv", file, "#,wa_id\n2,\n"),
        1
    );
    let file = "wa_id\n16505551234\n\n";
    assert_eq!(strip_text_file("n.csv", "text/csv", file, "wa_id\n\n"), 1);
}

#[test]
fn a_tsv_header_is_split_on_tabs_despite_commas_in_parentheses() {
    let file = "wa_id\tmessage\tnotes (internal, do not share, ever)\n16505551234\tis it late?\tvip\n\treset my password\t-\n";
    let want = "wa_id\tmessage\tnotes (internal, do not share, ever)\n\treset my password\t-\n";
    assert_eq!(
        strip_text_file("support.tsv", "text/tab-separated-values", file, want),
        1
    );
}

#[test]
fn text_lines_may_end_with_a_lone_carriage_return() {
    let file =
        "Support notes\r12/03/2024, 14:22 - Ana Souza: hi\r12/03/2024, 14:25 - Shop: hello\r";
    assert_eq!(
        strip_text_file("chat.txt", "text/plain", file, "Support notes\r"),
        2
    );
    // CRLF stays one line end; a lone CR before the part's end is a line end too.
    let file = "notes\r\n12/03/2024, 14:22 - Ana: hi\r\nmore\r\n";
    assert_eq!(
        strip_text_file("chat.txt", "text/plain", file, "notes\r\n"),
        2
    );
    let file = "a,b\rc,d\r\ne,f\r";
    assert_eq!(strip_text_file("x.csv", "text/csv", file, file), 0);
}

#[test]
fn chat_exports_quoted_listed_or_localised_are_stripped_from_text_files() {
    for (file, want, n) in [
        (
            "Hi team, see the chat below.\n> 12/03/2024, 14:22 - Ana Souza: is my order late?\n> > 12/03/2024, 14:25 - Shop: It arrives Friday.\n",
            "Hi team, see the chat below.\n",
            2,
        ),
        (
            "## Escalations\n- [12/03/2024, 14:22:01] Ana Souza: is my order late?\n* [12/03/2024, 14:25:40] Shop: Friday.\n",
            "## Escalations\n",
            2,
        ),
        (
            "Notes de l'équipe\n2024-03-12 14 h 22 - Ana Tremblay : bonjour\n2024-03-12 14 h 25 - Boutique : Elle arrive vendredi.\n",
            "Notes de l'équipe\n",
            2,
        ),
        (
            "ملاحظات\n[١٢\u{200F}/٣\u{200F}/٢٠٢٤، ٢:٢٢:٠١ م] Ana: مرحبا\n",
            "ملاحظات\n",
            1,
        ),
    ] {
        assert_eq!(
            strip_text_file("chat.txt", "text/plain", file, want),
            n,
            "{file}"
        );
    }
    // A markdown list and a quoted reply that are not chat exports keep every byte.
    let file = "## Release notes\n- 2024-03-12: version 1.2.3, fixes the 14:22 cron job\n* Meeting at 14:22: budget\n1. Call Ana back, ask: delivery?\n> On 12/03/2024 at 14:22, Ana wrote:\n> where is it?\n";
    assert_eq!(strip_text_file("notes.txt", "text/plain", file, file), 0);
}

#[test]
fn hf_legacy_json_commit_files_are_decoded_stripped_and_reencoded() {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let p = policy("");
    let chat = "12/03/2024, 14:22 - Ana Souza: is my order late?\n";
    let body = format!(
        r#"{{"summary":"add data","files":[{{"path":"data/train.jsonl","content":"{}","encoding":"base64"}},{{"path":"notes.txt","content":"{}","encoding":"base64"}},{{"path":"run.py","content":"{}"}}],"lfsFiles":[],"deletedFiles":[]}}"#,
        b64(&format!("{KEEP1}\n{WA2}\n")),
        b64(&format!("About\n{chat}")),
        b64("print(1)"),
    );
    let mut s = p.stripper(BodyFormat::HfCommit, Some("application/json"), None);
    let out = run(&mut s, body.as_bytes(), &[9, 100]).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["files"][0]["content"], b64(&format!("{KEEP1}\n")));
    assert_eq!(v["files"][1]["content"], b64("About\n"));
    assert_eq!(v["files"][2]["content"], b64("print(1)"));
    assert_eq!((s.stats.records_seen, s.stats.records_stripped), (4, 2));
    // A clean legacy commit is forwarded byte for byte.
    let clean = format!(
        r#"{{"summary":"x","files":[{{"path":"train.jsonl","content":"{}","encoding":"base64"}}]}}"#,
        b64(&format!("{KEEP1}\n"))
    );
    let mut s = p.stripper(BodyFormat::HfCommit, Some("application/json"), None);
    assert_eq!(
        run(&mut s, clean.as_bytes(), &[]).unwrap(),
        clean.as_bytes()
    );
    // Pretty-printed over lines, it cannot be read line by line: refused.
    let pretty =
        serde_json::to_string_pretty(&serde_json::from_str::<serde_json::Value>(&clean).unwrap())
            .unwrap();
    let mut s = p.stripper(BodyFormat::HfCommit, Some("application/json"), None);
    assert_eq!(
        run(&mut s, pretty.as_bytes(), &[]),
        Err(StripError::InvalidRecord)
    );
}

#[test]
fn json_documents_check_every_value_of_a_repeated_key() {
    let p = policy("");
    for body in [
        r#"{"attachment":"x","metadata":{"channel":"WhatsApp","channel":"helpdesk"}}"#,
        r#"{"metadata":{"source":"whatsapp","source":"web"},"rows":[{"a":1},{"b":2}]}"#,
    ] {
        let mut s = p.stripper(BodyFormat::Json, None, None);
        run(&mut s, body.as_bytes(), &[]).unwrap();
        assert!(s.stripped_everything(), "{body}");
    }
}

#[test]
fn a_csv_row_whose_quoted_cell_spans_lines_is_judged_and_dropped_whole() {
    // The message on the first physical line, the customer's number on the second.
    let file = "text,from\n\"Hi, my order\nhas not arrived\",16505551234\nThanks,support@acme.example\n\"Line one\r\n\r\nline \"\"three\"\"\",ops@acme.example\n";
    let want = "text,from\nThanks,support@acme.example\n\"Line one\r\n\r\nline \"\"three\"\"\",ops@acme.example\n";
    assert_eq!(strip_text_file("messages.csv", "text/csv", file, want), 1);
    // A chat-export line on a cell's second line marks the row.
    let file = "id,notes\n1,\"pasted:\n12/03/2024, 14:22 - Ana: hi\"\n2,clean\n";
    let want = "id,notes\n2,clean\n";
    assert_eq!(strip_text_file("notes.csv", "text/csv", file, want), 1);
    // A stray quote inside an unquoted cell does not hold the rest of the file, nor does a
    // JSON line in a text file; a quote never closed ends the row at the end of the body.
    let file = "item,size\nscreen,5\" wide\ncable,2m\n";
    assert_eq!(strip_text_file("items.csv", "text/csv", file, file), 0);
    let file = "{\"a\":\"x,\"}\n{\"channel\":\"WhatsApp\"}\n{\"b\":\"y\"}\n";
    let want = "{\"a\":\"x,\"}\n{\"b\":\"y\"}\n";
    assert_eq!(strip_text_file("rows.txt", "text/plain", file, want), 1);
    let file = "text,from\nok,ana@example.com\n\"never closed, ref wamid.HBgLMTY1MDM4Nzk0\nmore\n";
    let want = "text,from\nok,ana@example.com\n";
    assert_eq!(strip_text_file("open.csv", "text/csv", file, want), 1);
    let file = "text,from\nok,ana@example.com\n\"never closed,16505551234\nmore\n";
    assert_eq!(strip_text_file("open.csv", "text/csv", file, file), 0);
}

#[test]
fn a_held_csv_row_is_forwarded_once_on_bypass() {
    let p = policy("");
    // The second row's cell spans lines and holds invalid UTF-8.
    let file = b"text,from\n\"a\nb\",ana@example.com\n\"c\n\xff\",x\n";
    let b = "b0undary";
    let body = [
        format!("--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"m.csv\"\r\nContent-Type: text/csv\r\n\r\n").as_bytes(),
        file.as_slice(),
        format!("\r\n--{b}--\r\n").as_bytes(),
    ]
    .concat();
    let ct = format!("multipart/form-data; boundary={b}");
    for cut in 0..=body.len() {
        let mut s = p.stripper(BodyFormat::Auto, Some(&ct), None);
        let out = run_with_bypass(&mut s, &body, cut);
        assert_eq!(out, body, "split at {cut}");
    }
}

#[test]
fn a_twilio_log_keeps_its_sms_rows_and_strips_its_whatsapp_rows() {
    let file = "From,To,Body,Status\nwhatsapp:+14155550123,whatsapp:+14155238886,Is my order shipped?,received\n+14155550999,+14155238886,Stop,received\n";
    let want = "From,To,Body,Status\n+14155550999,+14155238886,Stop,received\n";
    assert_eq!(strip_text_file("log.csv", "text/csv", file, want), 1);
    // Without such addresses, a bare number next to a message column is still WhatsApp's,
    // a flattened one (`text.body`) too.
    let file = "from,text\n16505551234,hi\nana@example.com,hello\n";
    let want = "from,text\nana@example.com,hello\n";
    assert_eq!(strip_text_file("msgs.csv", "text/csv", file, want), 1);
    let file = "from,timestamp,type,text.body\n16505551234,1749416383,text,hi\nana@example.com,1749416390,text,hello\n";
    let want = "from,timestamp,type,text.body\nana@example.com,1749416390,text,hello\n";
    assert_eq!(strip_text_file("flat.csv", "text/csv", file, want), 1);
}

#[test]
fn an_abbreviation_in_a_route_column_is_a_place() {
    let file = "origin,destination,carrier\nWA,OR,UPS\nwhatsapp,crm,none\n";
    let want = "origin,destination,carrier\nWA,OR,UPS\n";
    assert_eq!(strip_text_file("routes.csv", "text/csv", file, want), 1);
    let file = "id,channel\n1,WA\n2,web\n";
    let want = "id,channel\n2,web\n";
    assert_eq!(strip_text_file("tickets.csv", "text/csv", file, want), 1);
}

#[test]
fn grpc_and_protobuf_bodies_are_refused_as_such_whatever_the_format() {
    let p = policy("");
    let body = b"\0\0\0\0\x10\n\x0esupport-tuned";
    for format in [BodyFormat::Auto, BodyFormat::Json, BodyFormat::Jsonl] {
        for ct in [
            "application/grpc",
            "application/grpc+proto",
            "application/grpc-web-text",
            "Application/X-Protobuf",
        ] {
            let mut s = p.stripper(format, Some(ct), None);
            assert_eq!(
                run(&mut s, body, &[]),
                Err(StripError::ProtobufBody),
                "{ct}"
            );
        }
    }
    // Allowed by the policy, it is forwarded as sent, decoded when it was compressed.
    let mut s = p.stripper(
        BodyFormat::Auto,
        Some("application/x-protobuf"),
        Some("gzip"),
    );
    let mut out = Vec::new();
    assert!(s.feed(&gzip(body), &mut out).is_err());
    assert!(s.bypass(&mut out));
    s.finish(&mut out).unwrap();
    assert_eq!(out, body);
}

#[test]
fn cohere_eval_data_is_read_without_a_file_name() {
    let p = policy("");
    let b = "c0here";
    let part = |name: &str, file: &str| {
        format!("--{b}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{file}\r\n")
    };
    let body = format!(
        "{}{}--{b}--\r\n",
        part("data", KEEP1),
        part("eval_data", &format!("{KEEP2}\n{WA2}\n"))
    );
    let want = format!(
        "{}{}--{b}--\r\n",
        part("data", KEEP1),
        part("eval_data", &format!("{KEEP2}\n"))
    );
    let ct = format!("multipart/form-data; boundary={b}");
    every_split(
        body.as_bytes(),
        || p.stripper(BodyFormat::Auto, Some(&ct), None),
        want.as_bytes(),
    );
}

/// Review round 1, uploads #14 to #18: framing that multipart parsers read differently.
#[test]
fn multipart_framing_parsers_read_differently_is_refused_at_every_split() {
    let p = policy("");
    let b = "wa-b7";
    let ct = format!("multipart/form-data; boundary={b}");
    let clean = multipart(b, &format!("{KEEP1}\n{WA2}\n{KEEP2}\n"));
    let octet = "Content-Type: application/octet-stream\r\n";
    let bodies = [
        // A header given twice.
        clean.replace(octet, &format!("{octet}Content-Type: image/png\r\n")),
        clean.replace(
            "name=\"file\"; filename=\"train.jsonl\"\r\n",
            "name=\"note\"\r\nContent-Disposition: form-data; name=\"file\"; filename=\"train.jsonl\"\r\n",
        ),
        // A parameter given twice.
        clean.replace("name=\"file\";", "name=\"note\"; name=\"file\";"),
        // Headers ending in CRLF LF, or split by a bare LF.
        clean.replace(&format!("{octet}\r\n"), &format!("{octet}\n")),
        clean.replace("train.jsonl\"\r\n", "train.jsonl\"\n"),
        // A bare-LF delimiter, in a field, in the file, or opening the body.
        clean.replace("fine-tune\r\n", "fine-tune\n"),
        clean.replace(
            &format!("{KEEP1}\n"),
            &format!("{KEEP1}\n--{b}\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n"),
        ),
        format!("\n{clean}"),
        // A part after the closing delimiter.
        format!("{clean}--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"b.jsonl\"\r\n\r\n{WA1}\r\n--{b}--\r\n"),
        // A nameless header line.
        clean.replace(octet, &format!("{octet}garbage\r\n")),
    ];
    for body in &bodies {
        for cut in 0..=body.len() {
            let mut s = p.stripper(BodyFormat::Auto, Some(&ct), None);
            assert_eq!(
                run(&mut s, body.as_bytes(), &[cut]),
                Err(StripError::MalformedMultipart),
                "split at {cut}: {body:?}"
            );
        }
        let mut s = p.stripper(BodyFormat::Auto, Some(&ct), None);
        let all: Vec<usize> = (1..body.len()).collect();
        assert_eq!(
            run(&mut s, body.as_bytes(), &all),
            Err(StripError::MalformedMultipart),
            "byte by byte: {body:?}"
        );
    }
}

#[test]
fn a_boundary_parsers_would_read_differently_is_none() {
    for ct in [
        "multipart/form-data; boundary=outer; boundary=inner",
        "multipart/form-data; BOUNDARY=outer; boundary=inner",
        "multipart/form-data; xboundary=outer; boundary=inner",
        "multipart/form-data; charset=\"utf-8;boundary=outer\"; boundary=inner",
        "multipart/form-data; boundary=\"open",
        "multipart/form-data; boundary=",
        "multipart/form-data",
    ] {
        assert_eq!(crate::media_type::boundary(ct), None, "{ct}");
    }
    for (ct, want) in [
        (
            "multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxk",
            "----WebKitFormBoundary7MA4YWxk",
        ),
        (
            "multipart/form-data; charset=utf-8; boundary=\"a;b=c\"",
            "a;b=c",
        ),
        ("multipart/form-data; boundary = \"q\\\"x\"", "q\"x"),
    ] {
        assert_eq!(
            crate::media_type::boundary(ct).as_deref(),
            Some(want),
            "{ct}"
        );
    }
}

#[test]
fn clean_multipart_with_unusual_but_unambiguous_framing_passes_byte_for_byte() {
    let p = policy("");
    let wk = "----WebKitFormBoundary7MA4YWxkTrZu0gW";
    // A folded Content-Disposition (joined as every parser joins it), padding after a
    // delimiter and blanks after the closing one.
    let fold = |file: &str| {
        multipart(wk, file)
            .replace("name=\"file\"; ", "name=\"file\";\r\n\t")
            .replace(
                &format!("--{wk}\r\nContent-Disposition: form-data; name=\"purpose\""),
                &format!("--{wk} \t\r\nContent-Disposition: form-data; name=\"purpose\""),
            )
            + " \r\n"
    };
    let ct = format!("multipart/form-data; boundary={wk}");
    every_split(
        fold(&format!("{KEEP1}\n{WA2}\n{KEEP2}\n")).as_bytes(),
        || p.stripper(BodyFormat::Auto, Some(&ct), None),
        fold(&format!("{KEEP1}\n{KEEP2}\n")).as_bytes(),
    );
    let quoted = "a;b=c";
    let ct = format!("multipart/form-data; charset=utf-8; boundary=\"{quoted}\"");
    let body = multipart(quoted, &format!("{KEEP1}\n{KEEP2}\n"));
    every_split(
        body.as_bytes(),
        || p.stripper(BodyFormat::Auto, Some(&ct), None),
        body.as_bytes(),
    );
}

/// The offsets of the records a listing stripper strips, in the body it was fed, at every
/// split point and byte by byte; `None` without the listing (Envoy's stripper).
fn stripped_offsets(
    p: &TrainingPolicy,
    ct: &str,
    encoding: Option<&str>,
    body: &[u8],
) -> Vec<(u64, u64, &'static str)> {
    let listing = TrainingPolicy {
        list_stripped: true,
        ..p.clone()
    };
    let offsets = |cuts: &[usize]| {
        let mut s = listing.stripper(BodyFormat::Auto, Some(ct), encoding);
        run(&mut s, body, cuts).unwrap();
        s.stats
            .stripped
            .unwrap()
            .iter()
            .map(|r| (r.record, r.offset.unwrap(), r.detector))
            .collect::<Vec<_>>()
    };
    let whole = offsets(&[]);
    for cut in 0..=body.len() {
        assert_eq!(offsets(&[cut]), whole, "split at {cut}");
    }
    let all: Vec<usize> = (1..body.len()).collect();
    assert_eq!(offsets(&all), whole, "byte by byte");
    let mut plain = p.stripper(BodyFormat::Auto, Some(ct), encoding);
    run(&mut plain, body, &[]).unwrap();
    assert_eq!(plain.stats.stripped, None);
    whole
}

#[test]
fn a_listing_stripper_says_where_each_stripped_record_starts() {
    let p = policy("");
    // JSON lines, CRLF and blank lines among them.
    let body = format!("{KEEP1}\n{WA1}\r\n\n{KEEP2}\r\n{WA2}");
    let at = |needle: &str| body.find(needle).unwrap() as u64;
    assert_eq!(
        stripped_offsets(&p, "application/jsonl", None, body.as_bytes()),
        [(2, at(WA1), "wamid"), (4, at(WA2), "provenance")]
    );
    // Compressed: offsets in the decoded body.
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(body.as_bytes()).unwrap();
    let gz = gz.finish().unwrap();
    assert_eq!(
        stripped_offsets(&p, "application/jsonl", Some("gzip"), &gz),
        [(2, at(WA1), "wamid"), (4, at(WA2), "provenance")]
    );
    // A JSON document: the array element's first byte.
    let doc = format!("{{\"data\": [{KEEP1}, {WA1}]}}");
    assert_eq!(
        stripped_offsets(&p, "application/json", None, doc.as_bytes()),
        [(2, doc.find(WA1).unwrap() as u64, "wamid")]
    );
    // A CSV file part, one row spanning lines: offsets from the multipart body's start.
    let csv =
        "id,channel,text\r\n1,email,\"two\r\nlines\"\r\n2,whatsapp,\"also\r\ntwo\"\r\n3,web,hi\r\n";
    let body = file_part("b0undary", "inbox.csv", "text/csv", csv);
    let row = body.find("2,whatsapp").unwrap() as u64;
    assert_eq!(
        stripped_offsets(
            &p,
            "multipart/form-data; boundary=b0undary",
            None,
            body.as_bytes()
        ),
        [(3, row, "provenance")]
    );
}
