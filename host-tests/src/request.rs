//! A request to drive through the filter, and the fluent builder around it.

use crate::error::HostError;
use crate::filter::Filter;
use crate::headers::HeaderMap;
use crate::outcome::Outcome;
use crate::state::properties::{Properties, PropertyPath};

/// How the body reaches the filter: Envoy calls the body callback once per received chunk.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Chunking {
    /// One chunk.
    #[default]
    Whole,
    /// Split at these byte offsets (out-of-range and repeated offsets are ignored).
    SplitAt(Vec<usize>),
    /// Chunks of this many bytes (the last may be shorter); 0 means one chunk.
    Every(usize),
}

impl Chunking {
    /// The chunks of `body`. An empty body has no chunk: the headers end the stream.
    pub fn split<'b>(&self, body: &'b [u8]) -> Vec<&'b [u8]> {
        if body.is_empty() {
            return Vec::new();
        }
        let mut points: Vec<usize> = match self {
            Chunking::Whole | Chunking::Every(0) => Vec::new(),
            Chunking::SplitAt(points) => points.clone(),
            Chunking::Every(n) => (1..)
                .map(|i| i * n)
                .take_while(|p| *p < body.len())
                .collect(),
        };
        points.retain(|p| *p > 0 && *p < body.len());
        points.sort_unstable();
        points.dedup();
        let mut chunks = Vec::with_capacity(points.len() + 1);
        let mut start = 0;
        for point in points.into_iter().chain(std::iter::once(body.len())) {
            if let Some(chunk) = body.get(start..point) {
                chunks.push(chunk);
            }
            start = point;
        }
        chunks
    }
}

/// The reply the simulated upstream gives when the request reaches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Default for UpstreamResponse {
    /// A 200 with a small Cloud-API-like JSON body.
    fn default() -> UpstreamResponse {
        UpstreamResponse {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: br#"{"messaging_product":"whatsapp","messages":[{"id":"wamid.host-tests"}]}"#
                .to_vec(),
        }
    }
}

/// One HTTP request as a downstream client sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: String,
    pub authority: String,
    pub path: String,
    pub scheme: String,
    /// Regular headers, in order (keys are lower-cased when the map is built).
    pub headers: Vec<(String, Vec<u8>)>,
    /// Per-request properties, layered over the filter's VM-wide ones.
    pub properties: Vec<(PropertyPath, Vec<u8>)>,
    pub body: Vec<u8>,
    pub chunking: Chunking,
    pub trailers: Vec<(String, String)>,
    /// End the stream with an empty data frame, as HTTP/2 clients often do: the last body
    /// callback then has size unchanged and `end_of_stream` set (a request with an empty body
    /// then gets one body callback of size 0 instead of ending at the headers).
    pub empty_end_frame: bool,
    pub upstream_response: UpstreamResponse,
    /// Add `content-length` for a non-empty body when the request has neither it nor
    /// `transfer-encoding` (as an HTTP/1.1 client does).
    pub add_content_length: bool,
    /// Add `x-request-id` when missing (Envoy's connection manager does by default).
    pub add_request_id: bool,
    /// The stream's request buffer limit: the route's `request_body_buffer_limit`, else the
    /// listener's `per_connection_buffer_limit_bytes` (Envoy's default: 1 MiB). A body the
    /// filter keeps buffered (StopIterationAndBuffer) past it gets Envoy's 413.
    pub buffer_limit: usize,
}

/// Envoy's default `per_connection_buffer_limit_bytes`, which a stream's buffers inherit.
pub const ENVOY_DEFAULT_BUFFER_LIMIT: usize = 1024 * 1024;

impl Default for HttpRequest {
    fn default() -> HttpRequest {
        HttpRequest {
            method: "GET".into(),
            authority: "localhost".into(),
            path: "/".into(),
            scheme: "http".into(),
            headers: Vec::new(),
            properties: Vec::new(),
            body: Vec::new(),
            chunking: Chunking::Whole,
            trailers: Vec::new(),
            empty_end_frame: false,
            upstream_response: UpstreamResponse::default(),
            add_content_length: true,
            add_request_id: true,
            buffer_limit: ENVOY_DEFAULT_BUFFER_LIMIT,
        }
    }
}

impl HttpRequest {
    /// The header map Envoy hands the filter: pseudo-headers first, then the client's headers,
    /// then what the connection manager adds.
    pub fn header_map(&self, generated_request_id: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.add(b":authority", self.authority.as_bytes());
        map.add(b":path", self.path.as_bytes());
        map.add(b":method", self.method.as_bytes());
        map.add(b":scheme", self.scheme.as_bytes());
        for (name, value) in &self.headers {
            map.add(name.as_bytes(), value);
        }
        let framed = map.contains("content-length") || map.contains("transfer-encoding");
        if self.add_content_length && !self.body.is_empty() && !framed {
            map.add(b"content-length", self.body.len().to_string().as_bytes());
        }
        if self.add_request_id && !map.contains("x-request-id") {
            map.add(b"x-request-id", generated_request_id.as_bytes());
        }
        map
    }

