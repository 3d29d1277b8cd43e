//! One paragraph scored: the running sum of its hashed features (`Part`), the sink that sums
//! them in one pass and marks where each window may start (`Summer`), the policy's term
//! groups, and the raw score of a part.

use super::*;

impl Classifier {
    /// Scores one paragraph of a message in `band`; when it may have more words than a window
    /// (`marking`), `marks` receives where its tokens' and words' features start.
    pub(super) fn part(
        &self,
        paragraph: &str,
        band: Band,
        scratch: &mut Scratch,
        marks: &mut Vec<Mark>,
        marking: bool,
    ) -> Part {
        marks.clear();
        let mut sum = Summer {
            weights: self.model.lookup(band),
            q: 0,
            n: 0,
            position_q: 0,
            position_n: 0,
            words: 0,
            marks: marking.then_some(marks),
        };
        let shape = features::extract(paragraph, scratch, &mut sum);
        let (q, n) = (sum.q, sum.n);
        let (position_q, position_n, words) = (sum.position_q, sum.position_n, sum.words);
        marks.push(Mark {
            at: paragraph.len(),
            hash: 0,
            kind: MarkKind::End,
            q,
            n,
            link: None,
        });
        Part {
            q: q + position_q,
            n: n + position_n,
            words,
            shape,
            terms: self.term_bits(paragraph),
        }
    }

    /// The raw score of a part.
    pub(super) fn raw(&self, part: &Part) -> f32 {
        let m = self.model;
        let mut score = m.bias;
        if part.n > 0 {
            score += m.scale * (part.q as f32) / (part.n as f32).sqrt();
        }
        for (i, _) in part.shape.structure().ids() {
            score += m.structural.get(i).copied().unwrap_or(0.0);
        }
        if let Some(t) = &self.terms {
            for (g, (_, w)) in t.groups.iter().enumerate() {
                if part.terms & (1 << g) != 0 {
                    score += *w;
                }
            }
        }
        score
    }

    /// The term groups found in normalised text, matched on its words as the features see
    /// them: look-alike letters, spaced-out words, line and paragraph breaks cannot hide a term.
    pub(super) fn term_bits(&self, text: &str) -> u64 {
        let Some(t) = &self.terms else {
            return 0;
        };
        let mut words = String::new();
        features::words_joined(text, &mut Scratch::default(), &mut words);
        let mut bits = 0u64;
        for m in t.matcher.find_iter(&words) {
            let before = words.get(..m.start()).and_then(|s| s.chars().next_back());
            let after = words.get(m.end()..).and_then(|s| s.chars().next());
            let boundary = |c: Option<char>| c.is_none_or(|c| c == ' ');
            if boundary(before)
                && boundary(after)
                && let Some(g) = t.group_of.get(m.pattern().as_usize())
            {
                bits |= 1 << g;
            }
        }
        bits
    }
}

/// The running sum of one part.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Part {
    /// Σ of quantised weights over the hashed feature occurrences.
    pub(super) q: i64,
    /// Hashed feature occurrences.
    pub(super) n: u32,
    pub(super) words: u32,
    pub(super) shape: Shape,
    /// Term groups present, as bits.
    pub(super) terms: u64,
}

impl Part {
    pub(super) fn merge(&mut self, o: &Part) {
        self.q += o.q;
        self.n += o.n;
        self.words += o.words;
        self.shape.merge(&o.shape);
        self.terms |= o.terms;
    }
}

/// Sums a paragraph's features, and marks where each token's and word's features start, so
/// that a window of the paragraph is summed from the same pass (see [`Marks`]).
pub(super) struct Summer<'b> {
    weights: model::Lookup,
    /// The sums over every feature but the position features, which a window has its own of.
    q: i64,
    n: u32,
    /// The sums over the position features.
    position_q: i64,
    position_n: u32,
    words: u32,
    /// Receives the marks; `None` when the paragraph is too short for windows.
    marks: Option<&'b mut Vec<Mark>>,
}

impl Sink for Summer<'_> {
    fn feature(&mut self, hash: u64, kind: Kind) {
        let w = i64::from(self.weights.weight_of(hash));
        if kind == Kind::Position {
            self.position_q += w;
            self.position_n += 1;
        } else {
            self.q += w;
            self.n += 1;
        }
        self.words += u32::from(kind == Kind::Word);
    }

    fn place(&mut self, place: Place) {
        let Some(marks) = self.marks.as_mut() else {
            return;
        };
        let (at, hash, kind) = match place {
            Place::Token { at } => (at, 0, MarkKind::Token),
            Place::Word { at, hash } => (at, hash, MarkKind::Word),
            Place::Link => {
                // The link's features follow its token's or word's own.
                if let Some(last) = marks.last_mut() {
                    last.link = Some((self.q, self.n));
                }
                return;
            }
        };
        marks.push(Mark {
            at,
            hash,
            kind,
            q: self.q,
            n: self.n,
            link: None,
        });
    }
}
