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
use slot::Slot;

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

/// A recipient as conversations key it ([`address`]): a phone number's digits with its country
/// code, without the `+`, blanks, dashes, dots and brackets it may be written with and without a
/// leading `00` (`+34 612 345 678`, Meta's `34612345678` and `0034612345678` are one recipient),
/// or a business-scoped user id's letters (lowercased) and digits. `None` when it is neither
/// (see [`address`] for why). A national-format number (no country code) and a country's
/// alternative forms of one number (Mexico's `521`/`52`, Brazil's ninth digit) are keyed apart.
pub fn recipient_key(recipient: &str) -> Option<String> {
    address(recipient).ok().map(|a| a.key().to_owned())
}

/// The key of the conversation between a phone number and a recipient: a salted SHA-256 of
/// both (the recipient as [`recipient_key`] reads it; the phone-number id as rules compare
/// it). The tag and the slot come from different bytes of the hash. `None` when the recipient
/// is no address ([`address`]).
pub fn conversation_key(
    policy: &ConversationPolicy,
    salt: &str,
    phone_number_id: &str,
    recipient: &str,
) -> Option<ConversationKey> {
    let recipient = address(recipient).ok()?;
    Some(key_of(policy, salt, phone_number_id, &recipient))
}

/// The key of the conversation between a phone number and an address.
pub fn key_of(
    policy: &ConversationPolicy,
    salt: &str,
    phone_number_id: &str,
    recipient: &Address,
) -> ConversationKey {
    let (tag, slot) = keyed_hash(
        policy,
        "conversation",
        salt,
        phone_number_id,
        recipient.key(),
    );
    ConversationKey {
        slot_key: policy.slot_key(slot),
        tag,
    }
}

/// A salted SHA-256 of (`kind`, phone-number id, recipient key): 8 bytes for a tag, 8 others
/// for a slot among the policy's `slots`.
fn keyed_hash(
    policy: &ConversationPolicy,
    kind: &str,
    salt: &str,
    phone_number_id: &str,
    recipient: &str,
) -> ([u8; 8], u32) {
    crate::digest::tag_and_slot(
        &[
            salt.as_bytes(),
            kind.as_bytes(),
            crate::whatsapp::canonical_path_id(phone_number_id).as_bytes(),
            recipient.as_bytes(),
        ],
        policy.slots,
    )
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
    /// The recipient holds a digit or letter outside ASCII ([`address`]).
    UnreadableRecipient,
    /// The recipient is neither a phone number nor a business-scoped user id ([`address`]), or
    /// a send names a number and a user id that are not known as one person's.
    InvalidRecipient,
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
            Self::InvalidRecipient => "invalid_recipient",
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

mod address;
mod alias;
mod entry;
mod inbound;
mod policy;
pub mod scoring;
mod sender_ids;
mod slot;

pub use address::{Address, address};
pub use alias::{ALIAS_KEY_PREFIX, ALIAS_TTL_NANOS, Linked, link, resolve};
pub use entry::{Entry, message_id_hash, most_telling_part};
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
