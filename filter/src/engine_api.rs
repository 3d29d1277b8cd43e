//! The engine for hosts other than Envoy: the WASI component (`filter/component`) and through
//! it `wa-guard`. A request comes in whole (head, body, the caller's attributes) and leaves as
//! the decision record; an upload can also be fed chunk by chunk. Both drive the same
//! [`RequestFlow`] the proxy-wasm glue and the case runner drive, so a verdict here is the
//! verdict in Envoy.

use crate::cases::{self, Case, Observed};
use crate::decide::Decision;
use crate::flow::{BodyStep, HeadersStep, RequestFlow, RequestHead, StateAccess};
use crate::identity::StaticAttributes;
use crate::policy::Policy;
use crate::report::{self, LocalReply};
use crate::shared_store::MemoryStore;
use crate::training::upload::TrainingOutcome;

/// The version of the policy document format (`policies/policy.schema.json`). It changes when
/// a policy that was valid is refused or read differently; new optional fields keep it.
pub const POLICY_SCHEMA_VERSION: u32 = 1;

/// A request as a host saw it: the head, and what the host knows about the caller.
#[derive(Debug, Clone, Default)]
pub struct HostRequest {
    pub method: String,
    pub authority: String,
    pub path: String,
    /// Request headers in the order sent; names are matched case-insensitively.
    pub headers: Vec<(String, String)>,
    /// Host attributes by dotted name (`source.address`, `connection.uri_san_peer_certificate`,
    /// `node.metadata.NAMESPACE`), as Envoy's properties.
    pub attributes: Vec<(String, Vec<u8>)>,
}

impl HostRequest {
    /// A header by lowercase name; a repeated header is joined by commas, as Envoy reads it.
    fn header(&self, name: &str) -> Option<String> {
        let values: Vec<&str> = self
            .headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect();
        (!values.is_empty()).then(|| values.join(","))
    }

    fn head(&self, end_of_stream: bool) -> RequestHead {
        let mut head = RequestHead::from_headers(
            self.method.clone(),
            self.authority.clone(),
            self.path.clone(),
            &|name| self.header(name),
            end_of_stream,
        );
        head.request_id.get_or_insert_with(|| "wa-guard".into());
        head
    }

    /// The identity seam: the host's attributes, and the request headers for header sources.
    /// A header sent twice reads as absent, as from Envoy.
    fn attributes(&self) -> StaticAttributes {
        let mut a = StaticAttributes::new();
        for (k, v) in &self.attributes {
            a = a.property(k, v.clone());
        }
        for (k, _) in &self.headers {
            let repeated = self
                .headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(k))
                .count()
                > 1;
            if let (false, Some(v)) = (repeated, self.header(k)) {
                a = a.header(k, &v);
            }
        }
        a
    }
}

/// Which job of the filter the request met, with its outcome.
#[derive(Debug, Clone, PartialEq)]
pub enum Evaluation {
    /// Not a request the policy governs: forwarded untouched.
    Ungoverned,
    WhatsApp(Box<Decision>),
    Training(Box<TrainingOutcome>),
}

/// A whole request's outcome: the decision, and what the upstream or the client gets.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluated {
    pub evaluation: Evaluation,
    /// The body the upstream receives; `None` when the request was answered locally.
    pub forwarded: Option<Vec<u8>>,
    /// The local reply (a 403) that ended the request instead.
    pub reply: Option<LocalReply>,
    /// The decision's log line, exactly as the filter logs it in Envoy.
    pub log_line: Option<String>,
}

/// Runs a whole request through the engine, its body in one chunk. With `explain`, an allowed
/// message that was scored also gets its top contributing features (as `log.log_allowed` does).
pub fn evaluate(policy: &Policy, request: &HostRequest, body: &[u8], explain: bool) -> Evaluated {
    let explained;
    let policy = if explain && !policy.log.log_allowed {
        let mut p = policy.clone();
        p.log.log_allowed = true;
        explained = p;
        &explained
    } else {
        policy
    };
    let head = request.head(body.is_empty());
    let attrs = request.attributes();
    // A request on its own: a fresh store, so a conversation has no history.
    let mut store = MemoryStore::default();
    let (mut flow, step) = RequestFlow::on_request_headers(policy, &head, &attrs, &store);
    let (forwarded, reply) = match step {
        HeadersStep::Respond(r) => (None, Some(r)),
        HeadersStep::PassThrough | HeadersStep::Continue => (Some(body.to_vec()), None),
        HeadersStep::InspectBody
        | HeadersStep::InspectRewritable { .. }
        | HeadersStep::Strip { .. } => {
            if matches!(step, HeadersStep::InspectRewritable { .. }) {
                // As Envoy does: the headers it is asked to remove go.
                flow.framing_removed();
            }
            let mut state = StateAccess::new(&mut store, Some(cases::CASE_CLOCK_NANOS));
            match cases::drive_body_with_state(
                &mut flow,
                policy,
                [body].into_iter().filter(|b| !b.is_empty()),
                false,
                &mut state,
            ) {
                Ok(f) => (Some(f), None),
                Err(r) => (None, Some(r)),
            }
        }
    };
    let request_id = flow.request_id().to_owned();
    let (evaluation, log_line) = match (flow.decision(), flow.training_outcome()) {
        (Some(d), _) => (
            Evaluation::WhatsApp(Box::new(d.clone())),
            // The line the filter logs in Envoy, without `ts`: the engine has no clock here.
            // A line Envoy would leave out (an allowed decision not sampled) is shown with the
            // sample it would carry.
            Some(report::decision_line(
                d,
                &report::LineContext {
                    request_id: &request_id,
                    policy: &policy.fingerprint,
                    salt: &policy.log.recipient_hash_salt,
                    sample: report::log_sample(d, &policy.log, &request_id)
                        .unwrap_or(policy.log.allowed_sample_rate),
                    now_nanos: None,
                },
            )),
        ),
        (None, Some(t)) => (
            Evaluation::Training(Box::new(t.clone())),
            Some(report::training_log_line(
                t,
                &request_id,
                &policy.fingerprint,
            )),
        ),
        (None, None) => (Evaluation::Ungoverned, None),
    };
    Evaluated {
        evaluation,
        forwarded,
        reply,
        log_line,
    }
}

