//! One request's journey through the filter, as a state machine the glue drives.
//!
//! The glue calls `RequestFlow::on_request_headers` once, `on_request_body` for each body
//! callback and `response_headers` when the response starts, and applies the returned steps.
//! The native test runner and the harness drive exactly the same machine, so what is tested
//! natively is what runs in Envoy.

use crate::body;
use crate::decide::{self, BodyProblem, Decision, HeadEvaluation, Verdict};
use crate::identity::{self, RequestAttributes};
use crate::policy::Policy;
use crate::policy::document::{Action, BodyFormat, Mode};
use crate::report::{self, LocalReply};
use crate::training::Stripper;
use crate::training::parts::{Commit, PartKind, PartRequest, SharedStore};
use crate::training::stage::{StripError, StripStats};
use crate::whatsapp;

mod provider;

/// What the glue knows from the request headers.
#[derive(Debug, Clone, Default)]
pub struct RequestHead {
    pub method: String,
    pub authority: String,
    pub path: String,
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub request_id: Option<String>,
    /// `x-http-method-override`: some Graph clients tunnel a POST through another method.
    pub method_override: Option<String>,
    /// The request has no body (headers-only request).
    pub end_of_stream: bool,
}

/// What the glue must do after the headers callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadersStep {
    /// Not a request this filter governs: continue, and nothing more runs for it.
    PassThrough,
    /// Decided without the body: continue; response headers will carry the decision.
    Continue,
    /// Continue the headers (the buffer filter behind us holds them) and feed the body.
    InspectBody,
    /// Send this reply instead of forwarding.
    Respond(LocalReply),
    /// A training upload: continue, remove these request headers (only possible now), then
    /// feed every body chunk and forward what each step returns.
    Strip { remove_headers: Vec<&'static str> },
}

/// What the glue must do after a body callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyStep {
    /// Keep buffering: return `Pause` (StopIterationAndBuffer).
    Pause,
    /// Forward what is buffered.
    Continue,
    /// Forward these bytes instead of the chunk.
    Replace(Vec<u8>),
    /// Replace the host's buffer with these bytes and keep buffering (`Pause`): a streamed
    /// upload keeps its processed output in the host's buffer for a while, so that bytes still
    /// held back at the end can be written there when the request ends with trailers.
    Hold(Vec<u8>),
    Respond(LocalReply),
}

/// What happened to a training upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrainingVerdict {
    /// Inspected, nothing to strip.
    Forwarded,
    /// WhatsApp-derived records were removed.
    Stripped,
    /// Refused: every record was WhatsApp-derived, or the body could not be inspected.
    Blocked,
    /// Audit mode, or an uninspectable body the policy lets through: forwarded unchanged.
    Audit,
    /// An allow-listed exclusive fine-tuning endpoint: not inspected.
    Exclusive,
}

impl TrainingVerdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Forwarded => "forward",
            Self::Stripped => "strip",
            Self::Blocked => "block",
            Self::Audit => "audit",
            Self::Exclusive => "exclusive",
        }
    }
}

/// The outcome of one training upload; metrics, logs and response headers derive from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrainingOutcome {
    pub endpoint: String,
    pub verdict: TrainingVerdict,
    pub stats: StripStats,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Why the body could not be inspected, or `all_records_whatsapp`.
    pub problem: Option<&'static str>,
}

#[derive(Debug)]
enum State {
    Ignored,
    AwaitingBody(Box<Pending>),
    Decided,
    Stripping(Box<Upload>),
    /// A media upload too large to buffer whose file is declared binary media: forwarded, and
    /// refused if a later part could be text.
    WatchingMedia(Box<(whatsapp::media::MediaScan, HeadEvaluation)>),
    /// A provider request that is a WhatsApp send or not depending on its body (Twilio's `To`).
    AwaitingProviderBody(Box<provider::PendingProviderSend>),
}

struct Upload {
    endpoint: String,
    stripper: Stripper,
    audit: bool,
    on_uninspectable: Action,
    /// An uninspectable body the policy lets through: forwarded as is from then on.
    bypassed: bool,
    /// What the host's buffer starts with, from earlier callbacks that held it (`Hold` or
    /// `Pause`): first `held_out` bytes of processed output still to forward, then `held_raw`
    /// bytes already fed to the stripper whose output it still holds back (to be dropped).
    held_out: usize,
    held_raw: usize,
    /// A part or the completion of a file uploaded in parts.
    part: Option<Box<PartRequest>>,
    /// Why the upload was refused beyond what the stripper found (a `/complete` problem).
    refusal: Option<&'static str>,
}

