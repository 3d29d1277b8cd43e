//! The `limits` section: body sizes, and what a body too large, invalid or undecodable gets.

use super::{Action, Mode, default_block};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSection {
    #[serde(default = "default_max_body")]
    pub max_body_bytes: u64,
    #[serde(default = "default_max_decompressed")]
    pub max_decompressed_bytes: u64,
    #[serde(default = "default_block")]
    pub on_oversize: Action,
    #[serde(default = "default_block")]
    pub on_invalid_body: Action,
    #[serde(default = "default_block")]
    pub on_unsupported_encoding: Action,
    #[serde(default)]
    pub mode: Option<Mode>,
}

fn default_max_body() -> u64 {
    64 * 1024
}

fn default_max_decompressed() -> u64 {
    256 * 1024
}
