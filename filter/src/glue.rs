//! The proxy-wasm glue (wasm32 only): reads from the host, drives `RequestFlow`, applies its
//! steps, and emits metrics and decision logs. No policy logic lives here.

mod abi;
mod deliveries;
mod host;
mod root;

use crate::flow::{
    BodyStep, HeadersStep, Outcome, RequestFlow, RequestHead, ResponseStep, StateAccess,
};
use crate::header_map::HeaderMap;
use crate::identity::RequestAttributes;
use crate::policy::Policy;
use crate::report::{self, LocalReply};
use crate::shared_store::{SharedStore, StoreError};
use crate::webhook::{self, WebhookDelivery, WebhookPolicy, WebhookStep};
use abi::LogLevel;
use host::{
    HostAttributes, HostStore, NodeProperties, clock_for, read_authority, remove_request_headers,
};
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType};
use root::{GuardRoot, Metrics};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

#[expect(
    unsafe_code,
    reason = "linker-provided constructor call, as the SDK's `main!` macro does"
)]
unsafe extern "C" {
    fn __wasm_call_ctors();
}

/// The reactor entry point: runs static constructors, then registers the root context.
#[expect(
    unsafe_code,
    reason = "the module's exported entry point must be unmangled"
)]
#[unsafe(no_mangle)]
pub extern "C" fn _initialize() {
    // SAFETY: called once by the host before any other export, as the wasm reactor ABI requires.
    #[expect(unsafe_code, reason = "see above")]
    unsafe {
        __wasm_call_ctors();
    }
    proxy_wasm::set_root_context(|_| Box::new(GuardRoot::default()));
}

struct GuardHttp {
    policy: Option<Rc<Policy>>,
    metrics: Rc<RefCell<Metrics>>,
    node: Rc<RefCell<NodeProperties>>,
    flow: Option<RequestFlow>,
    /// A request on the webhook ingress route, whose signature is checked instead of `flow`.
    webhook: Option<WebhookDelivery>,
    /// The response body is buffered for the flow (an upload part's id).
    reading_response: bool,
}

/// The upper bound of a response body the filter reads (an upload part's small JSON).
const MAX_RESPONSE_READ: usize = 64 << 10;

impl GuardHttp {
    /// Fail closed: a request whose headers cannot be read cannot be decided.
    fn unreadable_headers(&self, status: u32) -> Action {
        abi::log(
            LogLevel::Error,
            &format!("wa-egress-guard: cannot read the request headers (status {status})"),
        );
        self.respond(&LocalReply {
            status: 503,
            headers: Vec::new(),
            body: b"wa-egress-guard: cannot read the request headers".to_vec(),
        })
    }

    /// Answers the request locally. If the host refuses the reply, the request is reset
    /// instead: fail closed, and never a request paused forever.
    fn respond(&self, reply: &LocalReply) -> Action {
        if let Err(status) =
            abi::send_local_response(reply.status, "wa_egress_guard", &reply.body, &reply.headers)
        {
            abi::log(
                LogLevel::Error,
                &format!(
                    "wa-egress-guard: local reply failed (status {status}); resetting the request"
                ),
            );
            if let Err(status) = abi::reset_request() {
                abi::log(
                    LogLevel::Error,
                    &format!("wa-egress-guard: resetting the request failed too (status {status})"),
                );
            }
        }
        Action::Pause
    }

    /// Emits the metric and log line of a decision made by the last step.
    fn report(&mut self) {
        let (Some(policy), Some(flow)) = (&self.policy, &mut self.flow) else {
            return;
        };
        let request_id = flow.request_id().to_owned();
        for (name, amount) in flow.take_state_metrics() {
            self.metrics.borrow_mut().add(&name, amount);
        }
        match flow.take_new_outcome() {
            Some(Outcome::WhatsApp(decision)) => {
                self.metrics
                    .borrow_mut()
                    .increment(&report::metric_name(decision));
                if let Some(sample) = report::log_sample(decision, &policy.log, &request_id) {
                    let line = report::decision_line(
                        decision,
                        &report::LineContext {
                            request_id: &request_id,
                            policy: &policy.fingerprint,
                            salt: &policy.log.recipient_hash_salt,
                            sample,
                            // A clock the host cannot read leaves the line without `ts`.
                            now_nanos: abi::current_time_nanos().ok(),
                        },
                    );
                    abi::log(LogLevel::Info, &format!("wa-egress-guard decision {line}"));
                }
            }
            Some(Outcome::Training(outcome)) => {
                let mut metrics = self.metrics.borrow_mut();
                for (name, amount) in report::training_metrics(outcome) {
                    metrics.add(&name, amount);
                }
                let line = report::training_line(
                    outcome,
                    &request_id,
                    &policy.fingerprint,
                    abi::current_time_nanos().ok(),
                );
                abi::log(LogLevel::Info, &format!("wa-egress-guard training {line}"));
            }
            None => {}
        }
    }

