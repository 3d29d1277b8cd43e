//! `proxy_log`, `proxy_get_log_level`, the clock and the tick period.

use wasmtime::Linker;

use crate::abi::{LogLevel, Status};
use crate::guest_memory::{self, Fault, reply};
use crate::hostcalls::Ctx;
use crate::state::HostState;

pub(super) fn register(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_log",
        |mut caller: Ctx<'_>, level: i32, ptr: i32, len: i32| {
            reply(log(&mut caller, level, ptr, len))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_log_level",
        |mut caller: Ctx<'_>, ret: i32| {
            let level = caller.data().log_level.code() as u32;
            reply(guest_memory::write_u32(&mut caller, ret, level).map_err(Into::into))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_get_current_time_nanoseconds",
        |mut caller: Ctx<'_>, ret: i32| reply(current_time(&mut caller, ret)),
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_tick_period_milliseconds",
        |mut caller: Ctx<'_>, period: i32| {
            let clock = &mut caller.data_mut().clock;
            let period = period as u32;
            clock.tick_period_millis = period;
            clock.next_tick_nanos = if period == 0 {
                0
            } else {
                clock
                    .now_nanos
                    .saturating_add(u64::from(period).saturating_mul(1_000_000))
            };
            Status::Ok.code()
        },
    )?;
    Ok(())
}

/// The clock, which fault injection can fail as any other hostcall.
fn current_time(caller: &mut Ctx<'_>, ret: i32) -> Result<(), Fault> {
    super::injected(caller, "proxy_get_current_time_nanoseconds")?;
    let now = caller.data().clock.now_nanos;
    guest_memory::write_u64(caller, ret, now).map_err(Into::into)
}

fn log(caller: &mut Ctx<'_>, level: i32, ptr: i32, len: i32) -> Result<(), Fault> {
    let level = LogLevel::from_code(level).ok_or(Status::BadArgument)?;
    let message = guest_memory::read(caller, ptr, len)?;
    let message = String::from_utf8_lossy(&message).into_owned();
    caller.data_mut().push_log(level, message);
    Ok(())
}
