//! Which requests on a provider's host are WhatsApp sends, read from the method and the
//! normalised path: the Cloud API's own format on the provider's host, a send whose body decides
//! (an endpoint that also carries other channels), or no WhatsApp send at all.

use super::{Provider, ProviderRoute};
use crate::whatsapp::{Endpoint, NormalizedPath, WhatsAppCall};

/// How a provider request is handled, as far as the headers tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderRequest {
    /// The Cloud API format on the provider's host: read exactly as a Graph call is.
    Graph(WhatsAppCall),
    /// A send on an endpoint that also carries other channels (a Twilio Messages create, a
    /// Vonage message): WhatsApp or not is known from its body.
    BodyDecides,
    /// Anything else on the provider's host, on a provider that also carries other channels:
    /// not a WhatsApp send, not governed.
    NotWhatsApp,
}

/// Classifies a request to a provider's host by method and normalised path.
pub fn classify(route: &ProviderRoute, method: &str, path: &NormalizedPath) -> ProviderRequest {
    let post = method.eq_ignore_ascii_case("POST");
    let segs: Vec<&str> = path
        .segments
        .iter()
        .map(|s| s.strip_suffix(".json").unwrap_or(s))
        .collect();
    match route.provider {
        Provider::CloudApi => ProviderRequest::NotWhatsApp,
        Provider::Dialog360 => ProviderRequest::Graph(dialog360_call(route, &segs, post)),
        Provider::Twilio => twilio_request(route, &segs, post),
        // `/v1/messages`, and the older `/v0.1/messages`.
        Provider::Vonage => match segs.as_slice() {
            ["v1" | "v0.1", "messages"] if post => ProviderRequest::BodyDecides,
            _ => ProviderRequest::NotWhatsApp,
        },
        Provider::Infobip => infobip_request(route, &segs, post),
        Provider::Bird => bird_request(route, &segs, post),
        Provider::Gupshup => gupshup_request(route, &segs, post),
        Provider::Sinch => match segs.as_slice() {
            ["v1", "projects", _, "messages:send"] if post => ProviderRequest::BodyDecides,
            _ => ProviderRequest::NotWhatsApp,
        },
        Provider::AwsSocialMessaging => match segs.as_slice() {
            ["v1", "whatsapp", "send"] if post => ProviderRequest::BodyDecides,
            _ => ProviderRequest::NotWhatsApp,
        },
    }
}

/// A Bird path. Bird's WhatsApp API is WhatsApp by its path; a Channels API message is
/// WhatsApp on the channels the policy names, a Conversations API message (no channel in the
/// request) when the policy names every channel; a legacy MessageBird send is read, its content
/// or channel decides. Anything else is not governed.
pub(super) fn bird_request(route: &ProviderRoute, segs: &[&str], post: bool) -> ProviderRequest {
    let named = |channel: Option<&str>| {
        if route.channel_is_whatsapp(channel) {
            ProviderRequest::BodyDecides
        } else {
            ProviderRequest::NotWhatsApp
        }
    };
    match segs {
        _ if !post => ProviderRequest::NotWhatsApp,
        ["workspaces", _, "channels", channel, "messages"]
        | ["workspaces", _, "channels", channel, "batch", "messages"] => named(Some(channel)),
        ["workspaces", _, "conversations", _, "messages"] => named(None),
        ["v1", "whatsapp", "messages"]
        | ["v1", "send"]
        | ["v1", "conversations", "start"]
        | ["v1", "conversations", _, "messages"] => ProviderRequest::BodyDecides,
        _ => ProviderRequest::NotWhatsApp,
    }
}

/// A Gupshup path. The self-serve sends are forms read whole (`/sm/` also carries SMS); the
/// partner API carries WhatsApp only: its template send is a form read whole, its v3 and MM Lite
/// sends are Meta's format and its template creation Meta's template fields, read as the Cloud
/// API's edges with the app id as the path id. Anything else is not governed.
pub(super) fn gupshup_request(route: &ProviderRoute, segs: &[&str], post: bool) -> ProviderRequest {
    let graph = |endpoint: Endpoint, edge: &str, app: &str| {
        ProviderRequest::Graph(WhatsAppCall {
            endpoint,
            edge: edge.to_owned(),
            path_id: Some(app.to_owned()),
            post,
            provider: route.provider,
        })
    };
    match segs {
        _ if !post => ProviderRequest::NotWhatsApp,
        ["wa" | "sm", "api", "v1", "msg"]
        | ["wa", "api", "v1", "template", "msg"]
        | ["partner", "app", _, "template", "msg"] => ProviderRequest::BodyDecides,
        ["partner", "app", app, "v3", "message"] => graph(Endpoint::Messages, "messages", app),
        ["partner", "app", app, "onboarding", "marketing", "msg"] => {
            graph(Endpoint::Messages, "marketing_messages", app)
        }
        ["partner", "app", app, "templates"] => {
            graph(Endpoint::MessageTemplates, "message_templates", app)
        }
        _ => ProviderRequest::NotWhatsApp,
    }
}

