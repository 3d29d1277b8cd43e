//! Conversations: what the filter remembers across the sends to one recipient from one phone
//! number, and the recipient's inbound messages from Meta's webhooks (issue 16).
//!
//! Per conversation, the key of which is a salted hash of (phone-number id, recipient), an
//! [`Entry`] holds the time of the recipient's last inbound message, the sends since then (the
//! unanswered count, for the `unanswered_budget` rule), and the recent sends' texts (for
//! conversation-level scoring). Neither the number nor the recipient is ever stored or logged.
//! A provider send's phone-number id is its sender id, or the Graph id the policy maps that
//! sender id to ([`SenderIds`]), which is the one Meta's webhooks name.
//!
//! Memory is bounded whatever the number of recipients. Envoy's shared data never deletes a
//! key, so the bound comes from the key space and the value size: a conversation lives in one
//! of `slots` keys (`wa-guard/conv/<layout>/<slot>`, slot = hash mod `slots`, layout a
//! fingerprint of the slots' sizes), and a key holds at most
//! `entries_per_slot` conversations: beyond that, the least recently updated of those holding
//! nothing live is evicted, and a write that would evict a live count is refused instead
//! ([`StateFailure::SlotFull`], then the policy's `on_store_error`). Entries past
//! their lifetime are ignored when read and dropped when their key is written. The whole state
//! therefore never exceeds [`ConversationPolicy::max_bytes`]: `slots` × (key + the largest
//! value), whatever traffic comes.
//!
//! Updates are read-modify-write with the version read (compare-and-swap): a write that meets a
//! value changed by another worker is retried from a fresh read, at most [`MAX_ATTEMPTS`]
//! times. What happens when that fails is the policy's `on_store_error`. Envoy takes a cas of
//! 0 as "whatever the value", and a key that was never written accepts any cas, so the first
//! write of a slot is guarded by a read right before it: two workers creating the same slot at
//! the same instant can still both win, once per slot in the life of the process.

use crate::shared_store::{SharedStore, StoreError};
use sha2::{Digest, Sha256};

/// Read-modify-write attempts before an update counts as failed (the store kept changing).
pub const MAX_ATTEMPTS: usize = 3;

/// The shared-data key prefix of conversation slots.
pub const KEY_PREFIX: &str = "wa-guard/conv/";

/// The counter of state failures and evictions: `wa_guard_conversation_state_total{result}`.
pub const STATE_METRIC: &str = "wa_guard_conversation_state_total";

/// The value's format version (first byte). A value of another version reads as empty.
const FORMAT: u8 = 3;
/// How many counted send times an entry keeps, the most recent.
pub const SEND_TIMES: usize = 8;
/// An entry's largest fixed part: tag 8, updated 8, last inbound 8, unanswered 4, since 8, last
/// counted 8, last message's time 8 and id 8, send times 1 + 8 × [`SEND_TIMES`], texts 1.
const ENTRY_HEADER_BYTES: usize = 126;
/// A text's fixed part: time 8, length 2.
const TEXT_HEADER_BYTES: usize = 10;
/// A value's fixed part: format 1, entries 1.
const VALUE_HEADER_BYTES: usize = 2;

const NANOS_PER_SECOND: u64 = 1_000_000_000;

/// Where a conversation lives: its slot's key and its tag in that slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationKey {
    pub slot_key: String,
    pub tag: [u8; 8],
}

/// A recipient as conversations key it: its ASCII letters (lowercased) and digits, without
/// the spaces, dashes, dots, brackets and `+` it may be written with, and without a leading
/// `00` international prefix, so `+34 612 345 678`, Meta's `34612345678` and `0034612345678`
/// are one recipient. `None` when it holds a digit or letter outside ASCII (`٣٤٦...`, a
/// full-width digit): such a recipient is refused as unreadable rather than collapsed into
/// another. A national-format number (no country code) and a country's alternative forms of
/// one number (Mexico's `521`/`52`, Brazil's ninth digit) are keyed apart.
pub fn recipient_key(recipient: &str) -> Option<String> {
    if recipient
        .chars()
        .any(|c| c.is_alphanumeric() && !c.is_ascii())
    {
        return None;
    }
    let key: String = recipient
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let international = key.len() > 2 && key.bytes().all(|b| b.is_ascii_digit());
    let key = match key.strip_prefix("00") {
        Some(rest) if international => rest.to_owned(),
        _ => key,
    };
    (!key.is_empty()).then_some(key)
}

