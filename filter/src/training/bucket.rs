//! Object-storage buckets as training paths (`training.buckets`): Vertex AI reads tuning data
//! from GCS, Bedrock from S3, Azure AI from Blob storage, so an object written to a bucket the
//! policy names is a training upload.
//!
//! The bucket and the object name are read from the host and the raw path as the storage
//! service reads them (a key is the path decoded once, `%2F` a slash inside it, dot segments
//! literal). A request is also taken for the bucket when the engine's normalised path names it
//! (decoded until stable, dot segments resolved): where the two readings differ, the filter
//! cannot be sure which one the service acts on, so it fails closed.

use crate::document::{BucketDoc, BucketProvider};
use crate::whatsapp::NormalizedPath;

mod batch;
mod gcs;
mod hosts;
mod names;
mod request;
pub mod session;

pub use batch::BatchStage;
use hosts::{is_azure_endpoint, is_dfs_host, is_gcs_endpoint, is_gcs_virtual_host, is_s3_endpoint};
use request::{decode_once, exact_query_values, query_param, split_query, xml_shape};

/// What a request to a training bucket does with object data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectShape {
    /// Writes a whole object in one request (S3 PutObject or a form POST, a GCS media,
    /// multipart or single-request resumable upload, an XML API PUT, an Azure Put Blob).
    /// `name`: the object's name when the request line holds it. `multipart`: the service
    /// parses the body as a multipart form (an S3 or GCS form POST to the bucket, a GCS
    /// `uploadType=multipart`); any other body is stored verbatim, whatever its content type.
    Whole {
        name: Option<String>,
        multipart: bool,
    },
    /// Writes a piece cut at arbitrary bytes (an S3 or GCS XML multipart part, a GCS
    /// resumable chunk that is not the whole object, an Azure block, append block or page,
    /// a Data Lake append).
    Piece,
    /// Fills the object from data the request does not carry (S3 CopyObject and UploadPartCopy,
    /// GCS rewrite and copy, Azure Copy Blob and Put Blob from URL).
    Copy,
    /// Carries no object data: creates or completes an upload in parts, changes metadata,
    /// tags or a bucket's configuration. Not a training upload.
    Control,
    /// Starts a GCS JSON API resumable session (`uploadType=resumable`): no object data, but
    /// the session it opens writes to this bucket whatever bucket its chunks' paths name
    /// (`session`). `name`: the object's name when the request line holds it.
    SessionStart { name: Option<String> },
    /// A GCS JSON API batch (`/batch/storage/v1`): embedded requests, each judged as if sent
    /// on its own (`batch::BatchStage`).
    Batch,
}

/// The headers of an object-storage request that its shape depends on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StorageHeaders {
    /// `x-amz-copy-source`, `x-goog-copy-source`, `x-ms-copy-source`, or a server-side rename
    /// (`x-ms-rename-source`, S3 Express `x-amz-rename-source`) is present.
    pub copy_source: bool,
    /// `content-range` (a GCS resumable upload's chunk).
    pub content_range: Option<String>,
    /// `x-amz-content-sha256` (`STREAMING-...`: the body is `aws-chunked`).
    pub amz_content_sha256: Option<String>,
    /// `x-goog-resumable: start`: a GCS XML API request that starts a resumable session.
    pub goog_resumable_start: bool,
}

impl StorageHeaders {
    /// Read from a request's headers: `header` looks a header up by its lowercase name.
    pub fn from_headers(header: &dyn Fn(&str) -> Option<String>) -> Self {
        Self {
            copy_source: [
                "x-amz-copy-source",
                "x-goog-copy-source",
                "x-ms-copy-source",
                "x-ms-rename-source",
                "x-amz-rename-source",
            ]
            .iter()
            .any(|h| header(h).is_some()),
            content_range: header("content-range"),
            amz_content_sha256: header("x-amz-content-sha256"),
            goog_resumable_start: header("x-goog-resumable")
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("start")),
        }
    }
}

/// One request as the bucket matcher reads it.
pub struct ObjectRequest<'a> {
    pub method: &'a str,
    /// Normalised host (`whatsapp::normalize_authority`).
    pub host: &'a str,
    /// The path and query as sent.
    pub raw_path: &'a str,
    pub path: &'a NormalizedPath,
    pub headers: &'a StorageHeaders,
}

