//! Streaming stages: each takes body bytes in any chunking and appends the bytes to forward.
//!
//! INVARIANT: a stage holds back at most one record (bounded by `max_record_bytes`) plus a
//! delimiter's worth of bytes; everything before that is emitted as soon as it is judged.

use super::detect::{Detector, Detectors, KeyKind, RecordVerdict};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Counts reported for one upload.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StripStats {
    pub records_seen: u64,
    pub records_stripped: u64,
    pub detectors: BTreeMap<&'static str, u64>,
    /// Where each stripped record was, in the order stripped, when the host asked for it
    /// ([`super::TrainingPolicy::list_stripped`]); `None`, as in Envoy, costs nothing.
    pub stripped: Option<Vec<StrippedRecord>>,
    /// Where the stage that judges records starts in the decoded body: a multipart file part's
    /// stage counts offsets from the part's start, and this is that start while it runs.
    pub origin: u64,
}

/// One stripped record, for a tool that says where it was (never what it held).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StrippedRecord {
    /// The record's number among the records seen, from 1.
    pub record: u64,
    /// The offset of the record's first byte in the decoded body (after `content-encoding`),
    /// when the stage knows it: a line, a CSV row, a JSON document's array element.
    pub offset: Option<u64>,
    pub detector: &'static str,
}

impl StripStats {
    pub fn record(&mut self, verdict: Option<Detector>) {
        self.record_at(verdict, None);
    }

    /// Counts a record that starts `offset` bytes into the judging stage's input.
    pub fn record_at(&mut self, verdict: Option<Detector>, offset: Option<u64>) {
        self.records_seen += 1;
        if let Some(d) = verdict {
            self.records_stripped += 1;
            *self.detectors.entry(d.as_str()).or_default() += 1;
            if let Some(list) = &mut self.stripped {
                list.push(StrippedRecord {
                    record: self.records_seen,
                    offset: offset.map(|o| self.origin.saturating_add(o)),
                    detector: d.as_str(),
                });
            }
        }
    }
}

/// A byte count as an offset.
fn offset(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// Why a body could not be inspected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StripError {
    InvalidRecord,
    RecordTooLarge,
    MalformedMultipart,
    UnsupportedPart,
    InvalidCompression,
    ExpansionTooLarge,
    /// The host could not hand over a chunk of the body.
    UnreadableBody,
    /// The host would not take the rewritten body (a request ending with trailers after the
    /// held bytes had been released).
    UnwritableBody,
    /// A part of a file uploaded in parts holds WhatsApp-derived records: a part is never
    /// stripped (the upload's declared size would break), so it is refused.
    RecordsInPart,
    /// A gRPC or protobuf body (a tuning RPC such as Gemini's `CreateTunedModel`): binary
    /// messages without their schema cannot be read record by record, nor rewritten.
    ProtobufBody,
}

impl StripError {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRecord => "invalid_record",
            Self::RecordTooLarge => "record_too_large",
            Self::MalformedMultipart => "malformed_multipart",
            Self::UnsupportedPart => "unsupported_part",
            Self::InvalidCompression => "invalid_compression",
            Self::ExpansionTooLarge => "expansion_too_large",
            Self::UnreadableBody => "unreadable_body",
            Self::UnwritableBody => "unwritable_body",
            Self::RecordsInPart => "whatsapp_records_in_part",
            Self::ProtobufBody => "protobuf_body",
        }
    }
}

/// One streaming transformation.
pub trait Stage {
    fn feed(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        stats: &mut StripStats,
    ) -> Result<(), StripError>;
    fn finish(&mut self, out: &mut Vec<u8>, stats: &mut StripStats) -> Result<(), StripError>;
    /// After an error, when the policy allows uninspectable bodies: emit every held byte
    /// unchanged and pass all later input through.
    fn bypass(&mut self, out: &mut Vec<u8>);
}

/// Shared, compiled settings every stage needs.
#[derive(Debug)]
pub struct StageContext {
    pub detectors: Detectors,
    pub max_record_bytes: usize,
    pub max_json_document_bytes: usize,
    pub max_expansion_ratio: u64,
}

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

