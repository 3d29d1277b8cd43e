//! WhatsApp sends through providers: every provider reader on the same arbitrary bytes (forms,
//! JSON, JSON strings inside form fields and inside JSON), then the request through the whole
//! engine on one provider's host and path (its classification, the body decoders, the rules).
#![no_main]

use libfuzzer_sys::fuzz_target;
use wa_egress_guard::whatsapp::normalize_path;
use wa_egress_guard::whatsapp::providers::{Provider, ProviderSend, read_send};
use wa_egress_guard_fuzz::{Request, Selectors, assert_send_untouched};

/// Every reader's paths: one per way a provider's body is read.
const READERS: &[(Provider, &str)] = &[
    (Provider::Twilio, "/2010-04-01/Accounts/AC1/Messages.json"),
    (
        Provider::Twilio,
        "/v1/Services/IS1/Conversations/CH1/Messages",
    ),
    (Provider::Twilio, "/v1/Conversations/CH1/Messages/IM1"),
    (Provider::Twilio, "/v2/Conversations/c1/Actions"),
    (Provider::Vonage, "/v1/messages"),
    (Provider::Infobip, "/whatsapp/1/message/text"),
    (Provider::Infobip, "/whatsapp/1/message/template"),
    (Provider::Infobip, "/messages-api/1/messages"),
    (Provider::Infobip, "/omni/1/advanced"),
    (Provider::Bird, "/v1/whatsapp/messages"),
    (Provider::Bird, "/workspaces/w/channels/c/messages"),
    (Provider::Bird, "/v1/send"),
    (Provider::Gupshup, "/wa/api/v1/msg"),
    (Provider::Gupshup, "/sm/api/v1/msg"),
    (Provider::Gupshup, "/partner/app/a1/template/msg"),
    (Provider::Sinch, "/v1/projects/p/messages:send"),
    (Provider::AwsSocialMessaging, "/v1/whatsapp/send"),
];

/// The Bird channels a legacy send may name.
const CHANNELS: &[&str] = &["c", "*"];

/// Requests through the engine, on hosts the shipped policy's providers serve.
const ROUTES: &[(&str, &str)] = &[
    ("api.twilio.com", "/2010-04-01/Accounts/AC1/Messages.json"),
    (
        "api.dublin.ie1.twilio.com",
        "/2010-04-01/Accounts/AC1/Messages",
    ),
    ("conversations.twilio.com", "/v2/Conversations/c1/Actions"),
    ("api.nexmo.com", "/v1/messages"),
    (
        "x1.api.infobip.com",
        "/whatsapp/1/message/interactive/buttons",
    ),
    ("x1.api.infobip.com", "/whatsapp/1/message/template"),
    ("x1.api.infobip.com", "/messages-api/1/messages"),
    (
        "x1.api.infobip.com",
        "/whatsapp/2/senders/441134960000/templates",
    ),
    ("waba-v2.360dialog.io", "/messages"),
    ("api.bird.com", "/workspaces/w/channels/c/messages"),
    ("eu1.platform.bird.com", "/v1/whatsapp/messages"),
    ("conversations.messagebird.com", "/v1/send"),
    ("api.gupshup.io", "/wa/api/v1/msg"),
    ("partner.gupshup.io", "/partner/app/a1/v3/message"),
    (
        "eu.conversation.api.sinch.com",
        "/v1/projects/p/messages:send",
    ),
    (
        "social-messaging.eu-west-1.amazonaws.com",
        "/v1/whatsapp/send",
    ),
];
const TYPES: &[&str] = &[
    "application/x-www-form-urlencoded",
    "application/json",
    "text/plain",
    "",
];
const ENCODINGS: &[&str] = &["", "gzip", "deflate"];
const QUERIES: &[&str] = &["", "To=whatsapp:%2B1", "Body=x&To=whatsapp:%2B1&To=%2B2"];

fuzz_target!(|data: &[u8]| {
    let mut s = Selectors::new(data);
    let (host, path) = s.pick(ROUTES);
    let content_type = s.pick(TYPES);
    let encoding = s.pick(ENCODINGS);
    let compress = s.byte() & 1 == 1 && !encoding.is_empty();
    let query = s.pick(QUERIES);
    let chunks = s.chunks();
    let body = s.rest();
    for (provider, reader_path) in READERS {
        let segments = normalize_path(reader_path).segments;
        let channels: Vec<String> = CHANNELS.iter().map(|c| (*c).to_owned()).collect();
        if let Ok(ProviderSend::WhatsApp(m)) =
            read_send(*provider, &channels, &segments, body, query)
        {
            // Blank texts are dropped, and every text is scored once.
            assert!(m.view.texts.iter().all(|t| !t.trim().is_empty()));
            let _ = m.view.visible_text();
        }
    }
    let full_path = if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    };
    let mut headers = vec![("content-type", content_type)];
    if !encoding.is_empty() && !compress {
        headers.push(("content-encoding", encoding));
    }
    let request = Request {
        method: "POST",
        authority: host,
        path: &full_path,
        headers: &headers,
        body,
        encode: compress.then_some(encoding),
    };
    let (observed, _) = request.run(&chunks);
    assert_send_untouched(&observed, body, compress);
});
