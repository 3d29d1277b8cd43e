//! Reading logs: which files the arguments name (globs, directories, stdin), their bytes
//! (gzip by its magic bytes), and each line: a decision, a training upload, another program's
//! line (skipped) or a filter line whose JSON is broken (malformed).

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
}

#[derive(Debug)]
pub enum Line {
    Decision(Box<DecisionLine>),
    Training(TrainingLine),
    Skipped,
    Malformed,
}

/// Where lines come from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    Stdin,
    File(PathBuf),
}

/// Reads every source the arguments name into one inventory.
pub fn read_logs(args: &[String]) -> Result<Inventory, Fatal> {
    let mut sources = Vec::new();
    for arg in args {
        for s in expand(arg)? {
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

/// One line: the filter's (after Envoy's prefix, bare, or inside a JSON log record), or not.
pub fn classify(line: &str) -> Line {
    let trimmed = line.trim_start();
    if trimmed.starts_with('{') {
        return classify_json(trimmed);
    }
    if let Some(at) = line.find(DECISION_MARKER) {
        let json = line.get(at + DECISION_MARKER.len()..).unwrap_or_default();
        return parse_json(json)
            .and_then(|v| decision(&v, prefix_time(line)))
            .map_or(Line::Malformed, Line::Decision);
    }
    if let Some(at) = line.find(TRAINING_MARKER) {
        let json = line.get(at + TRAINING_MARKER.len()..).unwrap_or_default();
        return parse_json(json)
            .and_then(|v| training(&v, prefix_time(line)))
            .map_or(Line::Malformed, Line::Training);
    }
    Line::Skipped
}

/// A line that is a JSON object: the filter's own line, or a JSON log record (Envoy's JSON
/// log format, Docker's json-file) whose message may hold the filter's line.
fn classify_json(text: &str) -> Line {
    let Some(v) = parse_json(text) else {
        // A cut-off JSON line: the filter's if it names the filter.
        let ours = [
            DECISION_EVENT,
            TRAINING_EVENT,
            DECISION_MARKER,
            TRAINING_MARKER,
        ]
        .iter()
        .any(|m| text.contains(m));
        return if ours { Line::Malformed } else { Line::Skipped };
    };
    match v.get("event").and_then(Value::as_str) {
        Some(DECISION_EVENT) => decision(&v, None).map_or(Line::Malformed, Line::Decision),
        Some(TRAINING_EVENT) => training(&v, None).map_or(Line::Malformed, Line::Training),
        _ => ["message", "msg", "log"]
            .iter()
            .filter_map(|k| v.get(*k).and_then(Value::as_str))
            .map(|inner| classify(inner.trim_end()))
            .find(|l| !matches!(l, Line::Skipped))
            .unwrap_or(Line::Skipped),
    }
}

/// The first JSON value of the text (anything after it is ignored); `None` when it does not
/// parse, as a cut-off line does not.
fn parse_json(text: &str) -> Option<Value> {
    let mut values = serde_json::Deserializer::from_str(text.trim_start()).into_iter::<Value>();
    values.next()?.ok().filter(Value::is_object)
}

fn prefix_time(line: &str) -> Option<i64> {
    time::parse_envoy_prefix(line.trim_start())
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

fn timestamp(v: &Value, fallback: Option<i64>) -> Option<i64> {
    text(v, "ts")
        .and_then(|t| time::parse_rfc3339(&t))
        .or(fallback)
}

/// 1/sample, for a sample in (0, 1]; 1 when absent or out of range.
fn weight(v: &Value) -> f64 {
    match v.get("sample").and_then(Value::as_f64) {
        Some(s) if s > 0.0 && s <= 1.0 => 1.0 / s,
        _ => 1.0,
    }
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

fn decision(v: &Value, prefix: Option<i64>) -> Option<Box<DecisionLine>> {
    let score = v
        .get("score")
        .and_then(Value::as_f64)
        .filter(|s| s.is_finite());
    Some(Box::new(DecisionLine {
        ts: timestamp(v, prefix),
        policy: text(v, "policy"),
        decision: text(v, "decision")?,
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
        weight: weight(v),
    }))
}

fn training(v: &Value, prefix: Option<i64>) -> Option<TrainingLine> {
    let detectors = match v.get("detectors") {
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, n)| (k.clone(), n.as_u64().unwrap_or(0)))
            .collect(),
        _ => Vec::new(),
    };
    Some(TrainingLine {
        ts: timestamp(v, prefix),
        policy: text(v, "policy"),
        decision: text(v, "decision")?,
        endpoint: text(v, "endpoint").unwrap_or_else(|| "(unnamed)".into()),
        records_seen: count(v, "records_seen"),
        records_stripped: count(v, "records_stripped"),
        bytes_in: count(v, "bytes_in"),
        bytes_out: count(v, "bytes_out"),
        detectors,
        weight: weight(v),
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
        assert!(matches!(classify(cut), Line::Malformed));
        assert!(matches!(classify("random text"), Line::Skipped));
        assert!(matches!(classify(r#"{"level":"info"}"#), Line::Skipped));
        assert!(matches!(
            classify(r#"{"event":"wa_egress_guard.decision","decis"#),
            Line::Malformed
        ));
        let sampled = r#"{"event":"wa_egress_guard.decision","decision":"allow","sample":0.25,"score_bucket":"0.9-1.0"}"#;
        let Line::Decision(d) = classify(sampled) else {
            panic!("not a decision")
        };
        assert_eq!((d.weight, d.bucket), (4.0, Some(9)));
        let docker = format!(
            "{{\"log\":{},\"stream\":\"stderr\"}}",
            serde_json::to_string(envoy).unwrap()
        );
        assert!(matches!(classify(&docker), Line::Decision(_)));
    }
}
