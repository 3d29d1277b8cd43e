//! Features of normalised text: hashed word uni- and bigrams, character n-grams, shape tokens
//! and position features, and the named structural signals. One pass over the text, no regex.
//!
//! Shape tokens are what the words leave out: the text's punctuation, symbols, number shapes
//! and line breaks, as a stream in which a run of word characters is one token (`w`), a run of
//! digits is `#k` (k digits, at most 6), a line break is `NL`, any other non-blank character
//! is itself, and blanks are skipped. Each token but `w` is a feature, and so is each adjacent
//! pair: `# =`, `: #2`, `? w`, `* NL`. They carry what the words cannot: worked arithmetic,
//! quoted drafts, code, verse line ends against prices, times and bold labels.
//!
//! Position features are a paragraph's first word, its last word and its first bigram.
//!
//! Words are runs of letters, digits and marks. Han, kana and Thai characters are words of
//! their own, since those scripts do not separate words by spaces. Inside a word that mixes
//! scripts, look-alikes are mapped towards the word's own script ([`word_script`]):
//! `Еxрlаin` (Cyrillic Е, р, а among Latin letters) reads as `explain`, `прoстo` (Latin o
//! among Cyrillic letters) as `просто`, and a word of look-alikes only as Latin; a Russian
//! word stays Russian. Four or more single letters spaced out (`e x p l a i n`, `e.x.p.l.a.i.n`)
//! are read as one word.
//!
//! The same code computes features for training (`featurize`) and for scoring, so the two
//! cannot drift.

use super::normalize::{is_numeric, is_word_char, lookalike};
use std::sync::LazyLock;
use unicode_normalization::char::is_combining_mark;

/// Character n-gram sizes, fastText style, over `<word>`.
const MIN_N: usize = 3;
const MAX_N: usize = 5;
// The ASCII path of `char_grams` is written out for these sizes.
const _: () = assert!(MIN_N == 3 && MAX_N == 5);
/// A spaced-out word needs at least this many single letters in a row.
const MIN_SPACED_LETTERS: usize = 4;

const SEED_WORD: u64 = 0x243F_6A88_85A3_08D3;
const SEED_BIGRAM: u64 = 0x1319_8A2E_0370_7344;
const SEED_CHAR: u64 = 0xA409_3822_299F_31D0;
const SEED_SHAPE: u64 = 0x082E_FA98_EC4E_6C89;
const SEED_SHAPE_PAIR: u64 = 0x4528_21E6_38D0_1377;
const SEED_POS: u64 = 0xBE54_66CF_34E9_0C6C;

/// Shape token values: a character is its code point; these lie above every code point.
const TOKEN_NL: u32 = 0x11_0000;
const TOKEN_WORD: u32 = 0x11_0001;
const TOKEN_DIGITS: u32 = 0x11_0010;
/// A digit run's token counts at most this many digits.
const MAX_DIGITS_SHAPE: u32 = 6;

/// The named structural signals, in the order of their weights in the model.
pub const STRUCTURAL: &[&str] = &[
    "md_heading",
    "md_bold",
    "list_3plus",
    "code_fence",
    "latex_math",
    "md_table",
    "paragraphs_3plus",
    "business_id",
    "url",
    "question",
    "emoji",
    "len_lt80",
    "len_80_300",
    "len_300_1000",
    "len_ge1000",
];

/// The kind of a hashed feature, for explanations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Word,
    Bigram,
    CharGram,
    /// A shape token or a pair of them.
    Shape,
    /// A paragraph's first word, last word or first bigram.
    Position,
}

impl Kind {
    /// The kind's code in the model file's vocabulary.
    pub fn code(self) -> u8 {
        match self {
            Kind::Word => 0,
            Kind::Bigram => 1,
            Kind::CharGram => 2,
            Kind::Shape => 3,
            Kind::Position => 4,
        }
    }
}

/// Receives every hashed feature occurrence of a text.
pub trait Sink {
    fn feature(&mut self, hash: u64, kind: Kind);

    /// Whether [`Sink::named`] wants the names of shape and position features (building them
    /// costs a string each; scoring never asks).
    fn wants_names(&self) -> bool {
        false
    }

