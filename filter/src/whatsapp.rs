//! WhatsApp Cloud API calls: which requests are calls, and every text a recipient reads.

use serde_json::Value;

/// The Cloud API endpoint a request targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `/{phone-number-id}/messages`: every message type, and mark-as-read.
    Messages,
    /// `/{phone-number-id}/media`: a multipart media upload.
    Media,
    /// `/{waba-id}/message_templates`: template creation (POST) or listing (GET).
    MessageTemplates,
    /// A Graph batch request or a `?method=` override: a send hidden from path matching.
    Indirect,
    /// `POST /{id}`: an object update, such as a message template edit.
    ObjectUpdate,
    /// Anything else on a WhatsApp host.
    Other,
}

impl Endpoint {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Messages => "messages",
            Self::Media => "media",
            Self::MessageTemplates => "message_templates",
            Self::Indirect => "indirect",
            Self::ObjectUpdate => "object_update",
            Self::Other => "other",
        }
    }
}

/// A request to a WhatsApp host, as far as the path tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhatsAppCall {
    pub endpoint: Endpoint,
    /// The phone-number-id or WABA id from the path.
    pub path_id: Option<String>,
}

/// Lowercases the authority and drops its port and a trailing dot.
pub fn normalize_authority(authority: &str) -> String {
    let a = authority.trim();
    let host = if let Some(rest) = a.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        match a.rsplit_once(':') {
            Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => a,
        }
    };
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// The path and its query, normalised for matching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalizedPath {
    /// Lowercase segments, percent-decoded, with empty and dot segments resolved.
    pub segments: Vec<String>,
    /// The raw query string, percent-decoded and lowercased.
    pub query: String,
}

/// Percent-decodes until stable (at most 4 rounds: `%252F` hides a `/` behind two encodings),
/// treats `\` as `/`, collapses duplicate slashes and resolves `.` and `..`.
pub fn normalize_path(raw: &str) -> NormalizedPath {
    let without_fragment = raw.split('#').next().unwrap_or("");
    let (path, query) = without_fragment
        .split_once('?')
        .unwrap_or((without_fragment, ""));
    let path = decode_fully(path).replace('\\', "/").to_ascii_lowercase();
    let mut segments: Vec<String> = Vec::new();
    for seg in path.split('/') {
        match seg.trim() {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s.to_owned()),
        }
    }
    NormalizedPath {
        segments,
        query: decode_fully(query).to_ascii_lowercase(),
    }
}

fn decode_fully(s: &str) -> String {
    let mut cur = s.to_owned();
    for _ in 0..4 {
        let next = percent_decode(&cur);
        if next == cur {
            break;
        }
        cur = next;
    }
    cur
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).and_then(hex),
                bytes.get(i + 2).and_then(hex),
            )
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(if b == b'+' { b' ' } else { b });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: &u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn is_version(seg: &str) -> bool {
    let Some(rest) = seg.strip_prefix('v') else {
        return false;
    };
    let mut parts = rest.splitn(2, '.');
    let major_ok = parts
        .next()
        .is_some_and(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit()));
    let minor_ok = parts
        .next()
        .is_none_or(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit()));
    major_ok && minor_ok
}

/// Classifies a request to a WhatsApp host by its method and normalised path.
pub fn classify_call(method: &str, path: &NormalizedPath) -> WhatsAppCall {
    let segs: Vec<&str> = path.segments.iter().map(String::as_str).collect();
    // The version segment is optional: the Graph API serves unversioned paths too.
    let rest: &[&str] = match segs.split_first() {
        Some((first, tail)) if is_version(first) => tail,
        _ => &segs,
    };
    // `?method=post` turns any Graph request into a POST.
    let has_method_override = path.query.split('&').any(|kv| kv.trim() == "method=post");
    let endpoint = match rest {
        [id, ep] => match *ep {
            "messages" => Some((Endpoint::Messages, id)),
            "media" => Some((Endpoint::Media, id)),
            "message_templates" => Some((Endpoint::MessageTemplates, id)),
            _ => None,
        },
        _ => None,
    };
    match endpoint {
        Some((ep, id)) => {
            let ep = if has_method_override
                && !method.eq_ignore_ascii_case("POST")
                && ep != Endpoint::Media
            {
                Endpoint::Indirect
            } else {
                ep
            };
            WhatsAppCall {
                endpoint: ep,
                path_id: Some((*id).to_owned()),
            }
        }
        // A POST to the root (or version root) is a Graph batch request.
        None if rest.is_empty() && method.eq_ignore_ascii_case("POST") => WhatsAppCall {
            endpoint: Endpoint::Indirect,
            path_id: None,
        },
        None if has_method_override => WhatsAppCall {
            endpoint: Endpoint::Indirect,
            path_id: None,
        },
        // `POST /{id}` updates a Graph object; for a message template it carries new components.
        None if method.eq_ignore_ascii_case("POST")
            && matches!(rest, [id] if id.bytes().all(|b| b.is_ascii_digit())) =>
        {
            WhatsAppCall {
                endpoint: Endpoint::ObjectUpdate,
                path_id: rest.first().map(|s| (*s).to_owned()),
            }
        }
        None => WhatsAppCall {
            endpoint: Endpoint::Other,
            path_id: None,
        },
    }
}

