//! One conversation's state ([`Entry`]): its count, the last inbound message, the recent
//! counted sends' times and the kept texts, and what a long text keeps.

use super::{BudgetPolicy, ConversationPolicy, SEND_TIMES, ScoringPolicy, scoring};
use sha2::{Digest, Sha256};

/// A hash of an inbound message's id (its `wamid`), as an entry keeps it.
pub fn message_id_hash(id: &str) -> [u8; 8] {
    let digest: [u8; 32] = Sha256::digest(id.as_bytes()).into();
    let mut out = [0u8; 8];
    for (o, d) in out.iter_mut().zip(digest) {
        *o = d;
    }
    out
}

/// One conversation's state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry {
    pub tag: [u8; 8],
    /// When it was last written (nanoseconds since the epoch).
    pub updated: u64,
    /// When the recipient's last inbound message was recorded (0: never).
    pub last_inbound: u64,
    /// Sends since then, within the budget's window.
    pub unanswered: u32,
    /// When the first of those sends was made (0: none).
    pub unanswered_since: u64,
    /// When the last of those sends was made (0: none).
    pub last_counted: u64,
    /// The last inbound message recorded: when it was written (whole seconds, as nanoseconds)
    /// and a hash of its id. A message at or before it is a replay.
    pub last_message: (u64, [u8; 8]),
    /// When the most recent counted sends were made, oldest first, at most [`SEND_TIMES`]: an
    /// inbound message leaves counted the sends made after it was written.
    pub send_times: Vec<u64>,
    /// The recent sends' texts, oldest first, with when they were sent.
    pub texts: Vec<(u64, String)>,
}

impl Entry {
    pub(super) fn new(tag: [u8; 8]) -> Self {
        Self {
            tag,
            ..Self::default()
        }
    }

    /// The sends counted against the budget at `now`: none once the *last* of them is older
    /// than the window (the recipient has been left alone that long). Counting from the first
    /// would let a full count expire while sends continue, so up to twice the cap could go out
    /// within one window.
    pub fn unanswered_at(&self, now: u64, budget: &BudgetPolicy) -> u32 {
        if self.last_counted.saturating_add(budget.window_nanos) < now {
            0
        } else {
            self.unanswered
        }
    }

    /// Counts a send made at `now`.
    pub fn count_send(&mut self, now: u64, budget: &BudgetPolicy) {
        self.count_sends(now, budget, 1);
    }

    /// Counts the `sends` messages of one request made at `now` (a provider's bulk to one
    /// recipient delivers several).
    pub fn count_sends(&mut self, now: u64, budget: &BudgetPolicy, sends: u32) {
        let count = self.unanswered_at(now, budget);
        if count == 0 {
            self.unanswered_since = now;
        }
        self.unanswered = count.saturating_add(sends.max(1));
        self.last_counted = self.last_counted.max(now);
        if count == 0 {
            self.send_times.clear();
        }
        for _ in 0..sends.max(1).min(u32::try_from(SEND_TIMES).unwrap_or(8)) {
            self.send_times.push(now);
        }
        let excess = self.send_times.len().saturating_sub(SEND_TIMES);
        self.send_times.drain(..excess);
    }

    /// The recipient wrote a message at `written` (its webhook `timestamp`, whole seconds),
    /// recorded at `now`: see [`Entry::record_message`], for a message without an id.
    pub fn record_inbound(&mut self, now: u64, written: u64) -> bool {
        self.record_message(now, written, [0; 8])
    }

    /// The recipient wrote the message `id` (a hash of its `wamid`) at `written` (whole seconds,
    /// as nanoseconds), recorded at `now`. A message written before the last one recorded, or
    /// that one again, is a replay and changes nothing (returns false). Otherwise the count is
    /// the sends made after it was written: none when it is newer than them all, and a reply
    /// written between two sends (its webhook arriving after both) leaves the later counted.
    /// A send in the same second as the message counts as after it (fail closed); sends older
    /// than the [`SEND_TIMES`] kept count as after it unless it is newer than the oldest kept.
    pub fn record_message(&mut self, now: u64, written: u64, id: [u8; 8]) -> bool {
        let (last_written, last_id) = self.last_message;
        let seen = self.last_inbound != 0 || last_written != 0;
        if seen && (written < last_written || (written == last_written && id == last_id)) {
            return false;
        }
        let after = self.send_times.iter().filter(|t| **t > written).count();
        let untracked = usize::try_from(self.unanswered)
            .unwrap_or(usize::MAX)
            .saturating_sub(self.send_times.len());
        let oldest_after = self.send_times.first().is_none_or(|t| *t > written);
        let after = if oldest_after {
            after.saturating_add(untracked)
        } else {
            after
        };
        let count = u32::try_from(after)
            .unwrap_or(u32::MAX)
            .min(self.unanswered);
        let keep = usize::try_from(count).unwrap_or(usize::MAX);
        let drop = self.send_times.len().saturating_sub(keep);
        self.send_times.drain(..drop);
        self.unanswered = count;
        if count == 0 {
            self.unanswered_since = 0;
        }
        self.last_inbound = self.last_inbound.max(now);
        self.last_message = (written, id);
        true
    }

