use super::*;
use crate::document::WebhookSection;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// RFC 4231, test cases 1-4, 6 and 7 (case 5 truncates the output).
#[test]
fn hmac_matches_rfc_4231() {
    let cases: [(Vec<u8>, Vec<u8>, &str); 6] = [
        (
            vec![0x0b; 20],
            b"Hi There".to_vec(),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
        ),
        (
            b"Jefe".to_vec(),
            b"what do ya want for nothing?".to_vec(),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        ),
        (
            vec![0xaa; 20],
            vec![0xdd; 50],
            "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
        ),
        (
            (1u8..=25).collect(),
            vec![0xcd; 50],
            "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
        ),
        (
            vec![0xaa; 131],
            b"Test Using Larger Than Block-Size Key - Hash Key First".to_vec(),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
        ),
        (
            vec![0xaa; 131],
            b"This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.".to_vec(),
            "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
        ),
    ];
    for (key, data, want) in cases {
        assert_eq!(hex(&hmac_sha256(&key, &data)), want);
    }
}

/// A delivery shaped like Meta's (our own text), signed with Python's `hmac` for this test.
const BODY: &[u8] = br#"{"object":"whatsapp_business_account","entry":[{"id":"880011223344","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550001111","phone_number_id":"990011223344"},"messages":[{"from":"447700900123","id":"wamid.TESTONLY1","timestamp":"1765100000","type":"text","text":{"body":"Is the blue kettle back in stock?"}}]}}]}]}"#;
const SECRET: &str = "kettle-shop-app-secret";
const SIGNATURE: &str = "sha256=7945fa2c7a5e5ba46d48b4de157891f466d61f7b9183cf1c46db43b208d798e6";

fn secrets() -> Vec<Vec<u8>> {
    vec![SECRET.as_bytes().to_vec()]
}

#[test]
fn a_real_shaped_delivery_signed_with_the_secret_is_valid() {
    assert_eq!(
        check_signature(&secrets(), Some(SIGNATURE), BODY),
        WebhookResult::Valid
    );
    // Hex digits and the prefix in any case.
    let upper = format!(
        "SHA256={}",
        SIGNATURE.get(7..).unwrap().to_ascii_uppercase()
    );
    assert_eq!(
        check_signature(&secrets(), Some(&upper), BODY),
        WebhookResult::Valid
    );
}

#[test]
fn any_secret_of_a_rotation_verifies() {
    let rotation = vec![b"the-new-secret".to_vec(), SECRET.as_bytes().to_vec()];
    assert_eq!(
        check_signature(&rotation, Some(SIGNATURE), BODY),
        WebhookResult::Valid
    );
    let other = vec![b"the-new-secret".to_vec()];
    assert_eq!(
        check_signature(&other, Some(SIGNATURE), BODY),
        WebhookResult::Invalid
    );
}

#[test]
fn one_changed_byte_of_the_body_is_invalid() {
    let mut forged = BODY.to_vec();
    let at = forged.iter().position(|b| *b == b'?').unwrap();
    forged[at] = b'!';
    assert_eq!(
        check_signature(&secrets(), Some(SIGNATURE), &forged),
        WebhookResult::Invalid
    );
    // Re-serialised JSON (a space added) is other bytes, so not the signed body.
    let spaced = String::from_utf8(BODY.to_vec())
        .unwrap()
        .replacen(',', ", ", 1);
    assert_eq!(
        check_signature(&secrets(), Some(SIGNATURE), spaced.as_bytes()),
        WebhookResult::Invalid
    );
}

#[test]
fn missing_and_malformed_signatures_are_refused() {
    assert_eq!(
        check_signature(&secrets(), None, BODY),
        WebhookResult::Missing
    );
    let digest = SIGNATURE.get(7..).unwrap();
    for bad in [
        "",
        "sha256=",
        digest,
        &format!("sha1={digest}"),
        &format!("sha256={}", digest.get(..62).unwrap()),
        &format!("sha256={digest}00"),
        &format!("sha256={}zz", digest.get(..62).unwrap()),
        &format!("sha256= {digest}"),
        "sha256=é7945fa2c7a5e5ba46d48b4de157891f466d61f7b9183cf1c46db43b208d798",
    ] {
        assert_eq!(
            check_signature(&secrets(), Some(bad), BODY),
            WebhookResult::Invalid,
            "{bad}"
        );
    }
}

