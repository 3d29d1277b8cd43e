//! Infobip: the WhatsApp API (`/whatsapp/{v}/message/{kind}`, one send per request, or
//! template sends in bulk), the omnichannel Messages API (`/messages-api/1/messages`, WhatsApp
//! when a message's `channel` is `WHATSAPP`) and the legacy OMNI API (`/omni/1/advanced`, with
//! a `whatsApp` object). JSON in Infobip's own camelCase format.
//!
//! What a recipient reads: `content.text`, captions, file names, interactive `body`, `header`,
//! `footer`, button and row titles, template placeholders (the template's own text was reviewed
//! by Meta and is not in the request), and `smsFailover.text` (read by SMS if WhatsApp fails).
//! Every string Infobip does not document as machine data is read.

use super::{ProviderMessage, ProviderSend};
use crate::whatsapp::MessageView;
use crate::whatsapp::body::BodyProblem;
use serde_json::Value;

/// Keys Infobip documents as addresses, ids, URLs, enums or settings: never shown to a recipient.
const MACHINE_KEYS: &[&str] = &[
    "from",
    "to",
    "sender",
    "messageid",
    "bulkid",
    "callbackdata",
    "notifyurl",
    "urloptions",
    "entityid",
    "applicationid",
    "scenariokey",
    "channel",
    "type",
    "id",
    "mediaurl",
    "url",
    "language",
    "previewurl",
    "validityperiod",
    "phonenumber",
];

const MAX_DEPTH: usize = 32;

/// Reads a decoded body of a request on `segments` (the normalised path).
pub fn read(segments: &[String], body: &[u8]) -> Result<ProviderSend, BodyProblem> {
    let value = if body.trim_ascii().is_empty() {
        Value::Object(serde_json::Map::new())
    } else {
        crate::strict_json::from_slice(body).map_err(|_| BodyProblem::InvalidJson)?
    };
    if !value.is_object() {
        return Err(BodyProblem::InvalidJson);
    }
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    let message_type = match segs.as_slice() {
        ["whatsapp", _, "message", kind, ..] => whatsapp_api_type(kind),
        ["messages-api", _, "messages", ..] => {
            let whatsapp = messages(&value).any(|m| {
                m.get("channel")
                    .and_then(Value::as_str)
                    .is_some_and(|c| c.trim().eq_ignore_ascii_case("whatsapp"))
            });
            if !whatsapp {
                return Ok(ProviderSend::NotWhatsApp);
            }
            messages_api_type(&value)
        }
        ["omni", _, "advanced"] if value.get("whatsApp").is_some() => "text".to_owned(),
        _ => return Ok(ProviderSend::NotWhatsApp),
    };
    // Every message of a bulk request names its sender: two different ones are ambiguous for
    // the phone-number rules.
    let senders = distinct(messages(&value).filter_map(|m| m.get("from").or(m.get("sender"))));
    if senders.len() > 1 {
        return Err(BodyProblem::InvalidJson);
    }
    // Every recipient of every message: `to`, or each of `destinations[].to`.
    let recipients = distinct(messages(&value).flat_map(|m| {
        let destinations = m.get("destinations").and_then(Value::as_array);
        m.get("to").into_iter().chain(
            destinations
                .into_iter()
                .flatten()
                .filter_map(|d| d.get("to")),
        )
    }));
    // Every message delivered, to each of its destinations: a bulk of ten messages to one
    // recipient delivers ten.
    let deliveries = messages(&value)
        .map(|m| {
            let destinations = m.get("destinations").and_then(Value::as_array);
            destinations.map_or(1, |d| d.len().max(1))
        })
        .fold(0usize, usize::saturating_add);
    let mut view = MessageView {
        message_type,
        multiple_recipients: recipients.len() > 1,
        also_recipient: None,
        deliveries: u32::try_from(deliveries).unwrap_or(u32::MAX),
        recipient: recipients.into_iter().next(),
        template_name: template_name(&value),
        template_category: None,
        texts: Vec::new(),
    };
    let mut texts = Vec::new();
    super::sweep_strings(&value, MACHINE_KEYS, &[], MAX_DEPTH, &mut texts);
    for t in texts {
        if !t.trim().is_empty() && !view.texts.contains(&t) {
            view.texts.push(t);
        }
    }
    Ok(ProviderSend::WhatsApp(ProviderMessage {
        view,
        sender: senders.into_iter().next(),
    }))
}

/// The WhatsApp template the first message sends (`content.templateName` of the WhatsApp API,
/// `template.templateName` of the Messages API), when it is a valid Meta template name.
fn template_name(v: &Value) -> Option<String> {
    let first = messages(v).next()?;
    first
        .pointer("/content/templateName")
        .or_else(|| first.pointer("/template/templateName"))
        .and_then(Value::as_str)
        .and_then(crate::whatsapp::fields::template_name)
}

