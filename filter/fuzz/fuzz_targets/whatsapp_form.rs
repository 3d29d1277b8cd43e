//! Form and query decoding (bracket keys, percent escapes, `+`), then the message reader on
//! whatever JSON it builds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wa_egress_guard::whatsapp::fields::read_message;
use wa_egress_guard::whatsapp::form::form_to_json;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Some(json) = form_to_json(&text) {
        let view = read_message(&json);
        let _ = view.visible_text();
    }
});
