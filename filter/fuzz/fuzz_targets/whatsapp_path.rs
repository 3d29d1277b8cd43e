//! Path and authority normalisation, and the routing of a Graph call to its edge: percent
//! escapes, dot segments, matrix parameters, control characters, userinfo, ports.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wa_egress_guard::whatsapp::{
    classify_call, default_edges, normalize_authority, normalize_path,
};
use wa_egress_guard_fuzz::policy;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, '\n');
    let method = parts.next().unwrap_or("");
    let authority = parts.next().unwrap_or("");
    let path = parts.next().unwrap_or("");
    let host = normalize_authority(authority);
    // Normalising is idempotent: a second pass sees nothing left to undo.
    assert_eq!(
        normalize_authority(&host),
        host,
        "authority normalisation is not idempotent"
    );
    let _ = policy().is_whatsapp_host(&host);
    let normalized = normalize_path(path);
    let _ = classify_call(method, &normalized, &default_edges());
});
