//! Disguises undone on the raw text, before normalisation turns every digit into `0` and
//! every space into one. Each is something a phone shows as a plain word:
//! - **narrow spaces between letters**: a hair, thin, six-per-em, punctuation or medium
//!   mathematical space (U+200A, U+2009, U+2006, U+2008, U+205F), or a no-break narrow space
//!   (U+202F) unless a Mongolian letter is beside it (Mongolian writes it inside words), with a
//!   letter on each side is dropped, so `e␊x␊p␊l␊a␊i␊n this` (hair spaces inside words, normal
//!   spaces between them) reads as `explain this` and not as one run of spaced letters.
//! - **digits standing for letters** (leetspeak): a run of one to four digits with a cased
//!   letter (Latin, Greek, Cyrillic, ...) on each side, not capitals on both, becomes the
//!   letters it stands for (`expl4in` → `explain`, `h0w` → `how`, `gr34t` → `great`):
//!   0 o, 1 i, 2 z, 3 e, 4 a, 5 s, 6 g, 7 t, 8 b, 9 g. Digits outside ASCII count by their
//!   value (Arabic-Indic `expl٤in`, Persian, full-width, mathematical `expl𝟒in`), but the
//!   Arabic-Indic five, a small circle, reads as `o`. Only digits inside a word: `3rd`, `4g`,
//!   `mp3` and `2024年` keep theirs, and so do codes in capitals (`B2B`, `3H2M`, `REF7XK`) and
//!   Arabic-Indic digits beside Arabic letters; `k8s` reads as `kbs`, in training as in use.
//!   In a text written in leetspeak (at least [`MIN_LEET_WORDS`] words mixing letters and
//!   digits, one in [`LEET_SHARE`] of its words with letters), runs of up to
//!   [`MAX_HEAVY_LEET_RUN`] digits count, and so do digits at a word's start or end beside a
//!   lowercase letter (`7h3` → `the`, `3nergy`, `breath3`); a word of digits alone stays a
//!   number.
//! - **WhatsApp formatting inside words**: `*`, `_` and `~` between two cased letters
//!   (`e*x*p*l`, `P**h**o`; not in Han or kana text, which writes `**強調**` beside its
//!   letters) are dropped, and so are the markers of three or more words in a row wrapped one
//!   by one (`*the* *answer* *is*`), which WhatsApp shows as plain bold, italic or struck
//!   words. A label in bold (`*Order:*`) stays.
//! - **emoji inside words**: emoji between two letters (`P✨h✨o✨t✨o`, `expl🙂ain`) are
//!   dropped.
//! - **dots inside words**: a middle dot, bullet or dot operator between two letters, and a
//!   full stop with two letters on each side in a word that is not a web or mail address or a
//!   file name (`pro.cess`, but `bank.com`, `notes.txt` and `e.g` stay), are dropped.
//!
//! The common text has none: one scan of its bytes, no allocation.

mod leet;
use leet::{LeetGate, is_wide_digit_at, leet_at, leet_letter};
mod wrapped;
use wrapped::unwrap_formatted_runs;

/// The text with its disguises undone, or `None` when it holds none.
pub fn undo(text: &str) -> Option<String> {
    match undo_in_words(text) {
        Some(undone) => Some(unwrap_formatted_runs(&undone).unwrap_or(undone)),
        None => unwrap_formatted_runs(text),
    }
}

/// The disguises inside words: the text between candidate bytes is copied in runs.
fn undo_in_words(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let gate = LeetGate::default();
    let first = first_disguise(bytes, text, &gate)?;
    let mut out = String::with_capacity(text.len());
    // Candidate bytes are ASCII or lead bytes, so every offset used here is a char boundary.
    let (mut copied, mut i) = (0, first);
    while let Some(at) = bytes
        .get(i..)
        .and_then(|rest| rest.iter().position(|&b| is_candidate(b)))
        .map(|p| i + p)
    {
        match disguise_at(text, at, &gate) {
            Some(Found::Drop(len)) => {
                out.push_str(text.get(copied..at)?);
                i = at + len;
                copied = i;
            }
            Some(Found::Digits(run)) => {
                out.push_str(text.get(copied..at)?);
                let digits = text.get(at..at + run).unwrap_or_default();
                out.extend(digits.chars().filter_map(leet_letter));
                i = at + run;
                copied = i;
            }
            None => {
                // The rest of a run of digits cannot start one.
                let run = bytes
                    .get(at + 1..)
                    .map_or(0, |r| r.iter().take_while(|b| b.is_ascii_digit()).count());
                i = at
                    + 1
                    + if bytes.get(at).is_some_and(u8::is_ascii_digit) {
                        run
                    } else {
                        0
                    };
            }
        }
    }
    out.push_str(text.get(copied..)?);
    Some(out)
}

