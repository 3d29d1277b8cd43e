//! A request recorded by curl's `--trace` (hex) or `--trace-ascii` output, turned back into the
//! raw HTTP/1.1 bytes [`crate::http::parse`] reads: the first `=> Send header` block and the
//! `=> Send data` blocks after it. A `--trace` dump is exact; `--trace-ascii` prints every byte
//! outside 0x20..0x7f as `.`, so a body with line breaks or non-ASCII text is rebuilt with
//! those bytes replaced (use `--trace` for such bodies).

/// Whether the text is a curl trace: its first line is one of curl's (a raw request's first
/// line is its request line).
pub fn is_trace(text: &str) -> bool {
    text.lines()
        .find(|l| !l.trim().is_empty())
        .is_some_and(|l| l.contains("== Info:") || l.contains("=> Send") || l.contains("<= Recv"))
}

#[derive(Clone, Copy, PartialEq)]
enum Block {
    Header,
    Data,
    Other,
}

/// The request's bytes: header block, then body.
pub fn request_bytes(text: &str) -> Result<Vec<u8>, String> {
    let mut header = Vec::new();
    let mut data = Vec::new();
    let mut block = Block::Other;
    let mut block_size = None;
    let mut headers_seen = 0;
    let mut hex = None;
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if let Some(kind) = block_kind(line) {
            block = kind;
            block_size = block_bytes(line);
            if kind == Block::Header {
                headers_seen += 1;
                if headers_seen > 1 {
                    break; // the next request (a redirect or a retry): the first one is explained
                }
            }
            continue;
        }
        let Some((offset, content)) = dump_line(line) else {
            continue;
        };
        let out = match block {
            Block::Header => &mut header,
            Block::Data => &mut data,
            Block::Other => continue,
        };
        // `--trace` or `--trace-ascii`, decided on the first line of the dump.
        let hex_mode = *hex.get_or_insert_with(|| hex_bytes(content).is_some());
        if hex_mode {
            out.extend(hex_bytes(content).ok_or_else(|| format!("not a --trace line: `{line}`"))?);
        } else {
            let next = lines
                .peek()
                .and_then(|l| dump_line(l))
                .map(|(o, _)| o)
                .or(block_size);
            out.extend(ascii_bytes(content, offset, next));
        }
    }
    if header.is_empty() {
        return Err("no `=> Send header` block in the curl trace".into());
    }
    header.extend_from_slice(&data);
    Ok(header)
}

fn block_kind(line: &str) -> Option<Block> {
    if line.contains("=> Send header") {
        Some(Block::Header)
    } else if line.contains("=> Send data") {
        Some(Block::Data)
    } else if line.contains("<= Recv ") || line.contains("== Info:") || line.contains("=> Send SSL")
    {
        Some(Block::Other)
    } else {
        None
    }
}

/// `=> Send data, 2 bytes (0x2)` → 2.
fn block_bytes(line: &str) -> Option<usize> {
    let (_, rest) = line.split_once(", ")?;
    rest.split_whitespace().next()?.parse().ok()
}

/// `0040: content` → (0x40, "content").
fn dump_line(line: &str) -> Option<(usize, &str)> {
    let (offset, content) = line.split_once(": ")?;
    let offset = offset.trim();
    if offset.len() < 4 || !offset.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some((usize::from_str_radix(offset, 16).ok()?, content))
}

/// `--trace`: 16 bytes as `%02x ` (48 columns, padded), then their ASCII rendering.
fn hex_bytes(content: &str) -> Option<Vec<u8>> {
    let hex = content.get(..48).unwrap_or(content);
    let tokens: Vec<&str> = hex.split_whitespace().collect();
    if tokens.is_empty() || content.len() < 49 || tokens.len() > 16 {
        return None;
    }
    tokens
        .iter()
        .map(|t| {
            (t.len() == 2)
                .then(|| u8::from_str_radix(t, 16).ok())
                .flatten()
        })
        .collect()
}

/// `--trace-ascii`: up to 64 bytes per line, and a line ends early where curl cut out a CRLF:
/// the next line (or the block's end) is then 2 bytes further than this line reaches.
fn ascii_bytes(content: &str, offset: usize, next: Option<usize>) -> Vec<u8> {
    let mut bytes = content.as_bytes().to_vec();
    let end = offset.saturating_add(bytes.len());
    if next == Some(end.saturating_add(2)) {
        bytes.extend_from_slice(b"\r\n");
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    const ASCII: &str = "== Info: Connected to graph.facebook.com
=> Send header, 112 bytes (0x70)
0000: POST /v21.0/1/messages HTTP/1.1
0021: Host: graph.facebook.com
003b: Content-Type: application/json
005b: Content-Length: 2
006e: 
=> Send data, 2 bytes (0x2)
0000: {}
== Info: upload completely sent off: 2 bytes
<= Recv header, 17 bytes (0x11)
0000: HTTP/1.1 200 OK
";

    #[test]
    fn trace_ascii_rebuilds_the_request() {
        assert!(is_trace(ASCII));
        let bytes = request_bytes(ASCII).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        assert!(
            text.starts_with("POST /v21.0/1/messages HTTP/1.1\r\nHost: graph.facebook.com\r\n")
        );
        assert!(text.ends_with("Content-Length: 2\r\n\r\n{}"), "{text:?}");
        let r = crate::http::parse(text.as_bytes()).unwrap();
        assert_eq!(r.body, b"{}");
        assert_eq!(r.head.authority, "graph.facebook.com");
    }

    #[test]
    fn trace_hex_is_exact() {
        let trace = "=> Send header, 20 bytes (0x14)
0000: 50 4f 53 54 20 2f 20 48 54 54 50 2f 31 2e 31 0d POST / HTTP/1.1.
0010: 0a 48 6f 73 74 3a 20 78 0d 0a 0d 0a             .Host: x....
=> Send data, 3 bytes (0x3)
0000: 61 0a e2                                        a..
";
        let bytes = request_bytes(trace).unwrap();
        assert_eq!(bytes, b"POST / HTTP/1.1\r\nHost: x\r\n\r\na\n\xe2");
    }
}
