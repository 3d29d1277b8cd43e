//! Requests to a training endpoint or bucket, in the flow: matched to their route, started as an
//! [`Upload`], fed every body callback, and recorded as a training outcome when they end.
//!
//! The training decision itself is `training::upload::Upload` (fed chunks, it says what to
//! forward, hold or refuse, and leaves the outcome). This file is the router's side of it: it
//! reads the request's head and the host's attributes, and turns the upload's steps into the
//! steps the glue applies. It lives under `flow` and not under `training` because it answers
//! in the flow's steps and the 403 of `report`, which `training` must not import (`report`
//! and `flow` import `training`).

use super::{BodyStep, HeadersStep, RequestFlow, RequestHead, State, StateAccess, headers_step};
use crate::content_encoding::ContentEncoding;
use crate::document::Mode;
use crate::identity::RequestAttributes;
use crate::policy::Policy;
use crate::report;
use crate::training::bucket::{ObjectRequest, ObjectShape};
use crate::training::parts::PartRequest;
use crate::training::stage::StripError;
use crate::training::upload::{self, TrainingOutcome, Upload, UploadStep};
use crate::training::{GcsSession, Stripper, TrainingPolicy, TrainingRoute};
use crate::whatsapp::NormalizedPath;

impl RequestFlow {
    /// Matches a training endpoint or bucket and prepares the stripper; anything else passes.
    pub(super) fn start_training(
        &mut self,
        policy: &Policy,
        head: &RequestHead,
        attrs: &dyn RequestAttributes,
        host: &str,
        path: &NormalizedPath,
        state: &mut StateAccess<'_>,
    ) -> HeadersStep {
        let Some(training) = &policy.training else {
            return HeadersStep::PassThrough;
        };
        let joined = format!("/{}", path.segments.join("/"));
        let Some(route) = training.route(&head.method, host, &joined) else {
            let request = ObjectRequest {
                method: &head.method,
                host,
                raw_path: &head.path,
                path,
                headers: &head.storage,
            };
            let session = training.gcs_session(&request);
            if let Some(GcsSession::Start { rule }) = &session {
                self.note_session_start(*rule, &policy.log.recipient_hash_salt);
            }
            // A request that writes to a named bucket by its path is judged by it; a session's
            // request to any other is judged by its session's bucket (`gcs_session`).
            return match (training.route_object(&request), session) {
                (Some((route, shape)), _) => self.start_object(policy, head, attrs, &route, shape),
                (None, Some(GcsSession::Chunk(ids))) => {
                    self.start_session_request(policy, head, attrs, &ids, state)
                }
                (None, _) => HeadersStep::PassThrough,
            };
        };
        let store = &*state.store;
        if route.exclusive {
            self.training = Some(TrainingOutcome::exclusive(route.endpoint.id.clone()));
            self.fresh = true;
            self.state = State::Decided;
            return HeadersStep::Continue;
        }
        let audit = training.mode.unwrap_or(policy.mode) == Mode::Audit;
        // The upload id is the segment before `parts` or `complete`.
        let part = Upload::part_kind(route.endpoint.format).map(|kind| {
            let id = path.segments.iter().rev().nth(1).map_or("", String::as_str);
            Box::new(PartRequest::load(store, kind, id))
        });
        // The one reading of `content-encoding` for the upload: what its stripper undoes is
        // what the headers phase removes.
        let encoding = ContentEncoding::parse(head.content_encoding.as_deref());
        let upload = Upload::start(
            training,
            &route,
            audit,
            head.content_type.as_deref(),
            &encoding,
            part,
            may_hold(head, attrs),
        );
        self.stream_upload(upload, head)
    }

    /// Starts an object written to a training bucket: judged and forwarded byte for byte, or
    /// refused; a piece of an object or a copy cannot be inspected.
    /// A GCS batch is held whole and its embedded requests judged (`bucket::BatchStage`).
    pub(super) fn start_object(
        &mut self,
        policy: &Policy,
        head: &RequestHead,
        attrs: &dyn RequestAttributes,
        route: &TrainingRoute<'_>,
        shape: ObjectShape,
    ) -> HeadersStep {
        let Some(training) = &policy.training else {
            return HeadersStep::PassThrough;
        };
        let audit = training.mode.unwrap_or(policy.mode) == Mode::Audit;
        let (stripper, refusal) = match shape {
            ObjectShape::Whole { name, multipart } => (
                object_stripper(training, head, &name.unwrap_or_default(), multipart),
                None,
            ),
            ObjectShape::Piece => (
                object_stripper(training, head, "", false),
                Some(StripError::ObjectInParts.as_str()),
            ),
            ObjectShape::Copy => (
                object_stripper(training, head, "", false),
                Some(StripError::ObjectCopy.as_str()),
            ),
            ObjectShape::Control | ObjectShape::SessionStart { .. } => {
                return HeadersStep::PassThrough;
            }
            ObjectShape::Batch => (training.batch_stripper(head.content_type.as_deref()), None),
        };
        let upload = Upload::start_object(
            training,
            route,
            audit,
            stripper,
            may_hold(head, attrs),
            refusal,
        );
        self.stream_upload(upload, head)
    }

