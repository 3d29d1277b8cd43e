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
    if has("compose") || has("renameobject") {
        // GCS XML compose concatenates objects server-side; S3 Express RenameObject moves one.
        return ObjectShape::Copy;
    }
    let name = decode_once(&key);
    let put = req.method.eq_ignore_ascii_case("PUT");
    // A PUT to a key is a PutObject unless a subresource that exists for PUT says otherwise
    // (MinIO and S3 route any other PUT to PutObject, which stores the body).
    let control = if put && !key.is_empty() {
        PUT_OBJECT_SUBRESOURCES.iter().any(|s| has(s))
    } else {
        CONTROL_SUBRESOURCES.iter().any(|s| has(s))
    };
    if control || (key.is_empty() && put) {
        // Creating or completing a multipart upload, tags, ACLs, a bucket's configuration.
        return ObjectShape::Control;
    }
    // A form POST to the bucket names the key in the form: unknown here; the service reads
    // its body as a form. Any other body is stored as sent.
    let form = key.is_empty() && req.method.eq_ignore_ascii_case("POST");
    ObjectShape::Whole {
        name: name.filter(|n| !n.is_empty()),
        multipart: form,
    }
}

/// Subresources of a PUT to an object key that carry no object data.
const PUT_OBJECT_SUBRESOURCES: &[&str] = &["acl", "tagging", "retention", "legal-hold"];

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

/// A GCS JSON API upload request. GCS reads its parameters case-sensitively: a session start
/// only when every `uploadType` is `resumable`; the name only from exactly one `name`.
pub(super) fn gcs_json_upload(req: &ObjectRequest<'_>) -> ObjectShape {
    if query_param(req.path, "upload_id").is_some() {
        return resumable_chunk(req.headers);
    }
    let types = raw_query_values(req.raw_path, "uploadType");
    let names: Vec<_> = raw_query_values(req.raw_path, "name");
    let name = match names.as_slice() {
        [(k, v)] if k == "name" => Some(v.clone()),
        _ => None,
    };
    if !types.is_empty()
        && types
            .iter()
            .all(|(k, v)| k == "uploadType" && v == "resumable")
    {
        // Starts a session: its body is the object's metadata, no data.
        return ObjectShape::SessionStart { name };
    }
    let multipart = types
        .iter()
        .any(|(_, v)| v.eq_ignore_ascii_case("multipart"));
    ObjectShape::Whole { name, multipart }
}

/// Every parameter whose key, decoded, is `key` in any case: (key, value) decoded.
pub(super) fn raw_query_values(raw_path: &str, key: &str) -> Vec<(String, String)> {
    split_query(raw_path)
        .1
        .split('&')
        .map(|kv| kv.split_once('=').unwrap_or((kv, "")))
        .filter_map(|(k, v)| Some((decode_query(k)?, decode_query(v).unwrap_or_default())))
        .filter(|(k, _)| k.eq_ignore_ascii_case(key))
        .collect()
}

/// The values, decoded once, of every parameter whose key, decoded, is exactly `key` (GCS reads
/// its parameters with case). `raw` is a path or a URL, with its query.
pub(super) fn exact_query_values(raw: &str, key: &str) -> Vec<String> {
    raw_query_values(raw, key)
        .into_iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v)
        .collect()
}

/// A request of a resumable session: the whole object (no `content-range`, or
/// `bytes 0-{n-1}/{n}`), a status query (`bytes */{n}`, no data), or a chunk of it.
pub(super) fn resumable_chunk(headers: &StorageHeaders) -> ObjectShape {
    let Some(range) = headers.content_range.as_deref() else {
        return ObjectShape::Whole {
            name: None,
            multipart: false,
        };
    };
    let range = range.trim().to_ascii_lowercase();
    let Some(spec) = range.strip_prefix("bytes ") else {
        return ObjectShape::Piece;
    };
    if spec.trim_start().starts_with("*/") {
        return ObjectShape::Whole {
            name: None,
            multipart: false,
        };
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
        ObjectShape::Whole {
            name: None,
            multipart: false,
        }
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
