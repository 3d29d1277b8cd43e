//! The content classifier: how likely the text a recipient reads comes from a general-purpose
//! assistant, as a calibrated probability.
//!
//! - [`normalize`] undoes obfuscation: invisible characters, compatibility forms, accents in
//!   either normal form, look-alike letters, spaced-out words.
//! - [`features`] reads hashed word and character n-grams and named structural signals in one
//!   pass, with no regex.
//! - [`model`] is the trained linear model (`model/classifier.bin`, built by `make model`).
//!
//! A message is as assistant-like as its most assistant-like part: the whole message, each
//! field a recipient reads, and each paragraph of a field are scored, and the highest
//! probability counts. Padding an answer with a line of order boilerplate cannot dilute it.
//! A policy can add its own weighted terms (brand and product names as service signals). Every
//! score names its top contributing features, never the text.

mod explain;
pub mod features;
mod lean;
mod marks;
pub mod model;
pub mod normalize;
mod part;
mod terms;
mod windows;

use crate::document::ContentSection;
use aho_corasick::{AhoCorasick, MatchKind};
use features::{Kind, Place, Scratch, Shape, Sink};
use marks::*;
use model::{Band, Lookup, Model};
use std::cell::RefCell;
use terms::*;
use windows::*;

pub use lean::Lean;
use part::Part;
pub use windows::sentence_spans;

/// A part shorter than this many words is scored only as part of a larger one: a lone short
/// line says too little.
pub const MIN_SEGMENT_WORDS: u32 = 8;

/// A field of at least this many paragraphs is also scored on the merge of its short paragraphs
/// (under [`MIN_SEGMENT_WORDS`] words, never scored alone) whose own features lean towards an
/// assistant (a positive sum of weights), when two or more but not all of its paragraphs are
/// such: an answer cut into short paragraphs between short service lines has no part that
/// holds only the answer otherwise. The merge is one more part (less the part offset), summed
/// from the paragraphs' own sums: no pass over the text. Merging the long leaning paragraphs
/// too, which are scored alone already, cost held-out recall at 1% false blocks (0.889 to 0.884
/// on the 15 codes: service answers of several long paragraphs).
pub const MIN_MERGED_PARAGRAPHS: usize = 3;

/// A message of fewer words than this (a CJK character is a word) is not scored: its
/// probability is 0, unless a policy term matched. One or two words say nothing about who sends
/// them, and a model forced to guess would block "OK" or "Terima kasih" from a service bot.
pub const MIN_MESSAGE_WORDS: u32 = 3;

/// A paragraph longer than twice this many words is also scored in windows of about this
/// many words (whole sentences, each window starting half a window after the previous one):
/// a short answer written into the same paragraph as long service boilerplate is then scored
/// on its own too, and the padding cannot dilute it.
pub const WINDOW_WORDS: usize = 60;

/// A window is one of many candidates in a long paragraph, so its probability is lowered by
/// this much in logit space: the highest of many windows would otherwise reach the threshold
/// in long service answers more often than a whole message does (measured on the held-out
/// split, MODEL.md).
pub const WINDOW_LOGIT_PENALTY: f64 = 0.5;

pub use crate::document::DEFAULT_THRESHOLD;

/// At most this many term groups per policy.
const MAX_TERM_GROUPS: usize = 64;

/// How many contributing features a score names.
const EXPLAINED: usize = 6;

/// A configuration problem: `(json path relative to content, message)`.
pub type ClassifierError = (String, String);

/// A compiled classifier.
#[derive(Debug, Clone)]
pub struct Classifier {
    model: &'static Model,
    terms: Option<Terms>,
    /// Block when the probability reaches this value.
    pub threshold: f64,
}

/// A score and the features behind it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Score {
    /// The calibrated probability that the message comes from a general assistant.
    pub probability: f64,
    /// The top contributing features of the highest-scoring part, strongest first, as
    /// `id=+0.00` in score units. Only ids from the model's named vocabulary, the structural
    /// signals and the policy's terms appear, never the message's words. Empty until
    /// [`Classifier::explain`] fills it.
    pub signals: Vec<String>,
    /// The paragraphs (counted across fields) of the highest-scoring part.
    part: std::ops::Range<usize>,
    /// When the highest-scoring part is a window: its bytes in that (single) paragraph,
    /// normalised.
    window: Option<std::ops::Range<usize>>,
    /// The term groups found in that part.
    terms: u64,
    /// The highest-scoring part is the merge of the short paragraphs of `part` that lean towards
    /// an assistant (see [`MIN_MERGED_PARAGRAPHS`]), not all of them.
    leaning: bool,
}

impl Score {
    pub fn signal_ids(&self) -> Vec<String> {
        self.signals.clone()
    }
}

