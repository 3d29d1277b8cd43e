//! One training upload's decision: the stripper is fed the host's buffer callback by callback,
//! says what to forward, hold or refuse, and leaves the outcome that metrics, logs and response
//! headers derive from. The router only starts an upload and applies its steps.

use super::parts::{Commit, PartKind, PartRequest};
use super::stage::{StageContext, StripError, StripStats};
use super::{Stripper, TrainingPolicy, TrainingRoute};
use crate::content_encoding::ContentEncoding;
use crate::document::{Action, BodyFormat};
use std::sync::Arc;

/// How many bytes a streamed upload may keep in the host's buffer instead of forwarding them
/// at once. A request that ends with trailers gets no body callback at its end: the bytes the
/// stripper still holds back then (an unfinished last line, a whole JSON document) can only be
/// written into a body buffer the host still holds. Bounded well below Envoy's default
/// per-connection buffer limit (1 MiB), which would otherwise answer 413.
///
/// Only streams that can end with trailers hold (see [`may_end_with_trailers`]): Envoy appends
/// each new delivery to a held buffer before the filter sees it and answers 413 when the sum
/// passes the limit. An HTTP/2 delivery is one DATA frame (16 KiB unless the peer was allowed
/// more), but an HTTP/1.1 delivery is whatever one socket read brought, up to the limit itself
/// when the client is ahead of the proxy: any hold could then be refused. An HTTP/3 delivery
/// can also be large (the readable bytes of a QUIC stream after a gap is filled), and a
/// stream read-disabled for long can hand over its pending data at once: there a hold can still
/// meet Envoy's 413, which refuses the upload (fail closed) but is the price of trailers.
pub const HOLD_LIMIT: usize = 256 * 1024;

/// Whether a request on this downstream protocol (`request.protocol`) can end with trailers
/// that reach the filter, so that a stripped upload must keep output in the host's buffer.
/// HTTP/1.x cannot unless the connection manager sets `http_protocol_options.enable_trailers`
/// (off by default; then an upload whose end is still held back when trailers come is refused
/// as `unwritable_body`, never forwarded short). An unknown protocol holds, as HTTP/2 does.
pub fn may_end_with_trailers(protocol: Option<&str>) -> bool {
    !protocol.is_some_and(|p| p.trim().to_ascii_uppercase().starts_with("HTTP/1"))
}

/// What happened to a training upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrainingVerdict {
    /// Inspected, nothing to strip.
    Forwarded,
    /// WhatsApp-derived records were removed.
    Stripped,
    /// Refused: every record was WhatsApp-derived, or the body could not be inspected.
    Blocked,
    /// Audit mode, or an uninspectable body the policy lets through: forwarded unchanged.
    Audit,
    /// An allow-listed exclusive fine-tuning endpoint: not inspected.
    Exclusive,
}

impl TrainingVerdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Forwarded => "forward",
            Self::Stripped => "strip",
            Self::Blocked => "block",
            Self::Audit => "audit",
            Self::Exclusive => "exclusive",
        }
    }
}

/// The outcome of one training upload; metrics, logs and response headers derive from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrainingOutcome {
    pub endpoint: String,
    pub verdict: TrainingVerdict,
    pub stats: StripStats,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Why the body could not be inspected, or `all_records_whatsapp`.
    pub problem: Option<&'static str>,
}

impl TrainingOutcome {
    /// An allow-listed exclusive endpoint: decided on its route, never inspected.
    pub fn exclusive(endpoint: String) -> Self {
        Self {
            endpoint,
            verdict: TrainingVerdict::Exclusive,
            stats: StripStats::default(),
            bytes_in: 0,
            bytes_out: 0,
            problem: None,
        }
    }
}

/// What the glue must do with one body callback of an upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadStep {
    /// Keep the host's buffer as it is and keep buffering.
    Pause,
    /// Forward the host's buffer unchanged (audit mode).
    Forward,
    /// Forward these bytes instead of the buffer.
    Replace(Vec<u8>),
    /// Replace the host's buffer with these bytes and keep buffering (see [`HOLD_LIMIT`]).
    Hold(Vec<u8>),
    /// Refuse the upload: this problem code goes in the 403.
    Refuse(&'static str),
}

