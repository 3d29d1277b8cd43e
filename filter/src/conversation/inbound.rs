//! Inbound messages of a verified webhook delivery: read from Meta's envelope, bounded, and
//! recorded in their conversations (a fresh message that is newer than the last one recorded
//! leaves counted only the sends made after it was written).

use super::{
    Address, ConversationPolicy, Entry, NANOS_PER_SECOND, STATE_METRIC, StateFailure, key_of, link,
    state_metrics, update,
};
use crate::shared_store::SharedStore;
use serde_json::Value;

/// The counter of inbound messages recorded from verified webhooks.
pub const INBOUND_METRIC: &str = "wa_guard_conversation_inbound_total";

/// Inbound messages recorded from one delivery at most (Meta batches far fewer); the rest of a
/// larger delivery is forwarded but not recorded.
pub const MAX_INBOUND_PER_DELIVERY: usize = 100;

/// An inbound message of a webhook delivery: the business number it was sent to, its sender,
/// and when it was written (its `timestamp`, seconds since the epoch; `None` when absent or
/// unreadable, and then it restarts nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    pub phone_number_id: String,
    pub from: String,
    pub timestamp: Option<u64>,
    /// Its `id` (a `wamid`), when present: two messages of one second are told apart by it.
    pub id: Option<String>,
    /// When `from` is the sender's phone number, the business-scoped user ids the delivery names
    /// for the same sender (`from_user_id`, the contact's `user_id`): each is linked to the
    /// number ([`super::link`]), so sends addressed by it are kept in the number's conversation.
    pub user_ids: Vec<String>,
}

/// The inbound messages of a verified delivery: each `entry[].changes[].value.messages[]` with
/// a `from` or a `from_user_id`, under that value's `metadata.phone_number_id`, once for every id
/// it names its sender by ([`senders`]: phone number and business-scoped user id), so a reply
/// resets the conversations of sends addressed to either. At most
/// [`MAX_INBOUND_PER_DELIVERY`]; a body that is not such JSON has none. Statuses (`statuses[]`:
/// delivered, read) are not messages from the recipient and reset nothing.
pub fn inbound_messages(body: &[u8]) -> Vec<Inbound> {
    let Ok(doc) = crate::strict_json::from_slice(body) else {
        return Vec::new();
    };
    let values = array(&doc, "entry")
        .flat_map(|e| array(e, "changes"))
        .filter_map(|c| c.get("value"));
    let mut found = Vec::new();
    for value in values {
        let Some(pnid) = value
            .get("metadata")
            .and_then(|m| m.get("phone_number_id"))
            .and_then(Value::as_str)
            .filter(|p| !p.trim().is_empty())
        else {
            continue;
        };
        let contacts: Vec<&Value> = array(value, "contacts").collect();
        for m in array(value, "messages") {
            let timestamp = m.get("timestamp").and_then(seconds);
            let id = m.get("id").and_then(Value::as_str).map(str::to_owned);
            let sender = senders(m, &contacts);
            for from in sender.ids {
                if found.len() >= MAX_INBOUND_PER_DELIVERY {
                    break;
                }
                let user_ids = if Some(&from) == sender.number.as_ref() {
                    sender.user_ids.clone()
                } else {
                    Vec::new()
                };
                let inbound = Inbound {
                    phone_number_id: pnid.to_owned(),
                    from,
                    timestamp,
                    id: id.clone(),
                    user_ids,
                };
                if !found.contains(&inbound) {
                    found.push(inbound);
                }
            }
        }
    }
    found
}

/// The ids a message names its sender by.
struct Sender {
    /// Every one, each once: the phone number, then the user ids.
    ids: Vec<String>,
    /// The phone number: `from`, or the `wa_id` of its contact when the message names only a
    /// user id.
    number: Option<String>,
    /// The business-scoped user ids: `from_user_id`, the contact's `user_id`.
    user_ids: Vec<String>,
}

/// Every id a message names its sender by: its `from` (the phone number, `wa_id`), its
/// `from_user_id` (Meta's business-scoped user id), and the `user_id` and `wa_id` of the
/// delivery's contact whose `wa_id` is that `from` (or of its only contact). A send addressed to
/// any of them is in a conversation this message answers.
fn senders(m: &Value, contacts: &[&Value]) -> Sender {
    let text = |v: &Value, name: &str| {
        v.get(name)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let from = text(m, "from");
    let contact = match contacts {
        [only] if from.is_none() || text(only, "wa_id").is_none_or(|w| Some(w) == from) => {
            Some(*only)
        }
        _ => contacts
            .iter()
            .find(|c| from.is_some() && text(c, "wa_id") == from)
            .copied(),
    };
    let number = from.or_else(|| contact.and_then(|c| text(c, "wa_id")));
    let mut user_ids: Vec<String> = Vec::new();
    let named = [
        text(m, "from_user_id"),
        contact.and_then(|c| text(c, "user_id")),
    ];
    for id in named.into_iter().flatten() {
        if !user_ids.contains(&id) && Some(&id) != number.as_ref() {
            user_ids.push(id);
        }
    }
    let ids = number.iter().chain(&user_ids).cloned().collect();
    Sender {
        ids,
        number,
        user_ids,
    }
}

/// A webhook `timestamp`: Meta's string of seconds (a number is read too).
pub(super) fn seconds(v: &Value) -> Option<u64> {
    match v {
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse().ok()
        }
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

pub(super) fn array<'a>(v: &'a Value, name: &str) -> impl Iterator<Item = &'a Value> {
    v.get(name).and_then(Value::as_array).into_iter().flatten()
}

