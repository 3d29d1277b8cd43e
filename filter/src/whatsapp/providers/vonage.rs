//! Vonage Messages API: `POST /v1/messages` (and the older `/v0.1/messages`), JSON.
//!
//! The same endpoint sends SMS, MMS, RCS, Viber and Messenger; the send is WhatsApp when its
//! `channel` is `whatsapp` (v0.1: `from.type` or `to.type`). What a recipient reads: `text`, a
//! media object's `caption` and a file's `name`, a template's `parameters` (the template's own
//! text was reviewed by Meta and is not in the request), and `custom`, which Vonage passes to
//! WhatsApp as Meta's message object: it is read by the Cloud API reader. Every other string
//! Vonage does not document as machine data is read too.

use super::{ProviderMessage, ProviderSend};
use crate::whatsapp::body::BodyProblem;
use crate::whatsapp::fields::{known_type, template_name};
use crate::whatsapp::{MessageView, read_message};
use serde_json::Value;

/// Keys Vonage documents as addresses, enums, ids, URLs or settings: never shown to a recipient.
const MACHINE_KEYS: &[&str] = &[
    "channel",
    "message_type",
    "to",
    "from",
    "client_ref",
    "webhook_url",
    "webhook_version",
    "url",
    "locale",
    "policy",
    "ttl",
    "context",
    "message_uuid",
    "type",
    "number",
    "id",
    "category",
];

const MAX_DEPTH: usize = 32;

/// Reads a decoded body. A body that is not a JSON object cannot be told apart from a WhatsApp
/// send: it is invalid. An empty body names no channel: not WhatsApp.
pub fn read(body: &[u8]) -> Result<ProviderSend, BodyProblem> {
    if body.trim_ascii().is_empty() {
        return Ok(ProviderSend::NotWhatsApp);
    }
    let value = crate::strict_json::from_slice(body).map_err(|_| BodyProblem::InvalidJson)?;
    let Value::Object(o) = &value else {
        return Err(BodyProblem::InvalidJson);
    };
    let is_whatsapp = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .is_some_and(|c| c.trim().eq_ignore_ascii_case("whatsapp"))
    };
    let legacy_type = |side: &str| o.get(side).and_then(|s| s.get("type"));
    if !(is_whatsapp(o.get("channel"))
        || is_whatsapp(legacy_type("from"))
        || is_whatsapp(legacy_type("to")))
    {
        return Ok(ProviderSend::NotWhatsApp);
    }
    let custom = o.get("custom");
    let named = o
        .get("message_type")
        .or_else(|| value.pointer("/message/content/type"))
        .and_then(Value::as_str)
        .map(|t| t.trim().to_ascii_lowercase())
        .unwrap_or_else(|| "text".to_owned());
    let custom_view = custom.map(read_message);
    let message_type = match named.as_str() {
        "file" => "document".to_owned(),
        "vcard" => "contacts".to_owned(),
        "custom" => custom_view
            .as_ref()
            .map_or_else(|| "other".to_owned(), |v| v.message_type.clone()),
        other => known_type(other),
    };
    // `namespace:name` (the namespace Meta gave the business) or the bare name; a custom
    // object is Meta's own template object.
    let template_name = value
        .pointer("/template/name")
        .or_else(|| value.pointer("/message/content/template/name"))
        .and_then(Value::as_str)
        .and_then(|n| template_name(n.rsplit(':').next().unwrap_or(n)))
        .or_else(|| custom_view.as_ref().and_then(|v| v.template_name.clone()));
    let mut view = MessageView {
        message_type,
        recipient: address(o.get("to")),
        multiple_recipients: false,
        also_recipient: None,
        deliveries: 1,
        template_name,
        template_category: None,
        texts: Vec::new(),
    };
    let mut texts = custom_view.map(|v| v.texts).unwrap_or_default();
    super::sweep_strings(&value, MACHINE_KEYS, &["custom"], MAX_DEPTH, &mut texts);
    for t in texts {
        if !t.trim().is_empty() && !view.texts.contains(&t) {
            view.texts.push(t);
        }
    }
    Ok(ProviderSend::WhatsApp(ProviderMessage {
        view,
        sender: address(o.get("from")),
    }))
}

