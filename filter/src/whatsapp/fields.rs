//! Every text a recipient reads, from a send, a template definition or a flow definition.
//!
//! Known fields are read first, in document order, so that each one is scored as a part of its
//! own. Then every other string of the body is read too, except the fields the API documents as
//! machine data (ids, codes, URLs, enums): a field this list does not know yet, a carousel card
//! or a flow payload cannot carry text past the classifier. A string holding a JSON object or
//! array is read as that object, because Graph parses such values (`"text": "{\"body\": ...}"`).

mod collect;
mod sweep;

use collect::{collect_all_strings, collect_creation_components, collect_message_texts, str_at};
use serde_json::Value;
use sweep::{sweep, unpack_json_strings};

/// How deep bodies are walked.
const MAX_WALK_DEPTH: usize = 32;

/// Message types of the Cloud API and of this filter's other readings. A type a body names that
/// is not in this list is logged as `other`, never copied from the body.
pub const KNOWN_TYPES: &[&str] = &[
    "text",
    "template",
    "interactive",
    "image",
    "video",
    "document",
    "audio",
    "sticker",
    "location",
    "reaction",
    "contacts",
    "read",
    "template_creation",
    "flow_definition",
    "media",
    "object_update",
];

/// A parsed send: its type, recipient and every text a recipient reads.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MessageView {
    /// The message type: one of [`KNOWN_TYPES`] or `other`. `text` when absent (the API's
    /// default), `read` for mark-as-read.
    pub message_type: String,
    pub recipient: Option<String>,
    /// The send names more than one recipient (a provider's bulk or group send); `recipient`
    /// is then the first. The conversation rules, which key a send by its recipient, refuse it.
    pub multiple_recipients: bool,
    /// A Cloud API send's `recipient` (a business-scoped user id) when it names `to` as well,
    /// which is then `recipient` above. The conversation rules keep such a send only when both
    /// name one conversation.
    pub also_recipient: Option<String>,
    /// How many messages the request delivers (a provider's bulk of several messages to one
    /// recipient delivers each): the unanswered budget counts every one. 0 reads as 1.
    pub deliveries: u32,
    /// The template's name, for template sends and definitions, when it is a valid Meta
    /// template name (see [`template_name`]): logged, so never any other body string.
    pub template_name: Option<String>,
    /// The template's category for template definitions: `marketing`, `utility` or
    /// `authentication` (see [`template_category`]).
    pub template_category: Option<String>,
    /// User-visible texts in document order.
    pub texts: Vec<String>,
}

impl MessageView {
    /// The text scored by the classifier: all visible fields, one per line.
    pub fn visible_text(&self) -> String {
        self.texts.join("\n")
    }

    fn push(&mut self, s: &str) {
        if !s.trim().is_empty() && !self.texts.iter().any(|t| t == s) {
            self.texts.push(s.to_owned());
        }
    }
}

/// A Meta template name as logged: 1 to 512 of `[a-z0-9_]`, as Meta requires of every
/// template's name. Anything else (free text, an id of another shape) is `None`, so a body
/// string that is not a template name never reaches a log line.
pub fn template_name(raw: &str) -> Option<String> {
    let name = raw.trim();
    let valid = (1..=512).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    valid.then(|| name.to_owned())
}

/// A template category as logged: one of Meta's three, in lower case; anything else is `None`.
pub fn template_category(raw: &str) -> Option<String> {
    let category = raw.trim().to_ascii_lowercase();
    ["marketing", "utility", "authentication"]
        .contains(&category.as_str())
        .then_some(category)
}

/// The type a body names, as logged: a known type, or `other`.
pub fn known_type(raw: &str) -> String {
    let t = raw.trim().to_ascii_lowercase();
    if KNOWN_TYPES.contains(&t.as_str()) {
        t
    } else {
        "other".to_owned()
    }
}

/// Reads a send body (`/messages`, `/marketing_messages`).
pub fn read_message(body: &Value) -> MessageView {
    read_as_sent_and_parsed(body, read_message_as_is)
}

