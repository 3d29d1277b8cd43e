//! Files uploaded in parts cut at arbitrary bytes: OpenAI Uploads (`POST /v1/uploads`, then
//! `/v1/uploads/{id}/parts`, then `/v1/uploads/{id}/complete` with the parts' ids in order).
//!
//! A part is never stripped. The Upload declared its size and checksum when it was created, so
//! a stripped part would make `/complete` fail with an error that says nothing about the proxy.
//! A part is forwarded byte for byte, or refused with an error that names the guard.
//!
//! Records cross parts: the official SDK cuts a file every 64 MiB, so nearly every part starts
//! and ends inside a record. The unfinished record a part ends with (its tail) is carried to the
//! next part of the same upload in the host's shared data, keyed by upload id, and the next
//! part's first line is judged joined to it. So every line of the assembled file is judged
//! whole, once the parts are joined in the order the file is assembled in. That order is only
//! known at `/complete` (`part_ids`), so each part's id is read from its response, the ids are
//! kept in the order their parts were judged, and `/complete` must list exactly those ids in
//! that order. Parts sent concurrently, through another proxy, or after the state was evicted
//! break the chain: `/complete` is then refused, never let through unjudged.

use super::detect::RecordVerdict;
use super::stage::{Stage, StageContext, StripError, StripStats};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

/// The shared-data key of an upload's carried state.
pub fn state_key(upload_id: &str) -> String {
    format!("wa_egress_guard.upload.{upload_id}")
}

/// The shared-data key of the list of uploads with a state (oldest first), for eviction.
pub const INDEX_KEY: &str = "wa_egress_guard.uploads";

/// At most this many uploads keep a state; the oldest is evicted (its `/complete` is then
/// refused). With the tail bounded by [`MAX_TAIL_BYTES`], the shared data holds at most
/// 128 × 256 KiB across every worker.
pub const MAX_UPLOADS: usize = 128;

/// The longest unfinished record a part may end with. A longer record crossing a part
/// boundary refuses the part (`record_too_large`).
pub const MAX_TAIL_BYTES: usize = 256 * 1024;

/// What is kept between the requests of one upload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadCarry {
    /// The ids of the parts judged so far, in the order they were joined.
    pub parts: Vec<String>,
    /// The unfinished record the last part ended with (base64 in the stored form).
    #[serde(with = "base64_bytes")]
    pub tail: Vec<u8>,
    /// Why the chain of parts is broken (then `/complete` is refused).
    pub broken: Option<String>,
}

impl UploadCarry {
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// `None` for an empty value (no state, or evicted) or a value that is not a state.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        if bytes.is_empty() {
            return None;
        }
        serde_json::from_slice(bytes).ok()
    }
}

mod base64_bytes {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(serde::de::Error::custom)
    }
}

/// Where a part's stage leaves the tail it ended with, for the flow to commit.
pub type TailSlot = Rc<RefCell<Option<Vec<u8>>>>;

/// A part's file bytes: forwarded as they come, every line judged; the first line joined to
/// the carried tail. A WhatsApp-derived record refuses the part (`whatsapp_records_in_part`).
pub struct PartStage {
    ctx: Arc<StageContext>,
    /// The unfinished line: the carried tail, then this part's bytes since its last newline.
    line: Vec<u8>,
    slot: TailSlot,
}

impl PartStage {
    pub fn new(ctx: Arc<StageContext>, carried_tail: Vec<u8>, slot: TailSlot) -> Self {
        Self {
            ctx,
            line: carried_tail,
            slot,
        }
    }

    fn judge_line(&self, stats: &mut StripStats) -> Result<(), StripError> {
        judge_record(&self.ctx, &self.line, stats).map_err(|whatsapp| {
            if whatsapp {
                StripError::RecordsInPart
            } else {
                StripError::InvalidRecord
            }
        })
    }
}

