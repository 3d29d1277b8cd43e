//! The `whatsapp` section: the Cloud API's hosts, the Graph edges read, and the providers enabled.

use super::{Action, default_block};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhatsAppSection {
    /// Hosts of the Cloud API. Matched case-insensitively, ignoring the port and a trailing dot.
    #[serde(default = "default_whatsapp_hosts")]
    pub hosts: Vec<String>,
    /// Graph batch requests and `?method=` overrides can carry a send hidden from path matching.
    #[serde(default = "default_block")]
    pub indirect_sends: Action,
    /// The Graph edges (`/{id}/{edge}`) whose bodies are read, and how. Absent: every edge of
    /// today's documented Cloud API that delivers text to a recipient.
    #[serde(default = "default_edges")]
    pub edges: Vec<EdgeDoc>,
    /// The Business Solution Providers whose WhatsApp sends are read as the Cloud API's are:
    /// a built-in's name (`"twilio"`), or an object with overrides. The Cloud API itself
    /// (`cloud_api`) is always read, on `hosts`.
    #[serde(default)]
    pub providers: Vec<ProviderDoc>,
}

/// A provider a policy enables: a built-in's name, or the built-in with overrides.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ProviderDoc {
    Name(String),
    Custom(ProviderOverrideDoc),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderOverrideDoc {
    /// The built-in provider: `360dialog`, `twilio`.
    pub name: String,
    /// Replaces the built-in host patterns (`*` stands for one DNS label).
    #[serde(default)]
    pub hosts: Option<Vec<String>>,
    /// Added to the hosts: a regional, sandbox or private host of the same API.
    #[serde(default)]
    pub extra_hosts: Vec<String>,
    /// The sending number of every send on this provider, for one whose requests do not name
    /// it (360dialog: the API key picks the number). Phone-number rules apply to it.
    #[serde(default)]
    pub sender: Option<String>,
    /// Twilio only: the Conversations services whose messages are WhatsApp sends (a Chat
    /// Service SID `IS...`, `default` for the account's default service, `*` for every one).
    /// A Conversations message names no channel: its conversation's participants decide.
    #[serde(default)]
    pub conversation_services: Vec<String>,
    /// Twilio only: the account's Content API templates are WhatsApp templates, so each one
    /// created (`POST content.twilio.com/v1/Content`) is read as a template definition.
    #[serde(default)]
    pub content_templates: bool,
    /// Bird only: the channel ids that are WhatsApp channels (`*` for every channel). A Channels
    /// API send names its channel only by id; whether it is WhatsApp is Bird's configuration.
    #[serde(default)]
    pub channels: Vec<String>,
}

/// `graph.facebook.com` and the other names of the same Graph API: its beta tier, its upload
/// host and the alias Facebook's own apps call. Each serves every Graph path to the same tokens,
/// so a send posted there reaches WhatsApp as well.
const DEFAULT_WHATSAPP_HOSTS: &[&str] = &[
    "graph.facebook.com",
    "graph.beta.facebook.com",
    "graph-video.facebook.com",
    "b-graph.facebook.com",
];

fn default_whatsapp_hosts() -> Vec<String> {
    DEFAULT_WHATSAPP_HOSTS
        .iter()
        .map(|h| (*h).to_owned())
        .collect()
}

fn default_edges() -> Vec<EdgeDoc> {
    DEFAULT_EDGES
        .iter()
        .map(|(edge, reads)| EdgeDoc {
            edge: (*edge).to_owned(),
            reads: *reads,
        })
        .collect()
}

/// The edges of today's documented Cloud API that deliver text to a recipient.
pub const DEFAULT_EDGES: &[(&str, EdgeReads)] = &[
    ("messages", EdgeReads::Message),
    ("marketing_messages", EdgeReads::Message),
    ("media", EdgeReads::Media),
    ("message_templates", EdgeReads::Template),
    ("upsert_message_templates", EdgeReads::Template),
    ("flows", EdgeReads::Flow),
    ("assets", EdgeReads::Flow),
    // Text a recipient reads outside a message: the business profile (`about`,
    // `description`), conversational components (ice-breaker prompts), group descriptions.
    ("whatsapp_business_profile", EdgeReads::Message),
    ("conversational_automation", EdgeReads::Message),
    ("groups", EdgeReads::Message),
    // Objects whose texts a recipient reads: catalogue products (their name and description
    // appear in product messages), created one by one or in batches, and the prefilled message
    // of a QR code or short link, shown in the user's composer.
    ("products", EdgeReads::Object),
    ("items_batch", EdgeReads::Object),
    ("localized_items_batch", EdgeReads::Object),
    ("batch", EdgeReads::Object),
    ("message_qrdls", EdgeReads::Object),
];

/// A Graph edge the filter reads.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeDoc {
    /// The path segment after the id: `messages` in `/v21.0/{phone-number-id}/messages`.
    pub edge: String,
    pub reads: EdgeReads,
}

/// How an edge's body is read.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum EdgeReads {
    /// A send (`/messages`): the fields of its type, with the phone-number rules of the id.
    Message,
    /// A template definition, with the phone-number rules of the id (a WABA id).
    Template,
    /// A flow definition (JSON with `flow_json`, or a multipart Flow JSON upload).
    Flow,
    /// A multipart media upload: text-like files are read, images, audio and video are not.
    Media,
    /// An object a recipient reads elsewhere than in a message (a catalogue product, a QR
    /// code's prefilled message): read as an object update (`POST /{id}`) is, without the
    /// phone-number rules (the id is no phone number).
    Object,
}
