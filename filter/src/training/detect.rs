//! Is this record WhatsApp-derived? Detectors over one record (a JSONL line, an array element).
//!
//! A record is walked while it is parsed (`streaming`): JSON escapes are decoded before matching
//! (`\u0077amid.` is `wamid.`), and every key and string is checked, without building a
//! `serde_json::Value`. The reference behaviour is the older two-step path, kept for the
//! records the walk leaves undecided (broken JSON, a repeated key that found something): a cheap
//! raw scan says whether any trigger string, JSON escape or chat-export timestamp occurs; a
//! record without one is only validated (leniently: `serde_json`'s `IgnoredAny`), the others are
//! parsed into a `Value` and walked.

use crate::document::DetectorsDoc;
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::Regex;
use serde::de::IgnoredAny;
use serde_json::Value;
use std::borrow::Cow;

mod graphql;
mod hidden;
mod layers;
mod message;
mod provenance;
mod streaming;

#[allow(
    unused_imports,
    reason = "each concept's helpers are read by the others through detect"
)]
pub(crate) use {hidden::*, message::*, provenance::*};

pub(crate) use layers::InflateBudget;

/// Why a record was judged WhatsApp-derived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detector {
    Wamid,
    WaIdKey,
    WebhookEnvelope,
    Provenance,
    ChatExport,
    PhoneKey,
    /// A Click-to-WhatsApp click id (`ctwa_clid`): only WhatsApp writes it.
    CtwaClid,
    /// A Cloud API message object kept without its id: a phone-number `from`, a message
    /// `type` and the object that type names (`text: {body}`).
    MessageObject,
    /// A string that hides a record the guard cannot read: a fifth encoding below the record
    /// whose decoded text may hold a detector's trigger, or compressed bytes (gzip or zlib in
    /// base64 or hex) that do not inflate to text within the budget. The record is dropped
    /// rather than passed unread.
    UnreadableEncoding,
}

impl Detector {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Wamid => "wamid",
            Self::WaIdKey => "wa_id_key",
            Self::WebhookEnvelope => "webhook_envelope",
            Self::Provenance => "provenance",
            Self::ChatExport => "chat_export",
            Self::PhoneKey => "phone_key",
            Self::CtwaClid => "ctwa_clid",
            Self::MessageObject => "message_object",
            Self::UnreadableEncoding => "unreadable_encoding",
        }
    }
}

/// The verdict on one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordVerdict {
    Keep,
    WhatsApp(Detector),
    /// Not UTF-8 or not JSON: the record cannot be inspected.
    Uninspectable,
}

/// Compiled detectors.
#[derive(Debug, Clone)]
pub struct Detectors {
    wamid: bool,
    wa_id_keys: Vec<String>,
    webhook_envelope: bool,
    provenance_keys: Vec<Vec<String>>,
    provenance_values: Vec<String>,
    /// The one-word provenance keys (`channel`, `source`): a key made only of them and of
    /// `type`, `name` or `kind` (`source_channel`, `channelName`) is a provenance key too.
    provenance_words: Vec<String>,
    chat_export: Option<Regex>,
    /// Unanchored timestamp shape for the raw scan: a line's texts sit inside JSON strings.
    chat_export_raw: Option<Regex>,
    phone_keys: Vec<String>,
    triggers: Option<AhoCorasick>,
    /// The raw scan's sign of a configured key, however it is separated (`WA-_ID`).
    key_scan: Regex,
    wamid_re: Regex,
    /// The streaming walk gives the same verdicts as the reference path (see `judge_json`).
    streaming: bool,
    /// How far a compressed payload in a string may inflate.
    inflate: InflateBudget,
}

const BUSINESS_ACCOUNT: &str = "whatsapp_business_account";

/// `walk` finds nothing deeper than this (`serde_json` refuses deeper records anyway).
const MAX_WALK_DEPTH: usize = 128;

/// How many encodings deep a record may hide inside a string: a JSON object carried as a
/// string, base64, percent-encoding, and those inside each other.
const MAX_HIDDEN_DEPTH: u8 = 3;

use layers::{Layer, MIN_BASE64_LEN, is_base64_byte};

/// A chat-export line as WhatsApp writes it on Android and iOS, in every locale of the
/// classifier's languages: day, month and year in any order and with `/`, `.` or `-`
/// (`12/03/2024`, `3/12/24`, `12.03.24`, `2024-03-12`, `2024/03/12`, `2024. 3. 12.`); digits of
/// any script (Arabic-Indic too); the U+200E/U+200F marks iOS and right-to-left locales put
/// before lines and inside dates; 12- or 24-hour times with `:` or `.` (`14:22`, `14.22`,
/// `2:22:01 PM`, `2:22 p. m.`, `下午2:22`, `٢:٢٢ م`); a word between date and time (`à`);
/// brackets (iOS) or ` - ` (Android); and WhatsApp Web's time-first `[14:22, 12/03/2024]`.
/// Also French Canadian times (`14 h 22`) and the Arabic comma (U+060C) between date and time.
/// Then the sender (a saved contact name may be long: up to 128 characters; captured, so that a
/// log line's source, `production.ERROR`, is told apart) and `: `. Continuation lines of a
/// multi-line message carry no timestamp.
/// A line starts after `\n`, `\r\n` or a lone `\r` (classic Mac line ends), and may be quoted
/// as an e-mail reply quotes it (`> `, at any depth) or be a markdown list item (`- `, `* `,
/// `+ `, `1. `, `1) `) before its timestamp.
const CHAT_EXPORT: &str = concat!(
    r"(?mR)^[\s\x{200E}\x{200F}\x{202A}-\x{202E}\x{2066}-\x{2069}]*",
    r"(?:>[\s>]*)?(?:(?:[-*+•]|\d{1,3}[.)])\s+)?",
    r"\[?[\x{200E}\x{200F}]?",
    r"(?:",
    r"\d{1,4}[\x{200E}\x{200F}]?[/.\-][\x{200E}\x{200F}]?\s?\d{1,2}[\x{200E}\x{200F}]?[/.\-][\x{200E}\x{200F}]?\s?\d{1,4}\.?",
    r"[,\x{060C}]?\s+(?:[^\s\d:\-]{1,3}\s+)?(?:上午|下午|午前|午後|오전|오후)?\s?",
    r"\d{1,2}(?:[:.]|\s?h\s?)\d{2}(?:[:.]\d{2})?",
    r"(?:[\s\x{202F}]?(?:[AaPp]\.?\s?[Mm]\.?|午前|午後|ص|م|पूर्वाह्न|अपराह्न|ÖÖ|ÖS))?",
    r"|\d{1,2}:\d{2},\s+\d{1,4}[/.\-]\d{1,2}[/.\-]\d{1,4}",
    r")",
    r"\]?[\x{200E}\x{200F}]?\s+(?:-\s+)?([^:\r\n]{1,128}):\s",
);
/// The raw scan's sign of a chat-export line: a time (`H:MM`, `H.MM` or `H h MM`).
const CHAT_EXPORT_RAW: &str = r"\d(?:[:.]|\s?h\s?)\d\d";
const WAMID: &str = r"(?i)wamid\.[A-Za-z0-9+/=_\-]{8,}";
/// What may separate the letters of a key in the raw scan (key comparison drops `_`, `-` and
/// blanks; a blank other than a space is escaped in JSON, a trigger itself).
const KEY_SEPARATORS: &str = r"[_\- ]*";

