//! The Sinch Conversation API: `POST /v1/projects/{project}/messages:send` on
//! `{region}.conversation.api.sinch.com`, JSON in Sinch's generic format, transcoded by Sinch for
//! each channel.
//!
//! The same endpoint sends SMS, RCS, Messenger, Viber and others. The send is WhatsApp when a
//! recipient's channel identity is `WHATSAPP`, when `channel_priority_order` names it, or when
//! the message carries a `WHATSAPP` entry (`channel_template`, `explicit_channel_message`,
//! `explicit_channel_omni_message`, `channel_specific_message`). A send to a `contact_id` names
//! no channel: Sinch picks one of the contact's, which may be WhatsApp, so it is read as a
//! WhatsApp send unless its `channel_priority_order` leaves WhatsApp out.
//!
//! What a recipient reads: every string of `message` but the documented ids, URLs, enums and
//! postback data: `text_message.text`, choice, card, carousel and list titles and descriptions,
//! the WhatsApp header and footer properties, a location's title and label, the values of a
//! WhatsApp template's `parameters` (the template's own text was reviewed by Meta and is not in
//! the request). `explicit_channel_message.WHATSAPP` is a string holding Meta's message object:
//! it is read by the Cloud API reader (as text when it is not JSON).

use super::BodyProblem;
use super::{ProviderMessage, ProviderSend, sweep_strings};
use crate::whatsapp::MessageView;
use crate::whatsapp::fields::read_message;
use serde_json::Value;

/// Keys Sinch documents as ids, URLs, enums, settings or postback data. Compared lowercased.
const MACHINE_KEYS: &[&str] = &[
    "app_id",
    "recipient",
    "contact_id",
    "channel",
    "identity",
    "channel_priority_order",
    "channel_properties",
    "ttl",
    "correlation_id",
    "message_metadata",
    "conversation_metadata",
    "metadata",
    "callback_url",
    "processing_strategy",
    "queue",
    "url",
    "thumbnail_url",
    "media_url",
    "filename_override",
    "postback_data",
    "template_id",
    "language_code",
    "version",
    "id",
    "type",
    "coordinates",
    "latitude",
    "longitude",
    "phone_number",
    "explicit_channel_message",
];

const MAX_DEPTH: usize = 32;

/// The Conversation API's channel name for WhatsApp.
const WHATSAPP: &str = "WHATSAPP";

