//! GCS resumable sessions (issue 11): GCS selects a session by its `upload_id` alone, whatever
//! bucket the chunk's path names, so a chunk is judged by the bucket its session was started
//! for. The filter records each session start it lets through, from the `Location` of its
//! response, in the host's shared data (every worker sees it), and reads the record back when a
//! request carries an `upload_id`.
//!
//! A record is kept under a salted SHA-256 of the `upload_id` (a session URI is a bearer
//! capability: it is never stored), in one of [`SLOTS`] keys `wa-guard/gcs-session/<slot>`, each
//! holding at most [`ENTRIES_PER_SLOT`] records of [`ENTRY_BYTES`]: tag, when the session
//! started, and a hash of the rule of the training bucket it was started for (zero: a bucket
//! the policy does not name). A record lives [`SESSION_TTL_NANOS`] (GCS's session lifetime); a
//! full key forgets its oldest record of an unnamed bucket first, then its oldest record. What
//! is forgotten reads as a session the filter never saw start, which fails closed by default
//! (`training.unknown_gcs_sessions`). Writes are compare-and-swap, as conversations' are.

use crate::shared_store::{SharedStore, StoreError};
use sha2::{Digest, Sha256};

/// The shared-data key prefix of session slots.
pub const SESSION_KEY_PREFIX: &str = "wa-guard/gcs-session/";

/// How many keys hold sessions.
pub const SLOTS: u32 = 64;

/// How many sessions one key holds.
pub const ENTRIES_PER_SLOT: usize = 64;

/// How long a session is remembered after its start: one week, the lifetime of a GCS resumable
/// session URI.
pub const SESSION_TTL_NANOS: u64 = 7 * 86_400 * 1_000_000_000;

/// A record's bytes: tag 8, started 8, rule 8.
pub const ENTRY_BYTES: usize = 24;

/// The value's fixed part: format 1, count 1.
const VALUE_HEADER_BYTES: usize = 2;

/// The value's format version (first byte). A value of another version reads as empty.
const FORMAT: u8 = 1;

/// Read-modify-write attempts before a record counts as not written.
const MAX_ATTEMPTS: usize = 3;

/// The largest value of a slot.
pub const MAX_VALUE_BYTES: usize = VALUE_HEADER_BYTES + ENTRIES_PER_SLOT * ENTRY_BYTES;

/// The whole state's bound: every key with its largest value.
pub const MAX_STATE_BYTES: usize =
    SLOTS as usize * (SESSION_KEY_PREFIX.len() + 2 + MAX_VALUE_BYTES);

/// The rule hash of a session started for a bucket the policy does not name.
const UNNAMED: [u8; 8] = [0; 8];

/// What the filter knows of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Session {
    /// Started, through this filter, for a training bucket: the hash of its rule id
    /// ([`rule_hash`]).
    Training([u8; 8]),
    /// Started, through this filter, for a bucket the policy does not name.
    Unnamed,
    /// Never seen starting (started elsewhere, before the process started, or forgotten).
    Unknown,
}

/// The hash a record keeps of a bucket's rule id (never all zeroes).
pub fn rule_hash(rule_id: &str) -> [u8; 8] {
    let digest: [u8; 32] = Sha256::digest(rule_id.as_bytes()).into();
    let mut out = [0u8; 8];
    for (o, d) in out.iter_mut().zip(digest) {
        *o = d;
    }
    if out == UNNAMED
        && let Some(first) = out.first_mut()
    {
        *first = 1;
    }
    out
}

/// Where a session's record lives: its slot's key and its tag.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SessionKey {
    slot_key: String,
    tag: [u8; 8],
}

