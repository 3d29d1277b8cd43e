//! The host behind the engine's seams: shared data as a `SharedStore`, request headers and
//! properties as `RequestAttributes` (node metadata read once per VM), the authority, the
//! clock, and header removal.

use super::*;

/// Envoy's shared data: one store for every worker thread of the VM id.
pub(super) struct HostStore;

impl SharedStore for HostStore {
    fn get(&self, key: &str) -> Option<(Vec<u8>, u32)> {
        abi::shared_data(key).ok().flatten()
    }

    fn try_get(&self, key: &str) -> Result<Option<(Vec<u8>, u32)>, StoreError> {
        abi::shared_data(key).map_err(|_| StoreError::Failed)
    }

    fn set(&mut self, key: &str, value: &[u8], cas: Option<u32>) -> Result<(), StoreError> {
        abi::set_shared_data(key, value, cas.unwrap_or(0)).map_err(|status| {
            if status == abi::STATUS_CAS_MISMATCH {
                StoreError::Mismatch
            } else {
                StoreError::Failed
            }
        })
    }
}

/// Request attributes: headers from the one map read per request, properties through
/// hostcalls. An error status reads as absent.
pub(super) struct HostAttributes<'a> {
    pub(super) headers: &'a HeaderMap,
    pub(super) node: &'a RefCell<NodeProperties>,
}

impl RequestAttributes for HostAttributes<'_> {
    fn property(&self, path: &[&str]) -> Option<Vec<u8>> {
        if NodeProperties::covers(path) {
            return self.node.borrow_mut().get(path);
        }
        abi::property(path).ok().flatten()
    }

    fn request_header(&self, name: &str) -> Option<String> {
        self.headers.get_single(name)
    }
}

/// The proxy's own node properties (`node.*`, `xds.node.*`), read once per VM: they
/// describe the Envoy process, which never changes under a running VM, and reading them per
/// request would cost a hostcall each. A read that fails is not remembered.
#[derive(Default)]
pub(super) struct NodeProperties {
    values: HashMap<String, Option<Vec<u8>>>,
}

impl NodeProperties {
    pub(super) fn covers(path: &[&str]) -> bool {
        matches!(path, ["node", ..] | ["xds", "node", ..])
    }

    pub(super) fn get(&mut self, path: &[&str]) -> Option<Vec<u8>> {
        let key = path.join(".");
        if let Some(value) = self.values.get(&key) {
            return value.clone();
        }
        let value = abi::property(path).ok()?;
        self.values.insert(key, value.clone());
        value
    }
}

/// The request's authority (`:authority`, or `host`); empty when it has neither. A header the
/// host fails to read is an error, never an absent header: an unread authority would look
/// like an ungoverned host.
pub(super) fn read_authority() -> Result<String, u32> {
    for name in [":authority", "host"] {
        if let Some(v) = abi::header(abi::MAP_REQUEST_HEADERS, name)? {
            return Ok(String::from_utf8_lossy(&v).into_owned());
        }
    }
    Ok(String::new())
}

/// The host's clock for a body callback, read only where the conversation rules may need it
/// (the policy keeps conversations and the body has ended): one hostcall, on no other request.
pub(super) fn clock_for(policy: &Policy, end_of_stream: bool) -> Option<u64> {
    (end_of_stream && policy.conversation.is_some())
        .then(abi::current_time_nanos)
        .and_then(Result::ok)
}

/// Removes request headers (only possible in the headers callback); false when the host
/// refused one, which is logged.
pub(super) fn remove_request_headers(names: &[&str]) -> bool {
    let mut all = true;
    for name in names {
        if let Err(status) = abi::remove_header(abi::MAP_REQUEST_HEADERS, name) {
            abi::log(
                LogLevel::Error,
                &format!("wa-egress-guard: cannot remove `{name}` (status {status})"),
            );
            all = false;
        }
    }
    all
}
