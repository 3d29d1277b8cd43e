//! Reading logs: which files the arguments name (globs, directories, stdin), their bytes
//! (gzip by its magic bytes), and each line: a decision, a training upload, another program's
//! line (skipped) or a filter line that cannot be trusted (malformed, with why).
//!
//! A filter line is accepted only where Envoy puts the filter's message: after Envoy's own
//! prefix and its `wasm log <ids>: ` (`[2026-12-07 03:51:22.123][15][info][wasm] [...] wasm log
//! wa_guard wa_guard_root: wa-egress-guard decision {...}`, or Istio's tab-separated
//! equivalent), as the whole line, or as the whole `log` or `message` string of a JSON log
//! record. A line that is one JSON object is the filter's only when its top-level `event` is.
//! The marker anywhere else (an access log whose User-Agent holds it) is another program's line.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use serde_json::Value;

use super::aggregate::Inventory;
use super::time;
use crate::Fatal;

/// Lines longer than this are not the filter's (its lines are a few hundred bytes): they are
/// read through and skipped, so one huge line cannot exhaust memory.
const MAX_LINE: usize = 1 << 20;

const DECISION_MARKER: &str = "wa-egress-guard decision ";
const TRAINING_MARKER: &str = "wa-egress-guard training ";
const DECISION_EVENT: &str = "wa_egress_guard.decision";
const TRAINING_EVENT: &str = "wa_egress_guard.training_upload";
/// What Envoy writes before a wasm module's message: `wasm log`, the plugin's ids, `: `.
const WASM_LOG: &str = "wasm log";
/// Envoy's prefix before `wasm log` is short; a longer one is not Envoy's.
const MAX_PREFIX: usize = 512;

/// The lowest `sample` the filter writes (`log.allowed_sample_rate`'s minimum).
pub const MIN_SAMPLE: f64 = 0.0001;

/// The decisions of a WhatsApp decision line, and of a training-upload line.
const DECISIONS: &[&str] = &["allow", "block", "audit", "handoff"];
const TRAINING_DECISIONS: &[&str] = &["forward", "strip", "block", "audit", "exclusive"];

/// Why a filter line was not counted (the `malformed_reasons` of the JSON).
pub mod why {
    pub const BROKEN_JSON: &str = "broken_json";
    pub const SUSPECT_SAMPLE: &str = "suspect_sample";
    pub const SUSPECT_SCORE: &str = "suspect_score";
    pub const UNKNOWN_DECISION: &str = "unknown_decision";
    pub const WRONG_EVENT: &str = "wrong_event";
    pub const STRIPPED_MORE_THAN_SEEN: &str = "stripped_more_than_seen";
}

/// One WhatsApp decision line, content-free as the filter writes it. Every field but the
/// decision is optional: older filters write fewer.
#[derive(Debug, Clone, Default)]
pub struct DecisionLine {
    pub ts: Option<i64>,
    pub policy: Option<String>,
    pub decision: String,
    pub rule: String,
    pub reason: String,
    pub role: String,
    pub score: Option<f64>,
    /// 0..=9: the score's tenth (from `score`, else `score_bucket`).
    pub bucket: Option<usize>,
    pub signals: Vec<String>,
    pub identity: Option<String>,
    pub identity_source: Option<String>,
    pub provider: String,
    pub endpoint: Option<String>,
    pub phone_number_id: Option<String>,
    pub message_type: Option<String>,
    pub template_name: Option<String>,
    pub template_category: Option<String>,
    /// 1/sample: how many decisions this line stands for.
    pub weight: f64,
    /// The same line read twice has the same key: (event, request_id, ts) hashed; `None`
    /// without a request id.
    pub key: Option<u64>,
}

/// One training-upload line.
#[derive(Debug, Clone, Default)]
pub struct TrainingLine {
    pub ts: Option<i64>,
    pub policy: Option<String>,
    pub decision: String,
    pub endpoint: String,
    pub records_seen: u64,
    pub records_stripped: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub detectors: Vec<(String, u64)>,
    pub weight: f64,
    pub key: Option<u64>,
}