impl Detectors {
    pub fn compile(doc: &DetectorsDoc) -> Result<Self, String> {
        let lower = |v: &[String]| {
            v.iter()
                .map(|s| s.trim().to_ascii_lowercase())
                .collect::<Vec<_>>()
        };
        let normalized = |v: &[String]| v.iter().map(|s| normalize_key(s)).collect::<Vec<_>>();
        let mut triggers: Vec<String> = vec!["whatsapp".into(), "\\".into(), "@c.us".into()];
        if doc.wamid {
            triggers.push("wamid".into());
        }
        // Keys are compared without case, separators or blanks (`wa_id`, `waId`, `WA-_ID`), and
        // by their last part (`contact.wa_id`), so the raw scan looks for their letters with any
        // separators between them. Provenance values are compared trimmed and folded, so the
        // scan looks for the provenance keys (their last parts) instead; a name/value pair's
        // name is such a key too.
        let mut keys: Vec<String> = doc
            .wa_id_keys
            .iter()
            .chain(&doc.phone_keys)
            .map(|k| normalize_key(k))
            .collect();
        keys.extend(
            doc.provenance
                .keys
                .iter()
                .map(|k| normalize_key(k.rsplit('.').next().unwrap_or(k))),
        );
        if doc.webhook_envelope {
            keys.push("ctwaclid".into());
            // A message object's sign: its `from` key.
            keys.push("from".into());
        }
        let key_scan = keys
            .iter()
            .map(|k| {
                k.chars()
                    .map(|c| regex::escape(c.encode_utf8(&mut [0; 4])))
                    .collect::<Vec<_>>()
                    .join(KEY_SEPARATORS)
            })
            .collect::<Vec<_>>()
            .join("|");
        let ac = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostFirst)
            .build(&triggers)
            .map_err(|e| format!("detector triggers do not compile: {e}"))?;
        Ok(Self {
            wamid: doc.wamid,
            wa_id_keys: normalized(&doc.wa_id_keys),
            webhook_envelope: doc.webhook_envelope,
            provenance_keys: doc
                .provenance
                .keys
                .iter()
                .map(|k| k.split('.').map(normalize_key).collect())
                .collect(),
            provenance_values: lower(&doc.provenance.values),
            provenance_words: doc
                .provenance
                .keys
                .iter()
                .filter(|k| !k.contains('.') && key_words(k.trim()).count() == 1)
                .map(|k| normalize_key(k))
                .collect(),
            chat_export: if doc.chat_export {
                Some(Regex::new(CHAT_EXPORT).map_err(|e| e.to_string())?)
            } else {
                None
            },
            chat_export_raw: if doc.chat_export {
                Some(Regex::new(CHAT_EXPORT_RAW).map_err(|e| e.to_string())?)
            } else {
                None
            },
            phone_keys: normalized(&doc.phone_keys),
            triggers: Some(ac),
            key_scan: Regex::new(&format!("(?i){key_scan}"))
                .map_err(|e| format!("detector keys do not compile: {e}"))?,
            wamid_re: Regex::new(WAMID).map_err(|e| e.to_string())?,
            streaming: value_maps_are_sorted(),
            inflate: InflateBudget::default(),
        })
    }

    /// Bounds the compressed payloads found in strings by the policy's limits.
    pub(crate) fn set_inflate_budget(&mut self, budget: InflateBudget) {
        self.inflate = budget;
    }

    /// Judges one JSON record given as raw bytes.
    ///
    /// The streaming walk decides most records alone. Why its verdicts equal the reference
    /// path's (`judge_json_reference`):
    /// - a record it walks cleanly is valid for `Value`, hence for the more lenient `IgnoredAny`
    ///   (which skips number range, nesting depth and surrogate checks): `Keep` either way;
    /// - a record where it finds something also passes the raw scan, because every detector
    ///   needs a trigger in the raw text: a decoded key or string differs from its raw form only
    ///   through an escape (the `\\` trigger); `whatsapp` is only compared ASCII
    ///   case-insensitively and no other character case-folds to the letters of `WAMID`
    ///   (checked in the tests); a chat-export line holds a `CHAT_EXPORT_RAW` match; a
    ///   configured key holds a `key_scan` match however it is separated; a key or value that
    ///   folding changes holds a non-ASCII character. So the reference parses the record into a
    ///   `Value`, and the walk reproduces `judge_value`'s label;
    /// - anything else (broken JSON, out-of-range numbers, a repeated key) goes to the reference.
    pub fn judge_json(&self, raw: &[u8]) -> RecordVerdict {
        let Ok(text) = std::str::from_utf8(raw) else {
            return RecordVerdict::Uninspectable;
        };
        if self.streaming {
            match streaming::walk(self, text) {
                streaming::Outcome::Found(d) => return RecordVerdict::WhatsApp(d),
                streaming::Outcome::Clean => return RecordVerdict::Keep,
                streaming::Outcome::Undecided => {}
            }
        }
        self.judge_json_reference(text)
    }

    /// The reference path: raw scan, then `IgnoredAny` validation or a `Value` walk.
    fn judge_json_reference(&self, text: &str) -> RecordVerdict {
        if !self.might_match(text) {
            return match serde_json::from_str::<IgnoredAny>(text) {
                Ok(_) => RecordVerdict::Keep,
                Err(_) => RecordVerdict::Uninspectable,
            };
        }
        match serde_json::from_str::<Value>(text) {
            Ok(v) => self.judge_value(&v),
            Err(_) => RecordVerdict::Uninspectable,
        }
    }

    /// Judges a plain-text record (a chat export line, a text file's line).
    pub fn judge_text(&self, text: &str) -> RecordVerdict {
        match self.judge_string(text) {
            Some(d) => RecordVerdict::WhatsApp(d),
            None => RecordVerdict::Keep,
        }
    }

    /// Whether a key is one of the `wa_id` keys (compared without case, separators or blanks).
    pub fn is_wa_id_key(&self, key: &str) -> bool {
        self.key_kind(key) == KeyKind::WaId
    }

    /// Whether a key holds a WhatsApp number: one of the policy's phone keys, or any key that
    /// names WhatsApp (`whatsapp_number`, `customerWhatsApp`).
    pub fn is_phone_key(&self, key: &str) -> bool {
        self.key_kind(key) == KeyKind::Phone
    }

    /// Whether a key names WhatsApp without being a configured key: its value counts only when
    /// it looks like a phone number (`whatsapp_number`, not `whatsapp_opt_in`).
    pub fn key_names_whatsapp(&self, key: &str) -> bool {
        self.key_kind(key) == KeyKind::NamesWhatsApp
    }

    /// What a key is to the detectors; both walks ask this, so they agree.
    pub(super) fn key_kind(&self, key: &str) -> KeyKind {
        // Obfuscation is folded first (`wa\u{200B}_id`, full-width letters); a flattened key
        // (`contact.wa_id`) is the key of its last part.
        self.part_kind(last_part(&fold(key)))
    }

    /// `key_kind` of a key as compared (`key_part`).
    pub(super) fn part_kind(&self, key: &str) -> KeyKind {
        if self.wa_id_keys.iter().any(|k| key_eq(key, k)) {
            KeyKind::WaId
        } else if self.phone_keys.iter().any(|k| key_eq(key, k)) {
            KeyKind::Phone
        } else if key_names_whatsapp(key) {
            KeyKind::NamesWhatsApp
        } else if key_eq(key, "messagingproduct") {
            KeyKind::Product
        } else if self.webhook_envelope && key_eq(key, "ctwaclid") {
            KeyKind::CtwaClid
        } else {
            KeyKind::Other
        }
    }

    /// Whether a CSV column or flattened key (`context.channel`) is a provenance key.
    pub(super) fn is_provenance_column(&self, name: &str) -> bool {
        let folded = fold(name);
        let parts: Vec<Cow<'_, str>> = folded.split('.').map(Cow::Borrowed).collect();
        self.is_provenance_path(&parts)
    }

    /// Whether a line itself starts with a chat-export timestamp (not one further down).
    pub fn starts_chat_line(&self, line: &str) -> bool {
        let first = line.split(['\n', '\r']).next().unwrap_or_default();
        self.chat_export
            .as_ref()
            .is_some_and(|r| has_chat_line(r, first))
    }

    fn might_match(&self, text: &str) -> bool {
        // Keys and provenance values are folded when they hold a non-ASCII character, so any
        // such character may hide a trigger.
        !text.is_ascii()
            || self.triggers.as_ref().is_none_or(|t| t.is_match(text))
            || self.key_scan.is_match(text)
            || memchr::memchr(b'%', text.as_bytes()).is_some()
            || has_base64_run(text.as_bytes())
            || self
                .chat_export_raw
                .as_ref()
                .is_some_and(|r| r.is_match(text))
    }

    pub fn judge_value(&self, v: &Value) -> RecordVerdict {
        let mut path: Vec<String> = Vec::new();
        match self.walk(v, &mut path, 0, 0) {
            Some(d) => RecordVerdict::WhatsApp(d),
            None => RecordVerdict::Keep,
        }
    }

    fn walk(
        &self,
        v: &Value,
        path: &mut Vec<String>,
        depth: usize,
        hidden: u8,
    ) -> Option<Detector> {
        if depth > MAX_WALK_DEPTH {
            return None;
        }
        match v {
            Value::String(s) => self.judge_string_hidden(s, hidden),
            Value::Array(items) => items
                .iter()
                .find_map(|x| self.walk(x, path, depth + 1, hidden)),
            Value::Object(map) => {
                if self.webhook_envelope
                    && map.iter().any(|(k, v)| {
                        self.key_kind(k) == KeyKind::Product && v.as_str().is_some_and(is_whatsapp)
                    })
                {
                    return Some(Detector::WebhookEnvelope);
                }
                if self.is_provenance_field(map) {
                    return Some(Detector::Provenance);
                }
                if self.webhook_envelope && is_message_object(map) {
                    return Some(Detector::MessageObject);
                }
                let route = map
                    .keys()
                    .any(|k| is_destination_key(&key_part(&Cow::Borrowed(k))));
                for (k, val) in map {
                    match self.key_kind(k) {
                        KeyKind::WaId if !is_empty(val) => return Some(Detector::WaIdKey),
                        KeyKind::Phone if !is_empty(val) => return Some(Detector::PhoneKey),
                        KeyKind::NamesWhatsApp if is_phone_like(val) => {
                            return Some(Detector::PhoneKey);
                        }
                        KeyKind::CtwaClid if !is_empty(val) => return Some(Detector::CtwaClid),
                        _ => {}
                    }
                    let part = key_part(&Cow::Borrowed(k.as_str()));
                    let compound = self.is_compound_provenance(&part);
                    path.push(normalize_key(&part));
                    let provenance = (compound || self.is_provenance_key(path))
                        && self.naming(val).counts(route);
                    let found = if provenance {
                        Some(Detector::Provenance)
                    } else {
                        self.walk(val, path, depth + 1, hidden)
                    };
                    path.pop();
                    if found.is_some() {
                        return found;
                    }
                    if self.wamid && self.wamid_re.is_match(k) {
                        return Some(Detector::Wamid);
                    }
                }
                None
            }
            _ => None,
        }
    }

    fn judge_string(&self, s: &str) -> Option<Detector> {
        self.judge_string_hidden(s, 0)
    }
}

