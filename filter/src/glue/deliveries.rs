//! A webhook delivery on the ingress route: its signature header read, its body fed to the
//! engine's check, its verdict applied, and a verified delivery's inbound messages recorded
//! for the conversations.

use super::*;

impl GuardHttp {
    /// A request to a webhook host: one under the route's path prefixes is checked (the
    /// handshake passes); `None` for any other path, which goes on as any request does.
    pub(super) fn start_webhook(
        &mut self,
        policy: &Policy,
        wh: &WebhookPolicy,
        end_of_stream: bool,
    ) -> Option<Action> {
        let headers = match abi::header_pairs(abi::MAP_REQUEST_HEADERS) {
            Ok(pairs) => HeaderMap::from_pairs(pairs),
            Err(status) => return Some(self.unreadable_headers(status)),
        };
        let path = headers.get(":path").unwrap_or_default();
        if !wh.matches_path(&path) {
            return None;
        }
        let signature = match headers.get(webhook::SIGNATURE_HEADER) {
            None => Ok(None),
            Some(_) => headers
                .get_single(webhook::SIGNATURE_HEADER)
                .map(Some)
                .ok_or(()),
        };
        let (delivery, step) = WebhookDelivery::on_headers(
            wh,
            &headers.get(":method").unwrap_or_default(),
            &path,
            signature,
            headers.get_single("content-length").as_deref(),
            headers.get_single("x-request-id").unwrap_or_default(),
            end_of_stream,
        );
        self.webhook = Some(delivery);
        Some(self.apply_webhook_step(policy, step))
    }

    /// Reports a finished check, then forwards, holds or refuses.
    pub(super) fn apply_webhook_step(&mut self, policy: &Policy, step: WebhookStep) -> Action {
        if let Some(delivery) = self.webhook.as_mut() {
            let request_id = delivery.request_id().to_owned();
            if let Some(outcome) = delivery.take_new_outcome() {
                self.metrics
                    .borrow_mut()
                    .increment(&webhook::metric_name(outcome));
                let line = webhook::log_line(
                    outcome,
                    &request_id,
                    &policy.fingerprint,
                    abi::current_time_nanos().ok(),
                );
                abi::log(LogLevel::Info, &format!("wa-egress-guard webhook {line}"));
            }
            let inbound = delivery.take_inbound();
            self.record_inbound(policy, &inbound);
        }
        match step {
            WebhookStep::Continue => Action::Continue,
            WebhookStep::Pause => Action::Pause,
            WebhookStep::Respond(reply) => self.respond(&reply),
        }
    }

    /// Records the inbound messages of a verified delivery in the conversations (each one
    /// restarts its recipient's unanswered count). A failure leaves the count as it was, which
    /// can only refuse more sends, and is counted.
    pub(super) fn record_inbound(&self, policy: &Policy, inbound: &[crate::conversation::Inbound]) {
        let Some(conversation) = policy.conversation.as_ref() else {
            return;
        };
        if inbound.is_empty() {
            return;
        }
        let report = match abi::current_time_nanos() {
            Ok(now) => crate::conversation::record_inbound(
                &mut HostStore,
                conversation,
                &policy.log.recipient_hash_salt,
                inbound,
                now,
            ),
            Err(_) => crate::conversation::InboundReport {
                failures: vec![crate::conversation::StateFailure::StoreFailed; inbound.len()],
                ..Default::default()
            },
        };
        let mut metrics = self.metrics.borrow_mut();
        for (name, amount) in report.metrics() {
            metrics.add(&name, amount);
        }
    }

    /// A body callback of a webhook request (`body` given: the whole body read at trailers).
    pub(super) fn webhook_body(
        &mut self,
        policy: &Policy,
        body_size: usize,
        end_of_stream: bool,
        body: Option<Vec<u8>>,
    ) -> Action {
        let (Some(wh), Some(delivery)) = (policy.webhook.as_ref(), self.webhook.as_mut()) else {
            return Action::Continue;
        };
        let mut read = |n: usize| match &body {
            Some(b) => b.get(..n).map(<[u8]>::to_vec),
            None => abi::buffer(abi::BUFFER_REQUEST_BODY, 0, n).ok().flatten(),
        };
        let step = delivery.on_body(wh, body_size, end_of_stream, &mut read);
        self.apply_webhook_step(policy, step)
    }
}
