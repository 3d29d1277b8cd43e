//! The top contributing features of a score's highest-scoring part, named for the decision
//! log: named n-grams, structural signals, the policy's terms. Never text.

use super::*;

impl Classifier {
    /// Names the top contributing features of a score's highest-scoring part. Costs about
    /// another scoring of that part, so the filter asks only for decisions it logs.
    pub fn explain<S: AsRef<str>>(&self, texts: &[S], score: &mut Score) {
        let mut scratch = Scratch::default();
        let mut normalized = String::new();
        let band = self.model.band_of_texts(texts);
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
                // In a leaning merge, only the short paragraphs whose own sum leans towards an
                // assistant, as scoring chose them.
                let picked = !score.leaning || {
                    let own = self.part(p, band, &mut scratch, &mut Vec::new(), false);
                    own.q > 0 && own.words < MIN_SEGMENT_WORDS
                };
                if score.part.contains(&index) && picked {
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
        score.signals = self.contributions(&rec.seen, &part, band);
    }

    /// The strongest contributions of a part, as `name=+weight`.
    pub(super) fn contributions(
        &self,
        seen: &std::collections::HashMap<(u32, Kind), u32>,
        part: &Part,
        band: Band,
    ) -> Vec<String> {
        let m = self.model;
        let lookup = m.lookup(band);
        let norm = if part.n > 0 {
            m.scale / (part.n as f32).sqrt()
        } else {
            0.0
        };
        // Named n-grams by bucket, the rest in two sums.
        let mut named: Vec<(u32, Kind, f32)> = Vec::new();
        let (mut other_words, mut char_ngrams, mut punctuation) = (0.0f32, 0.0f32, 0.0f32);
        for ((bucket, kind), count) in seen {
            let w = lookup.weight(*bucket) as f32 * norm * *count as f32;
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
