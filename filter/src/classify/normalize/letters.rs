//! What a single character reads as: the invisible ones dropped, letters NFKD leaves alone
//! (small capitals, stroked, enclosed and regional-indicator letters, Persian forms) folded,
//! caseless letters and punctuation, and the Latin, Cyrillic and Greek look-alike skeleton.

use super::*;

/// Whether `c` is a Default_Ignorable_Code_Point (Unicode DerivedCoreProperties), or one of
/// the invisible fillers that render as nothing in WhatsApp (U+180E, Hangul and Braille
/// blanks). Checked against `unicode-security`'s table in the tests.
pub fn is_ignorable(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{17B4}'..='\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}'
        | '\u{FFF0}'..='\u{FFFB}' | '\u{1BCA0}'..='\u{1BCA3}'
        | '\u{1D173}'..='\u{1D17A}' | '\u{E0000}'..='\u{E0FFF}'
        // Other format characters (general category Cf) that render as nothing inside a word,
        // and the Arabic tatweel, which only stretches a word.
        | '\u{0600}'..='\u{0605}' | '\u{0640}' | '\u{06DD}' | '\u{070F}' | '\u{08E2}'
        | '\u{110BD}' | '\u{110CD}' | '\u{13430}'..='\u{1343F}')
}

/// Characters that render as a blank in WhatsApp but are not whitespace to Unicode (Braille
/// and Hangul fillers): read as spaces, so they cannot glue words together or split them.
pub(super) fn is_blank_filler(c: char) -> bool {
    matches!(
        c,
        '\u{115F}' | '\u{1160}' | '\u{2800}' | '\u{3164}' | '\u{FFA0}'
    )
}

/// Letters that NFKD leaves alone but a reader sees as Latin letters: small capitals, negative
/// circled and squared letters, regional indicators; and the Persian forms of Arabic letters.
pub(super) fn fold_letter(c: char) -> Option<char> {
    let offset = |base: u32| char::from_u32(u32::from(b'a') + (c as u32 - base));
    match c {
        '\u{1F150}'..='\u{1F169}' => offset(0x1F150),
        '\u{1F170}'..='\u{1F189}' => offset(0x1F170),
        '\u{1F1E6}'..='\u{1F1FF}' => offset(0x1F1E6),
        // Stroked Latin letters without a decomposition, read as their letter as accents
        // are (`ø`, `ł`, `đ`, `ŧ`, `ħ`, `ɨ`, `ɇ`...).
        '\u{00D8}'
        | '\u{00F8}'
        | '\u{0110}'..='\u{0111}'
        | '\u{0126}'..='\u{0127}'
        | '\u{0141}'..='\u{0142}'
        | '\u{0166}'..='\u{0167}'
        | '\u{0180}'..='\u{024F}'
        | '\u{2C65}'
        | '\u{A740}'..='\u{A741}' => stroked(c).or_else(|| small_capital(c)),
        '\u{06CC}' => Some('\u{064A}'),
        '\u{06A9}' => Some('\u{0643}'),
        // The other blocks that hold small capitals (ǫ is in the one above); every other
        // letter skips the tables.
        '\u{0250}'..='\u{02AF}' | '\u{1D00}'..='\u{1D2B}' | '\u{A730}'..='\u{A731}' => {
            small_capital(c).or_else(|| stroked(c))
        }
        _ => None,
    }
}

/// The Latin letter a small capital stands for.
pub(super) fn small_capital(c: char) -> Option<char> {
    const SMALL_CAPS: &[(char, char)] = &[
        ('ᴀ', 'a'),
        ('ʙ', 'b'),
        ('ᴄ', 'c'),
        ('ᴅ', 'd'),
        ('ᴇ', 'e'),
        ('ꜰ', 'f'),
        ('ɢ', 'g'),
        ('ʜ', 'h'),
        ('ɪ', 'i'),
        ('ᴊ', 'j'),
        ('ᴋ', 'k'),
        ('ʟ', 'l'),
        ('ᴍ', 'm'),
        ('ɴ', 'n'),
        ('ᴏ', 'o'),
        ('ᴘ', 'p'),
        ('ǫ', 'q'),
        ('ʀ', 'r'),
        ('ꜱ', 's'),
        ('ᴛ', 't'),
        ('ᴜ', 'u'),
        ('ᴠ', 'v'),
        ('ᴡ', 'w'),
        ('ʏ', 'y'),
        ('ᴢ', 'z'),
    ];
    SMALL_CAPS.iter().find(|(k, _)| *k == c).map(|(_, l)| *l)
}