impl Classifier {
    /// Compiles the content section with the built-in model.
    pub fn compile(section: &ContentSection) -> Result<Self, Vec<ClassifierError>> {
        let mut errors = Vec::new();
        let model = match model::builtin() {
            Ok(m) => Some(m),
            Err(e) => {
                errors.push((
                    "model".to_owned(),
                    format!("built-in model is unusable: {e}"),
                ));
                None
            }
        };
        if !(section.threshold > 0.0 && section.threshold < 1.0) {
            errors.push((
                "threshold".into(),
                format!(
                    "threshold is a probability and must be between 0 and 1 (exclusive), got `{}`",
                    section.threshold
                ),
            ));
        }
        let terms = compile_terms(section, &mut errors);
        normalize::prepare();
        features::prepare();
        match model {
            Some(model) if errors.is_empty() => Ok(Self {
                model,
                terms,
                threshold: section.threshold,
            }),
            _ => Err(errors),
        }
    }

    /// The same classifier with another model (the evaluation of a held-out model).
    pub fn with_model(&self, model: &'static Model) -> Self {
        Self {
            model,
            ..self.clone()
        }
    }

    /// The model's version, part of the policy fingerprint.
    pub fn model_version(&self) -> &str {
        &self.model.version
    }

    /// How many term groups the policy adds.
    pub fn rule_count(&self) -> usize {
        self.terms.as_ref().map_or(0, |t| t.groups.len())
    }

    /// Scores the texts a recipient reads, one per field.
    pub fn score_texts<S: AsRef<str>>(&self, texts: &[S]) -> Score {
        self.score_parts(texts, true)
    }

    /// Scores one text without windows: the parts the trainer's scorer also scores (the
    /// parity test compares the two).
    pub fn score_unwindowed(&self, text: &str) -> Score {
        self.score_parts(&[text], false)
    }

    fn score_parts<S: AsRef<str>>(&self, texts: &[S], with_windows: bool) -> Score {
        BUFFERS.with(|cell| match cell.try_borrow_mut() {
            Ok(mut buffers) => {
                let score = self.score_parts_with(texts, with_windows, &mut buffers);
                buffers.trim();
                score
            }
            Err(_) => self.score_parts_with(texts, with_windows, &mut Buffers::default()),
        })
    }

    fn score_parts_with<S: AsRef<str>>(
        &self,
        texts: &[S],
        with_windows: bool,
        buffers: &mut Buffers,
    ) -> Score {
        let Buffers {
            scratch,
            normalized,
            paragraphs,
            windowed,
            marks,
        } = buffers;
        paragraphs.clear();
        windowed.clear();
        let band = self.model.band_of_texts(texts);
        // Terms are also looked for across paragraph and field breaks, so that splitting a
        // phrase over two lines or two fields does not hide it.
        let (mut field_terms, mut joined) = (Vec::new(), String::new());
        for (f, text) in texts.iter().enumerate() {
            normalized.clear();
            normalize::normalize_into(text.as_ref(), normalized);
            for p in features::paragraphs(normalized) {
                let marking = with_windows && features::may_have_more_words(p, 2 * WINDOW_WORDS);
                let part = self.part(p, band, scratch, marks, marking);
                if marking && part.words as usize > 2 * WINDOW_WORDS {
                    // The windows are summed from the paragraph's own pass.
                    let index = Marks::new(marks);
                    for w in windows(p) {
                        let mut window = index.window(self.model.lookup(band), p, &part.shape, &w);
                        if self.terms.is_some() {
                            window.terms = self.term_bits(p.get(w.clone()).unwrap_or_default());
                        }
                        windowed.push((paragraphs.len(), w, window));
                    }
                }
                paragraphs.push((f, part));
            }
            if self.terms.is_some() {
                field_terms.push(self.term_bits(normalized));
                joined.push_str(normalized);
                joined.push(' ');
            }
        }
        let whole_terms = self.term_bits(&joined);
        // Candidates: the whole message, each field, each paragraph; as ranges of paragraphs.
        let mut best: Option<Best> = None;
        let mut consider = |range: std::ops::Range<usize>, whole: bool, terms: u64| {
            let mut part = Part::default();
            for (_, p) in paragraphs.get(range.clone()).unwrap_or(&[]) {
                part.merge(p);
            }
            if !whole && part.words < MIN_SEGMENT_WORDS {
                return;
            }
            part.terms |= terms;
            let offset = if whole { 0.0 } else { self.model.part_offset };
            let prob = self.model.probability(self.raw(&part) - offset);
            if best.as_ref().is_none_or(|b| prob > b.probability) {
                best = Some(Best {
                    probability: prob,
                    part: range,
                    terms: part.terms,
                    window: None,
                    leaning: false,
                });
            }
        };
        consider(0..paragraphs.len(), true, whole_terms);
        let runs = field_runs(paragraphs);
        for run in &runs {
            let (start, end) = (run.start, run.end);
            let field = paragraphs.get(start).map(|(f, _)| *f);
            let terms = field.and_then(|f| field_terms.get(f)).copied().unwrap_or(0);
            if end - start < paragraphs.len() {
                consider(start..end, false, terms);
            }
            if end - start > 1 {
                for i in start..end {
                    consider(i..i + 1, false, 0);
                }
            }
        }
        for run in runs {
            let (start, end) = (run.start, run.end);
            let fields = paragraphs.get(start..end).unwrap_or_default();
            if let Some(part) = leaning_merge(fields.iter().map(|(_, p)| p)) {
                let prob = self
                    .model
                    .probability(self.raw(&part) - self.model.part_offset);
                if best.as_ref().is_none_or(|b| prob > b.probability) {
                    best = Some(Best {
                        probability: prob,
                        part: start..end,
                        terms: part.terms,
                        window: None,
                        leaning: true,
                    });
                }
            }
        }
        for (index, bytes, part) in windowed.iter() {
            if part.words < MIN_SEGMENT_WORDS {
                continue;
            }
            let prob = self.model.probability_shifted(
                self.raw(part) - self.model.part_offset,
                -WINDOW_LOGIT_PENALTY,
            );
            if best.as_ref().is_none_or(|b| prob > b.probability) {
                best = Some(Best {
                    probability: prob,
                    part: *index..*index + 1,
                    terms: part.terms,
                    window: Some(bytes.clone()),
                    leaning: false,
                });
            }
        }
        let Some(Best {
            probability,
            part,
            terms,
            window,
            leaning,
        }) = best
        else {
            return Score::default();
        };
        let words: u32 = paragraphs.iter().map(|(_, p)| p.words).sum();
        if words < MIN_MESSAGE_WORDS && terms == 0 {
            // "OK", "Terima kasih", "✅": too little text to say anything about the sender.
            return Score::default();
        }
        Score {
            probability,
            signals: Vec::new(),
            part,
            window,
            terms,
            leaning,
        }
    }

