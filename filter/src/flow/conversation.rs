//! The conversation rules of a send (the policy's `conversation` section): the send is decided
//! on a read of its conversation, and what it changes there (its count, its text) is written
//! back with compare-and-swap before the decision stands.
//!
//! The count moves on the decision, not on the upstream's answer: a send that is allowed,
//! audited or handed off is counted (and its text kept) in the same read-modify-write that
//! decided it. Counting after a 2xx would let every send racing through the proxy at once read
//! the same count below the cap and all go through; counting on the decision reserves the
//! send's place atomically, so the cap holds under concurrency. The price is that a send the
//! upstream then refuses still counts, which errs towards refusing (fail closed); the next
//! inbound message resets the count anyway.
//!
//! A write that meets a value another worker changed is decided again from a fresh read (the
//! count may have reached the cap meanwhile), at most `conversation::MAX_ATTEMPTS` times.

use super::send::{self, Concluded, SendBody, SendContext};
use crate::conversation::{
    self, Address, ConversationKey, ConversationPolicy, StateFailure, WriteError,
};
use crate::decide::{self, ConversationView, HeadEvaluation, Verdict};
use crate::policy::Policy;
use crate::shared_store::{SharedStore, StoreError};
use crate::whatsapp::{self, MessageView};

/// The host's shared data and clock, as a send's conversation rules need them.
pub struct StateAccess<'a> {
    pub store: &'a mut dyn SharedStore,
    /// The host's clock (nanoseconds since the epoch); `None` when it cannot be read, which
    /// fails the state as a refused read does.
    pub now_nanos: Option<u64>,
}

impl<'a> StateAccess<'a> {
    pub fn new(store: &'a mut dyn SharedStore, now_nanos: Option<u64>) -> Self {
        Self { store, now_nanos }
    }
}

/// What the conversation rules need to know of a send.
struct SendInConversation<'p> {
    policy: &'p ConversationPolicy,
    key: ConversationKey,
    /// The budget counts it (not an exempt template).
    counted: bool,
    /// The budget exempts it (an exempt template): scored with the conversation, but its text
    /// is not kept, so that sends which cost nothing cannot push a split answer's earlier parts
    /// out of the `max_texts` the conversation keeps.
    exempt: bool,
    /// Its texts are scored with the conversation's and kept.
    scored: bool,
    now: u64,
}

/// Concludes a send, applying the conversation rules when the policy keeps conversations and
/// the send is a message to a recipient from a known number.
pub(super) fn conclude_in_conversation(
    policy: &Policy,
    head: &HeadEvaluation,
    message: &MessageView,
    body: Option<&SendBody<'_>>,
    state: &mut StateAccess<'_>,
    context: SendContext<'_>,
) -> Concluded {
    let deciding = Deciding {
        policy,
        head,
        message,
        body,
        context,
    };
    let send = match applies(policy, head, message) {
        Governed::No => return deciding.conclude(head),
        Governed::Unkeyed(failure) => return deciding.state_failed(Vec::new(), failure),
        Governed::Send(send) => send,
    };
    let Some(now) = state.now_nanos else {
        return deciding.state_failed(Vec::new(), StateFailure::StoreFailed);
    };
    let send = match send.place(&*state.store, now) {
        Ok(send) => send,
        Err(failure) => return deciding.state_failed(Vec::new(), failure),
    };
    let mut metrics = Vec::new();
    for _ in 0..conversation::MAX_ATTEMPTS {
        let snapshot = match conversation::read(&*state.store, &send.key, send.policy, now) {
            Ok(s) => s,
            Err(_) => return deciding.state_failed(metrics, StateFailure::StoreFailed),
        };
        let mut evaluated = head.clone();
        let view = view(&send, &snapshot.entry, message);
        decide::evaluate_conversation(policy, &mut evaluated, &view);
        let concluded = deciding.conclude(&evaluated);
        let verdict = concluded.decision.verdict;
        let Some(entry) = changed_entry(policy, &send, &snapshot.entry, message, verdict) else {
            return concluded.counting(metrics);
        };
        match snapshot.write(state.store, &send.key, entry, send.policy, now) {
            Ok(evicted) => {
                metrics.extend(conversation::state_metrics(evicted, 0));
                return concluded.counting(metrics);
            }
            // Another worker wrote the slot since it was read: decided again.
            Err(WriteError::Store(StoreError::Mismatch)) => {
                metrics.extend(conversation::state_metrics(0, 1))
            }
            Err(WriteError::SlotFull) => {
                return deciding.state_failed(metrics, StateFailure::SlotFull);
            }
            Err(WriteError::Store(StoreError::Failed)) => {
                return deciding.state_failed(metrics, StateFailure::StoreFailed);
            }
        }
    }
    deciding.state_failed(metrics, StateFailure::CasExhausted)
}

