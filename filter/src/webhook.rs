//! Meta's webhook deliveries on the ingress route: each one must carry `X-Hub-Signature-256`,
//! `sha256=` and the hex HMAC-SHA256 of the raw request body under the app secret. Anyone who
//! can reach the route could otherwise forge an inbound message.
//!
//! Pure engine: the policy section, the signature check and the per-request state. The glue
//! buffers the body, feeds it here, and forwards it unchanged or sends the reply.

use crate::digest::hmac_sha256;
use crate::document::{Mode, WebhookSection};
use crate::local_reply::{DECISION_HEADER, LocalReply, RULE_HEADER};
use crate::timestamp::rfc3339_millis;
use serde_json::{Value, json};

/// The counter of every delivery checked: `wa_guard_webhooks_total{result}` once the bootstrap's
/// `stats_tags` extract the label.
pub const WEBHOOKS_METRIC: &str = "wa_guard_webhooks_total";

/// The header Meta signs deliveries with.
pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";

/// The largest `webhook.max_body_bytes` a policy may set.
const MAX_BODY_LIMIT: u64 = 16 << 20;

/// What the check of one delivery found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookResult {
    /// Signed with one of the app secrets.
    Valid,
    /// No `X-Hub-Signature-256` header.
    Missing,
    /// A signature that is malformed, repeated, or made with another key or over other bytes.
    Invalid,
    /// A body larger than `webhook.max_body_bytes`: not read, so not verified.
    TooLarge,
}

impl WebhookResult {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Valid => "valid",
            Self::Missing => "missing",
            Self::Invalid => "invalid",
            Self::TooLarge => "too_large",
        }
    }
}

/// The signature header's 32 bytes: `sha256=` (any case) and 64 hex digits (any case).
fn parse_signature(header: &str) -> Option<[u8; 32]> {
    let header = header.trim();
    let prefix = header.get(..7)?;
    if !prefix.eq_ignore_ascii_case("sha256=") {
        return None;
    }
    let hex = header.get(7..)?.as_bytes();
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        let [hi, lo] = pair else { return None };
        *byte = (crate::hex::digit(*hi)? << 4) | crate::hex::digit(*lo)?;
    }
    Some(out)
}

/// Equality whose time does not depend on where two digests first differ.
fn same_digest(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// Checks a delivery: `header` is the value of its one `X-Hub-Signature-256` header (`None`:
/// absent), `body` its exact raw bytes. Every secret is tried, so the time taken does not say
/// which one matched (rotation keeps the old and the new secret for a while).
pub fn check_signature(secrets: &[Vec<u8>], header: Option<&str>, body: &[u8]) -> WebhookResult {
    let Some(header) = header else {
        return WebhookResult::Missing;
    };
    let Some(claimed) = parse_signature(header) else {
        return WebhookResult::Invalid;
    };
    let matched = secrets.iter().fold(false, |found, secret| {
        same_digest(&hmac_sha256(secret, body), &claimed) | found
    });
    if matched {
        WebhookResult::Valid
    } else {
        WebhookResult::Invalid
    }
}

/// The `webhook` section, compiled.
#[derive(Debug, Clone)]
pub struct WebhookPolicy {
    /// Normalised hosts of the ingress route.
    pub hosts: Vec<String>,
    /// Each prefix's normalised segments (`[]` for `/`).
    pub path_prefixes: Vec<Vec<String>>,
    /// The app secrets written in the policy, then those read from the VM's environment.
    pub secrets: Vec<Vec<u8>>,
    /// Names of environment variables that hold a secret, resolved by [`WebhookPolicy::resolve_environment`].
    pub secret_env: Vec<String>,
    pub max_body_bytes: usize,
    pub mode: Mode,
    /// Read the inbound messages of each verified delivery (the policy keeps conversations).
    pub reads_inbound: bool,
}

/// A `webhook.app_secret_env` variable the VM does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error(
        "`webhook.app_secret_env`: the environment variable `{0}` is not set or empty in the Wasm VM (Envoy: `vm_config.environment_variables`)"
    )]
    MissingSecret(String),
}

