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
//! their own, since those scripts do not separate words by spaces. Inside a word, Latin
//! look-alikes from other scripts are mapped to Latin when the word mixes scripts or is made
//! of look-alikes only, so `Еxрlаin` (Cyrillic Е, р, а) reads as `explain` while a Russian
//! word stays Russian. Four or more single letters spaced out (`e x p l a i n`, `e.x.p.l.a.i.n`)
//! are read as one word.
//!
//! The same code computes features for training (`featurize`) and for scoring, so the two
//! cannot drift.

use super::normalize::{is_numeric, is_word_char, lookalike};
use unicode_normalization::char::is_combining_mark;

/// Character n-gram sizes, fastText style, over `<word>`.
const MIN_N: usize = 3;
const MAX_N: usize = 5;
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
    let mut h = seed;
    for chunk in s.as_bytes().chunks(8) {
        let mut b = [0u8; 8];
        for (d, s) in b.iter_mut().zip(chunk) {
            *d = *s;
        }
        h = mix(h, u64::from_le_bytes(b));
    }
    mix(h, s.len() as u64)
}

/// Han, kana, Hangul syllables are not here: Korean separates words by spaces.
fn is_single_char_word(c: char) -> bool {
    matches!(c, '\u{3040}'..='\u{30FF}' | '\u{31F0}'..='\u{31FF}' | '\u{3400}'..='\u{4DBF}'
        | '\u{4E00}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}' | '\u{0E00}'..='\u{0E7F}'
        | '\u{20000}'..='\u{2FFFF}')
}

/// Reusable buffers for one text's words.
#[derive(Default)]
pub struct Scratch {
    /// Words, back to back.
    arena: String,
    /// Each word's span in `arena`, whether it is one CJK/Thai character, and whether the gap
    /// before it was short enough to belong to a spaced-out word.
    words: Vec<(usize, usize, bool, bool)>,
    chars: Vec<char>,
    word: String,
    /// The shape tokens, as token values.
    shape: Vec<u32>,
}

impl Scratch {
    fn clear(&mut self) {
        self.arena.clear();
        self.words.clear();
        self.shape.clear();
    }

    /// Appends a shape token; consecutive word tokens are one.
    fn push_shape(&mut self, token: u32) {
        if token != TOKEN_WORD || self.shape.last() != Some(&TOKEN_WORD) {
            self.shape.push(token);
        }
    }
}

/// Feeds every hashed feature of one normalised paragraph to `sink` and returns its shape.
pub fn extract(text: &str, scratch: &mut Scratch, sink: &mut impl Sink) -> Shape {
    scratch.clear();
    split_words(text, scratch);
    merge_spaced_letters(scratch);
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
    for &(start, end, single, _) in words.iter() {
        let Some(word) = arena.get(start..end) else {
            continue;
        };
        let w = hash_str(SEED_WORD, word);
        sink.feature(w, Kind::Word);
        sink.named(w, Kind::Word, word, None);
        if let Some((p, pw)) = prev {
            let b = mix(mix(SEED_BIGRAM, p), w);
            sink.feature(b, Kind::Bigram);
            sink.named(b, Kind::Bigram, pw, Some(word));
            if first.is_none() {
                let f = mix(mix(SEED_POS ^ 2, p), w);
                sink.feature(f, Kind::Position);
                if sink.wants_names() {
                    sink.named(f, Kind::Position, &format!("^{pw}"), Some(word));
                }
                first = Some((p, pw));
            }
        }
        prev = Some((w, word));
        if !single {
            char_grams(word, chars, sink);
        }
    }
    let edges = [
        (SEED_POS, first.or(prev), "^", ""),
        (SEED_POS ^ 1, prev, "", "$"),
    ];
    for (seed, word, before, after) in edges {
        if let Some((h, name)) = word {
            let f = mix(seed, h);
            sink.feature(f, Kind::Position);
            if sink.wants_names() {
                sink.named(f, Kind::Position, &format!("{before}{name}{after}"), None);
            }
        }
    }
    shape(text)
}

