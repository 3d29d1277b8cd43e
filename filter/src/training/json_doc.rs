//! Stripping records out of one JSON document while keeping every other byte.
//!
//! Records are the elements of the outermost arrays of objects (Gemini `examples`, Labelbox data
//! rows, a top-level array). A dropped element is cut out with one adjacent comma, so the rest
//! of the document is byte-identical. If the document outside those arrays is itself
//! WhatsApp-derived (a provenance tag at the root), every record is. A document without record
//! arrays is one record.

use super::detect::{Detectors, RecordVerdict};
use super::stage::{StripError, StripStats};
use serde_json::Value;

/// Byte spans of a record array's elements.
struct RecordArray {
    elements: Vec<(usize, usize)>,
}

struct Scanner<'a> {
    bytes: &'a [u8],
    pos: usize,
    arrays: Vec<RecordArray>,
}

const MAX_DEPTH: usize = 128;

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn ws(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    fn consume(&mut self, b: u8) -> Result<(), StripError> {
        self.ws();
        if self.peek() == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            Err(StripError::InvalidRecord)
        }
    }

    fn string(&mut self) -> Result<(), StripError> {
        self.consume(b'"')?;
        loop {
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(b'\\') => self.pos += 2,
                Some(_) => self.pos += 1,
                None => return Err(StripError::InvalidRecord),
            }
        }
    }

    /// Scans a value; `in_record` means we are inside a record, where nothing is split further.
    fn value(&mut self, in_record: bool, depth: usize) -> Result<(), StripError> {
        if depth > MAX_DEPTH {
            return Err(StripError::InvalidRecord);
        }
        self.ws();
        match self.peek() {
            Some(b'{') => {
                self.pos += 1;
                self.ws();
                if self.peek() == Some(b'}') {
                    self.pos += 1;
                    return Ok(());
                }
                loop {
                    self.string()?;
                    self.consume(b':')?;
                    self.value(in_record, depth + 1)?;
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b'}') => {
                            self.pos += 1;
                            return Ok(());
                        }
                        _ => return Err(StripError::InvalidRecord),
                    }
                }
            }
            Some(b'[') => {
                self.pos += 1;
                let mut elements = Vec::new();
                let mut all_objects = true;
                self.ws();
                if self.peek() == Some(b']') {
                    self.pos += 1;
                    return Ok(());
                }
                let index = self.arrays.len();
                if !in_record {
                    self.arrays.push(RecordArray {
                        elements: Vec::new(),
                    });
                }
                loop {
                    self.ws();
                    let start = self.pos;
                    all_objects &= self.peek() == Some(b'{');
                    // Elements of an array of objects are records; inside them nothing splits.
                    self.value(in_record || self.peek() == Some(b'{'), depth + 1)?;
                    elements.push((start, self.pos));
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b']') => {
                            self.pos += 1;
                            break;
                        }
                        _ => return Err(StripError::InvalidRecord),
                    }
                }
                if !in_record
                    && let Some(a) = self.arrays.get_mut(index)
                    && all_objects
                {
                    a.elements = elements;
                }
                Ok(())
            }
            Some(b'"') => self.string(),
            Some(_) => {
                while self
                    .peek()
                    .is_some_and(|b| !matches!(b, b',' | b']' | b'}') && !b.is_ascii_whitespace())
                {
                    self.pos += 1;
                }
                Ok(())
            }
            None => Err(StripError::InvalidRecord),
        }
    }
}

/// Returns the document with WhatsApp-derived records removed.
pub fn strip_document(
    detectors: &Detectors,
    bytes: &[u8],
    stats: &mut StripStats,
) -> Result<Vec<u8>, StripError> {
    // Full validation first: the scanner below is only a span finder.
    serde_json::from_slice::<Value>(bytes).map_err(|_| StripError::InvalidRecord)?;
    let mut scanner = Scanner {
        bytes,
        pos: 0,
        arrays: Vec::new(),
    };
    scanner.value(false, 0)?;
    let arrays: Vec<RecordArray> = scanner
        .arrays
        .into_iter()
        .filter(|a| !a.elements.is_empty())
        .collect();

    // The document and its context are judged from their bytes, so that a repeated key has
    // every value checked (a `Value` keeps only the last).
    if arrays.is_empty() {
        let verdict = detectors.judge_json(bytes);
        return match verdict {
            RecordVerdict::WhatsApp(d) => {
                stats.record_at(Some(d), Some(0));
                Ok(Vec::new())
            }
            _ => {
                stats.record(None);
                Ok(bytes.to_vec())
            }
        };
    }

    // The document around the records: WhatsApp-derived context taints every record.
    let mut context = bytes.to_vec();
    for a in arrays.iter().rev() {
        if let (Some(first), Some(last)) = (a.elements.first(), a.elements.last()) {
            context.splice(first.0..last.1, std::iter::empty());
        }
    }
    let tainted = match detectors.judge_json(&context) {
        RecordVerdict::WhatsApp(d) => Some(d),
        _ => None,
    };

    let mut cuts: Vec<(usize, usize)> = Vec::new();
    for a in &arrays {
        let mut drop = Vec::with_capacity(a.elements.len());
        for &(s, e) in &a.elements {
            let verdict = match tainted {
                Some(d) => RecordVerdict::WhatsApp(d),
                None => detectors.judge_json(bytes.get(s..e).unwrap_or_default()),
            };
            match verdict {
                RecordVerdict::WhatsApp(d) => {
                    stats.record_at(Some(d), Some(u64::try_from(s).unwrap_or(u64::MAX)));
                    drop.push(true);
                }
                RecordVerdict::Keep => {
                    stats.record(None);
                    drop.push(false);
                }
                RecordVerdict::Uninspectable => return Err(StripError::InvalidRecord),
            }
        }
        cuts.extend(cut_spans(bytes, &a.elements, &drop));
    }
    cuts.sort_unstable();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    for (s, e) in cuts {
        out.extend_from_slice(bytes.get(at..s).unwrap_or_default());
        at = e;
    }
    out.extend_from_slice(bytes.get(at..).unwrap_or_default());
    Ok(out)
}

