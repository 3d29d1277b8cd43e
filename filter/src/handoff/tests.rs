use super::*;
use crate::document::HandoffSection;

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
        request_id: "0f4e2c1a-9b7d-4e3f-8a21-6c5d4b3a2f10",
        link_key: "salt",
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
fn a_number_written_with_the_00_international_prefix_picks_its_country_language() {
    let p = policy();
    // Conversations read `0034...` as `+34...` (`conversation::recipient_key`); so does this.
    assert_eq!(p.language_for("+34612345678"), "es");
    assert_eq!(p.language_for("0034612345678"), "es");
    assert_eq!(p.language_for("00 34 612 34 56 78"), "es");
    assert_eq!(p.language_for("0033612345678"), "fr");
    assert_eq!(p.language_for("+٣٤٦١٢٣٤٥٦٧٨"), "en");
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
                    "url": "https://app.example/assistant?ref=0f4e2c1a-9b7d-4e3f-8a21-6c5d4b3a2f10&lang=en"}}}
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
               "text": {"preview_url": true, "body": "Este número no ofrece un asistente general. Sigue aquí: https://app.example/assistant?ref=0f4e2c1a-9b7d-4e3f-8a21-6c5d4b3a2f10&lang=es"}})
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
        "https://app.example/n/106540352242922/pt_BR?r=0f4e2c1a-9b7d-4e3f-8a21-6c5d4b3a2f10"
    );
    let no_id = Send {
        phone_number_id: None,
        request_id: "",
        ..send(body, "text")
    };
    assert_eq!(url(&no_id), "https://app.example/n//pt_BR?r=");
}

#[test]
fn the_rewrite_and_the_headers_phase_read_the_encoding_alike() {
    for encoding in [None, Some(""), Some("identity"), Some(" Identity , ")] {
        assert!(
            rewritable_body(Some("application/json"), encoding),
            "{encoding:?}"
        );
    }
    for encoding in ["gzip", "identity, gzip", "br"] {
        assert!(
            !rewritable_body(Some("application/json"), Some(encoding)),
            "{encoding}"
        );
    }
    assert!(!rewritable_body(Some("text/plain"), None));
    assert!(!rewritable_body(None, None));
}

/// A request id the caller chose (kept by an Istio sidecar) carries no text to the recipient:
/// only a proxy's shape is rendered, any other is a keyed hash of it.
#[test]
fn a_request_id_a_caller_chose_reaches_the_link_only_as_a_keyed_hash() {
    let uuid = "0f4e2c1a-9b7d-4e3f-8a21-6c5d4b3a2f10";
    assert_eq!(link_request_id(uuid, "salt"), uuid);
    assert_eq!(
        link_request_id("4BF92F3577B34DA6A3CE929D0E0E4736", "k"),
        "4BF92F3577B34DA6A3CE929D0E0E4736"
    );
    assert_eq!(link_request_id("", "salt"), "");
    // HMAC-SHA256("salt", "req 1/2"), its first 16 bytes (checked with Python's hmac).
    assert_eq!(
        link_request_id("req 1/2", "salt"),
        "7571fe904b590c9bcc4be87e7f51e8b9"
    );
    assert_ne!(
        link_request_id("req 1/2", "other"),
        link_request_id("req 1/2", "salt")
    );
    let long_hex = "a".repeat(65);
    for id in [
        "Here is the poem: Roses are red, violets are blue",
        "Roses-are-red-violets-are-blue",
        long_hex.as_str(),
    ] {
        let rendered = link_request_id(id, "salt");
        assert_eq!(rendered.len(), 32, "{id}");
        assert!(
            rendered.bytes().all(|b| b.is_ascii_hexdigit()),
            "{rendered}"
        );
    }
    let body =
        br#"{"messaging_product":"whatsapp","to":"34612345678","type":"text","text":{"body":"x"}}"#;
    let poem = Send {
        request_id: "Here is the poem: Roses are red, violets are blue",
        ..send(body, "text")
    };
    let out = String::from_utf8(policy().rewrite(&poem).unwrap().body).unwrap();
    assert!(!out.contains("Roses") && !out.contains("poem"), "{out}");
}

