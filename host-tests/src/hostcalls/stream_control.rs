//! `proxy_send_local_response`, `proxy_continue_stream`, `proxy_close_stream`, `proxy_done`,
//! `proxy_set_effective_context`.
//!
//! As in Envoy, these take effect after the running callback returns: the driver in
//! `crate::exchange` reads the flags they set.

use wasmtime::Linker;

use crate::abi::{Status, StreamType};
use crate::guest_memory::{self, Fault, reply};
use crate::headers::HeaderMap;
use crate::hostcalls::Ctx;
use crate::outcome::LocalResponse;
use crate::pairs;
use crate::state::HostState;

pub(super) fn register(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_send_local_response",
        |mut caller: Ctx<'_>,
         status: i32,
         details_ptr: i32,
         details_len: i32,
         body_ptr: i32,
         body_len: i32,
         headers_ptr: i32,
         headers_len: i32,
         grpc_status: i32| {
            let request = LocalResponseCall {
                status,
                details: (details_ptr, details_len),
                body: (body_ptr, body_len),
                headers: (headers_ptr, headers_len),
                grpc_status,
            };
            reply(
                crate::hostcalls::injected(&mut caller, "proxy_send_local_response")
                    .and_then(|()| send_local_response(&mut caller, &request)),
            )
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_continue_stream",
        |mut caller: Ctx<'_>, stream: i32| reply(continue_stream(&mut caller, stream)),
    )?;
    linker.func_wrap(
        "env",
        "proxy_close_stream",
        |mut caller: Ctx<'_>, stream: i32| {
            reply(
                crate::hostcalls::injected(&mut caller, "proxy_close_stream")
                    .and_then(|()| close_stream(&mut caller, stream)),
            )
        },
    )?;
    linker.func_wrap("env", "proxy_done", |mut caller: Ctx<'_>| {
        caller.data_mut().done_called = true;
        Status::Ok.code()
    })?;
    linker.func_wrap(
        "env",
        "proxy_set_effective_context",
        |mut caller: Ctx<'_>, context: i32| {
            let state = caller.data_mut();
            let context = context as u32;
            if state.live_contexts.contains(&context) {
                state.current_context = context;
                Status::Ok.code()
            } else {
                Status::BadArgument.code()
            }
        },
    )?;
    Ok(())
}

struct LocalResponseCall {
    status: i32,
    details: (i32, i32),
    body: (i32, i32),
    headers: (i32, i32),
    grpc_status: i32,
}

fn send_local_response(caller: &mut Ctx<'_>, call: &LocalResponseCall) -> Result<(), Fault> {
    let details = guest_memory::read(caller, call.details.0, call.details.1)?;
    let body = guest_memory::read(caller, call.body.0, call.body.1)?;
    let raw_headers = guest_memory::read(caller, call.headers.0, call.headers.1)?;
    let headers = pairs::decode(&raw_headers).map_err(|_| Status::BadArgument)?;
    let response = LocalResponse {
        status: call.status as u32,
        details: String::from_utf8_lossy(&details).into_owned(),
        body,
        headers: HeaderMap::from_pairs(&headers),
        grpc_status: call.grpc_status,
    };
    // A root context has no stream to answer; Envoy returns Ok and does nothing.
    if let Some(stream) = caller.data_mut().stream_mut() {
        if stream.local_response.is_some() {
            stream.ignored_local_responses += 1;
        } else {
            stream.local_response = Some(response);
        }
    }
    Ok(())
}

fn continue_stream(caller: &mut Ctx<'_>, stream: i32) -> Result<(), Fault> {
    let kind = StreamType::from_code(stream).ok_or(Status::BadArgument)?;
    let Some(stream) = caller.data_mut().stream_mut() else {
        return Ok(());
    };
    match kind {
        StreamType::HttpRequest => stream.continue_request = true,
        StreamType::HttpResponse => stream.continue_response = true,
        StreamType::Downstream | StreamType::Upstream => return Err(Status::BadArgument.into()),
    }
    Ok(())
}

fn close_stream(caller: &mut Ctx<'_>, stream: i32) -> Result<(), Fault> {
    let kind = StreamType::from_code(stream).ok_or(Status::BadArgument)?;
    if let Some(stream) = caller.data_mut().stream_mut()
        && stream.closed.is_none()
    {
        stream.closed = Some(kind);
    }
    Ok(())
}
