//! The WIT world `wa-egress-guard:policy@0.1.0` (`wit/policy.wit`) over the pure engine: a thin
//! layer that converts between WIT values and the engine's, as the proxy-wasm glue does for
//! Envoy. Every call goes through `wa_egress_guard::engine_api`, which drives the same request
//! flow the glue drives.

#![allow(
    unsafe_code,
    reason = "wit-bindgen's generated exports are unsafe extern functions; this file writes none"
)]

wit_bindgen::generate!({ world: "guard", path: "wit" });

use exports::wa_egress_guard::policy::cases::{self, CaseResult};
use exports::wa_egress_guard::policy::engine::{
    self, Action, Attribute, Decision, Evaluation, Identity, LocalReply, Outcome, Problem,
    RequestHead, StrippedRecord, UploadCounts, UploadOutcome,
};
use std::cell::RefCell;
use std::rc::Rc;
use wa_egress_guard::engine_api::{self, HostRequest, UploadStream};
use wa_egress_guard::training::upload::TrainingOutcome;
use wa_egress_guard::{Policy, Verdict};

struct Component;

export!(Component);

impl engine::Guest for Component {
    type Policy = CompiledPolicy;
    type Upload = StreamedUpload;

    fn policy_schema_version() -> u32 {
        engine_api::POLICY_SCHEMA_VERSION
    }
}

/// The `policy` resource: a compiled policy, shared with the uploads it starts.
struct CompiledPolicy(Rc<Policy>);

impl engine::GuestPolicy for CompiledPolicy {
    fn compile(json: String) -> Result<engine::Policy, Vec<Problem>> {
        match Policy::from_json(json.as_bytes()) {
            Ok(p) => Ok(engine::Policy::new(Self(Rc::new(p)))),
            Err(e) => Err(e
                .problems()
                .into_iter()
                .map(|p| Problem {
                    path: p.path,
                    message: p.message,
                })
                .collect()),
        }
    }

    fn fingerprint(&self) -> String {
        self.0.fingerprint.clone()
    }

    fn decide(
        &self,
        head: RequestHead,
        body: Vec<u8>,
        attributes: Vec<Attribute>,
    ) -> Option<Decision> {
        let e = engine_api::evaluate(&self.0, &host_request(head, attributes), &body, false);
        match e.evaluation {
            engine_api::Evaluation::WhatsApp(d) => Some(decision(&self.0, &d)),
            _ => None,
        }
    }

    fn evaluate(
        &self,
        head: RequestHead,
        body: Vec<u8>,
        attributes: Vec<Attribute>,
        explain: bool,
    ) -> Outcome {
        let e = engine_api::evaluate(&self.0, &host_request(head, attributes), &body, explain);
        Outcome {
            evaluation: match &e.evaluation {
                engine_api::Evaluation::Ungoverned => Evaluation::Ungoverned,
                engine_api::Evaluation::WhatsApp(d) => Evaluation::Whatsapp(decision(&self.0, d)),
                engine_api::Evaluation::Training(t) => Evaluation::Upload(upload_outcome(t)),
            },
            forwarded: e.forwarded,
            reply: e.reply.map(local_reply),
            log_line: e.log_line,
        }
    }

    fn start_upload(
        &self,
        head: RequestHead,
        attributes: Vec<Attribute>,
    ) -> Option<engine::Upload> {
        start(&self.0, head, attributes)
    }

    fn start_upload_listing(
        &self,
        head: RequestHead,
        attributes: Vec<Attribute>,
    ) -> Option<engine::Upload> {
        start(
            &Rc::new(engine_api::listing_stripped(&self.0)),
            head,
            attributes,
        )
    }
}

fn start(
    policy: &Rc<Policy>,
    head: RequestHead,
    attributes: Vec<Attribute>,
) -> Option<engine::Upload> {
    let stream = UploadStream::start(policy, &host_request(head, attributes))?;
    Some(engine::Upload::new(StreamedUpload {
        policy: Rc::clone(policy),
        stream: RefCell::new(stream),
    }))
}