/// A request of a GCS resumable session, on a GCS host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionRequest {
    /// Starts a session: a JSON API upload whose every `uploadType` is `resumable`, or an XML
    /// API `POST` with `x-goog-resumable: start`, to an object path the filter reads.
    Start,
    /// Carries an `upload_id` (a chunk, or a status query): the sessions it may select, every
    /// value of an `upload_id` parameter decoded once (GCS reads the key with case; a key in
    /// another case alone leaves this empty, a session the filter cannot name).
    Chunk(Vec<String>),
}

/// Reads a request to a GCS host (`TrainingBucket::serves_gcs_host`) as part of a resumable
/// session; `None` when it is not one (a read, a batch, another upload).
pub fn session_request(req: &ObjectRequest<'_>) -> Option<SessionRequest> {
    let method = req.method.to_ascii_uppercase();
    if !matches!(method.as_str(), "PUT" | "POST" | "PATCH") {
        return None;
    }
    let norm: Vec<&str> = req.path.segments.iter().map(String::as_str).collect();
    let norm = match norm.as_slice() {
        ["resumable", "upload", rest @ ..] => {
            let mut n = vec!["upload"];
            n.extend_from_slice(rest);
            n
        }
        _ => norm,
    };
    let virtual_host = is_gcs_virtual_host(req.host);
    let json_upload = !virtual_host
        && matches!(
            norm.as_slice(),
            ["upload", "storage", version, "b", _, "o"] if version.starts_with("v1")
        );
    let xml_object = virtual_host
        || (norm.len() >= 2
            && !matches!(
                norm.first(),
                Some(&("upload" | "batch" | "storage" | "resumable"))
            ));
    if query_param(req.path, "upload_id").is_some() {
        // Any write that names a session, except a batch (its embedded requests are judged).
        if norm.first() == Some(&"batch") && !virtual_host {
            return None;
        }
        return Some(SessionRequest::Chunk(exact_query_values(
            req.raw_path,
            "upload_id",
        )));
    }
    if method != "POST" {
        return None;
    }
    let resumable = || {
        let types = request::raw_query_values(req.raw_path, "uploadType");
        !types.is_empty()
            && types
                .iter()
                .all(|(k, v)| k == "uploadType" && v == "resumable")
    };
    let starts = (json_upload && resumable()) || (xml_object && req.headers.goog_resumable_start);
    starts.then_some(SessionRequest::Start)
}

/// The shape of a request of a resumable session as its bytes go: the whole object (no
/// `content-range`, or all of it), a status query, or a piece.
pub fn session_chunk_shape(headers: &StorageHeaders) -> ObjectShape {
    request::resumable_chunk(headers)
}

/// A compiled training bucket.
#[derive(Debug, Clone)]
pub struct TrainingBucket {
    provider: BucketProvider,
    /// The bucket (GCS, S3) or the account (Azure), lowercase.
    name: String,
    /// Azure's container, lowercase.
    container: String,
    prefix: String,
    hosts: Vec<super::HostPattern>,
}

impl TrainingBucket {
    pub fn compile(doc: &BucketDoc, path: &str, errors: &mut Vec<(String, String)>) -> Self {
        let mut err = |field: &str, msg: String| errors.push((format!("{path}.{field}"), msg));
        let (name, container) = match doc.provider {
            BucketProvider::AzureBlob => {
                if doc.bucket.is_some() {
                    err(
                        "bucket",
                        "an Azure Blob bucket names `account` and `container`, not `bucket`".into(),
                    );
                }
                let account = doc.account.clone().unwrap_or_default();
                let container = doc.container.clone().unwrap_or_default();
                if let Some(problem) = names::azure_account(&account) {
                    err("account", problem);
                }
                if let Some(problem) = names::azure_container(&container) {
                    err("container", problem);
                }
                (account, container)
            }
            provider => {
                if doc.account.is_some() || doc.container.is_some() {
                    err(
                        "bucket",
                        "`account` and `container` are for `azure_blob` only; name the `bucket`"
                            .into(),
                    );
                }
                let bucket = doc.bucket.clone().unwrap_or_default();
                let problem = if provider == BucketProvider::Gcs {
                    names::gcs_bucket(&bucket)
                } else {
                    names::s3_bucket(&bucket)
                };
                if let Some(problem) = problem {
                    err("bucket", problem);
                }
                (bucket, String::new())
            }
        };
        if doc.prefix.chars().any(char::is_control) {
            err(
                "prefix",
                format!(
                    "prefix `{}` holds a control character",
                    doc.prefix.escape_debug()
                ),
            );
        }
        let mut hosts = Vec::new();
        for (i, h) in doc.hosts.iter().enumerate() {
            match super::HostPattern::parse(h) {
                Ok(p) => hosts.push(p),
                Err(e) => err(&format!("hosts[{i}]"), e),
            }
        }
        Self {
            provider: doc.provider,
            name: name.to_ascii_lowercase(),
            container: container.to_ascii_lowercase(),
            prefix: doc.prefix.clone(),
            hosts,
        }
    }

