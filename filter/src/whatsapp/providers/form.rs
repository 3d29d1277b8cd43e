//! The form-encoded sends of the providers that take them (Twilio Messaging and Conversations,
//! Gupshup): a body and a query string read as one list of fields, and the texts a recipient
//! reads gathered into a message view.

use super::BodyProblem;
use crate::whatsapp::{MessageView, percent_decode};

/// A form body and its query string: `key=value` pairs, decoded, keys trimmed and lowercased,
/// the body's first.
pub(super) struct Form {
    fields: Vec<(String, String)>,
}

impl Form {
    /// Reads a decoded body and a raw query string. A body that is not UTF-8 cannot be told
    /// apart from a WhatsApp send: it is invalid.
    pub(super) fn read(body: &[u8], raw_query: &str) -> Result<Self, BodyProblem> {
        let body = std::str::from_utf8(body).map_err(|_| BodyProblem::InvalidJson)?;
        let mut fields = pairs(body);
        fields.extend(pairs(raw_query));
        Ok(Self { fields })
    }

    /// Every value of `name`, in order.
    pub(super) fn values(&self, name: &str) -> Vec<&str> {
        self.fields
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The first value of `name`.
    pub(super) fn first(&self, name: &str) -> Option<&str> {
        self.values(name).first().copied()
    }

    /// Refuses a form where a field that names one thing has two different values (compared
    /// after `key`): which one the provider acts on is not documented.
    pub(super) fn single_valued(
        &self,
        names: &[&str],
        key: fn(&str) -> &str,
    ) -> Result<(), BodyProblem> {
        for name in names {
            let mut distinct: Vec<&str> = self.values(name).into_iter().map(key).collect();
            distinct.sort_unstable();
            distinct.dedup();
            if distinct.len() > 1 {
                return Err(BodyProblem::InvalidJson);
            }
        }
        Ok(())
    }

    /// The values of every field that is not in `known`, in order: fields the provider does
    /// not document are read as text a recipient may see.
    pub(super) fn undocumented(&self, known: &[&[&str]]) -> impl Iterator<Item = &str> {
        self.fields
            .iter()
            .filter(move |(k, _)| !known.iter().any(|list| list.contains(&k.as_str())))
            .map(|(_, v)| v.as_str())
    }
}

/// `key=value` pairs, decoded, keys trimmed and lowercased.
fn pairs(form: &str) -> Vec<(String, String)> {
    form.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                percent_decode(k).trim().to_ascii_lowercase(),
                percent_decode(v),
            )
        })
        .collect()
}

/// A provider send's view: its type, recipient and texts, blank and repeated texts dropped.
pub(super) fn view(
    message_type: impl Into<String>,
    recipient: Option<String>,
    texts: Vec<String>,
) -> MessageView {
    let mut view = MessageView {
        message_type: message_type.into(),
        recipient,
        multiple_recipients: false,
        also_recipient: None,
        deliveries: 1,
        template_name: None,
        template_category: None,
        texts: Vec::new(),
    };
    for t in texts {
        if !t.trim().is_empty() && !view.texts.contains(&t) {
            view.texts.push(t);
        }
    }
    view
}
