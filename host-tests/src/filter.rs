//! [`Filter`]: one loaded VM with its root context, configured with a policy and driven
//! request by request, like one Envoy worker's instance of the plugin.

use std::path::Path;
use std::time::Duration;

use crate::HostOptions;
use crate::error::HostError;
use crate::exchange::Exchange;
use crate::outcome::Outcome;
use crate::request::{HttpRequest, RequestBuilder};
use crate::state::LogRecord;
use crate::state::metrics::Metrics;
use crate::vm::{Vm, WasmModule};

/// Root context id, as Envoy assigns it to the plugin's root context.
pub const ROOT_CONTEXT_ID: u32 = 1;

/// At most this many queue notifications are delivered after one host event.
const MAX_QUEUE_NOTIFICATIONS: usize = 1000;
/// At most this many ticks fire for one `advance_time`.
const MAX_TICKS: u64 = 100_000;

pub struct Filter {
    vm: Vm,
    next_context_id: u32,
    requests: u64,
    failed: Option<Box<crate::error::Trap>>,
}

impl Filter {
    /// Load a module file and start the VM (`_initialize`, root context, `proxy_on_vm_start`).
    pub fn load(path: impl AsRef<Path>) -> Result<Filter, HostError> {
        Filter::load_with(path, HostOptions::default())
    }

    pub fn load_with(path: impl AsRef<Path>, options: HostOptions) -> Result<Filter, HostError> {
        Filter::start(&WasmModule::from_file(path)?, options)
    }

    /// Start a VM from an already compiled module.
    pub fn start(module: &WasmModule, options: HostOptions) -> Result<Filter, HostError> {
        let mut filter = Filter {
            vm: Vm::instantiate(module, &options)?,
            next_context_id: ROOT_CONTEXT_ID + 1,
            requests: 0,
            failed: None,
        };
        filter.guard(Filter::start_root)?;
        Ok(filter)
    }

    fn start_root(&mut self) -> Result<(), HostError> {
        let root = ROOT_CONTEXT_ID;
        self.vm.store.data_mut().live_contexts.push(root);
        if let Some(f) = self.vm.callbacks.context_create.clone() {
            self.vm
                .call("proxy_on_context_create", root, &f, (root as i32, 0))?;
        }
        if let Some(f) = self.vm.callbacks.vm_start.clone() {
            let size = self.vm.store.data().vm_configuration.len();
            let size = i32::try_from(size).unwrap_or(i32::MAX);
            let started = self
                .vm
                .call("proxy_on_vm_start", root, &f, (root as i32, size))?;
            if started == 0 {
                let logs = self.vm.store.data().logs.clone();
                return Err(HostError::VmStartRejected { logs });
            }
        }
        self.deliver_queue_notifications()
    }

    /// Give the plugin its configuration (the policy JSON) via `proxy_on_configure`.
    pub fn configure(mut self, configuration: impl AsRef<[u8]>) -> Result<Filter, HostError> {
        self.reconfigure(configuration)?;
        Ok(self)
    }

    /// `configure` on a filter already in use (Envoy does this on a config update).
    pub fn reconfigure(&mut self, configuration: impl AsRef<[u8]>) -> Result<(), HostError> {
        let configuration = configuration.as_ref().to_vec();
        self.guard(move |filter| filter.run_configure(configuration))
    }

    fn run_configure(&mut self, configuration: Vec<u8>) -> Result<(), HostError> {
        let root = ROOT_CONTEXT_ID;
        let Some(f) = self.vm.callbacks.configure.clone() else {
            return Ok(());
        };
        let size = i32::try_from(configuration.len()).unwrap_or(i32::MAX);
        let logs_before = self.vm.store.data().logs.len();
        self.vm.store.data_mut().plugin_configuration = Some(configuration);
        let result = self
            .vm
            .call("proxy_on_configure", root, &f, (root as i32, size));
        self.vm.store.data_mut().plugin_configuration = None;
        if result? == 0 {
            let logs = self
                .vm
                .store
                .data()
                .logs
                .get(logs_before..)
                .unwrap_or_default()
                .to_vec();
            return Err(HostError::ConfigureRejected { logs });
        }
        self.deliver_queue_notifications()
    }

