use super::*;

fn section(json: &str) -> HandoffSection {
    serde_json::from_str(json).unwrap()
}

const SECTION: &str = r#"{
    "default_language": "en",
    "country_codes": {"34": "es", "52": "es", "33": "fr", "1": "en", "1787": "es"},
    "url": "https://app.example/assistant?ref={request_id}&lang={language}",
    "messages": {
        "en": {"type": "cta_url", "body": "This number does not offer a general assistant. Continue in our app.", "button": "Open the app"},
        "es": {"type": "text", "body": "Este número no ofrece un asistente general. Sigue aquí: {url}"},
        "fr": {"type": "text", "body": "Ce numéro n'offre pas d'assistant général."}
    }
}"#;

fn policy() -> HandoffPolicy {
    HandoffPolicy::compile(&section(SECTION)).unwrap()
}

fn send<'a>(body: &'a [u8], message_type: &'a str) -> Send<'a> {
    Send {
        body,
        content_type: Some("application/json"),
        content_encoding: None,
        raw_query: "",
        message_type,
        request_id: "req 1/2",
        phone_number_id: Some("106540352242922"),
    }
}

fn problems(json: &str) -> Vec<(String, String)> {
    HandoffPolicy::compile(&section(json)).unwrap_err()
}

#[test]
fn the_longest_country_code_prefix_picks_the_language() {
    let p = policy();
    assert_eq!(p.language_for("34612345678"), "es");
    assert_eq!(p.language_for("+34 612 34 56 78"), "es");
    assert_eq!(p.language_for("5215512345678"), "es");
    assert_eq!(p.language_for("33612345678"), "fr");
    // `1787` (Puerto Rico) is longer than `1`.
    assert_eq!(p.language_for("17875550100"), "es");
    assert_eq!(p.language_for("14155550100"), "en");
    // No listed prefix, no digits, a group id: the default.
    assert_eq!(p.language_for("4915112345678"), "en");
    assert_eq!(p.language_for(""), "en");
    assert_eq!(p.language_for("120363025246125486@g.us"), "en");
}

#[test]
fn a_text_send_becomes_the_cta_url_message_with_the_request_id_encoded() {
    let body = br#"{"messaging_product":"whatsapp","recipient_type":"individual","to":"14155550100","type":"text","text":{"body":"Sure! Here is a poem about the sea...","preview_url":false},"biz_opaque_callback_data":"trk-9","context":{"message_id":"wamid.X"}}"#;
    let out = policy().rewrite(&send(body, "text")).unwrap();
    assert_eq!((out.language.as_str(), out.format), ("en", "cta_url"));
    let v: Value = serde_json::from_slice(&out.body).unwrap();
    assert_eq!(
        v,
        json!({
            "messaging_product": "whatsapp", "recipient_type": "individual", "to": "14155550100",
            "biz_opaque_callback_data": "trk-9", "type": "interactive",
            "interactive": {"type": "cta_url",
                "body": {"text": "This number does not offer a general assistant. Continue in our app."},
                "action": {"name": "cta_url", "parameters": {"display_text": "Open the app",
                    "url": "https://app.example/assistant?ref=req%201%2F2&lang=en"}}}
        })
    );
    let text = String::from_utf8(out.body).unwrap();
    assert!(!text.contains("poem") && !text.contains("wamid"), "{text}");
}

#[test]
fn a_spanish_number_gets_the_spanish_text_with_the_link_in_it() {
    let body = br#"{"messaging_product":"whatsapp","to":"+34612345678","type":"interactive","interactive":{"type":"button","body":{"text":"Here is an essay"},"action":{"buttons":[]}}}"#;
    let out = policy().rewrite(&send(body, "interactive")).unwrap();
    assert_eq!((out.language.as_str(), out.format), ("es", "text"));
    let v: Value = serde_json::from_slice(&out.body).unwrap();
    assert_eq!(
        v,
        json!({"messaging_product": "whatsapp", "to": "+34612345678", "type": "text",
               "text": {"preview_url": true, "body": "Este número no ofrece un asistente general. Sigue aquí: https://app.example/assistant?ref=req%201%2F2&lang=es"}})
    );
}

