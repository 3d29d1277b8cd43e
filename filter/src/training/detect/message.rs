//! Cloud API message objects and webhook envelopes inside a record, and the phone-number
//! values that identify a WhatsApp sender.

use super::*;

/// The Cloud API's message types whose content sits in an object (or array) named by the
/// type: `{"type": "text", "text": {"body": ...}}`.
pub(super) const MESSAGE_TYPES: [&str; 13] = [
    "text",
    "image",
    "audio",
    "video",
    "document",
    "sticker",
    "location",
    "contacts",
    "interactive",
    "button",
    "reaction",
    "order",
    "system",
];

/// The bit of a message type named by a `type` value (folded, trimmed, any case), or 0.
pub(in crate::training) fn message_type_value_bit(s: &str) -> u16 {
    let folded = fold(s);
    let t = folded.trim();
    MESSAGE_TYPES
        .iter()
        .position(|m| t.eq_ignore_ascii_case(m))
        .map_or(0, |i| 1 << i)
}

/// The bit of a message type named by a key (as compared), or 0.
pub(in crate::training) fn message_type_key_bit(part: &str) -> u16 {
    MESSAGE_TYPES
        .iter()
        .position(|m| key_eq(part, m))
        .map_or(0, |i| 1 << i)
}

/// A webhook message object kept without its `wamid.` id: `from` holds a phone number, `type`
/// a message type, and the object that type names is there (`text: {body}`, or flattened:
/// `text.body`).
pub(super) fn is_message_object(map: &serde_json::Map<String, Value>) -> bool {
    let (mut from, mut types, mut contents) = (false, 0u16, 0u16);
    for (k, v) in map {
        let part = key_part(&Cow::Borrowed(k.as_str()));
        if key_eq(&part, "from") && is_sender_number(v) {
            from = true;
        }
        if key_eq(&part, "type")
            && let Some(s) = v.as_str()
        {
            types |= message_type_value_bit(s);
        }
        if matches!(v, Value::Object(_) | Value::Array(_)) {
            contents |= message_type_key_bit(&part);
        }
        contents |= flattened_type_bit(k);
    }
    from && types & contents != 0
}

/// The bit of a message type named by a flattened key's first part (`text.body`, as
/// `json_normalize` writes a message object), or 0.
pub(in crate::training) fn flattened_type_bit(key: &str) -> u16 {
    let folded = fold(key);
    folded
        .split_once('.')
        .map_or(0, |(first, _)| message_type_key_bit(first))
}

/// The words of a key: split at `_`, `-`, `.`, blanks and lower-to-upper case changes
/// (`source_channel`, `sourceChannel`, `Source Channel`).
pub(in crate::training) fn key_words(k: &str) -> impl Iterator<Item = &str> + '_ {
    let mut rest = k;
    std::iter::from_fn(move || {
        let start = rest.find(|c: char| c.is_alphanumeric())?;
        rest = rest.get(start..).unwrap_or_default();
        let mut prev_lower = false;
        let end = rest
            .char_indices()
            .find(|&(_, c)| {
                let split = !c.is_alphanumeric() || (prev_lower && c.is_uppercase());
                prev_lower = c.is_lowercase() || c.is_ascii_digit();
                split
            })
            .map_or(rest.len(), |(i, _)| i);
        let word = rest.get(..end).unwrap_or_default();
        rest = rest.get(end..).unwrap_or_default();
        Some(word)
    })
}

/// What a key is to the detectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::training) enum KeyKind {
    WaId,
    Phone,
    /// Names WhatsApp (`whatsapp_number`): counts with a phone-like value.
    NamesWhatsApp,
    Product,
    /// `ctwa_clid`: counts with any value.
    CtwaClid,
    Other,
}

/// A key as the detectors compare it: folded (`fold`), then its last part; borrowed when the
/// key is ASCII and borrowed.
pub(in crate::training) fn key_part<'a>(key: &Cow<'a, str>) -> Cow<'a, str> {
    match key {
        Cow::Borrowed(k) if k.is_ascii() => Cow::Borrowed(last_part(k)),
        other => Cow::Owned(last_part(&fold(other)).to_owned()),
    }
}

/// What a key is in a custom field written as a name/value pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::training) enum FieldRole {
    /// `name`, `key`, `field`, `label`, `property`: the field's name.
    Name,
    /// `value`: the field's value.
    Value,
    /// `schemaId`: the field referenced by an opaque id (Labelbox metadata).
    Schema,
    Other,
}

/// The role of a key as compared (`key_part`) in a name/value pair.
pub(in crate::training) fn field_role(part: &str) -> FieldRole {
    if ["name", "key", "field", "label", "property"]
        .iter()
        .any(|n| key_eq(part, n))
    {
        FieldRole::Name
    } else if key_eq(part, "value") {
        FieldRole::Value
    } else if key_eq(part, "schemaid") {
        FieldRole::Schema
    } else {
        FieldRole::Other
    }
}

