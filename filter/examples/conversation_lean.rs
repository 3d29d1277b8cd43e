//! Measures conversation-level scoring (issue 16) on conversations built from labelled JSONL
//! texts (`{"text", "label", "lang", "domain", "author"}`, as in `model/texts`): false blocks on
//! service conversations and catches of split assistant answers padded with service filler.
//!
//! - **Service conversations**: each file's `customer_service` texts, grouped by domain in file
//!   order, cut into runs of 4 consecutive texts; each run is sent to one recipient.
//! - **Attacks**: `general_assistant` texts that the content rule blocks whole, cut into 3 or 4
//!   parts (at word boundaries, or characters for a text without blanks) none of which it
//!   blocks alone, each part sent with service filler of the same language (a service sentence
//!   of fewer than 8 words): a filler send after each part, a filler sentence after or before
//!   each part on the same line, or on its own line; and the parts alone, as a control.
//!
//! Each send is decided as the filter decides it: blocked by the content rule when it fires
//! alone, else scored joined to the texts its conversation keeps (`Entry::push_text`, with the
//! policy's `scoring` bounds) and blocked when that reaches the threshold; a blocked send is not
//! kept. Every scoring variant runs its own conversations. A service conversation counts as a
//! false block when the conversation rule blocks one of its sends (conversations with a send the
//! content rule blocks alone are counted apart); an attack counts as caught when any of its
//! sends is blocked.
//!
//! `cargo run -p wa-egress-guard --profile host --example conversation_lean -- [--policy P]
//!  [--attacks-per-lang N] [--service-every N] [--misses VARIANT] FILES...`

#![allow(
    clippy::indexing_slicing,
    reason = "a measurement tool run by hand: an index out of range is a bug to see, not a request to survive"
)]

use serde_json::{Value, json};
use std::collections::BTreeMap;
use wa_egress_guard::Policy;
use wa_egress_guard::classify::{Classifier, Score};
use wa_egress_guard::conversation::scoring::{
    MIN_LEANING_SENDS, Sentence, conversation_sentences, is_full, join, score_conversation,
    score_leaning, score_reduced, sentences,
};
use wa_egress_guard::conversation::{Entry, ScoringPolicy};

const SECOND: u64 = 1_000_000_000;
const T0: u64 = 1_800_000_000 * SECOND;

/// A scoring of a send joined to its kept predecessors.
type Scoring = fn(&Classifier, &[&str], &str) -> (Score, String);

/// The variants compared: the code before this experiment, the engine now, and the
/// alternatives measured.
const VARIANTS: [(&str, Scoring); 10] = [
    ("reduced (before)", score_reduced),
    (
        "engine: + leaning sends without short sentences leaning away",
        score_conversation,
    ),
    ("+ leaning sends, whole", |c, r, t| {
        send_lean(c, r, t, false)
    }),
    ("+ leaning sends, part offset", |c, r, t| {
        send_lean(c, r, t, true)
    }),
    ("+ leaning sentences, part offset", |c, r, t| {
        sentence_lean(c, r, t, true)
    }),
    ("+ leaning sentences, no offset", |c, r, t| {
        sentence_lean(c, r, t, false)
    }),
    ("+ leaning lines, no offset", line_lean),
    ("engine + every send without short filler", |c, r, t| {
        short_out(c, r, t, 0.0)
    }),
    ("the same, short filler under -2", |c, r, t| {
        short_out(c, r, t, 2.0)
    }),
    ("the same, only when this send leans", gated),
];

