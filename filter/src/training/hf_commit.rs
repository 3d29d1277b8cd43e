//! Hugging Face commit NDJSON (`POST /api/datasets/{repo}/commit/{rev}`): one JSON operation per
//! line. `file` operations carry base64 file content; JSON and JSONL files are decoded, stripped
//! and re-encoded. Every other line passes byte for byte.
//!
//! `huggingface_hub` before 0.13 posted the commit as one JSON object on one line instead,
//! `{"summary", "files": [{"path", "content", "encoding"}], "lfsFiles", "deletedFiles"}`: each
//! entry of its `files` is read as a `file` operation's value.

use super::multipart::stage_for_file;
use super::stage::{Stage, StageContext, StripError, StripStats};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use std::sync::Arc;

pub struct HfCommitStage {
    ctx: Arc<StageContext>,
    pending: Vec<u8>,
    bypassed: bool,
}

impl HfCommitStage {
    pub fn new(ctx: Arc<StageContext>) -> Self {
        Self {
            ctx,
            pending: Vec::new(),
            bypassed: false,
        }
    }

    /// Rewrites one operation line (without its newline); `None` keeps it unchanged.
    fn rewrite(&self, line: &[u8], stats: &mut StripStats) -> Result<Option<Vec<u8>>, StripError> {
        let trimmed = line.trim_ascii();
        if trimmed.is_empty() {
            return Ok(None);
        }
        let mut op: Value =
            serde_json::from_slice(trimmed).map_err(|_| StripError::InvalidRecord)?;
        let changed = match op.get("key").and_then(Value::as_str) {
            Some("file") => {
                let Some(value) = op.get_mut("value") else {
                    return Err(StripError::InvalidRecord);
                };
                self.rewrite_file(value, stats)?
            }
            // The legacy commit: one object whose `files` are the file operations' values.
            None if op.get("key").is_none() && op.get("files").is_some() => {
                let Some(Value::Array(files)) = op.get_mut("files") else {
                    return Err(StripError::InvalidRecord);
                };
                let mut changed = false;
                for file in files {
                    changed |= self.rewrite_file(file, stats)?;
                }
                changed
            }
            _ => false,
        };
        if !changed {
            return Ok(None);
        }
        serde_json::to_vec(&op)
            .map(Some)
            .map_err(|_| StripError::InvalidRecord)
    }

    /// Strips one file (`{path, content, encoding}`) in place; whether anything was stripped.
    fn rewrite_file(&self, value: &mut Value, stats: &mut StripStats) -> Result<bool, StripError> {
        let path = value
            .get("path")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_ascii_lowercase();
        let encoding = value
            .get("encoding")
            .and_then(Value::as_str)
            .unwrap_or("base64");
        if !encoding.eq_ignore_ascii_case("base64") {
            return Err(StripError::UnsupportedPart);
        }
        // Code and configuration are not training records. Prose files (a README, a licence,
        // a citation, a chat template, an extension-less file) are read as text lines with
        // every detector: a chat export committed as `.md` is still a chat export.
        let name = path.rsplit('/').next().unwrap_or(&path);
        let ext = name.rsplit_once('.').map_or("", |(_, e)| e);
        if matches!(
            ext,
            "py" | "yaml" | "yml" | "toml" | "cfg" | "gitattributes" | "gitignore"
        ) {
            return Ok(false);
        }
        let as_text = matches!(ext, "" | "md" | "txt" | "rst" | "license" | "cff" | "jinja");
        let Some(Value::String(content)) = value.get("content") else {
            return Err(StripError::InvalidRecord);
        };
        let decoded = STANDARD
            .decode(content.as_bytes())
            .map_err(|_| StripError::InvalidRecord)?;
        let mut stage = if as_text {
            stage_for_file(&self.ctx, "file.txt", "text/plain")
        } else {
            stage_for_file(&self.ctx, &path, "")
        };
        let mut stripped = Vec::with_capacity(decoded.len());
        let before = stats.records_stripped;
        stage.feed(&decoded, &mut stripped, stats)?;
        stage.finish(&mut stripped, stats)?;
        if stats.records_stripped == before {
            return Ok(false);
        }
        if let Some(c) = value.get_mut("content") {
            *c = Value::String(STANDARD.encode(&stripped));
        }
        Ok(true)
    }

    fn process(
        &mut self,
        final_chunk: bool,
        out: &mut Vec<u8>,
        stats: &mut StripStats,
    ) -> Result<(), StripError> {
        loop {
            let (end, next) = match memchr::memchr(b'\n', &self.pending) {
                Some(i) => (i, i + 1),
                None if final_chunk && !self.pending.is_empty() => {
                    (self.pending.len(), self.pending.len())
                }
                None => return Ok(()),
            };
            let line = self.pending.get(..end).unwrap_or_default();
            match self.rewrite(line, stats)? {
                None => out.extend_from_slice(self.pending.get(..next).unwrap_or_default()),
                Some(new) => {
                    out.extend_from_slice(&new);
                    out.extend_from_slice(self.pending.get(end..next).unwrap_or_default());
                }
            }
            self.pending.drain(..next);
        }
    }
}

impl Stage for HfCommitStage {
    fn feed(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        stats: &mut StripStats,
    ) -> Result<(), StripError> {
        if self.bypassed {
            out.extend_from_slice(input);
            return Ok(());
        }
        self.pending.extend_from_slice(input);
        self.process(false, out, stats)?;
        if self.pending.len() > self.ctx.max_record_bytes {
            return Err(StripError::RecordTooLarge);
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<u8>, stats: &mut StripStats) -> Result<(), StripError> {
        if self.bypassed {
            return Ok(());
        }
        self.process(true, out, stats)
    }

    fn bypass(&mut self, out: &mut Vec<u8>) {
        out.append(&mut self.pending);
        self.bypassed = true;
    }
}
