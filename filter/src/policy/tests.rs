use super::*;

const MINIMAL: &str = r#"{
    "default_action": "allow",
    "whatsapp": {},
    "identity": {"sources": [{"type": "peer_uri_san"}]},
    "origins": [],
    "phone_numbers": {},
    "content": {},
    "limits": {}
}"#;

fn with(patch: &str) -> Result<Policy, PolicyError> {
    let mut base: serde_json::Value = serde_json::from_str(MINIMAL).unwrap();
    let patch: serde_json::Value = serde_json::from_str(patch).unwrap();
    for (k, v) in patch.as_object().unwrap() {
        base[k] = v.clone();
    }
    Policy::from_json(base.to_string().as_bytes())
}

fn paths(err: PolicyError) -> Vec<String> {
    err.problems().into_iter().map(|p| p.path).collect()
}

#[test]
fn minimal_policy_compiles_with_defaults() {
    let p = Policy::from_json(MINIMAL.as_bytes()).unwrap();
    assert_eq!(
        p.whatsapp_hosts,
        [
            "graph.facebook.com",
            "graph.beta.facebook.com",
            "graph-video.facebook.com",
            "b-graph.facebook.com"
        ]
    );
    assert_eq!(p.limits.max_body_bytes, 65536);
    assert_eq!(p.limits.on_oversize, Action::Block);
    assert!(p.content.score_unknown && !p.content.score_customer_service);
}

