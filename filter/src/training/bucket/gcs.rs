//! GCS on a shared host: the JSON API (`/upload/storage/v1/b/{bucket}/o`, its
//! `/resumable/upload/...` form, `/storage/v1/b/...`) or the XML API path-style
//! (`/{bucket}/{object}`).

use super::request::{decode_once, gcs_json_upload, xml_shape};
use super::{ObjectRequest, ObjectShape, TrainingBucket};

/// JSON API verbs that fill an object from other objects: `rewriteTo` and `copyTo` name their
/// destination bucket, `compose` and `moveTo` write into the bucket of the path.
const SERVER_SIDE_VERBS: &[&str] = &["rewriteto", "copyto", "moveto", "compose"];

impl TrainingBucket {
    pub(super) fn gcs_path_style(
        &self,
        req: &ObjectRequest<'_>,
        raw: &[&str],
        norm: &[&str],
    ) -> Option<ObjectShape> {
        // The discovery document's resumable protocol path: `/resumable/upload/storage/...`.
        let resumable = norm.first() == Some(&"resumable") && norm.get(1) == Some(&"upload");
        let (raw, norm) = match (resumable, raw.get(1..), norm.get(1..)) {
            (true, Some(r), Some(n)) => (r, n),
            _ => (raw, norm),
        };
        match norm {
            ["upload", "storage", version, "b", bucket, "o", ..] if version.starts_with("v1") => {
                self.names(raw.get(4).copied(), bucket)
                    .then(|| gcs_json_upload(req))
            }
            ["storage", version, "b", rest @ ..] if version.starts_with("v1") => {
                if self.json_server_side_write(raw, norm) {
                    return Some(ObjectShape::Copy);
                }
                match rest {
                    [bucket, "o"] if self.names(raw.get(3).copied(), bucket) => {
                        Some(gcs_json_upload(req))
                    }
                    _ => None,
                }
            }
            // The JSON API batch endpoint (`/batch/storage/v1`, and any other path under
            // `/batch`): its embedded requests are judged one by one.
            ["batch", ..] if !resumable => Some(ObjectShape::Batch),
            ["upload" | "batch" | "storage" | "resumable", ..] => None,
            _ => {
                let key = self.after_first(raw, norm)?;
                Some(xml_shape(req, key, true))
            }
        }
    }

    /// A JSON API rewrite, copy, compose or move that writes into this bucket. Read at the
    /// fixed positions of the raw segments as GCS reads them
    /// (`b/{src}/o/{obj}/(rewriteTo|copyTo)/b/{dst}/o/{obj}`, `b/{b}/o/{obj}/compose`,
    /// `b/{b}/o/{src}/moveTo/o/{dst}`); failing closed, also when any segment after a verb, raw
    /// or normalised, names the bucket.
    fn json_server_side_write(&self, raw: &[&str], norm: &[&str]) -> bool {
        let lower = |s: &&str| decode_once(s).unwrap_or_default().to_ascii_lowercase();
        let raw_names = |i: usize| raw.get(i).is_some_and(|s| self.names(Some(s), ""));
        let verb = raw.get(6).map(lower);
        let fixed = match verb.as_deref() {
            Some("rewriteto" | "copyto") => raw_names(8),
            Some("compose" | "moveto") => raw_names(3),
            _ => false,
        };
        let is_verb = |s: &String| SERVER_SIDE_VERBS.contains(&s.as_str());
        let after_verb_names = |segments: Vec<String>| {
            segments.iter().skip(4).position(is_verb).is_some_and(|i| {
                segments
                    .iter()
                    .skip(4 + i + 1)
                    .any(|s| s.eq_ignore_ascii_case(&self.name))
            })
        };
        fixed
            || after_verb_names(raw.iter().map(lower).collect())
            || after_verb_names(norm.iter().map(|s| s.to_ascii_lowercase()).collect())
    }
}
