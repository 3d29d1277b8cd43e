//! The sweep over a body's other strings: every string a recipient could read, except the values
//! of keys the API documents as machine data, with strings holding JSON unpacked as Graph parses
//! them.

use super::{MAX_WALK_DEPTH, MessageView};
use serde_json::Value;

/// How deep strings holding JSON are unpacked.
const MAX_JSON_IN_STRING_DEPTH: usize = 4;

/// Keys whose values the API documents as machine data, never shown as text: skipped by the
/// sweep over the rest of a body. Known visible fields are read before the sweep whatever their
/// key (`location.name`, a contact's `name`).
const MACHINE_KEYS: &[&str] = &[
    "messaging_product",
    "recipient_type",
    "to",
    "recipient",
    "type",
    "sub_type",
    "index",
    "id",
    "message_id",
    "wa_id",
    "status",
    "link",
    "url",
    "code",
    "policy",
    "language",
    "languages",
    "category",
    "name",
    "format",
    "parameter_format",
    "mime_type",
    "sha256",
    "file_size",
    "latitude",
    "longitude",
    "catalog_id",
    "product_retailer_id",
    "thumbnail_product_retailer_id",
    "flow_id",
    "flow_token",
    "flow_message_version",
    "flow_action",
    "mode",
    "screen",
    "card_index",
    "amount_1000",
    "currency_code",
    "timestamp",
    "preview_url",
    "messaging_product_type",
    "typing_indicator",
    "version",
    "data_api_version",
    "routing_model",
    "input-type",
    "publish",
    "categories",
    "asset_type",
    "endpoint_uri",
    "parameter_name",
    "reference_id",
    "payment_type",
    "payment_configuration",
    "currency",
];

/// Fields the API never shows to a recipient whatever they hold: echoed to the business's own
/// webhook only.
const NEVER_SHOWN: &[&str] = &["biz_opaque_callback_data"];

/// A copy of `v` where every string holding a JSON object or array is replaced by it.
pub(super) fn unpack_json_strings(v: &Value) -> Value {
    unpack(v, 0, 0)
}

pub(super) fn unpack(v: &Value, depth: usize, unpacked: usize) -> Value {
    if depth > MAX_WALK_DEPTH {
        return Value::Null;
    }
    match v {
        Value::String(s) if unpacked < MAX_JSON_IN_STRING_DEPTH => {
            match s.trim_start().as_bytes().first() {
                // Strictly if possible; else as a lenient parser would (the last of a
                // repeated key; the earlier ones are read from the string itself, unescaped).
                Some(b'{' | b'[') => match crate::strict_json::from_slice(s.as_bytes())
                    .or_else(|_| serde_json::from_str::<Value>(s))
                {
                    Ok(inner) => unpack(&inner, depth + 1, unpacked + 1),
                    Err(_) => v.clone(),
                },
                _ => v.clone(),
            }
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| unpack(x, depth + 1, unpacked)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (k.clone(), unpack(x, depth + 1, unpacked)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Every string under `v` that is not under a machine key, depth-bounded.
pub(super) fn sweep(v: &Value, view: &mut MessageView, depth: usize) {
    if depth > MAX_WALK_DEPTH {
        return;
    }
    match v {
        Value::String(s) => {
            view.push(s);
            // JSON held in a string: its escapes (`\u0061`) decoded, so that a value the
            // parse did not keep (a repeated key) is still read as text.
            if matches!(s.trim_start().as_bytes().first(), Some(b'{' | b'[')) && s.contains('\\') {
                view.push(&unescape_json_text(s));
            }
        }
        Value::Array(a) => a.iter().for_each(|x| sweep(x, view, depth + 1)),
        Value::Object(o) => {
            for (k, x) in o {
                let key = k.to_ascii_lowercase();
                if NEVER_SHOWN.contains(&key.as_str()) {
                    continue;
                }
                if MACHINE_KEYS.contains(&key.as_str()) {
                    sweep_machine(x, view, depth + 1);
                } else {
                    sweep(x, view, depth + 1);
                }
            }
        }
        _ => {}
    }
}

/// Under a machine key, identifiers (ids, codes, enums, URLs) are skipped, but prose is read:
/// an order item's `name`, a prefilled address `values.name`, or an answer put under `id`.
pub(super) fn sweep_machine(v: &Value, view: &mut MessageView, depth: usize) {
    if depth > MAX_WALK_DEPTH {
        return;
    }
    match v {
        Value::String(s) if is_identifier(s) => {}
        Value::Array(a) => a.iter().for_each(|x| sweep_machine(x, view, depth + 1)),
        other => sweep(other, view, depth),
    }
}

/// A value a machine reads: ASCII without whitespace (`wamid.HBg...`, `en_US`, `cta_url`,
/// `https://...`, `+15550001111`), and not words joined by `-`, `_` or `.` (four or more letter
/// runs, `As-an-AI-language-model` or `_the_italic_form_`, are text a recipient reads). Text in
/// other scripts has no spaces either, so it is not an identifier.
pub(super) fn is_identifier(s: &str) -> bool {
    if !s.bytes().all(|b| b.is_ascii_graphic()) {
        return false;
    }
    if s.contains("://") {
        return true;
    }
    let words = s
        .split(['-', '_', '.'])
        .filter(|w| w.bytes().any(|b| b.is_ascii_alphabetic()))
        .count();
    words < 4
}

/// JSON string escapes decoded in place (`\uXXXX` with surrogate pairs, `\n`, `\"`, ...);
/// anything malformed is kept as it is.
pub(super) fn unescape_json_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('b' | 'f') => out.push(' '),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                let unit = u32::from_str_radix(&hex, 16).ok();
                let c = match unit {
                    Some(hi @ 0xD800..=0xDBFF) => {
                        let mut rest = chars.clone();
                        let lo = (rest.next() == Some('\\') && rest.next() == Some('u'))
                            .then(|| rest.by_ref().take(4).collect::<String>())
                            .and_then(|h| u32::from_str_radix(&h, 16).ok())
                            .filter(|lo| (0xDC00..=0xDFFF).contains(lo));
                        lo.and_then(|lo| {
                            chars = rest;
                            char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
                        })
                    }
                    Some(u) => char::from_u32(u),
                    None => None,
                };
                out.push(c.unwrap_or('\u{FFFD}'));
            }
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}
