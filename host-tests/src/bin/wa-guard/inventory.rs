//! `wa-guard inventory`: turns the filter's decision and training log lines, as Envoy writes
//! them, into a map of the WhatsApp flows (who sends, from which numbers, what kinds of
//! messages, how assistant-like), as Markdown, JSON and one self-contained HTML report, and
//! proposes a policy that declares what was observed (`--suggest-policy`).
//!
//! Reading never fails on a bad line: lines are counted as decisions, training uploads,
//! skipped (other content) or malformed (a filter line whose JSON does not parse).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::Value;

use crate::Fatal;
use crate::args::{self, Arg, Args};

mod aggregate;
mod charts;
mod html;
mod json;
mod markdown;
mod read;
mod suggest;
mod time;

use aggregate::{Judgement, ThresholdSource};

/// The classifier's default threshold (`content.threshold`), used when no policy names one.
const DEFAULT_THRESHOLD: f64 = 0.71;

pub const HELP: &str = "\
wa-guard inventory: read the filter's decision log lines (as Envoy writes them) and map the
WhatsApp flows: which identities send, from which phone-number ids, what message types, how
assistant-like their scores are, what would be blocked under enforce, and the training
uploads. Allowed lines sampled by `log.allowed_sample_rate` are weighted by 1/sample.

Usage: wa-guard inventory [--json FILE] [--markdown FILE] [--html FILE] [--policy POLICY]
                          [--suggest-policy BASE.json [--out FILE] [--evidence FILE]] LOGS...

LOGS are files, quoted globs expanded by wa-guard ('logs/*.log', `*` and `?` in the last
path component), directories (every file inside), gzip files (recognised by their first
bytes) or `-` for standard input. Lines that are not the filter's are skipped and counted;
a filter line whose JSON is cut off is counted as malformed.

Outputs (FILE `-` is standard output; with none of the three, Markdown goes to stdout):
  --json FILE         the inventory as JSON, for other tools
  --markdown FILE     a Markdown summary for a ticket or a pull request
  --html FILE         one self-contained HTML report with inline SVG charts (opens offline)
  --policy POLICY     the policy the logs were written under: its content.threshold
                      judges declared service bots' scores (default: BASE's, else the
                      engine's default 0.71, which the output says it assumed)
  --suggest-policy BASE.json
                      write BASE with the observed, undeclared senders declared as origins
                      when their scores support a role: general_assistant with at least 3
                      scored sends, more than half at or above the threshold (weighted and
                      by lines); customer_service, with the message types it sent, with at
                      least 10 weighted scored sends in 3 lines and none at or above the
                      threshold (a service origin is not scored again unless content.roles
                      lists customer_service). Others stay undeclared, listed for review in
                      the evidence. Phone numbers are linked to the origins that use them
                      (a number whose every send was blocked: in the evidence only).
                      Checked by the engine
  --out FILE          where the suggested policy goes (default suggested-policy.json)
  --evidence FILE     the evidence per proposed origin, Markdown
                      (default: the --out file with .evidence.md)

Exit status 0; 1 when the suggested policy does not compile; 2 on a usage error or a log
file that cannot be opened.

Examples:
  wa-guard inventory /var/log/envoy/envoy.log
  wa-guard inventory --html report.html --json inventory.json 'logs/envoy-*.log.gz'
  kubectl logs deploy/egress -c istio-proxy | wa-guard inventory -
  wa-guard inventory --suggest-policy policies/default.json --out proposed.json 'logs/*'";

#[derive(Debug, Default)]
struct InventoryOptions {
    json: Option<String>,
    markdown: Option<String>,
    html: Option<String>,
    policy: Option<String>,
    suggest: Option<String>,
    out: Option<String>,
    evidence: Option<String>,
    logs: Vec<String>,
}