    /// Also receives the words of word and bigram features, and when [`Sink::wants_names`]
    /// the names of shape and position features, for the trainer's vocabulary; scoring
    /// ignores them.
    fn named(&mut self, _hash: u64, _kind: Kind, _first: &str, _second: Option<&str>) {}

    /// Where the features that follow come from (see [`Place`]); scoring uses it to sum a
    /// window of a paragraph from the paragraph's own pass.
    fn place(&mut self, _place: Place) {}
}

/// Where the hashed features that follow a [`Sink::place`] call come from, until the next call.
/// Every shape token comes first, in text order, then every word, in text order; position
/// features (`Kind::Position`) belong to no place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// A shape token starting at this byte of the paragraph: its own feature (none for `w`).
    Token { at: usize },
    /// A word starting at this byte of the paragraph, with its hash: the word and its
    /// character n-grams.
    Word { at: usize, hash: u64 },
    /// The pair of the last token or word with the one before it (a token pair, a bigram).
    Link,
}

/// The structural signals of one text, as bits in `STRUCTURAL` order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Structure(pub u32);

impl Structure {
    fn set(&mut self, id: usize, on: bool) {
        if on {
            self.0 |= 1 << id;
        }
    }

    pub fn has(&self, id: usize) -> bool {
        self.0 & (1 << id) != 0
    }

