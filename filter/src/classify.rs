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

pub mod features;
pub mod model;
pub mod normalize;

use crate::policy::document::ContentSection;
use aho_corasick::{AhoCorasick, MatchKind};
use features::{Kind, Place, Scratch, Shape, Sink};
use model::Model;
use std::cell::RefCell;

/// A part shorter than this many words is scored only as part of a larger one: a lone short
/// line says too little.
pub const MIN_SEGMENT_WORDS: u32 = 8;

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

/// The default probability threshold of a policy, chosen on the project's held-out split so
/// that false blocks of service messages stay at or below 1% (see MODEL.md).
pub const DEFAULT_THRESHOLD: f64 = 0.71;

/// At most this many term groups per policy.
const MAX_TERM_GROUPS: usize = 64;

/// How many contributing features a score names.
const EXPLAINED: usize = 6;

/// A configuration problem: `(json path relative to content, message)`.
pub type ClassifierError = (String, String);

/// A policy's own weighted terms.
#[derive(Debug, Clone)]
struct Terms {
    matcher: AhoCorasick,
    /// For each pattern, its group.
    group_of: Vec<usize>,
    /// Each group's id and weight (in score units, added once per part it appears in).
    groups: Vec<(String, f32)>,
}

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
}

impl Score {
    pub fn signal_ids(&self) -> Vec<String> {
        self.signals.clone()
    }
}

/// The running sum of one part.
#[derive(Debug, Clone, Copy, Default)]
struct Part {
    /// Σ of quantised weights over the hashed feature occurrences.
    q: i64,
    /// Hashed feature occurrences.
    n: u32,
    words: u32,
    shape: Shape,
    /// Term groups present, as bits.
    terms: u64,
}

impl Part {
    fn merge(&mut self, o: &Part) {
        self.q += o.q;
        self.n += o.n;
        self.words += o.words;
        self.shape.merge(&o.shape);
        self.terms |= o.terms;
    }
}

/// Sums a paragraph's features, and marks where each token's and word's features start, so
/// that a window of the paragraph is summed from the same pass (see [`Marks`]).
struct Summer<'b> {
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MarkKind {
    Token,
    Word,
    /// After the last feature.
    End,
}

/// The running sums where a token's or a word's features start, and where its link's do.
#[derive(Debug, Clone, Copy)]
struct Mark {
    /// The byte of the paragraph where its token or word starts.
    at: usize,
    /// A word's hash.
    hash: u64,
    kind: MarkKind,
    q: i64,
    n: u32,
    /// The running sums where the features of its link to the one before start (its own
    /// features end there); none for the first token and the first word.
    link: Option<(i64, u32)>,
}

/// The marks of one paragraph: its tokens' (in text order), then its words' (in text order),
/// then the end. A window's sums are the differences of the running sums over the tokens and
/// the words that start inside it, less the link of the first of each to the one before the
/// window; its position features are computed from its first, second and last words' hashes.
struct Marks<'a> {
    tokens: &'a [Mark],
    words: &'a [Mark],
    /// The running sums after the tokens (where the words start) and after the words.
    after_tokens: (i64, u32),
    end: (i64, u32),
}

