//! `multipart/form-data`: the file part is rewritten through an inner stage chosen from its
//! filename and content type; every other part, and all framing, passes byte for byte.

use super::stage::{
    JsonDocumentStage, LineKind, LineStage, Passthrough, Refuse, Stage, StageContext, StripError,
    StripStats,
};
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
}

/// Makes the stage for a file part.
pub type FileStage = Box<dyn FnOnce() -> Box<dyn Stage>>;

/// Extracts the boundary parameter from a `multipart/form-data` content type.
pub fn boundary(content_type: &str) -> Option<String> {
    content_type
        .split(';')
        .skip(1)
        .find_map(|p| {
            let (k, v) = p.split_once('=')?;
            k.trim()
                .eq_ignore_ascii_case("boundary")
                .then(|| v.trim().trim_matches('"').to_owned())
        })
        .filter(|b| !b.is_empty() && b.len() <= 200)
}

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
        }
    }

    /// The one file part goes through `stage` (a file uploaded in parts: see `parts`); any
    /// other file part is refused.
    pub fn with_file_stage(ctx: Arc<StageContext>, boundary: &str, stage: FileStage) -> Self {
        let mut m = Self::new(ctx, boundary);
        m.file_stage = Some(stage);
        m.custom_files = true;
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
                Some(i) => {
                    let headers: Vec<u8> = self.pending.drain(..i + 4).collect();
                    let inner = self.inner_for(&headers)?;
                    out.extend_from_slice(&headers);
                    self.state = State::Body(inner);
                    Ok(true)
                }
                // A part with no headers at all starts with the blank line directly.
                None if self.pending.starts_with(b"\r\n") => {
                    out.extend(self.pending.drain(..2));
                    self.state = State::Body(Box::new(Passthrough));
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
                    let fed = inner.feed(self.pending.get(..i).unwrap_or_default(), out, stats);
                    self.pending.drain(..i);
                    fed?;
                    inner.finish(out, stats)?;
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
                        let fed =
                            inner.feed(self.pending.get(..ready).unwrap_or_default(), out, stats);
                        self.pending.drain(..ready);
                        fed?;
                    }
                    Ok(false)
                }
            },
            State::Epilogue => {
                out.append(&mut self.pending);
                Ok(false)
            }
        }
    }

    /// Chooses how to treat a part's content from its headers.
    fn inner_for(&mut self, headers: &[u8]) -> Result<Box<dyn Stage>, StripError> {
        let text = std::str::from_utf8(headers).map_err(|_| StripError::MalformedMultipart)?;
        let mut disposition = None;
        let mut content_type = String::new();
        for line in text.split("\r\n") {
            if let Some((name, value)) = line.split_once(':') {
                match name.trim().to_ascii_lowercase().as_str() {
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
            }
        }
        let disposition = disposition.ok_or(StripError::MalformedMultipart)?;
        let param = |key: &str| -> Option<String> {
            disposition.split(';').skip(1).find_map(|p| {
                let (k, v) = p.split_once('=')?;
                k.trim()
                    .eq_ignore_ascii_case(key)
                    .then(|| v.trim().trim_matches('"').to_owned())
            })
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
    let ct = content_type.split(';').next().unwrap_or("").trim();
    match (ext, ct) {
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
        self.pending.extend_from_slice(input);
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
