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
pub mod sinch;
pub mod twilio;
pub mod vonage;

pub use error_shape::blocked_body;
pub use request::{ProviderRequest, classify};

use crate::document::ProviderDoc;
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

/// A host pattern: DNS labels, each literal or `*` (exactly one label).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern(Vec<String>);

impl HostPattern {
    /// Compiles `api.*.*.twilio.com`; `None` for anything but lowercase-able labels of letters,
    /// digits and `-`, or `*`.
    pub fn compile(raw: &str) -> Option<Self> {
        let norm = super::normalize_authority(raw.trim().trim_end_matches('.'));
        if norm.is_empty() {
            return None;
        }
        let labels: Vec<String> = norm.split('.').map(str::to_owned).collect();
        let valid = labels.iter().all(|l| {
            l == "*" || (!l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        });
        // A pattern must name at least a registrable domain of literal labels.
        let literal_tail = labels.iter().rev().take_while(|l| *l != "*").count();
        (valid && literal_tail >= 2).then_some(Self(labels))
    }

    /// Whether a normalised authority matches.
    pub fn matches(&self, host: &str) -> bool {
        let mut labels = host.split('.');
        for want in &self.0 {
            match labels.next() {
                Some(l) if want == "*" && !l.is_empty() => {}
                Some(l) if l == want => {}
                _ => return false,
            }
        }
        labels.next().is_none()
    }

    pub fn as_string(&self) -> String {
        self.0.join(".")
    }
}

/// A provider a policy enables, compiled.
#[derive(Debug, Clone)]
pub struct ProviderRoute {
    pub provider: Provider,
    pub hosts: Vec<HostPattern>,
    /// The sending number of every send on these hosts, for a provider whose requests do not
    /// name it (360dialog): phone-number rules apply to it.
    pub sender: Option<String>,
    /// Twilio: the Conversations services whose messages are WhatsApp sends, lowercased: Chat
    /// Service SIDs, `default` (the account's default service, whose paths name none) or `*`.
    pub conversation_services: Vec<String>,
    /// Twilio: Content API templates are WhatsApp templates (read as template definitions).
    pub content_templates: bool,
    /// Bird: the channel ids that are WhatsApp channels, lowercased, or `*` for every channel.
    pub channels: Vec<String>,
}

impl ProviderRoute {
    pub fn matches(&self, host: &str) -> bool {
        self.hosts.iter().any(|h| h.matches(host))
    }

    /// Whether a Conversations message on `service` (a Chat Service SID from the path, or
    /// `None` for the default service) is a WhatsApp send under this policy.
    pub fn conversation_is_whatsapp(&self, service: Option<&str>) -> bool {
        let wanted = service.map_or_else(|| "default".to_owned(), str::to_ascii_lowercase);
        self.conversation_services
            .iter()
            .any(|s| s == "*" || *s == wanted)
    }