#[test]
fn the_link_never_carries_the_recipient_or_the_text() {
    let body = br#"{"messaging_product":"whatsapp","to":"34612345678","type":"text","text":{"body":"secret answer"}}"#;
    let out = policy().rewrite(&send(body, "text")).unwrap();
    let v: Value = serde_json::from_slice(&out.body).unwrap();
    let text = v["text"]["body"].as_str().unwrap();
    let url = text.rsplit(' ').next().unwrap();
    assert!(url.starts_with("https://app.example/"), "{url}");
    assert!(
        !url.contains("612345678") && !url.contains("secret"),
        "{url}"
    );
    assert_eq!(v["to"], "34612345678", "the recipient stays the addressee");
}

#[test]
fn what_cannot_be_rewritten_says_why() {
    let p = policy();
    let template = br#"{"messaging_product":"whatsapp","to":"1415","type":"template","template":{"name":"x"}}"#;
    for t in [
        "template", "image", "reaction", "location", "contacts", "read",
    ] {
        assert_eq!(
            p.rewrite(&send(template, t)),
            Err(Unavailable::MessageType),
            "{t}"
        );
    }
    let text = br#"{"messaging_product":"whatsapp","to":"1415","type":"text","text":{"body":"x"}}"#;
    let form = Send {
        content_type: Some("application/x-www-form-urlencoded"),
        ..send(text, "text")
    };
    assert_eq!(p.rewrite(&form), Err(Unavailable::BodyFormat));
    let gzip = Send {
        content_encoding: Some("gzip"),
        ..send(text, "text")
    };
    assert_eq!(p.rewrite(&gzip), Err(Unavailable::BodyFormat));
    let identity = Send {
        content_encoding: Some("identity"),
        content_type: Some("Application/JSON; charset=utf-8"),
        ..send(text, "text")
    };
    assert!(p.rewrite(&identity).is_ok());
    let query = Send {
        raw_query: "access_token=abc&text%5Bbody%5D=hidden",
        ..send(text, "text")
    };
    assert_eq!(p.rewrite(&query), Err(Unavailable::QueryFields));
    let credentials = Send {
        raw_query: "access_token=abc&appsecret_proof=def",
        ..send(text, "text")
    };
    assert!(p.rewrite(&credentials).is_ok());
    let no_to = br#"{"messaging_product":"whatsapp","type":"text","text":{"body":"x"}}"#;
    assert_eq!(
        p.rewrite(&send(no_to, "text")),
        Err(Unavailable::NoRecipient)
    );
    let numeric_to =
        br#"{"messaging_product":"whatsapp","to":1415,"type":"text","text":{"body":"x"}}"#;
    assert_eq!(
        p.rewrite(&send(numeric_to, "text")),
        Err(Unavailable::NoRecipient)
    );
}

#[test]
fn placeholders_are_checked_where_they_are_written() {
    let bad_url = problems(
        r#"{"default_language":"en","url":"https://app.example/?ref={request}&n={recipient}","messages":{"en":{"type":"text","body":"hi"}}}"#,
    );
    assert_eq!(bad_url[0].0, "$.handoff.url");
    assert!(
        bad_url[0].1.contains("unknown placeholder `{request}`")
            && bad_url[0].1.contains("{request_id}"),
        "{}",
        bad_url[0].1
    );
    let bad_body = problems(
        r#"{"default_language":"en","url":"https://app.example/","messages":{"en":{"type":"text","body":"see {link}"}}}"#,
    );
    assert_eq!(bad_body[0].0, "$.handoff.messages.en.body");
    assert!(bad_body[0].1.contains("`{link}`"), "{}", bad_body[0].1);
    // Braces that name nothing are text.
    assert!(
        HandoffPolicy::compile(&section(
            r#"{"default_language":"en","messages":{"en":{"type":"text","body":"a { b } {} {X}"}}}"#
        ))
        .is_ok()
    );
}

