//! What an object-storage request does, read from its method, query and headers.

use super::{ObjectRequest, ObjectShape, StorageHeaders};
use crate::whatsapp::NormalizedPath;

/// An S3 or GCS XML API request to an object whose raw key (still encoded) is `key`.
pub(super) fn xml_shape(req: &ObjectRequest<'_>, key: String, gcs: bool) -> ObjectShape {
    let has = |k: &str| query_param(req.path, k).is_some();
    if req.headers.copy_source {
        return ObjectShape::Copy;
    }
    if has("partnumber") || (req.method.eq_ignore_ascii_case("PUT") && has("uploadid")) {
        return ObjectShape::Piece;
    }
    if gcs && has("upload_id") {
        return resumable_chunk(req.headers);
    }
    let name = decode_once(&key);
    let control = CONTROL_SUBRESOURCES.iter().any(|s| has(s));
    if control || (key.is_empty() && req.method.eq_ignore_ascii_case("PUT")) {
        // Creating or completing a multipart upload, tags, ACLs, a bucket's configuration.
        return ObjectShape::Control;
    }
    // A form POST to the bucket names the key in the form: unknown here.
    ObjectShape::Whole {
        name: name.filter(|n| !n.is_empty()),
    }
}

/// Query subresources of S3 and the GCS XML API that carry no object data.
const CONTROL_SUBRESOURCES: &[&str] = &[
    "uploads",
    "uploadid",
    "acl",
    "tagging",
    "retention",
    "legal-hold",
    "restore",
    "select",
    "delete",
    "versioning",
    "policy",
    "cors",
    "lifecycle",
    "website",
    "encryption",
    "logging",
    "notification",
    "replication",
    "accelerate",
    "requestpayment",
    "ownershipcontrols",
    "publicaccessblock",
    "object-lock",
    "attributes",
    "renameobject",
];

/// A GCS JSON API upload request.
pub(super) fn gcs_json_upload(req: &ObjectRequest<'_>) -> ObjectShape {
    if query_param(req.path, "upload_id").is_some() {
        return resumable_chunk(req.headers);
    }
    match query_param(req.path, "uploadtype") {
        // Starts a session: its body is the object's metadata, no data.
        Some("resumable") => ObjectShape::Control,
        _ => {
            let name = raw_query_param(req.raw_path, "name").and_then(decode_query);
            ObjectShape::Whole { name }
        }
    }
}

/// A request of a resumable session: the whole object (no `content-range`, or
/// `bytes 0-{n-1}/{n}`), a status query (`bytes */{n}`, no data), or a chunk of it.
pub(super) fn resumable_chunk(headers: &StorageHeaders) -> ObjectShape {
    let Some(range) = headers.content_range.as_deref() else {
        return ObjectShape::Whole { name: None };
    };
    let range = range.trim().to_ascii_lowercase();
    let Some(spec) = range.strip_prefix("bytes ") else {
        return ObjectShape::Piece;
    };
    if spec.trim_start().starts_with("*/") {
        return ObjectShape::Whole { name: None };
    }
    let whole = spec.split_once('/').and_then(|(span, total)| {
        let (first, last) = span.trim().split_once('-')?;
        let (first, last, total) = (
            first.trim().parse::<u64>().ok()?,
            last.trim().parse::<u64>().ok()?,
            total.trim().parse::<u64>().ok()?,
        );
        Some(first == 0 && last.checked_add(1) == Some(total))
    });
    if whole == Some(true) {
        ObjectShape::Whole { name: None }
    } else {
        ObjectShape::Piece
    }
}

pub(super) fn split_query(raw_path: &str) -> (&str, &str) {
    let no_fragment = raw_path.split('#').next().unwrap_or("");
    no_fragment.split_once('?').unwrap_or((no_fragment, ""))
}

/// A query parameter as the engine normalised it (key and value decoded and lowercased).
pub(super) fn query_param<'p>(path: &'p NormalizedPath, key: &str) -> Option<&'p str> {
    path.params
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// A query parameter's raw value (the object name keeps its case).
pub(super) fn raw_query_param<'p>(raw_path: &'p str, key: &str) -> Option<&'p str> {
    split_query(raw_path)
        .1
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

pub(super) fn decode_query(v: &str) -> Option<String> {
    decode_once(&v.replace('+', " "))
}

/// Percent-decodes once, as the storage services read a key; `None` when the result is not
/// UTF-8 or an escape is broken.
pub(super) fn decode_once(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}
