//! Policy documents as an operator (or a broken xDS push) could write them: every input is
//! either a compiled policy or an error naming a JSON path, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wa_egress_guard::policy::Policy;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = Policy::from_json(data) {
        assert!(!e.to_string().is_empty(), "a refused policy must say why");
    }
});
