//! The request's head as the flow reads it: every header it reads, named once, and what the
//! router derives from them (the method Graph could act on, the query a send may carry its
//! fields in).

use crate::training::bucket::StorageHeaders;

/// What the glue knows from the request headers.
#[derive(Debug, Clone, Default)]
pub struct RequestHead {
    pub method: String,
    pub authority: String,
    pub path: String,
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub request_id: Option<String>,
    /// `x-http-method-override`: some Graph clients tunnel a POST through another method.
    pub method_override: Option<String>,
    /// The request has no body (headers-only request).
    pub end_of_stream: bool,
    /// What an object-storage request's shape depends on (`training.buckets`).
    pub storage: StorageHeaders,
}

impl RequestHead {
    /// The head from a request's headers: every header the flow reads is named here, so the
    /// glue, the case runner and the benches read the same ones. `header` looks a header up by
    /// its lowercase name (a repeated header joined by commas).
    pub fn from_headers(
        method: String,
        authority: String,
        path: String,
        header: &dyn Fn(&str) -> Option<String>,
        end_of_stream: bool,
    ) -> Self {
        Self {
            method,
            authority,
            path,
            content_type: header("content-type"),
            content_encoding: header("content-encoding"),
            request_id: header("x-request-id"),
            method_override: header("x-http-method-override"),
            end_of_stream,
            storage: StorageHeaders::from_headers(header),
        }
    }

    /// The method Graph could act on. An `x-http-method-override` (repeated headers arrive
    /// joined by commas) can turn a request into a POST, and a POST that names another verb
    /// still carries its body, which Graph may act on: when the request or any override says
    /// POST, it is a POST.
    pub(super) fn effective_method(&self) -> &str {
        let values = || {
            self.method_override
                .as_deref()
                .into_iter()
                .flat_map(|o| o.split(','))
                .map(str::trim)
        };
        // PUT and PATCH carry a body as POST does; if Graph acted on them, they would send.
        let sends = |m: &str| {
            ["POST", "PUT", "PATCH"]
                .iter()
                .any(|x| m.eq_ignore_ascii_case(x))
        };
        if sends(&self.method) || values().any(sends) {
            return "POST";
        }
        values().find(|m| !m.is_empty()).unwrap_or(&self.method)
    }

    /// The path's query, without its fragment (`""` when there is none).
    pub(super) fn raw_query(&self) -> &str {
        let no_fragment = self.path.split('#').next().unwrap_or("");
        no_fragment.split_once('?').map_or("", |(_, q)| q)
    }
}
