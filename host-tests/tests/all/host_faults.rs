//! Host fault injection: each hostcall the filter uses fails in turn (its first, second, ...
//! call), on a send, an upload and a configure. Whatever fails, the filter never traps, never
//! leaves a request paused for ever, never lets an assistant send through, and never forwards
//! an upload short or with a WhatsApp record in it.

use host_tests::{Chunking, Filter, HostError, HostOptions, Outcome};

use crate::support::*;

/// The hostcalls the filter makes on a request or a configure that the host can fail.
const HOSTCALLS: &[&str] = &[
    "proxy_get_buffer_bytes",
    "proxy_set_buffer_bytes",
    "proxy_get_header_map_pairs",
    "proxy_get_header_map_value",
    "proxy_add_header_map_value",
    "proxy_remove_header_map_value",
    "proxy_get_property",
    "proxy_define_metric",
    "proxy_increment_metric",
    "proxy_send_local_response",
    "proxy_close_stream",
];

/// Each hostcall fails at its 1st, 2nd, ... call up to this one.
const CALLS: u32 = 8;

const ASSISTANT_TEXT: &str = "# How vaccines work\n\nA vaccine trains your immune system to recognise a germ without making you ill. It contains a harmless piece or weakened form of the virus or bacterium, called an **antigen**.\n\n## What happens next\n\n1. Immune cells notice the antigen and make **antibodies** that fit it.\n2. Memory cells keep a record of it for years.\n3. If the real germ arrives later, the body reacts in hours instead of weeks.\n\nIn short, vaccination is a rehearsal that lets your body win the real fight quickly.";

const KEEP: &str = r#"{"messages":[{"role":"user","content":"Where is my parcel?"},{"role":"assistant","content":"It ships today."}],"channel":"webchat"}"#;
const WHATSAPP: &str = r#"{"messages":[{"role":"user","content":"hola"}],"meta":{"id":"wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQz"}}"#;

fn with_fault(
    hostcall: &str,
    nth: u32,
    run: impl FnOnce(&mut Filter) -> Result<Outcome, HostError>,
) -> (Outcome, u32) {
    let mut filter = demo_filter();
    filter.fail_hostcall(hostcall, nth);
    let outcome = run(&mut filter)
        .unwrap_or_else(|e| panic!("{hostcall} call {nth} failed: the host saw {e}"));
    assert!(
        outcome.stall.is_none(),
        "{hostcall} call {nth}: the request is paused for ever: {:?}",
        outcome.stall
    );
    (outcome, filter.faults_injected())
}

/// Every hostcall that some run failed at least once: a fault that is never injected tests
/// nothing, so the runs must reach each hostcall the path uses.
fn assert_reached(injected: &[(&str, u32)], path: &str, must: &[&str]) {
    for name in must {
        assert!(
            injected.iter().any(|(h, n)| h == name && *n > 0),
            "{path}: no fault of {name} was injected"
        );
    }
}

#[test]
fn a_failing_hostcall_never_lets_an_assistant_send_through() {
    let mut injected = Vec::new();
    for hostcall in HOSTCALLS {
        for nth in 1..=CALLS {
            // Decided on the body: an unknown caller's assistant answer, in three chunks.
            let (outcome, n) = with_fault(hostcall, nth, |f| {
                f.request()
                    .method("POST")
                    .authority("graph.facebook.com")
                    .path("/v21.0/109876543210987/messages")
                    .header("content-type", "application/json")
                    .body(text_message(ASSISTANT_TEXT))
                    .chunking(Chunking::Every(200))
                    .send()
            });
            assert!(
                !outcome.reached_upstream(),
                "{hostcall} call {nth}: an assistant send reached Meta"
            );
            injected.push((*hostcall, n));
            // Decided on the headers: a general-assistant origin.
            let (outcome, n) = with_fault(hostcall, nth, |f| {
                f.request()
                    .method("POST")
                    .authority("graph.facebook.com")
                    .path(&format!("/v21.0/{SUPPORT_NUMBER}/messages"))
                    .header("content-type", "application/json")
                    .property("connection.uri_san_peer_certificate", LAB_BOT)
                    .body(text_message("Sure! Here is a haiku."))
                    .send()
            });
            assert!(
                !outcome.reached_upstream(),
                "{hostcall} call {nth}: a general-assistant origin reached Meta"
            );
            injected.push((*hostcall, n));
        }
    }
    assert_reached(
        &injected,
        "send",
        &[
            "proxy_get_buffer_bytes",
            "proxy_get_header_map_pairs",
            "proxy_get_header_map_value",
            "proxy_send_local_response",
            "proxy_increment_metric",
        ],
    );
}

#[test]
fn a_failing_hostcall_never_forwards_an_upload_short_or_with_a_whatsapp_record() {
    let body = format!("{KEEP}\n{WHATSAPP}\n{KEEP}\n{KEEP}\n");
    let stripped = format!("{KEEP}\n{KEEP}\n{KEEP}\n");
    let mut injected = Vec::new();
    for hostcall in HOSTCALLS {
        for nth in 1..=CALLS {
            let (outcome, n) = with_fault(hostcall, nth, |f| {
                f.request()
                    .method("POST")
                    .authority("api.openai.com")
                    .path("/v1/files")
                    .header("content-type", "application/jsonl")
                    .body(body.as_bytes())
                    .chunking(Chunking::Every(90))
                    .send()
            });
            let seen = String::from_utf8_lossy(&outcome.upstream.body).into_owned();
            assert!(
                !seen.contains("wamid."),
                "{hostcall} call {nth}: a WhatsApp record reached the training endpoint"
            );
            if outcome.reached_upstream() {
                assert_eq!(
                    seen, stripped,
                    "{hostcall} call {nth}: the upload was forwarded changed or short"
                );
            }
            injected.push((*hostcall, n));
        }
    }
    assert_reached(
        &injected,
        "upload",
        &[
            "proxy_get_buffer_bytes",
            "proxy_set_buffer_bytes",
            "proxy_get_header_map_pairs",
            "proxy_remove_header_map_value",
        ],
    );
}

#[test]
fn a_failing_hostcall_at_configure_refuses_the_policy_or_keeps_the_old_one() {
    let policy = policy_bytes("examples/demo.json");
    let mut injected = Vec::new();
    for hostcall in HOSTCALLS {
        for nth in 1..=CALLS {
            let mut filter = Filter::start(module(), HostOptions::default()).unwrap();
            filter.fail_hostcall(hostcall, nth);
            match filter.configure(&policy) {
                Ok(mut filter) => {
                    injected.push((*hostcall, filter.faults_injected()));
                    // Configured: the policy works (the fault may still hit this request:
                    // it is refused or reset, never forwarded or left paused).
                    let outcome = filter
                        .request()
                        .method("POST")
                        .authority("graph.facebook.com")
                        .path(&format!("/v21.0/{SUPPORT_NUMBER}/messages"))
                        .header("content-type", "application/json")
                        .property("connection.uri_san_peer_certificate", LAB_BOT)
                        .body(text_message("Sure! Here is a haiku."))
                        .send()
                        .unwrap();
                    assert!(
                        !outcome.reached_upstream() && outcome.stall.is_none(),
                        "{hostcall} call {nth}: {outcome:#?}"
                    );
                }
                Err(HostError::ConfigureRejected { .. }) => injected.push((*hostcall, 1)),
                Err(e) => panic!("{hostcall} call {nth} at configure: {e}"),
            }
        }
    }
    assert_reached(&injected, "configure", &["proxy_get_buffer_bytes"]);
}
