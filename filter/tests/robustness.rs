//! No input may panic: mutated and random bodies, odd headers and paths go through the whole
//! request flow of the demo policy (both jobs) and must come out as decisions.
//! Deterministic: a fixed-seed generator, so a failure reproduces.

#![allow(
    clippy::expect_used,
    clippy::type_complexity,
    reason = "test helpers outside #[test] functions"
)]

use std::collections::BTreeMap;
use wa_egress_guard::cases::{CaseRequest, Observed, run_native};
use wa_egress_guard::policy::Policy;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const SEEDS: &[&str] = &[
    r#"{"messaging_product":"whatsapp","to":"1555","type":"text","text":{"body":"Here is a **detailed** answer:\n\n1. one\n2. two\n3. three"}}"#,
    r#"{"type":"interactive","interactive":{"type":"list","body":{"text":"b"},"action":{"button":"x","sections":[{"title":"s","rows":[{"id":"1","title":"r","description":"d"}]}]}}}"#,
    r#"{"type":"template","template":{"name":"n","components":[{"type":"body","parameters":[{"type":"text","text":"t"}]},{"type":"carousel","cards":[{"components":[{"parameters":[{"text":"c"}]}]}]}]}}"#,
    "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"channel\":\"whatsapp\"}\n{\"a\":\"wamid.HBgLMTY1MDM4Nzk0\"}\n{\"x\":1}\n",
    "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"t.jsonl\"\r\n\r\n{\"a\":1}\n{\"wa_id\":\"1\"}\r\n--b--\r\n",
];

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for _ in 0..=rng.below(6) {
        let at = rng.below(b.len() + 1);
        match rng.below(6) {
            0 if !b.is_empty() => {
                b.remove(at.min(b.len() - 1));
            }
            1 => b.insert(at, (rng.next() & 0xff) as u8),
            2 => b
                .splice(at..at, b"\\u0000{[\"".iter().copied())
                .for_each(drop),
            3 => b.truncate(at),
            4 => b
                .splice(at..at, std::iter::repeat_n(b'[', rng.below(300)))
                .for_each(drop),
            _ => b.splice(at..at, "\u{200B}é🙂\r\n".bytes()).for_each(drop),
        }
    }
    b
}

fn send(
    policy: &Policy,
    authority: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    chunks: &[usize],
) -> Observed {
    let req = CaseRequest {
        method: "POST".into(),
        authority: authority.into(),
        path: path.into(),
        headers: headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<BTreeMap<_, _>>()
            .into(),
        properties: BTreeMap::from([("source.address".to_owned(), "127.0.0.1:1".to_owned())]),
        body_base64: Some(base64_encode(body)),
        ..CaseRequest::default()
    };
    run_native(policy, &req, chunks).expect("a request must always produce an outcome")
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

#[test]
fn mutated_bodies_never_panic_and_always_decide() {
    let policy_json = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../policies/examples/demo.json"
    ))
    .unwrap();
    let policy = Policy::from_json(&policy_json).unwrap();
    let mut rng = Rng(0x5eed_1234_abcd_0042);
    let targets: &[(&str, &str, &[(&str, &str)])] = &[
        (
            "graph.facebook.com",
            "/v21.0/106540352242922/messages",
            &[("content-type", "application/json")],
        ),
        (
            "graph.facebook.com",
            "/v21.0/1/message_templates",
            &[("content-type", "application/x-www-form-urlencoded")],
        ),
        (
            "graph.facebook.com",
            "/v21.0/1/messages",
            &[("content-encoding", "gzip")],
        ),
        (
            "api.openai.com",
            "/v1/files",
            &[("content-type", "application/jsonl")],
        ),
        (
            "api.openai.com",
            "/v1/files",
            &[("content-type", "multipart/form-data; boundary=b")],
        ),
        (
            "api.openai.com",
            "/v1/files",
            &[
                ("content-type", "application/jsonl"),
                ("content-encoding", "deflate"),
            ],
        ),
        (
            "generativelanguage.googleapis.com",
            "/v1beta/tunedModels",
            &[("content-type", "application/json")],
        ),
        (
            "huggingface.co",
            "/api/datasets/a/b/commit/main",
            &[("content-type", "application/x-ndjson")],
        ),
    ];
    for i in 0..4000 {
        let seed = SEEDS[rng.below(SEEDS.len())].as_bytes();
        let body = if i % 10 == 0 {
            (0..rng.below(2000))
                .map(|_| (rng.next() & 0xff) as u8)
                .collect()
        } else {
            mutate(&mut rng, seed)
        };
        let (authority, path, headers) = targets[rng.below(targets.len())];
        let chunks: Vec<usize> = (0..rng.below(4)).map(|_| rng.below(64) + 1).collect();
        let got = send(&policy, authority, path, headers, &body, &chunks);
        assert_ne!(got.decision, "none", "{authority}{path} must be governed");
        if got.decision == "block" {
            assert_eq!(got.status, 403);
            assert!(got.forwarded_body.is_none());
        }
    }
}

#[test]
fn odd_paths_and_authorities_never_panic() {
    let policy_json = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../policies/examples/demo.json"
    ))
    .unwrap();
    let policy = Policy::from_json(&policy_json).unwrap();
    for authority in [
        "",
        ":",
        "[",
        "[::1",
        "graph.facebook.com:",
        "GRAPH.FACEBOOK.COM.",
        "é.com",
        "\u{0}",
    ] {
        for path in [
            "",
            "/",
            "?",
            "#",
            "%",
            "%%%",
            "/%ff%fe/messages",
            "/v1/../../..",
            "//////",
            "/v21.0/1/messages?method=",
            "\\",
        ] {
            let _ = send(&policy, authority, path, &[], b"{}", &[]);
        }
    }
}