    /// Scores one text.
    pub fn score(&self, text: &str) -> Score {
        self.score_texts(&[text])
    }
}

/// The highest-scoring part so far.
struct Best {
    probability: f64,
    /// Its paragraphs (counted across fields).
    part: std::ops::Range<usize>,
    terms: u64,
    window: Option<std::ops::Range<usize>>,
    leaning: bool,
}

/// The merge of a field's short paragraphs (under [`MIN_SEGMENT_WORDS`] words) whose own sum of
/// weights leans towards an assistant (`q > 0`), when the field has at least
/// [`MIN_MERGED_PARAGRAPHS`] paragraphs, two or more but not all of them are such, and the merge
/// has at least [`MIN_SEGMENT_WORDS`] words. The trainer mirrors it (`leaning_scores` in
/// `model/train.py`).
fn leaning_merge<'p>(field: impl ExactSizeIterator<Item = &'p Part>) -> Option<Part> {
    let total = field.len();
    if total < MIN_MERGED_PARAGRAPHS {
        return None;
    }
    let mut merged = Part::default();
    let mut leaning = 0;
    for p in field.filter(|p| p.q > 0 && p.words < MIN_SEGMENT_WORDS) {
        merged.merge(p);
        leaning += 1;
    }
    (leaning >= 2 && leaning < total && merged.words >= MIN_SEGMENT_WORDS).then_some(merged)
}

/// The buffers of one scoring, kept for the next one on the same thread (a filter's VM has
/// one): scoring allocates nothing once they have grown to its texts' size.
#[derive(Default)]
struct Buffers {
    scratch: Scratch,
    normalized: String,
    paragraphs: Vec<(usize, Part)>,
    windowed: Vec<(usize, std::ops::Range<usize>, Part)>,
    marks: Vec<Mark>,
}

impl Buffers {
    /// Buffers grown past this many bytes by a large text are freed rather than kept.
    const KEEP_BYTES: usize = 256 * 1024;

    fn trim(&mut self) {
        let bytes = self.normalized.capacity()
            + self.marks.capacity() * std::mem::size_of::<Mark>()
            + self.scratch.capacity_bytes();
        if bytes > Self::KEEP_BYTES {
            *self = Self::default();
        }
    }
}

thread_local! {
    static BUFFERS: RefCell<Buffers> = RefCell::default();
}

/// The runs of consecutive paragraphs that belong to one field, in order, as ranges of
/// `paragraphs` (tagged with their field's index).
fn field_runs<T>(paragraphs: &[(usize, T)]) -> Vec<std::ops::Range<usize>> {
    let mut runs = Vec::new();
    let mut start = 0;
    while let Some((field, _)) = paragraphs.get(start) {
        let end = paragraphs
            .iter()
            .skip(start)
            .position(|(f, _)| f != field)
            .map_or(paragraphs.len(), |n| start + n);
        runs.push(start..end);
        start = end;
    }
    runs
}

#[cfg(test)]
mod tests;
