//! Windows of long paragraphs: runs of whole sentences of about `WINDOW_WORDS` words.

use super::*;

/// The windows of a long paragraph: runs of whole sentences of about [`WINDOW_WORDS`] words,
/// each starting about half a window after the previous one, as byte ranges.
pub(super) fn windows(paragraph: &str) -> Vec<std::ops::Range<usize>> {
    windows_of_sentences(&sentence_spans(paragraph), paragraph.len())
}

/// The sentences of a text as `(start, end, words)`, in one pass: a sentence ends after `.`,
/// `!`, `?` (and their CJK, Arabic and Devanagari forms) followed by a blank or the end, and
/// after every line break. Its words are its blank-separated runs, and each CJK or Thai
/// character. The spans cover the whole text (blanks included); an empty text is one empty
/// sentence.
pub fn sentence_spans(paragraph: &str) -> Vec<(usize, usize, usize)> {
    let mut sentences: Vec<(usize, usize, usize)> = Vec::new();
    let (mut start, mut words, mut in_word) = (0, 0, false);
    let bytes = paragraph.as_bytes();
    let blank_at = |i: usize| -> bool {
        match bytes.get(i) {
            None => true,
            Some(&b) if b.is_ascii() => is_ascii_blank(b),
            Some(_) => paragraph
                .get(i..)
                .and_then(|t| t.chars().next())
                .is_some_and(features::is_blank),
        }
    };
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if is_plain_ascii(b) {
            // A run of ASCII bytes that neither end a sentence nor separate words: one word
            // at most, so only its first byte counts.
            words += usize::from(!in_word);
            in_word = true;
            i += 1;
            i += bytes
                .get(i..)
                .and_then(|rest| rest.iter().position(|&b| !is_plain_ascii(b)))
                .unwrap_or(bytes.len().saturating_sub(i));
            continue;
        }
        let (end, blank, cjk, closes) = if b.is_ascii() {
            // The common case, without decoding.
            let closes = match b {
                b'\n' => true,
                b'.' | b'!' | b'?' => blank_at(i + 1),
                _ => false,
            };
            (i + 1, is_ascii_blank(b), false, closes)
        } else if b < 0xE0 {
            // Two-byte characters: Latin, Greek, Cyrillic, Arabic (`؟` is D8 9F).
            let c = paragraph.get(i..).and_then(|t| t.chars().next());
            let closes = c == Some('؟') && blank_at(i + 2);
            let blank = c.is_some_and(features::is_blank);
            (i + 2, blank, false, closes)
        } else {
            let Some(c) = paragraph.get(i..).and_then(|t| t.chars().next()) else {
                break;
            };
            let end = i + c.len_utf8();
            let closes = match c {
                '。' | '！' | '？' => true,
                '।' => blank_at(end),
                _ => false,
            };
            (end, features::is_blank(c), is_cjk_word(c), closes)
        };
        if blank {
            in_word = false;
        } else {
            words += usize::from(!in_word) + usize::from(cjk);
            in_word = true;
        }
        i = end;
        if closes {
            sentences.push((start, end, words));
            (start, words, in_word) = (end, 0, false);
        }
    }
    if start < paragraph.len() || sentences.is_empty() {
        sentences.push((start, paragraph.len(), words));
    }
    sentences
}

/// Groups sentences `(start, end, words)` into windows of about [`WINDOW_WORDS`] words, each
/// starting about half a window after the previous one; the last window reaches `len`.
pub(super) fn windows_of_sentences(
    sentences: &[(usize, usize, usize)],
    len: usize,
) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut since_last = usize::MAX;
    for (i, &(from, _, words)) in sentences.iter().enumerate() {
        if since_last >= WINDOW_WORDS / 2 {
            let mut total = 0;
            let mut to = from;
            for &(_, end, w) in sentences.iter().skip(i) {
                total += w;
                to = end;
                if total >= WINDOW_WORDS {
                    break;
                }
            }
            out.push(from..to);
            since_last = 0;
            if to == len {
                break;
            }
        }
        since_last += words;
    }
    out
}

/// ASCII bytes other than blanks and the sentence ends `.`, `!`, `?` (and `\n`, a blank).
pub(super) fn is_plain_ascii(b: u8) -> bool {
    PLAIN_ASCII.get(usize::from(b)).copied().unwrap_or(false)
}

#[expect(
    clippy::indexing_slicing,
    reason = "evaluated at compile time: an out-of-range index fails the build, never a request"
)]
pub(super) static PLAIN_ASCII: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 128 {
        t[b] = !matches!(
            b as u8,
            b'\t' | b'\n' | 0x0B | 0x0C | b'\r' | b' ' | b'.' | b'!' | b'?'
        );
        b += 1;
    }
    t
};

pub(super) fn is_ascii_blank(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0B | 0x0C | b'\r' | b' ')
}