/// A Twilio path. A Programmable Messaging create (the 2010 API picks the response format by
/// the last segment's extension, `.json`, `.xml` or none: any of them creates the message) and a
/// Conversations v2 action name their channel in the body. A Conversations v1 message (a create,
/// or an edit of its `Body`) names none: it is read as a WhatsApp send on the services the policy
/// names, and is not governed on any other.
pub(super) fn twilio_request(route: &ProviderRoute, segs: &[&str], post: bool) -> ProviderRequest {
    let conversation = |service: Option<&str>| {
        if route.conversation_is_whatsapp(service) {
            ProviderRequest::BodyDecides
        } else {
            ProviderRequest::NotWhatsApp
        }
    };
    match segs {
        ["2010-04-01", "accounts", _, last]
            if post && last.split('.').next() == Some("messages") =>
        {
            ProviderRequest::BodyDecides
        }
        ["v1", "conversations", _, "messages"] | ["v1", "conversations", _, "messages", _]
            if post =>
        {
            conversation(None)
        }
        ["v1", "services", service, "conversations", _, "messages"]
        | ["v1", "services", service, "conversations", _, "messages", _]
            if post =>
        {
            conversation(Some(service))
        }
        ["v2", "conversations", _, "actions"] if post => ProviderRequest::BodyDecides,
        // A Content API template serves every channel: read as a WhatsApp template definition
        // when the policy says the account's templates are WhatsApp's. The request names no
        // number (the template is the account's).
        ["v1", "content"] if post && route.content_templates => {
            ProviderRequest::Graph(WhatsAppCall {
                endpoint: Endpoint::MessageTemplates,
                edge: "message_templates".to_owned(),
                path_id: None,
                post,
                provider: route.provider,
            })
        }
        _ => ProviderRequest::NotWhatsApp,
    }
}

/// An Infobip path: a WhatsApp API send or a Messages API send is read from its body; a
/// template created or edited for a WhatsApp sender is read as a Cloud API template definition
/// (its texts sit under `structure`), with the sender as the path id; anything else on
/// Infobip's hosts (SMS, email, reports) is not governed.
pub(super) fn infobip_request(route: &ProviderRoute, segs: &[&str], post: bool) -> ProviderRequest {
    match segs {
        ["whatsapp", _, "senders", sender, "templates", ..] if post => {
            ProviderRequest::Graph(WhatsAppCall {
                endpoint: Endpoint::MessageTemplates,
                edge: "message_templates".to_owned(),
                path_id: Some((*sender).to_owned()),
                post,
                provider: route.provider,
            })
        }
        ["whatsapp", _, "message", ..]
        | ["messages-api", _, "messages"]
        | ["omni", _, "advanced"]
            if post =>
        {
            ProviderRequest::BodyDecides
        }
        _ => ProviderRequest::NotWhatsApp,
    }
}

/// A 360dialog path as the Cloud API edge it stands for. Every request to a 360dialog host is a
/// WhatsApp call (the host carries no other channel), so anything else is `other`, as on Graph.
pub(super) fn dialog360_call(route: &ProviderRoute, segs: &[&str], post: bool) -> WhatsAppCall {
    // The sandbox and the legacy On-Premise hosting prefix `/v1`.
    let rest = match segs {
        ["v1", rest @ ..] => rest,
        rest => rest,
    };
    let (endpoint, edge) = match rest {
        ["messages"] => (Endpoint::Messages, "messages"),
        ["marketing_messages"] => (Endpoint::Messages, "marketing_messages"),
        ["media"] => (Endpoint::Media, "media"),
        ["configs", "templates"] => (Endpoint::MessageTemplates, "message_templates"),
        _ => (Endpoint::Other, "other"),
    };
    WhatsAppCall {
        endpoint,
        edge: edge.to_owned(),
        path_id: route.sender.clone(),
        post,
        provider: Provider::Dialog360,
    }
}
