//! Normalisation that obfuscation cannot beat, applied before any feature is read.
//!
//! First, bidi overrides are applied ([`bidi`]): a phrase stored reversed after U+202E (RLO)
//! displays forwards, so it is read forwards. Then Latin words written in capitals of other
//! alphabets that look Latin only as capitals (`ТНЕ`, Cherokee), in fancy-text letters
//! (Canadian syllabics, Tifinagh) or upside down are read as Latin ([`fancy`]: the decision
//! needs the capitals, which lowercasing loses). Then narrow spaces between letters are
//! dropped and digits inside words read as the letters they stand for ([`disguise`]). Then, in
//! order, for every character of the text:
//! 1. default-ignorable code points are dropped: format characters, zero-width joiners, bidi
//!    controls and isolates, variation selectors, tag characters, U+180E, soft hyphens;
//! 2. compatibility decomposition (NFKD): full-width forms, mathematical alphanumerics,
//!    ligatures, circled and super-scripted letters become plain letters, and precomposed
//!    accents come apart, so NFC and NFD input read the same;
//! 3. combining marks on Latin, Greek, Cyrillic and Arabic letters are dropped (`é` → `e`,
//!    Arabic harakat); other scripts keep theirs, because Devanagari vowel signs or Japanese
//!    voicing marks carry meaning; stroked Latin letters, which have no decomposition, lose
//!    their stroke the same way (`ø`, `ł`, `đ`, `ŧ`);
//! 4. lowercase; every numeric character becomes `0`; a whitespace run becomes one space, or
//!    two when it is longer (a line break survives as `\n`, so that paragraphs stay visible,
//!    and two spaces survive so that a spaced-out word's breaks stay visible).
//!
//! Look-alike letters are mapped afterwards, word by word, in [`crate::classify::features`]:
//! a word must be seen whole to tell a Russian word from a Latin word dressed in Cyrillic.

mod bidi;
mod disguise;
mod fancy;

use std::sync::LazyLock;
use unicode_normalization::char::{
    canonical_combining_class, decompose_compatible, is_combining_mark,
};
mod letters;
use letters::{
    fold_letter, fold_punctuation, is_blank_filler, is_caseless_letter, lowercase_fast,
    marks_are_accents,
};
pub use letters::{is_ignorable, lookalike};
mod ascii;
use ascii::{
    ASCII_CLASS, ASCII_CONTROL, ASCII_STRETCH, STOP_AFTER_SPACE, STOP_ANYWHERE, STOP_MARKS,
    STOP_SIGN, STRETCH_END, STRETCH_PLAIN, STRETCH_SPACE, STRETCH_UPPER, decode,
};
#[cfg(test)]
use ascii::{ASCII_FOLD, is_ascii_space_class};
#[cfg(test)]
use planes::is_own_nfkd;
mod planes;
pub(crate) use planes::is_numeric;
use planes::{Wide, wide_class};
pub use planes::{is_word_char, prepare};

/// Appends the normalised form of `text` to `out`.
pub fn normalize_into(text: &str, out: &mut String) {
    let reordered = bidi::apply_overrides(text);
    let text = reordered.as_deref().unwrap_or(text);
    let latin = fancy::undo(text);
    let text = latin.as_deref().unwrap_or(text);
    let undone = disguise::undo(text);
    let text = undone.as_deref().unwrap_or(text);
    out.reserve(text.len());
    let mut state = Writer {
        out,
        last_space: true,
        double_space: false,
        accent_base: false,
    };
    state.push_text(text);
    while state.out.ends_with(' ') {
        state.out.pop();
    }
}

/// Canonical ordering of the combining marks that NFKD writes after a decomposed base: marks
/// (canonical combining class above 0) are held until the next starter or the end of the run,
/// then written sorted by class, stably, as `unicode-normalization`'s NFKD iterator does.
#[derive(Default)]
struct PendingMarks {
    /// The first held mark; most bases carry one, which needs no sorting and no allocation.
    first: Option<(u8, char)>,
    /// The held marks after the first.
    more: Vec<(u8, char)>,
}

impl PendingMarks {
    fn push(&mut self, class: u8, c: char) {
        if self.first.is_none() {
            self.first = Some((class, c));
        } else {
            self.more.push((class, c));
        }
    }

