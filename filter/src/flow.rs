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
use crate::report::{self, LocalReply};
use crate::whatsapp;

/// What the glue knows from the request headers.
#[derive(Debug, Clone, Default)]
pub struct RequestHead {
    pub method: String,
    pub authority: String,
    pub path: String,
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub request_id: Option<String>,
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
}

/// What the glue must do after a body callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyStep {
    /// Keep buffering: return `Pause` (StopIterationAndBuffer).
    Pause,
    /// Forward what is buffered.
    Continue,
    Respond(LocalReply),
}

#[derive(Debug, Clone)]
enum State {
    Ignored,
    AwaitingBody(Box<Pending>),
    Decided,
}

#[derive(Debug, Clone)]
struct Pending {
    head: HeadEvaluation,
    content_type: Option<String>,
    content_encoding: Option<String>,
    raw_query: String,
}

/// The per-request state.
#[derive(Debug, Clone)]
pub struct RequestFlow {
    state: State,
    request_id: String,
    decision: Option<Decision>,
    /// Set when a decision is made, cleared by `take_new_decision`.
    fresh: bool,
}

impl RequestFlow {
    /// Routes the request and evaluates every rule the headers can decide.
    pub fn on_request_headers(policy: &Policy, head: &RequestHead, attrs: &dyn RequestAttributes) -> (Self, HeadersStep) {
        let mut flow = Self {
            state: State::Ignored,
            request_id: head.request_id.clone().unwrap_or_default(),
            decision: None,
            fresh: false,
        };
        if !policy.is_whatsapp_host(&whatsapp::normalize_authority(&head.authority)) {
            return (flow, HeadersStep::PassThrough);
        }
        let path = whatsapp::normalize_path(&head.path);
        let call = whatsapp::classify_call(&head.method, &path);
        let who = identity::resolve(&policy.identity_sources, attrs);
        let evaluation = decide::evaluate_head(policy, call, who);
        if evaluation.needs_body(&head.method) {
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
        let State::AwaitingBody(_) = &self.state else {
            return BodyStep::Continue;
        };
        let State::AwaitingBody(pending) = std::mem::replace(&mut self.state, State::Decided) else {
            return BodyStep::Continue;
        };
        if buffered_len > policy.limits.max_body_bytes {
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

    fn finish_with_body(&mut self, policy: &Policy, pending: Pending, bytes: Option<&[u8]>) -> BodyStep {
        let mut head = pending.head;
        let endpoint = head.call.endpoint;
        let parsed = bytes
            .ok_or(BodyProblem::InvalidJson)
            .and_then(|b| body::decode(b, pending.content_encoding.as_deref(), policy.limits.max_decompressed_bytes))
            .and_then(|b| body::parse_message(endpoint, pending.content_type.as_deref(), b.as_ref(), &pending.raw_query));
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

    fn conclude(&mut self, policy: &Policy, head: &HeadEvaluation, message: Option<&whatsapp::MessageView>) -> BodyStep {
        let decision = decide::conclude(policy, head, message);
        let step = if decision.verdict == Verdict::Block {
            BodyStep::Respond(report::graph_error(&decision, &self.request_id))
        } else {
            BodyStep::Continue
        };
        self.state = State::Decided;
        self.decision = Some(decision);
        self.fresh = true;
        step
    }

    /// Headers to add to the response of a request that went through.
    pub fn response_headers(&self) -> Vec<(&'static str, String)> {
        match &self.decision {
            Some(d) if d.verdict != Verdict::Block => report::response_headers(d),
            _ => Vec::new(),
        }
    }

    pub fn decision(&self) -> Option<&Decision> {
        self.decision.as_ref()
    }

    /// The decision made by the last step, once; for metrics and logs.
    pub fn take_new_decision(&mut self) -> Option<&Decision> {
        if std::mem::take(&mut self.fresh) { self.decision.as_ref() } else { None }
    }

    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// Whether the request is still waiting for its body.
    pub fn awaiting_body(&self) -> bool {
        matches!(self.state, State::AwaitingBody(_))
    }
}

fn headers_step(step: BodyStep) -> HeadersStep {
    match step {
        BodyStep::Respond(r) => HeadersStep::Respond(r),
        BodyStep::Continue | BodyStep::Pause => HeadersStep::Continue,
    }
}

fn raw_query(path: &str) -> &str {
    let no_fragment = path.split('#').next().unwrap_or("");
    no_fragment.split_once('?').map_or("", |(_, q)| q)
}
