//! The `handoff` action: a Cloud API send that a rule hands off is replaced by the policy's
//! compliant message, in the recipient's language, with a deep link to the business's own
//! channel, instead of being refused with a 403 that leaves the customer talking to silence.
//!
//! `HandoffPolicy::compile` checks the policy's `handoff` section (every problem with its JSON
//! path); `HandoffPolicy::rewrite` turns a send into the bytes forwarded in its place, or says
//! why this send cannot be rewritten (a template, media, a form body...), and the send is then
//! blocked. Of the original send only its addressing (`to` and/or `recipient`, a
//! `recipient_type` of `individual` or `group`) and `biz_opaque_callback_data` (at most 512
//! characters; returned to the business in its webhooks, never shown to the recipient) are
//! kept; `messaging_product` is always `whatsapp`.
//!
//! The link carries no text of the caller: the recipient's number and the original text never
//! reach it, a request id (`x-request-id`, which a caller can set where the proxy keeps it) is
//! rendered only in the shape a proxy generates and otherwise as a keyed hash
//! ([`link_request_id`]), and a phone-number id only as digits. So every placeholder has a
//! longest rendering, and `compile` refuses a policy whose messages, rendered with the longest
//! link, could exceed Meta's limits.

use crate::content_encoding::ContentEncoding;
use crate::document::{HandoffMessageDoc, HandoffSection};
use serde_json::{Map, Value, json};
use std::borrow::Cow;
use std::collections::BTreeMap;

/// The placeholders a hand-off URL template may name.
const URL_PLACEHOLDERS: &[Placeholder] = &[
    Placeholder::RequestId,
    Placeholder::Language,
    Placeholder::PhoneNumberId,
];

/// The placeholders a message body may name.
const BODY_PLACEHOLDERS: &[Placeholder] = &[Placeholder::Url];

/// Meta's limits: a text body, an interactive body, a CTA button's display text.
const MAX_TEXT_BODY: usize = 4096;
const MAX_INTERACTIVE_BODY: usize = 1024;
const MAX_BUTTON_TEXT: usize = 20;
/// Meta's limit on `biz_opaque_callback_data`; a longer value is not kept.
const MAX_CALLBACK_DATA: usize = 512;
/// The longest URL template, and the longest link it may render.
const MAX_URL_TEMPLATE: usize = 2000;
const MAX_URL: usize = 2000;
/// The longest country-code prefix (a NANP area code is 4 digits with its `1`; 6 leaves room
/// for a finer split).
const MAX_PREFIX_DIGITS: usize = 6;
/// The longest request id rendered as it is, and the length of the keyed hash rendered for
/// any other (32 hex digits).
const MAX_LINK_ID: usize = 64;
const LINK_HASH_BYTES: usize = 16;
/// The longest phone-number id rendered (Graph's ids are 15 to 17 digits); any other is
/// rendered empty.
const MAX_PHONE_NUMBER_ID: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placeholder {
    RequestId,
    Language,
    PhoneNumberId,
    Url,
}

impl Placeholder {
    fn name(self) -> &'static str {
        match self {
            Self::RequestId => "request_id",
            Self::Language => "language",
            Self::PhoneNumberId => "phone_number_id",
            Self::Url => "url",
        }
    }
}

/// A template split into literal text and placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(String),
    Value(Placeholder),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Template(Vec<Piece>);

