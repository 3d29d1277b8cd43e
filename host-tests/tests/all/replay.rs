//! The `replay` binary, end to end.

use std::path::PathBuf;
use std::process::{Command, Output};

use crate::support::*;

struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("host-tests-replay-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn file(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn requests() -> String {
    let support = format!(
        r#"{{"note":"support bot","path":"/v21.0/{SUPPORT_NUMBER}/messages","properties":{{"connection.uri_san_peer_certificate":"{SUPPORT_BOT}"}},"body":{{"messaging_product":"whatsapp","to":"15550001111","type":"text","text":{{"body":"Your order has shipped."}}}}}}"#
    );
    let lab = format!(
        r#"{{"note":"lab bot","path":"/v21.0/{SUPPORT_NUMBER}/messages","properties":{{"connection.uri_san_peer_certificate":"{LAB_BOT}"}},"body":{{"messaging_product":"whatsapp","to":"15550001111","type":"text","text":{{"body":"Hi"}}}}}}"#
    );
    let other = r#"{"method":"GET","authority":"api.example.com","path":"/v1/things","headers":[["accept","*/*"]]}"#;
    format!("# a comment\n{support}\n\n{lab}\n{other}\n")
}

fn replay(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_replay"))
        .args(args)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn prints_one_verdict_per_request() {
    let scratch = Scratch::new("verdicts");
    let requests = scratch.file("r.jsonl", &requests());
    let policy = workspace_root().join("policies/examples/demo.json");
    let wasm = wasm_path();
    let output = replay(&[
        "--wasm".as_ref(),
        wasm.as_os_str(),
        "--policy".as_ref(),
        policy.as_os_str(),
        "--requests".as_ref(),
        requests.as_os_str(),
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(
        lines[0].starts_with("2\tsupport bot\tallow rule=support-bots reason=allowed"),
        "{stdout}"
    );
    assert!(
        lines[1].contains("block rule=assistant-lab reason=general_assistant_origin status=403"),
        "{stdout}"
    );
    assert!(
        lines[2].contains("GET api.example.com/v1/things\tnone status=200"),
        "{stdout}"
    );
}

#[test]
fn with_an_old_policy_prints_only_the_changes_and_a_summary() {
    let scratch = Scratch::new("diff");
    let requests = scratch.file("r.jsonl", &requests());
    let mut old: serde_json::Value =
        serde_json::from_slice(&policy_bytes("examples/demo.json")).unwrap();
    old["mode"] = "audit".into();
    let old = scratch.file("old.json", &old.to_string());
    let policy = workspace_root().join("policies/examples/demo.json");
    let wasm = wasm_path();
    let output = replay(&[
        "--wasm".as_ref(),
        wasm.as_os_str(),
        "--policy".as_ref(),
        policy.as_os_str(),
        "--requests".as_ref(),
        requests.as_os_str(),
        "--old-policy".as_ref(),
        old.as_os_str(),
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(
        lines[0].starts_with("4\tlab bot\taudit rule=assistant-lab"),
        "{stdout}"
    );
    assert!(
        lines[0].contains(" -> block rule=assistant-lab"),
        "{stdout}"
    );
    assert_eq!(lines[1], "1 of 3 verdicts changed (audit->block: 1)");
}

#[test]
fn usage_and_input_errors_exit_non_zero_with_a_message() {
    let usage = replay(&["--policy".as_ref()]);
    assert_eq!(usage.status.code(), Some(2));
    assert!(text(&usage.stderr).contains("usage: replay"));

    let scratch = Scratch::new("errors");
    let wasm = wasm_path();
    let policy = workspace_root().join("policies/examples/demo.json");
    let missing = scratch.0.join("missing.jsonl");
    let output = replay(&[
        "--wasm".as_ref(),
        wasm.as_os_str(),
        "--policy".as_ref(),
        policy.as_os_str(),
        "--requests".as_ref(),
        missing.as_os_str(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("missing.jsonl"),
        "{}",
        text(&output.stderr)
    );

    let bad = scratch.file("bad.jsonl", "{\"path\":\"/\"}\n{\"pathh\":1}\n");
    let output = replay(&[
        "--wasm".as_ref(),
        wasm.as_os_str(),
        "--policy".as_ref(),
        policy.as_os_str(),
        "--requests".as_ref(),
        bad.as_os_str(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("line 2"),
        "{}",
        text(&output.stderr)
    );

    let broken_policy = scratch.file("policy.json", "{\"mode\": 3}");
    let requests = scratch.file("r.jsonl", &requests());
    let output = replay(&[
        "--wasm".as_ref(),
        wasm.as_os_str(),
        "--policy".as_ref(),
        broken_policy.as_os_str(),
        "--requests".as_ref(),
        requests.as_os_str(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("plugin configuration rejected"),
        "{}",
        text(&output.stderr)
    );
}