/// A string holding JSON is read twice: as the text a recipient would see if Graph keeps it a
/// string, and as the object Graph would parse it into. The view is the as-sent reading, with
/// the parsed reading's texts added.
fn read_as_sent_and_parsed(body: &Value, read: fn(&Value) -> MessageView) -> MessageView {
    let mut view = read(body);
    let unpacked = unpack_json_strings(body);
    if &unpacked != body {
        let parsed = read(&unpacked);
        for t in &parsed.texts {
            view.push(t);
        }
        view.template_name = view.template_name.or(parsed.template_name);
        view.template_category = view.template_category.or(parsed.template_category);
    }
    view
}

fn read_message_as_is(obj: &Value) -> MessageView {
    let named = |field: &str| str_at(obj, &[field]).filter(|v| !v.trim().is_empty());
    let to = named("to");
    let user_id = named("recipient");
    let (recipient, also_recipient) = match to {
        Some(to) => (Some(to), user_id),
        None => (user_id, None),
    };
    let is_read_receipt = str_at(obj, &["status"]).is_some_and(|s| s.eq_ignore_ascii_case("read"));
    let named_type = match str_at(obj, &["type"]) {
        Some(t) => t.trim().to_ascii_lowercase(),
        None if is_read_receipt => "read".to_owned(),
        None => "text".to_owned(),
    };
    let mut texts = Vec::new();
    collect_message_texts(obj, &named_type, &mut texts);
    let template_name = (named_type == "template")
        .then(|| str_at(obj, &["template", "name"]))
        .flatten()
        .and_then(|n| template_name(&n));
    let mut view = MessageView {
        message_type: known_type(&named_type),
        recipient,
        multiple_recipients: false,
        also_recipient,
        deliveries: 1,
        template_name,
        template_category: None,
        texts: Vec::new(),
    };
    for t in &texts {
        view.push(t);
    }
    sweep(obj, &mut view, 0);
    view
}

/// Reads a template definition (`/message_templates`, `/upsert_message_templates`, an edit).
pub fn read_template_creation(body: &Value) -> MessageView {
    read_as_sent_and_parsed(body, read_template_as_is)
}

fn read_template_as_is(body: &Value) -> MessageView {
    let mut texts = Vec::new();
    collect_creation_components(body.get("components"), &mut texts, 0);
    let mut view = MessageView {
        message_type: "template_creation".to_owned(),
        recipient: None,
        multiple_recipients: false,
        also_recipient: None,
        deliveries: 1,
        template_name: str_at(body, &["name"]).and_then(|n| template_name(&n)),
        template_category: str_at(body, &["category"]).and_then(|c| template_category(&c)),
        texts: Vec::new(),
    };
    for t in &texts {
        view.push(t);
    }
    // `upsert_message_templates` carries several languages' components under `languages`.
    sweep(body, &mut view, 0);
    view
}

/// Reads a flow definition: a `/flows` creation with `flow_json`, a flow update, or the Flow
/// JSON itself (an `/assets` upload). Every screen's texts are read.
pub fn read_flow(body: &Value) -> MessageView {
    let mut view = MessageView {
        message_type: "flow_definition".to_owned(),
        ..MessageView::default()
    };
    // `flow_json` is a JSON string by contract, never shown as such: only its parse is read.
    sweep(&unpack_json_strings(body), &mut view, 0);
    view
}

/// Reads a body that is neither a send nor a definition: every string the sweep keeps.
pub fn read_other(body: &Value, message_type: &str) -> MessageView {
    let mut view = MessageView {
        message_type: known_type(message_type),
        ..MessageView::default()
    };
    sweep(body, &mut view, 0);
    sweep(&unpack_json_strings(body), &mut view, 0);
    view
}

