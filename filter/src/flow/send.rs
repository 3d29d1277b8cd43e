//! A WhatsApp send waiting for its body, as a value the router feeds.
//!
//! The headers phase makes a [`PendingSend`] from the evaluation of every rule the headers
//! decide. The router hands it each body callback ([`PendingSend::with_body`]) and applies what
//! comes back: keep buffering, watch a media upload too large to buffer ([`WatchedMedia`]), or
//! a decision. [`PendingSend::finish`] decides the send on its whole body. Every decision is a
//! [`Concluded`]: the router stores its decision and returns its step, and nothing here touches
//! the router's state.

use super::conversation::{self, StateAccess};
use super::{BodyStep, RequestHead};
use crate::decide::{self, Decision, HandoffNote, HeadEvaluation, Verdict};
use crate::handoff::{self, Unavailable};
use crate::policy::Policy;
use crate::report;
use crate::whatsapp::body::{self, BodyProblem};
use crate::whatsapp::media::MediaScan;
use crate::whatsapp::providers::Provider;
use crate::whatsapp::{self, MessageView};

/// What a send's decision needs to know of the request beyond its evaluation.
#[derive(Debug, Clone, Copy)]
pub(super) struct SendContext<'a> {
    /// The request's id: in a refusal's body, and in a hand-off's message.
    pub request_id: &'a str,
    /// The host removed `content-length` in the headers phase (`RequestFlow::framing_removed`).
    // INVARIANT: a hand-off replaces the body only when this is set; every other send that a
    // rule hands off is blocked (`unwritable_body`), never forwarded under the old length.
    pub framing_removed: bool,
}

/// A send's decision, the body step that applies it, and the counters of the conversation
/// state that deciding it moved (evictions, retries, failures).
#[derive(Debug)]
pub(super) struct Concluded {
    pub decision: Decision,
    pub step: BodyStep,
    pub state_metrics: Vec<(String, u64)>,
}

impl Concluded {
    /// The same decision, reporting these conversation-state counters.
    pub(super) fn counting(mut self, state_metrics: Vec<(String, u64)>) -> Self {
        self.state_metrics = state_metrics;
        self
    }
}

/// A WhatsApp send whose body some rule needs, waiting for it.
#[derive(Debug, Clone)]
pub(super) struct PendingSend {
    head: HeadEvaluation,
    content_type: Option<String>,
    content_encoding: Option<String>,
    raw_query: String,
}

/// What a body callback did to a pending send.
#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "returned once per body callback and matched at once; boxing the decision would \
              allocate once more per send (`allow`, not `expect`: the sizes differ on wasm32)"
)]
pub(super) enum Fed {
    /// Not all of the body is here: keep buffering.
    Waiting(Box<PendingSend>),
    /// A media upload too large to buffer, forwarded while its later parts are watched.
    Watching(Box<WatchedMedia>),
    /// Decided: the router stores the decision and applies its step.
    Decided(Concluded),
}

impl PendingSend {
    pub(super) fn new(head: HeadEvaluation, request: &RequestHead) -> Self {
        Self {
            head,
            content_type: request.content_type.clone(),
            content_encoding: request.content_encoding.clone(),
            raw_query: request.raw_query().to_owned(),
        }
    }

    /// Whether a hand-off may rewrite this send's body, so its `content-length` must go now
    /// (the only phase where Envoy lets a filter change headers): a Cloud API send in a body the
    /// hand-off rewrites (`handoff::rewritable_body`, the same test the rewrite makes) that an
    /// enforced rule already hands off, or that the enforced content rule may hand off once it
    /// has scored it. Every other request keeps its headers as sent.
    pub(super) fn may_rewrite(&self, policy: &Policy) -> bool {
        let head = &self.head;
        let may_hand_off = head.findings.hands_off() || decide::content_may_hand_off(policy, head);
        policy.handoff.is_some()
            && may_hand_off
            && head.call.can_hand_off()
            && handoff::rewritable_body(
                self.content_type.as_deref(),
                self.content_encoding.as_deref(),
            )
    }

