//! Policy test cases kept as data (`policies/tests/*.json`), and the native runner.
//!
//! A case file names a policy (a file plus an optional JSON merge patch, or an inline policy)
//! and a list of `{note, request, want}` cases. `host-tests` runs the same files against the
//! `.wasm`; the two must agree. A case's `request` is the one request format ([`CaseRequest`]),
//! which replay files, `wa-guard` and the benches read too. Native only: this module is not
//! compiled into the filter.

mod base64;
mod request;
mod runner;

pub use base64::decode_base64;
pub use request::{CaseRequest, Headers};

pub use runner::{
    CASE_CLOCK_NANOS, drive_body, drive_body_with_state, run_native, run_native_at,
    run_native_with, unchanged_body,
};

use crate::policy::Policy;
use serde::Deserialize;
use serde_json::Value;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseFile {
    #[serde(default)]
    pub description: String,
    pub policy: PolicyRef,
    pub cases: Vec<Case>,
}

/// `{"file": "../default.json", "patch": {...}}` or `{"inline": {...}}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum PolicyRef {
    /// A policy file relative to the case file, with an optional RFC 7386 merge patch.
    File {
        file: String,
        #[serde(default)]
        patch: Option<Value>,
    },
    Inline {
        inline: Value,
    },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub note: String,
    pub request: CaseRequest,
    pub want: Want,
}

/// The expected outcome. `decision` is `allow`, `block`, `audit`, or `none` for requests the
/// filter does not govern (no decision at all); training uploads use `forward`, `strip`,
/// `block`, `audit` and `exclusive`, with the endpoint id as `rule` and the problem as `reason`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Want {
    pub decision: String,
    #[serde(default)]
    pub rule: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub records_stripped: Option<u64>,
    /// The exact body the upstream must receive (UTF-8 text).
    #[serde(default)]
    pub forwarded_text: Option<String>,
}

/// What a run produced, in the same terms as `Want`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub decision: String,
    pub rule: Option<String>,
    pub reason: Option<String>,
    /// 403 for a block, otherwise 200 (the upstream's answer).
    pub status: u32,
    /// The body as the upstream received it; `None` when nothing reached the upstream.
    pub forwarded_body: Option<Vec<u8>>,
    /// Training uploads: how many records were stripped.
    pub records_stripped: Option<u64>,
}

impl Observed {
    /// Whether this matches `want` (rule and reason are checked only when the case names them).
    pub fn satisfies(&self, want: &Want) -> bool {
        self.decision == want.decision
            && want
                .rule
                .as_ref()
                .is_none_or(|r| self.rule.as_ref() == Some(r))
            && want
                .reason
                .as_ref()
                .is_none_or(|r| self.reason.as_ref() == Some(r))
            && want
                .records_stripped
                .is_none_or(|n| self.records_stripped == Some(n))
            && want
                .forwarded_text
                .as_ref()
                .is_none_or(|t| self.forwarded_body.as_deref() == Some(t.as_bytes()))
    }
}

/// A loaded case file with its compiled policy and the policy's JSON (for the `.wasm`).
#[derive(Debug)]
pub struct LoadedCases {
    pub path: PathBuf,
    pub policy_json: String,
    pub policy: Policy,
    pub cases: Vec<Case>,
}

/// Loads every `*.json` case file in `dir`, sorted by name.
pub fn load_dir(dir: &Path) -> Result<Vec<LoadedCases>, String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read `{}`: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files.iter().map(|f| load_file(f)).collect()
}

pub fn load_file(path: &Path) -> Result<LoadedCases, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    let file: CaseFile =
        serde_json::from_str(&text).map_err(|e| format!("`{}`: {e}", path.display()))?;
    let policy_value = match &file.policy {
        PolicyRef::Inline { inline } => inline.clone(),
        PolicyRef::File { file: f, patch } => {
            let base = path.parent().unwrap_or(Path::new(".")).join(f);
            let text = std::fs::read_to_string(&base)
                .map_err(|e| format!("cannot read `{}`: {e}", base.display()))?;
            let mut v: Value =
                serde_json::from_str(&text).map_err(|e| format!("`{}`: {e}", base.display()))?;
            if let Some(p) = patch {
                merge_patch(&mut v, p);
            }
            v
        }
    };
    let policy_json = policy_value.to_string();
    let policy = Policy::from_json(policy_json.as_bytes())
        .map_err(|e| format!("`{}`: {e}", path.display()))?;
    Ok(LoadedCases {
        path: path.to_owned(),
        policy_json,
        policy,
        cases: file.cases,
    })
}

/// RFC 7386 JSON merge patch.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(serde_json::Map::new());
    }
    if let Value::Object(t) = target {
        for (k, v) in p {
            if v.is_null() {
                t.remove(k);
            } else {
                merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}
