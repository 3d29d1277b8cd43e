//! Policy test cases kept as data (`policies/tests/*.json`), and the native runner.
//!
//! A case file names a policy (a file plus an optional JSON merge patch, or an inline policy)
//! and a list of `{note, request, want}` cases. `host-tests` runs the same files against the
//! `.wasm`; the two must agree. Native only: this module is not compiled into the filter.

use crate::flow::{BodyStep, HeadersStep, RequestFlow, RequestHead, ResponseStep, StateAccess};
use crate::identity::StaticAttributes;
use crate::policy::Policy;
use crate::report::LocalReply;
use crate::shared_store::MemoryStore;
use base64::Engine;
use flate2::Compression;
use flate2::write::{GzEncoder, ZlibEncoder};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseFile {
    #[serde(default)]
    pub description: String,
    pub policy: PolicyRef,
    pub cases: Vec<Case>,
}

/// `{"file": "../default.json", "patch": {...}}` or `{"inline": {...}}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum PolicyRef {
    /// A policy file relative to the case file, with an optional RFC 7386 merge patch.
    File {
        file: String,
        #[serde(default)]
        patch: Option<Value>,
    },
    Inline {
        inline: Value,
    },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub note: String,
    pub request: CaseRequest,
    pub want: Want,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseRequest {
    #[serde(default = "default_method")]
    pub method: String,
    #[serde(default = "default_authority")]
    pub authority: String,
    pub path: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
    /// A JSON body, serialised compactly.
    #[serde(default)]
    pub body: Option<Value>,
    #[serde(default)]
    pub body_text: Option<String>,
    #[serde(default)]
    pub body_base64: Option<String>,
    /// Compress the body (`gzip` or `deflate`) and set `content-encoding`.
    #[serde(default)]
    pub encode: Option<String>,
    /// The request ends with trailers (HTTP/2, or chunked HTTP/1.1): no body callback carries
    /// `end_of_stream`; the stream ends in the trailers callback.
    #[serde(default)]
    pub trailers: bool,
}

fn default_method() -> String {
    "POST".into()
}

fn default_authority() -> String {
    "graph.facebook.com".into()
}

/// The expected outcome. `decision` is `allow`, `block`, `audit`, or `none` for requests the
/// filter does not govern (no decision at all); training uploads use `forward`, `strip`,
/// `block`, `audit` and `exclusive`, with the endpoint id as `rule` and the problem as `reason`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Want {
    pub decision: String,
    #[serde(default)]
    pub rule: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub records_stripped: Option<u64>,
    /// The exact body the upstream must receive (UTF-8 text).
    #[serde(default)]
    pub forwarded_text: Option<String>,
}

/// What a run produced, in the same terms as `Want`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub decision: String,
    pub rule: Option<String>,
    pub reason: Option<String>,
    /// 403 for a block, otherwise 200 (the upstream's answer).
    pub status: u32,
    /// The body as the upstream received it; `None` when nothing reached the upstream.
    pub forwarded_body: Option<Vec<u8>>,
    /// Training uploads: how many records were stripped.
    pub records_stripped: Option<u64>,
}

impl Observed {
    /// Whether this matches `want` (rule and reason are checked only when the case names them).
    pub fn satisfies(&self, want: &Want) -> bool {
        self.decision == want.decision
            && want
                .rule
                .as_ref()
                .is_none_or(|r| self.rule.as_ref() == Some(r))
            && want
                .reason
                .as_ref()
                .is_none_or(|r| self.reason.as_ref() == Some(r))
            && want
                .records_stripped
                .is_none_or(|n| self.records_stripped == Some(n))
            && want
                .forwarded_text
                .as_ref()
                .is_none_or(|t| self.forwarded_body.as_deref() == Some(t.as_bytes()))
    }
}

/// A loaded case file with its compiled policy and the policy's JSON (for the `.wasm`).
#[derive(Debug)]
pub struct LoadedCases {
    pub path: PathBuf,
    pub policy_json: String,
    pub policy: Policy,
    pub cases: Vec<Case>,
}

