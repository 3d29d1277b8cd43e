//! Where each token's and word's features start in the running sums of a paragraph, so that
//! windows and explanations are read without featurising again; and the bucket counts
//! explanations are built from.

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum MarkKind {
    Token,
    Word,
    /// After the last feature.
    End,
}

/// The running sums where a token's or a word's features start, and where its link's do.
#[derive(Debug, Clone, Copy)]
pub(super) struct Mark {
    /// The byte of the paragraph where its token or word starts.
    pub(super) at: usize,
    /// A word's hash.
    pub(super) hash: u64,
    pub(super) kind: MarkKind,
    pub(super) q: i64,
    pub(super) n: u32,
    /// The running sums where the features of its link to the one before start (its own
    /// features end there); none for the first token and the first word.
    pub(super) link: Option<(i64, u32)>,
}

/// The marks of one paragraph: its tokens' (in text order), then its words' (in text order),
/// then the end. A window's sums are the differences of the running sums over the tokens and
/// the words that start inside it, less the link of the first of each to the one before the
/// window; its position features are computed from its first, second and last words' hashes.
pub(super) struct Marks<'a> {
    pub(super) tokens: &'a [Mark],
    pub(super) words: &'a [Mark],
    /// The running sums after the tokens (where the words start) and after the words.
    pub(super) after_tokens: (i64, u32),
    pub(super) end: (i64, u32),
}

impl<'a> Marks<'a> {
    pub(super) fn new(marks: &'a [Mark]) -> Self {
        let split = marks
            .iter()
            .position(|m| m.kind != MarkKind::Token)
            .unwrap_or(marks.len());
        let (tokens, rest) = marks.split_at_checked(split).unwrap_or((marks, &[]));
        let (words, end) = match rest.split_last() {
            Some((last, words)) if last.kind == MarkKind::End => (words, (last.q, last.n)),
            _ => (rest, (0, 0)),
        };
        let after_tokens = rest.first().map_or(end, |m| (m.q, m.n));
        Self {
            tokens,
            words,
            after_tokens,
            end,
        }
    }

    /// The sums of the marks of `section` that start in `range`, without the first one's link,
    /// and those marks.
    pub(super) fn section(
        section: &'a [Mark],
        after: (i64, u32),
        range: &std::ops::Range<usize>,
    ) -> (i64, u32, &'a [Mark]) {
        let from = section.partition_point(|m| m.at < range.start);
        let to = section.partition_point(|m| m.at < range.end);
        let at = |i: usize| section.get(i).map_or(after, |m| (m.q, m.n));
        let (start, end) = (at(from), at(to));
        let (mut q, mut n) = (end.0 - start.0, end.1.saturating_sub(start.1));
        if from < to
            && let Some((link_q, link_n)) = section.get(from).and_then(|m| m.link)
        {
            let after_link = at(from + 1);
            q -= after_link.0 - link_q;
            n = n.saturating_sub(after_link.1.saturating_sub(link_n));
        }
        (q, n, section.get(from..to).unwrap_or_default())
    }

    /// The window `range` of the paragraph `text` (of shape `shape`) as a part: summed from the
    /// marks, with its own position features and structural signals.
    pub(super) fn window(
        &self,
        lookup: Lookup,
        text: &str,
        shape: &Shape,
        range: &std::ops::Range<usize>,
    ) -> Part {
        let (tq, tn, _) = Self::section(self.tokens, self.after_tokens, range);
        let (wq, wn, words) = Self::section(self.words, self.end, range);
        let mut part = Part {
            q: tq + wq,
            n: tn + wn,
            words: u32::try_from(words.len()).unwrap_or(u32::MAX),
            shape: features::window_shape(text.get(range.clone()).unwrap_or_default(), shape),
            terms: 0,
        };
        let first = words.first().map(|m| m.hash);
        let second = words.get(1).map(|m| m.hash);
        let last = words.last().map(|m| m.hash);
        let mut position = |h: u64| {
            part.q += i64::from(lookup.weight_of(h));
            part.n += 1;
        };
        if let (Some(first), Some(second)) = (first, second) {
            position(features::first_bigram_position(first, second));
        }
        if let (Some(first), Some(last)) = (first, last) {
            position(features::edge_position(first, true));
            position(features::edge_position(last, false));
        }
        part
    }
}

/// Counts the occurrences of each bucket, for explanations: bounded by the distinct buckets,
/// not by the length of the text.
pub(super) struct Recorder<'m> {
    pub(super) model: &'m Model,
    pub(super) seen: std::collections::HashMap<(u32, Kind), u32>,
    pub(super) n: u32,
}

impl Sink for Recorder<'_> {
    fn feature(&mut self, hash: u64, kind: Kind) {
        *self
            .seen
            .entry((self.model.bucket(hash), kind))
            .or_default() += 1;
        self.n += 1;
    }
}