fn section(patch: serde_json::Value) -> WebhookSection {
    let mut doc = serde_json::json!({
        "hosts": ["hooks.shop.example"],
        "path_prefixes": ["/whatsapp/webhook"],
        "app_secrets": [SECRET],
    });
    if let (Some(d), Some(p)) = (doc.as_object_mut(), patch.as_object()) {
        for (k, v) in p {
            d.insert(k.clone(), v.clone());
        }
    }
    serde_json::from_value(doc).unwrap()
}

fn policy(patch: serde_json::Value) -> WebhookPolicy {
    WebhookPolicy::compile(&section(patch)).unwrap()
}

#[test]
fn the_route_is_its_hosts_and_path_prefixes_on_a_segment_boundary() {
    let p = policy(serde_json::json!({}));
    assert!(p.matches_host("hooks.shop.example"));
    assert!(!p.matches_host("graph.facebook.com"));
    for path in [
        "/whatsapp/webhook",
        "/whatsapp/webhook/",
        "/whatsapp/webhook/v2",
        "/whatsapp/webhook?x=1",
    ] {
        assert!(p.matches_path(path), "{path}");
    }
    // Spellings a router may take for the same path are checked too.
    for path in [
        "/WhatsApp/Webhook",
        "/whatsapp/%77ebhook",
        "//whatsapp//webhook",
        "/x/../whatsapp/webhook",
        "/whatsapp/./webhook?y",
    ] {
        assert!(p.matches_path(path), "{path}");
    }
    for path in ["/whatsapp/webhooks", "/whatsapp", "/", "/other"] {
        assert!(!p.matches_path(path), "{path}");
    }
    let every = policy(serde_json::json!({"path_prefixes": ["/"]}));
    assert!(every.matches_path("/anything?x"));
    assert!(every.matches_path("/"));
}

#[test]
fn the_section_reports_every_problem_with_its_path() {
    let doc = section(serde_json::json!({
        "hosts": ["bad host"],
        "path_prefixes": ["nope", "/ok?x"],
        "app_secrets": [""],
        "app_secret_env": ["NOT-A-NAME"],
        "max_body_bytes": 0,
    }));
    let problems = WebhookPolicy::compile(&doc).unwrap_err();
    let paths: Vec<&str> = problems.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        [
            "$.webhook.hosts[0]",
            "$.webhook.path_prefixes[0]",
            "$.webhook.path_prefixes[1]",
            "$.webhook.app_secrets[0]",
            "$.webhook.app_secret_env[0]",
            "$.webhook.max_body_bytes",
        ]
    );
    let none = section(serde_json::json!({"app_secrets": []}));
    let problems = WebhookPolicy::compile(&none).unwrap_err();
    assert_eq!(problems[0].0, "$.webhook");
}

#[test]
fn secrets_from_the_environment_are_added_and_a_missing_one_fails() {
    let mut p = policy(serde_json::json!({"app_secrets": [], "app_secret_env": ["WA_APP_SECRET"]}));
    let mut missing = p.clone();
    assert_eq!(
        missing.resolve_environment(&|_| None),
        Err(WebhookError::MissingSecret("WA_APP_SECRET".into()))
    );
    assert!(
        missing
            .resolve_environment(&|_| Some(String::new()))
            .is_err()
    );
    p.resolve_environment(&|name| (name == "WA_APP_SECRET").then(|| SECRET.to_owned()))
        .unwrap();
    assert_eq!(p.secrets, secrets());
}

#[test]
fn the_handshake_is_a_get_with_hub_mode_subscribe() {
    assert!(is_handshake(
        "GET",
        "/whatsapp/webhook?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=t"
    ));
    assert!(!is_handshake(
        "POST",
        "/whatsapp/webhook?hub.mode=subscribe"
    ));
    assert!(!is_handshake("GET", "/whatsapp/webhook"));
    assert!(!is_handshake(
        "GET",
        "/whatsapp/webhook?hub.mode=subscribex"
    ));
}

