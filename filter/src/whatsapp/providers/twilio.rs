//! Twilio Programmable Messaging: `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`, a
//! form (`To=whatsapp:+...&From=whatsapp:+...&Body=...`).
//!
//! The same endpoint sends SMS, MMS and RCS; the send is WhatsApp when its `To` is a
//! `whatsapp:` address. What a recipient reads: `Body`, the values of `ContentVariables` (a
//! JSON string substituted into the content template `ContentSid` names; the template's own
//! text was reviewed by Meta when it was approved and is not in the request) and the label of
//! a `PersistentAction`. Every other field Twilio does not document as machine data is read
//! too, so a field this list does not know cannot carry text past the classifier.

pub mod conversations;

use super::form::{Form, view};
use super::{ProviderMessage, ProviderSend};
use crate::whatsapp::body::BodyProblem;
use serde_json::Value;

/// Fields Twilio documents as addresses, ids, URLs, flags or enums: never shown to a recipient.
/// Compared lowercased.
const MACHINE_FIELDS: &[&str] = &[
    "to",
    "from",
    "messagingservicesid",
    "mediaurl",
    "contentsid",
    "statuscallback",
    "applicationsid",
    "maxprice",
    "providefeedback",
    "attempt",
    "validityperiod",
    "forcedelivery",
    "contentretention",
    "addressretention",
    "smartencoded",
    "traffictype",
    "shortenurls",
    "scheduletype",
    "sendat",
    "sendasmms",
    "riskcheck",
];

/// Fields a recipient reads, read first and in this order.
const VISIBLE_FIELDS: &[&str] = &["body", "contentvariables", "persistentaction"];

/// Fields that name one thing: two different values make the send ambiguous.
const SINGLE_FIELDS: &[&str] = &["to", "from", "messagingservicesid", "contentsid"];

/// How deep a `ContentVariables` value is walked.
const MAX_DEPTH: usize = 16;

/// Reads a decoded body of a Twilio request on `segments` (the normalised path): a
/// Conversations message or action, or a Programmable Messaging create.
pub fn read_any(
    segments: &[String],
    body: &[u8],
    raw_query: &str,
) -> Result<ProviderSend, BodyProblem> {
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    match segs.as_slice() {
        ["v1", "services", service, "conversations", ..] => {
            conversations::read_message(body, raw_query, Some(service))
        }
        ["v1", "conversations", ..] => conversations::read_message(body, raw_query, None),
        ["v2", "conversations", ..] => conversations::read_action(body),
        _ => read(body, raw_query),
    }
}

/// Reads a decoded form body and the query string. The sender is `From` without `whatsapp:`
/// (`+` and digits only), or the Messaging Service SID that picks the number. Fields of both count (the query fills what
/// the body leaves out). A body that is not UTF-8 cannot be told apart from a WhatsApp send:
/// it is invalid.
pub fn read(body: &[u8], raw_query: &str) -> Result<ProviderSend, BodyProblem> {
    let form = Form::read(body, raw_query)?;
    let to = form.values("to");
    let Some(recipient) = to.iter().find(|v| strip_channel(v).is_some()) else {
        return Ok(ProviderSend::NotWhatsApp);
    };
    // Which of two `To`, `From` or template ids Twilio would act on is not documented.
    form.single_valued(SINGLE_FIELDS, |v| v)?;
    let sender = form
        .first("from")
        .map(|f| number(strip_channel(f).unwrap_or(f)))
        .filter(|s| !s.is_empty())
        .or_else(|| {
            form.first("messagingservicesid")
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
        });
    let message_type = if form.first("contentsid").is_some() {
        "template"
    } else if form.first("mediaurl").is_some() {
        "media"
    } else if form.first("persistentaction").is_some() {
        "location"
    } else {
        "text"
    };
    let texts = form_texts(&form, VISIBLE_FIELDS, MACHINE_FIELDS);
    let view = view(message_type, strip_channel(recipient).map(number), texts);
    Ok(ProviderSend::WhatsApp(ProviderMessage { view, sender }))
}

/// The texts of a Twilio form: the `visible` fields in their order (the values of
/// `ContentVariables`), then every field that is neither visible nor in `machine`.
fn form_texts(form: &Form, visible: &[&str], machine: &[&str]) -> Vec<String> {
    let mut texts = Vec::new();
    for name in visible {
        for v in form.values(name) {
            if *name == "contentvariables" {
                content_variables(v, &mut texts);
            } else {
                texts.push(v.to_owned());
            }
        }
    }
    texts.extend(form.undocumented(&[machine, visible]).map(str::to_owned));
    texts
}

/// The address after a `whatsapp:` prefix (any case, blanks around it ignored).
fn strip_channel(address: &str) -> Option<&str> {
    let a = address.trim_start();
    let prefix = a.get(..9)?;
    prefix
        .eq_ignore_ascii_case("whatsapp:")
        .then(|| a.get(9..).unwrap_or_default())
}

/// A phone number as rules compare it: `+` and digits, without blanks and punctuation.
pub(super) fn number(raw: &str) -> String {
    raw.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '+')
        .collect()
}

