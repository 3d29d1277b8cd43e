//! Properties (`proxy_get_property`): values keyed by path segments, as Envoy's attribute tree.

use std::collections::BTreeMap;

use crate::pairs;

/// A path of property segments, e.g. `["node", "metadata", "NAMESPACE"]`.
pub type PropertyPath = Vec<Vec<u8>>;

/// Split a dotted name (`connection.uri_san_peer_certificate`) into segments. Use
/// [`Properties::set_path`] when a segment itself contains a dot.
pub fn dotted(path: &str) -> PropertyPath {
    path.split('.').map(|s| s.as_bytes().to_vec()).collect()
}

/// A settable property tree. A lookup of an exact path returns its bytes; a lookup of an inner
/// node whose children are all leaves returns them as a serialized map, as Envoy does for a
/// protobuf map or `Struct`.
#[derive(Debug, Clone, Default)]
pub struct Properties {
    values: BTreeMap<PropertyPath, Vec<u8>>,
}

impl Properties {
    pub fn set(&mut self, dotted_path: &str, value: impl Into<Vec<u8>>) {
        self.values.insert(dotted(dotted_path), value.into());
    }

    pub fn set_path(&mut self, path: PropertyPath, value: impl Into<Vec<u8>>) {
        self.values.insert(path, value.into());
    }

    pub fn remove(&mut self, dotted_path: &str) {
        self.values.remove(&dotted(dotted_path));
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Merge `other` over `self` (later values win).
    pub fn overlay(&mut self, other: &Properties) {
        for (k, v) in &other.values {
            self.values.insert(k.clone(), v.clone());
        }
    }

    pub fn get_exact(&self, path: &[Vec<u8>]) -> Option<&[u8]> {
        self.values.get(path).map(Vec::as_slice)
    }

    /// The value at `path`: the exact entry, else the direct children serialized as a map.
    pub fn get(&self, path: &[Vec<u8>]) -> Option<Vec<u8>> {
        if path.is_empty() {
            return None;
        }
        if let Some(value) = self.get_exact(path) {
            return Some(value.to_vec());
        }
        let children: Vec<(&[u8], &[u8])> = self
            .values
            .range(path.to_vec()..)
            .take_while(|(k, _)| k.starts_with(path))
            .filter(|(k, _)| k.len() == path.len() + 1)
            .filter_map(|(k, v)| Some((k.last()?.as_slice(), v.as_slice())))
            .collect();
        if children.is_empty() {
            return None;
        }
        Some(pairs::encode(&children))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&PropertyPath, &Vec<u8>)> {
        self.values.iter()
    }
}
