//! WhatsApp Cloud API calls: which requests are calls, on which edge, and every text a
//! recipient reads.
//!
//! - [`fields`] reads the texts of a send, a template definition or a flow definition.
//! - [`form`] reads form bodies and query strings as Graph does (JSON values, bracket keys).
//! - [`media`] splits multipart uploads (`/media`, a flow's `/assets`).
//! - [`providers`] recognises sends through Business Solution Providers (360dialog, Twilio,
//!   Vonage, Infobip).

pub mod body;
pub mod fields;
pub mod form;
pub mod media;
pub mod providers;

pub use fields::{
    MessageView, read_flow, read_message, read_object, read_other, read_template_creation,
    template_category, template_name,
};
pub use form::form_to_json;

use crate::document::{DEFAULT_EDGES, EdgeReads};

/// The Cloud API endpoint a request targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `/{phone-number-id}/messages`: every message type, and mark-as-read.
    Messages,
    /// `/{phone-number-id}/media`: a multipart media upload.
    Media,
    /// `/{waba-id}/message_templates`: template creation (POST) or listing (GET).
    MessageTemplates,
    /// `/{waba-id}/flows` or `/{flow-id}/assets`: a flow definition, whose screens a
    /// recipient reads.
    Flows,
    /// A Graph batch request or a `?method=` override: a send hidden from path matching.
    Indirect,
    /// `POST /{id}`: an object update, such as a message template edit, a group's or a
    /// catalogue product's description; or an edge that creates such an object
    /// (`/{catalog-id}/products`, a QR code's prefilled message).
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
            Self::Flows => "flows",
            Self::Indirect => "indirect",
            Self::ObjectUpdate => "object_update",
            Self::Other => "other",
        }
    }
}

impl From<EdgeReads> for Endpoint {
    fn from(reads: EdgeReads) -> Self {
        match reads {
            EdgeReads::Message => Self::Messages,
            EdgeReads::Template => Self::MessageTemplates,
            EdgeReads::Flow => Self::Flows,
            EdgeReads::Media => Self::Media,
            EdgeReads::Object => Self::ObjectUpdate,
        }
    }
}

/// A Graph edge the filter reads: `/{id}/{name}`, read as `endpoint` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    pub name: String,
    pub endpoint: Endpoint,
}

/// The default edges, compiled.
pub fn default_edges() -> Vec<Edge> {
    DEFAULT_EDGES
        .iter()
        .map(|(name, reads)| Edge {
            name: (*name).to_owned(),
            endpoint: Endpoint::from(*reads),
        })
        .collect()
}

/// A request to a WhatsApp host, as far as the path tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhatsAppCall {
    pub endpoint: Endpoint,
    /// The edge's name for logs and metrics: `messages`, `marketing_messages`, ...; or the
    /// endpoint's name when no edge matched.
    pub edge: String,
    /// The phone-number-id or WABA id from the path.
    pub path_id: Option<String>,
    /// The request is (or acts as) a POST.
    pub post: bool,
    /// Whose API the call goes to: the Cloud API itself, or a provider passing its format on.
    pub provider: providers::Provider,
}

impl WhatsAppCall {
    /// Whether a hand-off can rewrite this call: a Cloud API `messages` send, on Graph or on a
    /// provider that passes Meta's format through unchanged (360dialog).
    pub fn can_hand_off(&self) -> bool {
        self.endpoint == Endpoint::Messages
            && self.edge == "messages"
            && matches!(
                self.provider,
                providers::Provider::CloudApi | providers::Provider::Dialog360
            )
    }

    /// Whether the phone-number rules of the path id apply: every method on the send edges
    /// (listing a WABA's templates counts too), a POST on the other edges that read a message
    /// or a template (reading a number's profile is not a send, updating it is).
    pub fn governed_by_number_rules(&self) -> bool {
        let send_edge = matches!(
            self.edge.as_str(),
            "messages" | "media" | "message_templates"
        );
        matches!(
            self.endpoint,
            Endpoint::Messages | Endpoint::Media | Endpoint::MessageTemplates
        ) && (send_edge || self.post)
    }
}