/// The values of `ContentVariables`; a value that is not JSON is read as the text it is.
fn content_variables(raw: &str, out: &mut Vec<String>) {
    match crate::strict_json::from_slice(raw.as_bytes()) {
        Ok(v) => strings(&v, out, 0),
        Err(_) => out.push(raw.to_owned()),
    }
}

fn strings(v: &Value, out: &mut Vec<String>, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out, depth + 1)),
        Value::Object(o) => o.values().for_each(|x| strings(x, out, depth + 1)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whatsapp(body: &str) -> ProviderMessage {
        match read(body.as_bytes(), "").unwrap() {
            ProviderSend::WhatsApp(m) => m,
            ProviderSend::NotWhatsApp => panic!("not WhatsApp: {body}"),
        }
    }

    #[test]
    fn a_whatsapp_text_is_read() {
        let m = whatsapp(
            "To=whatsapp%3A%2B4915112345678&From=whatsapp%3A%2B1%20415-555-0100&Body=Your+parcel+arrives+today.",
        );
        assert_eq!(m.view.message_type, "text");
        assert_eq!(m.view.texts, ["Your parcel arrives today."]);
        assert_eq!(m.view.recipient.as_deref(), Some("+4915112345678"));
        assert_eq!(m.sender.as_deref(), Some("+14155550100"));
    }

    #[test]
    fn sms_and_other_channels_are_not_whatsapp() {
        for body in [
            "To=%2B4915112345678&From=%2B14155550100&Body=Hi",
            "To=rcs%3Aacme&Body=Hi",
            "Body=whatsapp%3A%2B1",
            "",
        ] {
            assert_eq!(
                read(body.as_bytes(), "").unwrap(),
                ProviderSend::NotWhatsApp,
                "{body}"
            );
        }
    }

    #[test]
    fn the_whatsapp_prefix_in_any_case_or_in_the_query_counts() {
        let m = whatsapp("To=+WhatsApp:%2B4915112345678&Body=x");
        assert_eq!(m.view.recipient.as_deref(), Some("+4915112345678"));
        let ProviderSend::WhatsApp(m) = read(
            b"Body=hello",
            "To=whatsapp:%2B4915112345678&MessagingServiceSid=MG1",
        )
        .unwrap() else {
            panic!("query To not read");
        };
        assert_eq!(
            (m.view.texts.as_slice(), m.sender.as_deref()),
            (&["hello".to_owned()][..], Some("MG1"))
        );
    }

    #[test]
    fn content_template_variables_are_read() {
        let m = whatsapp(
            "To=whatsapp:%2B49151&From=whatsapp:%2B1415&ContentSid=HX0123&ContentVariables=%7B%221%22%3A%22Anna%22%2C%222%22%3A%22Tuesday%22%7D",
        );
        assert_eq!(m.view.message_type, "template");
        assert_eq!(m.view.texts, ["Anna", "Tuesday"]);
        // Not JSON: read as it is.
        let m = whatsapp("To=whatsapp:%2B49151&ContentSid=HX1&ContentVariables=just+words");
        assert_eq!(m.view.texts, ["just words"]);
    }

    #[test]
    fn media_location_and_unknown_fields() {
        let m = whatsapp(
            "To=whatsapp:%2B49151&MediaUrl=https%3A%2F%2Fx.example%2Fa.png&MediaUrl=https%3A%2F%2Fx.example%2Fb.png&Body=Caption",
        );
        assert_eq!(
            (m.view.message_type.as_str(), m.view.texts.as_slice()),
            ("media", &["Caption".to_owned()][..])
        );
        let m = whatsapp(
            "To=whatsapp:%2B49151&PersistentAction=geo%3A1%2C2%7COur+shop&StatusCallback=https%3A%2F%2Fcb",
        );
        assert_eq!(
            (m.view.message_type.as_str(), m.view.texts.as_slice()),
            ("location", &["geo:1,2|Our shop".to_owned()][..])
        );
        let m = whatsapp("To=whatsapp:%2B49151&Body=a&FutureCaption=unlisted+text");
        assert_eq!(m.view.texts, ["a", "unlisted text"]);
    }

    #[test]
    fn ambiguous_sends_are_invalid() {
        for body in [
            "To=whatsapp:%2B1&To=whatsapp:%2B2&Body=x",
            "To=whatsapp:%2B1&From=whatsapp:%2B3&From=whatsapp:%2B4&Body=x",
            "To=whatsapp:%2B1&ContentSid=HX1&ContentSid=HX2",
        ] {
            assert_eq!(
                read(body.as_bytes(), "").unwrap_err(),
                BodyProblem::InvalidJson,
                "{body}"
            );
        }
        assert_eq!(
            read(&[0xff, b'='], "").unwrap_err(),
            BodyProblem::InvalidJson
        );
        // The same value twice is one value; every Body is read.
        let m = whatsapp("To=whatsapp:%2B1&To=whatsapp:%2B1&Body=one&Body=two");
        assert_eq!(m.view.texts, ["one", "two"]);
    }
}
