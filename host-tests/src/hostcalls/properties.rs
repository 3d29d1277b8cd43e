//! `proxy_get_property` and `proxy_set_property`.
//!
//! Lookup order: the running request's properties (set by the test or by the guest), then the
//! `request.*` attributes Envoy derives from the request headers (only while those headers are
//! reachable, as in Envoy, where they vanish after the headers callback returns Continue),
//! then the VM-wide properties (connection, source, node, plugin).

use wasmtime::Linker;

use crate::abi::{MapType, Status};
use crate::guest_memory::{self, Fault, reply};
use crate::hostcalls::Ctx;
use crate::pairs;
use crate::state::HostState;

pub(super) fn register(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_get_property",
        |mut caller: Ctx<'_>, path_ptr: i32, path_len: i32, ret_ptr: i32, ret_len: i32| {
            reply(
                crate::hostcalls::injected(&mut caller, "proxy_get_property")
                    .and_then(|()| get_property(&mut caller, path_ptr, path_len, ret_ptr, ret_len)),
            )
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_property",
        |mut caller: Ctx<'_>, path_ptr: i32, path_len: i32, ptr: i32, len: i32| {
            reply(set_property(&mut caller, path_ptr, path_len, ptr, len))
        },
    )?;
    Ok(())
}

fn get_property(
    caller: &mut Ctx<'_>,
    path_ptr: i32,
    path_len: i32,
    ret_ptr: i32,
    ret_len: i32,
) -> Result<(), Fault> {
    let raw = guest_memory::read(caller, path_ptr, path_len)?;
    let path = pairs::split_property_path(&raw);
    let value = lookup(caller.data(), &path).ok_or(Status::NotFound)?;
    guest_memory::return_bytes(caller, &value, ret_ptr, ret_len)
}

pub(crate) fn lookup(state: &HostState, path: &[Vec<u8>]) -> Option<Vec<u8>> {
    if let Some(value) = state.stream().and_then(|s| s.properties.get(path)) {
        return Some(value);
    }
    if let Some(value) = request_attribute(state, path) {
        return Some(value);
    }
    if let Some(value) = state.properties.get(path) {
        return Some(value);
    }
    match path {
        [name] if name == b"plugin_vm_id" => Some(state.vm_id.clone()),
        _ => None,
    }
}

/// `request.*` attributes derived from the request headers.
fn request_attribute(state: &HostState, path: &[Vec<u8>]) -> Option<Vec<u8>> {
    let [first, rest @ ..] = path else {
        return None;
    };
    if first != b"request" {
        return None;
    }
    let headers = state.stream()?.map(MapType::RequestHeaders)?;
    let header = |name: &str| headers.get_bytes(name.as_bytes()).map(<[u8]>::to_vec);
    match rest {
        [field] => match field.as_slice() {
            b"path" => header(":path"),
            b"url_path" => header(":path").map(|p| {
                let end = p.iter().position(|b| *b == b'?').unwrap_or(p.len());
                p.get(..end).unwrap_or_default().to_vec()
            }),
            b"host" => header(":authority"),
            b"scheme" => header(":scheme"),
            b"method" => header(":method"),
            b"id" => header("x-request-id"),
            b"referer" => header("referer"),
            b"useragent" => header("user-agent"),
            // Unless the request overrides it (a request with trailers: `HTTP/2`).
            b"protocol" => Some(b"HTTP/1.1".to_vec()),
            b"headers" => Some(pairs::encode(headers.pairs())),
            _ => None,
        },
        [field, name] if field == b"headers" => headers.get_bytes(name).map(<[u8]>::to_vec),
        _ => None,
    }
}

fn set_property(
    caller: &mut Ctx<'_>,
    path_ptr: i32,
    path_len: i32,
    ptr: i32,
    len: i32,
) -> Result<(), Fault> {
    let raw = guest_memory::read(caller, path_ptr, path_len)?;
    let value = guest_memory::read(caller, ptr, len)?;
    let path = pairs::split_property_path(&raw);
    if path.is_empty() {
        return Err(Status::BadArgument.into());
    }
    // Envoy stores guest properties in the stream's filter state; a root context has none.
    let stream = caller.data_mut().stream_mut().ok_or(Status::NotFound)?;
    stream.properties.set_path(path, value);
    Ok(())
}