fn session_key(salt: &str, upload_id: &str) -> SessionKey {
    let (tag, slot) = crate::digest::tag_and_slot(
        &[salt.as_bytes(), b"gcs-session", upload_id.as_bytes()],
        SLOTS,
    );
    SessionKey {
        slot_key: format!("{SESSION_KEY_PREFIX}{slot}"),
        tag,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Record {
    tag: [u8; 8],
    started: u64,
    rule: [u8; 8],
}

impl Record {
    fn alive(&self, now: u64) -> bool {
        self.started.saturating_add(SESSION_TTL_NANOS) >= now
    }
}

fn decode(bytes: &[u8]) -> Option<Vec<Record>> {
    let (&[format, count], rest) = bytes.split_first_chunk::<2>()?;
    if format != FORMAT || rest.len() != usize::from(count) * ENTRY_BYTES {
        return None;
    }
    rest.chunks_exact(ENTRY_BYTES)
        .map(|r| {
            let (tag, r) = r.split_first_chunk::<8>()?;
            let (started, r) = r.split_first_chunk::<8>()?;
            let rule = r.first_chunk::<8>()?;
            Some(Record {
                tag: *tag,
                started: u64::from_be_bytes(*started),
                rule: *rule,
            })
        })
        .collect()
}

fn encode(records: &[Record]) -> Vec<u8> {
    let records = records.get(..ENTRIES_PER_SLOT).unwrap_or(records);
    let mut out = Vec::with_capacity(VALUE_HEADER_BYTES + records.len() * ENTRY_BYTES);
    out.push(FORMAT);
    out.push(u8::try_from(records.len()).unwrap_or(u8::MAX));
    for r in records {
        out.extend_from_slice(&r.tag);
        out.extend_from_slice(&r.started.to_be_bytes());
        out.extend_from_slice(&r.rule);
    }
    out
}

/// What the filter knows of the session `upload_id` at `now`. A read the host refuses is an
/// error: the caller fails closed. Without a clock (`now` is `None`) a record's age cannot be
/// told, so only what is stricter than an unknown session is believed: a training bucket's
/// session is one still, an unnamed bucket's is unknown.
pub fn lookup(
    store: &dyn SharedStore,
    salt: &str,
    upload_id: &str,
    now: Option<u64>,
) -> Result<Session, StoreError> {
    let key = session_key(salt, upload_id);
    let Some((bytes, _)) = store.try_get(&key.slot_key)? else {
        return Ok(Session::Unknown);
    };
    let found = decode(&bytes)
        .unwrap_or_default()
        .into_iter()
        .find(|r| r.tag == key.tag && now.is_none_or(|now| r.alive(now)));
    Ok(match found {
        None => Session::Unknown,
        Some(r) if r.rule != UNNAMED => Session::Training(r.rule),
        Some(_) if now.is_some() => Session::Unnamed,
        Some(_) => Session::Unknown,
    })
}

/// Why a session start could not be recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordError {
    /// The host refused a read or a write.
    StoreFailed,
    /// Every attempt met a value another worker had changed.
    CasExhausted,
}

/// Records that the session `upload_id` was started at `now` for the training bucket of
/// `rule` (its [`rule_hash`]; `None`: a bucket the policy does not name). Returns how many
/// records were forgotten to make room.
pub fn record(
    store: &mut dyn SharedStore,
    salt: &str,
    upload_id: &str,
    rule: Option<[u8; 8]>,
    now: u64,
) -> Result<usize, RecordError> {
    let key = session_key(salt, upload_id);
    let new = Record {
        tag: key.tag,
        started: now,
        rule: rule.unwrap_or(UNNAMED),
    };
    for _ in 0..MAX_ATTEMPTS {
        let stored = store
            .try_get(&key.slot_key)
            .map_err(|_| RecordError::StoreFailed)?;
        let mut records = stored
            .as_ref()
            .and_then(|(bytes, _)| decode(bytes))
            .unwrap_or_default();
        records.retain(|r| r.tag != new.tag && r.alive(now));
        let evicted = make_room(&mut records);
        records.push(new);
        // A key never written yet: written only if nobody wrote it meanwhile (Envoy takes a
        // cas of 0 as "any").
        let cas = match stored {
            Some((_, version)) => Some(version),
            None => match store.try_get(&key.slot_key) {
                Ok(Some(_)) => continue,
                Ok(None) => None,
                Err(_) => return Err(RecordError::StoreFailed),
            },
        };
        match store.set(&key.slot_key, &encode(&records), cas) {
            Ok(()) => return Ok(evicted),
            Err(StoreError::Mismatch) => continue,
            Err(StoreError::Failed) => return Err(RecordError::StoreFailed),
        }
    }
    Err(RecordError::CasExhausted)
}

/// Forgets records until one more fits: the oldest of an unnamed bucket first (forgetting it
/// costs that session a stricter judgement), then the oldest.
fn make_room(records: &mut Vec<Record>) -> usize {
    let mut evicted = 0;
    while records.len() >= ENTRIES_PER_SLOT {
        let oldest = |unnamed_only: bool| {
            records
                .iter()
                .enumerate()
                .filter(|(_, r)| !unnamed_only || r.rule == UNNAMED)
                .min_by_key(|(_, r)| r.started)
                .map(|(i, _)| i)
        };
        let Some(i) = oldest(true).or_else(|| oldest(false)) else {
            break;
        };
        records.remove(i);
        evicted += 1;
    }
    evicted
}

/// The `upload_id` of a session start's response, from its `Location` (the session URI): the
/// value of the one `upload_id` parameter, decoded once; `None` when there is not exactly one.
pub fn upload_id_of_location(location: &str) -> Option<String> {
    let ids = super::request::exact_query_values(location, "upload_id");
    match ids.as_slice() {
        [id] if !id.is_empty() => Some(id.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared_store::MemoryStore;

    const NOW: u64 = 1_799_913_600_000_000_000;

    #[test]
    fn a_recorded_session_is_found_until_its_week_is_over() {
        let mut store = MemoryStore::default();
        let rule = rule_hash("vertex-tuning-data");
        record(&mut store, "salt", "SESSION_A", Some(rule), NOW).unwrap();
        record(&mut store, "salt", "SESSION_B", None, NOW).unwrap();
        assert_eq!(
            lookup(&store, "salt", "SESSION_A", Some(NOW)).unwrap(),
            Session::Training(rule)
        );
        assert_eq!(
            lookup(&store, "salt", "SESSION_B", Some(NOW)).unwrap(),
            Session::Unnamed
        );
        assert_eq!(
            lookup(&store, "salt", "SESSION_C", Some(NOW)).unwrap(),
            Session::Unknown
        );
        // Without a clock, only a training bucket's session is believed.
        assert_eq!(
            lookup(&store, "salt", "SESSION_A", None).unwrap(),
            Session::Training(rule)
        );
        assert_eq!(
            lookup(&store, "salt", "SESSION_B", None).unwrap(),
            Session::Unknown
        );
        // Another salt is another key space.
        assert_eq!(
            lookup(&store, "other", "SESSION_A", Some(NOW)).unwrap(),
            Session::Unknown
        );
        let week_later = NOW + SESSION_TTL_NANOS;
        assert_eq!(
            lookup(&store, "salt", "SESSION_A", Some(week_later)).unwrap(),
            Session::Training(rule)
        );
        assert_eq!(
            lookup(&store, "salt", "SESSION_A", Some(week_later + 1)).unwrap(),
            Session::Unknown
        );
        // The capability itself is never stored.
        let (bytes, _) = store
            .get(&session_key("salt", "SESSION_A").slot_key)
            .unwrap();
        assert!(!bytes.windows(9).any(|w| w == b"SESSION_A"));
    }

    #[test]
    fn a_refused_read_is_an_error_not_an_unknown_session() {
        let store = crate::shared_store::NoStore;
        assert_eq!(
            lookup(&store, "salt", "SESSION_A", Some(NOW)),
            Err(StoreError::Failed)
        );
        let mut store = crate::shared_store::NoStore;
        assert_eq!(
            record(&mut store, "salt", "SESSION_A", None, NOW),
            Err(RecordError::StoreFailed)
        );
    }

    /// However many sessions start, the state stays within its keys and bytes; a full key
    /// forgets sessions of unnamed buckets before those of training buckets.
    #[test]
    fn the_state_is_bounded_and_forgets_unnamed_buckets_first() {
        let mut store = MemoryStore::default();
        let rule = rule_hash("vertex-tuning-data");
        record(&mut store, "salt", "TRAINING", Some(rule), NOW).unwrap();
        for i in 0..20_000u64 {
            record(&mut store, "salt", &format!("S{i}"), None, NOW + i).unwrap();
        }
        assert!(store.key_count() <= SLOTS as usize);
        assert!(
            store.total_bytes() <= MAX_STATE_BYTES,
            "{}",
            store.total_bytes()
        );
        assert_eq!(
            lookup(&store, "salt", "TRAINING", Some(NOW + 20_000)).unwrap(),
            Session::Training(rule)
        );
        assert_eq!(
            lookup(&store, "salt", "S0", Some(NOW + 20_000)).unwrap(),
            Session::Unknown
        );
        // A slot full of training sessions forgets its oldest.
        let mut store = MemoryStore::default();
        for i in 0..20_000u64 {
            record(&mut store, "salt", &format!("T{i}"), Some(rule), NOW + i).unwrap();
        }
        assert!(store.total_bytes() <= MAX_STATE_BYTES);
        assert_eq!(
            lookup(&store, "salt", "T19999", Some(NOW + 20_000)).unwrap(),
            Session::Training(rule)
        );
    }

    #[test]
    fn the_upload_id_is_read_from_the_session_uri() {
        let json = "https://storage.googleapis.com/upload/storage/v1/b/acme-vertex-tuning/o?uploadType=resumable&name=train.jsonl&upload_id=ADPycdu%2Bx-Y_z";
        assert_eq!(
            upload_id_of_location(json).as_deref(),
            Some("ADPycdu+x-Y_z")
        );
        let xml =
            "https://storage.googleapis.com/acme-vertex-tuning/train.jsonl?upload_id=XML_SESSION";
        assert_eq!(upload_id_of_location(xml).as_deref(), Some("XML_SESSION"));
        for none in [
            "https://storage.googleapis.com/upload/storage/v1/b/x/o?uploadType=resumable",
            "https://storage.googleapis.com/x/o?upload_id=A&upload_id=B",
            "https://storage.googleapis.com/x/o?Upload_Id=A",
            "https://storage.googleapis.com/x/o?upload_id=",
        ] {
            assert_eq!(upload_id_of_location(none), None, "{none}");
        }
    }
}
