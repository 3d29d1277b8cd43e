//! The floor for the Envoy benchmarks: a proxy-wasm HTTP filter that does the least any
//! body-inspecting filter must do. It reads the request headers (one hostcall for the whole
//! map), returns `Continue`, pauses every body callback until `end_of_stream` (so Envoy
//! buffers the body to its end), then copies the whole body into the VM with one
//! `get_http_request_body` and scans it once (counts its `"` bytes, the least a JSON reader
//! looks at), and continues. It answers nothing and touches no response. wa-egress-guard's
//! "added cost" is compared with this one's.
//!
//! Its plugin configuration picks a variant (the benchmark's setups):
//! - none: the floor above (setup `floor`);
//! - `{"body": "none"}`: the body is held to its end but never read, as the floor was before
//!   it read the body (setup `floor_headers`);
//! - `{"hostcalls": "guard"}`: the floor plus the other hostcalls wa-egress-guard makes on an
//!   allowed WhatsApp send (`:authority`, the peer certificate property, one counter, two
//!   response headers) and nothing else, so the boundary's cost in Envoy can be told apart
//!   from the guard's own work (setup `floor_hostcalls`).
//!
//! Every hostcall goes through `proxy_wasm::hostcalls` and its `Status` is handled: a failed
//! call is a figure lost, never a trap.

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, BufferType, ContextType, LogLevel, MapType, MetricType};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> {
        Box::new(FloorRoot { variant: Variant::ReadBody })
    });
}}

/// What the floor does with a request, from its plugin configuration.
#[derive(Clone, Copy)]
enum Variant {
    /// Reads the headers, then the whole body once at its end, and scans it.
    ReadBody,
    /// Reads the headers and holds the body to its end without reading it.
    HeadersOnly,
    /// `ReadBody` plus the guard's other hostcalls of an allowed send; the counter's id.
    GuardHostcalls(u32),
}

impl Variant {
    /// The variant a plugin configuration asks for; `None` when its counter cannot be defined.
    fn from_configuration(config: &[u8]) -> Option<Variant> {
        let compact: String = String::from_utf8_lossy(config).split_whitespace().collect();
        if compact.contains("\"hostcalls\":\"guard\"") {
            let counter =
                hostcalls::define_metric(MetricType::Counter, "bench_floor_requests_total").ok()?;
            return Some(Variant::GuardHostcalls(counter));
        }
        if compact.contains("\"body\":\"none\"") {
            return Some(Variant::HeadersOnly);
        }
        Some(Variant::ReadBody)
    }
}

struct FloorRoot {
    variant: Variant,
}

impl Context for FloorRoot {}

impl RootContext for FloorRoot {
    fn on_configure(&mut self, _size: usize) -> bool {
        let config = hostcalls::get_buffer(BufferType::PluginConfiguration, 0, usize::MAX)
            .ok()
            .flatten()
            .unwrap_or_default();
        match Variant::from_configuration(&config) {
            Some(variant) => {
                self.variant = variant;
                true
            }
            None => false,
        }
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(FloorHttp {
            seen_bytes: 0,
            variant: self.variant,
        }))
    }
}

struct FloorHttp {
    /// Bytes of the headers read, plus the body's `"` count: kept so nothing read is unused.
    seen_bytes: usize,
    variant: Variant,
}

/// How many `"` bytes a body holds: one pass over every byte, the least a JSON reader does.
fn scan(body: &[u8]) -> usize {
    body.iter().filter(|&&b| b == b'"').count()
}

impl Context for FloorHttp {}

impl HttpContext for FloorHttp {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        if let Variant::GuardHostcalls(_) = self.variant {
            let authority = hostcalls::get_map_value(MapType::HttpRequestHeaders, ":authority")
                .ok()
                .flatten()
                .unwrap_or_default();
            self.seen_bytes = authority.len();
            let _ = hostcalls::get_property(vec!["connection", "uri_san_peer_certificate"]);
        }
        // Read every request header once, as a filter that routes on them would.
        let headers = hostcalls::get_map_bytes(MapType::HttpRequestHeaders).unwrap_or_default();
        self.seen_bytes += headers
            .iter()
            .map(|(k, v)| k.len() + v.len())
            .sum::<usize>();
        Action::Continue
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        if !end_of_stream {
            return Action::Pause;
        }
        if let Variant::HeadersOnly = self.variant {
            return Action::Continue;
        }
        let body = hostcalls::get_buffer(BufferType::HttpRequestBody, 0, body_size)
            .ok()
            .flatten()
            .unwrap_or_default();
        // black_box: the count is used nowhere else, and the scan must not be optimised away.
        self.seen_bytes += std::hint::black_box(scan(&body));
        if let Variant::GuardHostcalls(counter) = self.variant {
            let _ = hostcalls::increment_metric(counter, 1);
        }
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        if let Variant::GuardHostcalls(_) = self.variant {
            let _ = hostcalls::add_map_value(
                MapType::HttpResponseHeaders,
                "x-bench-floor-decision",
                "allow",
            );
            let _ = hostcalls::add_map_value(
                MapType::HttpResponseHeaders,
                "x-bench-floor-rule",
                "mimic",
            );
        }
        Action::Continue
    }
}