/// The key of the conversation between a phone number and a recipient: a salted SHA-256 of
/// both (the recipient as [`recipient_key`] reads it; the phone-number id as rules compare
/// it). The tag and the slot come from different bytes of the hash. `None` when the recipient
/// is unreadable.
pub fn conversation_key(
    policy: &ConversationPolicy,
    salt: &str,
    phone_number_id: &str,
    recipient: &str,
) -> Option<ConversationKey> {
    let recipient = recipient_key(recipient)?;
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    h.update([0]);
    h.update(b"conversation");
    h.update([0]);
    h.update(crate::whatsapp::canonical_path_id(phone_number_id).as_bytes());
    h.update([0]);
    h.update(recipient.as_bytes());
    let digest: [u8; 32] = h.finalize().into();
    let mut tag = [0u8; 8];
    let mut spread = [0u8; 8];
    for (i, b) in digest.iter().enumerate() {
        if let Some(t) = tag.get_mut(i) {
            *t = *b;
        } else if let Some(s) = i.checked_sub(8).and_then(|j| spread.get_mut(j)) {
            *s = *b;
        }
    }
    let slot = u64::from_be_bytes(spread) % u64::from(policy.slots.max(1));
    Some(ConversationKey {
        slot_key: policy.slot_key(u32::try_from(slot).unwrap_or(0)),
        tag,
    })
}

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
    fn new(tag: [u8; 8]) -> Self {
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
    fn bound_texts(&mut self, now: u64, scoring: &ScoringPolicy) {
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
    fn live(&self, now: u64, policy: &ConversationPolicy) -> bool {
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
    fn alive(&self, now: u64, ttl_nanos: u64) -> bool {
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

/// The conversations of one slot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Slot {
    entries: Vec<Entry>,
}

impl Slot {
    /// A stored value; `None` when it is not one this code wrote (it is then overwritten).
    fn decode(bytes: &[u8]) -> Option<Self> {
        let mut r = Reader { bytes };
        if r.u8()? != FORMAT {
            return None;
        }
        let count = r.u8()?;
        let mut entries = Vec::with_capacity(usize::from(count));
        for _ in 0..count {
            let mut entry = Entry {
                tag: r.array()?,
                updated: r.u64()?,
                last_inbound: r.u64()?,
                unanswered: r.u32()?,
                unanswered_since: r.u64()?,
                last_counted: r.u64()?,
                last_message: (r.u64()?, r.array()?),
                send_times: Vec::new(),
                texts: Vec::new(),
            };
            let sends = r.u8()?;
            if usize::from(sends) > SEND_TIMES {
                return None;
            }
            for _ in 0..sends {
                entry.send_times.push(r.u64()?);
            }
            let texts = r.u8()?;
            for _ in 0..texts {
                let at = r.u64()?;
                let len = usize::from(r.u16()?);
                let text = std::str::from_utf8(r.take(len)?).ok()?;
                entry.texts.push((at, text.to_owned()));
            }
            entries.push(entry);
        }
        r.bytes.is_empty().then_some(Self { entries })
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = vec![FORMAT, u8::try_from(self.entries.len()).unwrap_or(u8::MAX)];
        for e in self.entries.iter().take(usize::from(u8::MAX)) {
            out.extend_from_slice(&e.tag);
            out.extend_from_slice(&e.updated.to_be_bytes());
            out.extend_from_slice(&e.last_inbound.to_be_bytes());
            out.extend_from_slice(&e.unanswered.to_be_bytes());
            out.extend_from_slice(&e.unanswered_since.to_be_bytes());
            out.extend_from_slice(&e.last_counted.to_be_bytes());
            out.extend_from_slice(&e.last_message.0.to_be_bytes());
            out.extend_from_slice(&e.last_message.1);
            let sends = e
                .send_times
                .get(e.send_times.len().saturating_sub(SEND_TIMES)..);
            let sends = sends.unwrap_or_default();
            out.push(u8::try_from(sends.len()).unwrap_or(0));
            for t in sends {
                out.extend_from_slice(&t.to_be_bytes());
            }
            let texts: Vec<&(u64, String)> = e
                .texts
                .iter()
                .filter(|(_, t)| t.len() <= usize::from(u16::MAX))
                .take(usize::from(u8::MAX))
                .collect();
            out.push(u8::try_from(texts.len()).unwrap_or(u8::MAX));
            for (at, text) in texts {
                out.extend_from_slice(&at.to_be_bytes());
                out.extend_from_slice(&u16::try_from(text.len()).unwrap_or(0).to_be_bytes());
                out.extend_from_slice(text.as_bytes());
            }
        }
        out
    }

    /// Puts `entry` in (replacing its tag's), drops what has expired, bounds every entry's
    /// texts to the policy, and, beyond the slot's size, evicts the least recently updated of
    /// the conversations that hold nothing live (no count within the budget's window, no text
    /// within the scoring window). Returns how many were evicted, or `None` when every other
    /// conversation is live: a live count is never evicted silently (a flood of sends to other
    /// recipients would otherwise restart it), and the write is refused instead.
    fn put(&mut self, entry: Entry, policy: &ConversationPolicy, now: u64) -> Option<usize> {
        let ttl = policy.ttl_nanos();
        let tag = entry.tag;
        self.entries.retain(|e| e.tag != tag && e.alive(now, ttl));
        self.entries.push(entry);
        for e in &mut self.entries {
            match &policy.scoring {
                Some(s) => e.bound_texts(now, s),
                None => e.texts.clear(),
            }
        }
        let mut evicted = 0;
        while self.entries.len() > policy.entries_per_slot {
            let idle = self
                .entries
                .iter()
                .enumerate()
                .filter(|(_, e)| e.tag != tag && !e.live(now, policy))
                .min_by_key(|(_, e)| e.updated)
                .map(|(i, _)| i)?;
            self.entries.remove(idle);
            evicted += 1;
        }
        Some(evicted)
    }
}

/// A bounds-checked reader of a stored value.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.bytes.split_at_checked(n)?;
        self.bytes = rest;
        Some(head)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    fn u8(&mut self) -> Option<u8> {
        self.array::<1>().map(|[b]| b)
    }

    fn u16(&mut self) -> Option<u16> {
        self.array().map(u16::from_be_bytes)
    }

    fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_be_bytes)
    }

    fn u64(&mut self) -> Option<u64> {
        self.array().map(u64::from_be_bytes)
    }
}