/// Judges one whole JSON record of the assembled file (blank: none) and counts it.
/// `Err(true)`: WhatsApp-derived; `Err(false)`: not JSON.
fn judge_record(ctx: &StageContext, record: &[u8], stats: &mut StripStats) -> Result<(), bool> {
    let record = record.trim_ascii();
    if record.is_empty() {
        return Ok(());
    }
    match ctx.detectors.judge_json(record) {
        RecordVerdict::Keep => {
            stats.record(None);
            Ok(())
        }
        RecordVerdict::WhatsApp(d) => {
            stats.record(Some(d));
            Err(true)
        }
        RecordVerdict::Uninspectable => Err(false),
    }
}

impl Stage for PartStage {
    fn feed(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        stats: &mut StripStats,
    ) -> Result<(), StripError> {
        // Forwarded at once: a refusal later in the part resets the upstream request, and
        // OpenAI never adds an incomplete part.
        out.extend_from_slice(input);
        let mut rest = input;
        while let Some(nl) = memchr::memchr(b'\n', rest) {
            let (head, tail) = rest.split_at(nl + 1);
            self.line
                .extend_from_slice(head.get(..nl).unwrap_or_default());
            let judged = self.judge_line(stats);
            self.line.clear();
            judged?;
            rest = tail;
        }
        self.line.extend_from_slice(rest);
        if self.line.len() > MAX_TAIL_BYTES.min(self.ctx.max_record_bytes) {
            return Err(StripError::RecordTooLarge);
        }
        Ok(())
    }

    /// The part's tail is carried, not judged as a record: it continues in the next part. A
    /// tail that is already a whole JSON record, or shows a WhatsApp marker in its text, is
    /// judged now too, so a part chain that breaks (another proxy, eviction) cannot carry a
    /// record away unjudged.
    fn finish(&mut self, _out: &mut Vec<u8>, stats: &mut StripStats) -> Result<(), StripError> {
        let tail = std::mem::take(&mut self.line);
        let trimmed = tail.trim_ascii();
        if !trimmed.is_empty() {
            let verdict = match self.ctx.detectors.judge_json(trimmed) {
                RecordVerdict::Uninspectable => match std::str::from_utf8(trimmed) {
                    Ok(text) => self.ctx.detectors.judge_text(text),
                    // Cut inside a UTF-8 character: the next part completes it.
                    Err(_) => RecordVerdict::Keep,
                },
                v => v,
            };
            if let RecordVerdict::WhatsApp(d) = verdict {
                stats.record(Some(d));
                return Err(StripError::RecordsInPart);
            }
        }
        *self.slot.borrow_mut() = Some(tail);
        Ok(())
    }

    fn bypass(&mut self, _out: &mut Vec<u8>) {
        // Nothing is held back: every byte was forwarded when it came.
    }
}

/// Why `/complete` is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompleteProblem {
    /// No state for this upload: its parts went through another proxy, or it was evicted.
    PartsNotSeen,
    /// `part_ids` differ from the parts judged, or from their order.
    PartsOutOfOrder,
    /// Parts were judged concurrently, so their joins are unknown.
    ChainBroken,
    /// The file's last record, judged now, is WhatsApp-derived.
    LastRecordWhatsApp,
    /// The file's last record is not JSON.
    LastRecordInvalid,
    /// The request body is not `{"part_ids": [...]}`.
    InvalidBody,
}

impl CompleteProblem {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PartsNotSeen => "upload_parts_not_seen",
            Self::PartsOutOfOrder => "upload_parts_out_of_order",
            Self::ChainBroken => "upload_parts_concurrent",
            Self::LastRecordWhatsApp => "whatsapp_records_in_part",
            Self::LastRecordInvalid => "invalid_record",
            Self::InvalidBody => "invalid_record",
        }
    }
}

#[derive(Deserialize)]
struct CompleteBody {
    part_ids: Vec<String>,
}