    fn apply_body_step(&mut self, step: BodyStep, body_size: usize) -> Action {
        match step {
            BodyStep::Pause => Action::Pause,
            BodyStep::Continue => Action::Continue,
            // Nothing buffered and nothing to forward: there is no buffer to rewrite.
            BodyStep::Replace(bytes) if bytes.is_empty() && body_size == 0 => Action::Continue,
            BodyStep::Replace(bytes) => self.rewrite(body_size, &bytes, Action::Continue),
            BodyStep::Hold(bytes) => self.rewrite(body_size, &bytes, Action::Pause),
            BodyStep::Respond(reply) => self.respond(&reply),
        }
    }

    /// Replaces the request body buffer, then goes on with `then`. A buffer that cannot be
    /// rewritten cannot be forwarded unchanged (it could leak records): the upload is refused.
    fn rewrite(&mut self, body_size: usize, bytes: &[u8], then: Action) -> Action {
        match abi::set_buffer(abi::BUFFER_REQUEST_BODY, 0, body_size, bytes) {
            Ok(()) => then,
            Err(status) => {
                abi::log(
                    LogLevel::Error,
                    &format!("wa-egress-guard: cannot rewrite the body (status {status})"),
                );
                let (Some(policy), Some(flow)) = (self.policy.clone(), self.flow.as_mut()) else {
                    return self.respond(&report::training_error("unwritable_body", ""));
                };
                let reply = flow.refuse_unwritable(&policy);
                self.respond(&reply)
            }
        }
    }
}

impl Context for GuardHttp {}