/// How many bytes a streamed upload may keep in the host's buffer instead of forwarding them
/// at once. A request that ends with trailers gets no body callback at its end: the bytes the
/// stripper still holds back then (an unfinished last line, a whole JSON document) can only be
/// written into a body buffer the host still holds. Bounded well below Envoy's default
/// per-connection buffer limit (1 MiB), which would otherwise answer 413.
pub const HOLD_LIMIT: usize = 256 * 1024;

impl std::fmt::Debug for Upload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upload")
            .field("endpoint", &self.endpoint)
            .field("audit", &self.audit)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone)]
struct Pending {
    head: HeadEvaluation,
    content_type: Option<String>,
    content_encoding: Option<String>,
    raw_query: String,
}

/// The per-request state.
#[derive(Debug)]
pub struct RequestFlow {
    state: State,
    request_id: String,
    decision: Option<Decision>,
    training: Option<TrainingOutcome>,
    /// Set when a decision is made, cleared by `take_new_decision`.
    fresh: bool,
    /// What a judged part or completion of an upload in parts writes once accepted.
    commit: Option<Commit>,
}

/// What the glue must do after the response headers callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseStep {
    Continue,
    /// Buffer the response body and hand it to `on_response_body` at its end.
    ReadBody,
}

impl RequestFlow {
    /// Routes the request and evaluates every rule the headers can decide.
    /// `store` is the host's shared data, read for files uploaded in parts.
    pub fn on_request_headers(
        policy: &Policy,
        head: &RequestHead,
        attrs: &dyn RequestAttributes,
        store: &dyn SharedStore,
    ) -> (Self, HeadersStep) {
        let mut flow = Self {
            state: State::Ignored,
            request_id: head.request_id.clone().unwrap_or_default(),
            decision: None,
            training: None,
            fresh: false,
            commit: None,
        };
        let host = whatsapp::normalize_authority(&head.authority);
        let path = whatsapp::normalize_path(&head.path);
        let method = effective_method(&head.method, head.method_override.as_deref());
        let call = match policy.provider_for(&host) {
            Some(route) => match flow.start_provider(policy, route, method, &path, head, attrs) {
                Ok(call) => call,
                Err(step) => return (flow, step),
            },
            None if policy.is_whatsapp_host(&host) => {
                whatsapp::classify_call(method, &path, &policy.edges)
            }
            None => {
                let step = flow.start_training(policy, head, &host, &path, store);
                return (flow, step);
            }
        };
        let who = identity::resolve(&policy.identity_sources, attrs);
        let evaluation = decide::evaluate_head(policy, call, who);
        if evaluation.needs_body(method) {
            let pending = Pending {
                head: evaluation,
                content_type: head.content_type.clone(),
                content_encoding: head.content_encoding.clone(),
                raw_query: raw_query(&head.path).to_owned(),
            };
            if head.end_of_stream {
                let step = flow.finish_with_body(policy, pending, Some(&[]));
                return (flow, headers_step(step));
            }
            flow.state = State::AwaitingBody(Box::new(pending));
            return (flow, HeadersStep::InspectBody);
        }
        let step = flow.conclude(policy, &evaluation, None);
        (flow, headers_step(step))
    }