/// The letter a stroked or barred Latin letter is written over. Polish `ł`, Danish and
/// Norwegian `ø` and Vietnamese `đ` are letters of their own; folded in training as in use,
/// like the accents of `ó` or `ă`, they cost those languages nothing measurable (MODEL.md).
pub(super) fn stroked(c: char) -> Option<char> {
    Some(match c {
        'ø' | 'Ø' => 'o',
        'đ' | 'Đ' => 'd',
        'ħ' | 'Ħ' => 'h',
        'ł' | 'Ł' | 'ƚ' => 'l',
        'ŧ' | 'Ŧ' => 't',
        'ƀ' | 'Ƀ' => 'b',
        'ƶ' | 'Ƶ' => 'z',
        'ǥ' | 'Ǥ' => 'g',
        'ȼ' | 'Ȼ' => 'c',
        'ɇ' | 'Ɇ' => 'e',
        'ɉ' | 'Ɉ' => 'j',
        'ɍ' | 'Ɍ' => 'r',
        'ɏ' | 'Ɏ' => 'y',
        'ɨ' | 'Ɨ' => 'i',
        'ʉ' | 'Ʉ' => 'u',
        'ⱥ' | 'Ⱥ' => 'a',
        'ꝁ' | 'Ꝁ' => 'k',
        _ => return None,
    })
}

/// Scripts whose combining marks are accents that a reader does not need (checked on the
/// base character that precedes the marks).
pub(super) fn marks_are_accents(base: char) -> bool {
    matches!(base, 'A'..='Z' | 'a'..='z' | '\u{00C0}'..='\u{052F}' | '\u{0600}'..='\u{06FF}'
        | '\u{1E00}'..='\u{1FFF}')
}

/// Han, kana, Hangul and the other CJK blocks: letters without case and without digits (the few
/// numerals there, such as `〇`, read as letters), so no table needs asking.
pub(super) fn is_caseless_letter(c: char) -> bool {
    matches!(c, '\u{3040}'..='\u{30FF}' | '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}'
        | '\u{AC00}'..='\u{D7AF}' | '\u{F900}'..='\u{FAFF}')
}

/// The lowercase of letters of common scripts without a table search: Cyrillic (by offset),
/// and scripts without case (Hebrew, Arabic, Devanagari, Thai) as they are. `None`: ask the
/// Unicode tables. Checked against `char::to_lowercase` in the tests.
pub(super) fn lowercase_fast(c: char) -> Option<char> {
    let cp = c as u32;
    match c {
        '\u{0400}'..='\u{040F}' => char::from_u32(cp + 0x50),
        '\u{0410}'..='\u{042F}' => char::from_u32(cp + 0x20),
        '\u{0430}'..='\u{045F}'
        | '\u{0590}'..='\u{05FF}'
        | '\u{0600}'..='\u{06FF}'
        | '\u{0900}'..='\u{097F}'
        | '\u{0E00}'..='\u{0E7F}' => Some(c),
        _ => None,
    }
}

/// Typographic quotes read as ASCII quotes.
pub(super) fn fold_punctuation(c: char) -> char {
    match c {
        '\u{2018}' | '\u{2019}' | '\u{02BC}' | '\u{2032}' => '\'',
        '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{2033}' => '"',
        c => c,
    }
}

/// Blocks whose letters have Latin look-alikes worth mapping: Latin extended, IPA, Greek,
/// Cyrillic, Armenian, Cherokee, phonetic extensions, letterlike symbols.
pub(super) const LOOKALIKE_BLOCKS: &[(u32, u32)] = &[
    (0x0100, 0x058F),
    (0x13A0, 0x13FF),
    (0x1D00, 0x1DBF),
    (0x2100, 0x214F),
    (0x2C80, 0x2CFF),
    (0xA4D0, 0xA4FF),
    (0xA640, 0xA69F),
    (0xAB70, 0xABBF),
];

/// Lowercase look-alikes and the ASCII letter their TR39 skeleton is, from `unicode-security`.
pub(super) static LOOKALIKES: LazyLock<Vec<(char, char)>> = LazyLock::new(|| {
    let mut table = Vec::new();
    for &(lo, hi) in LOOKALIKE_BLOCKS {
        for c in (lo..=hi).filter_map(char::from_u32) {
            if let Some(latin) = skeleton_letter(c) {
                table.push((c, latin));
            }
        }
    }
    table
});

/// The single ASCII letter or digit whose look-alike `c` is, if its skeleton is one.
pub(super) fn skeleton_letter(c: char) -> Option<char> {
    let mut buf = [0u8; 4];
    let mut skeleton = unicode_security::skeleton(c.encode_utf8(&mut buf))
        .flat_map(char::to_lowercase)
        .filter(|s| !is_combining_mark(*s));
    let first = skeleton.next()?;
    let latin = match first {
        'a'..='z' => first,
        '0' => 'o',
        '1' => 'l',
        _ => return None,
    };
    (skeleton.next().is_none() && latin != c).then_some(latin)
}

/// The Latin letter a non-Latin look-alike stands for (`а` Cyrillic → `a`, `ο` Greek → `o`).
pub fn lookalike(c: char) -> Option<char> {
    let cp = c as u32;
    if !LOOKALIKE_BLOCKS
        .iter()
        .any(|(lo, hi)| (*lo..=*hi).contains(&cp))
    {
        return None;
    }
    let table = &*LOOKALIKES;
    table
        .binary_search_by_key(&c, |(k, _)| *k)
        .ok()
        .and_then(|i| table.get(i))
        .map(|(_, l)| *l)
}