/// Reads a decoded body. A body that is not a JSON object cannot be told apart from a WhatsApp
/// send: it is invalid.
pub fn read(body: &[u8]) -> Result<ProviderSend, BodyProblem> {
    let value = crate::strict_json::from_slice(body).map_err(|_| BodyProblem::InvalidJson)?;
    if !value.is_object() {
        return Err(BodyProblem::InvalidJson);
    }
    let identities = value
        .pointer("/recipient/identified_by/channel_identities")
        .and_then(Value::as_array);
    let whatsapp_identity = identities.and_then(|ids| {
        ids.iter()
            .find(|i| is_whatsapp(i.get("channel").and_then(Value::as_str)))
    });
    let priority = value
        .get("channel_priority_order")
        .and_then(Value::as_array);
    let prioritised = priority.is_some_and(|p| p.iter().any(|c| is_whatsapp(c.as_str())));
    let message = value.get("message").unwrap_or(&Value::Null);
    let explicit = whatsapp_entry(message.get("explicit_channel_message"));
    let marked = [
        message.pointer("/template_message/channel_template"),
        message.get("explicit_channel_omni_message"),
        message.get("channel_specific_message"),
    ]
    .into_iter()
    .any(|m| whatsapp_entry(m).is_some());
    // A contact's channel is Sinch's choice: WhatsApp unless the priority order leaves it out.
    let contact_send = identities.is_none() && priority.is_none_or(|p| p.is_empty());
    if !(whatsapp_identity.is_some() || prioritised || explicit.is_some() || marked || contact_send)
    {
        return Ok(ProviderSend::NotWhatsApp);
    }
    let mut texts = Vec::new();
    let explicit_view = explicit.map(|e| match e {
        Value::String(s) => match crate::strict_json::from_slice(s.as_bytes()) {
            Ok(meta) => read_message(&meta),
            Err(_) => MessageView {
                message_type: "text".to_owned(),
                texts: vec![s.clone()],
                ..MessageView::default()
            },
        },
        other => read_message(other),
    });
    if let Some(v) = &explicit_view {
        texts.extend(v.texts.iter().cloned());
    }
    sweep_strings(message, MACHINE_KEYS, &[], MAX_DEPTH, &mut texts);
    // A WhatsApp channel template names Meta's template by `template_id`.
    let template_name = explicit_view
        .as_ref()
        .and_then(|v| v.template_name.clone())
        .or_else(|| {
            whatsapp_entry(message.pointer("/template_message/channel_template"))
                .and_then(|t| t.get("template_id"))
                .and_then(Value::as_str)
                .and_then(crate::whatsapp::fields::template_name)
        });
    let message_type = explicit_view
        .map(|v| v.message_type)
        .unwrap_or_else(|| message_type(message));
    let mut view = MessageView {
        message_type,
        recipient: whatsapp_identity
            .and_then(|i| i.get("identity"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        multiple_recipients: false,
        also_recipient: None,
        deliveries: 1,
        template_name,
        template_category: None,
        texts: Vec::new(),
    };
    for t in texts {
        if !t.trim().is_empty() && !view.texts.contains(&t) {
            view.texts.push(t);
        }
    }
    // The WhatsApp number is the app's (configured at Sinch): the app id stands for it.
    let sender = value
        .get("app_id")
        .and_then(Value::as_str)
        .map(|a| a.trim().to_owned())
        .filter(|a| !a.is_empty());
    Ok(ProviderSend::WhatsApp(ProviderMessage { view, sender }))
}

fn is_whatsapp(channel: Option<&str>) -> bool {
    channel.is_some_and(|c| c.trim().eq_ignore_ascii_case(WHATSAPP))
}

/// The `WHATSAPP` entry of a per-channel map (any key case).
fn whatsapp_entry(map: Option<&Value>) -> Option<&Value> {
    map?.as_object()?
        .iter()
        .find(|(k, _)| k.trim().eq_ignore_ascii_case(WHATSAPP))
        .map(|(_, v)| v)
}

/// The message type of a Sinch message, as the Cloud API names it.
fn message_type(message: &Value) -> String {
    let kinds: &[(&str, &str)] = &[
        ("template_message", "template"),
        ("text_message", "text"),
        ("media_message", "media"),
        ("choice_message", "interactive"),
        ("card_message", "interactive"),
        ("carousel_message", "interactive"),
        ("list_message", "interactive"),
        ("location_message", "location"),
        ("contact_info_message", "contacts"),
    ];
    kinds
        .iter()
        .find(|(k, _)| message.get(*k).is_some())
        .map_or("other", |(_, t)| t)
        .to_owned()
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

    const TO_WHATSAPP: &str = r#""recipient":{"identified_by":{"channel_identities":[{"channel":"WHATSAPP","identity":"4915112345678"}]}}"#;

    #[test]
    fn a_whatsapp_text_is_read() {
        let m = whatsapp(&format!(
            r#"{{"app_id":"01HQ7Z",{TO_WHATSAPP},"message":{{"text_message":{{"text":"Your parcel arrives today."}}}},"correlation_id":"c-1"}}"#
        ));
        assert_eq!(m.view.message_type, "text");
        assert_eq!(m.view.texts, ["Your parcel arrives today."]);
        assert_eq!(m.sender.as_deref(), Some("01HQ7Z"));
        assert_eq!(m.view.recipient.as_deref(), Some("4915112345678"));
    }

    #[test]
    fn lists_cards_and_templates() {
        let m = whatsapp(&format!(
            r#"{{"app_id":"A",{TO_WHATSAPP},"message":{{"list_message":{{"title":"Our menu","description":"Pick a dish","sections":[{{"title":"Mains","items":[{{"choice":{{"title":"Risotto","description":"Mushroom","postback_data":"dish-7"}}}}]}}],"message_properties":{{"menu":"Open menu"}}}}}}}}"#
        ));
        assert_eq!(m.view.message_type, "interactive");
        for t in [
            "Our menu",
            "Pick a dish",
            "Mains",
            "Risotto",
            "Mushroom",
            "Open menu",
        ] {
            assert!(
                m.view.texts.iter().any(|x| x == t),
                "{t}: {:?}",
                m.view.texts
            );
        }
        assert!(!m.view.texts.iter().any(|x| x == "dish-7"));
        let m = whatsapp(&format!(
            r#"{{"app_id":"A",{TO_WHATSAPP},"message":{{"template_message":{{"channel_template":{{"WHATSAPP":{{"template_id":"order_update","language_code":"en","parameters":{{"body[1]text":"Anna","body[2]text":"No. 1042"}}}}}}}}}}}}"#
        ));
        assert_eq!(m.view.message_type, "template");
        assert_eq!(m.view.texts, ["Anna", "No. 1042"]);
        assert_eq!(m.view.template_name.as_deref(), Some("order_update"));
    }

    #[test]
    fn an_explicit_whatsapp_payload_is_read_as_metas_object() {
        let m = whatsapp(
            r#"{"app_id":"A","recipient":{"contact_id":"C1"},"message":{"explicit_channel_message":{"WHATSAPP":"{\"type\":\"interactive\",\"interactive\":{\"type\":\"button\",\"body\":{\"text\":\"Confirm your visit?\"},\"action\":{\"buttons\":[{\"type\":\"reply\",\"reply\":{\"id\":\"y\",\"title\":\"Yes\"}}]}}}"},"text_message":{"text":"Confirm your visit? Reply YES"}}}"#,
        );
        assert_eq!(m.view.message_type, "interactive");
        assert_eq!(
            m.view.texts,
            [
                "Confirm your visit?",
                "Yes",
                "Confirm your visit? Reply YES"
            ]
        );
    }

    #[test]
    fn other_channels_are_not_whatsapp() {
        for body in [
            r#"{"app_id":"A","recipient":{"identified_by":{"channel_identities":[{"channel":"SMS","identity":"49151"}]}},"message":{"text_message":{"text":"Hi"}}}"#,
            r#"{"app_id":"A","recipient":{"contact_id":"C1"},"channel_priority_order":["SMS","RCS"],"message":{"text_message":{"text":"Hi"}}}"#,
        ] {
            assert_eq!(
                read(body.as_bytes()).unwrap(),
                ProviderSend::NotWhatsApp,
                "{body}"
            );
        }
        // A contact without a priority order may be reached on WhatsApp; so may an SMS identity
        // whose priority order names WhatsApp.
        whatsapp(
            r#"{"app_id":"A","recipient":{"contact_id":"C1"},"message":{"text_message":{"text":"Hi"}}}"#,
        );
        whatsapp(
            r#"{"app_id":"A","recipient":{"identified_by":{"channel_identities":[{"channel":"SMS","identity":"49151"}]}},"channel_priority_order":["WHATSAPP"],"message":{"text_message":{"text":"Hi"}}}"#,
        );
        assert_eq!(read(b"[]").unwrap_err(), BodyProblem::InvalidJson);
        assert_eq!(read(b"").unwrap_err(), BodyProblem::InvalidJson);
    }
}
