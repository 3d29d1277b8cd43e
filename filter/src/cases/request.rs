//! The request a case describes, as sent: its headers, its body bytes (encoded as the case
//! asks) and the host attributes the identity sources read.

use super::CaseRequest;
use crate::identity::StaticAttributes;
use base64::Engine;
use flate2::Compression;
use flate2::write::{GzEncoder, ZlibEncoder};
use std::io::Write;

impl CaseRequest {
    /// The request headers as sent, including `content-encoding` when the case encodes.
    pub fn effective_headers(&self) -> Vec<(String, String)> {
        let mut h: Vec<(String, String)> = self
            .headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
            .collect();
        if self.body.is_some() && !h.iter().any(|(k, _)| k == "content-type") {
            h.push(("content-type".into(), "application/json".into()));
        }
        if let Some(enc) = &self.encode {
            h.push(("content-encoding".into(), enc.clone()));
        }
        h
    }

    /// The body bytes before any `encode`: what a training upload is forwarded as once the
    /// filter has decoded it (it forwards identity-encoded bytes).
    pub fn plain_body_bytes(&self) -> Result<Vec<u8>, String> {
        let mut plain = self.clone();
        if matches!(plain.encode.as_deref(), Some("gzip" | "deflate")) {
            plain.encode = None;
        }
        plain.body_bytes()
    }

    /// The body bytes as sent.
    pub fn body_bytes(&self) -> Result<Vec<u8>, String> {
        let raw = if let Some(v) = &self.body {
            serde_json::to_vec(v).map_err(|e| e.to_string())?
        } else if let Some(t) = &self.body_text {
            t.clone().into_bytes()
        } else if let Some(b) = &self.body_base64 {
            base64::engine::general_purpose::STANDARD
                .decode(b)
                .map_err(|e| format!("invalid body_base64: {e}"))?
        } else {
            Vec::new()
        };
        match self.encode.as_deref() {
            None => Ok(raw),
            Some("gzip") => {
                let mut e = GzEncoder::new(Vec::new(), Compression::default());
                e.write_all(&raw)
                    .and_then(|()| e.finish())
                    .map_err(|e| e.to_string())
            }
            Some("deflate") => {
                let mut e = ZlibEncoder::new(Vec::new(), Compression::default());
                e.write_all(&raw)
                    .and_then(|()| e.finish())
                    .map_err(|e| e.to_string())
            }
            // Any other coding is sent as is, labelled: the filter must refuse what it cannot read.
            Some(_) => Ok(raw),
        }
    }

    pub fn attributes(&self) -> StaticAttributes {
        let mut a = StaticAttributes::new();
        for (k, v) in &self.properties {
            a = a.property(k, v.as_bytes());
        }
        for (k, v) in self.effective_headers() {
            a = a.header(&k, &v);
        }
        a
    }

    pub(super) fn header(&self, name: &str) -> Option<String> {
        self.effective_headers()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
}