/// The messages of a request: the body itself (one send), or each of `messages[]` (bulk).
fn messages(v: &Value) -> impl Iterator<Item = &Value> {
    let bulk = v.get("messages").and_then(Value::as_array);
    let single = bulk.is_none().then_some(v);
    bulk.into_iter().flatten().chain(single)
}

fn distinct<'a>(values: impl Iterator<Item = &'a Value>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for v in values {
        let s = match v {
            Value::String(s) => s.trim().to_owned(),
            other => other.to_string(),
        };
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

/// The message type of a WhatsApp API path's kind segment.
fn whatsapp_api_type(kind: &str) -> String {
    match kind {
        "text" | "image" | "document" | "video" | "audio" | "sticker" | "location" | "template"
        | "interactive" => kind.to_owned(),
        "contact" => "contacts".to_owned(),
        _ => "other".to_owned(),
    }
}

/// The message type of a Messages API request: a template, or its first content body's type.
fn messages_api_type(v: &Value) -> String {
    let Some(first) = messages(v).next() else {
        return "other".to_owned();
    };
    if first.get("template").is_some() {
        return "template".to_owned();
    }
    let body_type = first
        .pointer("/content/body/type")
        .and_then(Value::as_str)
        .unwrap_or("TEXT")
        .trim()
        .to_ascii_lowercase();
    match body_type.as_str() {
        "text" | "image" | "document" | "video" | "location" => body_type,
        "contact" => "contacts".to_owned(),
        "list" | "carousel" | "flow" | "buttons" | "product" => "interactive".to_owned(),
        _ => "other".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segs(path: &str) -> Vec<String> {
        crate::whatsapp::normalize_path(path).segments
    }

    fn whatsapp(path: &str, body: &str) -> ProviderMessage {
        match read(&segs(path), body.as_bytes()).unwrap() {
            ProviderSend::WhatsApp(m) => m,
            ProviderSend::NotWhatsApp => panic!("not WhatsApp: {body}"),
        }
    }

    #[test]
    fn whatsapp_api_sends_are_read() {
        let m = whatsapp(
            "/whatsapp/1/message/interactive/buttons",
            r#"{"from":"441134960000","to":"4915112345678","content":{"body":{"text":"Confirm your appointment on Tuesday?"},
              "action":{"buttons":[{"type":"REPLY","id":"y","title":"Confirm"}]},"footer":{"text":"Reply within 24h"}},"callbackData":"ref-1"}"#,
        );
        assert_eq!(m.view.message_type, "interactive");
        assert_eq!(
            m.view.texts,
            [
                "Confirm",
                "Confirm your appointment on Tuesday?",
                "Reply within 24h"
            ]
        );
        assert_eq!(m.sender.as_deref(), Some("441134960000"));
        assert_eq!(m.view.recipient.as_deref(), Some("4915112345678"));
        let m = whatsapp(
            "/whatsapp/1/message/template",
            r#"{"messages":[{"from":"441134960000","to":"49151","content":{"templateName":"order_update","templateData":{"body":{"placeholders":["Anna","No. 1042"]}},"language":"en"}}]}"#,
        );
        assert_eq!(m.view.message_type, "template");
        assert_eq!(m.view.texts, ["Anna", "No. 1042", "order_update"]);
        assert_eq!(m.view.template_name.as_deref(), Some("order_update"));
    }

    #[test]
    fn messages_api_is_whatsapp_by_channel_only() {
        let m = whatsapp(
            "/messages-api/1/messages",
            r#"{"messages":[{"channel":"WHATSAPP","sender":"441134960000","destinations":[{"to":"49151"}],"content":{"body":{"type":"TEXT","text":"Your parcel arrives today."}}}]}"#,
        );
        assert_eq!(
            (m.view.message_type.as_str(), m.view.texts.as_slice()),
            ("text", &["Your parcel arrives today.".to_owned()][..])
        );
        assert_eq!(m.view.recipient.as_deref(), Some("49151"));
        let sms = r#"{"messages":[{"channel":"SMS","sender":"Acme","destinations":[{"to":"49151"}],"content":{"body":{"type":"TEXT","text":"Hi"}}}]}"#;
        assert_eq!(
            read(&segs("/messages-api/1/messages"), sms.as_bytes()).unwrap(),
            ProviderSend::NotWhatsApp
        );
        assert_eq!(
            read(&segs("/sms/2/text/advanced"), b"{}").unwrap(),
            ProviderSend::NotWhatsApp
        );
    }

    #[test]
    fn ambiguous_and_invalid_bodies() {
        let two = r#"{"messages":[{"from":"1","to":"2","content":{}},{"from":"3","to":"2","content":{}}]}"#;
        assert_eq!(
            read(&segs("/whatsapp/1/message/template"), two.as_bytes()).unwrap_err(),
            BodyProblem::InvalidJson
        );
        assert_eq!(
            read(&segs("/whatsapp/1/message/text"), b"from=1").unwrap_err(),
            BodyProblem::InvalidJson
        );
    }
}