#[test]
fn invalid_url_templates_are_refused() {
    for url in [
        "http://app.example/?ref={request_id}",
        "https://{language}.app.example/",
        "https:///path",
        "https://app example/",
        "https://app.example/a b",
        "https://app.example/{",
        "https://app.example:port/",
        "javascript:alert(1)",
    ] {
        let json = format!(
            r#"{{"default_language":"en","url":{},"messages":{{"en":{{"type":"text","body":"hi"}}}}}}"#,
            serde_json::to_string(url).unwrap()
        );
        let p = problems(&json);
        assert_eq!(p[0].0, "$.handoff.url", "{url}");
    }
    assert!(HandoffPolicy::compile(&section(
        r#"{"default_language":"en","url":"https://app.example:8443/a/{phone_number_id}?r={request_id}#x","messages":{"en":{"type":"text","body":"hi"}}}"#
    ))
    .is_ok());
}

#[test]
fn languages_and_messages_must_agree() {
    let p = problems(
        r#"{"default_language":"de","country_codes":{"34":"es","+33":"fr","1234567":"en"},"messages":{"en":{"type":"text","body":"hi"}}}"#,
    );
    let paths: Vec<&str> = p.iter().map(|(path, _)| path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "$.handoff.default_language",
            "$.handoff.country_codes.+33",
            "$.handoff.country_codes.1234567",
            "$.handoff.country_codes.34"
        ]
    );
    assert!(
        p[0].1.contains("language `de` has no message"),
        "{}",
        p[0].1
    );
    assert!(
        p[3].1.contains("language `es` has no message"),
        "{}",
        p[3].1
    );
    let p = problems(r#"{"default_language":"en","messages":{}}"#);
    assert_eq!(p[0].0, "$.handoff.messages");
}

#[test]
fn message_limits_follow_meta() {
    let p = problems(
        r#"{"default_language":"en","url":"https://a.example/","messages":{
            "en":{"type":"cta_url","body":"hi","button":"This button text is far too long"},
            "es":{"type":"text","body":" "},
            "fr":{"type":"cta_url","body":"x","button":""},
            "EN":{"type":"text","body":"hi"}}}"#,
    );
    let paths: Vec<&str> = p.iter().map(|(path, _)| path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "$.handoff.messages.EN",
            "$.handoff.messages.en.button",
            "$.handoff.messages.es.body",
            "$.handoff.messages.fr.button"
        ]
    );
    let p = problems(
        r#"{"default_language":"en","messages":{"en":{"type":"cta_url","body":"hi","button":"Go"}}}"#,
    );
    assert_eq!(p[0].0, "$.handoff.messages.en");
    assert!(p[0].1.contains("needs `handoff.url`"), "{}", p[0].1);
    let p = problems(
        r#"{"default_language":"en","messages":{"en":{"type":"text","body":"go {url}"}}}"#,
    );
    assert_eq!(p[0].0, "$.handoff.messages.en.body");
}

#[test]
fn percent_encoding_keeps_only_unreserved_characters() {
    assert_eq!(percent_encode("a-Z_0.9~"), "a-Z_0.9~");
    assert_eq!(percent_encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
}

#[test]
fn every_url_placeholder_is_rendered_encoded() {
    let p = HandoffPolicy::compile(&section(
        r#"{"default_language":"pt_BR","url":"https://app.example/n/{phone_number_id}/{language}?r={request_id}","messages":{"pt_BR":{"type":"cta_url","body":"Continue no app.","button":"Abrir"}}}"#,
    ))
    .unwrap();
    let body = br#"{"messaging_product":"whatsapp","to":"5511999990000","type":"text","text":{"body":"x"}}"#;
    let url = |s: &Send<'_>| {
        let out = p.rewrite(s).unwrap();
        let v: Value = serde_json::from_slice(&out.body).unwrap();
        v["interactive"]["action"]["parameters"]["url"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        url(&send(body, "text")),
        "https://app.example/n/106540352242922/pt_BR?r=req%201%2F2"
    );
    let no_id = Send {
        phone_number_id: None,
        request_id: "",
        ..send(body, "text")
    };
    assert_eq!(url(&no_id), "https://app.example/n//pt_BR?r=");
}