    /// Refuses an upload at its start, or streams its body.
    fn stream_upload(&mut self, mut upload: Upload, head: &RequestHead) -> HeadersStep {
        if let Some(problem) = upload.refused_at_start() {
            let reply = report::training_error(problem, upload.endpoint());
            let through = upload.lets_refusal_through();
            self.state = State::Stripping(Box::new(upload));
            self.end_upload();
            if !through {
                return HeadersStep::Respond(reply);
            }
            return HeadersStep::Continue;
        }
        if head.end_of_stream {
            let step = upload.feed(Some(&[]), true);
            let step = upload_step(&upload, step);
            self.state = State::Stripping(Box::new(upload));
            self.end_upload();
            return headers_step(step);
        }
        let remove_headers = upload.remove_headers();
        self.state = State::Stripping(Box::new(upload));
        HeadersStep::Strip { remove_headers }
    }

    /// A body callback of a streamed upload: the host's buffer is fed to its stripper, and
    /// the upload is recorded when it ends or is refused.
    pub(super) fn on_upload_body(
        &mut self,
        buffered_len: usize,
        end_of_stream: bool,
        read: &mut dyn FnMut(usize) -> Option<Vec<u8>>,
    ) -> BodyStep {
        let State::Stripping(upload) = &mut self.state else {
            return BodyStep::Continue;
        };
        let buffer = read(buffered_len);
        let buffer = match &buffer {
            Some(b) => Some(b.as_slice()),
            None if buffered_len == 0 => Some(&[][..]),
            None => None,
        };
        let step = upload.feed(buffer, end_of_stream);
        let step = upload_step(upload, step);
        if end_of_stream || matches!(step, BodyStep::Respond(_)) {
            self.end_upload();
        }
        step
    }

    /// Records the outcome of a finished (or refused) upload.
    pub(super) fn end_upload(&mut self) {
        let State::Stripping(upload) = std::mem::replace(&mut self.state, State::Decided) else {
            return;
        };
        let outcome = upload.outcome();
        // A part or completion that goes through changes the upload's state once the upstream
        // accepts it (the response).
        self.commit = upload.into_commit(outcome.verdict);
        self.training = Some(outcome);
        self.fresh = true;
    }
}

/// Whether a streamed upload may keep output in the host's buffer (see `HOLD_LIMIT`).
fn may_hold(head: &RequestHead, attrs: &dyn RequestAttributes) -> bool {
    // Read only for an upload that streams: one hostcall, on no other request.
    let protocol = (!head.end_of_stream)
        .then(|| attrs.property(&["request", "protocol"]))
        .flatten();
    let protocol = protocol
        .as_deref()
        .and_then(|p| std::str::from_utf8(p).ok());
    upload::may_end_with_trailers(protocol)
}

/// The body step of an upload's step; a refusal answers with the upload's 403.
fn upload_step(upload: &Upload, step: UploadStep) -> BodyStep {
    match step {
        UploadStep::Pause => BodyStep::Pause,
        UploadStep::Forward => BodyStep::Continue,
        UploadStep::Replace(bytes) => BodyStep::Replace(bytes),
        UploadStep::Hold(bytes) => BodyStep::Hold(bytes),
        UploadStep::Refuse(problem) => {
            BodyStep::Respond(report::training_error(problem, upload.endpoint()))
        }
    }
}

/// The stripper of an object written to a training bucket, from its name and the request's
/// framing. S3 reads a body framed `aws-chunked` whenever the payload hash says it streams.
fn object_stripper(
    training: &TrainingPolicy,
    head: &RequestHead,
    name: &str,
    multipart: bool,
) -> Stripper {
    let aws_chunked = head
        .storage
        .amz_content_sha256
        .as_deref()
        .is_some_and(|h| h.trim().to_ascii_uppercase().starts_with("STREAMING-"))
        || head.content_encoding.as_deref().is_some_and(|ce| {
            ce.split(',')
                .any(|c| c.trim().eq_ignore_ascii_case("aws-chunked"))
        });
    training.object_stripper(
        name,
        multipart,
        head.content_type.as_deref(),
        head.content_encoding.as_deref(),
        aws_chunked,
    )
}

#[cfg(test)]
mod tests;
