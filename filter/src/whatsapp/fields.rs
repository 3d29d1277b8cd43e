//! Every text a recipient reads, from a send, a template definition or a flow definition.
//!
//! Known fields are read first, in document order, so that each one is scored as a part of its
//! own. Then every other string of the body is read too, except the fields the API documents as
//! machine data (ids, codes, URLs, enums): a field this list does not know yet, a carousel card
//! or a flow payload cannot carry text past the classifier. A string holding a JSON object or
//! array is read as that object, because Graph parses such values (`"text": "{\"body\": ...}"`).

use serde_json::Value;

/// How deep strings holding JSON are unpacked, and how deep bodies are walked.
const MAX_JSON_IN_STRING_DEPTH: usize = 4;
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

/// Keys whose values the API documents as machine data, never shown as text: skipped by the
/// sweep over the rest of a body. Known visible fields are read before the sweep whatever their
/// key (`location.name`, a contact's `name`).
const MACHINE_KEYS: &[&str] = &[
    "messaging_product",
    "recipient_type",
    "to",
    "recipient",
    "type",
    "sub_type",
    "index",
    "id",
    "message_id",
    "wa_id",
    "status",
    "link",
    "url",
    "code",
    "policy",
    "language",
    "languages",
    "category",
    "name",
    "format",
    "parameter_format",
    "mime_type",
    "sha256",
    "file_size",
    "latitude",
    "longitude",
    "catalog_id",
    "product_retailer_id",
    "thumbnail_product_retailer_id",
    "flow_id",
    "flow_token",
    "flow_message_version",
    "flow_action",
    "mode",
    "screen",
    "card_index",
    "amount_1000",
    "currency_code",
    "timestamp",
    "preview_url",
    "messaging_product_type",
    "typing_indicator",
    "version",
    "data_api_version",
    "routing_model",
    "input-type",
    "publish",
    "categories",
    "asset_type",
    "endpoint_uri",
    "parameter_name",
    "reference_id",
    "payment_type",
    "payment_configuration",
    "currency",
];

/// Fields the API never shows to a recipient whatever they hold: echoed to the business's own
/// webhook only.
const NEVER_SHOWN: &[&str] = &["biz_opaque_callback_data"];

/// A parsed send: its type, recipient and every text a recipient reads.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MessageView {
    /// The message type: one of [`KNOWN_TYPES`] or `other`. `text` when absent (the API's
    /// default), `read` for mark-as-read.
    pub message_type: String,
    pub recipient: Option<String>,
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
    let recipient = str_at(obj, &["to"]).or_else(|| str_at(obj, &["recipient"]));
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

/// A copy of `v` where every string holding a JSON object or array is replaced by it.
fn unpack_json_strings(v: &Value) -> Value {
    unpack(v, 0, 0)
}

