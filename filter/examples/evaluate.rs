//! Measures the content classifier on labelled JSONL files.
//!
//! Each line is either a corpus record (`{"label", "lang", "message": <send body>}`) or a plain
//! text record (`{"label", "lang", "text"}`, wrapped as a `type: text` send). Optional fields
//! `source`, `author`, `domain` and `kind` group the figures. Every message is sent from an
//! unknown identity through the full request flow of a policy (default
//! `policies/default.json`), and blocks are counted per label and per language, length band
//! (< 80, < 300, < 1000, ≥ 1000 characters), message type, kind, source and service domain.
//! The last lines give the recall reached at 1% false blocks, from the probabilities.
//!
//! `cargo run -p wa-egress-guard --release --example evaluate -- [--policy P] [--model M]
//!  [--misses] [--only lang,band,type,kind,source,domain] [--where FIELD=VALUE | FIELD!=VALUE]
//!  FILES...`

use serde_json::{Value, json};
use std::collections::BTreeMap;
use wa_egress_guard::cases::{CaseRequest, run_native};
use wa_egress_guard::classify::model::Model;
use wa_egress_guard::policy::Policy;
use wa_egress_guard::whatsapp;

/// A text's groups (`(dimension, value)`), whether it is an assistant's, and its probability.
type Grouped<'a> = (Vec<(&'a str, String)>, bool, f64);

#[derive(Default, Clone, Copy)]
struct Tally {
    total: u32,
    blocked: u32,
}

fn band(chars: usize) -> &'static str {
    match chars {
        0..80 => "<80",
        80..300 => "<300",
        300..1000 => "<1000",
        _ => ">=1000",
    }
}

fn take_flag(args: &mut Vec<String>, name: &str) -> Option<String> {
    let i = args.iter().position(|a| a == name)?;
    let v = args.get(i + 1).cloned();
    args.drain(i..(i + 2).min(args.len()));
    v
}

fn field(rec: &Value, name: &str) -> String {
    rec.get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or("-")
        .to_owned()
}

fn main() -> Result<(), String> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let policy_path =
        take_flag(&mut args, "--policy").unwrap_or_else(|| "policies/default.json".to_owned());
    let model_path = take_flag(&mut args, "--model");
    let only = take_flag(&mut args, "--only");
    let filter = take_flag(&mut args, "--where");
    let show_misses = args.iter().any(|a| a == "--misses");
    args.retain(|a| a != "--misses");
    if args.is_empty() {
        return Err("usage: evaluate [--policy P] [--model M] [--misses] FILES...".into());
    }
    let policy_text = std::fs::read(&policy_path).map_err(|e| format!("{policy_path}: {e}"))?;
    let mut policy = Policy::from_json(&policy_text).map_err(|e| e.to_string())?;
    if let Some(path) = &model_path {
        let bytes: &'static [u8] = std::fs::read(path)
            .map_err(|e| format!("{path}: {e}"))?
            .leak();
        let model: &'static Model = Box::leak(Box::new(
            Model::parse(bytes).map_err(|e| format!("{path}: {e}"))?,
        ));
        policy.content.classifier = policy.content.classifier.with_model(model);
    }
    let dims = ["lang", "band", "type", "kind", "source", "domain"];
    let wanted: Vec<&str> = match &only {
        Some(list) => list.split(',').collect(),
        None => dims.to_vec(),
    };

    let mut tables: BTreeMap<(&str, String, String), Tally> = BTreeMap::new();
    let mut probabilities: Vec<(bool, f64)> = Vec::new();
    // Each text's groups, for the figures at the 1%-false-block threshold.
    let mut grouped: Vec<Grouped> = Vec::new();
    for file in &args {
        let text = std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))?;
        for (n, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let rec: Value =
                serde_json::from_str(line).map_err(|e| format!("{file}:{}: {e}", n + 1))?;
            if let Some(f) = &filter {
                let keep = match f.split_once("!=") {
                    Some((k, v)) => field(&rec, k) != v,
                    None => f.split_once('=').is_some_and(|(k, v)| field(&rec, k) == v),
                };
                if !keep {
                    continue;
                }
            }
            let label = field(&rec, "label");
            let mut message = match (rec.get("message"), rec.get("text")) {
                (Some(m), _) => m.clone(),
                (None, Some(t)) => json!({"type": "text", "text": {"body": t}}),
                _ => return Err(format!("{file}:{}: no `message` or `text`", n + 1)),
            };
            if let Some(obj) = message.as_object_mut() {
                obj.insert("messaging_product".into(), json!("whatsapp"));
                obj.insert("recipient_type".into(), json!("individual"));
                obj.insert("to".into(), json!("15550100000"));
            }
            let view = whatsapp::read_message(&message);
            let chars = view.visible_text().chars().count();
            let req = CaseRequest {
                method: "POST".into(),
                authority: "graph.facebook.com".into(),
                path: "/v21.0/100000000000001/messages".into(),
                body: Some(message),
                ..CaseRequest::default()
            };
            let got = run_native(&policy, &req, &[])?;
            let blocked = got.decision == "block";
            let mut score = policy.content.classifier.score_texts(&view.texts);
            if show_misses {
                policy.content.classifier.explain(&view.texts, &mut score);
            }
            let assistant = label == "general_assistant";
            probabilities.push((assistant, score.probability));
            let keys = [
                ("lang", field(&rec, "lang")),
                ("band", band(chars).to_owned()),
                ("type", view.message_type.clone()),
                ("kind", field(&rec, "kind")),
                ("source", {
                    let (s, a) = (field(&rec, "source"), field(&rec, "author"));
                    if a == "-" { s } else { format!("{s}/{a}") }
                }),
                ("domain", field(&rec, "domain")),
                ("all", "*".to_owned()),
            ];
            for (dim, key) in &keys {
                let t = tables.entry((dim, key.clone(), label.clone())).or_default();
                t.total += 1;
                t.blocked += u32::from(blocked);
            }
            grouped.push((keys.to_vec(), assistant, score.probability));
            if show_misses && blocked != assistant {
                println!(
                    "MISS {label} blocked={blocked} p={:.3} chars={chars} {:?} {}",
                    score.probability,
                    score.signals,
                    field(&rec, "id")
                );
            }
        }
    }
    println!(
        "{:<8} {:<28} {:<18} {:>6} {:>8} {:>7}",
        "by", "value", "label", "n", "blocked", "rate"
    );
    for ((dim, key, label), t) in &tables {
        if *dim != "all" && !wanted.contains(dim) {
            continue;
        }
        let rate = f64::from(t.blocked) / f64::from(t.total.max(1)) * 100.0;
        println!(
            "{dim:<8} {key:<28} {label:<18} {:>6} {:>8} {rate:>6.1}%",
            t.total, t.blocked
        );
    }
    for ((dim, _, label), t) in &tables {
        if *dim == "all" {
            let rate = f64::from(t.blocked) / f64::from(t.total.max(1)) * 100.0;
            let what = if label == "general_assistant" {
                "recall"
            } else {
                "false-block rate"
            };
            println!(
                "OVERALL {label}: {what} {rate:.1}% ({}/{}) at threshold {}",
                t.blocked, t.total, policy.content.classifier.threshold
            );
        }
    }
    let rate = |assistant: bool, t: f64| {
        let all: Vec<f64> = probabilities
            .iter()
            .filter(|p| p.0 == assistant)
            .map(|p| p.1)
            .collect();
        all.iter().filter(|p| **p >= t).count() as f64 / all.len().max(1) as f64 * 100.0
    };
    for t in [0.5, 0.6, 0.65, 0.7, 0.71, 0.75, 0.8, 0.9] {
        println!(
            "AT THRESHOLD {t:.2}: recall {:.1}%, false blocks {:.1}%",
            rate(true, t),
            rate(false, t)
        );
    }
    if let Some((threshold, recall)) = recall_at_false_blocks(&probabilities, 0.01) {
        at_threshold(&grouped, &wanted, threshold);
        println!("AT 1% FALSE BLOCKS: threshold {threshold:.3}, recall {recall:.3}");
    }
    Ok(())
}

