//! Which stage reads a training upload: chosen by the endpoint's format, the media type and the
//! content encoding, and wrapped in a `Stripper`.

use super::gzip::DecodeStage;
use super::stage::{
    JsonDocumentStage, LineKind, LineStage, Passthrough, Refuse, Stage, StripError, StripStats,
};
use super::{Stripper, TrainingPolicy, bucket, hf_commit, multipart, object, parts};
use crate::content_encoding::{ContentEncoding, Layer};
use crate::document::BodyFormat;
use std::sync::Arc;

impl TrainingPolicy {
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
        let stats = StripStats {
            stripped: self.list_stripped.then(Vec::new),
            ..StripStats::default()
        };
        Stripper::new(stage, decodes, stats)
    }

    /// A pass-through "stripper" for allow-listed endpoints: counts bytes, changes nothing.
    pub fn passthrough(&self) -> Stripper {
        Stripper::new(Box::new(Passthrough), false, StripStats::default())
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
