//! host-tests integration suite: one binary (link time), one module per concern.
//!
//! Behaviour tests of our filter load the real built `wa_egress_guard.wasm`; tests of the
//! host's own mechanics (traps, ABI edge cases) use small WAT modules.

#[cfg(test)]
mod support;

#[cfg(test)]
mod conversation;
#[cfg(test)]
mod crossings;
#[cfg(test)]
mod decision_logs;
#[cfg(test)]
mod differential;
#[cfg(test)]
mod handoff;
#[cfg(test)]
mod host_faults;
#[cfg(test)]
mod host_mechanics;
#[cfg(test)]
mod lifecycle;
#[cfg(test)]
mod memory;
#[cfg(test)]
mod observability;
#[cfg(test)]
mod properties;
#[cfg(test)]
mod replay;
#[cfg(test)]
mod training_buckets;
#[cfg(test)]
mod training_uploads;
#[cfg(test)]
mod upload_parts;
#[cfg(test)]
mod wa_guard;
#[cfg(test)]
mod webhooks;
#[cfg(test)]
mod whatsapp_calls;