/// Where the first disguise starts: only ASCII digits, formatting markers and full stops, and
/// the lead bytes of narrow spaces and dots, are looked at (a tight scan).
fn first_disguise(bytes: &[u8], text: &str, gate: &LeetGate) -> Option<usize> {
    let mut from = 0;
    loop {
        let at = from + bytes.get(from..)?.iter().position(|&b| is_candidate(b))?;
        if disguise_at(text, at, gate).is_some() {
            return Some(at);
        }
        // The rest of a run of digits cannot start one.
        let run = bytes
            .get(at + 1..)
            .map_or(0, |r| r.iter().take_while(|b| b.is_ascii_digit()).count());
        from = at + 1 + run;
    }
}

/// A byte a disguise can start with, by table (one load per byte of the scan).
fn is_candidate(b: u8) -> bool {
    CANDIDATE.get(usize::from(b)).copied().unwrap_or(false)
}

#[expect(
    clippy::indexing_slicing,
    reason = "evaluated at compile time: an out-of-range index fails the build, never a request"
)]
static CANDIDATE: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        // Digits outside ASCII: Arabic-Indic (D9), Persian (DB), full-width (EF) and
        // mathematical (F0) digits.
        t[b] = matches!(
            c,
            0xE2 | 0xC2 | 0xF0 | 0xD9 | 0xDB | 0xEF | b'*' | b'_' | b'~' | b'.'
        ) || c.is_ascii_digit();
        b += 1;
    }
    t
};

/// An emoji or pictograph, or what joins or modifies one (variation selector 16, zero-width
/// joiner, skin tones).
fn is_emoji_part(c: char) -> bool {
    matches!(c, '\u{1F300}'..='\u{1FAFF}' | '\u{2600}'..='\u{27BF}' | '\u{2B50}' | '\u{2B55}'
        | '\u{FE0F}' | '\u{200D}')
}

enum Found {
    /// This many bytes to drop: a narrow space, a run of formatting markers, a dot.
    Drop(usize),
    /// This many bytes of digits, each read as a letter.
    Digits(usize),
}

/// A disguise starting at byte `i` (a character boundary or not: only ASCII digits and the
/// three-byte spaces are recognised, and both start on one).
fn disguise_at(text: &str, i: usize, gate: &LeetGate) -> Option<Found> {
    let bytes = text.as_bytes();
    let b = *bytes.get(i)?;
    if b.is_ascii_digit() {
        return leet_at(text, i, gate);
    }
    if is_wide_digit_at(bytes, i) {
        return leet_at(text, i, gate);
    }
    match b {
        b'*' | b'_' | b'~' => {
            let run = bytes
                .get(i..)?
                .iter()
                .take_while(|m| matches!(m, b'*' | b'_' | b'~'))
                .count();
            // Cased letters only: Han and kana text writes `**強調**` next to its letters.
            let cased = |c: Option<char>| c.is_some_and(is_cased_letter);
            (cased(char_before(text, i)) && cased(char_after(text, i + run)))
                .then_some(Found::Drop(run))
        }
        b'.' => {
            // Most full stops end a sentence: a blank or the end follows.
            let inside = bytes
                .get(i + 1)
                .is_some_and(|n| n.is_ascii_alphabetic() || *n >= 0x80);
            (inside
                && letters_before(text, i, 2)
                && letters_after(text, i + 1, 2)
                && !is_address(text, i))
            .then_some(Found::Drop(1))
        }
        // Emoji between two letters (`P✨h✨o✨t✨o`): the letters are one word.
        0xF0 | 0xE2 if char_after(text, i).is_some_and(is_emoji_part) => {
            let run: usize = text
                .get(i..)?
                .chars()
                .take_while(|c| is_emoji_part(*c))
                .map(char::len_utf8)
                .sum();
            (letter_before(text, i) && letter_after(text, i + run)).then_some(Found::Drop(run))
        }
        0xC2 | 0xE2 => {
            // Middle dot (2 bytes); hyphenation point, bullet, bullet and dot operators, and
            // the narrow spaces (3 bytes).
            let len = match bytes.get(i + 1..)? {
                [0xB7, ..] if b == 0xC2 => 2,
                [0x80, 0xA7 | 0xA2 | 0x86 | 0x88 | 0x89 | 0x8A | 0xAF, ..]
                | [0x88, 0x99, ..]
                | [0x8B, 0x85, ..]
                | [0x81, 0x9F, ..]
                    if b == 0xE2 =>
                {
                    3
                }
                _ => return None,
            };
            let (before, after) = (char_before(text, i)?, char_after(text, i + len)?);
            let letters = before.is_alphabetic() && after.is_alphabetic();
            // U+202F is part of Mongolian words.
            let mongolian = |c: char| ('\u{1800}'..='\u{18AF}').contains(&c);
            let narrow_nbsp = bytes.get(i + 1..i + 3) == Some(&[0x80, 0xAF]);
            (letters && !(narrow_nbsp && (mongolian(before) || mongolian(after))))
                .then_some(Found::Drop(len))
        }
        _ => None,
    }
}