    /// Writes the held marks in canonical order.
    fn flush(&mut self, state: &mut Writer<'_>) {
        let Some(first) = self.first.take() else {
            return;
        };
        if self.more.is_empty() {
            state.push_decomposed(first.1);
            return;
        }
        self.more.insert(0, first);
        self.more.sort_by_key(|m| m.0);
        for &(_, c) in &self.more {
            state.push_decomposed(c);
        }
        self.more.clear();
    }
}

/// The normalised form of `text`.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    normalize_into(text, &mut out);
    out
}

struct Writer<'a> {
    out: &'a mut String,
    last_space: bool,
    /// The whitespace run being read has already given two spaces.
    double_space: bool,
    /// The last base character's marks are accents to drop.
    accent_base: bool,
}

impl Writer<'_> {
    /// Pushes `text`, in one pass over its bytes. Runs of characters that are their own normal
    /// form (ASCII letters and symbols, single spaces, and the non-ASCII characters of class
    /// [`Wide::Kept`] or [`Wide::KeptAccentBase`]) are copied whole, and ASCII capitals in them
    /// lowercased in place; every other character is written on its own: digits, whitespace
    /// and controls by [`Self::push_ascii`], the rest decomposed (NFKD, default-ignorables
    /// dropped first) with combining marks in canonical order.
    fn push_text(&mut self, text: &str) {
        let bytes = text.as_bytes();
        let mut marks = PendingMarks::default();
        // The copy run: where it starts, the byte classes it has seen, and which classes the
        // next byte may not have to extend it.
        let mut run = 0;
        let mut seen = 0u8;
        let mut stop = self.run_stop(&marks);
        let mut at = 0;
        while let Some(&b) = bytes.get(at) {
            if b.is_ascii() {
                let class = ASCII_STRETCH
                    .get(usize::from(b))
                    .copied()
                    .unwrap_or(STRETCH_END);
                if class & stop == 0 {
                    seen |= class;
                    stop = if class & STRETCH_SPACE != 0 {
                        STOP_AFTER_SPACE | STOP_SIGN
                    } else {
                        STOP_ANYWHERE | STOP_SIGN
                    };
                    at += 1;
                    continue;
                }
                self.push_run(text, run, at, seen);
                marks.flush(self);
                self.push_ascii(b);
                at += 1;
            } else {
                let (cp, len) = decode(bytes, at);
                let class = wide_class(cp);
                match class {
                    Wide::Kept if stop & STOP_MARKS == 0 => {
                        stop = STOP_ANYWHERE;
                        at += len;
                        continue;
                    }
                    Wide::KeptAccentBase if stop & STOP_MARKS == 0 => {
                        stop = STOP_ANYWHERE | STOP_SIGN;
                        at += len;
                        continue;
                    }
                    // A Devanagari vowel sign or virama (their own NFKD, so no marks are held
                    // before them) after a letter that takes no accents is written as it is.
                    Wide::Starter
                        if stop & (STOP_MARKS | STOP_SIGN) == 0
                            && (0x093E..=0x094D).contains(&cp) =>
                    {
                        at += len;
                        continue;
                    }
                    _ => {}
                }
                self.push_run(text, run, at, seen);
                let c = char::from_u32(cp).unwrap_or(char::REPLACEMENT_CHARACTER);
                match class {
                    // Cyrillic capitals but Й: their own NFKD, lowercased by offset.
                    Wide::Starter if matches!(cp, 0x0410..=0x0418 | 0x041A..=0x042F) => {
                        marks.flush(self);
                        self.accent_base = true;
                        self.letter(char::from_u32(cp + 0x20).unwrap_or(c));
                    }
                    Wide::KeptAccentBase | Wide::Kept | Wide::Starter => {
                        marks.flush(self);
                        self.push_decomposed(c);
                    }
                    Wide::Decompose if is_ignorable(c) => {}
                    Wide::Decompose => decompose_compatible(c, |d| {
                        let class = canonical_combining_class(d);
                        if class == 0 {
                            marks.flush(self);
                            self.push_decomposed(d);
                        } else {
                            marks.push(class, d);
                        }
                    }),
                }
                at += len;
            }
            run = at;
            seen = 0;
            stop = self.run_stop(&marks);
        }
        self.push_run(text, run, at, seen);
        marks.flush(self);
    }

    /// The classes that cannot start a copy run: a space after whitespace (the writer collapses
    /// runs of whitespace), and anything while combining marks are held.
    fn run_stop(&self, marks: &PendingMarks) -> u8 {
        let stop = if marks.first.is_some() {
            STOP_MARKS | STRETCH_END | STRETCH_SPACE | STRETCH_PLAIN
        } else if self.last_space {
            STOP_AFTER_SPACE
        } else {
            STOP_ANYWHERE
        };
        if self.accent_base {
            stop | STOP_SIGN
        } else {
            stop
        }
    }

    /// Copies the run `text[start..end]` (`seen`: the classes of its ASCII bytes) and takes the
    /// state its last character leaves.
    fn push_run(&mut self, text: &str, start: usize, end: usize, seen: u8) {
        let Some(run) = text.get(start..end).filter(|r| !r.is_empty()) else {
            return;
        };
        let len = self.out.len();
        self.out.push_str(run);
        if seen & STRETCH_UPPER != 0
            && let Some(pushed) = self.out.get_mut(len..)
        {
            pushed.make_ascii_lowercase();
        }
        match run.chars().next_back() {
            Some(' ') => {
                self.last_space = true;
                self.double_space = false;
                self.accent_base = false;
            }
            Some(c) => {
                self.last_space = false;
                self.accent_base = if c.is_ascii() {
                    c.is_ascii_alphabetic()
                } else {
                    wide_class(u32::from(c)) == Wide::KeptAccentBase
                };
            }
            None => {}
        }
    }

    fn push_ascii(&mut self, b: u8) {
        if ASCII_CLASS.get(usize::from(b)) == Some(&ASCII_CONTROL) {
            return;
        }
        self.accent_base = b.is_ascii_alphabetic();
        match b {
            b'\n' => self.newline(),
            b'\t' | 0x0B | 0x0C | b'\r' | b' ' => self.space(),
            b'0'..=b'9' => self.letter('0'),
            _ => self.letter(char::from(b.to_ascii_lowercase())),
        }
    }

    /// The same as [`Self::push_decomposed`] (checked in the tests), without its checks for
    /// the letters of the common scripts that are their own NFKD.
    #[cfg(test)]
    fn push_stable(&mut self, c: char) {
        match c {
            '\u{0410}'..='\u{042F}' => {
                self.accent_base = true;
                self.letter(char::from_u32(c as u32 + 0x20).unwrap_or(c));
            }
            '\u{0430}'..='\u{044F}' | '\u{0621}'..='\u{063F}' | '\u{0641}'..='\u{064A}' => {
                self.accent_base = true;
                self.letter(c);
            }
            '\u{0905}'..='\u{0939}' | '\u{4E00}'..='\u{9FFF}' => {
                self.accent_base = false;
                self.letter(c);
            }
            // Devanagari vowel signs and virama: combining marks, kept.
            '\u{093E}'..='\u{094D}' if !self.accent_base => self.letter(c),
            _ => self.push_decomposed(c),
        }
    }

    fn push_decomposed(&mut self, c: char) {
        if is_combining_mark(c) {
            if !self.accent_base {
                self.letter(c);
            }
            return;
        }
        // Default-ignorables, and C1 controls (NEL aside, a line break below): no glyph.
        if is_ignorable(c) || (('\u{80}'..='\u{9F}').contains(&c) && c != '\u{85}') {
            return;
        }
        if is_blank_filler(c) {
            self.accent_base = false;
            self.space();
            return;
        }
        let c = fold_letter(c).unwrap_or(c);
        self.accent_base = marks_are_accents(c);
        if c.is_ascii() {
            // NFKD turned a full-width or styled character into ASCII.
            if let Ok(b) = u8::try_from(c) {
                self.push_ascii(b);
            }
        } else if is_caseless_letter(c) {
            self.letter(c);
        } else if c == '\u{2028}' || c == '\u{2029}' || c == '\u{0085}' {
            self.newline();
        } else if c.is_whitespace() {
            self.space();
        } else if is_numeric(c) {
            self.letter('0');
        } else if let Some(l) = lowercase_fast(c) {
            self.letter(l);
        } else {
            for l in c.to_lowercase() {
                self.letter(fold_punctuation(l));
            }
        }
    }

    fn letter(&mut self, c: char) {
        self.out.push(c);
        self.last_space = false;
    }

    /// One space for a run of whitespace, two for a longer run: spaced-out words
    /// (`h e l l o  w o r l d`) keep their word breaks.
    fn space(&mut self) {
        if !self.last_space {
            self.out.push(' ');
            self.last_space = true;
            self.double_space = false;
        } else if !self.double_space && !self.out.is_empty() && !self.out.ends_with('\n') {
            self.out.push(' ');
            self.double_space = true;
        }
    }

    fn newline(&mut self) {
        while self.out.ends_with(' ') {
            self.out.pop();
        }
        if !self.out.is_empty() && !self.out.ends_with("\n\n") {
            self.out.push('\n');
        }
        self.last_space = true;
    }
}

