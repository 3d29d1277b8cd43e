//! What plain-text lines tell about the lines after them: a CSV header's columns, the
//! separator, quoted rows, title lines.

use super::*;

/// What plain-text lines tell about the lines after them.
#[derive(Debug, Default)]
pub(super) struct TextState {
    /// The first non-blank line was read (a CSV header, if it names columns).
    pub(super) header_seen: bool,
    /// CSV columns whose values make a row WhatsApp-derived, and the separator.
    pub(super) columns: Vec<(usize, ColumnKind)>,
    pub(super) separator: u8,
    /// A line that starts with a chat-export timestamp was read: the lines after it without
    /// one are the continuation lines of multi-line messages.
    pub(super) in_chat_export: bool,
    /// The separator came from a `sep=` line.
    pub(super) explicit_separator: bool,
    /// How many cells the header has (more than one: rows are read cell by cell too).
    pub(super) cells: usize,
    /// Title or comment lines read before the header (`# Inbox export 2024-03`).
    pub(super) titles: usize,
    /// The physical lines (terminators included) of a CSV row whose quoted cell spans lines,
    /// held until its quote closes: the row is judged, and kept or dropped, whole.
    pub(super) row: Vec<u8>,
    /// A `from` cell held a provider's WhatsApp address (`whatsapp:+...`, as Twilio writes
    /// it): the file marks its WhatsApp rows, so a bare number there is another channel (SMS).
    pub(super) prefixed_addresses: bool,
    /// The header names a `destination` column: an abbreviation in a provenance column
    /// (`origin: WA`) is a place.
    pub(super) route: bool,
}

/// A report may open with this many title or comment lines before its CSV header.
pub(super) const MAX_TITLE_LINES: usize = 3;

/// The separators a CSV header may use, in the order a tie is broken (the last wins).
pub(super) const SEPARATORS: [u8; 4] = [b',', b'\t', b';', b'|'];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ColumnKind {
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
    pub(super) fn read_header(&mut self, line: &str, detectors: &Detectors) {
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
                crate::training::detect::last_part(&name),
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
            crate::training::detect::is_destination_key(crate::training::detect::last_part(&name))
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
    pub(super) fn is_title(&self, line: &str, detectors: &Detectors) -> bool {
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
    pub(super) fn judge_row(
        &mut self,
        cells: &[Cow<'_, str>],
        detectors: &Detectors,
    ) -> Option<Detector> {
        // A provider's WhatsApp address in a `from` cell: found cell by cell; from now on a
        // bare number in that column is not taken for WhatsApp.
        let prefixed = self.columns.iter().any(|&(i, kind)| {
            kind == ColumnKind::From
                && cells
                    .get(i)
                    .is_some_and(|c| crate::training::detect::is_whatsapp_address(c))
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
                    crate::training::detect::phone_like_str(v).then_some(Detector::PhoneKey)
                }
                ColumnKind::Provenance => detectors
                    .naming_str(v)
                    .counts(self.route)
                    .then_some(Detector::Provenance),
                ColumnKind::Product => {
                    crate::training::detect::is_whatsapp(v).then_some(Detector::WebhookEnvelope)
                }
            }
        })
    }
}

/// What a CSV column named `cell` is to the detectors, if anything.
pub(super) fn column_kind(
    cell: &str,
    has_message_column: bool,
    detectors: &Detectors,
) -> Option<ColumnKind> {
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
pub(super) fn reads_as_header(cells: &[Cow<'_, str>]) -> bool {
    cells
        .iter()
        .map(|c| c.trim())
        .all(|cell| cell.chars().count() <= 64 && !cell.ends_with(['.', '?', '!']))
}

/// How many times `sep` separates cells in `line`: outside double quotes and parentheses (a
/// column named `notes (a, b, c)` in a TSV header does not make it a CSV).
pub(super) fn count_separators(line: &str, sep: u8) -> usize {
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
pub(super) fn split_row(line: &str, separator: u8) -> Vec<Cow<'_, str>> {
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
pub(super) fn ends_in_quotes(line: &[u8], separator: u8, quoted: bool) -> bool {
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
pub(super) fn looks_like_phone_number(v: &str) -> bool {
    let v = v.trim().trim_start_matches('+');
    let digits = v.bytes().filter(u8::is_ascii_digit).count();
    (7..=15).contains(&digits)
        && v.bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b' ' | b'-' | b'(' | b')' | b'.'))
}
