//! Words of normalised text: the splitter, single-character words, spaced-out letters joined,
//! and the scratch buffers they are kept in.

use super::*;

/// Han, kana, Hangul syllables are not here: Korean separates words by spaces.
pub(super) fn is_single_char_word(c: char) -> bool {
    // Latin, Greek, Cyrillic, Arabic, Devanagari... are below Thai: one comparison.
    u32::from(c) >= 0x0E00
        && matches!(c, '\u{3040}'..='\u{30FF}' | '\u{31F0}'..='\u{31FF}' | '\u{3400}'..='\u{4DBF}'
        | '\u{4E00}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}' | '\u{0E00}'..='\u{0E7F}'
        | '\u{20000}'..='\u{2FFFF}')
}

/// One word of a text: its span in the text, or in the arena when it was rewritten (its
/// look-alikes mapped, its spaced-out letters joined), and where it starts in the text.
#[derive(Debug, Clone, Copy)]
pub(super) struct WordSpan {
    pub(super) start: usize,
    pub(super) end: usize,
    /// The span is in the arena, not in the text.
    pub(super) in_arena: bool,
    /// The byte of the text where the word starts.
    pub(super) at: usize,
    /// One CJK or Thai character.
    pub(super) single: bool,
    /// The gap before it was short enough to belong to a spaced-out word.
    pub(super) short_gap: bool,
}

/// Reusable buffers for one text's words.
#[derive(Default)]
pub struct Scratch {
    /// Rewritten words, back to back; the others are read in the text.
    pub(super) arena: String,
    pub(super) words: Vec<WordSpan>,
    pub(super) chars: Vec<u32>,
    pub(super) word: String,
    /// The shape tokens, as token values, and the byte of the text where each starts.
    pub(super) shape: Vec<(u32, usize)>,
}

impl Scratch {
    pub(super) fn clear(&mut self) {
        self.arena.clear();
        self.words.clear();
        self.shape.clear();
    }

    /// The bytes its buffers hold, for callers that keep one between texts.
    pub fn capacity_bytes(&self) -> usize {
        self.arena.capacity()
            + self.word.capacity()
            + self.words.capacity() * std::mem::size_of::<WordSpan>()
            + self.chars.capacity() * std::mem::size_of::<u32>()
            + self.shape.capacity() * std::mem::size_of::<(u32, usize)>()
    }

    /// Appends a shape token; consecutive word tokens are one (starting where the first does).
    pub(super) fn push_shape(&mut self, token: u32, at: usize) {
        if token != TOKEN_WORD || self.shape.last().map(|t| t.0) != Some(TOKEN_WORD) {
            self.shape.push((token, at));
        }
    }
}

/// A word's text.
pub(super) fn word_of<'a>(text: &'a str, arena: &'a str, w: &WordSpan) -> Option<&'a str> {
    if w.in_arena {
        arena.get(w.start..w.end)
    } else {
        text.get(w.start..w.end)
    }
}

/// The word splitter's state between characters.
#[derive(Default)]
pub(super) struct Splitter<'t> {
    /// The text being split.
    pub(super) text: &'t str,
    /// Separator characters since the last word, and whether they held a line break.
    pub(super) gap: usize,
    pub(super) gap_newline: bool,
    /// A word is being read: whether the gap before it was short, where it starts and ends in
    /// the text, and whether its look-alikes are mapped.
    pub(super) building: Option<(bool, usize, usize, bool)>,
    /// The last word is a single CJK or Thai character (a voicing mark may follow).
    pub(super) last_single: bool,
    /// The run of word characters being read, for the shape tokens: its length in characters,
    /// whether it is all digits (normalisation writes every digit as `0`), and where it starts.
    pub(super) run: u32,
    pub(super) run_digits: bool,
    pub(super) run_at: usize,
}

