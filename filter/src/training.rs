//! The second job: find WhatsApp-derived records in uploads to AI training endpoints and strip
//! them, forwarding every other byte unchanged.
//!
//! The headers phase matches the endpoint and picks a streaming `Stripper` for the body's
//! format and encoding; the body phase feeds it chunk by chunk. Memory is bounded by the longest
//! record, never by the body.

pub mod bucket;
pub mod detect;
pub mod gzip;
pub mod hf_commit;
pub mod json_doc;
pub mod multipart;
pub mod object;
pub mod parts;
pub mod stage;
pub mod upload;

use crate::content_encoding::{ContentEncoding, Layer};
use crate::document::{
    Action, BodyFormat, BucketDoc, EndpointDoc, Mode, PatternDoc, TrainingSection,
    UnknownGcsSessions,
};
use crate::identity::IdentityPattern;
use detect::Detectors;
use gzip::DecodeStage;
use stage::{
    JsonDocumentStage, LineKind, LineStage, Passthrough, Refuse, Stage, StageContext, StripError,
    StripStats,
};
use std::sync::Arc;

/// A request of a GCS resumable session (`TrainingPolicy::gcs_session`).
#[derive(Debug, Clone)]
pub enum GcsSession<'a> {
    /// Starts a session for this training bucket, or (`None`) for a bucket the policy does
    /// not name.
    Start { rule: Option<&'a TrainingEndpoint> },
    /// Names sessions by these `upload_id`s (empty: by a key GCS does not read).
    Chunk(Vec<String>),
}

/// A compiled endpoint entry.
#[derive(Debug, Clone)]
pub struct TrainingEndpoint {
    pub id: String,
    hosts: Vec<HostPattern>,
    paths: Vec<IdentityPattern>,
    methods: Vec<String>,
    pub format: BodyFormat,
    /// A training bucket (`training.buckets`): matched by `route_object`, never by `route`.
    bucket: Option<bucket::TrainingBucket>,
}

/// A host pattern: exact, or with `*` standing for the characters of one DNS label
/// (`*.openai.azure.com`, `*-aiplatform.googleapis.com`, `bedrock.*.amazonaws.com`).
#[derive(Debug, Clone)]
struct HostPattern(regex::Regex);

impl HostPattern {
    fn parse(s: &str) -> Result<Self, String> {
        let h = crate::whatsapp::normalize_authority(s);
        if h.is_empty()
            || !h
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'*')
        {
            return Err(format!("invalid host pattern `{s}`"));
        }
        let body: Vec<String> = h.split('*').map(regex::escape).collect();
        regex::Regex::new(&format!("^{}$", body.join("[a-z0-9-]+")))
            .map(Self)
            .map_err(|e| format!("invalid host pattern `{s}`: {e}"))
    }

    fn matches(&self, host: &str) -> bool {
        self.0.is_match(host)
    }
}

impl TrainingEndpoint {
    fn compile(doc: &EndpointDoc, path: &str, errors: &mut Vec<(String, String)>) -> Self {
        let mut hosts = Vec::new();
        for (i, h) in doc.hosts.iter().enumerate() {
            match HostPattern::parse(h) {
                Ok(p) => hosts.push(p),
                Err(e) => errors.push((format!("{path}.hosts[{i}]"), e)),
            }
        }
        if doc.hosts.is_empty() {
            errors.push((
                format!("{path}.hosts"),
                "at least one host is required".into(),
            ));
        }
        let mut paths = Vec::new();
        for (i, p) in doc.paths.iter().enumerate() {
            if !p.starts_with('/') {
                errors.push((
                    format!("{path}.paths[{i}]"),
                    format!("path glob `{p}` must start with `/`"),
                ));
                continue;
            }
            match IdentityPattern::compile(&PatternDoc::Glob(p.to_ascii_lowercase())) {
                Ok(g) => paths.push(g),
                Err(e) => errors.push((format!("{path}.paths[{i}]"), e)),
            }
        }
        Self {
            id: doc.id.clone(),
            hosts,
            paths,
            methods: doc.methods.iter().map(|m| m.to_ascii_uppercase()).collect(),
            format: doc.format,
            bucket: None,
        }
    }

    /// A training bucket as an endpoint: its outcomes, metrics and logs carry its id.
    fn for_bucket(doc: &BucketDoc, path: &str, errors: &mut Vec<(String, String)>) -> Self {
        Self {
            id: doc.id.clone(),
            hosts: Vec::new(),
            paths: Vec::new(),
            methods: Vec::new(),
            format: BodyFormat::Object,
            bucket: Some(bucket::TrainingBucket::compile(doc, path, errors)),
        }
    }

