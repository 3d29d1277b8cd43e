//! Bounds-checked access to the guest's linear memory from inside a hostcall.
//!
//! Every read and write goes through `Memory::data` / `Memory::data_mut` slices with `get`;
//! an out-of-range pointer gives `InvalidMemoryAccess`, never a host panic or a trap.

use std::ops::Range;

use wasmtime::{Caller, Extern, Memory};

use crate::abi::Status;
use crate::state::HostState;

/// A guest pointer (`i32` on wasm32) as an offset.
pub(crate) fn offset(ptr: i32) -> usize {
    ptr as u32 as usize
}

fn span(ptr: i32, len: usize) -> Result<Range<usize>, Status> {
    let start = offset(ptr);
    let end = start.checked_add(len).ok_or(Status::InvalidMemoryAccess)?;
    Ok(start..end)
}

fn memory(caller: &mut Caller<'_, HostState>) -> Result<Memory, Status> {
    if let Some(memory) = caller.data().guest.memory {
        return Ok(memory);
    }
    match caller.get_export("memory") {
        Some(Extern::Memory(memory)) => {
            caller.data_mut().guest.memory = Some(memory);
            Ok(memory)
        }
        _ => Err(Status::InvalidMemoryAccess),
    }
}

/// Copy `len` bytes at `ptr` out of the guest.
pub(crate) fn read(
    caller: &mut Caller<'_, HostState>,
    ptr: i32,
    len: i32,
) -> Result<Vec<u8>, Status> {
    let memory = memory(caller)?;
    let range = span(ptr, offset(len))?;
    memory
        .data(&*caller)
        .get(range)
        .map(<[u8]>::to_vec)
        .ok_or(Status::InvalidMemoryAccess)
}

/// Read a little-endian `u32` at `ptr`.
pub(crate) fn read_u32(caller: &mut Caller<'_, HostState>, ptr: i32) -> Result<u32, Status> {
    let bytes = read(caller, ptr, 4)?;
    let raw: [u8; 4] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| Status::InvalidMemoryAccess)?;
    Ok(u32::from_le_bytes(raw))
}

pub(crate) fn write(
    caller: &mut Caller<'_, HostState>,
    ptr: i32,
    bytes: &[u8],
) -> Result<(), Status> {
    let memory = memory(caller)?;
    let range = span(ptr, bytes.len())?;
    let target = memory
        .data_mut(&mut *caller)
        .get_mut(range)
        .ok_or(Status::InvalidMemoryAccess)?;
    target.copy_from_slice(bytes);
    Ok(())
}

pub(crate) fn write_u32(
    caller: &mut Caller<'_, HostState>,
    ptr: i32,
    value: u32,
) -> Result<(), Status> {
    write(caller, ptr, &value.to_le_bytes())
}

pub(crate) fn write_u64(
    caller: &mut Caller<'_, HostState>,
    ptr: i32,
    value: u64,
) -> Result<(), Status> {
    write(caller, ptr, &value.to_le_bytes())
}

/// Why a hostcall stopped early: a Status for the guest, or a trap that unwinds the guest.
pub(crate) enum Fault {
    Status(Status),
    Trap(wasmtime::Error),
}

impl From<Status> for Fault {
    fn from(status: Status) -> Fault {
        Fault::Status(status)
    }
}

impl From<wasmtime::Error> for Fault {
    fn from(error: wasmtime::Error) -> Fault {
        Fault::Trap(error)
    }
}

/// Turn a hostcall body's result into what the guest receives.
pub(crate) fn reply(result: Result<(), Fault>) -> wasmtime::Result<i32> {
    match result {
        Ok(()) => Ok(Status::Ok.code()),
        Err(Fault::Status(status)) => Ok(status.code()),
        Err(Fault::Trap(error)) => Err(error),
    }
}

/// Hand `bytes` to the guest: allocate with its `proxy_on_memory_allocate`, copy, and store the
/// pointer at `ptr_ptr` and the size at `size_ptr`. Empty data is returned as a null pointer
/// and size 0 without allocating, as cpp-host does. A trap inside the allocator is a trap.
pub(crate) fn return_bytes(
    caller: &mut Caller<'_, HostState>,
    bytes: &[u8],
    ptr_ptr: i32,
    size_ptr: i32,
) -> Result<(), Fault> {
    if bytes.is_empty() {
        write_u32(caller, ptr_ptr, 0)?;
        write_u32(caller, size_ptr, 0)?;
        return Ok(());
    }
    let allocate = caller
        .data()
        .guest
        .allocate
        .clone()
        .ok_or(Status::InternalFailure)?;
    let len = u32::try_from(bytes.len()).map_err(|_| Status::InvalidMemoryAccess)?;
    let address = allocate.call(&mut *caller, len as i32)?;
    if address == 0 {
        return Err(Status::InvalidMemoryAccess.into());
    }
    write(caller, address, bytes)?;
    write_u32(caller, ptr_ptr, address as u32)?;
    write_u32(caller, size_ptr, len)?;
    Ok(())
}