/// Meta's limits hold for the rendered message: each `{url}` counts at the longest link.
#[test]
fn messages_that_could_render_over_meta_limits_are_refused_at_load() {
    let with = |url: &str, messages: &str| {
        format!(
            r#"{{"default_language":"es","url":{},"messages":{messages}}}"#,
            serde_json::to_string(url).unwrap()
        )
    };
    let url = "https://app.example/assistant?ref={request_id}&lang={language}";
    // The longest link: 40 characters of text, a 64-character id and `fr` or `es`.
    let repeated = "{url} ".repeat(680);
    let p = problems(&with(
        url,
        &format!(
            r#"{{"es":{{"type":"text","body":"hola"}},"fr":{{"type":"text","body":{}}}}}"#,
            serde_json::to_string(&repeated).unwrap()
        ),
    ));
    assert_eq!(p[0].0, "$.handoff.messages.fr.body");
    assert!(
        p[0].1.contains("longest link (106 characters)")
            && p[0]
                .1
                .contains("72760 characters, over Meta's limit of 4096"),
        "{}",
        p[0].1
    );
    // A cta_url body: 1015 characters and a link, over 1024.
    let body = format!("{} {{url}}", "x".repeat(1015));
    let p = problems(&with(
        url,
        &format!(
            r#"{{"es":{{"type":"cta_url","body":{},"button":"Abrir"}}}}"#,
            serde_json::to_string(&body).unwrap()
        ),
    ));
    assert_eq!(p[0].0, "$.handoff.messages.es.body");
    assert!(p[0].1.contains("over Meta's limit of 1024"), "{}", p[0].1);
    // Exactly at the limit loads: 1024 - 1 - 106.
    let body = format!("{} {{url}}", "x".repeat(1024 - 1 - 106));
    assert!(
        HandoffPolicy::compile(&section(&with(
            url,
            &format!(
                r#"{{"es":{{"type":"cta_url","body":{},"button":"Abrir"}}}}"#,
                serde_json::to_string(&body).unwrap()
            ),
        )))
        .is_ok()
    );
    // The link itself: 40 request ids are 2560 characters.
    let long_url = format!("https://app.example/?{}", "{request_id}".repeat(40));
    let p = problems(&with(&long_url, r#"{"es":{"type":"text","body":"hola"}}"#));
    assert_eq!(p[0].0, "$.handoff.url");
    assert!(p[0].1.contains("over 2000"), "{}", p[0].1);
}

#[test]
fn a_link_port_is_from_1_to_65535() {
    for (port, ok) in [
        ("99999", false),
        ("0", false),
        ("65536", false),
        ("65535", true),
        ("1", true),
    ] {
        let json = format!(
            r#"{{"default_language":"en","url":"https://app.example:{port}/","messages":{{"en":{{"type":"text","body":"hi"}}}}}}"#
        );
        let compiled = HandoffPolicy::compile(&section(&json));
        assert_eq!(compiled.is_ok(), ok, "{port}");
        if let Err(p) = compiled {
            assert!(p[0].1.contains("1 to 65535"), "{}", p[0].1);
        }
    }
}

/// A send addressed by a business-scoped user id keeps that addressing, in the default
/// language (the id tells no country).
#[test]
fn a_send_to_a_business_scoped_user_id_keeps_its_recipient() {
    let p = policy();
    let bsuid = br#"{"messaging_product":"whatsapp","recipient_type":"individual","recipient":"US.13491208655302741918","type":"text","text":{"body":"Sure! here is a poem"}}"#;
    let out = p.rewrite(&send(bsuid, "text")).unwrap();
    assert_eq!((out.language.as_str(), out.format), ("en", "cta_url"));
    let v: Value = serde_json::from_slice(&out.body).unwrap();
    assert_eq!(v["recipient"], "US.13491208655302741918");
    assert_eq!(v["recipient_type"], "individual");
    assert!(v.get("to").is_none(), "{v}");
    // Both: each kept, the language from `to`.
    let both = br#"{"messaging_product":"whatsapp","to":"34612345678","recipient":"ES.1","type":"text","text":{"body":"x"}}"#;
    let out = p.rewrite(&send(both, "text")).unwrap();
    let v: Value = serde_json::from_slice(&out.body).unwrap();
    assert_eq!(
        (v["to"].as_str(), v["recipient"].as_str()),
        (Some("34612345678"), Some("ES.1"))
    );
    assert_eq!(out.language, "es");
    // One that is not a non-empty string names no recipient.
    for bad in [
        br#"{"messaging_product":"whatsapp","recipient":42,"type":"text","text":{"body":"x"}}"#.as_slice(),
        br#"{"messaging_product":"whatsapp","recipient":" ","type":"text","text":{"body":"x"}}"#,
        br#"{"messaging_product":"whatsapp","to":1415,"recipient":"US.1","type":"text","text":{"body":"x"}}"#,
    ] {
        assert_eq!(p.rewrite(&send(bad, "text")), Err(Unavailable::NoRecipient));
    }
}

/// Nothing the caller wrote is copied but what Meta accepts there.
#[test]
fn only_values_meta_accepts_are_kept() {
    let p = policy();
    let long = "d".repeat(513);
    let at_limit = "d".repeat(512);
    let body = |product: &str, recipient_type: &str, callback: &str| {
        serde_json::to_vec(
            &json!({"messaging_product": product, "recipient_type": recipient_type,
            "to": "14155550100", "type": "text", "text": {"body": "poem"},
            "biz_opaque_callback_data": callback}),
        )
        .unwrap()
    };
    let sent = |b: &[u8]| -> Value {
        serde_json::from_slice(&p.rewrite(&send(b, "text")).unwrap().body).unwrap()
    };
    let v = sent(&body(
        "Roses are red, violets are blue",
        "Roses are red",
        &long,
    ));
    assert_eq!(v["messaging_product"], "whatsapp");
    assert!(v.get("recipient_type").is_none(), "{v}");
    assert!(v.get("biz_opaque_callback_data").is_none(), "{v}");
    let v = sent(&body("whatsapp", "group", &at_limit));
    assert_eq!(v["recipient_type"], "group");
    assert_eq!(v["biz_opaque_callback_data"], at_limit.as_str());
}

#[test]
fn a_phone_number_id_that_is_not_digits_renders_empty() {
    assert_eq!(
        link_phone_number_id(Some("106540352242922")),
        "106540352242922"
    );
    assert_eq!(link_phone_number_id(Some("Roses are red")), "");
    assert_eq!(link_phone_number_id(Some(&"1".repeat(21))), "");
    assert_eq!(link_phone_number_id(None), "");
}