impl Splitter<'_> {
    /// A word character at byte `at` extends the current run.
    pub(super) fn run_char(&mut self, c: char, at: usize) {
        if self.run == 0 {
            self.run_digits = true;
            self.run_at = at;
        }
        self.run = self.run.saturating_add(1);
        self.run_digits &= c == '0';
    }

    /// Ends the current run as a shape token.
    pub(super) fn end_run(&mut self, s: &mut Scratch) {
        if self.run > 0 {
            let token = if self.run_digits {
                TOKEN_DIGITS + self.run.min(MAX_DIGITS_SHAPE)
            } else {
                TOKEN_WORD
            };
            s.push_shape(token, self.run_at);
            self.run = 0;
        }
    }

    pub(super) fn short_gap(&self) -> bool {
        self.gap == 1 && !self.gap_newline
    }

    pub(super) fn end_word(&mut self, s: &mut Scratch) {
        if let Some((short_gap, at, end, map)) = self.building.take() {
            s.finish_word(self.text, at..end, map, short_gap);
        }
    }

    /// A run of `chars` word characters starting at byte `at`: the word being read (or a new
    /// one) grows by it, and so does the shape run.
    pub(super) fn word_run(&mut self, run: &str, chars: u32, map: bool, at: usize) {
        let short_gap = self.short_gap();
        let word = self.building.get_or_insert((short_gap, at, at, false));
        word.2 = at + run.len();
        word.3 |= map;
        if self.run == 0 {
            self.run_digits = true;
            self.run_at = at;
        }
        self.run = self.run.saturating_add(chars);
        self.run_digits &= run.bytes().all(|b| b == b'0');
        self.last_single = false;
        self.gap = 0;
        self.gap_newline = false;
    }

    pub(super) fn single(&mut self, s: &mut Scratch, c: char, at: usize) {
        self.end_word(s);
        s.push_single(c, self.short_gap(), at);
        self.run_char(c, at);
        self.last_single = true;
        self.gap = 0;
        self.gap_newline = false;
    }

    pub(super) fn separator(&mut self, s: &mut Scratch, c: char, at: usize) {
        self.end_word(s);
        self.end_run(s);
        if c == '\n' {
            s.push_shape(TOKEN_NL, at);
        } else if !c.is_whitespace() {
            s.push_shape(u32::from(c), at);
        }
        self.last_single = false;
        self.gap += 1;
        self.gap_newline |= c == '\n';
    }
}

/// Splits normalised text into words, mapping look-alikes word by word.
pub(super) fn split_words(text: &str, s: &mut Scratch) {
    let mut sp = Splitter {
        text,
        ..Splitter::default()
    };
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b.is_ascii() && !b.is_ascii_alphanumeric() {
            sp.separator(s, char::from(b), i);
            i += 1;
            continue;
        }
        if !b.is_ascii() {
            let Some(c) = text.get(i..).and_then(|t| t.chars().next()) else {
                break;
            };
            let handled = if sp.last_single && sp.building.is_none() && sp.gap == 0 && is_mark(c) {
                // A voicing mark (NFKD splits `が` into `か` and U+3099) stays with its
                // character.
                s.extend_last(c);
                sp.run_char(c, i);
                true
            } else if is_single_char_word(c) {
                sp.single(s, c, i);
                true
            } else if !is_word_char(c) {
                sp.separator(s, c, i);
                true
            } else {
                false
            };
            if handled {
                i += c.len_utf8();
                continue;
            }
        }
        // A run of word characters (one word, unless a CJK or Thai character interrupts it),
        // copied in one go.
        let (end, chars, map) = word_run_end(text, i);
        sp.word_run(text.get(i..end).unwrap_or_default(), chars, map, i);
        i = end;
    }
    sp.end_word(s);
    sp.end_run(s);
}

/// The same as `is_combining_mark` (checked in the tests), without its table search for
/// ideographs and kana, which hold no marks but the two voicing marks.
pub(super) fn is_mark(c: char) -> bool {
    match c {
        '\u{3400}'..='\u{4DBF}'
        | '\u{4E00}'..='\u{9FFF}'
        | '\u{F900}'..='\u{FAFF}'
        | '\u{20000}'..='\u{2FFFF}' => false,
        '\u{3040}'..='\u{30FF}' => matches!(c, '\u{3099}' | '\u{309A}'),
        _ => is_combining_mark(c),
    }
}