fn start(
    p: &WebhookPolicy,
    signature: Option<&str>,
    length: Option<&str>,
) -> (WebhookDelivery, WebhookStep) {
    WebhookDelivery::on_headers(
        p,
        "POST",
        "/whatsapp/webhook",
        Ok(signature.map(str::to_owned)),
        length,
        "req-1".into(),
        false,
    )
}

/// Feeds `body` in chunks of `chunk` bytes, as a host that buffers does.
fn feed(p: &WebhookPolicy, d: &mut WebhookDelivery, body: &[u8], chunk: usize) -> WebhookStep {
    let mut size = 0;
    loop {
        size = (size + chunk).min(body.len());
        let end = size == body.len();
        let step = d.on_body(p, size, end, &mut |n| body.get(..n).map(<[u8]>::to_vec));
        if end || step != WebhookStep::Pause {
            return step;
        }
    }
}

#[test]
fn a_delivery_in_many_chunks_is_held_then_verified_whole() {
    let p = policy(serde_json::json!({}));
    let (mut d, step) = start(&p, Some(SIGNATURE), None);
    assert_eq!(step, WebhookStep::Continue);
    assert!(d.awaiting_body());
    assert_eq!(feed(&p, &mut d, BODY, 7), WebhookStep::Continue);
    let outcome = d.take_new_outcome().unwrap().clone();
    assert_eq!(outcome.result, WebhookResult::Valid);
    assert_eq!(outcome.decision, "allow");
    assert_eq!(
        metric_name(&outcome),
        "wa_guard_webhooks_total.result.valid"
    );
    assert!(d.take_new_outcome().is_none());
}

#[test]
fn a_forged_delivery_gets_a_401_and_a_content_free_line() {
    let p = policy(serde_json::json!({}));
    let forged = BODY.to_vec().into_iter().rev().collect::<Vec<u8>>();
    let (mut d, _) = start(&p, Some(SIGNATURE), None);
    let WebhookStep::Respond(reply) = feed(&p, &mut d, &forged, 100) else {
        panic!("not refused");
    };
    assert_eq!(reply.status, 401);
    let body: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(body["error"]["code"], "webhook_signature_invalid");
    let outcome = d.take_new_outcome().unwrap().clone();
    let line = log_line(&outcome, d.request_id(), "pol", Some(0));
    assert!(!line.contains("kettle") && !line.contains("7945fa") && !line.contains(SECRET));
    let line: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(line["result"], "invalid");
    assert_eq!(line["decision"], "block");
    assert_eq!(line["body_bytes"], forged.len());
}

#[test]
fn an_unsigned_delivery_without_a_body_is_refused_at_its_headers() {
    let p = policy(serde_json::json!({}));
    let (mut d, step) = WebhookDelivery::on_headers(
        &p,
        "POST",
        "/whatsapp/webhook",
        Ok(None),
        None,
        String::new(),
        true,
    );
    assert!(matches!(step, WebhookStep::Respond(ref r) if r.status == 401));
    assert_eq!(d.take_new_outcome().unwrap().result, WebhookResult::Missing);
}

#[test]
fn a_repeated_signature_header_is_invalid() {
    let p = policy(serde_json::json!({}));
    let (mut d, step) = WebhookDelivery::on_headers(
        &p,
        "POST",
        "/whatsapp/webhook",
        Err(()),
        None,
        String::new(),
        false,
    );
    assert!(matches!(step, WebhookStep::Respond(ref r) if r.status == 401));
    assert_eq!(d.take_new_outcome().unwrap().result, WebhookResult::Invalid);
}

#[test]
fn a_body_over_the_limit_is_refused_as_too_large() {
    let p = policy(serde_json::json!({"max_body_bytes": 100}));
    // Declared too large: refused before the body.
    let (mut d, step) = start(&p, Some(SIGNATURE), Some("101"));
    assert!(matches!(step, WebhookStep::Respond(ref r) if r.status == 413));
    assert_eq!(
        d.take_new_outcome().unwrap().result,
        WebhookResult::TooLarge
    );
    // Undeclared (chunked): refused once the buffer passes the limit.
    let (mut d, _) = start(&p, Some(SIGNATURE), None);
    assert!(matches!(feed(&p, &mut d, BODY, 60), WebhookStep::Respond(ref r) if r.status == 413));
    assert_eq!(
        d.take_new_outcome().unwrap().result,
        WebhookResult::TooLarge
    );
    assert!(!d.awaiting_body());
}

