//! The proxy-wasm ABI's header-map serialisation, and lookups over a map read in one hostcall.
//!
//! The wire format: a little-endian `u32` count, then one (`u32` key length, `u32` value
//! length) pair per entry, then each key and value followed by a NUL byte.

/// Serialises `(name, value)` pairs for `proxy_send_local_response` and friends.
pub fn encode(pairs: &[(String, String)]) -> Vec<u8> {
    let len = |n: usize| u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes();
    let data: usize = pairs.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
    let mut out = Vec::with_capacity(4 + pairs.len() * 8 + data);
    out.extend_from_slice(&len(pairs.len()));
    for (k, v) in pairs {
        out.extend_from_slice(&len(k.len()));
        out.extend_from_slice(&len(v.len()));
    }
    for (k, v) in pairs {
        out.extend_from_slice(k.as_bytes());
        out.push(0);
        out.extend_from_slice(v.as_bytes());
        out.push(0);
    }
    out
}

/// Raw `(name, value)` entries as the host sends them.
pub type RawPairs = Vec<(Vec<u8>, Vec<u8>)>;

/// Parses a serialised map, bounds-checked: `None` when the sizes do not add up, so a
/// malformed map is never read as a shorter one. An empty buffer is an empty map.
pub fn decode(bytes: &[u8]) -> Option<RawPairs> {
    if bytes.is_empty() {
        return Some(Vec::new());
    }
    let word = |at: usize| -> Option<usize> {
        let b: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
        usize::try_from(u32::from_le_bytes(b)).ok()
    };
    let count = word(0)?;
    // Every entry takes at least 10 bytes (two sizes, two NULs): refuse absurd counts before
    // allocating for them.
    if count > bytes.len() / 10 {
        return None;
    }
    let mut data = count.checked_mul(8)?.checked_add(4)?;
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let sizes = i.checked_mul(8)?.checked_add(4)?;
        let key_end = data.checked_add(word(sizes)?)?;
        let value_start = key_end.checked_add(1)?;
        let value_end = value_start.checked_add(word(sizes.checked_add(4)?)?)?;
        let key = bytes.get(data..key_end)?;
        let value = bytes.get(value_start..value_end)?;
        if bytes.get(key_end) != Some(&0) || bytes.get(value_end) != Some(&0) {
            return None;
        }
        out.push((key.to_vec(), value.to_vec()));
        data = value_end.checked_add(1)?;
    }
    Some(out)
}

/// Request headers read at once. Lookups ignore ASCII case; a header sent several times
/// reads as its values joined with `", "`, as HTTP defines for repeated fields, so a
/// second `content-encoding` or identity header can never hide behind the first.
#[derive(Debug, Clone, Default)]
pub struct HeaderMap {
    pairs: Vec<(String, String)>,
}

impl HeaderMap {
    /// Builds the map; bytes that are not UTF-8 are replaced (U+FFFD), as single reads did.
    pub fn from_pairs(pairs: RawPairs) -> Self {
        let text = |b: Vec<u8>| {
            String::from_utf8(b)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
        };
        Self {
            pairs: pairs.into_iter().map(|(k, v)| (text(k), text(v))).collect(),
        }
    }

    /// The value of a header that must name one thing (an identity): `None` when the header
    /// is absent or sent more than once.
    pub fn get_single(&self, name: &str) -> Option<String> {
        let mut found = self
            .pairs
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name));
        let (_, value) = found.next()?;
        found.next().is_none().then(|| value.clone())
    }

    pub fn get(&self, name: &str) -> Option<String> {
        let mut found = self
            .pairs
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str());
        let first = found.next()?;
        let mut joined = first.to_owned();
        for more in found {
            joined.push_str(", ");
            joined.push_str(more);
        }
        Some(joined)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn maps_round_trip() {
        let p = pairs(&[(":authority", "graph.facebook.com"), ("x-empty", "")]);
        let back = decode(&encode(&p)).unwrap();
        assert_eq!(
            back,
            vec![
                (b":authority".to_vec(), b"graph.facebook.com".to_vec()),
                (b"x-empty".to_vec(), Vec::new())
            ]
        );
        assert_eq!(decode(&[]), Some(Vec::new()));
        assert_eq!(decode(&encode(&[])), Some(Vec::new()));
    }

    #[test]
    fn malformed_maps_are_refused_not_shortened() {
        let bytes = encode(&pairs(&[("content-type", "application/json"), ("a", "b")]));
        for cut in 1..bytes.len() {
            assert_eq!(decode(&bytes[..cut]), None, "cut at {cut}");
        }
        let mut no_nul = bytes.clone();
        let last = no_nul.len() - 1;
        no_nul[last] = b'x';
        assert_eq!(decode(&no_nul), None);
        let mut huge = bytes;
        huge[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(decode(&huge), None);
    }

    #[test]
    fn lookups_ignore_case_and_join_repeated_fields() {
        let raw = encode(&pairs(&[
            ("Content-Encoding", "identity"),
            ("x-request-id", "r1"),
            ("content-encoding", "gzip"),
        ]));
        let map = HeaderMap::from_pairs(decode(&raw).unwrap());
        assert_eq!(
            map.get("content-encoding").as_deref(),
            Some("identity, gzip")
        );
        assert_eq!(map.get("X-Request-Id").as_deref(), Some("r1"));
        assert_eq!(map.get("x-missing"), None);
        assert_eq!(map.get_single("content-encoding"), None);
        assert_eq!(map.get_single("x-request-id").as_deref(), Some("r1"));
        assert_eq!(map.get_single("x-missing"), None);
        let lossy = HeaderMap::from_pairs(vec![(b"x-b".to_vec(), vec![b'a', 0xff])]);
        assert_eq!(lossy.get("x-b").as_deref(), Some("a\u{fffd}"));
    }
}