fn char_before(text: &str, i: usize) -> Option<char> {
    text.get(..i)?.chars().next_back()
}

fn char_after(text: &str, i: usize) -> Option<char> {
    text.get(i..)?.chars().next()
}

/// At least `n` letters right before byte `i`.
fn letters_before(text: &str, i: usize, n: usize) -> bool {
    text.get(..i).is_some_and(|t| {
        t.chars()
            .rev()
            .take(n)
            .filter(|c| c.is_alphabetic())
            .count()
            == n
    })
}

/// At least `n` letters from byte `i`.
fn letters_after(text: &str, i: usize, n: usize) -> bool {
    text.get(i..)
        .is_some_and(|t| t.chars().take(n).filter(|c| c.is_alphabetic()).count() == n)
}

/// Whether the dot at byte `i` belongs to a web or mail address or a file name: its word
/// (between blanks) holds `/`, `@` or `:`, starts with `www`, or ends in a known domain or
/// file-name ending.
fn is_address(text: &str, i: usize) -> bool {
    let start = text
        .get(..i)
        .map_or(0, |t| t.rfind(char::is_whitespace).map_or(0, |p| p + 1));
    let end = text.get(i..).map_or(text.len(), |t| {
        t.find(char::is_whitespace).map_or(text.len(), |p| i + p)
    });
    let word = text
        .get(start..end)
        .unwrap_or_default()
        .trim_end_matches(|c: char| !c.is_alphanumeric());
    if word.contains(['/', '@', ':'])
        || word
            .get(..4)
            .is_some_and(|w| w.eq_ignore_ascii_case("www."))
    {
        return true;
    }
    let last = word
        .rsplit('.')
        .next()
        .unwrap_or_default()
        .trim_end_matches(|c: char| !c.is_alphanumeric());
    ENDINGS.iter().any(|e| last.eq_ignore_ascii_case(e))
}