fn unpack(v: &Value, depth: usize, unpacked: usize) -> Value {
    if depth > MAX_WALK_DEPTH {
        return Value::Null;
    }
    match v {
        Value::String(s) if unpacked < MAX_JSON_IN_STRING_DEPTH => {
            match s.trim_start().as_bytes().first() {
                // Strictly if possible; else as a lenient parser would (the last of a
                // repeated key; the earlier ones are read from the string itself, unescaped).
                Some(b'{' | b'[') => match crate::strict_json::from_slice(s.as_bytes())
                    .or_else(|_| serde_json::from_str::<Value>(s))
                {
                    Ok(inner) => unpack(&inner, depth + 1, unpacked + 1),
                    Err(_) => v.clone(),
                },
                _ => v.clone(),
            }
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| unpack(x, depth + 1, unpacked)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (k.clone(), unpack(x, depth + 1, unpacked)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Every string under `v` that is not under a machine key, depth-bounded.
fn sweep(v: &Value, view: &mut MessageView, depth: usize) {
    if depth > MAX_WALK_DEPTH {
        return;
    }
    match v {
        Value::String(s) => {
            view.push(s);
            // JSON held in a string: its escapes (`\u0061`) decoded, so that a value the
            // parse did not keep (a repeated key) is still read as text.
            if matches!(s.trim_start().as_bytes().first(), Some(b'{' | b'[')) && s.contains('\\') {
                view.push(&unescape_json_text(s));
            }
        }
        Value::Array(a) => a.iter().for_each(|x| sweep(x, view, depth + 1)),
        Value::Object(o) => {
            for (k, x) in o {
                let key = k.to_ascii_lowercase();
                if NEVER_SHOWN.contains(&key.as_str()) {
                    continue;
                }
                if MACHINE_KEYS.contains(&key.as_str()) {
                    sweep_machine(x, view, depth + 1);
                } else {
                    sweep(x, view, depth + 1);
                }
            }
        }
        _ => {}
    }
}

/// Under a machine key, identifiers (ids, codes, enums, URLs) are skipped, but prose is read:
/// an order item's `name`, a prefilled address `values.name`, or an answer put under `id`.
fn sweep_machine(v: &Value, view: &mut MessageView, depth: usize) {
    if depth > MAX_WALK_DEPTH {
        return;
    }
    match v {
        Value::String(s) if is_identifier(s) => {}
        Value::Array(a) => a.iter().for_each(|x| sweep_machine(x, view, depth + 1)),
        other => sweep(other, view, depth),
    }
}

/// A value a machine reads: ASCII without whitespace (`wamid.HBg...`, `en_US`, `cta_url`,
/// `https://...`, `+15550001111`), and not words joined by `-`, `_` or `.` (four or more letter
/// runs, `As-an-AI-language-model` or `_the_italic_form_`, are text a recipient reads). Text in
/// other scripts has no spaces either, so it is not an identifier.
fn is_identifier(s: &str) -> bool {
    if !s.bytes().all(|b| b.is_ascii_graphic()) {
        return false;
    }
    if s.contains("://") {
        return true;
    }
    let words = s
        .split(['-', '_', '.'])
        .filter(|w| w.bytes().any(|b| b.is_ascii_alphabetic()))
        .count();
    words < 4
}

/// JSON string escapes decoded in place (`\uXXXX` with surrogate pairs, `\n`, `\"`, ...);
/// anything malformed is kept as it is.
fn unescape_json_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('b' | 'f') => out.push(' '),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                let unit = u32::from_str_radix(&hex, 16).ok();
                let c = match unit {
                    Some(hi @ 0xD800..=0xDBFF) => {
                        let mut rest = chars.clone();
                        let lo = (rest.next() == Some('\\') && rest.next() == Some('u'))
                            .then(|| rest.by_ref().take(4).collect::<String>())
                            .and_then(|h| u32::from_str_radix(&h, 16).ok())
                            .filter(|lo| (0xDC00..=0xDFFF).contains(lo));
                        lo.and_then(|lo| {
                            chars = rest;
                            char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
                        })
                    }
                    Some(u) => char::from_u32(u),
                    None => None,
                };
                out.push(c.unwrap_or('\u{FFFD}'));
            }
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// Template creation components, including carousel cards' own components.
fn collect_creation_components(components: Option<&Value>, texts: &mut Vec<String>, depth: usize) {
    if depth > 4 {
        return;
    }
    if let Some(components) = components.and_then(Value::as_array) {
        for c in components {
            if let Some(cards) = c.get("cards").and_then(Value::as_array) {
                for card in cards {
                    collect_creation_components(card.get("components"), texts, depth + 1);
                }
            }
            push_str(c.get("text"), texts);
            if let Some(buttons) = c.get("buttons").and_then(Value::as_array) {
                for b in buttons {
                    push_str(b.get("text"), texts);
                }
            }
            // Example values are shown to reviewers, and to users once substituted.
            if let Some(example) = c.get("example") {
                collect_all_strings(example, texts, 0);
            }
        }
    }
}

fn str_at(v: &Value, path: &[&str]) -> Option<String> {
    let mut cur = v;
    for key in path {
        cur = cur.get(*key)?;
    }
    match cur {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn push_str(v: Option<&Value>, out: &mut Vec<String>) {
    if let Some(Value::String(s)) = v
        && !s.trim().is_empty()
    {
        out.push(s.clone());
    }
}

/// A media object's caption and file name. A document sent by link without a `filename` is
/// shown under the link's last path segment, decoded (`As%20an%20answer.pdf`).
fn push_media(media_type: &str, m: &Value, out: &mut Vec<String>) {
    push_str(m.get("caption"), out);
    push_str(m.get("filename"), out);
    if media_type == "document"
        && m.get("filename").is_none()
        && let Some(name) = m
            .get("link")
            .and_then(Value::as_str)
            .and_then(link_file_name)
    {
        out.push(name);
    }
}

/// The decoded last path segment of a URL, without its query or fragment.
fn link_file_name(link: &str) -> Option<String> {
    let path = link.split(['?', '#']).next()?;
    let path = path.split_once("://").map_or(path, |(_, rest)| rest);
    let (_, segment) = path.rsplit_once('/')?;
    let name = super::percent_decode(&segment.replace('+', "%2B"));
    (!name.trim().is_empty()).then_some(name)
}

fn collect_message_texts(obj: &Value, message_type: &str, out: &mut Vec<String>) {
    match message_type {
        "text" => push_str(obj.pointer("/text/body"), out),
        "interactive" => collect_interactive(obj.get("interactive"), out),
        "template" => collect_template_send(obj.get("template"), out),
        "image" | "video" | "document" | "audio" | "sticker" => {
            if let Some(media) = obj.get(message_type) {
                push_media(message_type, media, out);
            }
        }
        "location" => {
            push_str(obj.pointer("/location/name"), out);
            push_str(obj.pointer("/location/address"), out);
        }
        "reaction" => push_str(obj.pointer("/reaction/emoji"), out),
        "contacts" => {
            if let Some(c) = obj.get("contacts") {
                collect_all_strings(c, out, 0);
            }
        }
        "read" => {}
        // An unknown type: every string under its object is potentially visible.
        other => {
            if let Some(v) = obj.get(other) {
                collect_all_strings(v, out, 0);
            }
        }
    }
    // A body that names one type but also carries another type's object is malformed for the
    // API; score the text anyway so that no payload hides behind a mismatched `type`.
    if message_type != "text" {
        push_str(obj.pointer("/text/body"), out);
    }
}

/// Header, body and footer (buttons, lists, products, flows, CTA URLs), the action's labels,
/// and each carousel card's body and buttons.
fn collect_interactive(i: Option<&Value>, out: &mut Vec<String>) {
    let Some(i) = i else { return };
    if let Some(h) = i.get("header") {
        push_str(h.get("text"), out);
        for media in ["image", "video", "document"] {
            if let Some(m) = h.get(media) {
                push_media(media, m, out);
            }
        }
    }
    push_str(i.pointer("/body/text"), out);
    push_str(i.pointer("/footer/text"), out);
    if let Some(action) = i.get("action") {
        collect_action(action, out, 0);
    }
}

fn collect_action(action: &Value, out: &mut Vec<String>, depth: usize) {
    if depth > 2 {
        return;
    }
    push_str(action.get("button"), out);
    if let Some(buttons) = action.get("buttons").and_then(Value::as_array) {
        for b in buttons {
            push_str(b.pointer("/reply/title"), out);
            push_str(b.get("title"), out);
            push_str(b.pointer("/parameters/display_text"), out);
        }
    }
    if let Some(sections) = action.get("sections").and_then(Value::as_array) {
        for s in sections {
            push_str(s.get("title"), out);
            if let Some(rows) = s.get("rows").and_then(Value::as_array) {
                for r in rows {
                    push_str(r.get("title"), out);
                    push_str(r.get("description"), out);
                }
            }
        }
    }
    if let Some(params) = action.get("parameters") {
        push_str(params.get("display_text"), out);
        push_str(params.get("flow_cta"), out);
        if let Some(data) = params.pointer("/flow_action_payload/data") {
            collect_all_strings(data, out, 0);
        }
    }
    // A carousel: each card has a media header, an optional body and its own action.
    if let Some(cards) = action.get("cards").and_then(Value::as_array) {
        for card in cards {
            push_str(card.pointer("/body/text"), out);
            if let Some(a) = card.get("action") {
                collect_action(a, out, depth + 1);
            }
        }
    }
}

fn collect_template_send(t: Option<&Value>, out: &mut Vec<String>) {
    let Some(t) = t else { return };
    push_str(t.get("name"), out);
    collect_send_components(t.get("components"), out, 0);
}

/// Template send components, including carousel cards, which carry components of their own.
fn collect_send_components(components: Option<&Value>, out: &mut Vec<String>, depth: usize) {
    let Some(components) = components.and_then(Value::as_array) else {
        return;
    };
    if depth > 4 {
        return;
    }
    for c in components {
        if let Some(cards) = c.get("cards").and_then(Value::as_array) {
            for card in cards {
                collect_send_components(card.get("components"), out, depth + 1);
            }
        }
        let Some(params) = c.get("parameters").and_then(Value::as_array) else {
            continue;
        };
        for p in params {
            push_str(p.get("text"), out);
            push_str(p.get("payload"), out);
            push_str(p.pointer("/currency/fallback_value"), out);
            push_str(p.pointer("/date_time/fallback_value"), out);
            push_str(p.pointer("/location/name"), out);
            push_str(p.pointer("/location/address"), out);
            for media in ["image", "video", "document"] {
                if let Some(m) = p.get(media) {
                    push_media(media, m, out);
                }
            }
        }
    }
}

/// Every string value under `v`, depth-bounded (serde_json already caps nesting at 128).
fn collect_all_strings(v: &Value, out: &mut Vec<String>, depth: usize) {
    if depth > MAX_WALK_DEPTH {
        return;
    }
    match v {
        Value::String(s) if !s.trim().is_empty() => out.push(s.clone()),
        Value::Array(a) => a
            .iter()
            .for_each(|x| collect_all_strings(x, out, depth + 1)),
        Value::Object(o) => o
            .values()
            .for_each(|x| collect_all_strings(x, out, depth + 1)),
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