    /// Start building a request; finish with `.send()`.
    pub fn request(&mut self) -> RequestBuilder<'_> {
        RequestBuilder::new(self)
    }

    /// Drive one request through a fresh HTTP context of this VM.
    pub fn send(&mut self, request: &HttpRequest) -> Result<Outcome, HostError> {
        let context = self.next_context_id;
        self.next_context_id = self
            .next_context_id
            .checked_add(1)
            .unwrap_or(ROOT_CONTEXT_ID + 1);
        self.requests += 1;
        let request_id = format!("00000000-0000-4000-8000-{:012x}", self.requests);
        self.guard(|filter| {
            let outcome = Exchange::run(
                &mut filter.vm,
                ROOT_CONTEXT_ID,
                context,
                request,
                request_id,
            )?;
            filter.deliver_queue_notifications()?;
            Ok(outcome)
        })
    }

    /// Run `step`; a trap fails the VM for good, as in Envoy.
    fn guard<T>(
        &mut self,
        step: impl FnOnce(&mut Filter) -> Result<T, HostError>,
    ) -> Result<T, HostError> {
        if let Some(trap) = &self.failed {
            return Err(HostError::VmFailed(trap.clone()));
        }
        let result = step(self);
        if let Err(HostError::Trap(trap)) = &result {
            self.failed = Some(trap.clone());
        }
        result
    }

    fn deliver_queue_notifications(&mut self) -> Result<(), HostError> {
        for _ in 0..MAX_QUEUE_NOTIFICATIONS {
            let state = self.vm.store.data_mut();
            if state.queues.ready.is_empty() {
                return Ok(());
            }
            let (owner, queue) = state.queues.ready.remove(0);
            if !state.live_contexts.contains(&owner) {
                continue;
            }
            if let Some(f) = self.vm.callbacks.queue_ready.clone() {
                self.vm.call(
                    "proxy_on_queue_ready",
                    owner,
                    &f,
                    (owner as i32, queue as i32),
                )?;
            }
        }
        Ok(())
    }

    /// Move the clock forward, firing `proxy_on_tick` on the root context for every tick
    /// period that elapses.
    pub fn advance_time(&mut self, by: Duration) -> Result<u64, HostError> {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.guard(|filter| {
            let target = filter.vm.store.data().clock.now_nanos.saturating_add(by);
            let mut ticks = 0;
            while ticks < MAX_TICKS {
                let clock = &mut filter.vm.store.data_mut().clock;
                if clock.next_tick_nanos == 0 || clock.next_tick_nanos > target {
                    break;
                }
                clock.now_nanos = clock.next_tick_nanos;
                let period = u64::from(clock.tick_period_millis).saturating_mul(1_000_000);
                clock.next_tick_nanos = clock.now_nanos.saturating_add(period.max(1));
                if let Some(f) = filter.vm.callbacks.tick.clone() {
                    filter
                        .vm
                        .call("proxy_on_tick", ROOT_CONTEXT_ID, &f, ROOT_CONTEXT_ID as i32)?;
                }
                ticks += 1;
                filter.deliver_queue_notifications()?;
            }
            filter.vm.store.data_mut().clock.now_nanos = target;
            Ok(ticks)
        })
    }

    /// The clock, in nanoseconds since the Unix epoch.
    pub fn now_nanos(&self) -> u64 {
        self.vm.store.data().clock.now_nanos
    }

    /// The tick period the plugin asked for (0 = off).
    pub fn tick_period_millis(&self) -> u32 {
        self.vm.store.data().clock.tick_period_millis
    }

    /// Set a VM-wide property (connection, source, node, ...) by dotted name.
    pub fn set_property(&mut self, dotted: &str, value: impl Into<Vec<u8>>) {
        self.vm.store.data_mut().properties.set(dotted, value);
    }

    pub fn set_log_level(&mut self, level: crate::abi::LogLevel) {
        self.vm.store.data_mut().log_level = level;
    }

    pub fn metrics(&self) -> &Metrics {
        &self.vm.store.data().metrics
    }

    /// A counter or gauge value by the name the plugin defined (without Envoy's
    /// `wasmcustom.` prefix).
    pub fn metric(&self, name: &str) -> Option<u64> {
        self.metrics().value(name)
    }

    /// Logs not collected into an outcome (start-up, configure, ticks, queues).
    pub fn logs(&self) -> &[LogRecord] {
        &self.vm.store.data().logs
    }

    pub fn take_logs(&mut self) -> Vec<LogRecord> {
        std::mem::take(&mut self.vm.store.data_mut().logs)
    }

    /// Shared data as the plugin sees it: value and cas token.
    pub fn shared_data(&self, key: &str) -> Option<(Vec<u8>, u32)> {
        self.vm.store.data().shared_data.get(key.as_bytes())
    }

    pub fn set_shared_data(&mut self, key: &str, value: &[u8]) {
        // INVARIANT: cas 0 never mismatches, so this cannot fail.
        let _ = self
            .vm
            .store
            .data()
            .shared_data
            .set(key.as_bytes(), value, 0);
    }

    /// This VM's shared data, to start another VM over the same store
    /// ([`crate::HostOptions::shared_data`]) or to inject a race.
    pub fn shared_store(&self) -> crate::state::shared::SharedDataHandle {
        self.vm.store.data().shared_data.clone()
    }

    /// Enqueue on a queue the plugin registered, then deliver `proxy_on_queue_ready`.
    pub fn enqueue(&mut self, queue_name: &str, value: &[u8]) -> Result<bool, HostError> {
        let state = self.vm.store.data_mut();
        let vm_id = state.vm_id.clone();
        let Some(id) = state.queues.resolve(&vm_id, queue_name.as_bytes()) else {
            return Ok(false);
        };
        if state.queues.enqueue(id, value.to_vec()).is_err() {
            return Ok(false);
        }
        self.guard(Filter::deliver_queue_notifications)?;
        Ok(true)
    }

    /// Take the next item of a queue of this VM.
    pub fn dequeue(&mut self, queue_name: &str) -> Option<Vec<u8>> {
        let state = self.vm.store.data_mut();
        let vm_id = state.vm_id.clone();
        let id = state.queues.resolve(&vm_id, queue_name.as_bytes())?;
        state.queues.dequeue(id).ok()
    }

    /// Size of the guest's linear memory in bytes (it only grows).
    pub fn memory_bytes(&self) -> usize {
        self.vm.memory_bytes()
    }

    /// Calls to hostcalls this host does not support (`module.name`), in order.
    pub fn unsupported_calls(&self) -> &[String] {
        &self.vm.store.data().unsupported_calls
    }

    /// Imports that had no host implementation and were stubbed with `Unimplemented`.
    pub fn stubbed_imports(&self) -> &[String] {
        &self.vm.stubbed_imports
    }

    /// Host fault injection: from now on, the `nth` call (1-based) of `hostcall` (for example
    /// `proxy_get_buffer_bytes`) returns `InternalFailure` instead of doing its work. Supported:
    /// the buffer, header-map, property, shared-data, metric, local-reply and close-stream
    /// hostcalls.
    pub fn fail_hostcall(&mut self, hostcall: &str, nth: u32) {
        self.vm.store.data_mut().faults.plan(hostcall, nth);
    }

    /// How many calls fault injection has failed since the last `fail_hostcall`.
    pub fn faults_injected(&self) -> u32 {
        self.vm.store.data().faults.injected
    }

    /// Whether the plugin called `proxy_done`.
    pub fn done_called(&self) -> bool {
        self.vm.store.data().done_called
    }

    /// Guest stdout / stderr not collected into an outcome.
    pub fn stdio(&self) -> (String, String) {
        let wasi = &self.vm.store.data().wasi;
        (
            String::from_utf8_lossy(&wasi.stdout).into_owned(),
            String::from_utf8_lossy(&wasi.stderr).into_owned(),
        )
    }

    /// Requests sent through this VM.
    pub fn requests_sent(&self) -> u64 {
        self.requests
    }

    /// Shut the plugin down: `proxy_on_done` on the root context, then `proxy_on_delete`.
    /// Returns what `proxy_on_done` answered (true = done now).
    pub fn shutdown(mut self) -> Result<bool, HostError> {
        self.guard(|filter| {
            let root = ROOT_CONTEXT_ID;
            let mut done = true;
            if let Some(f) = filter.vm.callbacks.done.clone() {
                done = filter.vm.call("proxy_on_done", root, &f, root as i32)? != 0;
            }
            if let Some(f) = filter.vm.callbacks.delete.clone() {
                filter.vm.call("proxy_on_delete", root, &f, root as i32)?;
            }
            Ok(done)
        })
    }
}