/// What plain-text lines tell about the lines after them.
#[derive(Debug, Default)]
struct TextState {
    /// The first non-blank line was read (a CSV header, if it names columns).
    header_seen: bool,
    /// CSV columns whose values make a row WhatsApp-derived, and the separator.
    columns: Vec<(usize, ColumnKind)>,
    separator: u8,
    /// A line that starts with a chat-export timestamp was read: the lines after it without
    /// one are the continuation lines of multi-line messages.
    in_chat_export: bool,
    /// The separator came from a `sep=` line.
    explicit_separator: bool,
    /// How many cells the header has (more than one: rows are read cell by cell too).
    cells: usize,
    /// Title or comment lines read before the header (`# Inbox export 2024-03`).
    titles: usize,
    /// The physical lines (terminators included) of a CSV row whose quoted cell spans lines,
    /// held until its quote closes: the row is judged, and kept or dropped, whole.
    row: Vec<u8>,
    /// A `from` cell held a provider's WhatsApp address (`whatsapp:+...`, as Twilio writes
    /// it): the file marks its WhatsApp rows, so a bare number there is another channel (SMS).
    prefixed_addresses: bool,
    /// The header names a `destination` column: an abbreviation in a provenance column
    /// (`origin: WA`) is a place.
    route: bool,
}

/// A report may open with this many title or comment lines before its CSV header.
const MAX_TITLE_LINES: usize = 3;

/// The separators a CSV header may use, in the order a tie is broken (the last wins).
const SEPARATORS: [u8; 4] = [b',', b'\t', b';', b'|'];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ColumnKind {
    /// A `wa_id` key: any value.
    WaId,
    /// One of the policy's `phone_keys`: any value.
    Phone,
    /// `from`, as in webhook messages: a value that looks like a phone number.
    From,
    /// A column naming WhatsApp (`whatsapp_number`): a value that looks like a phone number.
    NamesWhatsApp,
    /// A provenance key (`channel`, `source`): a value naming WhatsApp.
    Provenance,
    /// `messaging_product` (a flattened webhook): `whatsapp`.
    Product,
    /// `ctwa_clid`: any value.
    CtwaClid,
}

impl TextState {
    /// Reads a line before the CSV header is known: Excel's `sep=` line, a title or comment
    /// line, or the header itself (its separator and the columns that matter).
    fn read_header(&mut self, line: &str, detectors: &Detectors) {
        let line = line.trim_start_matches('\u{FEFF}');
        let start = line.trim_start();
        // Excel's `sep=;` line names the separator; the header is the next line.
        if let Some(sep) = start.strip_prefix("sep=").and_then(|r| r.bytes().next()) {
            self.separator = sep;
            self.explicit_separator = true;
            return;
        }
        if self.is_title(start, detectors) {
            self.titles += 1;
            return;
        }
        self.header_seen = true;
        self.cells = 1;
        // A chat-export line is never a header.
        if detectors.starts_chat_line(line) {
            return;
        }
        if !self.explicit_separator {
            self.separator = SEPARATORS
                .into_iter()
                .max_by_key(|&sep| count_separators(line, sep))
                .unwrap_or(b',');
        }
        let cells = split_row(line, self.separator);
        // A `from` column is a WhatsApp sender only next to a message column (flattened too:
        // `text.body`).
        let has_message_column = cells.iter().any(|c| {
            let name = c.trim().to_ascii_lowercase();
            matches!(
                super::detect::last_part(&name),
                "text" | "body" | "message" | "content" | "msg"
            )
        });
        let columns: Vec<(usize, ColumnKind)> = cells
            .iter()
            .enumerate()
            .filter_map(|(i, cell)| Some((i, column_kind(cell, has_message_column, detectors)?)))
            .collect();
        self.route = cells.iter().any(|c| {
            let name = c.trim().to_ascii_lowercase();
            super::detect::is_destination_key(super::detect::last_part(&name))
        });
        // After a title, a line that names no column that matters and reads as prose is not a
        // header: the text has none.
        if self.titles > 0 && columns.is_empty() && !reads_as_header(&cells) {
            return;
        }
        self.cells = cells.len();
        self.columns = columns;
    }