    /// Whether a request to this host may name the bucket (the glue's hot path).
    pub fn governs_host(&self, host: &str) -> bool {
        self.hosts.iter().any(|h| h.matches(host))
            || match self.provider {
                BucketProvider::S3 => is_s3_endpoint(host) || self.virtual_host(host),
                // Any bucket's virtual host: a session chunk sent there may belong to a
                // session of this bucket (`session`).
                BucketProvider::Gcs => {
                    is_gcs_endpoint(host) || is_gcs_virtual_host(host) || self.virtual_host(host)
                }
                BucketProvider::AzureBlob => self.virtual_host(host),
            }
    }

    pub fn is_gcs(&self) -> bool {
        self.provider == BucketProvider::Gcs
    }

    /// Whether this is a GCS bucket and `host` serves GCS's API for it or for any bucket
    /// (a resumable session's requests may go to any of them).
    pub fn serves_gcs_host(&self, host: &str) -> bool {
        self.provider == BucketProvider::Gcs
            && (self.hosts.iter().any(|h| h.matches(host))
                || is_gcs_endpoint(host)
                || is_gcs_virtual_host(host)
                || self.virtual_host(host))
    }

    /// Whether `req`, a resumable session start ([`session_request`]), starts a session for
    /// this bucket under its prefix.
    pub fn starts_session(&self, req: &ObjectRequest<'_>) -> bool {
        matches!(
            self.any_shape(req),
            Some((
                ObjectShape::SessionStart { .. } | ObjectShape::Whole { .. },
                true
            ))
        )
    }

    /// The shape of a request that writes to this bucket under its prefix; `None` for any
    /// other request (another bucket, a read, a request that carries no object data).
    pub fn shape(&self, req: &ObjectRequest<'_>) -> Option<ObjectShape> {
        let (shape, in_prefix) = self.any_shape(req)?;
        let data = !matches!(
            shape,
            ObjectShape::Control | ObjectShape::SessionStart { .. }
        );
        (data && in_prefix).then_some(shape)
    }

    /// The shape of a write request to this bucket, and whether its object is under the
    /// prefix; `None` for a read or a request to another bucket.
    fn any_shape(&self, req: &ObjectRequest<'_>) -> Option<(ObjectShape, bool)> {
        if !matches!(
            req.method.to_ascii_uppercase().as_str(),
            "PUT" | "POST" | "PATCH"
        ) {
            return None;
        }
        let (raw, _) = split_query(req.raw_path);
        let raw_segments: Vec<&str> = raw.split('/').skip(1).collect();
        let norm: Vec<&str> = req.path.segments.iter().map(String::as_str).collect();
        let extra_host = self.hosts.iter().any(|h| h.matches(req.host));
        // The name as the engine normalises the path, for the prefix (fail closed: where the
        // service's reading and the normalised one differ, either under the prefix counts).
        let bucket_in_host =
            self.provider != BucketProvider::AzureBlob && self.virtual_host(req.host);
        let mut normalised_names = Vec::new();
        if bucket_in_host {
            normalised_names.push(norm.join("/"));
        } else if let Some(rest) = norm.get(1..) {
            normalised_names.push(rest.join("/"));
        }
        if let Some(n) = query_param(req.path, "name") {
            normalised_names.push(n.to_owned());
        }
        let shape = match self.provider {
            BucketProvider::Gcs if self.virtual_host(req.host) => {
                xml_shape(req, raw_segments.join("/"), true)
            }
            BucketProvider::Gcs if extra_host || is_gcs_endpoint(req.host) => {
                self.gcs_path_style(req, &raw_segments, &norm)?
            }
            BucketProvider::S3 if self.virtual_host(req.host) => {
                xml_shape(req, raw_segments.join("/"), false)
            }
            BucketProvider::S3 if extra_host || is_s3_endpoint(req.host) => {
                let key = self.after_first(&raw_segments, &norm)?;
                xml_shape(req, key, false)
            }
            BucketProvider::AzureBlob if extra_host || self.virtual_host(req.host) => {
                self.azure_shape(req, &raw_segments, &norm)?
            }
            _ => return None,
        };
        let in_prefix = self.in_prefix(&shape, &normalised_names);
        Some((shape, in_prefix))
    }

