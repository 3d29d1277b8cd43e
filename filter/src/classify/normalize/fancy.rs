//! Latin text written in letters of other alphabets, undone on the raw text, before lowercasing
//! loses which letters were capitals:
//! - **capital look-alikes and fancy text**: Cyrillic, Greek and Cherokee capitals that look
//!   like a Latin capital (`ТНЕ` in Cyrillic, `ΝΙ` in Greek, `ᎢᎻᎬ` in Cherokee), and the Canadian
//!   syllabics and Tifinagh letters of "fancy text" generators (`ᑭᕼⵔTⵔᔕ`). Their lowercase forms
//!   are no look-alikes (`н`, `т`, `ꭲ`), so the word-by-word look-alike reading after
//!   normalisation cannot see them. A word made only of such letters and ASCII letters becomes
//!   ASCII capitals when it holds an ASCII letter, or when the text holds no other letter of
//!   those alphabets: Russian or Greek in capitals has letters such as Д, Ж, Л, П or Σ, Ω, and
//!   lowercase letters, so `НЕТ` or `ΚΑΙ` there stays as written.
//! - **turned text**: a line written upside down (turned letters such as `ɐ`, `ǝ`, `ɹ`, `ʇ`, and
//!   right to left, as generators write it: `uıɐldxǝ` for `explain`) is read turned back:
//!   reversed, each letter turned. A line needs at least [`MIN_TURNED`] turned letters, one in
//!   [`TURNED_SHARE`] of its letters, so an IPA transcription or Turkish `ı` is left alone.
//!
//! Text without these letters costs one scan of its bytes for their lead bytes.

use std::sync::LazyLock;

/// The text with Latin words in look-alike capitals or fancy letters, and turned lines, read
/// as Latin, or `None` when it has none.
pub fn undo(text: &str) -> Option<String> {
    match capitals_as_latin(text) {
        Some(latin) => Some(turned_back(&latin).unwrap_or(latin)),
        None => turned_back(text),
    }
}

/// Blocks whose capitals (Greek, Cyrillic, Cherokee) or letters (Canadian syllabics, Tifinagh)
/// can stand for Latin capitals.
const BLOCKS: &[(u32, u32)] = &[
    (0x0391, 0x03A9),
    (0x0400, 0x042F),
    (0x13A0, 0x13F5),
    (0x1400, 0x167F),
    (0x2D30, 0x2D7F),
];

/// Letters of fancy-text alphabets whose TR39 skeleton is not a Latin letter but which such
/// generators use for one (checked by eye against their output).
const FANCY_EXTRA: &[(char, u8)] = &[
    ('ᑎ', b'N'),
    ('ᑕ', b'C'),
    ('ᑐ', b'C'),
    ('ᔕ', b'S'),
    ('ᕮ', b'E'),
    ('ᗯ', b'W'),
    ('ᘔ', b'Z'),
    ('ᑫ', b'Q'),
    ('ᕽ', b'H'),
    ('ᗩ', b'A'),
    ('᙭', b'X'),
];

/// The capital look-alikes and fancy letters, with the Latin capital each stands for, sorted.
static CAPITALS: LazyLock<Vec<(char, u8)>> = LazyLock::new(|| {
    let mut table: Vec<(char, u8)> = FANCY_EXTRA.to_vec();
    for &(lo, hi) in BLOCKS {
        for c in (lo..=hi).filter_map(char::from_u32) {
            let cased = matches!(u32::from(c), 0x0391..=0x042F | 0x13A0..=0x13F5);
            if (cased && !c.is_uppercase()) || table.iter().any(|(k, _)| *k == c) {
                continue;
            }
            if let Some(latin) = skeleton_capital(c) {
                table.push((c, latin));
            }
        }
    }
    table.sort_unstable();
    table
});

