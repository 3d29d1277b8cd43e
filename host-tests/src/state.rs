//! Everything the host knows, kept in the wasmtime `Store` data: no globals.

pub mod metrics;
pub mod properties;
pub mod shared;
pub(crate) mod stream;

use wasmtime::{Memory, StoreLimits, TypedFunc};

use crate::abi::LogLevel;
use crate::state::metrics::Metrics;
use crate::state::properties::Properties;
use crate::state::shared::{SharedDataHandle, SharedQueues};
use crate::state::stream::HttpStream;

/// One `proxy_log` call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    pub level: LogLevel,
    pub message: String,
    /// The context the guest was running in when it logged.
    pub context_id: u32,
}

/// The guest's exports the hostcalls need.
#[derive(Clone, Default)]
pub(crate) struct GuestHandles {
    pub memory: Option<Memory>,
    pub allocate: Option<TypedFunc<i32, i32>>,
}

/// A controllable clock: `proxy_get_current_time_nanoseconds` and WASI `clock_time_get`.
#[derive(Debug, Clone)]
pub(crate) struct Clock {
    pub now_nanos: u64,
    pub tick_period_millis: u32,
    /// When the next `proxy_on_tick` is due (nanoseconds); 0 when ticks are off.
    pub next_tick_nanos: u64,
}

/// WASI side effects: captured stdio, environment, and a deterministic random stream.
#[derive(Debug, Clone, Default)]
pub(crate) struct WasiState {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub environment: Vec<(String, String)>,
    pub random_state: u64,
}

/// Stdout/stderr capture stops growing at this size.
pub(crate) const MAX_CAPTURED_STDIO: usize = 1 << 20;
/// Logs kept before the oldest are dropped (between two collections).
pub(crate) const MAX_LOGS: usize = 100_000;

pub struct HostState {
    pub(crate) guest: GuestHandles,
    pub(crate) limits: StoreLimits,
    pub(crate) vm_id: Vec<u8>,
    pub(crate) log_level: LogLevel,
    pub(crate) vm_configuration: Vec<u8>,
    /// Set only while `proxy_on_configure` runs, as in Envoy.
    pub(crate) plugin_configuration: Option<Vec<u8>>,
    /// Connection, node and plugin properties, shared by every request.
    pub(crate) properties: Properties,
    pub(crate) stream: Option<HttpStream>,
    /// The context of the running callback (changed by `proxy_set_effective_context`).
    pub(crate) current_context: u32,
    pub(crate) live_contexts: Vec<u32>,
    pub(crate) metrics: Metrics,
    pub(crate) logs: Vec<LogRecord>,
    pub(crate) shared_data: SharedDataHandle,
    pub(crate) queues: SharedQueues,
    pub(crate) clock: Clock,
    pub(crate) wasi: WasiState,
    /// Names of hostcalls the guest called that this host does not implement.
    pub(crate) unsupported_calls: Vec<String>,
    pub(crate) done_called: bool,
    /// Calls across the VM boundary, counted by wasmtime's call hook.
    pub(crate) crossings: Crossings,
    /// A hostcall made to fail on purpose (host fault injection).
    pub(crate) faults: HostFaults,
}

/// Host fault injection: the `nth` call of one hostcall, counted from when the plan is set,
/// returns `InternalFailure` instead of doing its work.
#[derive(Debug, Clone, Default)]
pub(crate) struct HostFaults {
    plan: Option<(String, u32)>,
    calls: u32,
    pub(crate) injected: u32,
}

impl HostFaults {
    pub(crate) fn plan(&mut self, hostcall: &str, nth: u32) {
        *self = HostFaults {
            plan: Some((hostcall.to_string(), nth)),
            ..HostFaults::default()
        };
    }

    /// Whether this call of `hostcall` must fail.
    pub(crate) fn take(&mut self, hostcall: &str) -> bool {
        match &self.plan {
            Some((name, nth)) if name == hostcall => {
                self.calls += 1;
                let fail = self.calls == *nth;
                self.injected += u32::from(fail);
                fail
            }
            _ => false,
        }
    }
}

/// Calls across the VM boundary: what a proxy-wasm filter pays per call in any runtime.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Crossings {
    /// The guest called a host function (a proxy-wasm hostcall or a WASI function).
    pub hostcalls: u64,
    /// The host called into the guest (callbacks, including `proxy_on_memory_allocate`
    /// for every buffer a hostcall returns).
    pub guest_entries: u64,
}

impl HostState {
    pub(crate) fn new(options: &crate::HostOptions) -> HostState {
        let limits = wasmtime::StoreLimitsBuilder::new()
            .memory_size(options.max_memory_bytes)
            .build();
        HostState {
            guest: GuestHandles::default(),
            limits,
            vm_id: options.vm_id.as_bytes().to_vec(),
            log_level: options.log_level,
            vm_configuration: options.vm_configuration.clone(),
            plugin_configuration: None,
            properties: options.properties.clone(),
            stream: None,
            current_context: 0,
            live_contexts: Vec::new(),
            metrics: Metrics::default(),
            logs: Vec::new(),
            shared_data: options.shared_data.clone().unwrap_or_default(),
            queues: SharedQueues::default(),
            clock: Clock {
                now_nanos: options.start_time_nanos,
                tick_period_millis: 0,
                next_tick_nanos: 0,
            },
            wasi: WasiState {
                environment: options.environment.clone(),
                random_state: options.random_seed,
                ..WasiState::default()
            },
            unsupported_calls: Vec::new(),
            crossings: Crossings::default(),
            faults: HostFaults::default(),
            done_called: false,
        }
    }

    /// The running HTTP stream, if the current context is its context.
    pub(crate) fn stream(&self) -> Option<&HttpStream> {
        self.stream
            .as_ref()
            .filter(|s| s.context_id == self.current_context)
    }

    pub(crate) fn stream_mut(&mut self) -> Option<&mut HttpStream> {
        let current = self.current_context;
        self.stream.as_mut().filter(|s| s.context_id == current)
    }

    pub(crate) fn push_log(&mut self, level: LogLevel, message: String) {
        if self.logs.len() >= MAX_LOGS {
            self.logs.remove(0);
        }
        let context_id = self.current_context;
        self.logs.push(LogRecord {
            level,
            message,
            context_id,
        });
    }
}