/// Byte ranges to delete for the dropped elements of one array: each dropped element goes with
/// the separator before it, or, for a leading run, with the separator after it.
fn cut_spans(bytes: &[u8], elements: &[(usize, usize)], drop: &[bool]) -> Vec<(usize, usize)> {
    let mut cuts = Vec::new();
    let first_kept = drop.iter().position(|d| !d);
    for (i, (&(s, e), &d)) in elements.iter().zip(drop).enumerate() {
        if !d {
            continue;
        }
        match first_kept {
            // Before the first kept element: cut up to the start of the next element.
            Some(k) if i < k => {
                let next_start = elements.get(i + 1).map_or(e, |n| n.0);
                cuts.push((s, next_start));
            }
            // After a kept element: cut from the end of the previous element.
            Some(_) => {
                let prev_end = i
                    .checked_sub(1)
                    .and_then(|p| elements.get(p))
                    .map_or(s, |p| p.1);
                cuts.push((prev_end, e));
            }
            // Everything dropped: empty the array, keeping the brackets.
            None => {
                let last = elements.last().map_or(e, |l| l.1);
                if i == 0 {
                    cuts.push((s, last));
                }
            }
        }
    }
    let _ = bytes;
    cuts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::DetectorsDoc;

    fn strip(doc: &str) -> (String, StripStats) {
        let d = Detectors::compile(&DetectorsDoc::default()).unwrap();
        let mut stats = StripStats::default();
        let out = strip_document(&d, doc.as_bytes(), &mut stats).unwrap();
        (String::from_utf8(out).unwrap(), stats)
    }

    #[test]
    fn drops_records_and_keeps_every_other_byte() {
        let doc = r#"{"display_name": "m", "tuning_task": {"training_data": {"examples": {"examples": [
  {"text_input": "a", "output": "b"},
  {"text_input": "wamid.HBgLMTY1MDM4Nzk0MzkVAg", "output": "c"},
  {"text_input": "d", "output": "e"}
]}}}}"#;
        let (out, stats) = strip(doc);
        assert_eq!(
            out,
            r#"{"display_name": "m", "tuning_task": {"training_data": {"examples": {"examples": [
  {"text_input": "a", "output": "b"},
  {"text_input": "d", "output": "e"}
]}}}}"#
        );
        assert_eq!((stats.records_seen, stats.records_stripped), (3, 1));
    }

    #[test]
    fn leading_trailing_and_all_dropped() {
        let w = r#"{"channel":"whatsapp"}"#;
        assert_eq!(
            strip(&format!(r#"[{w}, {{"a":1}}, {w}]"#)).0,
            r#"[{"a":1}]"#
        );
        assert_eq!(strip(&format!(r#"[{w},{w},{{"a":1}}]"#)).0, r#"[{"a":1}]"#);
        assert_eq!(strip(&format!(r#"[ {w} , {w} ]"#)).0, r#"[  ]"#);
        assert_eq!(
            strip(r#"[{"a":1}, {"b":[1,2]}]"#).0,
            r#"[{"a":1}, {"b":[1,2]}]"#
        );
    }

    #[test]
    fn root_context_taints_records() {
        let (out, stats) = strip(r#"{"source":"WhatsApp","rows":[{"t":"x"},{"t":"y"}]}"#);
        assert_eq!(out, r#"{"source":"WhatsApp","rows":[]}"#);
        assert_eq!(stats.records_stripped, 2);
    }

    #[test]
    fn a_document_without_arrays_is_one_record() {
        let (out, stats) = strip(r#"{"prompt":"x","metadata":{"wa_id":"1555"}}"#);
        assert_eq!((out.as_str(), stats.records_stripped), ("", 1));
        let (out, _) = strip(r#"{"prompt":"x"}"#);
        assert_eq!(out, r#"{"prompt":"x"}"#);
    }

    #[test]
    fn strings_with_brackets_and_escapes_do_not_confuse_spans() {
        let doc = r#"[{"t":"a],[\"}"},{"t":"wamid.ABCDEFGHIJKLMNOP"}]"#;
        assert_eq!(strip(doc).0, r#"[{"t":"a],[\"}"}]"#);
    }
}
