//! The native runner: a case's request driven through `RequestFlow` the way Envoy drives the
//! glue (headers, then the body in chunks, then the upstream's answer).

use super::{CaseRequest, Observed};
use crate::flow::{BodyStep, HeadersStep, RequestFlow, RequestHead, ResponseStep, StateAccess};
use crate::policy::Policy;
use crate::report::LocalReply;
use crate::shared_store::MemoryStore;

/// Runs one request through the native engine the way Envoy drives the glue: headers, then the
/// body in the given chunk sizes (the remainder forms the last chunk).
pub fn run_native(
    policy: &Policy,
    req: &CaseRequest,
    chunk_sizes: &[usize],
) -> Result<Observed, String> {
    run_native_with(policy, req, chunk_sizes, &mut MemoryStore::default())
}

/// The clock of a case run without one (nanoseconds since the epoch: 2027-01-15T08:00:00Z).
pub const CASE_CLOCK_NANOS: u64 = 1_799_913_600_000_000_000;

/// [`run_native`] with the host's shared data: the requests of one session (the parts of an
/// upload) share `store`. The upstream accepts what reaches it with a 200 whose body is
/// `{"id": "<x-case-part-id>"}`, the header a case sets to play the upstream's part id.
pub fn run_native_with(
    policy: &Policy,
    req: &CaseRequest,
    chunk_sizes: &[usize],
    store: &mut MemoryStore,
) -> Result<Observed, String> {
    run_native_at(policy, req, chunk_sizes, store, CASE_CLOCK_NANOS)
}

/// The body a request that goes through unchanged must reach the upstream with: a training
/// upload is forwarded decoded (identity-encoded), an object written to a training bucket as
/// sent, anything else as sent.
pub fn unchanged_body(
    policy: &Policy,
    req: &CaseRequest,
    got: &Observed,
) -> Result<Vec<u8>, String> {
    let object = policy
        .training
        .as_ref()
        .is_some_and(|t| t.buckets.iter().any(|b| Some(&b.id) == got.rule.as_ref()));
    if got.decision == "forward" && !object {
        req.plain_body_bytes()
    } else {
        req.body_bytes()
    }
}

/// [`run_native_with`] at a given time of the host's clock (the sends of a conversation).
pub fn run_native_at(
    policy: &Policy,
    req: &CaseRequest,
    chunk_sizes: &[usize],
    store: &mut MemoryStore,
    now_nanos: u64,
) -> Result<Observed, String> {
    let body = req.body_bytes()?;
    let mut head = RequestHead::from_headers(
        req.method.clone(),
        req.authority.clone(),
        req.path.clone(),
        &|name| req.header(name),
        body.is_empty() && !req.trailers,
    );
    head.request_id.get_or_insert_with(|| "case-request".into());
    let attrs = req.attributes();
    let mut state = crate::flow::StateAccess::new(store, Some(now_nanos));
    let (mut flow, step) =
        RequestFlow::on_request_headers_with_state(policy, &head, &attrs, &mut state);
    let observed = |flow: &RequestFlow, status: u32, forwarded: Option<Vec<u8>>| {
        if let Some(t) = flow.training_outcome() {
            return Observed {
                decision: t.verdict.as_str().to_owned(),
                rule: Some(t.endpoint.clone()),
                reason: t.problem.map(str::to_owned),
                status,
                forwarded_body: forwarded,
                records_stripped: Some(t.stats.records_stripped),
            };
        }
        let d = flow.decision();
        Observed {
            decision: d.map_or("none", |d| d.verdict.as_str()).to_owned(),
            rule: d.map(|d| d.rule.clone()),
            reason: d.map(|d| d.reason.as_str().to_owned()),
            status,
            forwarded_body: forwarded,
            records_stripped: None,
        }
    };
    // Only a step that removes `content-length` lets the body change: under `InspectBody` the
    // upstream reads the client's length, so bytes forwarded in place of the body would be
    // framed wrong.
    let framed_by_client = match step {
        HeadersStep::Respond(r) => return Ok(observed(&flow, r.status, None)),
        HeadersStep::PassThrough | HeadersStep::Continue => {
            return Ok(observed(&flow, 200, Some(body)));
        }
        HeadersStep::InspectRewritable { .. } => {
            // This host always removes the headers it is asked to.
            flow.framing_removed();
            false
        }
        HeadersStep::InspectBody => true,
        // An upload that keeps its `content-length` (an object written to a training bucket)
        // must reach the upstream byte for byte.
        HeadersStep::Strip { ref remove_headers } => !remove_headers.contains(&"content-length"),
    };
    let mut chunks = Vec::new();
    let mut offset = 0;
    let mut sizes = chunk_sizes.iter().copied().filter(|s| *s > 0);
    while offset < body.len() {
        let size = sizes
            .next()
            .unwrap_or(body.len() - offset)
            .min(body.len() - offset);
        chunks.push(
            body.get(offset..offset + size)
                .ok_or("chunk out of range")?,
        );
        offset += size;
    }
    let driven = {
        let mut state = StateAccess::new(store, Some(now_nanos));
        drive_body_with_state(&mut flow, policy, chunks, req.trailers, &mut state)
    };
    Ok(match driven {
        Ok(forwarded) if framed_by_client && forwarded != body => {
            return Err(format!(
                "a {}-byte body was replaced by {} bytes under the client's content-length",
                body.len(),
                forwarded.len()
            ));
        }
        Ok(forwarded) => {
            if flow.on_response_headers(store, 200) == ResponseStep::ReadBody {
                let id = req.header("x-case-part-id").unwrap_or_default();
                let body = serde_json::json!({"id": id, "object": "upload.part"}).to_string();
                flow.on_response_body(store, Some(body.as_bytes()));
            }
            observed(&flow, 200, Some(forwarded))
        }
        Err(reply) => {
            flow.on_response_headers(store, reply.status);
            observed(&flow, reply.status, None)
        }
    })
}

