//! Streaming stages: each takes body bytes in any chunking and appends the bytes to forward.
//!
//! INVARIANT: a stage holds back at most one record (bounded by `max_record_bytes`) plus a
//! delimiter's worth of bytes; everything before that is emitted as soon as it is judged.

use super::detect::{Detector, Detectors, RecordVerdict};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Counts reported for one upload.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StripStats {
    pub records_seen: u64,
    pub records_stripped: u64,
    pub detectors: BTreeMap<&'static str, u64>,
}

impl StripStats {
    pub fn record(&mut self, verdict: Option<Detector>) {
        self.records_seen += 1;
        if let Some(d) = verdict {
            self.records_stripped += 1;
            *self.detectors.entry(d.as_str()).or_default() += 1;
        }
    }
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

/// How records are delimited and judged inside a line-oriented stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    /// Each non-blank line is a JSON record.
    Json,
    /// Each line is plain text (chat exports, CSV rows).
    Text,
}

/// JSONL / NDJSON (or plain text lines): a record per line, dropped whole or kept byte for byte.
pub struct LineStage {
    ctx: Arc<StageContext>,
    kind: LineKind,
    pending: Vec<u8>,
    bypassed: bool,
}

impl LineStage {
    pub fn new(ctx: Arc<StageContext>, kind: LineKind) -> Self {
        Self {
            ctx,
            kind,
            pending: Vec::new(),
            bypassed: false,
        }
    }

    /// Judges one line (without its terminator); blank lines are not records.
    fn judge(&self, line: &[u8]) -> Option<RecordVerdict> {
        let trimmed = line.trim_ascii();
        if trimmed.is_empty() {
            return None;
        }
        Some(match self.kind {
            LineKind::Json => self.ctx.detectors.judge_json(trimmed),
            LineKind::Text => match std::str::from_utf8(trimmed) {
                Ok(t) => self.ctx.detectors.judge_text(t),
                Err(_) => RecordVerdict::Uninspectable,
            },
        })
    }

    fn check_pending(&self) -> Result<(), StripError> {
        if self.pending.len() > self.ctx.max_record_bytes {
            return Err(StripError::RecordTooLarge);
        }
        Ok(())
    }

    /// Processes whole lines of `data`, returning how many bytes were consumed.
    fn process(
        &self,
        data: &[u8],
        final_chunk: bool,
        out: &mut Vec<u8>,
        stats: &mut StripStats,
    ) -> Result<usize, (usize, StripError)> {
        let mut start = 0;
        while start < data.len() {
            let rest = data.get(start..).unwrap_or_default();
            let (line_end, next) = match memchr::memchr(b'\n', rest) {
                Some(i) => (start + i, start + i + 1),
                None if final_chunk => (data.len(), data.len()),
                None => break,
            };
            let line = data.get(start..line_end).unwrap_or_default();
            let whole = data.get(start..next).unwrap_or_default();
            match self.judge(line) {
                None => out.extend_from_slice(whole),
                Some(RecordVerdict::Keep) => {
                    stats.record(None);
                    out.extend_from_slice(whole);
                }
                Some(RecordVerdict::WhatsApp(d)) => stats.record(Some(d)),
                Some(RecordVerdict::Uninspectable) => {
                    return Err((start, StripError::InvalidRecord));
                }
            }
            start = next;
        }
        Ok(start)
    }
}

impl Stage for LineStage {
    fn feed(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        stats: &mut StripStats,
    ) -> Result<(), StripError> {
        if self.bypassed {
            out.extend_from_slice(input);
            return Ok(());
        }
        // INVARIANT: `pending` holds no newline (it is the start of an unfinished line), so
        // the held line ends at the input's first newline; everything after it is judged
        // straight from the input, and only the unfinished tail is copied.
        let mut input = input;
        if !self.pending.is_empty() {
            let Some(nl) = memchr::memchr(b'\n', input) else {
                self.pending.extend_from_slice(input);
                return self.check_pending();
            };
            let (head, tail) = input.split_at(nl + 1);
            self.pending.extend_from_slice(head);
            if let Err((_, e)) = self.process(&self.pending, false, out, stats) {
                self.pending.extend_from_slice(tail);
                return Err(e);
            }
            self.pending.clear();
            input = tail;
        }
        match self.process(input, false, out, stats) {
            Ok(n) => {
                self.pending
                    .extend_from_slice(input.get(n..).unwrap_or_default());
                self.check_pending()
            }
            Err((n, e)) => {
                self.pending
                    .extend_from_slice(input.get(n..).unwrap_or_default());
                Err(e)
            }
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>, stats: &mut StripStats) -> Result<(), StripError> {
        if self.bypassed {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        match self.process(&pending, true, out, stats) {
            Ok(_) => Ok(()),
            Err((n, e)) => {
                self.pending = pending.get(n..).unwrap_or_default().to_vec();
                Err(e)
            }
        }
    }

    fn bypass(&mut self, out: &mut Vec<u8>) {
        out.append(&mut self.pending);
        self.bypassed = true;
    }
}

/// A whole JSON document (`application/json`), held up to `max_json_document_bytes` and
/// rewritten at the end.
pub struct JsonDocumentStage {
    ctx: Arc<StageContext>,
    pending: Vec<u8>,
    bypassed: bool,
}

impl JsonDocumentStage {
    pub fn new(ctx: Arc<StageContext>) -> Self {
        Self {
            ctx,
            pending: Vec::new(),
            bypassed: false,
        }
    }
}

impl Stage for JsonDocumentStage {
    fn feed(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        _stats: &mut StripStats,
    ) -> Result<(), StripError> {
        if self.bypassed {
            out.extend_from_slice(input);
            return Ok(());
        }
        self.pending.extend_from_slice(input);
        if self.pending.len() > self.ctx.max_json_document_bytes {
            return Err(StripError::RecordTooLarge);
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<u8>, stats: &mut StripStats) -> Result<(), StripError> {
        if self.bypassed {
            return Ok(());
        }
        let doc = super::json_doc::strip_document(&self.ctx.detectors, &self.pending, stats)?;
        out.extend_from_slice(&doc);
        self.pending.clear();
        Ok(())
    }

    fn bypass(&mut self, out: &mut Vec<u8>) {
        out.append(&mut self.pending);
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
