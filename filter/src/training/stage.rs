//! Streaming stages: each takes body bytes in any chunking and appends the bytes to forward.
//!
//! INVARIANT: a stage holds back at most one record (bounded by `max_record_bytes`) plus a
//! delimiter's worth of bytes; everything before that is emitted as soon as it is judged.

use super::detect::{Detector, Detectors, KeyKind, RecordVerdict};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

mod json_document;
mod line;
mod table;

pub use json_document::JsonDocumentStage;
pub use line::{LineKind, LineStage};

/// Counts reported for one upload.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StripStats {
    pub records_seen: u64,
    pub records_stripped: u64,
    pub detectors: BTreeMap<&'static str, u64>,
    /// Where each stripped record was, in the order stripped, when the host asked for it
    /// ([`super::TrainingPolicy::list_stripped`]); `None`, as in Envoy, costs nothing.
    pub stripped: Option<Vec<StrippedRecord>>,
    /// Where the stage that judges records starts in the decoded body: a multipart file part's
    /// stage counts offsets from the part's start, and this is that start while it runs.
    pub origin: u64,
}

/// One stripped record, for a tool that says where it was (never what it held).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StrippedRecord {
    /// The record's number among the records seen, from 1.
    pub record: u64,
    /// The offset of the record's first byte in the decoded body (after `content-encoding`),
    /// when the stage knows it: a line, a CSV row, a JSON document's array element.
    pub offset: Option<u64>,
    pub detector: &'static str,
}

impl StripStats {
    pub fn record(&mut self, verdict: Option<Detector>) {
        self.record_at(verdict, None);
    }

    /// Counts a record that starts `offset` bytes into the judging stage's input.
    pub fn record_at(&mut self, verdict: Option<Detector>, offset: Option<u64>) {
        self.records_seen += 1;
        if let Some(d) = verdict {
            self.records_stripped += 1;
            *self.detectors.entry(d.as_str()).or_default() += 1;
            if let Some(list) = &mut self.stripped {
                list.push(StrippedRecord {
                    record: self.records_seen,
                    offset: offset.map(|o| self.origin.saturating_add(o)),
                    detector: d.as_str(),
                });
            }
        }
    }
}

/// A byte count as an offset.
fn offset(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// Why a body could not be inspected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StripError {
    InvalidRecord,
    RecordTooLarge,
    MalformedMultipart,
    UnsupportedPart,
    InvalidCompression,
    ExpansionTooLarge,
    /// The host could not hand over a chunk of the body.
    UnreadableBody,
    /// The host would not take the rewritten body (a request ending with trailers after the
    /// held bytes had been released).
    UnwritableBody,
    /// A part of a file uploaded in parts holds WhatsApp-derived records: a part is never
    /// stripped (the upload's declared size would break), so it is refused.
    RecordsInPart,
    /// An object written to a training bucket holds WhatsApp-derived records: an object is
    /// never stripped (its signature, checksums or declared length would break), so it is
    /// refused.
    RecordsInObject,
    /// An `aws-chunked` body (S3 streaming signatures) whose framing does not parse.
    InvalidAwsChunked,
    /// A gRPC or protobuf body (a tuning RPC such as Gemini's `CreateTunedModel`): binary
    /// messages without their schema cannot be read record by record, nor rewritten.
    ProtobufBody,
    /// A copy into a training bucket of data the request does not carry (also embedded in a
    /// GCS batch).
    ObjectCopy,
    /// A piece of an object cut at arbitrary bytes, written to a training bucket.
    ObjectInParts,
    /// An object upload embedded in a GCS batch request: its bytes are not judged.
    ObjectInBatch,
}

