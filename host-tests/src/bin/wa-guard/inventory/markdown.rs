//! The inventory as a Markdown summary for a ticket or a pull request. Identities come from
//! request headers, so every value is escaped for a table cell.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::aggregate::{Inventory, Judgement, top};
use super::time;

/// The ready-to-enforce lists show this many senders; the table of senders has them all.
pub const MOST_LISTED: usize = 25;

/// A value in a table cell: no line breaks, pipes escaped, HTML and code spans defused.
pub fn cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '|' => out.push_str("\\|"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '`' => out.push('\''),
            '*' | '_' | '[' | ']' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A value inside a code span: no backtick, no line break.
pub fn code(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '`' => '\'',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect()
}

/// A weighted count: `3`, `2.5`.
pub fn n(x: f64) -> String {
    let rounded = (x * 10.0).round() / 10.0;
    if rounded.fract() == 0.0 {
        format!("{rounded:.0}")
    } else {
        format!("{rounded:.1}")
    }
}

/// `text 3, template 1`, largest first.
fn listing(map: &BTreeMap<String, f64>, most: usize) -> String {
    let items = top(map, most);
    if items.is_empty() {
        return "-".into();
    }
    let mut s: Vec<String> = items
        .iter()
        .map(|(k, v)| format!("{} {}", cell(k), n(*v)))
        .collect();
    if map.len() > most {
        s.push(format!("+{} more", map.len().saturating_sub(most)));
    }
    s.join(", ")
}

pub fn summary(inv: &Inventory, j: &Judgement) -> String {
    let mut md = String::new();
    let l = &inv.lines;
    let _ = writeln!(md, "# WhatsApp flow inventory\n");
    let _ = writeln!(
        md,
        "Lines: {} read, {} decisions, {} training uploads, {} skipped (other content), {} malformed, {} duplicates (counted once).",
        l.read, l.decisions, l.training, l.skipped, l.malformed, l.duplicates
    );
    if !inv.malformed_reasons.is_empty() {
        let reasons: Vec<String> = inv
            .malformed_reasons
            .iter()
            .map(|(why, count)| format!("{} {count}", cell(why)))
            .collect();
        let _ = writeln!(md, "Malformed lines (not counted): {}.", reasons.join(", "));
    }
    if let (Some(f), Some(last)) = (inv.first, inv.last) {
        let _ = writeln!(
            md,
            "Period: {} to {}.",
            time::format_millis(f),
            time::format_millis(last)
        );
    }
    if !inv.policies.is_empty() {
        let names: Vec<String> = inv.policies.iter().map(|p| cell(p)).collect();
        let _ = writeln!(md, "Policy fingerprints: {}.", names.join(", "));
    }
    let _ = writeln!(
        md,
        "Counts are weighted by 1/sample; scores are judged against threshold {:.2} ({}).\n",
        j.threshold,
        j.source.describe()
    );
    ready_section(&mut md, inv, j);
    senders_section(&mut md, inv, j);
    numbers_section(&mut md, inv);
    rules_section(&mut md, inv);
    training_section(&mut md, inv);
    for p in &inv.problems {
        let _ = writeln!(md, "Warning: {}", cell(p));
    }
    md
}

fn ready_section(md: &mut String, inv: &Inventory, j: &Judgement) {
    let _ = writeln!(md, "## Ready to enforce?\n");
    if inv.ready(j) {
        let _ = writeln!(
            md,
            "**Yes**: every sender is declared and no declared service bot sent off-topic content.\n"
        );
        return;
    }
    let _ = writeln!(md, "**Not yet.**\n");
    let undeclared = inv.undeclared();
    for (identity, source) in undeclared.iter().take(MOST_LISTED) {
        let _ = writeln!(
            md,
            "- Undeclared sender **{}** ({}): no origin of the policy matches it.",
            cell(identity),
            cell(if source.is_empty() {
                "no identity source"
            } else {
                source
            })
        );
    }
    if undeclared.len() > MOST_LISTED {
        let _ = writeln!(
            md,
            "- ... and {} more undeclared senders (see the table of senders).",
            undeclared.len().saturating_sub(MOST_LISTED)
        );
    }
    let off_topic = inv.off_topic(j);
    for (identity, _) in off_topic.iter().take(MOST_LISTED) {
        let _ = writeln!(
            md,
            "- Declared service bot **{}** sent content the classifier flags as a general assistant's (rule `content_classifier`, or a score at or above {:.2}: {}).",
            cell(identity),
            j.threshold,
            j.source.describe()
        );
    }
    md.push('\n');
}

fn senders_section(md: &mut String, inv: &Inventory, j: &Judgement) {
    let _ = writeln!(md, "## Senders\n");
    if inv.senders.is_empty() {
        let _ = writeln!(md, "No WhatsApp decisions in these logs.\n");
        return;
    }
    let _ = writeln!(
        md,
        "| sender | identity source | role | sends | phone numbers | message types | decisions | would block | scored ≥ {:.2} | top signals |",
        j.threshold
    );
    let _ = writeln!(
        md,
        "| --- | --- | --- | ---: | --- | --- | --- | ---: | ---: | --- |"
    );
    for ((identity, source), s) in &inv.senders {
        let (scored, high) = s.scored(j.threshold);
        let signals: Vec<String> = s.top_signals(3).iter().map(|(id, _)| cell(id)).collect();
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            cell(identity),
            cell(if source.is_empty() { "-" } else { source }),
            cell(&s.role),
            n(s.sends),
            listing(&s.phone_numbers, 3),
            listing(&s.message_types, 4),
            listing(&s.decisions, 3),
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
            },
        );
    }
    md.push('\n');
}