impl Template {
    /// Splits `text` at `{name}` placeholders (a name of lowercase letters, digits and `_`);
    /// any other brace is literal text. A name not in `known` is an error.
    fn parse(text: &str, known: &[Placeholder]) -> Result<Self, String> {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(start) = rest.find('{') {
            let (before, from_brace) = rest.split_at(start);
            literal.push_str(before);
            let after = from_brace.get(1..).unwrap_or("");
            let name_len = after
                .bytes()
                .take_while(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_')
                .count();
            let name = after.get(..name_len).unwrap_or("");
            if name_len == 0 || after.as_bytes().get(name_len) != Some(&b'}') {
                literal.push('{');
                rest = after;
                continue;
            }
            let Some(p) = known.iter().find(|p| p.name() == name) else {
                let names: Vec<String> =
                    known.iter().map(|p| format!("{{{}}}", p.name())).collect();
                return Err(format!(
                    "unknown placeholder `{{{name}}}` (known: {})",
                    names.join(", ")
                ));
            };
            if !literal.is_empty() {
                pieces.push(Piece::Literal(std::mem::take(&mut literal)));
            }
            pieces.push(Piece::Value(*p));
            rest = after.get(name_len + 1..).unwrap_or("");
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            pieces.push(Piece::Literal(literal));
        }
        Ok(Self(pieces))
    }

    fn uses(&self, p: Placeholder) -> bool {
        self.0.contains(&Piece::Value(p))
    }

    /// The most characters a rendering can have, each placeholder rendered at its longest.
    fn max_chars(&self, longest: &dyn Fn(Placeholder) -> usize) -> usize {
        self.0
            .iter()
            .map(|piece| match piece {
                Piece::Literal(s) => s.chars().count(),
                Piece::Value(p) => longest(*p),
            })
            .sum()
    }

    /// The template with each placeholder replaced by `value(placeholder)`.
    fn render(&self, value: &dyn Fn(Placeholder) -> String) -> String {
        self.0
            .iter()
            .map(|piece| match piece {
                Piece::Literal(s) => s.clone(),
                Piece::Value(p) => value(*p),
            })
            .collect()
    }
}

#[derive(Debug, Clone)]
enum Message {
    Text { body: Template },
    CtaUrl { body: Template, button: String },
}

/// The compiled `handoff` section.
#[derive(Debug, Clone)]
pub struct HandoffPolicy {
    default_language: String,
    /// The default language's message.
    default_message: Message,
    /// Number prefixes and their language, longest first.
    // INVARIANT: every language here has a message in `messages` (checked by `compile`).
    prefixes: Vec<(String, String)>,
    url: Option<Template>,
    messages: BTreeMap<String, Message>,
}

/// Why a send that a rule hands off cannot be rewritten, so it is blocked instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unavailable {
    /// Not a Cloud API `messages` send (a template definition, a media upload, a listing...).
    NotASend,
    /// A send in a provider's own format (Twilio, Vonage...), which the filter does not write.
    ProviderFormat,
    /// A message type that has no compliant replacement: a template (the only type allowed
    /// outside the customer-service window), media, a reaction, a location, contacts...
    MessageType,
    /// A body that is not plain JSON (a form, or compressed): its headers cannot change now.
    BodyFormat,
    /// Fields in the query string, which Graph reads as the message's too.
    QueryFields,
    /// Neither `to` nor `recipient` (a business-scoped user id) as a non-empty string.
    NoRecipient,
    /// The host would not frame a rewritten body: it kept `content-length`, or refused the
    /// new bytes.
    UnwritableBody,
}

impl Unavailable {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotASend => "not_a_send",
            Self::ProviderFormat => "provider_format",
            Self::MessageType => "message_type",
            Self::BodyFormat => "body_format",
            Self::QueryFields => "query_fields",
            Self::NoRecipient => "no_recipient",
            Self::UnwritableBody => "unwritable_body",
        }
    }
}

/// A send to rewrite.
#[derive(Debug, Clone, Copy)]
pub struct Send<'a> {
    /// The body as received (not decoded: an encoded body is not rewritten).
    pub body: &'a [u8],
    pub content_type: Option<&'a str>,
    pub content_encoding: Option<&'a str>,
    pub raw_query: &'a str,
    /// The message type the reader found (`text`, `template`, ...).
    pub message_type: &'a str,
    /// The request's id (`x-request-id`), rendered through [`link_request_id`].
    pub request_id: &'a str,
    /// The key of the request id's hash: the deployment's `log.recipient_hash_salt`.
    pub link_key: &'a str,
    /// The path's Graph phone-number-id (the sender, never the recipient); `None` renders
    /// `{phone_number_id}` empty.
    pub phone_number_id: Option<&'a str>,
}

/// The message forwarded in place of the send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewritten {
    pub body: Vec<u8>,
    /// The language chosen.
    pub language: String,
    /// `text` or `cta_url`.
    pub format: &'static str,
}