/// Recall and false blocks per group at one threshold (the overall 1%-false-block one): a
/// group's figures at the threshold a policy would ship.
fn at_threshold(grouped: &[Grouped], wanted: &[&str], t: f64) {
    let mut by: BTreeMap<(&str, &str), (u32, u32, u32, u32)> = BTreeMap::new();
    for (keys, assistant, p) in grouped {
        for (dim, key) in keys {
            if !wanted.contains(dim) {
                continue;
            }
            let e = by.entry((dim, key.as_str())).or_default();
            let hit = u32::from(*p >= t);
            if *assistant {
                e.0 += 1;
                e.1 += hit;
            } else {
                e.2 += 1;
                e.3 += hit;
            }
        }
    }
    println!("at the 1%-false-block threshold {t:.3}:");
    println!(
        "{:<8} {:<28} {:>6} {:>7} {:>6} {:>7}",
        "by", "value", "asst", "recall", "svc", "fblocks"
    );
    let pct = |a: u32, n: u32| {
        if n == 0 {
            "-".to_owned()
        } else {
            format!("{:.1}%", f64::from(a) / f64::from(n) * 100.0)
        }
    };
    for ((dim, key), (na, ba, ns, bs)) in by {
        println!(
            "{dim:<8} {key:<28} {na:>6} {:>7} {ns:>6} {:>7}",
            pct(ba, na),
            pct(bs, ns)
        );
    }
}

/// The lowest threshold whose false-block rate is at most `rate`, and the recall there.
fn recall_at_false_blocks(probs: &[(bool, f64)], rate: f64) -> Option<(f64, f64)> {
    let service: Vec<f64> = probs.iter().filter(|p| !p.0).map(|p| p.1).collect();
    let assistant: Vec<f64> = probs.iter().filter(|p| p.0).map(|p| p.1).collect();
    if service.is_empty() || assistant.is_empty() {
        return None;
    }
    let mut sorted = service.clone();
    sorted.sort_by(|a, b| b.total_cmp(a));
    let allowed = (rate * sorted.len() as f64).floor() as usize;
    // Block at p >= t: t just above the (allowed+1)-th highest service probability.
    let t = sorted.get(allowed).map_or(0.0, |p| p + 1e-9);
    let recall = assistant.iter().filter(|p| **p >= t).count() as f64 / assistant.len() as f64;
    Some((t, recall))
}
