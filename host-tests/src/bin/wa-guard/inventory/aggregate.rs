//! The inventory: every line read, folded into counts per sender, per phone number, per rule,
//! per time bucket and per training endpoint. Counts of decisions are weighted by 1/sample, so
//! a line of an allowed send sampled at 0.25 counts as four sends.

use std::collections::{BTreeMap, BTreeSet, HashSet};

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

/// Where the threshold scores are judged against came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThresholdSource {
    /// `--policy`'s `content.threshold` (or the engine's default when it names none).
    Policy,
    /// The `--suggest-policy` BASE's.
    Base,
    /// No policy given: the engine's default, assumed.
    Default,
}

impl ThresholdSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Policy => "policy",
            Self::Base => "base",
            Self::Default => "default",
        }
    }

    /// How the summaries say where the threshold came from.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Policy => "the --policy's content.threshold",
            Self::Base => "the --suggest-policy base's content.threshold",
            Self::Default => "the engine's default, assumed: no --policy was given",
        }
    }
}

/// How lines are judged: the classifier threshold, and where it came from.
#[derive(Debug, Clone, Copy)]
pub struct Judgement {
    pub threshold: f64,
    pub source: ThresholdSource,
}

/// The line counts of `lines` in the JSON.
#[derive(Debug, Default, Clone, Copy)]
pub struct LineCounts {
    pub read: u64,
    pub decisions: u64,
    pub training: u64,
    pub skipped: u64,
    pub malformed: u64,
    /// Filter lines read again (the same event, request id and time): counted once.
    pub duplicates: u64,
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
    pub scores: Vec<Scored>,
    /// Block and audit lines without a score, by rule: stopped before the classifier ran
    /// (or by a rule that needs no content), so they say nothing of what it sends.
    pub stopped_unscored: BTreeMap<String, f64>,
    pub signals: BTreeMap<String, f64>,
    pub templates: BTreeMap<String, f64>,
    pub template_categories: BTreeMap<String, f64>,
    pub providers: BTreeMap<String, f64>,
    /// Graph edges (`messages`, `message_templates`, ...).
    pub endpoints: BTreeMap<String, f64>,
    /// The origin ids its lines name as their rule (allowed, origin findings).
    pub origin_rules: BTreeMap<String, f64>,
}

/// The filter logs a score rounded to two decimals: a logged `0.71` is a score from 0.705 to
/// 0.715, so a logged score says on which side of a threshold the real one was only when it
/// is further than this from it.
pub const LOGGED_SCORE_ROUNDING: f64 = 0.005;

/// One scored line.
#[derive(Debug, Clone, Copy)]
pub struct Scored {
    /// The score as logged (two decimals).
    pub score: f64,
    /// 1/sample.
    pub weight: f64,
    /// The classifier itself blocked or audited the send (rule `content_classifier`): its
    /// score was at or above the deployed threshold, whatever the rounded score says.
    pub flagged: bool,
}

impl Scored {
    /// Surely at or above `threshold`: flagged by the classifier, or a logged score above it
    /// by more than the rounding.
    pub fn high(&self, threshold: f64) -> bool {
        self.flagged || self.score >= threshold + LOGGED_SCORE_ROUNDING
    }

    /// Perhaps at or above `threshold`: flagged, or a logged score that the rounding could
    /// have lifted from it. A sender vouched for as customer service has none.
    pub fn maybe_high(&self, threshold: f64) -> bool {
        self.flagged || self.score >= threshold - LOGGED_SCORE_ROUNDING
    }
}

impl Sender {
    /// Weighted scored sends, and those surely at or above the threshold ([`Scored::high`]).
    pub fn scored(&self, threshold: f64) -> (f64, f64) {
        self.scores.iter().fold((0.0, 0.0), |(all, high), s| {
            (
                all + s.weight,
                if s.high(threshold) {
                    high + s.weight
                } else {
                    high
                },
            )
        })
    }

    /// Scored lines, unweighted (one sampled line counts once), and those surely at or above
    /// the threshold.
    pub fn scored_lines(&self, threshold: f64) -> (usize, usize) {
        let high = self.scores.iter().filter(|s| s.high(threshold)).count();
        (self.scores.len(), high)
    }

    /// Scored lines that may be at or above the threshold ([`Scored::maybe_high`]).
    pub fn maybe_high_lines(&self, threshold: f64) -> usize {
        self.scores
            .iter()
            .filter(|s| s.maybe_high(threshold))
            .count()
    }