fn numbers_section(md: &mut String, inv: &Inventory) {
    if inv.phone_numbers.is_empty() {
        return;
    }
    let _ = writeln!(md, "## Phone numbers\n");
    let _ = writeln!(md, "| phone-number id | provider | sends | senders |");
    let _ = writeln!(md, "| --- | --- | ---: | --- |");
    for ((id, provider), p) in &inv.phone_numbers {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} |",
            cell(id),
            cell(provider),
            n(p.sends),
            listing(&p.senders, 5)
        );
    }
    md.push('\n');
}

fn rules_section(md: &mut String, inv: &Inventory) {
    let _ = writeln!(md, "## Would be blocked under enforce\n");
    if inv.would_block_by_rule.is_empty() {
        let _ = writeln!(md, "Nothing: no block or audit decision.\n");
        return;
    }
    let _ = writeln!(md, "| rule | decisions |");
    let _ = writeln!(md, "| --- | ---: |");
    for (rule, count) in top(&inv.would_block_by_rule, usize::MAX) {
        let _ = writeln!(md, "| {} | {} |", cell(&rule), n(count));
    }
    md.push('\n');
}

fn training_section(md: &mut String, inv: &Inventory) {
    if inv.training.is_empty() {
        return;
    }
    let _ = writeln!(md, "## Training uploads\n");
    let _ = writeln!(
        md,
        "| endpoint | uploads | records seen | records stripped | bytes in | bytes out | detectors | outcomes |"
    );
    let _ = writeln!(md, "| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |");
    for (endpoint, e) in &inv.training {
        let detectors: BTreeMap<String, f64> = e
            .detectors
            .iter()
            .map(|(k, v)| (k.clone(), to_f64(*v)))
            .collect();
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            cell(endpoint),
            n(e.uploads),
            e.records_seen,
            e.records_stripped,
            e.bytes_in,
            e.bytes_out,
            listing(&detectors, 4),
            listing(&e.decisions, 4)
        );
    }
    md.push('\n');
}

/// Counts far below 2^53 in practice; precision loss above it is harmless for a chart.
#[allow(clippy::cast_precision_loss, reason = "display only")]
pub fn to_f64(v: u64) -> f64 {
    v as f64
}
