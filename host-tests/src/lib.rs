//! A proxy-wasm host (ABI 0.2.1) on wasmtime that loads the built `wa_egress_guard.wasm` and
//! drives it as Envoy's wasm HTTP filter does, so policies can be tested without Envoy.
//!
//! ```no_run
//! # fn main() -> Result<(), host_tests::HostError> {
//! use host_tests::Filter;
//! let mut filter = Filter::load("target/wasm32-wasip1/release/wa_egress_guard.wasm")?
//!     .configure(std::fs::read("policies/default.json").unwrap_or_default())?;
//! let outcome = filter
//!     .request()
//!     .method("POST")
//!     .authority("graph.facebook.com")
//!     .path("/v21.0/106540352242922/messages")
//!     .header("content-type", "application/json")
//!     .property("connection.uri_san_peer_certificate", "spiffe://cluster.local/ns/ai-lab/sa/bot")
//!     .body_chunks(&[&br#"{"messaging_product":"whatsapp","#[..], br#""type":"text"}"#])
//!     .send()?;
//! println!("{:?} {:?}", outcome.status(), outcome.local_response);
//! # Ok(()) }
//! ```
//!
//! All host state lives in the wasmtime `Store`; guest memory is read and written only through
//! bounds-checked slices; a guest trap comes back as [`HostError::Trap`] naming the callback.

pub mod abi;
mod case_request;
pub mod component;
mod error;
mod exchange;
mod filter;
mod guest_memory;
mod headers;
mod hostcalls;
mod outcome;
pub mod pairs;
mod request;
pub mod state;
pub mod verdict;
mod vm;

pub use abi::LogLevel;
pub use error::{HostError, Trap};
pub use filter::{Filter, ROOT_CONTEXT_ID};
pub use headers::HeaderMap;
pub use hostcalls::{PROXY_HOSTCALLS, WASI_FUNCTIONS};
pub use outcome::{Callback, LocalResponse, Outcome, Response, Stall, Upstream};
pub use request::{
    Chunking, ENVOY_DEFAULT_BUFFER_LIMIT, HttpRequest, RequestBuilder, UpstreamResponse,
};
pub use state::metrics::{MetricChange, MetricEvent, MetricValue, Metrics};
pub use state::properties::Properties;
pub use state::{Crossings, LogRecord};
pub use verdict::Verdict;
pub use vm::WasmModule;

/// 2026-01-01T00:00:00Z, the default start of the host clock.
pub const DEFAULT_START_TIME_NANOS: u64 = 1_767_225_600 * 1_000_000_000;

/// How the host is set up before the VM starts.
#[derive(Debug, Clone)]
pub struct HostOptions {
    /// Envoy's `vm_id` (also the namespace of shared queues).
    pub vm_id: String,
    /// The VM configuration buffer (`proxy_on_vm_start`).
    pub vm_configuration: Vec<u8>,
    /// What `proxy_get_log_level` answers. Logs of every level are captured regardless.
    pub log_level: LogLevel,
    /// VM-wide properties (connection, source, node, plugin).
    pub properties: Properties,
    /// WASI environment variables.
    pub environment: Vec<(String, String)>,
    pub start_time_nanos: u64,
    /// Seed of WASI `random_get` (deterministic).
    pub random_seed: u64,
    /// The guest's linear memory may not grow beyond this.
    pub max_memory_bytes: usize,
    /// Shared data common with other VMs (Envoy's workers of one `vm_id`); `None`: this VM's own.
    pub shared_data: Option<state::shared::SharedDataHandle>,
}

impl Default for HostOptions {
    fn default() -> HostOptions {
        HostOptions {
            vm_id: String::new(),
            vm_configuration: Vec::new(),
            log_level: LogLevel::Info,
            properties: Properties::default(),
            environment: Vec::new(),
            start_time_nanos: DEFAULT_START_TIME_NANOS,
            random_seed: 0x5EED,
            max_memory_bytes: 512 << 20,
            shared_data: None,
        }
    }
}

/// Where `cargo build -p wa-egress-guard --target wasm32-wasip1 --release` puts the module,
/// relative to the workspace root.
pub const DEFAULT_WASM_PATH: &str = "target/wasm32-wasip1/release/wa_egress_guard.wasm";
