//! A request written as JSON (one line of a replay file):
//! `{"method","authority","path","headers":{..} | [[k,v],..],"properties":{..},
//!   "body": "text" | {json} , "body_base64": ".."}`.
//!
//! `method` defaults to `POST` and `authority` to `graph.facebook.com`, as in the policy test
//! cases. A string `body` is sent as is; any other JSON `body` is sent compactly serialized,
//! with `content-type: application/json` unless the request sets one.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::request::HttpRequest;
use crate::state::properties::dotted;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestSpec {
    /// Free text identifying the line in reports.
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default = "default_method")]
    pub method: String,
    #[serde(default = "default_authority")]
    pub authority: String,
    #[serde(default = "default_path")]
    pub path: String,
    #[serde(default)]
    pub headers: HeaderList,
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
    #[serde(default)]
    pub body: Option<Value>,
    #[serde(default)]
    pub body_base64: Option<String>,
}

/// Headers as an object or as a list of pairs (for repeated names).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum HeaderList {
    Map(BTreeMap<String, String>),
    Pairs(Vec<(String, String)>),
}

impl Default for HeaderList {
    fn default() -> HeaderList {
        HeaderList::Pairs(Vec::new())
    }
}

impl HeaderList {
    pub fn pairs(&self) -> Vec<(String, String)> {
        match self {
            HeaderList::Map(map) => map.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            HeaderList::Pairs(pairs) => pairs.clone(),
        }
    }
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

impl RequestSpec {
    pub fn parse(line: &str) -> Result<RequestSpec, String> {
        serde_json::from_str(line).map_err(|e| e.to_string())
    }

    pub fn body_bytes(&self) -> Result<(Vec<u8>, bool), String> {
        match (&self.body, &self.body_base64) {
            (Some(_), Some(_)) => Err("give `body` or `body_base64`, not both".into()),
            (Some(Value::String(text)), None) => Ok((text.clone().into_bytes(), false)),
            (Some(json), None) => Ok((json.to_string().into_bytes(), true)),
            (None, Some(encoded)) => decode_base64(encoded).map(|b| (b, false)),
            (None, None) => Ok((Vec::new(), false)),
        }
    }

    pub fn to_request(&self) -> Result<HttpRequest, String> {
        let (body, is_json) = self.body_bytes()?;
        let mut headers: Vec<(String, Vec<u8>)> = self
            .headers
            .pairs()
            .into_iter()
            .map(|(k, v)| (k, v.into_bytes()))
            .collect();
        let has_content_type = headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
        if is_json && !has_content_type {
            headers.push(("content-type".into(), b"application/json".to_vec()));
        }
        Ok(HttpRequest {
            method: self.method.clone(),
            authority: self.authority.clone(),
            path: self.path.clone(),
            headers,
            properties: self
                .properties
                .iter()
                .map(|(k, v)| (dotted(k), v.clone().into_bytes()))
                .collect(),
            body,
            ..HttpRequest::default()
        })
    }
}

/// Standard base64 (RFC 4648), padding optional, whitespace ignored.
pub fn decode_base64(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let mut acc = 0u32;
    let mut bits = 0u32;
    for (index, c) in text.bytes().enumerate() {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            b' ' | b'\n' | b'\r' | b'\t' => continue,
            other => {
                return Err(format!(
                    "invalid base64 character `{}` at {index}",
                    char::from(other)
                ));
            }
        };
        acc = (acc << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64() {
        assert_eq!(decode_base64("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(decode_base64("aGVsbG8").unwrap(), b"hello");
        assert_eq!(decode_base64("").unwrap(), b"");
        assert!(decode_base64("a*b").is_err());
    }

    #[test]
    fn spec_shapes() {
        let spec = RequestSpec::parse(
            r#"{"path":"/v1/x","headers":[["a","1"],["a","2"]],"body":{"k":1},"properties":{"source.address":"1.2.3.4:5"}}"#,
        )
        .unwrap();
        let request = spec.to_request().unwrap();
        assert_eq!(request.method, "POST");
        assert_eq!(request.body, br#"{"k":1}"#);
        assert_eq!(request.headers.len(), 3);
        let text = RequestSpec::parse(r#"{"body":"plain"}"#)
            .unwrap()
            .to_request()
            .unwrap();
        assert_eq!(text.body, b"plain");
        assert!(RequestSpec::parse(r#"{"bogus":1}"#).is_err());
    }
}