/// One upload being stripped.
pub struct Upload {
    endpoint: String,
    stripper: Stripper,
    ctx: Arc<StageContext>,
    audit: bool,
    on_uninspectable: Action,
    /// An uninspectable body the policy lets through: forwarded as is from then on.
    bypassed: bool,
    /// What the host's buffer starts with, from earlier callbacks that held it (`Hold` or
    /// `Pause`): first `held_out` bytes of processed output still to forward, then `held_raw`
    /// bytes already fed to the stripper whose output it still holds back (to be dropped).
    held_out: usize,
    held_raw: usize,
    /// How many bytes may be held in the host's buffer: [`HOLD_LIMIT`], or 0 on a stream that
    /// cannot end with trailers (everything is forwarded at once).
    hold_limit: usize,
    /// A part or the completion of a file uploaded in parts.
    part: Option<Box<PartRequest>>,
    /// Why the upload was refused beyond what the stripper found (a `/complete` problem).
    refusal: Option<&'static str>,
    /// An object written to a training bucket: forwarded byte for byte or refused, so every
    /// header stays as sent (`content-length` included).
    byte_exact: bool,
}

impl std::fmt::Debug for Upload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upload")
            .field("endpoint", &self.endpoint)
            .field("audit", &self.audit)
            .finish_non_exhaustive()
    }
}

impl Upload {
    /// Prepares the stripper for a routed, inspected endpoint. `part` is the state of a file
    /// uploaded in parts when the endpoint takes a part or its completion; `holds`: the stream
    /// can end with trailers, so output may be held in the host's buffer.
    pub fn start(
        training: &TrainingPolicy,
        route: &TrainingRoute<'_>,
        audit: bool,
        content_type: Option<&str>,
        encoding: &ContentEncoding,
        part: Option<Box<PartRequest>>,
        holds: bool,
    ) -> Self {
        let stripper = match &part {
            Some(p) if p.kind == PartKind::Part => training.part_stripper(
                content_type,
                encoding,
                p.carried_tail(),
                std::rc::Rc::clone(&p.slot),
            ),
            Some(_) => training.passthrough(),
            None => training.stripper_for(route.endpoint.format, content_type, encoding),
        };
        let mut upload = Self::with_stripper(training, route, audit, stripper, holds);
        upload.part = part;
        if upload.part.as_ref().is_some_and(|p| p.broken().is_some()) {
            // Parts of this upload were judged concurrently: no later part or completion can
            // be joined to the right tail.
            upload.refusal = Some(super::parts::CompleteProblem::ChainBroken.as_str());
        }
        upload
    }

    /// An object written to a training bucket, judged by `stripper`
    /// ([`TrainingPolicy::object_stripper`]); `refusal`: a shape that is refused before its
    /// body is read (a piece of an object, a copy).
    pub fn start_object(
        training: &TrainingPolicy,
        route: &TrainingRoute<'_>,
        audit: bool,
        stripper: Stripper,
        holds: bool,
        refusal: Option<&'static str>,
    ) -> Self {
        let mut upload = Self::with_stripper(training, route, audit, stripper, holds);
        upload.byte_exact = true;
        upload.refusal = refusal;
        // A piece or a copy cannot be inspected: `on_uninspectable: allow` lets it through.
        upload.bypassed = refusal.is_some() && training.on_uninspectable == Action::Allow;
        upload
    }

    fn with_stripper(
        training: &TrainingPolicy,
        route: &TrainingRoute<'_>,
        audit: bool,
        stripper: Stripper,
        holds: bool,
    ) -> Self {
        Self {
            endpoint: route.endpoint.id.clone(),
            stripper,
            ctx: Arc::clone(&training.ctx),
            audit,
            on_uninspectable: training.on_uninspectable,
            bypassed: false,
            held_out: 0,
            held_raw: 0,
            hold_limit: if holds { HOLD_LIMIT } else { 0 },
            part: None,
            refusal: None,
            byte_exact: false,
        }
    }

