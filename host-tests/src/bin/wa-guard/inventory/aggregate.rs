//! The inventory: every line read, folded into counts per sender, per phone number, per rule,
//! per time bucket and per training endpoint. Counts of decisions are weighted by 1/sample, so
//! a line of an allowed send sampled at 0.25 counts as four sends.

use std::collections::{BTreeMap, BTreeSet};

use super::read::{DecisionLine, Line, TrainingLine};

/// The sender of lines that carry no identity.
pub const UNIDENTIFIED: &str = "(unidentified)";

/// Bucket widths for the timeline, smallest first; the first that gives at most
/// [`MAX_BUCKETS`] buckets is used.
const BUCKET_WIDTHS_MS: &[i64] = &[
    60_000,
    5 * 60_000,
    15 * 60_000,
    3_600_000,
    3 * 3_600_000,
    6 * 3_600_000,
    86_400_000,
    7 * 86_400_000,
];
const MAX_BUCKETS: i64 = 60;

/// How lines are judged: the classifier threshold, and whether a policy named it.
#[derive(Debug, Clone, Copy)]
pub struct Judgement {
    pub threshold: f64,
    pub threshold_from_policy: bool,
}

/// The line counts of `lines` in the JSON.
#[derive(Debug, Default, Clone, Copy)]
pub struct LineCounts {
    pub read: u64,
    pub decisions: u64,
    pub training: u64,
    pub skipped: u64,
    pub malformed: u64,
}

/// A sender: an identity and the source that yielded it.
pub type SenderKey = (String, String);

#[derive(Debug, Default, Clone)]
pub struct Sender {
    /// The role of its latest line (by timestamp, then by reading order).
    pub role: String,
    role_at: Option<i64>,
    pub sends: f64,
    pub phone_numbers: BTreeMap<String, f64>,
    pub message_types: BTreeMap<String, f64>,
    pub decisions: BTreeMap<String, f64>,
    pub would_block: f64,
    pub rules: BTreeMap<String, f64>,
    pub score_histogram: [f64; 10],
    /// Every score with its weight (the suggestion judges them against a threshold).
    pub scores: Vec<(f64, f64)>,
    pub signals: BTreeMap<String, f64>,
    pub templates: BTreeMap<String, f64>,
    pub template_categories: BTreeMap<String, f64>,
    pub providers: BTreeMap<String, f64>,
    /// Graph edges (`messages`, `message_templates`, ...).
    pub endpoints: BTreeMap<String, f64>,
    /// The origin ids its lines name as their rule (allowed, origin findings).
    pub origin_rules: BTreeMap<String, f64>,
}

impl Sender {
    /// Weighted scored sends, and those at or above the threshold.
    pub fn scored(&self, threshold: f64) -> (f64, f64) {
        self.scores
            .iter()
            .fold((0.0, 0.0), |(all, high), (score, w)| {
                (all + w, if *score >= threshold { high + w } else { high })
            })
    }

    /// Strongest signals first, by weighted count.
    pub fn top_signals(&self, n: usize) -> Vec<(String, f64)> {
        top(&self.signals, n)
    }

    /// A declared service bot with a send the classifier flags: rule `content_classifier`,
    /// or, when a policy names the threshold, a score at or above it.
    pub fn off_topic(&self, j: &Judgement) -> bool {
        self.role == "customer_service"
            && (self.rules.contains_key("content_classifier")
                || (j.threshold_from_policy && self.scores.iter().any(|(s, _)| *s >= j.threshold)))
    }
}

#[derive(Debug, Default, Clone)]
pub struct PhoneNumber {
    pub senders: BTreeMap<String, f64>,
    pub sends: f64,
}

#[derive(Debug, Default, Clone)]
pub struct TrainingEndpoint {
    pub uploads: f64,
    pub records_seen: u64,
    pub records_stripped: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub detectors: BTreeMap<String, u64>,
    pub decisions: BTreeMap<String, f64>,
}

/// Decisions of one timeline bucket.
#[derive(Debug, Default, Clone, Copy)]
pub struct Tally {
    pub allow: f64,
    pub block: f64,
    pub audit: f64,
}

#[derive(Debug, Default)]
pub struct Inventory {
    pub lines: LineCounts,
    pub policies: BTreeSet<String>,
    pub first: Option<i64>,
    pub last: Option<i64>,
    pub senders: BTreeMap<SenderKey, Sender>,
    /// By (phone-number id, provider).
    pub phone_numbers: BTreeMap<(String, String), PhoneNumber>,
    pub would_block_by_rule: BTreeMap<String, f64>,
    pub training: BTreeMap<String, TrainingEndpoint>,
    /// Decisions by time: (ms, decision, weight).
    dated: Vec<(i64, String, f64)>,
    /// Weighted decisions without a timestamp.
    pub undated: f64,
    /// Sources that could not be read to their end.
    pub problems: Vec<String>,
    /// Reading order, the tie-break of "latest".
    seq: u64,
}

fn add(map: &mut BTreeMap<String, f64>, key: &str, w: f64) {
    *map.entry(key.to_owned()).or_insert(0.0) += w;
}

/// The `n` largest entries, largest first (ties by name).
pub fn top(map: &BTreeMap<String, f64>, n: usize) -> Vec<(String, f64)> {
    let mut v: Vec<(String, f64)> = map.iter().map(|(k, w)| (k.clone(), *w)).collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v.truncate(n);
    v
}

impl Inventory {
    pub fn add(&mut self, line: Line) {
        self.lines.read += 1;
        self.seq += 1;
        match line {
            Line::Decision(d) => {
                self.lines.decisions += 1;
                self.add_decision(*d);
            }
            Line::Training(t) => {
                self.lines.training += 1;
                self.add_training(t);
            }
            Line::Skipped => self.lines.skipped += 1,
            Line::Malformed => self.lines.malformed += 1,
        }
    }

