//! `wa-guard strip`: a local training file through the engine's upload stripper. Each stripped
//! record is reported by number, byte offset and detector, never by its text, and `--out`
//! writes what the upload would forward: the file byte for byte when nothing is stripped.

#[cfg(test)]
#[path = "support/wa_guard_cli.rs"]
mod cli;

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};
    use std::process::Output;

    use super::cli::{wa_guard, workspace_root};
    use serde_json::{Value, json};

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("wa-guard-strip-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    const POLICY: &str = "policies/default.json";
    const WAMID: &str = "wamid.HBgLMTU1NTAxMjM0NTY3FQIAEhgUM0VCMEQ5QUI3NzhBQzQ1RkUyAA==";

    fn record(i: usize, extra: Value) -> Value {
        let mut r = json!({"messages": [
            {"role": "user", "content": format!("Is locker L-{i:03} free this week?")},
            {"role": "assistant", "content": format!("Locker L-{i:03} is free from Tuesday.")},
        ]});
        if let (Value::Object(r), Value::Object(extra)) = (&mut r, extra) {
            r.extend(extra);
        }
        r
    }

    /// Ten JSON lines; records 3, 6 and 9 are WhatsApp-derived (a message id, a provenance
    /// field, a `wa_id`). Returns the file, the file without them, and their offsets.
    fn jsonl() -> (String, String, Vec<(u64, usize, &'static str)>) {
        let (mut file, mut clean, mut stripped) = (String::new(), String::new(), Vec::new());
        for i in 1..=10 {
            let (extra, detector) = match i {
                3 => (json!({"source_id": WAMID}), Some("wamid")),
                6 => (json!({"meta": {"channel": "whatsapp"}}), Some("provenance")),
                9 => (json!({"wa_id": "15550109999"}), Some("wa_id_key")),
                _ => (json!({}), None),
            };
            let line = format!("{}\n", record(i, extra));
            match detector {
                Some(d) => stripped.push((i as u64, file.len(), d)),
                None => clean.push_str(&line),
            }
            file.push_str(&line);
        }
        (file, clean, stripped)
    }

    fn strip(file: &Path, extra: &[&str]) -> (Value, Output) {
        let f = file.display().to_string();
        let mut args = vec!["strip", "--report", "json"];
        args.extend_from_slice(extra);
        args.extend([POLICY, f.as_str()]);
        let out = wa_guard(&args);
        let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{e}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (v, out)
    }

    fn listed(v: &Value) -> Vec<(u64, usize, String)> {
        v["stripped"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["record"].as_u64().unwrap(),
                    r["offset"].as_u64().unwrap() as usize,
                    r["detector"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    fn owned(list: &[(u64, usize, &str)]) -> Vec<(u64, usize, String)> {
        list.iter()
            .map(|(n, o, d)| (*n, *o, (*d).to_owned()))
            .collect()
    }

    #[test]
    fn jsonl_records_numbers_offsets_and_detectors_never_the_text() {
        let (file, clean, stripped) = jsonl();
        let path = scratch("support.jsonl");
        std::fs::write(&path, &file).unwrap();
        let out_path = scratch("support.clean.jsonl");
        let o = out_path.display().to_string();
        let (v, out) = strip(&path, &["--out", &o]);
        assert!(out.status.success());
        assert_eq!(v["format"], "jsonl");
        assert_eq!(v["endpoint"], "openai-files");
        assert_eq!(v["verdict"], "strip");
        assert_eq!(
            (v["records_seen"].as_u64(), v["records_stripped"].as_u64()),
            (Some(10), Some(3))
        );
        assert_eq!(listed(&v), owned(&stripped));
        for (_, offset, _) in &stripped {
            assert!(file[*offset..].starts_with("{\"messages\""));
        }
        assert_eq!(std::fs::read_to_string(&out_path).unwrap(), clean);

        // The text report: where and which detector, never the record's text.
        let text = wa_guard(&["strip", POLICY, &path.display().to_string()]);
        let text = String::from_utf8_lossy(&text.stdout);
        let at = stripped[0].1;
        assert!(
            text.contains(&format!("record 3 at byte {at}: wamid")),
            "{text}"
        );
        assert!(text.contains("strip: 10 records, 3 stripped"), "{text}");
        for secret in [WAMID, "15550109999", "L-003", "whatsapp\"}"] {
            assert!(!text.contains(secret), "{text}");
            assert!(!String::from_utf8_lossy(&out.stdout).contains(secret));
        }
    }

    #[test]
    fn a_clean_file_is_written_byte_for_byte() {
        // CRLF and LF line ends, a blank line, no final line end, non-ASCII text.
        let file = format!(
            "{}\r\n\n{}\n{}",
            record(1, json!({})),
            record(2, json!({"lang": "pt", "note": "não há pressa — obrigado"})),
            record(3, json!({}))
        );
        let path = scratch("clean.jsonl");
        std::fs::write(&path, &file).unwrap();
        let out_path = scratch("clean.out.jsonl");
        let (v, out) = strip(&path, &["--out", &out_path.display().to_string()]);
        assert!(out.status.success());
        assert_eq!(v["verdict"], "forward");
        assert_eq!(v["records_stripped"], 0);
        assert_eq!(std::fs::read(&out_path).unwrap(), file.as_bytes());
    }

    #[test]
    fn a_gzip_file_is_stripped_decompressed() {
        let (file, clean, stripped) = jsonl();
        let request = wa_egress_guard::cases::CaseRequest {
            body_text: Some(file),
            encode: Some("gzip".into()),
            ..Default::default()
        };
        let path = scratch("support.jsonl.gz");
        std::fs::write(&path, request.body_bytes().unwrap()).unwrap();
        let out_path = scratch("support.gz.clean.jsonl");
        let (v, _) = strip(&path, &["--out", &out_path.display().to_string()]);
        assert_eq!(v["gzip"], true);
        assert_eq!(
            listed(&v),
            owned(&stripped),
            "offsets in the decompressed file"
        );
        assert_eq!(std::fs::read_to_string(&out_path).unwrap(), clean);
    }

    #[test]
    fn a_json_document_loses_its_whatsapp_elements() {
        let doc = json!({"examples": [record(1, json!({})), record(2, json!({"source_id": WAMID})), record(3, json!({}))]});
        let text = serde_json::to_string_pretty(&doc).unwrap();
        let path = scratch("examples.json");
        std::fs::write(&path, &text).unwrap();
        let out_path = scratch("examples.clean.json");
        let (v, _) = strip(&path, &["--out", &out_path.display().to_string()]);
        assert_eq!(v["format"], "json");
        let list = listed(&v);
        let [(n, offset, d)] = &list[..] else {
            panic!("{v}")
        };
        let (n, offset) = (*n, *offset);
        assert_eq!((n, d.as_str()), (2, "wamid"));
        let element = text[offset..].split("\n  }").next().unwrap();
        assert!(
            element.contains("L-002") && element.starts_with('{'),
            "{element}"
        );
        let cleaned: Value = serde_json::from_slice(&std::fs::read(&out_path).unwrap()).unwrap();
        assert_eq!(cleaned["examples"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn csv_rows_and_multipart_files() {
        let csv = "ticket,channel,text\r\n1,email,\"Where is my order?\"\r\n2,whatsapp,\"Hello,\r\nis the shop open?\"\r\n3,web,Thanks\r\n";
        let path = scratch("inbox.csv");
        std::fs::write(&path, csv).unwrap();
        let out_path = scratch("inbox.clean.csv");
        let (v, _) = strip(&path, &["--out", &out_path.display().to_string()]);
        assert_eq!(v["format"], "csv");
        // The header is record 1; the row that spans two lines is record 3.
        assert_eq!(
            listed(&v),
            vec![(3, csv.find("2,whatsapp").unwrap(), "provenance".to_owned())]
        );
        assert_eq!(
            std::fs::read_to_string(&out_path).unwrap(),
            "ticket,channel,text\r\n1,email,\"Where is my order?\"\r\n3,web,Thanks\r\n"
        );

        // Compressed: read decompressed, as Envoy forwards it.
        let request = wa_egress_guard::cases::CaseRequest {
            body_text: Some(csv.to_owned()),
            encode: Some("gzip".into()),
            ..Default::default()
        };
        let gz = scratch("inbox.csv.gz");
        std::fs::write(&gz, request.body_bytes().unwrap()).unwrap();
        let gz_out = scratch("inbox.gz.clean.csv");
        let (v, _) = strip(&gz, &["--out", &gz_out.display().to_string()]);
        assert_eq!(
            (v["format"].as_str(), v["gzip"].as_bool()),
            (Some("csv"), Some(true))
        );
        assert_eq!(
            std::fs::read(&gz_out).unwrap(),
            std::fs::read(&out_path).unwrap()
        );

        // The same file as a multipart upload's file part: the boundary from the first line,
        // offsets from the body's start, the framing kept.
        let part = |file: &str| {
            format!(
                "--b0und\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nfine-tune\r\n--b0und\r\nContent-Disposition: form-data; name=\"file\"; filename=\"inbox.csv\"\r\nContent-Type: text/csv\r\n\r\n{file}\r\n--b0und--\r\n"
            )
        };
        let body = part(csv);
        let path = scratch("upload.multipart");
        std::fs::write(&path, &body).unwrap();
        let out_path = scratch("upload.clean.multipart");
        let (v, _) = strip(&path, &["--out", &out_path.display().to_string()]);
        assert_eq!(v["format"], "multipart");
        assert_eq!(
            listed(&v),
            vec![(3, body.find("2,whatsapp").unwrap(), "provenance".to_owned())]
        );
        assert_eq!(
            std::fs::read_to_string(&out_path).unwrap(),
            part("ticket,channel,text\r\n1,email,\"Where is my order?\"\r\n3,web,Thanks\r\n")
        );
    }

    #[test]
    fn a_file_of_only_whatsapp_records_is_refused() {
        let file = format!(
            "{}\n{}\n",
            record(1, json!({"source_id": WAMID})),
            record(2, json!({"wa_id": "15550100001"}))
        );
        let path = scratch("all.jsonl");
        std::fs::write(&path, file).unwrap();
        let out_path = scratch("all.clean.jsonl");
        let (v, out) = strip(&path, &["--out", &out_path.display().to_string()]);
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(v["verdict"], "block");
        assert_eq!(v["problem"], "all_records_whatsapp");
        assert!(!out_path.exists(), "nothing is forwarded, nothing written");
        let help = wa_guard(&["strip", "--help"]);
        assert!(String::from_utf8_lossy(&help.stdout).contains("Examples:"));
    }

    #[test]
    fn an_audit_policy_forwards_the_file_unchanged_unless_enforce() {
        let (file, clean, _) = jsonl();
        let path = scratch("audit.jsonl");
        std::fs::write(&path, &file).unwrap();
        let mut doc: Value =
            serde_json::from_slice(&std::fs::read(workspace_root().join(POLICY)).unwrap()).unwrap();
        doc["training"]["mode"] = "audit".into();
        let policy = scratch("audit-policy.json");
        std::fs::write(&policy, doc.to_string()).unwrap();
        let (p, f) = (policy.display().to_string(), path.display().to_string());
        for (enforce, verdict, want) in [(false, "audit", &file), (true, "strip", &clean)] {
            let out_path = scratch(&format!("audit.{enforce}.jsonl"));
            let o = out_path.display().to_string();
            let mut args = vec!["strip", "--report", "json", "--out", &o];
            if enforce {
                args.push("--enforce");
            }
            args.extend([p.as_str(), f.as_str()]);
            let out = wa_guard(&args);
            let v: Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(v["verdict"], verdict);
            assert_eq!(v["records_stripped"], 3, "counted either way");
            assert_eq!(&std::fs::read_to_string(&out_path).unwrap(), want);
        }
    }
}