/// A training upload fed chunk by chunk, as a host streams it: each chunk returns the bytes to
/// forward now; `finish` returns the rest. A refusal is the 403 to answer instead, after which
/// nothing more is forwarded (the host must not send what it forwarded so far as complete).
#[derive(Debug)]
pub struct UploadStream {
    flow: RequestFlow,
    /// What the host would still hold in its buffer (held back or paused).
    buffered: Vec<u8>,
    /// The request is not inspected (an exclusive endpoint): every byte is forwarded.
    passthrough: bool,
    refused: Option<LocalReply>,
    finished: bool,
}

impl UploadStream {
    /// Starts an upload; `None` when the request is not an upload the policy inspects or lets
    /// through (a WhatsApp call, an ungoverned request).
    pub fn start(policy: &Policy, request: &HostRequest) -> Option<Self> {
        let store = MemoryStore::default();
        let (flow, step) = RequestFlow::on_request_headers(
            policy,
            &request.head(false),
            &request.attributes(),
            &store,
        );
        let (passthrough, refused) = match step {
            HeadersStep::Strip { .. } => (false, None),
            HeadersStep::Respond(r) if flow.training_outcome().is_some() => (false, Some(r)),
            HeadersStep::PassThrough | HeadersStep::Continue
                if flow.training_outcome().is_some() =>
            {
                (true, None)
            }
            _ => return None,
        };
        Some(Self {
            flow,
            buffered: Vec::new(),
            passthrough,
            refused,
            finished: false,
        })
    }

    /// Feeds the next chunk and returns the bytes to forward now.
    pub fn feed(&mut self, policy: &Policy, chunk: &[u8]) -> Result<Vec<u8>, LocalReply> {
        self.step(policy, chunk, false)
    }

    /// Ends the upload and returns the bytes still to forward.
    pub fn finish(&mut self, policy: &Policy) -> Result<Vec<u8>, LocalReply> {
        let rest = self.step(policy, &[], true);
        self.finished = true;
        rest
    }

    fn step(&mut self, policy: &Policy, chunk: &[u8], end: bool) -> Result<Vec<u8>, LocalReply> {
        if let Some(r) = &self.refused {
            return Err(r.clone());
        }
        if self.finished {
            return Ok(Vec::new());
        }
        self.buffered.extend_from_slice(chunk);
        if self.passthrough || !self.flow.awaiting_body() {
            return Ok(std::mem::take(&mut self.buffered));
        }
        let snapshot = self.buffered.clone();
        let mut read = |n: usize| snapshot.get(..n).map(<[u8]>::to_vec);
        match self
            .flow
            .on_request_body(policy, self.buffered.len(), end, &mut read)
        {
            BodyStep::Pause if !end => Ok(Vec::new()),
            BodyStep::Pause | BodyStep::Continue => Ok(std::mem::take(&mut self.buffered)),
            BodyStep::Replace(bytes) => {
                self.buffered.clear();
                Ok(bytes)
            }
            BodyStep::Hold(bytes) if end => {
                self.buffered.clear();
                Ok(bytes)
            }
            BodyStep::Hold(bytes) => {
                self.buffered = bytes;
                Ok(Vec::new())
            }
            BodyStep::Respond(r) => {
                self.refused = Some(r.clone());
                Err(r)
            }
        }
    }

    /// The outcome so far (final once `finish` returned or the upload was refused).
    pub fn outcome(&self) -> Option<&TrainingOutcome> {
        self.flow.training_outcome()
    }
}

/// One policy case checked as `filter/tests/policy_cases.rs` checks it natively: the verdict
/// matches `want`, and a request that goes through unchanged reaches the upstream byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseCheck {
    pub observed: Observed,
    /// Why the case failed, if it did.
    pub failure: Option<String>,
}

/// Runs one case (`{note, request, want}`, as in `policies/tests/*.json`) whole-body.
pub fn check_case(policy: &Policy, case: &Case) -> Result<CaseCheck, String> {
    let got = cases::run_native(policy, &case.request, &[])?;
    let mut failure = (!got.satisfies(&case.want)).then(|| {
        format!(
            "want {} {:?} {:?}, got {} {:?} {:?}",
            case.want.decision,
            case.want.rule,
            case.want.reason,
            got.decision,
            got.rule,
            got.reason
        )
    });
    let unchanged = matches!(
        got.decision.as_str(),
        "allow" | "none" | "forward" | "exclusive"
    ) || (got.decision == "audit" && got.records_stripped.is_none());
    if failure.is_none() && unchanged {
        let expected = cases::unchanged_body(policy, &case.request, &got)?;
        if got.forwarded_body.as_deref() != Some(&expected[..]) {
            failure = Some("an allowed body must reach the upstream byte for byte".into());
        }
    }
    Ok(CaseCheck {
        observed: got,
        failure,
    })
}

/// The policy as a tool that reports where records were stripped needs it: every upload's
/// stripper lists the records it strips (`TrainingOutcome::stats.stripped`). Envoy's filter
/// never lists them; the list costs an entry per stripped record.
pub fn listing_stripped(policy: &Policy) -> Policy {
    let mut p = policy.clone();
    if let Some(t) = &mut p.training {
        t.list_stripped = true;
    }
    p
}