/// Reduced candidates, then the leaning sends joined, scored less the part offset (from their
/// own sums) or as a whole message.
fn send_lean(c: &Classifier, recent: &[&str], current: &str, offset: bool) -> (Score, String) {
    let (best, text) = score_reduced(c, recent, current);
    if best.probability >= c.threshold {
        return (best, text);
    }
    let mut texts: Vec<&str> = recent.to_vec();
    texts.push(current);
    let leans: Vec<_> = texts.iter().map(|t| c.lean(t)).collect();
    let picked: Vec<usize> = (0..texts.len())
        .filter(|i| leans[*i].is_leaning())
        .collect();
    if !picked.contains(&(texts.len() - 1))
        || picked.len() < MIN_LEANING_SENDS
        || picked.len() == texts.len()
    {
        return (best, text);
    }
    let joined: Vec<&str> = picked.iter().map(|i| texts[*i]).collect();
    let joined = joined.join("\n");
    let score = if offset {
        c.score_merge(picked.iter().map(|i| &leans[*i]))
    } else {
        c.score(&joined)
    };
    if score.probability > best.probability {
        return (score, joined);
    }
    (best, text)
}

/// Reduced candidates, then the merge of the sentences (of any length) whose own sum leans
/// towards an assistant, from at least two sends, the current one among them, and not all of
/// them: less the part offset (from their own sums), or joined and scored as a whole message.
fn sentence_lean(c: &Classifier, recent: &[&str], current: &str, offset: bool) -> (Score, String) {
    let (best, text) = score_reduced(c, recent, current);
    if best.probability >= c.threshold {
        return (best, text);
    }
    let all = conversation_sentences(recent, current);
    let leans: Vec<_> = all.iter().map(|(_, s)| c.lean(s.text)).collect();
    let picked: Vec<usize> = (0..all.len()).filter(|i| leans[*i].is_leaning()).collect();
    let mut sends: Vec<usize> = picked.iter().map(|i| all[*i].0).collect();
    sends.dedup();
    let current_in = picked.iter().any(|i| all[*i].1.current);
    if !current_in || sends.len() < MIN_LEANING_SENDS || picked.len() == all.len() {
        return (best, text);
    }
    let kept: Vec<&Sentence<'_>> = picked.iter().map(|i| &all[*i].1).collect();
    let joined = join(&kept);
    let score = if offset {
        c.score_merge(picked.iter().map(|i| &leans[*i]))
    } else {
        c.score(&joined)
    };
    if score.probability > best.probability {
        return (score, joined);
    }
    (best, text)
}

/// Reduced candidates, then the lines whose own sum leans, from at least two sends, the
/// current one among them, and not all of them, joined and scored as a whole message.
fn line_lean(c: &Classifier, recent: &[&str], current: &str) -> (Score, String) {
    let (best, text) = score_reduced(c, recent, current);
    if best.probability >= c.threshold {
        return (best, text);
    }
    let mut units: Vec<(usize, &str)> = Vec::new();
    for (i, t) in recent.iter().chain([&current]).enumerate() {
        units.extend(t.lines().filter(|l| !l.trim().is_empty()).map(|l| (i, l)));
    }
    let leans: Vec<_> = units.iter().map(|(_, u)| c.lean(u)).collect();
    let picked: Vec<usize> = (0..units.len())
        .filter(|i| leans[*i].is_leaning())
        .collect();
    let mut sends: Vec<usize> = picked.iter().map(|i| units[*i].0).collect();
    sends.dedup();
    let current_in = sends.last() == Some(&recent.len());
    if !current_in || sends.len() < MIN_LEANING_SENDS || picked.len() == units.len() {
        return (best, text);
    }
    let joined: Vec<&str> = picked.iter().map(|i| units[*i].1).collect();
    let joined = joined.join("\n");
    let score = c.score(&joined);
    if score.probability > best.probability {
        return (score, joined);
    }
    (best, text)
}

/// Each text without its short sentences (under 8 words) that do not lean towards an assistant
/// and whose own raw score is below `-margin`; `None` for a text left empty.
fn without_short_filler(c: &Classifier, text: &str, margin: f64) -> Option<String> {
    let (all, _) = sentences(text, 0, false);
    let kept: Vec<&Sentence<'_>> = all
        .iter()
        .filter(|s| {
            let l = c.lean(s.text);
            is_full(s.text) || l.is_leaning() || c.lean_score(&l) >= -margin
        })
        .collect();
    (!kept.is_empty()).then(|| join(&kept))
}

