//! The GCS JSON API batch endpoint (`POST /batch/storage/v1`): a `multipart/mixed` body whose
//! every part is an embedded HTTP request (`application/http`). GCS runs each one as if it
//! had been sent on its own, so a batch can carry a rewrite, copy, compose or move into a
//! training bucket. The body is held whole (up to `max_json_document_bytes`), each embedded
//! request is judged as the same request sent directly to `storage.googleapis.com` would be,
//! and the batch is forwarded byte for byte or refused.
//!
//! Fail closed: a body without a boundary, without a closing delimiter, with text after it, or
//! a part that holds no request line is refused (`malformed_multipart`). Every line of a part
//! that reads as a request line is judged, not only the first: where GCS would read a part
//! differently (headers without a blank line, a boundary inside a body), a write into the
//! bucket is still seen.

use super::{ObjectRequest, ObjectShape, StorageHeaders, TrainingBucket};
use crate::training::stage::{Stage, StageContext, StripError, StripStats, WholeBody};
use crate::whatsapp::normalize_path;
use std::sync::Arc;

/// The host an embedded request is judged on: GCS runs it on the JSON API.
const BATCH_HOST: &str = "storage.googleapis.com";

/// Holds a batch body whole and judges its embedded requests at the end.
pub struct BatchStage {
    ctx: Arc<StageContext>,
    buckets: Vec<TrainingBucket>,
    boundary: Option<String>,
    body: WholeBody,
}

impl BatchStage {
    /// `buckets`: every training bucket of the policy; `content_type`: the batch's.
    pub fn new(
        ctx: &Arc<StageContext>,
        buckets: Vec<TrainingBucket>,
        content_type: Option<&str>,
    ) -> Self {
        Self {
            ctx: Arc::clone(ctx),
            buckets,
            boundary: content_type.and_then(crate::media_type::boundary),
            body: WholeBody::default(),
        }
    }
}

impl Stage for BatchStage {
    fn feed(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        _stats: &mut StripStats,
    ) -> Result<(), StripError> {
        self.body.feed(input, out, self.ctx.max_json_document_bytes)
    }

    fn finish(&mut self, out: &mut Vec<u8>, _stats: &mut StripStats) -> Result<(), StripError> {
        let Some(held) = self.body.held() else {
            return Ok(());
        };
        let boundary = self
            .boundary
            .as_deref()
            .ok_or(StripError::MalformedMultipart)?;
        judge_batch(&self.buckets, boundary, held)?;
        self.body.release(out);
        Ok(())
    }

    fn bypass(&mut self, out: &mut Vec<u8>) {
        self.body.bypass(out);
    }
}

/// Judges every embedded request of a batch body: `Err` with the reason the first write into a
/// training bucket would be refused with if sent directly, or `malformed_multipart`.
pub fn judge_batch(
    buckets: &[TrainingBucket],
    boundary: &str,
    body: &[u8],
) -> Result<(), StripError> {
    for part in parts(body, boundary)? {
        judge_part(buckets, part)?;
    }
    Ok(())
}

/// The parts between the delimiters (RFC 2046): every line starting `--{boundary}` opens a
/// part, `--{boundary}--` closes the body; the preamble is skipped, and only blanks may follow
/// the close.
fn parts<'b>(body: &'b [u8], boundary: &str) -> Result<Vec<&'b [u8]>, StripError> {
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let starts: Vec<usize> = memchr::memmem::find_iter(body, delimiter)
        .filter(|&i| i == 0 || body.get(i - 1) == Some(&b'\n'))
        .collect();
    let mut parts = Vec::new();
    for (n, &start) in starts.iter().enumerate() {
        let after = start + delimiter.len();
        let end = starts.get(n + 1).copied().unwrap_or(body.len());
        let segment = body.get(after..end).unwrap_or_default();
        if let Some(epilogue) = segment.strip_prefix(b"--") {
            if n + 1 == starts.len() && epilogue.iter().all(u8::is_ascii_whitespace) {
                return Ok(parts);
            }
            return Err(StripError::MalformedMultipart);
        }
        parts.push(segment);
    }
    // No delimiter, or no closing one: a broken body.
    Err(StripError::MalformedMultipart)
}

/// One part: its own headers, a blank line, then the embedded request line, its headers, a
/// blank line and its body.
fn judge_part(buckets: &[TrainingBucket], part: &[u8]) -> Result<(), StripError> {
    let text = String::from_utf8_lossy(part);
    let mut lines = text.split('\n').map(|l| l.trim_end_matches('\r'));
    // The rest of the delimiter line (transport padding).
    if !lines.next().is_some_and(|l| l.trim().is_empty()) {
        return Err(StripError::MalformedMultipart);
    }
    // The part's headers, up to a blank line.
    for line in lines.by_ref() {
        if line.trim().is_empty() {
            break;
        }
    }
    let Some(request_line) = lines.next() else {
        return Err(StripError::MalformedMultipart);
    };
    let Some((method, target)) = request_line_of(request_line) else {
        return Err(StripError::MalformedMultipart);
    };
    // The embedded request's headers, up to a blank line.
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in lines.by_ref() {
        let Some((k, v)) = line.split_once(':') else {
            break;
        };
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
    }
    let header = |name: &str| {
        let values: Vec<&str> = headers
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect();
        (!values.is_empty()).then(|| values.join(","))
    };
    judge_request(
        buckets,
        method,
        target,
        &StorageHeaders::from_headers(&header),
    )?;
    // Every other line that reads as a request line, in case GCS reads the part otherwise.
    for line in text.split('\n').map(|l| l.trim_end_matches('\r')) {
        if let Some((method, target)) = request_line_of(line) {
            judge_request(buckets, method, target, &StorageHeaders::default())?;
        }
    }
    Ok(())
}

/// `METHOD target [HTTP/x]`, the target a path (`/storage/v1/...`) or an absolute URL whose
/// path is taken.
fn request_line_of(line: &str) -> Option<(&str, &str)> {
    let mut words = line.split_ascii_whitespace();
    let (method, target) = (words.next()?, words.next()?);
    let version = words.next();
    if words.next().is_some()
        || !method.bytes().all(|b| b.is_ascii_alphabetic())
        || version.is_some_and(|v| !v.to_ascii_uppercase().starts_with("HTTP/"))
    {
        return None;
    }
    let lower = target.to_ascii_lowercase();
    let target = match ["https://", "http://"]
        .iter()
        .find(|s| lower.starts_with(**s))
    {
        Some(scheme) => {
            let rest = target.get(scheme.len()..)?;
            rest.find(['/', '?'])
                .map_or("/", |i| rest.get(i..).unwrap_or("/"))
        }
        None => target,
    };
    target.starts_with('/').then_some((method, target))
}

/// An embedded request, judged as the same request sent directly to the JSON API.
fn judge_request(
    buckets: &[TrainingBucket],
    method: &str,
    target: &str,
    headers: &StorageHeaders,
) -> Result<(), StripError> {
    let path = normalize_path(target);
    let request = ObjectRequest {
        method,
        host: BATCH_HOST,
        raw_path: target,
        path: &path,
        headers,
    };
    match buckets.iter().find_map(|b| b.shape(&request)) {
        None | Some(ObjectShape::Control | ObjectShape::SessionStart { .. }) => Ok(()),
        Some(ObjectShape::Copy) => Err(StripError::ObjectCopy),
        Some(ObjectShape::Piece) => Err(StripError::ObjectInParts),
        // An upload (or a batch) inside a batch: its bytes are not judged.
        Some(ObjectShape::Whole { .. } | ObjectShape::Batch) => Err(StripError::ObjectInBatch),
    }
}
