//! The providers a policy enables, compiled: their host patterns, sender and options, with
//! every problem of `whatsapp.providers` at its JSON path.

use super::Provider;
use crate::document::ProviderDoc;

/// A host pattern: DNS labels, each literal or `*` (exactly one label).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern(Vec<String>);

impl HostPattern {
    /// Compiles `api.*.*.twilio.com`; `None` for anything but lowercase-able labels of letters,
    /// digits and `-`, or `*`.
    pub fn compile(raw: &str) -> Option<Self> {
        let norm = crate::whatsapp::normalize_authority(raw.trim().trim_end_matches('.'));
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
