//! The WASI preview 1 functions a Rust wasm32-wasip1 module imports: stdio is captured, the
//! environment is configurable, clocks follow the host clock, randomness is deterministic,
//! and there is no filesystem.

use wasmtime::Linker;

use crate::abi::errno;
use crate::guest_memory::{self, offset};
use crate::hostcalls::Ctx;
use crate::state::{HostState, MAX_CAPTURED_STDIO};

const WASI: &str = "wasi_snapshot_preview1";

fn errno_of(result: Result<(), crate::abi::Status>) -> i32 {
    match result {
        Ok(()) => errno::SUCCESS,
        Err(_) => errno::FAULT,
    }
}

pub(super) fn register(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        WASI,
        "args_sizes_get",
        |mut caller: Ctx<'_>, count: i32, size: i32| {
            errno_of(
                guest_memory::write_u32(&mut caller, count, 0)
                    .and_then(|()| guest_memory::write_u32(&mut caller, size, 0)),
            )
        },
    )?;
    linker.func_wrap(
        WASI,
        "args_get",
        |_caller: Ctx<'_>, _argv: i32, _buf: i32| errno::SUCCESS,
    )?;
    linker.func_wrap(
        WASI,
        "environ_sizes_get",
        |mut caller: Ctx<'_>, count: i32, size: i32| {
            let entries = environment_entries(caller.data());
            let total: usize = entries.iter().map(Vec::len).sum();
            errno_of(
                guest_memory::write_u32(&mut caller, count, entries.len() as u32)
                    .and_then(|()| guest_memory::write_u32(&mut caller, size, total as u32)),
            )
        },
    )?;
    linker.func_wrap(
        WASI,
        "environ_get",
        |mut caller: Ctx<'_>, pointers: i32, buffer: i32| {
            errno_of(environ_get(&mut caller, pointers, buffer))
        },
    )?;
    linker.func_wrap(
        WASI,
        "clock_res_get",
        |mut caller: Ctx<'_>, _clock: i32, ret: i32| {
            errno_of(guest_memory::write_u64(&mut caller, ret, 1))
        },
    )?;
    linker.func_wrap(
        WASI,
        "clock_time_get",
        |mut caller: Ctx<'_>, _clock: i32, _precision: i64, ret: i32| {
            let now = caller.data().clock.now_nanos;
            errno_of(guest_memory::write_u64(&mut caller, ret, now))
        },
    )?;
    linker.func_wrap(
        WASI,
        "fd_write",
        |mut caller: Ctx<'_>, fd: i32, iovs: i32, iovs_len: i32, written: i32| {
            fd_write(&mut caller, fd, iovs, iovs_len, written)
        },
    )?;
    linker.func_wrap(
        WASI,
        "fd_read",
        |mut caller: Ctx<'_>, fd: i32, _iovs: i32, _iovs_len: i32, read: i32| {
            if fd != 0 {
                return errno::BADF;
            }
            errno_of(guest_memory::write_u32(&mut caller, read, 0))
        },
    )?;
    linker.func_wrap(WASI, "fd_close", |_caller: Ctx<'_>, fd: i32| {
        stdio_or_badf(fd)
    })?;
    linker.func_wrap(
        WASI,
        "fd_seek",
        |_caller: Ctx<'_>, fd: i32, _offset: i64, _whence: i32, _ret: i32| {
            if (0..=2).contains(&fd) {
                errno::SPIPE
            } else {
                errno::BADF
            }
        },
    )?;
    linker.func_wrap(
        WASI,
        "fd_fdstat_get",
        |mut caller: Ctx<'_>, fd: i32, ret: i32| {
            if !(0..=2).contains(&fd) {
                return errno::BADF;
            }
            // fdstat: u8 filetype (2 = character device), u16 flags, u64 rights, u64 inheriting.
            let mut stat = [0u8; 24];
            stat[0] = 2;
            errno_of(guest_memory::write(&mut caller, ret, &stat))
        },
    )?;
    linker.func_wrap(
        WASI,
        "fd_prestat_get",
        |_caller: Ctx<'_>, _fd: i32, _ret: i32| errno::BADF,
    )?;
    linker.func_wrap(
        WASI,
        "fd_prestat_dir_name",
        |_caller: Ctx<'_>, _fd: i32, _ptr: i32, _len: i32| errno::BADF,
    )?;
    linker.func_wrap(
        WASI,
        "random_get",
        |mut caller: Ctx<'_>, buf: i32, len: i32| {
            let bytes = random_bytes(caller.data_mut(), offset(len));
            errno_of(guest_memory::write(&mut caller, buf, &bytes))
        },
    )?;
    linker.func_wrap(WASI, "sched_yield", |_caller: Ctx<'_>| errno::SUCCESS)?;
    linker.func_wrap(
        WASI,
        "proc_exit",
        |_caller: Ctx<'_>, code: i32| -> wasmtime::Result<()> {
            wasmtime::bail!("guest called proc_exit({code})")
        },
    )?;
    Ok(())
}

fn stdio_or_badf(fd: i32) -> i32 {
    if (0..=2).contains(&fd) {
        errno::SUCCESS
    } else {
        errno::BADF
    }
}

fn environment_entries(state: &HostState) -> Vec<Vec<u8>> {
    state
        .wasi
        .environment
        .iter()
        .map(|(k, v)| format!("{k}={v}\0").into_bytes())
        .collect()
}

fn environ_get(caller: &mut Ctx<'_>, pointers: i32, buffer: i32) -> Result<(), crate::abi::Status> {
    let entries = environment_entries(caller.data());
    let mut cursor = buffer as u32;
    for (index, entry) in entries.iter().enumerate() {
        let slot = (pointers as u32).wrapping_add((index as u32).wrapping_mul(4));
        guest_memory::write_u32(caller, slot as i32, cursor)?;
        guest_memory::write(caller, cursor as i32, entry)?;
        cursor = cursor.wrapping_add(entry.len() as u32);
    }
    Ok(())
}

fn fd_write(caller: &mut Ctx<'_>, fd: i32, iovs: i32, iovs_len: i32, written: i32) -> i32 {
    if fd != 1 && fd != 2 {
        return errno::BADF;
    }
    let mut total = 0u32;
    for index in 0..(iovs_len as u32) {
        let entry = (iovs as u32).wrapping_add(index.wrapping_mul(8)) as i32;
        let Ok(ptr) = guest_memory::read_u32(caller, entry) else {
            return errno::FAULT;
        };
        let Ok(len) = guest_memory::read_u32(caller, entry.wrapping_add(4)) else {
            return errno::FAULT;
        };
        let Ok(bytes) = guest_memory::read(caller, ptr as i32, len as i32) else {
            return errno::FAULT;
        };
        let sink = if fd == 1 {
            &mut caller.data_mut().wasi.stdout
        } else {
            &mut caller.data_mut().wasi.stderr
        };
        let room = MAX_CAPTURED_STDIO.saturating_sub(sink.len());
        sink.extend_from_slice(bytes.get(..room.min(bytes.len())).unwrap_or_default());
        total = total.wrapping_add(len);
    }
    errno_of(guest_memory::write_u32(caller, written, total))
}

/// splitmix64: deterministic, so a run can be repeated byte for byte.
fn random_bytes(state: &mut HostState, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        state.wasi.random_state = state.wasi.random_state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state.wasi.random_state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        out.extend_from_slice(&z.to_le_bytes());
    }
    out.truncate(len);
    out
}