/// The normaliser as it was before the one-pass rewrite (an ASCII scan, then three passes over
/// each non-ASCII run: its own-NFKD letters, the end of the rest, and `unicode-normalization`'s
/// NFKD iterator over it): the tests compare the two on every code point and on mixed texts.
#[cfg(test)]
mod reference {
    use super::*;
    use unicode_normalization::UnicodeNormalization;

    /// The normaliser before its one-pass rewrite, as it was: the reference of the tests.
    pub(super) fn normalize_into(text: &str, out: &mut String) {
        let reordered = bidi::apply_overrides(text);
        let text = reordered.as_deref().unwrap_or(text);
        let latin = fancy::undo(text);
        let text = latin.as_deref().unwrap_or(text);
        let undone = disguise::undo(text);
        let text = undone.as_deref().unwrap_or(text);
        let mut state = Writer {
            out,
            last_space: true,
            double_space: false,
            accent_base: false,
        };
        let mut rest = text;
        while !rest.is_empty() {
            // ASCII runs (most WhatsApp text) need no decomposition.
            let run = rest
                .bytes()
                .position(|b| !b.is_ascii())
                .unwrap_or(rest.len());
            let (ascii, tail) = rest.split_at_checked(run).unwrap_or((rest, ""));
            state.push_ascii_run(ascii.as_bytes());
            // An ASCII byte is always a character of its own in UTF-8.
            let end = tail
                .bytes()
                .position(|b| b.is_ascii())
                .unwrap_or(tail.len());
            let (wide, next) = tail.split_at_checked(end).unwrap_or((tail, ""));
            push_wide(&mut state, wide);
            rest = next;
        }
        while state.out.ends_with(' ') {
            state.out.pop();
        }
    }

