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
    let ProviderRequest::Graph(call) = classify(&content, "POST", &normalize_path("/v1/Content"))
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
        let ProviderRequest::Graph(call) = classify(&gupshup, "POST", &normalize_path(path)) else {
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
