//! What one request did, as seen from both sides of the filter.

use std::collections::BTreeMap;
use std::fmt;

use crate::abi::MetricKind;
use crate::headers::HeaderMap;
use crate::state::LogRecord;
use crate::state::metrics::{MetricChange, MetricEvent};

/// Shows a body as text in `Debug` output.
struct BodyText<'a>(&'a [u8]);

impl fmt::Debug for BodyText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.0))
    }
}

/// A `proxy_send_local_response` call, as the filter made it.
#[derive(Clone, PartialEq, Eq)]
pub struct LocalResponse {
    pub status: u32,
    pub details: String,
    pub body: Vec<u8>,
    /// The additional headers the filter passed (keys lower-cased, as Envoy adds them).
    pub headers: HeaderMap,
    /// -1 when the SDK sent no gRPC status.
    pub grpc_status: i32,
}

impl LocalResponse {
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl fmt::Debug for LocalResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalResponse")
            .field("status", &self.status)
            .field("details", &self.details)
            .field("headers", &self.headers)
            .field("body", &BodyText(&self.body))
            .field("grpc_status", &self.grpc_status)
            .finish()
    }
}

/// What passed through the filter towards the upstream.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Upstream {
    /// The request headers when the headers callback let them through.
    pub headers: Option<HeaderMap>,
    /// The body bytes released by the filter, concatenated.
    pub body: Vec<u8>,
    /// The same bytes as released, one entry per Continue.
    pub body_chunks: Vec<Vec<u8>>,
    pub trailers: Option<HeaderMap>,
    /// The whole request (end of stream) passed the filter.
    pub complete: bool,
    /// Bytes lost because a body callback returned StopIterationNoBuffer.
    pub dropped_bytes: usize,
}

impl fmt::Debug for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let chunks: Vec<BodyText<'_>> = self.body_chunks.iter().map(|c| BodyText(c)).collect();
        f.debug_struct("Upstream")
            .field("headers", &self.headers)
            .field("body_chunks", &chunks)
            .field("trailers", &self.trailers)
            .field("complete", &self.complete)
            .field("dropped_bytes", &self.dropped_bytes)
            .finish()
    }
}

/// The response the downstream client receives, after the filter's response callbacks.
#[derive(Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// The response is the filter's own local reply (Envoy runs the filter's response
    /// callbacks on it too).
    pub local_reply: bool,
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body", &BodyText(&self.body))
            .field("local_reply", &self.local_reply)
            .finish()
    }
}

impl Response {
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// One callback the host made for this request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callback {
    pub name: &'static str,
    /// Headers callbacks: number of headers; data callbacks: buffered size passed.
    pub size: usize,
    pub end_of_stream: bool,
    /// The value the guest returned (`None` for callbacks without a result).
    pub result: Option<i32>,
}

/// Why the exchange could not go on: the filter stopped iteration and never resumed, so in
/// Envoy the request would hang until a timeout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stall {
    pub callback: &'static str,
    pub reason: String,
}

/// Everything one request did.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub context_id: u32,
    pub request_id: String,
    pub callbacks: Vec<Callback>,
    pub upstream: Upstream,
    pub local_response: Option<LocalResponse>,
    /// Further `proxy_send_local_response` calls after the first, which Envoy ignores.
    pub ignored_local_responses: u32,
    pub response: Option<Response>,
    pub stall: Option<Stall>,
    /// The stream the filter reset with `proxy_close_stream`, if any.
    pub reset: Option<String>,
    /// Envoy answered 413 itself: the filter kept the request body buffered past the stream's
    /// buffer limit.
    pub payload_too_large: bool,
    /// Logs emitted while this request ran (all levels).
    pub logs: Vec<LogRecord>,
    /// Metric changes made while this request ran.
    pub metric_events: Vec<MetricEvent>,
    /// Every metric's value after the request.
    pub metrics: BTreeMap<String, u64>,
    /// Guest stdout / stderr written during the request.
    pub stdout: String,
    pub stderr: String,
    /// Calls across the VM boundary while this request ran.
    pub crossings: crate::state::Crossings,
}

impl Outcome {
    /// The filter answered locally instead of forwarding.
    pub fn blocked(&self) -> bool {
        self.local_response.is_some()
    }

    /// The upstream received the complete request. With Envoy's buffer filter after the wasm
    /// filter (as deployed on WhatsApp routes), nothing reaches the upstream otherwise.
    pub fn reached_upstream(&self) -> bool {
        self.upstream.complete && self.local_response.is_none() && self.reset.is_none()
    }

    /// The status the downstream client sees.
    pub fn status(&self) -> Option<u16> {
        self.response.as_ref().map(|r| r.status)
    }

    /// A header of the response the downstream client sees.
    pub fn response_header(&self, name: &str) -> Option<&str> {
        self.response.as_ref().and_then(|r| r.headers.get(name))
    }

    /// Log messages containing `needle`.
    pub fn logs_containing<'a>(
        &'a self,
        needle: &'a str,
    ) -> impl Iterator<Item = &'a LogRecord> + 'a {
        self.logs.iter().filter(move |l| l.message.contains(needle))
    }

    /// How much a counter grew during this request.
    pub fn counter_delta(&self, name: &str) -> u64 {
        self.metric_events
            .iter()
            .filter(|e| e.name == name && e.kind == MetricKind::Counter)
            .map(|e| match e.change {
                MetricChange::Increment(by) => by.unsigned_abs(),
                MetricChange::Record(value) => value,
            })
            .sum()
    }

    /// Counters that grew during this request, with their growth.
    pub fn counter_deltas(&self) -> BTreeMap<String, u64> {
        let mut deltas = BTreeMap::new();
        for event in &self.metric_events {
            if event.kind != MetricKind::Counter {
                continue;
            }
            let by = match event.change {
                MetricChange::Increment(by) => by.unsigned_abs(),
                MetricChange::Record(value) => value,
            };
            *deltas.entry(event.name.clone()).or_insert(0) += by;
        }
        deltas
    }
}