    /// Called for every body callback with the size Envoy has buffered so far. `read` returns
    /// that many buffered bytes; it is only called once, at the end of the stream.
    pub fn on_request_body(
        &mut self,
        policy: &Policy,
        buffered_len: usize,
        end_of_stream: bool,
        read: &mut dyn FnMut(usize) -> Option<Vec<u8>>,
    ) -> BodyStep {
        if let State::Stripping(upload) = &mut self.state {
            let step = match read(buffered_len) {
                Some(buffer) => Self::strip_buffer(upload, &buffer, end_of_stream),
                None if buffered_len == 0 => Self::strip_buffer(upload, &[], end_of_stream),
                // The host could not hand over the chunk: forwarding the buffer unread would
                // skip it, and forwarding nothing would cut the upload short.
                None => Self::unreadable_chunk(upload),
            };
            let step = match (&policy.training, end_of_stream) {
                (Some(training), true) => Self::judge_completion(training, upload, step),
                _ => step,
            };
            if end_of_stream || matches!(step, BodyStep::Respond(_)) {
                self.end_upload(policy);
            }
            return step;
        }
        if let State::WatchingMedia(watch) = &mut self.state {
            let problem = match read(buffered_len) {
                Some(chunk) => watch.0.feed(&chunk).err().map(|_| BodyProblem::TooLarge),
                None if buffered_len == 0 => None,
                // A chunk the host could not hand over cannot be watched.
                None => Some(BodyProblem::InvalidJson),
            };
            if problem.is_none() && !end_of_stream {
                return BodyStep::Continue;
            }
            let mut head = watch.1.clone();
            if let Some(p) = problem {
                decide::record_body_problem(policy, &mut head, p);
            }
            return self.conclude(policy, &head, None);
        }
        if let State::AwaitingProviderBody(_) = &self.state {
            return self.on_provider_body(policy, buffered_len, end_of_stream, read);
        }
        let State::AwaitingBody(_) = &self.state else {
            return BodyStep::Continue;
        };
        let State::AwaitingBody(pending) = std::mem::replace(&mut self.state, State::Decided)
        else {
            return BodyStep::Continue;
        };
        if buffered_len > policy.limits.max_body_bytes {
            if let Some(step) =
                self.watch_media(policy, &pending, buffered_len, end_of_stream, read)
            {
                return step;
            }
            let mut head = pending.head;
            decide::record_body_problem(policy, &mut head, BodyProblem::TooLarge);
            return self.conclude(policy, &head, None);
        }
        if !end_of_stream {
            self.state = State::AwaitingBody(pending);
            return BodyStep::Pause;
        }
        let bytes = read(buffered_len);
        self.finish_with_body(policy, *pending, bytes.as_deref())
    }

    /// A media upload larger than the body limit is not buffered when its file is declared as
    /// an image, audio or video (and it is not compressed): its later parts are watched, and it
    /// is decided on its headers when it ends.
    fn watch_media(
        &mut self,
        policy: &Policy,
        pending: &Pending,
        buffered_len: usize,
        end_of_stream: bool,
        read: &mut dyn FnMut(usize) -> Option<Vec<u8>>,
    ) -> Option<BodyStep> {
        if pending.head.call.endpoint != whatsapp::Endpoint::Media
            || pending.content_encoding.is_some()
        {
            return None;
        }
        if pending.head.findings.blocks() {
            return Some(self.conclude(policy, &pending.head, None));
        }
        let prefix = read(buffered_len)?;
        let scan = whatsapp::media::MediaScan::start(pending.content_type.as_deref(), &prefix)?;
        if end_of_stream {
            // The whole body is here, and every part of it was checked.
            return Some(self.conclude(policy, &pending.head, None));
        }
        // Decided when the stream ends, or when a later part could be text: one decision per
        // request, whatever the chunking.
        self.state = State::WatchingMedia(Box::new((scan, pending.head.clone())));
        Some(BodyStep::Continue)
    }

    fn finish_with_body(
        &mut self,
        policy: &Policy,
        pending: Pending,
        bytes: Option<&[u8]>,
    ) -> BodyStep {
        let mut head = pending.head;
        let endpoint = head.call.endpoint;
        let parsed = bytes
            .ok_or(BodyProblem::InvalidJson)
            .and_then(|b| {
                body::decode(
                    b,
                    pending.content_encoding.as_deref(),
                    policy.limits.max_decompressed_bytes,
                )
            })
            .and_then(|b| {
                body::parse_message(
                    endpoint,
                    pending.content_type.as_deref(),
                    b.as_ref(),
                    &pending.raw_query,
                )
            });
        match parsed {
            Ok(message) => {
                decide::evaluate_message(policy, &mut head, &message);
                self.conclude(policy, &head, Some(&message))
            }
            Err(problem) => {
                decide::record_body_problem(policy, &mut head, problem);
                self.conclude(policy, &head, None)
            }
        }
    }

    fn conclude(
        &mut self,
        policy: &Policy,
        head: &HeadEvaluation,
        message: Option<&whatsapp::MessageView>,
    ) -> BodyStep {
        let decision = decide::conclude(policy, head, message);
        let step = if decision.verdict == Verdict::Block {
            BodyStep::Respond(report::blocked_reply(&decision, &self.request_id))
        } else {
            BodyStep::Continue
        };
        self.state = State::Decided;
        self.decision = Some(decision);
        self.fresh = true;
        step
    }

