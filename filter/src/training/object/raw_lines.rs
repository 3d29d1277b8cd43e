//! After an object's reader fails, under `on_uninspectable: allow`: the object still goes
//! upstream as sent (objects are never rewritten), so its raw bytes are read on as text lines
//! and a record among them still refuses it. UTF-16 text (with its byte order mark) is
//! decoded first.

use crate::training::stage::{LineKind, LineStage, Stage, StageContext, StripError, StripStats};
use std::sync::Arc;

/// Reads raw bytes as text lines, line by line: a line the text reader cannot take (too long,
/// not text) is skipped, never the end of the reading.
pub struct RawLines {
    ctx: Arc<StageContext>,
    lines: LineStage,
    /// The current line so far.
    line: Vec<u8>,
    /// Skipping the rest of an over-long line.
    skipping: bool,
    /// `None` until the first two bytes are seen; then whether the text is UTF-16 (`Some(le)`).
    utf16: Option<Option<bool>>,
    /// UTF-16 bytes not yet decoded (an odd byte, a lone high surrogate).
    units: Vec<u8>,
    sink: Vec<u8>,
}

impl RawLines {
    pub fn new(ctx: &Arc<StageContext>) -> Self {
        Self {
            ctx: Arc::clone(ctx),
            lines: LineStage::new(Arc::clone(ctx), LineKind::Text),
            line: Vec::new(),
            skipping: false,
            utf16: None,
            units: Vec::new(),
            sink: Vec::new(),
        }
    }

    /// Reads more bytes; `Err(RecordsInObject)` on a record.
    pub fn feed(&mut self, input: &[u8], stats: &mut StripStats) -> Result<(), StripError> {
        let before = stats.records_stripped;
        if self.utf16.is_none() {
            self.units.extend_from_slice(input);
            let Some(bom) = self.units.get(..2) else {
                return Ok(());
            };
            self.utf16 = Some(match bom {
                [0xFF, 0xFE] => Some(true),
                [0xFE, 0xFF] => Some(false),
                _ => None,
            });
            let head = std::mem::take(&mut self.units);
            return self.feed(&head, stats);
        }
        match self.utf16.flatten() {
            Some(le) => {
                self.units.extend_from_slice(input);
                let text = self.decode_utf16(le);
                self.text(text.as_bytes(), stats);
            }
            None => self.text(input, stats),
        }
        if stats.records_stripped > before {
            return Err(StripError::RecordsInObject);
        }
        Ok(())
    }

    /// Ends the reading: the last line is judged.
    pub fn finish(&mut self, stats: &mut StripStats) -> Result<(), StripError> {
        let before = stats.records_stripped;
        if self.utf16.is_none() {
            let head = std::mem::take(&mut self.units);
            self.text(&head, stats);
        }
        if !self.skipping && !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            self.judge(&line, stats);
        }
        let _ = self.lines.finish(&mut self.sink, stats);
        self.sink.clear();
        if stats.records_stripped > before {
            return Err(StripError::RecordsInObject);
        }
        Ok(())
    }

    fn text(&mut self, mut input: &[u8], stats: &mut StripStats) {
        while !input.is_empty() {
            let (part, rest, ended) = match memchr::memchr(b'\n', input) {
                Some(i) => (
                    input.get(..=i).unwrap_or_default(),
                    input.get(i + 1..).unwrap_or_default(),
                    true,
                ),
                None => (input, &[][..], false),
            };
            input = rest;
            if !self.skipping {
                self.line.extend_from_slice(part);
                if self.line.len() > self.ctx.max_record_bytes {
                    self.line.clear();
                    self.skipping = true;
                }
            }
            if ended {
                if !self.skipping {
                    let line = std::mem::take(&mut self.line);
                    self.judge(&line, stats);
                }
                self.skipping = false;
            }
        }
    }

    /// One line through the text reader; a reader that fails starts over for the next line.
    fn judge(&mut self, line: &[u8], stats: &mut StripStats) {
        if self.lines.feed(line, &mut self.sink, stats).is_err() {
            self.lines = LineStage::new(Arc::clone(&self.ctx), LineKind::Text);
        }
        self.sink.clear();
    }

    fn decode_utf16(&mut self, le: bool) -> String {
        let pairs = self.units.len() / 2;
        let units: Vec<u16> = self
            .units
            .chunks_exact(2)
            .map(|p| match p {
                [a, b] if le => u16::from_le_bytes([*a, *b]),
                [a, b] => u16::from_be_bytes([*a, *b]),
                _ => 0,
            })
            .collect();
        // A high surrogate at the end waits for its pair.
        let keep = usize::from(units.last().is_some_and(|u| (0xD800..0xDC00).contains(u)));
        let take = units.len() - keep;
        let text: String = char::decode_utf16(units.iter().take(take).copied())
            .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
            .filter(|c| *c != '\u{FEFF}')
            .collect();
        self.units.drain(..(pairs - keep) * 2);
        text
    }
}