/// Why the state could not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateFailure {
    /// The host refused a read or a write, or gave no clock.
    StoreFailed,
    /// Every attempt met a value another worker had changed.
    CasExhausted,
    /// The send names no recipient (a Twilio Conversations v1 message, a Sinch `contact_id`):
    /// it has no conversation to count in.
    NoRecipient,
    /// The send names no sender the rules can key it by (a 360dialog policy entry without
    /// `sender`).
    NoSender,
    /// The send names several recipients (a provider's bulk or group send).
    MultipleRecipients,
    /// The recipient holds a digit or letter outside ASCII ([`recipient_key`]).
    UnreadableRecipient,
    /// The conversation's slot holds `entries_per_slot` other live conversations (each with a
    /// count or a text that still matters): none is evicted for it.
    SlotFull,
}

impl StateFailure {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::StoreFailed => "store_failed",
            Self::CasExhausted => "cas_exhausted",
            Self::NoRecipient => "no_recipient",
            Self::NoSender => "no_sender",
            Self::MultipleRecipients => "multiple_recipients",
            Self::UnreadableRecipient => "unreadable_recipient",
            Self::SlotFull => "slot_full",
        }
    }
}

impl From<StoreError> for StateFailure {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Mismatch => Self::CasExhausted,
            StoreError::Failed => Self::StoreFailed,
        }
    }
}

/// Why a write did not happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteError {
    /// The host refused it, or the slot changed since it was read.
    Store(StoreError),
    /// Every other conversation of the slot is live ([`StateFailure::SlotFull`]).
    SlotFull,
}

impl From<StoreError> for WriteError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