/// Message types replaced by the hand-off message: what the recipient reads in them is the
/// sender's own text, sent inside the customer-service window.
const REWRITABLE_TYPES: &[&str] = &["text", "interactive"];

/// Whether a body in this format is rewritten: uncompressed (no `content-encoding`, or only
/// `identity` and empty items) `application/json`. The headers phase, which removes
/// `content-length` from a send it may rewrite, and the rewrite make this one test.
pub fn rewritable_body(content_type: Option<&str>, content_encoding: Option<&str>) -> bool {
    ContentEncoding::parse(content_encoding).is_identity() && is_json_media_type(content_type)
}

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
fn link_phone_number_id(id: Option<&str>) -> &str {
    id.filter(|id| {
        (1..=MAX_PHONE_NUMBER_ID).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_digit())
    })
    .unwrap_or("")
}

/// The longest rendering of each URL placeholder, for a message in `language`.
fn longest_url_value(p: Placeholder, language: &str) -> usize {
    match p {
        Placeholder::RequestId => MAX_LINK_ID.max(2 * LINK_HASH_BYTES),
        Placeholder::Language => percent_encode(language).len(),
        Placeholder::PhoneNumberId => MAX_PHONE_NUMBER_ID,
        Placeholder::Url => 0,
    }
}

impl HandoffPolicy {
    /// Checks and compiles the section; problems are `(JSON path, message)`.
    pub fn compile(doc: &HandoffSection) -> Result<Self, Vec<(String, String)>> {
        let mut problems = Vec::new();
        let mut push = |path: String, message: String| problems.push((path, message));
        let url = doc.url.as_deref().and_then(|u| match compile_url(u) {
            Ok(t) => Some(t),
            Err(m) => {
                push("$.handoff.url".into(), m);
                None
            }
        });
        let mut messages = BTreeMap::new();
        if doc.messages.is_empty() {
            push(
                "$.handoff.messages".into(),
                "at least one language's message is required".into(),
            );
        }
        for (language, m) in &doc.messages {
            let path = format!("$.handoff.messages.{language}");
            if !is_language(language) {
                push(
                    path.clone(),
                    format!(
                        "invalid language `{language}`: use a language code such as `en`, `es` or `pt_BR`"
                    ),
                );
            }
            match compile_message(
                m,
                url.as_ref(),
                doc.url.is_some(),
                language,
                &path,
                &mut push,
            ) {
                Some(m) => {
                    messages.insert(language.clone(), m);
                }
                None => continue,
            }
        }
        if !doc.messages.contains_key(&doc.default_language) {
            push(
                "$.handoff.default_language".into(),
                format!(
                    "language `{}` has no message in `handoff.messages`",
                    doc.default_language
                ),
            );
        }
        let mut prefixes = Vec::new();
        for (prefix, language) in &doc.country_codes {
            let path = format!("$.handoff.country_codes.{prefix}");
            if prefix.is_empty()
                || prefix.len() > MAX_PREFIX_DIGITS
                || !prefix.bytes().all(|b| b.is_ascii_digit())
            {
                push(
                    path,
                    format!(
                        "a country calling code is 1 to {MAX_PREFIX_DIGITS} digits without `+`, got `{prefix}`"
                    ),
                );
            } else if !doc.messages.contains_key(language) {
                push(
                    path,
                    format!("language `{language}` has no message in `handoff.messages`"),
                );
            } else {
                prefixes.push((prefix.clone(), language.clone()));
            }
        }
        prefixes.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        match messages.get(&doc.default_language).cloned() {
            Some(default_message) if problems.is_empty() => Ok(Self {
                default_language: doc.default_language.clone(),
                default_message,
                prefixes,
                url,
                messages,
            }),
            _ => Err(problems),
        }
    }