    /// The ids that fired.
    pub fn ids(&self) -> impl Iterator<Item = (usize, &'static str)> + '_ {
        STRUCTURAL
            .iter()
            .enumerate()
            .filter(|(i, _)| self.has(*i))
            .map(|(i, n)| (i, *n))
    }
}

fn mix(h: u64, x: u64) -> u64 {
    (h.rotate_left(5) ^ x).wrapping_mul(0x517C_C1B7_2722_0A95)
}

/// The weight-table bucket of a feature hash: its top bits. Every hash ends with a multiply by
/// an odd constant, which carries every input bit into the top bits.
pub fn bucket(hash: u64, bits: u32) -> u32 {
    // INVARIANT: bits is in 12..=22 (checked when a model is read), so the shift is in range
    // and the bucket fits in u32.
    u32::try_from(hash >> (64 - bits.clamp(1, 32))).unwrap_or(0)
}

fn hash_str(seed: u64, s: &str) -> u64 {
    // Eight bytes a step, little-endian, the last step zero-padded.
    let mut h = seed;
    let mut chunks = s.as_bytes().chunks_exact(8);
    for chunk in &mut chunks {
        let mut b = [0u8; 8];
        b.copy_from_slice(chunk);
        h = mix(h, u64::from_le_bytes(b));
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut b = [0u8; 8];
        if let Some(head) = b.get_mut(..rest.len()) {
            head.copy_from_slice(rest);
        }
        h = mix(h, u64::from_le_bytes(b));
    }
    mix(h, s.len() as u64)
}

/// Han, kana, Hangul syllables are not here: Korean separates words by spaces.
fn is_single_char_word(c: char) -> bool {
    // Latin, Greek, Cyrillic, Arabic, Devanagari... are below Thai: one comparison.
    u32::from(c) >= 0x0E00
        && matches!(c, '\u{3040}'..='\u{30FF}' | '\u{31F0}'..='\u{31FF}' | '\u{3400}'..='\u{4DBF}'
        | '\u{4E00}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}' | '\u{0E00}'..='\u{0E7F}'
        | '\u{20000}'..='\u{2FFFF}')
}

/// One word of a text: its span in the text, or in the arena when it was rewritten (its
/// look-alikes mapped, its spaced-out letters joined), and where it starts in the text.
#[derive(Debug, Clone, Copy)]
struct WordSpan {
    start: usize,
    end: usize,
    /// The span is in the arena, not in the text.
    in_arena: bool,
    /// The byte of the text where the word starts.
    at: usize,
    /// One CJK or Thai character.
    single: bool,
    /// The gap before it was short enough to belong to a spaced-out word.
    short_gap: bool,
}

/// Reusable buffers for one text's words.
#[derive(Default)]
pub struct Scratch {
    /// Rewritten words, back to back; the others are read in the text.
    arena: String,
    words: Vec<WordSpan>,
    chars: Vec<u32>,
    word: String,
    /// The shape tokens, as token values, and the byte of the text where each starts.
    shape: Vec<(u32, usize)>,
}

impl Scratch {
    fn clear(&mut self) {
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
    fn push_shape(&mut self, token: u32, at: usize) {
        if token != TOKEN_WORD || self.shape.last().map(|t| t.0) != Some(TOKEN_WORD) {
            self.shape.push((token, at));
        }
    }
}

/// A word's text.
fn word_of<'a>(text: &'a str, arena: &'a str, w: &WordSpan) -> Option<&'a str> {
    if w.in_arena {
        arena.get(w.start..w.end)
    } else {
        text.get(w.start..w.end)
    }
}

/// Feeds every hashed feature of one normalised paragraph to `sink` and returns its shape.
pub fn extract(text: &str, scratch: &mut Scratch, sink: &mut impl Sink) -> Shape {
    scratch.clear();
    split_words(text, scratch);
    merge_spaced_letters(text, scratch);
    let Scratch {
        arena,
        words,
        chars,
        shape: tokens,
        ..
    } = scratch;
    shape_features(tokens, sink);
    let mut prev: Option<(u64, &str)> = None;
    let mut first: Option<(u64, &str)> = None;
    for span in words.iter() {
        let Some(word) = word_of(text, arena, span) else {
            continue;
        };
        let w = hash_str(SEED_WORD, word);
        sink.place(Place::Word {
            at: span.at,
            hash: w,
        });
        sink.feature(w, Kind::Word);
        sink.named(w, Kind::Word, word, None);
        if !span.single {
            char_grams(word, chars, sink);
        }
        if let Some((p, pw)) = prev {
            sink.place(Place::Link);
            let b = mix(mix(SEED_BIGRAM, p), w);
            sink.feature(b, Kind::Bigram);
            sink.named(b, Kind::Bigram, pw, Some(word));
            if first.is_none() {
                let f = first_bigram_position(p, w);
                sink.feature(f, Kind::Position);
                if sink.wants_names() {
                    sink.named(f, Kind::Position, &format!("^{pw}"), Some(word));
                }
                first = Some((p, pw));
            }
        }
        prev = Some((w, word));
    }
    let edges = [(true, first.or(prev), "^", ""), (false, prev, "", "$")];
    for (start, word, before, after) in edges {
        if let Some((h, name)) = word {
            let f = edge_position(h, start);
            sink.feature(f, Kind::Position);
            if sink.wants_names() {
                sink.named(f, Kind::Position, &format!("{before}{name}{after}"), None);
            }
        }
    }
    shape(text)
}

/// The position feature of a text's first bigram, from its two words' hashes.
pub fn first_bigram_position(first: u64, second: u64) -> u64 {
    mix(mix(SEED_POS ^ 2, first), second)
}

/// The position feature of a text's first (`start`) or last word, from the word's hash.
pub fn edge_position(word: u64, start: bool) -> u64 {
    mix(if start { SEED_POS } else { SEED_POS ^ 1 }, word)
}

/// The features of a paragraph's shape tokens: each token but a word, and each adjacent pair.
/// They are counted like words: counting each distinct one once per paragraph was measured
/// and lost 0.5 points on the held-out split and 3.6 on `../shared/eval` (MODEL.md).
fn shape_features(tokens: &[(u32, usize)], sink: &mut impl Sink) {
    let mut prev: Option<u32> = None;
    for &(t, at) in tokens {
        sink.place(Place::Token { at });
        if t != TOKEN_WORD {
            let h = mix(SEED_SHAPE, u64::from(t));
            sink.feature(h, Kind::Shape);
            if sink.wants_names() {
                sink.named(h, Kind::Shape, &token_name(t), None);
            }
        }
        if let Some(p) = prev {
            sink.place(Place::Link);
            let h = mix(mix(SEED_SHAPE_PAIR, u64::from(p)), u64::from(t));
            sink.feature(h, Kind::Shape);
            if sink.wants_names() {
                sink.named(h, Kind::Shape, &token_name(p), Some(&token_name(t)));
            }
        }
        prev = Some(t);
    }
}

/// A shape token as explanations name it.
fn token_name(t: u32) -> String {
    match t {
        TOKEN_NL => "NL".to_owned(),
        TOKEN_WORD => "w".to_owned(),
        _ if t > TOKEN_DIGITS && t <= TOKEN_DIGITS + MAX_DIGITS_SHAPE => {
            format!("#{}", t - TOKEN_DIGITS)
        }
        _ => char::from_u32(t).map_or_else(|| "?".to_owned(), String::from),
    }
}

/// Character 3- to 5-grams of `<word>`. A character is hashed as its code point (an ASCII
/// character's is its byte).
fn char_grams(word: &str, chars: &mut Vec<u32>, sink: &mut impl Sink) {
    /// ASCII words up to this long are framed on the stack.
    const FRAMED: usize = 62;
    if word.is_ascii() && word.len() <= FRAMED {
        let mut framed = [0u8; FRAMED + 2];
        framed[0] = b'<';
        let end = word.len() + 1;
        if let Some(inner) = framed.get_mut(1..end) {
            inner.copy_from_slice(word.as_bytes());
        }
        if let Some(last) = framed.get_mut(end) {
            *last = b'>';
        }
        grams(framed.get(..=end).unwrap_or_default(), sink);
        return;
    }
    chars.clear();
    chars.push(u32::from('<'));
    if word.is_ascii() {
        chars.extend(word.bytes().map(u32::from));
    } else {
        chars.extend(word.chars().map(u32::from));
    }
    chars.push(u32::from('>'));
    grams(chars, sink);
}

/// The 3-, 4- and 5-grams of framed code points: each start's three share their first steps.
fn grams<T: Copy + Into<u64>>(mut buf: &[T], sink: &mut impl Sink) {
    while let [a, b, c, rest @ ..] = buf {
        let h = mix(mix(mix(SEED_CHAR, (*a).into()), (*b).into()), (*c).into());
        sink.feature(h, Kind::CharGram);
        if let [d, rest @ ..] = rest {
            let h = mix(h, (*d).into());
            sink.feature(h, Kind::CharGram);
            if let [e, ..] = rest {
                sink.feature(mix(h, (*e).into()), Kind::CharGram);
            }
        }
        buf = buf.get(1..).unwrap_or_default();
    }
}

/// The word splitter's state between characters.
#[derive(Default)]
struct Splitter<'t> {
    /// The text being split.
    text: &'t str,
    /// Separator characters since the last word, and whether they held a line break.
    gap: usize,
    gap_newline: bool,
    /// A word is being read: whether the gap before it was short, where it starts and ends in
    /// the text, and whether its look-alikes are mapped.
    building: Option<(bool, usize, usize, bool)>,
    /// The last word is a single CJK or Thai character (a voicing mark may follow).
    last_single: bool,
    /// The run of word characters being read, for the shape tokens: its length in characters,
    /// whether it is all digits (normalisation writes every digit as `0`), and where it starts.
    run: u32,
    run_digits: bool,
    run_at: usize,
}

impl Splitter<'_> {
    /// A word character at byte `at` extends the current run.
    fn run_char(&mut self, c: char, at: usize) {
        if self.run == 0 {
            self.run_digits = true;
            self.run_at = at;
        }
        self.run = self.run.saturating_add(1);
        self.run_digits &= c == '0';
    }

