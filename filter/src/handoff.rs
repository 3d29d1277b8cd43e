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

mod compile;
mod link;
mod template;

pub use link::{link_request_id, percent_encode};

use crate::content_encoding::ContentEncoding;
use link::link_phone_number_id;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use template::{Placeholder, Template};

/// Meta's limit on `biz_opaque_callback_data`; a longer value is not kept.
const MAX_CALLBACK_DATA: usize = 512;

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

impl HandoffPolicy {
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

#[cfg(test)]
mod tests;