impl<'a> Marks<'a> {
    fn new(marks: &'a [Mark]) -> Self {
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
    fn section(
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
    fn window(
        &self,
        model: &Model,
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
            part.q += i64::from(model.weight_of(h));
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
struct Recorder<'m> {
    model: &'m Model,
    seen: std::collections::HashMap<(u32, Kind), u32>,
    n: u32,
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
        // Terms are also looked for across paragraph and field breaks, so that splitting a
        // phrase over two lines or two fields does not hide it.
        let (mut field_terms, mut joined) = (Vec::new(), String::new());
        for (f, text) in texts.iter().enumerate() {
            normalized.clear();
            normalize::normalize_into(text.as_ref(), normalized);
            for p in features::paragraphs(normalized) {
                let marking = with_windows && features::may_have_more_words(p, 2 * WINDOW_WORDS);
                let part = self.part(p, scratch, marks, marking);
                if marking && part.words as usize > 2 * WINDOW_WORDS {
                    // The windows are summed from the paragraph's own pass.
                    let index = Marks::new(marks);
                    for w in windows(p) {
                        let mut window = index.window(self.model, p, &part.shape, &w);
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
        type Best = (
            f64,
            std::ops::Range<usize>,
            u64,
            Option<std::ops::Range<usize>>,
        );
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
            if best.as_ref().is_none_or(|(b, _, _, _)| prob > *b) {
                best = Some((prob, range, part.terms, None));
            }
        };
        consider(0..paragraphs.len(), true, whole_terms);
        let mut start = 0;
        while start < paragraphs.len() {
            let field = paragraphs.get(start).map(|(f, _)| *f);
            let end = paragraphs
                .iter()
                .skip(start)
                .position(|(f, _)| Some(*f) != field)
                .map_or(paragraphs.len(), |n| start + n);
            let terms = field.and_then(|f| field_terms.get(f)).copied().unwrap_or(0);
            if end - start < paragraphs.len() {
                consider(start..end, false, terms);
            }
            if end - start > 1 {
                for i in start..end {
                    consider(i..i + 1, false, 0);
                }
            }
            start = end;
        }
        for (index, bytes, part) in windowed.iter() {
            if part.words < MIN_SEGMENT_WORDS {
                continue;
            }
            let prob = self.model.probability_shifted(
                self.raw(part) - self.model.part_offset,
                -WINDOW_LOGIT_PENALTY,
            );
            if best.as_ref().is_none_or(|(b, _, _, _)| prob > *b) {
                best = Some((prob, *index..*index + 1, part.terms, Some(bytes.clone())));
            }
        }
        let Some((probability, part, terms, window)) = best else {
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
        }
    }

    /// Names the top contributing features of a score's highest-scoring part. Costs about
    /// another scoring of that part, so the filter asks only for decisions it logs.
    pub fn explain<S: AsRef<str>>(&self, texts: &[S], score: &mut Score) {
        let mut scratch = Scratch::default();
        let mut normalized = String::new();
        let mut rec = Recorder {
            model: self.model,
            seen: std::collections::HashMap::new(),
            n: 0,
        };
        let mut part = Part::default();
        let mut index = 0;
        for text in texts {
            normalized.clear();
            normalize::normalize_into(text.as_ref(), &mut normalized);
            for p in features::paragraphs(&normalized) {
                if score.part.contains(&index) {
                    let text = match &score.window {
                        Some(w) => p.get(w.clone()).unwrap_or_default(),
                        None => p,
                    };
                    part.shape
                        .merge(&features::extract(text, &mut scratch, &mut rec));
                }
                index += 1;
            }
        }
        part.n = rec.n;
        part.terms = score.terms;
        score.signals = self.contributions(&rec.seen, &part);
    }

    /// Scores one text.
    pub fn score(&self, text: &str) -> Score {
        self.score_texts(&[text])
    }

    /// Scores one paragraph; when it may have more words than a window (`marking`), `marks`
    /// receives where its tokens' and words' features start.
    fn part(
        &self,
        paragraph: &str,
        scratch: &mut Scratch,
        marks: &mut Vec<Mark>,
        marking: bool,
    ) -> Part {
        marks.clear();
        let mut sum = Summer {
            weights: self.model.lookup(),
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
    fn raw(&self, part: &Part) -> f32 {
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
    fn term_bits(&self, text: &str) -> u64 {
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

    /// The strongest contributions of a part, as `name=+weight`.
    fn contributions(
        &self,
        seen: &std::collections::HashMap<(u32, Kind), u32>,
        part: &Part,
    ) -> Vec<String> {
        let m = self.model;
        let norm = if part.n > 0 {
            m.scale / (part.n as f32).sqrt()
        } else {
            0.0
        };
        // Named n-grams by bucket, the rest in two sums.
        let mut named: Vec<(u32, Kind, f32)> = Vec::new();
        let (mut other_words, mut char_ngrams, mut punctuation) = (0.0f32, 0.0f32, 0.0f32);
        for ((bucket, kind), count) in seen {
            let w = m.weight(*bucket) as f32 * norm * *count as f32;
            if m.name(*bucket, *kind).is_some() {
                named.push((*bucket, *kind, w));
            } else {
                match kind {
                    Kind::CharGram => char_ngrams += w,
                    Kind::Shape => punctuation += w,
                    Kind::Word | Kind::Bigram | Kind::Position => other_words += w,
                }
            }
        }
        let mut out: Vec<(String, f32)> = named
            .into_iter()
            .filter_map(|(b, k, w)| {
                let prefix = match k {
                    Kind::Word => "w",
                    Kind::Bigram => "b",
                    Kind::CharGram => "c",
                    Kind::Shape => "s",
                    Kind::Position => "p",
                };
                m.name(b, k).map(|n| (format!("{prefix}:{n}"), w))
            })
            .collect();
        out.push(("other_words".to_owned(), other_words));
        out.push(("char_ngrams".to_owned(), char_ngrams));
        out.push(("punctuation".to_owned(), punctuation));
        for (i, id) in part.shape.structure().ids() {
            out.push((id.to_owned(), m.structural.get(i).copied().unwrap_or(0.0)));
        }
        if let Some(t) = &self.terms {
            for (g, (id, w)) in t.groups.iter().enumerate() {
                if part.terms & (1 << g) != 0 {
                    out.push((format!("term:{id}"), *w));
                }
            }
        }
        out.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
        out.into_iter()
            .filter(|(_, w)| w.abs() >= 0.005)
            .take(EXPLAINED)
            .map(|(n, w)| format!("{n}={w:+.2}"))
            .collect()
    }
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

fn compile_terms(section: &ContentSection, errors: &mut Vec<ClassifierError>) -> Option<Terms> {
    if section.terms.is_empty() {
        return None;
    }
    if section.terms.len() > MAX_TERM_GROUPS {
        errors.push((
            "terms".into(),
            format!(
                "at most {MAX_TERM_GROUPS} term groups, got {}",
                section.terms.len()
            ),
        ));
        return None;
    }
    let mut patterns = Vec::new();
    let mut group_of = Vec::new();
    let mut groups = Vec::new();
    for (g, doc) in section.terms.iter().enumerate() {
        if doc.id.is_empty() || section.terms.iter().take(g).any(|d| d.id == doc.id) {
            errors.push((
                format!("terms[{g}].id"),
                format!("term group id `{}` is empty or already used", doc.id),
            ));
        }
        if !doc.weight.is_finite() || doc.weight.abs() > 20.0 {
            errors.push((
                format!("terms[{g}].weight"),
                format!(
                    "weight must be a number between -20 and 20, got `{}`",
                    doc.weight
                ),
            ));
        }
        if doc.terms.is_empty() {
            errors.push((format!("terms[{g}].terms"), "no terms listed".into()));
        }
        for (i, term) in doc.terms.iter().enumerate() {
            let mut n = String::new();
            features::words_joined(&normalize::normalize(term), &mut Scratch::default(), &mut n);
            if n.is_empty() {
                errors.push((
                    format!("terms[{g}].terms[{i}]"),
                    format!("term `{term}` is empty once normalised"),
                ));
                continue;
            }
            patterns.push(n);
            group_of.push(g);
        }
        groups.push((doc.id.clone(), doc.weight as f32));
    }
    match AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostLongest)
        .build(&patterns)
    {
        Ok(matcher) => Some(Terms {
            matcher,
            group_of,
            groups,
        }),
        Err(e) => {
            errors.push(("terms".into(), format!("terms do not compile: {e}")));
            None
        }
    }
}

#[cfg(test)]
mod tests;

/// The windows of a long paragraph: runs of whole sentences of about [`WINDOW_WORDS`] words,
/// each starting about half a window after the previous one, as byte ranges.
fn windows(paragraph: &str) -> Vec<std::ops::Range<usize>> {
    // Sentences, in one pass: they end after `.`, `!`, `?` (and their CJK, Arabic and
    // Devanagari forms) followed by a blank or the end, and after every line break. A
    // sentence's words are its blank-separated runs, and each CJK or Thai character.
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
    windows_of_sentences(&sentences, paragraph.len())
}

/// Groups sentences `(start, end, words)` into windows of about [`WINDOW_WORDS`] words, each
/// starting about half a window after the previous one; the last window reaches `len`.
fn windows_of_sentences(
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
fn is_plain_ascii(b: u8) -> bool {
    PLAIN_ASCII.get(usize::from(b)).copied().unwrap_or(false)
}

#[expect(
    clippy::indexing_slicing,
    reason = "evaluated at compile time: an out-of-range index fails the build, never a request"
)]
static PLAIN_ASCII: [bool; 256] = {
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

fn is_ascii_blank(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0B | 0x0C | b'\r' | b' ')
}

/// Characters the featuriser counts as a word each (Han, kana, Thai).
fn is_cjk_word(c: char) -> bool {
    matches!(c, '\u{3040}'..='\u{30FF}' | '\u{3400}'..='\u{9FFF}' | '\u{0E00}'..='\u{0E7F}')
}

#[cfg(test)]
mod window_tests {
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
                let part = c.part(p, &mut scratch, &mut marks, true);
                let index = Marks::new(&marks);
                let windows = windows(p);
                for w in &windows {
                    let got = index.window(c.model, p, &part.shape, w);
                    let want = c.part(&p[w.clone()], &mut scratch, &mut Vec::new(), false);
                    // A spaced-out word can run across a `。` directly followed by a letter, where
                    // a window may start; such a window differs by design, and is not generated.
                    assert_eq!(
                        (got.q, got.n, got.words),
                        (want.q, want.n, want.words),
                        "{:?}",
                        &p[w.clone()]
                    );
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
