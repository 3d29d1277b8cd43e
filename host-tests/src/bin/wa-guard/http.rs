//! A raw HTTP/1.1 request as `explain` reads it: the request line (origin or absolute form),
//! headers up to a blank line (CRLF or bare LF), then the body, cut at `content-length` or
//! decoded from `transfer-encoding: chunked`.

use host_tests::component::RequestHead;

pub struct RawRequest {
    pub head: RequestHead,
    pub body: Vec<u8>,
}

pub fn parse(bytes: &[u8]) -> Result<RawRequest, String> {
    let (head_text, body) = split_head(bytes)?;
    let mut lines = head_text.lines().map(|l| l.trim_end_matches('\r'));
    let request_line = lines
        .by_ref()
        .find(|l| !l.trim().is_empty())
        .ok_or("no request line")?;
    let mut parts = request_line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Err(format!("not an HTTP request line: `{request_line}`"));
    };
    let (mut authority, path) = match target.split_once("://") {
        Some((_, rest)) => match rest.find('/') {
            Some(i) => (
                rest.get(..i).unwrap_or(rest).to_owned(),
                rest.get(i..).unwrap_or("/").to_owned(),
            ),
            None => (rest.to_owned(), "/".to_owned()),
        },
        None => (String::new(), target.to_owned()),
    };
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("not a header line: `{line}`"))?;
        let name = name.trim().to_ascii_lowercase();
        let value = value.trim().to_owned();
        if name == "host" {
            if authority.is_empty() {
                authority = value;
            }
        } else {
            headers.push((name, value));
        }
    }
    if authority.is_empty() {
        return Err("no Host header and no absolute request target".into());
    }
    let header = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.as_str())
    };
    let chunked =
        header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let body = if chunked {
        dechunk(body)?
    } else if let Some(length) = header("content-length") {
        let n: usize = length
            .parse()
            .map_err(|_| format!("invalid content-length `{length}`"))?;
        body.get(..n)
            .ok_or_else(|| format!("content-length {n}, but the body has {} bytes", body.len()))?
            .to_vec()
    } else {
        body.to_vec()
    };
    // The body is handed over whole: the framing headers no longer describe it.
    headers.retain(|(k, _)| k != "transfer-encoding");
    Ok(RawRequest {
        head: RequestHead {
            method: method.to_owned(),
            authority,
            path,
            headers,
        },
        body,
    })
}

fn split_head(bytes: &[u8]) -> Result<(&str, &[u8]), String> {
    let crlf = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4));
    let lf = bytes.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2));
    let (end, sep) = match (crlf, lf) {
        (Some(a), Some(b)) => std::cmp::min_by_key(a, b, |x| x.0),
        (Some(a), None) | (None, Some(a)) => a,
        (None, None) => (bytes.len(), 0),
    };
    let head = bytes.get(..end).unwrap_or_default();
    let body = bytes.get(end + sep..).unwrap_or_default();
    let head = std::str::from_utf8(head).map_err(|_| "the request head is not UTF-8".to_owned())?;
    Ok((head, body))
}

fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let eol = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("a chunk size line without CRLF")?;
        let line = std::str::from_utf8(rest.get(..eol).unwrap_or_default())
            .map_err(|_| "invalid chunk size")?;
        let size_text = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("invalid chunk size `{size_text}`"))?;
        let start = eol + 2;
        if size == 0 {
            return Ok(out);
        }
        let end = start.checked_add(size).ok_or("chunk size overflows")?;
        out.extend_from_slice(rest.get(start..end).ok_or("a chunk is cut short")?);
        rest = rest
            .get(end..)
            .and_then(|r| r.strip_prefix(b"\r\n"))
            .ok_or("a chunk without its CRLF")?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_form_with_content_length() {
        let r = parse(b"POST /v21.0/1/messages HTTP/1.1\r\nHost: graph.facebook.com\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}xx").unwrap();
        assert_eq!(r.head.authority, "graph.facebook.com");
        assert_eq!(r.head.path, "/v21.0/1/messages");
        assert_eq!(r.body, b"{}");
        assert!(
            r.head
                .headers
                .contains(&("content-type".into(), "application/json".into()))
        );
    }

    #[test]
    fn absolute_form_chunked_and_bare_lf() {
        let r = parse(b"POST https://api.openai.com/v1/files HTTP/1.1\nTransfer-Encoding: chunked\n\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").unwrap();
        assert_eq!(r.head.authority, "api.openai.com");
        assert_eq!(r.head.path, "/v1/files");
        assert_eq!(r.body, b"abcde");
        assert!(r.head.headers.is_empty());
    }

    #[test]
    fn refuses_what_is_not_a_request() {
        assert!(parse(b"hello").is_err());
        assert!(parse(b"POST / HTTP/1.1\r\nContent-Length: 9\r\nHost: x\r\n\r\nab").is_err());
    }
}
