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

mod runs;
mod scripts;
mod structure;
mod words;

use runs::*;
pub use scripts::prepare;
use scripts::*;
pub use structure::{Shape, shape, window_shape};
pub use words::Scratch;
use words::*;

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
/// and lost 0.5 points on the held-out split and 3.6 on `../shared/eval` (MODEL.md). But a
/// symbol outside ASCII (an emoji, a check mark, a bullet) and every pair it is in count at
/// most [`MAX_SYMBOL_REPEATS`] times per paragraph: service bots write emoji, so each copy
/// weighs towards service, and an answer followed by sixty emoji, or with one after every
/// word, would otherwise read as service whatever it says.
fn shape_features(tokens: &[(u32, usize)], sink: &mut impl Sink) {
    let mut prev: Option<u32> = None;
    let mut repeats = SymbolRepeats::default();
    for &(t, at) in tokens {
        sink.place(Place::Token { at });
        if t != TOKEN_WORD && repeats.admit(is_symbol_token(t), u64::from(t)) {
            let h = mix(SEED_SHAPE, u64::from(t));
            sink.feature(h, Kind::Shape);
            if sink.wants_names() {
                sink.named(h, Kind::Shape, &token_name(t), None);
            }
        }
        if let Some(p) = prev {
            sink.place(Place::Link);
            let h = mix(mix(SEED_SHAPE_PAIR, u64::from(p)), u64::from(t));
            if repeats.admit(is_symbol_token(p) || is_symbol_token(t), h) {
                sink.feature(h, Kind::Shape);
                if sink.wants_names() {
                    sink.named(h, Kind::Shape, &token_name(p), Some(&token_name(t)));
                }
            }
        }
        prev = Some(t);
    }
}

/// How many times one symbol token outside ASCII, or one pair with such a symbol, counts in a
/// paragraph.
pub const MAX_SYMBOL_REPEATS: u8 = 3;

/// A shape token that is a character outside ASCII (not a word, a digit run or a line break).
fn is_symbol_token(t: u32) -> bool {
    (0x80..TOKEN_NL).contains(&t)
}

/// The symbol features seen so far in a paragraph, and how many times: few distinct ones, so
/// a list searched in order, allocated only when a paragraph has a symbol.
#[derive(Default)]
struct SymbolRepeats(Vec<(u64, u8)>);

impl SymbolRepeats {
    /// Whether a feature (`key`) counts once more: always unless it is a `symbol` one seen
    /// [`MAX_SYMBOL_REPEATS`] times already.
    fn admit(&mut self, symbol: bool, key: u64) -> bool {
        if !symbol {
            return true;
        }
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some((_, n)) if *n >= MAX_SYMBOL_REPEATS => false,
            Some((_, n)) => {
                *n += 1;
                true
            }
            None => {
                self.0.push((key, 1));
                true
            }
        }
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
