//! Media types (`Content-Type`, RFC 9110 §8.3.1) and header parameters (RFC 2045 §5.1), read
//! one way for both jobs: the essence (`type/subtype`) lowercased, parameters quote-aware, and a
//! multipart boundary only when every parser would find the same one.

/// The essence of a media type: `type/subtype`, without parameters or blanks, lowercased
/// (`Application/JSON; charset=utf-8` is `application/json`). Empty for an empty value.
pub fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Whether `content_type`'s essence is `expected` (a lowercase `type/subtype`), whatever its
/// case and parameters.
pub fn is(content_type: &str, expected: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|m| m.trim().eq_ignore_ascii_case(expected))
}

/// A header value's `;`-separated parameters (after its first value), names lowercased and
/// values unquoted. Quote-aware: a `;` inside quotes does not split, and `\` escapes the next
/// character inside quotes. `None` when a quote is left open, so that what parsers would
/// disagree on is refused rather than guessed.
pub fn parameters(v: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    let (mut key, mut value) = (String::new(), String::new());
    let (mut in_value, mut quoted, mut escaped) = (false, false, false);
    let mut push = |key: &mut String, value: &mut String, in_value: bool| {
        if in_value {
            out.push((
                key.trim().to_ascii_lowercase(),
                std::mem::take(value).trim().to_owned(),
            ));
        }
        key.clear();
        value.clear();
    };
    for c in v.chars() {
        match c {
            _ if escaped => {
                value.push(c);
                escaped = false;
            }
            '\\' if quoted => escaped = true,
            '"' if in_value => quoted = !quoted,
            ';' if !quoted => {
                push(&mut key, &mut value, in_value);
                in_value = false;
            }
            '=' if !in_value => in_value = true,
            c if in_value => value.push(c),
            c => key.push(c),
        }
    }
    if quoted || escaped {
        return None;
    }
    push(&mut key, &mut value, in_value);
    Some(out)
}

/// The boundary parameter of a content type, read quote-aware (RFC 2045: `boundary="a;b"` is one
/// boundary). `None`, so that the body is refused, when parsers would disagree on it: a boundary
/// given twice (Werkzeug keeps the last, Go refuses, PHP takes the first), another parameter
/// whose name holds `boundary` (`xboundary=`), or `boundary=` inside another parameter's quoted
/// value (PHP finds the first `boundary` substring: `charset="utf-8;boundary=outer"; boundary=inner`).
/// Whether the type is `multipart/*` is the caller's question.
pub fn boundary(content_type: &str) -> Option<String> {
    let (_, rest) = content_type.split_once(';')?;
    let params = parameters(rest)?;
    let named = params
        .iter()
        .filter(|(k, _)| k.contains("boundary"))
        .count();
    if named != 1 || boundary_assignments(content_type) != 1 {
        return None;
    }
    params
        .into_iter()
        .find_map(|(k, v)| (k == "boundary").then_some(v))
        .filter(|b| !b.is_empty() && b.len() <= 200)
}

/// How many times `boundary` followed by `=` (blanks allowed between) occurs anywhere in a
/// content type, quoted or not.
fn boundary_assignments(content_type: &str) -> usize {
    let lower = content_type.to_ascii_lowercase();
    memchr::memmem::find_iter(lower.as_bytes(), b"boundary")
        .filter(|&i| {
            lower
                .get(i + "boundary".len()..)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_essence_is_lowercased_without_parameters() {
        assert_eq!(
            essence(" Application/JSON ; charset=utf-8"),
            "application/json"
        );
        assert_eq!(essence(""), "");
        assert!(is("APPLICATION/json;x=1", "application/json"));
        assert!(!is("application/jsonl", "application/json"));
    }

    #[test]
    fn parameters_are_quote_aware_and_an_open_quote_is_refused() {
        assert_eq!(
            parameters(r#"form-data; name="a;b"; filename="x\"y.txt""#),
            Some(vec![
                ("name".to_owned(), "a;b".to_owned()),
                ("filename".to_owned(), "x\"y.txt".to_owned()),
            ])
        );
        assert_eq!(parameters(r#"form-data; name="open"#), None);
    }

    #[test]
    fn a_boundary_parsers_would_disagree_on_is_none() {
        assert_eq!(
            boundary("multipart/form-data; boundary=\"XyZ;1\"").as_deref(),
            Some("XyZ;1")
        );
        for ct in [
            "multipart/form-data; boundary=a; boundary=b",
            "multipart/form-data; xboundary=a; boundary=b",
            "multipart/form-data; charset=\"utf-8;boundary=outer\"; boundary=inner",
            "multipart/form-data; boundary=",
            "multipart/form-data",
        ] {
            assert_eq!(boundary(ct), None, "{ct}");
        }
    }
}
