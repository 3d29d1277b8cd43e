//! The detectors run while the record is parsed, without building a `serde_json::Value`.
//!
//! The walk reproduces `Detectors::judge_value` exactly, label included:
//! - an object's finding is `WebhookEnvelope` when its (last) `messaging_product` names
//!   WhatsApp, else `Provenance` when it is a name/value pair naming a provenance key and
//!   WhatsApp (`detect::is_provenance_field`), else `MessageObject` when it is a message object
//!   without its id (`detect::is_message_object`), else the finding of the smallest key (a
//!   `Value` map iterates its keys sorted); a provenance key whose value names WhatsApp only by
//!   an abbreviation counts unless the object has a `destination` key, which may come later, so
//!   that finding waits for the object's end;
//! - a repeated key: every value is walked, and a record is WhatsApp-derived when any value
//!   is (a `Value` keeps only the last one, but a training endpoint's parser may keep the
//!   first). Here, and only here, the walk may find what the `Value` path does not;
//! - numbers, strings and nesting are parsed by the same `serde_json` deserializer as the
//!   `Value` path (`deserialize_any` everywhere), so the same records are rejected.
//!
//! INVARIANT: for a record this walk parses (`Outcome::Found` / `Outcome::Clean`) without a
//! repeated key, the verdict equals the `Value` path's; `streaming::tests` checks it over
//! generated records. With a repeated key, it finds whatever the `Value` path finds, and more.

use super::{Detector, Detectors, FieldRole, KeyKind, MAX_WALK_DEPTH, Naming};
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// What the streaming walk concluded about one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    /// Valid JSON (by the `Value` parser's rules) with this finding.
    Found(Detector),
    /// Valid JSON (by the `Value` parser's rules) and no detector fires.
    Clean,
    /// Not parsed: ask the `Value` path.
    Undecided,
}

/// Walks `text` as one JSON record.
pub(super) fn walk(detectors: &Detectors, text: &str) -> Outcome {
    walk_hidden(detectors, text, 0)
}

/// Walks `text` as a JSON record found `hidden` encodings below the record (`Detectors::walk`
/// with the same `hidden`).
pub(super) fn walk_hidden(detectors: &Detectors, text: &str, hidden: u8) -> Outcome {
    let mut ctx = Walk {
        det: detectors,
        path: Vec::new(),
        hidden,
    };
    let mut de = serde_json::Deserializer::from_str(text);
    let summary = match (ValueSeed {
        ctx: &mut ctx,
        depth: 0,
        want_names: false,
        want_product: false,
        want_field_name: false,
        want_msg_type: false,
    })
    .deserialize(&mut de)
    {
        Ok(s) => s,
        Err(_) => return Outcome::Undecided,
    };
    if de.end().is_err() {
        return Outcome::Undecided;
    }
    match summary.found {
        Some(d) => Outcome::Found(d),
        None => Outcome::Clean,
    }
}

/// State shared by the whole walk: the key path, each key as compared (`detect::key_part`:
/// folded, its last part; lowercasing is left to the comparisons).
struct Walk<'d, 'de> {
    det: &'d Detectors,
    path: Vec<Cow<'de, str>>,
    /// How many encodings below the record this text was found.
    hidden: u8,
}

/// What a parent needs to know about one value.
#[derive(Debug, Default, Clone, Copy)]
struct Summary {
    /// `Detectors::walk` on this value.
    found: Option<Detector>,
    /// `detect::is_empty`: null or a blank string.
    empty: bool,
    /// `Detectors::naming` (computed only when asked).
    naming: Naming,
    /// A string equal to `whatsapp` once folded and trimmed (computed only when asked).
    product: bool,
    /// A string naming a provenance key, as a name/value pair's name (computed only when
    /// asked).
    field_name: bool,
    /// `detect::is_phone_like`: a phone-number string or integer.
    phone: bool,
    /// `detect::is_sender_number`: a message's `from`.
    sender: bool,
    /// A string.
    string: bool,
    /// An object or an array.
    container: bool,
    /// `detect::message_type_value_bit` of a string (computed only when asked).
    msg_type: u16,
}

