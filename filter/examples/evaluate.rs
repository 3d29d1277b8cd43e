//! Measures the content classifier on labelled JSONL files.
//!
//! Each line is either a corpus record (`{"label", "lang", "message": <send body>}`) or a plain
//! text record (`{"label", "lang", "text"}`, wrapped as a `type: text` send). Every message is
//! sent from an unknown identity through the full request flow of a policy (default
//! `policies/default.json`), and blocks are counted per label, language and length band.
//!
//! `cargo run -p wa-egress-guard --release --example evaluate -- [--policy P] [--misses] FILES...`

use serde_json::{Value, json};
use std::collections::BTreeMap;
use wa_egress_guard::cases::{CaseRequest, run_native};
use wa_egress_guard::policy::Policy;
use wa_egress_guard::whatsapp;

#[derive(Default, Clone, Copy)]
struct Tally {
    total: u32,
    blocked: u32,
}

fn band(chars: usize) -> &'static str {
    match chars {
        0..300 => "<300",
        300..1000 => "300-1000",
        _ => ">1000",
    }
}

fn main() -> Result<(), String> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut policy_path = "policies/default.json".to_owned();
    if let Some(i) = args.iter().position(|a| a == "--policy") {
        policy_path = args.get(i + 1).cloned().ok_or("--policy needs a file")?;
        args.drain(i..=i + 1);
    }
    let show_misses = args.iter().any(|a| a == "--misses");
    let show_scores = args.iter().any(|a| a == "--scores");
    args.retain(|a| a != "--misses" && a != "--scores");
    if args.is_empty() {
        return Err("usage: evaluate [--policy P] [--misses] FILES...".into());
    }
    let policy_text = std::fs::read(&policy_path).map_err(|e| format!("{policy_path}: {e}"))?;
    let policy = Policy::from_json(&policy_text).map_err(|e| e.to_string())?;

    let mut by_key: BTreeMap<(String, String, String), Tally> = BTreeMap::new();
    let mut overall: BTreeMap<String, Tally> = BTreeMap::new();
    for file in &args {
        let text = std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))?;
        for (n, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let rec: Value =
                serde_json::from_str(line).map_err(|e| format!("{file}:{}: {e}", n + 1))?;
            let label = rec
                .get("label")
                .and_then(Value::as_str)
                .unwrap_or("?")
                .to_owned();
            let lang = rec
                .get("lang")
                .and_then(Value::as_str)
                .unwrap_or("?")
                .to_owned();
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
            let visible = whatsapp::read_message(&message).visible_text();
            let req = CaseRequest {
                method: "POST".into(),
                authority: "graph.facebook.com".into(),
                path: "/v21.0/100000000000001/messages".into(),
                body: Some(message),
                ..CaseRequest::default()
            };
            let got = run_native(&policy, &req, &[])?;
            if show_scores {
                let score = policy.content.classifier.score(&visible);
                let id = rec.get("id").and_then(Value::as_str).unwrap_or("");
                println!(
                    "SCORE {id} {label} {:.2} {:?}",
                    score.total,
                    score.signal_ids()
                );
            }
            let blocked = got.decision == "block";
            for key in [
                (
                    label.clone(),
                    lang.clone(),
                    band(visible.chars().count()).to_owned(),
                ),
                (
                    label.clone(),
                    "*".into(),
                    band(visible.chars().count()).to_owned(),
                ),
                (label.clone(), lang.clone(), "*".into()),
            ] {
                let t = by_key.entry(key).or_default();
                t.total += 1;
                t.blocked += u32::from(blocked);
            }
            let t = overall.entry(label.clone()).or_default();
            t.total += 1;
            t.blocked += u32::from(blocked);
            let wrong = blocked != (label == "general_assistant");
            if show_misses && wrong {
                let id = rec.get("id").and_then(Value::as_str).unwrap_or("");
                println!(
                    "MISS {id} {label} blocked={blocked} rule={:?} chars={}",
                    got.rule,
                    visible.chars().count()
                );
            }
        }
    }
    println!(
        "{:<18} {:<5} {:<9} {:>6} {:>8} {:>7}",
        "label", "lang", "length", "n", "blocked", "rate"
    );
    for ((label, lang, band), t) in &by_key {
        let rate = f64::from(t.blocked) / f64::from(t.total.max(1)) * 100.0;
        println!(
            "{label:<18} {lang:<5} {band:<9} {:>6} {:>8} {rate:>6.1}%",
            t.total, t.blocked
        );
    }
    for (label, t) in &overall {
        let rate = f64::from(t.blocked) / f64::from(t.total.max(1)) * 100.0;
        let what = if label == "general_assistant" {
            "recall"
        } else {
            "false-block rate"
        };
        println!(
            "OVERALL {label}: {what} {rate:.1}% ({}/{})",
            t.blocked, t.total
        );
    }
    Ok(())
}
