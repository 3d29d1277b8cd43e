//! `wa-guard` and the engine's WASI component: the command line run as a user runs it (the
//! binary this package builds), and the component differential: every policy case decided
//! by the component as by the native engine.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::{Mutex, OnceLock};

use host_tests::component::GuardComponent;
use serde_json::Value;
use wa_egress_guard::cases;

use crate::support::workspace_root;

/// `$WA_GUARD_COMPONENT` (the Makefile exports it) or the default release path.
fn component_path() -> PathBuf {
    std::env::var_os("WA_GUARD_COMPONENT")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(host_tests::component::DEFAULT_COMPONENT_PATH))
}

fn require_component() -> PathBuf {
    let path = component_path();
    assert!(
        path.exists(),
        "`{}` is missing: build it first with `make component`",
        path.display()
    );
    path
}

fn wa_guard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wa-guard"))
        .current_dir(workspace_root())
        .arg("--component")
        .arg(require_component())
        .args(args)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wa-guard-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn files_in(dir: &str) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(workspace_root().join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            p.strip_prefix(workspace_root())
                .unwrap()
                .display()
                .to_string()
        })
        .collect();
    files.sort();
    files
}

#[test]
fn validate_passes_the_shipped_policies() {
    let mut files = files_in("policies");
    // Its placeholder salt is refused until replaced (the test below).
    files.extend(
        files_in("policies/examples")
            .into_iter()
            .filter(|f| !f.ends_with("conversation.json")),
    );
    let args: Vec<&str> = std::iter::once("validate")
        .chain(files.iter().map(String::as_str))
        .collect();
    let out = wa_guard(&args);
    let text = stdout(&out);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("policies/default.json: valid (fingerprint "),
        "{text}"
    );
    assert!(
        text.contains("policies/examples/demo.json: valid"),
        "{text}"
    );
    assert!(
        text.contains("policies/policy.schema.json: skipped"),
        "{text}"
    );
}