    /// Decomposes a run of non-ASCII text. Characters that are their own NFKD and take no marks
    /// of a script whose marks are kept go straight through; the rest is decomposed in runs.
    pub(super) fn push_wide(state: &mut Writer<'_>, wide: &str) {
        let mut rest = wide;
        while !rest.is_empty() {
            let mut stable = rest.len();
            for (i, c) in rest.char_indices() {
                if !is_own_nfkd(c) {
                    stable = i;
                    break;
                }
                state.push_stable(c);
            }
            let tail = rest.get(stable..).unwrap_or("");
            let unstable = tail
                .char_indices()
                .find(|(_, c)| is_own_nfkd(*c))
                .map_or(tail.len(), |(i, _)| i);
            let (decompose, next) = tail.split_at_checked(unstable).unwrap_or((tail, ""));
            for c in decompose.chars().filter(|c| !is_ignorable(*c)).nfkd() {
                state.push_decomposed(c);
            }
            rest = next;
        }
    }

    impl Writer<'_> {
        /// A run of ASCII bytes: the same as `push_ascii` on each. Stretches without whitespace
        /// are mapped through a table in one go; whitespace keeps its bookkeeping.
        fn push_ascii_run(&mut self, run: &[u8]) {
            self.out.reserve(run.len());
            let mut rest = run;
            while let Some((&first, _)) = rest.split_first() {
                let stretch = rest
                    .iter()
                    .position(|&b| is_ascii_space_class(b))
                    .unwrap_or(rest.len());
                if stretch == 0 {
                    self.push_ascii(first);
                    rest = rest.get(1..).unwrap_or_default();
                    continue;
                }
                let (plain, tail) = rest.split_at_checked(stretch).unwrap_or((rest, &[]));
                self.out.extend(
                    plain
                        .iter()
                        .map(|&b| char::from(ASCII_FOLD.get(usize::from(b)).copied().unwrap_or(b))),
                );
                self.last_space = false;
                self.accent_base = plain.last().is_some_and(u8::is_ascii_alphabetic);
                rest = tail;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use unicode_normalization::UnicodeNormalization;

    #[test]
    fn ignorables_match_the_unicode_table() {
        // unicode-security's skeleton drops exactly the Default_Ignorable_Code_Points.
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            let mut buf = [0u8; 4];
            let dropped = unicode_security::skeleton(c.encode_utf8(&mut buf))
                .next()
                .is_none();
            if dropped {
                assert!(
                    is_ignorable(c) || is_blank_filler(c),
                    "{:04X} is default-ignorable",
                    c as u32
                );
            }
        }
    }

    #[test]
    fn every_invisible_family_is_dropped() {
        let plain = normalize("explain photosynthesis");
        for hidden in [
            "ex\u{200B}plain photo\u{200D}synthesis",
            "ex\u{2066}plain\u{2069} photo\u{202E}\u{202C}synthesis",
            "ex\u{FE0F}plain photo\u{FE00}synthesis",
            "ex\u{E0041}plain photo\u{E007F}synthesis",
            "ex\u{180E}plain photo\u{00AD}synthesis",
            "ex\u{2060}plain photo\u{FEFF}synthesis",
        ] {
            assert_eq!(normalize(hidden), plain, "{hidden:?}");
        }
    }

    /// Found in review round 1: a phrase stored reversed inside U+202E … U+202C displays
    /// forwards; dropping the controls alone read it reversed.
    #[test]
    fn bidi_overrides_are_applied_before_the_controls_are_dropped() {
        assert_eq!(
            normalize("\u{202E}ledom egaugnal IA na sA\u{202C}, order 4411 shipped."),
            normalize("As an AI language model, order 4411 shipped.")
        );
        assert_eq!(
            normalize("Ship \u{202E}ecnerefer\u{202C} 0"),
            "ship reference 0"
        );
        // An override closed by the line break: the next line is read as stored.
        assert_eq!(
            normalize("\u{202E}ereh nigeb\nsrewsna"),
            "begin here\nsrewsna"
        );
    }

    #[test]
    fn blank_fillers_small_capitals_and_enclosed_letters_fold() {
        assert_eq!(
            normalize("explain\u{2800}this\u{3164}now"),
            "explain this now"
        );
        assert_eq!(normalize("ᴇxᴘʟᴀɪɴ"), "explain");
        assert_eq!(normalize("🅴🆇🅿🅻🅰🅸🅽"), "explain");
        assert_eq!(normalize("\u{1F1EA}\u{1F1FD}\u{1F1F5}"), "exp");
        assert_eq!(normalize("ex\u{FFF9}pl\u{13430}ain"), "explain");
        assert_eq!(normalize("كـــتاب"), normalize("كتاب"));
        assert_eq!(normalize("یک"), normalize("يك"));
    }

    #[test]
    fn stroked_letters_fold() {
        assert_eq!(
            normalize("Pħøŧøsɏnŧħɇsɨs ɨs ŧħɇ pɍøȼɇss"),
            "photosynthesis is the process"
        );
        assert_eq!(
            normalize("ⱥnđ ƀɍɇⱥđ ʉsɇ ǥⱥs ꝁɨŧ ƶøø ɉɇŧ"),
            "and bread use gas kit zoo jet"
        );
        assert_eq!(normalize("ØRSTED ŁÓDŹ ĐÀ NẴNG"), "orsted lodz da nang");
        // Polish, Danish and Vietnamese read as their accents do: the base letters.
        assert_eq!(
            normalize("Dziękuję, złożyłem wniosek"),
            "dziekuje, zlozylem wniosek"
        );
        assert_eq!(normalize("Tôi đã đặt hàng"), "toi da dat hang");
        assert_eq!(normalize("Smørrebrød på bordet"), "smorrebrod pa bordet");
    }

    /// Capital look-alikes of Latin letters, fancy-text alphabets and turned text
    /// (`normalize/fancy.rs`), through the whole normaliser.
    #[test]
    fn capitals_fancy_text_and_turned_text_read_as_latin() {
        assert_eq!(normalize("ТНЕ ΡRΟСΕSS"), "the process");
        assert_eq!(normalize("ᎢᎻᎬ ᏢᏒOᏟᎬᏚᏚ"), "the process");
        assert_eq!(normalize("ᑭᕼⵔTⵔᔕYᑎTᕼᕮᔕIᔕ Iᔕ"), "photosynthesis is");
        assert_eq!(normalize("˙ssǝɔoɹd ǝɥʇ sı"), "is the process.");
        // Russian and Greek in capitals stay.
        assert_eq!(normalize("НЕТ, СПАСИБО"), "нет, спасибо");
        assert_eq!(normalize("ΚΑΙ ΤΟ ΣΠΙΤΙ"), "και το σπιτι");
    }

    #[test]
    fn compatibility_forms_fold() {
        assert_eq!(normalize("Ｅｘｐｌａｉｎ"), "explain");
        assert_eq!(normalize("𝐄𝐱𝐩𝐥𝐚𝐢𝐧 𝘵𝘩𝘪𝘴"), "explain this");
        assert_eq!(normalize("𝔢𝔵𝔭𝔩𝔞𝔦𝔫"), "explain");
        assert_eq!(normalize("ﬁnal"), "final");
    }

    #[test]
    fn nfc_and_nfd_read_the_same() {
        let nfc = "Voilà une réponse détaillée";
        let nfd: String = nfc.nfd().collect();
        assert_ne!(nfc, nfd);
        assert_eq!(normalize(nfc), normalize(&nfd));
        assert_eq!(normalize(nfc), "voila une reponse detaillee");
    }

    #[test]
    fn other_scripts_keep_their_marks() {
        // Devanagari vowel signs and the Japanese voicing mark survive (decomposed).
        assert!(normalize("किताब").contains('\u{093F}'));
        assert_eq!(normalize("が"), normalize("か\u{3099}"));
        assert_ne!(normalize("が"), normalize("か"));
    }

    #[test]
    fn digits_whitespace_and_lines() {
        assert_eq!(normalize("Order #٣٤5\t\tshipped"), "order #000  shipped");
        assert_eq!(normalize("a\n\n\n\nb \n c"), "a\n\nb\nc");
        assert_eq!(normalize("  x  "), "x");
    }

    #[test]
    fn own_nfkd_characters_have_no_decomposition() {
        for c in (0..0x11_0000u32)
            .filter_map(char::from_u32)
            .filter(|c| is_own_nfkd(*c))
        {
            let d: String = c.to_string().nfkd().collect();
            assert_eq!(d, c.to_string(), "{:04X}", c as u32);
            assert!(!is_combining_mark(c) || !marks_are_accents(c));
        }
    }

    /// The one-pass normaliser writes what the one before it wrote: every code point alone, after
    /// an ASCII letter and after a Devanagari letter (whose marks are kept), and between marks
    /// of different combining classes.
    #[test]
    fn one_pass_matches_the_reference_on_every_code_point() {
        let reference = |t: &str| {
            let mut out = String::new();
            reference::normalize_into(t, &mut out);
            out
        };
        for c in (0x80..0x11_0000u32).filter_map(char::from_u32) {
            for text in [
                format!("{c}"),
                format!("a{c}b"),
                format!("x \u{0915}{c}\u{0301}"),
                format!("\u{0915}\u{0323}{c}\u{0301}\u{093C}"),
                format!("Q{c}{c}  {c}\n{c}\u{0430}"),
            ] {
                assert_eq!(normalize(&text), reference(&text), "{:04X}", c as u32);
            }
        }
    }

    /// Mixed texts: random strings over pieces of every kind the normaliser tells apart.
    #[test]
    fn one_pass_matches_the_reference_on_mixed_texts() {
        const PIECES: &[&str] = &[
            "Hello",
            "WORLD",
            " ",
            "  ",
            "\t",
            "\n",
            "\r\n",
            "\n\n\n",
            "42",
            "\u{1}",
            "\u{7F}",
            ".",
            "?",
            "#",
            "é",
            "e\u{0301}",
            "\u{0301}",
            "\u{0323}",
            "\u{0301}\u{0323}\u{0308}",
            "Привет",
            "мир",
            "Й",
            "й",
            "ё",
            "كتاب",
            "\u{064E}",
            "\u{0640}",
            "یک",
            "किताब",
            "\u{0929}",
            "\u{093C}",
            "\u{094D}",
            "\u{0951}",
            "注文",
            "が",
            "\u{3099}",
            "。",
            "、",
            "ｆｕｌｌ",
            "𝐄𝐱",
            "ﬁ",
            "…",
            "\u{200B}",
            "\u{00AD}",
            "\u{2800}",
            "\u{3164}",
            "ᴇxᴘ",
            "🅴",
            "🙂",
            "\u{FE0F}",
            "\u{202E}ab\u{202C}",
            "\u{2028}",
            "\u{85}",
            "\u{A0}",
            "\u{3000}",
            "٣",
            "Ⅻ",
            "ภาษา",
            "\u{0E33}",
            "한국어",
            "Ω",
            "ς",
            "İ",
            "ß",
            "\u{1D173}",
            "\u{E0041}",
            "\u{FFF9}",
            "\u{0345}",
            "\u{0344}",
            "\u{0F73}",
        ];
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let mut text = String::new();
            for _ in 0..(1 + next() % 24) {
                text.push_str(PIECES[(next() % PIECES.len() as u64) as usize]);
            }
            let mut want = String::new();
            reference::normalize_into(&text, &mut want);
            assert_eq!(normalize(&text), want, "{text:?}");
        }
    }