/// Judges `/complete`: the ids must be the parts judged, in order, and the file's last record
/// (the last part's tail) is judged whole now.
pub fn judge_complete(
    ctx: &StageContext,
    carry: Option<&UploadCarry>,
    body: &[u8],
    stats: &mut StripStats,
) -> Result<(), CompleteProblem> {
    let request: CompleteBody =
        serde_json::from_slice(body).map_err(|_| CompleteProblem::InvalidBody)?;
    let Some(carry) = carry else {
        return Err(CompleteProblem::PartsNotSeen);
    };
    if carry.broken.is_some() {
        return Err(CompleteProblem::ChainBroken);
    }
    if request.part_ids != carry.parts {
        return Err(CompleteProblem::PartsOutOfOrder);
    }
    judge_record(ctx, &carry.tail, stats).map_err(|whatsapp| {
        if whatsapp {
            CompleteProblem::LastRecordWhatsApp
        } else {
            CompleteProblem::LastRecordInvalid
        }
    })
}

/// A part's id, from the upstream's answer (`{"id": "part_...", "object": "upload.part"}`).
pub fn part_id(response_body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Part {
        id: String,
    }
    serde_json::from_slice::<Part>(response_body)
        .ok()
        .map(|p| p.id)
        .filter(|id| !id.is_empty() && id.len() <= 256)
}

/// The index of uploads with a state, oldest first.
pub fn decode_index(bytes: &[u8]) -> Vec<String> {
    serde_json::from_slice(bytes).unwrap_or_default()
}

pub fn encode_index(ids: &[String]) -> Vec<u8> {
    serde_json::to_vec(ids).unwrap_or_default()
}

pub use crate::shared_store::{MemoryStore, SharedStore, StoreError};

/// Which request of an upload in parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartKind {
    Part,
    Complete,
}

/// `/complete` bodies longer than this are not read (`invalid_record`): even 10,000 part ids
/// fit in a quarter of it.
const MAX_COMPLETE_BODY: usize = 1 << 20;

/// One request of an upload in parts, from its headers to its response.
#[derive(Debug)]
pub struct PartRequest {
    pub kind: PartKind,
    pub upload_id: String,
    loaded: Option<UploadCarry>,
    version: Option<u32>,
    pub slot: TailSlot,
    body: Vec<u8>,
    body_too_large: bool,
}

impl PartRequest {
    /// Reads the upload's state. A value the store cannot give, or that does not decode, is no
    /// state: a part is then judged as the first one, and `/complete` is refused.
    pub fn load(store: &dyn SharedStore, kind: PartKind, upload_id: &str) -> Self {
        let stored = store.get(&state_key(upload_id));
        let (loaded, version) = match stored {
            Some((bytes, version)) => (UploadCarry::decode(&bytes), Some(version)),
            None => (None, None),
        };
        Self {
            kind,
            upload_id: upload_id.to_owned(),
            loaded,
            version,
            slot: Rc::new(RefCell::new(None)),
            body: Vec::new(),
            body_too_large: false,
        }
    }

    /// The chain of parts was broken before this request: say why.
    pub fn broken(&self) -> Option<&str> {
        self.loaded.as_ref().and_then(|c| c.broken.as_deref())
    }

    /// The unfinished record the previous part ended with.
    pub fn carried_tail(&self) -> Vec<u8> {
        self.loaded
            .as_ref()
            .map(|c| c.tail.clone())
            .unwrap_or_default()
    }

    /// Keeps `/complete`'s body, to judge it at its end.
    pub fn keep_body(&mut self, chunk: &[u8]) {
        if self.kind != PartKind::Complete || self.body_too_large {
            return;
        }
        if self.body.len() + chunk.len() > MAX_COMPLETE_BODY {
            self.body_too_large = true;
            self.body = Vec::new();
            return;
        }
        self.body.extend_from_slice(chunk);
    }

    /// Judges `/complete` (see [`judge_complete`]).
    pub fn judge_complete(
        &self,
        ctx: &StageContext,
        stats: &mut StripStats,
    ) -> Result<(), CompleteProblem> {
        if self.body_too_large {
            return Err(CompleteProblem::InvalidBody);
        }
        judge_complete(ctx, self.loaded.as_ref(), &self.body, stats)
    }

