//! The one request format: a policy case's `request`, a line of a replay file (host-tests'
//! `replay`, `wa-guard replay`), the JSON request `wa-guard explain` reads, and the requests of
//! host-tests' `bench`. Defined once here and read by every one of them, so a request means
//! the same thing to the native runner, the `.wasm` and the component.
//!
//! ```json
//! {"note": "optional label", "method": "POST", "authority": "graph.facebook.com",
//!  "path": "/v21.0/123/messages", "headers": {"content-type": "application/json"},
//!  "properties": {"connection.uri_san_peer_certificate": "spiffe://..."},
//!  "body": {"messaging_product": "whatsapp", "type": "text", "text": {"body": "..."}}}
//! ```

use super::base64::decode_base64;
use crate::identity::StaticAttributes;
use flate2::Compression;
use flate2::write::{GzEncoder, ZlibEncoder};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;

/// One HTTP request as a client sends it.
///
/// - `note`: free text naming the request in reports (a replay line, a bench row); a case names
///   itself with its own `note`, so there it is unused.
/// - `method` (default `POST`), `authority` (default `graph.facebook.com`), `path` (default `/`,
///   with any query string).
/// - `headers`: an object, or a list of `[name, value]` pairs for repeated names. Names are
///   lowercased, as Envoy does.
/// - `properties`: host properties (Envoy attributes) by dotted path, e.g. `source.address`.
/// - The body, at most one of:
///   - `body`: a JSON string is sent as is (the same as `body_text`); any other JSON is sent
///     compactly serialised, with `content-type: application/json` unless a header sets one.
///     Both spellings of a text body are accepted: the replay format always had a string
///     `body`, the case files `body_text`;
///   - `body_text`: sent as is;
///   - `body_base64`: raw bytes, standard or URL-safe base64, padding optional, whitespace
///     ignored.
/// - `encode`: `gzip` or `deflate` compresses the body and sets `content-encoding`; any other
///   value only sets the header (the filter must refuse what it cannot read).
/// - `trailers`: the request ends with trailers (HTTP/2, or chunked HTTP/1.1): no body callback
///   carries `end_of_stream`; the stream ends in the trailers callback.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseRequest {
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default = "default_method")]
    pub method: String,
    #[serde(default = "default_authority")]
    pub authority: String,
    #[serde(default = "default_path")]
    pub path: String,
    #[serde(default)]
    pub headers: Headers,
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
    #[serde(default)]
    pub body: Option<Value>,
    #[serde(default)]
    pub body_text: Option<String>,
    #[serde(default)]
    pub body_base64: Option<String>,
    #[serde(default)]
    pub encode: Option<String>,
    #[serde(default)]
    pub trailers: bool,
}

fn default_method() -> String {
    "POST".into()
}

fn default_authority() -> String {
    "graph.facebook.com".into()
}

fn default_path() -> String {
    "/".into()
}

/// Request headers in order, read from a JSON object (in key order) or a list of
/// `[name, value]` pairs (for repeated names).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(from = "HeadersDocument")]
pub struct Headers(pub Vec<(String, String)>);

#[derive(Deserialize)]
#[serde(untagged)]
enum HeadersDocument {
    Map(BTreeMap<String, String>),
    Pairs(Vec<(String, String)>),
}

impl From<HeadersDocument> for Headers {
    fn from(doc: HeadersDocument) -> Headers {
        match doc {
            HeadersDocument::Map(map) => map.into(),
            HeadersDocument::Pairs(pairs) => Headers(pairs),
        }
    }
}

impl From<BTreeMap<String, String>> for Headers {
    fn from(map: BTreeMap<String, String>) -> Headers {
        map.into_iter().collect()
    }
}

impl FromIterator<(String, String)> for Headers {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Headers {
        Headers(iter.into_iter().collect())
    }
}

impl<const N: usize> From<[(String, String); N]> for Headers {
    fn from(pairs: [(String, String); N]) -> Headers {
        pairs.into_iter().collect()
    }
}