#[derive(Debug)]
pub enum Line {
    Decision(Box<DecisionLine>),
    Training(TrainingLine),
    Skipped,
    /// A filter line that is not counted, and why (one of [`why`]).
    Malformed(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Decision,
    Training,
}

/// Where lines come from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    Stdin,
    File(PathBuf),
}

/// Reads every source the arguments name into one inventory. A file named twice (by two
/// globs, or as `logs/a.log` and `./logs/a.log`) is read once.
pub fn read_logs(args: &[String]) -> Result<Inventory, Fatal> {
    let mut sources = Vec::new();
    for arg in args {
        for s in expand(arg)? {
            let s = match s {
                Source::File(p) => Source::File(std::fs::canonicalize(&p).unwrap_or(p)),
                Source::Stdin => Source::Stdin,
            };
            if !sources.contains(&s) {
                sources.push(s);
            }
        }
    }
    let mut inventory = Inventory::default();
    for source in &sources {
        let (name, reader): (String, Box<dyn Read>) = match source {
            Source::Stdin => ("standard input".into(), Box::new(std::io::stdin().lock())),
            Source::File(p) => {
                let f = std::fs::File::open(p)
                    .map_err(|e| Fatal(format!("cannot read `{}`: {e}", p.display())))?;
                (p.display().to_string(), Box::new(f))
            }
        };
        if let Err(e) = read_source(reader, &mut inventory) {
            inventory
                .problems
                .push(format!("`{name}`: reading stopped early: {e}"));
        }
    }
    Ok(inventory)
}

/// Every line of one source; gzip (by its magic bytes) is decompressed, concatenated members
/// too (as logrotate and `cat a.gz b.gz` make them).
fn read_source(reader: Box<dyn Read>, inventory: &mut Inventory) -> std::io::Result<()> {
    let mut buffered = BufReader::new(reader);
    let gzip = buffered.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    let mut lines: Box<dyn BufRead> = if gzip {
        Box::new(BufReader::new(MultiGzDecoder::new(buffered)))
    } else {
        Box::new(buffered)
    };
    let mut line = Vec::new();
    while let Some(complete) = next_line(&mut lines, &mut line)? {
        let parsed = if complete {
            classify(&String::from_utf8_lossy(&line))
        } else {
            Line::Skipped
        };
        inventory.add(parsed);
    }
    Ok(())
}

/// The next line into `line` (without its line break). `Some(false)`: the line was longer
/// than [`MAX_LINE`] and only its start was kept. `None` at the end.
fn next_line(reader: &mut dyn BufRead, line: &mut Vec<u8>) -> std::io::Result<Option<bool>> {
    line.clear();
    let mut complete = true;
    let mut any = false;
    loop {
        let chunk = match reader.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            break;
        }
        any = true;
        let (part, used, done) = match chunk.iter().position(|b| *b == b'\n') {
            Some(i) => (
                chunk.get(..i).unwrap_or_default(),
                i.saturating_add(1),
                true,
            ),
            None => (chunk, chunk.len(), false),
        };
        let room = MAX_LINE.saturating_sub(line.len());
        if part.len() > room {
            complete = false;
        }
        line.extend_from_slice(part.get(..part.len().min(room)).unwrap_or_default());
        reader.consume(used);
        if done {
            break;
        }
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(any.then_some(complete))
}

/// One line: the filter's (after Envoy's prefix, alone, or inside a JSON log record), or not.
pub fn classify(line: &str) -> Line {
    let trimmed = line.trim();
    if trimmed.starts_with('{') {
        return classify_json(trimmed, true);
    }
    classify_text(trimmed)
}