impl Scratch {
    pub(super) fn push_single(&mut self, c: char, short_gap: bool, at: usize) {
        self.words.push(WordSpan {
            start: at,
            end: at + c.len_utf8(),
            in_arena: false,
            at,
            single: true,
            short_gap,
        });
    }

    /// Ends the word at `span` of `text`: read there, or written to the arena with its
    /// look-alikes mapped if `map`.
    pub(super) fn finish_word(
        &mut self,
        text: &str,
        span: std::ops::Range<usize>,
        map: bool,
        short_gap: bool,
    ) {
        let at = span.start;
        let word = text.get(span.clone()).unwrap_or_default();
        let script = if map { word_script(word) } else { Script::Own };
        let (start, end) = if script == Script::Own {
            (span.start, span.end)
        } else {
            let start = self.arena.len();
            push_in_script(word, script, &mut self.arena);
            (start, self.arena.len())
        };
        self.words.push(WordSpan {
            start,
            end,
            in_arena: script != Script::Own,
            at,
            single: false,
            short_gap,
        });
    }

    /// Appends `c`, which follows the last word in the text, to that word.
    pub(super) fn extend_last(&mut self, c: char) {
        if let Some(last) = self.words.last_mut() {
            if last.in_arena {
                self.arena.push(c);
                last.end = self.arena.len();
            } else {
                last.end += c.len_utf8();
            }
        }
    }
}

/// Joins runs of at least `MIN_SPACED_LETTERS` single letters with short gaps into one word.
pub(super) fn merge_spaced_letters(text: &str, s: &mut Scratch) {
    if !has_spaced_run(text, s) {
        return;
    }
    // One pass into a new list: linear in the number of words whatever the input.
    let words = std::mem::take(&mut s.words);
    // A single letter's word and whether the gap before it was short.
    let letter = |arena: &str, i: usize| -> Option<bool> {
        let w = words.get(i)?;
        let mut cs = word_of(text, arena, w)?.chars();
        (!w.single && cs.next().is_some() && cs.next().is_none()).then_some(w.short_gap)
    };
    let mut out = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
        let mut j = i + 1;
        if letter(&s.arena, i).is_some() {
            while letter(&s.arena, j) == Some(true) {
                j += 1;
            }
        }
        if j - i >= MIN_SPACED_LETTERS {
            s.word.clear();
            for w in words.get(i..j).unwrap_or_default() {
                if let Some(l) = word_of(text, &s.arena, w) {
                    s.word.push_str(l);
                }
            }
            let (short_gap, at) = words.get(i).map_or((false, 0), |w| (w.short_gap, w.at));
            let start = s.arena.len();
            map_lookalikes(&s.word, &mut s.arena);
            s.word.clear();
            out.push(WordSpan {
                start,
                end: s.arena.len(),
                in_arena: true,
                at,
                single: false,
                short_gap,
            });
        } else {
            out.extend(words.get(i..j).unwrap_or(&[]).iter().copied());
        }
        i = j;
    }
    s.words = out;
}

/// Whether the words hold a run of `MIN_SPACED_LETTERS` single letters with short gaps: the
/// common case (none) costs one pass and no allocation.
pub(super) fn has_spaced_run(text: &str, s: &Scratch) -> bool {
    let mut run = 0;
    for w in &s.words {
        // One character is at most 4 bytes: longer words are not read.
        let one_letter = !w.single
            && w.end.saturating_sub(w.start) <= 4
            && word_of(text, &s.arena, w)
                .is_some_and(|w| w.chars().nth(1).is_none() && !w.is_empty());
        run = match (one_letter, w.short_gap) {
            (false, _) => 0,
            (true, true) if run > 0 => run + 1,
            (true, _) => 1,
        };
        if run >= MIN_SPACED_LETTERS {
            return true;
        }
    }
    false
}