    /// Matches a training endpoint and prepares the stripper.
    fn start_training(
        &mut self,
        policy: &Policy,
        head: &RequestHead,
        host: &str,
        path: &whatsapp::NormalizedPath,
        store: &dyn SharedStore,
    ) -> HeadersStep {
        let Some(training) = &policy.training else {
            return HeadersStep::PassThrough;
        };
        let joined = format!("/{}", path.segments.join("/"));
        let Some(route) = training.route(&head.method, host, &joined) else {
            return HeadersStep::PassThrough;
        };
        let endpoint = route.endpoint.id.clone();
        if route.exclusive {
            self.training = Some(TrainingOutcome {
                endpoint,
                verdict: TrainingVerdict::Exclusive,
                stats: StripStats::default(),
                bytes_in: 0,
                bytes_out: 0,
                problem: None,
            });
            self.fresh = true;
            self.state = State::Decided;
            return HeadersStep::Continue;
        }
        let audit = training.mode.unwrap_or(policy.mode) == Mode::Audit;
        let kind = match route.endpoint.format {
            BodyFormat::UploadPart => Some(PartKind::Part),
            BodyFormat::UploadComplete => Some(PartKind::Complete),
            _ => None,
        };
        // The upload id is the segment before `parts` or `complete`.
        let part = kind.map(|kind| {
            let id = path.segments.iter().rev().nth(1).map_or("", String::as_str);
            Box::new(PartRequest::load(store, kind, id))
        });
        let stripper = match &part {
            Some(p) if p.kind == PartKind::Part => training.part_stripper(
                head.content_type.as_deref(),
                head.content_encoding.as_deref(),
                p.carried_tail(),
                std::rc::Rc::clone(&p.slot),
            ),
            Some(_) => training.passthrough(),
            None => training.stripper(
                route.endpoint.format,
                head.content_type.as_deref(),
                head.content_encoding.as_deref(),
            ),
        };
        let broken = part.as_ref().is_some_and(|p| p.broken().is_some());
        let mut upload = Upload {
            endpoint,
            stripper,
            audit,
            on_uninspectable: training.on_uninspectable,
            bypassed: false,
            held_out: 0,
            held_raw: 0,
            part,
            refusal: None,
        };
        if broken {
            // Parts of this upload were judged concurrently: no later part or completion can
            // be joined to the right tail.
            let problem = crate::training::parts::CompleteProblem::ChainBroken.as_str();
            upload.refusal = Some(problem);
            let reply = report::training_error(problem, &upload.endpoint);
            self.state = State::Stripping(Box::new(upload));
            self.end_upload(policy);
            if !audit {
                return HeadersStep::Respond(reply);
            }
            return HeadersStep::Continue;
        }
        if head.end_of_stream {
            let step = Self::strip_chunk(&mut upload, &[], true);
            let step = Self::judge_completion(training, &mut upload, step);
            self.state = State::Stripping(Box::new(upload));
            self.end_upload(policy);
            return headers_step(step);
        }
        let mut remove_headers = Vec::new();
        if !audit {
            remove_headers.push("content-length");
            if crate::training::decodes(head.content_encoding.as_deref()) {
                remove_headers.push("content-encoding");
            }
        }
        self.state = State::Stripping(Box::new(upload));
        HeadersStep::Strip { remove_headers }
    }

    /// Feeds one chunk of an upload and says what to forward.
    /// A chunk the host could not hand over: the upload cannot be inspected. Audit mode
    /// forwards the buffer as it is; otherwise the upload is refused, never forwarded short.
    fn unreadable_chunk(upload: &mut Upload) -> BodyStep {
        upload
            .stripper
            .error
            .get_or_insert(StripError::UnreadableBody);
        if upload.audit {
            BodyStep::Continue
        } else {
            BodyStep::Respond(report::training_error("unreadable_body", &upload.endpoint))
        }
    }