/// Records a verified delivery's inbound messages: each one's conversation restarts its count.
/// A signed delivery can be captured and replayed, so a message restarts a count only when
/// its `timestamp` is within `inbound_max_age` of `now` (either way: a clock ahead of the
/// proxy's is no fresher) and it is newer than the last message recorded (by timestamp, then
/// id); any other is counted as `stale` or `replayed` and changes nothing. A recorded message
/// leaves counted the sends made after it was written ([`Entry::record_message`]), so even a
/// replay that got through could not lower a count below what the latest reply left. Returns how many were recorded and
/// the failures met (each counted by the glue).
pub fn record_inbound(
    store: &mut dyn SharedStore,
    policy: &ConversationPolicy,
    salt: &str,
    inbound: &[Inbound],
    now: u64,
) -> InboundReport {
    let mut report = InboundReport::default();
    for m in inbound {
        let written = m
            .timestamp
            .map(|t| t.saturating_mul(NANOS_PER_SECOND))
            .filter(|w| now.abs_diff(*w) <= policy.inbound_max_age_nanos);
        let Some(written) = written else {
            report.stale = report.stale.saturating_add(1);
            continue;
        };
        let from = match super::address(&m.from) {
            Ok(a) => a,
            Err(failure) => {
                report.failures.push(failure);
                continue;
            }
        };
        let key = key_of(policy, salt, &m.phone_number_id, &from);
        let mut restarted = false;
        let id = super::message_id_hash(m.id.as_deref().unwrap_or_default());
        let change = &mut |e: &mut Entry| restarted = e.record_message(now, written, id);
        match update(store, &key, policy, now, change) {
            Ok(done) if !restarted => {
                report.replayed = report.replayed.saturating_add(1);
                report.retries = report.retries.saturating_add(done.retries);
            }
            Ok(done) => {
                report.recorded = report.recorded.saturating_add(1);
                report.evicted = report.evicted.saturating_add(done.evicted);
                report.retries = report.retries.saturating_add(done.retries);
            }
            Err(failure) => report.failures.push(failure),
        }
    }
    record_links(store, policy, salt, inbound, now, &mut report);
    report
}

/// Links each user id a verified delivery names to its sender's phone number ([`link`]),
/// whatever the message's age: the link is Meta's word on who the sender is, not a reply.
fn record_links(
    store: &mut dyn SharedStore,
    policy: &ConversationPolicy,
    salt: &str,
    inbound: &[Inbound],
    now: u64,
    report: &mut InboundReport,
) {
    for m in inbound {
        let Ok(number @ Address::Number(_)) = super::address(&m.from) else {
            continue;
        };
        for user_id in &m.user_ids {
            let Ok(user_id @ Address::UserId(_)) = super::address(user_id) else {
                continue;
            };
            match link(
                store,
                policy,
                salt,
                &m.phone_number_id,
                &number,
                &user_id,
                now,
            ) {
                Ok(done) => {
                    report.linked = report.linked.saturating_add(1);
                    report.evicted_links = report.evicted_links.saturating_add(done.evicted);
                    report.retries = report.retries.saturating_add(done.retries);
                }
                Err(failure) => report.failures.push(failure),
            }
        }
    }
}

/// What recording a delivery's inbound messages did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InboundReport {
    pub recorded: usize,
    /// Messages with no `timestamp`, or one further than `inbound_max_age` from the clock.
    pub stale: usize,
    /// Messages at or before their conversation's last recorded one (by timestamp, then id).
    pub replayed: usize,
    pub evicted: usize,
    /// Number and user id links recorded (or confirmed again).
    pub linked: usize,
    /// Links forgotten to make room for another.
    pub evicted_links: usize,
    pub retries: usize,
    pub failures: Vec<StateFailure>,
}

impl InboundReport {
    /// The counters to add: `(metric name, amount)`.
    pub fn metrics(&self) -> Vec<(String, u64)> {
        let mut out = Vec::new();
        let n = |x: usize| u64::try_from(x).unwrap_or(u64::MAX);
        if self.recorded > 0 {
            out.push((
                format!("{INBOUND_METRIC}.result.recorded"),
                n(self.recorded),
            ));
        }
        for (result, count) in [
            ("stale", self.stale),
            ("replayed", self.replayed),
            ("linked", self.linked),
        ] {
            if count > 0 {
                out.push((format!("{INBOUND_METRIC}.result.{result}"), n(count)));
            }
        }
        out.extend(state_metrics(self.evicted, self.retries));
        if self.evicted_links > 0 {
            out.push((
                format!("{STATE_METRIC}.result.link_evicted"),
                n(self.evicted_links),
            ));
        }
        for f in &self.failures {
            out.push((format!("{STATE_METRIC}.result.{}", f.as_str()), 1));
            out.push((format!("{INBOUND_METRIC}.result.failed"), 1));
        }
        out
    }
}