/// The engine, then the conversation without its short filler sentences, scored whole.
fn short_out(c: &Classifier, recent: &[&str], current: &str, margin: f64) -> (Score, String) {
    let (best, text) = score_conversation(c, recent, current);
    if best.probability >= c.threshold {
        return (best, text);
    }
    let Some(cur) = without_short_filler(c, current, margin) else {
        return (best, text);
    };
    let rec: Vec<String> = recent
        .iter()
        .filter_map(|t| without_short_filler(c, t, margin))
        .collect();
    if rec.is_empty() {
        return (best, text);
    }
    let mut whole = rec.join("\n");
    whole.push('\n');
    whole.push_str(&cur);
    let score = c.score(&whole);
    if score.probability > best.probability {
        return (score, whole);
    }
    (best, text)
}

/// [`short_out`], only for a send that leans towards an assistant.
fn gated(c: &Classifier, recent: &[&str], current: &str) -> (Score, String) {
    if c.lean(current).is_leaning() {
        short_out(c, recent, current, 0.0)
    } else {
        score_conversation(c, recent, current)
    }
}

/// How a conversation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Every send allowed.
    Allowed,
    /// Send `i` blocked by the content rule alone.
    Alone(usize),
    /// Send `i` blocked by the conversation rule.
    Conversation(usize),
}

/// Sends `texts` to one recipient, a second apart, as the filter decides them.
fn run(c: &Classifier, sp: &ScoringPolicy, scoring: Scoring, texts: &[String]) -> Outcome {
    let mut entry = Entry::default();
    let rank = |t: &str| c.score(t).probability;
    for (i, t) in texts.iter().enumerate() {
        let now = T0 + i as u64 * SECOND;
        if c.score(t).probability >= c.threshold {
            return Outcome::Alone(i);
        }
        let recent = entry.recent_texts(now, sp);
        if !recent.is_empty() && scoring(c, &recent, t).0.probability >= c.threshold {
            return Outcome::Conversation(i);
        }
        entry.push_text(now, t, sp, &rank);
    }
    Outcome::Allowed
}

struct Record {
    text: String,
    label: String,
    lang: String,
    domain: String,
}

fn take_flag(args: &mut Vec<String>, name: &str) -> Option<String> {
    let i = args.iter().position(|a| a == name)?;
    let v = args.get(i + 1).cloned();
    args.drain(i..(i + 2).min(args.len()));
    v
}

fn read(files: &[String]) -> Result<Vec<(String, Vec<Record>)>, String> {
    let mut out = Vec::new();
    for f in files {
        let body = std::fs::read_to_string(f).map_err(|e| format!("{f}: {e}"))?;
        let mut recs = Vec::new();
        for line in body.lines().filter(|l| !l.trim().is_empty()) {
            let v: Value = serde_json::from_str(line).map_err(|e| format!("{f}: {e}"))?;
            let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
            recs.push(Record {
                text: s("text"),
                label: s("label"),
                lang: s("lang"),
                domain: s("domain"),
            });
        }
        out.push((f.clone(), recs));
    }
    Ok(out)
}

/// Each file's service texts grouped by domain in file order, in runs of 4.
fn service_conversations(files: &[(String, Vec<Record>)]) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for (_, recs) in files {
        let mut by_domain: BTreeMap<&str, Vec<&Record>> = BTreeMap::new();
        for r in recs.iter().filter(|r| r.label == "customer_service") {
            by_domain.entry(&r.domain).or_default().push(r);
        }
        for (_, rs) in by_domain {
            for run in rs.chunks_exact(4) {
                out.push((
                    run[0].lang.clone(),
                    run.iter().map(|r| r.text.clone()).collect(),
                ));
            }
        }
    }
    out
}

