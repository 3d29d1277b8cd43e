//! VM start, configuration, context lifecycle and reuse of one VM, against the real module.

use host_tests::{Filter, HostError, HostOptions};

use crate::support::*;

#[test]
fn every_import_of_the_module_has_a_host_implementation() {
    let filter = demo_filter();
    assert!(
        filter.stubbed_imports().is_empty(),
        "stubbed: {:?}",
        filter.stubbed_imports()
    );
    for (module_name, name) in module().imports() {
        let known = match module_name.as_str() {
            "env" => host_tests::PROXY_HOSTCALLS.contains(&name.as_str()),
            "wasi_snapshot_preview1" => host_tests::WASI_FUNCTIONS.contains(&name.as_str()),
            _ => false,
        };
        assert!(known, "{module_name}.{name} is not in the host's lists");
    }
}

#[test]
fn configure_loads_the_policy() {
    let filter = demo_filter();
    assert_eq!(
        filter.metric("wa_guard_config_loads_total.result.ok"),
        Some(1)
    );
    assert!(
        filter
            .logs()
            .iter()
            .any(|l| l.message.starts_with("wa-egress-guard: policy")
                && l.message.contains(" loaded")),
        "{:?}",
        filter.logs()
    );
}

#[test]
fn a_rejected_policy_is_a_configure_error_with_the_reason() {
    let started = Filter::start(module(), HostOptions::default()).unwrap();
    let error = match started.configure(br#"{"mode": "enforce", "typo_field": 1}"#) {
        Err(e) => e,
        Ok(_) => panic!("a policy with an unknown field was accepted"),
    };
    let HostError::ConfigureRejected { logs } = &error else {
        panic!("unexpected error {error}");
    };
    assert!(
        logs.iter().any(|l| l.message.contains("invalid policy")),
        "{logs:?}"
    );
    assert!(error.to_string().contains("plugin configuration rejected"));
}

#[test]
fn a_policy_that_is_not_json_is_rejected() {
    let started = Filter::start(module(), HostOptions::default()).unwrap();
    assert!(matches!(
        started.configure(b"not json"),
        Err(HostError::ConfigureRejected { .. })
    ));
}

#[test]
fn each_request_gets_a_fresh_http_context_in_one_vm() {
    let mut filter = demo_filter();
    let mut ids = Vec::new();
    for _ in 0..3 {
        let outcome = filter.request().path("/healthz").send().unwrap();
        ids.push(outcome.context_id);
        let names: Vec<&str> = outcome.callbacks.iter().map(|c| c.name).collect();
        assert_eq!(names.first(), Some(&"proxy_on_context_create"));
        assert_eq!(names.last(), Some(&"proxy_on_delete"));
        assert!(names.contains(&"proxy_on_done"));
    }
    assert_eq!(ids, vec![2, 3, 4]);
    assert_eq!(filter.requests_sent(), 3);
}

#[test]
fn reconfiguring_a_running_vm_applies_the_new_policy() {
    let mut filter = demo_filter();
    let send = |filter: &mut Filter| {
        filter
            .request()
            .method("POST")
            .authority("graph.facebook.com")
            .path(&format!("/v21.0/{SUPPORT_NUMBER}/messages"))
            .header("content-type", "application/json")
            .property("connection.uri_san_peer_certificate", LAB_BOT)
            .body(text_message("hello"))
            .send()
            .unwrap()
    };
    assert!(send(&mut filter).blocked());
    let mut audit: serde_json::Value =
        serde_json::from_slice(&policy_bytes("examples/demo.json")).unwrap();
    audit["mode"] = "audit".into();
    filter.reconfigure(audit.to_string()).unwrap();
    let outcome = send(&mut filter);
    assert!(!outcome.blocked());
    assert_eq!(
        outcome.response_header("x-wa-guard-decision"),
        Some("audit")
    );
}

#[test]
fn shutdown_runs_done_and_delete_on_the_root_context() {
    let filter = demo_filter();
    assert!(filter.shutdown().unwrap());
}
