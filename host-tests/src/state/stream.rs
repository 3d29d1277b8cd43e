//! The host's view of the one HTTP stream whose callbacks are running: its header maps,
//! body buffers, and which of them Envoy would let the filter touch right now.

use crate::abi::{BufferType, MapType, StreamType};
use crate::headers::HeaderMap;
use crate::outcome::LocalResponse;
use crate::state::properties::Properties;

/// Which maps and buffers are reachable. Envoy drops its pointer to the request headers once
/// the headers callback returns Continue, so a later callback gets `BadArgument` for them.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Reachable {
    pub request_headers: bool,
    pub request_body: bool,
    pub request_trailers: bool,
    pub response_headers: bool,
    pub response_body: bool,
    pub response_trailers: bool,
    /// `proxy_on_log`: headers are readable, nothing is writable.
    pub access_log: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct HttpStream {
    pub context_id: u32,
    pub request_headers: HeaderMap,
    pub request_body: Vec<u8>,
    pub request_trailers: HeaderMap,
    pub response_headers: HeaderMap,
    pub response_body: Vec<u8>,
    pub response_trailers: HeaderMap,
    pub reachable: Reachable,
    /// `end_of_stream` of the data callback that is running.
    pub end_of_stream: bool,
    /// Per-request properties (from the test) and properties the guest set.
    pub properties: Properties,
    pub local_response: Option<LocalResponse>,
    /// Local responses sent after the first one (Envoy ignores them).
    pub ignored_local_responses: u32,
    pub continue_request: bool,
    pub continue_response: bool,
    pub closed: Option<StreamType>,
}

impl HttpStream {
    pub fn new(context_id: u32, request_headers: HeaderMap, properties: Properties) -> HttpStream {
        HttpStream {
            context_id,
            request_headers,
            request_body: Vec::new(),
            request_trailers: HeaderMap::new(),
            response_headers: HeaderMap::new(),
            response_body: Vec::new(),
            response_trailers: HeaderMap::new(),
            reachable: Reachable::default(),
            end_of_stream: false,
            properties,
            local_response: None,
            ignored_local_responses: 0,
            continue_request: false,
            continue_response: false,
            closed: None,
        }
    }

    /// The map the guest may read, as `getConstMap` would give it.
    pub fn map(&self, map: MapType) -> Option<&HeaderMap> {
        let r = self.reachable;
        match map {
            MapType::RequestHeaders if r.request_headers || r.access_log => {
                Some(&self.request_headers)
            }
            MapType::RequestTrailers if r.request_trailers => Some(&self.request_trailers),
            MapType::ResponseHeaders if r.response_headers || r.access_log => {
                Some(&self.response_headers)
            }
            MapType::ResponseTrailers if r.response_trailers || r.access_log => {
                Some(&self.response_trailers)
            }
            _ => None,
        }
    }

    /// The map the guest may change, as `getMap` would give it. During the last data
    /// callback Envoy lets the filter add trailers.
    pub fn map_mut(&mut self, map: MapType) -> Option<&mut HeaderMap> {
        let r = self.reachable;
        if r.access_log {
            return None;
        }
        match map {
            MapType::RequestHeaders if r.request_headers => Some(&mut self.request_headers),
            MapType::RequestTrailers
                if r.request_trailers || (r.request_body && self.end_of_stream) =>
            {
                self.reachable.request_trailers = true;
                Some(&mut self.request_trailers)
            }
            MapType::ResponseHeaders if r.response_headers => Some(&mut self.response_headers),
            MapType::ResponseTrailers
                if r.response_trailers || (r.response_body && self.end_of_stream) =>
            {
                self.reachable.response_trailers = true;
                Some(&mut self.response_trailers)
            }
            _ => None,
        }
    }

    /// The body buffer of the running data callback.
    pub fn buffer(&self, buffer: BufferType) -> Option<&Vec<u8>> {
        match buffer {
            BufferType::HttpRequestBody if self.reachable.request_body => Some(&self.request_body),
            BufferType::HttpResponseBody if self.reachable.response_body => {
                Some(&self.response_body)
            }
            _ => None,
        }
    }

    pub fn buffer_mut(&mut self, buffer: BufferType) -> Option<&mut Vec<u8>> {
        match buffer {
            BufferType::HttpRequestBody if self.reachable.request_body => {
                Some(&mut self.request_body)
            }
            BufferType::HttpResponseBody if self.reachable.response_body => {
                Some(&mut self.response_body)
            }
            _ => None,
        }
    }
}