    /// The part kind the endpoint's format names, if it takes a file uploaded in parts.
    pub fn part_kind(format: BodyFormat) -> Option<PartKind> {
        match format {
            BodyFormat::UploadPart => Some(PartKind::Part),
            BodyFormat::UploadComplete => Some(PartKind::Complete),
            _ => None,
        }
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The request headers to remove before the body streams (the only phase where that is
    /// possible): the length changes when records are stripped, and a decoded body is
    /// forwarded identity-encoded. Audit mode forwards the bytes as they are.
    pub fn remove_headers(&self) -> Vec<&'static str> {
        if self.byte_exact {
            return Vec::new();
        }
        match (self.audit, self.stripper.decodes()) {
            (true, _) => Vec::new(),
            (false, false) => vec!["content-length"],
            (false, true) => vec!["content-length", "content-encoding"],
        }
    }

    /// Why the upload is refused before its body is read (a broken chain of parts, a piece
    /// or a copy of an object).
    pub fn refused_at_start(&self) -> Option<&'static str> {
        self.refusal
    }

    /// A refusal at the start goes through instead: audit mode, or an uninspectable object
    /// the policy lets through.
    pub fn lets_refusal_through(&self) -> bool {
        self.audit || self.bypassed
    }

    /// Feeds the host's whole buffer (`None`: the host could not hand it over) and says what
    /// to do with it. At the end of the stream, a `/complete` is judged too.
    pub fn feed(&mut self, buffer: Option<&[u8]>, end_of_stream: bool) -> UploadStep {
        let step = match buffer {
            Some(b) => self.strip_buffer(b, end_of_stream),
            // The host could not hand over the chunk: forwarding the buffer unread would
            // skip it, and forwarding nothing would cut the upload short.
            None => self.unreadable_chunk(),
        };
        if end_of_stream {
            self.judge_completion(step)
        } else {
            step
        }
    }

    /// A chunk the host could not hand over: the upload cannot be inspected. Audit mode
    /// forwards the buffer as it is; otherwise the upload is refused, never forwarded short.
    fn unreadable_chunk(&mut self) -> UploadStep {
        self.stripper
            .error
            .get_or_insert(StripError::UnreadableBody);
        if self.audit {
            UploadStep::Forward
        } else {
            UploadStep::Refuse(StripError::UnreadableBody.as_str())
        }
    }

    /// Strips what is new in the host's buffer, and decides whether the result is forwarded
    /// now or held in the buffer (see [`HOLD_LIMIT`]).
    fn strip_buffer(&mut self, buffer: &[u8], end_of_stream: bool) -> UploadStep {
        let out_end = self.held_out.min(buffer.len());
        let new_start = (self.held_out + self.held_raw).min(buffer.len());
        let (held_out, new) = (
            buffer.get(..out_end).unwrap_or_default(),
            buffer.get(new_start..).unwrap_or_default(),
        );
        if let Some(part) = &mut self.part {
            part.keep_body(new);
        }
        let step = self.strip_chunk(new, end_of_stream);
        let UploadStep::Replace(out) = step else {
            // Forward sends the buffer as it is: only audit mode, which never holds.
            self.held_out = 0;
            self.held_raw = 0;
            return step;
        };
        if !end_of_stream && self.hold_limit > 0 && buffer.len() + out.len() <= self.hold_limit {
            if out.is_empty() {
                // Nothing new to forward: the buffer stays as the host has it.
                self.held_raw += new.len();
                return UploadStep::Pause;
            }
            let mut kept = Vec::with_capacity(held_out.len() + out.len());
            kept.extend_from_slice(held_out);
            kept.extend_from_slice(&out);
            self.held_out = kept.len();
            self.held_raw = 0;
            return UploadStep::Hold(kept);
        }
        self.held_out = 0;
        self.held_raw = 0;
        if held_out.is_empty() {
            return UploadStep::Replace(out);
        }
        let mut all = Vec::with_capacity(held_out.len() + out.len());
        all.extend_from_slice(held_out);
        all.extend_from_slice(&out);
        UploadStep::Replace(all)
    }

