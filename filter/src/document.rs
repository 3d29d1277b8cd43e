//! The policy as users write it: plain serde types, deserialised from the plugin configuration.
//!
//! Every type denies unknown fields, because a typo in a security policy must never be ignored
//! silently. Optional fields have explicit defaults. Nothing here is validated beyond its JSON
//! shape: `policy::compile` turns a `PolicyDocument` into a runnable `Policy` and reports every
//! semantic problem with its JSON path.

use serde::Deserialize;

/// The default probability threshold of a policy, chosen on the project's held-out split so
/// that false blocks of service messages stay at or below 1% (see MODEL.md).
pub const DEFAULT_THRESHOLD: f64 = 0.71;

/// The lowest `log.allowed_sample_rate`: one allowed line in 10,000. Below it one line would
/// stand for more decisions than an inventory can weigh sensibly (a line at 1e-300 counts as
/// 1e300 sends), and `wa-guard inventory` reads a lower `sample` as a forged line.
pub const MIN_SAMPLE_RATE: f64 = 0.0001;

/// The whole plugin configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyDocument {
    /// Global mode; a rule's own `mode` overrides it.
    #[serde(default)]
    pub mode: Mode,
    /// What happens to a caller whose identity matches no origin.
    pub default_action: Action,
    pub whatsapp: WhatsAppSection,
    pub identity: IdentitySection,
    pub origins: Vec<OriginDoc>,
    pub phone_numbers: PhoneNumbersSection,
    pub content: ContentSection,
    pub limits: LimitsSection,
    #[serde(default)]
    pub log: LogSection,
    /// Uploads to AI training endpoints; absent means the filter does not touch them.
    #[serde(default)]
    pub training: Option<TrainingSection>,
    /// Meta's webhook deliveries on the ingress route, whose signature is verified; absent
    /// means the filter does not touch inbound requests.
    #[serde(default)]
    pub webhook: Option<WebhookSection>,
    /// The compliant message a send is replaced with when a rule's `action` is `handoff`;
    /// required when any rule hands off.
    #[serde(default)]
    pub handoff: Option<HandoffSection>,
    /// State kept across the sends to one recipient from one phone number (Envoy's shared
    /// data): the unanswered-message budget and conversation-level scoring; absent means no
    /// state is kept.
    #[serde(default)]
    pub conversation: Option<ConversationSection>,
}

/// Conversations: per (phone-number id, salted recipient hash) the time of the recipient's last
/// inbound message, the sends since then, and the recent sends' texts. Held in `slots` keys of
/// at most `entries_per_slot` conversations each, so memory is bounded whatever the number of
/// recipients.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConversationSection {
    /// How many shared-data keys hold conversations (a recipient's key is its hash modulo this).
    #[serde(default = "default_conversation_slots")]
    pub slots: u32,
    /// At most this many conversations per key; the least recently updated is evicted.
    #[serde(default = "default_entries_per_slot")]
    pub entries_per_slot: u32,
    /// What a send gets when the state cannot be read or written (the host refused, or the
    /// compare-and-swap kept failing): `block` (fail closed) or `allow` (decided without it).
    #[serde(default = "default_block")]
    pub on_store_error: Action,
    /// The mode of the `conversation_state` rule (the failure above); the policy's by default.
    #[serde(default)]
    pub mode: Option<Mode>,
    /// An inbound message (webhook) whose `timestamp` is further than this from the proxy's
    /// clock restarts no count: a captured delivery replayed later is ignored.
    #[serde(default = "default_inbound_max_age")]
    pub inbound_max_age_seconds: u64,
    /// Each send the content rule scores is scored again joined to the recent sends' texts.
    #[serde(default)]
    pub scoring: Option<ConversationScoringDoc>,
    /// Sends to a recipient since their last inbound message are counted and capped.
    #[serde(default)]
    pub unanswered_budget: Option<UnansweredBudgetDoc>,
    /// A provider's sender id (Twilio's `whatsapp:+...` `From` or `MG...` Messaging Service
    /// SID, a 360dialog entry's `sender`, ...) → the business's Graph phone-number id: a send
    /// under a mapped id is kept in that id's conversations, where Meta's webhooks reset counts.
    #[serde(default)]
    pub sender_ids: std::collections::BTreeMap<String, String>,
}