/// The Latin capital whose look-alike `c` is, if its TR39 skeleton is one Latin letter (an
/// `l` or `i` skeleton is the capital I, a `0` the capital O).
fn skeleton_capital(c: char) -> Option<u8> {
    let mut buf = [0u8; 4];
    let mut skeleton = unicode_security::skeleton(c.encode_utf8(&mut buf));
    let first = u8::try_from(skeleton.next()?).ok()?;
    if skeleton.next().is_some() {
        return None;
    }
    match first {
        b'l' | b'i' | b'1' => Some(b'I'),
        b'0' => Some(b'O'),
        b if b.is_ascii_alphabetic() => Some(b.to_ascii_uppercase()),
        _ => None,
    }
}

/// The Latin capital a capital look-alike or fancy letter stands for.
fn capital_of(c: char) -> Option<u8> {
    let cp = u32::from(c);
    if !BLOCKS.iter().any(|(lo, hi)| (*lo..=*hi).contains(&cp)) {
        return None;
    }
    let table = &*CAPITALS;
    table
        .binary_search_by_key(&c, |(k, _)| *k)
        .ok()
        .and_then(|i| table.get(i))
        .map(|(_, l)| *l)
}

/// Where the first character that may be a capital look-alike or a fancy letter starts, told
/// by its first two bytes, with vectorised scans for the lead bytes: most text has none, and
/// pays for no scan of its own.
fn first_capital_lead(bytes: &[u8]) -> Option<usize> {
    let second = |at: usize| bytes.get(at + 1).copied().unwrap_or(0);
    let three = memchr::memchr3_iter(0xCE, 0xD0, 0xE1, bytes).find(|&at| {
        let s = second(at);
        match bytes.get(at) {
            Some(0xCE) => (0x91..=0xA9).contains(&s),
            Some(0xD0) => (0x80..=0xAF).contains(&s),
            _ => (0x8E..=0x99).contains(&s),
        }
    });
    let tifinagh = memchr::memchr_iter(0xE2, bytes).find(|&at| matches!(second(at), 0xB4 | 0xB5));
    match (three, tifinagh) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Lead bytes of the blocks' letters in UTF-8: Greek capitals (CE), Cyrillic capitals (D0),
/// Cherokee and Canadian syllabics (E1), Tifinagh (E2).
fn is_block_lead(b: u8) -> bool {
    matches!(b, 0xCE | 0xD0 | 0xE1 | 0xE2)
}

/// A letter of the look-alike scripts (Greek, Cyrillic, Cherokee, Canadian syllabics, Tifinagh)
/// that is not a capital look-alike: its presence says the text is written in that script.
fn is_script_letter(c: char) -> bool {
    matches!(u32::from(c), 0x0370..=0x03FF | 0x0400..=0x052F | 0x1F00..=0x1FFF | 0x13A0..=0x13FF
        | 0xAB70..=0xABBF | 0x1400..=0x167F | 0x2D30..=0x2D7F)
        && c.is_alphabetic()
        && capital_of(c).is_none()
}

/// Rewrites the words made of ASCII letters and capital look-alikes, with at least one
/// look-alike, as ASCII capitals (see the module's header for when).
fn capitals_as_latin(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let first = first_capital_lead(bytes)?;
    // Whether the text holds a letter of those scripts that is no look-alike: asked once, at
    // the first word without an ASCII letter.
    let mut script_text: Option<bool> = None;
    let mut out: Option<String> = None;
    let (mut copied, mut i) = (0, first);
    while let Some(at) = bytes
        .get(i..)
        .and_then(|rest| rest.iter().position(|&b| is_block_lead(b)))
        .map(|p| i + p)
    {
        // Lowercase Cyrillic а-п and Greek α-ο share the capitals' lead bytes: skipped on
        // their second byte, without decoding.
        let second = bytes.get(at + 1).copied().unwrap_or(0);
        if matches!(bytes.get(at), Some(0xD0 | 0xCE)) && second >= 0xB0 {
            i = at + 2;
            continue;
        }
        // Lead bytes are character boundaries.
        let Some(c) = text.get(at..).and_then(|t| t.chars().next()) else {
            i = at + 1;
            continue;
        };
        i = at + c.len_utf8();
        if capital_of(c).is_none() {
            continue;
        }
        let word = word_around(text, at, at + c.len_utf8());
        let (start, end) = (word.start, word.end);
        i = end;
        let Some(letters) = text.get(start..end) else {
            continue;
        };
        let has_ascii = letters.bytes().any(|b| b.is_ascii_alphabetic());
        let alone = |c: Option<char>| !c.is_some_and(|c| c.is_alphanumeric());
        if !alone(text.get(..start).and_then(|t| t.chars().next_back()))
            || !alone(text.get(end..).and_then(|t| t.chars().next()))
        {
            continue;
        }
        if !has_ascii && *script_text.get_or_insert_with(|| text.chars().any(is_script_letter)) {
            continue;
        }
        let out = out.get_or_insert_with(|| String::with_capacity(text.len()));
        out.push_str(text.get(copied..start).unwrap_or_default());
        out.extend(letters.chars().map(|c| capital_of(c).map_or(c, char::from)));
        copied = end;
    }
    let mut out = out?;
    out.push_str(text.get(copied..).unwrap_or_default());
    Some(out)
}

/// The byte range of the run of ASCII letters and capital look-alikes around `start..end`.
fn word_around(text: &str, start: usize, end: usize) -> std::ops::Range<usize> {
    let in_word = |c: char| c.is_ascii_alphabetic() || capital_of(c).is_some();
    let before = text.get(..start).unwrap_or_default();
    let from = before
        .char_indices()
        .rev()
        .take_while(|(_, c)| in_word(*c))
        .last()
        .map_or(start, |(i, _)| i);
    let after = text.get(end..).unwrap_or_default();
    let to = after
        .char_indices()
        .find(|(_, c)| !in_word(*c))
        .map_or(text.len(), |(i, _)| end + i);
    from..to
}

/// At least this many turned letters in a line, and at least one in this many of its letters,
/// make it turned text.
const MIN_TURNED: usize = 3;
const TURNED_SHARE: usize = 4;

/// The Latin letter or sign a character of turned text stands for once turned back: the turned
/// letters, and the letters and signs that turn into each other.
fn turned(c: char) -> Option<char> {
    Some(match c {
        'ɐ' => 'a',
        'ǝ' => 'e',
        'ɔ' => 'c',
        'ɟ' => 'f',
        'ƃ' => 'g',
        'ɥ' => 'h',
        'ı' => 'i',
        'ɾ' => 'j',
        'ʞ' => 'k',
        'ɯ' => 'm',
        'ɹ' => 'r',
        'ʇ' => 't',
        'ʌ' => 'v',
        'ʍ' => 'w',
        'ʎ' => 'y',
        '∀' => 'A',
        'Ǝ' => 'E',
        'b' => 'q',
        'q' => 'b',
        'd' => 'p',
        'p' => 'd',
        'n' => 'u',
        'u' => 'n',
        '˙' => '.',
        '¿' => '?',
        '¡' => '!',
        _ => return None,
    })
}

/// A letter only turned text writes (not `ı`, a Turkish letter, nor the ASCII letters that
/// turn into each other).
fn is_turned_letter(c: char) -> bool {
    matches!(
        c,
        'ɐ' | 'ǝ' | 'ɔ' | 'ɟ' | 'ƃ' | 'ɥ' | 'ɾ' | 'ʞ' | 'ɯ' | 'ɹ' | 'ʇ' | 'ʌ' | 'ʍ' | 'ʎ'
    )
}

/// The text with its turned lines turned back, or `None` when it has none. Turned letters but
/// `ǝ` and `ƃ` are written with the lead bytes C9 and CA: texts without them are not read.
fn turned_back(text: &str) -> Option<String> {
    memchr::memchr2(0xC9, 0xCA, text.as_bytes())?;
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        let end = start + line.len();
        let body = line.trim_end_matches(['\n', '\r']);
        let letters = body.chars().filter(|c| c.is_alphabetic()).count();
        let turned_letters = body.chars().filter(|c| is_turned_letter(*c)).count();
        if turned_letters >= MIN_TURNED && turned_letters * TURNED_SHARE >= letters {
            let out = out.get_or_insert_with(|| String::with_capacity(text.len()));
            out.push_str(text.get(copied..start).unwrap_or_default());
            out.extend(body.chars().rev().map(|c| turned(c).unwrap_or(c)));
            out.push_str(line.get(body.len()..).unwrap_or_default());
            copied = end;
        }
        start = end;
    }
    let mut out = out?;
    out.push_str(text.get(copied..).unwrap_or_default());
    Some(out)
}

