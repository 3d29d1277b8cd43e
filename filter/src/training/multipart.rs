//! `multipart/form-data`: the file part is rewritten through an inner stage chosen from its
//! filename and content type; every other part, and all framing, passes byte for byte.
//!
//! Framing that multipart parsers read differently makes the body unreadable, so it is refused
//! (`malformed_multipart`): what the vendor's parser would take for the file is unknown. So a
//! content type naming a boundary twice or hiding `boundary=` in another parameter, a bare-LF
//! delimiter, part headers given twice or ending in a bare LF, a parameter given twice
//! and anything but blanks after the closing delimiter.

use super::stage::{
    JsonDocumentStage, LineKind, LineStage, Passthrough, Refuse, Stage, StageContext, StripError,
    StripStats,
};
use crate::media_type::{self, parameters};
use std::sync::Arc;

/// Part headers larger than this are malformed.
const MAX_PART_HEADERS: usize = 16 << 10;

enum State {
    /// Before the first delimiter.
    Preamble,
    /// Just after a delimiter: `--` closes, CRLF opens a part.
    AfterDelimiter,
    Headers,
    Body(Box<dyn Stage>),
    /// After the close delimiter: forwarded as is.
    Epilogue,
}

pub struct MultipartStage {
    ctx: Arc<StageContext>,
    /// `\r\n--boundary`
    delimiter: Vec<u8>,
    state: State,
    pending: Vec<u8>,
    bypassed: bool,
    /// Makes the stage of a file part instead of [`stage_for_file`]; `None` once used, so a
    /// second file part is refused.
    file_stage: Option<FileStage>,
    custom_files: bool,
    /// `multipart/related` (a GCS multipart upload: the object's metadata, then its data):
    /// every part is the object's, read without a Content-Disposition.
    related: bool,
    /// The last bytes of the body so far (as many as a bare-LF delimiter has), so that one
    /// split across chunks is seen.
    scan_tail: Vec<u8>,
    /// Bytes fed so far, and where the current part's content starts: the offsets of the
    /// records a file part's stage strips count from the body's start.
    fed: u64,
    part_start: u64,
}

/// Makes the stage for a file part.
pub type FileStage = Box<dyn FnOnce() -> Box<dyn Stage>>;

impl MultipartStage {
    pub fn new(ctx: Arc<StageContext>, boundary: &str) -> Self {
        let mut delimiter = b"\r\n--".to_vec();
        delimiter.extend_from_slice(boundary.as_bytes());
        Self {
            ctx,
            delimiter,
            state: State::Preamble,
            pending: Vec::new(),
            bypassed: false,
            file_stage: None,
            custom_files: false,
            related: false,
            scan_tail: Vec::new(),
            fed: 0,
            part_start: 0,
        }
    }

    /// Refuses a delimiter after a bare LF (`\n--boundary`) anywhere in the body: Werkzeug,
    /// Go (for a body whose first delimiter line ends in LF) and PHP frame a part there, this
    /// reader does not.
    fn check_bare_delimiters(&mut self, input: &[u8]) -> Result<(), StripError> {
        let bare = self.delimiter.get(1..).unwrap_or_default();
        let mut window = std::mem::take(&mut self.scan_tail);
        let carried = window.len();
        window.extend_from_slice(input);
        // An occurrence wholly in the carried bytes was checked with the chunk before; one at
        // the window's start that is not lies at the body's start.
        let bare_found = memchr::memmem::find_iter(&window, bare).any(|i| {
            i + bare.len() > carried && (i == 0 || window.get(i - 1).is_some_and(|b| *b != b'\r'))
        });
        let keep = window.len().saturating_sub(bare.len());
        self.scan_tail = window.get(keep..).unwrap_or_default().to_vec();
        if bare_found {
            return Err(StripError::MalformedMultipart);
        }
        Ok(())
    }

    /// Where the first byte of `pending` is in the body.
    fn pending_start(&self) -> u64 {
        self.fed
            .saturating_sub(u64::try_from(self.pending.len()).unwrap_or(u64::MAX))
    }