#[test]
fn unknown_field_is_an_error_with_its_path() {
    let err = with(r#"{"limits": {"max_body_byte": 10}}"#).unwrap_err();
    let p = err.problems();
    assert_eq!(p[0].path, "$.limits.max_body_byte");
    assert!(p[0].message.contains("max_body_byte"), "{}", p[0].message);
}

#[test]
fn missing_section_is_an_error() {
    let err = Policy::from_json(br#"{"default_action":"allow"}"#).unwrap_err();
    assert!(err.to_string().contains("missing field"), "{err}");
}

#[test]
fn unknown_role_is_an_error() {
    let err = with(r#"{"origins": [{"id":"a","identities":[{"exact":"x"}],"role":"chatbot"}]}"#)
        .unwrap_err();
    assert_eq!(paths(err), ["$.origins[0].role"]);
}

#[test]
fn every_semantic_problem_is_reported_with_its_path() {
    let err = with(
        r#"{"origins": [
              {"id":"Bad Id","identities":[{"regex":"("}],"role":"customer_service","message_types":["txt"]},
              {"id":"dup","identities":[],"role":"customer_service"},
              {"id":"dup","identities":[{"glob":""}],"role":"general_assistant"}],
            "phone_numbers": {"numbers":[{"id":"line","path_ids":["1","1"],"purpose":"customer_service","allowed_origins":["ghost"]}]},
            "limits": {"max_body_bytes": 0}}"#,
    )
    .unwrap_err();
    assert_eq!(
        paths(err),
        [
            "$.origins[0].id",
            "$.origins[0].identities[0]",
            "$.origins[0].message_types[0]",
            "$.origins[1].identities",
            "$.origins[2].id",
            "$.origins[2].identities[0]",
            "$.phone_numbers.numbers[0].path_ids[1]",
            "$.phone_numbers.numbers[0].allowed_origins[0]",
            "$.limits.max_body_bytes",
        ]
    );
}

#[test]
fn the_allowed_sample_rate_is_a_number_in_zero_to_one() {
    assert_eq!(
        with("{}").unwrap().log.allowed_sample_rate,
        1.0,
        "the default keeps every allowed line"
    );
    let p = with(r#"{"log": {"log_allowed": true, "allowed_sample_rate": 0.05}}"#).unwrap();
    assert_eq!(p.log.allowed_sample_rate, 0.05);
    assert!(with(r#"{"log": {"allowed_sample_rate": 1}}"#).is_ok());
    assert!(with(r#"{"log": {"allowed_sample_rate": 0.0001}}"#).is_ok());
    for bad in [
        "0", "-0.5", "1.01", "7", r#""0.5""#, "null", "true", "[0.5]", "0.00005", "5e-324",
    ] {
        let err = with(&format!(r#"{{"log": {{"allowed_sample_rate": {bad}}}}}"#)).unwrap_err();
        let problems = err.problems();
        assert_eq!(
            problems.iter().map(|p| p.path.as_str()).collect::<Vec<_>>(),
            ["$.log.allowed_sample_rate"],
            "{bad}"
        );
        assert!(
            problems[0]
                .message
                .contains("must be a number from 0.0001 (one line in 10,000) to 1"),
            "{bad}: {}",
            problems[0].message
        );
    }
}

#[test]
fn a_handoff_rule_needs_a_handoff_section() {
    let err = with(
        r#"{"origins": [{"id":"bot","identities":[{"exact":"x"}],"role":"general_assistant","action":"handoff"}],
            "phone_numbers": {"numbers":[{"id":"line","path_ids":["1"],"purpose":"general_assistant","action":"handoff"}]},
            "content": {"action": "handoff"}}"#,
    )
    .unwrap_err();
    let problems = err.problems();
    assert_eq!(
        problems.iter().map(|p| p.path.as_str()).collect::<Vec<_>>(),
        [
            "$.origins[0].action",
            "$.phone_numbers.numbers[0].action",
            "$.content.action"
        ]
    );
    assert!(
        problems[0].message.contains("needs a `handoff` section"),
        "{}",
        problems[0].message
    );
    let section = r#""handoff": {"default_language":"en","messages":{"en":{"type":"text","body":"Continue in our app."}}}"#;
    let p = with(&format!(
        r#"{{"content": {{"action": "handoff"}}, {section}}}"#
    ))
    .unwrap();
    assert_eq!(p.content.action, RuleAction::Handoff);
    assert!(p.handoff.is_some());
    // A section's own problems are reported with their paths, with the rules' others.
    let err = with(
        r#"{"content": {"action": "handoff"}, "handoff": {"default_language":"de","url":"https://a.example/{who}","messages":{"en":{"type":"text","body":"x"}}}}"#,
    )
    .unwrap_err();
    assert_eq!(paths(err), ["$.handoff.url", "$.handoff.default_language"]);
}

#[test]
fn enforced_conversations_refuse_an_empty_placeholder_or_public_salt() {
    let conversation = r#""conversation": {"unanswered_budget": {"max_unanswered": 3}}"#;
    for salt in [
        "",
        "  ",
        "demo-salt",
        "Demo-Salt",
        crate::conversation::SALT_PLACEHOLDER,
    ] {
        let patch = format!(r#"{{{conversation}, "log": {{"recipient_hash_salt": "{salt}"}}}}"#);
        let err = with(&patch).unwrap_err();
        assert_eq!(paths(err), ["$.log.recipient_hash_salt"], "{salt:?}");
    }
    let own = format!(r#"{{{conversation}, "log": {{"recipient_hash_salt": "x7-our-own"}}}}"#);
    assert!(with(&own).is_ok());
    // In audit mode, every conversation rule audited, or without conversations: loaded.
    let audit = format!(r#"{{"mode": "audit", {conversation}}}"#);
    assert!(with(&audit).is_ok());
    assert!(with(r#"{"log": {"recipient_hash_salt": "demo-salt"}}"#).is_ok());
    // Scoring takes the content rule's mode when it has none: enforced there, refused.
    let scoring = r#""conversation": {"scoring": {}}, "content": {"mode": "enforce"}"#;
    let err = with(&format!(r#"{{"mode": "audit", {scoring}}}"#)).unwrap_err();
    assert_eq!(paths(err), ["$.log.recipient_hash_salt"]);
}

#[test]
fn only_a_general_assistant_origin_hands_off() {
    let err = with(
        r#"{"origins": [{"id":"bot","identities":[{"exact":"x"}],"role":"customer_service","action":"handoff"}],
            "handoff": {"default_language":"en","messages":{"en":{"type":"text","body":"x"}}}}"#,
    )
    .unwrap_err();
    assert_eq!(paths(err), ["$.origins[0].action"]);
    let err = with(r#"{"content": {"action": "redirect"}}"#).unwrap_err();
    assert_eq!(paths(err), ["$.content.action"]);
}

#[test]
fn builtin_rule_ids_are_reserved() {
    let err = with(r#"{"origins": [{"id":"content_classifier","identities":[{"exact":"x"}],"role":"customer_service"}]}"#).unwrap_err();
    assert!(err.to_string().contains("reserved"));
}

#[test]
fn every_shipped_policy_compiles() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies");
    let mut files = vec![dir.join("default.json")];
    files.extend(
        std::fs::read_dir(dir.join("examples"))
            .unwrap()
            .map(|e| e.unwrap().path()),
    );
    for f in files {
        // A placeholder salt is the deployment's to replace (and refused until then).
        let text = std::fs::read_to_string(&f).unwrap().replace(
            crate::conversation::SALT_PLACEHOLDER,
            "a-per-deployment-secret-9c2d",
        );
        let p = Policy::from_json(text.as_bytes());
        assert!(p.is_ok(), "{}: {}", f.display(), p.unwrap_err());
    }
}

#[test]
fn governed_hosts_are_whatsapp_and_training_hosts_only() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/default.json");
    let p = Policy::from_json(&std::fs::read(path).unwrap()).unwrap();
    for host in [
        "graph.facebook.com",
        "Graph.Facebook.com.:443",
        "api.openai.com",
        "acme.openai.azure.com",
        "bedrock.eu-west-1.amazonaws.com",
    ] {
        assert!(p.governs_host(host), "{host}");
    }
    for host in [
        "example.com",
        "facebook.com",
        "graph.facebook.com.evil.com",
        "openai.azure.com",
        "",
    ] {
        assert!(!p.governs_host(host), "{host}");
    }
}

#[test]
fn not_json_is_a_syntax_error() {
    assert!(matches!(
        Policy::from_json(b"{nope"),
        Err(PolicyError::Syntax(_))
    ));
    assert!(matches!(
        Policy::from_json(b""),
        Err(PolicyError::Syntax(_))
    ));
}
