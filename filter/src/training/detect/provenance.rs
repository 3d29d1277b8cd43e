//! Provenance: keys and values that name WhatsApp as a record's source, and the senders
//! that do not (log sources, WhatsApp Web user addresses).

use super::*;

impl Detectors {
    /// `is_provenance_key` over a path of keys as compared (`key_part`; compared ASCII
    /// case-insensitively, as the lowercased path is compared with lowercased names).
    pub(super) fn is_provenance_path(&self, path: &[Cow<'_, str>]) -> bool {
        if path.last().is_some_and(|k| self.is_compound_provenance(k)) {
            return true;
        }
        self.provenance_keys.iter().any(|k| {
            path.len() >= k.len()
                && path
                    .get(path.len() - k.len()..)
                    .is_some_and(|tail| tail.iter().zip(k).all(|(p, n)| key_eq(p, n)))
        })
    }

    /// How a provenance value names WhatsApp: by its name (`WhatsApp`, `whatsapp-cloud-api`;
    /// not a document's path or address that merely contains the word,
    /// `docs/whatsapp-guide.md`), by a configured abbreviation (`wa`, `waba`), or not at all.
    /// Invisible characters (`Whats\u{AD}App`), full-width or mathematical letters
    /// (`ＷｈａｔｓＡｐｐ`) and look-alikes do not hide it.
    pub(in crate::training) fn naming_str(&self, s: &str) -> Naming {
        let folded = fold(s);
        let s = folded.trim();
        let configured = self
            .provenance_values
            .iter()
            .find(|v| s.eq_ignore_ascii_case(v));
        if contains_whatsapp(s) && (configured.is_some() || !is_document_reference(s)) {
            Naming::Name
        } else if configured.is_some() {
            Naming::Alias
        } else {
            Naming::None
        }
    }

    /// A compound key made only of provenance words and at most `type`, `name` or `kind`
    /// (`source_channel`, `channelType`, `origin-platform`), with two words or more. Keys that
    /// add any other word (`utm_source`, `lead_source`, `preferred_channel`, `channel_id`,
    /// `source_url`) are not provenance.
    pub(in crate::training) fn is_compound_provenance(&self, part: &str) -> bool {
        let mut words = 0;
        let mut provenance = false;
        for word in key_words(part) {
            words += 1;
            if self.provenance_words.iter().any(|w| key_eq(word, w)) {
                provenance = true;
            } else if !["type", "name", "kind"].iter().any(|q| key_eq(word, q)) {
                return false;
            }
        }
        words >= 2 && provenance
    }

    /// A key path ends with one of the configured names or dotted paths.
    pub(super) fn is_provenance_key(&self, path: &[String]) -> bool {
        self.provenance_keys.iter().any(|k| {
            path.len() >= k.len() && path.get(path.len() - k.len()..) == Some(k.as_slice())
        })
    }

    /// A custom field written as a name/value pair (`{"name": "channel", "value": "WhatsApp"}`,
    /// as CRMs and labelling tools store metadata): its name is a provenance key and its value
    /// names WhatsApp.
    ///
    /// A field referenced by an opaque schema id instead of a name (Labelbox's
    /// `{"schemaId": "...", "value": "WhatsApp"}`) counts when its value names WhatsApp by
    /// name: an abbreviation such as `wa` says nothing without the field's name.
    pub(super) fn is_provenance_field(&self, map: &serde_json::Map<String, Value>) -> bool {
        let role = |k: &str| field_role(&key_part(&Cow::Borrowed(k)));
        let named = map.iter().any(|(k, v)| {
            role(k) == FieldRole::Name && v.as_str().is_some_and(|s| self.is_provenance_column(s))
        });
        let schema = map.iter().any(|(k, v)| {
            role(k) == FieldRole::Schema && v.as_str().is_some_and(|s| !s.trim().is_empty())
        });
        let naming = map
            .iter()
            .filter(|(k, _)| role(k) == FieldRole::Value)
            .map(|(_, v)| self.naming(v))
            .max()
            .unwrap_or(Naming::None);
        (named && naming != Naming::None) || (schema && naming == Naming::Name)
    }

    /// `naming_str` over a value: the strongest naming of any string in it.
    pub(super) fn naming(&self, v: &Value) -> Naming {
        match v {
            Value::String(s) => self.naming_str(s),
            Value::Array(items) => items
                .iter()
                .map(|x| self.naming(x))
                .max()
                .unwrap_or(Naming::None),
            Value::Object(map) => map
                .values()
                .map(|x| self.naming(x))
                .max()
                .unwrap_or(Naming::None),
            _ => Naming::None,
        }
    }
}

/// A WhatsApp user address as WhatsApp Web libraries write it: `16505551234@s.whatsapp.net`
/// (Baileys), `16505551234@c.us` (whatsapp-web.js).
pub(super) fn is_whatsapp_jid(s: &str) -> bool {
    let b = s.as_bytes();
    let at = |suffix: &[u8]| {
        b.windows(suffix.len()).enumerate().any(|(i, w)| {
            w.eq_ignore_ascii_case(suffix)
                && b.get(..i).is_some_and(|before| {
                    before
                        .iter()
                        .rev()
                        .take_while(|c| c.is_ascii_digit())
                        .count()
                        >= 7
                })
        })
    };
    memchr::memchr(b'@', b).is_some() && (at(b"@s.whatsapp.net") || at(b"@c.us"))
}

/// Whether `s` holds a chat-export line: a timestamped line whose sender is not a log line's
/// source (`[2024-03-12 14:22:01] production.ERROR: ...`, as Laravel and Monolog write).
pub(super) fn has_chat_line(chat: &Regex, s: &str) -> bool {
    chat.is_match(s)
        && chat.captures_iter(s).any(|c| {
            c.get(1)
                .is_some_and(|sender| !is_log_source(sender.as_str()))
        })
}

/// The log levels a log line names where a chat line names its sender, as loggers write them
/// (upper case).
pub(super) const LOG_LEVELS: [&str; 15] = [
    "TRACE",
    "DEBUG",
    "INFO",
    "NOTICE",
    "WARN",
    "WARNING",
    "ERR",
    "ERROR",
    "CRIT",
    "CRITICAL",
    "ALERT",
    "EMERG",
    "EMERGENCY",
    "FATAL",
    "SEVERE",
];

/// A log line's source in a chat line's sender place: a level (`ERROR`, `[INFO]`), or a
/// channel and a level (`production.ERROR`, `app-worker.WARNING`).
pub(super) fn is_log_source(sender: &str) -> bool {
    let t = sender.trim();
    let t = t
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(t);
    let (channel, level) = t.rsplit_once('.').unwrap_or(("", t));
    LOG_LEVELS.contains(&level)
        && channel
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
}

/// How a provenance value names WhatsApp (`Detectors::naming_str`), weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub(in crate::training) enum Naming {
    #[default]
    None,
    /// A configured abbreviation (`wa`, `waba`): also a place (`origin: "WA"`, Washington).
    Alias,
    /// The name itself.
    Name,
}