impl HttpContext for GuardHttp {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        let Some(policy) = self.policy.clone() else {
            // INVARIANT: Envoy refuses a configuration whose on_configure failed, so this only
            // happens if the host creates contexts anyway. Fail closed.
            let reply = LocalReply {
                status: 503,
                headers: Vec::new(),
                body: b"wa-egress-guard: no valid policy".to_vec(),
            };
            return self.respond(&reply);
        };
        let authority = match read_authority() {
            Ok(a) => a,
            Err(status) => return self.unreadable_headers(status),
        };
        // Hot path: a host the policy does not govern costs this one header read.
        if !policy.governs_host(&authority) {
            return Action::Continue;
        }
        let host = crate::whatsapp::normalize_authority(&authority);
        if let Some(wh) = policy.webhook.as_ref().filter(|w| w.matches_host(&host))
            && let Some(action) = self.start_webhook(&policy, wh, end_of_stream)
        {
            return action;
        }
        // A governed request: every other header comes from one read of the whole map.
        let headers = match abi::header_pairs(abi::MAP_REQUEST_HEADERS) {
            Ok(pairs) => HeaderMap::from_pairs(pairs),
            Err(status) => return self.unreadable_headers(status),
        };
        let head = RequestHead::from_headers(
            headers.get(":method").unwrap_or_default(),
            authority,
            headers.get(":path").unwrap_or_default(),
            &|name| headers.get(name),
            end_of_stream,
        );
        let attrs = HostAttributes {
            headers: &headers,
            node: &self.node,
        };
        // A send without a body is decided (and counted in its conversation) right here; a
        // GCS session's request is placed by its session's record, whose age needs the clock.
        let mut store = HostStore;
        let now = clock_for(&policy, end_of_stream).or_else(|| {
            policy
                .training
                .as_ref()
                .is_some_and(|t| t.serves_gcs_host(&host))
                .then(abi::current_time_nanos)
                .and_then(Result::ok)
        });
        let mut state = StateAccess::new(&mut store, now);
        let (flow, step) =
            RequestFlow::on_request_headers_with_state(&policy, &head, &attrs, &mut state);
        self.flow = Some(flow);
        self.report();
        match step {
            HeadersStep::PassThrough | HeadersStep::Continue | HeadersStep::InspectBody => {
                Action::Continue
            }
            HeadersStep::Strip { remove_headers } => {
                remove_request_headers(&remove_headers);
                Action::Continue
            }
            HeadersStep::InspectRewritable { remove_headers } => {
                // Only a removal the host confirmed lets a hand-off rewrite the body.
                if remove_request_headers(&remove_headers)
                    && let Some(flow) = self.flow.as_mut()
                {
                    flow.framing_removed();
                }
                Action::Continue
            }
            HeadersStep::Respond(reply) => self.respond(&reply),
        }
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        if self.webhook.is_some() {
            let Some(policy) = self.policy.clone() else {
                return Action::Continue;
            };
            return self.webhook_body(&policy, body_size, end_of_stream, None);
        }
        let (Some(policy), Some(flow)) = (self.policy.clone(), self.flow.as_mut()) else {
            return Action::Continue;
        };
        let mut read = |n: usize| abi::buffer(abi::BUFFER_REQUEST_BODY, 0, n).ok().flatten();
        let mut store = HostStore;
        let mut state = StateAccess::new(&mut store, clock_for(&policy, end_of_stream));
        let step = flow.on_request_body_with_state(
            &policy,
            body_size,
            end_of_stream,
            &mut read,
            &mut state,
        );
        // Applied before the report: a body the host will not take changes the outcome.
        let action = self.apply_body_step(step, body_size);
        self.report();
        action
    }

    /// A request that ends with trailers never sees a body callback with `end_of_stream`: the
    /// stream ends here, so the body is decided here, or it would pass uninspected.
    fn on_http_request_trailers(&mut self, _num_trailers: usize) -> Action {
        if let (Some(policy), Some(delivery)) = (self.policy.clone(), self.webhook.as_ref()) {
            if !delivery.awaiting_body() {
                return Action::Continue;
            }
            return match abi::buffer(abi::BUFFER_REQUEST_BODY, 0, usize::MAX) {
                Ok(body) => {
                    let body = body.unwrap_or_default();
                    self.webhook_body(&policy, body.len(), true, Some(body))
                }
                // A body the host will not give: one byte announced and none readable is
                // refused as unverifiable (fail closed).
                Err(_) => self.webhook_body(&policy, 1, true, Some(Vec::new())),
            };
        }
        let (Some(policy), Some(flow)) = (self.policy.clone(), self.flow.as_mut()) else {
            return Action::Continue;
        };
        if !flow.awaiting_body() {
            return Action::Continue;
        }
        let body = match abi::buffer(abi::BUFFER_REQUEST_BODY, 0, usize::MAX) {
            Ok(b) => b.unwrap_or_default(),
            Err(status) => {
                abi::log(
                    LogLevel::Error,
                    &format!("wa-egress-guard: cannot read the body at trailers (status {status})"),
                );
                return self.respond(&report::training_error("internal_error", "trailers"));
            }
        };
        let buffered = body.len();
        let mut read = |n: usize| body.get(..n).map(<[u8]>::to_vec);
        let mut store = HostStore;
        let mut state = StateAccess::new(&mut store, clock_for(&policy, true));
        let step = flow.on_request_body_with_state(&policy, buffered, true, &mut read, &mut state);
        let action = self.apply_body_step(step, buffered);
        self.report();
        action
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        let Some(flow) = &mut self.flow else {
            return Action::Continue;
        };
        for (name, value) in flow.response_headers() {
            let _ = abi::add_header(abi::MAP_RESPONSE_HEADERS, name, &value);
        }
        if !flow.awaits_response() {
            return Action::Continue;
        }
        let status = abi::header(abi::MAP_RESPONSE_HEADERS, ":status")
            .ok()
            .flatten()
            .and_then(|v| std::str::from_utf8(&v).ok()?.trim().parse::<u32>().ok())
            .unwrap_or(0);
        // A GCS session start: its session URI, recorded with the clock's time.
        let (location, now) = if flow.awaits_location() {
            let location = abi::header(abi::MAP_RESPONSE_HEADERS, "location")
                .ok()
                .flatten()
                .and_then(|v| String::from_utf8(v).ok());
            (location, abi::current_time_nanos().ok())
        } else {
            (None, None)
        };
        let mut store = HostStore;
        let mut state = StateAccess::new(&mut store, now);
        let step = flow.on_response_headers_with_state(&mut state, status, location.as_deref());
        if step == ResponseStep::ReadBody {
            if end_of_stream {
                flow.on_response_body(&mut HostStore, None);
            } else {
                self.reading_response = true;
            }
        }
        // The session's counters.
        self.report();
        Action::Continue
    }

    /// An accepted upload part: its id is read from the whole response body, which is held
    /// until its end (a small JSON object; a larger body is not read).
    fn on_http_response_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        if !self.reading_response {
            return Action::Continue;
        }
        let Some(flow) = &mut self.flow else {
            return Action::Continue;
        };
        if body_size > MAX_RESPONSE_READ {
            self.reading_response = false;
            flow.on_response_body(&mut HostStore, None);
            return Action::Continue;
        }
        if !end_of_stream {
            return Action::Pause;
        }
        self.reading_response = false;
        let body = abi::buffer(abi::BUFFER_RESPONSE_BODY, 0, body_size)
            .ok()
            .flatten();
        flow.on_response_body(&mut HostStore, body.as_deref());
        Action::Continue
    }

    /// A response that ends with trailers ends here, with its body still buffered.
    fn on_http_response_trailers(&mut self, _num_trailers: usize) -> Action {
        if !std::mem::take(&mut self.reading_response) {
            return Action::Continue;
        }
        if let Some(flow) = &mut self.flow {
            let body = abi::buffer(abi::BUFFER_RESPONSE_BODY, 0, MAX_RESPONSE_READ)
                .ok()
                .flatten();
            flow.on_response_body(&mut HostStore, body.as_deref());
        }
        Action::Continue
    }
}
