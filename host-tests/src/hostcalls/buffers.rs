//! `proxy_get_buffer_bytes` and `proxy_set_buffer_bytes`, with Envoy's buffer semantics.

use wasmtime::Linker;

use crate::abi::{BufferType, Status};
use crate::guest_memory::{self, Fault, offset, reply};
use crate::hostcalls::Ctx;
use crate::state::HostState;

pub(super) fn register(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_get_buffer_bytes",
        |mut caller: Ctx<'_>, kind: i32, start: i32, max: i32, ret_ptr: i32, ret_len: i32| {
            reply(
                crate::hostcalls::injected(&mut caller, "proxy_get_buffer_bytes").and_then(|()| {
                    get_buffer_bytes(&mut caller, kind, start, max, ret_ptr, ret_len)
                }),
            )
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_buffer_bytes",
        |mut caller: Ctx<'_>, kind: i32, start: i32, len: i32, ptr: i32, size: i32| {
            reply(
                crate::hostcalls::injected(&mut caller, "proxy_set_buffer_bytes")
                    .and_then(|()| set_buffer_bytes(&mut caller, kind, start, len, ptr, size)),
            )
        },
    )?;
    Ok(())
}

/// The readable bytes of a buffer. A body outside its callback reads as empty (Envoy hands
/// the filter a null buffer there); a buffer this host never has is `NotFound`.
fn buffer_bytes(state: &HostState, kind: BufferType) -> Result<&[u8], Status> {
    match kind {
        BufferType::HttpRequestBody | BufferType::HttpResponseBody => Ok(state
            .stream()
            .and_then(|s| s.buffer(kind))
            .map_or(&[][..], Vec::as_slice)),
        BufferType::VmConfiguration => Ok(&state.vm_configuration),
        BufferType::PluginConfiguration => state
            .plugin_configuration
            .as_deref()
            .ok_or(Status::NotFound),
        BufferType::DownstreamData
        | BufferType::UpstreamData
        | BufferType::HttpCallResponseBody
        | BufferType::GrpcReceiveBuffer
        | BufferType::CallData => Err(Status::NotFound),
    }
}

fn get_buffer_bytes(
    caller: &mut Ctx<'_>,
    kind: i32,
    start: i32,
    max: i32,
    ret_ptr: i32,
    ret_len: i32,
) -> Result<(), Fault> {
    let kind = BufferType::from_code(kind).ok_or(Status::BadArgument)?;
    let (start, max) = (offset(start), offset(max));
    start.checked_add(max).ok_or(Status::BadArgument)?;
    let slice = {
        let bytes = buffer_bytes(caller.data(), kind)?;
        let end = start.saturating_add(max).min(bytes.len());
        bytes.get(start..end).unwrap_or_default().to_vec()
    };
    guest_memory::return_bytes(caller, &slice, ret_ptr, ret_len)
}

fn set_buffer_bytes(
    caller: &mut Ctx<'_>,
    kind: i32,
    start: i32,
    len: i32,
    ptr: i32,
    size: i32,
) -> Result<(), Fault> {
    let kind = BufferType::from_code(kind).ok_or(Status::BadArgument)?;
    let data = guest_memory::read(caller, ptr, size)?;
    if !matches!(
        kind,
        BufferType::HttpRequestBody | BufferType::HttpResponseBody
    ) {
        buffer_bytes(caller.data(), kind)?;
        return Err(Status::BadArgument.into());
    }
    let buffer = caller
        .data_mut()
        .stream_mut()
        .and_then(|s| s.buffer_mut(kind))
        .ok_or(Status::BadArgument)?;
    splice(buffer, offset(start), offset(len), &data)?;
    Ok(())
}

/// Envoy's `Buffer::copyFrom`: prepend (start 0, len 0), replace all (start 0, len ≥ size),
/// append (start ≥ size); anything else is `BadArgument`.
pub(crate) fn splice(
    buffer: &mut Vec<u8>,
    start: usize,
    len: usize,
    data: &[u8],
) -> Result<(), Status> {
    if start == 0 {
        if len == 0 {
            buffer.splice(0..0, data.iter().copied());
            return Ok(());
        }
        if len >= buffer.len() {
            buffer.clear();
            buffer.extend_from_slice(data);
            return Ok(());
        }
        return Err(Status::BadArgument);
    }
    if start >= buffer.len() {
        buffer.extend_from_slice(data);
        return Ok(());
    }
    Err(Status::BadArgument)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splice_follows_envoy() {
        let mut b = b"body".to_vec();
        splice(&mut b, 0, 0, b">").unwrap();
        assert_eq!(b, b">body");
        splice(&mut b, 5, 0, b"<").unwrap();
        assert_eq!(b, b">body<");
        splice(&mut b, 0, 6, b"new").unwrap();
        assert_eq!(b, b"new");
        assert_eq!(splice(&mut b, 1, 1, b"x"), Err(Status::BadArgument));
        assert_eq!(splice(&mut b, 0, 2, b"x"), Err(Status::BadArgument));
    }
}