/// One read of a conversation: its entry as of `now` (a fresh one when absent or expired),
/// and what is needed to write it back with compare-and-swap.
#[derive(Debug, Clone)]
pub struct Snapshot {
    slot: Slot,
    version: Option<u32>,
    pub entry: Entry,
}

/// Reads a conversation.
pub fn read(
    store: &dyn SharedStore,
    key: &ConversationKey,
    policy: &ConversationPolicy,
    now: u64,
) -> Result<Snapshot, StoreError> {
    let stored = store.try_get(&key.slot_key)?;
    let (slot, version) = match stored {
        Some((bytes, version)) => (Slot::decode(&bytes).unwrap_or_default(), Some(version)),
        None => (Slot::default(), None),
    };
    let entry = slot
        .entries
        .iter()
        .find(|e| e.tag == key.tag && e.alive(now, policy.ttl_nanos()))
        .cloned()
        .unwrap_or_else(|| Entry::new(key.tag));
    Ok(Snapshot {
        slot,
        version,
        entry,
    })
}

impl Snapshot {
    /// Writes `entry` back if the slot is still as read. Returns the conversations evicted.
    pub fn write(
        mut self,
        store: &mut dyn SharedStore,
        key: &ConversationKey,
        mut entry: Entry,
        policy: &ConversationPolicy,
        now: u64,
    ) -> Result<usize, WriteError> {
        entry.updated = now;
        let evicted = self
            .slot
            .put(entry, policy, now)
            .ok_or(WriteError::SlotFull)?;
        // A slot never written yet: written only if nobody wrote it meanwhile (Envoy takes a
        // cas of 0 as "any", so the absence is checked again right before).
        let cas = match self.version {
            Some(v) => Some(v),
            None if store.try_get(&key.slot_key)?.is_some() => {
                return Err(StoreError::Mismatch.into());
            }
            None => None,
        };
        store.set(&key.slot_key, &self.slot.encode(), cas)?;
        Ok(evicted)
    }
}

/// What an update did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Updated {
    pub entry: Entry,
    pub evicted: usize,
    /// Attempts that met a changed value before the one that succeeded.
    pub retries: usize,
}

/// Read-modify-write of one conversation: `change` is applied to a fresh read on every attempt.
pub fn update(
    store: &mut dyn SharedStore,
    key: &ConversationKey,
    policy: &ConversationPolicy,
    now: u64,
    change: &mut dyn FnMut(&mut Entry),
) -> Result<Updated, StateFailure> {
    for retries in 0..MAX_ATTEMPTS {
        let snapshot = read(store, key, policy, now)?;
        let mut entry = snapshot.entry.clone();
        change(&mut entry);
        match snapshot.write(store, key, entry.clone(), policy, now) {
            Ok(evicted) => {
                return Ok(Updated {
                    entry,
                    evicted,
                    retries,
                });
            }
            Err(WriteError::Store(StoreError::Mismatch)) => continue,
            Err(WriteError::Store(StoreError::Failed)) => return Err(StateFailure::StoreFailed),
            Err(WriteError::SlotFull) => return Err(StateFailure::SlotFull),
        }
    }
    Err(StateFailure::CasExhausted)
}

/// The counters of evictions and compare-and-swap retries.
pub fn state_metrics(evicted: usize, retries: usize) -> Vec<(String, u64)> {
    let n = |x: usize| u64::try_from(x).unwrap_or(u64::MAX);
    let mut out = Vec::new();
    if evicted > 0 {
        out.push((format!("{STATE_METRIC}.result.evicted"), n(evicted)));
    }
    if retries > 0 {
        out.push((format!("{STATE_METRIC}.result.cas_retry"), n(retries)));
    }
    out
}

mod inbound;
mod policy;
pub mod scoring;
mod sender_ids;

pub use inbound::{
    INBOUND_METRIC, Inbound, InboundReport, MAX_INBOUND_PER_DELIVERY, inbound_messages,
    record_inbound,
};
pub use policy::{
    BudgetPolicy, ConversationPolicy, MAX_STATE_BYTES, MAX_VALUE_BYTES, SALT_PLACEHOLDER,
    ScoringPolicy, salt_problem,
};
pub use sender_ids::{SenderIds, sender_id};

#[cfg(test)]
mod tests;