/// The body as written, before any `encode`.
enum BodySource<'a> {
    None,
    Text(&'a str),
    Json(&'a Value),
    Base64(&'a str),
}

impl CaseRequest {
    /// Parses one request (a line of a replay file).
    pub fn parse(text: &str) -> Result<CaseRequest, String> {
        serde_json::from_str(text).map_err(|e| e.to_string())
    }

    /// The note, or `METHOD authority/path` when there is none.
    pub fn label(&self) -> String {
        match &self.note {
            Some(note) => note.clone(),
            None => format!("{} {}{}", self.method, self.authority, self.path),
        }
    }

    fn body_source(&self) -> Result<BodySource<'_>, String> {
        match (&self.body, &self.body_text, &self.body_base64) {
            (None, None, None) => Ok(BodySource::None),
            (Some(Value::String(text)), None, None) | (None, Some(text), None) => {
                Ok(BodySource::Text(text))
            }
            (Some(json), None, None) => Ok(BodySource::Json(json)),
            (None, None, Some(encoded)) => Ok(BodySource::Base64(encoded)),
            _ => Err("give at most one of `body`, `body_text` and `body_base64`".into()),
        }
    }

    /// Whether the body is JSON sent compactly serialised (it then gets a `content-type`).
    fn is_json_body(&self) -> bool {
        matches!(self.body_source(), Ok(BodySource::Json(_)))
    }

    /// The request headers as sent: names lowercased, `content-type: application/json` for a
    /// JSON `body` without one, and `content-encoding` when the request encodes.
    pub fn effective_headers(&self) -> Vec<(String, String)> {
        let mut h: Vec<(String, String)> = self
            .headers
            .0
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
            .collect();
        if self.is_json_body() && !h.iter().any(|(k, _)| k == "content-type") {
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
        match self.body_source()? {
            BodySource::None => Ok(Vec::new()),
            BodySource::Text(text) => Ok(text.as_bytes().to_vec()),
            BodySource::Json(json) => serde_json::to_vec(json).map_err(|e| e.to_string()),
            BodySource::Base64(encoded) => {
                decode_base64(encoded).map_err(|e| format!("invalid `body_base64`: {e}"))
            }
        }
    }

    /// The body bytes as sent (compressed when the request encodes with `gzip` or `deflate`).
    pub fn body_bytes(&self) -> Result<Vec<u8>, String> {
        let raw = self.plain_body_bytes()?;
        match self.encode.as_deref() {
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
            None | Some(_) => Ok(raw),
        }
    }

    /// The host attributes the identity sources read: the properties, then the headers.
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

    /// The first value of a header as sent.
    pub fn header(&self, name: &str) -> Option<String> {
        self.effective_headers()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_and_case_spellings() {
        let r = CaseRequest::parse(
            r#"{"path":"/v1/x","headers":[["A","1"],["a","2"]],"body":{"k":1},"properties":{"source.address":"1.2.3.4:5"}}"#,
        )
        .unwrap();
        assert_eq!(r.method, "POST");
        assert_eq!(r.authority, "graph.facebook.com");
        assert_eq!(r.body_bytes().unwrap(), br#"{"k":1}"#);
        assert_eq!(
            r.effective_headers(),
            [
                ("a".to_owned(), "1".to_owned()),
                ("a".to_owned(), "2".to_owned()),
                ("content-type".to_owned(), "application/json".to_owned()),
            ]
        );
        let text = CaseRequest::parse(r#"{"body":"plain"}"#).unwrap();
        assert_eq!(text.path, "/");
        assert_eq!(text.body_bytes().unwrap(), b"plain");
        assert!(text.effective_headers().is_empty());
        let same = CaseRequest::parse(r#"{"body_text":"plain"}"#).unwrap();
        assert_eq!(same.body_bytes().unwrap(), b"plain");
        let map = CaseRequest::parse(r#"{"headers":{"b":"2","a":"1"}}"#).unwrap();
        assert_eq!(map.headers.0.first().map(|(k, _)| k.as_str()), Some("a"));
        assert!(CaseRequest::parse(r#"{"bogus":1}"#).is_err());
    }

    #[test]
    fn one_body_at_most() {
        let both = CaseRequest::parse(r#"{"body":{"a":1},"body_base64":"aGk="}"#).unwrap();
        assert!(both.body_bytes().is_err());
        let both = CaseRequest::parse(r#"{"body_text":"a","body":"b"}"#).unwrap();
        assert!(both.body_bytes().is_err());
    }

    #[test]
    fn encoded_body_and_header() {
        let r = CaseRequest::parse(r#"{"body_text":"hello","encode":"gzip"}"#).unwrap();
        assert_eq!(r.plain_body_bytes().unwrap(), b"hello");
        assert_ne!(r.body_bytes().unwrap(), b"hello");
        assert_eq!(r.header("content-encoding").as_deref(), Some("gzip"));
        let br = CaseRequest::parse(r#"{"body_base64":"aGVsbG8","encode":"br"}"#).unwrap();
        assert_eq!(br.body_bytes().unwrap(), b"hello");
    }
}
