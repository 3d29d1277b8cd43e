//! Digits inside words read as the letters they stand for (`expl4in`, `gr34t`), unless the
//! word is a code, a number or an address.

use super::*;

/// Longer runs of digits between letters are codes, not words, unless the text is written in
/// leetspeak ([`LeetGate`]), where runs up to [`MAX_HEAVY_LEET_RUN`] count.
pub(super) const MAX_LEET_RUN: usize = 4;

pub(super) const MAX_HEAVY_LEET_RUN: usize = 8;

/// A text is written in leetspeak when at least this many of its words mix lowercase letters
/// and digits (not as `3rd`, `10am`, `mp3` or `x86`, one or two letters after or before a
/// number), and one in [`LEET_SHARE`] of its words with letters do.
pub(super) const MIN_LEET_WORDS: usize = 4;

pub(super) const LEET_SHARE: usize = 3;

/// Whether the text is written in leetspeak, asked once, at the first run of digits that only
/// such a text reads as letters.
#[derive(Default)]
pub(super) struct LeetGate(std::cell::OnceCell<bool>);

impl LeetGate {
    pub(super) fn is_leet(&self, text: &str) -> bool {
        *self.0.get_or_init(|| {
            let (mut mixed, mut words) = (0, 0);
            for word in text.split(char::is_whitespace) {
                let cased = word.bytes().any(|b| b.is_ascii_alphabetic())
                    || (!word.is_ascii() && word.chars().any(is_cased_letter));
                if cased {
                    words += 1;
                    // A leet word has a digit: most words are passed over on their bytes.
                    let digits = word
                        .bytes()
                        .any(|b| b.is_ascii_digit() || matches!(b, 0xD9 | 0xDB | 0xEF | 0xF0));
                    mixed += usize::from(digits && is_leet_word(word));
                }
            }
            mixed >= MIN_LEET_WORDS && mixed * LEET_SHARE >= words
        })
    }
}

/// A word in which a digit stands beside a lowercase letter, other than a number with a
/// suffix of one or two letters (`3rd`, `10am`, `5kg`), one to three letters with a number
/// (`mp3`, `x86`, `h264`, `Rp500`), or a word with a number written with separators.
pub(super) fn is_leet_word(word: &str) -> bool {
    let word = word.trim_matches(|c: char| !c.is_alphanumeric());
    if has_separated_number(word) {
        // `Rp226.440`, `1,5kg`, `10:30am`: an amount or a time.
        return false;
    }
    let lower_beside_digit = word.chars().zip(word.chars().skip(1)).any(|(a, b)| {
        (digit_value(a).is_some() && b.is_lowercase())
            || (a.is_lowercase() && digit_value(b).is_some())
    });
    if !lower_beside_digit {
        return false;
    }
    let digits = word
        .chars()
        .take_while(|c| digit_value(*c).is_some())
        .count();
    let letters = word.chars().take_while(|c| c.is_alphabetic()).count();
    let total = word.chars().count();
    let suffix =
        digits > 0 && total - digits <= 2 && word.chars().skip(digits).all(char::is_alphabetic);
    let prefix =
        letters > 0 && letters <= 3 && word.chars().skip(letters).all(|c| digit_value(c).is_some());
    !(suffix || prefix)
}

/// Whether `word` holds a digit, a separator (`.`, `,`, `:`, `/`, `-`) and a digit in a row.
pub(super) fn has_separated_number(word: &str) -> bool {
    let mut chars = word.chars();
    let (mut a, mut b) = (chars.next(), chars.next());
    for c in chars {
        if a.is_some_and(|a| digit_value(a).is_some())
            && b.is_some_and(|b| matches!(b, '.' | ',' | ':' | '/' | '-'))
            && digit_value(c).is_some()
        {
            return true;
        }
        (a, b) = (b, Some(c));
    }
    false
}

