//! The base64 the request format reads (`body_base64`), as recorded traffic spells it:
//! standard or URL-safe alphabet, padding optional, whitespace ignored. `wa-guard replay` reads
//! recorded bodies (HAR, Envoy tap) with it too.

/// Decodes standard (RFC 4648 §4) or URL-safe (§5) base64; padding is optional and whitespace
/// is ignored. Decoding stops at the first `=`.
pub fn decode_base64(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let mut acc = 0u32;
    let mut bits = 0u32;
    for (index, c) in text.bytes().enumerate() {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            b' ' | b'\n' | b'\r' | b'\t' => continue,
            other => {
                return Err(format!(
                    "invalid base64 character `{}` at {index}",
                    char::from(other)
                ));
            }
        };
        acc = (acc << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_alphabets_and_whitespace() {
        assert_eq!(decode_base64("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(decode_base64("aGVsbG8").unwrap(), b"hello");
        assert_eq!(decode_base64("aGVs\nbG8=").unwrap(), b"hello");
        assert_eq!(
            decode_base64("-_8=").unwrap(),
            decode_base64("+/8=").unwrap()
        );
        assert_eq!(decode_base64("").unwrap(), b"");
        assert!(decode_base64("a*b").is_err());
    }
}
