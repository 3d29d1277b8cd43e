//! Hexadecimal, one way for every module: lowercase digits out, either case in.

/// `bytes` as lowercase hex digits, two per byte.
pub fn encode(bytes: impl IntoIterator<Item = u8>) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::new();
    for b in bytes {
        for nibble in [b >> 4, b & 0x0f] {
            out.push(char::from(
                *DIGITS.get(usize::from(nibble)).unwrap_or(&b'0'),
            ));
        }
    }
    out
}

/// The value of one hex digit, either case; `None` for any other byte.
pub fn digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_lowercase_and_decodes_either_case() {
        assert_eq!(encode([0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(encode([]), "");
        let decoded: Vec<Option<u8>> = b"09afAFgG /".iter().map(|&c| digit(c)).collect();
        assert_eq!(
            decoded,
            [
                Some(0),
                Some(9),
                Some(10),
                Some(15),
                Some(10),
                Some(15),
                None,
                None,
                None,
                None
            ]
        );
    }
}
