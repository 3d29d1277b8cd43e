//! AWS End User Messaging Social (`social-messaging.{region}.amazonaws.com`):
//! `POST /v1/whatsapp/send` (`SendWhatsAppMessage`), JSON
//! `{originationPhoneNumberId, metaApiVersion, message}` where `message` is Meta's Cloud API
//! message object as a blob: base64 in AWS's JSON protocols. The send is WhatsApp by its path.
//!
//! What a recipient reads: the decoded `message`, read by the Cloud API reader as a Graph send
//! is. Every other top-level string but the documented ids is read too. A `message` that is not
//! base64 of a JSON object cannot be read: the body is invalid (fail closed).

use super::BodyProblem;
use super::{ProviderMessage, ProviderSend, sweep_strings};
use crate::whatsapp::fields::read_message;
use base64::Engine as _;
use serde_json::Value;

/// Top-level keys AWS documents as ids or settings; `message` is read decoded.
const MACHINE_KEYS: &[&str] = &["originationphonenumberid", "metaapiversion", "message"];

const MAX_DEPTH: usize = 32;

/// Reads a decoded body of a `SendWhatsAppMessage` request.
pub fn read(body: &[u8]) -> Result<ProviderSend, BodyProblem> {
    let value = crate::strict_json::from_slice(body).map_err(|_| BodyProblem::InvalidJson)?;
    let Value::Object(o) = &value else {
        return Err(BodyProblem::InvalidJson);
    };
    let blob = o
        .get("message")
        .and_then(Value::as_str)
        .ok_or(BodyProblem::InvalidJson)?;
    let compact: String = blob.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(compact.as_bytes()))
        .map_err(|_| BodyProblem::InvalidJson)?;
    let meta = crate::strict_json::from_slice(&bytes).map_err(|_| BodyProblem::InvalidJson)?;
    if !meta.is_object() {
        return Err(BodyProblem::InvalidJson);
    }
    let mut view = read_message(&meta);
    let mut more = Vec::new();
    sweep_strings(&value, MACHINE_KEYS, &[], MAX_DEPTH, &mut more);
    for t in more {
        if !t.trim().is_empty() && !view.texts.contains(&t) {
            view.texts.push(t);
        }
    }
    let sender = o
        .get("originationPhoneNumberId")
        .and_then(Value::as_str)
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
    Ok(ProviderSend::WhatsApp(ProviderMessage { view, sender }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send(meta: &str) -> String {
        let blob = base64::engine::general_purpose::STANDARD.encode(meta);
        format!(
            r#"{{"originationPhoneNumberId":"phone-number-id-0a1b2c3d","metaApiVersion":"v20.0","message":"{blob}"}}"#
        )
    }

    #[test]
    fn the_message_blob_is_read_as_metas_object() {
        let body = send(
            r#"{"messaging_product":"whatsapp","to":"4915112345678","type":"text","text":{"body":"Your parcel arrives today."}}"#,
        );
        let ProviderSend::WhatsApp(m) = read(body.as_bytes()).unwrap() else {
            panic!("not read");
        };
        assert_eq!(m.view.message_type, "text");
        assert_eq!(m.view.texts, ["Your parcel arrives today."]);
        assert_eq!(m.view.recipient.as_deref(), Some("4915112345678"));
        assert_eq!(m.sender.as_deref(), Some("phone-number-id-0a1b2c3d"));
    }

    #[test]
    fn an_unreadable_blob_is_invalid() {
        for body in [
            r#"{"message":"not base64!"}"#.to_owned(),
            r#"{"message":{"type":"text"}}"#.to_owned(),
            r#"{"originationPhoneNumberId":"p"}"#.to_owned(),
            send("[1]"),
            send("plain text"),
            "[]".to_owned(),
        ] {
            assert_eq!(
                read(body.as_bytes()).unwrap_err(),
                BodyProblem::InvalidJson,
                "{body}"
            );
        }
    }
}