/// Builds the look-alike capitals' table now, so that configuration pays for it.
pub fn prepare() {
    LazyLock::force(&CAPITALS);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin_words_in_cyrillic_greek_and_cherokee_capitals_read_as_latin() {
        // Cyrillic Т, Н, Е; Greek Ι, Ν, Υ among ASCII capitals; Cherokee capitals.
        assert_eq!(
            undo("ТНЕ ΙS РНОТОSΥΝТНЕSΙS").as_deref(),
            Some("THE IS PHOTOSYNTHESIS")
        );
        assert_eq!(undo("ᎢᎻᎬ ᏢᏒOᏟᎬᏚᏚ").as_deref(), Some("THE PROCESS"));
        // A capital alone at the start of a Latin word.
        assert_eq!(undo("Нello Мoscow").as_deref(), Some("Hello Moscow"));
    }

    #[test]
    fn fancy_text_in_syllabics_and_tifinagh_reads_as_latin() {
        assert_eq!(
            undo("ᑭᕼⵔTⵔᔕYᑎTᕼᕮᔕIᔕ Iᔕ Tᕼᕮ ᑭᖇⵔᑕᕮᔕᔕ ⵔ᙭YGᕮᑎ").as_deref(),
            Some("PHOTOSYNTHESIS IS THE PROCESS OXYGEN")
        );
    }

    #[test]
    fn cyrillic_and_greek_text_in_capitals_stays() {
        for kept in [
            "НЕТ, СПАСИБО",
            "ВНИМАНИЕ: КОТ",
            "Москва и Тверь",
            "ΚΑΙ ΤΟ ΣΠΙΤΙ",
            "Το ΚΕΠ είναι ανοιχτό",
            "В Москве",
            "ᐃᓄᒃᑎᑐᑦ ᑎᑎᕋᐅᓯᖅ",
        ] {
            assert_eq!(undo(kept), None, "{kept}");
        }
        // A Cyrillic word in capitals beside Latin letters of its own: its other letters keep
        // it Cyrillic.
        assert_eq!(undo("ПРИВЕТ, ТНЕ"), None);
    }

    #[test]
    fn turned_lines_are_turned_back() {
        assert_eq!(
            undo(".uǝƃʎxo puɐ ɹɐƃns ǝɯoɔǝq").as_deref(),
            Some("become sugar and oxygen.")
        );
        // Only the turned line.
        assert_eq!(
            undo("Hi!\n.ǝɥʇɐǝɹq ǝʍ ʇɐɥʍ sı\nBye").as_deref(),
            Some("Hi!\nis what we breathe.\nBye")
        );
        for kept in ["Say /ˈɹʌn/ slowly, then /ˈɹʌnɪŋ/.", "Kılıç ve ışık", "ɐ"] {
            assert_eq!(undo(kept), None, "{kept}");
        }
    }

    #[test]
    fn truncated_and_odd_input_is_safe() {
        for text in ["\u{CE}", "Т", "ТТ", "\u{E1}\u{8E}", "ǝǝǝ\n", "ɐɐɐ\r\n"] {
            let _ = undo(text);
        }
    }
}