#[test]
fn audit_mode_forwards_a_forged_delivery_and_counts_it() {
    let p = policy(serde_json::json!({"mode": "audit"}));
    let (mut d, _) = start(&p, None, None);
    assert_eq!(feed(&p, &mut d, BODY, 1000), WebhookStep::Continue);
    let outcome = d.take_new_outcome().unwrap();
    assert_eq!(outcome.result, WebhookResult::Missing);
    assert_eq!(outcome.decision, "audit");
}

#[test]
fn the_handshake_passes_untouched_and_is_not_counted() {
    let p = policy(serde_json::json!({}));
    let (mut d, step) = WebhookDelivery::on_headers(
        &p,
        "GET",
        "/whatsapp/webhook?hub.mode=subscribe&hub.challenge=42&hub.verify_token=v",
        Ok(None),
        None,
        String::new(),
        true,
    );
    assert_eq!(step, WebhookStep::Continue);
    assert!(!d.awaiting_body());
    assert!(d.take_new_outcome().is_none());
}

#[test]
fn a_handshake_with_a_body_is_a_delivery() {
    let p = policy(serde_json::json!({}));
    let (mut d, step) = WebhookDelivery::on_headers(
        &p,
        "GET",
        "/whatsapp/webhook?hub.mode=subscribe",
        Ok(None),
        None,
        String::new(),
        false,
    );
    assert_eq!(step, WebhookStep::Continue);
    assert!(d.awaiting_body());
    assert!(matches!(feed(&p, &mut d, BODY, 50), WebhookStep::Respond(ref r) if r.status == 401));
}

#[test]
fn an_unreadable_body_fails_closed() {
    let p = policy(serde_json::json!({}));
    let (mut d, _) = start(&p, Some(SIGNATURE), None);
    let step = d.on_body(&p, BODY.len(), true, &mut |_| None);
    assert!(matches!(step, WebhookStep::Respond(ref r) if r.status == 401));
}

/// Only a verified delivery's inbound messages are read (for the conversations), and only when
/// the policy keeps conversations; a forged or unsigned one is never read, in audit mode too.
#[test]
fn only_a_verified_delivery_yields_its_inbound_messages() {
    let run = |mut p: WebhookPolicy, signature: Option<&str>| {
        p.reads_inbound = true;
        let (mut d, _) = WebhookDelivery::on_headers(
            &p,
            "POST",
            "/whatsapp/webhook",
            Ok(signature.map(str::to_owned)),
            None,
            "r".into(),
            false,
        );
        d.on_body(&p, BODY.len(), true, &mut |n| {
            BODY.get(..n).map(<[u8]>::to_vec)
        });
        d.take_inbound()
    };
    let valid = run(policy(serde_json::json!({})), Some(SIGNATURE));
    assert_eq!(valid.len(), 1);
    assert_eq!(
        (valid[0].phone_number_id.as_str(), valid[0].from.as_str()),
        ("990011223344", "447700900123")
    );
    let forged = SIGNATURE.replace("7945", "7946");
    for mode in ["enforce", "audit"] {
        let p = || policy(serde_json::json!({"mode": mode}));
        assert!(run(p(), Some(&forged)).is_empty(), "{mode}");
        assert!(run(p(), None).is_empty(), "{mode}");
    }
    // A policy without conversations never parses the body.
    let mut p = policy(serde_json::json!({}));
    p.reads_inbound = false;
    let (mut d, _) = WebhookDelivery::on_headers(
        &p,
        "POST",
        "/whatsapp/webhook",
        Ok(Some(SIGNATURE.to_owned())),
        None,
        "r".into(),
        false,
    );
    d.on_body(&p, BODY.len(), true, &mut |n| {
        BODY.get(..n).map(<[u8]>::to_vec)
    });
    assert!(d.take_inbound().is_empty());
}
