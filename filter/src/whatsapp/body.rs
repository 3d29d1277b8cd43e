//! Request bodies: undo `content-encoding` under a bounded budget, then parse a send.

use crate::content_encoding::{
    AfterEnd, Coding, ContentEncoding, Framing, InflateWholeError, inflate_whole,
};
use crate::whatsapp::{self, Endpoint, MessageView, media};
use serde_json::Value;
use std::borrow::Cow;

/// A body that could not be read into a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyProblem {
    TooLarge,
    DecompressedTooLarge,
    UnsupportedEncoding,
    InvalidJson,
}

/// Decodes the body per `content-encoding` (a comma-separated list, applied in order, so undone
/// in reverse). The output never exceeds `limit` bytes: a larger output is a zip bomb to refuse.
pub fn decode<'a>(
    raw: &'a [u8],
    content_encoding: Option<&str>,
    limit: usize,
) -> Result<Cow<'a, [u8]>, BodyProblem> {
    let encoding = ContentEncoding::parse(content_encoding);
    let mut body = Cow::Borrowed(raw);
    for coding in encoding.codings().iter().rev() {
        body = Cow::Owned(match coding {
            // Only another member may follow a gzip member: zero padding is refused.
            Coding::Gzip => inflate(Framing::Gzip, AfterEnd::Nothing, &body, limit)?,
            // `deflate` is zlib-wrapped per RFC 9110, but raw deflate is common in the wild.
            // Bytes after the stream's end are left unread.
            Coding::Deflate => inflate(Framing::Zlib, AfterEnd::Unread, &body, limit)
                .or_else(|_| inflate(Framing::Raw, AfterEnd::Unread, &body, limit))?,
            Coding::Unsupported => return Err(BodyProblem::UnsupportedEncoding),
        });
    }
    Ok(body)
}

fn inflate(
    framing: Framing,
    after_end: AfterEnd,
    bytes: &[u8],
    limit: usize,
) -> Result<Vec<u8>, BodyProblem> {
    inflate_whole(framing, after_end, bytes, limit).map_err(|e| match e {
        InflateWholeError::Invalid => BodyProblem::InvalidJson,
        InflateWholeError::TooLarge => BodyProblem::DecompressedTooLarge,
    })
}

/// Parses a decoded body for the endpoint. Query parameters count as fields too (the Graph API
/// accepts them), but the body wins where both name a field.
pub fn parse_message(
    endpoint: Endpoint,
    content_type: Option<&str>,
    body: &[u8],
    raw_query: &str,
) -> Result<MessageView, BodyProblem> {
    let mut also_form = None;
    let (mut value, files) = match content_type.and_then(media::boundary) {
        Some(boundary) => multipart_fields(body, &boundary)?,
        None => {
            let (value, form) = parse_fields(content_type, body)?;
            also_form = form;
            (value, Vec::new())
        }
    };
    let Value::Object(map) = &mut value else {
        return Err(BodyProblem::InvalidJson);
    };
    let mut query_only = serde_json::Map::new();
    let query = whatsapp::form_to_json(raw_query).ok_or(BodyProblem::InvalidJson)?;
    if let Value::Object(query) = query {
        for (k, v) in query {
            if k != "access_token" && k != "appsecret_proof" {
                query_only.insert(k.clone(), v.clone());
                map.entry(k).or_insert(v);
            }
        }
    }
    let read = |v: &Value| match endpoint {
        Endpoint::MessageTemplates => whatsapp::read_template_creation(v),
        Endpoint::Flows => whatsapp::read_flow(v),
        Endpoint::Media => whatsapp::read_other(v, "media"),
        Endpoint::ObjectUpdate if v.get("components").is_some() => {
            whatsapp::read_template_creation(v)
        }
        Endpoint::ObjectUpdate if v.get("flow_json").is_some() => whatsapp::read_flow(v),
        // Any other object (a catalogue product, a group, a QR code): the texts a WhatsApp user
        // reads on it.
        Endpoint::ObjectUpdate => whatsapp::read_object(v),
        _ => whatsapp::read_message(v),
    };
    let mut view = read(&value);
    // Where the body and the query both name a field, which one the API uses is not
    // documented: the texts of both are scored.
    let mut more = if query_only.is_empty() {
        Vec::new()
    } else {
        read(&Value::Object(query_only)).texts
    };
    // JSON labelled as a form: a form parser reads other fields out of the same bytes.
    if let Some(form) = &also_form {
        more.extend(read(form).texts);
    }
    // A media upload's `type` field names what WhatsApp stores: a text or document type there
    // makes the file read as text or sniffed, whatever its part says.
    let type_field = value
        .get("type")
        .filter(|_| endpoint == Endpoint::Media)
        .map(|t| t.as_str().unwrap_or("application/octet-stream"));
    for mut file in files {
        if let Some(t) = type_field {
            file.content_type = media::stored_type(t, file.content_type.as_deref());
        }
        more.extend(file_texts(endpoint, &file)?);
    }
    for text in more {
        if !view.texts.contains(&text) {
            view.texts.push(text);
        }
    }
    Ok(view)
}

