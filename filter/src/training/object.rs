//! An object written to a training bucket: judged record by record, never stripped.
//!
//! Object stores check what they receive against what the request declared: S3's SigV4 signs
//! the payload hash and (in every AWS SDK) `content-length`, Azure's Shared Key signs
//! `Content-Length`, `Content-MD5`, `x-amz-checksum-*`, `x-ms-content-crc64` and GCS's
//! `crc32c`/`md5Hash` cover the bytes, and a resumable session declares its total size. A
//! stripped object would be rejected with an error that says nothing about the proxy, or, where
//! nothing checks it, be stored silently shorter than the client wrote. So an object is
//! forwarded byte for byte, with every header as sent, or refused (`whatsapp_records_in_object`).
//!
//! The bytes go upstream as they are judged, except the last byte of the body, which is held
//! until every record has been judged: a refused object never reaches its declared length, so
//! the service never stores it.

use super::gzip::DecodeStage;
use super::multipart::{self, MultipartStage};
use super::stage::{LineKind, LineStage, Refuse, Stage, StageContext, StripError, StripStats};
use crate::content_encoding::{Coding, ContentEncoding, Layer};
use std::sync::Arc;

mod aws_chunked;
mod raw_lines;

pub use aws_chunked::AwsChunked;
use raw_lines::RawLines;

/// Judges an object's records while forwarding its own bytes.
pub struct ObjectStage {
    /// Reads the object: `aws-chunked` framing, `content-encoding` and the format undone.
    judge: Box<dyn Stage>,
    /// The judge's output: not forwarded.
    sink: Vec<u8>,
    /// The body's last byte so far, held until the end.
    held: Option<u8>,
    /// Input not forwarded since an error, for `bypass`.
    pending: Vec<u8>,
    /// After the judge fails: the raw bytes read on as text lines.
    raw: RawLines,
    /// The last bytes forwarded (at most `tail_cap`, up to twice that before a trim): a judge
    /// that fails may have held them unread (a record, an `aws-chunked` size line).
    tail: Vec<u8>,
    tail_cap: usize,
    bypassed: bool,
    ended: bool,
    /// The raw reading found a record: refused even where unreadable objects are allowed.
    found: bool,
}

impl ObjectStage {
    pub fn new(ctx: &Arc<StageContext>, judge: Box<dyn Stage>) -> Self {
        Self {
            judge,
            sink: Vec::new(),
            held: None,
            pending: Vec::new(),
            raw: RawLines::new(ctx),
            tail: Vec::new(),
            tail_cap: ctx.max_record_bytes.clamp(64 << 10, 1 << 20),
            bypassed: false,
            ended: false,
            found: false,
        }
    }

    fn judged(
        &mut self,
        before: u64,
        stats: &StripStats,
        r: Result<(), StripError>,
    ) -> Result<(), StripError> {
        self.sink.clear();
        r?;
        if stats.records_stripped > before {
            return Err(StripError::RecordsInObject);
        }
        Ok(())
    }

    /// The judge failed (`e`, the reason it is refused where unreadable objects are): the
    /// bytes it may not have read are read as text lines, so that a record among them is
    /// found, and refuses the object even where unreadable objects are allowed.
    fn failed(
        &mut self,
        e: StripError,
        stats: &mut StripStats,
        end: bool,
    ) -> Result<(), StripError> {
        if e != StripError::RecordsInObject {
            self.found = self.read_raw(stats, end).is_err();
        }
        Err(e)
    }

    fn read_raw(&mut self, stats: &mut StripStats, end: bool) -> Result<(), StripError> {
        // The held byte ends the tail and starts `pending`: read once.
        let mut tail = std::mem::take(&mut self.tail);
        let unread = self.pending.get(usize::from(!tail.is_empty())..);
        tail.extend_from_slice(unread.unwrap_or_default());
        self.raw.feed(&tail, stats)?;
        if end {
            self.raw.finish(stats)?;
        }
        Ok(())
    }

    /// Forwards input, holding its last byte.
    fn forward(&mut self, input: &[u8], out: &mut Vec<u8>) {
        if let Some((last, rest)) = input.split_last() {
            out.extend(self.held.take());
            out.extend_from_slice(rest);
            self.held = Some(*last);
        }
        if !self.bypassed {
            self.tail.extend_from_slice(input);
            if self.tail.len() > 2 * self.tail_cap {
                let cut = self.tail.len() - self.tail_cap;
                self.tail.drain(..cut);
            }
        }
    }
}