/// A send being decided: what every conclusion of it shares.
struct Deciding<'a> {
    policy: &'a Policy,
    head: &'a HeadEvaluation,
    message: &'a MessageView,
    body: Option<&'a SendBody<'a>>,
    context: SendContext<'a>,
}

impl Deciding<'_> {
    fn conclude(&self, head: &HeadEvaluation) -> Concluded {
        send::conclude(
            self.policy,
            head,
            Some(self.message),
            self.body,
            self.context,
        )
    }

    /// The state could not be used: counted after `metrics`, then the send is refused or
    /// decided without it, as `on_store_error` says.
    fn state_failed(&self, mut metrics: Vec<(String, u64)>, failure: StateFailure) -> Concluded {
        metrics.push((
            format!("{}.result.{}", conversation::STATE_METRIC, failure.as_str()),
            1,
        ));
        let mut head = self.head.clone();
        decide::record_state_failure(self.policy, &mut head, failure);
        self.conclude(&head).counting(metrics)
    }
}

/// Whether the conversation rules govern a send, and where it lives.
enum Governed<'p> {
    /// No conversation rule has anything to do with it.
    No,
    /// They govern it, but it cannot be keyed to one conversation: it follows
    /// `on_store_error` (refused by default), as a conversation that cannot be read does.
    Unkeyed(StateFailure),
    /// Its addresses, to be placed once the clock is known.
    Send(Addressed<'p>),
}

/// A governed send, with the addresses it names (its `to`, and a Cloud API send's `recipient`
/// when it names both), before its conversation is known.
struct Addressed<'p> {
    policy: &'p ConversationPolicy,
    salt: &'p str,
    /// The phone-number id its conversations are kept under.
    number: &'p str,
    addresses: Vec<Address>,
    counted: bool,
    exempt: bool,
    scored: bool,
}

impl<'p> Addressed<'p> {
    /// The send's conversation at `now`: a phone number's own; a business-scoped user id's
    /// linked number's, when a verified delivery linked them, else the user id's own. A send
    /// naming two addresses is kept only when both lead to one conversation (a number and a
    /// user id linked to it); otherwise which one Meta delivers to is not known, and it is
    /// [`StateFailure::InvalidRecipient`].
    fn place(
        self,
        store: &dyn SharedStore,
        now: u64,
    ) -> Result<SendInConversation<'p>, StateFailure> {
        let mut key: Option<ConversationKey> = None;
        for address in &self.addresses {
            let linked = match address {
                Address::UserId(_) => {
                    conversation::resolve(store, self.policy, self.salt, self.number, address, now)
                        .map_err(|_| StateFailure::StoreFailed)?
                }
                Address::Number(_) => None,
            };
            let own = linked.unwrap_or_else(|| {
                conversation::key_of(self.policy, self.salt, self.number, address)
            });
            match &key {
                Some(k) if *k != own => return Err(StateFailure::InvalidRecipient),
                _ => key = Some(own),
            }
        }
        let key = key.ok_or(StateFailure::NoRecipient)?;
        Ok(SendInConversation {
            policy: self.policy,
            key,
            counted: self.counted,
            exempt: self.exempt,
            scored: self.scored,
            now,
        })
    }
}