/// A JSON or form body. A body that is JSON is read as JSON whatever its label says (Graph
/// sniffs it); a form label on anything else reads it as a form. JSON labelled as a form is
/// also returned read as a form (second value): which reading the API uses is not known.
fn parse_fields(
    content_type: Option<&str>,
    body: &[u8],
) -> Result<(Value, Option<Value>), BodyProblem> {
    let mime = crate::media_type::essence(content_type.unwrap_or_default());
    let trimmed = body.trim_ascii_start();
    let trimmed = trimmed.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(trimmed);
    if trimmed.is_empty() {
        return Ok((Value::Object(serde_json::Map::new()), None));
    }
    let json = || crate::strict_json::from_slice(trimmed).map_err(|_| BodyProblem::InvalidJson);
    let form = || {
        std::str::from_utf8(body)
            .ok()
            .and_then(whatsapp::form_to_json)
            .ok_or(BodyProblem::InvalidJson)
    };
    match (trimmed.first(), mime == "application/x-www-form-urlencoded") {
        (Some(b'{'), true) => match json() {
            Ok(value) => Ok((value, form().ok())),
            Err(_) => form().map(|f| (f, None)),
        },
        (_, true) => form().map(|f| (f, None)),
        _ => json().map(|j| (j, None)),
    }
}

/// A file part's bytes, kept for reading once the fields are known.
struct FilePart {
    content_type: Option<String>,
    filename: Option<String>,
    body: Vec<u8>,
}

/// A `multipart/form-data` body: its plain fields as form fields, and its files.
fn multipart_fields(body: &[u8], boundary: &str) -> Result<(Value, Vec<FilePart>), BodyProblem> {
    let parts = media::parts(body, boundary).map_err(|_| BodyProblem::InvalidJson)?;
    let mut fields = whatsapp::form::Fields::default();
    let mut files = Vec::new();
    for p in parts {
        // A part is a file when it has a file name or is the `file` field; a part with only a
        // content type is a form field to PHP-style parsers, so it is read as one.
        let is_file = p.filename.is_some() || p.name.as_deref() == Some("file");
        match (&p.name, is_file) {
            (Some(name), false) => {
                let value = String::from_utf8_lossy(p.body).into_owned();
                fields.add(name, value).ok_or(BodyProblem::InvalidJson)?;
            }
            _ => files.push(FilePart {
                content_type: p.content_type.clone(),
                filename: p.filename.clone(),
                body: p.body.to_vec(),
            }),
        }
    }
    Ok((fields.into_json(), files))
}

