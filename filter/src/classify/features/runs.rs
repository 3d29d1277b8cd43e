//! Runs of word characters: where one ends, how many characters it has, and whether it mixes
//! scripts, read a byte or a table entry at a time.

use super::*;

/// Where the run of word characters (not single-character words) starting at byte `from`
/// ends, its length in characters, and whether it mixes scripts so that [`word_script`] must
/// read it (look-alikes, with Latin letters or alone; or Latin with other letters).
pub(super) fn word_run_end(text: &str, from: usize) -> (usize, u32, bool) {
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
pub(super) fn is_ascii_word_byte(b: u8) -> bool {
    ASCII_WORD_BYTE
        .get(usize::from(b))
        .copied()
        .unwrap_or(false)
}

#[expect(
    clippy::indexing_slicing,
    reason = "evaluated at compile time: an out-of-range index fails the build, never a request"
)]
pub(super) static ASCII_WORD_BYTE: [bool; 256] = {
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
pub(super) fn word_run_end_from(
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
pub(super) const RUN_END: u8 = 0;
pub(super) const RUN_LOOKALIKE: u8 = 1;
pub(super) const RUN_NUMERIC: u8 = 2;
pub(super) const RUN_LETTER: u8 = 3;

/// [`run_class_of`] of each character of the Basic Multilingual Plane, two bits each (32 a
/// word), built once per VM.
pub(super) static RUN_CLASSES: LazyLock<Vec<u64>> = LazyLock::new(|| {
    let mut table = vec![0u64; 2048];
    for c in (0..0x1_0000u32).filter_map(char::from_u32) {
        if let Some(w) = table.get_mut((c as usize) >> 5) {
            *w |= u64::from(run_class_of(c)) << ((c as usize & 31) * 2);
        }
    }
    table
});

/// [`run_class_of`], by table in the Basic Multilingual Plane (checked in the tests).
pub(super) fn run_class(c: char) -> u8 {
    let cp = c as usize;
    match RUN_CLASSES.get(cp >> 5) {
        Some(w) => u8::try_from((w >> ((cp & 31) * 2)) & 3).unwrap_or(RUN_END),
        None => run_class_of(c),
    }
}

pub(super) fn run_class_of(c: char) -> u8 {
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