/// Keys whose text a WhatsApp user reads on an object other than a message: a catalogue
/// product's name and descriptions (product messages), a group's subject and description, a QR
/// code's prefilled message.
const OBJECT_TEXT_KEYS: &[&str] = &[
    "name",
    "title",
    "description",
    "short_description",
    "rich_text_description",
    "subject",
    "prefilled_message",
];

/// Reads an object update (`POST /{id}` without template components or a flow) or an `object`
/// edge. The same host serves the whole Graph API, whose objects (a Page's posts, ads) are no
/// WhatsApp content: so only the fields a WhatsApp user reads on an object are scored, wherever
/// they sit (a batch's `requests[].data`, a JSON string). A body that declares itself a WhatsApp
/// object (`messaging_product: whatsapp`, as group updates do) has every string read, as a send.
pub fn read_object(body: &Value) -> MessageView {
    let whatsapp = body
        .get("messaging_product")
        .and_then(Value::as_str)
        .is_some_and(|p| p.trim().eq_ignore_ascii_case("whatsapp"));
    if whatsapp {
        return read_other(body, "object_update");
    }
    let mut view = MessageView {
        message_type: "object_update".to_owned(),
        ..MessageView::default()
    };
    let mut texts = Vec::new();
    collect_object_texts(body, &mut texts, 0);
    collect_object_texts(&unpack_json_strings(body), &mut texts, 0);
    for t in &texts {
        view.push(t);
    }
    view
}

fn collect_object_texts(v: &Value, out: &mut Vec<String>, depth: usize) {
    if depth > MAX_WALK_DEPTH {
        return;
    }
    match v {
        Value::Array(a) => a
            .iter()
            .for_each(|x| collect_object_texts(x, out, depth + 1)),
        Value::Object(o) => {
            for (k, x) in o {
                if OBJECT_TEXT_KEYS.contains(&k.to_ascii_lowercase().as_str()) {
                    collect_all_strings(x, out, depth + 1);
                } else {
                    collect_object_texts(x, out, depth + 1);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_valid_meta_template_names_are_kept() {
        assert_eq!(
            template_name(" order_update_2 ").as_deref(),
            Some("order_update_2")
        );
        for bad in [
            "",
            "Order_Update",
            "order update",
            "ns:order",
            "ordér",
            "a-b",
        ] {
            assert_eq!(template_name(bad), None, "{bad}");
        }
        assert!(template_name(&"a".repeat(512)).is_some());
        assert_eq!(template_name(&"a".repeat(513)), None);
    }

    #[test]
    fn a_template_send_names_its_template() {
        let send = json!({"messaging_product": "whatsapp", "to": "1", "type": "template",
            "template": {"name": "order_update", "language": {"code": "en"}}});
        assert_eq!(
            read_message(&send).template_name.as_deref(),
            Some("order_update")
        );
        // As a JSON string, which Graph parses.
        let send = json!({"to": "1", "type": "template",
            "template": "{\"name\": \"order_update\"}"});
        assert_eq!(
            read_message(&send).template_name.as_deref(),
            Some("order_update")
        );
        // Free text under `name` is not a template name; a text send has none.
        let send =
            json!({"to": "1", "type": "template", "template": {"name": "Hello there, Anna"}});
        assert_eq!(read_message(&send).template_name, None);
        let send = json!({"to": "1", "type": "text", "text": {"body": "hi"},
            "template": {"name": "order_update"}});
        assert_eq!(read_message(&send).template_name, None);
    }

    #[test]
    fn a_template_definition_names_its_template_and_category() {
        let def = json!({"name": "payment_due", "category": "UTILITY", "language": "en",
            "components": [{"type": "BODY", "text": "Your payment is due."}]});
        let view = read_template_creation(&def);
        assert_eq!(
            (
                view.template_name.as_deref(),
                view.template_category.as_deref()
            ),
            (Some("payment_due"), Some("utility"))
        );
        let def = json!({"name": "Payment due!", "category": "PROMOTIONAL"});
        let view = read_template_creation(&def);
        assert_eq!((view.template_name, view.template_category), (None, None));
    }
}
