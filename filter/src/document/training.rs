//! The `training` section: the AI training endpoints and buckets inspected, and the detectors.

use super::{Action, Mode, default_block, default_true};
use serde::Deserialize;

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