/// A run of digits starting at byte `i` (a digit) that stands for letters.
pub(super) fn leet_at(text: &str, i: usize, gate: &LeetGate) -> Option<Found> {
    let rest = text.get(i..)?;
    let (mut len, mut run) = (0, 0);
    for c in rest.chars() {
        if digit_value(c).is_none() {
            break;
        }
        len += c.len_utf8();
        run += 1;
        if run > MAX_HEAVY_LEET_RUN {
            return None;
        }
    }
    let before = char_before(text, i);
    let after = char_after(text, i + len);
    let letter = |c: Option<char>| c.filter(|c| is_cased_letter(*c));
    match (letter(before), letter(after)) {
        (Some(b), Some(a)) => {
            // Between two capitals it is a code (`B2B`, `3H2M`, `REF7XK`), not a word.
            let word = !(b.is_uppercase() && a.is_uppercase());
            (word && (run <= MAX_LEET_RUN || gate.is_leet(text))).then_some(Found::Digits(len))
        }
        // At a word's edge: the other side ends the word (a blank, a sign, the text's end),
        // and the run is not part of a number written with separators (`Rp226.440`).
        (Some(l), None) | (None, Some(l)) => {
            let edge = !before.is_some_and(char::is_alphanumeric)
                || !after.is_some_and(char::is_alphanumeric);
            // The word's own checks first: the text's is asked once, and only if they pass.
            (edge && l.is_lowercase() && !in_separated_number(text, i) && gate.is_leet(text))
                .then_some(Found::Digits(len))
        }
        (None, None) => None,
    }
}

/// Whether the word (between blanks) around byte `i` holds a number written with separators.
pub(super) fn in_separated_number(text: &str, i: usize) -> bool {
    let start = text
        .get(..i)
        .map_or(0, |t| t.rfind(char::is_whitespace).map_or(0, |p| p + 1));
    let end = text.get(i..).map_or(text.len(), |t| {
        t.find(char::is_whitespace).map_or(text.len(), |p| i + p)
    });
    has_separated_number(text.get(start..end).unwrap_or_default())
}

/// Whether the character at byte `i` is a decimal digit outside ASCII that [`digit_value`]
/// reads, by its bytes: Arabic-Indic (D9 A0-A9), Persian (DB B0-B9), full-width (EF BC 90-99)
/// or mathematical (F0 9D 9F 8E-BF). Arabic letters share D9 and are told apart without
/// decoding.
pub(super) fn is_wide_digit_at(bytes: &[u8], i: usize) -> bool {
    matches!(
        bytes.get(i..).unwrap_or_default(),
        [0xD9, 0xA0..=0xA9, ..]
            | [0xDB, 0xB0..=0xB9, ..]
            | [0xEF, 0xBC, 0x90..=0x99, ..]
            | [0xF0, 0x9D, 0x9F, 0x8E..=0xBF, ..]
    )
}

/// The value of an ASCII, Arabic-Indic, Persian, full-width or mathematical digit.
pub(super) fn digit_value(c: char) -> Option<u32> {
    let cp = u32::from(c);
    let (zero, modulo) = match cp {
        0x30..=0x39 => (0x30, 10),
        0x0660..=0x0669 => (0x0660, 10),
        0x06F0..=0x06F9 => (0x06F0, 10),
        0xFF10..=0xFF19 => (0xFF10, 10),
        0x1D7CE..=0x1D7FF => (0x1D7CE, 10),
        _ => return None,
    };
    cp.checked_sub(zero).map(|v| v % modulo)
}

/// The letter a digit stands for in leetspeak; the Arabic-Indic five, a small circle, is an
/// `o`.
pub(super) fn leet_letter(digit: char) -> Option<char> {
    if digit == '\u{0665}' {
        return Some('o');
    }
    Some(match digit_value(digit)? {
        0 => 'o',
        1 => 'i',
        2 => 'z',
        3 => 'e',
        4 => 'a',
        5 => 's',
        6 | 9 => 'g',
        7 => 't',
        8 => 'b',
        _ => return None,
    })
}
