//! Links between a phone number and a business-scoped user id of one person, as Meta's verified
//! webhooks name them (`messages[].from` with `from_user_id`, `contacts[].wa_id` with `user_id`),
//! so that a send addressed by the user id is kept in the number's conversation: one count, one
//! set of kept texts, whichever address a send carries.
//!
//! A link is kept per phone-number id (the business number the person wrote to), keyed by a
//! salted hash of (phone-number id, user id) as conversations are, in its own bounded key space:
//! `slots` keys `wa-guard/alias/<layout>/<slot>`, each holding at most `entries_per_slot`
//! links of [`ALIAS_ENTRY_BYTES`]. A link holds the number's conversation by its slot and tag,
//! never the number. It lives [`ALIAS_TTL_NANOS`] after the last delivery that named it; a full
//! key forgets its least recently confirmed link. Writes are compare-and-swap, as conversations'.

use super::{
    Address, ConversationKey, ConversationPolicy, MAX_ATTEMPTS, StateFailure, VALUE_HEADER_BYTES,
    keyed_hash,
};
use crate::shared_store::{SharedStore, StoreError};

/// The shared-data key prefix of link slots.
pub const ALIAS_KEY_PREFIX: &str = "wa-guard/alias/";

/// How long a link lives after the last verified delivery that named it: 30 days, the longest
/// window a conversation rule can have, so a link outlives every count and text it joins.
pub const ALIAS_TTL_NANOS: u64 = 30 * 86_400 * 1_000_000_000;

/// A link's bytes: tag 8, confirmed 8, the number's conversation slot 4 and tag 8.
pub(super) const ALIAS_ENTRY_BYTES: usize = 28;

/// The value's format version (first byte). A value of another version reads as empty.
const ALIAS_FORMAT: u8 = 1;

/// One link: the user id's tag, when a delivery last named it, the number's conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Link {
    tag: [u8; 8],
    confirmed: u64,
    slot: u32,
    target: [u8; 8],
}

impl Link {
    fn alive(&self, now: u64) -> bool {
        self.confirmed.saturating_add(ALIAS_TTL_NANOS) >= now
    }
}

/// Where the link of a user id lives: its slot's key and its tag.
fn alias_key(
    policy: &ConversationPolicy,
    salt: &str,
    phone_number_id: &str,
    user_id: &Address,
) -> ConversationKey {
    let (tag, slot) = keyed_hash(policy, "alias", salt, phone_number_id, user_id.key());
    ConversationKey {
        slot_key: policy.alias_slot_key(slot),
        tag,
    }
}

/// The conversation a send to `user_id` from `phone_number_id` is kept in when a verified
/// delivery linked that user id to a number: the number's. `None` when no live link is known
/// (the send is then kept under the user id itself).
pub fn resolve(
    store: &dyn SharedStore,
    policy: &ConversationPolicy,
    salt: &str,
    phone_number_id: &str,
    user_id: &Address,
    now: u64,
) -> Result<Option<ConversationKey>, StoreError> {
    let key = alias_key(policy, salt, phone_number_id, user_id);
    let Some((bytes, _)) = store.try_get(&key.slot_key)? else {
        return Ok(None);
    };
    let links = decode(&bytes, policy).unwrap_or_default();
    Ok(links
        .iter()
        .find(|l| l.tag == key.tag && l.alive(now))
        .map(|l| ConversationKey {
            slot_key: policy.slot_key(l.slot),
            tag: l.target,
        }))
}

/// What writing a link did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Linked {
    /// Links forgotten to make room (their key was full).
    pub evicted: usize,
    /// Attempts that met a changed value before the one that succeeded.
    pub retries: usize,
}

/// Records that `user_id` and `number` name one person writing to `phone_number_id` (a
/// verified delivery said so), confirmed at `now`. A full key forgets its least recently
/// confirmed other link.
pub fn link(
    store: &mut dyn SharedStore,
    policy: &ConversationPolicy,
    salt: &str,
    phone_number_id: &str,
    number: &Address,
    user_id: &Address,
    now: u64,
) -> Result<Linked, StateFailure> {
    let key = alias_key(policy, salt, phone_number_id, user_id);
    let (target, slot) = keyed_hash(policy, "conversation", salt, phone_number_id, number.key());
    let new = Link {
        tag: key.tag,
        confirmed: now,
        slot,
        target,
    };
    for retries in 0..MAX_ATTEMPTS {
        let stored = store.try_get(&key.slot_key)?;
        let mut links = stored
            .as_ref()
            .and_then(|(bytes, _)| decode(bytes, policy))
            .unwrap_or_default();
        links.retain(|l| l.tag != new.tag && l.alive(now));
        links.push(new);
        let mut evicted = 0;
        while links.len() > policy.entries_per_slot {
            let oldest = links
                .iter()
                .enumerate()
                .filter(|(_, l)| l.tag != new.tag)
                .min_by_key(|(_, l)| l.confirmed)
                .map(|(i, _)| i);
            let Some(oldest) = oldest else { break };
            links.remove(oldest);
            evicted += 1;
        }
        // A key never written yet: written only if nobody wrote it meanwhile.
        let cas = match stored {
            Some((_, version)) => Some(version),
            None if store.try_get(&key.slot_key)?.is_some() => continue,
            None => None,
        };
        match store.set(&key.slot_key, &encode(&links), cas) {
            Ok(()) => return Ok(Linked { evicted, retries }),
            Err(StoreError::Mismatch) => continue,
            Err(StoreError::Failed) => return Err(StateFailure::StoreFailed),
        }
    }
    Err(StateFailure::CasExhausted)
}

/// The largest value of a link slot under `policy`.
pub(super) fn max_value_bytes(policy: &ConversationPolicy) -> usize {
    VALUE_HEADER_BYTES.saturating_add(policy.entries_per_slot.saturating_mul(ALIAS_ENTRY_BYTES))
}

/// A stored value; `None` when it is not one this code wrote, or names a conversation slot
/// outside the policy's (it is then overwritten).
fn decode(bytes: &[u8], policy: &ConversationPolicy) -> Option<Vec<Link>> {
    let (&[format, count], mut rest) = bytes.split_first_chunk::<2>()?;
    if format != ALIAS_FORMAT {
        return None;
    }
    let mut links = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        let (entry, tail) = rest.split_first_chunk::<ALIAS_ENTRY_BYTES>()?;
        rest = tail;
        let (tag, entry) = entry.split_first_chunk::<8>()?;
        let (confirmed, entry) = entry.split_first_chunk::<8>()?;
        let (slot, target) = entry.split_first_chunk::<4>()?;
        let slot = u32::from_be_bytes(*slot);
        if slot >= policy.slots {
            return None;
        }
        links.push(Link {
            tag: *tag,
            confirmed: u64::from_be_bytes(*confirmed),
            slot,
            target: target.try_into().ok()?,
        });
    }
    rest.is_empty().then_some(links)
}

fn encode(links: &[Link]) -> Vec<u8> {
    let links = links
        .get(..links.len().min(usize::from(u8::MAX)))
        .unwrap_or_default();
    let mut out = vec![ALIAS_FORMAT, u8::try_from(links.len()).unwrap_or(u8::MAX)];
    for l in links {
        out.extend_from_slice(&l.tag);
        out.extend_from_slice(&l.confirmed.to_be_bytes());
        out.extend_from_slice(&l.slot.to_be_bytes());
        out.extend_from_slice(&l.target);
    }
    out
}
