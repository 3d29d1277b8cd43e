//! The `log` section: the recipient hash salt, and which allowed decisions get a line.

use super::MIN_SAMPLE_RATE;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSection {
    /// Mixed into the recipient hash so that logs cannot be joined to phone numbers by brute force.
    #[serde(default)]
    pub recipient_hash_salt: String,
    /// Also log allowed decisions (off by default: one line per block or audit).
    #[serde(default)]
    pub log_allowed: bool,
    /// The fraction of allowed decisions that get a line when `log_allowed` is set, in (0, 1]
    /// (checked by `policy::compile`). Chosen per request id, so a replay keeps the same lines;
    /// each line carries it as `sample`.
    #[serde(
        default = "default_sample_rate",
        deserialize_with = "sample_rate_number"
    )]
    pub allowed_sample_rate: f64,
}

impl Default for LogSection {
    fn default() -> Self {
        Self {
            recipient_hash_salt: String::new(),
            log_allowed: false,
            allowed_sample_rate: default_sample_rate(),
        }
    }
}

fn default_sample_rate() -> f64 {
    1.0
}

/// A sample rate is a JSON number; anything else is refused with what was written (a quoted
/// `"0.1"` is a common slip).
fn sample_rate_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    value.as_f64().ok_or_else(|| {
        serde::de::Error::custom(format!(
            "must be a number from {} (one line in 10,000) to 1, got `{value}`",
            MIN_SAMPLE_RATE
        ))
    })
}
