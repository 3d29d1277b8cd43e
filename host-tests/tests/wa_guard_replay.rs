//! `wa-guard replay`: the demo policy against the same policy in audit mode, on one set of
//! requests recorded four ways (JSON lines, a HAR file, Envoy tap output, a directory of
//! request files): the same requests change, with both verdicts.

#[cfg(test)]
#[path = "support/wa_guard_cli.rs"]
mod cli;

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};
    use std::process::Output;

    use super::cli::{wa_guard, workspace_root};
    use serde_json::{Value, json};

    /// A directory of this test's own: tests run in parallel and write files of the same names
    /// (`audit.json`), which a shared directory let one test truncate while another read it.
    fn scratch() -> PathBuf {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("wa-guard-replay-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    const SUPPORT: &str = "spiffe://cluster.local/ns/support/sa/helpdesk";
    const ASSISTANT: &str = "spiffe://cluster.local/ns/ai-lab/sa/chatbot";
    const LINE: &str = "/v21.0/106540352242922/messages";
    /// A number the demo policy does not list (`unknown: allow`).
    const OTHER_LINE: &str = "/v21.0/109876543210987/messages";
    const ANSWER: &str = "Certainly! As an AI assistant I can walk you through it. First, open the settings page and pick the plan that suits you. Second, compare the monthly and yearly prices, since the yearly one works out cheaper. Finally, confirm the change and keep the receipt. I hope this helps, and let me know if you would like a summary of the other options too!";

    /// A recorded request: (id, method, authority, path, headers, body).
    struct Req {
        id: &'static str,
        authority: &'static str,
        path: &'static str,
        headers: Vec<(&'static str, String)>,
        body: String,
    }

    fn send(id: &'static str, identity: &str, text: &str) -> Req {
        Req {
            id,
            authority: "graph.facebook.com",
            path: LINE,
            headers: vec![
                ("content-type", "application/json".into()),
                ("x-wa-guard-identity", identity.into()),
            ],
            body: json!({"messaging_product": "whatsapp", "to": "+16505550147", "type": "text",
                     "text": {"body": text}})
            .to_string(),
        }
    }

    fn traffic() -> Vec<Req> {
        let upload = [
            json!({"messages": [{"role": "user", "content": "Can the parcel go to my office?"}]}),
            json!({"messages": [{"role": "user", "content": "Did the refund go through?"}],
               "metadata": {"channel": "whatsapp"}}),
        ]
        .iter()
        .map(|v| format!("{v}\n"))
        .collect();
        vec![
            send("support", SUPPORT, "Hi Sam, your order 5521 ships today."),
            send("assistant", ASSISTANT, ANSWER),
            Req {
                id: "upload",
                authority: "api.openai.com",
                path: "/v1/files",
                headers: vec![("content-type", "application/jsonl".into())],
                body: upload,
            },
            Req {
                id: "other",
                authority: "example.com",
                path: "/",
                headers: vec![],
                body: String::new(),
            },
        ]
    }

    /// The demo policy, and a copy in audit mode (the WhatsApp job and training).
    fn policies(dir: &Path) -> (String, String) {
        let old = workspace_root().join("policies/examples/demo.json");
        let mut doc: Value = serde_json::from_slice(&std::fs::read(&old).unwrap()).unwrap();
        doc["mode"] = "audit".into();
        if let Some(t) = doc.get_mut("training") {
            t["mode"] = "audit".into();
        }
        let new = dir.join("audit.json");
        std::fs::write(&new, doc.to_string()).unwrap();
        (old.display().to_string(), new.display().to_string())
    }

    fn write_jsonl(dir: &Path) -> PathBuf {
        let lines: String = traffic()
            .iter()
            .map(|r| {
                let headers: serde_json::Map<String, Value> = r
                    .headers
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), v.clone().into()))
                    .collect();
                format!(
                    "{}\n",
                    json!({"id": r.id, "method": "POST", "authority": r.authority, "path": r.path,
                       "headers": headers, "properties": {"source.address": "127.0.0.1:40000"},
                       "body": r.body})
                )
            })
            .collect();
        let path = dir.join("traffic.jsonl");
        std::fs::write(&path, lines).unwrap();
        path
    }

    fn write_har(dir: &Path) -> PathBuf {
        let entries: Vec<Value> = traffic()
        .iter()
        .map(|r| {
            let mut headers: Vec<Value> = r
                .headers
                .iter()
                .map(|(k, v)| json!({"name": k, "value": v}))
                .collect();
            headers.push(json!({"name": ":authority", "value": r.authority}));
            json!({"request": {"method": "POST", "url": format!("https://{}{}", r.authority, r.path),
                               "httpVersion": "HTTP/2", "headers": headers,
                               "postData": {"mimeType": "application/json", "text": r.body}}})
        })
        .collect();
        let path = dir.join("traffic.har");
        std::fs::write(
            &path,
            serde_json::to_string_pretty(&json!({"log": {"version": "1.2", "entries": entries}}))
                .unwrap(),
        )
        .unwrap();
        path
    }

    fn tap_trace(r: &Req) -> Value {
        let mut headers = vec![
            json!({"key": ":method", "value": "POST"}),
            json!({"key": ":authority", "value": r.authority}),
            json!({"key": ":path", "value": r.path}),
        ];
        headers.extend(r.headers.iter().map(|(k, v)| json!({"key": k, "value": v})));
        json!({"http_buffered_trace": {
            "request": {"headers": headers, "body": {"truncated": false, "as_bytes": base64(r.body.as_bytes())}},
            "response": {"headers": [{"key": ":status", "value": "200"}]},
            "downstream_connection": {"remote_address": {"socket_address": {"address": "127.0.0.1", "port_value": 40000}}},
        }})
    }

    fn base64(bytes: &[u8]) -> String {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    /// Tap output two ways: JSON lines, and one pretty-printed trace per file in a directory.
    fn write_taps(dir: &Path) -> (PathBuf, PathBuf) {
        let lines: String = traffic()
            .iter()
            .map(|r| format!("{}\n", tap_trace(r)))
            .collect();
        let jsonl = dir.join("tap.jsonl");
        std::fs::write(&jsonl, lines).unwrap();
        let taps = dir.join("taps");
        std::fs::create_dir_all(&taps).unwrap();
        for r in traffic() {
            std::fs::write(
                taps.join(format!("{}_0.json", r.id)),
                serde_json::to_string_pretty(&tap_trace(&r)).unwrap(),
            )
            .unwrap();
        }
        (jsonl, taps)
    }

    /// A directory of request files: JSON, raw HTTP/1.1.
    fn write_directory(dir: &Path) -> PathBuf {
        let requests = dir.join("requests");
        std::fs::create_dir_all(&requests).unwrap();
        for (i, r) in traffic().iter().enumerate() {
            let mut raw = format!(
                "POST {} HTTP/1.1\r\nHost: {}\r\ncontent-length: {}\r\n",
                r.path,
                r.authority,
                r.body.len()
            );
            for (k, v) in &r.headers {
                raw.push_str(&format!("{k}: {v}\r\n"));
            }
            raw.push_str("\r\n");
            raw.push_str(&r.body);
            if i % 2 == 0 {
                std::fs::write(requests.join(format!("{}.http", r.id)), raw).unwrap();
            } else {
                let headers: serde_json::Map<String, Value> = r
                    .headers
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), v.clone().into()))
                    .collect();
                let doc = json!({"method": "POST", "authority": r.authority, "path": r.path,
                             "headers": headers, "body": r.body});
                std::fs::write(requests.join(format!("{}.json", r.id)), doc.to_string()).unwrap();
            }
        }
        requests
    }

    fn replay_json(traffic: &Path, extra: &[&str]) -> (Value, Output) {
        let dir = scratch();
        let (old, new) = policies(&dir);
        let t = traffic.display().to_string();
        let mut args = vec!["replay", "--format", "json", "--old", &old, "--new", &new];
        args.extend_from_slice(extra);
        args.push(&t);
        let out = wa_guard(&args);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{e}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (v, out)
    }

    /// The assistant's send goes from block to audit, the upload from strip to audit; the support
    /// send (allowed by both) and the ungoverned request do not change.
    fn assert_changes(v: &Value, ids: [&str; 2]) {
        assert_eq!(v["requests"], 4, "{v}");
        assert_eq!(v["unchanged"], 2, "{v}");
        let changed = v["changed"].as_array().unwrap();
        assert_eq!(changed.len(), 2, "{v}");
        let [send, upload] = [&changed[0], &changed[1]];
        assert_eq!(send["id"], ids[0]);
        assert_eq!(send["authority"], "graph.facebook.com");
        assert_eq!(send["path"], LINE);
        assert_eq!(send["old"]["action"], "block");
        assert_eq!(send["new"]["action"], "audit");
        assert_eq!(send["old"]["rule"], send["new"]["rule"]);
        assert_eq!(send["old"]["reason"], "general_assistant_origin");
        assert_eq!(upload["id"], ids[1]);
        assert_eq!(upload["old"]["action"], "strip");
        assert_eq!(upload["new"]["action"], "audit");
        assert_eq!(upload["old"]["records_stripped"], 1);
    }

    #[test]
    fn replay_reads_json_lines() {
        let (v, out) = replay_json(&write_jsonl(&scratch()), &[]);
        assert!(out.status.success());
        assert_changes(&v, ["assistant", "upload"]);
    }

    #[test]
    fn replay_reads_a_har_file() {
        // A HAR file records no peer: --peer stands for it.
        let (v, _) = replay_json(&write_har(&scratch()), &["--peer", "127.0.0.1:40000"]);
        assert_changes(&v, ["traffic.har#2", "traffic.har#3"]);
    }

    #[test]
    fn replay_reads_envoy_tap_output() {
        let (jsonl, dir) = write_taps(&scratch());
        let (v, _) = replay_json(&jsonl, &[]);
        assert_changes(&v, ["tap.jsonl:2", "tap.jsonl:3"]);
        let (v, _) = replay_json(&dir, &[]);
        assert_changes(&v, ["assistant_0.json", "upload_0.json"]);
    }

    #[test]
    fn replay_reads_a_directory_of_requests() {
        let (v, out) = replay_json(
            &write_directory(&scratch()),
            &["--exit-code", "--peer", "127.0.0.1:40000"],
        );
        assert_eq!(out.status.code(), Some(1), "--exit-code: a verdict changed");
        assert_changes(&v, ["assistant.json", "upload.http"]);
    }

    /// A Twilio send recorded by an SDK proxy: HAR 1.2 gives a form body as `params`, no
    /// `text`. The caller's identity comes from the entry's `_wa_guard_properties` or `--attr`.
    #[test]
    fn replay_reads_har_form_params_and_identities() {
        let dir = scratch().join("identities");
        std::fs::create_dir_all(&dir).unwrap();
        let san = "connection.uri_san_peer_certificate";
        let twilio = json!({
            "_wa_guard_properties": {san: ASSISTANT},
            "request": {"method": "POST",
                "url": "https://api.twilio.com/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json",
                "httpVersion": "HTTP/1.1", "headers": [],
                "postData": {"mimeType": "application/x-www-form-urlencoded", "params": [
                    {"name": "To", "value": "whatsapp:+16505550147"},
                    {"name": "From", "value": "whatsapp:+14155550100"},
                    {"name": "Body", "value": ANSWER}]}}});
        let cloud = |props: Option<&str>| {
            let mut e = json!({"request": {"method": "POST",
                "url": format!("https://graph.facebook.com{}",
                    if props.is_some() { LINE } else { OTHER_LINE }), "httpVersion": "HTTP/1.1",
                "headers": [{"name": "Content-Type", "value": "application/json"}],
                "postData": {"mimeType": "application/json",
                    "text": json!({"messaging_product": "whatsapp", "to": "+16505550147",
                                   "type": "text", "text": {"body": "Your order 5521 ships today."}}).to_string()}}});
            if let Some(identity) = props {
                e["_wa_guard_properties"] = json!({san: identity});
            }
            e
        };
        let har = dir.join("sdk.har");
        std::fs::write(
            &har,
            json!({"log": {"version": "1.2",
                           "entries": [twilio, cloud(None), cloud(Some(SUPPORT))]}})
            .to_string(),
        )
        .unwrap();
        // The second entry names no caller and a number the policy does not list: allowed by
        // both. Only the Twilio send changes (its form body read from params, its caller the
        // assistant named by the entry).
        let (v, out) = replay_json(&har, &[]);
        assert!(out.status.success(), "{v}");
        let changed = v["changed"].as_array().unwrap();
        assert_eq!(changed.len(), 1, "{v}");
        assert_eq!(changed[0]["id"], "sdk.har#1");
        assert_eq!(changed[0]["authority"], "api.twilio.com");
        assert_eq!(changed[0]["old"]["action"], "block");
        assert_eq!(changed[0]["old"]["reason"], "general_assistant_origin");
        assert_eq!(changed[0]["new"]["action"], "audit");
        // --attr names the caller of every entry that names none; an entry's own stays.
        let attr = format!("{san}={ASSISTANT}");
        let (v, _) = replay_json(&har, &["--attr", &attr]);
        let ids: Vec<&Value> = v["changed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| &c["id"])
            .collect();
        assert_eq!(ids, ["sdk.har#1", "sdk.har#2"], "{v}");
        assert_eq!(v["changed"][1]["old"]["action"], "block", "{v}");
        assert_eq!(
            v["unchanged"], 1,
            "the support entry keeps its own identity: {v}"
        );
    }

    /// A bad line of a JSON lines file is reported (file:line and why) and skipped; the rest
    /// is replayed, and the exit status says a line was unreadable.
    #[test]
    fn replay_skips_unreadable_lines() {
        let dir = scratch().join("bad-lines");
        std::fs::create_dir_all(&dir).unwrap();
        let good = std::fs::read_to_string(write_jsonl(&dir)).unwrap();
        let mut lines: Vec<&str> = good.lines().collect();
        lines.insert(1, r#"{"id": "cut", "method": "POST", "path": "/v21.0/1065"#);
        lines.insert(3, r#"{"id": "odd", "colour": "blue"}"#);
        lines.insert(4, "");
        let path = dir.join("mixed.jsonl");
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        let (v, out) = replay_json(&path, &["--exit-code"]);
        assert_eq!(out.status.code(), Some(2), "a line was unreadable");
        assert_changes(&v, ["assistant", "upload"]);
        assert_eq!(v["unreadable"], 2, "{v}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let p = path.display();
        assert!(stderr.contains(&format!("{p}:2: ")), "{stderr}");
        assert!(stderr.contains(&format!("{p}:4: ")), "{stderr}");
        assert!(stderr.contains("colour"), "why: {stderr}");
        assert_eq!(stderr.lines().count(), 2, "{stderr}");
        let help = wa_guard(&["replay", "--help"]);
        assert!(String::from_utf8_lossy(&help.stdout).contains("exit status is then 2"));
    }

    #[test]
    fn replay_prints_each_change_and_a_summary() {
        let dir = scratch();
        let (old, _) = policies(&dir);
        let t = write_jsonl(&dir).display().to_string();
        let out = wa_guard(&["replay", "--old", &old, "--new", &old, &t]);
        assert!(out.status.success());
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "replay: 4 requests, 0 changed\n"
        );
        let (_, new) = policies(&dir);
        let out = wa_guard(&["replay", "--old", &old, "--new", &new, &t]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains(&format!(
                "assistant: POST graph.facebook.com{LINE}\n  old: block (rule "
            )),
            "{text}"
        );
        assert!(text.contains("  new: audit (rule "), "{text}");
        assert!(text.contains("1 of 2 records stripped"), "{text}");
        assert!(text.ends_with("replay: 4 requests, 2 changed\n"), "{text}");
        // --timing: microseconds per call for each request and policy, on standard error.
        let out = wa_guard(&["replay", "--timing", "3", "--old", &old, "--new", &new, &t]);
        let timing = String::from_utf8_lossy(&out.stderr);
        assert!(
            timing.starts_with("timing: µs per evaluate call"),
            "{timing}"
        );
        for id in ["support", "assistant", "upload", "other"] {
            assert!(
                timing
                    .lines()
                    .any(|l| l.starts_with(id) && l.ends_with("µs")),
                "{timing}"
            );
        }
        let help = wa_guard(&["replay", "--help"]);
        assert!(String::from_utf8_lossy(&help.stdout).contains("Examples:"));
    }
}
