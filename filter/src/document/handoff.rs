//! The `handoff` section: the compliant message a handed-off send is replaced with.

use serde::Deserialize;

/// The hand-off message: one per language, the language chosen by the recipient's country
/// calling code, and the deep link built from a template.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandoffSection {
    /// The language of a recipient whose country calling code names none.
    pub default_language: String,
    /// Country calling codes (or longer number prefixes, `1787`) and their language; the
    /// longest prefix of the recipient's digits wins.
    #[serde(default)]
    pub country_codes: std::collections::BTreeMap<String, String>,
    /// The deep link's template: `https://...` with placeholders (`{request_id}`,
    /// `{language}`, `{phone_number_id}`), each value percent-encoded.
    #[serde(default)]
    pub url: Option<String>,
    /// The message per language.
    pub messages: std::collections::BTreeMap<String, HandoffMessageDoc>,
}

/// A hand-off message: a text, or an interactive call-to-action URL button.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum HandoffMessageDoc {
    /// A text message; `{url}` in the body is replaced by the deep link.
    Text { body: String },
    /// An interactive `cta_url` message: the body, and one button opening the deep link.
    CtaUrl { body: String, button: String },
}
