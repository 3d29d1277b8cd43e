//! The hand-off link: its URL template checked, each placeholder rendered without caller text.

use super::template::{Piece, Placeholder, Template};
use std::borrow::Cow;

/// The placeholders a hand-off URL template may name.
const URL_PLACEHOLDERS: &[Placeholder] = &[
    Placeholder::RequestId,
    Placeholder::Language,
    Placeholder::PhoneNumberId,
];

/// The longest URL template, and the longest link it may render.
const MAX_URL_TEMPLATE: usize = 2000;
const MAX_URL: usize = 2000;

/// The longest request id rendered as it is, and the length of the keyed hash rendered for
/// any other (32 hex digits).
const MAX_LINK_ID: usize = 64;
const LINK_HASH_BYTES: usize = 16;
/// The longest phone-number id rendered (Graph's ids are 15 to 17 digits); any other is
/// rendered empty.
const MAX_PHONE_NUMBER_ID: usize = 20;

/// The request id as the link renders it. Where the proxy keeps the caller's `x-request-id`
/// (an Istio sidecar's outbound listener, `preserve_external_request_id`), the id is text the
/// caller chose, so only an id of the shape a proxy or tracer generates is rendered as it is:
/// 1 to 64 hex digits and `-` (a UUID, a W3C trace id). Any other id, which could spell words,
/// is rendered as the first 16 bytes, in hex, of its HMAC-SHA256 keyed by
/// `log.recipient_hash_salt`: no text of the caller, and the business can recompute it from its
/// own request id and the salt. An empty id renders empty.
pub fn link_request_id<'a>(request_id: &'a str, key: &str) -> Cow<'a, str> {
    let generated = request_id.len() <= MAX_LINK_ID
        && request_id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b'-');
    if generated {
        return Cow::Borrowed(request_id);
    }
    let mac = crate::digest::hmac_sha256(key.as_bytes(), request_id.as_bytes());
    Cow::Owned(crate::hex::encode(
        mac.iter().take(LINK_HASH_BYTES).copied(),
    ))
}

/// The phone-number id as the link renders it: Graph's ids are digits; anything else (which
/// Graph would not accept as the sender anyway) renders empty.
pub(super) fn link_phone_number_id(id: Option<&str>) -> &str {
    id.filter(|id| {
        (1..=MAX_PHONE_NUMBER_ID).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_digit())
    })
    .unwrap_or("")
}

/// The longest rendering of each URL placeholder, for a message in `language`.
pub(super) fn longest_url_value(p: Placeholder, language: &str) -> usize {
    match p {
        Placeholder::RequestId => MAX_LINK_ID.max(2 * LINK_HASH_BYTES),
        Placeholder::Language => percent_encode(language).len(),
        Placeholder::PhoneNumberId => MAX_PHONE_NUMBER_ID,
        Placeholder::Url => 0,
    }
}

/// A URL template: `https://`, a literal host (an optional port), then a path and query in
/// which placeholders may stand; no blanks or control characters anywhere.
pub(super) fn compile_url(text: &str) -> Result<Template, String> {
    if text.len() > MAX_URL_TEMPLATE {
        return Err(format!(
            "a URL template is at most {MAX_URL_TEMPLATE} bytes"
        ));
    }
    let Some(rest) = text.strip_prefix("https://") else {
        return Err(format!(
            "the hand-off link must start with `https://`, got `{text}`"
        ));
    };
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "a URL holds no blank or control character: `{text}`"
        ));
    }
    let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = rest.get(..host_end).unwrap_or("");
    let (host, port) = authority.split_once(':').unwrap_or((authority, ""));
    let host_ok = !host.is_empty()
        && host
            .split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    let port_ok = port.is_empty()
        || (port.len() <= 5
            && port.bytes().all(|b| b.is_ascii_digit())
            && port.parse::<u32>().is_ok_and(|n| (1..=65535).contains(&n)));
    if !port_ok {
        return Err(format!(
            "the link's port must be a number from 1 to 65535, got `{port}`"
        ));
    }
    if !host_ok || authority.ends_with(':') {
        return Err(format!(
            "the link's host must be a literal host name (placeholders go in its path or query), got `{authority}`"
        ));
    }
    let template = Template::parse(text, URL_PLACEHOLDERS)?;
    // Braces that are not placeholders are not valid in a URL.
    let stray = template.0.iter().any(|p| match p {
        Piece::Literal(s) => s.contains(['{', '}']),
        Piece::Value(_) => false,
    });
    if stray {
        return Err(format!(
            "`{{` and `}}` only surround a placeholder: `{text}`"
        ));
    }
    // The longest language code `is_language` accepts: 3 letters, a separator, 4 more.
    let longest = template.max_chars(&|p| longest_url_value(p, "xxx_xxxx"));
    if longest > MAX_URL {
        return Err(format!(
            "rendered with the longest request id ({MAX_LINK_ID}), phone-number id ({MAX_PHONE_NUMBER_ID}) and language, the link reaches {longest} characters, over {MAX_URL}"
        ));
    }
    Ok(template)
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