/// Whether `serde_json::Map` iterates its keys sorted (a `BTreeMap`), as the streaming walk
/// assumes; the `preserve_order` feature would keep insertion order instead.
fn value_maps_are_sorted() -> bool {
    serde_json::from_str::<Value>(r#"{"b":0,"a":0}"#)
        .ok()
        .and_then(|v| v.as_object().and_then(|m| m.keys().next().cloned()))
        .is_some_and(|k| k == "a")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d() -> Detectors {
        Detectors::compile(&DetectorsDoc {
            phone_keys: vec!["customer_whatsapp".into()],
            ..DetectorsDoc::default()
        })
        .unwrap()
    }

    fn judge(s: &str) -> RecordVerdict {
        d().judge_json(s.as_bytes())
    }

    #[test]
    fn every_detector_fires() {
        use Detector::*;
        let cases = [
            (
                r#"{"messages":[{"role":"user","content":"hi"}],"meta":{"id":"wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRB"}}"#,
                Wamid,
            ),
            (r#"{"contact":{"wa_id":"16505551234"},"text":"x"}"#, WaIdKey),
            (
                r#"{"object":"whatsapp_business_account","entry":[]}"#,
                WebhookEnvelope,
            ),
            (
                r#"{"value":{"messaging_product":"WhatsApp"}}"#,
                WebhookEnvelope,
            ),
            (
                r#"{"messages":[],"metadata":{"channel":"WhatsApp"}}"#,
                Provenance,
            ),
            (r#"{"source":" wa "}"#, Provenance),
            (r#"{"origin":"whatsapp-cloud-api"}"#, Provenance),
            (
                r#"{"text":"[12/03/2024, 14:22:01] Ana Souza: is the store open?"}"#,
                ChatExport,
            ),
            (r#"{"text":"12/03/2024, 14:22 - Ana: hello"}"#, ChatExport),
            (r#"{"customer_whatsapp":"+15550001"}"#, PhoneKey),
        ];
        for (rec, want) in cases {
            assert_eq!(judge(rec), RecordVerdict::WhatsApp(want), "{rec}");
        }
    }

    #[test]
    fn json_escapes_are_decoded_before_matching() {
        assert_eq!(
            judge(r#"{"id":"\u0077amid.HBgLMTY1MDM4Nzk0"}"#),
            RecordVerdict::WhatsApp(Detector::Wamid)
        );
        assert_eq!(
            judge(r#"{"\u0077a_id":"1"}"#),
            RecordVerdict::WhatsApp(Detector::WaIdKey)
        );
        assert_eq!(
            judge(r#"{"channel":"Wh\u0061tsApp"}"#),
            RecordVerdict::WhatsApp(Detector::Provenance)
        );
        assert_eq!(
            judge(r#"{"t":"12\/03\/2024, 14:22 - Ana: hi"}"#),
            RecordVerdict::WhatsApp(Detector::ChatExport)
        );
    }

    #[test]
    fn ordinary_records_are_kept() {
        for rec in [
            r#"{"messages":[{"role":"user","content":"Where is my parcel?"},{"role":"assistant","content":"It ships today."}],"channel":"webchat"}"#,
            r#"{"text":"We discussed WA state taxes","source":"email"}"#,
            r#"{"prompt":"wamid is a word","completion":"x"}"#,
            r#"{"source":"wall"}"#,
        ] {
            assert_eq!(judge(rec), RecordVerdict::Keep, "{rec}");
        }
    }

    #[test]
    fn chat_exports_in_every_format_are_found() {
        for line in [
            "12/03/2024, 14:22 - Ana Souza: is the store open?",
            "3/12/24, 2:22 PM - Ana: hi",
            "3/12/24, 2:22\u{202F}PM - Ana: hi",
            "[12/03/2024, 14:22:01] Ana Souza: hello",
            "\u{200E}[12/03/2024, 14:22:01] Ana: \u{200E}image omitted",
            "[3/12/24, 2:22:01 PM] Ana: hello",
            "12.03.24, 14:22 - Ana: Hallo",
            "[12.03.24, 14:22:01] Ana: Hallo",
            "12/3/24, 2:22 p. m. - Ana: hola",
            "12/03/2024 à 14:22 - Ana: bonjour",
            "12.03.2024 14:22 - Ana: merhaba",
            "12-03-2024 14:22 - Ana: hoi",
            "12/03/24 14.22 - Ana: halo",
            "2024/03/12 14:22 - Ana: こんにちは",
            "2024/3/12 下午2:22 - Ana: 你好",
            "١٢\u{200F}/٣\u{200F}/٢٠٢٤ ٢:٢٢ م - Ana: مرحبا",
            "12/03/24, 2:22 pm - Ana: नमस्ते",
            "[14:22, 12/03/2024] Ana: hi",
            "2024. 3. 12. 오후 2:22 - Ana: 안녕",
            "first line\n12/03/2024, 14:22 - +1 650 555 0123: multi\nline",
        ] {
            assert_eq!(
                d().judge_text(line),
                RecordVerdict::WhatsApp(Detector::ChatExport),
                "{line}"
            );
        }
        for line in [
            "The meeting on 12/03/2024 at 14:22 went well.",
            "Version 1.2.3 released",
            "Total: 12.50 EUR",
        ] {
            assert_eq!(d().judge_text(line), RecordVerdict::Keep, "{line}");
        }
    }

    #[test]
    fn records_hidden_one_level_down_are_found() {
        use base64::Engine;
        let envelope = r#"{"object":"whatsapp_business_account","entry":[{"changes":[]}]}"#;
        let message =
            r#"{"from":"16505551234","id":"wamid.HBgLMTY1MDM4Nzk0","text":{"body":"hi"}}"#;
        let b64 = base64::engine::general_purpose::STANDARD.encode(message);
        let b64url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(envelope);
        for (rec, want) in [
            // An envelope carried as an escaped JSON string.
            (
                serde_json::json!({"content": envelope}).to_string(),
                Detector::WebhookEnvelope,
            ),
            // An array of such strings.
            (
                serde_json::json!({"rows": ["x", message]}).to_string(),
                Detector::Wamid,
            ),
            // Base64, both alphabets.
            (
                serde_json::json!({"blob": b64}).to_string(),
                Detector::Wamid,
            ),
            (
                serde_json::json!({"blob": b64url}).to_string(),
                Detector::WebhookEnvelope,
            ),
            // Percent-encoding.
            (
                r#"{"ref":"wamid%2EHBgLMTY1MDM4Nzk0"}"#.to_owned(),
                Detector::Wamid,
            ),
            // A string inside a string inside base64.
            (
                serde_json::json!({"x": base64::engine::general_purpose::STANDARD
                    .encode(serde_json::json!({"inner": envelope}).to_string())})
                .to_string(),
                Detector::WebhookEnvelope,
            ),
        ] {
            assert_eq!(judge(&rec), RecordVerdict::WhatsApp(want), "{rec}");
            assert_eq!(
                d().judge_json_reference(&rec),
                RecordVerdict::WhatsApp(want),
                "{rec}"
            );
        }
        let mime = base64::engine::general_purpose::STANDARD
            .encode(envelope)
            .as_bytes()
            .chunks(20)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join("\n");
        for (rec, want) in [
            // MIME base64 in lines, a data URL, JSON encoded twice, a soft hyphen.
            (serde_json::json!({"blob": mime}).to_string(), Detector::WebhookEnvelope),
            (
                serde_json::json!({"file_data": format!("data:application/json;base64,{b64}")}).to_string(),
                Detector::Wamid,
            ),
            (
                serde_json::json!({"c": serde_json::to_string(&serde_json::to_string(&serde_json::json!({"wa_id": "16505551234"})).unwrap()).unwrap()}).to_string(),
                Detector::WaIdKey,
            ),
            (r#"{"channel":"Whats\u00adApp"}"#.to_owned(), Detector::Provenance),
            // Provenance held in an object, and WhatsApp Web user addresses.
            (r#"{"channel":{"type":"whatsapp"}}"#.to_owned(), Detector::Provenance),
            (r#"{"source":{"S":"WhatsApp"}}"#.to_owned(), Detector::Provenance),
            (r#"{"key":{"remoteJid":"16505551234@s.whatsapp.net"}}"#.to_owned(), Detector::Provenance),
            (r#"{"from":"16505551234@c.us"}"#.to_owned(), Detector::Provenance),
        ] {
            assert_eq!(judge(&rec), RecordVerdict::WhatsApp(want), "{rec}");
        }
        // Records inside longer strings.
        for rec in [
            serde_json::json!({"log": format!("2024-03-12 14:22:01 INFO webhook body={envelope} handled")}).to_string(),
            serde_json::json!({"raw": "ToCountry=US&WaId=16505551234&SmsStatus=received&Body=hola&From=whatsapp%3A%2B16505551234"}).to_string(),
            serde_json::json!({"url": format!("https://hooks.example/in?payload={}&x=1", crate::whatsapp::percent_decode(envelope))}).to_string(),
            serde_json::json!({"blob": format!("\u{FEFF}{envelope}")}).to_string(),
            serde_json::json!({"lines": format!("{{\"a\":1}}\n{message}\n")}).to_string(),
        ] {
            assert!(matches!(judge(&rec), RecordVerdict::WhatsApp(_)), "{rec}");
            assert!(matches!(d().judge_json_reference(&rec), RecordVerdict::WhatsApp(_)), "{rec}");
        }
        // Flattened keys; keys naming WhatsApp count with a phone-like value only.
        for (rec, want) in [
            (
                r#"{"contact.wa_id":"16505551234"}"#,
                RecordVerdict::WhatsApp(Detector::WaIdKey),
            ),
            (
                r#"{"context.channel":"WhatsApp"}"#,
                RecordVerdict::WhatsApp(Detector::Provenance),
            ),
            (
                r#"{"whatsapp_number":"+1 650 555 1234"}"#,
                RecordVerdict::WhatsApp(Detector::PhoneKey),
            ),
            (
                r#"{"whatsappNumber":16505551234}"#,
                RecordVerdict::WhatsApp(Detector::PhoneKey),
            ),
            (
                r#"{"whatsapp_opt_in":false,"channel":"email"}"#,
                RecordVerdict::Keep,
            ),
            (
                r#"{"whatsapp_support_hours":"9-17 CET"}"#,
                RecordVerdict::Keep,
            ),
        ] {
            assert_eq!(judge(rec), want, "{rec}");
            assert_eq!(d().judge_json_reference(rec), want, "{rec}");
        }
        // Ordinary base64 and percent signs stay ordinary.
        for rec in [
            r#"{"img":"iVBORw0KGgoAAAANSUhEUgAAAAEAAAAB"}"#,
            r#"{"t":"50% off everything, 100%25 sure"}"#,
            r#"{"t":"{not json at all"}"#,
        ] {
            assert_eq!(judge(rec), RecordVerdict::Keep, "{rec}");
        }
    }

    #[test]
    fn obfuscated_keys_and_provenance_values_are_folded_in_both_paths() {
        use Detector::*;
        for (rec, want) in [
            // A zero-width space or a soft hyphen inside a key.
            (
                "{\"contact\":{\"wa\u{200B}_id\":\"16505551234\"}}",
                Some(WaIdKey),
            ),
            ("{\"wa\u{AD}id\":\"16505551234\"}", Some(WaIdKey)),
            // Full-width and mathematical letters, in keys and values.
            ("{\"ＷＡ＿ＩＤ\":\"1\"}", Some(WaIdKey)),
            ("{\"channel\":\"ＷｈａｔｓＡｐｐ\"}", Some(Provenance)),
            ("{\"𝐜𝐡𝐚𝐧𝐧𝐞𝐥\":\"whatsapp\"}", Some(Provenance)),
            ("{\"source\":\"𝕎𝕙𝕒𝕥𝕤𝔸𝕡𝕡\"}", Some(Provenance)),
            // A Cyrillic look-alike, an accent, a direction mark.
            ("{\"channel\":\"Whаtsapp\"}", Some(Provenance)),
            ("{\"channel\":\"whatsápp\"}", Some(Provenance)),
            (
                "{\"messaging_product\":\"\u{200E}ｗｈａｔｓａｐｐ\"}",
                Some(WebhookEnvelope),
            ),
            ("{\"ｃｔｗａ_ｃｌｉｄ\":\"ARAkLkA8rmlF\"}", Some(CtwaClid)),
            // Non-ASCII records that name nothing stay.
            ("{\"channel\":\"ウェブ\",\"名前\":\"Ana\"}", None),
            (
                "{\"canal\":\"web\",\"texto\":\"¿dónde está mi pedido?\"}",
                None,
            ),
            ("{\"channel\":\"ＷＥＢ\"}", None),
        ] {
            let want = want.map_or(RecordVerdict::Keep, RecordVerdict::WhatsApp);
            assert_eq!(judge(rec), want, "{rec}");
            assert_eq!(d().judge_json_reference(rec), want, "{rec}");
        }
    }

    #[test]
    fn a_click_to_whatsapp_id_marks_a_record() {
        for (rec, want) in [
            (
                r#"{"referral":{"source_type":"ad","ctwa_clid":"ARAkLkA8rmlFeiCktEJQ"}}"#,
                RecordVerdict::WhatsApp(Detector::CtwaClid),
            ),
            (
                r#"{"CtwaClid":"ARAk"}"#,
                RecordVerdict::WhatsApp(Detector::CtwaClid),
            ),
            (r#"{"ctwa_clid":""}"#, RecordVerdict::Keep),
            (
                r#"{"ctwa_clid":null,"fbclid":"IwAR2"}"#,
                RecordVerdict::Keep,
            ),
        ] {
            assert_eq!(judge(rec), want, "{rec}");
            assert_eq!(d().judge_json_reference(rec), want, "{rec}");
        }
        // Off with the webhook detector.
        let det = Detectors::compile(&DetectorsDoc {
            webhook_envelope: false,
            ..DetectorsDoc::default()
        })
        .unwrap();
        assert_eq!(
            det.judge_json(br#"{"ctwa_clid":"ARAk"}"#),
            RecordVerdict::Keep
        );
    }

    #[test]
    fn chat_exports_quoted_listed_in_html_or_with_lone_cr_are_found() {
        for text in [
            "> 12/03/2024, 14:22 - Ana Souza: is my order late?",
            ">> > 12/03/2024, 14:22 - Ana: hi",
            "- [12/03/2024, 14:22:01] Ana Souza: is my order late?",
            "* 12/03/2024, 14:22 - Ana: hi",
            "1. [12/03/2024, 14:22:01] Ana: hi",
            "2) 12/03/2024, 14:22 - Ana: hi",
            "WhatsApp chat with Ana\r12/03/2024, 14:22 - Ana Souza: is my order late?",
            "<p>12/03/2024, 14:22 - Ana Souza: is my order late?<br>12/03/2024, 14:25 - Shop: Friday.</p>",
            "<div class=\"msg\">\u{200E}[12/03/2024, 14:22:01] Ana: hi</div>",
            "x<br/>12/03/2024, 14:22 - Ana: hi",
            "2024-03-12 14 h 22 - Ana Tremblay : bonjour",
            "12/03/2024 14h22 - Ana : salut",
            "[١٢\u{200F}/٣\u{200F}/٢٠٢٤، ٢:٢٢:٠١ م] Ana: مرحبا",
        ] {
            assert_eq!(
                d().judge_text(text),
                RecordVerdict::WhatsApp(Detector::ChatExport),
                "{text}"
            );
        }
        for text in [
            "- Meeting at 14:22: budget",
            "* 2024-03-12: release 1.2.3",
            "> On 12/03/2024 at 14:22, Ana wrote:",
            "<p>Customer wrote: where is my parcel?<br>Agent: it ships today.</p>",
            "<p>Opening hours 09:00 - 18:00</p><br>Address: 1 Main St",
            "The train leaves at 14 h 22: be on time",
        ] {
            assert_eq!(d().judge_text(text), RecordVerdict::Keep, "{text}");
        }
        // In JSON too, where the raw scan sees the escaped forms.
        for rec in [
            r#"{"transcript":"Chat\r12/03/2024, 14:22 - Ana: hi"}"#,
            r#"{"t":"2024-03-12 14 h 22 - Ana : bonjour"}"#,
            r#"{"html":"<p>12/03/2024, 14:22 - Ana: hi</p>"}"#,
        ] {
            let want = RecordVerdict::WhatsApp(Detector::ChatExport);
            assert_eq!(judge(rec), want, "{rec}");
            assert_eq!(d().judge_json_reference(rec), want, "{rec}");
        }
    }

    #[test]
    fn graphql_literals_are_judged_like_strings() {
        let envelope = serde_json::json!({"query": "mutation { createDataRows(data: [{datasetId: \"ds1\", rowData: \"{\\\"messaging_product\\\":\\\"whatsapp\\\",\\\"contacts\\\":[]}\"}]) { id } }"}).to_string();
        let chat = serde_json::json!({"query": "mutation { createDataRow(data: {rowData: \"12/03/2024, 14:22 - Ana Souza: is my order late?\\n12/03/2024, 14:25 - Shop: Friday.\"}) { id } }"}).to_string();
        let block = serde_json::json!({"query": "mutation { a(x: \"\"\"\nnote\n[12/03/2024, 14:22:01] Ana: hi\n\"\"\") { id } }"}).to_string();
        let clean = serde_json::json!({"query": "mutation { createDataRows(data: [{datasetId: \"ds1\", rowData: \"reset my password / Use the link we emailed.\"}]) { id } }"}).to_string();
        for (rec, want) in [
            (
                &envelope,
                RecordVerdict::WhatsApp(Detector::WebhookEnvelope),
            ),
            (&chat, RecordVerdict::WhatsApp(Detector::ChatExport)),
            (&block, RecordVerdict::WhatsApp(Detector::ChatExport)),
            (&clean, RecordVerdict::Keep),
        ] {
            assert_eq!(judge(rec), want, "{rec}");
            assert_eq!(d().judge_json_reference(rec), want, "{rec}");
        }
    }

    #[test]
    fn a_provenance_field_written_as_a_name_value_pair_counts() {
        let want = RecordVerdict::WhatsApp(Detector::Provenance);
        for (rec, want) in [
            (
                r#"{"custom_fields":[{"name":"channel","value":"WhatsApp"},{"name":"priority","value":"high"}]}"#,
                want,
            ),
            (r#"{"fields":[{"value":"whatsapp","key":"Source"}]}"#, want),
            (
                r#"{"f":{"label":"channel_type","value":{"S":"WhatsApp"}}}"#,
                want,
            ),
            (
                r#"{"custom_fields":[{"name":"channel","value":"email"},{"name":"note","value":"WhatsApp us"}]}"#,
                RecordVerdict::Keep,
            ),
            (r#"{"name":"Ana","value":"whatsapp"}"#, RecordVerdict::Keep),
        ] {
            assert_eq!(judge(rec), want, "{rec}");
            assert_eq!(d().judge_json_reference(rec), want, "{rec}");
        }
    }

    #[test]
    fn a_repeated_key_in_escaped_json_has_every_value_checked() {
        let rec =
            serde_json::json!({"meta": r#"{"channel":"whatsapp","channel":"web"}"#}).to_string();
        assert_eq!(judge(&rec), RecordVerdict::WhatsApp(Detector::Provenance));
        assert_eq!(
            d().judge_json_reference(&rec),
            RecordVerdict::WhatsApp(Detector::Provenance)
        );
    }

    /// Review round 1, uploads #7 to #12: encodings that are not JSON strings, and a layer
    /// beyond the depth limit. Both paths give the same verdict.
    #[test]
    fn records_hidden_in_other_encodings_are_found_or_dropped_unread() {
        use base64::Engine;
        use std::io::Write;
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        let gz = |b: &[u8]| {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(b).unwrap();
            e.finish().unwrap()
        };
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        let envelope = r#"{"messaging_product":"whatsapp","contacts":[{"wa_id":"351912345678"}]}"#;
        let clean = r#"{"order":"A-1042","status":"shipped"}"#;
        // Base64 around a JSON string around base64: the last layer sits at the depth limit.
        let deep = |inner: &str| {
            let l3 = b64(inner.as_bytes());
            let l2 = serde_json::json!({"data": l3}).to_string();
            b64(serde_json::json!({"body": l2}).to_string().as_bytes())
        };
        let mut bomb = vec![b'x'; 4 << 20];
        bomb.splice(0..0, *b"{\"a\":\"");
        let d = d();
        let mut small = d.clone();
        small.set_inflate_budget(InflateBudget {
            ratio: 100,
            max: 1 << 20,
        });
        for (det, value, want) in [
            (
                &d,
                b64(&gz(envelope.as_bytes())),
                Some(Detector::WebhookEnvelope),
            ),
            (
                &d,
                hex(envelope.as_bytes()),
                Some(Detector::WebhookEnvelope),
            ),
            (
                &d,
                format!("\\x{}", hex(&gz(envelope.as_bytes()))),
                Some(Detector::WebhookEnvelope),
            ),
            (&small, b64(&gz(&bomb)), Some(Detector::UnreadableEncoding)),
            (
                &d,
                b64(gz(envelope.as_bytes()).get(..30).unwrap()),
                Some(Detector::UnreadableEncoding),
            ),
            (
                &d,
                envelope.replace('"', "&quot;"),
                Some(Detector::WebhookEnvelope),
            ),
            (
                &d,
                "{'profile': {'name': 'Ines'}, 'wa_id': '351912345678', 'vip': True}".into(),
                Some(Detector::WaIdKey),
            ),
            (&d, deep(envelope), Some(Detector::UnreadableEncoding)),
            (
                &d,
                "HBgMMzUxOTEyMzQ1Njc4FQIAEhgUM0VCMEM3RjFBMkIzQzRENUU2RjcA".into(),
                Some(Detector::Wamid),
            ),
            // A payload compressed inside a compressed one is not inflated twice.
            (
                &d,
                b64(&gz(b64(&gz(clean.as_bytes())).as_bytes())),
                Some(Detector::UnreadableEncoding),
            ),
            // Clean: inflated and read, no layer, or a last layer without a trigger.
            (&d, b64(&gz(clean.as_bytes())), None),
            (&d, hex(clean.as_bytes()), None),
            (
                &d,
                "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
                None,
            ),
            (&d, clean.replace('"', "&quot;"), None),
            (&d, "{'ticket': 88213, 'vip': False}".into(), None),
            (&d, deep(clean), None),
        ] {
            let rec = serde_json::json!({"messages": [], "extra": value}).to_string();
            let want = want.map_or(RecordVerdict::Keep, RecordVerdict::WhatsApp);
            assert_eq!(det.judge_json(rec.as_bytes()), want, "{value}");
            assert_eq!(det.judge_json_reference(&rec), want, "reference: {value}");
        }
    }

    #[test]
    fn broken_records_are_uninspectable() {
        assert_eq!(
            d().judge_json(b"{\"a\": \xff}"),
            RecordVerdict::Uninspectable
        );
        assert_eq!(judge("{not json"), RecordVerdict::Uninspectable);
        assert_eq!(
            judge(r#"{"channel":"whatsapp""#),
            RecordVerdict::Uninspectable
        );
    }

    #[test]
    fn configured_keys_with_blanks_match_in_both_paths() {
        let det = Detectors::compile(&DetectorsDoc {
            wa_id_keys: vec![" Wa_Id ".into()],
            phone_keys: vec!["customer_whatsapp ".into()],
            ..DetectorsDoc::default()
        })
        .unwrap();
        for (rec, want) in [
            (r#"{"wa_id":"16505551234"}"#, Detector::WaIdKey),
            (r#"{"customer_whatsapp":"+15550001"}"#, Detector::PhoneKey),
        ] {
            assert_eq!(
                det.judge_json(rec.as_bytes()),
                RecordVerdict::WhatsApp(want),
                "{rec}"
            );
            assert_eq!(
                det.judge_json_reference(rec),
                RecordVerdict::WhatsApp(want),
                "{rec}"
            );
        }
    }

    #[test]
    fn a_message_object_without_its_id_is_found() {
        let want = RecordVerdict::WhatsApp(Detector::MessageObject);
        for (rec, want) in [
            (
                r#"{"src":{"from":"16505551234","timestamp":"1749416383","type":"text","text":{"body":"Is my order shipped?"}}}"#,
                want,
            ),
            (
                r#"{"from":"+1 650 555 1234","type":"image","image":{"mime_type":"image/jpeg"}}"#,
                want,
            ),
            (
                r#"{"From":16505551234,"Type":" Contacts ","contacts":[{"name":{"first_name":"Ana"}}]}"#,
                want,
            ),
            // Flattened, as `json_normalize` writes it.
            (
                r#"{"from":"16505551234","timestamp":"1749416383","type":"text","text.body":"hi"}"#,
                want,
            ),
            // Not a phone number, not a message type, or no content object of that type.
            (
                r#"{"from":"ana@example.com","type":"text","text":{"body":"hi"}}"#,
                RecordVerdict::Keep,
            ),
            (
                r#"{"from":"16505551234","type":"call","call":{"duration":3}}"#,
                RecordVerdict::Keep,
            ),
            (
                r#"{"from":"16505551234","type":"text","image":{"id":"1"}}"#,
                RecordVerdict::Keep,
            ),
            (
                r#"{"from":"16505551234","type":"text","text":"hi"}"#,
                RecordVerdict::Keep,
            ),
            (
                r#"{"from":"2024-03-12","to":"2024-03-19","type":"text","text":{"body":"x"}}"#,
                RecordVerdict::Keep,
            ),
        ] {
            assert_eq!(judge(rec), want, "{rec}");
            assert_eq!(d().judge_json_reference(rec), want, "{rec}");
        }
        // Off with the webhook detector.
        let det = Detectors::compile(&DetectorsDoc {
            webhook_envelope: false,
            ..DetectorsDoc::default()
        })
        .unwrap();
        assert_eq!(
            det.judge_json(br#"{"from":"16505551234","type":"text","text":{"body":"hi"}}"#),
            RecordVerdict::Keep
        );
    }

    #[test]
    fn log_lines_are_not_chat_export_lines() {
        for text in [
            "[2024-03-12 14:22:01] production.ERROR: SQLSTATE[HY000] [2002] Connection refused",
            "[2024-03-12 14:22:05] local.INFO: Retrying database connection",
            "2024-03-12 14:22:01 - app-worker.WARNING: queue is slow",
            "[2024-03-12 14:22:01] ERROR: disk full",
            "12/03/2024 14:22:01 [DEBUG]: cache miss",
            "Why does checkout fail?\n[2024-03-12 14:22:01] production.ERROR: Connection refused",
        ] {
            assert_eq!(d().judge_text(text), RecordVerdict::Keep, "{text}");
            assert!(!d().starts_chat_line(text), "{text}");
        }
        // A sender is a name or a number, whatever its case; a log line among chat lines does
        // not hide them.
        for text in [
            "[2024-03-12 14:22:01] Ana Souza: is my order late?",
            "12/03/2024, 14:22 - Info Desk: we open at 9",
            "12/03/2024, 14:22 - Dr. Error: hi",
            "[2024-03-12 14:22:01] production.ERROR: x\n[2024-03-12 14:23:00] Ana: hi",
            "12/03/2024, 14:22 - Ana Souza - Acme Key Account, Purchasing Dept (Sao Paulo HQ) since 2019: hi",
        ] {
            assert_eq!(
                d().judge_text(text),
                RecordVerdict::WhatsApp(Detector::ChatExport),
                "{text}"
            );
        }
    }

    #[test]
    fn provenance_values_that_only_mention_whatsapp_or_abbreviate_a_place() {
        let p = RecordVerdict::WhatsApp(Detector::Provenance);
        for (rec, want) in [
            // A document's address that merely contains the word.
            (
                r#"{"source":"docs/whatsapp-integration-guide.md"}"#,
                RecordVerdict::Keep,
            ),
            (
                r#"{"source":"https://developers.facebook.com/docs/whatsapp/cloud-api"}"#,
                RecordVerdict::Keep,
            ),
            (r#"{"source":"WhatsApp_Export.TXT"}"#, RecordVerdict::Keep),
            // Channel names that contain it still count.
            (r#"{"source":"whatsapp/inbound"}"#, p),
            (r#"{"channel":"twilio-whatsapp"}"#, p),
            (r#"{"source":"WhatsApp Business API"}"#, p),
            // An abbreviation is a place in a route, a channel elsewhere.
            (
                r#"{"shipment":{"origin":"WA","destination":"OR","carrier":"UPS"}}"#,
                RecordVerdict::Keep,
            ),
            (r#"{"origin":"wa","dest":"CA"}"#, RecordVerdict::Keep),
            (r#"{"origin":"whatsapp","destination":"crm"}"#, p),
            (r#"{"origin":"WA","note":"x"}"#, p),
            (r#"{"channel":"WABA"}"#, p),
            (r#"{"canal":"WhatsApp"}"#, p),
            (r#"{"herkunft":"whatsapp"}"#, p),
        ] {
            assert_eq!(judge(rec), want, "{rec}");
            assert_eq!(d().judge_json_reference(rec), want, "{rec}");
        }
    }

    #[test]
    fn compound_provenance_keys_are_made_of_provenance_words() {
        let p = RecordVerdict::WhatsApp(Detector::Provenance);
        for (rec, want) in [
            (r#"{"source_channel":"whatsapp"}"#, p),
            (r#"{"sourceChannel":"WhatsApp"}"#, p),
            (r#"{"Channel Name":"WhatsApp"}"#, p),
            (r#"{"origin-platform":"wa"}"#, p),
            (r#"{"canal_origem":"whatsapp"}"#, p),
            // Another word makes it something else.
            (r#"{"utm_source":"whatsapp"}"#, RecordVerdict::Keep),
            (r#"{"preferred_channel":"whatsapp"}"#, RecordVerdict::Keep),
            (r#"{"lead_source":"WhatsApp"}"#, RecordVerdict::Keep),
            (r#"{"channel_id":"whatsapp"}"#, RecordVerdict::Keep),
            (r#"{"type_name":"whatsapp"}"#, RecordVerdict::Keep),
        ] {
            assert_eq!(judge(rec), want, "{rec}");
            assert_eq!(d().judge_json_reference(rec), want, "{rec}");
        }
        assert_eq!(
            key_words("sourceChannel_TYPE x").collect::<Vec<_>>(),
            ["source", "Channel", "TYPE", "x"]
        );
    }

    #[test]
    fn a_metadata_field_referenced_by_a_schema_id_counts_when_its_value_names_whatsapp() {
        let p = RecordVerdict::WhatsApp(Detector::Provenance);
        for (rec, want) in [
            (
                r#"{"metadataFields":[{"schemaId":"cko8s9r5v0001h2dk9elqdidh","value":"WhatsApp"}]}"#,
                p,
            ),
            (
                r#"{"metadata_fields":[{"schema_id":"x1","value":"whatsapp support"}]}"#,
                p,
            ),
            // An abbreviation says nothing without the field's name.
            (
                r#"{"metadataFields":[{"schemaId":"x1","value":"WA"}]}"#,
                RecordVerdict::Keep,
            ),
            (
                r#"{"metadataFields":[{"schemaId":"","value":"WhatsApp"}]}"#,
                RecordVerdict::Keep,
            ),
            (
                r#"{"metadataFields":[{"schemaId":"x1","value":"Email"}]}"#,
                RecordVerdict::Keep,
            ),
        ] {
            assert_eq!(judge(rec), want, "{rec}");
            assert_eq!(d().judge_json_reference(rec), want, "{rec}");
        }
    }

    #[test]
    fn dotted_provenance_paths_only_match_where_configured() {
        let doc = DetectorsDoc {
            provenance: crate::document::ProvenanceDoc {
                keys: vec!["meta.src".into()],
                values: vec!["wa".into()],
            },
            ..DetectorsDoc::default()
        };
        let det = Detectors::compile(&doc).unwrap();
        assert_eq!(
            det.judge_json(br#"{"meta":{"src":"wa"}}"#),
            RecordVerdict::WhatsApp(Detector::Provenance)
        );
        assert_eq!(
            det.judge_json(br#"{"other":{"src":"wa"}}"#),
            RecordVerdict::Keep
        );
    }
}