impl WebhookPolicy {
    /// Validates the section; problems carry their JSON path.
    pub fn compile(doc: &WebhookSection) -> Result<Self, Vec<(String, String)>> {
        let mut problems = Vec::new();
        let mut hosts = Vec::new();
        if doc.hosts.is_empty() {
            problems.push((
                "$.webhook.hosts".to_owned(),
                "at least one host is required".to_owned(),
            ));
        }
        for (i, h) in doc.hosts.iter().enumerate() {
            let norm = crate::whatsapp::normalize_authority(h);
            if norm.is_empty()
                || !norm
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
            {
                problems.push((
                    format!("$.webhook.hosts[{i}]"),
                    format!("invalid host `{h}`"),
                ));
            } else {
                hosts.push(norm);
            }
        }
        if doc.path_prefixes.is_empty() {
            problems.push((
                "$.webhook.path_prefixes".to_owned(),
                "at least one path prefix is required (`/` for every path)".to_owned(),
            ));
        }
        for (i, p) in doc.path_prefixes.iter().enumerate() {
            if !p.starts_with('/') || p.contains(['?', '#']) {
                problems.push((
                    format!("$.webhook.path_prefixes[{i}]"),
                    format!("invalid path prefix `{p}`: a path starting with `/`, without query"),
                ));
            }
        }
        if doc.app_secrets.is_empty() && doc.app_secret_env.is_empty() {
            problems.push((
                "$.webhook".to_owned(),
                "at least one secret is required, in `app_secrets` or `app_secret_env`".to_owned(),
            ));
        }
        for (i, s) in doc.app_secrets.iter().enumerate() {
            if s.is_empty() {
                problems.push((
                    format!("$.webhook.app_secrets[{i}]"),
                    "an app secret may not be empty".to_owned(),
                ));
            }
        }
        for (i, name) in doc.app_secret_env.iter().enumerate() {
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                problems.push((
                    format!("$.webhook.app_secret_env[{i}]"),
                    format!("invalid environment variable name `{name}`"),
                ));
            }
        }
        if doc.max_body_bytes == 0 || doc.max_body_bytes > MAX_BODY_LIMIT {
            problems.push((
                "$.webhook.max_body_bytes".to_owned(),
                format!(
                    "must be between 1 and {MAX_BODY_LIMIT}, got `{}`",
                    doc.max_body_bytes
                ),
            ));
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Self {
            hosts,
            path_prefixes: doc
                .path_prefixes
                .iter()
                .map(|p| crate::whatsapp::normalize_path(p).segments)
                .collect(),
            secrets: doc
                .app_secrets
                .iter()
                .map(|s| s.as_bytes().to_vec())
                .collect(),
            secret_env: doc.app_secret_env.clone(),
            max_body_bytes: usize::try_from(doc.max_body_bytes).unwrap_or(usize::MAX),
            mode: doc.mode,
            reads_inbound: false,
        })
    }

    /// Adds the secrets of `app_secret_env`, read through `lookup` (the VM's environment). A
    /// variable that is absent or empty fails the configuration: the route would otherwise run
    /// with fewer secrets than the policy says.
    pub fn resolve_environment(
        &mut self,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<(), WebhookError> {
        for name in &self.secret_env {
            match lookup(name) {
                Some(value) if !value.is_empty() => self.secrets.push(value.into_bytes()),
                _ => return Err(WebhookError::MissingSecret(name.clone())),
            }
        }
        Ok(())
    }

    /// Whether the host (normalised) is one of the ingress route's.
    pub fn matches_host(&self, normalized_authority: &str) -> bool {
        self.hosts.iter().any(|h| h == normalized_authority)
    }

    /// Whether a path (with its query) lies under one of the prefixes, on a segment boundary:
    /// `/wa/hook` covers `/wa/hook`, `/wa/hook/x` and `/wa/hook?x`, not `/wa/hooks`. Both are
    /// compared normalised as WhatsApp paths are (percent-decoded, any case, dot segments and
    /// duplicate slashes resolved), so a spelling the endpoint's router may accept
    /// (`/WA/%68ook`, `/x/../wa/hook`) is still checked: matching more only checks more.
    pub fn matches_path(&self, path: &str) -> bool {
        let segments = crate::whatsapp::normalize_path(path).segments;
        self.path_prefixes
            .iter()
            .any(|prefix| segments.starts_with(prefix))
    }
}

