//! Twilio Conversations: a v1 message (`POST /v1/[Services/{IS}/]Conversations/{CH}/Messages`,
//! a form) and a v2 action (`POST /v2/Conversations/{id}/Actions`, JSON).
//!
//! A v1 message names no channel: it reaches every participant of its conversation, and a
//! participant is bound to WhatsApp by an earlier request (its `MessagingBinding.Address` is a
//! `whatsapp:` address), or by Twilio itself when an incoming WhatsApp message opens the
//! conversation. The filter sees neither, so a policy names the Conversations services that
//! carry WhatsApp (`conversation_services`), and a message on one of them is read as a WhatsApp
//! send. What a recipient reads: `Body`, `Subject`, the values of `ContentVariables`, and every
//! field Twilio does not document as machine data. The sender, for phone-number rules, is the
//! Chat Service SID of the path: the number is the conversation's, which the request does not
//! name.
//!
//! A v2 action names its recipients' channels (`payload.to[].channel`): it is a WhatsApp send
//! when one is `WHATSAPP`. What a recipient reads: `payload.content.text`, the values of
//! `payload.content.variables`, and every string that is not an address, id, URL or enum.

use super::super::form::{Form, view};
use super::super::{ProviderMessage, ProviderSend, sweep_strings};
use super::BodyProblem;
use super::{form_texts, number, strip_channel};
use serde_json::Value;

/// Form fields of a v1 message Twilio documents as ids, dates or metadata: never shown to a
/// recipient (`Attributes` is the application's own JSON, kept by Twilio). Compared lowercased.
const MACHINE_FIELDS: &[&str] = &[
    "author",
    "mediasid",
    "contentsid",
    "attributes",
    "datecreated",
    "dateupdated",
];

/// Fields a recipient reads, read first and in this order.
const VISIBLE_FIELDS: &[&str] = &["body", "subject", "contentvariables"];

/// Fields that name one thing: two different values make the message ambiguous.
const SINGLE_FIELDS: &[&str] = &["author", "contentsid", "mediasid"];

/// Keys of a v2 action that are addresses, ids, URLs or enums. Compared lowercased.
const ACTION_MACHINE_KEYS: &[&str] = &[
    "type",
    "channel",
    "to",
    "from",
    "address",
    "contentid",
    "mediaurls",
    "id",
    "sid",
    "url",
    "statuscallback",
];

const MAX_DEPTH: usize = 32;

/// Reads a v1 message's decoded form body and query string, on a service the policy names as
/// WhatsApp (`service`: the Chat Service SID of the path, `None` for the default service).
pub fn read_message(
    body: &[u8],
    raw_query: &str,
    service: Option<&str>,
) -> Result<ProviderSend, BodyProblem> {
    let form = Form::read(body, raw_query)?;
    form.single_valued(SINGLE_FIELDS, |v| v)?;
    let message_type = if form.first("contentsid").is_some() {
        "template"
    } else if form.first("mediasid").is_some() {
        "media"
    } else {
        "text"
    };
    let texts = form_texts(&form, VISIBLE_FIELDS, MACHINE_FIELDS);
    Ok(ProviderSend::WhatsApp(ProviderMessage {
        view: view(message_type, None, texts),
        sender: service.map(str::to_owned),
    }))
}

/// Reads a v2 action's decoded JSON body. A body that is not a JSON object cannot be told apart
/// from a WhatsApp send: it is invalid.
pub fn read_action(body: &[u8]) -> Result<ProviderSend, BodyProblem> {
    let value = crate::strict_json::from_slice(body).map_err(|_| BodyProblem::InvalidJson)?;
    if !value.is_object() {
        return Err(BodyProblem::InvalidJson);
    }
    let payload = value.get("payload").unwrap_or(&Value::Null);
    let whatsapp: Vec<&Value> = entries(payload.get("to"))
        .filter(|t| {
            t.get("channel")
                .and_then(Value::as_str)
                .is_some_and(|c| c.trim().eq_ignore_ascii_case("whatsapp"))
        })
        .collect();
    let Some(first) = whatsapp.first() else {
        return Ok(ProviderSend::NotWhatsApp);
    };
    let content = payload.get("content").unwrap_or(&Value::Null);
    let message_type = if content.get("contentId").is_some() {
        "template"
    } else if content.get("mediaUrls").is_some() {
        "media"
    } else {
        "text"
    };
    let mut texts = Vec::new();
    sweep_strings(&value, ACTION_MACHINE_KEYS, &[], MAX_DEPTH, &mut texts);
    let sender = entries(payload.get("from"))
        .find_map(address)
        .map(|a| number(strip_channel(&a).unwrap_or(&a)))
        .filter(|s| !s.is_empty());
    let recipient = address(first).map(|a| number(strip_channel(&a).unwrap_or(&a)));
    let mut view = view(message_type, recipient, texts);
    view.multiple_recipients = whatsapp.len() > 1;
    Ok(ProviderSend::WhatsApp(ProviderMessage { view, sender }))
}