    /// Whether a Bird channel (`None`: a conversation, which names none) is a WhatsApp channel
    /// under this policy.
    pub fn channel_is_whatsapp(&self, channel: Option<&str>) -> bool {
        let wanted = channel.map(str::to_ascii_lowercase);
        self.channels
            .iter()
            .any(|c| c == "*" || Some(c) == wanted.as_ref())
    }
}

/// Compiles the policy's `whatsapp.providers`, reporting every problem with its JSON path.
/// `graph_hosts` are the Cloud API's hosts (no provider may claim one).
pub fn compile(
    docs: &[ProviderDoc],
    graph_hosts: &[String],
    push: &mut impl FnMut(String, String),
) -> Vec<ProviderRoute> {
    let mut routes: Vec<ProviderRoute> = Vec::new();
    let mut named: Vec<Provider> = Vec::new();
    for (i, doc) in docs.iter().enumerate() {
        let at = format!("$.whatsapp.providers[{i}]");
        let (name, custom) = match doc {
            ProviderDoc::Name(n) => (n.as_str(), None),
            ProviderDoc::Custom(c) => (c.name.as_str(), Some(c)),
        };
        let Some(provider) = Provider::from_name(name) else {
            let known: Vec<&str> = Provider::ALL.iter().map(|p| p.as_str()).collect();
            push(
                at,
                format!("unknown provider `{name}` (known: {})", known.join(", ")),
            );
            continue;
        };
        if named.contains(&provider) {
            push(at, format!("provider `{name}` is listed twice"));
            continue;
        }
        named.push(provider);
        if provider == Provider::CloudApi {
            if custom.is_some() {
                push(
                    at,
                    "the Cloud API is configured by `whatsapp.hosts` and `whatsapp.edges`, not here"
                        .into(),
                );
            }
            continue;
        }
        let mut hosts = Vec::new();
        let given = custom.and_then(|c| c.hosts.as_ref());
        let builtin: Vec<String> = provider
            .default_hosts()
            .iter()
            .map(|h| (*h).to_owned())
            .collect();
        let lists: [(&str, &[String]); 2] = [
            ("hosts", given.map_or(builtin.as_slice(), Vec::as_slice)),
            (
                "extra_hosts",
                custom.map_or(&[][..], |c| c.extra_hosts.as_slice()),
            ),
        ];
        for (field, list) in lists {
            for (j, raw) in list.iter().enumerate() {
                let path = format!("{at}.{field}[{j}]");
                match HostPattern::compile(raw) {
                    Some(h) if graph_hosts.contains(&h.as_string()) => push(
                        path,
                        format!("host `{raw}` is a Cloud API host (`whatsapp.hosts`)"),
                    ),
                    Some(h) => hosts.push(h),
                    None => push(
                        path,
                        format!(
                            "invalid host pattern `{raw}`: DNS labels or `*` for one label, ending in at least two literal labels"
                        ),
                    ),
                }
            }
        }
        if hosts.is_empty() && given.is_some_and(|g| g.is_empty()) {
            push(
                format!("{at}.hosts"),
                "at least one host is required".into(),
            );
        }
        let sender = custom.and_then(|c| c.sender.clone());
        match &sender {
            Some(s) if s.trim().is_empty() || s.contains('/') => {
                push(format!("{at}.sender"), format!("invalid sender `{s}`"));
            }
            Some(_) if provider.sender_in_request() => push(
                format!("{at}.sender"),
                format!(
                    "`{name}` sends name their own number; `sender` is for providers whose requests do not"
                ),
            ),
            _ => {}
        }
        let conversation_services = custom.map_or_else(Vec::new, |c| {
            CONVERSATION_SERVICES.compile(provider, &c.conversation_services, &at, push)
        });
        let content_templates = custom.is_some_and(|c| c.content_templates);
        if content_templates && provider != Provider::Twilio {
            push(
                format!("{at}.content_templates"),
                format!("`{name}` has no Content API; `content_templates` is for `twilio`"),
            );
        }
        let channels = custom.map_or_else(Vec::new, |c| {
            BIRD_CHANNELS.compile(provider, &c.channels, &at, push)
        });
        routes.push(ProviderRoute {
            provider,
            hosts,
            sender,
            conversation_services,
            content_templates: content_templates && provider == Provider::Twilio,
            channels,
        });
    }
    routes
}

/// One provider's own list of ids in a policy entry (`field`, for `owner` only), lowercased and
/// trimmed; an entry `valid` refuses is a problem at its path, named by `what`, and the list on
/// another provider is one (`why_not`).
struct IdList {
    owner: Provider,
    field: &'static str,
    why_not: &'static str,
    what: &'static str,
    valid: fn(&str) -> bool,
}

/// Twilio's `conversation_services`: `*`, `default` or a Chat Service SID (`IS` and letters or
/// digits).
const CONVERSATION_SERVICES: IdList = IdList {
    owner: Provider::Twilio,
    field: "conversation_services",
    why_not: "has no Conversations API",
    what: "Conversations service `{}`: a Chat Service SID (`IS...`), `default` or `*`",
    valid: |s| {
        s == "*"
            || s == "default"
            || (s.len() > 2 && s.starts_with("is") && s.bytes().all(|b| b.is_ascii_alphanumeric()))
    },
};

/// Bird's `channels`: channel ids (letters, digits, `-`, `_`) or `*`.
const BIRD_CHANNELS: IdList = IdList {
    owner: Provider::Bird,
    field: "channels",
    why_not: "names its channel in each send",
    what: "channel `{}`: a Bird channel id or `*`",
    valid: |c| {
        c == "*"
            || (!c.is_empty()
                && c.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
    },
};

impl IdList {
    fn compile(
        &self,
        provider: Provider,
        given: &[String],
        at: &str,
        push: &mut impl FnMut(String, String),
    ) -> Vec<String> {
        if given.is_empty() {
            return Vec::new();
        }
        let field = self.field;
        if provider != self.owner {
            push(
                format!("{at}.{field}"),
                format!(
                    "`{}` {}; `{field}` is for `{}`",
                    provider.as_str(),
                    self.why_not,
                    self.owner.as_str()
                ),
            );
            return Vec::new();
        }
        let mut out = Vec::new();
        for (j, raw) in given.iter().enumerate() {
            let id = raw.trim().to_ascii_lowercase();
            if (self.valid)(&id) {
                out.push(id);
            } else {
                push(
                    format!("{at}.{field}[{j}]"),
                    format!("invalid {}", self.what.replacen("{}", raw, 1)),
                );
            }
        }
        out
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
mod tests {
    use super::*;
    use crate::whatsapp::{Endpoint, normalize_path};

    fn route(p: Provider) -> ProviderRoute {
        ProviderRoute {
            provider: p,
            hosts: p
                .default_hosts()
                .iter()
                .filter_map(|h| HostPattern::compile(h))
                .collect(),
            sender: None,
            conversation_services: Vec::new(),
            content_templates: false,
            channels: Vec::new(),
        }
    }

    #[test]
    fn host_patterns_match_whole_labels() {
        let r = route(Provider::Twilio);
        for h in [
            "api.twilio.com",
            "api.dublin.ie1.twilio.com",
            "api.ie1.twilio.com",
        ] {
            assert!(r.matches(h), "{h}");
        }
        for h in [
            "twilio.com",
            "api.twilio.com.evil.com",
            "xapi.twilio.com",
            "api.a.b.c.twilio.com",
            "verify.twilio.com",
            "api..twilio.com",
        ] {
            assert!(!r.matches(h), "{h}");
        }
        assert!(HostPattern::compile("*.com").is_none());
        assert!(HostPattern::compile("api.*").is_none());
        assert!(HostPattern::compile("a b.example.com").is_none());
        assert_eq!(
            HostPattern::compile("API.Example.COM.:443").map(|h| h.as_string()),
            Some("api.example.com".to_owned())
        );
    }

    #[test]
    fn dialog360_paths_are_cloud_api_edges() {
        let r = ProviderRoute {
            sender: Some("+4930123".into()),
            ..route(Provider::Dialog360)
        };
        for (path, endpoint, edge) in [
            ("/messages", Endpoint::Messages, "messages"),
            ("/Messages/", Endpoint::Messages, "messages"),
            ("/v1/messages", Endpoint::Messages, "messages"),
            (
                "/marketing_messages",
                Endpoint::Messages,
                "marketing_messages",
            ),
            ("/media", Endpoint::Media, "media"),
            (
                "/v1/configs/templates",
                Endpoint::MessageTemplates,
                "message_templates",
            ),
            ("/v1/configs/webhook", Endpoint::Other, "other"),
        ] {
            let ProviderRequest::Graph(call) = classify(&r, "POST", &normalize_path(path)) else {
                panic!("{path}");
            };
            assert_eq!(
                (call.endpoint, call.edge.as_str()),
                (endpoint, edge),
                "{path}"
            );
            assert_eq!(call.path_id.as_deref(), Some("+4930123"));
            assert_eq!(call.provider, Provider::Dialog360);
        }
    }

    #[test]
    fn twilio_message_creates_only() {
        let r = route(Provider::Twilio);
        for path in [
            "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json",
            "/2010-04-01/Accounts/AC0123/Messages",
            "//2010-04-01/Accounts/AC0123/%4Dessages.json?x=1",
            "/2010-04-01/Accounts/AC0123/Messages.xml",
        ] {
            assert_eq!(
                classify(&r, "POST", &normalize_path(path)),
                ProviderRequest::BodyDecides,
                "{path}"
            );
        }
        for (method, path) in [
            ("GET", "/2010-04-01/Accounts/AC0123/Messages.json"),
            ("POST", "/2010-04-01/Accounts/AC0123/Calls.json"),
            ("POST", "/2010-04-01/Accounts/AC0123/Messages/SM1.json"),
            ("POST", "/2010-04-01/Accounts/AC0123/MessagesX.json"),
        ] {
            assert_eq!(
                classify(&r, method, &normalize_path(path)),
                ProviderRequest::NotWhatsApp,
                "{method} {path}"
            );
        }
    }

    #[test]
    fn twilio_conversations_by_service() {
        let r = ProviderRoute {
            conversation_services: vec!["is0123".into(), "default".into()],
            ..route(Provider::Twilio)
        };
        let post = |path: &str| classify(&r, "POST", &normalize_path(path));
        for path in [
            "/v1/Conversations/CH0a1b/Messages",
            "/v1/Conversations/CH0a1b/Messages/IM9f8e",
            "/v1/Services/IS0123/Conversations/CH0a1b/Messages",
            "/v2/Conversations/conv_1/Actions",
        ] {
            assert_eq!(post(path), ProviderRequest::BodyDecides, "{path}");
        }
        for path in [
            "/v1/Services/IS9999/Conversations/CH0a1b/Messages",
            "/v1/Conversations/CH0a1b/Participants",
            "/v1/Conversations/CH0a1b",
        ] {
            assert_eq!(post(path), ProviderRequest::NotWhatsApp, "{path}");
        }
        assert_eq!(
            classify(
                &r,
                "GET",
                &normalize_path("/v1/Conversations/CH0a1b/Messages")
            ),
            ProviderRequest::NotWhatsApp
        );
        // Content API templates: read only when the policy says they are WhatsApp's.
        assert_eq!(post("/v1/Content"), ProviderRequest::NotWhatsApp);
        let content = ProviderRoute {
            content_templates: true,
            ..route(Provider::Twilio)
        };
        let ProviderRequest::Graph(call) =
            classify(&content, "POST", &normalize_path("/v1/Content"))
        else {
            panic!("a Content create is a template definition");
        };
        assert_eq!(
            (call.endpoint, call.path_id, call.provider),
            (Endpoint::MessageTemplates, None, Provider::Twilio)
        );
        for path in [
            "/v1/Content/HX1/ApprovalRequests/whatsapp",
            "/v1/Content/HX1",
        ] {
            assert_eq!(
                classify(&content, "POST", &normalize_path(path)),
                ProviderRequest::NotWhatsApp
            );
        }
        // Unnamed services: a v1 message is not governed, a v2 action still is.
        let r = route(Provider::Twilio);
        let post = |path: &str| classify(&r, "POST", &normalize_path(path));
        assert_eq!(
            post("/v1/Conversations/CH0a1b/Messages"),
            ProviderRequest::NotWhatsApp
        );
        assert_eq!(
            post("/v2/Conversations/conv_1/Actions"),
            ProviderRequest::BodyDecides
        );
        let every = ProviderRoute {
            conversation_services: vec!["*".into()],
            ..route(Provider::Twilio)
        };
        assert!(every.conversation_is_whatsapp(Some("IS77")));
        assert!(every.conversation_is_whatsapp(None));
    }

    #[test]
    fn bird_gupshup_sinch_and_aws_send_paths() {
        let bird = ProviderRoute {
            channels: vec!["9c2e-77".into()],
            ..route(Provider::Bird)
        };
        let gupshup = route(Provider::Gupshup);
        let sinch = route(Provider::Sinch);
        let aws = route(Provider::AwsSocialMessaging);
        for (r, path) in [
            (&bird, "/v1/whatsapp/messages"),
            (&bird, "/workspaces/ws1/channels/9C2E-77/messages"),
            (&bird, "/workspaces/ws1/channels/9c2e-77/batch/messages"),
            (&bird, "/v1/send"),
            (&bird, "/v1/conversations/start"),
            (&bird, "/v1/conversations/c1/messages"),
            (&gupshup, "/wa/api/v1/msg"),
            (&gupshup, "/wa/api/v1/template/msg"),
            (&gupshup, "/sm/api/v1/msg"),
            (&gupshup, "/partner/app/8a1b/template/msg"),
            (&sinch, "/v1/projects/p1/messages:send"),
            (&sinch, "/v1/projects/p1/messages%3Asend"),
            (&aws, "/v1/whatsapp/send"),
        ] {
            assert_eq!(
                classify(r, "POST", &normalize_path(path)),
                ProviderRequest::BodyDecides,
                "{path}"
            );
        }
        for (r, method, path) in [
            (&bird, "POST", "/workspaces/ws1/channels/other/messages"),
            (&bird, "POST", "/workspaces/ws1/conversations/c1/messages"),
            (&bird, "GET", "/v1/whatsapp/messages"),
            (&gupshup, "POST", "/wa/api/v1/users"),
            (&sinch, "POST", "/v1/projects/p1/contacts"),
            (&aws, "POST", "/v1/whatsapp/media"),
        ] {
            assert_eq!(
                classify(r, method, &normalize_path(path)),
                ProviderRequest::NotWhatsApp,
                "{method} {path}"
            );
        }
        // Gupshup's partner API passes Meta's format through, with the app as the path id.
        for (path, endpoint, edge) in [
            (
                "/partner/app/8a1b/v3/message",
                Endpoint::Messages,
                "messages",
            ),
            (
                "/partner/app/8a1b/onboarding/marketing/msg",
                Endpoint::Messages,
                "marketing_messages",
            ),
            (
                "/partner/app/8a1b/templates",
                Endpoint::MessageTemplates,
                "message_templates",
            ),
        ] {
            let ProviderRequest::Graph(call) = classify(&gupshup, "POST", &normalize_path(path))
            else {
                panic!("{path}");
            };
            assert_eq!((call.endpoint, call.edge.as_str()), (endpoint, edge));
            assert_eq!(call.path_id.as_deref(), Some("8a1b"));
        }
        // Every channel: conversations too.
        let every = ProviderRoute {
            channels: vec!["*".into()],
            ..route(Provider::Bird)
        };
        assert_eq!(
            classify(
                &every,
                "POST",
                &normalize_path("/workspaces/ws1/conversations/c1/messages")
            ),
            ProviderRequest::BodyDecides
        );
        assert!(aws.matches("social-messaging.eu-west-1.amazonaws.com"));
        assert!(!aws.matches("bedrock.eu-west-1.amazonaws.com"));
        assert!(bird.matches("eu1.platform.bird.com"));
    }

    fn compile_with(providers: &str, unknown: &str) -> Result<crate::policy::Policy, Vec<String>> {
        let text = format!(
            r#"{{"default_action":"allow","whatsapp":{{"providers":{providers}}},
            "identity":{{"sources":[{{"type":"peer_uri_san"}}]}},"origins":[],
            "phone_numbers":{{"unknown":"{unknown}"}},"content":{{}},"limits":{{}}}}"#
        );
        crate::policy::Policy::from_json(text.as_bytes())
            .map_err(|e| e.problems().into_iter().map(|p| p.to_string()).collect())
    }

    #[test]
    fn providers_compile_with_overrides() {
        let p = compile_with(
            r#"["cloud_api", {"name":"twilio","extra_hosts":["twilio.internal.example"]},
                {"name":"360dialog","hosts":["waba-v2.360dialog.io"],"sender":"+49 30 5550"}]"#,
            "block",
        )
        .unwrap();
        assert_eq!(p.providers.len(), 2);
        assert!(p.governs_host("twilio.internal.example"));
        assert!(p.governs_host("API.Twilio.com:443"));
        assert!(!p.governs_host("waba-sandbox.360dialog.io"));
        assert_eq!(
            p.provider_for("waba-v2.360dialog.io").map(|r| r.provider),
            Some(Provider::Dialog360)
        );
        // Absent: only the Cloud API.
        let p = compile_with("[]", "allow").unwrap();
        assert!(!p.governs_host("api.twilio.com"));
    }

    #[test]
    fn provider_problems_are_reported_with_their_paths() {
        let problems = compile_with(
            r#"["twilio", "twilio", "sinchx", {"name":"cloud_api","extra_hosts":["x.example.com"]},
                {"name":"360dialog","hosts":["graph.facebook.com","*.io"]}]"#,
            "block",
        )
        .unwrap_err();
        let paths: Vec<&str> = problems
            .iter()
            .map(|p| p.split('`').nth(1).unwrap_or_default())
            .collect();
        assert_eq!(
            paths,
            [
                "$.whatsapp.providers[1]",
                "$.whatsapp.providers[2]",
                "$.whatsapp.providers[3]",
                "$.whatsapp.providers[4].hosts[0]",
                "$.whatsapp.providers[4].hosts[1]",
            ],
            "{problems:?}"
        );
        // A sender on a provider whose requests name it; an unknown field.
        let problems = compile_with(r#"[{"name":"twilio","sender":"+1"}]"#, "allow").unwrap_err();
        assert!(problems[0].contains("providers[0].sender"), "{problems:?}");
        assert!(compile_with(r#"[{"name":"twilio","host":["x.example.com"]}]"#, "allow").is_err());
        // Conversations services: only Twilio has them, and each is a SID, `default` or `*`.
        let problems = compile_with(
            r#"[{"name":"twilio","conversation_services":["IS0123","default","*","CH0a1b"]},
                {"name":"vonage","conversation_services":["*"]}]"#,
            "allow",
        )
        .unwrap_err();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("providers[0].conversation_services[3]"));
        assert!(problems[1].contains("providers[1].conversation_services"));
        let p = compile_with(
            r#"[{"name":"twilio","conversation_services":[" IS0123 "]}]"#,
            "allow",
        )
        .unwrap();
        assert_eq!(p.providers[0].conversation_services, ["is0123"]);
        let problems =
            compile_with(r#"[{"name":"vonage","content_templates":true}]"#, "allow").unwrap_err();
        assert!(
            problems[0].contains("providers[0].content_templates"),
            "{problems:?}"
        );
        // Bird channels: only Bird has them.
        let problems = compile_with(
            r#"[{"name":"bird","channels":["9c2e-77","*","a/b"]},{"name":"sinch","channels":["x"]}]"#,
            "allow",
        )
        .unwrap_err();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("providers[0].channels[2]"));
        assert!(problems[1].contains("providers[1].channels"));
    }

    #[test]
    fn provider_names() {
        assert_eq!(Provider::from_name(" Twilio "), Some(Provider::Twilio));
        assert_eq!(Provider::from_name("360dialog"), Some(Provider::Dialog360));
        assert_eq!(Provider::from_name("cloud_api"), Some(Provider::CloudApi));
        assert_eq!(Provider::from_name("infobip"), Some(Provider::Infobip));
        assert_eq!(Provider::from_name("sinch"), Some(Provider::Sinch));
        assert_eq!(
            Provider::from_name("aws_social_messaging"),
            Some(Provider::AwsSocialMessaging)
        );
        assert_eq!(Provider::from_name("messagebird"), None);
    }
}
