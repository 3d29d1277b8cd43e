//! The floor for the Envoy benchmarks: a proxy-wasm HTTP filter that does the least any
//! body-inspecting filter must do. It reads the request headers (one hostcall for the whole
//! map), returns `Continue`, then pauses every body callback until `end_of_stream` (so Envoy
//! buffers the body to its end) and continues. It never reads the body, answers nothing and
//! touches no response. wa-egress-guard's "added cost" is compared with this one's.

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(FloorRoot) });
}}

struct FloorRoot;

impl Context for FloorRoot {}

impl RootContext for FloorRoot {
    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(FloorHttp { header_bytes: 0 }))
    }
}

struct FloorHttp {
    header_bytes: usize,
}

impl Context for FloorHttp {}

impl HttpContext for FloorHttp {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        // Read every request header once, as a filter that routes on them would.
        self.header_bytes = self
            .get_http_request_headers_bytes()
            .iter()
            .map(|(k, v)| k.len() + v.len())
            .sum();
        Action::Continue
    }

    fn on_http_request_body(&mut self, _body_size: usize, end_of_stream: bool) -> Action {
        if end_of_stream {
            Action::Continue
        } else {
            Action::Pause
        }
    }
}