/// A text line: the filter's message as the whole line, or after Envoy's `wasm log` prefix.
fn classify_text(line: &str) -> Line {
    for (marker, kind) in [
        (DECISION_MARKER, Kind::Decision),
        (TRAINING_MARKER, Kind::Training),
    ] {
        if let Some(rest) = line.strip_prefix(marker) {
            return payload(kind, rest, None);
        }
    }
    // The first marker of the line: Envoy's prefix has none, so a real line's first marker
    // is the filter's own.
    let found = [
        (DECISION_MARKER, Kind::Decision),
        (TRAINING_MARKER, Kind::Training),
    ]
    .into_iter()
    .filter_map(|(m, k)| line.find(m).map(|at| (at, m, k)))
    .min_by_key(|(at, _, _)| *at);
    let Some((at, marker, kind)) = found else {
        return Line::Skipped;
    };
    let before = line.get(..at).unwrap_or_default();
    if !envoy_wasm_prefix(before) {
        return Line::Skipped;
    }
    let rest = line
        .get(at.saturating_add(marker.len())..)
        .unwrap_or_default();
    payload(kind, rest, prefix_time(line))
}

/// Whether `before` (the text before the marker) is Envoy's prefix of a wasm module's log
/// message: a short run of fields with no quote (an access log quotes what a client sent),
/// naming the `wasm` logger (`[wasm]`, or Istio's `envoy wasm`), then `wasm log`, the plugin's
/// ids (words without spaces, possibly none) and `: `.
fn envoy_wasm_prefix(before: &str) -> bool {
    let Some(head) = before.strip_suffix(": ") else {
        return false;
    };
    let Some(at) = head.rfind(WASM_LOG) else {
        return false;
    };
    let envoy = head.get(..at).unwrap_or_default();
    let ids = head
        .get(at.saturating_add(WASM_LOG.len())..)
        .unwrap_or_default();
    let ids_ok = ids.is_empty()
        || ids.strip_prefix(' ').is_some_and(|list| {
            list.split(' ')
                .all(|id| !id.is_empty() && !id.contains(|c: char| c.is_whitespace() || c == '"'))
        });
    let logger = envoy.contains("[wasm]")
        || envoy
            .split(|c: char| c.is_whitespace())
            .any(|word| word == "wasm");
    ids_ok && logger && envoy.len() <= MAX_PREFIX && !envoy.contains(['"', '\'', '{', '}'])
}

/// A line that is one JSON object: the filter's own line (its top-level `event` is), or a JSON
/// log record (Envoy's JSON log format, Docker's json-file) whose whole `log` or `message`
/// string is the filter's line. `wrapper`: whether it may be such a record.
fn classify_json(text: &str, wrapper: bool) -> Line {
    let Ok(Value::Object(v)) = serde_json::from_str::<Value>(text) else {
        // Cut off, or followed by more: the filter's (malformed) if it names its event.
        let ours = [DECISION_EVENT, TRAINING_EVENT]
            .iter()
            .any(|e| text.contains(&format!("\"event\":\"{e}\"")));
        return if ours {
            Line::Malformed(why::BROKEN_JSON)
        } else {
            Line::Skipped
        };
    };
    let v = Value::Object(v);
    match v.get("event").and_then(Value::as_str) {
        Some(DECISION_EVENT) => checked(Kind::Decision, &v, None),
        Some(TRAINING_EVENT) => checked(Kind::Training, &v, None),
        _ if wrapper => ["log", "message"]
            .iter()
            .filter_map(|k| v.get(*k).and_then(Value::as_str))
            .map(|inner| {
                let inner = inner.trim();
                if inner.starts_with('{') {
                    classify_json(inner, false)
                } else {
                    classify_text(inner)
                }
            })
            .find(|l| !matches!(l, Line::Skipped))
            .unwrap_or(Line::Skipped),
        _ => Line::Skipped,
    }
}

