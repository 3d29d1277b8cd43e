//! The string literals of a GraphQL document, unescaped, so that data written inline in a
//! mutation (`createDataRows(data: [{rowData: "..."}])`, no variables) is judged like any other
//! string of the record.
//!
//! GraphQL strings are `"..."` with JSON-like escapes (`\"`, `\\`, `\/`, `\b`, `\f`, `\n`,
//! `\r`, `\t`, `\uXXXX`, `\u{X...}`) and block strings `"""..."""` (raw, `\"""` escapes the
//! delimiter). `#` starts a comment outside strings. An unterminated literal runs to the end.

/// The literals of `doc`, in order.
pub(super) fn literals(doc: &str) -> Literals<'_> {
    Literals { rest: doc }
}

pub(super) struct Literals<'a> {
    rest: &'a str,
}

impl Iterator for Literals<'_> {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        loop {
            let at = self.rest.find(['"', '#'])?;
            let tail = self.rest.get(at..).unwrap_or_default();
            if let Some(comment) = tail.strip_prefix('#') {
                self.rest = comment
                    .find('\n')
                    .map_or("", |nl| comment.get(nl + 1..).unwrap_or_default());
                continue;
            }
            if let Some(block) = tail.strip_prefix("\"\"\"") {
                let (literal, rest) = block_string(block);
                self.rest = rest;
                return Some(literal);
            }
            let (literal, rest) = string(tail.get(1..).unwrap_or_default());
            self.rest = rest;
            return Some(literal);
        }
    }
}

/// A block string's content (after its opening `"""`) and the text after it.
fn block_string(s: &str) -> (String, &str) {
    let mut out = String::new();
    let mut rest = s;
    loop {
        let Some(q) = rest.find("\"\"\"") else {
            out.push_str(rest);
            return (out, "");
        };
        let before = rest.get(..q).unwrap_or_default();
        if let Some(kept) = before.strip_suffix('\\') {
            out.push_str(kept);
            out.push_str("\"\"\"");
            rest = rest.get(q + 3..).unwrap_or_default();
        } else {
            out.push_str(before);
            return (out, rest.get(q + 3..).unwrap_or_default());
        }
    }
}

/// A string's content (after its opening `"`), unescaped, and the text after it.
fn string(s: &str) -> (String, &str) {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return (out, s.get(i + 1..).unwrap_or_default()),
            '\\' => match chars.next().map(|(_, e)| e) {
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                Some('t') => out.push('\t'),
                Some('b') => out.push('\u{8}'),
                Some('f') => out.push('\u{c}'),
                Some('u') => {
                    let rest = chars.as_str();
                    let (code, used) = unicode_escape(rest);
                    match code {
                        Some(c) => out.push(c),
                        None => out.push_str("\\u"),
                    }
                    for _ in 0..used {
                        chars.next();
                    }
                }
                Some(other) => out.push(other),
                None => out.push('\\'),
            },
            c => out.push(c),
        }
    }
    (out, "")
}

/// A `\u` escape's character and how many characters it used after the `u`: `XXXX`, a
/// surrogate pair `XXXX\uXXXX`, or `{X...}`.
fn unicode_escape(rest: &str) -> (Option<char>, usize) {
    if let Some(braced) = rest.strip_prefix('{') {
        let Some(close) = braced.find('}') else {
            return (None, 0);
        };
        let code = braced
            .get(..close)
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .and_then(char::from_u32);
        return match code {
            Some(c) => (Some(c), close + 2),
            None => (None, 0),
        };
    }
    let hex4 = |s: &str| {
        s.get(..4)
            .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|h| u32::from_str_radix(h, 16).ok())
    };
    let Some(high) = hex4(rest) else {
        return (None, 0);
    };
    if (0xD800..0xDC00).contains(&high)
        && let Some(low) = rest
            .get(4..)
            .and_then(|r| r.strip_prefix("\\u"))
            .and_then(hex4)
        && (0xDC00..0xE000).contains(&low)
    {
        let code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
        return (char::from_u32(code), 10);
    }
    match char::from_u32(high) {
        Some(c) => (Some(c), 4),
        None => (None, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::literals;

    #[test]
    fn literals_are_unescaped_in_order() {
        let doc = r#"mutation { a(x: "one\n\"two\"", y: """blk "q" \""" end""") # "not"
          b(z: "\u00e9\u{1F600}\ud83d\ude00\u12") }"#;
        let got: Vec<String> = literals(doc).collect();
        assert_eq!(got, ["one\n\"two\"", "blk \"q\" \"\"\" end", "é😀😀\\u12",]);
        assert_eq!(literals("query { a }").count(), 0);
        assert_eq!(literals(r#"{ a(x: "open"#).collect::<Vec<_>>(), ["open"]);
    }
}
