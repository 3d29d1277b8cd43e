//! WhatsApp sends through Business Solution Providers (BSPs): which provider a host belongs to,
//! which of its requests are WhatsApp sends, and what a recipient reads in them.
//!
//! Each built-in provider knows its hosts, its send paths, its body format, where the
//! recipient, the sender number and the message type sit, and where the recipient-visible text
//! sits:
//!
//! - `cloud_api`: Meta's Graph API itself, configured by `whatsapp.hosts` and `whatsapp.edges`.
//! - `360dialog`: Meta's Cloud API message object unchanged, on 360dialog's own hosts and
//!   paths. The Cloud API readers apply as they are; the number is picked by the API key, so the
//!   request does not name it (a policy declares it as the provider's `sender`).
//! - `twilio`: Twilio Programmable Messaging, form-encoded; a send is WhatsApp only when its `To`
//!   is a `whatsapp:` address, any other (SMS, MMS, RCS) is no WhatsApp send and is left alone.
//!   The reader is [`twilio`]. Twilio Conversations: a v1 message names no channel, so it is a
//!   WhatsApp send only on the Conversations services the policy names
//!   (`conversation_services`); a v2 action names its channel. The reader is
//!   [`twilio::conversations`].
//! - `vonage`: the Vonage Messages API, JSON; WhatsApp when its `channel` is `whatsapp`, and its
//!   `custom` object is Meta's message object. The reader is [`vonage`].
//! - `infobip`: Infobip's WhatsApp API and omnichannel Messages API, JSON in its own format.
//!   The reader is [`infobip`].
//! - `bird`: Bird's WhatsApp API (by path), its Channels API (WhatsApp on the channels the
//!   policy names) and the legacy MessageBird Conversations API (by WhatsApp-only content or a
//!   named channel). The reader is [`bird`].
//! - `gupshup`: the self-serve form API (`channel=whatsapp`, the message as a JSON string) and
//!   the partner API, whose v3 and MM Lite sends are Meta's format (read as Cloud API calls).
//!   The reader is [`gupshup`].
//! - `sinch`: the Sinch Conversation API, WhatsApp by a channel identity, the priority order or
//!   a `WHATSAPP` entry. The reader is [`sinch`].
//! - `aws_social_messaging`: AWS End User Messaging Social, Meta's object as a base64 blob.
//!   The reader is [`aws`].
//!
//! A block answers in each provider's own error shape ([`error_shape`]).

pub mod aws;
pub mod bird;
pub mod error_shape;
mod form;
pub mod gupshup;
pub mod infobip;
mod request;
mod route;
pub mod sinch;
pub mod twilio;
pub mod vonage;

pub use error_shape::blocked_body;
pub use request::{ProviderRequest, classify};
pub use route::{HostPattern, ProviderRoute, compile};

use crate::whatsapp::body::BodyProblem;

/// A provider the filter can read sends of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    /// Meta's Cloud API on the Graph hosts (`whatsapp.hosts`).
    CloudApi,
    /// 360dialog: the Cloud API format on `waba-v2.360dialog.io`.
    Dialog360,
    /// Twilio Programmable Messaging: `To=whatsapp:+...` form posts.
    Twilio,
    /// Vonage Messages API: `channel: "whatsapp"` JSON posts.
    Vonage,
    /// Infobip: the WhatsApp API (`/whatsapp/...`) and the Messages API (`channel: WHATSAPP`).
    Infobip,
    /// Bird and the legacy MessageBird Conversations API.
    Bird,
    /// Gupshup: the self-serve form API and the partner API.
    Gupshup,
    /// The Sinch Conversation API.
    Sinch,
    /// AWS End User Messaging Social (`SendWhatsAppMessage`).
    AwsSocialMessaging,
}