/// Lowercases the authority and drops userinfo (`user@`), its port and trailing dots. A host
/// name holds no `:`, so everything after the first one is a port, however malformed
/// (`graph.facebook.com:443:`); an IPv6 literal keeps its brackets. Idempotent.
pub fn normalize_authority(authority: &str) -> String {
    let a = authority.trim();
    let a = a.rsplit_once('@').map_or(a, |(_, host)| host).trim();
    let host = match a.find(']') {
        Some(end) if a.starts_with('[') => a.get(..=end).unwrap_or(a),
        _ => a.split(':').next().unwrap_or(a),
    };
    host.trim_start()
        .trim_end_matches(|c: char| c == '.' || c.is_whitespace())
        .to_ascii_lowercase()
}

/// The path and its query, normalised for matching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalizedPath {
    /// Lowercase segments, percent-decoded, with empty and dot segments resolved.
    pub segments: Vec<String>,
    /// The raw query string, percent-decoded and lowercased.
    pub query: String,
    /// The query's parameters, split on `&` and `=` before decoding (an encoded `%26` is part
    /// of a value, as Graph reads it), each decoded, lowercased and trimmed of blanks and
    /// control characters.
    pub params: Vec<(String, String)>,
}

/// Percent-decodes until stable (at most 4 rounds: `%252F` hides a `/` behind two encodings),
/// treats `\` as `/`, collapses duplicate slashes, drops matrix parameters (`messages;x=1`)
/// and resolves `.` and `..`.
pub fn normalize_path(raw: &str) -> NormalizedPath {
    let without_fragment = raw.split('#').next().unwrap_or("");
    let (path, query) = without_fragment
        .split_once('?')
        .unwrap_or((without_fragment, ""));
    let path = decode_fully(path).replace('\\', "/").to_ascii_lowercase();
    let mut segments: Vec<String> = Vec::new();
    for seg in path.split('/') {
        // `;params` are not part of the segment for Graph's router, nor are control characters
        // (`messages%00`).
        let seg = seg.split(';').next().unwrap_or("");
        let seg: String = seg.chars().filter(|c| !c.is_control()).collect();
        let seg = seg.as_str();
        match seg.trim() {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s.to_owned()),
        }
    }
    let clean = |s: &str| {
        decode_fully(s)
            .trim_matches(|c: char| c.is_whitespace() || c.is_control())
            .to_ascii_lowercase()
    };
    let params = query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (clean(k), clean(v))
        })
        .collect();
    NormalizedPath {
        segments,
        query: decode_fully(query).to_ascii_lowercase(),
        params,
    }
}

pub fn decode_fully(s: &str) -> String {
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

pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).and_then(|&c| crate::hex::digit(c)),
                bytes.get(i + 2).and_then(|&c| crate::hex::digit(c)),
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

/// A Graph object id: numeric (templates, flows, products), or opaque like a WhatsApp group
/// id (URL-safe base64 such as `Y2FwaV9ncm91cDox...`, lowercased by the path normalisation).
/// Not an upload session (`upload:...`, whose body is file bytes) nor a short name (`me`).
fn is_object_id(seg: &str) -> bool {
    let numeric = !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit());
    let opaque = seg.len() >= 20
        && seg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'='));
    numeric || opaque
}