/// The entries of a field that is one object (or string) or a list of them.
fn entries(v: Option<&Value>) -> impl Iterator<Item = &Value> {
    let list = v.and_then(Value::as_array);
    let one = if list.is_none() { v } else { None };
    list.into_iter().flatten().chain(one)
}

/// An address: the string itself, or an object's `address`.
fn address(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        other => other.get("address")?.as_str().map(str::to_owned),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whatsapp(read: Result<ProviderSend, BodyProblem>) -> ProviderMessage {
        match read.unwrap() {
            ProviderSend::WhatsApp(m) => m,
            ProviderSend::NotWhatsApp => panic!("not WhatsApp"),
        }
    }

    #[test]
    fn a_v1_message_is_read_with_its_service_as_sender() {
        let m = whatsapp(read_message(
            b"Author=system&Body=Your+repair+is+booked+for+Monday.&Attributes=%7B%22ticket%22%3A%22T-88%22%7D",
            "",
            Some("is0123"),
        ));
        assert_eq!(m.view.message_type, "text");
        assert_eq!(m.view.texts, ["Your repair is booked for Monday."]);
        assert_eq!(m.sender.as_deref(), Some("is0123"));
        let m = whatsapp(read_message(
            b"ContentSid=HX1&ContentVariables=%7B%221%22%3A%22Anna%22%7D&Subject=Booking&Future=unlisted",
            "",
            None,
        ));
        assert_eq!(m.view.message_type, "template");
        assert_eq!(m.view.texts, ["Booking", "Anna", "unlisted"]);
        assert_eq!(m.sender, None);
    }

    #[test]
    fn ambiguous_or_unreadable_v1_messages_are_invalid() {
        for body in [
            &b"Author=a&Author=b&Body=x"[..],
            b"ContentSid=HX1&ContentSid=HX2",
            b"\xff=x",
        ] {
            assert_eq!(
                read_message(body, "", None).unwrap_err(),
                BodyProblem::InvalidJson
            );
        }
    }

    #[test]
    fn a_v2_action_is_whatsapp_by_its_channel() {
        let m = whatsapp(read_action(
            br#"{"type":"SEND_MESSAGE","payload":{"to":[{"channel":"WHATSAPP","address":"whatsapp:+4915112345678"}],
                "from":{"address":"whatsapp:+14155550100"},"content":{"text":"Your repair is booked.","contentId":"HX1","variables":{"1":"Anna"}}}}"#,
        ));
        assert_eq!(m.view.message_type, "template");
        assert_eq!(m.view.texts, ["Your repair is booked.", "Anna"]);
        assert_eq!(m.sender.as_deref(), Some("+14155550100"));
        assert_eq!(m.view.recipient.as_deref(), Some("+4915112345678"));
        for body in [
            &br#"{"type":"SEND_MESSAGE","payload":{"to":[{"channel":"SMS","address":"+49151"}],"content":{"text":"x"}}}"#[..],
            br#"{"type":"SEND_MESSAGE"}"#,
        ] {
            assert_eq!(read_action(body).unwrap(), ProviderSend::NotWhatsApp);
        }
        assert_eq!(read_action(b"[]").unwrap_err(), BodyProblem::InvalidJson);
        assert_eq!(read_action(b"").unwrap_err(), BodyProblem::InvalidJson);
    }
}
