//! JSONL, NDJSON and plain-text lines (chat exports, CSV rows): a record per line, dropped
//! whole or kept byte for byte.

use super::table::*;
use super::*;

/// How records are delimited and judged inside a line-oriented stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    /// Each non-blank line is a JSON record; lines end with `\n`.
    Json,
    /// Each line is plain text (chat exports, CSV rows); lines end with `\n`, `\r\n` or a
    /// lone `\r` (classic Mac line ends).
    Text,
}

impl LineKind {
    /// Where the first line of `data` ends: the line's end and the start of the next one.
    /// `None` when the line is not finished: no terminator yet, or (text) a `\r` that is the
    /// last byte, which a `\n` may still follow. At the end of the body every byte is a line.
    fn line_end(self, data: &[u8], final_chunk: bool) -> Option<(usize, usize)> {
        let at_end = final_chunk.then_some((data.len(), data.len()));
        let found = match self {
            Self::Json => memchr::memchr(b'\n', data),
            Self::Text => memchr::memchr2(b'\n', b'\r', data),
        };
        let Some(i) = found else {
            return at_end.filter(|_| !data.is_empty());
        };
        if data.get(i) == Some(&b'\n') {
            return Some((i, i + 1));
        }
        match data.get(i + 1) {
            Some(b'\n') => Some((i, i + 2)),
            Some(_) => Some((i, i + 1)),
            None if final_chunk => Some((i, i + 1)),
            None => None,
        }
    }

    /// How many bytes of `input` finish a held line (`held` is not empty and holds no line
    /// terminator, but for a text line's trailing `\r`); `None` when all of `input` belongs
    /// to it and the line is still unfinished.
    fn completes(self, held: &[u8], input: &[u8]) -> Option<usize> {
        if self == Self::Text && held.last() == Some(&b'\r') {
            return match input.first() {
                None => None,
                Some(b'\n') => Some(1),
                Some(_) => Some(0),
            };
        }
        self.line_end(input, false).map(|(_, next)| next)
    }
}

/// JSONL / NDJSON (or plain text lines): a record per line, dropped whole or kept byte for byte.
pub struct LineStage {
    ctx: Arc<StageContext>,
    kind: LineKind,
    pending: Vec<u8>,
    bypassed: bool,
    text: TextState,
    /// Bytes fed so far: where the next input starts in the stage's stream.
    fed: u64,
}

impl LineStage {
    pub fn new(ctx: Arc<StageContext>, kind: LineKind) -> Self {
        Self {
            ctx,
            kind,
            pending: Vec::new(),
            bypassed: false,
            text: TextState::default(),
            fed: 0,
        }
    }

    /// Judges one line (without its terminator); blank lines are not records.
    fn judge(
        ctx: &StageContext,
        kind: LineKind,
        text: &mut TextState,
        line: &[u8],
    ) -> Option<RecordVerdict> {
        let trimmed = line.trim_ascii();
        if trimmed.is_empty() {
            return None;
        }
        Some(match kind {
            LineKind::Json => ctx.detectors.judge_json(trimmed),
            // Leading blanks are kept: a TSV row may start with an empty cell.
            LineKind::Text => match std::str::from_utf8(line.trim_ascii_end()) {
                Ok(t) => Self::judge_text_line(ctx, text, t),
                Err(_) => RecordVerdict::Uninspectable,
            },
        })
    }

    /// A plain-text line: a CSV row by its columns, a chat-export line or its continuation,
    /// or any other line by every detector (a JSON record in a `.txt` included).
    fn judge_text_line(ctx: &StageContext, text: &mut TextState, line: &str) -> RecordVerdict {
        let line = line.trim_start_matches('\u{FEFF}');
        let is_row = text.header_seen;
        if !is_row {
            text.read_header(line, &ctx.detectors);
        }
        if text.cells > 1 || (is_row && !text.columns.is_empty()) {
            let cells = split_row(line, text.separator);
            if is_row && let Some(d) = text.judge_row(&cells, &ctx.detectors) {
                return RecordVerdict::WhatsApp(d);
            }
            // A CSV row's cells are judged one by one too: a chat-export line or a provider's
            // WhatsApp address in a quoted cell.
            if text.cells > 1 {
                for cell in &cells {
                    if let RecordVerdict::WhatsApp(d) = ctx.detectors.judge_text(cell.trim()) {
                        return RecordVerdict::WhatsApp(d);
                    }
                }
            }
        }
        let verdict = ctx.detectors.judge_text(line);
        match verdict {
            RecordVerdict::WhatsApp(Detector::ChatExport)
                if ctx.detectors.starts_chat_line(line) =>
            {
                text.in_chat_export = true;
                verdict
            }
            RecordVerdict::Keep if text.in_chat_export => {
                RecordVerdict::WhatsApp(Detector::ChatExport)
            }
            other => other,
        }
    }

