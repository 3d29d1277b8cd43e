//! Gupshup's form sends: the self-serve API on `api.gupshup.io` (`POST /wa/api/v1/msg`,
//! `/wa/api/v1/template/msg`, the older `/sm/api/v1/msg`) and the partner API's template send
//! (`POST /partner/app/{appId}/template/msg`). The partner API's Meta-format sends (`v3/message`,
//! MM Lite) are Meta's Cloud API object and are read by the Cloud API readers instead.
//!
//! The form carries `channel=whatsapp`, the sender (`source`), the recipient (`destination`) and
//! the message as a JSON string (`message={"type":"text","text":"..."}`), or a template reference
//! with its parameters as another JSON string (`template={"id":"<uuid>","params":[...]}`: the
//! template's own text was reviewed by Meta and is not in the request). `/sm/` also sends SMS:
//! there the send is WhatsApp only when `channel` is `whatsapp`; `/wa/` and the partner API carry
//! WhatsApp only. What a recipient reads: every string of `message` and every parameter of
//! `template` but the documented ids, URLs and button payloads, and every form field Gupshup does
//! not document as machine data.

use super::BodyProblem;
use super::form::{Form, view};
use super::twilio::number;
use super::{ProviderMessage, ProviderSend, sweep_strings};
use crate::whatsapp::fields::known_type;
use serde_json::Value;

/// Form fields Gupshup documents as addresses, names, flags or button payloads: never shown to
/// a recipient. Compared lowercased.
const MACHINE_FIELDS: &[&str] = &[
    "channel",
    "source",
    "destination",
    "src.name",
    "disablepreview",
    "encode",
    "postbacktexts",
    "ishsm",
];

/// Fields holding JSON strings, read as their parse.
const JSON_FIELDS: &[&str] = &["message", "template"];

/// Fields that name one thing: two different values make the send ambiguous.
const SINGLE_FIELDS: &[&str] = &["channel", "source", "destination", "message", "template"];

/// Keys inside `message` and `template` that are ids, URLs, enums or button payloads.
const MACHINE_KEYS: &[&str] = &[
    "type",
    "id",
    "url",
    "originalurl",
    "previewurl",
    "link",
    "mediaid",
    "postbacktext",
    "msgid",
    "catalogid",
    "productid",
    "productretailerid",
    "longitude",
    "latitude",
];

const MAX_DEPTH: usize = 32;

/// Reads a decoded form body and the query string of a send on `segments` (the normalised
/// path). A body that is not UTF-8 cannot be told apart from a WhatsApp send: it is invalid.
pub fn read(
    segments: &[String],
    body: &[u8],
    raw_query: &str,
) -> Result<ProviderSend, BodyProblem> {
    let form = Form::read(body, raw_query)?;
    form.single_valued(SINGLE_FIELDS, str::trim)?;
    let whatsapp_only = !matches!(segments.first().map(String::as_str), Some("sm"));
    let named_whatsapp = form
        .first("channel")
        .is_some_and(|c| c.trim().eq_ignore_ascii_case("whatsapp"));
    if !(whatsapp_only || named_whatsapp) {
        return Ok(ProviderSend::NotWhatsApp);
    }
    let message = form.first("message").map(parse);
    let template = form.first("template").map(parse);
    let message_type = if template.is_some() {
        "template".to_owned()
    } else {
        message
            .as_ref()
            .map_or_else(|| "text".to_owned(), message_type)
    };
    let mut texts = Vec::new();
    for part in [&template, &message].into_iter().flatten() {
        match part {
            Value::String(s) => texts.push(s.clone()),
            other => sweep_strings(other, MACHINE_KEYS, &[], MAX_DEPTH, &mut texts),
        }
    }
    texts.extend(
        form.undocumented(&[MACHINE_FIELDS, JSON_FIELDS])
            .map(str::to_owned),
    );
    let view = view(message_type, form.first("destination").map(number), texts);
    // A partner template send without `source`: the app, which has one number.
    let app = match segments {
        [partner, app_word, app, ..] if partner == "partner" && app_word == "app" => Some(app),
        _ => None,
    };
    let sender = form
        .first("source")
        .map(number)
        .filter(|s| !s.is_empty())
        .or_else(|| app.cloned());
    Ok(ProviderSend::WhatsApp(ProviderMessage { view, sender }))
}