/// Loads every `*.json` case file in `dir`, sorted by name.
pub fn load_dir(dir: &Path) -> Result<Vec<LoadedCases>, String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read `{}`: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files.iter().map(|f| load_file(f)).collect()
}

pub fn load_file(path: &Path) -> Result<LoadedCases, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    let file: CaseFile =
        serde_json::from_str(&text).map_err(|e| format!("`{}`: {e}", path.display()))?;
    let policy_value = match &file.policy {
        PolicyRef::Inline { inline } => inline.clone(),
        PolicyRef::File { file: f, patch } => {
            let base = path.parent().unwrap_or(Path::new(".")).join(f);
            let text = std::fs::read_to_string(&base)
                .map_err(|e| format!("cannot read `{}`: {e}", base.display()))?;
            let mut v: Value =
                serde_json::from_str(&text).map_err(|e| format!("`{}`: {e}", base.display()))?;
            if let Some(p) = patch {
                merge_patch(&mut v, p);
            }
            v
        }
    };
    let policy_json = policy_value.to_string();
    let policy = Policy::from_json(policy_json.as_bytes())
        .map_err(|e| format!("`{}`: {e}", path.display()))?;
    Ok(LoadedCases {
        path: path.to_owned(),
        policy_json,
        policy,
        cases: file.cases,
    })
}

/// RFC 7386 JSON merge patch.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(serde_json::Map::new());
    }
    if let Value::Object(t) = target {
        for (k, v) in p {
            if v.is_null() {
                t.remove(k);
            } else {
                merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}

impl CaseRequest {
    /// The request headers as sent, including `content-encoding` when the case encodes.
    pub fn effective_headers(&self) -> Vec<(String, String)> {
        let mut h: Vec<(String, String)> = self
            .headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
            .collect();
        if self.body.is_some() && !h.iter().any(|(k, _)| k == "content-type") {
            h.push(("content-type".into(), "application/json".into()));
        }
        if let Some(enc) = &self.encode {
            h.push(("content-encoding".into(), enc.clone()));
        }
        h
    }

    /// The body bytes before any `encode`: what a training upload is forwarded as once the
    /// filter has decoded it (it forwards identity-encoded bytes).
    pub fn plain_body_bytes(&self) -> Result<Vec<u8>, String> {
        let mut plain = self.clone();
        if matches!(plain.encode.as_deref(), Some("gzip" | "deflate")) {
            plain.encode = None;
        }
        plain.body_bytes()
    }

    /// The body bytes as sent.
    pub fn body_bytes(&self) -> Result<Vec<u8>, String> {
        let raw = if let Some(v) = &self.body {
            serde_json::to_vec(v).map_err(|e| e.to_string())?
        } else if let Some(t) = &self.body_text {
            t.clone().into_bytes()
        } else if let Some(b) = &self.body_base64 {
            base64::engine::general_purpose::STANDARD
                .decode(b)
                .map_err(|e| format!("invalid body_base64: {e}"))?
        } else {
            Vec::new()
        };
        match self.encode.as_deref() {
            None => Ok(raw),
            Some("gzip") => {
                let mut e = GzEncoder::new(Vec::new(), Compression::default());
                e.write_all(&raw)
                    .and_then(|()| e.finish())
                    .map_err(|e| e.to_string())
            }
            Some("deflate") => {
                let mut e = ZlibEncoder::new(Vec::new(), Compression::default());
                e.write_all(&raw)
                    .and_then(|()| e.finish())
                    .map_err(|e| e.to_string())
            }
            // Any other coding is sent as is, labelled: the filter must refuse what it cannot read.
            Some(_) => Ok(raw),
        }
    }

    pub fn attributes(&self) -> StaticAttributes {
        let mut a = StaticAttributes::new();
        for (k, v) in &self.properties {
            a = a.property(k, v.as_bytes());
        }
        for (k, v) in self.effective_headers() {
            a = a.header(&k, &v);
        }
        a
    }

    fn header(&self, name: &str) -> Option<String> {
        self.effective_headers()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
}

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
