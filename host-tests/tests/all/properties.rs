//! Identity from host properties: peer certificate, node metadata, trusted-hop header.

use host_tests::Verdict;

use crate::support::*;

fn call(filter: &mut host_tests::Filter) -> host_tests::RequestBuilder<'_> {
    filter
        .request()
        .method("POST")
        .authority("graph.facebook.com")
        .path(&format!("/v21.0/{SUPPORT_NUMBER}/messages"))
        .header("content-type", "application/json")
        .body(text_message("Hello there"))
}

/// A send relayed by the trusted hop (127.0.0.1 in the demo policy), carrying each of
/// `identities` as an `x-wa-guard-identity` header.
fn from_trusted_hop<'f>(
    filter: &'f mut host_tests::Filter,
    identities: &[&str],
) -> host_tests::RequestBuilder<'f> {
    identities.iter().fold(
        call(filter).property("source.address", "127.0.0.1:40000"),
        |request, identity| request.header("x-wa-guard-identity", identity),
    )
}

fn configured(policy: &serde_json::Value) -> host_tests::Filter {
    host_tests::Filter::start(module(), Default::default())
        .unwrap()
        .configure(policy.to_string())
        .unwrap()
}

#[test]
fn peer_certificate_san_identifies_the_caller() {
    let mut filter = demo_filter();
    let outcome = call(&mut filter)
        .property("connection.uri_san_peer_certificate", LAB_BOT)
        .send()
        .unwrap();
    assert_eq!(
        Verdict::from_outcome(&outcome).rule.as_deref(),
        Some("assistant-lab")
    );
}

#[test]
fn node_metadata_identifies_the_sidecar_workload() {
    let mut policy: serde_json::Value =
        serde_json::from_slice(&policy_bytes("default.json")).unwrap();
    policy["origins"] = serde_json::json!([
        {"id": "lab", "identities": [{"glob": "spiffe://cluster.local/ns/ai-lab/sa/*"}], "role": "general_assistant"}
    ]);
    let mut filter = configured(&policy);
    filter.set_property("node.metadata.NAMESPACE", "ai-lab");
    filter.set_property("node.metadata.SERVICE_ACCOUNT", "chatbot");
    let outcome = call(&mut filter).send().unwrap();
    let verdict = Verdict::from_outcome(&outcome);
    assert_eq!(verdict.decision, "block", "{outcome:#?}");
    assert_eq!(verdict.rule.as_deref(), Some("lab"));
}

#[test]
fn an_identity_header_counts_only_from_a_trusted_peer() {
    let mut filter = demo_filter();
    let trusted = from_trusted_hop(&mut filter, &[LAB_BOT]).send().unwrap();
    assert_eq!(Verdict::from_outcome(&trusted).decision, "block");
    let untrusted = call(&mut filter)
        .header("x-wa-guard-identity", LAB_BOT)
        .property("source.address", "10.9.8.7:40000")
        .send()
        .unwrap();
    let verdict = Verdict::from_outcome(&untrusted);
    assert_ne!(verdict.rule.as_deref(), Some("assistant-lab"), "{verdict}");
}

#[test]
fn a_repeated_identity_header_names_no_one() {
    // From a trusted hop, two identity values: taking either one, or both joined, would let a
    // second header decide who the caller is. The header reads as absent.
    let mut filter = demo_filter();
    let outcome = from_trusted_hop(&mut filter, &[SUPPORT_BOT, LAB_BOT])
        .send()
        .unwrap();
    let verdict = Verdict::from_outcome(&outcome);
    assert_ne!(verdict.rule.as_deref(), Some("support-bots"), "{verdict}");
    assert_ne!(verdict.rule.as_deref(), Some("assistant-lab"), "{verdict}");
    let single = from_trusted_hop(&mut filter, &[SUPPORT_BOT])
        .send()
        .unwrap();
    assert_eq!(
        Verdict::from_outcome(&single).rule.as_deref(),
        Some("support-bots")
    );
}

#[test]
fn a_repeated_content_encoding_header_is_one_list() {
    // `identity` then `x-snappy`: read together, the unknown coding is refused; reading only
    // the first header would have taken the body as plain JSON.
    let mut filter = demo_filter();
    let outcome = from_trusted_hop(&mut filter, &[SUPPORT_BOT])
        .header("content-encoding", "identity")
        .header("content-encoding", "x-snappy")
        .send()
        .unwrap();
    let verdict = Verdict::from_outcome(&outcome);
    assert_eq!(verdict.decision, "block", "{verdict}");
    assert_eq!(
        verdict.rule.as_deref(),
        Some("unsupported_encoding"),
        "{verdict}"
    );
}

#[test]
fn a_repeated_identity_header_cannot_match_a_wide_pattern() {
    // Joined values would match `**` (any run of characters): the header must read as absent.
    let mut policy: serde_json::Value =
        serde_json::from_slice(&policy_bytes("examples/demo.json")).unwrap();
    policy["origins"] = serde_json::json!([
        {"id": "support-tree", "identities": [{"glob": "spiffe://cluster.local/ns/support/**"}],
         "role": "customer_service"}
    ]);
    policy["default_action"] = serde_json::json!("block");
    policy["phone_numbers"] = serde_json::json!({"unknown": "allow", "numbers": []});
    let mut filter = configured(&policy);
    let repeated = from_trusted_hop(&mut filter, &[SUPPORT_BOT, LAB_BOT])
        .send()
        .unwrap();
    let verdict = Verdict::from_outcome(&repeated);
    assert_ne!(verdict.rule.as_deref(), Some("support-tree"), "{verdict}");
    assert_eq!(verdict.decision, "block", "{verdict}");
    let single = from_trusted_hop(&mut filter, &[SUPPORT_BOT])
        .send()
        .unwrap();
    assert_eq!(
        Verdict::from_outcome(&single).rule.as_deref(),
        Some("support-tree"),
        "{}",
        Verdict::from_outcome(&single)
    );
}
