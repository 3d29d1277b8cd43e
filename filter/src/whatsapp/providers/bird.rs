//! Bird (formerly MessageBird), three generations of API, JSON:
//!
//! - **Bird's WhatsApp API** on `{region}.platform.bird.com`: `POST /v1/whatsapp/messages`,
//!   WhatsApp by its path, with Meta-like field names (`text.body`, captions, a template's
//!   `components[].parameters[].text`).
//! - **Bird's Channels API** on `api.bird.com`: `POST /workspaces/{ws}/channels/{channel}/messages`
//!   (and `.../batch/messages`). The channel is WhatsApp, SMS or email by its configuration at
//!   Bird, which the request does not show: a policy names its WhatsApp channels (`channels`).
//!   The Conversations API (`.../conversations/{id}/messages`) names no channel either: it is
//!   read when the policy names every channel (`*`).
//! - **The legacy MessageBird Conversations API** on `conversations.messagebird.com` (and its
//!   WhatsApp sandbox): `POST /v1/send`, `/v1/conversations/start`, `/v1/conversations/{id}/messages`.
//!   WhatsApp when the content is WhatsApp's own (`hsm`, `whatsappText`, `interactive`,
//!   `whatsappSticker`...) or the channel (`from`, `channelId`) is one the policy names.
//!
//! What a recipient reads: every string but the documented addresses, ids, URLs, enums and
//! metadata: texts, captions, file names, list and button titles, template parameter values (the
//! template's own text was reviewed by Meta and is not in the request).

use super::BodyProblem;
use super::{ProviderMessage, ProviderSend, sweep_strings};
use crate::whatsapp::MessageView;
use crate::whatsapp::fields::known_type;
use serde_json::Value;

/// Keys Bird and MessageBird document as addresses, ids, URLs, enums or metadata. Compared
/// lowercased.
const MACHINE_KEYS: &[&str] = &[
    // Addresses and channels.
    "to",
    "from",
    "receiver",
    "identifierkey",
    "identifiervalue",
    "channelid",
    // Ids, references, metadata.
    "id",
    "slug",
    "reference",
    "meta",
    "metadata",
    "tags",
    "tag",
    "source",
    "reporturl",
    "projectid",
    "version",
    "key",
    // Media and enums.
    "type",
    "url",
    "link",
    "mediaurl",
    "media_url",
    "preview_url",
    "language",
    "locale",
    "namespace",
    "templatename",
    "policy",
    "code",
    "currency",
    "datetime",
    "ttl",
    "latitude",
    "longitude",
];

/// Content types only WhatsApp has on the legacy API (compared lowercased).
const WHATSAPP_CONTENT: &[&str] = &[
    "hsm",
    "interactive",
    "whatsapptext",
    "whatsappsticker",
    "whatsapporder",
    "whatsappauthentication",
];

const MAX_DEPTH: usize = 32;

/// Which of Bird's APIs a send path belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    /// `{region}.platform.bird.com/v1/whatsapp/messages`.
    WhatsApp,
    /// `api.bird.com` channel or conversation messages: WhatsApp by the policy (checked when the
    /// request was classified); the channel id, when the path names one, is the sender.
    Channels,
    /// The legacy MessageBird Conversations API.
    Legacy,
}

fn api(segs: &[&str]) -> Api {
    match segs {
        ["workspaces", ..] => Api::Channels,
        ["v1", "whatsapp", ..] => Api::WhatsApp,
        _ => Api::Legacy,
    }
}