/// A parsed send: its type, recipient and every text a recipient reads.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MessageView {
    /// Lowercased `type`; `text` when absent (the API's default), `read` for mark-as-read.
    pub message_type: String,
    pub recipient: Option<String>,
    /// Template category for template creation calls.
    pub template_category: Option<String>,
    /// User-visible texts in document order.
    pub texts: Vec<String>,
}

impl MessageView {
    /// The text scored by the classifier: all visible fields, one per line.
    pub fn visible_text(&self) -> String {
        self.texts.join("\n")
    }
}

/// Reads a `/messages` send body.
pub fn read_message(body: &Value) -> MessageView {
    let obj = body;
    let recipient = str_at(obj, &["to"]).or_else(|| str_at(obj, &["recipient"]));
    let is_read_receipt = str_at(obj, &["status"]).is_some_and(|s| s.eq_ignore_ascii_case("read"));
    let message_type = match str_at(obj, &["type"]) {
        Some(t) => t.trim().to_ascii_lowercase(),
        None if is_read_receipt => "read".to_owned(),
        None => "text".to_owned(),
    };
    let mut texts = Vec::new();
    collect_message_texts(obj, &message_type, &mut texts);
    MessageView {
        message_type,
        recipient,
        template_category: None,
        texts,
    }
}