/// Meta's verification handshake: `GET` with `hub.mode=subscribe` in the query. It carries no
/// body and no signature (the business's endpoint checks `hub.verify_token` itself); a request
/// with a body is a delivery, whatever its method and query.
pub fn is_handshake(method: &str, path: &str) -> bool {
    if !method.eq_ignore_ascii_case("GET") {
        return false;
    }
    let Some((_, query)) = path.split_once('?') else {
        return false;
    };
    query
        .split('#')
        .next()
        .unwrap_or_default()
        .split('&')
        .any(|pair| pair == "hub.mode=subscribe")
}

/// What the glue does next with a webhook request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookStep {
    /// Forward (the handshake, a verified delivery, or any delivery in audit mode).
    Continue,
    /// Hold the body until its end.
    Pause,
    /// Refuse the delivery with this reply.
    Respond(LocalReply),
}

/// A finished check, for the metric and the log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookOutcome {
    pub result: WebhookResult,
    /// `allow`, `block`, or `audit` (a delivery that failed the check, forwarded in audit mode).
    pub decision: &'static str,
    pub body_bytes: usize,
}

/// One webhook request, from its headers to its verdict.
#[derive(Debug)]
pub struct WebhookDelivery {
    signature: Option<String>,
    request_id: String,
    /// Still holding the body for the check.
    awaiting_body: bool,
    outcome: Option<WebhookOutcome>,
    reported: bool,
    /// The inbound messages of a verified delivery, until the glue records them.
    inbound: Vec<crate::conversation::Inbound>,
}

impl WebhookDelivery {
    /// Starts on the request's headers. `signature` is `Err(())` when the header is repeated
    /// (two signatures cannot both be the one Meta sent). `content_length` lets an oversized
    /// delivery be refused before its body arrives.
    pub fn on_headers(
        policy: &WebhookPolicy,
        method: &str,
        path: &str,
        signature: Result<Option<String>, ()>,
        content_length: Option<&str>,
        request_id: String,
        end_of_stream: bool,
    ) -> (Self, WebhookStep) {
        let mut delivery = Self {
            signature: None,
            request_id,
            awaiting_body: false,
            outcome: None,
            reported: false,
            inbound: Vec::new(),
        };
        if end_of_stream && is_handshake(method, path) {
            return (delivery, WebhookStep::Continue);
        }
        let signature = match signature {
            Ok(s) => s,
            Err(()) => {
                let step = delivery.finish(policy, WebhookResult::Invalid, 0);
                return (delivery, step);
            }
        };
        delivery.signature = signature;
        let declared = content_length.and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|n| n > u64::try_from(policy.max_body_bytes).unwrap_or(u64::MAX)) {
            let size = declared
                .and_then(|n| usize::try_from(n).ok())
                .unwrap_or(usize::MAX);
            let step = delivery.finish(policy, WebhookResult::TooLarge, size);
            return (delivery, step);
        }
        if end_of_stream {
            let step = delivery.verify(policy, &[]);
            return (delivery, step);
        }
        delivery.awaiting_body = true;
        (delivery, WebhookStep::Continue)
    }

    /// Whether the body is still held for the check (the glue reads it at trailers otherwise).
    pub fn awaiting_body(&self) -> bool {
        self.awaiting_body
    }

    /// A body callback: `body_size` bytes are buffered so far. `read(n)` returns the first `n`
    /// buffered bytes, `None` when the host cannot give them.
    pub fn on_body(
        &mut self,
        policy: &WebhookPolicy,
        body_size: usize,
        end_of_stream: bool,
        read: &mut dyn FnMut(usize) -> Option<Vec<u8>>,
    ) -> WebhookStep {
        if !self.awaiting_body {
            return WebhookStep::Continue;
        }
        if body_size > policy.max_body_bytes {
            self.awaiting_body = false;
            return self.finish(policy, WebhookResult::TooLarge, body_size);
        }
        if !end_of_stream {
            return WebhookStep::Pause;
        }
        self.awaiting_body = false;
        match read(body_size) {
            Some(body) if body.len() == body_size => self.verify(policy, &body),
            // A body the host will not give cannot be verified: fail closed.
            _ => self.finish(policy, WebhookResult::Invalid, body_size),
        }
    }

    fn verify(&mut self, policy: &WebhookPolicy, body: &[u8]) -> WebhookStep {
        let result = check_signature(&policy.secrets, self.signature.as_deref(), body);
        // Only a delivery Meta signed says anything about a recipient: a forged or unsigned
        // one (forwarded in audit mode) is never read.
        if result == WebhookResult::Valid && policy.reads_inbound {
            self.inbound = crate::conversation::inbound_messages(body);
        }
        self.finish(policy, result, body.len())
    }

    /// The inbound messages of the verified delivery, once (for the glue to record).
    pub fn take_inbound(&mut self) -> Vec<crate::conversation::Inbound> {
        std::mem::take(&mut self.inbound)
    }

    fn finish(
        &mut self,
        policy: &WebhookPolicy,
        result: WebhookResult,
        body_bytes: usize,
    ) -> WebhookStep {
        self.awaiting_body = false;
        let (decision, step) = match (result, policy.mode) {
            (WebhookResult::Valid, _) => ("allow", WebhookStep::Continue),
            (_, Mode::Audit) => ("audit", WebhookStep::Continue),
            (_, Mode::Enforce) => ("block", WebhookStep::Respond(refusal(result))),
        };
        self.outcome = Some(WebhookOutcome {
            result,
            decision,
            body_bytes,
        });
        step
    }

    /// The outcome of the check once made, returned once (for one metric and one line).
    pub fn take_new_outcome(&mut self) -> Option<&WebhookOutcome> {
        if self.reported {
            return None;
        }
        let outcome = self.outcome.as_ref()?;
        self.reported = true;
        Some(outcome)
    }

    pub fn request_id(&self) -> &str {
        &self.request_id
    }
}

