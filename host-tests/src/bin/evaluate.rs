//! `evaluate`: the content classifier measured through the built `.wasm`, as Envoy runs it.
//!
//! ```text
//! evaluate --wasm W --policy P.json FILES.jsonl...
//! ```
//!
//! Each line is `{"label", "text"}` (or `"message"`: a whole send body). Every text is sent as
//! a `type: text` WhatsApp send from an unknown caller; the filter's decisions are counted per
//! label and length band (< 80, < 300, < 1000, ≥ 1000 characters). Exit status 1 on any error.

use std::collections::BTreeMap;
use std::process::ExitCode;

use host_tests::{Filter, HostOptions, Verdict, WasmModule};
use serde_json::{Value, json};

fn band(chars: usize) -> &'static str {
    match chars {
        0..80 => "<80",
        80..300 => "<300",
        300..1000 => "<1000",
        _ => ">=1000",
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let (mut wasm, mut policy, mut files) = (None, None, Vec::new());
    while let Some(a) = args.next() {
        match a.as_str() {
            "--wasm" => wasm = args.next(),
            "--policy" => policy = args.next(),
            _ => files.push(a),
        }
    }
    let (Some(wasm), Some(policy)) = (wasm, policy) else {
        return Err("usage: evaluate --wasm W --policy P.json FILES...".into());
    };
    let module = WasmModule::from_file(&wasm).map_err(|e| e.to_string())?;
    let policy = std::fs::read(&policy).map_err(|e| format!("{policy}: {e}"))?;
    let mut filter = Filter::start(&module, HostOptions::default())
        .and_then(|f| f.configure(&policy))
        .map_err(|e| e.to_string())?;
    let mut tally: BTreeMap<(String, &str), (u32, u32)> = BTreeMap::new();
    for file in &files {
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
            let (body, chars) = match (rec.get("message"), rec.get("text").and_then(Value::as_str))
            {
                (Some(m), _) => (m.clone(), m.to_string().chars().count()),
                (None, Some(t)) => (
                    json!({"messaging_product": "whatsapp", "to": "15550100000",
                           "type": "text", "text": {"body": t}}),
                    t.chars().count(),
                ),
                _ => return Err(format!("{file}:{}: no `text` or `message`", n + 1)),
            };
            let outcome = filter
                .request()
                .method("POST")
                .authority("graph.facebook.com")
                .path("/v21.0/100000000000001/messages")
                .header("content-type", "application/json")
                .body(body.to_string().as_bytes())
                .send()
                .map_err(|e| format!("{file}:{}: {e}", n + 1))?;
            let blocked = Verdict::from_outcome(&outcome).decision == "block";
            for key in [(label.clone(), band(chars)), (label.clone(), "*")] {
                let t = tally.entry(key).or_default();
                t.0 += 1;
                t.1 += u32::from(blocked);
            }
        }
    }
    println!(
        "{:<18} {:<7} {:>6} {:>8} {:>7}",
        "label", "length", "n", "blocked", "rate"
    );
    for ((label, band), (n, blocked)) in &tally {
        let rate = f64::from(*blocked) / f64::from((*n).max(1)) * 100.0;
        println!("{label:<18} {band:<7} {n:>6} {blocked:>8} {rate:>6.1}%");
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("evaluate: {e}");
            ExitCode::FAILURE
        }
    }
}
