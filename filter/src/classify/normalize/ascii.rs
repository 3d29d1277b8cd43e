//! The ASCII fast path's tables: what each byte is to the writer, and which bytes a copy run
//! may take without looking at them one by one.

/// What an ASCII byte is to the writer.
pub(super) const ASCII_OTHER: u8 = 0;

pub(super) const ASCII_SPACE: u8 = 1;

pub(super) const ASCII_NEWLINE: u8 = 2;

pub(super) const ASCII_DIGIT: u8 = 3;

pub(super) const ASCII_LETTER: u8 = 4;

/// A control character other than whitespace: no glyph, dropped (it must not split a word).
pub(super) const ASCII_CONTROL: u8 = 5;

#[expect(
    clippy::indexing_slicing,
    reason = "evaluated at compile time: an out-of-range index fails the build, never a request"
)]
pub(super) static ASCII_CLASS: [u8; 128] = {
    let mut t = [ASCII_OTHER; 128];
    let mut b = 0;
    while b < 128 {
        t[b] = match b as u8 {
            b'\n' => ASCII_NEWLINE,
            b'\t' | 0x0B | 0x0C | b'\r' | b' ' => ASCII_SPACE,
            b'0'..=b'9' => ASCII_DIGIT,
            b'a'..=b'z' | b'A'..=b'Z' => ASCII_LETTER,
            0x00..=0x1F | 0x7F => ASCII_CONTROL,
            _ => ASCII_OTHER,
        };
        b += 1;
    }
    t
};

/// Whitespace, which the writer collapses, and control characters, which it drops: the bytes
/// a stretch of the reference normaliser stops at.
#[cfg(test)]
pub(super) fn is_ascii_space_class(b: u8) -> bool {
    matches!(
        ASCII_CLASS.get(usize::from(b)).copied(),
        Some(ASCII_SPACE | ASCII_NEWLINE | ASCII_CONTROL)
    )
}

/// Each non-whitespace ASCII byte as the reference normaliser pushes it: letters lowercased,
/// digits `0`.
#[cfg(test)]
#[allow(
    clippy::indexing_slicing,
    reason = "evaluated at compile time: an out-of-range index fails the build, never a request"
)]
pub(super) static ASCII_FOLD: [u8; 128] = {
    let mut t = [0u8; 128];
    let mut b = 0;
    while b < 128 {
        t[b] = match b as u8 {
            c @ b'A'..=b'Z' => c + 32,
            b'0'..=b'9' => b'0',
            c => c,
        };
        b += 1;
    }
    t
};

/// What an ASCII byte is to a copy run of [`Writer::push_text`], as bits: a byte that is its
/// own normal form once lowercased (`STRETCH_PLAIN`, and `STRETCH_UPPER` for capitals), a space
/// (`STRETCH_SPACE`), or a byte that ends the run (`STRETCH_END`: digits, other whitespace,
/// controls).
pub(super) const STRETCH_PLAIN: u8 = 1;

pub(super) const STRETCH_SPACE: u8 = 2;

pub(super) const STRETCH_END: u8 = 4;

pub(super) const STRETCH_UPPER: u8 = 8 | STRETCH_PLAIN;

/// A run's next byte may not be of these classes: anywhere, after a space, while combining
/// marks are held; and (`STOP_SIGN`) a Devanagari sign may not extend it after an ASCII byte or
/// a letter that takes accents, which would drop the sign.
pub(super) const STOP_ANYWHERE: u8 = STRETCH_END;

pub(super) const STOP_AFTER_SPACE: u8 = STRETCH_END | STRETCH_SPACE;

pub(super) const STOP_MARKS: u8 = 16;

pub(super) const STOP_SIGN: u8 = 32;

#[expect(
    clippy::indexing_slicing,
    reason = "evaluated at compile time: an out-of-range index fails the build, never a request"
)]
pub(super) static ASCII_STRETCH: [u8; 128] = {
    let mut t = [STRETCH_END; 128];
    let mut b = 0;
    while b < 128 {
        t[b] = match ASCII_CLASS[b] {
            ASCII_SPACE if b == 0x20 => STRETCH_SPACE,
            ASCII_LETTER if (b as u8).is_ascii_uppercase() => STRETCH_UPPER,
            ASCII_LETTER | ASCII_OTHER => STRETCH_PLAIN,
            _ => STRETCH_END,
        };
        b += 1;
    }
    t
};

/// The code point of the UTF-8 character whose lead byte is at `at` (not ASCII), and its length.
pub(super) fn decode(bytes: &[u8], at: usize) -> (u32, usize) {
    let byte = |i: usize| u32::from(bytes.get(at + i).copied().unwrap_or(0x80) & 0x3F);
    let lead = u32::from(bytes.get(at).copied().unwrap_or(0));
    if lead < 0xE0 {
        (((lead & 0x1F) << 6) | byte(1), 2)
    } else if lead < 0xF0 {
        (((lead & 0x0F) << 12) | (byte(1) << 6) | byte(2), 3)
    } else {
        (
            ((lead & 0x07) << 18) | (byte(1) << 12) | (byte(2) << 6) | byte(3),
            4,
        )
    }
}
