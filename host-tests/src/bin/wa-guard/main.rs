//! `wa-guard`: the policy engine on the command line. It hosts the engine's WASI component
//! (`filter/component`) in wasmtime, so every answer comes from the engine that ships.
//!
//! ```text
//! wa-guard validate [--format text|json] POLICY...
//! wa-guard explain [--format text|json] [--peer ADDR] [--attr NAME=VALUE]... POLICY REQUEST
//! wa-guard test [--format text|json] [POLICY] CASES...
//! wa-guard replay [--format text|json] [--exit-code] --old A.json --new B.json TRAFFIC...
//! wa-guard strip [--format jsonl|json|csv|txt|multipart] [--endpoint ID] [--out CLEAN] POLICY FILE
//! wa-guard inventory [--json FILE] [--markdown FILE] [--html FILE] [--suggest-policy BASE] LOGS...
//! ```
//!
//! Exit status: 0 when every policy is valid (every case passes), 1 when one is not (a case
//! fails), 2 on a usage error or when a file or the component cannot be read.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use host_tests::component::{
    Action, Attribute, DEFAULT_COMPONENT_PATH, Decision, Evaluation, GuardComponent, Outcome,
    PolicyHandle, Problem, RequestHead, UploadOutcome, WIT_PACKAGE,
};
use serde_json::{Value, json};
use wa_egress_guard::cases::CaseRequest;

use args::{Arg, Args};

mod args;
mod curl_trace;
mod http;
mod inventory;
mod locate;
mod replay;
mod strip;

const VERSION: &str = env!("CARGO_PKG_VERSION");

const HELP: &str = "\
wa-guard: check wa-egress-guard policies and ask them about requests, with the engine that
runs in Envoy (its WASI component, hosted in wasmtime).

Usage: wa-guard [--component FILE] COMMAND [OPTIONS] ARGS