    /// Ends the current run as a shape token.
    fn end_run(&mut self, s: &mut Scratch) {
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

    fn short_gap(&self) -> bool {
        self.gap == 1 && !self.gap_newline
    }

    fn end_word(&mut self, s: &mut Scratch) {
        if let Some((short_gap, at, end, map)) = self.building.take() {
            s.finish_word(self.text, at..end, map, short_gap);
        }
    }

    /// A run of `chars` word characters starting at byte `at`: the word being read (or a new
    /// one) grows by it, and so does the shape run.
    fn word_run(&mut self, run: &str, chars: u32, map: bool, at: usize) {
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

    fn single(&mut self, s: &mut Scratch, c: char, at: usize) {
        self.end_word(s);
        s.push_single(c, self.short_gap(), at);
        self.run_char(c, at);
        self.last_single = true;
        self.gap = 0;
        self.gap_newline = false;
    }

    fn separator(&mut self, s: &mut Scratch, c: char, at: usize) {
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
fn split_words(text: &str, s: &mut Scratch) {
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
fn is_mark(c: char) -> bool {
    match c {
        '\u{3400}'..='\u{4DBF}'
        | '\u{4E00}'..='\u{9FFF}'
        | '\u{F900}'..='\u{FAFF}'
        | '\u{20000}'..='\u{2FFFF}' => false,
        '\u{3040}'..='\u{30FF}' => matches!(c, '\u{3099}' | '\u{309A}'),
        _ => is_combining_mark(c),
    }
}

/// Where the run of word characters (not single-character words) starting at byte `from`
/// ends, its length in characters, and whether it mixes scripts so that [`word_script`] must
/// read it (look-alikes, with Latin letters or alone; or Latin with other letters).
fn word_run_end(text: &str, from: usize) -> (usize, u32, bool) {
    let bytes = text.as_bytes();
    if bytes.get(from).is_some_and(|b| !b.is_ascii()) {
        return word_run_end_from(text, from, 0, false);
    }
    // Most runs are ASCII letters and digits: found by a table, and with no look-alikes.
    let ascii = bytes
        .get(from..)
        .and_then(|rest| rest.iter().position(|&b| !is_ascii_word_byte(b)))
        .map_or(bytes.len(), |n| from + n);
    let chars = u32::try_from(ascii - from).unwrap_or(u32::MAX);
    if bytes.get(ascii).is_none_or(u8::is_ascii) {
        return (ascii, chars, false);
    }
    let latin = bytes
        .get(from..ascii)
        .is_some_and(|prefix| prefix.iter().any(u8::is_ascii_alphabetic));
    word_run_end_from(text, ascii, chars, latin)
}

/// ASCII letters and digits, by table.
fn is_ascii_word_byte(b: u8) -> bool {
    ASCII_WORD_BYTE
        .get(usize::from(b))
        .copied()
        .unwrap_or(false)
}

#[expect(
    clippy::indexing_slicing,
    reason = "evaluated at compile time: an out-of-range index fails the build, never a request"
)]
static ASCII_WORD_BYTE: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = (b as u8).is_ascii_alphanumeric();
        b += 1;
    }
    t
};

/// [`word_run_end`] from byte `i`, with `chars` characters and (`latin`) whether an ASCII
/// letter was read before it.
fn word_run_end_from(
    text: &str,
    mut i: usize,
    mut chars: u32,
    mut latin: bool,
) -> (usize, u32, bool) {
    let bytes = text.as_bytes();
    let (mut lookalikes, mut others) = (false, false);
    while let Some(&b) = bytes.get(i) {
        let len = if b.is_ascii_alphanumeric() {
            latin |= b.is_ascii_alphabetic();
            1
        } else if b.is_ascii() {
            break;
        } else {
            match text.get(i..).and_then(|t| t.chars().next()) {
                Some(c) => {
                    let class = run_class(c);
                    if class == RUN_END {
                        break;
                    }
                    // Once a word has both look-alikes and other letters, only Latin letters
                    // can change what it needs.
                    if !(lookalikes && others) {
                        if class == RUN_LOOKALIKE {
                            lookalikes = true;
                        } else if !others && class == RUN_LETTER {
                            others = true;
                        }
                    }
                    c.len_utf8()
                }
                None => break,
            }
        };
        i += len;
        chars = chars.saturating_add(1);
    }
    (i, chars, (lookalikes && !others) || (latin && others))
}

/// What a non-ASCII character is to a run of word characters: not part of one (`RUN_END`: a
/// separator or a single-character word), a letter with a Latin look-alike, a numeric
/// character, or another letter, digit or mark.
const RUN_END: u8 = 0;
const RUN_LOOKALIKE: u8 = 1;
const RUN_NUMERIC: u8 = 2;
const RUN_LETTER: u8 = 3;

/// [`run_class_of`] of each character of the Basic Multilingual Plane, two bits each (32 a
/// word), built once per VM.
static RUN_CLASSES: LazyLock<Vec<u64>> = LazyLock::new(|| {
    let mut table = vec![0u64; 2048];
    for c in (0..0x1_0000u32).filter_map(char::from_u32) {
        if let Some(w) = table.get_mut((c as usize) >> 5) {
            *w |= u64::from(run_class_of(c)) << ((c as usize & 31) * 2);
        }
    }
    table
});

/// [`run_class_of`], by table in the Basic Multilingual Plane (checked in the tests).
fn run_class(c: char) -> u8 {
    let cp = c as usize;
    match RUN_CLASSES.get(cp >> 5) {
        Some(w) => u8::try_from((w >> ((cp & 31) * 2)) & 3).unwrap_or(RUN_END),
        None => run_class_of(c),
    }
}

fn run_class_of(c: char) -> u8 {
    if is_single_char_word(c) || !is_word_char(c) {
        RUN_END
    } else if latin_of(c).is_some() {
        RUN_LOOKALIKE
    } else if is_numeric(c) {
        RUN_NUMERIC
    } else {
        RUN_LETTER
    }
}

impl Scratch {
    fn push_single(&mut self, c: char, short_gap: bool, at: usize) {
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
    fn finish_word(
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
    fn extend_last(&mut self, c: char) {
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
fn merge_spaced_letters(text: &str, s: &mut Scratch) {
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
fn has_spaced_run(text: &str, s: &Scratch) -> bool {
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

/// The script a word's look-alikes are read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Script {
    /// As written.
    Own,
    /// Look-alikes of Latin letters become Latin.
    Latin,
    /// Latin letters with a Cyrillic (or Greek) twin become that twin.
    Cyrillic,
    Greek,
}

/// The script a word that may mix scripts is read in:
/// - Cyrillic (or Greek) when it has Latin letters and either every Latin letter has a twin in
///   that script and the script's letters are more, or more of its letters have no Latin
///   look-alike than Latin letters have no twin (`прoстo`, Latin o among п, р, с, т): a Latin
///   letter slipped into a Russian or Greek word cannot turn it into neither;
/// - Latin when it has look-alikes and Latin letters, or is made of look-alikes only
///   (`Еxрlаin`: x, l, i, n cannot be Cyrillic);
/// - as written otherwise.
fn word_script(word: &str) -> Script {
    let mut n = ScriptCounts::default();
    for c in word.chars() {
        n.add(c);
    }
    let (cyrillic, greek) = (&n.cyrillic, &n.greek);
    if n.latin > 0 && cyrillic.stands_for_word(n.latin) && cyrillic.all >= greek.all {
        return Script::Cyrillic;
    }
    if n.latin > 0 && greek.stands_for_word(n.latin) {
        return Script::Greek;
    }
    let unique = cyrillic.unique + greek.unique + n.other;
    if n.lookalikes > 0 && (n.latin > 0 || unique == 0) {
        return Script::Latin;
    }
    Script::Own
}

/// The letters of a word, by script.
#[derive(Default)]
struct ScriptCounts {
    latin: u32,
    /// Non-Latin letters with a Latin look-alike.
    lookalikes: u32,
    cyrillic: ScriptLetters,
    greek: ScriptLetters,
    /// Letters of other scripts without a Latin look-alike.
    other: u32,
}

/// A script's letters in a word, and the Latin letters that have no twin in it.
#[derive(Default)]
struct ScriptLetters {
    all: u32,
    /// Its letters without a Latin look-alike.
    unique: u32,
    latin_without_twin: u32,
}

impl ScriptLetters {
    /// Whether the word is this script's, given `latin` Latin letters in it.
    fn stands_for_word(&self, latin: u32) -> bool {
        (self.latin_without_twin == 0 && self.all > latin) || self.unique > self.latin_without_twin
    }
}

impl ScriptCounts {
    fn add(&mut self, c: char) {
        if c.is_ascii_alphabetic() {
            self.latin += 1;
            self.cyrillic.latin_without_twin += u32::from(cyrillic_twin(c).is_none());
            self.greek.latin_without_twin += u32::from(greek_twin(c).is_none());
            return;
        }
        if !is_word_char(c) || is_numeric(c) || is_combining_mark(c) {
            return;
        }
        let lookalike = latin_of(c).is_some();
        self.lookalikes += u32::from(lookalike);
        let script = match u32::from(c) {
            0x0400..=0x052F => &mut self.cyrillic,
            0x0370..=0x03FF | 0x1F00..=0x1FFF => &mut self.greek,
            _ => {
                self.other += u32::from(!lookalike);
                return;
            }
        };
        script.all += 1;
        script.unique += u32::from(!lookalike);
    }
}

/// Appends `word` to `arena` read in `script`.
fn push_in_script(word: &str, script: Script, arena: &mut String) {
    match script {
        Script::Own => arena.push_str(word),
        Script::Latin => arena.extend(word.chars().map(|c| latin_of(c).unwrap_or(c))),
        Script::Cyrillic => arena.extend(word.chars().map(|c| cyrillic_twin(c).unwrap_or(c))),
        Script::Greek => arena.extend(word.chars().map(|c| greek_twin(c).unwrap_or(c))),
    }
}

/// Appends `word` to `arena`, with look-alikes mapped as [`word_script`] says.
fn map_lookalikes(word: &str, arena: &mut String) {
    push_in_script(word, word_script(word), arena);
}

/// The Cyrillic letter a lowercase Latin letter stands for inside a Cyrillic word (normalised
/// text is lowercase: `h`, `m`, `t`, `b` and `k` come from the capitals Н, М, Т, В, К).
fn cyrillic_twin(c: char) -> Option<char> {
    Some(match c {
        'a' => 'а',
        'b' => 'в',
        'c' => 'с',
        'e' => 'е',
        'h' => 'н',
        'i' => 'і',
        'j' => 'ј',
        'k' => 'к',
        'm' => 'м',
        'o' => 'о',
        'p' => 'р',
        's' => 'ѕ',
        't' => 'т',
        'x' => 'х',
        'y' => 'у',
        _ => return None,
    })
}

/// The Greek letter a lowercase Latin letter stands for inside a Greek word.
fn greek_twin(c: char) -> Option<char> {
    Some(match c {
        'a' => 'α',
        'b' => 'β',
        'e' => 'ε',
        'h' => 'η',
        'i' => 'ι',
        'k' => 'κ',
        'm' => 'μ',
        'o' => 'ο',
        'p' => 'ρ',
        't' => 'τ',
        'u' => 'υ',
        'v' => 'ν',
        'x' => 'χ',
        'y' => 'υ',
        'z' => 'ζ',
        _ => return None,
    })
}

/// The look-alikes of the Latin extended, IPA, Greek, Cyrillic and Armenian blocks, where most
/// non-ASCII letters of words fall, by code point from `DENSE_FROM` (0: none): one load
/// instead of a search.
const DENSE_FROM: u32 = 0x0100;
const DENSE_TO: u32 = 0x058F;
static DENSE_LOOKALIKES: LazyLock<Vec<u8>> = LazyLock::new(|| {
    (DENSE_FROM..=DENSE_TO)
        .map(|cp| {
            char::from_u32(cp)
                .and_then(lookalike)
                .and_then(|l| u8::try_from(l).ok())
                .unwrap_or(0)
        })
        .collect()
});

/// The same as [`lookalike`] (checked in the tests), faster for the common scripts.
fn latin_of(c: char) -> Option<char> {
    let cp = u32::from(c);
    if cp < DENSE_FROM {
        // ASCII and Latin-1 (after NFKD, its letters are ASCII) have no look-alikes.
        return None;
    }
    match cp {
        DENSE_FROM..=DENSE_TO => {
            let i = usize::try_from(cp - DENSE_FROM).unwrap_or(usize::MAX);
            DENSE_LOOKALIKES
                .get(i)
                .copied()
                .filter(|&l| l != 0)
                .map(char::from)
        }
        // Hebrew to Ethiopic (Arabic, Devanagari, Thai...), and CJK: no look-alike blocks.
        0x0590..=0x139F | 0x2D00..=0xA4CF => None,
        _ => lookalike(c),
    }
}

/// Builds the look-alike table now, so that configuration pays for it rather than the first
/// request with Cyrillic or Greek text.
pub fn prepare() {
    LazyLock::force(&DENSE_LOOKALIKES);
    LazyLock::force(&RUN_CLASSES);
}

/// What the structural signals are computed from; paragraphs merge into a whole.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Shape {
    /// Signals that hold when they hold in any part, as `Structure` bits.
    flags: u32,
    list_items: u32,
    paragraphs: u32,
    chars: u32,
}

const FLAG_IDS: [usize; 9] = [0, 1, 3, 4, 5, 7, 8, 9, 10];

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
fn has_emoji(bytes: &[u8]) -> bool {
    memchr::memchr2_iter(0xF0, 0xE2, bytes).any(|i| {
        matches!(
            (bytes.get(i), bytes.get(i + 1)),
            (Some(0xF0), Some(0x9F)) | (Some(0xE2), Some(0x98..=0x9E))
        )
    })
}

const SEEN_EMPHASIS: u8 = 1;
const SEEN_BACKTICK: u8 = 2;
const SEEN_LATEX: u8 = 4;
const SEEN_DIGIT: u8 = 8;
const SEEN_H: u8 = 16;
const SEEN_W: u8 = 32;
/// `?`, or the lead byte of `؟` (U+061F).
const SEEN_QUESTION: u8 = 64;
/// The lead byte of an emoji: 0xF0 (U+1F000..) or 0xE2 (U+2600..U+27BF).
const SEEN_EMOJI_LEAD: u8 = 128;

#[expect(
    clippy::indexing_slicing,
    reason = "evaluated at compile time: an out-of-range index fails the build, never a request"
)]
static BYTE_SEEN: [u8; 256] = {
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

fn has_pair(line: &str, marker: &str) -> bool {
    line.find(marker).is_some_and(|i| {
        line.get(i + marker.len()..)
            .and_then(|rest| rest.find(marker))
            .is_some_and(|j| j > 0)
    })
}

/// `- x`, `* x`, `• x`, `0. x`, `00) x`, `a) x`.
fn is_list_item(t: &str) -> bool {
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

fn has_latex(text: &str) -> bool {
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
fn has_business_id(text: &str) -> bool {
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
fn has_business_id_bytewise(text: &str) -> bool {
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

/// The words of normalised text as the features see them (look-alikes mapped, spaced-out
/// letters joined), one space apart, into `out`: what policy terms are matched against.
pub fn words_joined(text: &str, scratch: &mut Scratch, out: &mut String) {
    scratch.clear();
    split_words(text, scratch);
    merge_spaced_letters(text, scratch);
    out.clear();
    for span in &scratch.words {
        if let Some(w) = word_of(text, &scratch.arena, span) {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(w);
        }
    }
}

/// Whether `c` is whitespace (`char::is_whitespace`, checked in the tests), without a table
/// search for the letters of other scripts.
pub fn is_blank(c: char) -> bool {
    if c.is_ascii() {
        return matches!(c, '\t' | '\n' | '\u{0B}' | '\u{0C}' | '\r' | ' ');
    }
    matches!(
        c,
        '\u{85}' | '\u{A0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200A}' | '\u{2028}' | '\u{2029}' | '\u{202F}' | '\u{205F}' | '\u{3000}'
    )
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

/// Whether [`extract`] may read more than `n` words in `text`: every word but the first is a
/// CJK or Thai character or starts after a separator or such a character; a separator is an
/// ASCII byte other than a letter or digit or a non-ASCII character. So one word, plus one for
/// each such byte and two for each non-ASCII character, bounds the words. Counted a block at a
/// time, without branches, until the bound passes `n`.
pub fn may_have_more_words(text: &str, n: usize) -> bool {
    let mut bound = 1usize;
    // At most 2 a byte, so a block of 64 sums to at most 128: one byte of sum, which the
    // compiler adds 16 or 32 bytes at a time.
    for block in text.as_bytes().chunks(64) {
        let sum = block.iter().fold(0u8, |sum, &b| {
            let letter = (b | 0x20).wrapping_sub(b'a') < 26;
            let digit = b.wrapping_sub(b'0') < 10;
            let ascii_separator = b < 0x80 && !letter && !digit;
            let lead = b >= 0xC0;
            sum.wrapping_add(u8::from(ascii_separator) + 2 * u8::from(lead))
        });
        bound += usize::from(sum);
        if bound > n {
            return true;
        }
    }
    false
}

/// The paragraphs of normalised text: normalisation leaves at most one blank line in a row.
pub fn paragraphs(text: &str) -> impl Iterator<Item = &str> {
    text.split("\n\n").filter(|p| !p.is_empty())
}

/// Feeds every hashed feature of normalised `text` to `sink`, paragraph by paragraph as the
/// scorer reads it, and returns the whole text's shape. The trainer's features come from here.
pub fn featurize(text: &str, scratch: &mut Scratch, sink: &mut impl Sink) -> Shape {
    let mut whole = Shape::default();
    for p in paragraphs(text) {
        whole.merge(&extract(p, scratch, sink));
    }
    whole
}

#[cfg(test)]
mod tests;