    fn see(&mut self, ts: Option<i64>, policy: Option<&String>) {
        if let Some(t) = ts {
            self.first = Some(self.first.map_or(t, |f| f.min(t)));
            self.last = Some(self.last.map_or(t, |l| l.max(t)));
        }
        if let Some(p) = policy {
            self.policies.insert(p.clone());
        }
    }

    fn add_decision(&mut self, d: DecisionLine) {
        self.see(d.ts, d.policy.as_ref());
        let w = d.weight;
        let would_block = d.decision == "block" || d.decision == "audit";
        let key = (
            d.identity.clone().unwrap_or_else(|| UNIDENTIFIED.into()),
            d.identity_source.clone().unwrap_or_default(),
        );
        let s = self.senders.entry(key.clone()).or_default();
        // Latest by timestamp; an undated line is later than none but earlier than a dated one.
        let at = d.ts.unwrap_or(i64::MIN);
        if s.role.is_empty() || at >= s.role_at.unwrap_or(i64::MIN) {
            s.role.clone_from(&d.role);
            s.role_at = Some(at);
        }
        s.sends += w;
        add(&mut s.decisions, &d.decision, w);
        add(&mut s.rules, &d.rule, w);
        add(&mut s.providers, &d.provider, w);
        if would_block {
            s.would_block += w;
            add(&mut self.would_block_by_rule, &d.rule, w);
        }
        if let Some(t) = &d.message_type {
            add(&mut s.message_types, t, w);
        }
        if let Some(e) = &d.endpoint {
            add(&mut s.endpoints, e, w);
        }
        if let Some(t) = &d.template_name {
            add(&mut s.templates, t, w);
        }
        if let Some(c) = &d.template_category {
            add(&mut s.template_categories, c, w);
        }
        if let Some(slot) = d.bucket.and_then(|b| s.score_histogram.get_mut(b)) {
            *slot += w;
        }
        if let Some(score) = d.score {
            s.scores.push((score, w));
        }
        for signal in &d.signals {
            add(&mut s.signals, signal, w);
        }
        if matches!(
            d.reason.as_str(),
            "allowed" | "general_assistant_origin" | "message_type_not_allowed"
        ) && d.rule != "no_rule"
            && d.role != "unknown"
        {
            add(&mut s.origin_rules, &d.rule, w);
        }
        if let Some(id) = &d.phone_number_id {
            add(&mut s.phone_numbers, id, w);
            let n = self
                .phone_numbers
                .entry((id.clone(), d.provider.clone()))
                .or_default();
            n.sends += w;
            add(&mut n.senders, &key.0, w);
        }
        match d.ts {
            Some(t) => self.dated.push((t, d.decision, w)),
            None => self.undated += w,
        }
    }

    fn add_training(&mut self, t: TrainingLine) {
        self.see(t.ts, t.policy.as_ref());
        let e = self.training.entry(t.endpoint.clone()).or_default();
        e.uploads += t.weight;
        e.records_seen = e.records_seen.saturating_add(t.records_seen);
        e.records_stripped = e.records_stripped.saturating_add(t.records_stripped);
        e.bytes_in = e.bytes_in.saturating_add(t.bytes_in);
        e.bytes_out = e.bytes_out.saturating_add(t.bytes_out);
        for (name, n) in &t.detectors {
            let slot = e.detectors.entry(name.clone()).or_insert(0);
            *slot = slot.saturating_add(*n);
        }
        add(&mut e.decisions, &t.decision, t.weight);
    }

    /// Undeclared senders: their latest role is `unknown` (no origin matched).
    pub fn undeclared(&self) -> Vec<&SenderKey> {
        self.senders
            .iter()
            .filter(|(_, s)| s.role == "unknown")
            .map(|(k, _)| k)
            .collect()
    }

    pub fn off_topic(&self, j: &Judgement) -> Vec<&SenderKey> {
        self.senders
            .iter()
            .filter(|(_, s)| s.off_topic(j))
            .map(|(k, _)| k)
            .collect()
    }

    pub fn ready(&self, j: &Judgement) -> bool {
        self.undeclared().is_empty() && self.off_topic(j).is_empty()
    }

    /// The bucket width of the timeline: the smallest that spans the period in few buckets.
    pub fn bucket_width(&self) -> i64 {
        let span = match (self.first, self.last) {
            (Some(f), Some(l)) => l.saturating_sub(f),
            _ => 0,
        };
        BUCKET_WIDTHS_MS
            .iter()
            .copied()
            .find(|w| span / w < MAX_BUCKETS)
            .unwrap_or(span / MAX_BUCKETS + 1)
    }

    /// Decisions per bucket start, in time order, empty buckets included.
    pub fn timeline(&self) -> Vec<(i64, Tally)> {
        let width = self.bucket_width();
        let mut buckets: BTreeMap<i64, Tally> = BTreeMap::new();
        if let (Some(f), Some(l)) = (self.first, self.last) {
            let mut b = f.div_euclid(width) * width;
            while b <= l {
                buckets.insert(b, Tally::default());
                let Some(next) = b.checked_add(width) else {
                    break;
                };
                b = next;
            }
        }
        for (t, decision, w) in &self.dated {
            let slot = buckets.entry(t.div_euclid(width) * width).or_default();
            match decision.as_str() {
                "allow" => slot.allow += w,
                "block" => slot.block += w,
                "audit" => slot.audit += w,
                _ => {}
            }
        }
        buckets.into_iter().collect()
    }
}
