//! Requests to a provider's host (`whatsapp.providers`).
//!
//! A provider that passes the Cloud API format through (360dialog) yields a [`WhatsAppCall`] and
//! follows the Cloud API's path through the flow. A provider whose endpoint also carries other
//! channels (Twilio, Vonage) is read whole first: only then is it known whether the request is a
//! WhatsApp send, so every rule (the origin's too) is evaluated after the body. Anything else is
//! not governed and passes untouched.

use super::{
    BodyStep, HeadersStep, RequestFlow, RequestHead, State, StateAccess, conversation,
    headers_step, send,
};
use crate::decide;
use crate::identity::{self, OriginIdentity, RequestAttributes};
use crate::policy::Policy;
use crate::whatsapp::body;
use crate::whatsapp::body::BodyProblem;
use crate::whatsapp::providers::{self, Provider, ProviderRequest, ProviderRoute, ProviderSend};
use crate::whatsapp::{Endpoint, NormalizedPath, WhatsAppCall};

/// A send on a multichannel endpoint waiting for its body.
#[derive(Debug, Clone)]
pub(super) struct PendingProviderSend {
    provider: Provider,
    /// The route's Bird channels, for a legacy MessageBird send's channel.
    channels: Vec<String>,
    segments: Vec<String>,
    identity: Option<OriginIdentity>,
    content_encoding: Option<String>,
    raw_query: String,
}

impl RequestFlow {
    /// Routes a request to a provider's host: `Ok` with the call when it is read as a Cloud API
    /// call, else the step to take now.
    pub(super) fn start_provider(
        &mut self,
        policy: &Policy,
        route: &ProviderRoute,
        (method, path): (&str, &NormalizedPath),
        head: &RequestHead,
        attrs: &dyn RequestAttributes,
        state: &mut StateAccess<'_>,
    ) -> Result<WhatsAppCall, HeadersStep> {
        match providers::classify(route, method, path) {
            ProviderRequest::Graph(call) => Ok(call),
            ProviderRequest::NotWhatsApp => Err(HeadersStep::PassThrough),
            ProviderRequest::BodyDecides => {
                let pending = PendingProviderSend {
                    provider: route.provider,
                    channels: route.channels.clone(),
                    segments: path.segments.clone(),
                    identity: identity::resolve(&policy.identity_sources, attrs),
                    content_encoding: head.content_encoding.clone(),
                    raw_query: head.raw_query().to_owned(),
                };
                if head.end_of_stream {
                    // A send without a body (its fields in the query): decided and counted now.
                    let step = self.finish_provider(policy, pending, Some(&[]), state);
                    return Err(headers_step(step));
                }
                self.state = State::AwaitingProviderBody(Box::new(pending));
                Err(HeadersStep::InspectBody)
            }
        }
    }

    /// A body callback of a provider send: buffered to its end (within the body limit), then
    /// read.
    pub(super) fn on_provider_body(
        &mut self,
        policy: &Policy,
        buffered_len: usize,
        end_of_stream: bool,
        read: &mut dyn FnMut(usize) -> Option<Vec<u8>>,
        state: &mut StateAccess<'_>,
    ) -> BodyStep {
        let State::AwaitingProviderBody(pending) =
            std::mem::replace(&mut self.state, State::Decided)
        else {
            return BodyStep::Continue;
        };
        if buffered_len > policy.limits.max_body_bytes {
            return self.conclude_unreadable(policy, *pending, BodyProblem::TooLarge);
        }
        if !end_of_stream {
            self.state = State::AwaitingProviderBody(pending);
            return BodyStep::Pause;
        }
        let bytes = read(buffered_len);
        self.finish_provider(policy, *pending, bytes.as_deref(), state)
    }

    fn finish_provider(
        &mut self,
        policy: &Policy,
        pending: PendingProviderSend,
        bytes: Option<&[u8]>,
        state: &mut StateAccess<'_>,
    ) -> BodyStep {
        let read = bytes
            .ok_or(BodyProblem::InvalidJson)
            .and_then(|b| {
                body::decode(
                    b,
                    pending.content_encoding.as_deref(),
                    policy.limits.max_decompressed_bytes,
                )
            })
            .and_then(|b| {
                providers::read_send(
                    pending.provider,
                    &pending.channels,
                    &pending.segments,
                    b.as_ref(),
                    &pending.raw_query,
                )
            });
        match read {
            // SMS, MMS, RCS: not governed, forwarded as it came.
            Ok(ProviderSend::NotWhatsApp) => {
                self.state = State::Ignored;
                BodyStep::Continue
            }
            Ok(ProviderSend::WhatsApp(message)) => {
                let call = provider_call(pending.provider, message.sender.clone());
                let mut head = decide::evaluate_head(policy, call, pending.identity);
                if !head.findings.blocks() {
                    decide::evaluate_message(policy, &mut head, &message.view);
                }
                let view = &message.view;
                let context = self.send_context();
                self.decided(conversation::conclude_in_conversation(
                    policy, &head, view, None, state, context,
                ))
            }
            Err(problem) => self.conclude_unreadable(policy, pending, problem),
        }
    }

    /// A body that cannot be read cannot be told apart from a WhatsApp send: it is judged as
    /// one, under the limits section (fail closed).
    fn conclude_unreadable(
        &mut self,
        policy: &Policy,
        pending: PendingProviderSend,
        problem: BodyProblem,
    ) -> BodyStep {
        let call = provider_call(pending.provider, None);
        let mut head = decide::evaluate_head(policy, call, pending.identity);
        decide::record_body_problem(policy, &mut head, problem);
        self.decided(send::conclude(
            policy,
            &head,
            None,
            None,
            self.send_context(),
        ))
    }
}

/// A provider's WhatsApp send as the rules see it: the `messages` edge, with the sending number
/// (or the provider's sender id) in place of Graph's phone-number-id.
fn provider_call(provider: Provider, sender: Option<String>) -> WhatsAppCall {
    WhatsAppCall {
        endpoint: Endpoint::Messages,
        edge: "messages".to_owned(),
        path_id: sender,
        post: true,
        provider,
    }
}