/// Feeds a body to a flow the way Envoy does, and returns what the upstream receives, or the
/// local reply that ended the request. Envoy keeps what a callback did not forward (`Pause`,
/// `Hold`) and hands it over again, with the next chunk, at the next callback. With
/// `ends_with_trailers`, no chunk carries `end_of_stream`; the stream ends in the trailers
/// callback, which can only rewrite a body that the last body callback kept buffered.
pub fn drive_body<'a>(
    flow: &mut RequestFlow,
    policy: &Policy,
    chunks: impl IntoIterator<Item = &'a [u8]>,
    ends_with_trailers: bool,
) -> Result<Vec<u8>, LocalReply> {
    let mut no_store = crate::shared_store::NoStore;
    let mut state = StateAccess::new(&mut no_store, None);
    drive_body_with_state(flow, policy, chunks, ends_with_trailers, &mut state)
}

/// [`drive_body`] with the host's shared data and clock, for the conversation rules.
pub fn drive_body_with_state<'a>(
    flow: &mut RequestFlow,
    policy: &Policy,
    chunks: impl IntoIterator<Item = &'a [u8]>,
    ends_with_trailers: bool,
    state: &mut StateAccess<'_>,
) -> Result<Vec<u8>, LocalReply> {
    let mut buffered: Vec<u8> = Vec::new();
    let mut forwarded: Vec<u8> = Vec::new();
    let mut chunks = chunks.into_iter().peekable();
    let mut any = false;
    while let Some(chunk) = chunks.next() {
        any = true;
        let eos = chunks.peek().is_none() && !ends_with_trailers;
        buffered.extend_from_slice(chunk);
        if !flow.awaiting_body() {
            forwarded.append(&mut buffered);
            continue;
        }
        let snapshot = buffered.clone();
        let mut read = |n: usize| snapshot.get(..n).map(<[u8]>::to_vec);
        match flow.on_request_body_with_state(policy, buffered.len(), eos, &mut read, state) {
            BodyStep::Pause => {}
            BodyStep::Continue => forwarded.append(&mut buffered),
            BodyStep::Replace(bytes) => {
                forwarded.extend_from_slice(&bytes);
                buffered.clear();
            }
            BodyStep::Hold(bytes) => buffered = bytes,
            BodyStep::Respond(r) => return Err(r),
        }
    }
    if (ends_with_trailers || !any) && flow.awaiting_body() {
        // The trailers callback: the body is reachable only while the host holds some of it.
        let snapshot = buffered.clone();
        let mut read = |n: usize| snapshot.get(..n).map(<[u8]>::to_vec);
        match flow.on_request_body_with_state(policy, buffered.len(), true, &mut read, state) {
            BodyStep::Pause | BodyStep::Continue => forwarded.append(&mut buffered),
            BodyStep::Replace(bytes) | BodyStep::Hold(bytes)
                if buffered.is_empty() && !bytes.is_empty() =>
            {
                return Err(flow.refuse_unwritable(policy));
            }
            BodyStep::Replace(bytes) | BodyStep::Hold(bytes) => forwarded.extend_from_slice(&bytes),
            BodyStep::Respond(r) => return Err(r),
        }
    }
    Ok(forwarded)
}