impl StripError {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRecord => "invalid_record",
            Self::RecordTooLarge => "record_too_large",
            Self::MalformedMultipart => "malformed_multipart",
            Self::UnsupportedPart => "unsupported_part",
            Self::InvalidCompression => "invalid_compression",
            Self::ExpansionTooLarge => "expansion_too_large",
            Self::UnreadableBody => "unreadable_body",
            Self::UnwritableBody => "unwritable_body",
            Self::RecordsInPart => "whatsapp_records_in_part",
            Self::RecordsInObject => "whatsapp_records_in_object",
            Self::InvalidAwsChunked => "invalid_aws_chunked",
            Self::ProtobufBody => "protobuf_body",
            Self::ObjectCopy => "object_copy",
            Self::ObjectInParts => "object_in_parts",
            Self::ObjectInBatch => "object_in_batch",
        }
    }
}

/// One streaming transformation.
pub trait Stage {
    fn feed(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        stats: &mut StripStats,
    ) -> Result<(), StripError>;
    fn finish(&mut self, out: &mut Vec<u8>, stats: &mut StripStats) -> Result<(), StripError>;
    /// After an error, when the policy allows uninspectable bodies: emit every held byte
    /// unchanged and pass all later input through.
    fn bypass(&mut self, out: &mut Vec<u8>);
}

/// Shared, compiled settings every stage needs.
#[derive(Debug)]
pub struct StageContext {
    pub detectors: Detectors,
    pub max_record_bytes: usize,
    pub max_json_document_bytes: usize,
    pub max_expansion_ratio: u64,
}

/// A body held whole, up to a limit, to be judged at its end; after a bypass its bytes pass as
/// they come.
#[derive(Debug, Default)]
pub struct WholeBody {
    pending: Vec<u8>,
    bypassed: bool,
}

impl WholeBody {
    /// Holds `input` (`record_too_large` past `limit` bytes), or forwards it after a bypass.
    pub fn feed(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), StripError> {
        if self.bypassed {
            out.extend_from_slice(input);
            return Ok(());
        }
        self.pending.extend_from_slice(input);
        if self.pending.len() > limit {
            return Err(StripError::RecordTooLarge);
        }
        Ok(())
    }

    /// The body held so far; `None` after a bypass, when it was forwarded already.
    pub fn held(&self) -> Option<&[u8]> {
        (!self.bypassed).then_some(self.pending.as_slice())
    }

    /// Forgets the held body (its judged form was forwarded instead).
    pub fn clear(&mut self) {
        self.pending.clear();
    }

    /// Forwards the held body as it came.
    pub fn release(&mut self, out: &mut Vec<u8>) {
        out.append(&mut self.pending);
    }

    /// Forwards the held body and whatever comes after it.
    pub fn bypass(&mut self, out: &mut Vec<u8>) {
        self.release(out);
        self.bypassed = true;
    }
}

/// Bytes that are forwarded untouched (non-file multipart parts, allow-listed uploads).
pub struct Passthrough;

impl Stage for Passthrough {
    fn feed(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        _stats: &mut StripStats,
    ) -> Result<(), StripError> {
        out.extend_from_slice(input);
        Ok(())
    }

    fn finish(&mut self, _out: &mut Vec<u8>, _stats: &mut StripStats) -> Result<(), StripError> {
        Ok(())
    }

    fn bypass(&mut self, _out: &mut Vec<u8>) {}
}

/// A stage that refuses any content: a binary file part, an unknown format.
pub struct Refuse {
    pub error: StripError,
    pending: Vec<u8>,
    bypassed: bool,
}

impl Refuse {
    pub fn new(error: StripError) -> Self {
        Self {
            error,
            pending: Vec::new(),
            bypassed: false,
        }
    }
}

impl Stage for Refuse {
    fn feed(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        _stats: &mut StripStats,
    ) -> Result<(), StripError> {
        if self.bypassed || input.is_empty() {
            out.extend_from_slice(input);
            return Ok(());
        }
        // Kept so that `bypass` can forward it unchanged.
        self.pending.extend_from_slice(input);
        Err(self.error)
    }

    fn finish(&mut self, _out: &mut Vec<u8>, _stats: &mut StripStats) -> Result<(), StripError> {
        Ok(())
    }

    fn bypass(&mut self, out: &mut Vec<u8>) {
        out.append(&mut self.pending);
        self.bypassed = true;
    }
}