    /// Own-NFKD letters are never decomposed, and characters copied as they are are what the
    /// writer writes for them.
    #[test]
    fn wide_classes_agree_with_the_writer() {
        for c in (0x80..0x11_0000u32).filter_map(char::from_u32) {
            let class = wide_class(u32::from(c));
            if is_own_nfkd(c) {
                assert_ne!(class, Wide::Decompose, "{:04X}", c as u32);
            }
            if matches!(class, Wide::KeptAccentBase | Wide::Kept) {
                for accent_base in [false, true] {
                    let mut out = String::from("x");
                    let mut w = Writer {
                        out: &mut out,
                        last_space: true,
                        double_space: false,
                        accent_base,
                    };
                    w.push_decomposed(c);
                    let state = (w.last_space, w.accent_base);
                    assert_eq!(out, format!("x{c}"), "{:04X}", c as u32);
                    assert_eq!(
                        state,
                        (false, class == Wide::KeptAccentBase),
                        "{:04X}",
                        c as u32
                    );
                }
                let d: String = c.to_string().nfkd().collect();
                assert_eq!(d, c.to_string(), "{:04X}", c as u32);
                assert!(!is_ignorable(c));
            }
        }
    }

    #[test]
    fn the_stable_fast_path_is_the_decomposed_path() {
        for c in (0..0x11_0000u32).filter_map(char::from_u32) {
            for accent_base in [false, true] {
                let (mut a, mut b) = (String::from("x"), String::from("x"));
                let mut fast = Writer {
                    out: &mut a,
                    last_space: true,
                    double_space: false,
                    accent_base,
                };
                fast.push_stable(c);
                let fast = (fast.last_space, fast.double_space, fast.accent_base);
                let mut slow = Writer {
                    out: &mut b,
                    last_space: true,
                    double_space: false,
                    accent_base,
                };
                slow.push_decomposed(c);
                let slow = (slow.last_space, slow.double_space, slow.accent_base);
                assert_eq!((a, fast), (b, slow), "{c:?}");
            }
        }
    }