/// The JSON after a marker: exactly one object, nothing after it.
fn payload(kind: Kind, rest: &str, prefix: Option<i64>) -> Line {
    match serde_json::from_str::<Value>(rest.trim()) {
        Ok(v @ Value::Object(_)) => {
            let event = match kind {
                Kind::Decision => DECISION_EVENT,
                Kind::Training => TRAINING_EVENT,
            };
            match v.get("event") {
                None => checked(kind, &v, prefix),
                Some(e) if e.as_str() == Some(event) => checked(kind, &v, prefix),
                Some(_) => Line::Malformed(why::WRONG_EVENT),
            }
        }
        _ => Line::Malformed(why::BROKEN_JSON),
    }
}

fn checked(kind: Kind, v: &Value, prefix: Option<i64>) -> Line {
    match kind {
        Kind::Decision => decision(v, prefix).map_or_else(Line::Malformed, Line::Decision),
        Kind::Training => training(v, prefix).map_or_else(Line::Malformed, Line::Training),
    }
}

/// The time of Envoy's own prefix, when it is plausible.
fn prefix_time(line: &str) -> Option<i64> {
    time::parse_envoy_prefix(line.trim_start()).filter(|t| time::plausible(*t))
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn count(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0)
}

/// The line's `ts`, else Envoy's prefix; a time outside 2000..2100 counts as none.
fn timestamp(v: &Value, fallback: Option<i64>) -> Option<i64> {
    text(v, "ts")
        .and_then(|t| time::parse_rfc3339(&t))
        .or(fallback)
        .filter(|t| time::plausible(*t))
}

/// 1/sample. No `sample` (an older filter's line): 1. A `sample` must be a number in
/// [[`MIN_SAMPLE`], 1], and exactly 1 on a line that is always logged (`always`: blocks,
/// audits, training uploads); anything else is a suspect line, not weighted at all.
fn weight(v: &Value, always: bool) -> Result<f64, &'static str> {
    let Some(sample) = v.get("sample") else {
        return Ok(1.0);
    };
    match sample.as_f64() {
        Some(s) if always && s == 1.0 => Ok(1.0),
        Some(s) if !always && (MIN_SAMPLE..=1.0).contains(&s) => Ok(1.0 / s),
        _ => Err(why::SUSPECT_SAMPLE),
    }
}

/// The same line read twice (a file named twice, a rotated copy): the whole object, hashed
/// (`None` without a request id). Two different decisions never share a key, even with the
/// same request id and time (a caller chooses its `x-request-id`; a sidecar and a gateway log
/// one request each under its own identity source).
fn dedup_key(kind: Kind, v: &Value) -> Option<u64> {
    text(v, "request_id")?;
    let mut h = DefaultHasher::new();
    (kind == Kind::Decision).hash(&mut h);
    // serde_json's objects keep their keys sorted, so one object prints one way.
    v.to_string().hash(&mut h);
    Some(h.finish())
}

/// The tenth of a score: 0.93 -> 9, 1.0 -> 9.
fn tenth(score: f64) -> Option<usize> {
    if !(0.0..=1.0).contains(&score) {
        return None;
    }
    // A value in 0..=10, so the cast is exact.
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "0 <= score * 10 <= 10"
    )]
    let i = (score * 10.0).floor() as usize;
    Some(i.min(9))
}

/// `"0.7-0.8"` -> 7.
fn bucket_label(label: &str) -> Option<usize> {
    let low: f64 = label.split('-').next()?.trim().parse().ok()?;
    tenth(low + 0.05)
}