/// `"14155550100"`, or v0.1's `{"type": "whatsapp", "number": "14155550100"}`.
fn address(v: Option<&Value>) -> Option<String> {
    let raw = match v? {
        Value::String(s) => s.as_str(),
        other => other.get("number")?.as_str()?,
    };
    let number: String = raw
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '+')
        .collect();
    (!number.is_empty()).then_some(number)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whatsapp(body: &str) -> ProviderMessage {
        match read(body.as_bytes()).unwrap() {
            ProviderSend::WhatsApp(m) => m,
            ProviderSend::NotWhatsApp => panic!("not WhatsApp: {body}"),
        }
    }

    #[test]
    fn a_whatsapp_text_is_read() {
        let m = whatsapp(
            r#"{"channel":"whatsapp","message_type":"text","to":"4915112345678","from":"14155550100","text":"Your parcel arrives today.","client_ref":"abc"}"#,
        );
        assert_eq!(m.view.message_type, "text");
        assert_eq!(m.view.texts, ["Your parcel arrives today."]);
        assert_eq!(m.sender.as_deref(), Some("14155550100"));
        assert_eq!(m.view.recipient.as_deref(), Some("4915112345678"));
    }

    #[test]
    fn other_channels_are_not_whatsapp() {
        for body in [
            r#"{"channel":"sms","message_type":"text","to":"49151","from":"Acme","text":"Hi"}"#,
            r#"{"channel":"viber_service","message_type":"text","text":"Hi"}"#,
            "",
        ] {
            assert_eq!(
                read(body.as_bytes()).unwrap(),
                ProviderSend::NotWhatsApp,
                "{body}"
            );
        }
        assert_eq!(read(b"not json").unwrap_err(), BodyProblem::InvalidJson);
        assert_eq!(read(b"[1]").unwrap_err(), BodyProblem::InvalidJson);
    }

    #[test]
    fn media_templates_and_custom_objects() {
        let m = whatsapp(
            r#"{"channel":"WhatsApp","message_type":"file","to":"1","from":"2","file":{"url":"https://x.example/a.pdf","caption":"Your invoice","name":"invoice.pdf"}}"#,
        );
        assert_eq!(m.view.message_type, "document");
        assert_eq!(m.view.texts, ["Your invoice", "invoice.pdf"]);
        let m = whatsapp(
            r#"{"channel":"whatsapp","message_type":"template","to":"1","from":"2","template":{"name":"ns:order_update","parameters":["Anna","No. 1042"]},"whatsapp":{"policy":"deterministic","locale":"en_GB"}}"#,
        );
        assert_eq!(m.view.message_type, "template");
        assert_eq!(m.view.texts, ["ns:order_update", "Anna", "No. 1042"]);
        assert_eq!(m.view.template_name.as_deref(), Some("order_update"));
        let m = whatsapp(
            r#"{"channel":"whatsapp","message_type":"custom","to":"1","from":"2","custom":{"type":"interactive","interactive":{"type":"button","body":{"text":"Confirm your appointment?"},"action":{"buttons":[{"type":"reply","reply":{"id":"y","title":"Confirm"}}]}}}}"#,
        );
        assert_eq!(m.view.message_type, "interactive");
        assert_eq!(m.view.texts, ["Confirm your appointment?", "Confirm"]);
        // v0.1: the channel is the addresses' type.
        let m = whatsapp(
            r#"{"from":{"type":"whatsapp","number":"14155550100"},"to":{"type":"whatsapp","number":"49151"},"message":{"content":{"type":"text","text":"Hello there"}}}"#,
        );
        assert_eq!(
            (
                m.view.message_type.as_str(),
                m.view.texts.as_slice(),
                m.sender.as_deref()
            ),
            ("text", &["Hello there".to_owned()][..], Some("14155550100"))
        );
    }
}
