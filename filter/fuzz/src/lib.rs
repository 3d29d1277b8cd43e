//! What the fuzz targets share: the shipped policy, compiled once, and one way to drive a
//! request through the engine exactly as the case runner and Envoy do (`cases::run_native`).
//!
//! Every target reads its input as a few selector bytes followed by the body. The selectors
//! pick what a real client controls besides the body (content type, encoding, path, how Envoy
//! cuts the body into chunks), so one input is one request, and the committed seed corpus
//! (`filter/fuzz/seeds.py`) can start from the project's own policy cases.

use base64::Engine as _;
use std::collections::BTreeMap;
use std::sync::OnceLock;
use wa_egress_guard::cases::{CaseRequest, Observed, run_native};
use wa_egress_guard::policy::Policy;

/// The policy every target runs: the shipped default, in enforce mode for both jobs.
pub fn policy() -> &'static Policy {
    static POLICY: OnceLock<Policy> = OnceLock::new();
    POLICY.get_or_init(|| {
        match Policy::from_json(include_bytes!("../../../policies/default.json")) {
            Ok(p) => p,
            Err(e) => panic!("the shipped policy must compile: {e}"),
        }
    })
}

/// Reads selector bytes off the front of a fuzz input; an exhausted input reads zeros.
pub struct Selectors<'a> {
    data: &'a [u8],
}

impl<'a> Selectors<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    pub fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((b, rest)) => {
                self.data = rest;
                *b
            }
            None => 0,
        }
    }

    /// One of `choices`, picked by the next byte.
    pub fn pick<T: Copy>(&mut self, choices: &[T]) -> T {
        let i = usize::from(self.byte()) % choices.len();
        choices[i]
    }

    /// Up to three chunk sizes (1 to 4096 bytes each; the rest of the body is the last chunk),
    /// or none: the whole body in one callback.
    pub fn chunks(&mut self) -> Vec<usize> {
        let n = usize::from(self.byte() % 4);
        (0..n)
            .map(|_| 1 + (usize::from(self.byte()) << 4 | usize::from(self.byte() & 0x0f)))
            .collect()
    }

    /// What is left: the body.
    pub fn rest(self) -> &'a [u8] {
        self.data
    }
}

/// A request as a test or Envoy would send it.
pub struct Request<'a> {
    pub method: &'a str,
    pub authority: &'a str,
    pub path: &'a str,
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
    /// Compress the body before sending (`gzip` or `deflate`), as a client would.
    pub encode: Option<&'a str>,
}

impl Request<'_> {
    fn case(&self) -> CaseRequest {
        CaseRequest {
            method: self.method.to_owned(),
            authority: self.authority.to_owned(),
            path: self.path.to_owned(),
            headers: self
                .headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<BTreeMap<_, _>>()
                .into(),
            properties: BTreeMap::from([("source.address".to_owned(), "127.0.0.1:1".to_owned())]),
            body_base64: Some(base64::engine::general_purpose::STANDARD.encode(self.body)),
            encode: self.encode.map(str::to_owned),
            ..CaseRequest::default()
        }
    }

    /// Drives the request through the engine. Every request must end in an outcome; the
    /// engine itself must not panic (libFuzzer reports a panic as a crash).
    pub fn run(&self, chunks: &[usize]) -> (Observed, Vec<u8>) {
        self.run_with(policy(), chunks)
    }

    /// The same under another policy.
    pub fn run_with(&self, policy: &Policy, chunks: &[usize]) -> (Observed, Vec<u8>) {
        let case = self.case();
        let plain = match case.plain_body_bytes() {
            Ok(b) => b,
            Err(e) => panic!("the harness could not build the body: {e}"),
        };
        match run_native(policy, &case, chunks) {
            Ok(observed) => (observed, plain),
            Err(e) => panic!("a request must always produce an outcome: {e}"),
        }
    }
}

/// A WhatsApp send is never changed: when it is let through, the upstream gets every byte.
pub fn assert_send_untouched(observed: &Observed, sent: &[u8], encoded: bool) {
    if encoded {
        return;
    }
    if let Some(forwarded) = &observed.forwarded_body {
        assert!(
            forwarded.as_slice() == sent,
            "a send was forwarded changed ({} bytes sent, {} forwarded; decision {})",
            sent.len(),
            forwarded.len(),
            observed.decision
        );
    }
}

/// A training upload with nothing to strip reaches the upstream byte-exact (decoded when the
/// client compressed it), and a stripped one is never longer than what was sent.
pub fn assert_upload_consistent(observed: &Observed, plain: &[u8]) {
    let Some(forwarded) = &observed.forwarded_body else {
        return;
    };
    match observed.decision.as_str() {
        "forward" => assert!(
            forwarded.as_slice() == plain,
            "a clean upload was changed ({} bytes sent, {} forwarded)",
            plain.len(),
            forwarded.len()
        ),
        "strip" => {
            assert!(
                forwarded.len() < plain.len(),
                "a stripped upload is not shorter ({} bytes sent, {} forwarded)",
                plain.len(),
                forwarded.len()
            );
            assert!(
                observed.records_stripped.unwrap_or(0) > 0,
                "a strip that removed no record"
            );
        }
        _ => {}
    }
}
