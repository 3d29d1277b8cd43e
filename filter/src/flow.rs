//! One request's journey through the filter, as a state machine the glue drives.
//!
//! The glue calls `RequestFlow::on_request_headers` once, `on_request_body` for each body
//! callback and `response_headers` when the response starts, and applies the returned steps.
//! The native test runner and the harness drive exactly the same machine, so what is tested
//! natively is what runs in Envoy.
//!
//! This file is the router: it reads the request's head (`head`), sends each request to its
//! job, keeps the state between callbacks and stores what was decided. The jobs live beside
//! it: a WhatsApp send waiting for its body is a value (`send`), decided under the
//! conversation rules (`conversation`); a provider's multichannel send (`provider`); a training
//! upload (`upload`) and a GCS session's requests (`gcs_session`); the response phase
//! (`response`).

use crate::decide::{self, Decision, Verdict};
use crate::handoff::Unavailable;
use crate::identity::{self, RequestAttributes};
use crate::policy::Policy;
use crate::report::{self, LocalReply};
use crate::shared_store::SharedStore;
use crate::training::parts::Commit;
use crate::training::stage::StripError;
use crate::training::upload::{TrainingOutcome, TrainingVerdict, Upload};
use crate::whatsapp;
use send::{Concluded, Fed, PendingSend, SendContext, WatchedMedia};

mod conversation;
mod gcs_session;
mod head;
mod provider;
mod response;
mod send;
#[cfg(test)]
mod tests;
mod upload;

pub use conversation::StateAccess;
pub use head::RequestHead;
pub use response::ResponseStep;

