//! wa-egress-guard: a proxy-wasm filter for Envoy and Istio egress that keeps general-purpose
//! AI assistants off the WhatsApp Cloud API.
//!
//! The policy engine (everything but `glue`) is pure Rust with no proxy-wasm import, so it
//! unit-tests natively. `glue` is the thin proxy-wasm layer, compiled for wasm32 only.

#![cfg_attr(not(target_arch = "wasm32"), forbid(unsafe_code))]

pub mod body;
#[cfg(not(target_arch = "wasm32"))]
pub mod cases;
pub mod classify;
pub mod content_encoding;
pub mod decide;
pub mod flow;
pub mod header_map;
pub mod identity;
pub mod policy;
pub mod report;
pub mod strict_json;
pub mod training;
pub mod whatsapp;

#[cfg(target_arch = "wasm32")]
mod glue;

pub use decide::{Decision, Reason, Verdict};
pub use flow::{BodyStep, HeadersStep, RequestFlow, RequestHead};
pub use identity::{RequestAttributes, StaticAttributes};
pub use policy::{Policy, PolicyError};