    /// A body callback with the size Envoy has buffered so far; `read` returns that many
    /// buffered bytes and is called at most once.
    pub(super) fn with_body(
        self: Box<Self>,
        policy: &Policy,
        buffered_len: usize,
        end_of_stream: bool,
        read: &mut dyn FnMut(usize) -> Option<Vec<u8>>,
        state: &mut StateAccess<'_>,
        context: SendContext<'_>,
    ) -> Fed {
        if buffered_len > policy.limits.max_body_bytes {
            if let Some(fed) = self.watch_media(policy, buffered_len, end_of_stream, read, context)
            {
                return fed;
            }
            let mut head = self.head;
            decide::record_body_problem(policy, &mut head, BodyProblem::TooLarge);
            return Fed::Decided(conclude(policy, &head, None, None, context));
        }
        if !end_of_stream {
            return Fed::Waiting(self);
        }
        let bytes = read(buffered_len);
        Fed::Decided(self.finish(policy, bytes.as_deref(), state, context))
    }

    /// A media upload larger than the body limit is not buffered when its file is declared as
    /// an image, audio or video (and it is not compressed): its later parts are watched, and it
    /// is decided on its headers when it ends.
    fn watch_media(
        &self,
        policy: &Policy,
        buffered_len: usize,
        end_of_stream: bool,
        read: &mut dyn FnMut(usize) -> Option<Vec<u8>>,
        context: SendContext<'_>,
    ) -> Option<Fed> {
        if self.head.call.endpoint != whatsapp::Endpoint::Media || self.content_encoding.is_some() {
            return None;
        }
        if self.head.findings.blocks() {
            return Some(Fed::Decided(conclude(
                policy, &self.head, None, None, context,
            )));
        }
        let prefix = read(buffered_len)?;
        let scan = MediaScan::start(self.content_type.as_deref(), &prefix)?;
        if end_of_stream {
            // The whole body is here, and every part of it was checked.
            return Some(Fed::Decided(conclude(
                policy, &self.head, None, None, context,
            )));
        }
        // Decided when the stream ends, or when a later part could be text: one decision per
        // request, whatever the chunking.
        Some(Fed::Watching(Box::new(WatchedMedia {
            scan,
            head: self.head.clone(),
        })))
    }

    /// Decides the send on its whole body (`None`: the host could not hand it over).
    pub(super) fn finish(
        self,
        policy: &Policy,
        bytes: Option<&[u8]>,
        state: &mut StateAccess<'_>,
        context: SendContext<'_>,
    ) -> Concluded {
        let mut head = self.head;
        let endpoint = head.call.endpoint;
        let parsed = bytes
            .ok_or(BodyProblem::InvalidJson)
            .and_then(|b| {
                body::decode(
                    b,
                    self.content_encoding.as_deref(),
                    policy.limits.max_decompressed_bytes,
                )
            })
            .and_then(|b| {
                body::parse_message(
                    endpoint,
                    self.content_type.as_deref(),
                    b.as_ref(),
                    &self.raw_query,
                )
            });
        match parsed {
            Ok(message) => {
                decide::evaluate_message(policy, &mut head, &message);
                let body = bytes.map(|bytes| SendBody {
                    bytes,
                    content_type: self.content_type.as_deref(),
                    content_encoding: self.content_encoding.as_deref(),
                    raw_query: &self.raw_query,
                });
                conversation::conclude_in_conversation(
                    policy,
                    &head,
                    &message,
                    body.as_ref(),
                    state,
                    context,
                )
            }
            Err(problem) => {
                decide::record_body_problem(policy, &mut head, problem);
                conclude(policy, &head, None, None, context)
            }
        }
    }
}

/// A media upload too large to buffer whose file is declared binary media: forwarded, and
/// refused if a later part could be text.
#[derive(Debug)]
pub(super) struct WatchedMedia {
    scan: MediaScan,
    head: HeadEvaluation,
}