/// Short service sentences (fewer than 8 words; at most 24 characters in a text without blanks)
/// per language.
fn fillers(files: &[(String, Vec<Record>)]) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (_, recs) in files {
        for r in recs.iter().filter(|r| r.label == "customer_service") {
            for s in sentences(&r.text, 0, false).0 {
                let words = s.text.split_whitespace().count();
                let short = if words <= 1 {
                    s.text.chars().count() <= 24
                } else {
                    words < 8
                };
                if short && s.text.chars().count() >= 2 {
                    out.entry(r.lang.clone())
                        .or_default()
                        .push(s.text.to_owned());
                }
            }
        }
    }
    out
}

/// `text` cut into `k` parts: at blanks, or at characters when it has too few blanks.
fn cut(text: &str, k: usize) -> Option<Vec<String>> {
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.len() >= 5 * k {
        let per = words.len().div_ceil(k);
        return Some(words.chunks(per).map(|w| w.join(" ")).collect());
    }
    let chars: Vec<char> = text.chars().filter(|c| *c != '\n').collect();
    if words.len() < 5 && chars.len() >= 12 * k {
        let per = chars.len().div_ceil(k);
        return Some(chars.chunks(per).map(|c| c.iter().collect()).collect());
    }
    None
}

/// The ways filler is interleaved with the parts.
const SHAPES: [&str; 5] = [
    "parts alone",
    "filler send after each part",
    "filler sentence after each part",
    "filler sentence before each part",
    "filler line after each part",
];

