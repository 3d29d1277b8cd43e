//! The leak check: many requests through one VM must not grow the guest's linear memory
//! without bound.
//!
//! Measured on 2026-12-06 (release build of the module, demo policy): 3,712 KiB right after
//! `proxy_on_configure` (the module's initial memory plus the compiled policy), unchanged
//! after 200 warm-up requests and after 10,000 more of four kinds (allowed, blocked at the
//! headers, blocked by the classifier, other host), bodies in 7 to 19-byte chunks. The bound
//! is the post-warm-up size plus 1 MiB (a leak of 100 bytes per request would exceed it) and
//! 32 MiB overall.

use host_tests::{Filter, HostOptions, Outcome};

use crate::support::*;

const REQUESTS: usize = 10_000;
const WARM_UP: usize = 200;
const SLACK_BYTES: usize = 1 << 20;
const ABSOLUTE_BOUND_BYTES: usize = 32 << 20;

fn mixed_request(filter: &mut Filter, index: usize) -> Outcome {
    let whatsapp = |filter: &mut Filter, identity: &str, text: &str| {
        filter
            .request()
            .method("POST")
            .authority("graph.facebook.com")
            .path(&format!("/v21.0/{SUPPORT_NUMBER}/messages"))
            .header("content-type", "application/json")
            .property("connection.uri_san_peer_certificate", identity)
            .body(text_message(text))
            .chunking(host_tests::Chunking::Every(7 + index % 13))
            .send()
            .unwrap()
    };
    match index % 4 {
        0 => whatsapp(
            filter,
            SUPPORT_BOT,
            &format!("Order {index} has shipped and arrives Thursday."),
        ),
        1 => whatsapp(filter, LAB_BOT, "Hello!"),
        2 => whatsapp(
            filter,
            "spiffe://cluster.local/ns/other/sa/unknown",
            "As an AI assistant I can write your essay, plan your trip and explain anything you like.",
        ),
        _ => filter
            .request()
            .method("GET")
            .authority("api.example.com")
            .path(&format!("/v1/things/{index}"))
            .send()
            .unwrap(),
    }
}

#[test]
fn ten_thousand_requests_through_one_vm_do_not_grow_memory() {
    let mut filter = Filter::start(module(), HostOptions::default())
        .unwrap()
        .configure(policy_bytes("examples/demo.json"))
        .unwrap();
    let initial = filter.memory_bytes();
    for index in 0..WARM_UP {
        mixed_request(&mut filter, index);
    }
    let warm = filter.memory_bytes();
    for index in 0..REQUESTS {
        let outcome = mixed_request(&mut filter, index);
        assert!(outcome.stall.is_none(), "{outcome:#?}");
    }
    let after = filter.memory_bytes();
    eprintln!(
        "guest memory: {} KiB at start, {} KiB after {WARM_UP} warm-up requests, {} KiB after {REQUESTS} more",
        initial / 1024,
        warm / 1024,
        after / 1024
    );
    assert!(
        after <= warm + SLACK_BYTES,
        "memory grew from {warm} to {after} bytes"
    );
    assert!(after <= ABSOLUTE_BOUND_BYTES, "memory is {after} bytes");
}