    fn governs_host(&self, host: &str) -> bool {
        self.hosts.iter().any(|h| h.matches(host))
            || self.bucket.as_ref().is_some_and(|b| b.governs_host(host))
    }

    fn matches(&self, method: &str, host: &str, path: &str) -> bool {
        self.methods.iter().any(|m| m.eq_ignore_ascii_case(method))
            && self.hosts.iter().any(|h| h.matches(host))
            && self.paths.iter().any(|p| p.matches(path))
    }
}

/// The compiled `training` section.
#[derive(Debug, Clone)]
pub struct TrainingPolicy {
    pub mode: Option<Mode>,
    pub endpoints: Vec<TrainingEndpoint>,
    pub exclusive: Vec<TrainingEndpoint>,
    /// `training.buckets`, compiled as endpoints of format `Object`.
    pub buckets: Vec<TrainingEndpoint>,
    pub on_uninspectable: Action,
    /// How a request of a GCS session the filter never saw start is judged.
    pub unknown_gcs_sessions: UnknownGcsSessions,
    /// Every stripper lists the records it strips (`StripStats::stripped`): for a tool that
    /// reports where they were (`wa-guard strip`); never set in Envoy.
    pub list_stripped: bool,
    ctx: Arc<StageContext>,
}

impl TrainingPolicy {
    pub fn compile(doc: &TrainingSection) -> Result<Self, Vec<(String, String)>> {
        let mut errors = Vec::new();
        let endpoints: Vec<_> = doc
            .endpoints
            .iter()
            .enumerate()
            .map(|(i, e)| {
                TrainingEndpoint::compile(e, &format!("$.training.endpoints[{i}]"), &mut errors)
            })
            .collect();
        let exclusive: Vec<_> = doc
            .exclusive
            .iter()
            .enumerate()
            .map(|(i, e)| {
                TrainingEndpoint::compile(e, &format!("$.training.exclusive[{i}]"), &mut errors)
            })
            .collect();
        let buckets: Vec<_> = doc
            .buckets
            .iter()
            .enumerate()
            .map(|(i, b)| {
                TrainingEndpoint::for_bucket(b, &format!("$.training.buckets[{i}]"), &mut errors)
            })
            .collect();
        // Ids name outcomes, metrics and logs: one per endpoint, bucket or not.
        let ids = doc
            .endpoints
            .iter()
            .enumerate()
            .map(|(i, e)| (format!("$.training.endpoints[{i}].id"), &e.id))
            .chain(
                doc.exclusive
                    .iter()
                    .enumerate()
                    .map(|(i, e)| (format!("$.training.exclusive[{i}].id"), &e.id)),
            )
            .chain(
                doc.buckets
                    .iter()
                    .enumerate()
                    .map(|(i, b)| (format!("$.training.buckets[{i}].id"), &b.id)),
            );
        let mut seen = std::collections::HashSet::new();
        for (path, id) in ids {
            if !seen.insert(id.as_str()) {
                errors.push((path, format!("duplicate endpoint id `{id}`")));
            }
        }
        let detectors = Detectors::compile(&doc.detectors)
            .map_err(|e| vec![("$.training.detectors".to_owned(), e)]);
        let limit = |v: u64, name: &str, errors: &mut Vec<(String, String)>| {
            if v == 0 || v > 1 << 30 {
                errors.push((
                    format!("$.training.{name}"),
                    format!("must be between 1 and {}, got `{v}`", 1u64 << 30),
                ));
            }
            usize::try_from(v).unwrap_or(usize::MAX)
        };
        let max_record_bytes = limit(doc.max_record_bytes, "max_record_bytes", &mut errors);
        let max_json_document_bytes = limit(
            doc.max_json_document_bytes,
            "max_json_document_bytes",
            &mut errors,
        );
        if doc.max_expansion_ratio < 2 {
            errors.push((
                "$.training.max_expansion_ratio".into(),
                "must be at least 2".into(),
            ));
        }
        match detectors {
            Ok(mut detectors) if errors.is_empty() => {
                // A compressed payload found inside a record inflates within the limits of a
                // compressed body and of a record.
                detectors.set_inflate_budget(detect::InflateBudget {
                    ratio: doc.max_expansion_ratio,
                    max: max_record_bytes,
                });
                Ok(Self {
                    mode: doc.mode,
                    endpoints,
                    exclusive,
                    buckets,
                    on_uninspectable: doc.on_uninspectable,
                    unknown_gcs_sessions: doc.unknown_gcs_sessions,
                    list_stripped: false,
                    ctx: Arc::new(StageContext {
                        detectors,
                        max_record_bytes,
                        max_json_document_bytes,
                        max_expansion_ratio: doc.max_expansion_ratio,
                    }),
                })
            }
            Ok(_) => Err(errors),
            Err(mut e) => {
                errors.append(&mut e);
                Err(errors)
            }
        }
    }

