//! Encodings a record may hide in that are not JSON: binary-to-text encodings (base64, hex)
//! around text or around compressed text (gzip, zlib), HTML-escaped JSON and Python literals
//! (`str(dict)`). Each turns a string into the text it stands for, or says that it stands for
//! something the guard cannot read.

use crate::content_encoding::{AfterEnd, Framing, inflate_whole};

/// A string this long made only of base64 characters may hide a record.
pub(super) const MIN_BASE64_LEN: usize = 16;

/// A hex string this long may hide a record (16 bytes).
const MIN_HEX_LEN: usize = 32;

/// What a binary-to-text encoded string holds.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Layer {
    /// Not such a string, or bytes that are neither text nor compressed (an image, a hash).
    None,
    /// The text it decodes to.
    Text(String),
    /// The text it decodes and inflates to.
    Inflated(String),
    /// Compressed bytes that do not inflate to UTF-8 text within the budget: what they hold
    /// cannot be read.
    Unreadable,
    /// The body of a WhatsApp message id kept without its `wamid.` prefix: the sender's
    /// number, then the message's own id.
    WamidBody,
}

/// How far a compressed payload found in a string may inflate.
#[derive(Debug, Clone, Copy)]
pub(crate) struct InflateBudget {
    /// The policy's `max_expansion_ratio`, applied to the compressed size.
    pub ratio: u64,
    /// The policy's `max_record_bytes`: a hidden record is a record.
    pub max: usize,
}

impl Default for InflateBudget {
    fn default() -> Self {
        Self {
            ratio: 100,
            max: 8 << 20,
        }
    }
}

impl InflateBudget {
    fn limit(self, compressed: usize) -> usize {
        let by_ratio = u64::try_from(compressed)
            .unwrap_or(u64::MAX)
            .saturating_mul(self.ratio);
        usize::try_from(by_ratio)
            .unwrap_or(usize::MAX)
            .min(self.max)
    }
}

/// Whether `b` is a base64 character of either alphabet.
pub(super) fn is_base64_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_' | b'=')
}

/// A base64 string (either alphabet, padded or not; a data URL's payload; MIME base64 broken
/// into lines), or a hex string (`7b22...`, `\x7b22...` as PostgreSQL writes `bytea`, `0x7b22...`):
/// the text it stands for, inflated first when it is gzip or zlib. Without a budget, compressed
/// bytes are not inflated but `Unreadable`.
pub(super) fn binary_text(s: &str, budget: Option<InflateBudget>) -> Layer {
    let base64 = decode_base64(s).map(|b| bytes_text(b, budget));
    match base64 {
        Some(Layer::None) | None => decode_hex(s).map_or(Layer::None, |b| bytes_text(b, budget)),
        Some(layer) => layer,
    }
}

/// Decoded bytes as text: UTF-8 as they are, or gzip and zlib streams inflated within the
/// budget.
fn bytes_text(bytes: Vec<u8>, budget: Option<InflateBudget>) -> Layer {
    if is_wamid_body(&bytes) {
        return Layer::WamidBody;
    }
    if !is_gzip(&bytes) && !is_zlib(&bytes) {
        return String::from_utf8(bytes).map_or(Layer::None, Layer::Text);
    }
    budget
        .and_then(|b| inflate(&bytes, b.limit(bytes.len())))
        .and_then(|b| String::from_utf8(b).ok())
        .map_or(Layer::Unreadable, Layer::Inflated)
}

/// What a `wamid.` id's base64 part decodes to: a structure header (`1C 18`), the length of
/// the sender's number and its digits, then the length-prefixed message id
/// (`HBgLMTY1MDM4Nzk0MzkVAgAS...` is `1C 18 0B` and `16503879439`).
fn is_wamid_body(b: &[u8]) -> bool {
    match b {
        [0x1c, 0x18, len, rest @ ..] => {
            let n = usize::from(*len);
            (8..=15).contains(&n)
                && rest.len() > n
                && rest
                    .get(..n)
                    .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
        }
        _ => false,
    }
}

fn is_gzip(b: &[u8]) -> bool {
    b.starts_with(&[0x1f, 0x8b, 0x08])
}

/// A zlib header (RFC 1950): deflate with a window of at most 32 KiB, and its check bits.
fn is_zlib(b: &[u8]) -> bool {
    match b {
        [cmf, flg, _, ..] => {
            cmf & 0x0f == 8 && cmf >> 4 <= 7 && (u16::from(*cmf) * 256 + u16::from(*flg)) % 31 == 0
        }
        _ => false,
    }
}

/// The inflated bytes, or `None` when the stream is broken or inflates beyond `limit`.
fn inflate(bytes: &[u8], limit: usize) -> Option<Vec<u8>> {
    // Only another member may follow a gzip member; bytes after a zlib stream are not read.
    let (framing, after_end) = if is_gzip(bytes) {
        (Framing::Gzip, AfterEnd::Nothing)
    } else {
        (Framing::Zlib, AfterEnd::Unread)
    };
    inflate_whole(framing, after_end, bytes, limit).ok()
}