    /// A title or comment line before the header (`# Inbox export 2024-03`, `Inbox export`):
    /// a `#` comment (`#` then a blank, another `#` or nothing, so that a `#,name` header
    /// stays one), or a line without a separator that names no column that matters (a
    /// one-column `wa_id` file has a header). At most `MAX_TITLE_LINES` of them.
    fn is_title(&self, line: &str, detectors: &Detectors) -> bool {
        let comment = line
            .strip_prefix('#')
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(['#', ' ', '\t']));
        let separated = if self.explicit_separator {
            line.as_bytes().contains(&self.separator)
        } else {
            line.bytes().any(|b| SEPARATORS.contains(&b))
        };
        self.titles < MAX_TITLE_LINES
            && (comment || (!separated && column_kind(line, false, detectors).is_none()))
    }

    /// The finding of a CSV row (split into `cells`) by its columns.
    fn judge_row(&mut self, cells: &[Cow<'_, str>], detectors: &Detectors) -> Option<Detector> {
        // A provider's WhatsApp address in a `from` cell: found cell by cell; from now on a
        // bare number in that column is not taken for WhatsApp.
        let prefixed = self.columns.iter().any(|&(i, kind)| {
            kind == ColumnKind::From
                && cells
                    .get(i)
                    .is_some_and(|c| super::detect::is_whatsapp_address(c))
        });
        self.prefixed_addresses |= prefixed;
        self.columns.iter().find_map(|&(i, kind)| {
            let v = cells.get(i).map_or("", |c| c.trim());
            match kind {
                _ if v.is_empty() => None,
                ColumnKind::WaId => Some(Detector::WaIdKey),
                ColumnKind::Phone => Some(Detector::PhoneKey),
                ColumnKind::CtwaClid => Some(Detector::CtwaClid),
                ColumnKind::From => (looks_like_phone_number(v) && !self.prefixed_addresses)
                    .then_some(Detector::WaIdKey),
                ColumnKind::NamesWhatsApp => {
                    super::detect::phone_like_str(v).then_some(Detector::PhoneKey)
                }
                ColumnKind::Provenance => detectors
                    .naming_str(v)
                    .counts(self.route)
                    .then_some(Detector::Provenance),
                ColumnKind::Product => {
                    super::detect::is_whatsapp(v).then_some(Detector::WebhookEnvelope)
                }
            }
        })
    }
}

/// What a CSV column named `cell` is to the detectors, if anything.
fn column_kind(cell: &str, has_message_column: bool, detectors: &Detectors) -> Option<ColumnKind> {
    let name = cell.trim().to_ascii_lowercase();
    match detectors.key_kind(&name) {
        KeyKind::WaId => Some(ColumnKind::WaId),
        KeyKind::Phone => Some(ColumnKind::Phone),
        KeyKind::NamesWhatsApp => Some(ColumnKind::NamesWhatsApp),
        KeyKind::Product => Some(ColumnKind::Product),
        KeyKind::CtwaClid => Some(ColumnKind::CtwaClid),
        KeyKind::Other if detectors.is_provenance_column(&name) => Some(ColumnKind::Provenance),
        KeyKind::Other if name == "from" && has_message_column => Some(ColumnKind::From),
        KeyKind::Other => None,
    }
}

/// Whether cells with no column that matters still read as a header rather than prose: none
/// longer than 64 characters, none ending like a sentence.
fn reads_as_header(cells: &[Cow<'_, str>]) -> bool {
    cells
        .iter()
        .map(|c| c.trim())
        .all(|cell| cell.chars().count() <= 64 && !cell.ends_with(['.', '?', '!']))
}

/// How many times `sep` separates cells in `line`: outside double quotes and parentheses (a
/// column named `notes (a, b, c)` in a TSV header does not make it a CSV).
fn count_separators(line: &str, sep: u8) -> usize {
    let mut quoted = false;
    let mut depth = 0usize;
    let mut count = 0;
    for b in line.bytes() {
        match b {
            b'"' => quoted = !quoted,
            b'(' if !quoted => depth += 1,
            b')' if !quoted => depth = depth.saturating_sub(1),
            b if b == sep && !quoted && depth == 0 => count += 1,
            _ => {}
        }
    }
    count
}

/// Splits a CSV row on `separator`, honouring double quotes (`"a,b"`, `""` inside quotes);
/// a row without quotes is split without copying.
fn split_row(line: &str, separator: u8) -> Vec<Cow<'_, str>> {
    if !line.contains('"') {
        return line
            .split(char::from(separator))
            .map(Cow::Borrowed)
            .collect();
    }
    let mut cells = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                if let Some(s) = cells.last_mut() {
                    s.push('"');
                }
            }
            '"' => quoted = !quoted,
            c if !quoted && u32::from(c) == u32::from(separator) => cells.push(String::new()),
            c => {
                if let Some(s) = cells.last_mut() {
                    s.push(c);
                }
            }
        }
    }
    cells.into_iter().map(Cow::Owned).collect()
}