    /// Matches a request; exclusive (allow-listed) endpoints win.
    /// Whether an endpoint (inspected or exclusive) is on this normalised host.
    pub fn governs_host(&self, host: &str) -> bool {
        self.endpoints
            .iter()
            .chain(&self.exclusive)
            .chain(&self.buckets)
            .any(|e| e.governs_host(host))
    }

    /// Matches a request that writes to a training bucket (after `route` found no endpoint).
    pub fn route_object(
        &self,
        req: &bucket::ObjectRequest<'_>,
    ) -> Option<(TrainingRoute<'_>, bucket::ObjectShape)> {
        self.buckets.iter().find_map(|e| {
            let shape = e.bucket.as_ref()?.shape(req)?;
            let route = TrainingRoute {
                endpoint: e,
                exclusive: false,
            };
            Some((route, shape))
        })
    }

    /// A request of a GCS resumable session on a host serving GCS, when the policy names a
    /// GCS bucket: a start (with the bucket rule it starts a session for, if any) or a request
    /// that names sessions by `upload_id`.
    pub fn gcs_session(&self, req: &bucket::ObjectRequest<'_>) -> Option<GcsSession<'_>> {
        if !self.serves_gcs_host(req.host) {
            return None;
        }
        Some(match bucket::session_request(req)? {
            bucket::SessionRequest::Start => GcsSession::Start {
                rule: self
                    .gcs_buckets()
                    .find(|(_, b)| b.starts_session(req))
                    .map(|(e, _)| e),
            },
            bucket::SessionRequest::Chunk(ids) => GcsSession::Chunk(ids),
        })
    }

    /// Whether a GCS bucket of the policy is served on `host` (sessions are tracked there).
    pub fn serves_gcs_host(&self, host: &str) -> bool {
        self.gcs_buckets().any(|(_, b)| b.serves_gcs_host(host))
    }

    /// The GCS buckets, in policy order.
    fn gcs_buckets(&self) -> impl Iterator<Item = (&TrainingEndpoint, &bucket::TrainingBucket)> {
        self.buckets
            .iter()
            .filter_map(|e| Some((e, e.bucket.as_ref().filter(|b| b.is_gcs())?)))
    }

    /// The route of the GCS bucket whose rule id hashes to `rule` (`session::rule_hash`).
    pub fn gcs_route_of(&self, rule: [u8; 8]) -> Option<TrainingRoute<'_>> {
        self.gcs_buckets()
            .find(|(e, _)| bucket::session::rule_hash(&e.id) == rule)
            .map(|(endpoint, _)| TrainingRoute {
                endpoint,
                exclusive: false,
            })
    }