    /// What to write once the upstream has accepted the request.
    pub fn into_commit(self) -> Commit {
        let tail = self.slot.borrow_mut().take().unwrap_or_default();
        Commit {
            kind: self.kind,
            upload_id: self.upload_id,
            loaded: self.loaded,
            version: self.version,
            tail,
        }
    }
}

/// The state change a judged part or completion makes once the upstream accepts it (2xx).
#[derive(Debug)]
pub struct Commit {
    kind: PartKind,
    upload_id: String,
    loaded: Option<UploadCarry>,
    version: Option<u32>,
    tail: Vec<u8>,
}

impl Commit {
    /// A part's commit needs the part's id, from the response body.
    pub fn needs_response_body(&self) -> bool {
        self.kind == PartKind::Part
    }

    /// Applies the change. `response_body`: a part's accepted response (`None` if it could
    /// not be read, which breaks the chain).
    pub fn apply(self, store: &mut dyn SharedStore, response_body: Option<&[u8]>) {
        let key = state_key(&self.upload_id);
        if self.kind == PartKind::Complete {
            let _ = store.set(&key, b"", None);
            update_index(store, |ids| ids.retain(|id| *id != self.upload_id));
            return;
        }
        let mut carry = self.loaded.clone().unwrap_or_default();
        match response_body.and_then(part_id) {
            Some(id) => {
                carry.parts.push(id);
                carry.tail = self.tail;
            }
            None => carry.broken = Some("the id of a part could not be read".into()),
        }
        let written = match self.version {
            Some(version) => store.set(&key, &carry.encode(), Some(version)),
            // A new upload: unless another part created its state meanwhile.
            None if store.get(&key).is_some_and(|(v, _)| !v.is_empty()) => {
                Err(StoreError::Mismatch)
            }
            None => store.set(&key, &carry.encode(), None),
        };
        match written {
            Ok(()) if self.loaded.is_none() => {
                let id = self.upload_id.clone();
                let evicted = update_index(store, |ids| {
                    ids.retain(|i| *i != id);
                    ids.push(id.clone());
                });
                for old in evicted {
                    let _ = store.set(&state_key(&old), b"", None);
                }
            }
            Ok(()) => {}
            // Another part of this upload was judged meanwhile: the joins are unknown.
            Err(StoreError::Mismatch) => mark_broken(store, &key),
            // The state is lost; `/complete` will not find this part and is refused.
            Err(StoreError::Failed) => {}
        }
    }
}

fn mark_broken(store: &mut dyn SharedStore, key: &str) {
    for _ in 0..4 {
        let (mut carry, version) = match store.get(key) {
            Some((bytes, v)) => (UploadCarry::decode(&bytes).unwrap_or_default(), Some(v)),
            None => (UploadCarry::default(), None),
        };
        carry.broken = Some("parts of this upload were sent concurrently".into());
        if store.set(key, &carry.encode(), version) != Err(StoreError::Mismatch) {
            return;
        }
    }
}

/// Changes the index of uploads with a state; returns the ids evicted beyond
/// [`MAX_UPLOADS`], oldest first.
fn update_index(store: &mut dyn SharedStore, change: impl Fn(&mut Vec<String>)) -> Vec<String> {
    for _ in 0..4 {
        let (mut ids, version) = match store.get(INDEX_KEY) {
            Some((bytes, v)) => (decode_index(&bytes), Some(v)),
            None => (Vec::new(), None),
        };
        change(&mut ids);
        let evicted: Vec<String> = ids.drain(..ids.len().saturating_sub(MAX_UPLOADS)).collect();
        if store.set(INDEX_KEY, &encode_index(&ids), version) != Err(StoreError::Mismatch) {
            return evicted;
        }
    }
    Vec::new()
}
