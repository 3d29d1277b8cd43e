//! An HTTP header map as Envoy keeps it: ordered entries, lower-case keys, repeated keys allowed.

use std::fmt;

/// Ordered header entries. Keys are stored lower-cased, as Envoy's `LowerCaseString` does;
/// values are raw bytes.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct HeaderMap {
    entries: Vec<(Vec<u8>, Vec<u8>)>,
}

impl HeaderMap {
    pub fn new() -> HeaderMap {
        HeaderMap::default()
    }

    /// Build from pairs, lower-casing every key.
    pub fn from_pairs<K: AsRef<[u8]>, V: AsRef<[u8]>>(pairs: &[(K, V)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.add(k.as_ref(), v.as_ref());
        }
        map
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The first value of `name`, if it is UTF-8 (what `proxy_get_header_map_value` returns).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.get_bytes(name.as_bytes())
            .and_then(|v| std::str::from_utf8(v).ok())
    }

    /// The first value of `name` as bytes.
    pub fn get_bytes(&self, name: &[u8]) -> Option<&[u8]> {
        let key = name.to_ascii_lowercase();
        self.entries
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_slice())
    }

    /// Every value of `name`, in order.
    pub fn get_all(&self, name: &str) -> Vec<&[u8]> {
        let key = name.as_bytes().to_ascii_lowercase();
        self.entries
            .iter()
            .filter(|(k, _)| *k == key)
            .map(|(_, v)| v.as_slice())
            .collect()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get_bytes(name.as_bytes()).is_some()
    }

    /// Append an entry (`proxy_add_header_map_value`, Envoy `addCopy`).
    pub fn add(&mut self, name: &[u8], value: &[u8]) {
        self.entries
            .push((name.to_ascii_lowercase(), value.to_vec()));
    }

    /// Set `name` to one value (`proxy_replace_header_map_value`, Envoy `setCopy`): the first
    /// entry keeps its position, later entries with the same key are removed, and a missing
    /// key is appended.
    pub fn replace(&mut self, name: &[u8], value: &[u8]) {
        let key = name.to_ascii_lowercase();
        let mut seen = false;
        self.entries.retain_mut(|(k, v)| {
            if *k != key {
                return true;
            }
            if seen {
                return false;
            }
            seen = true;
            *v = value.to_vec();
            true
        });
        if !seen {
            self.entries.push((key, value.to_vec()));
        }
    }

    /// Remove every entry of `name` (`proxy_remove_header_map_value`).
    pub fn remove(&mut self, name: &[u8]) {
        let key = name.to_ascii_lowercase();
        self.entries.retain(|(k, _)| *k != key);
    }

    /// Replace the whole map (`proxy_set_header_map_pairs`).
    pub fn set_all(&mut self, pairs: &[(Vec<u8>, Vec<u8>)]) {
        self.entries.clear();
        for (k, v) in pairs {
            self.add(k, v);
        }
    }

    /// The entries as byte pairs, in order.
    pub fn pairs(&self) -> &[(Vec<u8>, Vec<u8>)] {
        &self.entries
    }

    /// The entries as strings (lossy for non-UTF-8 bytes), in order.
    pub fn to_strings(&self) -> Vec<(String, String)> {
        self.entries
            .iter()
            .map(|(k, v)| {
                (
                    String::from_utf8_lossy(k).into_owned(),
                    String::from_utf8_lossy(v).into_owned(),
                )
            })
            .collect()
    }
}

impl fmt::Debug for HeaderMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.to_strings()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_keeps_first_position_and_drops_repeats() {
        let mut map = HeaderMap::from_pairs(&[("A", "1"), ("b", "2"), ("a", "3")]);
        map.replace(b"a", b"9");
        assert_eq!(
            map.to_strings(),
            vec![("a".into(), "9".into()), ("b".into(), "2".into())]
        );
        map.replace(b"c", b"x");
        assert_eq!(map.get("C"), Some("x"));
    }
}
