//! A slot's value: the conversations of one shared-data key, encoded in a bounded binary form,
//! and how an entry is put in (what is evicted, what is refused).

use super::{ConversationPolicy, Entry, FORMAT, SEND_TIMES};

/// The conversations of one slot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Slot {
    pub(super) entries: Vec<Entry>,
}

impl Slot {
    /// A stored value; `None` when it is not one this code wrote (it is then overwritten).
    pub(super) fn decode(bytes: &[u8]) -> Option<Self> {
        let mut r = Reader { bytes };
        if r.u8()? != FORMAT {
            return None;
        }
        let count = r.u8()?;
        let mut entries = Vec::with_capacity(usize::from(count));
        for _ in 0..count {
            let mut entry = Entry {
                tag: r.array()?,
                updated: r.u64()?,
                last_inbound: r.u64()?,
                unanswered: r.u32()?,
                unanswered_since: r.u64()?,
                last_counted: r.u64()?,
                last_message: (r.u64()?, r.array()?),
                send_times: Vec::new(),
                texts: Vec::new(),
            };
            let sends = r.u8()?;
            if usize::from(sends) > SEND_TIMES {
                return None;
            }
            for _ in 0..sends {
                entry.send_times.push(r.u64()?);
            }
            let texts = r.u8()?;
            for _ in 0..texts {
                let at = r.u64()?;
                let len = usize::from(r.u16()?);
                let text = std::str::from_utf8(r.take(len)?).ok()?;
                entry.texts.push((at, text.to_owned()));
            }
            entries.push(entry);
        }
        r.bytes.is_empty().then_some(Self { entries })
    }

    pub(super) fn encode(&self) -> Vec<u8> {
        let mut out = vec![FORMAT, u8::try_from(self.entries.len()).unwrap_or(u8::MAX)];
        for e in self.entries.iter().take(usize::from(u8::MAX)) {
            out.extend_from_slice(&e.tag);
            out.extend_from_slice(&e.updated.to_be_bytes());
            out.extend_from_slice(&e.last_inbound.to_be_bytes());
            out.extend_from_slice(&e.unanswered.to_be_bytes());
            out.extend_from_slice(&e.unanswered_since.to_be_bytes());
            out.extend_from_slice(&e.last_counted.to_be_bytes());
            out.extend_from_slice(&e.last_message.0.to_be_bytes());
            out.extend_from_slice(&e.last_message.1);
            let sends = e
                .send_times
                .get(e.send_times.len().saturating_sub(SEND_TIMES)..);
            let sends = sends.unwrap_or_default();
            out.push(u8::try_from(sends.len()).unwrap_or(0));
            for t in sends {
                out.extend_from_slice(&t.to_be_bytes());
            }
            let texts: Vec<&(u64, String)> = e
                .texts
                .iter()
                .filter(|(_, t)| t.len() <= usize::from(u16::MAX))
                .take(usize::from(u8::MAX))
                .collect();
            out.push(u8::try_from(texts.len()).unwrap_or(u8::MAX));
            for (at, text) in texts {
                out.extend_from_slice(&at.to_be_bytes());
                out.extend_from_slice(&u16::try_from(text.len()).unwrap_or(0).to_be_bytes());
                out.extend_from_slice(text.as_bytes());
            }
        }
        out
    }

    /// Puts `entry` in (replacing its tag's), drops what has expired, bounds every entry's
    /// texts to the policy, and, beyond the slot's size, evicts the least recently updated of
    /// the conversations that hold nothing live (no count within the budget's window, no text
    /// within the scoring window). Returns how many were evicted, or `None` when every other
    /// conversation is live: a live count is never evicted silently (a flood of sends to other
    /// recipients would otherwise restart it), and the write is refused instead.
    pub(super) fn put(
        &mut self,
        entry: Entry,
        policy: &ConversationPolicy,
        now: u64,
    ) -> Option<usize> {
        let ttl = policy.ttl_nanos();
        let tag = entry.tag;
        self.entries.retain(|e| e.tag != tag && e.alive(now, ttl));
        self.entries.push(entry);
        for e in &mut self.entries {
            match &policy.scoring {
                Some(s) => e.bound_texts(now, s),
                None => e.texts.clear(),
            }
        }
        let mut evicted = 0;
        while self.entries.len() > policy.entries_per_slot {
            let idle = self
                .entries
                .iter()
                .enumerate()
                .filter(|(_, e)| e.tag != tag && !e.live(now, policy))
                .min_by_key(|(_, e)| e.updated)
                .map(|(i, _)| i)?;
            self.entries.remove(idle);
            evicted += 1;
        }
        Some(evicted)
    }
}

/// A bounds-checked reader of a stored value.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.bytes.split_at_checked(n)?;
        self.bytes = rest;
        Some(head)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    fn u8(&mut self) -> Option<u8> {
        self.array::<1>().map(|[b]| b)
    }

    fn u16(&mut self) -> Option<u16> {
        self.array().map(u16::from_be_bytes)
    }

    fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_be_bytes)
    }

    fn u64(&mut self) -> Option<u64> {
        self.array().map(u64::from_be_bytes)
    }
}
