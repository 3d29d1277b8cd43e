//! Load, then compile: the plugin configuration becomes a runnable `Policy`, or a list of every
//! problem with its JSON path. Regexes are compiled here, once per configuration, never per request.

mod cloud_api;
mod compile;
mod problem;
mod rules;

pub use problem::{PolicyError, Problem};
pub use rules::{BUILTIN_RULES, MESSAGE_TYPES};

use crate::classify::Classifier;
use crate::digest::short_hash;
use crate::document::{Action, LogSection, Mode, PolicyDocument, Role, RuleAction};
use crate::identity::{IdentityPattern, IdentitySource};
use crate::training::TrainingPolicy;
use crate::whatsapp::canonical_path_id;

/// An origin: identity patterns mapped to a role.
#[derive(Debug, Clone)]
pub struct Origin {
    pub id: String,
    pub patterns: Vec<IdentityPattern>,
    pub role: Role,
    pub message_types: Option<Vec<String>>,
    pub mode: Option<Mode>,
    /// What a `general_assistant` origin's sends get.
    pub action: RuleAction,
}

/// A phone-number rule: path ids mapped to a declared purpose and the origins allowed to use them.
#[derive(Debug, Clone)]
pub struct PhoneNumberRule {
    pub id: String,
    pub path_ids: Vec<String>,
    pub purpose: Role,
    pub allowed_origins: Vec<String>,
    pub mode: Option<Mode>,
    /// What the sends this rule refuses get.
    pub action: RuleAction,
}

#[derive(Debug, Clone)]
pub struct ContentPolicy {
    pub enabled: bool,
    pub score_unknown: bool,
    pub score_customer_service: bool,
    pub classifier: Classifier,
    pub mode: Option<Mode>,
    /// What a send the classifier finds gets.
    pub action: RuleAction,
}

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_body_bytes: usize,
    pub max_decompressed_bytes: usize,
    pub on_oversize: Action,
    pub on_invalid_body: Action,
    pub on_unsupported_encoding: Action,
    pub mode: Option<Mode>,
}

/// A compiled, validated policy.
#[derive(Debug, Clone)]
pub struct Policy {
    pub mode: Mode,
    pub default_action: Action,
    pub whatsapp_hosts: Vec<String>,
    pub edges: Vec<crate::whatsapp::Edge>,
    /// The providers whose WhatsApp sends are read (`whatsapp.providers`).
    pub providers: Vec<crate::whatsapp::providers::ProviderRoute>,
    pub indirect_sends: Action,
    pub identity_sources: Vec<IdentitySource>,
    pub origins: Vec<Origin>,
    pub unknown_number: Action,
    pub numbers: Vec<PhoneNumberRule>,
    pub content: ContentPolicy,
    pub limits: Limits,
    pub log: LogSection,
    pub training: Option<TrainingPolicy>,
    /// The signature check of Meta's webhook deliveries on the ingress route.
    pub webhook: Option<crate::webhook::WebhookPolicy>,
    /// The message a handed-off send is replaced with (present whenever a rule hands off).
    pub handoff: Option<crate::handoff::HandoffPolicy>,
    /// State across the sends to one recipient: the unanswered budget, conversation scoring.
    pub conversation: Option<crate::conversation::ConversationPolicy>,
    /// A short SHA-256 of the configuration bytes, logged with every decision so that each one
    /// can be tied to the policy version that made it.
    pub fingerprint: String,
}

pub use crate::document::MIN_SAMPLE_RATE;

impl Policy {
    /// Parses and compiles a policy from the plugin configuration bytes.
    pub fn from_json(bytes: &[u8]) -> Result<Self, PolicyError> {
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| PolicyError::Syntax(e.to_string()))?;
        let fingerprint = short_hash(bytes);
        let doc: PolicyDocument = serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            let path = if path == "." {
                "$".to_owned()
            } else {
                format!("$.{path}")
            };
            PolicyError::Invalid(vec![Problem {
                path,
                message: e.into_inner().to_string(),
            }])
        })?;
        let mut policy = Self::compile(&doc)?;
        // The model is part of what decides: a retrained model is a new policy version.
        policy.fingerprint = format!(
            "{fingerprint}.{}",
            policy.content.classifier.model_version()
        );
        Ok(policy)
    }

    /// Whether any rule of the policy can apply to a request for this authority. Everything
    /// else passes untouched without reading more of the request.
    pub fn governs_host(&self, authority: &str) -> bool {
        let host = crate::whatsapp::normalize_authority(authority);
        self.is_whatsapp_host(&host)
            || self.provider_for(&host).is_some()
            || self
                .training
                .as_ref()
                .is_some_and(|t| t.governs_host(&host))
            || self.webhook_host(&host)
    }

    /// Whether `authority` (normalised) is a host of the webhook ingress route.
    pub fn webhook_host(&self, normalized_authority: &str) -> bool {
        self.webhook
            .as_ref()
            .is_some_and(|w| w.matches_host(normalized_authority))
    }

    /// Whether `authority` names a WhatsApp Cloud API host.
    pub fn is_whatsapp_host(&self, normalized_authority: &str) -> bool {
        self.whatsapp_hosts
            .iter()
            .any(|h| h == normalized_authority)
    }

    /// The enabled provider serving `authority` (normalised), if any.
    pub fn provider_for(
        &self,
        normalized_authority: &str,
    ) -> Option<&crate::whatsapp::providers::ProviderRoute> {
        self.providers
            .iter()
            .find(|p| p.matches(normalized_authority))
    }

    /// The rule naming a path id (rules hold their ids canonical, see [`canonical_path_id`]).
    pub fn number_rule(&self, path_id: &str) -> Option<&PhoneNumberRule> {
        let id = canonical_path_id(path_id);
        self.numbers.iter().find(|n| n.path_ids.contains(&id))
    }
}

#[cfg(test)]
mod tests;
