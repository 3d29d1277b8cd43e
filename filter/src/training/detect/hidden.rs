//! Records that hide their WhatsApp origin one level down: escaped JSON inside a string,
//! base64, percent-encoding, HTML line breaks around chat-export lines.

use super::*;

impl Detectors {
    /// `judge_string`, `hidden` encodings below the record.
    pub(super) fn judge_string_hidden(&self, s: &str, hidden: u8) -> Option<Detector> {
        self.judge_plain_string(s).or_else(|| {
            if hidden < MAX_HIDDEN_DEPTH {
                self.judge_hidden(s, hidden + 1)
            } else {
                self.hides_more(s).then_some(Detector::UnreadableEncoding)
            }
        })
    }

    /// At the depth limit: whether `s` is one more encoding the decoder would read (JSON, a
    /// JSON string literal, percent-encoding, HTML-escaped JSON, base64 or hex) around text
    /// the raw scan cannot clear, or compressed bytes it cannot read. Such a string is not
    /// passed unread.
    pub(super) fn hides_more(&self, s: &str) -> bool {
        let t = s.trim().trim_start_matches('\u{FEFF}');
        if t.len() < 2 {
            return false;
        }
        let next: Option<Cow<'_, str>> = if matches!(t.as_bytes().first(), Some(b'{' | b'[')) {
            Some(
                layers::html_unescaped(t)
                    .or_else(|| layers::python_literal_as_json(t))
                    .map_or(Cow::Borrowed(t), Cow::Owned),
            )
        } else if t.starts_with('"') {
            serde_json::from_str::<String>(t).ok().map(Cow::Owned)
        } else if memchr::memchr(b'%', t.as_bytes()).is_some() {
            let decoded = crate::whatsapp::percent_decode(t);
            (decoded != t).then_some(Cow::Owned(decoded))
        } else {
            // Compressed bytes are not inflated here: inflated text is judged at the last layer
            // already (see `judge_hidden`), so a compressed layer below it is unreadable.
            match layers::binary_text(t, None) {
                Layer::Text(text) => Some(Cow::Owned(text)),
                Layer::Inflated(_) | Layer::Unreadable => return true,
                Layer::WamidBody => return self.wamid,
                Layer::None => None,
            }
        };
        next.is_some_and(|n| self.might_match(&n))
    }

    /// A record hidden one level down in a string: a JSON object or array carried as a
    /// string (a webhook envelope in a `content` field), base64 (standard or URL-safe, padded
    /// or not) that decodes to UTF-8, or percent-encoding (`wamid%2E...`).
    pub(super) fn judge_hidden(&self, s: &str, hidden: u8) -> Option<Detector> {
        let t = s.trim().trim_start_matches('\u{FEFF}');
        if matches!(t.as_bytes().first(), Some(b'{' | b'[')) {
            // Walked while parsed when it can be, so that a repeated key has every value
            // checked here too. The walk parses as the `Value` parser does: what it leaves
            // undecided is not JSON.
            if self.streaming {
                match streaming::walk_hidden(self, t, hidden) {
                    streaming::Outcome::Found(d) => return Some(d),
                    streaming::Outcome::Clean => return None,
                    streaming::Outcome::Undecided => {}
                }
            } else if let Ok(v) = serde_json::from_str::<Value>(t) {
                return self.walk(&v, &mut Vec::new(), 0, hidden);
            }
        }
        // JSON as a web page escapes it (`{&quot;wa_id&quot;: ...}`) or as Python prints a
        // dict (`{'wa_id': '...'}`).
        if let Some(unescaped) = layers::html_unescaped(t)
            && let Some(d) = self.judge_string_hidden(&unescaped, hidden)
        {
            return Some(d);
        }
        if let Some(json) = layers::python_literal_as_json(t)
            && let Ok(v) = serde_json::from_str::<Value>(&json)
            && let Some(d) = self.walk(&v, &mut Vec::new(), 0, hidden)
        {
            return Some(d);
        }
        if let Some(d) = self.judge_embedded(t, hidden) {
            return Some(d);
        }
        if memchr::memchr(b'%', t.as_bytes()).is_some() {
            let decoded = crate::whatsapp::percent_decode(t);
            if decoded != t
                && let Some(d) = self.judge_string_hidden(&decoded, hidden)
            {
                return Some(d);
            }
        }
        // A JSON string literal holding JSON (`json.dumps` applied twice).
        if t.starts_with('"')
            && let Ok(inner) = serde_json::from_str::<String>(t)
            && let Some(d) = self.judge_string_hidden(&inner, hidden)
        {
            return Some(d);
        }
        // A GraphQL document with its data written inline (a Labelbox mutation without
        // variables): each string literal is judged like a string of the record.
        if is_graphql(t)
            && let Some(d) =
                graphql::literals(t).find_map(|literal| self.judge_string_hidden(&literal, hidden))
        {
            return Some(d);
        }
        // Base64 or hex, around text or around gzip or zlib.
        // At the last layer compressed bytes are not inflated (they are unreadable there), so
        // a payload compressed inside an inflated one cannot multiply the expansion budget.
        let budget = (hidden < MAX_HIDDEN_DEPTH).then_some(self.inflate);
        match layers::binary_text(t, budget) {
            Layer::Text(text) => self.judge_string_hidden(&text, hidden),
            // Inflated text is judged as the last layer.
            Layer::Inflated(text) => {
                self.judge_string_hidden(&text, hidden.max(MAX_HIDDEN_DEPTH - 1))
            }
            Layer::Unreadable => Some(Detector::UnreadableEncoding),
            Layer::WamidBody if self.wamid => Some(Detector::Wamid),
            Layer::WamidBody | Layer::None => None,
        }
    }

    /// Records inside a longer string: a JSON object after a prefix (`... body={...}` in a log
    /// line; the first few `{` are tried), JSON lines, and a form or query string
    /// (`WaId=...&From=whatsapp%3A...`, `...?payload=...`).
    pub(super) fn judge_embedded(&self, t: &str, hidden: u8) -> Option<Detector> {
        const MAX_STARTS: usize = 4;
        if t.contains('\n') {
            for line in t.lines().filter(|l| l.trim_start().starts_with('{')) {
                if let Ok(v) = serde_json::from_str::<Value>(line.trim())
                    && let Some(d) = self.walk(&v, &mut Vec::new(), 0, hidden)
                {
                    return Some(d);
                }
            }
        }
        for start in memchr::memchr_iter(b'{', t.as_bytes())
            .filter(|&i| i > 0)
            .take(MAX_STARTS)
        {
            let rest = t.get(start..).unwrap_or_default();
            let mut values = serde_json::Deserializer::from_str(rest).into_iter::<Value>();
            if let Some(Ok(v)) = values.next()
                && let Some(d) = self.walk(&v, &mut Vec::new(), 0, hidden)
            {
                return Some(d);
            }
        }
        // A form or query string: `key=value&...`, with no blanks.
        let query = t.split_once('?').map_or(t, |(_, q)| q);
        if query.contains('=')
            && query.contains('&')
            && !query.bytes().any(|b| b.is_ascii_whitespace())
            && let Some(v) = crate::whatsapp::form_to_json(query)
        {
            return self.walk(&v, &mut Vec::new(), 0, hidden);
        }
        None
    }

    pub(super) fn judge_plain_string(&self, s: &str) -> Option<Detector> {
        if self.wamid && self.has_wamid(s) {
            return Some(Detector::Wamid);
        }
        if is_whatsapp_address(s) || is_whatsapp_jid(s) {
            return Some(Detector::Provenance);
        }
        if self.webhook_envelope
            && s.len() >= BUSINESS_ACCOUNT.len()
            && s.trim().eq_ignore_ascii_case(BUSINESS_ACCOUNT)
        {
            return Some(Detector::WebhookEnvelope);
        }
        // Every chat-export line holds `sender: `; most strings have no colon at all.
        if memchr::memchr(b':', s.as_bytes()).is_some()
            && let Some(chat) = &self.chat_export
            && (has_chat_line(chat, s)
                // An export rendered as HTML: its lines are separated by tags, not breaks.
                || (memchr::memchr(b'<', s.as_bytes()).is_some()
                    && html_lines(s).is_some_and(|lines| has_chat_line(chat, &lines))))
        {
            return Some(Detector::ChatExport);
        }
        None
    }

    /// `WAMID` matches: the regex runs only where `wamid.` (ASCII case-insensitive: no other
    /// character case-folds to these letters, see the tests) occurs.
    pub(super) fn has_wamid(&self, s: &str) -> bool {
        let b = s.as_bytes();
        // `wamid.` and 8 id characters of at least a byte each.
        b.len() >= 14
            && memchr::memchr_iter(b'.', b).any(|dot| {
                dot.checked_sub(5)
                    .and_then(|start| b.get(start..dot))
                    .is_some_and(|w| w.eq_ignore_ascii_case(b"wamid"))
            })
            && self.wamid_re.is_match(s)
    }
}

/// The text of an HTML fragment with its line-breaking tags (`<br>`, `<p>`, `<div>`, `<li>`,
/// `<tr>`, opening or closing, with attributes) turned into line breaks; `None` unless such a
/// tag is followed by what may start a chat-export line (a digit, a bracket, a quote or list
/// mark, a direction mark), so that most HTML is neither copied nor searched twice.
pub(super) fn html_lines(s: &str) -> Option<String> {
    // Cheap first: some `>` must be followed by such a character (any non-ASCII one counts).
    let b = s.as_bytes();
    if !memchr::memchr_iter(b'>', b).any(|gt| {
        b.get(gt + 1..)
            .unwrap_or_default()
            .iter()
            .find(|c| !c.is_ascii_whitespace())
            .is_some_and(|&c| {
                c.is_ascii_digit() || !c.is_ascii() || matches!(c, b'[' | b'>' | b'-' | b'*' | b'+')
            })
    }) {
        return None;
    }
    let may_start_line = |end: usize| {
        let after = s.get(end..).unwrap_or_default().trim_start();
        after.chars().next().is_some_and(|c| {
            c.is_numeric()
                || matches!(c, '[' | '>' | '-' | '*' | '+' | '•' | '\u{200E}' | '\u{200F}'
                    | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
        })
    };
    if !line_break_tags(s).any(|(_, end)| may_start_line(end)) {
        return None;
    }
    let mut out = String::with_capacity(s.len());
    let mut copied = 0;
    for (start, end) in line_break_tags(s) {
        out.push_str(s.get(copied..start).unwrap_or_default());
        out.push('\n');
        copied = end;
    }
    out.push_str(s.get(copied..).unwrap_or_default());
    Some(out)
}

/// The byte ranges of the line-breaking tags in `s`, from `<` to after `>`.
pub(super) fn line_break_tags(s: &str) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut from = 0;
    std::iter::from_fn(move || {
        while let Some(lt) = s.get(from..).and_then(|r| r.find('<')).map(|i| from + i) {
            let tag = s.get(lt + 1..).unwrap_or_default();
            let name = tag.strip_prefix('/').unwrap_or(tag);
            let len = name.bytes().take_while(u8::is_ascii_alphabetic).count();
            let breaks = name.get(..len).is_some_and(|n| {
                ["br", "p", "div", "li", "tr"]
                    .iter()
                    .any(|t| n.eq_ignore_ascii_case(t))
            }) && matches!(
                name.as_bytes().get(len),
                Some(b'>' | b'/' | b' ' | b'\t' | b'\r' | b'\n')
            );
            from = lt + 1;
            if breaks && let Some(gt) = tag.find('>') {
                from = lt + 1 + gt + 1;
                return Some((lt, from));
            }
        }
        None
    })
}

/// A string that reads as a GraphQL document holding string literals: an operation keyword
/// or a selection set first, a quote inside.
pub(super) fn is_graphql(t: &str) -> bool {
    let starts = ["mutation", "query", "subscription", "fragment", "{"]
        .iter()
        .any(|k| t.get(..k.len()).is_some_and(|p| p.eq_ignore_ascii_case(k)));
    starts && memchr::memchr(b'"', t.as_bytes()).is_some()
}

/// A run of `MIN_BASE64_LEN` base64 characters: the raw scan's sign of a possibly hidden record.
pub(super) fn has_base64_run(b: &[u8]) -> bool {
    b.split(|c| !is_base64_byte(*c))
        .any(|run| run.len() >= MIN_BASE64_LEN)
}

/// A provider's WhatsApp address (`whatsapp:+14155238886`, as Twilio writes it), alone or
/// as a field's whole value.
pub(in crate::training) fn is_whatsapp_address(s: &str) -> bool {
    let t = s.trim();
    t.get(..9)
        .is_some_and(|p| p.eq_ignore_ascii_case("whatsapp:"))
        && t.get(9..).is_some_and(|rest| {
            let rest = rest.trim_start().trim_start_matches('+');
            let digits = rest.bytes().filter(u8::is_ascii_digit).count();
            (7..=15).contains(&digits)
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_digit() || matches!(b, b' ' | b'-' | b'(' | b')'))
        })
}
