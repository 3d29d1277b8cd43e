//! Mechanics of the host itself, checked with small hand-written WAT guests (never used for
//! the behaviour of our filter): traps, status codes at the ABI edges, Envoy's phase rules,
//! shared data, queues, ticks, properties.
//!
//! The probe guest reports what each hostcall returned through gauges named `a0`, `a1`, ...
//! (two-byte names at offset 1024 + 2 × index), which the test reads back by name.

use std::time::Duration;

use host_tests::{Filter, HostError, HostOptions, Properties};

use crate::support::wat_module;

const PROBE: &str = r#"
(module
  (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
  (import "env" "proxy_define_metric" (func $define (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_record_metric" (func $record (param i32 i64) (result i32)))
  (import "env" "proxy_get_header_map_value" (func $get_header (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_add_header_map_value" (func $add_header (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_buffer_bytes" (func $get_buffer (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_set_buffer_bytes" (func $set_buffer (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_set_shared_data" (func $set_shared (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_shared_data" (func $get_shared (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_property" (func $get_property (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_set_tick_period_milliseconds" (func $set_tick (param i32) (result i32)))
  (import "env" "proxy_get_current_time_nanoseconds" (func $now (param i32) (result i32)))
  (import "env" "proxy_register_shared_queue" (func $register_queue (param i32 i32 i32) (result i32)))
  (import "env" "proxy_dequeue_shared_queue" (func $dequeue (param i32 i32 i32) (result i32)))
  (import "env" "proxy_made_up_call" (func $made_up (param i32) (result i32)))
  (memory (export "memory") 4)
  (global $heap (mut i32) (i32.const 65536))
  (global $ticks (mut i64) (i64.const 0))
  (data (i32.const 1024) "a0a1a2a3a4a5a6a7a8a9b0b1b2b3b4b5b6b7b8b9c0c1c2c3c4c5c6c7c8c9")
  (data (i32.const 2048) ":path")
  (data (i32.const 2064) "x-probe")
  (data (i32.const 2080) "1")
  (data (i32.const 2096) "shared-key")
  (data (i32.const 2112) "v1")
  (data (i32.const 2128) "source\00address")
  (data (i32.const 2160) "q")
  (data (i32.const 2176) ">")

  (func $report (param $index i32) (param $value i32)
    (local $name i32)
    (local.set $name (i32.add (i32.const 1024) (i32.mul (local.get $index) (i32.const 2))))
    (drop (call $define (i32.const 1) (local.get $name) (i32.const 2) (i32.const 512)))
    (drop (call $record (i32.load (i32.const 512)) (i64.extend_i32_s (local.get $value)))))

  (func (export "proxy_abi_version_0_2_1"))
  (func (export "proxy_on_memory_allocate") (param $size i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (i32.add (local.get $size) (i32.const 8))))
    (local.get $p))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32) (i32.const 1))
  (func (export "proxy_on_configure") (param $ctx i32) (param $size i32) (result i32)
    (call $report (i32.const 0) (call $get_buffer (i32.const 7) (i32.const 0) (local.get $size) (i32.const 768) (i32.const 772)))
    (call $report (i32.const 1) (i32.load (i32.const 772)))
    (call $report (i32.const 2) (call $set_tick (i32.const 1000)))
    (call $report (i32.const 3) (call $register_queue (i32.const 2160) (i32.const 1) (i32.const 776)))
    (i32.ne (local.get $size) (i32.const 0)))
  (func (export "proxy_on_request_headers") (param $ctx i32) (param $n i32) (param $eos i32) (result i32)
    (call $report (i32.const 4) (local.get $n))
    (call $report (i32.const 5) (call $log (i32.const 2) (i32.const -16) (i32.const 64)))
    (call $report (i32.const 6) (call $made_up (i32.const 0)))
    (call $report (i32.const 7) (call $get_header (i32.const 0) (i32.const 2048) (i32.const 5) (i32.const 780) (i32.const 784)))
    (call $report (i32.const 8) (i32.load (i32.const 784)))
    (call $report (i32.const 9) (call $add_header (i32.const 0) (i32.const 2064) (i32.const 7) (i32.const 2080) (i32.const 1)))
    (call $report (i32.const 10) (call $set_shared (i32.const 2096) (i32.const 10) (i32.const 2112) (i32.const 2) (i32.const 0)))
    (call $report (i32.const 11) (call $get_shared (i32.const 2096) (i32.const 10) (i32.const 788) (i32.const 792) (i32.const 796)))
    (call $report (i32.const 12) (call $set_shared (i32.const 2096) (i32.const 10) (i32.const 2112) (i32.const 2)
      (i32.add (i32.load (i32.const 796)) (i32.const 1))))
    (call $report (i32.const 13) (call $get_property (i32.const 2128) (i32.const 14) (i32.const 800) (i32.const 804)))
    (call $report (i32.const 14) (i32.load (i32.const 804)))
    (call $report (i32.const 15) (call $get_header (i32.const 99) (i32.const 2048) (i32.const 5) (i32.const 780) (i32.const 784)))
    (i32.const 0))
  (func (export "proxy_on_request_body") (param $ctx i32) (param $size i32) (param $eos i32) (result i32)
    (call $report (i32.const 16) (call $get_header (i32.const 0) (i32.const 2048) (i32.const 5) (i32.const 780) (i32.const 784)))
    (call $report (i32.const 17) (call $add_header (i32.const 0) (i32.const 2064) (i32.const 7) (i32.const 2080) (i32.const 1)))
    (call $report (i32.const 19) (local.get $size))
    (if (result i32) (local.get $eos)
      (then
        (call $report (i32.const 18) (call $set_buffer (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 2176) (i32.const 1)))
        (i32.const 0))
      (else (i32.const 1))))
  (func (export "proxy_on_response_headers") (param $ctx i32) (param $n i32) (param $eos i32) (result i32)
    (call $report (i32.const 20) (call $add_header (i32.const 2) (i32.const 2064) (i32.const 7) (i32.const 2080) (i32.const 1)))
    (i32.const 0))
  (func (export "proxy_on_tick") (param $ctx i32)
    (global.set $ticks (i64.add (global.get $ticks) (i64.const 1)))
    (call $report (i32.const 21) (call $now (i32.const 808)))
    (call $report (i32.const 22) (i32.wrap_i64 (i64.div_u (i64.load (i32.const 808)) (i64.const 1000000000))))
    (call $report (i32.const 23) (i32.wrap_i64 (global.get $ticks))))
  (func (export "proxy_on_queue_ready") (param $ctx i32) (param $queue i32)
    (call $report (i32.const 24) (call $dequeue (local.get $queue) (i32.const 816) (i32.const 820)))
    (call $report (i32.const 25) (i32.load (i32.const 820))))
  (func (export "proxy_on_done") (param i32) (result i32) (i32.const 1))
  (func (export "proxy_on_delete") (param i32))
)
"#;

const TRAPPING: &str = r#"
(module
  (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "panicked at boom")
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "proxy_on_memory_allocate") (param i32) (result i32) (i32.const 1024))
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32) (i32.const 1))
  (func (export "proxy_on_configure") (param i32 i32) (result i32) (i32.const 1))
  (func (export "proxy_on_request_headers") (param $ctx i32) (param $n i32) (param $eos i32) (result i32)
    ;; A body-less request panics the way the SDK does: critical log, then unreachable.
    (if (local.get $eos)
      (then
        (drop (call $log (i32.const 5) (i32.const 16) (i32.const 16)))
        (unreachable)))
    (i32.const 0))
  (func (export "proxy_on_request_body") (param i32 i32 i32) (result i32)
    (call $exit (i32.const 3))
    (i32.const 0))
)
"#;

const PAUSING: &str = r#"
(module
  (memory (export "memory") 1)
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "proxy_on_memory_allocate") (param i32) (result i32) (i32.const 1024))
  (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32) (i32.const 1))
)
"#;

fn probe() -> Filter {
    let mut options = HostOptions::default();
    let mut properties = Properties::default();
    properties.set("source.address", "10.1.2.3:4567");
    options.properties = properties;
    Filter::start(&wat_module(PROBE), options)
        .unwrap()
        .configure(b"{}")
        .unwrap()
}

fn gauge(filter: &Filter, index: usize) -> i64 {
    let letter = char::from(b'a' + (index / 10) as u8);
    let name = format!("{letter}{}", index % 10);
    filter
        .metric(&name)
        .unwrap_or_else(|| panic!("probe did not report {name}")) as i64
}

#[test]
fn the_plugin_configuration_is_readable_during_configure() {
    let filter = probe();
    assert_eq!(gauge(&filter, 0), 0);
    assert_eq!(gauge(&filter, 1), 2);
}

#[test]
fn an_empty_configuration_rejected_by_the_guest_is_an_error() {
    let started = Filter::start(&wat_module(PROBE), HostOptions::default()).unwrap();
    assert!(matches!(
        started.configure(b""),
        Err(HostError::ConfigureRejected { .. })
    ));
}

#[test]
fn hostcalls_answer_statuses_and_never_trap() {
    let mut filter = probe();
    let outcome = filter.request().path("/probe").body(b"abc").send().unwrap();
    assert_eq!(
        gauge(&filter, 4),
        6,
        "headers: 4 pseudo + content-length + x-request-id"
    );
    assert_eq!(
        gauge(&filter, 5),
        6,
        "an out-of-bounds pointer is InvalidMemoryAccess"
    );
    assert_eq!(
        gauge(&filter, 6),
        12,
        "an unknown import answers Unimplemented"
    );
    assert_eq!(filter.unsupported_calls(), ["env.proxy_made_up_call"]);
    assert_eq!(filter.stubbed_imports(), ["env.proxy_made_up_call"]);
    assert_eq!(gauge(&filter, 7), 0);
    assert_eq!(gauge(&filter, 8), "/probe".len() as i64);
    assert_eq!(gauge(&filter, 9), 0);
    assert_eq!(gauge(&filter, 15), 2, "an unknown map type is BadArgument");
    assert_eq!(
        outcome.upstream.headers.as_ref().unwrap().get("x-probe"),
        Some("1")
    );
}

#[test]
fn shared_data_compare_and_swap() {
    let mut filter = probe();
    filter.request().send().unwrap();
    assert_eq!(gauge(&filter, 10), 0);
    assert_eq!(gauge(&filter, 11), 0);
    assert_eq!(gauge(&filter, 12), 8, "a stale cas is CasMismatch");
    let (value, cas) = filter.shared_data("shared-key").unwrap();
    assert_eq!(value, b"v1");
    assert!(cas > 0);
}

#[test]
fn properties_are_looked_up_by_nul_separated_path() {
    let mut filter = probe();
    filter.request().send().unwrap();
    assert_eq!(gauge(&filter, 13), 0);
    assert_eq!(gauge(&filter, 14), "10.1.2.3:4567".len() as i64);
    filter
        .request()
        .property("source.address", "192.168.0.1:1")
        .send()
        .unwrap();
    assert_eq!(
        gauge(&filter, 14),
        "192.168.0.1:1".len() as i64,
        "per-request value wins"
    );
}

#[test]
fn request_headers_are_unreachable_from_body_callbacks_as_in_envoy() {
    let mut filter = probe();
    let outcome = filter
        .request()
        .method("POST")
        .body_chunks(&[&b"ab"[..], b"cd", b"e"])
        .send()
        .unwrap();
    assert_eq!(
        gauge(&filter, 16),
        2,
        "reading request headers from the body callback"
    );
    assert_eq!(
        gauge(&filter, 17),
        2,
        "adding a request header from the body callback"
    );
    assert_eq!(
        gauge(&filter, 19),
        5,
        "the last call sees the cumulative buffered size"
    );
    let sizes: Vec<usize> = outcome
        .callbacks
        .iter()
        .filter(|c| c.name == "proxy_on_request_body")
        .map(|c| c.size)
        .collect();
    assert_eq!(sizes, vec![2, 4, 5]);
    // Prepended by proxy_set_buffer_bytes(start 0, size 0) before release.
    assert_eq!(gauge(&filter, 18), 0);
    assert_eq!(outcome.upstream.body, b">abcde");
    assert_eq!(outcome.response_header("x-probe"), Some("1"));
    assert_eq!(gauge(&filter, 20), 0);
}

#[test]
fn ticks_follow_the_controllable_clock() {
    let mut filter = probe();
    assert_eq!(filter.tick_period_millis(), 1000);
    let start = filter.now_nanos();
    assert_eq!(filter.advance_time(Duration::from_millis(3500)).unwrap(), 3);
    assert_eq!(gauge(&filter, 23), 3);
    assert_eq!(gauge(&filter, 21), 0);
    assert_eq!(gauge(&filter, 22) as u64, (start / 1_000_000_000) + 3);
    assert_eq!(filter.now_nanos(), start + 3_500_000_000);
}

#[test]
fn shared_queues_notify_their_owner() {
    let mut filter = probe();
    assert_eq!(gauge(&filter, 3), 0);
    assert!(filter.enqueue("q", b"hello").unwrap());
    assert_eq!(gauge(&filter, 24), 0);
    assert_eq!(gauge(&filter, 25), 5);
    assert!(!filter.enqueue("nope", b"x").unwrap());
}

#[test]
fn a_trap_surfaces_with_the_callback_and_the_panic_message_then_fails_the_vm() {
    let mut filter = Filter::start(&wat_module(TRAPPING), HostOptions::default())
        .unwrap()
        .configure(b"{}")
        .unwrap();
    let error = filter.request().send().unwrap_err();
    let trap = error.trap().expect("a trap");
    assert!(matches!(error, HostError::Trap(_)));
    assert_eq!(trap.callback, "proxy_on_request_headers");
    assert_eq!(trap.panic_message.as_deref(), Some("panicked at boom"));
    assert!(trap.message.contains("unreachable"), "{}", trap.message);
    assert!(error.to_string().contains("proxy_on_request_headers"));
    let again = filter.request().send().unwrap_err();
    assert!(matches!(again, HostError::VmFailed(_)), "{again}");
}

#[test]
fn proc_exit_is_a_trap_not_a_host_exit() {
    let mut filter = Filter::start(&wat_module(TRAPPING), HostOptions::default())
        .unwrap()
        .configure(b"{}")
        .unwrap();
    let error = filter.request().body(b"x").send().unwrap_err();
    let trap = error.trap().unwrap();
    assert_eq!(trap.callback, "proxy_on_request_body");
    assert!(trap.message.contains("proc_exit(3)"), "{}", trap.message);
}

#[test]
fn a_filter_that_pauses_forever_stalls_the_request() {
    let mut filter = Filter::start(&wat_module(PAUSING), HostOptions::default()).unwrap();
    let outcome = filter.request().body(b"abc").send().unwrap();
    let stall = outcome.stall.unwrap();
    assert_eq!(stall.callback, "proxy_on_request_headers");
    assert!(outcome.upstream.headers.is_none());
    assert!(outcome.response.is_none());
}

#[test]
fn a_module_without_the_abi_version_export_is_refused() {
    let module = wat_module(r#"(module (memory (export "memory") 1))"#);
    match Filter::start(&module, HostOptions::default()) {
        Err(HostError::Abi(message)) => assert!(message.contains("proxy_abi_version"), "{message}"),
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("accepted a module without an ABI version"),
    }
}