    /// A CSV row whose quoted cell spans lines (a message with a line break): its physical
    /// lines are held until the quote closes, then the row is judged whole (its `from` cell is
    /// on the last line, its message on the first) and kept or dropped whole. `Ok(false)`: the
    /// line is not part of such a row. A JSON line never opens one.
    fn csv_row(
        ctx: &StageContext,
        text: &mut TextState,
        (line, whole, at): (&[u8], &[u8], u64),
        out: &mut Vec<u8>,
        stats: &mut StripStats,
    ) -> Result<bool, StripError> {
        let open = !text.row.is_empty();
        let opens = || {
            text.header_seen
                && text.cells > 1
                && !matches!(line.trim_ascii_start().first(), Some(b'{' | b'['))
                && ends_in_quotes(line, text.separator, false)
        };
        if !open && !opens() {
            return Ok(false);
        }
        if text.row.len().saturating_add(whole.len()) > ctx.max_record_bytes {
            return Err(StripError::RecordTooLarge);
        }
        let held = text.row.len();
        text.row.extend_from_slice(whole);
        if ends_in_quotes(line, text.separator, open) {
            return Ok(true);
        }
        // The row is whole: its lines, but for the last one's terminator.
        let row = std::mem::take(&mut text.row);
        let body_len = held.saturating_add(line.len()).min(row.len());
        let start = at.saturating_sub(offset(held));
        Self::judge_row_lines(ctx, text, (row, body_len, start), out, stats, held)?;
        Ok(true)
    }

    /// Judges a held CSV row (`row`, whose first `body_len` bytes are its text) and forwards
    /// or drops it. When it cannot be read, the row is held again as it was before its last
    /// line (`held` bytes), for `bypass`.
    fn judge_row_lines(
        ctx: &StageContext,
        text: &mut TextState,
        (mut row, body_len, start): (Vec<u8>, usize, u64),
        out: &mut Vec<u8>,
        stats: &mut StripStats,
        held: usize,
    ) -> Result<(), StripError> {
        let verdict = match std::str::from_utf8(row.get(..body_len).unwrap_or_default()) {
            Ok(t) => Self::judge_text_line(ctx, text, t.trim_ascii_end()),
            Err(_) => RecordVerdict::Uninspectable,
        };
        match verdict {
            RecordVerdict::Keep => {
                stats.record(None);
                out.append(&mut row);
            }
            RecordVerdict::WhatsApp(d) => stats.record_at(Some(d), Some(start)),
            RecordVerdict::Uninspectable => {
                row.truncate(held);
                text.row = row;
                return Err(StripError::InvalidRecord);
            }
        }
        Ok(())
    }

    fn check_pending(&self) -> Result<(), StripError> {
        if self.pending.len() > self.ctx.max_record_bytes {
            return Err(StripError::RecordTooLarge);
        }
        Ok(())
    }