    pub(crate) fn property_overlay(&self) -> Properties {
        let mut properties = Properties::default();
        // Envoy's HTTP/1 codec drops request trailers unless the connection manager enables
        // them: a request that ends with trailers is an HTTP/2 stream unless the test says.
        if !self.trailers.is_empty() {
            properties.set_path(
                vec![b"request".to_vec(), b"protocol".to_vec()],
                b"HTTP/2".to_vec(),
            );
        }
        for (path, value) in &self.properties {
            properties.set_path(path.clone(), value.clone());
        }
        properties
    }
}

/// Fluent construction of a request, sent with [`RequestBuilder::send`].
pub struct RequestBuilder<'f> {
    filter: &'f mut Filter,
    request: HttpRequest,
}

impl<'f> RequestBuilder<'f> {
    pub(crate) fn new(filter: &'f mut Filter) -> RequestBuilder<'f> {
        RequestBuilder {
            filter,
            request: HttpRequest::default(),
        }
    }

    pub fn method(mut self, method: &str) -> Self {
        self.request.method = method.into();
        self
    }

    pub fn authority(mut self, authority: &str) -> Self {
        self.request.authority = authority.into();
        self
    }

    pub fn path(mut self, path: &str) -> Self {
        self.request.path = path.into();
        self
    }

    pub fn scheme(mut self, scheme: &str) -> Self {
        self.request.scheme = scheme.into();
        self
    }

    pub fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Self {
        self.request
            .headers
            .push((name.into(), value.as_ref().to_vec()));
        self
    }

    /// A per-request property by dotted name, e.g. `connection.uri_san_peer_certificate`.
    pub fn property(mut self, dotted: &str, value: impl AsRef<[u8]>) -> Self {
        self.request.properties.push((
            crate::state::properties::dotted(dotted),
            value.as_ref().to_vec(),
        ));
        self
    }

    /// A per-request property by explicit segments (for segments containing dots).
    pub fn property_path(mut self, segments: &[&str], value: impl AsRef<[u8]>) -> Self {
        let path = segments.iter().map(|s| s.as_bytes().to_vec()).collect();
        self.request
            .properties
            .push((path, value.as_ref().to_vec()));
        self
    }

    pub fn body(mut self, body: impl AsRef<[u8]>) -> Self {
        self.request.body = body.as_ref().to_vec();
        self
    }

    /// The body as these chunks, one body callback each.
    pub fn body_chunks<C: AsRef<[u8]>>(mut self, chunks: &[C]) -> Self {
        let mut body = Vec::new();
        let mut points = Vec::new();
        for chunk in chunks {
            body.extend_from_slice(chunk.as_ref());
            points.push(body.len());
        }
        self.request.body = body;
        self.request.chunking = Chunking::SplitAt(points);
        self
    }

    pub fn chunking(mut self, chunking: Chunking) -> Self {
        self.request.chunking = chunking;
        self
    }

    pub fn trailer(mut self, name: &str, value: &str) -> Self {
        self.request.trailers.push((name.into(), value.into()));
        self
    }

    /// End the stream with an empty data frame (see [`HttpRequest::empty_end_frame`]).
    pub fn end_with_empty_frame(mut self) -> Self {
        self.request.empty_end_frame = true;
        self
    }

    pub fn upstream_response(mut self, response: UpstreamResponse) -> Self {
        self.request.upstream_response = response;
        self
    }

    pub fn without_content_length(mut self) -> Self {
        self.request.add_content_length = false;
        self
    }

    /// The stream's request buffer limit (see [`HttpRequest::buffer_limit`]).
    pub fn buffer_limit(mut self, bytes: usize) -> Self {
        self.request.buffer_limit = bytes;
        self
    }

    /// The request built so far, without sending it.
    pub fn build(self) -> HttpRequest {
        self.request
    }

    pub fn send(self) -> Result<Outcome, HostError> {
        self.filter.send(&self.request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunking_splits() {
        let body = b"abcdef";
        assert_eq!(Chunking::Whole.split(body), vec![&body[..]]);
        assert_eq!(
            Chunking::SplitAt(vec![4, 2, 2, 0, 9]).split(body),
            vec![&b"ab"[..], b"cd", b"ef"]
        );
        assert_eq!(Chunking::Every(4).split(body), vec![&b"abcd"[..], b"ef"]);
        assert!(Chunking::Every(4).split(b"").is_empty());
    }
}