    #[test]
    fn plane_classes_match_the_unicode_tables() {
        for c in (0..0x11_0000u32).filter_map(char::from_u32) {
            assert_eq!(
                is_word_char(c),
                c.is_alphanumeric() || is_combining_mark(c),
                "{c:?}"
            );
            assert_eq!(is_numeric(c), c.is_numeric(), "{c:?}");
        }
    }

    #[test]
    fn fast_lowercase_agrees_with_the_unicode_tables() {
        for c in (0..0x1_0000u32).filter_map(char::from_u32) {
            if let Some(l) = lowercase_fast(c) {
                let mut want = c.to_lowercase();
                assert_eq!((want.next(), want.next()), (Some(l), None), "{c:?}");
            }
        }
    }

    #[test]
    fn lookalikes_map_to_latin() {
        assert_eq!(lookalike('а'), Some('a')); // Cyrillic a
        assert_eq!(lookalike('е'), Some('e')); // Cyrillic ie
        assert_eq!(lookalike('ο'), Some('o')); // Greek omicron
        assert_eq!(lookalike('ѕ'), Some('s')); // Cyrillic dze
        assert_eq!(lookalike('і'), Some('i')); // Ukrainian i
        assert_eq!(lookalike('ɑ'), Some('a')); // Latin alpha
        assert_eq!(lookalike('a'), None);
        assert_eq!(lookalike('ж'), None);
    }
}
