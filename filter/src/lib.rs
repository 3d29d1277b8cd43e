//! wa-egress-guard: a proxy-wasm filter for Envoy and Istio egress that keeps general-purpose
//! AI assistants off the WhatsApp Cloud API.
//!
//! The policy engine (everything but `glue`) is pure Rust with no proxy-wasm import, so it
//! unit-tests natively. `glue` is the thin proxy-wasm layer, compiled for the proxy-wasm
//! module (wasm32-wasip1) only; the WASI component (`filter/component`, wasm32-wasip2) calls
//! the engine through `engine_api` instead.

#![cfg_attr(
    not(all(target_arch = "wasm32", not(target_env = "p2"))),
    forbid(unsafe_code)
)]

#[cfg(not(all(target_arch = "wasm32", not(target_env = "p2"))))]
pub mod cases;
pub mod classify;
pub mod content_encoding;
pub mod conversation;
pub mod decide;
pub mod digest;
pub mod document;
#[cfg(not(all(target_arch = "wasm32", not(target_env = "p2"))))]
pub mod engine_api;
pub mod flow;
pub mod handoff;
pub mod header_map;
pub mod hex;
pub mod identity;
pub mod local_reply;
pub mod media_type;
pub mod policy;
pub mod report;
pub mod shared_store;
pub mod strict_json;
pub mod timestamp;
pub mod training;
pub mod webhook;
pub mod whatsapp;

#[cfg(all(target_arch = "wasm32", not(target_env = "p2")))]
mod glue;

pub use decide::{Decision, Reason, Verdict};
pub use flow::{BodyStep, HeadersStep, RequestFlow, RequestHead};
pub use identity::{RequestAttributes, StaticAttributes};
pub use policy::{Policy, PolicyError};