    /// The texts sent within the scoring window before `now`, oldest first.
    pub fn recent_texts(&self, now: u64, scoring: &ScoringPolicy) -> Vec<&str> {
        self.texts
            .iter()
            .filter(|(at, _)| at.saturating_add(scoring.window_nanos) >= now)
            .map(|(_, t)| t.as_str())
            .collect()
    }

    /// Keeps a send's text, within the policy's bounds. Each text gets an equal share of
    /// `max_text_bytes` ([`ScoringPolicy::text_share`]), so that one long text cannot push its
    /// predecessors out; a longer text keeps its most telling part ([`most_telling_part`]),
    /// `rank` saying how assistant-like a sentence reads. The oldest texts go beyond
    /// `max_texts`.
    pub fn push_text(
        &mut self,
        now: u64,
        text: &str,
        scoring: &ScoringPolicy,
        rank: &dyn Fn(&str) -> f64,
    ) {
        if text.trim().is_empty() {
            return;
        }
        let kept = most_telling_part(text, scoring.text_share(), rank);
        self.texts.push((now, kept));
        self.bound_texts(now, scoring);
    }

    /// Drops texts past the window, then the oldest beyond the count and byte bounds (a text
    /// kept under a larger share, by an earlier policy, keeps its end within this one's).
    pub(super) fn bound_texts(&mut self, now: u64, scoring: &ScoringPolicy) {
        self.texts
            .retain(|(at, _)| at.saturating_add(scoring.window_nanos) >= now);
        let share = scoring.text_share();
        for (_, t) in &mut self.texts {
            if t.len() > share {
                *t = tail_within(t, share).to_owned();
            }
        }
        let excess = self.texts.len().saturating_sub(scoring.max_texts);
        self.texts.drain(..excess);
        while self.texts.iter().map(|(_, t)| t.len()).sum::<usize>() > scoring.max_text_bytes {
            if self.texts.is_empty() {
                break;
            }
            self.texts.remove(0);
        }
    }

    /// Whether the entry holds a count or a text that still matters at `now`: such an entry is
    /// never evicted to make room for another.
    pub(super) fn live(&self, now: u64, policy: &ConversationPolicy) -> bool {
        let counted = policy
            .budget
            .as_ref()
            .is_some_and(|b| self.unanswered_at(now, b) > 0);
        let texts = policy
            .scoring
            .as_ref()
            .is_some_and(|s| !self.recent_texts(now, s).is_empty());
        counted || texts
    }

    /// Whether anything of the entry still matters at `now`.
    pub(super) fn alive(&self, now: u64, ttl_nanos: u64) -> bool {
        self.updated.saturating_add(ttl_nanos) >= now
    }
}

/// What a conversation keeps of a text longer than `share` bytes: its first and last sentences
/// (where a split answer joins its neighbours), then its full sentences from the most
/// assistant-like down (by `rank`, at most `scoring::MAX_SENTENCES` of them ranked), each while
/// it fits, joined back in their order. When not even one fits, the text's last `share` bytes.
/// The filler a long text is padded with therefore cannot push out the part that matters.
pub fn most_telling_part(text: &str, share: usize, rank: &dyn Fn(&str) -> f64) -> String {
    if text.len() <= share {
        return text.to_owned();
    }
    let (all, _) = scoring::sentences(text, 0, false);
    let last = all.len().saturating_sub(1);
    let mut order: Vec<(usize, f64)> = all
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let priority = if i == 0 || i == last {
                f64::INFINITY
            } else if i < scoring::MAX_SENTENCES && scoring::is_full(s.text) {
                rank(s.text)
            } else {
                f64::NEG_INFINITY
            };
            (i, priority)
        })
        .collect();
    order.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut kept = vec![false; all.len()];
    let mut used = 0usize;
    for (i, _) in order {
        let Some(s) = all.get(i) else { continue };
        let cost = s.text.len().saturating_add(usize::from(used > 0));
        if used.saturating_add(cost) <= share
            && let Some(k) = kept.get_mut(i)
        {
            *k = true;
            used = used.saturating_add(cost);
        }
    }
    let chosen: Vec<&scoring::Sentence<'_>> = all
        .iter()
        .zip(&kept)
        .filter(|(_, k)| **k)
        .map(|(s, _)| s)
        .collect();
    let joined = scoring::join(&chosen);
    if chosen.is_empty() || joined.len() > share {
        return tail_within(text, share).to_owned();
    }
    joined
}

/// The last `max` bytes of `text`, starting on a character boundary.
fn tail_within(text: &str, max: usize) -> &str {
    let mut start = text.len().saturating_sub(max);
    while start < text.len() && !text.is_char_boundary(start) {
        start = start.saturating_add(1);
    }
    text.get(start..).unwrap_or_default()
}