    /// The route a request of a session the filter cannot place is judged by: the first GCS
    /// bucket (every bucket rule judges an object of unknown name alike).
    pub fn strictest_gcs_route(&self) -> Option<TrainingRoute<'_>> {
        self.gcs_buckets()
            .next()
            .map(|(endpoint, _)| TrainingRoute {
                endpoint,
                exclusive: false,
            })
    }

    /// The stripper of an object written to a training bucket: it judges the object and
    /// forwards its own bytes (`object::ObjectStage`); `name` is the object's name, when known;
    /// `multipart`: the service parses the body as a multipart form.
    pub fn object_stripper(
        &self,
        name: &str,
        multipart: bool,
        content_type: Option<&str>,
        content_encoding: Option<&str>,
        aws_chunked: bool,
    ) -> Stripper {
        let judge = object::judge_stage(
            &self.ctx,
            name,
            multipart,
            content_type,
            content_encoding,
            aws_chunked,
        );
        self.stripper_over(Box::new(object::ObjectStage::new(&self.ctx, judge)), false)
    }

    /// The stripper of a GCS batch request: it holds the body whole, judges every embedded
    /// request against the training buckets and forwards the body byte for byte.
    pub fn batch_stripper(&self, content_type: Option<&str>) -> Stripper {
        let buckets = self
            .buckets
            .iter()
            .filter_map(|e| e.bucket.clone())
            .collect();
        self.stripper_over(
            Box::new(bucket::BatchStage::new(&self.ctx, buckets, content_type)),
            false,
        )
    }

    pub fn route(
        &self,
        method: &str,
        host: &str,
        normalized_path: &str,
    ) -> Option<TrainingRoute<'_>> {
        if let Some(e) = self
            .exclusive
            .iter()
            .find(|e| e.matches(method, host, normalized_path))
        {
            return Some(TrainingRoute {
                endpoint: e,
                exclusive: true,
            });
        }
        self.endpoints
            .iter()
            .find(|e| e.matches(method, host, normalized_path))
            .map(|e| TrainingRoute {
                endpoint: e,
                exclusive: false,
            })
    }

    /// What every stage reads: the detectors and the limits.
    pub fn stage_context(&self) -> &StageContext {
        &self.ctx
    }

    /// Builds the stripper for a body, or says why it cannot be inspected (tests and tools:
    /// the `content-encoding` header is read here).
    pub fn stripper(
        &self,
        format: BodyFormat,
        content_type: Option<&str>,
        content_encoding: Option<&str>,
    ) -> Stripper {
        let encoding = ContentEncoding::parse(content_encoding);
        self.stripper_with(format, content_type, &encoding, None)
    }

    /// Builds the stripper for a body whose `content-encoding` the headers phase has read.
    pub fn stripper_for(
        &self,
        format: BodyFormat,
        content_type: Option<&str>,
        encoding: &ContentEncoding,
    ) -> Stripper {
        self.stripper_with(format, content_type, encoding, None)
    }

    /// The stripper for one part of a file uploaded in parts (`parts`): a multipart body whose
    /// one file part goes through `file_stage`, or the body itself when it is not multipart.
    pub fn part_stripper(
        &self,
        content_type: Option<&str>,
        encoding: &ContentEncoding,
        carried_tail: Vec<u8>,
        slot: parts::TailSlot,
    ) -> Stripper {
        let ctx = Arc::clone(&self.ctx);
        let make: multipart::FileStage =
            Box::new(move || Box::new(parts::PartStage::new(ctx, carried_tail, slot)));
        self.stripper_with(BodyFormat::Multipart, content_type, encoding, Some(make))
    }

    fn stripper_with(
        &self,
        format: BodyFormat,
        content_type: Option<&str>,
        encoding: &ContentEncoding,
        file_stage: Option<multipart::FileStage>,
    ) -> Stripper {
        let mime = crate::media_type::essence(content_type.unwrap_or(""));
        let format = match format {
            BodyFormat::Auto => match mime.as_str() {
                "multipart/form-data" => BodyFormat::Multipart,
                "application/json" => BodyFormat::Json,
                _ => BodyFormat::Jsonl,
            },
            f => f,
        };
        let inner: Box<dyn Stage> = match format {
            // gRPC (a client library's default transport) and protobuf bodies are binary
            // messages whose schema the filter does not have: whatever the endpoint's format,
            // they are refused as such (`on_uninspectable`), never read as text.
            _ if is_protobuf(&mime) => Box::new(Refuse::new(StripError::ProtobufBody)),
            BodyFormat::Multipart => {
                match (
                    crate::media_type::boundary(content_type.unwrap_or("")),
                    file_stage,
                ) {
                    (Some(b), Some(make)) => Box::new(multipart::MultipartStage::with_file_stage(
                        Arc::clone(&self.ctx),
                        &b,
                        make,
                    )),
                    (Some(b), None) => {
                        Box::new(multipart::MultipartStage::new(Arc::clone(&self.ctx), &b))
                    }
                    (None, _) => Box::new(Refuse::new(StripError::MalformedMultipart)),
                }
            }
            BodyFormat::Json => Box::new(JsonDocumentStage::new(Arc::clone(&self.ctx))),
            // The flow builds these itself (`part_stripper`, and `/complete` is read whole).
            BodyFormat::UploadPart | BodyFormat::UploadComplete | BodyFormat::Object => {
                Box::new(Refuse::new(StripError::UnsupportedPart))
            }
            BodyFormat::HfCommit => Box::new(hf_commit::HfCommitStage::new(Arc::clone(&self.ctx))),
            BodyFormat::Jsonl | BodyFormat::Auto => match mime.as_str() {
                ""
                | "application/jsonl"
                | "application/x-ndjson"
                | "application/ndjson"
                | "application/jsonlines"
                | "application/x-jsonlines"
                | "application/octet-stream"
                | "text/plain"
                | "application/json" => {
                    Box::new(LineStage::new(Arc::clone(&self.ctx), LineKind::Json))
                }
                _ => Box::new(Refuse::new(StripError::UnsupportedPart)),
            },
        };
        // One layer is undone as the upload streams; more, or an unknown coding, cannot be read.
        let (stage, decodes) = match encoding.single_layer() {
            Layer::Identity => (Some(inner), false),
            Layer::One(coding) => (
                DecodeStage::new(coding, inner, self.ctx.max_expansion_ratio)
                    .map(|d| Box::new(d) as Box<dyn Stage>),
                true,
            ),
            Layer::Unreadable => (None, false),
        };
        let stage = stage.unwrap_or_else(|| Box::new(Refuse::new(StripError::InvalidCompression)));
        self.stripper_over(stage, decodes)
    }

    /// A stripper over `stage`, listing what it strips when the policy asks for the list;
    /// `decodes` when the stage undoes the body's `content-encoding`.
    fn stripper_over(&self, stage: Box<dyn Stage>, decodes: bool) -> Stripper {
        Stripper {
            stage,
            decodes,
            stats: StripStats {
                stripped: self.list_stripped.then(Vec::new),
                ..StripStats::default()
            },
            error: None,
            bytes_in: 0,
            bytes_out: 0,
        }
    }

    /// A pass-through "stripper" for allow-listed endpoints: counts bytes, changes nothing.
    pub fn passthrough(&self) -> Stripper {
        Stripper {
            stage: Box::new(Passthrough),
            decodes: false,
            stats: StripStats::default(),
            error: None,
            bytes_in: 0,
            bytes_out: 0,
        }
    }
}