/// A JSON field's parse; a value that is not JSON is the text it is (Gupshup sends a plain
/// `message` as text).
fn parse(raw: &str) -> Value {
    crate::strict_json::from_slice(raw.as_bytes()).unwrap_or_else(|_| Value::String(raw.to_owned()))
}

/// The message type of a `message` object: Gupshup's names mapped to the Cloud API's.
fn message_type(message: &Value) -> String {
    let named = message
        .get("type")
        .and_then(Value::as_str)
        .map(|t| t.trim().to_ascii_lowercase());
    match named.as_deref() {
        None => "text".to_owned(),
        Some("file") => "document".to_owned(),
        Some("contact") => "contacts".to_owned(),
        Some("quick_reply" | "list" | "catalog" | "product_details") => "interactive".to_owned(),
        Some(other) => known_type(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segs(path: &str) -> Vec<String> {
        crate::whatsapp::normalize_path(path).segments
    }

    fn whatsapp(path: &str, body: &str) -> ProviderMessage {
        match read(&segs(path), body.as_bytes(), "").unwrap() {
            ProviderSend::WhatsApp(m) => m,
            ProviderSend::NotWhatsApp => panic!("not WhatsApp: {body}"),
        }
    }

    #[test]
    fn a_session_text_is_read_from_its_json_string() {
        let m = whatsapp(
            "/wa/api/v1/msg",
            "channel=whatsapp&source=917834811114&destination=4915112345678&src.name=DemoApp&message=%7B%22type%22%3A%22text%22%2C%22text%22%3A%22Your%20parcel%20arrives%20today.%22%7D",
        );
        assert_eq!(m.view.message_type, "text");
        assert_eq!(m.view.texts, ["Your parcel arrives today."]);
        assert_eq!(m.sender.as_deref(), Some("917834811114"));
        assert_eq!(m.view.recipient.as_deref(), Some("4915112345678"));
    }

    #[test]
    fn quick_replies_lists_and_templates() {
        let m = whatsapp(
            "/wa/api/v1/msg",
            r#"channel=whatsapp&source=91&destination=49&message={"type":"quick_reply","msgid":"qr1","content":{"type":"text","header":"Delivery","text":"Pick a slot","caption":"Reply by 6pm"},"options":[{"type":"text","title":"Morning","postbackText":"slot-am"}]}"#,
        );
        assert_eq!(m.view.message_type, "interactive");
        assert_eq!(
            m.view.texts,
            ["Reply by 6pm", "Delivery", "Pick a slot", "Morning"]
        );
        let m = whatsapp(
            "/wa/api/v1/template/msg",
            r#"source=91&destination=49&template={"id":"5f1c2a9e-0b3d-4c7a-9e21-6d8f0a4b7c13","params":["Anna","No. 1042"]}&message={"type":"image","image":{"link":"https://x.example/a.png"}}&postbackTexts=[{"index":0,"text":"track-1042"}]"#,
        );
        assert_eq!(m.view.message_type, "template");
        assert_eq!(m.view.texts, ["Anna", "No. 1042"]);
        // A plain message is read as the text it is; an unlisted field is read too.
        let m = whatsapp(
            "/partner/app/8a1b/template/msg",
            "source=91&message=hello+there&note=unlisted",
        );
        assert_eq!(m.view.texts, ["hello there", "unlisted"]);
    }

    #[test]
    fn sms_on_the_generic_api_is_not_whatsapp() {
        for body in [
            "channel=sms&source=91&destination=49&message=Hi",
            "source=91&destination=49&message=Hi",
        ] {
            assert_eq!(
                read(&segs("/sm/api/v1/msg"), body.as_bytes(), "").unwrap(),
                ProviderSend::NotWhatsApp
            );
        }
        let m = whatsapp("/sm/api/v1/msg", "channel=WhatsApp&message=Hi");
        assert_eq!(m.view.texts, ["Hi"]);
    }

    #[test]
    fn ambiguous_sends_are_invalid() {
        for body in [
            "channel=whatsapp&message=a&message=b",
            "source=1&source=2&message=a",
            "channel=whatsapp&channel=sms&message=a",
        ] {
            assert_eq!(
                read(&segs("/wa/api/v1/msg"), body.as_bytes(), "").unwrap_err(),
                BodyProblem::InvalidJson,
                "{body}"
            );
        }
    }
}
