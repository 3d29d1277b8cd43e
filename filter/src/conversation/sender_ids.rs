//! Provider sender ids mapped to the business's Graph phone-number id (`conversation.sender_ids`).
//!
//! A send through a provider names the provider's id for its sender (Twilio's `From` or
//! Messaging Service SID, a 360dialog entry's `sender`, Infobip's or Sinch's sender), while
//! Meta's webhooks name the Graph `phone_number_id`. A conversation is keyed by the phone-number
//! id, so without the map a provider send and the recipient's reply never meet, and two ids of
//! one number count apart. A mapped sender id is keyed by its Graph id instead.

use crate::whatsapp::canonical_path_id;
use crate::whatsapp::providers::Provider;
use std::collections::BTreeMap;

/// `conversation.sender_ids`, compiled: sender ids as [`sender_id`] reads them → Graph
/// phone-number ids as rules compare them (`0106...` is `106...`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SenderIds(BTreeMap<String, String>);

impl SenderIds {
    /// Compiles the map, reporting each entry that could never apply, or is not a Graph id, at
    /// its path (`$.conversation.sender_ids.<sender id>`).
    pub fn compile(doc: &BTreeMap<String, String>, problems: &mut Vec<(String, String)>) -> Self {
        let mut map = BTreeMap::new();
        // The entry each compiled sender id came from, to name it when another one collides.
        let mut written: BTreeMap<String, &str> = BTreeMap::new();
        for (raw, graph_id) in doc {
            let path = format!("$.conversation.sender_ids.{raw}");
            let key = sender_id(raw);
            if key.is_empty() {
                problems.push((
                    path,
                    "an empty sender id names no send: write the provider's sender id (`whatsapp:+14155550100`, `MG...`)".into(),
                ));
                continue;
            }
            if key.contains(|c: char| c.is_whitespace() || c == '/') {
                problems.push((
                    path,
                    format!(
                        "`{raw}` is no sender id a provider send names (it holds a blank or `/`)"
                    ),
                ));
                continue;
            }
            if graph_id.is_empty() || !graph_id.bytes().all(|b| b.is_ascii_digit()) {
                problems.push((
                    path,
                    format!(
                        "`{graph_id}` is not a Graph phone-number id: the digits Meta's webhooks name in `metadata.phone_number_id`"
                    ),
                ));
                continue;
            }
            let graph_id = canonical_path_id(graph_id);
            match (map.get(&key), written.get(&key)) {
                (Some(earlier), Some(other)) if *earlier != graph_id => {
                    problems.push((
                        path,
                        format!(
                            "`{raw}` names the sender `{other}` names, which is mapped to another phone-number id"
                        ),
                    ));
                }
                _ => {
                    written.insert(key.clone(), raw.as_str());
                    map.insert(key, graph_id);
                }
            }
        }
        Self(map)
    }

    /// The phone-number id a send from `sender` through `provider` is kept under: the Graph id
    /// its sender id is mapped to, else the sender id itself (today's key). A Cloud API send
    /// names its Graph id already and is never mapped.
    pub fn keyed<'a>(&'a self, provider: Provider, sender: &'a str) -> &'a str {
        if provider == Provider::CloudApi {
            return sender;
        }
        self.0
            .get(&sender_id(sender))
            .map_or(sender, String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A sender id as the map compares it: without a `whatsapp:` channel prefix (in any case), then
/// as rules compare path ids ([`canonical_path_id`]). So Twilio's `whatsapp:+1 415 555 0100`,
/// the `+14155550100` its reader yields and Vonage's `14155550100` are one id, and a Messaging
/// Service SID is one in any case.
pub fn sender_id(raw: &str) -> String {
    let raw = raw.trim();
    let bare = match raw.get(..9) {
        Some(prefix) if prefix.eq_ignore_ascii_case("whatsapp:") => {
            raw.get(9..).unwrap_or_default()
        }
        _ => raw,
    };
    canonical_path_id(bare)
}
