//! A request in the one request format (`wa_egress_guard::cases::CaseRequest`: policy cases,
//! replay files, `bench`) as this host sends it. The format itself, its defaults and spellings
//! are defined and documented once, in the filter crate.

use wa_egress_guard::cases::CaseRequest;

use crate::request::HttpRequest;
use crate::state::properties::dotted;

/// The trailer a request that ends with trailers (`"trailers": true`) sends.
const CASE_TRAILER: (&str, &str) = ("x-upload-checksum", "sha256=0");

impl TryFrom<&CaseRequest> for HttpRequest {
    type Error = String;

    /// The headers as sent (names lowercased, `content-type` for a JSON body,
    /// `content-encoding` when it encodes), the properties by dotted path, the body as sent, one
    /// chunk.
    fn try_from(request: &CaseRequest) -> Result<HttpRequest, String> {
        Ok(HttpRequest {
            method: request.method.clone(),
            authority: request.authority.clone(),
            path: request.path.clone(),
            headers: request
                .effective_headers()
                .into_iter()
                .map(|(k, v)| (k, v.into_bytes()))
                .collect(),
            properties: request
                .properties
                .iter()
                .map(|(k, v)| (dotted(k), v.clone().into_bytes()))
                .collect(),
            body: request.body_bytes()?,
            trailers: if request.trailers {
                vec![(CASE_TRAILER.0.into(), CASE_TRAILER.1.into())]
            } else {
                Vec::new()
            },
            ..HttpRequest::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_line_as_sent() {
        let request = CaseRequest::parse(
            r#"{"path":"/v1/x","headers":[["a","1"],["a","2"]],"body":{"k":1},"properties":{"source.address":"1.2.3.4:5"}}"#,
        )
        .unwrap();
        let http = HttpRequest::try_from(&request).unwrap();
        assert_eq!(http.method, "POST");
        assert_eq!(http.body, br#"{"k":1}"#);
        assert_eq!(http.headers.len(), 3);
        assert_eq!(http.properties.first().map(|(p, _)| p.len()), Some(2));
        let text = HttpRequest::try_from(&CaseRequest::parse(r#"{"body":"plain"}"#).unwrap());
        assert_eq!(text.unwrap().body, b"plain");
    }
}