fn default_conversation_slots() -> u32 {
    1024
}

fn default_entries_per_slot() -> u32 {
    8
}

fn default_inbound_max_age() -> u64 {
    300
}

/// Conversation-level scoring: the texts kept, and for how long.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConversationScoringDoc {
    /// Texts older than this are not joined to a send.
    #[serde(default = "default_scoring_window")]
    pub window_seconds: u64,
    /// At most this many recent texts per conversation.
    #[serde(default = "default_max_texts")]
    pub max_texts: u32,
    /// At most this many bytes of text per conversation (the most recent kept).
    #[serde(default = "default_max_text_bytes")]
    pub max_text_bytes: u32,
    /// The rule's mode; the content section's, else the policy's, by default.
    #[serde(default)]
    pub mode: Option<Mode>,
}

fn default_scoring_window() -> u64 {
    600
}

fn default_max_texts() -> u32 {
    4
}

fn default_max_text_bytes() -> u32 {
    1536
}

/// The unanswered-message budget (rule `unanswered_budget`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnansweredBudgetDoc {
    /// Sends allowed since the recipient's last inbound message; the next one is refused.
    pub max_unanswered: u32,
    /// The count restarts when its last counted send is older than this.
    #[serde(default = "default_budget_window")]
    pub window_seconds: u64,
    /// The categories of the business's templates (a send names its template, not its
    /// category): template name → `marketing`, `utility` or `authentication`.
    #[serde(default)]
    pub template_categories: std::collections::BTreeMap<String, String>,
    /// Template sends of these categories are neither counted nor refused.
    #[serde(default)]
    pub exempt_template_categories: Vec<String>,
    #[serde(default)]
    pub mode: Option<Mode>,
}

fn default_budget_window() -> u64 {
    86_400
}

/// What a rule does to a send it finds: refuse it, or hand the recipient off to the
/// business's own channel by replacing the message with the policy's compliant one.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RuleAction {
    #[default]
    Block,
    Handoff,
}

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

/// The ingress route of Meta's webhooks: every request to one of `hosts` under one of
/// `path_prefixes` must be signed (`X-Hub-Signature-256`) with one of the app secrets, except
/// the `GET` verification handshake.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSection {
    /// Hosts of the ingress route. Matched case-insensitively, ignoring the port and a trailing dot.
    pub hosts: Vec<String>,
    /// Paths of the webhook endpoint, matched on a segment boundary (`/` for every path).
    pub path_prefixes: Vec<String>,
    /// App secrets, any one of which signs a valid delivery (two while a secret is rotated).
    #[serde(default)]
    pub app_secrets: Vec<String>,
    /// Names of environment variables of the Wasm VM that hold an app secret (Envoy:
    /// `vm_config.environment_variables`), so that the secret need not sit in the policy.
    #[serde(default)]
    pub app_secret_env: Vec<String>,
    /// The largest delivery body, which is held whole to be verified; larger is refused.
    #[serde(default = "default_max_webhook_body")]
    pub max_body_bytes: u64,
    /// `enforce` refuses an unsigned or forged delivery with a 401; `audit` forwards it and logs.
    #[serde(default)]
    pub mode: Mode,
}

fn default_max_webhook_body() -> u64 {
    1 << 20
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    #[default]
    Enforce,
    Audit,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Allow,
    Block,
}

/// A declared role of an origin, or the declared purpose of a phone number.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    CustomerService,
    GeneralAssistant,
}

/// Which roles the content classifier runs on. `unknown` is a caller that matched no origin.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ScoredRole {
    Unknown,
    CustomerService,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhatsAppSection {
    /// Hosts of the Cloud API. Matched case-insensitively, ignoring the port and a trailing dot.
    #[serde(default = "default_whatsapp_hosts")]
    pub hosts: Vec<String>,
    /// Graph batch requests and `?method=` overrides can carry a send hidden from path matching.
    #[serde(default = "default_block")]
    pub indirect_sends: Action,
    /// The Graph edges (`/{id}/{edge}`) whose bodies are read, and how. Absent: every edge of
    /// today's documented Cloud API that delivers text to a recipient.
    #[serde(default = "default_edges")]
    pub edges: Vec<EdgeDoc>,
    /// The Business Solution Providers whose WhatsApp sends are read as the Cloud API's are:
    /// a built-in's name (`"twilio"`), or an object with overrides. The Cloud API itself
    /// (`cloud_api`) is always read, on `hosts`.
    #[serde(default)]
    pub providers: Vec<ProviderDoc>,
}

