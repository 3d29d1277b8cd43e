//! Two disguises undone on the raw text, before normalisation turns every digit into `0` and
//! every space into one:
//! - **narrow spaces between letters**: a hair, thin, six-per-em, punctuation or medium
//!   mathematical space (U+200A, U+2009, U+2006, U+2008, U+205F) with a letter on each side is
//!   dropped. They render as little or nothing, so `e␊x␊p␊l␊a␊i␊n this` (hair spaces inside
//!   words, normal spaces between them) reads as `explain this` and not as one run of spaced
//!   letters. The no-break narrow space (U+202F) is kept: Mongolian writes it inside words.
//! - **digits standing for letters** (leetspeak): a run of one to four ASCII digits with a
//!   cased letter (Latin, Greek, Cyrillic, ...) on each side, not capitals on both, becomes
//!   the letters it stands for (`expl4in` → `explain`, `h0w` → `how`, `gr34t` → `great`):
//!   0 o, 1 i, 2 z, 3 e, 4 a, 5 s, 6 g, 7 t, 8 b, 9 g. Only digits inside a word: `3rd`, `4g`, `mp3` and `2024年` keep theirs, and so do
//!   codes in capitals (`B2B`, `3H2M`, `REF7XK`); `k8s` reads as `kbs`, in training as in use.
//!
//! The common text has neither: one scan of its bytes, no allocation.

/// The text with both disguises undone, or `None` when it holds neither.
pub fn undo(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let first = first_disguise(bytes, text)?;
    let mut out = String::with_capacity(text.len());
    out.push_str(text.get(..first)?);
    let mut i = first;
    while i < bytes.len() {
        match disguise_at(text, i) {
            Some(Found::Space(len)) => i += len,
            Some(Found::Digits(run)) => {
                let digits = bytes.get(i..i + run).unwrap_or_default();
                out.extend(digits.iter().filter_map(|d| leet_letter(*d)));
                i += run;
            }
            None => {
                let c = text.get(i..).and_then(|t| t.chars().next())?;
                out.push(c);
                i += c.len_utf8();
            }
        }
    }
    Some(out)
}

/// Where the first disguise starts: only an ASCII digit after a letter, or the lead byte of a
/// narrow space, is looked at (a tight scan; the common text has few of either).
fn first_disguise(bytes: &[u8], text: &str) -> Option<usize> {
    let mut from = 0;
    loop {
        let at = from
            + bytes
                .get(from..)?
                .iter()
                .position(|&b| b == 0xE2 || b.is_ascii_digit())?;
        if disguise_at(text, at).is_some() {
            return Some(at);
        }
        // The rest of a run of digits cannot start one.
        let run = bytes
            .get(at + 1..)
            .map_or(0, |r| r.iter().take_while(|b| b.is_ascii_digit()).count());
        from = at + 1 + run;
    }
}

enum Found {
    /// A narrow space of this many bytes to drop.
    Space(usize),
    /// This many ASCII digits, each read as a letter.
    Digits(usize),
}

/// A disguise starting at byte `i` (a character boundary or not: only ASCII digits and the
/// three-byte spaces are recognised, and both start on one).
fn disguise_at(text: &str, i: usize) -> Option<Found> {
    let bytes = text.as_bytes();
    let b = *bytes.get(i)?;
    if b.is_ascii_digit() {
        // After a space, a sign or another digit (most digits): not inside a word.
        let prev = *bytes.get(i.checked_sub(1)?)?;
        if prev.is_ascii() && !prev.is_ascii_alphabetic() {
            return None;
        }
        // A run of up to MAX_LEET_RUN digits, letters on both sides.
        let run = bytes
            .get(i..)?
            .iter()
            .take(MAX_LEET_RUN + 1)
            .take_while(|d| d.is_ascii_digit())
            .count();
        if run > MAX_LEET_RUN {
            return None;
        }
        let before = char_before(text, i).filter(|c| is_cased_letter(*c));
        let after = char_after(text, i + run).filter(|c| is_cased_letter(*c));
        let (Some(b), Some(a)) = (before, after) else {
            return None;
        };
        // Between two capitals it is a code (`B2B`, `3H2M`, `REF7XK`), not a word.
        return (!(b.is_uppercase() && a.is_uppercase())).then_some(Found::Digits(run));
    }
    if b != 0xE2 {
        return None;
    }
    let narrow = matches!(
        bytes.get(i + 1..i + 3)?,
        [0x80, 0x86 | 0x88 | 0x89 | 0x8A] | [0x81, 0x9F]
    );
    (narrow && letter_before(text, i) && letter_after(text, i + 3)).then_some(Found::Space(3))
}

/// Longer runs of digits between letters are codes, not words.
const MAX_LEET_RUN: usize = 4;

fn leet_letter(digit: u8) -> Option<char> {
    Some(match digit {
        b'0' => 'o',
        b'1' => 'i',
        b'2' => 'z',
        b'3' => 'e',
        b'4' => 'a',
        b'5' => 's',
        b'6' | b'9' => 'g',
        b'7' => 't',
        b'8' => 'b',
        _ => return None,
    })
}

fn char_before(text: &str, i: usize) -> Option<char> {
    text.get(..i)?.chars().next_back()
}

fn char_after(text: &str, i: usize) -> Option<char> {
    text.get(i..)?.chars().next()
}

fn letter_before(text: &str, i: usize) -> bool {
    char_before(text, i).is_some_and(char::is_alphabetic)
}

fn letter_after(text: &str, i: usize) -> bool {
    char_after(text, i).is_some_and(char::is_alphabetic)
}

/// A letter of a script with case: the scripts leetspeak disguises. Han, kana, Arabic or
/// Devanagari letters around a digit are a date, a count or a chapter.
fn is_cased_letter(c: char) -> bool {
    c.is_ascii_alphabetic() || (!c.is_ascii() && (c.is_lowercase() || c.is_uppercase()))
}

#[cfg(test)]
mod tests {
    use super::undo;

    #[test]
    fn digits_inside_words_are_read_as_letters() {
        assert_eq!(undo("gr34t l33t").as_deref(), Some("great leet"));
        assert_eq!(
            undo("expl4in h0w th1s w0rks").as_deref(),
            Some("explain how this works")
        );
        // A Latin `o` in a Cyrillic word: the word splitter reads it by the word's script.
        assert_eq!(undo("пр0сто").as_deref(), Some("пр\u{6F}сто"));
        // Not inside a word: kept, and no copy is made.
        for kept in [
            "3rd", "4g", "mp3", "2024年", "第3章", "A-123", "1 000", "x 4 y", "B2B", "3H2M",
            "REF7XK",
        ] {
            assert_eq!(undo(kept), None, "{kept}");
        }
    }

    #[test]
    fn narrow_spaces_between_letters_are_dropped() {
        let hair =
            "e\u{200A}x\u{200A}p\u{200A}l\u{200A}a\u{200A}i\u{200A}n t\u{2009}h\u{2009}i\u{2009}s";
        assert_eq!(undo(hair).as_deref(), Some("explain this"));
        // Between digits (a thousands separator), next to punctuation, or the no-break narrow
        // space: kept.
        for kept in ["1\u{2009}000", "« mot\u{2009}»", "a\u{202F}b", "\u{200A}a"] {
            assert_eq!(undo(kept), None, "{kept:?}");
        }
    }

    #[test]
    fn truncated_and_multibyte_input_is_safe() {
        for text in ["\u{2009}", "a\u{2009}", "é3é", "ж3ж", "\u{E2}"] {
            let _ = undo(text);
        }
        assert_eq!(undo("é3é").as_deref(), Some("éeé"));
    }
}
