//! The inventory as one self-contained HTML page: inline CSS and inline SVG charts, no
//! script and no external resource (a Content-Security-Policy forbids both), so it opens
//! offline and from a mail attachment alike.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::aggregate::{Inventory, Judgement, Sender, SenderKey, top};
use super::charts::{self, esc};
use super::markdown::{MOST_LISTED, n, to_f64};
use super::time;

/// Charts show at most this many senders and phone numbers (the busiest); tables show all.
const MOST_ROWS: usize = 40;
const MOST_COLUMNS: usize = 30;

const STYLE: &str = "
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; padding: 0 1rem; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.2rem; margin-top: 2.2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.85rem; margin: 0.5rem 0; }
th, td { border: 1px solid #ddd; padding: 0.25rem 0.5rem; text-align: left; vertical-align: top; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.ready { padding: 0.8rem 1rem; border-radius: 6px; }
.ready.yes { background: #e8f5e9; border: 1px solid #59a14f; }
.ready.no { background: #fdecea; border: 1px solid #e15759; }
figure.chart { overflow-x: auto; margin: 0.5rem 0; }
.small-multiples { display: flex; flex-wrap: wrap; gap: 1rem; }
.small-multiples figure { margin: 0; overflow-x: visible; }
figcaption { font-size: 0.8rem; max-width: 260px; overflow-wrap: anywhere; }
.note { color: #666; font-size: 0.85rem; }
code { overflow-wrap: anywhere; }
svg .mark:hover { stroke: #222; }
";

pub fn report(inv: &Inventory, j: &Judgement) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>WhatsApp flow inventory</title><style>{STYLE}</style></head><body>\n"
    );
    header(&mut h, inv, j);
    ready(&mut h, inv, j);
    senders_table(&mut h, inv, j);
    section(
        &mut h,
        "Senders × phone numbers",
        "Weighted sends from each sender to each phone-number id.",
        heat_map(inv),
    );
    section(
        &mut h,
        "Message types per sender",
        "Weighted decisions per message type.",
        message_types(inv),
    );
    score_histograms(&mut h, inv, j);
    section(
        &mut h,
        "Would be blocked under enforce, per rule",
        "Block and audit decisions: what enforce mode blocks.",
        would_block(inv),
    );
    section(
        &mut h,
        "Decisions over time",
        &timeline_note(inv),
        timeline(inv),
    );
    section(
        &mut h,
        "Training uploads per endpoint",
        "Records seen, split into stripped (WhatsApp-derived) and kept.",
        training(inv),
    );
    for p in &inv.problems {
        let _ = writeln!(h, "<p class=\"note\">Warning: {}</p>", esc(p));
    }
    h.push_str("</body></html>\n");
    h
}

fn header(h: &mut String, inv: &Inventory, j: &Judgement) {
    let l = &inv.lines;
    let _ = writeln!(h, "<h1>WhatsApp flow inventory</h1>");
    let _ = writeln!(
        h,
        "<p>Lines: <b>{}</b> read, <b>{}</b> decisions, <b>{}</b> training uploads, <b>{}</b> skipped (other content), <b>{}</b> malformed, <b>{}</b> duplicates (counted once).",
        l.read, l.decisions, l.training, l.skipped, l.malformed, l.duplicates
    );
    if let (Some(f), Some(last)) = (inv.first, inv.last) {
        let _ = write!(
            h,
            " Period: {} to {}.",
            time::format_millis(f),
            time::format_millis(last)
        );
    }
    h.push_str("</p>\n");
    if !inv.policies.is_empty() {
        let names: Vec<String> = inv
            .policies
            .iter()
            .map(|p| format!("<code>{}</code>", esc(p)))
            .collect();
        let _ = writeln!(h, "<p>Policy fingerprints: {}.</p>", names.join(", "));
    }
    let _ = writeln!(
        h,
        "<p class=\"note\">Counts are weighted by 1/sample (allowed decisions may be sampled). Scores are judged against threshold {:.2} ({}).</p>",
        j.threshold,
        j.source.describe()
    );
}

fn ready(h: &mut String, inv: &Inventory, j: &Judgement) {
    let _ = writeln!(h, "<h2 id=\"ready\">Ready to enforce?</h2>");
    if inv.ready(j) {
        let _ = writeln!(
            h,
            "<div class=\"ready yes\"><b>Yes.</b> Every sender is declared, and no declared service bot sent content the classifier flags.</div>"
        );
        return;
    }
    let _ = writeln!(h, "<div class=\"ready no\"><b>Not yet.</b><ul>");
    let undeclared = inv.undeclared();
    for (identity, source) in undeclared.iter().take(MOST_LISTED) {
        let _ = writeln!(
            h,
            "<li>Undeclared sender <code>{}</code> ({}): no origin of the policy matches it.</li>",
            esc(identity),
            esc(if source.is_empty() {
                "no identity source"
            } else {
                source
            })
        );
    }
    if undeclared.len() > MOST_LISTED {
        let _ = writeln!(
            h,
            "<li>… and {} more undeclared senders (see the table of senders).</li>",
            undeclared.len().saturating_sub(MOST_LISTED)
        );
    }
    let off_topic = inv.off_topic(j);
    for (identity, _) in off_topic.iter().take(MOST_LISTED) {
        let _ = writeln!(
            h,
            "<li>Declared service bot <code>{}</code> sent content the classifier flags as a general assistant's (rule <code>content_classifier</code>, or a score at or above {:.2}: {}).</li>",
            esc(identity),
            j.threshold,
            esc(j.source.describe())
        );
    }
    h.push_str("</ul></div>\n");
}

fn listing(map: &BTreeMap<String, f64>) -> String {
    let items: Vec<String> = top(map, 6)
        .iter()
        .map(|(k, v)| format!("{} {}", esc(k), n(*v)))
        .collect();
    if items.is_empty() {
        "-".into()
    } else {
        items.join(", ")
    }
}

fn senders_table(h: &mut String, inv: &Inventory, j: &Judgement) {
    let _ = writeln!(h, "<h2>Senders</h2>");
    if inv.senders.is_empty() {
        let _ = writeln!(h, "<p>No WhatsApp decisions in these logs.</p>");
        return;
    }
    let _ = writeln!(
        h,
        "<table><tr><th>sender</th><th>source</th><th>role</th><th>sends</th><th>phone numbers</th><th>message types</th><th>decisions</th><th>would block</th><th>scored ≥ {:.2}</th><th>top signals</th></tr>",
        j.threshold
    );
    for ((identity, source), s) in &inv.senders {
        let (scored, high) = s.scored(j.threshold);
        let signals: Vec<String> = s.top_signals(3).iter().map(|(id, _)| esc(id)).collect();
        let _ = writeln!(
            h,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            esc(identity),
            esc(source),
            esc(&s.role),
            n(s.sends),
            listing(&s.phone_numbers),
            listing(&s.message_types),
            listing(&s.decisions),
            n(s.would_block),
            if scored > 0.0 {
                format!("{} of {}", n(high), n(scored))
            } else {
                "-".into()
            },
            if signals.is_empty() {
                "-".into()
            } else {
                signals.join(", ")
            }
        );
    }
    h.push_str("</table>\n");
}

fn section(h: &mut String, title: &str, note: &str, svg: Option<String>) {
    let _ = writeln!(
        h,
        "<h2>{}</h2>\n<p class=\"note\">{}</p>",
        esc(title),
        esc(note)
    );
    match svg {
        Some(svg) => {
            let _ = writeln!(h, "<figure class=\"chart\">{svg}</figure>");
        }
        None => {
            let _ = writeln!(h, "<p>No data.</p>");
        }
    }
}

/// The busiest senders, with their display names.
fn busiest(inv: &Inventory) -> Vec<(&SenderKey, &Sender)> {
    let mut v: Vec<(&SenderKey, &Sender)> = inv.senders.iter().collect();
    v.sort_by(|a, b| b.1.sends.total_cmp(&a.1.sends).then_with(|| a.0.cmp(b.0)));
    v.truncate(MOST_ROWS);
    v
}

fn display((identity, source): &SenderKey) -> String {
    if source.is_empty() {
        identity.clone()
    } else {
        format!("{identity} ({source})")
    }
}

fn heat_map(inv: &Inventory) -> Option<String> {
    let senders = busiest(inv);
    let mut numbers: BTreeMap<String, f64> = BTreeMap::new();
    for (_, s) in &senders {
        for (id, w) in &s.phone_numbers {
            *numbers.entry(id.clone()).or_insert(0.0) += w;
        }
    }
    let columns: Vec<String> = top(&numbers, MOST_COLUMNS)
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    let rows: Vec<String> = senders.iter().map(|(k, _)| display(k)).collect();
    charts::heat_map("senders by phone numbers", &rows, &columns, |r, c| {
        match (senders.get(r), columns.get(c)) {
            (Some((_, s)), Some(id)) => s.phone_numbers.get(id).copied().unwrap_or(0.0),
            _ => 0.0,
        }
    })
}

fn message_types(inv: &Inventory) -> Option<String> {
    let senders = busiest(inv);
    let mut all: BTreeMap<String, f64> = BTreeMap::new();
    for (_, s) in &senders {
        for (t, w) in &s.message_types {
            *all.entry(t.clone()).or_insert(0.0) += w;
        }
    }
    let types: Vec<String> = top(&all, charts::PALETTE.len())
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    let series: Vec<(String, &str)> = types
        .iter()
        .cloned()
        .zip(charts::PALETTE.iter().copied())
        .collect();
    let rows: Vec<(String, Vec<f64>)> = senders
        .iter()
        .filter(|(_, s)| !s.message_types.is_empty())
        .map(|(k, s)| {
            let values = types
                .iter()
                .map(|t| s.message_types.get(t).copied().unwrap_or(0.0))
                .collect();
            (display(k), values)
        })
        .collect();
    charts::stacked_bars("message types per sender", &rows, &series)
}

fn score_histograms(h: &mut String, inv: &Inventory, j: &Judgement) {
    let _ = writeln!(
        h,
        "<h2>Score distribution per sender</h2>\n<p class=\"note\">Weighted scored sends by score tenth; bars at or above the threshold ({:.2}, dashed) in red.</p>",
        j.threshold
    );
    let mut any = false;
    h.push_str("<div class=\"small-multiples\">\n");
    for (key, s) in busiest(inv) {
        let Some(svg) = charts::histogram("score distribution", &s.score_histogram, j.threshold)
        else {
            continue;
        };
        any = true;
        let (scored, high) = s.scored(j.threshold);
        let _ = writeln!(
            h,
            "<figure class=\"chart\">{svg}<figcaption><code>{}</code>: {} of {} scored sends at or above the threshold</figcaption></figure>",
            esc(&display(key)),
            n(high),
            n(scored)
        );
    }
    h.push_str("</div>\n");
    if !any {
        let _ = writeln!(h, "<p>No data.</p>");
    }
}

fn would_block(inv: &Inventory) -> Option<String> {
    let rows: Vec<(String, Vec<f64>)> = top(&inv.would_block_by_rule, MOST_ROWS)
        .into_iter()
        .map(|(rule, v)| (rule, vec![v]))
        .collect();
    charts::stacked_bars(
        "would block per rule",
        &rows,
        &[("decisions".into(), charts::BLOCK)],
    )
}

fn timeline_note(inv: &Inventory) -> String {
    let minutes = (inv.bucket_width() / 60_000).max(1);
    let width = match minutes {
        m if m % 1440 == 0 => format!("{}-day", m / 1440),
        m if m % 60 == 0 => format!("{}-hour", m / 60),
        m => format!("{m}-minute"),
    };
    let mut note = format!("Weighted decisions per {width} bucket (UTC).");
    if inv.undated > 0.0 {
        let _ = write!(note, " {} decisions had no timestamp.", n(inv.undated));
    }
    note
}

fn timeline(inv: &Inventory) -> Option<String> {
    let buckets: Vec<(String, [f64; 4])> = inv
        .timeline()
        .into_iter()
        .map(|(start, t)| {
            (
                time::format_seconds(start),
                [t.allow, t.audit, t.block, t.handoff],
            )
        })
        .collect();
    charts::timeline("decisions over time", &buckets)
}

fn training(inv: &Inventory) -> Option<String> {
    let rows: Vec<(String, Vec<f64>)> = inv
        .training
        .iter()
        .map(|(endpoint, e)| {
            let stripped = to_f64(e.records_stripped);
            let kept = to_f64(e.records_seen.saturating_sub(e.records_stripped));
            (
                format!("{endpoint} ({} uploads)", n(e.uploads)),
                vec![stripped, kept],
            )
        })
        .collect();
    let series = [
        ("records stripped".to_owned(), charts::BLOCK),
        ("records kept".to_owned(), charts::BLUE),
    ];
    charts::stacked_bars("training uploads per endpoint", &rows, &series)
}