fn decision(v: &Value, prefix: Option<i64>) -> Result<Box<DecisionLine>, &'static str> {
    let decision = text(v, "decision")
        .filter(|d| DECISIONS.contains(&d.as_str()))
        .ok_or(why::UNKNOWN_DECISION)?;
    let weight = weight(v, decision != "allow")?;
    let score = match v.get("score") {
        None | Some(Value::Null) => None,
        Some(s) => Some(
            s.as_f64()
                .filter(|s| (0.0..=1.0).contains(s))
                .ok_or(why::SUSPECT_SCORE)?,
        ),
    };
    Ok(Box::new(DecisionLine {
        ts: timestamp(v, prefix),
        policy: text(v, "policy"),
        decision,
        rule: text(v, "rule").unwrap_or_else(|| "(none)".into()),
        reason: text(v, "reason").unwrap_or_default(),
        role: text(v, "role").unwrap_or_else(|| "unknown".into()),
        score,
        bucket: score
            .and_then(tenth)
            .or_else(|| text(v, "score_bucket").and_then(|l| bucket_label(&l))),
        signals: v
            .get("signals")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
        identity: text(v, "identity"),
        identity_source: text(v, "identity_source"),
        provider: text(v, "provider").unwrap_or_else(|| "cloud_api".into()),
        endpoint: text(v, "endpoint"),
        phone_number_id: text(v, "phone_number_id"),
        message_type: text(v, "message_type"),
        template_name: text(v, "template_name"),
        template_category: text(v, "template_category"),
        weight,
        key: dedup_key(Kind::Decision, v),
    }))
}

fn training(v: &Value, prefix: Option<i64>) -> Result<TrainingLine, &'static str> {
    let decision = text(v, "decision")
        .filter(|d| TRAINING_DECISIONS.contains(&d.as_str()))
        .ok_or(why::UNKNOWN_DECISION)?;
    let weight = weight(v, true)?;
    let (records_seen, records_stripped) = (count(v, "records_seen"), count(v, "records_stripped"));
    if records_stripped > records_seen {
        return Err(why::STRIPPED_MORE_THAN_SEEN);
    }
    let detectors = match v.get("detectors") {
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, n)| (k.clone(), n.as_u64().unwrap_or(0)))
            .collect(),
        _ => Vec::new(),
    };
    Ok(TrainingLine {
        ts: timestamp(v, prefix),
        policy: text(v, "policy"),
        decision,
        endpoint: text(v, "endpoint").unwrap_or_else(|| "(unnamed)".into()),
        records_seen,
        records_stripped,
        bytes_in: count(v, "bytes_in"),
        bytes_out: count(v, "bytes_out"),
        detectors,
        weight,
        key: dedup_key(Kind::Training, v),
    })
}

// ---------------------------------------------------------------------------------------------
// Which files

fn expand(arg: &str) -> Result<Vec<Source>, Fatal> {
    if arg == "-" {
        return Ok(vec![Source::Stdin]);
    }
    let path = Path::new(arg);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if has_wildcard(&name) {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
            _ => PathBuf::from("."),
        };
        if has_wildcard(&dir.to_string_lossy()) {
            return Err(Fatal(format!(
                "`{arg}`: wildcards are read in the last path component only"
            )));
        }
        let files = files_in(&dir, |n| wildcard_match(&name, n))?;
        if files.is_empty() {
            return Err(Fatal(format!("no file matches `{arg}`")));
        }
        return Ok(files);
    }
    if path.is_dir() {
        return files_in(path, |n| !n.starts_with('.'));
    }
    if !path.exists() {
        return Err(Fatal(format!("cannot read `{arg}`: no such file")));
    }
    Ok(vec![Source::File(path.to_owned())])
}

fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?'])
}

/// The regular files of a directory whose names pass `keep`, sorted.
fn files_in(dir: &Path, keep: impl Fn(&str) -> bool) -> Result<Vec<Source>, Fatal> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Fatal(format!("cannot read `{}`: {e}", dir.display())))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| keep(&e.file_name().to_string_lossy()))
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    Ok(files.into_iter().map(Source::File).collect())
}

