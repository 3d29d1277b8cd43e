//! How the writer treats each non-ASCII character (decomposed, written as it is, copied with
//! its neighbours), from bit tables over the Basic Multilingual Plane built once per VM
//! (`prepare`), and which characters are word characters and numerals.

use super::letters::LOOKALIKES;
use super::*;

/// How [`Writer::push_text`] treats a non-ASCII character, by [`wide_class`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Wide {
    /// Everything else: decomposed (NFKD) unless default-ignorable, marks held for ordering.
    Decompose = 0,
    /// Written by [`Writer::push_decomposed`] as it is, after the held marks: a letter of the
    /// common scripts that is its own NFKD ([`is_own_nfkd`]: it also ends a run of characters
    /// to decompose, as it did when those were decomposed run by run), or a character without a
    /// decomposition and of combining class 0 that is not default-ignorable.
    Starter = 1,
    /// Such a character that the writer copies as it is and that takes accents (Cyrillic and
    /// Arabic letters): copied with its neighbours of the same kinds in one go.
    KeptAccentBase = 2,
    /// Such a character copied as it is that takes no accents (Devanagari letters, Han, most
    /// punctuation and symbols, emoji).
    Kept = 3,
}

/// The class of a non-ASCII character: by the plane table in the Basic Multilingual Plane,
/// by range above it.
pub(super) fn wide_class(code_point: u32) -> Wide {
    let cp = code_point as usize;
    match WIDE.get(cp >> 5) {
        Some(word) => match (word >> ((cp & 31) * 2)) & 3 {
            1 => Wide::Starter,
            2 => Wide::KeptAccentBase,
            3 => Wide::Kept,
            _ => Wide::Decompose,
        },
        // Pictographs and emoji: no decomposition, no case, no digits (checked in the tests).
        None if (0x1_F300..=0x1_FAFF).contains(&code_point) => Wide::Kept,
        None => Wide::Decompose,
    }
}

/// The class of a character of the Basic Multilingual Plane, for the plane table: whether
/// [`Writer::push_decomposed`] writes it as it is, whatever the state, by the checks it makes
/// (the tests compare every character the table copies with what the writer writes).
pub(super) fn wide_class_of(c: char) -> Wide {
    if c.is_ascii() || !(is_own_nfkd(c) || is_plain_starter(c)) {
        return Wide::Decompose;
    }
    let mut lower = c.to_lowercase();
    let as_is = !is_combining_mark(c)
        && !is_ignorable(c)
        && !('\u{80}'..='\u{9F}').contains(&c)
        && !is_blank_filler(c)
        && fold_letter(c).is_none()
        && (is_caseless_letter(c)
            || (!matches!(c, '\u{2028}' | '\u{2029}' | '\u{0085}')
                && !c.is_whitespace()
                && !is_numeric(c)
                && (lower.next(), lower.next()) == (Some(c), None)
                && fold_punctuation(c) == c));
    match (as_is, marks_are_accents(c)) {
        (false, _) => Wide::Starter,
        (true, true) => Wide::KeptAccentBase,
        (true, false) => Wide::Kept,
    }
}

/// Common letters with no compatibility decomposition: Cyrillic (but й, ё), Arabic letters,
/// Devanagari letters and signs (but the nukta forms), CJK ideographs, and CJK punctuation.
/// Checked against `unicode-normalization` in the tests.
pub(super) fn is_own_nfkd(c: char) -> bool {
    // Below Cyrillic А: one comparison.
    u32::from(c) >= 0x0410
        && matches!(c, '\u{0410}'..='\u{0418}' | '\u{041A}'..='\u{0438}' | '\u{043A}'..='\u{044F}'
        | '\u{0621}' | '\u{0627}'..='\u{064A}' | '\u{0905}'..='\u{0928}' | '\u{092A}'..='\u{0930}'
        | '\u{0932}'..='\u{0933}' | '\u{0935}'..='\u{0939}' | '\u{093E}'..='\u{094D}'
        | '\u{4E00}'..='\u{9FFF}' | '\u{3001}'..='\u{3002}')
}

/// Character classes of the Basic Multilingual Plane as bit sets, built once per VM from the
/// Unicode tables, so that non-Latin text does not search them character by character.
pub(super) struct PlaneClasses {
    /// Letters, digits and combining marks: what words are made of.
    word: Vec<u64>,
    /// Numeric characters (general categories Nd, Nl, No).
    numeric: Vec<u64>,
}

pub(super) static BMP: LazyLock<PlaneClasses> = LazyLock::new(|| {
    let mut word = vec![0u64; 1024];
    let mut numeric = vec![0u64; 1024];
    for c in (0..0x1_0000u32).filter_map(char::from_u32) {
        let (i, bit) = ((c as usize) >> 6, 1u64 << (c as u32 & 63));
        if let Some(w) = word.get_mut(i)
            && (c.is_alphanumeric() || is_combining_mark(c))
        {
            *w |= bit;
        }
        if let Some(n) = numeric.get_mut(i)
            && c.is_numeric()
        {
            *n |= bit;
        }
    }
    PlaneClasses { word, numeric }
});

/// Each character's [`Wide`] class in the Basic Multilingual Plane, two bits each (32 a
/// word), built once per VM. Built after [`BMP`], which the writer asks.
pub(super) static WIDE: LazyLock<Vec<u64>> = LazyLock::new(|| {
    let mut wide = vec![0u64; 2048];
    for c in (0..0x1_0000u32).filter_map(char::from_u32) {
        if let Some(w) = wide.get_mut((c as usize) >> 5) {
            *w |= (wide_class_of(c) as u64) << ((c as usize & 31) * 2);
        }
    }
    wide
});

/// A non-ASCII character that is its own NFKD, a starter, and not default-ignorable.
pub(super) fn is_plain_starter(c: char) -> bool {
    let mut decomposed = 0;
    let mut itself = true;
    decompose_compatible(c, |d| {
        decomposed += 1;
        itself &= d == c;
    });
    !c.is_ascii()
        && decomposed == 1
        && itself
        && canonical_combining_class(c) == 0
        && !is_ignorable(c)
}

pub(super) fn bit(set: &[u64], c: char) -> Option<bool> {
    let cp = c as usize;
    set.get(cp >> 6).map(|w| w & (1 << (cp & 63)) != 0)
}

/// Builds the character tables now (about 6 ms natively), so that configuration pays for them
/// rather than the first request with non-ASCII text.
pub fn prepare() {
    LazyLock::force(&BMP);
    LazyLock::force(&WIDE);
    LazyLock::force(&LOOKALIKES);
    fancy::prepare();
}

/// Whether `c` belongs in a word: a letter, digit or combining mark.
pub fn is_word_char(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric();
    }
    bit(&BMP.word, c).unwrap_or_else(|| c.is_alphanumeric() || is_combining_mark(c))
}

pub(crate) fn is_numeric(c: char) -> bool {
    bit(&BMP.numeric, c).unwrap_or_else(|| c.is_numeric())
}