/// Reads a `/message_templates` creation body.
pub fn read_template_creation(body: &Value) -> MessageView {
    let mut texts = Vec::new();
    collect_creation_components(body.get("components"), &mut texts, 0);
    MessageView {
        message_type: "template_creation".to_owned(),
        recipient: None,
        template_category: str_at(body, &["category"]).map(|c| c.to_ascii_uppercase()),
        texts,
    }
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

fn collect_message_texts(obj: &Value, message_type: &str, out: &mut Vec<String>) {
    match message_type {
        "text" => push_str(obj.pointer("/text/body"), out),
        "interactive" => collect_interactive(obj.get("interactive"), out),
        "template" => collect_template_send(obj.get("template"), out),
        "image" | "video" | "document" | "audio" | "sticker" => {
            if let Some(media) = obj.get(message_type) {
                push_str(media.get("caption"), out);
                push_str(media.get("filename"), out);
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

fn collect_interactive(i: Option<&Value>, out: &mut Vec<String>) {
    let Some(i) = i else { return };
    if let Some(h) = i.get("header") {
        push_str(h.get("text"), out);
        for media in ["image", "video", "document"] {
            if let Some(m) = h.get(media) {
                push_str(m.get("caption"), out);
                push_str(m.get("filename"), out);
            }
        }
    }
    push_str(i.pointer("/body/text"), out);
    push_str(i.pointer("/footer/text"), out);
    let Some(action) = i.get("action") else {
        return;
    };
    push_str(action.get("button"), out);
    if let Some(buttons) = action.get("buttons").and_then(Value::as_array) {
        for b in buttons {
            push_str(b.pointer("/reply/title"), out);
            push_str(b.get("title"), out);
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
            for media in ["image", "video", "document"] {
                if let Some(m) = p.get(media) {
                    push_str(m.get("caption"), out);
                    push_str(m.get("filename"), out);
                }
            }
        }
    }
}

/// Every string value under `v`, depth-bounded (serde_json already caps nesting at 128).
fn collect_all_strings(v: &Value, out: &mut Vec<String>, depth: usize) {
    if depth > 32 {
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

/// Parses `application/x-www-form-urlencoded` into a JSON object; values that are JSON objects
/// or arrays (the Graph API accepts `text={"body":"..."}`) are parsed as JSON.
/// `None` when a field repeats or a JSON-looking value is not valid strict JSON: which of two
/// values the API would use is ambiguous, so such a body is invalid.
pub fn form_to_json(body: &str) -> Option<Value> {
    let mut map = serde_json::Map::new();
    for pair in body.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let key = percent_decode(k);
        let raw = percent_decode(v);
        let value = match raw.trim_start().as_bytes().first() {
            Some(b'{' | b'[') => crate::strict_json::from_slice(raw.as_bytes()).ok()?,
            _ => Value::String(raw),
        };
        if map.insert(key, value).is_some() {
            return None;
        }
    }
    Some(Value::Object(map))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn call(method: &str, path: &str) -> WhatsAppCall {
        classify_call(method, &normalize_path(path))
    }

    #[test]
    fn authority_normalisation() {
        assert_eq!(
            normalize_authority("Graph.Facebook.COM.:443"),
            "graph.facebook.com"
        );
        assert_eq!(normalize_authority("[::1]:8080"), "::1");
        assert_eq!(
            normalize_authority("graph.facebook.com"),
            "graph.facebook.com"
        );
    }

    #[test]
    fn messages_paths_in_many_disguises() {
        for p in [
            "/v21.0/1065/messages",
            "/v21.0//1065/messages/",
            "/V21.0/1065/MESSAGES?access_token=x",
            "/v21.0/./x/../1065/messages",
            "/v21.0/1065/%6D%65ssages",
            "/v21.0/1065%2Fmessages",
            "/v21.0/1065%252Fmessages",
            "/1065/messages",
            "/v21/1065/messages",
            "\\v21.0\\1065\\messages",
        ] {
            let c = call("POST", p);
            assert_eq!(c.endpoint, Endpoint::Messages, "{p}");
            assert_eq!(c.path_id.as_deref(), Some("1065"), "{p}");
        }
    }

    #[test]
    fn other_endpoints() {
        assert_eq!(call("POST", "/v19.0/1065/media").endpoint, Endpoint::Media);
        assert_eq!(
            call("GET", "/v19.0/999/message_templates").endpoint,
            Endpoint::MessageTemplates
        );
        assert_eq!(call("GET", "/v19.0/1065").endpoint, Endpoint::Other);
        assert_eq!(call("POST", "/v19.0/").endpoint, Endpoint::Indirect);
        assert_eq!(call("POST", "/").endpoint, Endpoint::Indirect);
        assert_eq!(
            call("GET", "/v19.0/1065/messages?method=post&to=1").endpoint,
            Endpoint::Indirect
        );
        assert_eq!(
            call("GET", "/v19.0/?method=POST").endpoint,
            Endpoint::Indirect
        );
        assert_eq!(
            call("POST", "/v19.0/1065/messages?method=post").endpoint,
            Endpoint::Messages
        );
    }

    #[test]
    fn interactive_list_texts_all_extracted() {
        let body = json!({"type":"interactive","interactive":{"type":"list",
            "header":{"type":"text","text":"H"},"body":{"text":"B"},"footer":{"text":"F"},
            "action":{"button":"Btn","sections":[{"title":"S","rows":[{"id":"1","title":"R","description":"D"}]}]}}});
        assert_eq!(
            read_message(&body).texts,
            ["H", "B", "F", "Btn", "S", "R", "D"]
        );
    }

    #[test]
    fn template_send_parameters_and_type_default() {
        let body = json!({"type":"template","template":{"name":"order_update","language":{"code":"en"},
            "components":[{"type":"body","parameters":[{"type":"text","text":"A1"},{"type":"text","text":"B2"}]},
                          {"type":"button","sub_type":"quick_reply","index":"0","parameters":[{"type":"payload","payload":"P"}]}]}});
        let v = read_message(&body);
        assert_eq!(v.message_type, "template");
        assert_eq!(v.texts, ["order_update", "A1", "B2", "P"]);
        let v = read_message(&json!({"to":"1","text":{"body":"hi"}}));
        assert_eq!((v.message_type.as_str(), v.texts.len()), ("text", 1));
        let v = read_message(
            &json!({"messaging_product":"whatsapp","status":"read","message_id":"wamid.x"}),
        );
        assert_eq!(v.message_type, "read");
    }

    #[test]
    fn mismatched_type_still_scores_text_body() {
        let v = read_message(
            &json!({"type":"reaction","reaction":{"emoji":"x"},"text":{"body":"hidden"}}),
        );
        assert!(v.texts.contains(&"hidden".to_owned()));
    }

    #[test]
    fn form_bodies_become_json() {
        let v = form_to_json(
            "messaging_product=whatsapp&to=1&type=text&text=%7B%22body%22%3A%22hello%22%7D",
        )
        .unwrap();
        assert_eq!(read_message(&v).texts, ["hello"]);
        assert!(form_to_json("text=a&text=b").is_none());
        assert!(form_to_json("text=%7B%22body%22%3A%22a%22%2C%22body%22%3A%22b%22%7D").is_none());
        assert!(form_to_json("text=%7Bnot json").is_none());
    }
}