impl InventoryOptions {
    fn parse(words: Vec<String>) -> Result<Self, Fatal> {
        let mut o = Self::default();
        let mut args = Args::new(words);
        while let Some(arg) = args.next() {
            let flag = match arg {
                Arg::Operand(file) => {
                    o.logs.push(file);
                    continue;
                }
                Arg::Flag(flag) => flag,
            };
            let slot = match flag.as_str() {
                "--json" => &mut o.json,
                "--markdown" => &mut o.markdown,
                "--html" => &mut o.html,
                "--policy" => &mut o.policy,
                "--suggest-policy" => &mut o.suggest,
                "--out" => &mut o.out,
                "--evidence" => &mut o.evidence,
                _ => return Err(args::unknown(&flag)),
            };
            *slot = Some(args.value(&flag)?);
        }
        if o.logs.is_empty() {
            return Err(Fatal(
                "inventory needs at least one log file (see --help)".into(),
            ));
        }
        if o.suggest.is_none() && (o.out.is_some() || o.evidence.is_some()) {
            return Err(Fatal(
                "`--out` and `--evidence` go with `--suggest-policy`".into(),
            ));
        }
        Ok(o)
    }
}

pub fn run(component: Option<PathBuf>, args: Vec<String>) -> Result<ExitCode, Fatal> {
    let o = InventoryOptions::parse(args)?;
    let policy = o.policy.as_deref().map(read_policy).transpose()?;
    let base = o.suggest.as_deref().map(read_policy).transpose()?;
    let judgement = Judgement {
        threshold: policy
            .as_ref()
            .or(base.as_ref())
            .map_or(DEFAULT_THRESHOLD, threshold_of),
        source: match (&policy, &base) {
            (Some(_), _) => ThresholdSource::Policy,
            (None, Some(_)) => ThresholdSource::Base,
            (None, None) => ThresholdSource::Default,
        },
    };
    let inventory = read::read_logs(&o.logs)?;
    for problem in &inventory.problems {
        eprintln!("warning: {problem}");
    }
    let mut wrote_any = false;
    if let Some(file) = &o.json {
        let doc = json::document(&inventory, &judgement);
        let text = serde_json::to_string_pretty(&doc)?;
        write_output(file, &format!("{text}\n"))?;
        wrote_any = true;
    }
    if let Some(file) = &o.markdown {
        write_output(file, &markdown::summary(&inventory, &judgement))?;
        wrote_any = true;
    }
    if let Some(file) = &o.html {
        write_output(file, &html::report(&inventory, &judgement))?;
        wrote_any = true;
    }
    if !wrote_any {
        write_output("-", &markdown::summary(&inventory, &judgement))?;
    }
    let (Some(base_file), Some(base)) = (&o.suggest, base) else {
        return Ok(ExitCode::SUCCESS);
    };
    let out = o.out.unwrap_or_else(|| "suggested-policy.json".into());
    let evidence = o.evidence.unwrap_or_else(|| evidence_path(&out));
    let proposal = suggest::propose(&inventory, base, judgement.threshold, base_file);
    let text = format!("{}\n", serde_json::to_string_pretty(&proposal.policy)?);
    write_output(&out, &text)?;
    write_output(&evidence, &proposal.evidence)?;
    eprintln!(
        "inventory: wrote `{out}` ({} origin(s) and {} phone-number rule(s) proposed) and `{evidence}`",
        proposal.origins_added, proposal.numbers_added
    );
    suggest::check(component, &out, &text)
}

/// `report.json` -> `report.evidence.md`.
fn evidence_path(out: &str) -> String {
    let stem = out.strip_suffix(".json").unwrap_or(out);
    format!("{stem}.evidence.md")
}

fn read_policy(file: &str) -> Result<Value, Fatal> {
    let text = crate::read_text(file)?;
    serde_json::from_str(&text).map_err(|e| Fatal(format!("`{file}` is not JSON: {e}")))
}

/// `content.threshold`, or the default when the policy leaves it out.
fn threshold_of(policy: &Value) -> f64 {
    policy
        .pointer("/content/threshold")
        .and_then(Value::as_f64)
        .filter(|t| *t > 0.0 && *t < 1.0)
        .unwrap_or(DEFAULT_THRESHOLD)
}

fn write_output(file: &str, text: &str) -> Result<(), Fatal> {
    if file == "-" {
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())?;
        return Ok(out.flush()?);
    }
    std::fs::write(file, text).map_err(|e| Fatal(format!("cannot write `{file}`: {e}")))
}