/// Characters the featuriser counts as a word each (Han, kana, Thai).
pub(super) fn is_cjk_word(c: char) -> bool {
    matches!(c, '\u{3040}'..='\u{30FF}' | '\u{3400}'..='\u{9FFF}' | '\u{0E00}'..='\u{0E7F}')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sentence splitter as first written (three passes): the reference for the one-pass
    /// splitter; both group sentences with `windows_of_sentences`.
    fn windows_reference(paragraph: &str) -> Vec<std::ops::Range<usize>> {
        let mut ends: Vec<usize> = Vec::new();
        let mut chars = paragraph.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            let end = i + c.len_utf8();
            let closes = match c {
                '\n' | '。' | '！' | '？' => true,
                '.' | '!' | '?' | '؟' | '।' => {
                    chars.peek().is_none_or(|(_, n)| n.is_whitespace())
                }
                _ => false,
            };
            if closes {
                ends.push(end);
            }
        }
        if ends.last() != Some(&paragraph.len()) {
            ends.push(paragraph.len());
        }
        let mut start = 0;
        let sentences: Vec<(usize, usize, usize)> = ends
            .iter()
            .map(|&end| {
                let text = &paragraph[start..end];
                let words = text.split_whitespace().count()
                    + text.chars().filter(|c| is_cjk_word(*c)).count();
                let s = (start, end, words);
                start = end;
                s
            })
            .collect();
        windows_of_sentences(&sentences, paragraph.len())
    }

    /// Long paragraphs of sentences in several scripts, with every sentence end the splitter
    /// knows, numbers, questions and links; with `tight`, a full-width `。`, `！` or `？` may be
    /// followed by a letter.
    fn paragraphs(tight: bool) -> Vec<String> {
        const PIECES: &[&str] = &[
            "the",
            "order",
            "Shipped",
            "42",
            "#A1234",
            "привет",
            "мир",
            "注文",
            "です",
            "كتاب",
            "किताब",
            "ภาษา",
            "http://x.example",
            "why",
            "e x p l a i n",
            "🙂",
            "a\u{00A0}b",
        ];
        const ENDS: &[&str] = &[
            ". ", "! ", "? ", "\n", "。", "！", "？", "؟ ", "। ", ", ", " ", " ", " ", ".", "...",
        ];
        let mut state = 0x0DDB_1A5E_5BAD_5EEDu64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        (0..300)
            .map(|_| {
                let mut p = String::new();
                for _ in 0..(100 + next() % 400) {
                    p.push_str(PIECES[(next() % PIECES.len() as u64) as usize]);
                    let end = ENDS[(next() % ENDS.len() as u64) as usize];
                    p.push_str(end);
                    if !tight && end.chars().all(|c| "。！？".contains(c)) {
                        p.push(' ');
                    }
                }
                p
            })
            .collect()
    }

    #[test]
    fn windows_match_the_reference() {
        for raw in paragraphs(true) {
            for p in [normalize::normalize(&raw), raw.clone()] {
                assert_eq!(windows(&p), windows_reference(&p), "{p:?}");
            }
        }
    }

    /// A window summed from its paragraph's pass is the window featurised on its own: the
    /// same sums, words and (for a paragraph without line-based signals) shape.
    #[test]
    fn windows_from_marks_are_the_windows_featurised() {
        let c = Classifier::compile(&serde_json::from_str("{}").unwrap()).unwrap();
        let (mut scratch, mut marks) = (Scratch::default(), Vec::new());
        let mut compared = 0;
        for raw in paragraphs(false) {
            let text = normalize::normalize(&raw);
            for p in features::paragraphs(&text) {
                let part = c.part(p, Band(2), &mut scratch, &mut marks, true);
                let index = Marks::new(&marks);
                let windows = windows(p);
                for w in &windows {
                    let got = index.window(c.model.lookup(Band(2)), p, &part.shape, w);
                    let want = c.part(&p[w.clone()], Band(2), &mut scratch, &mut Vec::new(), false);
                    // A spaced-out word can run across a `。` directly followed by a letter, where
                    // a window may start; such a window differs by design, and is not generated.
                    // A symbol outside ASCII counts at most MAX_SYMBOL_REPEATS times in the
                    // paragraph, so a window of a paragraph with more copies has fewer of its
                    // features than the window read alone, by design too.
                    let symbol_counts = p
                        .chars()
                        .filter(|c| !c.is_ascii() && !c.is_alphanumeric() && !c.is_whitespace());
                    let capped = symbol_counts.clone().any(|c| {
                        symbol_counts.clone().filter(|d| *d == c).count()
                            > usize::from(features::MAX_SYMBOL_REPEATS)
                    });
                    if capped {
                        assert!(
                            got.n <= want.n && got.words == want.words,
                            "{:?}",
                            &p[w.clone()]
                        );
                    } else {
                        assert_eq!(
                            (got.q, got.n, got.words),
                            (want.q, want.n, want.words),
                            "{:?}",
                            &p[w.clone()]
                        );
                    }
                    // Line-based signals (headings, bold, lists, tables: ids 0, 1, 2, 5) are
                    // not read in a window of a paragraph without them: a sentence that starts
                    // mid-line is no line start. The rest is the window's own.
                    let line_based = 1 << 0 | 1 << 1 | 1 << 2 | 1 << 5;
                    let (g, w_) = (got.shape.structure().0, want.shape.structure().0);
                    assert_eq!(g & !line_based, w_ & !line_based, "{:?}", &p[w.clone()]);
                    assert_eq!(g & line_based & !w_, 0);
                    assert_eq!(got.shape.chars(), want.shape.chars());
                    compared += 1;
                }
            }
        }
        assert!(compared > 1000, "{compared}");
    }
}