impl Naming {
    /// Whether the value marks the record, in an object that is (`route`) or is not a route:
    /// next to a `destination`, an abbreviation is a place, not a channel.
    pub(in crate::training) fn counts(self, route: bool) -> bool {
        match self {
            Self::Name => true,
            Self::Alias => !route,
            Self::None => false,
        }
    }
}

/// A key (as compared) naming a route's end: `destination`, `dest`, `destino`.
pub(in crate::training) fn is_destination_key(part: &str) -> bool {
    ["destination", "dest", "destino"]
        .iter()
        .any(|k| key_eq(part, k))
}

/// Whether a folded value contains `whatsapp`, ASCII case-insensitively.
pub(super) fn contains_whatsapp(s: &str) -> bool {
    s.as_bytes()
        .windows(8)
        .any(|w| w.eq_ignore_ascii_case(b"whatsapp"))
}

/// A document's address rather than a channel's name: a URL, or a path or file name with a
/// document's extension (`docs/whatsapp-integration-guide.md`).
pub(super) fn is_document_reference(s: &str) -> bool {
    const DOCUMENTS: [&str; 12] = [
        "md", "mdx", "markdown", "html", "htm", "pdf", "txt", "rst", "adoc", "doc", "docx", "ipynb",
    ];
    let lower = s.to_ascii_lowercase();
    lower.contains("://")
        || lower.starts_with("www.")
        || lower
            .rsplit_once('.')
            .is_some_and(|(stem, ext)| !stem.is_empty() && DOCUMENTS.contains(&ext))
}