impl Stage for ObjectStage {
    fn feed(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        stats: &mut StripStats,
    ) -> Result<(), StripError> {
        if self.bypassed {
            if self.found {
                return Err(StripError::RecordsInObject);
            }
            self.raw.feed(input, stats)?;
            self.forward(input, out);
            return Ok(());
        }
        let before = stats.records_stripped;
        let r = self.judge.feed(input, &mut self.sink, stats);
        if let Err(e) = self.judged(before, stats, r) {
            self.pending.extend(self.held.take());
            self.pending.extend_from_slice(input);
            return self.failed(e, stats, false);
        }
        self.forward(input, out);
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<u8>, stats: &mut StripStats) -> Result<(), StripError> {
        self.ended = true;
        if self.bypassed {
            if self.found {
                return Err(StripError::RecordsInObject);
            }
            self.raw.finish(stats)?;
            out.extend(self.held.take());
            return Ok(());
        }
        let before = stats.records_stripped;
        let r = self.judge.finish(&mut self.sink, stats);
        if let Err(e) = self.judged(before, stats, r) {
            self.pending.extend(self.held.take());
            return self.failed(e, stats, true);
        }
        out.extend(self.held.take());
        Ok(())
    }

    fn bypass(&mut self, out: &mut Vec<u8>) {
        self.bypassed = true;
        if self.found {
            // Nothing more goes upstream: the next step refuses the object.
            return;
        }
        let pending = std::mem::take(&mut self.pending);
        if self.ended {
            out.extend(self.held.take());
            out.extend_from_slice(&pending);
        } else {
            // The last byte stays held: a record read later still refuses the object.
            self.forward(&pending, out);
        }
    }
}

/// The stage that reads an object for judging: its format from its name and content type,
/// under its `content-encoding` and, for S3's streaming signatures, `aws-chunked` framing.
/// `multipart`: the service parses the body as a form; any other body is stored as sent, so a
/// multipart content type on it says nothing and its raw bytes are read as text lines.
pub fn judge_stage(
    ctx: &Arc<StageContext>,
    name: &str,
    multipart: bool,
    content_type: Option<&str>,
    content_encoding: Option<&str>,
    aws_chunked: bool,
) -> Box<dyn Stage> {
    let ct = content_type.unwrap_or("");
    let mime = crate::media_type::essence(ct);
    // `aws-chunked` is S3's framing, not a coding of the object: what it frames keeps the rest.
    let codings: Vec<&str> = content_encoding
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|c| !c.eq_ignore_ascii_case("aws-chunked"))
        .collect();
    let encoding = ContentEncoding::parse(Some(&codings.join(",")));
    let lower = name.to_ascii_lowercase();
    // A gzip object (`train.jsonl.gz`, `application/gzip`) is read inflated.
    let (stem, gzip_object) = match lower.strip_suffix(".gz") {
        Some(stem) => (stem, true),
        None => (
            lower.as_str(),
            matches!(mime.as_str(), "application/gzip" | "application/x-gzip"),
        ),
    };
    let multipart_mime = matches!(mime.as_str(), "multipart/form-data" | "multipart/related");
    let format: Box<dyn Stage> = match (multipart, multipart_mime) {
        (true, true) => match crate::media_type::boundary(ct) {
            Some(b) => Box::new(MultipartStage::for_object(
                Arc::clone(ctx),
                &b,
                mime == "multipart/related",
            )),
            None => Box::new(Refuse::new(StripError::MalformedMultipart)),
        },
        (false, true) => Box::new(LineStage::new(Arc::clone(ctx), LineKind::Text)),
        _ => Box::new(Sniffed::without_bom(file_stage(
            ctx,
            stem,
            if gzip_object { "" } else { &mime },
        ))),
    };
    let mut stage = format;
    let layer = encoding.single_layer();
    if gzip_object {
        // Labelled gzip twice (`.gz` or `application/gzip`, and `content-encoding: gzip`, as a
        // GCS transcoding upload is) is one layer when the decoded bytes are not gzip again.
        stage = if matches!(layer, Layer::One(Coding::Gzip)) {
            Box::new(Sniffed::gzip_if_magic(ctx, stage))
        } else {
            decode(ctx, Coding::Gzip, stage)
        };
    }
    match layer {
        Layer::Identity => {}
        Layer::One(coding) => stage = decode(ctx, coding, stage),
        Layer::Unreadable => stage = Box::new(Refuse::new(StripError::InvalidCompression)),
    }
    if aws_chunked {
        stage = Box::new(AwsChunked::new(stage, ctx.max_record_bytes));
    }
    stage
}