/// The conversation example carries a placeholder salt: refused as shipped (enforced
/// conversations need a per-deployment secret), valid once a deployment sets its own.
#[test]
fn validate_refuses_the_conversation_example_until_its_salt_is_set() {
    let example = "policies/examples/conversation.json";
    let out = wa_guard(&["validate", example]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("$.log.recipient_hash_salt"),
        "{}",
        stdout(&out)
    );
    let text = std::fs::read_to_string(workspace_root().join(example))
        .unwrap()
        .replace(
            wa_egress_guard::conversation::SALT_PLACEHOLDER,
            "a-deployment-secret-41f0",
        );
    let path = scratch("conversation-with-salt.json");
    std::fs::write(&path, text).unwrap();
    let out = wa_guard(&["validate", path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stdout(&out));
}

/// A policy with three mistakes: each is printed with its JSON path and its place in the file.
#[test]
fn validate_prints_every_mistake_with_its_path() {
    let mut policy: Value = serde_json::from_slice(
        &std::fs::read(workspace_root().join("policies/examples/demo.json")).unwrap(),
    )
    .unwrap();
    policy["whatsapp"]["hosts"][1] = "graph facebook com".into();
    policy["origins"][0]["message_types"][1] = "templat".into();
    policy["origins"][2]["identities"][0] = serde_json::json!({"regex": "spiffe://(pilot"});
    let path = scratch("three-mistakes.json");
    std::fs::write(&path, serde_json::to_string_pretty(&policy).unwrap()).unwrap();
    let file = path.to_str().unwrap();

    let out = wa_guard(&["validate", file]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert_eq!(
        text.lines().filter(|l| l.starts_with("error: ")).count(),
        3,
        "{text}"
    );
    for (path, line) in [
        ("$.whatsapp.hosts[1]", "invalid host `graph facebook com`"),
        (
            "$.origins[0].message_types[1]",
            "unknown message type `templat`",
        ),
        ("$.origins[2].identities[0]", "regex"),
    ] {
        assert!(
            text.contains(&format!("at `{path}`")),
            "{path} missing in\n{text}"
        );
        assert!(text.contains(line), "{line} missing in\n{text}");
    }
    assert!(
        text.contains(&format!("--> {file}:")),
        "no line:column in\n{text}"
    );
    assert!(text.contains("3 problem(s)"), "{text}");

    let out = wa_guard(&["validate", "--format", "json", file]);
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["valid"], false);
    let problems = report["files"][0]["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 3, "{report}");
    assert!(
        problems.iter().all(|p| p["line"].as_u64().is_some()),
        "{report}"
    );
}

#[test]
fn validate_refuses_what_is_not_json() {
    let path = scratch("not-json.json");
    std::fs::write(&path, "{\"mode\": ").unwrap();
    let out = wa_guard(&["validate", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("at `$`"), "{}", stdout(&out));
}

/// The whole case suite through the component, as CI runs it: every case passes and the
/// summary line counts them all.
#[test]
fn test_runs_the_whole_case_suite() {
    let dir = workspace_root().join("policies/tests");
    let expected: usize = cases::load_dir(&dir)
        .unwrap()
        .iter()
        .map(|f| f.cases.len())
        .sum();
    let out = wa_guard(&["test", "policies/tests"]);
    let text = stdout(&out);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.lines()
            .any(|l| l == format!("test: {expected} passed, 0 failed")),
        "{text}"
    );
}

/// A case that does not hold fails the run, with its note.
#[test]
fn test_fails_on_a_failing_case() {
    let cases = serde_json::json!({
        "policy": {"file": workspace_root().join("policies/examples/demo.json")},
        "cases": [
            {"note": "holds", "request": {"method": "GET", "authority": "example.com", "path": "/"},
             "want": {"decision": "none"}},
            {"note": "does not hold", "request": {"method": "GET", "authority": "example.com", "path": "/"},
             "want": {"decision": "block"}}
        ]
    });
    let path = scratch("failing-cases.json");
    std::fs::write(&path, cases.to_string()).unwrap();
    let out = wa_guard(&["test", path.to_str().unwrap()]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("FAIL") && text.contains("does not hold"),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l == "test: 1 passed, 1 failed"),
        "{text}"
    );
}

fn component() -> std::sync::MutexGuard<'static, GuardComponent> {
    static COMPONENT: OnceLock<Mutex<GuardComponent>> = OnceLock::new();
    COMPONENT
        .get_or_init(|| Mutex::new(GuardComponent::load(require_component()).unwrap()))
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The component differential: every case of `policies/tests` observed the same through the
/// component as natively (decision, rule, reason, records stripped).
#[test]
fn component_decides_every_case_as_the_native_engine() {
    let mut guard = component();
    let mut differences = Vec::new();
    let mut count = 0;
    for file in cases::load_dir(&workspace_root().join("policies/tests")).unwrap() {
        let policy = guard.compile(&file.policy_json).unwrap().unwrap();
        // The cases as written (the component reads them as `wa-guard test` hands them over).
        let doc: Value = serde_json::from_slice(&std::fs::read(&file.path).unwrap()).unwrap();
        let written = doc["cases"].as_array().unwrap();
        assert_eq!(written.len(), file.cases.len());
        for (case, json) in file.cases.iter().zip(written) {
            count += 1;
            let native = cases::run_native(&file.policy, &case.request, &[]).unwrap();
            let got = guard.run_case(policy, &json.to_string()).unwrap().unwrap();
            let same = got.decision == native.decision
                && got.rule == native.rule
                && got.reason == native.reason
                && got.records_stripped == native.records_stripped;
            if !same {
                differences.push(format!(
                    "{}: {}: native {} {:?} {:?}, component {} {:?} {:?}",
                    file.path.display(),
                    case.note,
                    native.decision,
                    native.rule,
                    native.reason,
                    got.decision,
                    got.rule,
                    got.reason
                ));
            }
        }
        guard.drop_policy(policy).unwrap();
    }
    assert!(count > 0);
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}

/// A streamed upload through the component's `upload` resource gives the bytes the whole-body
/// evaluation forwards, in any chunking.
#[test]
fn streamed_upload_forwards_what_the_whole_body_does() {
    use host_tests::component::{Evaluation, RequestHead};
    let mut guard = component();
    let policy_json =
        std::fs::read_to_string(workspace_root().join("policies/default.json")).unwrap();
    let policy = guard.compile(&policy_json).unwrap().unwrap();
    let head = RequestHead {
        method: "POST".into(),
        authority: "api.openai.com".into(),
        path: "/v1/files".into(),
        headers: vec![("content-type".into(), "application/jsonl".into())],
    };
    let body = demo_upload();
    let whole = guard.evaluate(policy, &head, &body, &[], false).unwrap();
    let Evaluation::Upload(outcome) = &whole.evaluation else {
        panic!("not an upload: {:?}", whole.evaluation);
    };
    assert_eq!(outcome.verdict, "strip");
    assert_eq!(outcome.counts.records_stripped, 1);
    let forwarded = whole.forwarded.clone().unwrap();
    assert!(forwarded.len() < body.len());
    for size in [1, 7, 64, body.len()] {
        let upload = guard.start_upload(policy, &head, &[]).unwrap().unwrap();
        let mut streamed = Vec::new();
        for chunk in body.chunks(size) {
            streamed.extend(guard.feed(upload, chunk).unwrap().unwrap());
        }
        streamed.extend(guard.finish(upload).unwrap().unwrap());
        assert_eq!(streamed, forwarded, "chunks of {size}");
        let streamed_outcome = guard.upload_outcome(upload).unwrap().unwrap();
        assert_eq!(&streamed_outcome, outcome);
        guard.drop_upload(upload).unwrap();
    }
    // A WhatsApp send is no upload.
    let send = RequestHead {
        method: "POST".into(),
        authority: "graph.facebook.com".into(),
        path: "/v21.0/1/messages".into(),
        headers: vec![],
    };
    assert!(guard.start_upload(policy, &send, &[]).unwrap().is_none());
    guard.drop_policy(policy).unwrap();
}

fn demo_upload() -> Vec<u8> {
    let record = |question: &str, extra: &str| {
        format!(
            "{{\"messages\": [{{\"role\": \"user\", \"content\": \"{question}\"}}, {{\"role\": \"assistant\", \"content\": \"Glad to check that for you.\"}}]{extra}}}\n"
        )
    };
    [
        record("Can the parcel go to my office instead?", ""),
        record(
            "Has the refund for order 7731 gone through?",
            ", \"metadata\": {\"channel\": \"whatsapp\", \"ticket\": 4410}",
        ),
        record("Do you deliver on Sundays?", ""),
    ]
    .concat()
    .into_bytes()
}

// ---------------------------------------------------------------------------------------------
// explain on the demo's requests (envoy/scripts/demo_run.py): the demo's decisions

const SUPPORT: &str = "spiffe://cluster.local/ns/support/sa/helpdesk";
const ASSISTANT: &str = "spiffe://cluster.local/ns/ai-lab/sa/chatbot";
const PILOT: &str = "spiffe://cluster.local/ns/pilot/sa/bot";
const SUPPORT_LINE: &str = "/v21.0/106540352242922/messages";
const OTHER_LINE: &str = "/v21.0/109876543210987/messages";
const TWILIO_MESSAGES: &str =
    "/2010-04-01/Accounts/ACd3m0d3m0d3m0d3m0d3m0d3m0d3m0d3m0/Messages.json";
const LONG_ANSWER: &str = "Absolutely! As an AI language model, I'd be happy to explain how compound interest works.\n\n**The core idea**\nInterest is paid not only on the money you put in but also on the interest already earned, so growth speeds up over time.\n\n**The formula**\n1. A = P(1 + r/n)^(nt)\n2. P is the principal, r the yearly rate, n the number of compounding periods, t the years.\n\n**An example**\n- 1,000 at 5% compounded monthly for 10 years grows to about 1,647.\n- The same money at simple interest would reach only 1,500.\n\nIn summary, starting early matters more than the rate. I hope this helps! Let me know if you'd like me to build a savings plan, compare loans, or explain anything else.";

fn text_send(body: &str) -> String {
    serde_json::json!({"messaging_product": "whatsapp", "recipient_type": "individual",
        "to": "+16505550147", "type": "text", "text": {"preview_url": false, "body": body}})
    .to_string()
}

/// A raw HTTP/1.1 request as the demo client sends it through Envoy's egress listener.
fn http(
    host: &str,
    path: &str,
    identity: Option<&str>,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Vec<u8> {
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\ncontent-length: {}\r\n",
        body.len()
    );
    // The demo client's headers, each replaced by the request's own.
    for (k, v) in [
        ("content-type", "application/json"),
        ("authorization", "Bearer EAAdemo"),
    ] {
        if !headers.iter().any(|(name, _)| name.eq_ignore_ascii_case(k)) {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    if let Some(id) = identity {
        head.push_str(&format!("x-wa-guard-identity: {id}\r\n"));
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    [head.as_bytes(), body].concat()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let request = cases::CaseRequest {
        body_text: Some(String::from_utf8(bytes.to_vec()).unwrap()),
        encode: Some("gzip".into()),
        ..cases::CaseRequest::default()
    };
    request.body_bytes().unwrap()
}

#[test]
fn explain_gives_the_demo_decisions() {
    let twilio = [
        ("content-type", "application/x-www-form-urlencoded"),
        ("authorization", "Basic QUNkZW1vOmRlbW8="),
    ];
    let twilio_body = |to: &str| {
        format!(
            "To={}&From={}&Body={}",
            urlencode(to),
            urlencode(&to.replace("+16505550147", "+14155550100")),
            urlencode(LONG_ANSWER)
        )
    };
    let template = r#"{"messaging_product":"whatsapp","to":"+16505550147","type":"template","template":{"name":"appointment_reminder","language":{"code":"en_US"},"components":[{"type":"body","parameters":[{"type":"text","text":"Tue 10:30"}]}]}}"#;
    let video = r#"{"messaging_product":"whatsapp","to":"+16505550147","type":"video","video":{"link":"https://cdn.example.com/unboxing.mp4","caption":"How to unbox"}}"#;
    let template_creation = r#"{"name":"daily_answer","category":"MARKETING","language":"en_US","parameter_format":"positional","components":[{"type":"BODY","text":"Here is your daily AI answer: {{1}}"}]}"#;
    let oversize = {
        let mut v: Value = serde_json::from_str(&text_send(&"x".repeat(4000))).unwrap();
        v["padding"] = "y".repeat(70_000).into();
        v.to_string()
    };
    let long = text_send(LONG_ANSWER);
    let requests: Vec<(&str, Vec<u8>, &str, &str)> = vec![
        (
            "support text",
            http(
                "graph.facebook.com",
                SUPPORT_LINE,
                Some(SUPPORT),
                &[],
                text_send("Hi Sam, your order 5521 ships today. Reply HELP for options.")
                    .as_bytes(),
            ),
            "allow",
            "support-bots",
        ),
        (
            "support template",
            http(
                "graph.facebook.com",
                SUPPORT_LINE,
                Some(SUPPORT),
                &[],
                template.as_bytes(),
            ),
            "allow",
            "support-bots",
        ),
        (
            "support video",
            http(
                "graph.facebook.com",
                SUPPORT_LINE,
                Some(SUPPORT),
                &[],
                video.as_bytes(),
            ),
            "block",
            "support-bots",
        ),
        (
            "assistant poem",
            http(
                "graph.facebook.com",
                OTHER_LINE,
                Some(ASSISTANT),
                &[],
                text_send("Sure! Here is a short poem about the sea, as you asked.").as_bytes(),
            ),
            "block",
            "assistant-lab",
        ),
        (
            "assistant template creation",
            http(
                "graph.facebook.com",
                "/v21.0/102290129340398/message_templates",
                Some(ASSISTANT),
                &[],
                template_creation.as_bytes(),
            ),
            "block",
            "assistant-lab",
        ),
        (
            "unknown long answer",
            http("graph.facebook.com", OTHER_LINE, None, &[], long.as_bytes()),
            "block",
            "content_classifier",
        ),
        (
            "unknown long answer, gzip",
            http(
                "graph.facebook.com",
                OTHER_LINE,
                None,
                &[("content-encoding", "gzip")],
                &gzip(long.as_bytes()),
            ),
            "block",
            "content_classifier",
        ),
        (
            "unknown table confirmation",
            http(
                "graph.facebook.com",
                OTHER_LINE,
                None,
                &[],
                text_send("Your table for 2 at 19:30 is confirmed. See you tonight!").as_bytes(),
            ),
            "allow",
            "no_rule",
        ),
        (
            "unknown on the support line",
            http(
                "graph.facebook.com",
                SUPPORT_LINE,
                None,
                &[],
                text_send("Hello from an unregistered service.").as_bytes(),
            ),
            "block",
            "support-line",
        ),
        (
            "audit origin greeting",
            http(
                "graph.facebook.com:443",
                OTHER_LINE,
                Some(PILOT),
                &[],
                text_send("Hi! Ask me anything.").as_bytes(),
            ),
            "audit",
            "pilot",
        ),
        (
            "hand-off origin poem to a Spanish number",
            http(
                "graph.facebook.com",
                OTHER_LINE,
                Some("spiffe://cluster.local/ns/concierge/sa/chatbot"),
                &[],
                text_send("Sure! Here is a short poem about the sea, as you asked.")
                    .replace("+16505550147", "+34612345678")
                    .as_bytes(),
            ),
            "handoff",
            "concierge",
        ),
        (
            "oversize",
            http(
                "graph.facebook.com",
                SUPPORT_LINE,
                Some(SUPPORT),
                &[],
                oversize.as_bytes(),
            ),
            "block",
            "body_limit",
        ),
        (
            "360dialog",
            http(
                "waba-v2.360dialog.io",
                "/messages",
                Some(SUPPORT),
                &[("D360-API-KEY", "demo")],
                text_send("Hi Sam, your order 5521 ships today. Reply HELP for options.")
                    .as_bytes(),
            ),
            "allow",
            "support-bots",
        ),
        (
            "twilio whatsapp",
            http(
                "api.twilio.com",
                TWILIO_MESSAGES,
                None,
                &twilio,
                twilio_body("whatsapp:+16505550147").as_bytes(),
            ),
            "block",
            "content_classifier",
        ),
        (
            "twilio sms",
            http(
                "api.twilio.com",
                TWILIO_MESSAGES,
                None,
                &twilio,
                twilio_body("+16505550147").as_bytes(),
            ),
            "none",
            "",
        ),
        (
            "webhook",
            http(
                "hooks.example.com",
                "/notify",
                None,
                &[],
                serde_json::json!({"text": LONG_ANSWER})
                    .to_string()
                    .as_bytes(),
            ),
            "none",
            "",
        ),
        (
            "training upload",
            http(
                "api.openai.com",
                "/v1/files",
                None,
                &[("content-type", "application/jsonl")],
                &demo_upload(),
            ),
            "strip",
            "openai-files",
        ),
    ];
    let mut mismatches = Vec::new();
    for (name, request, decision, rule) in &requests {
        let path = scratch(&format!("{}.http", name.replace(' ', "-")));
        std::fs::write(&path, request).unwrap();
        let out = wa_guard(&[
            "explain",
            "--format",
            "json",
            "--peer",
            "127.0.0.1:40000",
            "policies/examples/demo.json",
            path.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let got: Value = serde_json::from_str(&stdout(&out)).unwrap();
        let e = &got["evaluation"];
        let got_rule = e["rule"].as_str().unwrap_or_default();
        if e["decision"] != *decision || got_rule != *rule {
            mismatches.push(format!("{name}: want {decision}/{rule}, got {e}"));
        }
        let blocked = *decision == "block";
        assert_eq!(got["status"], if blocked { 403 } else { 200 }, "{name}");
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

/// The text form names the rule, the reason, the score with its signals and the identity
/// source.
#[test]
fn explain_says_why() {
    let path = scratch("assistant.json");
    let request = serde_json::json!({
        "authority": "graph.facebook.com", "path": OTHER_LINE,
        "headers": {"x-wa-guard-identity": ASSISTANT},
        "properties": {"source.address": "127.0.0.1:40000"},
        "body": serde_json::from_str::<Value>(&text_send(LONG_ANSWER)).unwrap(),
    });
    std::fs::write(&path, request.to_string()).unwrap();
    let out = wa_guard(&[
        "explain",
        "policies/examples/demo.json",
        path.to_str().unwrap(),
    ]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("decision  block (rule assistant-lab, reason general_assistant_origin)"),
        "{text}"
    );
    assert!(
        text.contains(&format!("identity  {ASSISTANT} (from header)")),
        "{text}"
    );
    assert!(text.contains("reply     403 "), "{text}");

    // Unknown caller: scored, with named signals.
    let request = serde_json::json!({
        "authority": "graph.facebook.com", "path": OTHER_LINE,
        "body": serde_json::from_str::<Value>(&text_send(LONG_ANSWER)).unwrap(),
    });
    std::fs::write(&path, request.to_string()).unwrap();
    let out = wa_guard(&[
        "explain",
        "policies/examples/demo.json",
        path.to_str().unwrap(),
    ]);
    let text = stdout(&out);
    assert!(
        text.contains("decision  block (rule content_classifier"),
        "{text}"
    );
    assert!(text.contains("score     0."), "{text}");
    assert!(text.contains("signals   "), "{text}");
    assert!(text.contains("identity  none"), "{text}");
}

/// A hand-off's text form shows the message the upstream receives instead of the send.
#[test]
fn explain_shows_the_hand_off_message() {
    let path = scratch("handoff.json");
    let request = serde_json::json!({
        "authority": "graph.facebook.com", "path": OTHER_LINE,
        "headers": {"x-wa-guard-identity": "spiffe://cluster.local/ns/concierge/sa/chatbot",
                    "x-request-id": "0f4e2c1a-9b7d-4e3f-8a21-6c5d4b3a2f10"},
        "properties": {"source.address": "127.0.0.1:40000"},
        "body": serde_json::from_str::<Value>(&text_send(LONG_ANSWER)).unwrap(),
    });
    std::fs::write(&path, request.to_string()).unwrap();
    let out = wa_guard(&[
        "explain",
        "policies/examples/demo.json",
        path.to_str().unwrap(),
    ]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("decision  handoff (rule concierge, reason general_assistant_origin)"),
        "{text}"
    );
    let forwarded = text
        .lines()
        .find_map(|l| l.strip_prefix("forwarded "))
        .unwrap_or_else(|| panic!("{text}"));
    let sent: Value = serde_json::from_str(forwarded).unwrap();
    assert_eq!(sent["interactive"]["type"], "cta_url");
    assert_eq!(
        sent["interactive"]["action"]["parameters"]["url"],
        "https://app.example/assistant?ref=0f4e2c1a-9b7d-4e3f-8a21-6c5d4b3a2f10&lang=en"
    );
    assert!(!text.contains("compound interest"), "{text}");
    // The JSON form carries the same message.
    let out = wa_guard(&[
        "explain",
        "--format",
        "json",
        "policies/examples/demo.json",
        path.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stdout(&out));
    let explained: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(explained["evaluation"]["decision"], "handoff");
    assert_eq!(explained["forwarded"], sent);
}

#[test]
fn help_and_version() {
    let out = Command::new(env!("CARGO_BIN_EXE_wa-guard"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    for command in ["validate", "explain", "test"] {
        let out = Command::new(env!("CARGO_BIN_EXE_wa-guard"))
            .args([command, "--help"])
            .output()
            .unwrap();
        assert!(out.status.success());
        assert!(stdout(&out).contains("Examples:"), "{command}");
    }
    let out = wa_guard(&["--version"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("wa-egress-guard:policy@0.1.0") && text.contains("policy schema version 1"),
        "{text}"
    );
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".into(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// curl's `--trace` (exact) and `--trace-ascii` output as the request: its first request is
/// rebuilt and decided.
#[test]
fn explain_reads_curl_traces() {
    for (trace, decision, rule) in [
        ("curl-trace.txt", "allow", "support-bots"),
        ("curl-trace-ascii.txt", "block", "assistant-lab"),
    ] {
        let path = workspace_root()
            .join("host-tests/tests/all/data")
            .join(trace);
        let out = wa_guard(&[
            "explain",
            "--format",
            "json",
            "--peer",
            "127.0.0.1:40000",
            "policies/examples/demo.json",
            path.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{trace}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let got: Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert_eq!(got["evaluation"]["decision"], decision, "{trace}: {got}");
        assert_eq!(got["evaluation"]["rule"], rule, "{trace}: {got}");
        assert_eq!(got["request"]["authority"], "graph.facebook.com", "{trace}");
    }
}

/// The compiled component is kept in the cache directory and reused: the second run finds
/// the file the first wrote and answers the same; a damaged cache file is compiled over, and
/// `WA_GUARD_CACHE_DIR=off` writes nothing.
#[test]
fn the_compiled_component_is_cached() {
    let dir = scratch("cache");
    let _ = std::fs::remove_dir_all(&dir);
    let run = |cache: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_wa-guard"))
            .current_dir(workspace_root())
            .env("WA_GUARD_CACHE_DIR", cache)
            .arg("--component")
            .arg(require_component())
            .args(["validate", "policies/default.json"])
            .output()
            .unwrap()
    };
    let cached = |dir: &std::path::Path| -> Vec<PathBuf> {
        std::fs::read_dir(dir)
            .map(|d| d.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default()
    };
    let first = run(&dir);
    assert_eq!(first.status.code(), Some(0), "{}", stdout(&first));
    let files = cached(&dir);
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].extension().is_some_and(|x| x == "cwasm"));
    let written = std::fs::metadata(&files[0]).unwrap().modified().unwrap();
    let second = run(&dir);
    assert_eq!(stdout(&second), stdout(&first));
    assert_eq!(
        std::fs::metadata(&files[0]).unwrap().modified().unwrap(),
        written,
        "the second run compiled again instead of loading the cache"
    );
    std::fs::write(&files[0], b"not machine code").unwrap();
    let damaged = run(&dir);
    assert_eq!(stdout(&damaged), stdout(&first));
    assert!(
        std::fs::read(&files[0]).unwrap().len() > 1000,
        "the damaged file was replaced"
    );
    let off = scratch("cache-off");
    let _ = std::fs::remove_dir_all(&off);
    let out = Command::new(env!("CARGO_BIN_EXE_wa-guard"))
        .current_dir(workspace_root())
        .env("WA_GUARD_CACHE_DIR", "off")
        .env("HOME", &off)
        .env_remove("XDG_CACHE_HOME")
        .arg("--component")
        .arg(require_component())
        .args(["validate", "policies/default.json"])
        .output()
        .unwrap();
    assert_eq!(stdout(&out), stdout(&first));
    assert!(cached(&off).is_empty(), "{:?}", cached(&off));
}

/// A closed pipe ends `wa-guard` as it ends `cat` (SIGPIPE), never with a panic (exit 101):
/// `wa-guard inventory LOG | head` is how people read a long report.
#[cfg(unix)]
#[test]
fn a_closed_pipe_ends_wa_guard_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_wa-guard"))
        .current_dir(workspace_root())
        .arg("--help")
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(
        out.status.signal(),
        Some(13),
        "{:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
