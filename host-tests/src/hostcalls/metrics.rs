//! `proxy_define_metric`, `proxy_increment_metric`, `proxy_record_metric`, `proxy_get_metric`.

use wasmtime::Linker;

use crate::abi::{MetricKind, Status};
use crate::guest_memory::{self, Fault, reply};
use crate::hostcalls::Ctx;
use crate::state::HostState;

pub(super) fn register(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_define_metric",
        |mut caller: Ctx<'_>, kind: i32, name_ptr: i32, name_len: i32, ret_id: i32| {
            reply(
                crate::hostcalls::injected(&mut caller, "proxy_define_metric")
                    .and_then(|()| define(&mut caller, kind, name_ptr, name_len, ret_id)),
            )
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_increment_metric",
        |mut caller: Ctx<'_>, id: i32, offset: i64| {
            reply(
                crate::hostcalls::injected(&mut caller, "proxy_increment_metric").and_then(|()| {
                    caller
                        .data_mut()
                        .metrics
                        .increment(id as u32, offset)
                        .map_err(Into::into)
                }),
            )
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_record_metric",
        |mut caller: Ctx<'_>, id: i32, value: i64| {
            reply(
                caller
                    .data_mut()
                    .metrics
                    .record(id as u32, value as u64)
                    .map_err(Into::into),
            )
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_metric",
        |mut caller: Ctx<'_>, id: i32, ret: i32| reply(get(&mut caller, id, ret)),
    )?;
    Ok(())
}

fn define(
    caller: &mut Ctx<'_>,
    kind: i32,
    name_ptr: i32,
    name_len: i32,
    ret_id: i32,
) -> Result<(), Fault> {
    let kind = MetricKind::from_code(kind).ok_or(Status::BadArgument)?;
    let name = guest_memory::read(caller, name_ptr, name_len)?;
    let name = String::from_utf8(name).map_err(|_| Status::BadArgument)?;
    let id = caller.data_mut().metrics.define(kind, name)?;
    guest_memory::write_u32(caller, ret_id, id)?;
    Ok(())
}

fn get(caller: &mut Ctx<'_>, id: i32, ret: i32) -> Result<(), Fault> {
    let value = caller.data_mut().metrics.read(id as u32)?;
    guest_memory::write_u64(caller, ret, value)?;
    Ok(())
}