/// A shell wildcard: `*` any run of characters, `?` one character; a leading `.` is matched
/// only by a pattern that starts with one, as shells do.
pub fn wildcard_match(pattern: &str, name: &str) -> bool {
    if name.starts_with('.') && !pattern.starts_with('.') {
        return false;
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni) = (0usize, 0usize);
    // Where the last `*` was, and how far into the name it has reached.
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match (p.get(pi), n.get(ni)) {
            (Some('*'), _) => {
                star = Some((pi, ni));
                pi += 1;
            }
            (Some('?'), _) => {
                pi += 1;
                ni += 1;
            }
            (Some(a), Some(b)) if a == b => {
                pi += 1;
                ni += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    pi = sp + 1;
                    ni = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..).unwrap_or_default().iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard_match("*.log", "envoy.log"));
        assert!(wildcard_match("envoy-?.log.gz", "envoy-1.log.gz"));
        assert!(!wildcard_match("envoy-?.log.gz", "envoy-12.log.gz"));
        assert!(wildcard_match("*a*b*", "xxaxxbxx"));
        assert!(!wildcard_match("*a*b", "xxaxxbxxc"));
        assert!(!wildcard_match("*", ".hidden"));
        assert!(wildcard_match("*", ""));
    }

    #[test]
    fn lines() {
        let envoy = r#"[2026-12-07 03:51:22.123][15][info][wasm] [source/extensions/common/wasm/context.cc:1192] wasm log wa_guard wa_guard_root: wa-egress-guard decision {"event":"wa_egress_guard.decision","decision":"audit","rule":"content_classifier","score":0.93,"sample":1}"#;
        let Line::Decision(d) = classify(envoy) else {
            panic!("not a decision")
        };
        assert_eq!((d.decision.as_str(), d.bucket), ("audit", Some(9)));
        assert_eq!(
            d.ts.map(time::format_millis).as_deref(),
            Some("2026-12-07T03:51:22.123Z")
        );
        let cut = envoy.get(..envoy.len() - 10).unwrap();
        assert!(matches!(classify(cut), Line::Malformed(why::BROKEN_JSON)));
        assert!(matches!(classify("random text"), Line::Skipped));
        assert!(matches!(classify(r#"{"level":"info"}"#), Line::Skipped));
        assert!(matches!(
            classify(r#"{"event":"wa_egress_guard.decision","decis"#),
            Line::Malformed(why::BROKEN_JSON)
        ));
        let forged = format!(
            "[2026-12-07T03:51:22.123Z] \"POST /v21.0/1/messages HTTP/1.1\" 200 \"curl {}\"",
            envoy.split_once("wa_guard_root: ").map_or("", |p| p.1)
        );
        assert!(matches!(classify(&forged), Line::Skipped));
        let mid = envoy.replace("wasm log", "wasm log \"x\"");
        assert!(matches!(classify(&mid), Line::Skipped));
        let sampled = r#"{"event":"wa_egress_guard.decision","decision":"allow","sample":0.25,"score_bucket":"0.9-1.0"}"#;
        let Line::Decision(d) = classify(sampled) else {
            panic!("not a decision")
        };
        assert_eq!((d.weight, d.bucket), (4.0, Some(9)));
        // A hand-off is a decision of its own, always logged (sample 1).
        let handoff = r#"{"event":"wa_egress_guard.decision","decision":"handoff","rule":"concierge","sample":1,"handoff_language":"es"}"#;
        let Line::Decision(d) = classify(handoff) else {
            panic!("not a decision")
        };
        assert_eq!((d.decision.as_str(), d.weight), ("handoff", 1.0));
        assert!(matches!(
            classify(&handoff.replace("\"sample\":1", "\"sample\":0.5")),
            Line::Malformed(why::SUSPECT_SAMPLE)
        ));
        assert!(matches!(
            classify(&handoff.replace("handoff\",\"rule", "rewrite\",\"rule")),
            Line::Malformed(why::UNKNOWN_DECISION)
        ));
        let docker = format!(
            "{{\"log\":{},\"stream\":\"stderr\"}}",
            serde_json::to_string(envoy).unwrap()
        );
        assert!(matches!(classify(&docker), Line::Decision(_)));
    }
}