/// The bytes a base64 string decodes to, if it is one.
fn decode_base64(s: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    // A data URL's payload (`data:text/plain;base64,...`), and MIME base64 broken into lines.
    let s = s
        .get(..5)
        .filter(|p| p.eq_ignore_ascii_case("data:"))
        .and_then(|_| s.split_once(";base64,").map(|(_, payload)| payload))
        .unwrap_or(s);
    let joined: String;
    let s = if s.bytes().any(|b| b.is_ascii_whitespace())
        && s.bytes()
            .all(|b| is_base64_byte(b) || b.is_ascii_whitespace())
    {
        joined = s.split_ascii_whitespace().collect();
        joined.as_str()
    } else {
        s
    };
    if s.len() < MIN_BASE64_LEN || !s.bytes().all(is_base64_byte) {
        return None;
    }
    [STANDARD, URL_SAFE, STANDARD_NO_PAD, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|e| e.decode(s).ok())
}

/// The bytes a hex string decodes to, if it is one.
fn decode_hex(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    let s = ["\\x", "0x", "0X"]
        .iter()
        .find_map(|p| s.strip_prefix(p))
        .unwrap_or(s);
    if s.len() < MIN_HEX_LEN || s.len() % 2 != 0 {
        return None;
    }
    s.as_bytes()
        .chunks(2)
        .map(|pair| match pair {
            [hi, lo] => Some(crate::hex::digit(*hi)? << 4 | crate::hex::digit(*lo)?),
            _ => None,
        })
        .collect()
}

/// A JSON object or array written with HTML entities for its quotes (`{&quot;wa_id&quot;: ...}`,
/// as a web export escapes it): the text with the entities a serialiser writes decoded
/// (`&quot;`, `&#34;`, `&#x22;`, `&apos;`, `&#39;`, `&#x27;`, `&lt;`, `&gt;`, `&amp;`), in one
/// pass (`&amp;quot;` is `&quot;`).
pub(super) fn html_unescaped(t: &str) -> Option<String> {
    const ENTITIES: [(&str, char); 9] = [
        ("&quot;", '"'),
        ("&#34;", '"'),
        ("&#x22;", '"'),
        ("&apos;", '\''),
        ("&#39;", '\''),
        ("&#x27;", '\''),
        ("&lt;", '<'),
        ("&gt;", '>'),
        ("&amp;", '&'),
    ];
    if !matches!(t.as_bytes().first(), Some(b'{' | b'[')) || !t.contains('&') {
        return None;
    }
    let mut out = String::with_capacity(t.len());
    let mut rest = t;
    let mut changed = false;
    while let Some(at) = rest.find('&') {
        out.push_str(rest.get(..at).unwrap_or_default());
        let tail = rest.get(at..).unwrap_or_default();
        let entity = ENTITIES.iter().find(|(e, _)| {
            tail.get(..e.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(e))
        });
        match entity {
            Some((e, c)) => {
                out.push(*c);
                rest = tail.get(e.len()..).unwrap_or_default();
                changed = true;
            }
            None => {
                out.push('&');
                rest = tail.get(1..).unwrap_or_default();
            }
        }
    }
    out.push_str(rest);
    changed.then_some(out)
}

/// A Python literal (`str(dict)`, `repr(list)`: `{'wa_id': '16505551234', 'ok': True}`) as
/// JSON: single-quoted strings double-quoted, `True`, `False` and `None` as JSON's words, the
/// `u`/`b`/`r` prefixes of Python 2 strings dropped. What is not JSON then (a tuple, a `\x`
/// escape) is not read.
pub(super) fn python_literal_as_json(t: &str) -> Option<String> {
    if !matches!(t.as_bytes().first(), Some(b'{' | b'[')) || !t.contains('\'') {
        return None;
    }
    let mut out = String::with_capacity(t.len() + 8);
    let mut chars = t.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => single_quoted(&mut chars, &mut out)?,
            '"' => {
                out.push('"');
                let mut escaped = false;
                for c in chars.by_ref() {
                    out.push(c);
                    match c {
                        _ if escaped => escaped = false,
                        '\\' => escaped = true,
                        '"' => break,
                        _ => {}
                    }
                }
            }
            c if c.is_ascii_alphabetic() => {
                let mut word = String::from(c);
                while let Some(&n) = chars.peek().filter(|n| n.is_ascii_alphanumeric()) {
                    word.push(n);
                    chars.next();
                }
                let before_string = matches!(chars.peek(), Some('\'' | '"'));
                match word.as_str() {
                    "True" => out.push_str("true"),
                    "False" => out.push_str("false"),
                    "None" => out.push_str("null"),
                    "u" | "b" | "r" | "U" | "B" | "R" if before_string => {}
                    _ => out.push_str(&word),
                }
            }
            c => out.push(c),
        }
    }
    Some(out)
}