/// The features of a paragraph's shape tokens: each token but a word, and each adjacent pair.
/// They are counted like words: counting each distinct one once per paragraph was measured
/// and lost 0.5 points on the held-out split and 3.6 on `../shared/eval` (MODEL.md).
fn shape_features(tokens: &[u32], sink: &mut impl Sink) {
    let mut prev: Option<u32> = None;
    for &t in tokens {
        if t != TOKEN_WORD {
            let h = mix(SEED_SHAPE, u64::from(t));
            sink.feature(h, Kind::Shape);
            if sink.wants_names() {
                sink.named(h, Kind::Shape, &token_name(t), None);
            }
        }
        if let Some(p) = prev {
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

/// Character 3- to 5-grams of `<word>`.
fn char_grams(word: &str, chars: &mut Vec<char>, sink: &mut impl Sink) {
    // The common case: an ASCII word, framed on the stack. An ASCII character's code point is
    // its byte, so the hashes are the same as on the general path below.
    let mut framed = [0u8; 64];
    let n = word.len();
    if word.is_ascii() && n + 2 <= framed.len() {
        if let Some(f) = framed.first_mut() {
            *f = b'<';
        }
        if let Some(middle) = framed.get_mut(1..=n) {
            middle.copy_from_slice(word.as_bytes());
        }
        if let Some(e) = framed.get_mut(n + 1) {
            *e = b'>';
        }
        let buf = framed.get(..n + 2).unwrap_or_default();
        for start in 0..buf.len() {
            let mut h = SEED_CHAR;
            for (k, b) in buf.iter().skip(start).take(MAX_N).enumerate() {
                h = mix(h, u64::from(*b));
                if k + 1 >= MIN_N {
                    sink.feature(h, Kind::CharGram);
                }
            }
        }
        return;
    }
    chars.clear();
    chars.push('<');
    chars.extend(word.chars());
    chars.push('>');
    for start in 0..chars.len() {
        let mut h = SEED_CHAR;
        for (k, c) in chars.iter().skip(start).take(MAX_N).enumerate() {
            h = mix(h, u64::from(*c));
            if k + 1 >= MIN_N {
                sink.feature(h, Kind::CharGram);
            }
        }
    }
}

/// The word splitter's state between characters.
#[derive(Default)]
struct Splitter {
    /// Separator characters since the last word, and whether they held a line break.
    gap: usize,
    gap_newline: bool,
    /// A word is being built in the arena: whether the gap before it was short, where it
    /// starts, and whether it is ASCII so far.
    building: Option<(bool, usize, bool)>,
    /// The last word is a single CJK or Thai character (a voicing mark may follow).
    last_single: bool,
    /// The run of word characters being read, for the shape tokens: its length in characters
    /// and whether it is all digits (normalisation writes every digit as `0`).
    run: u32,
    run_digits: bool,
}

impl Splitter {
    /// A word character extends the current run.
    fn run_char(&mut self, c: char) {
        if self.run == 0 {
            self.run_digits = true;
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
            s.push_shape(token);
            self.run = 0;
        }
    }

    fn short_gap(&self) -> bool {
        self.gap == 1 && !self.gap_newline
    }

    fn end_word(&mut self, s: &mut Scratch) {
        if let Some((short_gap, start, ascii)) = self.building.take() {
            s.finish_word(start, ascii, short_gap);
        }
    }

    fn word_char(&mut self, s: &mut Scratch, c: char) {
        let short_gap = self.short_gap();
        let start = s.arena.len();
        let word = self.building.get_or_insert((short_gap, start, true));
        word.2 &= c.is_ascii();
        s.arena.push(c);
        self.run_char(c);
        self.last_single = false;
        self.gap = 0;
        self.gap_newline = false;
    }

    fn single(&mut self, s: &mut Scratch, c: char) {
        self.end_word(s);
        s.push_single(c, self.short_gap());
        self.run_char(c);
        self.last_single = true;
        self.gap = 0;
        self.gap_newline = false;
    }

    fn separator(&mut self, s: &mut Scratch, c: char) {
        self.end_word(s);
        self.end_run(s);
        if c == '\n' {
            s.push_shape(TOKEN_NL);
        } else if !c.is_whitespace() {
            s.push_shape(u32::from(c));
        }
        self.last_single = false;
        self.gap += 1;
        self.gap_newline |= c == '\n';
    }
}

/// Splits normalised text into words, mapping look-alikes word by word.
fn split_words(text: &str, s: &mut Scratch) {
    let mut sp = Splitter::default();
    for c in text.chars() {
        if c.is_ascii() {
            // The common case, without Unicode table lookups.
            if c.is_ascii_alphanumeric() {
                sp.word_char(s, c);
            } else {
                sp.separator(s, c);
            }
        } else if is_combining_mark(c) && sp.last_single && sp.building.is_none() && sp.gap == 0 {
            // A voicing mark (NFKD splits `が` into `か` and U+3099) stays with its character.
            s.extend_last(c);
            sp.run_char(c);
        } else if is_single_char_word(c) {
            sp.single(s, c);
        } else if is_word_char(c) {
            sp.word_char(s, c);
        } else {
            sp.separator(s, c);
        }
    }
    sp.end_word(s);
    sp.end_run(s);
}

impl Scratch {
    fn push_single(&mut self, c: char, short_gap: bool) {
        let start = self.arena.len();
        self.arena.push(c);
        self.words.push((start, self.arena.len(), true, short_gap));
    }

    /// Ends the word written at `start..`: a word with non-ASCII letters has its look-alikes
    /// mapped.
    fn finish_word(&mut self, start: usize, ascii: bool, short_gap: bool) {
        if !ascii && self.arena.get(start..).is_some_and(needs_lookalike_mapping) {
            self.word.clear();
            self.word
                .push_str(self.arena.get(start..).unwrap_or_default());
            self.arena.truncate(start);
            map_lookalikes(&self.word, &mut self.arena);
            self.word.clear();
        }
        self.words.push((start, self.arena.len(), false, short_gap));
    }

    fn extend_last(&mut self, c: char) {
        self.arena.push(c);
        if let Some(last) = self.words.last_mut() {
            last.1 = self.arena.len();
        }
    }
}

/// Joins runs of at least `MIN_SPACED_LETTERS` single letters with short gaps into one word.
fn merge_spaced_letters(s: &mut Scratch) {
    if !has_spaced_run(s) {
        return;
    }
    // One pass into a new list: linear in the number of words whatever the input.
    let words = std::mem::take(&mut s.words);
    let letter = |arena: &str, i: usize| -> Option<(usize, usize, bool)> {
        let &(a, b, single, short_gap) = words.get(i)?;
        let w = arena.get(a..b)?;
        let mut cs = w.chars();
        (!single && cs.next().is_some() && cs.next().is_none()).then_some((a, b, short_gap))
    };
    let mut out = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
        let mut j = i + 1;
        if letter(&s.arena, i).is_some() {
            while letter(&s.arena, j).is_some_and(|l| l.2) {
                j += 1;
            }
        }
        if j - i >= MIN_SPACED_LETTERS {
            s.word.clear();
            for k in i..j {
                if let Some((a, b, _)) = letter(&s.arena, k)
                    && let Some(l) = s.arena.get(a..b)
                {
                    s.word.push_str(l);
                }
            }
            let short_gap = words.get(i).is_some_and(|w| w.3);
            let start = s.arena.len();
            map_lookalikes(&s.word, &mut s.arena);
            s.word.clear();
            out.push((start, s.arena.len(), false, short_gap));
        } else {
            out.extend(words.get(i..j).unwrap_or(&[]).iter().copied());
        }
        i = j;
    }
    s.words = out;
}

/// Whether the words hold a run of `MIN_SPACED_LETTERS` single letters with short gaps: the
/// common case (none) costs one pass and no allocation.
fn has_spaced_run(s: &Scratch) -> bool {
    let mut run = 0;
    for &(a, b, single, short_gap) in &s.words {
        let one_letter = !single
            && s.arena
                .get(a..b)
                .is_some_and(|w| w.chars().nth(1).is_none() && !w.is_empty());
        run = match (one_letter, short_gap) {
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

/// Whether a word's look-alikes are mapped to Latin: it has some, and it mixes them with
/// Latin letters or is made of look-alikes only.
fn needs_lookalike_mapping(word: &str) -> bool {
    // Most words of other scripts have no look-alike at all: one cheap pass decides them.
    if !word.chars().any(|c| lookalike(c).is_some()) {
        return false;
    }
    let (mut latin, mut others) = (false, false);
    for c in word.chars() {
        if c.is_ascii_alphabetic() {
            latin = true;
        } else if lookalike(c).is_none() && is_word_char(c) && !is_numeric(c) {
            others = true;
        }
    }
    latin || !others
}

/// Appends `word` to `arena`, with look-alikes mapped to Latin when
/// [`needs_lookalike_mapping`] says so.
fn map_lookalikes(word: &str, arena: &mut String) {
    if needs_lookalike_mapping(word) {
        arena.extend(word.chars().map(|c| lookalike(c).unwrap_or(c)));
    } else {
        arena.push_str(word);
    }
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
fn shape(text: &str) -> Shape {
    let bytes = text.as_bytes();
    let (mut list_items, mut heading, mut bold, mut table) = (0u32, false, false, false);
    // One table lookup per byte; the rarer checks run only on texts that hold their bytes.
    let mut seen = 0u8;
    for &b in bytes {
        seen |= BYTE_SEEN.get(usize::from(b)).copied().unwrap_or(0);
    }
    let chars = u32::try_from(text.chars().count()).unwrap_or(u32::MAX);
    // U+1F000.. (F0 9F ..) and U+2600..U+27BF (E2 98..9E ..) are emoji.
    let emoji = seen & SEEN_EMOJI_LEAD != 0
        && bytes
            .windows(2)
            .any(|w| matches!(w, [0xF0, 0x9F]) || matches!(w, [0xE2, 0x98..=0x9E]));
    for line in text.split('\n') {
        let t = line.trim_start();
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
/// three digits (`bx-00000`, `a0000b`), or five or more digits in a row.
fn has_business_id(text: &str) -> bool {
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
    merge_spaced_letters(scratch);
    out.clear();
    for &(start, end, _, _) in &scratch.words {
        if let Some(w) = scratch.arena.get(start..end) {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(w);
        }
    }
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
