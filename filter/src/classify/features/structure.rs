//! The named structural signals of a text or a window of it: markdown, lists, code, LaTeX,
//! tables, paragraphs, business ids, URLs, questions, emoji and length bands.

use super::*;

/// What the structural signals are computed from; paragraphs merge into a whole.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Shape {
    /// Signals that hold when they hold in any part, as `Structure` bits.
    pub(super) flags: u32,
    pub(super) list_items: u32,
    pub(super) paragraphs: u32,
    pub(super) chars: u32,
}

pub(super) const FLAG_IDS: [usize; 9] = [0, 1, 3, 4, 5, 7, 8, 9, 10];

impl Shape {
    pub fn merge(&mut self, other: &Shape) {
        self.flags |= other.flags;
        self.list_items += other.list_items;
        self.paragraphs += other.paragraphs;
        self.chars += other.chars;
    }

    pub fn chars(&self) -> u32 {
        self.chars
    }

    /// Its flags (as `Structure` bits), list items, paragraphs and characters: what the
    /// trainer needs to merge shapes as [`Shape::merge`] does (`featurize`'s `short.tsv`).
    pub fn counts(&self) -> [u32; 4] {
        [self.flags, self.list_items, self.paragraphs, self.chars]
    }

    pub fn structure(&self) -> Structure {
        let mut st = Structure(self.flags);
        let chars = self.chars;
        st.set(2, self.list_items >= 3);
        st.set(6, self.paragraphs >= 3);
        st.set(11, chars < 80);
        st.set(12, (80..300).contains(&chars));
        st.set(13, (300..1000).contains(&chars));
        st.set(14, chars >= 1000);
        st
    }
}

/// The shape of one paragraph of normalised text: line starts are read as they come, and the
/// searches for rarer markers run only when their first byte occurs.
pub fn shape(text: &str) -> Shape {
    let bytes = text.as_bytes();
    let (mut list_items, mut heading, mut bold, mut table) = (0u32, false, false, false);
    // One table lookup per byte; the rarer checks run only on texts that hold their bytes.
    let mut seen = 0u8;
    for &b in bytes {
        seen |= BYTE_SEEN.get(usize::from(b)).copied().unwrap_or(0);
    }
    let chars = u32::try_from(text.chars().count()).unwrap_or(u32::MAX);
    let emoji = seen & SEEN_EMOJI_LEAD != 0 && has_emoji(bytes);
    for line in text.split('\n') {
        let t = line.trim_start_matches(is_blank);
        let hashes = t.bytes().take_while(|b| *b == b'#').count();
        heading |= (1..=6).contains(&hashes) && t.as_bytes().get(hashes) == Some(&b' ');
        list_items += u32::from(is_list_item(t));
        table |= t.starts_with('|') && (t.contains("---") || t.contains("|:-"));
        if seen & SEEN_EMPHASIS != 0 && !bold {
            bold = has_pair(line, "**") || has_pair(line, "__");
        }
    }
    let has = |bit: u8| seen & bit != 0;
    let mut st = Structure::default();
    let flags = [
        heading,
        bold,
        has(SEEN_BACKTICK) && text.contains("```"),
        has(SEEN_LATEX) && has_latex(text),
        table,
        has(SEEN_DIGIT) && has_business_id(text),
        (has(SEEN_H) && text.contains("http")) || (has(SEEN_W) && text.contains("www.")),
        has(SEEN_QUESTION) && (text.contains('?') || text.contains('؟')),
        emoji,
    ];
    for (id, on) in FLAG_IDS.iter().zip(flags) {
        st.set(*id, on);
    }
    Shape {
        flags: st.0,
        list_items,
        paragraphs: 1,
        chars,
    }
}

/// U+1F000.. (F0 9F ..) and U+2600..U+27BF (E2 98..9E ..) are emoji.
pub(super) fn has_emoji(bytes: &[u8]) -> bool {
    memchr::memchr2_iter(0xF0, 0xE2, bytes).any(|i| {
        matches!(
            (bytes.get(i), bytes.get(i + 1)),
            (Some(0xF0), Some(0x9F)) | (Some(0xE2), Some(0x98..=0x9E))
        )
    })
}

pub(super) const SEEN_EMPHASIS: u8 = 1;
pub(super) const SEEN_BACKTICK: u8 = 2;
pub(super) const SEEN_LATEX: u8 = 4;
pub(super) const SEEN_DIGIT: u8 = 8;
pub(super) const SEEN_H: u8 = 16;
pub(super) const SEEN_W: u8 = 32;
/// `?`, or the lead byte of `؟` (U+061F).
pub(super) const SEEN_QUESTION: u8 = 64;
/// The lead byte of an emoji: 0xF0 (U+1F000..) or 0xE2 (U+2600..U+27BF).
pub(super) const SEEN_EMOJI_LEAD: u8 = 128;

#[expect(
    clippy::indexing_slicing,
    reason = "evaluated at compile time: an out-of-range index fails the build, never a request"
)]
pub(super) static BYTE_SEEN: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = match b as u8 {
            b'*' | b'_' => SEEN_EMPHASIS,
            b'`' => SEEN_BACKTICK,
            b'\\' | b'$' => SEEN_LATEX,
            b'0' => SEEN_DIGIT,
            b'h' => SEEN_H,
            b'w' => SEEN_W,
            b'?' | 0xD8 => SEEN_QUESTION,
            0xF0 | 0xE2 => SEEN_EMOJI_LEAD,
            _ => 0,
        };
        b += 1;
    }
    t
};