/// A provider a policy enables: a built-in's name, or the built-in with overrides.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ProviderDoc {
    Name(String),
    Custom(ProviderOverrideDoc),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderOverrideDoc {
    /// The built-in provider: `360dialog`, `twilio`.
    pub name: String,
    /// Replaces the built-in host patterns (`*` stands for one DNS label).
    #[serde(default)]
    pub hosts: Option<Vec<String>>,
    /// Added to the hosts: a regional, sandbox or private host of the same API.
    #[serde(default)]
    pub extra_hosts: Vec<String>,
    /// The sending number of every send on this provider, for one whose requests do not name
    /// it (360dialog: the API key picks the number). Phone-number rules apply to it.
    #[serde(default)]
    pub sender: Option<String>,
    /// Twilio only: the Conversations services whose messages are WhatsApp sends (a Chat
    /// Service SID `IS...`, `default` for the account's default service, `*` for every one).
    /// A Conversations message names no channel: its conversation's participants decide.
    #[serde(default)]
    pub conversation_services: Vec<String>,
    /// Twilio only: the account's Content API templates are WhatsApp templates, so each one
    /// created (`POST content.twilio.com/v1/Content`) is read as a template definition.
    #[serde(default)]
    pub content_templates: bool,
    /// Bird only: the channel ids that are WhatsApp channels (`*` for every channel). A Channels
    /// API send names its channel only by id; whether it is WhatsApp is Bird's configuration.
    #[serde(default)]
    pub channels: Vec<String>,
}

/// `graph.facebook.com` and the other names of the same Graph API: its beta tier, its upload
/// host and the alias Facebook's own apps call. Each serves every Graph path to the same tokens,
/// so a send posted there reaches WhatsApp as well.
const DEFAULT_WHATSAPP_HOSTS: &[&str] = &[
    "graph.facebook.com",
    "graph.beta.facebook.com",
    "graph-video.facebook.com",
    "b-graph.facebook.com",
];

fn default_whatsapp_hosts() -> Vec<String> {
    DEFAULT_WHATSAPP_HOSTS
        .iter()
        .map(|h| (*h).to_owned())
        .collect()
}

fn default_edges() -> Vec<EdgeDoc> {
    DEFAULT_EDGES
        .iter()
        .map(|(edge, reads)| EdgeDoc {
            edge: (*edge).to_owned(),
            reads: *reads,
        })
        .collect()
}

/// The edges of today's documented Cloud API that deliver text to a recipient.
pub const DEFAULT_EDGES: &[(&str, EdgeReads)] = &[
    ("messages", EdgeReads::Message),
    ("marketing_messages", EdgeReads::Message),
    ("media", EdgeReads::Media),
    ("message_templates", EdgeReads::Template),
    ("upsert_message_templates", EdgeReads::Template),
    ("flows", EdgeReads::Flow),
    ("assets", EdgeReads::Flow),
    // Text a recipient reads outside a message: the business profile (`about`,
    // `description`), conversational components (ice-breaker prompts), group descriptions.
    ("whatsapp_business_profile", EdgeReads::Message),
    ("conversational_automation", EdgeReads::Message),
    ("groups", EdgeReads::Message),
    // Objects whose texts a recipient reads: catalogue products (their name and description
    // appear in product messages), created one by one or in batches, and the prefilled message
    // of a QR code or short link, shown in the user's composer.
    ("products", EdgeReads::Object),
    ("items_batch", EdgeReads::Object),
    ("localized_items_batch", EdgeReads::Object),
    ("batch", EdgeReads::Object),
    ("message_qrdls", EdgeReads::Object),
];

/// A Graph edge the filter reads.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeDoc {
    /// The path segment after the id: `messages` in `/v21.0/{phone-number-id}/messages`.
    pub edge: String,
    pub reads: EdgeReads,
}

