//! What the flow's unit tests share: the demo policy and a request head.

use crate::flow::RequestHead;
use crate::policy::Policy;

/// `policies/examples/demo.json`, compiled.
pub(crate) fn policy() -> Policy {
    let text = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../policies/examples/demo.json"
    ))
    .unwrap();
    Policy::from_json(&text).unwrap()
}

/// A POST with a request id.
pub(crate) fn head(authority: &str, path: &str, content_type: &str) -> RequestHead {
    RequestHead {
        method: "POST".into(),
        authority: authority.into(),
        path: path.into(),
        content_type: Some(content_type.into()),
        request_id: Some("t".into()),
        ..RequestHead::default()
    }
}