fn shaped(shape: usize, parts: &[String], filler: &mut impl FnMut() -> String) -> Vec<String> {
    let mut out = Vec::new();
    let last = parts.len() - 1;
    for (i, p) in parts.iter().enumerate() {
        match shape {
            1 => {
                out.push(p.clone());
                if i < last {
                    out.push(filler());
                }
            }
            2 => out.push(format!("{p} {}", filler())),
            3 => out.push(format!("{} {p}", filler())),
            4 => out.push(format!("{p}\n{}", filler())),
            _ => out.push(p.clone()),
        }
    }
    out
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn main() -> Result<(), String> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let policy_path = take_flag(&mut args, "--policy")
        .unwrap_or_else(|| "policies/examples/conversation.json".to_owned());
    let per_lang: usize = take_flag(&mut args, "--attacks-per-lang")
        .map_or(Ok(60), |v| v.parse())
        .map_err(|e| format!("--attacks-per-lang: {e}"))?;
    let service_every: usize = take_flag(&mut args, "--service-every")
        .map_or(Ok(1), |v| v.parse())
        .map_err(|e| format!("--service-every: {e}"))?;
    let misses = take_flag(&mut args, "--misses");
    let mut doc: Value = serde_json::from_slice(
        &std::fs::read(&policy_path).map_err(|e| format!("{policy_path}: {e}"))?,
    )
    .map_err(|e| format!("{policy_path}: {e}"))?;
    wa_egress_guard::cases::merge_patch(
        &mut doc,
        &json!({"log": {"recipient_hash_salt": "conversation-lean-measurement-7c2d"}}),
    );
    let policy = Policy::from_json(doc.to_string().as_bytes()).map_err(|e| format!("{e:?}"))?;
    let c = &policy.content.classifier;
    let sp = policy
        .conversation
        .as_ref()
        .and_then(|cp| cp.scoring.clone())
        .ok_or("the policy has no conversation scoring")?;
    let files = read(&args)?;

    let service: Vec<_> = service_conversations(&files)
        .into_iter()
        .step_by(service_every.max(1))
        .collect();
    let fill = fillers(&files);
    let mut rng = Rng(0x5EED_C0DE_1234_5678);
    // Attacks: per language, up to `per_lang` assistant texts the content rule blocks whole,
    // cut so that no part is blocked alone.
    let mut attacks: Vec<(String, usize, Vec<String>)> = Vec::new();
    let mut taken: BTreeMap<String, usize> = BTreeMap::new();
    for (_, recs) in &files {
        for r in recs.iter().filter(|r| r.label == "general_assistant") {
            let n = taken.entry(r.lang.clone()).or_default();
            if *n >= per_lang || !fill.contains_key(&r.lang) {
                continue;
            }
            let k = 3 + (rng.next() % 2) as usize;
            let Some(parts) = cut(&r.text, k) else {
                continue;
            };
            if c.score(&r.text).probability < c.threshold
                || parts.iter().any(|p| c.score(p).probability >= c.threshold)
            {
                continue;
            }
            *n += 1;
            let pool = &fill[&r.lang];
            let mut filler = || pool[(rng.next() % pool.len() as u64) as usize].clone();
            for shape in 0..SHAPES.len() {
                attacks.push((r.lang.clone(), shape, shaped(shape, &parts, &mut filler)));
            }
        }
    }
    println!(
        "service conversations: {}; attack texts: {} in {} languages, {} conversations",
        service.len(),
        attacks.len() / SHAPES.len(),
        taken.values().filter(|n| **n > 0).count(),
        attacks.len()
    );
    // The margin of the leaning sends on service conversations: how often the merge exists,
    // and how high it scores (each send joined to the texts before it, not bounded to their
    // kept share).
    let (mut merges, mut sends, mut highest, mut over_half) = (0, 0, 0.0f64, 0);
    for (_, texts) in &service {
        for i in 1..texts.len() {
            sends += 1;
            let recent: Vec<&str> = texts[..i].iter().map(String::as_str).collect();
            if let Some((score, _)) = score_leaning(c, &recent, &texts[i]) {
                merges += 1;
                highest = highest.max(score.probability);
                over_half += usize::from(score.probability >= 0.5);
            }
        }
    }
    println!(
        "leaning sends on service conversations: a merge on {merges} of {sends} sends, {over_half} at 0.5 or more, the highest {highest:.3} (threshold {})",
        c.threshold
    );
    for (name, scoring) in VARIANTS {
        let started = std::time::Instant::now();
        let (mut alone, mut false_blocks) = (0, 0);
        for (_, sends) in &service {
            match run(c, &sp, scoring, sends) {
                Outcome::Alone(_) => alone += 1,
                Outcome::Conversation(_) => false_blocks += 1,
                Outcome::Allowed => {}
            }
        }
        let mut by_shape = vec![(0usize, 0usize, 0usize); SHAPES.len()];
        let mut by_lang: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
        for (lang, shape, sends) in &attacks {
            let got = run(c, &sp, scoring, sends);
            let caught = got != Outcome::Allowed;
            let t = &mut by_shape[*shape];
            t.0 += 1;
            t.1 += usize::from(caught);
            t.2 += usize::from(got == Outcome::Conversation(sends.len() - 1));
            if *shape > 0 {
                let l = by_lang.entry(lang).or_default();
                l.0 += 1;
                l.1 += usize::from(caught);
            }
            if !caught && misses.as_deref() == Some(name) && *shape > 0 {
                println!("  miss [{lang}, {}]: {sends:?}", SHAPES[*shape]);
            }
        }
        println!(
            "\n{name}: service false blocks {false_blocks} of {} ({:.2}%; {alone} more blocked by a send alone); {:.1} s",
            service.len(),
            100.0 * false_blocks as f64 / service.len().max(1) as f64,
            started.elapsed().as_secs_f64()
        );
        let (mut total, mut caught) = (0, 0);
        for (shape, (n, k, last)) in by_shape.iter().enumerate() {
            println!(
                "  {:<34} caught {k:>5} of {n:>5} ({:.1}%), on the completing send {last}",
                SHAPES[shape],
                100.0 * *k as f64 / (*n).max(1) as f64
            );
            if shape > 0 {
                total += n;
                caught += k;
            }
        }
        println!(
            "  padded attacks caught {caught} of {total} ({:.1}%)",
            100.0 * caught as f64 / total.max(1) as f64
        );
        let worst: Vec<String> = by_lang
            .iter()
            .map(|(l, (n, k))| format!("{l} {:.0}%", 100.0 * *k as f64 / (*n).max(1) as f64))
            .collect();
        println!("  by language: {}", worst.join(", "));
    }
    Ok(())
}