/// How an edge's body is read.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum EdgeReads {
    /// A send (`/messages`): the fields of its type, with the phone-number rules of the id.
    Message,
    /// A template definition, with the phone-number rules of the id (a WABA id).
    Template,
    /// A flow definition (JSON with `flow_json`, or a multipart Flow JSON upload).
    Flow,
    /// A multipart media upload: text-like files are read, images, audio and video are not.
    Media,
    /// An object a recipient reads elsewhere than in a message (a catalogue product, a QR
    /// code's prefilled message): read as an object update (`POST /{id}`) is, without the
    /// phone-number rules (the id is no phone number).
    Object,
}

fn default_block() -> Action {
    Action::Block
}

fn default_allow() -> Action {
    Action::Allow
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentitySection {
    /// Tried in order; the first source that yields a value is the caller's identity.
    pub sources: Vec<IdentitySourceDoc>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum IdentitySourceDoc {
    /// `connection.uri_san_peer_certificate`: the SPIFFE id of the mTLS peer.
    PeerUriSan {},
    /// The proxy's own node metadata, rendered through a template of `{KEY}` placeholders.
    NodeMetadata {
        #[serde(default = "default_node_template")]
        template: String,
    },
    /// A request header, honoured only when the direct peer is a trusted hop.
    Header {
        name: String,
        trusted_peers: TrustedPeersDoc,
    },
    /// `source.address`, without its port.
    SourceAddress {},
}

fn default_node_template() -> String {
    "spiffe://cluster.local/ns/{NAMESPACE}/sa/{SERVICE_ACCOUNT}".to_owned()
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedPeersDoc {
    #[serde(default)]
    pub uri_sans: Vec<PatternDoc>,
    /// CIDR blocks, e.g. `10.0.0.0/8` or `::1/128`.
    #[serde(default)]
    pub addresses: Vec<String>,
}

/// An identity pattern: exactly one of its keys.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum PatternDoc {
    Exact(String),
    Glob(String),
    Regex(String),
    Cidr(String),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OriginDoc {
    pub id: String,
    pub identities: Vec<PatternDoc>,
    pub role: Role,
    /// Message types this origin may send; absent means all.
    #[serde(default)]
    pub message_types: Option<Vec<String>>,
    #[serde(default)]
    pub mode: Option<Mode>,
    /// What a `general_assistant` origin's sends get: blocked, or handed off.
    #[serde(default)]
    pub action: RuleAction,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhoneNumbersSection {
    /// Action for a phone-number-id (or WABA id) no rule names.
    #[serde(default = "default_allow")]
    pub unknown: Action,
    #[serde(default)]
    pub numbers: Vec<PhoneNumberDoc>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhoneNumberDoc {
    pub id: String,
    /// Phone-number-ids and WABA ids as they appear in the request path.
    pub path_ids: Vec<String>,
    pub purpose: Role,
    /// Origin ids allowed to send from these numbers; empty means any origin.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    #[serde(default)]
    pub mode: Option<Mode>,
    /// What a send this rule refuses gets: blocked, or handed off.
    #[serde(default)]
    pub action: RuleAction,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContentSection {
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Block when the classifier's probability that a message comes from a general assistant
    /// reaches this value (between 0 and 1).
    #[serde(default = "default_threshold")]
    pub threshold: f64,
    #[serde(default = "default_scored_roles")]
    pub roles: Vec<ScoredRole>,
    /// The business's own weighted terms, added to the model's score of every part they
    /// appear in (negative: a service signal, such as a brand or product name).
    #[serde(default)]
    pub terms: Vec<ContentTermsDoc>,
    #[serde(default)]
    pub mode: Option<Mode>,
    /// What a send the classifier finds gets: blocked, or handed off.
    #[serde(default)]
    pub action: RuleAction,
}

fn default_true() -> bool {
    true
}

/// The default probability threshold, chosen on the project's held-out split (see MODEL.md).
pub(crate) fn default_threshold() -> f64 {
    DEFAULT_THRESHOLD
}

fn default_scored_roles() -> Vec<ScoredRole> {
    vec![ScoredRole::Unknown]
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContentTermsDoc {
    pub id: String,
    /// Words or phrases, matched whole after the same normalisation as the text.
    pub terms: Vec<String>,
    /// Added to the score (log-odds units) of a part that holds any of the terms.
    pub weight: f64,
    #[serde(default)]
    pub note: Option<String>,
}

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

/// The second job: strip WhatsApp-derived records from uploads to AI training endpoints.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingSection {
    #[serde(default)]
    pub mode: Option<Mode>,
    /// Vendor training, fine-tuning and dataset endpoints whose uploads are inspected.
    pub endpoints: Vec<EndpointDoc>,
    /// The business's own exclusive fine-tuning endpoints: matched first, nothing is stripped.
    #[serde(default)]
    pub exclusive: Vec<EndpointDoc>,
    /// Object-storage buckets that training jobs read their data from (Vertex AI from GCS,
    /// Bedrock from S3, Azure AI from Blob storage): an object written to one is a training
    /// upload.
    #[serde(default)]
    pub buckets: Vec<BucketDoc>,
    #[serde(default)]
    pub detectors: DetectorsDoc,
    /// The largest single record (JSONL line, multipart part header, HF commit line).
    #[serde(default = "default_max_record")]
    pub max_record_bytes: u64,
    /// The largest `application/json` body, which is held whole to be rewritten.
    #[serde(default = "default_max_json_document")]
    pub max_json_document_bytes: u64,
    /// A compressed upload may not expand by more than this factor (a zip bomb otherwise).
    #[serde(default = "default_max_expansion")]
    pub max_expansion_ratio: u64,
    /// What to do with a body that cannot be inspected: `block`, or `allow` (forward it
    /// unchanged and log it as an audit decision).
    #[serde(default = "default_block")]
    pub on_uninspectable: Action,
    /// How a GCS request is judged when it carries an `upload_id` of a resumable session the
    /// filter never saw start (read only when `buckets` names a GCS bucket).
    #[serde(default)]
    pub unknown_gcs_sessions: UnknownGcsSessions,
}

/// A GCS resumable session the filter never saw start: GCS writes a chunk to the session's
/// bucket, whatever bucket the chunk's path names, and the session URI is a bearer capability
/// anyone may have been handed.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum UnknownGcsSessions {
    /// Judged as a write to the first GCS bucket the policy names (fail closed): a whole
    /// object is read and refused if it holds a WhatsApp record, a piece is refused
    /// `object_in_parts`.
    #[default]
    Inspect,
    /// Judged by the bucket its path names, as if the session were of that bucket.
    ByPath,
}

fn default_max_record() -> u64 {
    8 << 20
}

fn default_max_json_document() -> u64 {
    16 << 20
}

fn default_max_expansion() -> u64 {
    100
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointDoc {
    pub id: String,
    /// Host patterns: exact (`api.openai.com`) or with a leading `*.` / `*-` wildcard.
    pub hosts: Vec<String>,
    /// Path globs: `*` is one segment's worth of characters, `**` any run.
    #[serde(default = "default_all_paths")]
    pub paths: Vec<String>,
    #[serde(default = "default_upload_methods")]
    pub methods: Vec<String>,
    /// Body format: `auto` (from content-type), `jsonl`, `json`, `multipart`, `hf_commit`.
    #[serde(default)]
    pub format: BodyFormat,
}

/// The object store that holds a training bucket.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum BucketProvider {
    /// Google Cloud Storage: JSON API uploads and the XML API.
    Gcs,
    /// Amazon S3: virtual-hosted and path-style requests.
    S3,
    /// Azure Blob Storage (and the Data Lake `dfs` endpoint of the same account).
    AzureBlob,
}

/// A training bucket: `bucket` for GCS and S3, `account` and `container` for Azure Blob.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BucketDoc {
    pub id: String,
    pub provider: BucketProvider,
    #[serde(default)]
    pub bucket: Option<String>,
    #[serde(default)]
    pub account: Option<String>,
    #[serde(default)]
    pub container: Option<String>,
    /// Only objects whose name starts with this (`""`: every object of the bucket).
    #[serde(default)]
    pub prefix: String,
    /// More hosts serving this provider's API path-style (`/{bucket}/{key}`; for Azure,
    /// `/{container}/{blob}` of this account): private endpoints, custom domains.
    #[serde(default)]
    pub hosts: Vec<String>,
}

fn default_all_paths() -> Vec<String> {
    vec!["/**".to_owned()]
}

fn default_upload_methods() -> Vec<String> {
    vec!["POST".to_owned(), "PUT".to_owned(), "PATCH".to_owned()]
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum BodyFormat {
    #[default]
    Auto,
    Jsonl,
    Json,
    Multipart,
    HfCommit,
    /// A part of a file uploaded in parts (OpenAI Uploads `/parts`): judged, never stripped,
    /// its unfinished last record carried to the next part of the same upload.
    UploadPart,
    /// The end of a file uploaded in parts (OpenAI Uploads `/complete`): the parts must be
    /// the ones judged, in order, and the file's last record is judged.
    UploadComplete,
    /// An object written to a training bucket (`training.buckets`): judged, never stripped,
    /// forwarded byte for byte or refused. Not a value a policy can name.
    #[serde(skip_deserializing)]
    Object,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectorsDoc {
    /// `wamid.` message ids anywhere in a record.
    #[serde(default = "default_true")]
    pub wamid: bool,
    /// Keys that only WhatsApp data carries (`wa_id`).
    #[serde(default = "default_wa_id_keys")]
    pub wa_id_keys: Vec<String>,
    /// Webhook envelopes: `whatsapp_business_account`, `messaging_product: whatsapp`.
    #[serde(default = "default_true")]
    pub webhook_envelope: bool,
    #[serde(default)]
    pub provenance: ProvenanceDoc,
    /// WhatsApp chat-export lines such as `[12/03/2024, 14:22:01] Ana: ...`.
    #[serde(default = "default_true")]
    pub chat_export: bool,
    /// Keys holding WhatsApp phone numbers in the business's own schemas.
    #[serde(default)]
    pub phone_keys: Vec<String>,
}

impl Default for DetectorsDoc {
    fn default() -> Self {
        Self {
            wamid: true,
            wa_id_keys: default_wa_id_keys(),
            webhook_envelope: true,
            provenance: ProvenanceDoc::default(),
            chat_export: true,
            phone_keys: Vec::new(),
        }
    }
}

fn default_wa_id_keys() -> Vec<String> {
    vec!["wa_id".to_owned()]
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvenanceDoc {
    /// Key names (at any depth) or dotted key paths (`metadata.channel`) holding a provenance tag.
    #[serde(default = "default_provenance_keys")]
    pub keys: Vec<String>,
    /// Tag values that name WhatsApp, compared case-insensitively after trimming. Any value
    /// containing `whatsapp` matches as well, unless it is a document's address (a URL, or a
    /// path ending in `.md`, `.html`...); a value without `whatsapp` (`wa`) is an abbreviation,
    /// which does not count in an object with a `destination` key (`origin: "WA"` is a place).
    #[serde(default = "default_provenance_values")]
    pub values: Vec<String>,
}

impl Default for ProvenanceDoc {
    fn default() -> Self {
        Self {
            keys: default_provenance_keys(),
            values: default_provenance_values(),
        }
    }
}

fn default_provenance_keys() -> Vec<String> {
    [
        "channel",
        "source",
        "origin",
        "platform",
        "medium",
        "provider",
        "integration_type",
        "channel_type",
        "source.type",
        // The same names in the classifier's other languages (es, pt, fr, it, de, nl).
        "canal",
        "canale",
        "kanal",
        "kanaal",
        "plataforma",
        "plateforme",
        "piattaforma",
        "plattform",
        "origen",
        "origem",
        "origine",
        "herkunft",
        "fuente",
        "fonte",
        "quelle",
        "bron",
    ]
    .map(str::to_owned)
    .to_vec()
}

fn default_provenance_values() -> Vec<String> {
    [
        "whatsapp",
        "wa",
        "whatsapp_business",
        "whatsapp business",
        "wa_business",
        "wa-business",
        // WhatsApp Business Account, as BSPs and CRMs abbreviate it.
        "waba",
    ]
    .map(str::to_owned)
    .to_vec()
}