    /// The one file part goes through `stage` (a file uploaded in parts: see `parts`); any
    /// other file part is refused.
    pub fn with_file_stage(ctx: Arc<StageContext>, boundary: &str, stage: FileStage) -> Self {
        let mut m = Self::new(ctx, boundary);
        m.file_stage = Some(stage);
        m.custom_files = true;
        m
    }

    /// An object written to a training bucket as a form POST (`multipart/form-data`) or a GCS
    /// multipart upload (`multipart/related`, whose every part is read as the object's).
    pub fn for_object(ctx: Arc<StageContext>, boundary: &str, related: bool) -> Self {
        let mut m = Self::new(ctx, boundary);
        m.related = related;
        m
    }

    fn step(
        &mut self,
        out: &mut Vec<u8>,
        stats: &mut StripStats,
        final_chunk: bool,
    ) -> Result<bool, StripError> {
        let dl = self.delimiter.len();
        match &mut self.state {
            State::Preamble => {
                // The first delimiter may start the body without the leading CRLF.
                let bare = self.delimiter.get(2..).unwrap_or_default();
                if self.pending.starts_with(bare) {
                    out.extend_from_slice(bare);
                    self.pending.drain(..bare.len());
                    self.state = State::AfterDelimiter;
                    return Ok(true);
                }
                match find(&self.pending, &self.delimiter) {
                    Some(i) => {
                        out.extend(self.pending.drain(..i + dl));
                        self.state = State::AfterDelimiter;
                        Ok(true)
                    }
                    None if final_chunk => Err(StripError::MalformedMultipart),
                    None => Ok(false),
                }
            }
            State::AfterDelimiter => {
                if self.pending.len() < 2 {
                    return if final_chunk {
                        Err(StripError::MalformedMultipart)
                    } else {
                        Ok(false)
                    };
                }
                if self.pending.starts_with(b"--") {
                    out.extend(self.pending.drain(..2));
                    self.state = State::Epilogue;
                    return Ok(true);
                }
                // Transport padding (spaces, tabs) may precede the CRLF.
                let Some(crlf) = find(&self.pending, b"\r\n") else {
                    return if final_chunk || self.pending.len() > 1024 {
                        Err(StripError::MalformedMultipart)
                    } else {
                        Ok(false)
                    };
                };
                if !self
                    .pending
                    .get(..crlf)
                    .unwrap_or_default()
                    .iter()
                    .all(|b| *b == b' ' || *b == b'\t')
                {
                    return Err(StripError::MalformedMultipart);
                }
                out.extend(self.pending.drain(..crlf + 2));
                self.state = State::Headers;
                Ok(true)
            }
            State::Headers => match find(&self.pending, b"\r\n\r\n") {
                // Part headers ending in CRLF LF, or a bare LF or CR among them: Werkzeug ends
                // the headers at any line break, this reader at CRLF CRLF only.
                end if has_bare_line_break(
                    self.pending
                        .get(..end.map_or(self.pending.len(), |i| i + 4))
                        .unwrap_or_default(),
                ) =>
                {
                    Err(StripError::MalformedMultipart)
                }
                Some(i) => {
                    let headers: Vec<u8> = self.pending.drain(..i + 4).collect();
                    let inner = self.inner_for(&headers)?;
                    out.extend_from_slice(&headers);
                    self.state = State::Body(inner);
                    self.part_start = self.pending_start();
                    Ok(true)
                }
                // A part with no headers at all starts with the blank line directly.
                None if self.pending.starts_with(b"\r\n") => {
                    out.extend(self.pending.drain(..2));
                    self.state = State::Body(Box::new(Passthrough));
                    self.part_start = self.pending_start();
                    Ok(true)
                }
                None if self.pending.len() > MAX_PART_HEADERS || final_chunk => {
                    Err(StripError::MalformedMultipart)
                }
                None => Ok(false),
            },
            State::Body(inner) => match find(&self.pending, &self.delimiter) {
                Some(i) => {
                    // Fed in place, then dropped from `pending` even on error: the inner
                    // stage holds what it did not judge, for `bypass`.
                    stats.origin = self.part_start;
                    let fed = inner.feed(self.pending.get(..i).unwrap_or_default(), out, stats);
                    self.pending.drain(..i);
                    let finished = fed.and_then(|()| inner.finish(out, stats));
                    stats.origin = 0;
                    finished?;
                    out.extend(self.pending.drain(..dl));
                    self.state = State::AfterDelimiter;
                    Ok(true)
                }
                None if final_chunk => Err(StripError::MalformedMultipart),
                None => {
                    // Everything but a possible delimiter prefix can go to the inner stage now.
                    let keep = dl.saturating_sub(1).min(self.pending.len());
                    let ready = self.pending.len() - keep;
                    if ready > 0 {
                        stats.origin = self.part_start;
                        let fed =
                            inner.feed(self.pending.get(..ready).unwrap_or_default(), out, stats);
                        stats.origin = 0;
                        self.pending.drain(..ready);
                        fed?;
                    }
                    Ok(false)
                }
            },
            // Only blanks may follow the closing delimiter: a parser that reads on after it
            // (PHP takes lines after it for another part's headers) would find parts there.
            State::Epilogue => {
                if !self.pending.iter().all(u8::is_ascii_whitespace) {
                    return Err(StripError::MalformedMultipart);
                }
                out.append(&mut self.pending);
                Ok(false)
            }
        }
    }

