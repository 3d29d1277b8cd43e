//! Conversation-level scoring: how assistant-like a send reads joined to its recent
//! predecessors, and which part of a long text a conversation keeps.
//!
//! The classifier averages over what it reads, so one service sentence after each part of a
//! split answer, or a harmless send between two parts, dilutes the joined conversation below
//! the threshold. The conversation is therefore read as **sentences** (its lines, each cut where
//! the classifier cuts its windows' sentences), and scored several times: whole, as before, then
//! with its 1, 2, 3, 4, 6, 8, 12 and 16 ([`LEFT_OUT`]) least assistant-like full sentences (of at least
//! [`MIN_SEGMENT_WORDS`] words, each scored alone) left out. The highest probability counts. A
//! sentence shorter than that is never left out: the fragments a split answer is cut into are
//! short and read as nothing alone. One of the current send's sentences always stays, so the
//! score is about this send.
//!
//! A reduced conversation is one of several candidates, and the highest of several candidates
//! reaches the threshold more often. Measured on the training pool (not the held-out split),
//! over 4,929 conversations of four consecutive service turns of one source, none of which
//! fires alone: the whole joined conversation fired on 0, the highest candidate on 2 (0.04%).
//! Lowering the candidates' probability as the classifier lowers a window's (0.5 in logit
//! space) halved that but let most split answers padded with a service sentence per part
//! through, so the candidates are not lowered.
//!
//! Cost per send, at most: one scoring of each full sentence alone (together as long as the
//! conversation), then 9 scorings of at most the whole conversation, which
//! holds at most `max_text_bytes` of earlier texts and [`MAX_SENTENCES`] sentences.

use crate::classify::{Classifier, MIN_SEGMENT_WORDS, Score, sentence_spans};

/// How many of the least assistant-like full sentences each reduced candidate leaves out.
pub const LEFT_OUT: [usize; 8] = [1, 2, 3, 4, 6, 8, 12, 16];

/// The most sentences of a conversation read, the most recent (the current send's first).
pub const MAX_SENTENCES: usize = 48;

/// One sentence of a conversation: its text, its line (sentences of one line are joined back
/// with a space, of two lines with a line break), and whether it belongs to the current send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sentence<'a> {
    pub text: &'a str,
    pub line: usize,
    pub current: bool,
}

/// The sentences of `text`, trimmed and non-empty, in order, with their line numbers counted
/// from `first_line`: each line cut where the classifier cuts sentences
/// ([`crate::classify::sentence_spans`]). Returns the next free line number too.
pub fn sentences(text: &str, first_line: usize, current: bool) -> (Vec<Sentence<'_>>, usize) {
    let mut out = Vec::new();
    let mut line = first_line;
    for l in text.lines() {
        for (start, end, _) in sentence_spans(l) {
            let head = l.get(start..end).unwrap_or_default().trim();
            if !head.is_empty() {
                out.push(Sentence {
                    text: head,
                    line,
                    current,
                });
            }
        }
        line = line.saturating_add(1);
    }
    (out, line)
}

/// Whether a sentence is long enough to be scored alone (and so to be left out).
pub fn is_full(sentence: &str) -> bool {
    sentence.split_whitespace().count() >= usize::try_from(MIN_SEGMENT_WORDS).unwrap_or(8)
}

/// Joins sentences back: a space within a line, a line break between lines.
pub fn join(sentences: &[&Sentence<'_>]) -> String {
    let mut out = String::new();
    let mut line = None;
    for s in sentences {
        if let Some(l) = line {
            out.push(if l == s.line { ' ' } else { '\n' });
        }
        out.push_str(s.text);
        line = Some(s.line);
    }
    out
}

/// The highest score of the conversation (`recent` texts, oldest first, then `current`) and the
/// text that scored it, stopping early once a candidate reaches the classifier's threshold.
pub fn score_conversation(
    classifier: &Classifier,
    recent: &[&str],
    current: &str,
) -> (Score, String) {
    let mut whole = recent.join("\n");
    whole.push('\n');
    whole.push_str(current);
    let mut best = classifier.score(&whole);
    let mut best_text = whole;
    if best.probability >= classifier.threshold {
        return (best, best_text);
    }
    let mut all = Vec::new();
    let mut line = 0;
    for text in recent {
        let (s, next) = sentences(text, line, false);
        all.extend(s);
        line = next;
    }
    let (s, _) = sentences(current, line, true);
    all.extend(s);
    let skip = all.len().saturating_sub(MAX_SENTENCES);
    let all = all.get(skip..).unwrap_or_default();
    // The full sentences, least assistant-like first; the current send's most assistant-like
    // one is never left out.
    let mut full: Vec<(usize, f64)> = all
        .iter()
        .enumerate()
        .filter(|(_, s)| is_full(s.text))
        .map(|(i, s)| (i, classifier.score(s.text).probability))
        .collect();
    let kept_current = full
        .iter()
        .filter(|(i, _)| all.get(*i).is_some_and(|s| s.current))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| *i);
    full.retain(|(i, _)| Some(*i) != kept_current);
    full.sort_by(|a, b| a.1.total_cmp(&b.1));
    for left_out in LEFT_OUT {
        if left_out > full.len() {
            break;
        }
        let out: Vec<usize> = full.iter().take(left_out).map(|(i, _)| *i).collect();
        let kept: Vec<&Sentence<'_>> = all
            .iter()
            .enumerate()
            .filter(|(i, _)| !out.contains(i))
            .map(|(_, s)| s)
            .collect();
        if !kept.iter().any(|s| s.current) {
            break;
        }
        let text = join(&kept);
        let score = classifier.score(&text);
        if score.probability > best.probability {
            best = score;
            best_text = text;
            if best.probability >= classifier.threshold {
                break;
            }
        }
    }
    (best, best_text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_are_cut_at_their_end_and_at_line_breaks() {
        let (got, next) = sentences("One two. Three? Four\nfive 3.5 six。seven", 2, true);
        let texts: Vec<(&str, usize)> = got.iter().map(|s| (s.text, s.line)).collect();
        assert_eq!(
            texts,
            [
                ("One two.", 2),
                ("Three?", 2),
                ("Four", 2),
                ("five 3.5 six。", 3),
                ("seven", 3)
            ]
        );
        assert_eq!(next, 4);
        assert_eq!(
            join(&got.iter().collect::<Vec<_>>()),
            "One two. Three? Four\nfive 3.5 six。 seven"
        );
    }
}