impl Provider {
    /// Every provider a policy can name, in the order the reference lists them.
    pub const ALL: &'static [Self] = &[
        Self::CloudApi,
        Self::Dialog360,
        Self::Twilio,
        Self::Vonage,
        Self::Infobip,
        Self::Bird,
        Self::Gupshup,
        Self::Sinch,
        Self::AwsSocialMessaging,
    ];

    /// The provider's name in policies, metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CloudApi => "cloud_api",
            Self::Dialog360 => "360dialog",
            Self::Twilio => "twilio",
            Self::Vonage => "vonage",
            Self::Infobip => "infobip",
            Self::Bird => "bird",
            Self::Gupshup => "gupshup",
            Self::Sinch => "sinch",
            Self::AwsSocialMessaging => "aws_social_messaging",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        let name = name.trim().to_ascii_lowercase();
        Self::ALL.iter().copied().find(|p| p.as_str() == name)
    }

    /// The built-in host patterns: exact names, or `*` standing for one DNS label.
    pub fn default_hosts(self) -> &'static [&'static str] {
        match self {
            // The Graph hosts are `whatsapp.hosts`.
            Self::CloudApi => &[],
            // Production, the sandbox, and the legacy On-Premise hosting (its `/v1/messages`).
            Self::Dialog360 => &[
                "waba-v2.360dialog.io",
                "waba-sandbox.360dialog.io",
                "waba.360dialog.io",
            ],
            // The global host, the regional `api.{edge}.{region}` form the SDKs build, and the
            // legacy `api.{region}` form.
            // Conversations and the Content API have one global host each.
            Self::Twilio => &[
                "api.twilio.com",
                "api.*.*.twilio.com",
                "api.*.twilio.com",
                "conversations.twilio.com",
                "content.twilio.com",
            ],
            // The SDK default, the regional hosts and the sandbox.
            Self::Vonage => &[
                "api.nexmo.com",
                "api-eu.vonage.com",
                "api-us.vonage.com",
                "api-ap.vonage.com",
                "messages-sandbox.nexmo.com",
            ],
            // Each account's own base URL, and the older shared host.
            Self::Infobip => &["*.api.infobip.com", "api.infobip.com"],
            // Bird's Channels API, its regional WhatsApp API, and MessageBird's legacy API with
            // its WhatsApp sandbox.
            Self::Bird => &[
                "api.bird.com",
                "*.platform.bird.com",
                "conversations.messagebird.com",
                "whatsapp-sandbox.messagebird.com",
            ],
            // The self-serve API and the partner API.
            Self::Gupshup => &["api.gupshup.io", "partner.gupshup.io"],
            // The documented regions.
            Self::Sinch => &[
                "us.conversation.api.sinch.com",
                "eu.conversation.api.sinch.com",
            ],
            // Every region and its dual-stack `api.aws` name (the FIPS endpoints,
            // `social-messaging-fips.{region}.amazonaws.com`, are `extra_hosts`).
            Self::AwsSocialMessaging => &[
                "social-messaging.*.amazonaws.com",
                "social-messaging.*.api.aws",
            ],
        }
    }

    /// Whether the request does not name the sending number, so that phone-number rules can
    /// only apply through the provider's declared `sender`.
    pub fn sender_in_request(self) -> bool {
        !matches!(self, Self::Dialog360)
    }
}

/// A send on a multichannel endpoint, read.
#[derive(Debug, Clone, PartialEq)]
pub enum ProviderSend {
    /// Another channel (SMS, MMS, RCS, Viber...): not governed.
    NotWhatsApp,
    WhatsApp(ProviderMessage),
}

/// A WhatsApp send read from a provider's own format.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderMessage {
    pub view: super::MessageView,
    /// The sending number (`+` and digits) or the provider's id for the sender, as
    /// phone-number rules compare it.
    pub sender: Option<String>,
}

/// Reads a decoded body of a [`ProviderRequest::BodyDecides`] request.
/// `segments` is the normalised path.
/// `channels` are the route's Bird channels.
pub fn read_send(
    provider: Provider,
    channels: &[String],
    segments: &[String],
    body: &[u8],
    raw_query: &str,
) -> Result<ProviderSend, BodyProblem> {
    match provider {
        Provider::Vonage => vonage::read(body),
        Provider::Infobip => infobip::read(segments, body),
        Provider::Bird => bird::read(segments, channels, body),
        Provider::Gupshup => gupshup::read(segments, body, raw_query),
        Provider::Sinch => sinch::read(body),
        Provider::AwsSocialMessaging => aws::read(body),
        Provider::CloudApi | Provider::Dialog360 | Provider::Twilio => {
            twilio::read_any(segments, body, raw_query)
        }
    }
}

/// Every string of a provider's JSON body a recipient may read: all of them except under a
/// machine key (compared in lower case) and, at the top level, under `skip_top` (a part
/// another reader reads), down to `max_depth` levels.
pub(crate) fn sweep_strings(
    v: &serde_json::Value,
    machine_keys: &[&str],
    skip_top: &[&str],
    max_depth: usize,
    out: &mut Vec<String>,
) {
    fn walk(
        v: &serde_json::Value,
        keys: &[&str],
        skip: &[&str],
        max: usize,
        d: usize,
        out: &mut Vec<String>,
    ) {
        if d > max {
            return;
        }
        match v {
            serde_json::Value::String(s) => out.push(s.clone()),
            serde_json::Value::Array(a) => {
                a.iter().for_each(|x| walk(x, keys, skip, max, d + 1, out))
            }
            serde_json::Value::Object(o) => {
                for (k, x) in o {
                    let k = k.to_ascii_lowercase();
                    if (d == 0 && skip.contains(&k.as_str())) || keys.contains(&k.as_str()) {
                        continue;
                    }
                    walk(x, keys, skip, max, d + 1, out);
                }
            }
            _ => {}
        }
    }
    walk(v, machine_keys, skip_top, max_depth, 0, out);
}

#[cfg(test)]
mod tests;