    /// Chooses how to treat a part's content from its headers (the block ending in CRLF CRLF).
    /// Folded lines are joined. A header given twice (Go and Werkzeug keep the first, others the
    /// last), a nameless header line, or a Content-Disposition parameter given twice makes the part
    /// unreadable.
    fn inner_for(&mut self, headers: &[u8]) -> Result<Box<dyn Stage>, StripError> {
        let text = std::str::from_utf8(headers).map_err(|_| StripError::MalformedMultipart)?;
        let text = text.strip_suffix("\r\n\r\n").unwrap_or(text);
        let mut disposition = None;
        let mut content_type = String::new();
        let mut seen: Vec<String> = Vec::new();
        for line in unfolded(text) {
            let (name, value) = line.split_once(':').ok_or(StripError::MalformedMultipart)?;
            let name = name.to_ascii_lowercase();
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b))
                || seen.contains(&name)
            {
                return Err(StripError::MalformedMultipart);
            }
            match name.as_str() {
                "content-disposition" => disposition = Some(value.trim().to_owned()),
                "content-type" => content_type = value.trim().to_ascii_lowercase(),
                "content-transfer-encoding"
                    if !matches!(
                        value.trim().to_ascii_lowercase().as_str(),
                        "binary" | "8bit" | "7bit"
                    ) =>
                {
                    return Ok(Box::new(Refuse::new(StripError::UnsupportedPart)));
                }
                _ => {}
            }
            seen.push(name);
        }
        // GCS takes the second part of a `multipart/related` upload as the object whatever its
        // headers say: every part is judged, a `Content-Disposition` on it changes nothing.
        if self.related {
            let mime = media_type::essence(&content_type);
            return Ok(super::object::file_stage(&self.ctx, "", &mime));
        }
        let Some(disposition) = disposition else {
            return Err(StripError::MalformedMultipart);
        };
        let params = disposition
            .split_once(';')
            .map_or(Some(Vec::new()), |(_, rest)| parameters(rest))
            .ok_or(StripError::MalformedMultipart)?;
        if params
            .iter()
            .enumerate()
            .any(|(i, (k, _))| params.iter().skip(i + 1).any(|(other, _)| other == k))
        {
            return Err(StripError::MalformedMultipart);
        }
        let param = |key: &str| -> Option<String> {
            params
                .iter()
                .find_map(|(k, v)| (k == key).then(|| v.clone()))
        };
        let filename = param("filename").or_else(|| param("filename*"));
        let name = param("name").unwrap_or_default().to_ascii_lowercase();
        // A vendor's dataset field is a file even without a file name (`requests` sends
        // `files={'eval_data': (None, data)}` so): OpenAI's `file` and an upload part's `data`,
        // Cohere's `data` and `eval_data`.
        let is_file = filename.is_some()
            || matches!(
                name.as_str(),
                "file" | "data" | "training_file" | "dataset" | "eval_data"
            );
        if !is_file {
            return Ok(Box::new(Passthrough));
        }
        if self.custom_files {
            return Ok(match self.file_stage.take() {
                Some(make) => make(),
                None => Box::new(Refuse::new(StripError::UnsupportedPart)),
            });
        }
        let fname = filename.unwrap_or_default().to_ascii_lowercase();
        Ok(stage_for_file(&self.ctx, &fname, &content_type))
    }
}

