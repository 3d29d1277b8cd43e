//! `replay`: run recorded requests through the built filter with a policy, and show each
//! verdict, or with `--old-policy` only the verdicts that change between two policies.
//!
//! ```text
//! replay --wasm W --policy P.json --requests R.jsonl [--old-policy OLD.json] [--json]
//! ```
//!
//! Each line of R.jsonl is one request in the one request format of the policy cases
//! (`wa_egress_guard::cases::CaseRequest`); blank lines and lines starting with `#` are skipped.
//! Exit status: 0 when every request ran, 1 on an I/O, policy or request error (with a message
//! naming the file and line), 2 on a usage error.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use host_tests::{Filter, HostError, HostOptions, HttpRequest, Verdict, WasmModule};
use wa_egress_guard::cases::CaseRequest;

const USAGE: &str = "usage: replay --wasm FILE --policy POLICY.json --requests REQUESTS.jsonl [--old-policy OLD.json] [--json]";

struct Args {
    wasm: PathBuf,
    policy: PathBuf,
    requests: PathBuf,
    old_policy: Option<PathBuf>,
    json: bool,
}

fn parse_args(mut raw: impl Iterator<Item = String>) -> Result<Args, String> {
    let (mut wasm, mut policy, mut requests, mut old_policy, mut json) =
        (None, None, None, None, false);
    while let Some(flag) = raw.next() {
        let mut value = |name: &str| raw.next().ok_or(format!("`{name}` needs a value"));
        match flag.as_str() {
            "--wasm" => wasm = Some(PathBuf::from(value("--wasm")?)),
            "--policy" => policy = Some(PathBuf::from(value("--policy")?)),
            "--requests" => requests = Some(PathBuf::from(value("--requests")?)),
            "--old-policy" => old_policy = Some(PathBuf::from(value("--old-policy")?)),
            "--json" => json = true,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(Args {
        wasm: wasm.ok_or("`--wasm` is required")?,
        policy: policy.ok_or("`--policy` is required")?,
        requests: requests.ok_or("`--requests` is required")?,
        old_policy,
        json,
    })
}

/// One VM configured with one policy; reloaded after a trap, as Envoy's FAIL_RELOAD does.
struct Replayer<'m> {
    module: &'m WasmModule,
    policy: Vec<u8>,
    filter: Filter,
}

impl<'m> Replayer<'m> {
    fn new(module: &'m WasmModule, policy_path: &PathBuf) -> Result<Replayer<'m>, String> {
        let policy = std::fs::read(policy_path)
            .map_err(|e| format!("cannot read `{}`: {e}", policy_path.display()))?;
        let filter =
            configured(module, &policy).map_err(|e| format!("`{}`: {e}", policy_path.display()))?;
        Ok(Replayer {
            module,
            policy,
            filter,
        })
    }

    /// The verdict, or the trap message when the filter failed on this request.
    fn verdict(&mut self, spec: &CaseRequest) -> Result<Result<Verdict, String>, String> {
        let request = HttpRequest::try_from(spec)?;
        match self.filter.send(&request) {
            Ok(outcome) => Ok(Ok(Verdict::from_outcome(&outcome))),
            Err(error @ (HostError::Trap(_) | HostError::VmFailed(_))) => {
                self.filter = configured(self.module, &self.policy).map_err(|e| e.to_string())?;
                Ok(Err(error.to_string()))
            }
            Err(error) => Err(error.to_string()),
        }
    }
}

fn configured(module: &WasmModule, policy: &[u8]) -> Result<Filter, HostError> {
    Filter::start(module, HostOptions::default())?.configure(policy)
}

fn label(verdict: &Result<Verdict, String>) -> String {
    match verdict {
        Ok(v) => v.to_string(),
        Err(trap) => format!("error ({trap})"),
    }
}

fn short(verdict: &Result<Verdict, String>) -> String {
    match verdict {
        Ok(v) => v.decision.clone(),
        Err(_) => "error".into(),
    }
}

fn json_verdict(verdict: &Result<Verdict, String>) -> serde_json::Value {
    match verdict {
        Ok(v) => serde_json::json!({
            "decision": v.decision, "rule": v.rule, "reason": v.reason,
            "status": v.status, "records_stripped": v.records_stripped,
        }),
        Err(trap) => serde_json::json!({"decision": "error", "error": trap}),
    }
}

fn run(args: &Args) -> Result<(), String> {
    let module = WasmModule::from_file(&args.wasm).map_err(|e| e.to_string())?;
    let mut new = Replayer::new(&module, &args.policy)?;
    let mut old = match &args.old_policy {
        Some(path) => Some(Replayer::new(&module, path)?),
        None => None,
    };
    let text = std::fs::read_to_string(&args.requests)
        .map_err(|e| format!("cannot read `{}`: {e}", args.requests.display()))?;
    let mut changes: BTreeMap<(String, String), usize> = BTreeMap::new();
    let (mut total, mut changed) = (0usize, 0usize);
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let at = |e: String| format!("`{}` line {number}: {e}", args.requests.display());
        let spec = CaseRequest::parse(line).map_err(at)?;
        total += 1;
        let verdict = new.verdict(&spec).map_err(at)?;
        let Some(old) = old.as_mut() else {
            if args.json {
                let out = serde_json::json!({
                    "line": number, "request": spec.label(), "verdict": json_verdict(&verdict),
                });
                println!("{out}");
            } else {
                println!("{number}\t{}\t{}", spec.label(), label(&verdict));
            }
            continue;
        };
        let before = old.verdict(&spec).map_err(at)?;
        if before == verdict {
            continue;
        }
        changed += 1;
        *changes
            .entry((short(&before), short(&verdict)))
            .or_insert(0) += 1;
        if args.json {
            let out = serde_json::json!({
                "line": number, "request": spec.label(),
                "old": json_verdict(&before), "new": json_verdict(&verdict),
            });
            println!("{out}");
        } else {
            println!(
                "{number}\t{}\t{} -> {}",
                spec.label(),
                label(&before),
                label(&verdict)
            );
        }
    }
    if old.is_some() {
        let summary: Vec<String> = changes
            .iter()
            .map(|((a, b), n)| format!("{a}->{b}: {n}"))
            .collect();
        let detail = if summary.is_empty() {
            String::new()
        } else {
            format!(" ({})", summary.join(", "))
        };
        let line = format!("{changed} of {total} verdicts changed{detail}");
        if args.json {
            let counts: serde_json::Map<String, serde_json::Value> = changes
                .iter()
                .map(|((a, b), n)| (format!("{a}->{b}"), (*n).into()))
                .collect();
            println!(
                "{}",
                serde_json::json!({"summary": {"total": total, "changed": changed, "changes": counts}})
            );
        } else {
            println!("{line}");
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            if message.is_empty() {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            eprintln!("replay: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("replay: {message}");
            ExitCode::from(1)
        }
    }
}