    /// The language for a recipient: the longest listed prefix of the digits of `to` as
    /// conversations read it ([`crate::conversation::recipient_key`]: a `+`, blanks, `-`, `.`,
    /// brackets and a leading `00` ignored), else the default. A `to` that is not a phone
    /// number (a group id) gets the default.
    pub fn language_for(&self, to: &str) -> &str {
        // The recipient as conversations key it: `+34 612...`, `34612...` and `0034612...` are
        // one number.
        let Some(digits) = crate::conversation::recipient_key(to) else {
            return &self.default_language;
        };
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return &self.default_language;
        }
        self.prefixes
            .iter()
            .find(|(prefix, _)| digits.starts_with(prefix.as_str()))
            .map_or(&self.default_language, |(_, language)| language)
    }

    /// The body forwarded in place of `send`, or why it cannot be rewritten.
    pub fn rewrite(&self, send: &Send<'_>) -> Result<Rewritten, Unavailable> {
        if !REWRITABLE_TYPES.contains(&send.message_type) {
            return Err(Unavailable::MessageType);
        }
        if !rewritable_body(send.content_type, send.content_encoding) {
            return Err(Unavailable::BodyFormat);
        }
        if query_has_fields(send.raw_query) {
            return Err(Unavailable::QueryFields);
        }
        let original: Value =
            serde_json::from_slice(send.body).map_err(|_| Unavailable::BodyFormat)?;
        let Value::Object(original) = original else {
            return Err(Unavailable::BodyFormat);
        };
        // A send is addressed by `to` (a number or a group id), by `recipient` (a business-scoped
        // user id), or both; each is kept as sent, and one present must be a non-empty string.
        let addressee = |key: &str| match original.get(key) {
            None => Ok(None),
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.as_str())),
            Some(_) => Err(Unavailable::NoRecipient),
        };
        let to = addressee("to")?;
        if to.is_none() && addressee("recipient")?.is_none() {
            return Err(Unavailable::NoRecipient);
        }
        // A business-scoped user id tells no country: the default language.
        let language = to.map_or(self.default_language.as_str(), |to| self.language_for(to));
        let language = language.to_owned();
        // INVARIANT: `language_for` returns the default or a prefix's language, each of which
        // has a message (`compile`).
        let message = self
            .messages
            .get(&language)
            .unwrap_or(&self.default_message);
        let request_id = link_request_id(send.request_id, send.link_key);
        let url = self.url.as_ref().map(|t| {
            t.render(&|p| match p {
                Placeholder::RequestId => percent_encode(&request_id),
                Placeholder::Language => percent_encode(&language),
                Placeholder::PhoneNumberId => {
                    percent_encode(link_phone_number_id(send.phone_number_id))
                }
                Placeholder::Url => String::new(),
            })
        });
        let url = url.unwrap_or_default();
        let body_text = |t: &Template| {
            t.render(&|p| match p {
                Placeholder::Url => url.clone(),
                _ => String::new(),
            })
        };
        let mut out = Map::new();
        // Meta takes no other value; the caller's is not copied.
        out.insert("messaging_product".into(), json!("whatsapp"));
        let kept = |key: &str, keep: &dyn Fn(&str) -> bool| {
            original
                .get(key)
                .and_then(Value::as_str)
                .filter(|v| keep(v))
                .map(|v| Value::String(v.to_owned()))
        };
        let fields = [
            (
                "recipient_type",
                kept("recipient_type", &|v| matches!(v, "individual" | "group")),
            ),
            ("to", kept("to", &|_| true)),
            ("recipient", kept("recipient", &|_| true)),
            (
                "biz_opaque_callback_data",
                kept("biz_opaque_callback_data", &|v| {
                    v.chars().count() <= MAX_CALLBACK_DATA
                }),
            ),
        ];
        for (key, value) in fields {
            if let Some(v) = value {
                out.insert(key.into(), v);
            }
        }
        let format = match message {
            Message::Text { body } => {
                let mut text = Map::new();
                if body.uses(Placeholder::Url) {
                    text.insert("preview_url".into(), json!(true));
                }
                text.insert("body".into(), json!(body_text(body)));
                out.insert("type".into(), json!("text"));
                out.insert("text".into(), Value::Object(text));
                "text"
            }
            Message::CtaUrl { body, button } => {
                out.insert("type".into(), json!("interactive"));
                out.insert(
                    "interactive".into(),
                    json!({
                        "type": "cta_url",
                        "body": {"text": body_text(body)},
                        "action": {"name": "cta_url", "parameters": {"display_text": button, "url": url}},
                    }),
                );
                "cta_url"
            }
        };
        Ok(Rewritten {
            body: Value::Object(out).to_string().into_bytes(),
            language,
            format,
        })
    }
}

