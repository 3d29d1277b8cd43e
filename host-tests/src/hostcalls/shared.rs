//! Shared data and shared queues.

use wasmtime::Linker;

use crate::abi::Status;
use crate::guest_memory::{self, Fault, reply};
use crate::hostcalls::Ctx;
use crate::state::HostState;

pub(super) fn register(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.func_wrap(
        "env",
        "proxy_get_shared_data",
        |mut caller: Ctx<'_>,
         key_ptr: i32,
         key_len: i32,
         ret_ptr: i32,
         ret_len: i32,
         ret_cas: i32| {
            reply(get_shared_data(
                &mut caller,
                key_ptr,
                key_len,
                ret_ptr,
                ret_len,
                ret_cas,
            ))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_set_shared_data",
        |mut caller: Ctx<'_>, key_ptr: i32, key_len: i32, ptr: i32, len: i32, cas: i32| {
            reply(set_shared_data(
                &mut caller,
                key_ptr,
                key_len,
                ptr,
                len,
                cas,
            ))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_register_shared_queue",
        |mut caller: Ctx<'_>, name_ptr: i32, name_len: i32, ret_id: i32| {
            reply(register_queue(&mut caller, name_ptr, name_len, ret_id))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_resolve_shared_queue",
        |mut caller: Ctx<'_>,
         vm_ptr: i32,
         vm_len: i32,
         name_ptr: i32,
         name_len: i32,
         ret_id: i32| {
            reply(resolve_queue(
                &mut caller,
                vm_ptr,
                vm_len,
                name_ptr,
                name_len,
                ret_id,
            ))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_enqueue_shared_queue",
        |mut caller: Ctx<'_>, id: i32, ptr: i32, len: i32| {
            reply(enqueue(&mut caller, id, ptr, len))
        },
    )?;
    linker.func_wrap(
        "env",
        "proxy_dequeue_shared_queue",
        |mut caller: Ctx<'_>, id: i32, ret_ptr: i32, ret_len: i32| {
            reply(dequeue(&mut caller, id, ret_ptr, ret_len))
        },
    )?;
    Ok(())
}

fn get_shared_data(
    caller: &mut Ctx<'_>,
    key_ptr: i32,
    key_len: i32,
    ret_ptr: i32,
    ret_len: i32,
    ret_cas: i32,
) -> Result<(), Fault> {
    crate::hostcalls::injected(caller, "proxy_get_shared_data")?;
    let key = guest_memory::read(caller, key_ptr, key_len)?;
    let found = caller.data().shared_data.get(&key);
    // Another worker's turn between this read and this worker's next write (injected).
    if let Some(action) = caller.data().shared_data.take_after_get(&key) {
        action();
    }
    let (value, cas) = found.ok_or(Status::NotFound)?;
    guest_memory::return_bytes(caller, &value, ret_ptr, ret_len)?;
    guest_memory::write_u32(caller, ret_cas, cas)?;
    Ok(())
}

fn set_shared_data(
    caller: &mut Ctx<'_>,
    key_ptr: i32,
    key_len: i32,
    ptr: i32,
    len: i32,
    cas: i32,
) -> Result<(), Fault> {
    crate::hostcalls::injected(caller, "proxy_set_shared_data")?;
    let key = guest_memory::read(caller, key_ptr, key_len)?;
    let value = guest_memory::read(caller, ptr, len)?;
    caller.data().shared_data.set(&key, &value, cas as u32)?;
    Ok(())
}

fn register_queue(
    caller: &mut Ctx<'_>,
    name_ptr: i32,
    name_len: i32,
    ret_id: i32,
) -> Result<(), Fault> {
    let name = guest_memory::read(caller, name_ptr, name_len)?;
    let state = caller.data_mut();
    let owner = state.current_context;
    let vm_id = state.vm_id.clone();
    let id = state.queues.register(&vm_id, &name, owner)?;
    guest_memory::write_u32(caller, ret_id, id)?;
    Ok(())
}

fn resolve_queue(
    caller: &mut Ctx<'_>,
    vm_ptr: i32,
    vm_len: i32,
    name_ptr: i32,
    name_len: i32,
    ret_id: i32,
) -> Result<(), Fault> {
    let vm_id = guest_memory::read(caller, vm_ptr, vm_len)?;
    let name = guest_memory::read(caller, name_ptr, name_len)?;
    let id = caller
        .data()
        .queues
        .resolve(&vm_id, &name)
        .ok_or(Status::NotFound)?;
    guest_memory::write_u32(caller, ret_id, id)?;
    Ok(())
}

fn enqueue(caller: &mut Ctx<'_>, id: i32, ptr: i32, len: i32) -> Result<(), Fault> {
    let value = guest_memory::read(caller, ptr, len)?;
    caller.data_mut().queues.enqueue(id as u32, value)?;
    Ok(())
}

fn dequeue(caller: &mut Ctx<'_>, id: i32, ret_ptr: i32, ret_len: i32) -> Result<(), Fault> {
    let value = caller.data_mut().queues.dequeue(id as u32)?;
    guest_memory::return_bytes(caller, &value, ret_ptr, ret_len)
}