/// Reads a decoded body of a send on `segments` (the normalised path). `channels` are the
/// policy's WhatsApp channel ids (lowercased, or `*`). A body that is not a JSON object cannot be
/// told apart from a WhatsApp send: it is invalid.
pub fn read(
    segments: &[String],
    channels: &[String],
    body: &[u8],
) -> Result<ProviderSend, BodyProblem> {
    let value = crate::strict_json::from_slice(body).map_err(|_| BodyProblem::InvalidJson)?;
    if !value.is_object() {
        return Err(BodyProblem::InvalidJson);
    }
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    let mut multiple_recipients = false;
    let (message_type, sender, recipient) = match api(&segs) {
        Api::WhatsApp => (
            platform_type(&value),
            string_at(&value, "from"),
            string_at(&value, "to"),
        ),
        Api::Channels => {
            let sender = match segs.as_slice() {
                ["workspaces", _, "channels", channel, ..] => Some((*channel).to_owned()),
                _ => None,
            };
            let first = value
                .get("messageRequests")
                .and_then(Value::as_array)
                .and_then(|r| r.first())
                .unwrap_or(&value);
            let recipient = first
                .pointer("/receiver/contacts/0/identifierValue")
                .and_then(Value::as_str)
                .map(str::to_owned);
            // A batch's requests, or one request's contacts, can name several recipients.
            let requests = value.get("messageRequests").and_then(Value::as_array);
            let contacts = |r: &Value| {
                r.pointer("/receiver/contacts")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len)
            };
            multiple_recipients = requests.is_some_and(|r| r.len() > 1)
                || requests.map_or_else(|| contacts(&value), |r| r.iter().map(contacts).sum()) > 1;
            (channels_type(first), sender, recipient)
        }
        Api::Legacy => {
            let channel = string_at(&value, "from").or_else(|| string_at(&value, "channelId"));
            let named = channel.as_ref().is_some_and(|c| {
                let c = c.to_ascii_lowercase();
                channels.iter().any(|w| *w == "*" || *w == c)
            });
            if !(named || legacy_whatsapp_content(&value)) {
                return Ok(ProviderSend::NotWhatsApp);
            }
            (legacy_type(&value), channel, string_at(&value, "to"))
        }
    };
    let mut texts = Vec::new();
    sweep_strings(&value, MACHINE_KEYS, &[], MAX_DEPTH, &mut texts);
    let mut view = MessageView {
        message_type,
        recipient,
        multiple_recipients,
        also_recipient: None,
        deliveries: 1,
        // The legacy API's `hsm` names Meta's template; the newer APIs name Bird's own ids.
        template_name: value
            .pointer("/content/hsm/templateName")
            .and_then(Value::as_str)
            .and_then(crate::whatsapp::fields::template_name),
        template_category: None,
        texts: Vec::new(),
    };
    for t in texts {
        if !t.trim().is_empty() && !view.texts.contains(&t) {
            view.texts.push(t);
        }
    }
    let sender = sender
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
    Ok(ProviderSend::WhatsApp(ProviderMessage { view, sender }))
}