    /// Strips what is new in the host's buffer, and decides whether the result is forwarded
    /// now or held in the buffer (see [`HOLD_LIMIT`]).
    fn strip_buffer(upload: &mut Upload, buffer: &[u8], end_of_stream: bool) -> BodyStep {
        let out_end = upload.held_out.min(buffer.len());
        let new_start = (upload.held_out + upload.held_raw).min(buffer.len());
        let (held_out, new) = (
            buffer.get(..out_end).unwrap_or_default(),
            buffer.get(new_start..).unwrap_or_default(),
        );
        if let Some(part) = &mut upload.part {
            part.keep_body(new);
        }
        let step = Self::strip_chunk(upload, new, end_of_stream);
        let BodyStep::Replace(out) = step else {
            // Continue forwards the buffer as it is: only audit mode, which never holds.
            upload.held_out = 0;
            upload.held_raw = 0;
            return step;
        };
        if !end_of_stream && buffer.len() + out.len() <= HOLD_LIMIT {
            if out.is_empty() {
                // Nothing new to forward: the buffer stays as the host has it.
                upload.held_raw += new.len();
                return BodyStep::Pause;
            }
            let mut kept = Vec::with_capacity(held_out.len() + out.len());
            kept.extend_from_slice(held_out);
            kept.extend_from_slice(&out);
            upload.held_out = kept.len();
            upload.held_raw = 0;
            return BodyStep::Hold(kept);
        }
        upload.held_out = 0;
        upload.held_raw = 0;
        if held_out.is_empty() {
            return BodyStep::Replace(out);
        }
        let mut all = Vec::with_capacity(held_out.len() + out.len());
        all.extend_from_slice(held_out);
        all.extend_from_slice(&out);
        BodyStep::Replace(all)
    }

    /// At the end of `/complete`: the parts must be the ones judged, in order, and the file's
    /// last record is judged now. Audit mode records the problem and lets it through.
    fn judge_completion(
        training: &crate::training::TrainingPolicy,
        upload: &mut Upload,
        step: BodyStep,
    ) -> BodyStep {
        let Some(part) = &upload.part else {
            return step;
        };
        if part.kind != PartKind::Complete || matches!(step, BodyStep::Respond(_)) {
            return step;
        }
        let judged = part.judge_complete(training.stage_context(), &mut upload.stripper.stats);
        let Err(problem) = judged else {
            return step;
        };
        upload.refusal = Some(problem.as_str());
        if upload.audit {
            return step;
        }
        BodyStep::Respond(report::training_error(problem.as_str(), &upload.endpoint))
    }

    fn strip_chunk(upload: &mut Upload, chunk: &[u8], end_of_stream: bool) -> BodyStep {
        // After a tolerated error the stripper keeps running in pass-through mode: a compressed
        // upload must still be decoded, because its `content-encoding` is already gone.
        if upload.audit && upload.stripper.error.is_some() {
            return BodyStep::Continue;
        }
        let mut out = Vec::with_capacity(chunk.len());
        let mut result = upload.stripper.feed(chunk, &mut out);
        if result.is_ok() && end_of_stream {
            result = upload.stripper.finish(&mut out);
        }
        if upload.audit {
            // Audit: count what would be stripped, forward the bytes unchanged.
            return BodyStep::Continue;
        }
        match result {
            Ok(())
                if !upload.bypassed && end_of_stream && upload.stripper.stripped_everything() =>
            {
                BodyStep::Respond(report::training_error(
                    "all_records_whatsapp",
                    &upload.endpoint,
                ))
            }
            Ok(()) => BodyStep::Replace(out),
            Err(e) => {
                if !upload.bypassed
                    && upload.on_uninspectable == Action::Allow
                    && upload.stripper.bypass(&mut out)
                {
                    upload.bypassed = true;
                    BodyStep::Replace(out)
                } else {
                    BodyStep::Respond(report::training_error(e.as_str(), &upload.endpoint))
                }
            }
        }
    }

    /// The host would not take a rewritten body (a request that ends with trailers after the
    /// held bytes were released): the upload is refused, never forwarded with bytes missing.
    /// Returns the reply to send; the outcome becomes a block with the problem
    /// `unwritable_body`.
    pub fn refuse_unwritable(&mut self, policy: &Policy) -> LocalReply {
        let problem = StripError::UnwritableBody;
        if let State::Stripping(upload) = &mut self.state {
            upload.stripper.error.get_or_insert(problem);
            upload.audit = false;
            upload.bypassed = false;
            self.end_upload(policy);
        } else if let Some(t) = &mut self.training {
            t.verdict = TrainingVerdict::Blocked;
            t.problem = Some(problem.as_str());
            self.fresh = true;
        }
        let endpoint = self.training.as_ref().map_or("", |t| t.endpoint.as_str());
        report::training_error(problem.as_str(), endpoint)
    }