fn compile_message(
    m: &HandoffMessageDoc,
    url: Option<&Template>,
    has_url: bool,
    language: &str,
    path: &str,
    push: &mut impl FnMut(String, String),
) -> Option<Message> {
    let (body, max) = match m {
        HandoffMessageDoc::Text { body } => (body, MAX_TEXT_BODY),
        HandoffMessageDoc::CtaUrl { body, .. } => (body, MAX_INTERACTIVE_BODY),
    };
    let chars = body.chars().count();
    if body.trim().is_empty() || chars > max {
        push(
            format!("{path}.body"),
            format!("must be 1 to {max} characters, got {chars}"),
        );
        return None;
    }
    let template = match Template::parse(body, BODY_PLACEHOLDERS) {
        Ok(t) => t,
        Err(e) => {
            push(format!("{path}.body"), e);
            return None;
        }
    };
    if template.uses(Placeholder::Url) && !has_url {
        push(format!("{path}.body"), "`{url}` needs `handoff.url`".into());
        return None;
    }
    // What Meta counts is the rendered body: each `{url}` at the longest link this language's
    // message can carry.
    let longest_url = url.map_or(0, |u| u.max_chars(&|p| longest_url_value(p, language)));
    let longest = template.max_chars(&|p| match p {
        Placeholder::Url => longest_url,
        _ => 0,
    });
    if longest > max {
        push(
            format!("{path}.body"),
            format!(
                "rendered with the longest link ({longest_url} characters), the body reaches {longest} characters, over Meta's limit of {max}"
            ),
        );
        return None;
    }
    match m {
        HandoffMessageDoc::Text { .. } => Some(Message::Text { body: template }),
        HandoffMessageDoc::CtaUrl { button, .. } => {
            let n = button.chars().count();
            if button.trim().is_empty() || n > MAX_BUTTON_TEXT {
                push(
                    format!("{path}.button"),
                    format!("must be 1 to {MAX_BUTTON_TEXT} characters, got {n}"),
                );
                return None;
            }
            if !has_url {
                push(
                    path.to_owned(),
                    "a `cta_url` message needs `handoff.url`".into(),
                );
                return None;
            }
            Some(Message::CtaUrl {
                body: template,
                button: button.clone(),
            })
        }
    }
}

/// A URL template: `https://`, a literal host (an optional port), then a path and query in
/// which placeholders may stand; no blanks or control characters anywhere.
fn compile_url(text: &str) -> Result<Template, String> {
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

/// A language code: 2 or 3 lowercase letters, optionally `_` or `-` and a region or script
/// of 2 to 4 letters or digits (`en`, `es`, `pt_BR`, `zh-Hant`).
fn is_language(s: &str) -> bool {
    let (lang, region) = match s.split_once(['_', '-']) {
        Some((l, r)) => (l, Some(r)),
        None => (s, None),
    };
    (2..=3).contains(&lang.len())
        && lang.bytes().all(|b| b.is_ascii_lowercase())
        && region.is_none_or(|r| {
            (2..=4).contains(&r.len()) && r.bytes().all(|b| b.is_ascii_alphanumeric())
        })
}

/// `application/json`, with any parameters.
fn is_json_media_type(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|ct| crate::media_type::is(ct, "application/json"))
}

/// Whether the query string carries a field Graph would read as the message's own, besides
/// the credentials (`access_token`, `appsecret_proof`).
fn query_has_fields(raw_query: &str) -> bool {
    raw_query.split('&').filter(|kv| !kv.is_empty()).any(|kv| {
        let key = kv.split('=').next().unwrap_or("");
        let key = crate::whatsapp::percent_decode(key);
        !matches!(key.trim(), "access_token" | "appsecret_proof")
    })
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

#[cfg(test)]
mod tests;
