//! The `webhook` section: the signed ingress route of Meta's webhook deliveries.

use super::Mode;
use serde::Deserialize;

/// The ingress route of Meta's webhooks: every request to one of `hosts` under one of
/// `path_prefixes` must be signed (`X-Hub-Signature-256`) with one of the app secrets, except
/// the `GET` verification handshake.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSection {
    /// Hosts of the ingress route. Matched case-insensitively, ignoring the port and a trailing dot.
    pub hosts: Vec<String>,
    /// Paths of the webhook endpoint, matched on a segment boundary (`/` for every path).
    pub path_prefixes: Vec<String>,
    /// App secrets, any one of which signs a valid delivery (two while a secret is rotated).
    #[serde(default)]
    pub app_secrets: Vec<String>,
    /// Names of environment variables of the Wasm VM that hold an app secret (Envoy:
    /// `vm_config.environment_variables`), so that the secret need not sit in the policy.
    #[serde(default)]
    pub app_secret_env: Vec<String>,
    /// The largest delivery body, which is held whole to be verified; larger is refused.
    #[serde(default = "default_max_webhook_body")]
    pub max_body_bytes: u64,
    /// `enforce` refuses an unsigned or forged delivery with a 401; `audit` forwards it and logs.
    #[serde(default)]
    pub mode: Mode,
}

fn default_max_webhook_body() -> u64 {
    1 << 20
}