/// Whether the conversation rules apply to this send: the policy keeps conversations, and it is
/// a message (not a mark-as-read) whose budget or scoring has something to do. Such a send must
/// name its sender (the phone-number id, or the provider's stand-in for it, kept under the Graph
/// id `sender_ids` maps it to) and exactly one recipient, or it would escape its conversation's
/// count.
fn applies<'p>(
    policy: &'p Policy,
    head: &'p HeadEvaluation,
    message: &MessageView,
) -> Governed<'p> {
    let Some(cp) = policy.conversation.as_ref() else {
        return Governed::No;
    };
    if head.call.endpoint != whatsapp::Endpoint::Messages || message.message_type == "read" {
        return Governed::No;
    }
    let exempt = cp
        .budget
        .as_ref()
        .is_some_and(|b| b.exempts(&message.message_type, message.template_name.as_deref()));
    let counted = cp.budget.is_some() && !exempt;
    let scored =
        cp.scoring.is_some() && decide::content_scores(policy, head) && !message.texts.is_empty();
    if !counted && !scored {
        return Governed::No;
    }
    if message.multiple_recipients {
        return Governed::Unkeyed(StateFailure::MultipleRecipients);
    }
    let Some(recipient) = message
        .recipient
        .as_deref()
        .filter(|r| !r.trim().is_empty())
    else {
        return Governed::Unkeyed(StateFailure::NoRecipient);
    };
    let Some(number) = head
        .call
        .path_id
        .as_deref()
        .filter(|n| !n.trim().is_empty())
    else {
        return Governed::Unkeyed(StateFailure::NoSender);
    };
    // A provider's sender id that the policy maps is kept under the business's Graph
    // phone-number id, the one its webhooks name: the recipient's replies reset its count, and
    // the number's other sender ids share it.
    let number = cp.sender_ids.keyed(head.call.provider, number);
    let named = std::iter::once(recipient).chain(
        message
            .also_recipient
            .as_deref()
            .filter(|r| !r.trim().is_empty()),
    );
    let mut addresses = Vec::new();
    for r in named {
        match conversation::address(r) {
            Ok(a) => addresses.push(a),
            Err(failure) => return Governed::Unkeyed(failure),
        }
    }
    Governed::Send(Addressed {
        policy: cp,
        salt: &policy.log.recipient_hash_salt,
        number,
        addresses,
        counted,
        exempt,
        scored,
    })
}

/// What the conversation says about the send.
fn view<'e>(
    send: &SendInConversation<'_>,
    entry: &'e conversation::Entry,
    message: &MessageView,
) -> ConversationView<'e> {
    let budget = send.policy.budget.as_ref().filter(|_| send.counted);
    let scoring = send.policy.scoring.as_ref().filter(|_| send.scored);
    ConversationView {
        recent_texts: scoring.map(|s| entry.recent_texts(send.now, s)),
        current_text: scoring.map(|_| kept_text(message)).unwrap_or_default(),
        // A request of several messages is refused when its last would go over the cap: the
        // count is the one before that last message.
        unanswered: budget.map(|b| {
            let before = entry.unanswered_at(send.now, b);
            let more = message.deliveries.max(1).saturating_sub(1);
            (before.saturating_add(more), b.max_unanswered)
        }),
        budget_mode: budget.and_then(|b| b.mode),
        scoring_mode: scoring.and_then(|s| s.mode),
    }
}

/// The conversation once this send is made: counted, and its text kept (a hand-off's recipient
/// reads the policy's message, not this text; an exempt template's text, approved by Meta and
/// free of the budget, takes no place either). `None` when the send is refused: it changes
/// nothing, since it never reaches the recipient.
fn changed_entry(
    policy: &Policy,
    send: &SendInConversation<'_>,
    entry: &conversation::Entry,
    message: &MessageView,
    verdict: Verdict,
) -> Option<conversation::Entry> {
    if verdict == Verdict::Block {
        return None;
    }
    let mut entry = entry.clone();
    if let (Some(b), true) = (send.policy.budget.as_ref(), send.counted) {
        entry.count_sends(send.now, b, message.deliveries);
    }
    if let (Some(s), true) = (send.policy.scoring.as_ref(), send.scored)
        && verdict != Verdict::Handoff
        && !send.exempt
    {
        let classifier = &policy.content.classifier;
        entry.push_text(send.now, &kept_text(message), s, &|t| {
            classifier.score(t).probability
        });
    }
    Some(entry)
}

/// A send's texts as its conversation keeps them: every text a recipient reads, one per line,
/// except the recipient's own address (a number written with spaces is read as text by the
/// message reader, and the state never holds a phone number).
fn kept_text(message: &MessageView) -> String {
    let recipient = message.recipient.as_deref().map(str::trim);
    message
        .texts
        .iter()
        .filter(|t| Some(t.trim()) != recipient)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join("\n")
}