    /// Records the outcome of a finished (or refused) upload.
    fn end_upload(&mut self, policy: &Policy) {
        let _ = policy;
        let State::Stripping(mut upload) = std::mem::replace(&mut self.state, State::Decided)
        else {
            return;
        };
        let part = upload.part.take();
        let s = &upload.stripper;
        let everything = s.stripped_everything();
        let problem = upload
            .refusal
            .or(s.error.map(|e| e.as_str()))
            .or(everything.then_some("all_records_whatsapp"));
        let verdict = if upload.audit || upload.bypassed {
            TrainingVerdict::Audit
        } else if upload.refusal.is_some() || s.error.is_some() || everything {
            TrainingVerdict::Blocked
        } else if s.stats.records_stripped > 0 {
            TrainingVerdict::Stripped
        } else {
            TrainingVerdict::Forwarded
        };
        self.training = Some(TrainingOutcome {
            endpoint: upload.endpoint.clone(),
            verdict,
            stats: s.stats.clone(),
            bytes_in: s.bytes_in,
            bytes_out: s.bytes_out,
            problem,
        });
        self.fresh = true;
        // A part or completion that goes through changes the upload's state once the upstream
        // accepts it (the response).
        if verdict != TrainingVerdict::Blocked {
            self.commit = part.map(|p| p.into_commit());
        }
    }

    /// Whether the response matters to this request (a part or completion of an upload in
    /// parts waits for it); the glue reads the response status only then.
    pub fn awaits_response(&self) -> bool {
        self.commit.is_some()
    }

    /// The response headers: a part or completion the upstream accepted (2xx) commits its
    /// change to the upload's state; a part needs its id from the response body first.
    pub fn on_response_headers(
        &mut self,
        store: &mut dyn SharedStore,
        status: u32,
    ) -> ResponseStep {
        let Some(commit) = self.commit.take() else {
            return ResponseStep::Continue;
        };
        if !(200..300).contains(&status) {
            return ResponseStep::Continue;
        }
        if commit.needs_response_body() {
            self.commit = Some(commit);
            return ResponseStep::ReadBody;
        }
        commit.apply(store, None);
        ResponseStep::Continue
    }

    /// The whole response body of an accepted part (`None`: it could not be read).
    pub fn on_response_body(&mut self, store: &mut dyn SharedStore, body: Option<&[u8]>) {
        if let Some(commit) = self.commit.take() {
            commit.apply(store, body);
        }
    }

    /// Headers to add to the response of a request that went through.
    pub fn response_headers(&self) -> Vec<(&'static str, String)> {
        if let Some(t) = &self.training {
            return report::training_response_headers(t);
        }
        match &self.decision {
            Some(d) if d.verdict != Verdict::Block => report::response_headers(d),
            _ => Vec::new(),
        }
    }

    pub fn training_outcome(&self) -> Option<&TrainingOutcome> {
        self.training.as_ref()
    }

    pub fn decision(&self) -> Option<&Decision> {
        self.decision.as_ref()
    }

    /// What the last step decided, once; for metrics and logs.
    pub fn take_new_outcome(&mut self) -> Option<Outcome<'_>> {
        if !std::mem::take(&mut self.fresh) {
            return None;
        }
        match (&self.decision, &self.training) {
            (Some(d), _) => Some(Outcome::WhatsApp(d)),
            (None, Some(t)) => Some(Outcome::Training(t)),
            (None, None) => None,
        }
    }

    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// Whether the flow still wants body callbacks.
    pub fn awaiting_body(&self) -> bool {
        matches!(
            self.state,
            State::AwaitingBody(_)
                | State::Stripping(_)
                | State::WatchingMedia(_)
                | State::AwaitingProviderBody(_)
        )
    }
}