/// A gRPC (`application/grpc`, `+proto`, gRPC-Web) or protobuf media type.
fn is_protobuf(mime: &str) -> bool {
    mime.starts_with("application/grpc")
        || matches!(
            mime,
            "application/protobuf"
                | "application/x-protobuf"
                | "application/x-google-protobuf"
                | "application/vnd.google.protobuf"
                | "application/octet-stream+protobuf"
        )
}

/// A matched training endpoint.
#[derive(Debug, Clone, Copy)]
pub struct TrainingRoute<'p> {
    pub endpoint: &'p TrainingEndpoint,
    pub exclusive: bool,
}

/// A streaming stripper for one upload.
pub struct Stripper {
    stage: Box<dyn Stage>,
    /// It undoes the body's `content-encoding`: what it forwards is identity-encoded.
    decodes: bool,
    pub stats: StripStats,
    /// The first error; after it, the body was bypassed (policy `allow`) or blocked.
    pub error: Option<StripError>,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

impl Stripper {
    /// Feeds a chunk, appending the bytes to forward now to `out`. On error, `out` still holds
    /// what was judged before the error; the rest is held for `bypass`.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> Result<(), StripError> {
        self.bytes_in += chunk.len() as u64;
        let before = out.len();
        let r = self.stage.feed(chunk, out, &mut self.stats);
        self.bytes_out += (out.len() - before) as u64;
        r.map_err(|e| self.fail(e))
    }

    /// Ends the body, appending the last bytes to forward.
    pub fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), StripError> {
        // An empty body holds no records; there is nothing to inspect or refuse.
        if self.bytes_in == 0 {
            return Ok(());
        }
        let before = out.len();
        let r = self.stage.finish(out, &mut self.stats);
        self.bytes_out += (out.len() - before) as u64;
        r.map_err(|e| self.fail(e))
    }

    fn fail(&mut self, e: StripError) -> StripError {
        // A record found after a tolerated error is what the upload is refused for.
        if e == StripError::RecordsInObject {
            self.error = Some(e);
        }
        self.error.get_or_insert(e);
        e
    }

    /// After an error the policy tolerates: forward the held bytes and everything after as is.
    /// A broken compressed stream cannot be forwarded identity-encoded, and a WhatsApp record
    /// found in an upload part or an object is a finding, not a body that could not be read:
    /// neither is ever bypassed.
    pub fn bypass(&mut self, out: &mut Vec<u8>) -> bool {
        if matches!(
            self.error,
            Some(
                StripError::InvalidCompression
                    | StripError::ExpansionTooLarge
                    | StripError::RecordsInObject
                    | StripError::RecordsInPart
            )
        ) {
            return false;
        }
        let before = out.len();
        self.stage.bypass(out);
        self.bytes_out += (out.len() - before) as u64;
        true
    }

    /// Whether the stripper undoes the body's `content-encoding`, so the header must go.
    pub fn decodes(&self) -> bool {
        self.decodes
    }

    /// Every record was WhatsApp-derived: nothing would be left to train on.
    pub fn stripped_everything(&self) -> bool {
        self.stats.records_seen > 0 && self.stats.records_stripped == self.stats.records_seen
    }
}

#[cfg(test)]
mod tests;
