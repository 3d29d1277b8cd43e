//! The response phase: a part or completion of an upload in parts commits its change to the
//! upload's state once the upstream accepts it, a GCS resumable session start is recorded from
//! its `Location` (`gcs_session`), and a request that went through says its decision in the
//! response's headers.

use super::{RequestFlow, StateAccess};
use crate::decide::Verdict;
use crate::report;
use crate::shared_store::SharedStore;

/// What the glue must do after the response headers callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseStep {
    Continue,
    /// Buffer the response body and hand it to `on_response_body` at its end.
    ReadBody,
}

impl RequestFlow {
    /// Whether the response matters to this request (a part or completion of an upload in
    /// parts waits for it); the glue reads the response status only then.
    pub fn awaits_response(&self) -> bool {
        self.commit.is_some() || self.session_start.is_some()
    }

    /// The response headers: a part or completion the upstream accepted (2xx) commits its
    /// change to the upload's state; a part needs its id from the response body first.
    pub fn on_response_headers(
        &mut self,
        store: &mut dyn SharedStore,
        status: u32,
    ) -> ResponseStep {
        let mut state = StateAccess::new(store, None);
        self.on_response_headers_with_state(&mut state, status, None)
    }

    /// [`RequestFlow::on_response_headers`] with the host's clock and the response's
    /// `location` (read only when [`RequestFlow::awaits_location`]): a GCS resumable session
    /// start that the upstream accepted is recorded.
    pub fn on_response_headers_with_state(
        &mut self,
        state: &mut StateAccess<'_>,
        status: u32,
        location: Option<&str>,
    ) -> ResponseStep {
        self.record_session_start(state, status, location);
        let store = &mut *state.store;
        let Some(commit) = self.commit.take() else {
            return ResponseStep::Continue;
        };
        if !(200..300).contains(&status) {
            return ResponseStep::Continue;
        }
        if commit.needs_response_body() {
            self.commit = Some(commit);
            return ResponseStep::ReadBody;
        }
        commit.apply(store, None);
        ResponseStep::Continue
    }

    /// The whole response body of an accepted part (`None`: it could not be read).
    pub fn on_response_body(&mut self, store: &mut dyn SharedStore, body: Option<&[u8]>) {
        if let Some(commit) = self.commit.take() {
            commit.apply(store, body);
        }
    }

    /// Headers to add to the response of a request that went through.
    pub fn response_headers(&self) -> Vec<(&'static str, String)> {
        if let Some(t) = &self.training {
            return report::training_response_headers(t);
        }
        match &self.decision {
            Some(d) if d.verdict != Verdict::Block => report::response_headers(d),
            _ => Vec::new(),
        }
    }
}