/// The texts of an uploaded file: a Flow JSON's screens, or a text-like media file's content.
/// Images, audio and video carry no text a recipient reads.
fn file_texts(endpoint: Endpoint, file: &FilePart) -> Result<Vec<String>, BodyProblem> {
    let part = media::Part {
        name: None,
        filename: file.filename.clone(),
        content_type: file.content_type.clone(),
        body: &file.body,
    };
    if endpoint == Endpoint::Flows {
        let v = crate::strict_json::from_slice(&file.body).map_err(|_| BodyProblem::InvalidJson)?;
        return Ok(whatsapp::read_flow(&v).texts);
    }
    if !part.is_text_like() {
        return Ok(Vec::new());
    }
    let mut texts = Vec::new();
    if let Some(name) = &file.filename {
        texts.push(name.clone());
    }
    texts.push(String::from_utf8_lossy(&file.body).into_owned());
    Ok(texts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::{GzEncoder, ZlibEncoder};
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn gzip_and_deflate_round_trip() {
        let data = br#"{"text":{"body":"hi"}}"#;
        assert_eq!(
            decode(&gzip(data), Some("GZIP"), 1000).unwrap().as_ref(),
            data
        );
        let mut z = ZlibEncoder::new(Vec::new(), Compression::default());
        z.write_all(data).unwrap();
        assert_eq!(
            decode(&z.finish().unwrap(), Some("deflate"), 1000)
                .unwrap()
                .as_ref(),
            data
        );
        assert_eq!(decode(data, Some("identity"), 1000).unwrap().as_ref(), data);
        assert_eq!(
            decode(&gzip(&gzip(data)), Some("gzip, gzip"), 1000)
                .unwrap()
                .as_ref(),
            data
        );
    }

    #[test]
    fn zip_bomb_is_refused() {
        let bomb = gzip(&vec![b'a'; 10 << 20]);
        assert!(bomb.len() < 64 << 10);
        assert_eq!(
            decode(&bomb, Some("gzip"), 256 << 10).unwrap_err(),
            BodyProblem::DecompressedTooLarge
        );
    }

    #[test]
    fn unknown_encoding_and_corrupt_gzip() {
        assert_eq!(
            decode(b"x", Some("br"), 10).unwrap_err(),
            BodyProblem::UnsupportedEncoding
        );
        assert_eq!(
            decode(b"not gzip", Some("gzip"), 10).unwrap_err(),
            BodyProblem::InvalidJson
        );
    }

    #[test]
    fn bodies_that_are_not_objects_are_invalid() {
        for b in [&b"[1,2]"[..], b"\"s\"", b"{", &[0xff, 0xfe], b"{\"a\":1}{"] {
            assert_eq!(
                parse_message(Endpoint::Messages, None, b, "").unwrap_err(),
                BodyProblem::InvalidJson,
                "{b:?}"
            );
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(parse_message(Endpoint::Messages, None, deep.as_bytes(), "").is_err());
    }

    #[test]
    fn template_edits_are_read_like_template_creation() {
        let m = parse_message(
            Endpoint::ObjectUpdate,
            None,
            br#"{"components":[{"type":"BODY","text":"edited"}]}"#,
            "",
        )
        .unwrap();
        assert_eq!(
            (m.message_type.as_str(), m.texts.as_slice()),
            ("template_creation", &["edited".to_owned()][..])
        );
        let m = parse_message(
            Endpoint::ObjectUpdate,
            None,
            br#"{"messaging_product":"whatsapp","url":"https://x.example/hook"}"#,
            "",
        )
        .unwrap();
        assert!(m.texts.is_empty());
        // Any other object's texts: a product's name and description.
        let m = parse_message(
            Endpoint::ObjectUpdate,
            None,
            br#"{"retailer_id":"sku-1","name":"Blue mug","description":"A mug that is blue.","url":"https://x.example/m"}"#,
            "",
        )
        .unwrap();
        assert_eq!(
            (m.message_type.as_str(), m.texts.as_slice()),
            (
                "object_update",
                &["A mug that is blue.".to_owned(), "Blue mug".to_owned()][..]
            )
        );
    }

    #[test]
    fn query_parameters_fill_missing_fields() {
        let m = parse_message(
            Endpoint::Messages,
            None,
            b"",
            "to=1&type=text&text=%7B%22body%22%3A%22hello%22%7D",
        )
        .unwrap();
        assert_eq!(m.texts, ["hello"]);
        let m = parse_message(
            Endpoint::Messages,
            None,
            br#"{"text":{"body":"body wins"}}"#,
            "text=%7B%22body%22%3A%22q%22%7D",
        )
        .unwrap();
        assert_eq!(m.texts, ["body wins", "q"]);
    }
}