/// Domain and file-name endings a word with a dot is an address or a file by.
const ENDINGS: &[&str] = &[
    "com", "net", "org", "edu", "gov", "io", "ai", "co", "app", "dev", "info", "biz", "me", "us",
    "uk", "in", "br", "mx", "es", "fr", "de", "it", "nl", "ru", "jp", "cn", "id", "tr", "ar", "eu",
    "tv", "pdf", "txt", "csv", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "png", "jpg", "jpeg",
    "gif", "html", "htm", "json", "xml", "zip", "mp3", "mp4", "apk", "exe", "py", "js", "rs", "md",
];

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
    fn digits_outside_ascii_inside_latin_words_are_read_as_letters() {
        // Arabic-Indic (the five, a circle, is an o), Persian, full-width, mathematical.
        assert_eq!(undo("expl٤in l١ght").as_deref(), Some("explain light"));
        assert_eq!(undo("Ph٥t٥synthesis").as_deref(), Some("Photosynthesis"));
        assert_eq!(undo("expl۴in").as_deref(), Some("explain"));
        assert_eq!(undo("expl４in").as_deref(), Some("explain"));
        assert_eq!(undo("expl𝟒in pr𝟎cess").as_deref(), Some("explain process"));
        // Arabic text keeps its digits, beside its letters or alone.
        for kept in [
            "الصفحة٣ من ٤",
            "رقم الطلب ١٢٣٤٥",
            "٣ كتب",
            "Order ٤٥ shipped",
        ] {
            assert_eq!(undo(kept), None, "{kept}");
        }
    }

    #[test]
    fn text_written_in_leetspeak_reads_word_edges_and_longer_runs() {
        assert_eq!(
            undo("7h3 5ugar f33d5 7h3 pl4n7 4nd 3nergy").as_deref(),
            Some("the sugar feeds the plant and energy")
        );
        assert_eq!(
            undo("Ph0705yn7h3515 15 7h3 pr0c355 pl4n75 u53 70 7urn l1gh7").as_deref(),
            Some("Photosynthesis 15 the process plants use 70 turn light")
        );
        // A number stays a number, and so do codes in capitals.
        assert_eq!(
            undo("7h3 r3v0lu710n b3g4n 1n 1789 w17h B2B").as_deref(),
            Some("the revolution began in 1789 with B2B")
        );
        // Ordinary text: edges and long runs stay, a few at a time.
        for kept in [
            "Your 3rd order: 2 x mp3 player, 4G router, 10am delivery, ref ab12345cd.",
            "COVID-19 rules from 5pm; code 4411; x86 and h264 support.",
            "Call 0800 123 456 before 6pm.",
            "Tagihan Rp226.440:\nAbonemen Rp150.000\nKuota Rp10.000\nNelpon Rp21.000\nPPN Rp21.010",
        ] {
            assert_eq!(undo(kept), None, "{kept}");
        }
    }

    #[test]
    fn narrow_spaces_between_letters_are_dropped() {
        let hair =
            "e\u{200A}x\u{200A}p\u{200A}l\u{200A}a\u{200A}i\u{200A}n t\u{2009}h\u{2009}i\u{2009}s";
        assert_eq!(undo(hair).as_deref(), Some("explain this"));
        // Between digits (a thousands separator), next to punctuation, or at the start: kept.
        for kept in ["1\u{2009}000", "« mot\u{2009}»", "\u{200A}a"] {
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

    #[test]
    fn formatting_inside_words_and_around_every_word_is_dropped() {
        assert_eq!(undo("e*x*p*l*a*i*n").as_deref(), Some("explain"));
        assert_eq!(undo("P**h**o**t**o").as_deref(), Some("Photo"));
        assert_eq!(
            undo("*The* *answer* *is* *simple*.").as_deref(),
            Some("The answer is simple.")
        );
        assert_eq!(
            undo("_one_ _two_ _three_ and ~four~").as_deref(),
            Some("one two three and ~four~")
        );
        // A label in bold, emphasis on one or two words, and markers between digits stay.
        for kept in [
            "*Order:* 1234",
            "Your *new* plan is *active*",
            "5*3 = 15",
            "__init__",
            "新宿**支店**で",
        ] {
            assert_eq!(undo(kept), None, "{kept}");
        }
    }

    #[test]
    fn emoji_between_letters_are_dropped() {
        assert_eq!(undo("P✨h✨o✨t✨o is").as_deref(), Some("Photo is"));
        assert_eq!(undo("expl🙂ain th👍🏽is").as_deref(), Some("explain this"));
        for kept in ["Thanks 🙂", "🙂 ok", "done ✅ next", "a 🙂 b"] {
            assert_eq!(undo(kept), None, "{kept}");
        }
    }

    #[test]
    fn dots_inside_words_are_dropped_but_not_in_addresses() {
        assert_eq!(
            undo("Photosy.nthesis is the pro.cess").as_deref(),
            Some("Photosynthesis is the process")
        );
        assert_eq!(undo("expl·ain wo•rd").as_deref(), Some("explain word"));
        for kept in [
            "Visit bank.com today",
            "on cvec.etudiant.gouv.fr. Then",
            "See notes.txt",
            "e.g. this",
            "www.example.org",
            "mail me at a.b@example.com",
            "https://x.example/a.b",
            "End. Next",
            "3.5 kg",
        ] {
            assert_eq!(undo(kept), None, "{kept}");
        }
    }

    #[test]
    fn the_narrow_no_break_space_is_dropped_between_letters_except_in_mongolian() {
        assert_eq!(undo("e\u{202F}x\u{202F}p").as_deref(), Some("exp"));
        assert_eq!(undo("ᠮᠣᠩᠭᠣᠯ\u{202F}ᠤᠨ"), None);
    }
}