/// Whether a CSV line, read from inside a quoted cell (`quoted`) or not, ends inside a quoted
/// cell: a quote opens a cell only at its start (after blanks), so a stray `5" screen` in an
/// unquoted cell does not hold the rest of the file; `""` inside quotes is a quote.
fn ends_in_quotes(line: &[u8], separator: u8, quoted: bool) -> bool {
    let mut quoted = quoted;
    let mut cell_start = !quoted;
    let mut bytes = line.iter().copied().peekable();
    while let Some(b) = bytes.next() {
        if quoted {
            if b == b'"' {
                if bytes.peek() == Some(&b'"') {
                    bytes.next();
                } else {
                    quoted = false;
                }
            }
        } else if b == separator {
            cell_start = true;
        } else if b == b'"' && cell_start {
            quoted = true;
            cell_start = false;
        } else if b != b' ' && b != b'\t' {
            cell_start = false;
        }
    }
    quoted
}

/// 7 to 15 digits, with an optional `+` and the usual separators: a WhatsApp `from`.
fn looks_like_phone_number(v: &str) -> bool {
    let v = v.trim().trim_start_matches('+');
    let digits = v.bytes().filter(u8::is_ascii_digit).count();
    (7..=15).contains(&digits)
        && v.bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b' ' | b'-' | b'(' | b')' | b'.'))
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

/// A whole JSON document (`application/json`), held up to `max_json_document_bytes` and
/// rewritten at the end.
pub struct JsonDocumentStage {
    ctx: Arc<StageContext>,
    pending: Vec<u8>,
    bypassed: bool,
}

impl JsonDocumentStage {
    pub fn new(ctx: Arc<StageContext>) -> Self {
        Self {
            ctx,
            pending: Vec::new(),
            bypassed: false,
        }
    }
}

impl Stage for JsonDocumentStage {
    fn feed(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        _stats: &mut StripStats,
    ) -> Result<(), StripError> {
        if self.bypassed {
            out.extend_from_slice(input);
            return Ok(());
        }
        self.pending.extend_from_slice(input);
        if self.pending.len() > self.ctx.max_json_document_bytes {
            return Err(StripError::RecordTooLarge);
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<u8>, stats: &mut StripStats) -> Result<(), StripError> {
        if self.bypassed {
            return Ok(());
        }
        let doc = super::json_doc::strip_document(&self.ctx.detectors, &self.pending, stats)?;
        out.extend_from_slice(&doc);
        self.pending.clear();
        Ok(())
    }

    fn bypass(&mut self, out: &mut Vec<u8>) {
        out.append(&mut self.pending);
        self.bypassed = true;
    }
}

/// Bytes that are forwarded untouched (non-file multipart parts, allow-listed uploads).
pub struct Passthrough;

impl Stage for Passthrough {
    fn feed(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        _stats: &mut StripStats,
    ) -> Result<(), StripError> {
        out.extend_from_slice(input);
        Ok(())
    }

    fn finish(&mut self, _out: &mut Vec<u8>, _stats: &mut StripStats) -> Result<(), StripError> {
        Ok(())
    }

    fn bypass(&mut self, _out: &mut Vec<u8>) {}
}

/// A stage that refuses any content: a binary file part, an unknown format.
pub struct Refuse {
    pub error: StripError,
    pending: Vec<u8>,
    bypassed: bool,
}

impl Refuse {
    pub fn new(error: StripError) -> Self {
        Self {
            error,
            pending: Vec::new(),
            bypassed: false,
        }
    }
}

impl Stage for Refuse {
    fn feed(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        _stats: &mut StripStats,
    ) -> Result<(), StripError> {
        if self.bypassed || input.is_empty() {
            out.extend_from_slice(input);
            return Ok(());
        }
        // Kept so that `bypass` can forward it unchanged.
        self.pending.extend_from_slice(input);
        Err(self.error)
    }

    fn finish(&mut self, _out: &mut Vec<u8>, _stats: &mut StripStats) -> Result<(), StripError> {
        Ok(())
    }

    fn bypass(&mut self, out: &mut Vec<u8>) {
        out.append(&mut self.pending);
        self.bypassed = true;
    }
}