/// The `upload` resource. Resource methods take `&self`; the component runs one call at a time,
/// so the borrow never overlaps.
struct StreamedUpload {
    policy: Rc<Policy>,
    stream: RefCell<UploadStream>,
}

impl engine::GuestUpload for StreamedUpload {
    fn feed(&self, chunk: Vec<u8>) -> Result<Vec<u8>, LocalReply> {
        self.stream
            .borrow_mut()
            .feed(&self.policy, &chunk)
            .map_err(local_reply)
    }

    fn finish(&self) -> Result<Vec<u8>, LocalReply> {
        self.stream
            .borrow_mut()
            .finish(&self.policy)
            .map_err(local_reply)
    }

    fn outcome(&self) -> Option<UploadOutcome> {
        self.stream.borrow().outcome().map(upload_outcome)
    }

    fn stripped(&self) -> Vec<StrippedRecord> {
        let stream = self.stream.borrow();
        let list = stream.outcome().and_then(|t| t.stats.stripped.as_deref());
        list.unwrap_or_default()
            .iter()
            .map(|r| StrippedRecord {
                number: r.record,
                offset: r.offset,
                detector: r.detector.to_owned(),
            })
            .collect()
    }
}

impl cases::Guest for Component {
    fn run_case(policy: engine::PolicyBorrow<'_>, case: String) -> Result<CaseResult, String> {
        let policy: &CompiledPolicy = policy.get();
        let case: wa_egress_guard::cases::Case =
            serde_json::from_str(&case).map_err(|e| format!("invalid case: {e}"))?;
        let check = engine_api::check_case(&policy.0, &case)?;
        Ok(CaseResult {
            decision: check.observed.decision,
            rule: check.observed.rule,
            reason: check.observed.reason,
            records_stripped: check.observed.records_stripped,
            failure: check.failure,
        })
    }
}

fn host_request(head: RequestHead, attributes: Vec<Attribute>) -> HostRequest {
    HostRequest {
        method: head.method,
        authority: head.authority,
        path: head.path,
        headers: head.headers,
        attributes: attributes.into_iter().map(|a| (a.name, a.value)).collect(),
    }
}

fn decision(policy: &Policy, d: &wa_egress_guard::Decision) -> Decision {
    Decision {
        action: match d.verdict {
            Verdict::Allow => Action::Allow,
            Verdict::Block => Action::Block,
            Verdict::Audit => Action::Audit,
            Verdict::Handoff => Action::Handoff,
        },
        rule: d.rule.clone(),
        reason: d.reason.as_str().to_owned(),
        role: d.role.as_str().to_owned(),
        score: d.score,
        threshold: policy.content.classifier.threshold,
        signals: d.signals.clone(),
        identity: d.identity.as_ref().map(|i| Identity {
            source: i.source.as_str().to_owned(),
            value: i.value.clone(),
        }),
        provider: d.provider.as_str().to_owned(),
        edge: d.edge.clone(),
        message_type: d.message_type.clone(),
    }
}

fn upload_outcome(t: &TrainingOutcome) -> UploadOutcome {
    UploadOutcome {
        verdict: t.verdict.as_str().to_owned(),
        endpoint: t.endpoint.clone(),
        problem: t.problem.map(str::to_owned),
        counts: UploadCounts {
            records_seen: t.stats.records_seen,
            records_stripped: t.stats.records_stripped,
            detectors: t
                .stats
                .detectors
                .iter()
                .map(|(k, v)| ((*k).to_owned(), *v))
                .collect(),
            bytes_in: t.bytes_in,
            bytes_out: t.bytes_out,
        },
    }
}

fn local_reply(r: wa_egress_guard::report::LocalReply) -> LocalReply {
    LocalReply {
        status: u16::try_from(r.status).unwrap_or(500),
        headers: r.headers,
        body: r.body,
    }
}