Commands:
  validate   check policies and print every problem with its JSON path
  explain    decide one request and say why
  test       run policy case files (the format of policies/tests/*.json)
  replay     compare two policies on recorded traffic (JSONL, HAR, Envoy tap, a directory)
  strip      what a training upload would lose from a local file, and the cleaned file
  inventory  map the WhatsApp flows in Envoy's decision logs; suggest a policy

Options:
  --component FILE  the engine component (default: $WA_GUARD_COMPONENT, then
                    wa_egress_guard_component.wasm next to this program, then the
                    workspace's target/wasm32-wasip2/release/)
  -h, --help        this help; `wa-guard COMMAND --help` for a command's
  -V, --version     versions of wa-guard, the engine's WIT world and policy schema

Examples:
  wa-guard validate policies/default.json policies/examples/*.json
  wa-guard explain policies/default.json request.http
  wa-guard replay --old policies/default.json --new my-policy.json traffic.jsonl
  wa-guard strip --out clean.jsonl policies/default.json support.jsonl
  wa-guard test policies/tests/
  wa-guard inventory --html report.html 'logs/envoy-*.log.gz'";

const VALIDATE_HELP: &str = "\
wa-guard validate: check policies; print every problem with its JSON path and place.

Usage: wa-guard validate [--format text|json] POLICY...

Exit status 0 when every policy compiles, 1 when one does not.

Examples:
  wa-guard validate policies/default.json
  wa-guard validate --format json policies/*.json     # for CI: one JSON document";

const EXPLAIN_HELP: &str = "\
wa-guard explain: decide one request with a policy, and say why: the decision, the rule and
reason, the classifier's score with its top signals, and which identity source matched. A
training upload shows what the stripper did, in counts.

Usage: wa-guard explain [--format text|json] [--peer ADDR] [--attr NAME=VALUE]... POLICY REQUEST

REQUEST is a file, or `-` for standard input, holding
  a raw HTTP/1.1 request (request line, headers, blank line, body; chunked bodies are
  decoded),
  curl's `--trace` or `--trace-ascii` output (its first request; `--trace-ascii` prints
  line breaks and non-ASCII bytes of a body as `.`, `--trace` keeps them), or
  a JSON request in the format of the policy cases' \"request\" (and of replay files):
  {\"method\", \"authority\", \"path\", \"headers\": {..} | [[k, v], ..],
  \"properties\": {\"source.address\": \"10.0.0.7:5000\", ..}, \"body\": \"text\" | {json}
  | \"body_text\": \"..\" | \"body_base64\": \"..\", \"encode\": \"gzip\" | \"deflate\"}.

Options:
  --peer ADDR         the caller's address, Envoy's `source.address` (e.g. 127.0.0.1:40000)
  --attr NAME=VALUE   any other attribute by Envoy's name, e.g.
                      --attr connection.uri_san_peer_certificate=spiffe://cluster.local/ns/a/sa/b
  --format json       the decision record as JSON (`forwarded`: a hand-off's message)

Examples:
  wa-guard explain policies/default.json send.http
  curl --trace trace.txt ...; wa-guard explain policies/default.json trace.txt
  wa-guard explain --peer 10.0.0.7:5000 --format json policies/default.json upload.json
  printf 'POST /v21.0/1/messages HTTP/1.1\\r\\nHost: graph.facebook.com\\r\\n\\r\\n{}' |
    wa-guard explain policies/default.json -";

const TEST_HELP: &str = "\
wa-guard test: run policy case files ({description, policy, cases: [{note, request, want}]},
the format of policies/tests/*.json) through the engine component.

Usage: wa-guard test [--format text|json] [POLICY] CASES...

CASES are case files or directories of them (*.json). With POLICY, every case runs against
it instead of the policy its file names. Prints each failure, then one summary line:
`test: N passed, M failed`. Exit status 1 when a case fails.

Examples:
  wa-guard test policies/tests/
  wa-guard test my-policy.json my-cases.json";

/// Lets a closed pipe end the program quietly, as it ends `cat` or `grep`: `wa-guard inventory
/// LOG | head` stops when `head` has read enough. Rust ignores SIGPIPE, so a write to the
/// closed pipe would fail and `println!` would panic instead.
#[cfg(unix)]
fn restore_sigpipe() {
    // SAFETY: called first thing in `main`, before any other thread exists; it only resets
    // one signal's disposition to the system default.
    #[allow(unsafe_code)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

#[cfg(not(unix))]
fn restore_sigpipe() {}

/// A usage or input error: exit status 2.
struct Fatal(String);

impl<E: std::fmt::Display> From<E> for Fatal {
    fn from(e: E) -> Self {
        Fatal(e.to_string())
    }
}

fn main() -> ExitCode {
    restore_sigpipe();
    match run(std::env::args().skip(1).collect()) {
        Ok(code) => code,
        Err(Fatal(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

fn run(mut args: Vec<String>) -> Result<ExitCode, Fatal> {
    let mut component = None;
    if let Some(i) = args.iter().position(|a| a == "--component") {
        if i + 1 >= args.len() {
            return Err(Fatal("`--component` needs a file".into()));
        }
        component = Some(PathBuf::from(args.remove(i + 1)));
        args.remove(i);
    }
    let Some(command) = args.first().cloned() else {
        println!("{HELP}");
        return Ok(ExitCode::from(2));
    };
    let rest: Vec<String> = args.into_iter().skip(1).collect();
    let help = rest.iter().any(|a| a == "-h" || a == "--help");
    match command.as_str() {
        "-h" | "--help" | "help" => {
            println!("{HELP}");
            Ok(ExitCode::SUCCESS)
        }
        "-V" | "--version" => version(component),
        "validate" if help => print_help(VALIDATE_HELP),
        "explain" if help => print_help(EXPLAIN_HELP),
        "test" if help => print_help(TEST_HELP),
        "replay" if help => print_help(replay::HELP),
        "strip" if help => print_help(strip::HELP),
        "inventory" if help => print_help(inventory::HELP),
        "validate" => validate(&mut load(component)?, Options::parse(rest)?),
        "explain" => explain(&mut load(component)?, Options::parse(rest)?),
        "test" => test(&mut load(component)?, Options::parse(rest)?),
        "replay" => replay::run(&mut load(component)?, rest),
        "strip" => strip::run(&mut load(component)?, rest),
        "inventory" => inventory::run(component, rest),
        other => Err(Fatal(format!(
            "unknown command `{other}` (commands: validate, explain, test, replay, strip, inventory; see --help)"
        ))),
    }
}

fn print_help(text: &str) -> Result<ExitCode, Fatal> {
    println!("{text}");
    Ok(ExitCode::SUCCESS)
}

fn version(component: Option<PathBuf>) -> Result<ExitCode, Fatal> {
    let mut guard = load(component)?;
    let schema = guard.policy_schema_version()?;
    println!("wa-guard {VERSION} (engine {WIT_PACKAGE}, policy schema version {schema})");
    Ok(ExitCode::SUCCESS)
}

/// The component: `--component`, `$WA_GUARD_COMPONENT`, next to this program, or the
/// workspace's build output.
fn component_path(explicit: Option<PathBuf>) -> PathBuf {
    const FILE: &str = "wa_egress_guard_component.wasm";
    if let Some(p) = explicit.or_else(|| std::env::var_os("WA_GUARD_COMPONENT").map(PathBuf::from))
    {
        return p;
    }
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join(FILE)));
    match beside {
        Some(p) if p.exists() => p,
        _ => Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(DEFAULT_COMPONENT_PATH),
    }
}

fn load(explicit: Option<PathBuf>) -> Result<GuardComponent, Fatal> {
    let path = component_path(explicit);
    if !path.exists() {
        return Err(Fatal(format!(
            "the engine component `{}` is missing: build it with `make component`, or name it with --component",
            path.display()
        )));
    }
    Ok(GuardComponent::load(&path)?)
}

#[derive(Debug, Default)]
struct Options {
    json: bool,
    attributes: Vec<Attribute>,
    files: Vec<String>,
}

impl Options {
    fn parse(words: Vec<String>) -> Result<Options, Fatal> {
        let mut o = Options::default();
        let mut args = Args::new(words);
        while let Some(arg) = args.next() {
            let flag = match arg {
                Arg::Operand(file) => {
                    o.files.push(file);
                    continue;
                }
                Arg::Flag(flag) => flag,
            };
            match flag.as_str() {
                "--format" => o.json = args::text_or_json(&flag, &args.value(&flag)?)?,
                "--peer" => o.attributes.push(args::peer(args.value(&flag)?)),
                "--attr" => o.attributes.push(args::attribute(&args.value(&flag)?)?),
                _ => return Err(args::unknown(&flag)),
            }
        }
        Ok(o)
    }
}

fn read_bytes(path: &str) -> Result<Vec<u8>, Fatal> {
    if path == "-" {
        let mut b = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut b)?;
        return Ok(b);
    }
    std::fs::read(path).map_err(|e| Fatal(format!("cannot read `{path}`: {e}")))
}

fn read_text(path: &str) -> Result<String, Fatal> {
    if path == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
        return Ok(s);
    }
    std::fs::read_to_string(path).map_err(|e| Fatal(format!("cannot read `{path}`: {e}")))
}

// ---------------------------------------------------------------------------------------------
// validate

fn validate(guard: &mut GuardComponent, o: Options) -> Result<ExitCode, Fatal> {
    if o.files.is_empty() {
        return Err(Fatal(
            "validate needs at least one policy (see --help)".into(),
        ));
    }
    let mut all_valid = true;
    let mut reports = Vec::new();
    for file in &o.files {
        let text = read_text(file)?;
        if is_json_schema(&text) {
            if !o.json {
                println!("{file}: skipped (a JSON Schema, not a policy)");
            }
            reports.push(json!({"file": file, "skipped": "a JSON Schema, not a policy"}));
            continue;
        }
        match guard.compile(&text)? {
            Ok(policy) => {
                let fingerprint = guard.fingerprint(policy)?;
                guard.drop_policy(policy)?;
                if !o.json {
                    println!("{file}: valid (fingerprint {fingerprint})");
                }
                reports.push(json!({"file": file, "valid": true, "fingerprint": fingerprint, "problems": []}));
            }
            Err(problems) => {
                all_valid = false;
                let located: Vec<Value> = problems
                    .iter()
                    .map(|p| {
                        let at = locate::locate(&text, &p.path);
                        if !o.json {
                            print_problem(file, p, at);
                        }
                        json!({"path": p.path, "message": p.message,
                               "line": at.map(|a| a.0), "column": at.map(|a| a.1)})
                    })
                    .collect();
                if !o.json {
                    println!("{file}: {} problem(s)\n", problems.len());
                }
                reports.push(json!({"file": file, "valid": false, "problems": located}));
            }
        }
    }
    if o.json {
        println!("{}", json!({"valid": all_valid, "files": reports}));
    }
    Ok(if all_valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `policies/policy.schema.json` sits beside the policies, so `validate policies/*.json` names it.
fn is_json_schema(text: &str) -> bool {
    serde_json::from_str::<Value>(text).is_ok_and(|v| {
        v.get("$schema")
            .and_then(Value::as_str)
            .is_some_and(|s| s.contains("json-schema.org"))
    })
}

/// rustc's shape: the message, then where.
fn print_problem(file: &str, p: &Problem, at: Option<(usize, usize)>) {
    println!("error: {}", p.message);
    match at {
        Some((line, column)) => println!("  --> {file}:{line}:{column} at `{}`", p.path),
        None => println!("  --> {file} at `{}`", p.path),
    }
}

// ---------------------------------------------------------------------------------------------
// explain

fn explain(guard: &mut GuardComponent, o: Options) -> Result<ExitCode, Fatal> {
    let [policy_file, request_file] = o.files.as_slice() else {
        return Err(Fatal(
            "explain needs POLICY and REQUEST (see --help)".into(),
        ));
    };
    let policy = compile_or_report(guard, policy_file)?;
    let bytes = read_bytes(request_file)?;
    let json = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    let (head, body, mut attributes) = if json {
        std::str::from_utf8(&bytes)
            .map_err(|e| e.to_string())
            .and_then(json_request)
            .map_err(|e| Fatal(format!("`{request_file}`: {e}")))?
    } else {
        let text = String::from_utf8_lossy(&bytes);
        let raw = if curl_trace::is_trace(&text) {
            curl_trace::request_bytes(&text).map_err(|e| Fatal(format!("`{request_file}`: {e}")))?
        } else {
            bytes
        };
        let r = http::parse(&raw).map_err(|e| Fatal(format!("`{request_file}`: {e}")))?;
        (r.head, r.body, Vec::new())
    };
    attributes.extend(o.attributes);
    let outcome = guard.evaluate(policy, &head, &body, &attributes, true)?;
    if o.json {
        println!("{}", outcome_json(&head, &outcome));
    } else {
        print_outcome(&head, &outcome);
    }
    Ok(ExitCode::SUCCESS)
}

fn compile_or_report(guard: &mut GuardComponent, file: &str) -> Result<PolicyHandle, Fatal> {
    let text = read_text(file)?;
    match guard.compile(&text)? {
        Ok(p) => Ok(p),
        Err(problems) => {
            for p in &problems {
                print_problem(file, p, locate::locate(&text, &p.path));
            }
            Err(Fatal(format!(
                "`{file}` is not a valid policy ({} problem(s))",
                problems.len()
            )))
        }
    }
}

/// A request in the one request format (`wa_egress_guard::cases::CaseRequest`, the policy
/// cases' and the replay files'), as the component evaluates it.
fn json_request(text: &str) -> Result<(RequestHead, Vec<u8>, Vec<Attribute>), String> {
    case_request(&CaseRequest::parse(text)?)
}

pub(crate) fn case_request(
    request: &CaseRequest,
) -> Result<(RequestHead, Vec<u8>, Vec<Attribute>), String> {
    let body = request.body_bytes()?;
    let attributes = request
        .properties
        .iter()
        .map(|(k, v)| Attribute {
            name: k.clone(),
            value: v.clone().into_bytes(),
        })
        .collect();
    let head = RequestHead {
        method: request.method.clone(),
        authority: request.authority.clone(),
        path: request.path.clone(),
        headers: request.effective_headers(),
    };
    Ok((head, body, attributes))
}

fn action(a: Action) -> &'static str {
    match a {
        Action::Allow => "allow",
        Action::Block => "block",
        Action::Audit => "audit",
        Action::Handoff => "handoff",
    }
}

fn print_outcome(head: &RequestHead, o: &Outcome) {
    println!("request   {} {}{}", head.method, head.authority, head.path);
    match &o.evaluation {
        Evaluation::Ungoverned => {
            println!("decision  none: not a request this policy governs (forwarded untouched)")
        }
        Evaluation::Whatsapp(d) => {
            print_decision(d);
            // A hand-off forwards the policy's message instead of the send: show it.
            if let (Action::Handoff, Some(body)) = (&d.action, &o.forwarded) {
                println!("forwarded {}", String::from_utf8_lossy(body));
            }
        }
        Evaluation::Upload(u) => print_upload(u),
    }
    if let Some(r) = &o.reply {
        println!(
            "reply     {} {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        );
    }
    if let Some(line) = &o.log_line {
        println!("log       {line}");
    }
}

fn print_decision(d: &Decision) {
    println!(
        "decision  {} (rule {}, reason {})",
        action(d.action),
        d.rule,
        d.reason
    );
    println!("role      {}", d.role);
    match &d.identity {
        Some(i) => println!("identity  {} (from {})", i.value, i.source),
        None => println!("identity  none: no identity source knew the caller"),
    }
    match d.score {
        Some(s) => println!("score     {s:.3} (blocks at {:.2})", d.threshold),
        None => println!("score     not scored"),
    }
    if !d.signals.is_empty() {
        println!("signals   {}", d.signals.join(", "));
    }
    let kind = d.message_type.as_deref().unwrap_or("-");
    println!("call      {} {} (message type {kind})", d.provider, d.edge);
}

fn print_upload(u: &UploadOutcome) {
    let problem = u
        .problem
        .as_deref()
        .map(|p| format!(", {p}"))
        .unwrap_or_default();
    println!(
        "decision  {} (training endpoint {}{problem})",
        u.verdict, u.endpoint
    );
    let c = &u.counts;
    println!(
        "records   {} seen, {} stripped",
        c.records_seen, c.records_stripped
    );
    for (detector, n) in &c.detectors {
        println!("detector  {detector}: {n}");
    }
    println!("bytes     {} in, {} out", c.bytes_in, c.bytes_out);
}

fn outcome_json(head: &RequestHead, o: &Outcome) -> Value {
    let evaluation = match &o.evaluation {
        Evaluation::Ungoverned => json!({"kind": "ungoverned", "decision": "none"}),
        Evaluation::Whatsapp(d) => json!({
            "kind": "whatsapp",
            "decision": action(d.action),
            "rule": d.rule,
            "reason": d.reason,
            "role": d.role,
            "score": d.score,
            "threshold": d.threshold,
            "signals": d.signals,
            "identity": d.identity.as_ref().map(|i| i.value.as_str()),
            "identity_source": d.identity.as_ref().map(|i| i.source.as_str()),
            "provider": d.provider,
            "edge": d.edge,
            "message_type": d.message_type,
        }),
        Evaluation::Upload(u) => json!({
            "kind": "upload",
            "decision": u.verdict,
            "rule": u.endpoint,
            "reason": u.problem,
            "records_seen": u.counts.records_seen,
            "records_stripped": u.counts.records_stripped,
            "detectors": u.counts.detectors.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
            "bytes_in": u.counts.bytes_in,
            "bytes_out": u.counts.bytes_out,
        }),
    };
    // A hand-off's message, as the upstream receives it in place of the send.
    let forwarded = match (&o.evaluation, &o.forwarded) {
        (Evaluation::Whatsapp(d), Some(body)) if matches!(d.action, Action::Handoff) => {
            serde_json::from_slice::<Value>(body).ok()
        }
        _ => None,
    };
    json!({
        "request": {"method": head.method, "authority": head.authority, "path": head.path},
        "evaluation": evaluation,
        "forwarded": forwarded,
        "status": o.reply.as_ref().map_or(200, |r| r.status),
        "reply": o.reply.as_ref().map(|r| String::from_utf8_lossy(&r.body).into_owned()),
        "log": o.log_line.as_deref().and_then(|l| serde_json::from_str::<Value>(l).ok()),
    })
}

// ---------------------------------------------------------------------------------------------
// test

fn test(guard: &mut GuardComponent, o: Options) -> Result<ExitCode, Fatal> {
    let mut files = o.files.clone();
    if files.is_empty() {
        return Err(Fatal("test needs case files (see --help)".into()));
    }
    // A first file that is not a case file is the policy every case runs against.
    let first = files.remove(0);
    let shared_policy = if Path::new(&first).is_file() && !is_case_file(&first)? {
        Some(first)
    } else {
        files.insert(0, first);
        None
    };
    let mut case_files = Vec::new();
    for f in &files {
        case_files.extend(expand(f)?);
    }
    if case_files.is_empty() {
        return Err(Fatal("no case files found".into()));
    }
    let (mut passed, mut failed) = (0usize, 0usize);
    let mut failures = Vec::new();
    for file in &case_files {
        let doc: Value = serde_json::from_str(&read_text(&file.display().to_string())?)
            .map_err(|e| Fatal(format!("`{}`: {e}", file.display())))?;
        let policy_text = match &shared_policy {
            Some(p) => read_text(p)?,
            None => case_policy(file, &doc)?,
        };
        let policy = match guard.compile(&policy_text)? {
            Ok(p) => p,
            Err(problems) => {
                let list: Vec<String> = problems
                    .iter()
                    .map(|p| format!("`{}`: {}", p.path, p.message))
                    .collect();
                return Err(Fatal(format!(
                    "`{}`: invalid policy: {}",
                    file.display(),
                    list.join("; ")
                )));
            }
        };
        let cases = doc
            .get("cases")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for case in &cases {
            let note = case
                .get("note")
                .and_then(Value::as_str)
                .unwrap_or("(no note)");
            match guard.run_case(policy, &case.to_string())? {
                Ok(r) if r.failure.is_none() => passed += 1,
                Ok(r) => {
                    failed += 1;
                    let why = r.failure.unwrap_or_default();
                    failures.push(
                        json!({"file": file.display().to_string(), "note": note, "failure": why}),
                    );
                    if !o.json {
                        println!("FAIL {}: {note}\n  {why}", file.display());
                    }
                }
                Err(e) => return Err(Fatal(format!("`{}`: case `{note}`: {e}", file.display()))),
            }
        }
        guard.drop_policy(policy)?;
    }
    if o.json {
        println!(
            "{}",
            json!({"passed": passed, "failed": failed, "files": case_files.len(), "failures": failures})
        );
    }
    // The line CI runners read.
    println!("test: {passed} passed, {failed} failed");
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn is_case_file(path: &str) -> Result<bool, Fatal> {
    let doc: Value =
        serde_json::from_str(&read_text(path)?).map_err(|e| Fatal(format!("`{path}`: {e}")))?;
    Ok(doc.get("cases").is_some_and(Value::is_array))
}

/// A case file, or the `*.json` files of a directory (sorted).
fn expand(arg: &str) -> Result<Vec<PathBuf>, Fatal> {
    let path = Path::new(arg);
    if !path.is_dir() {
        return Ok(vec![path.to_owned()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|e| Fatal(format!("cannot read `{arg}`: {e}")))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    Ok(files)
}

/// The policy a case file names: `{"inline": {..}}`, or `{"file": "..", "patch": {..}}` relative
/// to the case file with an RFC 7386 merge patch.
fn case_policy(file: &Path, doc: &Value) -> Result<String, Fatal> {
    let at = |m: &str| Fatal(format!("`{}`: {m}", file.display()));
    let policy = doc.get("policy").ok_or_else(|| at("no `policy`"))?;
    if let Some(inline) = policy.get("inline") {
        return Ok(inline.to_string());
    }
    let name = policy
        .get("file")
        .and_then(Value::as_str)
        .ok_or_else(|| at("`policy` names no `file` or `inline`"))?;
    let base = file.parent().unwrap_or(Path::new(".")).join(name);
    let text = read_text(&base.display().to_string())?;
    let mut value: Value =
        serde_json::from_str(&text).map_err(|e| Fatal(format!("`{}`: {e}", base.display())))?;
    if let Some(patch) = policy.get("patch") {
        merge_patch(&mut value, patch);
    }
    // Serialised as the native runner serialises it (the fingerprint hashes these bytes).
    Ok(value.to_string())
}

fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(serde_json::Map::new());
    }
    if let Value::Object(t) = target {
        for (k, v) in p {
            if v.is_null() {
                t.remove(k);
            } else {
                merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}
