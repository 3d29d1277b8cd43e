//! The script a word that mixes scripts is read in, and the look-alike tables.

use super::*;

/// The script a word's look-alikes are read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Script {
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
pub(super) fn word_script(word: &str) -> Script {
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
pub(super) struct ScriptCounts {
    pub(super) latin: u32,
    /// Non-Latin letters with a Latin look-alike.
    pub(super) lookalikes: u32,
    pub(super) cyrillic: ScriptLetters,
    pub(super) greek: ScriptLetters,
    /// Letters of other scripts without a Latin look-alike.
    pub(super) other: u32,
}

/// A script's letters in a word, and the Latin letters that have no twin in it.
#[derive(Default)]
pub(super) struct ScriptLetters {
    pub(super) all: u32,
    /// Its letters without a Latin look-alike.
    pub(super) unique: u32,
    pub(super) latin_without_twin: u32,
}

impl ScriptLetters {
    /// Whether the word is this script's, given `latin` Latin letters in it.
    pub(super) fn stands_for_word(&self, latin: u32) -> bool {
        (self.latin_without_twin == 0 && self.all > latin) || self.unique > self.latin_without_twin
    }
}

impl ScriptCounts {
    pub(super) fn add(&mut self, c: char) {
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
pub(super) fn push_in_script(word: &str, script: Script, arena: &mut String) {
    match script {
        Script::Own => arena.push_str(word),
        Script::Latin => arena.extend(word.chars().map(|c| latin_of(c).unwrap_or(c))),
        Script::Cyrillic => arena.extend(word.chars().map(|c| cyrillic_twin(c).unwrap_or(c))),
        Script::Greek => arena.extend(word.chars().map(|c| greek_twin(c).unwrap_or(c))),
    }
}

/// Appends `word` to `arena`, with look-alikes mapped as [`word_script`] says.
pub(super) fn map_lookalikes(word: &str, arena: &mut String) {
    push_in_script(word, word_script(word), arena);
}

/// The Cyrillic letter a lowercase Latin letter stands for inside a Cyrillic word (normalised
/// text is lowercase: `h`, `m`, `t`, `b` and `k` come from the capitals Н, М, Т, В, К).
pub(super) fn cyrillic_twin(c: char) -> Option<char> {
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
pub(super) fn greek_twin(c: char) -> Option<char> {
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
pub(super) const DENSE_FROM: u32 = 0x0100;
pub(super) const DENSE_TO: u32 = 0x058F;
pub(super) static DENSE_LOOKALIKES: LazyLock<Vec<u8>> = LazyLock::new(|| {
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
pub(super) fn latin_of(c: char) -> Option<char> {
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