/// The last part of a flattened key (`contact.wa_id` → `wa_id`).
pub(in crate::training) fn last_part(k: &str) -> &str {
    k.rsplit('.').next().unwrap_or(k)
}

/// A phone number or WhatsApp id: 7 to 15 digits with an optional `+` and the usual
/// separators, as a string or an integer; or a provider's `whatsapp:` address.
pub(in crate::training) fn phone_like_str(s: &str) -> bool {
    let t = s.trim();
    if is_whatsapp_address(t) {
        return true;
    }
    let t = t.trim_start_matches('+');
    let digits = t.bytes().filter(u8::is_ascii_digit).count();
    (7..=15).contains(&digits)
        && t.bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b' ' | b'-' | b'(' | b')' | b'.'))
}

/// A message's `from` as WhatsApp writes it: 7 to 15 digits (a `wa_id`), or a number written
/// for people (`+1 650 555 1234`, `(650) 555 1234`; `-` and `.` only after a `+`), or a
/// provider's `whatsapp:` address; as a string or an integer. Stricter than `phone_like_str`:
/// a date (`2024-03-12`) is no sender.
pub(in crate::training) fn is_sender_number_str(s: &str) -> bool {
    let t = s.trim();
    let (international, rest) = t.strip_prefix('+').map_or((false, t), |r| (true, r));
    let digits = rest.bytes().filter(u8::is_ascii_digit).count();
    is_whatsapp_address(t)
        || ((7..=15).contains(&digits)
            && rest.bytes().all(|b| {
                b.is_ascii_digit()
                    || matches!(b, b' ' | b'(' | b')')
                    || (international && matches!(b, b'-' | b'.'))
            }))
}

pub(super) fn is_sender_number(v: &Value) -> bool {
    match v {
        Value::String(s) => s.len() <= 64 && is_sender_number_str(s),
        Value::Number(_) => is_phone_like(v),
        _ => false,
    }
}

/// `phone_like_str` for a JSON value: strings, and integers of 7 to 15 digits.
pub(super) fn is_phone_like(v: &Value) -> bool {
    match v {
        Value::String(s) => s.len() <= 64 && phone_like_str(s),
        Value::Number(n) => n
            .as_u64()
            .is_some_and(|n| (1_000_000..=999_999_999_999_999).contains(&n)),
        _ => false,
    }
}

/// A key or a provenance value with its obfuscation folded out, the way the classifier's
/// normaliser reads text: default-ignorable characters dropped (`wa\u{200B}_id`,
/// `Whats\u{AD}App`), compatibility forms decomposed (full-width `ＷｈａｔｓＡｐｐ`,
/// mathematical letters, ligatures), combining accents dropped, and look-alike letters read as
/// the Latin letter they imitate (a Cyrillic `а`). ASCII, the common case, costs one scan.
pub(in crate::training) fn fold(s: &str) -> Cow<'_, str> {
    use crate::classify::normalize::{is_ignorable, lookalike};
    use unicode_normalization::UnicodeNormalization;
    use unicode_normalization::char::is_combining_mark;
    if s.is_ascii() {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.chars()
            .filter(|c| !is_ignorable(*c))
            .nfkd()
            .filter(|c| !is_combining_mark(*c))
            .map(|c| lookalike(c).unwrap_or(c))
            .collect(),
    )
}

/// A value that is the word `whatsapp` (as `messaging_product` holds it), once folded.
pub(in crate::training) fn is_whatsapp(s: &str) -> bool {
    fold(s).trim().eq_ignore_ascii_case("whatsapp")
}

/// A key as the detectors compare it: folded, ASCII-lowercased, without `_`, `-` or blanks,
/// so that `wa_id`, `waId`, `WA-ID`, ` wa_id ` and `wa\u{200B}_id` are one key.
pub(in crate::training) fn normalize_key(k: &str) -> String {
    fold(k)
        .chars()
        .filter(|c| !matches!(c, '_' | '-') && !c.is_whitespace())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// `normalize_key(folded) == normalized` for a key already folded (`fold`), without
/// allocating.
pub(in crate::training) fn key_eq(folded: &str, normalized: &str) -> bool {
    let mut kept = folded
        .chars()
        .filter(|c| !matches!(c, '_' | '-') && !c.is_whitespace())
        .map(|c| c.to_ascii_lowercase());
    let mut want = normalized.chars();
    loop {
        match (kept.next(), want.next()) {
            (None, None) => return true,
            (Some(a), Some(b)) if a == b => {}
            _ => return false,
        }
    }
}

/// A key that names WhatsApp (`whatsapp_number`, `customerWhatsApp`).
pub(super) fn key_names_whatsapp(k: &str) -> bool {
    k.as_bytes()
        .windows(8)
        .any(|w| w.eq_ignore_ascii_case(b"whatsapp"))
}

pub(super) fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        _ => false,
    }
}