    /// Processes whole lines of `data` (which starts `base` bytes into the stream), returning
    /// how many bytes were consumed.
    fn process(
        ctx: &StageContext,
        kind: LineKind,
        text: &mut TextState,
        (data, base): (&[u8], u64),
        final_chunk: bool,
        out: &mut Vec<u8>,
        stats: &mut StripStats,
    ) -> Result<usize, (usize, StripError)> {
        let mut start = 0;
        while start < data.len() {
            let rest = data.get(start..).unwrap_or_default();
            let Some((end, after)) = kind.line_end(rest, final_chunk) else {
                break;
            };
            let (line_end, next) = (start + end, start + after);
            let line = data.get(start..line_end).unwrap_or_default();
            let whole = data.get(start..next).unwrap_or_default();
            let at = base.saturating_add(offset(start));
            if kind == LineKind::Text {
                match Self::csv_row(ctx, text, (line, whole, at), out, stats) {
                    Ok(true) => {
                        start = next;
                        continue;
                    }
                    Ok(false) => {}
                    Err(e) => return Err((start, e)),
                }
            }
            match Self::judge(ctx, kind, text, line) {
                None => out.extend_from_slice(whole),
                Some(RecordVerdict::Keep) => {
                    stats.record(None);
                    out.extend_from_slice(whole);
                }
                Some(RecordVerdict::WhatsApp(d)) => stats.record_at(Some(d), Some(at)),
                Some(RecordVerdict::Uninspectable) => {
                    return Err((start, StripError::InvalidRecord));
                }
            }
            start = next;
        }
        Ok(start)
    }
}

impl Stage for LineStage {
    fn feed(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        stats: &mut StripStats,
    ) -> Result<(), StripError> {
        let fed_before = self.fed;
        self.fed = self.fed.saturating_add(offset(input.len()));
        if self.bypassed {
            out.extend_from_slice(input);
            return Ok(());
        }
        // INVARIANT: `pending` holds no line terminator (it is the start of an unfinished
        // line; a text line may end with a `\r` whose next byte is not known yet), so the held
        // line ends at the input's first terminator; everything after it is judged straight
        // from the input, and only the unfinished tail is copied.
        let mut input = input;
        let mut base = fed_before;
        if !self.pending.is_empty() {
            let Some(n) = self.kind.completes(&self.pending, input) else {
                self.pending.extend_from_slice(input);
                return self.check_pending();
            };
            let (head, tail) = input.split_at_checked(n).unwrap_or((input, &[]));
            let held_start = fed_before.saturating_sub(offset(self.pending.len()));
            self.pending.extend_from_slice(head);
            // `pending` is now one whole line with its terminator: judged as a body's last.
            if let Err((_, e)) = Self::process(
                &self.ctx,
                self.kind,
                &mut self.text,
                (&self.pending, held_start),
                true,
                out,
                stats,
            ) {
                self.pending.extend_from_slice(tail);
                return Err(e);
            }
            self.pending.clear();
            base = fed_before.saturating_add(offset(head.len()));
            input = tail;
        }
        match Self::process(
            &self.ctx,
            self.kind,
            &mut self.text,
            (input, base),
            false,
            out,
            stats,
        ) {
            Ok(n) => {
                self.pending
                    .extend_from_slice(input.get(n..).unwrap_or_default());
                self.check_pending()
            }
            Err((n, e)) => {
                self.pending
                    .extend_from_slice(input.get(n..).unwrap_or_default());
                Err(e)
            }
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>, stats: &mut StripStats) -> Result<(), StripError> {
        if self.bypassed {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        let pending_start = self.fed.saturating_sub(offset(pending.len()));
        match Self::process(
            &self.ctx,
            self.kind,
            &mut self.text,
            (&pending, pending_start),
            true,
            out,
            stats,
        ) {
            Ok(_) => {}
            Err((n, e)) => {
                self.pending = pending.get(n..).unwrap_or_default().to_vec();
                return Err(e);
            }
        }
        // A quoted cell never closed: the row is judged as it stands.
        if !self.text.row.is_empty() {
            let row = std::mem::take(&mut self.text.row);
            let len = row.len();
            // The row is the stream's last bytes.
            let start = self.fed.saturating_sub(offset(len));
            return Self::judge_row_lines(
                &self.ctx,
                &mut self.text,
                (row, len, start),
                out,
                stats,
                len,
            );
        }
        Ok(())
    }

    fn bypass(&mut self, out: &mut Vec<u8>) {
        // A held CSV row comes before the unjudged bytes.
        out.append(&mut self.text.row);
        out.append(&mut self.pending);
        self.bypassed = true;
    }
}