/// Classifies a request to a WhatsApp host by its method, normalised path and the policy's
/// edges.
pub fn classify_call(method: &str, path: &NormalizedPath, edges: &[Edge]) -> WhatsAppCall {
    // An edge with a format suffix (`messages.json`) is read as the edge: over-reading a path
    // Graph might refuse costs nothing, missing one it accepts is a bypass.
    let segs: Vec<&str> = path
        .segments
        .iter()
        .map(|s| s.strip_suffix(".json").unwrap_or(s))
        .collect();
    // The version segment is optional: the Graph API serves unversioned paths too. Repeated
    // ones (`/v21.0/v21.0/{id}/messages`) are all skipped, for the same reason.
    let first_other = segs
        .iter()
        .position(|s| !is_version(s))
        .unwrap_or(segs.len());
    let rest: &[&str] = segs.get(first_other..).unwrap_or_default();
    // `?method=post` turns any Graph request into a POST.
    // A key's name before any `[` (`batch[]`) or NUL (PHP stops there).
    let key_is = |k: &str, name: &str| {
        k.split(['[', '\0'])
            .next()
            .is_some_and(|base| base.trim() == name)
    };
    let has_method_override = path.params.iter().any(|(k, v)| {
        key_is(k, "method") && v.split('\0').next().is_some_and(|v| v.trim() == "post")
    });
    // `batch=[...]` in the query of any method is a batch request.
    let has_batch = path.params.iter().any(|(k, _)| key_is(k, "batch"));
    let is_post = method.eq_ignore_ascii_case("POST");
    // A media upload tunnelled through `?method=post` is an upload all the same: its body is
    // read as a POST's would be.
    let call = |endpoint: Endpoint, edge: &str, id: Option<&str>| WhatsAppCall {
        endpoint,
        edge: edge.to_owned(),
        path_id: id.map(str::to_owned),
        post: is_post || (has_method_override && endpoint == Endpoint::Media),
        provider: providers::Provider::CloudApi,
    };
    let edge = match rest {
        [id, name] => edges.iter().find(|e| e.name == *name).map(|e| (e, *id)),
        _ => None,
    };
    match edge {
        Some((e, id)) if has_method_override && !is_post && e.endpoint != Endpoint::Media => {
            call(Endpoint::Indirect, &e.name, Some(id))
        }
        Some((e, id)) => call(e.endpoint, &e.name, Some(id)),
        // A POST to the root (or version root) is a Graph batch request.
        None if rest.is_empty() && is_post => call(Endpoint::Indirect, "batch", None),
        None if has_method_override => call(Endpoint::Indirect, "method_override", None),
        _ if has_batch => call(Endpoint::Indirect, "batch", None),
        // `POST /{id}` updates a Graph object: a message template's components, a flow's JSON,
        // a product's or a group's description.
        None if is_post && matches!(rest, [id] if is_object_id(id)) => call(
            Endpoint::ObjectUpdate,
            "object_update",
            rest.first().copied(),
        ),
        None => call(Endpoint::Other, "other", None),
    }
}

