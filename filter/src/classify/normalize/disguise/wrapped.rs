//! WhatsApp's formatting markers (`*`, `_`, `~`) wrapped round three or more words in a row,
//! one by one: dropped, so the words read as words.

/// How many words in a row, each wrapped in its own formatting markers, are a disguise rather
/// than emphasis.
pub(super) const MIN_WRAPPED_RUN: usize = 3;

/// The text with the markers of every run of [`MIN_WRAPPED_RUN`] or more words wrapped one by
/// one (`*the* *answer* *is*`, `_a_ _b_ _c_`) dropped, or `None` when it has none.
pub(super) fn unwrap_formatted_runs(text: &str) -> Option<String> {
    // Cheap first: at least MIN_WRAPPED_RUN markers that open a word (after a blank or at the
    // start, before a letter or digit).
    let bytes = text.as_bytes();
    memchr::memchr3(b'*', b'_', b'~', bytes)?;
    let openings = bytes
        .iter()
        .enumerate()
        .filter(|&(i, b)| {
            matches!(b, b'*' | b'_' | b'~')
                && i.checked_sub(1)
                    .and_then(|p| bytes.get(p))
                    .is_none_or(u8::is_ascii_whitespace)
                && bytes
                    .get(i + 1)
                    .is_some_and(|n| n.is_ascii_alphanumeric() || *n >= 0x80)
        })
        .take(MIN_WRAPPED_RUN)
        .count();
    if openings < MIN_WRAPPED_RUN {
        return None;
    }
    // The byte ranges of the words (between blanks) and their markers, if wrapped.
    let mut words: Vec<(usize, Option<(usize, usize)>)> = Vec::new();
    let mut drop: Vec<usize> = Vec::new();
    let mut start = None;
    let flush = |words: &mut Vec<(usize, Option<(usize, usize)>)>, drop: &mut Vec<usize>| {
        let run = words.iter().rev().take_while(|w| w.1.is_some()).count();
        if run >= MIN_WRAPPED_RUN {
            let from = words.len() - run;
            for (_, markers) in words.get(from..).unwrap_or_default() {
                if let Some((open, close)) = markers {
                    drop.extend([*open, *close]);
                }
            }
        }
        words.clear();
    };
    for (i, c) in text
        .char_indices()
        .chain(std::iter::once((text.len(), ' ')))
    {
        if c.is_whitespace() {
            if let Some(s) = start.take() {
                let markers =
                    wrapped(text.get(s..i).unwrap_or_default()).map(|(o, e)| (s + o, s + e));
                if markers.is_none() {
                    flush(&mut words, &mut drop);
                }
                words.push((s, markers));
            }
            if c == '\n' {
                flush(&mut words, &mut drop);
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    flush(&mut words, &mut drop);
    if drop.is_empty() {
        return None;
    }
    drop.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut from = 0;
    for at in drop {
        out.push_str(text.get(from..at).unwrap_or_default());
        from = at + 1;
    }
    out.push_str(text.get(from..).unwrap_or_default());
    Some(out)
}

/// The byte offsets of the opening and closing marker of a word wrapped in one formatting
/// marker (`*word*`, `(_word_),`): punctuation may stand outside the markers, the marker is
/// the same on both sides, and the word inside has a letter and no marker.
pub(super) fn wrapped(word: &str) -> Option<(usize, usize)> {
    let is_marker = |c: char| matches!(c, '*' | '_' | '~');
    let outside = |c: char| !c.is_alphanumeric() && !is_marker(c);
    let open = word.find(|c: char| !outside(c))?;
    let close = word.rfind(|c: char| !outside(c))?;
    let marker = word.get(open..)?.chars().next()?;
    let inner = word.get(open + 1..close)?;
    (is_marker(marker)
        && close > open + 1
        && word.get(close..)?.starts_with(marker)
        && !inner.contains(is_marker)
        && inner.chars().any(char::is_alphabetic))
    .then_some((open, close))
}