pub(super) fn has_pair(line: &str, marker: &str) -> bool {
    line.find(marker).is_some_and(|i| {
        line.get(i + marker.len()..)
            .and_then(|rest| rest.find(marker))
            .is_some_and(|j| j > 0)
    })
}

/// `- x`, `* x`, `• x`, `0. x`, `00) x`, `a) x`.
pub(super) fn is_list_item(t: &str) -> bool {
    let mut cs = t.chars();
    match cs.next() {
        Some('-' | '*' | '•' | '▪' | '◦' | '–' | '·') => cs.next() == Some(' '),
        Some('0') => {
            let rest = t.trim_start_matches('0');
            rest.starts_with(". ") || rest.starts_with(") ")
        }
        Some(c) if c.is_ascii_lowercase() => {
            let rest = cs.as_str();
            rest.starts_with(") ")
        }
        _ => false,
    }
}

pub(super) fn has_latex(text: &str) -> bool {
    text.contains("$$")
        || text.contains("\\(")
        || text.contains("\\[")
        || [
            "\\frac", "\\sqrt", "\\times", "\\cdot", "\\sum", "\\int", "\\pi", "\\le", "\\ge",
            "\\neq", "\\boxed",
        ]
        .iter()
        .any(|m| text.contains(m))
}

/// An order, booking or parcel id: `#` before digits, or a word mixing letters with at least
/// three digits (`bx-00000`, `a0000b`), or five or more digits in a row. Only the tokens
/// (runs of letters, digits, `-`, `_` and `/`) that hold a digit are read.
pub(super) fn has_business_id(text: &str) -> bool {
    let bytes = text.as_bytes();
    let token_byte = |b: &u8| matches!(b, b'0' | b'a'..=b'z' | b'-' | b'_' | b'/');
    let mut from = 0;
    while let Some(i) = bytes
        .get(from..)
        .and_then(|rest| memchr::memchr(b'0', rest))
        .map(|n| from + n)
    {
        // The first digit of its token.
        if i > 0 && bytes.get(i - 1) == Some(&b'#') {
            return true;
        }
        let start = bytes
            .get(..i)
            .and_then(|before| before.iter().rposition(|b| !token_byte(b)))
            .map_or(0, |p| p + 1);
        let end = bytes
            .get(i..)
            .and_then(|after| after.iter().position(|b| !token_byte(b)))
            .map_or(bytes.len(), |p| i + p);
        let (mut letters, mut digits, mut run) = (false, 0usize, 0usize);
        for &b in bytes.get(start..end).unwrap_or_default() {
            match b {
                b'0' => {
                    digits += 1;
                    run += 1;
                    if run >= 5 {
                        return true;
                    }
                }
                b'a'..=b'z' => {
                    letters = true;
                    run = 0;
                }
                _ => run = 0,
            }
        }
        if letters && digits >= 3 {
            return true;
        }
        from = end.max(i + 1);
    }
    false
}

/// [`has_business_id`] as first written, byte by byte: the tests' reference.
#[cfg(test)]
pub(super) fn has_business_id_bytewise(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut run_digits = 0usize;
    let mut token_letters = false;
    let mut token_digits = 0usize;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'0' => {
                run_digits += 1;
                token_digits += 1;
                if run_digits >= 5 || (token_letters && token_digits >= 3) {
                    return true;
                }
                if run_digits == 1 && i > 0 && bytes.get(i - 1) == Some(&b'#') {
                    return true;
                }
            }
            b'a'..=b'z' => {
                run_digits = 0;
                token_letters = true;
                if token_digits >= 3 {
                    return true;
                }
            }
            b'-' | b'_' | b'/' => run_digits = 0,
            _ => {
                run_digits = 0;
                token_letters = false;
                token_digits = 0;
            }
        }
    }
    false
}

/// The shape of the window `text` of a paragraph whose shape is `paragraph`. A window holds
/// only signals its paragraph holds, so only those are looked for. The line-based signals
/// (headings, bold, lists, tables) are read in the window when the paragraph has any: a
/// window starts at a sentence, which a paragraph without them does not turn into a line.
pub fn window_shape(text: &str, paragraph: &Shape) -> Shape {
    const LINE_FLAGS: u32 = 1 << 0 | 1 << 1 | 1 << 5;
    if paragraph.flags & LINE_FLAGS != 0 || paragraph.list_items > 0 {
        return shape(text);
    }
    let has = |id: usize| paragraph.flags & (1 << id) != 0;
    let mut st = Structure::default();
    st.set(3, has(3) && text.contains("```"));
    st.set(4, has(4) && has_latex(text));
    st.set(7, has(7) && has_business_id(text));
    st.set(
        8,
        has(8) && (text.contains("http") || text.contains("www.")),
    );
    st.set(9, has(9) && (text.contains('?') || text.contains('؟')));
    st.set(10, has(10) && has_emoji(text.as_bytes()));
    Shape {
        flags: st.0,
        list_items: 0,
        paragraphs: 1,
        chars: u32::try_from(text.chars().count()).unwrap_or(u32::MAX),
    }
}