/// What a stage becomes once the first bytes are seen, and how many of them to drop.
type Choice = Box<dyn FnOnce(&[u8]) -> (Box<dyn Stage>, usize)>;

/// A stage chosen by the first bytes of what it reads: a UTF-8 byte order mark is dropped
/// (text lines drop it too), a gzip layer is undone only where the gzip magic is.
pub struct Sniffed {
    head: Vec<u8>,
    need: usize,
    choose: Option<Choice>,
    inner: Option<Box<dyn Stage>>,
}

impl Sniffed {
    fn new(need: usize, choose: Choice) -> Self {
        Self {
            head: Vec::new(),
            need,
            choose: Some(choose),
            inner: None,
        }
    }

    fn without_bom(inner: Box<dyn Stage>) -> Self {
        Self::new(
            3,
            Box::new(|head: &[u8]| {
                let bom = usize::from(head.starts_with(b"\xEF\xBB\xBF")) * 3;
                (inner, bom)
            }),
        )
    }

    fn gzip_if_magic(ctx: &StageContext, inner: Box<dyn Stage>) -> Self {
        let max_ratio = ctx.max_expansion_ratio;
        Self::new(
            2,
            Box::new(move |head: &[u8]| {
                if !head.starts_with(b"\x1f\x8b") {
                    return (inner, 0);
                }
                let d: Box<dyn Stage> = match DecodeStage::new(Coding::Gzip, inner, max_ratio) {
                    Some(d) => Box::new(d),
                    None => Box::new(Refuse::new(StripError::InvalidCompression)),
                };
                (d, 0)
            }),
        )
    }

    /// Chooses the stage once `need` bytes are here (or at the end) and feeds it the head.
    fn choose(
        &mut self,
        out: &mut Vec<u8>,
        stats: &mut StripStats,
    ) -> Result<Option<&mut Box<dyn Stage>>, StripError> {
        if let Some(choose) = self.choose.take() {
            let (mut inner, skip) = choose(&self.head);
            let head = std::mem::take(&mut self.head);
            inner.feed(head.get(skip..).unwrap_or_default(), out, stats)?;
            self.inner = Some(inner);
        }
        Ok(self.inner.as_mut())
    }
}

impl Stage for Sniffed {
    fn feed(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        stats: &mut StripStats,
    ) -> Result<(), StripError> {
        if let Some(inner) = self.inner.as_mut() {
            return inner.feed(input, out, stats);
        }
        self.head.extend_from_slice(input);
        if self.head.len() >= self.need {
            self.choose(out, stats)?;
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<u8>, stats: &mut StripStats) -> Result<(), StripError> {
        match self.choose(out, stats)? {
            Some(inner) => inner.finish(out, stats),
            None => Ok(()),
        }
    }

    fn bypass(&mut self, _out: &mut Vec<u8>) {
        // Only ever inside an `ObjectStage`, which forwards the object's own bytes.
    }
}

/// A file's stage for an object or a multipart/related part: as an uploaded file is read,
/// except that a generic type without a telling extension is read as text lines with every
/// detector (JSON lines among them), since objects are also CSV and chat exports.
pub fn file_stage(ctx: &Arc<StageContext>, name: &str, mime: &str) -> Box<dyn Stage> {
    let ext = name.rsplit_once('.').map_or("", |(_, e)| e);
    let generic = matches!(
        mime,
        "" | "application/octet-stream" | "binary/octet-stream"
    );
    if generic && !matches!(ext, "jsonl" | "ndjson" | "jsonlines" | "json") {
        return Box::new(LineStage::new(Arc::clone(ctx), LineKind::Text));
    }
    multipart::stage_for_file(ctx, name, mime)
}

fn decode(ctx: &StageContext, coding: Coding, inner: Box<dyn Stage>) -> Box<dyn Stage> {
    match DecodeStage::new(coding, inner, ctx.max_expansion_ratio) {
        Some(d) => Box::new(d),
        None => Box::new(Refuse::new(StripError::InvalidCompression)),
    }
}