impl WatchedMedia {
    /// A later body callback: still watched, or decided (at its end, or on a part that could be
    /// text).
    pub(super) fn with_body(
        mut self: Box<Self>,
        policy: &Policy,
        buffered_len: usize,
        end_of_stream: bool,
        read: &mut dyn FnMut(usize) -> Option<Vec<u8>>,
        context: SendContext<'_>,
    ) -> Fed {
        let problem = match read(buffered_len) {
            Some(chunk) => self.scan.feed(&chunk).err().map(|_| BodyProblem::TooLarge),
            None if buffered_len == 0 => None,
            // A chunk the host could not hand over cannot be watched.
            None => Some(BodyProblem::InvalidJson),
        };
        if problem.is_none() && !end_of_stream {
            return Fed::Watching(self);
        }
        let mut head = self.head;
        if let Some(p) = problem {
            decide::record_body_problem(policy, &mut head, p);
        }
        Fed::Decided(conclude(policy, &head, None, None, context))
    }
}

/// A send's body as received, with what a hand-off needs to know to rewrite it.
pub(super) struct SendBody<'a> {
    bytes: &'a [u8],
    content_type: Option<&'a str>,
    content_encoding: Option<&'a str>,
    raw_query: &'a str,
}

/// Concludes, with the send's body when a hand-off may rewrite it: a hand-off forwards the
/// policy's message in its place, or is blocked when the send cannot be rewritten.
pub(super) fn conclude(
    policy: &Policy,
    head: &HeadEvaluation,
    message: Option<&MessageView>,
    body: Option<&SendBody<'_>>,
    context: SendContext<'_>,
) -> Concluded {
    let mut decision = decide::conclude(policy, head, message);
    let mut step = BodyStep::Continue;
    if decision.verdict == Verdict::Handoff {
        let rewritten = if context.framing_removed {
            hand_off(policy, head, message, body, context.request_id)
        } else {
            Err(Unavailable::UnwritableBody)
        };
        match rewritten {
            Ok(rewritten) => {
                decision.handoff = Some(HandoffNote::Sent {
                    language: rewritten.language,
                    format: rewritten.format,
                });
                step = BodyStep::Replace(rewritten.body);
            }
            Err(cause) => decision.handoff_unavailable(cause.as_str()),
        }
    }
    if decision.verdict == Verdict::Block {
        step = BodyStep::Respond(report::blocked_reply(&decision, context.request_id));
    }
    Concluded {
        decision,
        step,
        state_metrics: Vec::new(),
    }
}

/// The policy's hand-off message for this send, or why it cannot be rewritten.
fn hand_off(
    policy: &Policy,
    head: &HeadEvaluation,
    message: Option<&MessageView>,
    body: Option<&SendBody<'_>>,
    request_id: &str,
) -> Result<handoff::Rewritten, Unavailable> {
    if !head.call.can_hand_off() {
        let meta_format = matches!(head.call.provider, Provider::CloudApi | Provider::Dialog360);
        return Err(if meta_format {
            Unavailable::NotASend
        } else {
            Unavailable::ProviderFormat
        });
    }
    let policy_log_salt = &policy.log.recipient_hash_salt;
    let (Some(message), Some(body), Some(policy)) = (message, body, policy.handoff.as_ref()) else {
        return Err(Unavailable::NotASend);
    };
    policy.rewrite(&handoff::Send {
        body: body.bytes,
        content_type: body.content_type,
        content_encoding: body.content_encoding,
        raw_query: body.raw_query,
        message_type: &message.message_type,
        request_id,
        link_key: policy_log_salt,
        // A Graph id only: 360dialog's sender is the business's phone number itself.
        phone_number_id: head
            .call
            .path_id
            .as_deref()
            .filter(|_| head.call.provider == Provider::CloudApi),
    })
}

#[cfg(test)]
mod tests;