/// What the glue must do after the headers callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadersStep {
    /// Not a request this filter governs: continue, and nothing more runs for it.
    PassThrough,
    /// Decided without the body: continue; response headers will carry the decision.
    Continue,
    /// Continue the headers (the buffer filter behind us holds them) and feed the body.
    InspectBody,
    /// As `InspectBody`, after removing these request headers: a send that a hand-off may
    /// rewrite loses its `content-length`, so that what is forwarded is framed by its own
    /// length (Envoy's buffer filter sets it from the body it holds, or the codec chunks it).
    InspectRewritable { remove_headers: Vec<&'static str> },
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

#[derive(Debug)]
enum State {
    Ignored,
    AwaitingBody(Box<PendingSend>),
    Decided,
    Stripping(Box<Upload>),
    /// A media upload too large to buffer whose file is declared binary media: forwarded, and
    /// refused if a later part could be text.
    WatchingMedia(Box<WatchedMedia>),
    /// A provider request that is a WhatsApp send or not depending on its body (Twilio's `To`).
    AwaitingProviderBody(Box<provider::PendingProviderSend>),
}

/// The per-request state.
#[derive(Debug)]
pub struct RequestFlow {
    state: State,
    request_id: String,
    decision: Option<Decision>,
    training: Option<TrainingOutcome>,
    /// Set when a decision is made, cleared by `take_new_outcome`.
    fresh: bool,
    /// What a judged part or completion of an upload in parts writes once accepted.
    commit: Option<Commit>,
    /// The host removed `content-length` in the headers phase (`HeadersStep::InspectRewritable`,
    /// confirmed by `framing_removed`): only then is a rewritten body framed by its own length
    /// (`send::SendContext`).
    framing_removed: bool,
    /// Counters of the conversation state (evictions, retries, failures) not yet reported.
    state_metrics: Vec<(String, u64)>,
    /// A GCS resumable session start that went through: recorded from its response's
    /// `Location` (`gcs_session`).
    session_start: Option<gcs_session::SessionStart>,
}

impl RequestFlow {
    /// Routes the request and evaluates every rule the headers can decide, with the host's
    /// shared data read only (files uploaded in parts) and no clock: a send without a body under
    /// a `conversation` section then follows `on_store_error`. The glue, which has the store
    /// and the clock, calls [`RequestFlow::on_request_headers_with_state`].
    pub fn on_request_headers(
        policy: &Policy,
        head: &RequestHead,
        attrs: &dyn RequestAttributes,
        store: &dyn SharedStore,
    ) -> (Self, HeadersStep) {
        let mut read_only = crate::shared_store::ReadOnly(store);
        let mut state = StateAccess::new(&mut read_only, None);
        Self::on_request_headers_with_state(policy, head, attrs, &mut state)
    }

    /// Routes the request and evaluates every rule the headers can decide. `state` is the
    /// host's shared data and clock: read for files uploaded in parts, and for the
    /// conversation of a send without a body (its fields in the query), which is decided and
    /// counted here.
    pub fn on_request_headers_with_state(
        policy: &Policy,
        head: &RequestHead,
        attrs: &dyn RequestAttributes,
        state: &mut StateAccess<'_>,
    ) -> (Self, HeadersStep) {
        let mut flow = Self {
            state: State::Ignored,
            request_id: head.request_id.clone().unwrap_or_default(),
            decision: None,
            training: None,
            fresh: false,
            commit: None,
            framing_removed: false,
            state_metrics: Vec::new(),
            session_start: None,
        };
        let host = whatsapp::normalize_authority(&head.authority);
        let path = whatsapp::normalize_path(&head.path);
        let method = head.effective_method();
        let call = match policy.provider_for(&host) {
            Some(route) => {
                match flow.start_provider(policy, route, (method, &path), head, attrs, state) {
                    Ok(call) => call,
                    Err(step) => return (flow, step),
                }
            }
            None if policy.is_whatsapp_host(&host) => {
                whatsapp::classify_call(method, &path, &policy.edges)
            }
            None => {
                let step = flow.start_training(policy, head, attrs, &host, &path, state);
                return (flow, step);
            }
        };
        let who = identity::resolve(&policy.identity_sources, attrs);
        let evaluation = decide::evaluate_head(policy, call, who);
        if !evaluation.needs_body(method) {
            let concluded = send::conclude(policy, &evaluation, None, None, flow.send_context());
            let step = flow.decided(concluded);
            return (flow, headers_step(step));
        }
        let pending = PendingSend::new(evaluation, head);
        if head.end_of_stream {
            // A send without a body (its fields in the query): decided and counted now.
            let concluded = pending.finish(policy, Some(&[]), state, flow.send_context());
            let step = flow.decided(concluded);
            let step = flow.headers_step_of(policy, step);
            return (flow, step);
        }
        let rewritable = pending.may_rewrite(policy);
        flow.state = State::AwaitingBody(Box::new(pending));
        if rewritable {
            let remove_headers = vec!["content-length"];
            return (flow, HeadersStep::InspectRewritable { remove_headers });
        }
        (flow, HeadersStep::InspectBody)
    }

    /// [`RequestFlow::on_request_body_with_state`] for a host without shared data or clock:
    /// the conversation rules then follow `on_store_error` (a policy without a `conversation`
    /// section decides exactly as with a store).
    pub fn on_request_body(
        &mut self,
        policy: &Policy,
        buffered_len: usize,
        end_of_stream: bool,
        read: &mut dyn FnMut(usize) -> Option<Vec<u8>>,
    ) -> BodyStep {
        let mut no_store = crate::shared_store::NoStore;
        let mut no_state = StateAccess::new(&mut no_store, None);
        self.on_request_body_with_state(policy, buffered_len, end_of_stream, read, &mut no_state)
    }

    /// Called for every body callback with the size Envoy has buffered so far. `read` returns
    /// that many buffered bytes; it is only called once, at the end of the stream. `state` is
    /// the host's shared data and clock, for the conversation rules of a send.
    pub fn on_request_body_with_state(
        &mut self,
        policy: &Policy,
        buffered_len: usize,
        end_of_stream: bool,
        read: &mut dyn FnMut(usize) -> Option<Vec<u8>>,
        state: &mut StateAccess<'_>,
    ) -> BodyStep {
        match &self.state {
            State::Stripping(_) => return self.on_upload_body(buffered_len, end_of_stream, read),
            State::AwaitingProviderBody(_) => {
                return self.on_provider_body(policy, buffered_len, end_of_stream, read, state);
            }
            _ => {}
        }
        let taken = std::mem::replace(&mut self.state, State::Decided);
        let context = self.send_context();
        let fed = match taken {
            State::AwaitingBody(pending) => {
                pending.with_body(policy, buffered_len, end_of_stream, read, state, context)
            }
            State::WatchingMedia(watch) => {
                watch.with_body(policy, buffered_len, end_of_stream, read, context)
            }
            other => {
                self.state = other;
                return BodyStep::Continue;
            }
        };
        match fed {
            Fed::Waiting(pending) => {
                self.state = State::AwaitingBody(pending);
                BodyStep::Pause
            }
            Fed::Watching(watch) => {
                self.state = State::WatchingMedia(watch);
                BodyStep::Continue
            }
            Fed::Decided(concluded) => self.decided(concluded),
        }
    }

    /// What a send's decision needs of this request.
    fn send_context(&self) -> SendContext<'_> {
        SendContext {
            request_id: &self.request_id,
            framing_removed: self.framing_removed,
        }
    }

    /// Stores a send's decision, once made: the request is decided, and its step is returned.
    fn decided(&mut self, concluded: Concluded) -> BodyStep {
        self.state = State::Decided;
        self.decision = Some(concluded.decision);
        self.fresh = true;
        self.state_metrics.extend(concluded.state_metrics);
        concluded.step
    }

    /// The host would not take a rewritten body (a request that ends with trailers after the
    /// held bytes were released): the upload is refused, never forwarded with bytes missing.
    /// Returns the reply to send; the outcome becomes a block with the problem
    /// `unwritable_body`.
    pub fn refuse_unwritable(&mut self, policy: &Policy) -> LocalReply {
        let _ = policy;
        // A hand-off whose message the host would not take: blocked, never forwarded as sent.
        if let Some(d) = self
            .decision
            .as_mut()
            .filter(|d| d.verdict == Verdict::Handoff)
        {
            d.handoff_unavailable(Unavailable::UnwritableBody.as_str());
            self.fresh = true;
            return report::blocked_reply(d, &self.request_id);
        }
        let problem = StripError::UnwritableBody;
        if let State::Stripping(upload) = &mut self.state {
            upload.refuse_unwritable();
            self.end_upload();
        } else if let Some(t) = &mut self.training {
            t.verdict = TrainingVerdict::Blocked;
            t.problem = Some(problem.as_str());
            self.fresh = true;
        }
        let endpoint = self.training.as_ref().map_or("", |t| t.endpoint.as_str());
        report::training_error(problem.as_str(), endpoint)
    }

    /// The host removed the headers of `HeadersStep::InspectRewritable`: a body rewritten now is
    /// framed by its own length. Without this call (the host refused the removal, or the step
    /// was `InspectBody`), a hand-off of the send is blocked instead (fail closed): the upstream
    /// would otherwise read the new body under the old `content-length`.
    pub fn framing_removed(&mut self) {
        self.framing_removed = true;
    }

    /// The headers step of a body step taken in the headers phase (a request without a body).
    /// A hand-off cannot be forwarded from there (its `content-length` was not removed, and
    /// `framing_removed` makes that fail closed already): should one ever be, it is refused
    /// rather than turned into a `Continue` that would forward the original send.
    fn headers_step_of(&mut self, policy: &Policy, step: BodyStep) -> HeadersStep {
        match step {
            BodyStep::Replace(_)
                if self
                    .decision
                    .as_ref()
                    .is_some_and(|d| d.verdict == Verdict::Handoff) =>
            {
                HeadersStep::Respond(self.refuse_unwritable(policy))
            }
            step => headers_step(step),
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

    /// The counters of the conversation state this request moved (evictions, compare-and-swap
    /// retries, failures), once: `(metric name, amount)`.
    pub fn take_state_metrics(&mut self) -> Vec<(String, u64)> {
        std::mem::take(&mut self.state_metrics)
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

/// The headers step of a body step taken in the headers phase.
fn headers_step(step: BodyStep) -> HeadersStep {
    match step {
        BodyStep::Respond(r) => HeadersStep::Respond(r),
        BodyStep::Continue | BodyStep::Pause | BodyStep::Replace(_) | BodyStep::Hold(_) => {
            HeadersStep::Continue
        }
    }
}
