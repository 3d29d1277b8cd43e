//! `application/x-www-form-urlencoded` bodies and query strings, read as the Graph API reads
//! them: a value holding JSON is that JSON (`text={"body":"..."}`), and bracket keys nest
//! (`text[body]=...`, `interactive[action][buttons][0][reply][title]=...`, `a[]=1&a[]=2`).

use super::percent_decode;
use serde_json::{Map, Value};

/// More key segments than this are not a message field: the pair is refused.
const MAX_KEY_SEGMENTS: usize = 16;

/// Parses a form body or query string into a JSON object.
///
/// `None` when a field repeats, a key is both a value and an object, or a JSON-looking value is
/// not valid strict JSON: which value the API would use is ambiguous, so such a body is invalid.
pub fn form_to_json(body: &str) -> Option<Value> {
    let mut fields = Fields::default();
    for pair in body.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        fields.add(&percent_decode(k), percent_decode(v))?;
    }
    Some(fields.into_json())
}

/// Form fields being gathered into one JSON object (also from multipart parts).
#[derive(Debug)]
pub struct Fields(Value);

impl Default for Fields {
    fn default() -> Self {
        Self(Value::Object(Map::new()))
    }
}

impl Fields {
    /// Adds a decoded `key=value` pair; `None` when it makes the body ambiguous.
    pub fn add(&mut self, key: &str, raw: String) -> Option<()> {
        // A value that is JSON is that JSON; one that only starts like it (`{ORDER-4411} has
        // shipped`) stays the text it is.
        let value = match raw.trim_start().as_bytes().first() {
            Some(b'{' | b'[') => match crate::strict_json::from_slice(raw.as_bytes()) {
                Ok(v) => v,
                Err(_) => Value::String(raw),
            },
            _ => Value::String(raw),
        };
        insert(&mut self.0, &key_segments(key)?, value)
    }

    pub fn into_json(self) -> Value {
        arrays_from_indices(self.0)
    }
}

/// `a[b][0][]` → `["a", "b", "0", ""]`. A key with unbalanced brackets is one literal segment.
fn key_segments(key: &str) -> Option<Vec<String>> {
    let Some(open) = key.find('[') else {
        return Some(vec![key.to_owned()]);
    };
    let (base, mut rest) = key.split_at(open);
    let mut segments = vec![base.to_owned()];
    while let Some(inner) = rest.strip_prefix('[') {
        let Some(close) = inner.find(']') else {
            return Some(vec![key.to_owned()]);
        };
        segments.push(inner.get(..close)?.to_owned());
        rest = inner.get(close + 1..)?;
    }
    if !rest.is_empty() || base.is_empty() {
        return Some(vec![key.to_owned()]);
    }
    (segments.len() <= MAX_KEY_SEGMENTS).then_some(segments)
}

fn insert(node: &mut Value, segments: &[String], value: Value) -> Option<()> {
    let (first, rest) = segments.split_first()?;
    if first.is_empty() {
        // `a[]=x`: appends to an array.
        let Value::Array(items) = node else {
            return None;
        };
        if rest.is_empty() {
            items.push(value);
            return Some(());
        }
        items.push(Value::Object(Map::new()));
        return insert(items.last_mut()?, rest, value);
    }
    let Value::Object(map) = node else {
        return None;
    };
    if rest.is_empty() {
        // A repeated field is ambiguous.
        return map.insert(first.clone(), value).is_none().then_some(());
    }
    let next_is_push = rest.first().is_some_and(String::is_empty);
    let child = map.entry(first.clone()).or_insert_with(|| {
        if next_is_push {
            Value::Array(Vec::new())
        } else {
            Value::Object(Map::new())
        }
    });
    insert(child, rest, value)
}

/// Objects whose keys are exactly `0..n` become arrays, as `buttons[0][title]` means.
fn arrays_from_indices(v: Value) -> Value {
    match v {
        Value::Object(map) => {
            let n = map.len();
            let indexed = n > 0 && (0..n).all(|i| map.contains_key(&i.to_string()));
            if indexed {
                let mut map = map;
                Value::Array(
                    (0..n)
                        .filter_map(|i| map.remove(&i.to_string()))
                        .map(arrays_from_indices)
                        .collect(),
                )
            } else {
                Value::Object(
                    map.into_iter()
                        .map(|(k, x)| (k, arrays_from_indices(x)))
                        .collect(),
                )
            }
        }
        Value::Array(items) => Value::Array(items.into_iter().map(arrays_from_indices).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_values_and_plain_values() {
        let v = form_to_json(
            "messaging_product=whatsapp&to=1&type=text&text=%7B%22body%22%3A%22hello%22%7D",
        )
        .unwrap();
        assert_eq!(v.pointer("/text/body"), Some(&json!("hello")));
        assert!(form_to_json("text=a&text=b").is_none());
        // A value that only looks like JSON (or repeats a key inside) stays text.
        assert_eq!(
            form_to_json("text=%7Bnot json").unwrap(),
            json!({"text": "{not json"})
        );
        assert!(
            form_to_json("text=%7B%22body%22%3A%22a%22%2C%22body%22%3A%22b%22%7D")
                .unwrap()
                .get("text")
                .is_some_and(Value::is_string)
        );
    }

    #[test]
    fn bracket_keys_nest() {
        let v = form_to_json(
            "type=interactive&interactive[body][text]=B&interactive[action][buttons][0][reply][title]=T0\
             &interactive[action][buttons][1][reply][title]=T1&text%5Bbody%5D=hidden",
        )
        .unwrap();
        assert_eq!(v.pointer("/interactive/body/text"), Some(&json!("B")));
        assert_eq!(
            v.pointer("/interactive/action/buttons/1/reply/title"),
            Some(&json!("T1"))
        );
        assert_eq!(v.pointer("/text/body"), Some(&json!("hidden")));
        let v = form_to_json("a[]=1&a[]=2").unwrap();
        assert_eq!(v, json!({"a": ["1", "2"]}));
    }

    #[test]
    fn ambiguous_bracket_keys_are_refused() {
        // A field that is both a value and an object, or repeated at the leaf.
        assert!(form_to_json("text=a&text[body]=b").is_none());
        assert!(form_to_json("text[body]=a&text[body]=b").is_none());
        assert!(form_to_json("text[body]=a&text=b").is_none());
    }

    #[test]
    fn unbalanced_brackets_are_literal_keys() {
        assert_eq!(
            form_to_json("a[b=1&[c]=2&d]=3").unwrap(),
            json!({"a[b": "1", "[c]": "2", "d]": "3"})
        );
    }
}
