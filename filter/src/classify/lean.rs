//! A text's lean: its own sums of hashed weights, which say whether it leans towards an
//! assistant (as the leaning merge of a field's paragraphs picks them,
//! [`MIN_MERGED_PARAGRAPHS`]). Conversation scoring merges the sends that lean
//! (`conversation::scoring::score_leaning`); the sums also merge into one part without a pass
//! over the joined text ([`Classifier::score_merge`]), which the conversation measurement
//! (`filter/examples/conversation_lean.rs`) compares.

use super::*;

/// A text's own sums: the sums of its paragraphs, as the classifier reads them.
#[derive(Debug, Clone, Copy, Default)]
pub struct Lean {
    part: Part,
}

impl Lean {
    /// Whether the text leans towards an assistant: its own sum of weights is positive.
    pub fn is_leaning(&self) -> bool {
        self.part.q > 0
    }

    /// The text's words, as the classifier counts them (a CJK character is a word).
    pub fn words(&self) -> u32 {
        self.part.words
    }
}

impl Classifier {
    /// The lean of one text: the merged sums of its normalised paragraphs.
    pub fn lean(&self, text: &str) -> Lean {
        BUFFERS.with(|cell| match cell.try_borrow_mut() {
            Ok(mut buffers) => {
                let lean = self.lean_with(text, &mut buffers);
                buffers.trim();
                lean
            }
            Err(_) => self.lean_with(text, &mut Buffers::default()),
        })
    }

    fn lean_with(&self, text: &str, buffers: &mut Buffers) -> Lean {
        let Buffers {
            scratch,
            normalized,
            marks,
            ..
        } = buffers;
        normalized.clear();
        normalize::normalize_into(text, normalized);
        let band = self.model.band_of_texts(&[text]);
        let mut lean = Lean::default();
        for p in features::paragraphs(normalized) {
            lean.part.merge(&self.part(p, band, scratch, marks, false));
        }
        lean
    }

    /// The raw score of a text from its lean, as a part of a larger message (before the part
    /// offset): how strongly it leans. For measurements (`filter/examples/conversation_lean.rs`).
    pub fn lean_score(&self, lean: &Lean) -> f64 {
        f64::from(self.raw(&lean.part))
    }

    /// Scores the merge of texts' leans as one part of a larger message: its raw score less the
    /// model's part offset, like any part that is not a whole message. A merge of fewer than
    /// [`MIN_SEGMENT_WORDS`] words says too little and scores 0.
    pub fn score_merge<'l>(&self, leans: impl IntoIterator<Item = &'l Lean>) -> Score {
        let mut merged = Part::default();
        for l in leans {
            merged.merge(&l.part);
        }
        if merged.words < MIN_SEGMENT_WORDS {
            return Score::default();
        }
        Score {
            probability: self
                .model
                .probability(self.raw(&merged) - self.model.part_offset),
            part: 0..usize::MAX,
            terms: merged.terms,
            ..Score::default()
        }
    }
}