/// A freshly made decision of either job.
#[derive(Debug, Clone, Copy)]
pub enum Outcome<'a> {
    WhatsApp(&'a Decision),
    Training(&'a TrainingOutcome),
}

/// The method Graph could act on. An `x-http-method-override` (repeated headers arrive joined
/// by commas) can turn a request into a POST, and a POST that names another verb still carries
/// its body, which Graph may act on: when the request or any override says POST, it is a POST.
fn effective_method<'a>(method: &'a str, overrides: Option<&'a str>) -> &'a str {
    let values = || {
        overrides
            .into_iter()
            .flat_map(|o| o.split(','))
            .map(str::trim)
    };
    // PUT and PATCH carry a body as POST does; if Graph acted on them, they would send.
    let sends = |m: &str| {
        ["POST", "PUT", "PATCH"]
            .iter()
            .any(|x| m.eq_ignore_ascii_case(x))
    };
    if sends(method) || values().any(sends) {
        return "POST";
    }
    values().find(|m| !m.is_empty()).unwrap_or(method)
}

fn headers_step(step: BodyStep) -> HeadersStep {
    match step {
        BodyStep::Respond(r) => HeadersStep::Respond(r),
        BodyStep::Continue | BodyStep::Pause | BodyStep::Replace(_) | BodyStep::Hold(_) => {
            HeadersStep::Continue
        }
    }
}

fn raw_query(path: &str) -> &str {
    let no_fragment = path.split('#').next().unwrap_or("");
    no_fragment.split_once('?').map_or("", |(_, q)| q)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::StaticAttributes;
    use crate::training::parts::MemoryStore;

    fn policy() -> Policy {
        let text = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../policies/examples/demo.json"
        ))
        .unwrap();
        Policy::from_json(&text).unwrap()
    }

    fn head(authority: &str, path: &str, content_type: &str) -> RequestHead {
        RequestHead {
            method: "POST".into(),
            authority: authority.into(),
            path: path.into(),
            content_type: Some(content_type.into()),
            request_id: Some("t".into()),
            ..RequestHead::default()
        }
    }

    /// A chunk the host fails to hand over never leaves an upload forwarded short.
    #[test]
    fn an_unreadable_upload_chunk_refuses_the_upload() {
        let p = policy();
        let h = head("api.openai.com", "/v1/files", "application/jsonl");
        let (mut flow, step) = RequestFlow::on_request_headers(
            &p,
            &h,
            &StaticAttributes::default(),
            &MemoryStore::default(),
        );
        assert!(matches!(step, HeadersStep::Strip { .. }), "{step:?}");
        let first = br#"{"messages":[{"role":"user","content":"hi"}]}
"#;
        // A small upload's output is held in the host's buffer (for trailers).
        let step = flow.on_request_body(&p, first.len(), false, &mut |_| Some(first.to_vec()));
        assert_eq!(step, BodyStep::Hold(first.to_vec()));
        let step = flow.on_request_body(&p, 100, false, &mut |_| None);
        let BodyStep::Respond(reply) = step else {
            panic!("{step:?}");
        };
        assert_eq!(reply.status, 403);
        let outcome = flow.training_outcome().unwrap();
        assert_eq!(outcome.verdict, TrainingVerdict::Blocked);
        assert_eq!(outcome.problem, Some("unreadable_body"));
        // An empty final chunk is not a failure.
        let (mut flow, _) = RequestFlow::on_request_headers(
            &p,
            &h,
            &StaticAttributes::default(),
            &MemoryStore::default(),
        );
        flow.on_request_body(&p, first.len(), false, &mut |_| Some(first.to_vec()));
        let step = flow.on_request_body(&p, first.len(), true, &mut |_| Some(first.to_vec()));
        assert_eq!(step, BodyStep::Replace(first.to_vec()));
        assert_eq!(
            flow.training_outcome().unwrap().verdict,
            TrainingVerdict::Forwarded
        );
    }

    /// A WhatsApp body the host fails to hand over is an invalid body: refused.
    #[test]
    fn an_unreadable_send_body_is_refused() {
        let p = policy();
        let h = head(
            "graph.facebook.com",
            "/v21.0/106540352240000/messages",
            "application/json",
        );
        let (mut flow, step) = RequestFlow::on_request_headers(
            &p,
            &h,
            &StaticAttributes::default(),
            &MemoryStore::default(),
        );
        assert_eq!(step, HeadersStep::InspectBody);
        let step = flow.on_request_body(&p, 40, true, &mut |_| None);
        assert!(matches!(step, BodyStep::Respond(_)), "{step:?}");
        assert_eq!(
            flow.decision().map(|d| d.rule.as_str()),
            Some("invalid_body")
        );
    }
}