fn string_at(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// A platform send carries exactly one content kind, named by its key.
fn platform_type(v: &Value) -> String {
    const KINDS: &[&str] = &[
        "template", "text", "image", "video", "audio", "sticker", "document", "location",
    ];
    KINDS
        .iter()
        .find(|k| v.get(**k).is_some())
        .map_or_else(|| "other".to_owned(), |k| (*k).to_owned())
}

/// A Channels API message: a template, or its body's type.
fn channels_type(v: &Value) -> String {
    if v.get("template").is_some() {
        return "template".to_owned();
    }
    let t = v
        .pointer("/body/type")
        .and_then(Value::as_str)
        .map(|t| t.trim().to_ascii_lowercase());
    match t.as_deref() {
        None | Some("text") => "text".to_owned(),
        Some("file") => "document".to_owned(),
        Some("list" | "carousel" | "action" | "section") => "interactive".to_owned(),
        Some(other) => known_type(other),
    }
}

/// A legacy message's `type`: `hsm` is a template, `whatsappText` a text.
fn legacy_type(v: &Value) -> String {
    let t = v
        .get("type")
        .and_then(Value::as_str)
        .map(|t| t.trim().to_ascii_lowercase());
    match t.as_deref() {
        None | Some("text" | "whatsapptext") => "text".to_owned(),
        Some("hsm") => "template".to_owned(),
        Some("file") => "document".to_owned(),
        Some("whatsappsticker") => "sticker".to_owned(),
        Some(other) => known_type(other),
    }
}

/// Whether a legacy message's type or content is one only WhatsApp has.
fn legacy_whatsapp_content(v: &Value) -> bool {
    let typed = v
        .get("type")
        .and_then(Value::as_str)
        .is_some_and(|t| WHATSAPP_CONTENT.contains(&t.trim().to_ascii_lowercase().as_str()));
    let content = v
        .get("content")
        .and_then(Value::as_object)
        .is_some_and(|c| {
            c.keys()
                .any(|k| WHATSAPP_CONTENT.contains(&k.to_ascii_lowercase().as_str()))
        });
    typed || content
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segs(path: &str) -> Vec<String> {
        crate::whatsapp::normalize_path(path).segments
    }

    fn whatsapp(path: &str, channels: &[&str], body: &str) -> ProviderMessage {
        let channels: Vec<String> = channels.iter().map(|c| (*c).to_owned()).collect();
        match read(&segs(path), &channels, body.as_bytes()).unwrap() {
            ProviderSend::WhatsApp(m) => m,
            ProviderSend::NotWhatsApp => panic!("not WhatsApp: {body}"),
        }
    }

    #[test]
    fn platform_sends_are_read() {
        let m = whatsapp(
            "/v1/whatsapp/messages",
            &[],
            r#"{"to":"+4915112345678","from":"+3197010000000","text":{"body":"Your parcel arrives today.","preview_url":false},"tags":["t1"]}"#,
        );
        assert_eq!(m.view.message_type, "text");
        assert_eq!(m.view.texts, ["Your parcel arrives today."]);
        assert_eq!(m.sender.as_deref(), Some("+3197010000000"));
        let m = whatsapp(
            "/v1/whatsapp/messages",
            &[],
            r#"{"to":"+49151","template":{"id":"wat_1","language":"en","components":[{"type":"body","parameters":[{"type":"text","text":"Anna"}]}]}}"#,
        );
        assert_eq!(
            (m.view.message_type.as_str(), m.view.texts.as_slice()),
            ("template", &["Anna".to_owned()][..])
        );
    }

    #[test]
    fn channel_messages_name_their_channel_as_sender() {
        let m = whatsapp(
            "/workspaces/ws1/channels/9c2e-77/messages",
            &["9c2e-77"],
            r#"{"receiver":{"contacts":[{"identifierValue":"+4915112345678"}]},"body":{"type":"text","text":{"text":"Your parcel arrives today."}}}"#,
        );
        assert_eq!(m.view.texts, ["Your parcel arrives today."]);
        assert_eq!(m.sender.as_deref(), Some("9c2e-77"));
        assert_eq!(m.view.recipient.as_deref(), Some("+4915112345678"));
        let m = whatsapp(
            "/workspaces/ws1/channels/9c2e-77/batch/messages",
            &["*"],
            r#"{"messageRequests":[{"receiver":{"contacts":[{"identifierValue":"+49151"}]},"template":{"projectId":"p1","version":"v1","locale":"en","parameters":[{"type":"string","key":"name","value":"Anna"}]}}]}"#,
        );
        assert_eq!(
            (m.view.message_type.as_str(), m.view.texts.as_slice()),
            ("template", &["Anna".to_owned()][..])
        );
    }

    #[test]
    fn legacy_sends_by_content_or_channel() {
        let m = whatsapp(
            "/v1/send",
            &[],
            r#"{"to":"+49151","from":"ch-1","type":"hsm","content":{"hsm":{"namespace":"ns","templateName":"order_update","language":{"policy":"deterministic","code":"en"},"params":[{"default":"Anna"},{"default":"No. 1042"}]}}}"#,
        );
        assert_eq!(m.view.message_type, "template");
        assert_eq!(m.view.texts, ["Anna", "No. 1042"]);
        assert_eq!(m.view.template_name.as_deref(), Some("order_update"));
        assert_eq!(m.sender.as_deref(), Some("ch-1"));
        let text = r#"{"to":"+49151","from":"CH-2","type":"text","content":{"text":"Hello"}}"#;
        assert_eq!(
            read(&segs("/v1/send"), &["ch-1".to_owned()], text.as_bytes()).unwrap(),
            ProviderSend::NotWhatsApp
        );
        let m = whatsapp("/v1/send", &["ch-2"], text);
        assert_eq!(m.view.texts, ["Hello"]);
        let m = whatsapp(
            "/v1/conversations/start",
            &[],
            r#"{"to":"+49151","channelId":"ch-3","type":"whatsappText","content":{"whatsappText":{"text":{"body":"Hi there"}}}}"#,
        );
        assert_eq!(m.view.texts, ["Hi there"]);
        assert_eq!(m.sender.as_deref(), Some("ch-3"));
        assert_eq!(
            read(&segs("/v1/send"), &[], b"[1]").unwrap_err(),
            BodyProblem::InvalidJson
        );
    }
}
