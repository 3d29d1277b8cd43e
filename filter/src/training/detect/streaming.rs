//! The detectors run while the record is parsed, without building a `serde_json::Value`.
//!
//! The walk reproduces `Detectors::judge_value` exactly, label included:
//! - an object's finding is `WebhookEnvelope` when its (last) `messaging_product` names
//!   WhatsApp, else `Provenance` when it is a name/value pair naming a provenance key and
//!   WhatsApp (`detect::is_provenance_field`), else the finding of the smallest key (a `Value`
//!   map iterates its keys sorted);
//! - a repeated key: every value is walked, and a record is WhatsApp-derived when any value
//!   is (a `Value` keeps only the last one, but a training endpoint's parser may keep the
//!   first). Here, and only here, the walk may find what the `Value` path does not;
//! - numbers, strings and nesting are parsed by the same `serde_json` deserializer as the
//!   `Value` path (`deserialize_any` everywhere), so the same records are rejected.
//!
//! INVARIANT: for a record this walk parses (`Outcome::Found` / `Outcome::Clean`) without a
//! repeated key, the verdict equals the `Value` path's; `streaming::tests` checks it over
//! generated records. With a repeated key, it finds whatever the `Value` path finds, and more.

use super::{Detector, Detectors, FieldRole, KeyKind, MAX_WALK_DEPTH};
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
    /// `Detectors::names_whatsapp` (computed only when asked).
    names: bool,
    /// A string equal to `whatsapp` once folded and trimmed (computed only when asked).
    product: bool,
    /// A string naming a provenance key, as a name/value pair's name (computed only when
    /// asked).
    field_name: bool,
    /// `detect::is_phone_like`: a phone-number string or integer.
    phone: bool,
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
            names: self.want_names && det.names_whatsapp_str(s),
            product: self.want_product && super::is_whatsapp(s),
            field_name: self.want_field_name && det.is_provenance_column(s),
            phone: s.len() <= 64 && super::phone_like_str(s),
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
        Ok(Summary {
            phone: (1_000_000..=999_999_999_999_999).contains(&n),
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
        let mut out = Summary::default();
        while let Some(item) = seq.next_element_seed(ValueSeed {
            ctx: &mut *self.ctx,
            depth: self.depth + 1,
            want_names: self.want_names,
            want_product: false,
            want_field_name: false,
        })? {
            out.found = out.found.or(item.found);
            out.names |= item.names;
        }
        out.found = self.walked(|| out.found);
        Ok(out)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Summary, A::Error> {
        let det = self.ctx.det;
        // The smallest key that found something (the first of a repeated one). Only
        // WhatsApp-derived records allocate here.
        let mut best: Option<(Cow<'de, str>, Detector)> = None;
        let mut product = false;
        // Under a provenance key, an object names WhatsApp when any value in it does
        // (`channel: {type: "whatsapp"}`, DynamoDB's `{S: "WhatsApp"}`).
        let mut names = false;
        // A custom field written as a name/value pair (`detect::is_provenance_field`).
        let (mut field_named, mut field_valued) = (false, false);
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let part = super::key_part(&key);
            let kind = det.part_kind(&part);
            let role = super::field_role(&part);
            let wa_id = kind == KeyKind::WaId;
            let phone = kind == KeyKind::Phone;
            let names_whatsapp = kind == KeyKind::NamesWhatsApp;
            let is_product = kind == KeyKind::Product;
            let ctwa = kind == KeyKind::CtwaClid;
            self.ctx.path.push(part);
            let provenance = det.is_provenance_path(&self.ctx.path);
            let value = map.next_value_seed(ValueSeed {
                ctx: &mut *self.ctx,
                depth: self.depth + 1,
                want_names: provenance || self.want_names || role == FieldRole::Value,
                want_product: is_product,
                want_field_name: role == FieldRole::Name,
            })?;
            names |= self.want_names && value.names;
            if self.ctx.path.pop().is_none() {
                return Err(de::Error::custom("key path underflow"));
            }
            if is_product {
                // Any value of a repeated `messaging_product` counts.
                product |= value.product;
            }
            field_named |= value.field_name;
            field_valued |= role == FieldRole::Value && value.names;
            let found = if wa_id && !value.empty {
                Some(Detector::WaIdKey)
            } else if (phone && !value.empty) || (names_whatsapp && value.phone) {
                Some(Detector::PhoneKey)
            } else if ctwa && !value.empty {
                Some(Detector::CtwaClid)
            } else if provenance && value.names {
                Some(Detector::Provenance)
            } else if value.found.is_some() {
                value.found
            } else if det.wamid && det.has_wamid(&key) {
                Some(Detector::Wamid)
            } else {
                None
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
            } else if field_named && field_valued {
                Some(Detector::Provenance)
            } else {
                best.map(|(_, d)| d)
            }
        });
        Ok(Summary {
            found,
            names,
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