    /// At the end of `/complete`: the parts must be the ones judged, in order, and the file's
    /// last record is judged now. Audit mode records the problem and lets it through.
    fn judge_completion(&mut self, step: UploadStep) -> UploadStep {
        let Some(part) = &self.part else {
            return step;
        };
        if part.kind != PartKind::Complete || matches!(step, UploadStep::Refuse(_)) {
            return step;
        }
        let judged = part.judge_complete(&self.ctx, &mut self.stripper.stats);
        let Err(problem) = judged else {
            return step;
        };
        self.refusal = Some(problem.as_str());
        if self.audit {
            return step;
        }
        UploadStep::Refuse(problem.as_str())
    }

    fn strip_chunk(&mut self, chunk: &[u8], end_of_stream: bool) -> UploadStep {
        // After a tolerated error the stripper keeps running in pass-through mode: a compressed
        // upload must still be decoded, because its `content-encoding` is already gone.
        if self.audit && self.stripper.error.is_some() {
            return UploadStep::Forward;
        }
        let mut out = Vec::with_capacity(chunk.len());
        let mut result = self.stripper.feed(chunk, &mut out);
        if result.is_ok() && end_of_stream {
            result = self.stripper.finish(&mut out);
        }
        if self.audit {
            // Audit: count what would be stripped, forward the bytes unchanged.
            return UploadStep::Forward;
        }
        match result {
            Ok(()) if !self.bypassed && end_of_stream && self.stripper.stripped_everything() => {
                UploadStep::Refuse("all_records_whatsapp")
            }
            Ok(()) => UploadStep::Replace(out),
            Err(e) => {
                // Past a tolerated error an object is still read: a record found is refused.
                if self.bypassed && e == StripError::RecordsInObject {
                    self.bypassed = false;
                }
                if !self.bypassed
                    && self.on_uninspectable == Action::Allow
                    && self.stripper.bypass(&mut out)
                {
                    self.bypassed = true;
                    // An object read on past the error ends here: its last line is judged and
                    // its held last byte released, or the record found refuses it.
                    if self.byte_exact
                        && end_of_stream
                        && let Err(e) = self.stripper.finish(&mut out)
                    {
                        self.bypassed = false;
                        return UploadStep::Refuse(e.as_str());
                    }
                    UploadStep::Replace(out)
                } else {
                    UploadStep::Refuse(e.as_str())
                }
            }
        }
    }

    /// The host would not take a rewritten body (a request that ends with trailers after the
    /// held bytes were released): the upload is refused, never forwarded with bytes missing.
    pub fn refuse_unwritable(&mut self) {
        self.stripper
            .error
            .get_or_insert(StripError::UnwritableBody);
        self.audit = false;
        self.bypassed = false;
    }

    /// The outcome of the upload as fed so far (the last step's, once the body ended).
    pub fn outcome(&self) -> TrainingOutcome {
        let s = &self.stripper;
        let everything = s.stripped_everything();
        let problem = self
            .refusal
            .or(s.error.map(|e| e.as_str()))
            .or(everything.then_some("all_records_whatsapp"));
        let verdict = if self.audit || self.bypassed {
            TrainingVerdict::Audit
        } else if self.refusal.is_some() || s.error.is_some() || everything {
            TrainingVerdict::Blocked
        } else if s.stats.records_stripped > 0 {
            TrainingVerdict::Stripped
        } else {
            TrainingVerdict::Forwarded
        };
        TrainingOutcome {
            endpoint: self.endpoint.clone(),
            verdict,
            stats: s.stats.clone(),
            bytes_in: s.bytes_in,
            bytes_out: s.bytes_out,
            problem,
        }
    }

    /// What a part or completion that goes through changes in the upload's state once the
    /// upstream accepts it (the response); nothing when it was blocked.
    pub fn into_commit(self, verdict: TrainingVerdict) -> Option<Commit> {
        if verdict == TrainingVerdict::Blocked {
            return None;
        }
        self.part.map(|p| p.into_commit())
    }
}