struct ValueSeed<'a, 'd, 'de> {
    ctx: &'a mut Walk<'d, 'de>,
    /// As in `Detectors::walk`, which finds nothing below `MAX_WALK_DEPTH`.
    depth: usize,
    /// The value sits under a provenance key: compute `names`.
    want_names: bool,
    /// The value sits under `messaging_product`: compute `product`.
    want_product: bool,
    /// The value is a name/value pair's name: compute `field_name`.
    want_field_name: bool,
    /// The value sits under `type`: compute `msg_type`.
    want_msg_type: bool,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_, '_, 'de> {
    type Value = Summary;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Summary, D::Error> {
        d.deserialize_any(self)
    }
}

impl ValueSeed<'_, '_, '_> {
    fn walked(&self, find: impl FnOnce() -> Option<Detector>) -> Option<Detector> {
        if self.depth > MAX_WALK_DEPTH {
            None
        } else {
            find()
        }
    }

    fn string(&self, s: &str) -> Summary {
        let det = self.ctx.det;
        Summary {
            found: self.walked(|| det.judge_string_hidden(s, self.ctx.hidden)),
            empty: s.trim().is_empty(),
            naming: if self.want_names {
                det.naming_str(s)
            } else {
                Naming::None
            },
            product: self.want_product && super::is_whatsapp(s),
            field_name: self.want_field_name && det.is_provenance_column(s),
            phone: s.len() <= 64 && super::phone_like_str(s),
            sender: s.len() <= 64 && super::is_sender_number_str(s),
            string: true,
            container: false,
            msg_type: if self.want_msg_type {
                super::message_type_value_bit(s)
            } else {
                0
            },
        }
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_, '_, 'de> {
    type Value = Summary;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Summary, E> {
        Ok(Summary::default())
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Summary, E> {
        match u64::try_from(n) {
            Ok(n) => self.visit_u64(n),
            Err(_) => Ok(Summary::default()),
        }
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Summary, E> {
        let phone = (1_000_000..=999_999_999_999_999).contains(&n);
        Ok(Summary {
            phone,
            sender: phone,
            ..Summary::default()
        })
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Summary, E> {
        Ok(Summary::default())
    }

    fn visit_unit<E: de::Error>(self) -> Result<Summary, E> {
        Ok(Summary {
            empty: true,
            ..Summary::default()
        })
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Summary, E> {
        Ok(self.string(s))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Summary, A::Error> {
        let mut out = Summary {
            container: true,
            ..Summary::default()
        };
        while let Some(item) = seq.next_element_seed(ValueSeed {
            ctx: &mut *self.ctx,
            depth: self.depth + 1,
            want_names: self.want_names,
            want_product: false,
            want_field_name: false,
            want_msg_type: false,
        })? {
            out.found = out.found.or(item.found);
            out.naming = out.naming.max(item.naming);
        }
        out.found = self.walked(|| out.found);
        Ok(out)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Summary, A::Error> {
        let det = self.ctx.det;
        // The smallest key that found something (the first of a repeated one). Only
        // WhatsApp-derived records allocate here.
        let mut best: Option<(Cow<'de, str>, Detector)> = None;
        // Provenance keys whose value names WhatsApp only by an abbreviation: their finding
        // if the object is not a route, and their finding if it is.
        let mut deferred: Vec<(Cow<'de, str>, Option<Detector>)> = Vec::new();
        let mut route = false;
        let mut product = false;
        // Under a provenance key, an object names WhatsApp when any value in it does
        // (`channel: {type: "whatsapp"}`, DynamoDB's `{S: "WhatsApp"}`).
        let mut naming = Naming::None;
        // A custom field written as a name/value pair, or referenced by a schema id
        // (`detect::is_provenance_field`).
        let (mut field_named, mut field_schema) = (false, false);
        let mut field_naming = Naming::None;
        // A message object without its id (`detect::is_message_object`).
        let (mut msg_from, mut msg_types, mut msg_contents) = (false, 0u16, 0u16);
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let part = super::key_part(&key);
            let kind = det.part_kind(&part);
            let role = super::field_role(&part);
            let wa_id = kind == KeyKind::WaId;
            let phone = kind == KeyKind::Phone;
            let names_whatsapp = kind == KeyKind::NamesWhatsApp;
            let is_product = kind == KeyKind::Product;
            let ctwa = kind == KeyKind::CtwaClid;
            let is_from = super::key_eq(&part, "from");
            let is_type = super::key_eq(&part, "type");
            let content_bit = super::message_type_key_bit(&part);
            let flattened_bit = super::flattened_type_bit(&key);
            route |= super::is_destination_key(&part);
            self.ctx.path.push(part);
            let provenance = det.is_provenance_path(&self.ctx.path);
            let value = map.next_value_seed(ValueSeed {
                ctx: &mut *self.ctx,
                depth: self.depth + 1,
                want_names: provenance || self.want_names || role == FieldRole::Value,
                want_product: is_product,
                want_field_name: role == FieldRole::Name,
                want_msg_type: is_type,
            })?;
            if self.want_names {
                naming = naming.max(value.naming);
            }
            if self.ctx.path.pop().is_none() {
                return Err(de::Error::custom("key path underflow"));
            }
            if is_product {
                // Any value of a repeated `messaging_product` counts.
                product |= value.product;
            }
            field_named |= value.field_name;
            field_schema |= role == FieldRole::Schema && value.string && !value.empty;
            if role == FieldRole::Value {
                field_naming = field_naming.max(value.naming);
            }
            msg_from |= is_from && value.sender;
            msg_types |= value.msg_type;
            if value.container {
                msg_contents |= content_bit;
            }
            msg_contents |= flattened_bit;
            // What the key finds when it is not (or, for an abbreviation in a route, no
            // longer) a provenance finding.
            let otherwise = if value.found.is_some() {
                value.found
            } else if det.wamid && det.has_wamid(&key) {
                Some(Detector::Wamid)
            } else {
                None
            };
            let found = if wa_id && !value.empty {
                Some(Detector::WaIdKey)
            } else if (phone && !value.empty) || (names_whatsapp && value.phone) {
                Some(Detector::PhoneKey)
            } else if ctwa && !value.empty {
                Some(Detector::CtwaClid)
            } else if provenance && value.naming == Naming::Name {
                Some(Detector::Provenance)
            } else if provenance && value.naming == Naming::Alias {
                deferred.push((key, otherwise));
                continue;
            } else {
                otherwise
            };
            if let Some(d) = found
                && best.as_ref().is_none_or(|(b, _)| *key < **b)
            {
                best = Some((key, d));
            }
        }
        for (key, otherwise) in deferred {
            let found = if route {
                otherwise
            } else {
                Some(Detector::Provenance)
            };
            if let Some(d) = found
                && best.as_ref().is_none_or(|(b, _)| *key < **b)
            {
                best = Some((key, d));
            }
        }
        let found = self.walked(|| {
            if det.webhook_envelope && product {
                Some(Detector::WebhookEnvelope)
            } else if (field_named && field_naming != Naming::None)
                || (field_schema && field_naming == Naming::Name)
            {
                Some(Detector::Provenance)
            } else if det.webhook_envelope && msg_from && msg_types & msg_contents != 0 {
                Some(Detector::MessageObject)
            } else {
                best.map(|(_, d)| d)
            }
        });
        Ok(Summary {
            found,
            naming,
            container: true,
            ..Summary::default()
        })
    }
}

/// An object key, borrowed from the record when it holds no escape.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Cow<'de, str>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Borrowed(s))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(s.to_owned()))
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(s))
    }
}

#[cfg(test)]
mod tests;
