//! The known fields of each message type, template and interactive element, read in document
//! order so that each is scored as a part of its own.

use super::MAX_WALK_DEPTH;
use serde_json::Value;

/// Template creation components, including carousel cards' own components.
pub(super) fn collect_creation_components(
    components: Option<&Value>,
    texts: &mut Vec<String>,
    depth: usize,
) {
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

pub(super) fn str_at(v: &Value, path: &[&str]) -> Option<String> {
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

pub(super) fn push_str(v: Option<&Value>, out: &mut Vec<String>) {
    if let Some(Value::String(s)) = v
        && !s.trim().is_empty()
    {
        out.push(s.clone());
    }
}

/// A media object's caption and file name. A document sent by link without a `filename` is
/// shown under the link's last path segment, decoded (`As%20an%20answer.pdf`).
pub(super) fn push_media(media_type: &str, m: &Value, out: &mut Vec<String>) {
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
pub(super) fn link_file_name(link: &str) -> Option<String> {
    let path = link.split(['?', '#']).next()?;
    let path = path.split_once("://").map_or(path, |(_, rest)| rest);
    let (_, segment) = path.rsplit_once('/')?;
    let name = crate::whatsapp::percent_decode(&segment.replace('+', "%2B"));
    (!name.trim().is_empty()).then_some(name)
}

pub(super) fn collect_message_texts(obj: &Value, message_type: &str, out: &mut Vec<String>) {
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
pub(super) fn collect_interactive(i: Option<&Value>, out: &mut Vec<String>) {
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

pub(super) fn collect_action(action: &Value, out: &mut Vec<String>, depth: usize) {
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

pub(super) fn collect_template_send(t: Option<&Value>, out: &mut Vec<String>) {
    let Some(t) = t else { return };
    push_str(t.get("name"), out);
    collect_send_components(t.get("components"), out, 0);
}

/// Template send components, including carousel cards, which carry components of their own.
pub(super) fn collect_send_components(
    components: Option<&Value>,
    out: &mut Vec<String>,
    depth: usize,
) {
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
pub(super) fn collect_all_strings(v: &Value, out: &mut Vec<String>, depth: usize) {
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
