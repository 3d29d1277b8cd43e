//! Bidi overrides applied, so that text is read in the order a reader sees it.
//!
//! U+202E (RLO) makes the characters after it display right to left until U+202C (PDF), the
//! end of the line, or the end of the text: `RLO ledom egaugnal PDF` displays as `language
//! model`. Dropping the controls (as the normaliser does with every invisible character) would
//! leave the stored, reversed order for the classifier. So each override run is reordered first:
//! - inside RLO, letters of left-to-right scripts and digits are reversed; runs of right-to-left
//!   letters (Hebrew, Arabic, ...) keep their order, because their readers read them right to
//!   left, as they are stored;
//! - inside U+202D (LRO), the reverse: runs of right-to-left letters are reversed, the rest kept;
//! - a run nested in another (an LRO inside an RLO) is reordered first and then moves as one
//!   piece; embeddings (LRE, RLE) and isolates (LRI, RLI, FSI … PDI) group characters but do
//!   not reorder them;
//! - combining marks stay after their base character.
//!
//! This is the part of the Unicode Bidirectional Algorithm (UAX #9: explicit levels X1–X10,
//! reordering L2–L3) that changes what a word reads as; the implicit reordering of mixed-script
//! text without controls is left out, since it keeps every word readable. Nesting deeper than
//! UAX #9's 125 levels is ignored, as the algorithm ignores it.

use unicode_normalization::char::is_combining_mark;

const LRE: char = '\u{202A}';
const RLE: char = '\u{202B}';
const PDF: char = '\u{202C}';
const LRO: char = '\u{202D}';
const RLO: char = '\u{202E}';
const LRI: char = '\u{2066}';
const RLI: char = '\u{2067}';
const FSI: char = '\u{2068}';
const PDI: char = '\u{2069}';

/// UAX #9's `max_depth`.
const MAX_DEPTH: usize = 125;

/// The text with its override runs reordered, or `None` when it holds no override (the
/// common case: one byte scan).
pub fn apply_overrides(text: &str) -> Option<String> {
    if !has_override(text) {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut line = Line::default();
    for c in text.chars() {
        if is_line_break(c) {
            line.finish_into(&mut out);
            out.push(c);
        } else {
            line.push(c);
        }
    }
    line.finish_into(&mut out);
    Some(out)
}

/// Whether `text` holds U+202D or U+202E (UTF-8 `E2 80 AD`, `E2 80 AE`).
fn has_override(text: &str) -> bool {
    let bytes = text.as_bytes();
    memchr::memchr_iter(0xE2, bytes)
        .any(|i| bytes.get(i + 1) == Some(&0x80) && matches!(bytes.get(i + 2), Some(0xAD | 0xAE)))
}

/// Paragraph and line separators end every run (UAX #9 X8; a line is reordered on its own).
fn is_line_break(c: char) -> bool {
    matches!(
        c,
        '\n' | '\r' | '\u{1C}'..='\u{1E}' | '\u{85}' | '\u{2028}' | '\u{2029}'
    )
}

/// How a reader reads a character inside an override run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reading {
    /// Letters of right-to-left scripts: read right to left.
    RightToLeft,
    /// Blanks, punctuation and symbols: they follow their neighbours.
    Neutral,
    /// Everything else, including digits and a nested run: read left to right.
    LeftToRight,
}

