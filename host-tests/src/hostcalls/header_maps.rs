//! `proxy_{get,set}_header_map_pairs` and `proxy_{get,add,replace,remove}_header_map_value`.
//!
//! Availability follows Envoy's `getConstMap` / `getMap`: a map outside its phase gives
//! `BadArgument` (reads of pairs give an empty map), so a filter that touches request headers
//! from a body callback fails here exactly as it would in Envoy.

use wasmtime::Linker;

use crate::abi::{MapType, Status};
use crate::guest_memory::{self, Fault, reply};
use crate::headers::HeaderMap;
use crate::hostcalls::Ctx;
use crate::pairs;
use crate::state::HostState;

pub(super) fn register(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_get_header_map_pairs",
        |mut caller: Ctx<'_>, map: i32, ret_ptr: i32, ret_len: i32| {
            reply(
                crate::hostcalls::injected(&mut caller, "proxy_get_header_map_pairs")
                    .and_then(|()| get_pairs(&mut caller, map, ret_ptr, ret_len)),
            )
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_header_map_pairs",
        |mut caller: Ctx<'_>, map: i32, ptr: i32, len: i32| {
            reply(set_pairs(&mut caller, map, ptr, len))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_header_map_value",
        |mut caller: Ctx<'_>, map: i32, key_ptr: i32, key_len: i32, ret_ptr: i32, ret_len: i32| {
            reply(
                crate::hostcalls::injected(&mut caller, "proxy_get_header_map_value")
                    .and_then(|()| get_value(&mut caller, map, key_ptr, key_len, ret_ptr, ret_len)),
            )
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_add_header_map_value",
        |mut caller: Ctx<'_>, map: i32, key_ptr: i32, key_len: i32, ptr: i32, len: i32| {
            reply(
                crate::hostcalls::injected(&mut caller, "proxy_add_header_map_value").and_then(
                    |()| {
                        change(
                            &mut caller,
                            map,
                            key_ptr,
                            key_len,
                            Some((ptr, len)),
                            HeaderMap::add,
                        )
                    },
                ),
            )
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_replace_header_map_value",
        |mut caller: Ctx<'_>, map: i32, key_ptr: i32, key_len: i32, ptr: i32, len: i32| {
            reply(change(
                &mut caller,
                map,
                key_ptr,
                key_len,
                Some((ptr, len)),
                HeaderMap::replace,
            ))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_remove_header_map_value",
        |mut caller: Ctx<'_>, map: i32, key_ptr: i32, key_len: i32| {
            reply(
                crate::hostcalls::injected(&mut caller, "proxy_remove_header_map_value").and_then(
                    |()| {
                        change(&mut caller, map, key_ptr, key_len, None, |m, k, _| {
                            m.remove(k)
                        })
                    },
                ),
            )
        },
    )?;
    Ok(())
}

fn map_type(code: i32) -> Result<MapType, Status> {
    MapType::from_code(code).ok_or(Status::BadArgument)
}

fn readable(state: &HostState, map: MapType) -> Option<&HeaderMap> {
    state.stream().and_then(|s| s.map(map))
}

fn get_pairs(caller: &mut Ctx<'_>, map: i32, ret_ptr: i32, ret_len: i32) -> Result<(), Fault> {
    let map = map_type(map)?;
    let bytes = match readable(caller.data(), map) {
        Some(headers) if !headers.is_empty() => pairs::encode(headers.pairs()),
        _ => Vec::new(),
    };
    guest_memory::return_bytes(caller, &bytes, ret_ptr, ret_len)
}

fn set_pairs(caller: &mut Ctx<'_>, map: i32, ptr: i32, len: i32) -> Result<(), Fault> {
    let map = map_type(map)?;
    let bytes = guest_memory::read(caller, ptr, len)?;
    let new_pairs = pairs::decode(&bytes).map_err(|_| Status::BadArgument)?;
    let headers = caller
        .data_mut()
        .stream_mut()
        .and_then(|s| s.map_mut(map))
        .ok_or(Status::BadArgument)?;
    headers.set_all(&new_pairs);
    Ok(())
}

fn get_value(
    caller: &mut Ctx<'_>,
    map: i32,
    key_ptr: i32,
    key_len: i32,
    ret_ptr: i32,
    ret_len: i32,
) -> Result<(), Fault> {
    let map = map_type(map)?;
    let key = guest_memory::read(caller, key_ptr, key_len)?;
    let value = {
        let state = caller.data();
        let in_access_log = state.stream().is_some_and(|s| s.reachable.access_log);
        let headers = readable(state, map).ok_or(if in_access_log {
            Status::NotFound
        } else {
            Status::BadArgument
        })?;
        headers.get_bytes(&key).ok_or(Status::NotFound)?.to_vec()
    };
    guest_memory::return_bytes(caller, &value, ret_ptr, ret_len)
}

fn change(
    caller: &mut Ctx<'_>,
    map: i32,
    key_ptr: i32,
    key_len: i32,
    value: Option<(i32, i32)>,
    apply: fn(&mut HeaderMap, &[u8], &[u8]),
) -> Result<(), Fault> {
    let map = map_type(map)?;
    let key = guest_memory::read(caller, key_ptr, key_len)?;
    let value = match value {
        Some((ptr, len)) => guest_memory::read(caller, ptr, len)?,
        None => Vec::new(),
    };
    let headers = caller
        .data_mut()
        .stream_mut()
        .and_then(|s| s.map_mut(map))
        .ok_or(Status::BadArgument)?;
    apply(headers, &key, &value);
    Ok(())
}
