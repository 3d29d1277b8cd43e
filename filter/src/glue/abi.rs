//! Our own bindings to the proxy-wasm ABI 0.2.1 hostcalls the filter uses.
//!
//! The SDK's `hostcalls` wrappers panic on any status they do not expect (and
//! `get_map_value` unwraps invalid UTF-8), and a panic traps the VM for every request of the
//! worker. These wrappers return every status to the caller instead.

#![allow(
    unsafe_code,
    reason = "FFI to the proxy-wasm host; every call is wrapped here and nowhere else"
)]

use crate::header_map;
use std::ptr::null_mut;

pub const STATUS_OK: u32 = 0;
pub const STATUS_NOT_FOUND: u32 = 1;
/// The ABI's `ParseFailure`, used here for a header map the host serialised badly.
pub const STATUS_PARSE_FAILURE: u32 = 4;

pub const MAP_REQUEST_HEADERS: u32 = 0;
pub const MAP_RESPONSE_HEADERS: u32 = 2;
pub const BUFFER_REQUEST_BODY: u32 = 0;
pub const BUFFER_RESPONSE_BODY: u32 = 1;
/// The ABI's `CasMismatch`.
pub const STATUS_CAS_MISMATCH: u32 = 8;
pub const BUFFER_PLUGIN_CONFIGURATION: u32 = 7;
pub const METRIC_COUNTER: u32 = 0;

#[derive(Debug, Clone, Copy)]
pub enum LogLevel {
    Info = 2,
    Warn = 3,
    Error = 4,
}

#[link(wasm_import_module = "env")]
unsafe extern "C" {
    fn proxy_log(level: u32, message_data: *const u8, message_size: usize) -> u32;
    fn proxy_get_header_map_value(
        map_type: u32,
        key_data: *const u8,
        key_size: usize,
        return_value_data: *mut *mut u8,
        return_value_size: *mut usize,
    ) -> u32;
    fn proxy_get_header_map_pairs(
        map_type: u32,
        return_map_data: *mut *mut u8,
        return_map_size: *mut usize,
    ) -> u32;
    fn proxy_add_header_map_value(
        map_type: u32,
        key_data: *const u8,
        key_size: usize,
        value_data: *const u8,
        value_size: usize,
    ) -> u32;
    fn proxy_remove_header_map_value(map_type: u32, key_data: *const u8, key_size: usize) -> u32;
    fn proxy_close_stream(stream_type: u32) -> u32;
    fn proxy_set_buffer_bytes(
        buffer_type: u32,
        start: usize,
        size: usize,
        data: *const u8,
        data_size: usize,
    ) -> u32;
    fn proxy_get_buffer_bytes(
        buffer_type: u32,
        start: usize,
        max_size: usize,
        return_buffer_data: *mut *mut u8,
        return_buffer_size: *mut usize,
    ) -> u32;
    fn proxy_get_property(
        path_data: *const u8,
        path_size: usize,
        return_value_data: *mut *mut u8,
        return_value_size: *mut usize,
    ) -> u32;
    fn proxy_send_local_response(
        status_code: u32,
        status_code_details_data: *const u8,
        status_code_details_size: usize,
        body_data: *const u8,
        body_size: usize,
        headers_data: *const u8,
        headers_size: usize,
        grpc_status: i32,
    ) -> u32;
    fn proxy_define_metric(
        metric_type: u32,
        name_data: *const u8,
        name_size: usize,
        return_id: *mut u32,
    ) -> u32;
    fn proxy_increment_metric(metric_id: u32, offset: i64) -> u32;
    fn proxy_get_current_time_nanoseconds(return_time: *mut u64) -> u32;
    fn proxy_get_shared_data(
        key_data: *const u8,
        key_size: usize,
        return_value_data: *mut *mut u8,
        return_value_size: *mut usize,
        return_cas: *mut u32,
    ) -> u32;
    fn proxy_set_shared_data(
        key_data: *const u8,
        key_size: usize,
        value_data: *const u8,
        value_size: usize,
        cas: u32,
    ) -> u32;
}

/// Takes ownership of a host-returned buffer. The host allocated it through the SDK's
/// `proxy_on_memory_allocate`, which hands out a boxed slice of exactly `size` bytes.
fn take_host_buffer(data: *mut u8, size: usize) -> Vec<u8> {
    if data.is_null() || size == 0 {
        return Vec::new();
    }
    // SAFETY: `data` was allocated by `proxy_on_memory_allocate(size)` as a `Box<[u8]>` of
    // length `size`, and the host passes ownership to us.
    unsafe { Vec::from_raw_parts(data, size, size) }
}

/// Calls a hostcall that returns a buffer; `Ok(None)` for `NotFound`, `Err(status)` otherwise.
fn read_with(call: impl FnOnce(*mut *mut u8, *mut usize) -> u32) -> Result<Option<Vec<u8>>, u32> {
    let mut data: *mut u8 = null_mut();
    let mut size: usize = 0;
    match call(&mut data, &mut size) {
        STATUS_OK => Ok(Some(take_host_buffer(data, size))),
        STATUS_NOT_FOUND => Ok(None),
        status => Err(status),
    }
}

pub fn log(level: LogLevel, message: &str) {
    // SAFETY: pointer and length describe a live `&str`.
    let _ = unsafe { proxy_log(level as u32, message.as_ptr(), message.len()) };
}

