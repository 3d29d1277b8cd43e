//! Calls across the VM boundary per request: each costs a round trip through the runtime
//! (about 1 to 2 µs in Envoy's V8), so the filter's count is part of its speed contract.

use host_tests::Verdict;

use crate::support::*;

fn send(filter: &mut host_tests::Filter, authority: &str, text: &str) -> host_tests::Outcome {
    filter
        .request()
        .method("POST")
        .authority(authority)
        .path(&format!("/v21.0/{SUPPORT_NUMBER}/messages"))
        .header("content-type", "application/json")
        .header("x-request-id", "crossings")
        .body(text_message(text))
        .send()
        .unwrap()
}

#[test]
fn a_host_the_policy_does_not_govern_costs_one_hostcall() {
    let mut filter = default_filter();
    send(&mut filter, "api.example.com", "warm-up");
    let outcome = send(&mut filter, "api.example.com", "Your order has shipped.");
    assert!(outcome.upstream.complete, "{outcome:#?}");
    assert_eq!(outcome.crossings.hostcalls, 1, "{:?}", outcome.crossings);
}

#[test]
fn an_allowed_send_makes_few_hostcalls_once_the_vm_is_warm() {
    let mut filter = default_filter();
    filter.set_property("node.metadata.NAMESPACE", "support");
    let first = send(&mut filter, "graph.facebook.com", "Your order has shipped.");
    let warm = send(
        &mut filter,
        "graph.facebook.com",
        "Your refund is on its way.",
    );
    assert_eq!(Verdict::from_outcome(&warm).decision, "allow", "{warm:#?}");
    // `:authority`, the rest of the header map in one read, the peer certificate, the body,
    // the decision counter, and two response headers. Node metadata and the counter's id
    // are read or defined once per VM, on the first request.
    assert_eq!(warm.crossings.hostcalls, 7, "{:?}", warm.crossings);
    assert!(
        first.crossings.hostcalls > warm.crossings.hostcalls,
        "first {:?}, warm {:?}",
        first.crossings,
        warm.crossings
    );
}

#[test]
fn a_blocked_send_makes_few_hostcalls_too() {
    let mut filter = default_filter();
    let text = "Great question! Here's a simple explanation.\n\n## The short version\n\n\
                **Tides** come from the Moon's pull. In summary, I hope this helps! \
                Let me know if you'd like me to explain more about anything else.";
    send(&mut filter, "graph.facebook.com", text);
    let warm = send(&mut filter, "graph.facebook.com", text);
    assert!(warm.blocked(), "{warm:#?}");
    // The same reads, then the counter, the clock (the log line's `ts`), the decision log and
    // the local reply.
    assert_eq!(warm.crossings.hostcalls, 8, "{:?}", warm.crossings);
}