/// A path id as rules compare it: lowercased, and numeric ids as numbers (`0106...` is
/// `106...`), as Graph reads them. A provider's sender number in E.164 (`+14155550100`) is
/// compared by its digits (`+1 (415) 555-0100` is `14155550100`).
pub fn canonical_path_id(s: &str) -> String {
    let s = s.trim().to_ascii_lowercase();
    let s = match s.strip_prefix('+') {
        Some(number) => {
            let digits: String = number
                .chars()
                .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.'))
                .collect();
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                digits
            } else {
                s
            }
        }
        None => s,
    };
    if s.len() > 1 && s.bytes().all(|b| b.is_ascii_digit()) {
        let t = s.trim_start_matches('0');
        if t.is_empty() {
            "0".to_owned()
        } else {
            t.to_owned()
        }
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn call(method: &str, path: &str) -> WhatsAppCall {
        classify_call(method, &normalize_path(path), &default_edges())
    }

    /// Found in review round 2: a repeated version segment and a format suffix.
    #[test]
    fn repeated_versions_and_a_json_suffix_still_name_the_edge() {
        for path in [
            "/v21.0/v21.0/106540352242922/messages",
            "/v21.0/106540352242922/messages.json",
            "/v21.0/v20.0/106540352242922/messages.json",
        ] {
            assert_eq!(call("POST", path).endpoint, Endpoint::Messages, "{path}");
        }
    }

    #[test]
    fn authority_normalisation() {
        assert_eq!(
            normalize_authority("Graph.Facebook.COM.:443"),
            "graph.facebook.com"
        );
        assert_eq!(normalize_authority("[::1]:8080"), "[::1]");
        // Found by fuzzing: a second colon left `host:` behind, which a second pass changed.
        assert_eq!(
            normalize_authority("graph.facebook.com:443:"),
            "graph.facebook.com"
        );
        for odd in [
            "i\u{fc}::",
            "[::1",
            "a@[::1]:9",
            " x.@ y.:1 ",
            "[::1]]:1",
            "\u{fffd}\u{c}.",
        ] {
            let once = normalize_authority(odd);
            assert_eq!(normalize_authority(&once), once, "{odd:?}");
        }
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
        let v = form_to_json("to=1&type=text&text[body]=bracketed").unwrap();
        assert_eq!(read_message(&v).texts, ["bracketed"]);
    }

    #[test]
    fn edges_from_the_policy() {
        for (path, endpoint, edge) in [
            (
                "/v21.0/1065/marketing_messages",
                Endpoint::Messages,
                "marketing_messages",
            ),
            (
                "/v21.0/999/upsert_message_templates",
                Endpoint::MessageTemplates,
                "upsert_message_templates",
            ),
            ("/v21.0/999/flows", Endpoint::Flows, "flows"),
            ("/v21.0/777/assets", Endpoint::Flows, "assets"),
            ("/v21.0/1065/media", Endpoint::Media, "media"),
            ("/v21.0/777", Endpoint::ObjectUpdate, "object_update"),
            (
                "/v21.0/2233445566778/products",
                Endpoint::ObjectUpdate,
                "products",
            ),
            (
                "/v21.0/2233445566778/items_batch",
                Endpoint::ObjectUpdate,
                "items_batch",
            ),
            (
                "/v21.0/106540352242922/message_qrdls",
                Endpoint::ObjectUpdate,
                "message_qrdls",
            ),
            // A group id is opaque, not numeric.
            (
                "/v21.0/Y2FwaV9ncm91cDoxNTU1MDAwMTExMToxMjAz",
                Endpoint::ObjectUpdate,
                "object_update",
            ),
        ] {
            let c = call("POST", path);
            assert_eq!((c.endpoint, c.edge.as_str()), (endpoint, edge), "{path}");
        }
        // A resumable upload session carries file bytes, and a short name is no object.
        for path in [
            "/v21.0/upload:MTphdHRhY2htZW50OjEyMzQ1Njc4OTA=",
            "/v21.0/me",
        ] {
            assert_eq!(call("POST", path).endpoint, Endpoint::Other, "{path}");
        }
        // An edge the policy does not list is not read.
        let only = [Edge {
            name: "messages".into(),
            endpoint: Endpoint::Messages,
        }];
        let c = classify_call(
            "POST",
            &normalize_path("/v21.0/1065/marketing_messages"),
            &only,
        );
        assert_eq!(c.endpoint, Endpoint::Other);
    }

    #[test]
    fn matrix_parameters_and_userinfo_do_not_hide_a_send() {
        for p in [
            "/v21.0/1065/messages;x=1",
            "/v21.0/1065;a=b/messages",
            "/v21.0;v/1065/messages%3Bx",
        ] {
            let c = call("POST", p);
            assert_eq!(c.endpoint, Endpoint::Messages, "{p}");
            assert_eq!(c.path_id.as_deref(), Some("1065"), "{p}");
        }
        assert_eq!(
            normalize_authority("user:pw@Graph.Facebook.com:443"),
            "graph.facebook.com"
        );
        assert_eq!(
            normalize_authority("a@b@graph.facebook.com"),
            "graph.facebook.com"
        );
    }

    #[test]
    fn every_visible_field_of_every_type_is_read() {
        // A carousel: the main body, each card's body and buttons.
        let v = read_message(
            &json!({"type":"interactive","interactive":{"type":"carousel",
            "body":{"text":"Main"},"action":{"cards":[
              {"card_index":0,"type":"cta_url","header":{"type":"image","image":{"link":"https://x/a.png"}},
               "body":{"text":"Card0"},"action":{"name":"cta_url","parameters":{"display_text":"Go0","url":"https://x"}}},
              {"card_index":1,"type":"quick_reply","header":{"type":"image","image":{"link":"https://x/b.png"}},
               "body":{"text":"Card1"},"action":{"buttons":[{"type":"quick_reply","quick_reply":{"id":"q","title":"QR1"}}]}}]}}}),
        );
        for t in ["Main", "Card0", "Go0", "Card1", "QR1"] {
            assert!(v.texts.iter().any(|x| x == t), "{t}: {:?}", v.texts);
        }
        assert!(!v.texts.iter().any(|x| x.starts_with("https://")));
        // A flow message: CTA and the payload's data.
        let v = read_message(&json!({"type":"interactive","interactive":{"type":"flow",
            "body":{"text":"B"},"action":{"name":"flow","parameters":{"flow_message_version":"3",
            "flow_token":"tok","flow_id":"1","flow_cta":"Open","flow_action":"navigate",
            "flow_action_payload":{"screen":"S1","data":{"intro":"Payload text"}}}}}}));
        assert_eq!(v.texts, ["B", "Open", "Payload text"]);
        // Product list header, body, footer and section titles.
        let v = read_message(
            &json!({"type":"interactive","interactive":{"type":"product_list",
            "header":{"type":"text","text":"H"},"body":{"text":"B"},"footer":{"text":"F"},
            "action":{"catalog_id":"c","sections":[{"title":"S","product_items":[{"product_retailer_id":"sku"}]}]}}}),
        );
        assert_eq!(v.texts, ["H", "B", "F", "S"]);
        // A template header location parameter.
        let v = read_message(
            &json!({"type":"template","template":{"name":"t","language":{"code":"en"},
            "components":[{"type":"header","parameters":[{"type":"location","location":{
            "latitude":"1","longitude":"2","name":"Loc name","address":"Loc address"}}]}]}}),
        );
        assert_eq!(v.texts, ["t", "Loc name", "Loc address"]);
        // A field no list knows yet is still read; machine fields are not.
        let v = read_message(
            &json!({"type":"text","text":{"body":"A"},"to":"15550001111",
            "biz_opaque_callback_data":"ref-1","future":{"label":"Unlisted"}}),
        );
        assert_eq!(v.texts, ["A", "Unlisted"]);
    }

    #[test]
    fn json_in_strings_is_read_as_graph_parses_it() {
        // Read both ways: as the string a recipient sees if Graph keeps it, and parsed.
        let v = read_message(&json!({"type":"text","text":"{\"body\":\"inner answer\"}"}));
        assert_eq!(v.texts, ["{\"body\":\"inner answer\"}", "inner answer"]);
        // A text body that merely looks like JSON is still the text the recipient reads.
        let v = read_message(&json!({"type":"text","text":{"body":"{\"name\":\"answer text\"}"}}));
        assert_eq!(v.texts, ["{\"name\":\"answer text\"}", "answer text"]);
        let v = read_message(&json!({"type":"interactive",
            "interactive":"{\"type\":\"button\",\"body\":{\"text\":\"inner body\"}}"}));
        assert!(v.texts.iter().any(|t| t == "inner body"), "{:?}", v.texts);
    }

    #[test]
    fn prose_under_a_machine_key_is_read() {
        let v = read_message(
            &json!({"type":"interactive","interactive":{"type":"order_details",
            "body":{"text":"Your order"},"action":{"name":"review_and_pay","parameters":{
            "reference_id":"ref-1","order":{"items":[{"retailer_id":"sku","name":"A long item name with words","amount":{"value":100,"offset":100}}]}}}}}),
        );
        assert!(
            v.texts.iter().any(|t| t == "A long item name with words"),
            "{:?}",
            v.texts
        );
        assert!(
            !v.texts
                .iter()
                .any(|t| t == "review_and_pay" || t == "ref-1"),
            "{:?}",
            v.texts
        );
        let v = read_message(
            &json!({"type":"text","text":{"body":"Hi"},"id":"an answer hidden under id"}),
        );
        assert_eq!(v.texts, ["Hi", "an answer hidden under id"]);
    }

    /// Found in review round 1: a product's name and description, a group's description and a
    /// QR code's prefilled message are read; a Page post's text on the same Graph host is not
    /// WhatsApp content and is not.
    #[test]
    fn object_updates_read_what_a_whatsapp_user_sees() {
        let v = read_object(&json!({"retailer_id":"sku-1","name":"Blue mug",
            "description":"A mug.","price":100,"url":"https://x.example/m"}));
        assert_eq!(
            (v.message_type.as_str(), v.texts.as_slice()),
            (
                "object_update",
                &["A mug.".to_owned(), "Blue mug".to_owned()][..]
            )
        );
        let v = read_object(&json!({"item_type":"PRODUCT_ITEM",
            "requests":"[{\"method\":\"UPDATE\",\"data\":{\"id\":\"s\",\"description\":\"Batched.\"}}]"}));
        assert_eq!(v.texts, ["Batched."]);
        let v = read_object(&json!({"prefilled_message":"Hi there","generate_qr_image":"SVG"}));
        assert_eq!(v.texts, ["Hi there"]);
        let v = read_object(&json!({"message":"A Page post's new text.","published":true}));
        assert!(v.texts.is_empty(), "{:?}", v.texts);
        // A WhatsApp object (a group update) has every string read.
        let v = read_object(&json!({"messaging_product":"whatsapp","subject":"S","note":"N"}));
        assert_eq!(v.texts, ["N", "S"]);
    }

    /// Found in review round 2: a document sent by link without a file name is shown under the
    /// link's last segment.
    #[test]
    fn a_document_link_without_a_filename_is_read_as_its_name() {
        let v = read_message(&json!({"type":"document","document":{
            "link":"https://files.example/docs/An%20answer%20in%20a%20name.pdf?sig=x#p"}}));
        assert_eq!(v.texts, ["An answer in a name.pdf"]);
        // A file name given wins; an image's link is never shown; a bare host has no name.
        let v = read_message(&json!({"type":"document","document":{
            "link":"https://files.example/a%20b.pdf","filename":"invoice.pdf"}}));
        assert_eq!(v.texts, ["invoice.pdf"]);
        let v =
            read_message(&json!({"type":"image","image":{"link":"https://x.example/a%20b.png"}}));
        assert!(v.texts.is_empty(), "{:?}", v.texts);
        let v = read_message(&json!({"type":"document","document":{"link":"https://x.example/"}}));
        assert!(v.texts.is_empty(), "{:?}", v.texts);
    }

    #[test]
    fn message_type_is_never_copied_from_the_body() {
        let v = read_message(&json!({"type":"Secret Words Here","text":{"body":"x"}}));
        assert_eq!(v.message_type, "other");
        assert_eq!(read_message(&json!({"type":" TEXT "})).message_type, "text");
    }

    #[test]
    fn flow_definitions_are_read() {
        let flow_json = json!({"version":"6.0","screens":[{"id":"WELCOME","title":"Screen title",
            "layout":{"type":"SingleColumnLayout","children":[
              {"type":"TextHeading","text":"Heading"},
              {"type":"TextBody","text":"Body of the screen"},
              {"type":"TextInput","name":"first_name","label":"Your name","input-type":"text"}]}}]});
        let v = read_flow(
            &json!({"name":"f","categories":["OTHER"],"flow_json": flow_json.to_string()}),
        );
        assert_eq!(v.message_type, "flow_definition");
        // serde_json keeps keys sorted: `layout` before `title`.
        assert_eq!(
            v.texts,
            ["Heading", "Body of the screen", "Your name", "Screen title"]
        );
        assert_eq!(read_flow(&flow_json).texts.len(), 4);
    }
}