/// The reply to a refused delivery: 401 for a missing or bad signature, 413 for a body too large
/// to verify. Says what failed, never what was expected.
pub fn refusal(result: WebhookResult) -> LocalReply {
    let (status, message) = match result {
        WebhookResult::TooLarge => (
            413,
            "wa-egress-guard: the webhook body is larger than the route accepts, so its signature cannot be verified",
        ),
        WebhookResult::Missing => (
            401,
            "wa-egress-guard: the webhook delivery has no X-Hub-Signature-256 header",
        ),
        WebhookResult::Invalid | WebhookResult::Valid => (
            401,
            "wa-egress-guard: the X-Hub-Signature-256 of the webhook delivery does not match its body",
        ),
    };
    let body = json!({"error": {"message": message, "type": "wa_egress_guard", "code": format!("webhook_signature_{}", result.as_str())}});
    LocalReply {
        status,
        headers: vec![
            ("content-type".into(), "application/json".into()),
            (DECISION_HEADER.into(), "block".into()),
            (RULE_HEADER.into(), "webhook_signature".into()),
        ],
        body: body.to_string().into_bytes(),
    }
}

/// The metric a checked delivery increments: `wa_guard_webhooks_total.result.<result>`.
pub fn metric_name(outcome: &WebhookOutcome) -> String {
    format!("{WEBHOOKS_METRIC}.result.{}", outcome.result.as_str())
}

/// The log line of a checked delivery: what was decided, never the body, the signature or a
/// secret.
pub fn log_line(
    outcome: &WebhookOutcome,
    request_id: &str,
    policy: &str,
    now_nanos: Option<u64>,
) -> String {
    let mut line = json!({
        "event": "wa_egress_guard.webhook",
        "request_id": request_id,
        "policy": policy,
        "decision": outcome.decision,
        "rule": "webhook_signature",
        "result": outcome.result.as_str(),
        "body_bytes": outcome.body_bytes,
    });
    if let (Some(fields), Some(now)) = (line.as_object_mut(), now_nanos) {
        fields.insert("ts".to_owned(), Value::String(rfc3339_millis(now)));
    }
    line.to_string()
}

#[cfg(test)]
mod tests;