/// The stage for an uploaded file, from its name and content type.
pub fn stage_for_file(
    ctx: &Arc<StageContext>,
    filename: &str,
    content_type: &str,
) -> Box<dyn Stage> {
    let ext = filename.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    let ct = media_type::essence(content_type);
    match (ext, ct.as_str()) {
        ("jsonl" | "ndjson" | "jsonlines", _)
        | (
            _,
            "application/jsonl"
            | "application/x-ndjson"
            | "application/jsonlines"
            | "application/x-jsonlines",
        ) => Box::new(LineStage::new(Arc::clone(ctx), LineKind::Json)),
        ("json", _) | (_, "application/json") => Box::new(JsonDocumentStage::new(Arc::clone(ctx))),
        ("txt" | "csv" | "tsv", _) | (_, "text/plain" | "text/csv") => {
            Box::new(LineStage::new(Arc::clone(ctx), LineKind::Text))
        }
        // No extension and a generic type: training files are JSONL in every vendor's API.
        ("", "" | "application/octet-stream") => {
            Box::new(LineStage::new(Arc::clone(ctx), LineKind::Json))
        }
        _ => Box::new(Refuse::new(StripError::UnsupportedPart)),
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

/// Header lines with their continuation lines (starting with a blank: RFC 5322 folding)
/// joined on, as Go, Werkzeug and PHP join them.
fn unfolded(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for line in text.split("\r\n") {
        match lines.last_mut() {
            Some(last) if line.starts_with([' ', '\t']) => {
                last.push(' ');
                last.push_str(line.trim_start());
            }
            _ => lines.push(line.to_owned()),
        }
    }
    lines
}

/// A LF without a CR before it, or a CR without a LF after it (a CR ending `b` may yet be
/// followed by one).
fn has_bare_line_break(b: &[u8]) -> bool {
    memchr::memchr2_iter(b'\n', b'\r', b).any(|i| match b.get(i) {
        Some(b'\n') => i == 0 || b.get(i - 1) != Some(&b'\r'),
        _ => b.get(i + 1).is_some_and(|n| *n != b'\n'),
    })
}

impl Stage for MultipartStage {
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
        self.fed = self
            .fed
            .saturating_add(u64::try_from(input.len()).unwrap_or(u64::MAX));
        self.pending.extend_from_slice(input);
        self.check_bare_delimiters(input)?;
        while self.step(out, stats, false)? {}
        if self.pending.len() > self.ctx.max_record_bytes + self.delimiter.len() {
            return Err(StripError::RecordTooLarge);
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<u8>, stats: &mut StripStats) -> Result<(), StripError> {
        if self.bypassed {
            return Ok(());
        }
        while !matches!(self.state, State::Epilogue) {
            if !self.step(out, stats, true)? {
                break;
            }
        }
        match self.state {
            State::Epilogue => {
                out.append(&mut self.pending);
                Ok(())
            }
            _ => Err(StripError::MalformedMultipart),
        }
    }

    fn bypass(&mut self, out: &mut Vec<u8>) {
        if let State::Body(inner) = &mut self.state {
            inner.bypass(out);
        }
        out.append(&mut self.pending);
        self.bypassed = true;
    }
}