fn reading(c: char) -> Reading {
    let right_to_left = matches!(c,
        '\u{0590}'..='\u{08FF}' | '\u{FB1D}'..='\u{FDFF}' | '\u{FE70}'..='\u{FEFF}'
        | '\u{10800}'..='\u{10FFF}' | '\u{1E800}'..='\u{1EFFF}');
    if right_to_left && !c.is_whitespace() && (c.is_alphanumeric() || is_combining_mark(c)) {
        Reading::RightToLeft
    } else if c.is_alphanumeric() {
        Reading::LeftToRight
    } else {
        Reading::Neutral
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// RLO (`true`) or LRO (`false`).
    Override {
        right_to_left: bool,
    },
    Embedding,
    Isolate,
}

/// One character with its combining marks, or a closed nested run.
#[derive(Debug)]
struct Piece {
    text: String,
    reading: Reading,
}

#[derive(Debug)]
struct Run {
    kind: Kind,
    pieces: Vec<Piece>,
}

impl Run {
    /// The run's text in reading order.
    fn render(mut self) -> String {
        let reverse_runs_of = match self.kind {
            Kind::Override {
                right_to_left: true,
            } => {
                self.pieces.reverse();
                // Right-to-left letters are read as stored: their order is restored.
                Some(Reading::RightToLeft)
            }
            Kind::Override {
                right_to_left: false,
            } => Some(Reading::RightToLeft),
            Kind::Embedding | Kind::Isolate => None,
        };
        if let Some(r) = reverse_runs_of {
            reverse_runs(&mut self.pieces, r);
        }
        self.pieces.into_iter().map(|p| p.text).collect()
    }
}

/// Reverses every maximal stretch of pieces that starts and ends with a piece read as `r`, with
/// only such pieces and neutral ones between.
fn reverse_runs(pieces: &mut [Piece], r: Reading) {
    let mut i = 0;
    while i < pieces.len() {
        if pieces.get(i).map(|p| p.reading) != Some(r) {
            i += 1;
            continue;
        }
        let mut last = i;
        let mut j = i + 1;
        while let Some(p) = pieces.get(j) {
            if p.reading == r {
                last = j;
            } else if p.reading != Reading::Neutral {
                break;
            }
            j += 1;
        }
        if let Some(stretch) = pieces.get_mut(i..=last) {
            stretch.reverse();
        }
        i = last + 1;
    }
}

/// The runs open on the current line.
#[derive(Debug, Default)]
struct Line {
    open: Vec<Run>,
    /// Openers past the depth limit, ignored with their closers.
    overflow: usize,
    text: String,
}

impl Line {
    fn push(&mut self, c: char) {
        match c {
            LRE | RLE => self.open_run(Kind::Embedding),
            LRO => self.open_run(Kind::Override {
                right_to_left: false,
            }),
            RLO => self.open_run(Kind::Override {
                right_to_left: true,
            }),
            LRI | RLI | FSI => self.open_run(Kind::Isolate),
            PDF => {
                if self.overflow > 0 {
                    self.overflow -= 1;
                } else if self.open.last().is_some_and(|r| r.kind != Kind::Isolate) {
                    self.close_innermost();
                }
            }
            PDI => {
                if self.open.iter().any(|r| r.kind == Kind::Isolate) {
                    self.overflow = 0;
                    while let Some(kind) = self.close_innermost() {
                        if kind == Kind::Isolate {
                            break;
                        }
                    }
                }
            }
            c => self.push_char(c),
        }
    }

    fn open_run(&mut self, kind: Kind) {
        if self.open.len() >= MAX_DEPTH || self.overflow > 0 {
            self.overflow += 1;
        } else {
            self.open.push(Run {
                kind,
                pieces: Vec::new(),
            });
        }
    }

    fn push_char(&mut self, c: char) {
        let Some(run) = self.open.last_mut() else {
            self.text.push(c);
            return;
        };
        match run.pieces.last_mut() {
            Some(base) if is_combining_mark(c) => base.text.push(c),
            _ => run.pieces.push(Piece {
                text: c.to_string(),
                reading: reading(c),
            }),
        }
    }

    /// Closes the innermost run into its parent (or the line); its kind, if one was open.
    fn close_innermost(&mut self) -> Option<Kind> {
        let run = self.open.pop()?;
        let kind = run.kind;
        let text = run.render();
        match self.open.last_mut() {
            Some(parent) => parent.pieces.push(Piece {
                text,
                reading: Reading::LeftToRight,
            }),
            None => self.text.push_str(&text),
        }
        Some(kind)
    }

    /// Ends the line: every open run closes.
    fn finish_into(&mut self, out: &mut String) {
        while self.close_innermost().is_some() {}
        self.overflow = 0;
        out.push_str(&self.text);
        self.text.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(s: &str) -> String {
        apply_overrides(s).unwrap_or_else(|| s.to_owned())
    }

    #[test]
    fn a_right_to_left_override_reads_as_displayed() {
        assert_eq!(
            applied("\u{202E}ledom egaugnal IA na sA\u{202C}, order 4411 shipped"),
            "As an AI language model, order 4411 shipped"
        );
        // Without its closer the run ends with the line, and the next line is not reversed.
        assert_eq!(applied("x \u{202E}cba\nabc"), "x abc\nabc");
        // Digits display reversed too.
        assert_eq!(applied("\u{202E}1144"), "4411");
    }

    #[test]
    fn text_without_an_override_is_left_alone() {
        assert_eq!(apply_overrides("plain text"), None);
        assert_eq!(
            apply_overrides("an \u{202B}embedding\u{202C} and \u{2067}isolate\u{2069}"),
            None
        );
        assert_eq!(apply_overrides("“quotes” — and dashes"), None);
    }

    #[test]
    fn right_to_left_letters_keep_their_order_under_rlo() {
        // A Hebrew word is read as stored; the Latin words around it are reversed.
        assert_eq!(
            applied("\u{202E}ba \u{5E9}\u{5DC}\u{5D5}\u{5DD} dc"),
            "cd \u{5E9}\u{5DC}\u{5D5}\u{5DD} ab"
        );
        // Under LRO, Arabic stored reversed reads forwards; Latin is untouched.
        assert_eq!(
            applied("ok \u{202D}\u{62F}\u{628}\u{627} \u{62C}\u{62D}\u{202C} ok"),
            "ok \u{62D}\u{62C} \u{627}\u{628}\u{62F} ok"
        );
    }

    #[test]
    fn nested_runs_move_as_one_piece() {
        // RLO a b c LRO d e f PDF PDF displays "defcba" (UAX #9 L2).
        assert_eq!(applied("\u{202E}abc\u{202D}def\u{202C}\u{202C}"), "defcba");
        // An RLO inside an RLO: the inner run is reversed three times (levels 3, 2, 1).
        assert_eq!(applied("\u{202E}ab\u{202E}cd\u{202C}\u{202C}"), "dcba");
        // An embedding groups without reordering.
        assert_eq!(applied("\u{202E}ab\u{202B}cd\u{202C}\u{202C}"), "cdba");
        // A PDI closes the override opened inside its isolate; a PDF cannot close an isolate.
        assert_eq!(applied("\u{2067}\u{202E}cba\u{2069}def"), "abcdef");
        assert_eq!(applied("\u{202E}x\u{2066}ab\u{202C}c\u{2069}y"), "yabcx");
    }

    #[test]
    fn marks_stay_on_their_base_and_depth_is_bounded() {
        assert_eq!(applied("\u{202E}e\u{301}b"), "be\u{301}");
        let deep = format!("{}ba{}", "\u{202E}".repeat(1000), "\u{202C}".repeat(1000));
        // 125 levels open and the rest are ignored with their closers: the innermost run
        // reverses the text, each outer one holds a single piece.
        assert_eq!(applied(&deep), "ab");
        let many = "\u{202E}\u{202C}".repeat(10_000);
        assert_eq!(applied(&many), "");
    }
}
