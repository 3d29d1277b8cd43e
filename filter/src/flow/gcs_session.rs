//! GCS resumable sessions in the flow (issue 11): a session start that goes through is
//! recorded from its response's `Location`, and a request that names a session by `upload_id`
//! is judged by the bucket its session was started for, whatever bucket its path names
//! (`training::bucket::session` keeps the records).
//!
//! Only requests whose path names no training bucket are placed by their session: one whose
//! path names a training bucket is judged by it already, so a session never lets through what
//! the path alone would refuse. A session the filter never saw start follows
//! `training.unknown_gcs_sessions`; a record that cannot be read (the host refused) is judged
//! as an unknown session under `inspect` whatever that setting says. Without a clock, only a
//! record of a training bucket's session is believed (`session::lookup`).

use super::{HeadersStep, RequestFlow, StateAccess};
use crate::document::UnknownGcsSessions;
use crate::identity::RequestAttributes;
use crate::policy::Policy;
use crate::training::bucket::{self, ObjectShape, session};
use crate::training::{TrainingEndpoint, TrainingPolicy, TrainingRoute};

/// The counter of GCS session records: `wa_guard_gcs_session_total{result}`.
pub const SESSION_METRIC: &str = "wa_guard_gcs_session_total";

/// A session start that went through, waiting for its response.
#[derive(Debug, Clone)]
pub(super) struct SessionStart {
    /// The hash of the rule of the training bucket it starts a session for (`None`: a bucket
    /// the policy does not name).
    rule: Option<[u8; 8]>,
    /// The policy's salt of the record's key.
    salt: String,
}

/// Where a request of a session is judged.
enum Placement<'p> {
    /// As a write to this training bucket.
    Bucket(TrainingRoute<'p>),
    /// By its path (which names no training bucket): it passes.
    ByPath,
}

impl RequestFlow {
    /// A session start for `rule`'s bucket (or an unnamed one) passes: its response says the
    /// session's id.
    pub(super) fn note_session_start(&mut self, rule: Option<&TrainingEndpoint>, salt: &str) {
        self.session_start = Some(SessionStart {
            rule: rule.map(|e| session::rule_hash(&e.id)),
            salt: salt.to_owned(),
        });
    }

    /// Whether the response's `location` is wanted (a session start waits for it).
    pub fn awaits_location(&self) -> bool {
        self.session_start.is_some()
    }

    /// Records a session start the upstream accepted (2xx with the session URI in
    /// `location`). A record that cannot be written leaves the session unknown, which
    /// `unknown_gcs_sessions: inspect` judges fail closed.
    pub(super) fn record_session_start(
        &mut self,
        state: &mut StateAccess<'_>,
        status: u32,
        location: Option<&str>,
    ) {
        let Some(start) = self.session_start.take() else {
            return;
        };
        if !(200..300).contains(&status) {
            return;
        }
        let Some(upload_id) = location.and_then(session::upload_id_of_location) else {
            self.count_session("no_location", 1);
            return;
        };
        let Some(now) = state.now_nanos else {
            self.count_session("unrecorded", 1);
            return;
        };
        match session::record(&mut *state.store, &start.salt, &upload_id, start.rule, now) {
            Ok(evicted) => {
                self.count_session("recorded", 1);
                self.count_session("evicted", evicted);
            }
            Err(_) => self.count_session("unrecorded", 1),
        }
    }

    /// A request that names sessions by `upload_id` and whose path names no training bucket:
    /// judged as a write to its session's training bucket (a whole object, or a piece), or
    /// passed when its session is of a bucket the policy does not name.
    pub(super) fn start_session_request(
        &mut self,
        policy: &Policy,
        head: &super::RequestHead,
        attrs: &dyn RequestAttributes,
        upload_ids: &[String],
        state: &mut StateAccess<'_>,
    ) -> HeadersStep {
        let Some(training) = &policy.training else {
            return HeadersStep::PassThrough;
        };
        let salt = &policy.log.recipient_hash_salt;
        let route = match self.place(training, salt, upload_ids, state) {
            Placement::Bucket(route) => route,
            Placement::ByPath => return HeadersStep::PassThrough,
        };
        // As a named bucket's resumable request is read: the whole object (no
        // `content-range`, or all of it), or a piece refused as uninspectable.
        let shape = if head.storage.copy_source {
            ObjectShape::Copy
        } else {
            bucket::session_chunk_shape(&head.storage)
        };
        self.start_object(policy, head, attrs, &route, shape)
    }

    fn place<'p>(
        &mut self,
        training: &'p TrainingPolicy,
        salt: &str,
        upload_ids: &[String],
        state: &StateAccess<'_>,
    ) -> Placement<'p> {
        let strictest = |flow: &mut Self, result: &str| {
            flow.count_session(result, 1);
            training
                .strictest_gcs_route()
                .map_or(Placement::ByPath, Placement::Bucket)
        };
        // A key GCS does not read (`Upload_Id`) names no session the filter can know.
        let mut unknown = upload_ids.is_empty();
        for id in upload_ids {
            match session::lookup(&*state.store, salt, id, state.now_nanos) {
                Err(_) => return strictest(self, "store_failed"),
                Ok(session::Session::Training(rule)) => match training.gcs_route_of(rule) {
                    Some(route) => {
                        self.count_session("training", 1);
                        return Placement::Bucket(route);
                    }
                    // Its bucket is no longer named (the policy changed): as if unknown.
                    None => unknown = true,
                },
                Ok(session::Session::Unnamed) => {}
                Ok(session::Session::Unknown) => unknown = true,
            }
        }
        match (unknown, training.unknown_gcs_sessions) {
            (true, UnknownGcsSessions::Inspect) => strictest(self, "unknown"),
            (true, UnknownGcsSessions::ByPath) => {
                self.count_session("unknown_by_path", 1);
                Placement::ByPath
            }
            (false, _) => Placement::ByPath,
        }
    }

    fn count_session(&mut self, result: &str, amount: usize) {
        if amount > 0 {
            let amount = u64::try_from(amount).unwrap_or(u64::MAX);
            self.state_metrics
                .push((format!("{SESSION_METRIC}.result.{result}"), amount));
        }
    }
}

#[cfg(test)]
mod tests;