pub fn header(map: u32, name: &str) -> Result<Option<Vec<u8>>, u32> {
    // SAFETY: key pointer and length describe a live `&str`; out-pointers are valid locals.
    read_with(|d, s| unsafe { proxy_get_header_map_value(map, name.as_ptr(), name.len(), d, s) })
}

/// Every entry of a header map in one hostcall, in the host's order (Envoy gives lowercase
/// names). A malformed serialisation reads as an error, never as a shorter map.
pub fn header_pairs(map: u32) -> Result<header_map::RawPairs, u32> {
    // SAFETY: out-pointers are valid locals.
    match read_with(|d, s| unsafe { proxy_get_header_map_pairs(map, d, s) })? {
        Some(bytes) => header_map::decode(&bytes).ok_or(STATUS_PARSE_FAILURE),
        None => Ok(Vec::new()),
    }
}

pub fn add_header(map: u32, name: &str, value: &str) -> Result<(), u32> {
    // SAFETY: pointers and lengths describe live `&str`s.
    match unsafe {
        proxy_add_header_map_value(map, name.as_ptr(), name.len(), value.as_ptr(), value.len())
    } {
        STATUS_OK => Ok(()),
        s => Err(s),
    }
}

pub fn remove_header(map: u32, name: &str) -> Result<(), u32> {
    // SAFETY: pointer and length describe a live `&str`.
    match unsafe { proxy_remove_header_map_value(map, name.as_ptr(), name.len()) } {
        STATUS_OK => Ok(()),
        s => Err(s),
    }
}

/// Replaces `size` bytes at `start` of a buffer with `data`.
pub fn set_buffer(kind: u32, start: usize, size: usize, data: &[u8]) -> Result<(), u32> {
    // SAFETY: pointer and length describe a live slice.
    match unsafe { proxy_set_buffer_bytes(kind, start, size, data.as_ptr(), data.len()) } {
        STATUS_OK => Ok(()),
        s => Err(s),
    }
}

pub fn buffer(kind: u32, start: usize, max: usize) -> Result<Option<Vec<u8>>, u32> {
    // SAFETY: out-pointers are valid locals.
    read_with(|d, s| unsafe { proxy_get_buffer_bytes(kind, start, max, d, s) })
}

/// A shared-data value and its version; `Ok(None)` when the key has no value.
pub fn shared_data(key: &str) -> Result<Option<(Vec<u8>, u32)>, u32> {
    let mut cas: u32 = 0;
    // SAFETY: the key describes a live `&str`; out-pointers are valid locals.
    let value = read_with(|d, s| unsafe {
        proxy_get_shared_data(key.as_ptr(), key.len(), d, s, &mut cas)
    })?;
    Ok(value.map(|v| (v, cas)))
}

/// Sets a shared-data value if its version is still `cas` (0: unconditionally).
pub fn set_shared_data(key: &str, value: &[u8], cas: u32) -> Result<(), u32> {
    // SAFETY: pointers and lengths describe live slices.
    match unsafe {
        proxy_set_shared_data(key.as_ptr(), key.len(), value.as_ptr(), value.len(), cas)
    } {
        STATUS_OK => Ok(()),
        s => Err(s),
    }
}

pub fn property(path: &[&str]) -> Result<Option<Vec<u8>>, u32> {
    let serialized = path.join("\0");
    // SAFETY: path pointer and length describe a live `String`; out-pointers are valid locals.
    read_with(|d, s| unsafe { proxy_get_property(serialized.as_ptr(), serialized.len(), d, s) })
}

pub fn send_local_response(
    status: u32,
    details: &str,
    body: &[u8],
    headers: &[(String, String)],
) -> Result<(), u32> {
    let map = header_map::encode(headers);
    // SAFETY: every pointer and length describes a live local buffer.
    let rc = unsafe {
        proxy_send_local_response(
            status,
            details.as_ptr(),
            details.len(),
            body.as_ptr(),
            body.len(),
            map.as_ptr(),
            map.len(),
            -1,
        )
    };
    if rc == STATUS_OK { Ok(()) } else { Err(rc) }
}

/// The ABI's `StreamType::HttpRequest`.
const STREAM_HTTP_REQUEST: u32 = 0;

/// Resets the HTTP request (`proxy_close_stream`): the client sees the stream reset, and the
/// upstream never gets the rest of it.
pub fn reset_request() -> Result<(), u32> {
    // SAFETY: no pointers.
    let rc = unsafe { proxy_close_stream(STREAM_HTTP_REQUEST) };
    if rc == STATUS_OK { Ok(()) } else { Err(rc) }
}

pub fn define_counter(name: &str) -> Result<u32, u32> {
    let mut id: u32 = 0;
    // SAFETY: name pointer and length describe a live `&str`; `id` is a valid local.
    match unsafe { proxy_define_metric(METRIC_COUNTER, name.as_ptr(), name.len(), &mut id) } {
        STATUS_OK => Ok(id),
        s => Err(s),
    }
}

pub fn increment(id: u32, by: i64) -> Result<(), u32> {
    // SAFETY: plain integers.
    match unsafe { proxy_increment_metric(id, by) } {
        STATUS_OK => Ok(()),
        s => Err(s),
    }
}

/// The host's wall clock, in nanoseconds since the Unix epoch.
pub fn current_time_nanos() -> Result<u64, u32> {
    let mut nanos: u64 = 0;
    // SAFETY: `nanos` is a valid local the host writes a u64 into.
    match unsafe { proxy_get_current_time_nanoseconds(&mut nanos) } {
        STATUS_OK => Ok(nanos),
        s => Err(s),
    }
}
