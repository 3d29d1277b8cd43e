//! Calls out of the VM (HTTP, gRPC, foreign functions). This host has no clusters, so they
//! fail with the Status Envoy gives for an unknown cluster or token; each call is recorded in
//! `Filter::unsupported_calls`.

use wasmtime::Linker;

use crate::abi::Status;
use crate::hostcalls::Ctx;
use crate::state::HostState;

fn refuse(caller: &mut Ctx<'_>, name: &str, status: Status) -> i32 {
    caller.data_mut().record_unsupported(name);
    status.code()
}

pub(super) fn register(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_http_call",
        |mut caller: Ctx<'_>,
         _upstream: i32,
         _upstream_len: i32,
         _headers: i32,
         _headers_len: i32,
         _body: i32,
         _body_len: i32,
         _trailers: i32,
         _trailers_len: i32,
         _timeout: i32,
         _ret_token: i32| {
            refuse(&mut caller, "env.proxy_http_call", Status::BadArgument)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_grpc_call",
        |mut caller: Ctx<'_>,
         _service: i32,
         _service_len: i32,
         _service_name: i32,
         _service_name_len: i32,
         _method: i32,
         _method_len: i32,
         _metadata: i32,
         _metadata_len: i32,
         _message: i32,
         _message_len: i32,
         _timeout: i32,
         _ret_token: i32| {
            refuse(&mut caller, "env.proxy_grpc_call", Status::ParseFailure)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_grpc_stream",
        |mut caller: Ctx<'_>,
         _service: i32,
         _service_len: i32,
         _service_name: i32,
         _service_name_len: i32,
         _method: i32,
         _method_len: i32,
         _metadata: i32,
         _metadata_len: i32,
         _ret_token: i32| {
            refuse(&mut caller, "env.proxy_grpc_stream", Status::ParseFailure)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_grpc_send",
        |mut caller: Ctx<'_>, _token: i32, _message: i32, _message_len: i32, _end: i32| {
            refuse(&mut caller, "env.proxy_grpc_send", Status::BadArgument)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_grpc_cancel",
        |mut caller: Ctx<'_>, _token: i32| {
            refuse(&mut caller, "env.proxy_grpc_cancel", Status::NotFound)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_grpc_close",
        |mut caller: Ctx<'_>, _token: i32| {
            refuse(&mut caller, "env.proxy_grpc_close", Status::NotFound)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_status",
        |mut caller: Ctx<'_>, _ret_code: i32, _ret_message: i32, _ret_message_len: i32| {
            refuse(&mut caller, "env.proxy_get_status", Status::NotFound)
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_call_foreign_function",
        |mut caller: Ctx<'_>,
         _name: i32,
         _name_len: i32,
         _args: i32,
         _args_len: i32,
         _ret_ptr: i32,
         _ret_len: i32| {
            refuse(
                &mut caller,
                "env.proxy_call_foreign_function",
                Status::NotFound,
            )
        },
    )?;
    Ok(())
}