    /// This sender's lines together with another's (the same identity seen under another
    /// identity source): what the suggestion judges and declares for both.
    pub fn merged_with(&self, other: &Sender) -> Sender {
        let mut m = self.clone();
        m.sends += other.sends;
        m.would_block += other.would_block;
        m.scores.extend(other.scores.iter().copied());
        for (maps, from) in [
            (&mut m.message_types, &other.message_types),
            (&mut m.stopped_unscored, &other.stopped_unscored),
            (&mut m.rules, &other.rules),
            (&mut m.decisions, &other.decisions),
            (&mut m.signals, &other.signals),
        ] {
            for (k, v) in from {
                *maps.entry(k.clone()).or_insert(0.0) += v;
            }
        }
        for (slot, add) in m.score_histogram.iter_mut().zip(other.score_histogram) {
            *slot += add;
        }
        m
    }

    /// Strongest signals first, by weighted count.
    pub fn top_signals(&self, n: usize) -> Vec<(String, f64)> {
        top(&self.signals, n)
    }

    /// A declared service bot with a send the classifier flags: rule `content_classifier`,
    /// or a score at or above the threshold, whatever rule decided the line.
    pub fn off_topic(&self, j: &Judgement) -> bool {
        self.role == "customer_service"
            && (self.rules.contains_key("content_classifier")
                || self.scores.iter().any(|s| s.maybe_high(j.threshold)))
    }
}

#[derive(Debug, Default, Clone)]
pub struct PhoneNumber {
    /// Weighted sends by identity (the JSON's `senders`).
    pub senders: BTreeMap<String, f64>,
    /// The same by sender (identity and source), with what stopped them.
    pub users: BTreeMap<SenderKey, NumberUse>,
    pub sends: f64,
    /// Lines of sends that went through (allowed, or audited: an audit does not stop the
    /// send): none means the policy blocked every send from it.
    pub passed_lines: u64,
}

/// One sender's sends from one phone number.
#[derive(Debug, Default, Clone)]
pub struct NumberUse {
    pub sends: f64,
    /// Weighted blocked sends by rule.
    pub blocked: BTreeMap<String, f64>,
    /// Weighted audited sends (blocked under enforce) by rule.
    pub audited: BTreeMap<String, f64>,
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
    /// Sends replaced by the policy's hand-off message.
    pub handoff: f64,
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
    /// Why filter lines were not counted, by reason.
    pub malformed_reasons: BTreeMap<&'static str, u64>,
    /// Keys of the lines counted so far (the same line read twice counts once).
    seen: HashSet<u64>,
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
            Line::Decision(d) if self.seen_before(d.key) => self.lines.duplicates += 1,
            Line::Training(t) if self.seen_before(t.key) => self.lines.duplicates += 1,
            Line::Decision(d) => {
                self.lines.decisions += 1;
                self.add_decision(*d);
            }
            Line::Training(t) => {
                self.lines.training += 1;
                self.add_training(t);
            }
            Line::Skipped => self.lines.skipped += 1,
            Line::Malformed(why) => {
                self.lines.malformed += 1;
                *self.malformed_reasons.entry(why).or_insert(0) += 1;
            }
        }
    }

    /// Whether a line with this key was counted already (and remembers it).
    fn seen_before(&mut self, key: Option<u64>) -> bool {
        key.is_some_and(|k| !self.seen.insert(k))
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
        // A hand-off stopped the send as a block does (the policy's message went instead).
        let would_block = matches!(d.decision.as_str(), "block" | "audit" | "handoff");
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
            if d.score.is_none() {
                add(&mut s.stopped_unscored, &d.rule, w);
            }
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
            s.scores.push(Scored {
                score,
                weight: w,
                flagged: would_block && d.rule == "content_classifier",
            });
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
            let u = n.users.entry(key).or_default();
            u.sends += w;
            match d.decision.as_str() {
                "block" | "handoff" => add(&mut u.blocked, &d.rule, w),
                "audit" => add(&mut u.audited, &d.rule, w),
                _ => {}
            }
            if d.decision != "block" && d.decision != "handoff" {
                n.passed_lines += 1;
            }
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
                "handoff" => slot.handoff += w,
                _ => {}
            }
        }
        buckets.into_iter().collect()
    }
}
