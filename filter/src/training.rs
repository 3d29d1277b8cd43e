//! The second job: find WhatsApp-derived records in uploads to AI training endpoints and strip
//! them, forwarding every other byte unchanged.
//!
//! The headers phase matches the endpoint and picks a streaming `Stripper` for the body's
//! format and encoding; the body phase feeds it chunk by chunk. Memory is bounded by the longest
//! record, never by the body.

pub mod bucket;
mod compile;
pub mod detect;
mod endpoint;
mod format;
pub mod gzip;
pub mod hf_commit;
pub mod json_doc;
pub mod multipart;
pub mod object;
pub mod parts;
pub mod stage;
mod stripper;
pub mod upload;

pub use endpoint::TrainingEndpoint;
pub use stage::StripError;
pub use stripper::Stripper;

use crate::document::{Action, Mode, UnknownGcsSessions};
use endpoint::HostPattern;
use stage::StageContext;
use std::sync::Arc;

/// A request of a GCS resumable session (`TrainingPolicy::gcs_session`).
#[derive(Debug, Clone)]
pub enum GcsSession<'a> {
    /// Starts a session for this training bucket, or (`None`) for a bucket the policy does
    /// not name.
    Start { rule: Option<&'a TrainingEndpoint> },
    /// Names sessions by these `upload_id`s (empty: by a key GCS does not read).
    Chunk(Vec<String>),
}

/// The compiled `training` section.
#[derive(Debug, Clone)]
pub struct TrainingPolicy {
    pub mode: Option<Mode>,
    pub endpoints: Vec<TrainingEndpoint>,
    pub exclusive: Vec<TrainingEndpoint>,
    /// `training.buckets`, compiled as endpoints of format `Object`.
    pub buckets: Vec<TrainingEndpoint>,
    pub on_uninspectable: Action,
    /// How a request of a GCS session the filter never saw start is judged.
    pub unknown_gcs_sessions: UnknownGcsSessions,
    /// Every stripper lists the records it strips (`StripStats::stripped`): for a tool that
    /// reports where they were (`wa-guard strip`); never set in Envoy.
    pub list_stripped: bool,
    ctx: Arc<StageContext>,
}

impl TrainingPolicy {
    /// Whether an endpoint (inspected or exclusive) is on this normalised host.
    pub fn governs_host(&self, host: &str) -> bool {
        self.endpoints
            .iter()
            .chain(&self.exclusive)
            .chain(&self.buckets)
            .any(|e| e.governs_host(host))
    }

    /// Matches a request that writes to a training bucket (after `route` found no endpoint).
    pub fn route_object(
        &self,
        req: &bucket::ObjectRequest<'_>,
    ) -> Option<(TrainingRoute<'_>, bucket::ObjectShape)> {
        self.buckets.iter().find_map(|e| {
            let shape = e.bucket.as_ref()?.shape(req)?;
            let route = TrainingRoute {
                endpoint: e,
                exclusive: false,
            };
            Some((route, shape))
        })
    }

    /// A request of a GCS resumable session on a host serving GCS, when the policy names a
    /// GCS bucket: a start (with the bucket rule it starts a session for, if any) or a request
    /// that names sessions by `upload_id`.
    pub fn gcs_session(&self, req: &bucket::ObjectRequest<'_>) -> Option<GcsSession<'_>> {
        if !self.serves_gcs_host(req.host) {
            return None;
        }
        Some(match bucket::session_request(req)? {
            bucket::SessionRequest::Start => GcsSession::Start {
                rule: self
                    .gcs_buckets()
                    .find(|(_, b)| b.starts_session(req))
                    .map(|(e, _)| e),
            },
            bucket::SessionRequest::Chunk(ids) => GcsSession::Chunk(ids),
        })
    }

    /// Whether a GCS bucket of the policy is served on `host` (sessions are tracked there).
    pub fn serves_gcs_host(&self, host: &str) -> bool {
        self.gcs_buckets().any(|(_, b)| b.serves_gcs_host(host))
    }

    /// The GCS buckets, in policy order.
    fn gcs_buckets(&self) -> impl Iterator<Item = (&TrainingEndpoint, &bucket::TrainingBucket)> {
        self.buckets
            .iter()
            .filter_map(|e| Some((e, e.bucket.as_ref().filter(|b| b.is_gcs())?)))
    }

    /// The route of the GCS bucket whose rule id hashes to `rule` (`session::rule_hash`).
    pub fn gcs_route_of(&self, rule: [u8; 8]) -> Option<TrainingRoute<'_>> {
        self.gcs_buckets()
            .find(|(e, _)| bucket::session::rule_hash(&e.id) == rule)
            .map(|(endpoint, _)| TrainingRoute {
                endpoint,
                exclusive: false,
            })
    }

    /// The route a request of a session the filter cannot place is judged by: the first GCS
    /// bucket (every bucket rule judges an object of unknown name alike).
    pub fn strictest_gcs_route(&self) -> Option<TrainingRoute<'_>> {
        self.gcs_buckets()
            .next()
            .map(|(endpoint, _)| TrainingRoute {
                endpoint,
                exclusive: false,
            })
    }

    /// Matches a request; exclusive (allow-listed) endpoints win.
    pub fn route(
        &self,
        method: &str,
        host: &str,
        normalized_path: &str,
    ) -> Option<TrainingRoute<'_>> {
        if let Some(e) = self
            .exclusive
            .iter()
            .find(|e| e.matches(method, host, normalized_path))
        {
            return Some(TrainingRoute {
                endpoint: e,
                exclusive: true,
            });
        }
        self.endpoints
            .iter()
            .find(|e| e.matches(method, host, normalized_path))
            .map(|e| TrainingRoute {
                endpoint: e,
                exclusive: false,
            })
    }

    /// What every stage reads: the detectors and the limits.
    pub fn stage_context(&self) -> &StageContext {
        &self.ctx
    }
}

/// A matched training endpoint.
#[derive(Debug, Clone, Copy)]
pub struct TrainingRoute<'p> {
    pub endpoint: &'p TrainingEndpoint,
    pub exclusive: bool,
}

#[cfg(test)]
mod tests;
