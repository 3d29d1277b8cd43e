//! The ABI's wire formats: serialized header maps and NUL-separated property paths.
//!
//! A serialized map is `u32 count`, then `count` times `(u32 key_len, u32 value_len)`, then for
//! each pair the key bytes, a NUL, the value bytes and a NUL. All integers are little-endian.

/// Header or metadata pairs as raw bytes.
pub type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// Serialize pairs into the ABI map format.
pub fn encode<K: AsRef<[u8]>, V: AsRef<[u8]>>(pairs: &[(K, V)]) -> Vec<u8> {
    let size = 4 + pairs
        .iter()
        .map(|(k, v)| 10 + k.as_ref().len() + v.as_ref().len())
        .sum::<usize>();
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(&len_u32(pairs.len()).to_le_bytes());
    for (k, v) in pairs {
        out.extend_from_slice(&len_u32(k.as_ref().len()).to_le_bytes());
        out.extend_from_slice(&len_u32(v.as_ref().len()).to_le_bytes());
    }
    for (k, v) in pairs {
        out.extend_from_slice(k.as_ref());
        out.push(0);
        out.extend_from_slice(v.as_ref());
        out.push(0);
    }
    out
}

fn len_u32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// Why a serialized map could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MalformedPairs(pub &'static str);

/// Parse the ABI map format. An empty input is an empty map (the SDK sends that for `vec![]`).
pub fn decode(bytes: &[u8]) -> Result<Pairs, MalformedPairs> {
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    let count = read_u32(bytes, 0).ok_or(MalformedPairs("missing pair count"))? as usize;
    let table_end = count
        .checked_mul(8)
        .and_then(|n| n.checked_add(4))
        .ok_or(MalformedPairs("pair count overflows"))?;
    if table_end > bytes.len() {
        return Err(MalformedPairs("size table runs past the end"));
    }
    let mut pairs = Vec::with_capacity(count);
    let mut cursor = table_end;
    for index in 0..count {
        let entry = 4 + index * 8;
        let key_len = read_u32(bytes, entry).ok_or(MalformedPairs("short size table"))? as usize;
        let value_len =
            read_u32(bytes, entry + 4).ok_or(MalformedPairs("short size table"))? as usize;
        let key = take_terminated(bytes, &mut cursor, key_len)?;
        let value = take_terminated(bytes, &mut cursor, value_len)?;
        pairs.push((key, value));
    }
    Ok(pairs)
}

fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let raw: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_le_bytes(raw))
}

fn take_terminated(
    bytes: &[u8],
    cursor: &mut usize,
    len: usize,
) -> Result<Vec<u8>, MalformedPairs> {
    let end = cursor
        .checked_add(len)
        .ok_or(MalformedPairs("entry length overflows"))?;
    let data = bytes
        .get(*cursor..end)
        .ok_or(MalformedPairs("entry runs past the end"))?
        .to_vec();
    // INVARIANT: every key and value is followed by one NUL byte.
    match bytes.get(end) {
        Some(0) => {}
        _ => return Err(MalformedPairs("entry is not NUL-terminated")),
    }
    *cursor = end + 1;
    Ok(data)
}

/// Split a property path as the SDK sends it (`segment\0segment\0...`, no trailing NUL).
pub fn split_property_path(path: &[u8]) -> Vec<Vec<u8>> {
    if path.is_empty() {
        return Vec::new();
    }
    path.split(|b| *b == 0).map(<[u8]>::to_vec).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let pairs = vec![
            (b":method".to_vec(), b"GET".to_vec()),
            (b"x-empty".to_vec(), Vec::new()),
        ];
        let bytes = encode(&pairs);
        assert_eq!(&bytes[..4], &[2, 0, 0, 0]);
        assert_eq!(decode(&bytes).unwrap(), pairs);
    }

    #[test]
    fn rejects_truncation() {
        let bytes = encode(&[(b"k".to_vec(), b"v".to_vec())]);
        for cut in 1..bytes.len() {
            assert!(decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn property_path() {
        assert_eq!(
            split_property_path(b"node\0metadata\0NAMESPACE"),
            vec![
                b"node".to_vec(),
                b"metadata".to_vec(),
                b"NAMESPACE".to_vec()
            ]
        );
        assert!(split_property_path(b"").is_empty());
    }
}