    /// `{bucket}.{endpoint}` (`{account}.blob.core.windows.net` for Azure).
    /// For a host the policy adds, `{bucket}.{host}` too (MinIO's `MINIO_DOMAIN`, an S3
    /// PrivateLink endpoint).
    fn virtual_host(&self, host: &str) -> bool {
        let Some(rest) = host
            .strip_prefix(self.name.as_str())
            .and_then(|r| r.strip_prefix('.'))
        else {
            return false;
        };
        self.hosts.iter().any(|h| h.matches(rest))
            || match self.provider {
                BucketProvider::S3 => is_s3_endpoint(rest),
                BucketProvider::Gcs => {
                    matches!(
                        rest,
                        "storage.googleapis.com" | "commondatastorage.googleapis.com"
                    )
                }
                BucketProvider::AzureBlob => is_azure_endpoint(rest),
            }
    }

    /// Azure: `/{container}/{blob}`; a single segment is a blob of `$root` unless it addresses
    /// the container (`restype=container`). Data Lake's `action` and `resource` are read only
    /// on a `dfs` host: the Blob service ignores them and stores the body.
    fn azure_shape(
        &self,
        req: &ObjectRequest<'_>,
        raw: &[&str],
        norm: &[&str],
    ) -> Option<ObjectShape> {
        let param = |k: &str| query_param(req.path, k).filter(|v| !v.is_empty());
        let in_root = raw.len() <= 1 && norm.len() <= 1 && param("restype").is_none();
        let name = if in_root {
            if self.container != "$root" {
                return None;
            }
            raw.first().map(|b| decode_once(b))
        } else {
            let container = norm.first().copied().unwrap_or_default();
            if !self.names_container(raw.first().copied(), container) {
                return None;
            }
            Some(decode_once(&raw.get(1..).unwrap_or_default().join("/")))
        };
        if req.headers.copy_source {
            return Some(ObjectShape::Copy);
        }
        let dfs = is_dfs_host(req.host, &self.name);
        // A host the policy adds may be either service: a Data Lake append is a piece there.
        let (action, resource) = match dfs {
            Some(true) => (param("action"), param("resource")),
            Some(false) => (None, None),
            None => (param("action").filter(|a| *a == "append"), None),
        };
        let shape = match (param("comp"), action, resource) {
            (Some("block" | "appendblock" | "page"), _, _) => ObjectShape::Piece,
            (Some(_), _, _) => ObjectShape::Control,
            (None, Some("append"), _) => ObjectShape::Piece,
            (None, Some(_), _) | (None, None, Some(_)) => ObjectShape::Control,
            (None, None, None) => ObjectShape::Whole {
                name: name.flatten(),
                multipart: false,
            },
        };
        Some(shape)
    }

    /// Whether the first path segment names the bucket: as the service reads it (decoded
    /// once) or as the engine normalises it (decoded until stable, dot segments resolved).
    fn names(&self, raw: Option<&str>, normalised: &str) -> bool {
        let once = raw.and_then(decode_once).unwrap_or_default();
        once.eq_ignore_ascii_case(&self.name) || normalised == self.name
    }

    fn names_container(&self, raw: Option<&str>, normalised: &str) -> bool {
        let once = raw.and_then(decode_once).unwrap_or_default();
        once.eq_ignore_ascii_case(&self.container) || normalised == self.container
    }

    /// The object name after a path-style bucket segment, when the path names this bucket.
    fn after_first(&self, raw: &[&str], norm: &[&str]) -> Option<String> {
        if !self.names(
            raw.first().copied(),
            norm.first().copied().unwrap_or_default(),
        ) {
            return None;
        }
        Some(raw.get(1..).unwrap_or_default().join("/"))
    }

    /// Whether the object is under the prefix. A name that cannot be read (not in the request
    /// line, not UTF-8 once decoded) is taken to be under it.
    fn in_prefix(&self, shape: &ObjectShape, normalised: &[String]) -> bool {
        let (ObjectShape::Whole {
            name: Some(name), ..
        }
        | ObjectShape::SessionStart { name: Some(name) }) = shape
        else {
            return true;
        };
        let starts = |n: &str| {
            n.get(..self.prefix.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(&self.prefix))
        };
        self.prefix.is_empty()
            || starts(name)
            || starts(&crate::whatsapp::decode_fully(name))
            || normalised.iter().any(|n| starts(n))
    }
}

#[cfg(test)]
mod tests;