/// A single-quoted Python string after its opening quote, written as a JSON string.
fn single_quoted(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    out: &mut String,
) -> Option<()> {
    out.push('"');
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                out.push('"');
                return Some(());
            }
            '"' => out.push_str("\\\""),
            '\\' => match chars.next()? {
                '\'' => out.push('\''),
                n => {
                    out.push('\\');
                    out.push(n);
                }
            },
            c => out.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn b64(data: &[u8]) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(data)
    }

    fn hex(data: &[u8]) -> String {
        crate::hex::encode(data.iter().copied())
    }

    const RECORD: &str = r#"{"messaging_product":"whatsapp","contacts":[{"wa_id":"16505551234"}]}"#;

    #[test]
    fn compressed_text_in_base64_or_hex_is_inflated() {
        let budget = Some(InflateBudget::default());
        let text = Layer::Text(RECORD.to_owned());
        let inflated = Layer::Inflated(RECORD.to_owned());
        assert_eq!(binary_text(&b64(&gz(RECORD.as_bytes())), budget), inflated);
        assert_eq!(binary_text(&hex(&gz(RECORD.as_bytes())), budget), inflated);
        // Without a budget, not inflated.
        assert_eq!(
            binary_text(&b64(&gz(RECORD.as_bytes())), None),
            Layer::Unreadable
        );
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), Compression::default());
        z.write_all(RECORD.as_bytes()).unwrap();
        assert_eq!(binary_text(&b64(&z.finish().unwrap()), budget), inflated);
        assert_eq!(binary_text(&hex(RECORD.as_bytes()), budget), text);
        assert_eq!(
            binary_text(&format!("\\x{}", hex(RECORD.as_bytes())), budget),
            text
        );
    }

    #[test]
    fn compressed_bytes_that_cannot_be_read_are_unreadable() {
        let budget = Some(InflateBudget {
            ratio: 2,
            max: 1 << 20,
        });
        // Beyond the budget: 64 KiB of zeros from a few hundred bytes.
        assert_eq!(
            binary_text(&b64(&gz(&[b'a'; 64 << 10])), budget),
            Layer::Unreadable
        );
        // Binary once inflated.
        assert_eq!(
            binary_text(&b64(&gz(&[0xff; 64])), budget),
            Layer::Unreadable
        );
        // Broken.
        let mut broken = gz(RECORD.as_bytes());
        broken.truncate(20);
        assert_eq!(binary_text(&b64(&broken), budget), Layer::Unreadable);
        // Within the budget.
        assert!(matches!(
            binary_text(&b64(&gz(RECORD.as_bytes())), budget),
            Layer::Inflated(_)
        ));
    }

    #[test]
    fn a_message_id_without_its_prefix_is_recognised() {
        let budget = Some(InflateBudget::default());
        assert_eq!(
            binary_text(
                "HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=",
                budget
            ),
            Layer::WamidBody
        );
        // The same header without digits after it is not one.
        assert_ne!(
            binary_text(
                &b64(&[0x1c, 0x18, 11, b'x', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
                budget
            ),
            Layer::WamidBody
        );
    }

    #[test]
    fn other_binary_strings_are_no_layer() {
        let budget = Some(InflateBudget::default());
        for s in [
            // A SHA-256 digest, an image's bytes, a word, a short hex id.
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".to_owned(),
            b64(&[
                0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0xff, 0xfe,
            ]),
            "internationalisation".to_owned(),
            "deadbeef".to_owned(),
        ] {
            assert_eq!(binary_text(&s, budget), Layer::None, "{s}");
        }
    }

    #[test]
    fn html_escaped_json_is_unescaped_once() {
        assert_eq!(
            html_unescaped(
                "{&quot;wa_id&quot;: &#34;1&#x22;, &quot;t&quot;: &quot;a &amp;quot; b&quot;}"
            )
            .as_deref(),
            Some(r#"{"wa_id": "1", "t": "a &quot; b"}"#)
        );
        assert_eq!(html_unescaped("fish &amp; chips"), None);
        assert_eq!(html_unescaped("{\"a\": \"R&D\"}"), None);
    }

    #[test]
    fn python_literals_read_as_json() {
        let json = python_literal_as_json(
            "{'profile': {'name': \"O'Neil\"}, 'wa_id': u'16505551234', 'ok': True, 'n': None, 'q': 'say \"hi\"', 'x': 'it\\'s'}",
        )
        .unwrap();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["wa_id"], "16505551234");
        assert_eq!(v["profile"]["name"], "O'Neil");
        assert_eq!(v["ok"], true);
        assert_eq!(v["q"], "say \"hi\"");
        assert_eq!(v["x"], "it's");
        assert_eq!(python_literal_as_json("{'unterminated: 1}"), None);
        assert_eq!(python_literal_as_json("it's plain text"), None);
    }
}
