//! Registration of every hostcall the proxy-wasm 0.2.5 Rust SDK can import (module `env`),
//! the WASI preview 1 functions a wasm32-wasip1 module imports, and a Status-returning stub
//! for any other function import, so an unknown call never traps.

mod buffers;
mod callouts;
mod header_maps;
mod logging;
mod metrics;
mod properties;
mod shared;
mod stream_control;
mod wasi;

use wasmtime::{Caller, ExternType, Linker, Module, Store, Val, ValType};

use crate::abi::{Status, errno};
use crate::state::HostState;

/// The `env` functions this host implements (ABI 0.2.1, as imported by proxy-wasm 0.2.5).
pub const PROXY_HOSTCALLS: &[&str] = &[
    "proxy_log",
    "proxy_get_log_level",
    "proxy_get_current_time_nanoseconds",
    "proxy_set_tick_period_milliseconds",
    "proxy_get_buffer_bytes",
    "proxy_set_buffer_bytes",
    "proxy_get_header_map_pairs",
    "proxy_set_header_map_pairs",
    "proxy_get_header_map_value",
    "proxy_add_header_map_value",
    "proxy_replace_header_map_value",
    "proxy_remove_header_map_value",
    "proxy_get_property",
    "proxy_set_property",
    "proxy_get_shared_data",
    "proxy_set_shared_data",
    "proxy_register_shared_queue",
    "proxy_resolve_shared_queue",
    "proxy_enqueue_shared_queue",
    "proxy_dequeue_shared_queue",
    "proxy_continue_stream",
    "proxy_close_stream",
    "proxy_send_local_response",
    "proxy_done",
    "proxy_set_effective_context",
    "proxy_define_metric",
    "proxy_increment_metric",
    "proxy_record_metric",
    "proxy_get_metric",
    "proxy_http_call",
    "proxy_grpc_call",
    "proxy_grpc_stream",
    "proxy_grpc_send",
    "proxy_grpc_cancel",
    "proxy_grpc_close",
    "proxy_get_status",
    "proxy_call_foreign_function",
];

/// The `wasi_snapshot_preview1` functions this host implements.
pub const WASI_FUNCTIONS: &[&str] = &[
    "args_get",
    "args_sizes_get",
    "environ_get",
    "environ_sizes_get",
    "clock_res_get",
    "clock_time_get",
    "fd_write",
    "fd_read",
    "fd_close",
    "fd_seek",
    "fd_fdstat_get",
    "fd_prestat_get",
    "fd_prestat_dir_name",
    "random_get",
    "sched_yield",
    "proc_exit",
];

pub(crate) type Ctx<'a> = Caller<'a, HostState>;

/// `Err(InternalFailure)` when fault injection fails this call of `hostcall`.
pub(crate) fn injected(
    caller: &mut Ctx<'_>,
    hostcall: &str,
) -> Result<(), crate::guest_memory::Fault> {
    if caller.data_mut().faults.take(hostcall) {
        Err(crate::guest_memory::Fault::Status(
            crate::abi::Status::InternalFailure,
        ))
    } else {
        Ok(())
    }
}

pub(crate) fn register(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    logging::register(linker)?;
    buffers::register(linker)?;
    header_maps::register(linker)?;
    properties::register(linker)?;
    shared::register(linker)?;
    stream_control::register(linker)?;
    metrics::register(linker)?;
    callouts::register(linker)?;
    wasi::register(linker)?;
    Ok(())
}

/// Define every function import of `module` the linker lacks as a stub that records the call
/// and returns `Unimplemented` (`ENOSYS` for WASI) in its first `i32` result.
pub(crate) fn stub_missing_imports(
    linker: &mut Linker<HostState>,
    store: &mut Store<HostState>,
    module: &Module,
) -> wasmtime::Result<Vec<String>> {
    let mut stubbed = Vec::new();
    for import in module.imports() {
        let ExternType::Func(ty) = import.ty() else {
            continue;
        };
        if linker
            .get(&mut *store, import.module(), import.name())
            .is_ok()
        {
            continue;
        }
        let code = if import.module() == "wasi_snapshot_preview1" {
            errno::NOSYS
        } else {
            Status::Unimplemented.code()
        };
        let mut defaults = Vec::new();
        for (index, result) in ty.results().enumerate() {
            defaults.push(match result {
                ValType::I32 if index == 0 => Val::I32(code),
                ValType::I32 => Val::I32(0),
                ValType::I64 => Val::I64(0),
                ValType::F32 => Val::F32(0),
                ValType::F64 => Val::F64(0),
                other => wasmtime::bail!(
                    "import `{}.{}` returns `{other}`, which this host cannot stub",
                    import.module(),
                    import.name()
                ),
            });
        }
        let name = format!("{}.{}", import.module(), import.name());
        stubbed.push(name.clone());
        linker.func_new(
            import.module(),
            import.name(),
            ty.clone(),
            move |mut caller: Ctx<'_>, _params, results| {
                caller.data_mut().record_unsupported(&name);
                for (slot, value) in results.iter_mut().zip(&defaults) {
                    *slot = *value;
                }
                Ok(())
            },
        )?;
    }
    Ok(stubbed)
}

impl HostState {
    pub(crate) fn record_unsupported(&mut self, name: &str) {
        if self.unsupported_calls.len() < 1000 {
            self.unsupported_calls.push(name.to_string());
        }
    }
}
