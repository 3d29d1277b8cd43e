//! The floor for the Envoy benchmarks: a proxy-wasm HTTP filter that does the least any
//! body-inspecting filter must do. It reads the request headers (one hostcall for the whole
//! map), returns `Continue`, then pauses every body callback until `end_of_stream` (so Envoy
//! buffers the body to its end) and continues. It never reads the body, answers nothing and
//! touches no response. wa-egress-guard's "added cost" is compared with this one's.
//!
//! Diagnostic variant: with the plugin configuration `{"hostcalls": "guard"}` it makes the
//! same hostcalls as wa-egress-guard on an allowed WhatsApp send (`:authority`, the header
//! map, the peer certificate property, the body, one counter, two response headers) and
//! nothing else, so the boundary's cost in Envoy can be told apart from the guard's own work.

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> {
        Box::new(FloorRoot { mimic: None })
    });
}}

struct FloorRoot {
    /// The counter id, when mimicking the guard's hostcalls.
    mimic: Option<u32>,
}

impl Context for FloorRoot {}

impl RootContext for FloorRoot {
    fn on_configure(&mut self, _size: usize) -> bool {
        let config = self.get_plugin_configuration().unwrap_or_default();
        let compact: String = String::from_utf8_lossy(&config)
            .split_whitespace()
            .collect();
        if compact.contains("\"hostcalls\":\"guard\"") {
            self.mimic = proxy_wasm::hostcalls::define_metric(
                proxy_wasm::types::MetricType::Counter,
                "bench_floor_requests_total",
            )
            .ok();
        }
        true
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(FloorHttp {
            header_bytes: 0,
            mimic: self.mimic,
        }))
    }
}

struct FloorHttp {
    header_bytes: usize,
    mimic: Option<u32>,
}

impl Context for FloorHttp {}

impl HttpContext for FloorHttp {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        if self.mimic.is_some() {
            let authority = self
                .get_http_request_header(":authority")
                .unwrap_or_default();
            self.header_bytes = authority.len();
            let _ = self.get_property(vec!["connection", "uri_san_peer_certificate"]);
        }
        // Read every request header once, as a filter that routes on them would.
        self.header_bytes = self
            .get_http_request_headers_bytes()
            .iter()
            .map(|(k, v)| k.len() + v.len())
            .sum();
        Action::Continue
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        if !end_of_stream {
            return Action::Pause;
        }
        if let Some(counter) = self.mimic {
            let body = self.get_http_request_body(0, body_size).unwrap_or_default();
            self.header_bytes += body.len();
            let _ = proxy_wasm::hostcalls::increment_metric(counter, 1);
        }
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        if self.mimic.is_some() {
            self.add_http_response_header("x-bench-floor-decision", "allow");
            self.add_http_response_header("x-bench-floor-rule", "mimic");
        }
        Action::Continue
    }
}
