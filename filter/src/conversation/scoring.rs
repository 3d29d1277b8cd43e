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
//! Short filler sends ("Ok.", "Order 4821 ships Thursday.") between the parts are never left
//! out, being no full sentences, so the conversation is also scored on its **leaning sends**
//! ([`score_leaning`]), mirroring the classifier's leaning merge: the sends (kept texts and
//! this one) whose own sum of weights leans towards an assistant, joined, when this send is one
//! of them, at least two are and not all. Measured with `filter/examples/conversation_lean.rs`
//! on conversations built from `model/texts`
//! (`model/experiments/2026-12-07-conversation-lean.md`): split answers with a short service
//! send after each part caught 36.5% to 91.0%, no more service conversations blocked (127 of
//! 3,009 either way). A filler sentence written into a part's own send or line is not left out
//! by it (a send that leans as a whole is merged whole); merging leaning sentences or lines
//! instead caught more of those but blocked 2.7 to 7 times as many service conversations.
//!
//! Cost per send, at most: one scoring of each full sentence alone (together as long as the
//! conversation), then 9 scorings of at most the whole conversation, which
//! holds at most `max_text_bytes` of earlier texts and [`MAX_SENTENCES`] sentences; then one
//! pass over each send for its lean and one scoring of at most the whole conversation.

use crate::classify::{Classifier, MIN_SEGMENT_WORDS, Score, sentence_spans};

/// How many of the least assistant-like full sentences each reduced candidate leaves out.
pub const LEFT_OUT: [usize; 8] = [1, 2, 3, 4, 6, 8, 12, 16];

/// The most sentences of a conversation read, the most recent (the current send's first).
pub const MAX_SENTENCES: usize = 48;

/// The leaning sends of a conversation ([`score_leaning`]) are merged when at least this many
/// lean, the current one among them: one send alone is scored already.
pub const MIN_LEANING_SENDS: usize = 2;

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

/// The sentences of a conversation (`recent` texts, oldest first, then `current`), each with
/// the index of the send it belongs to (`recent.len()` for the current send): the most recent
/// [`MAX_SENTENCES`].
pub fn conversation_sentences<'a>(
    recent: &[&'a str],
    current: &'a str,
) -> Vec<(usize, Sentence<'a>)> {
    let mut all = Vec::new();
    let mut line = 0;
    for (send, text) in recent.iter().enumerate() {
        let (s, next) = sentences(text, line, false);
        all.extend(s.into_iter().map(|s| (send, s)));
        line = next;
    }
    let (s, _) = sentences(current, line, true);
    all.extend(s.into_iter().map(|s| (recent.len(), s)));
    let skip = all.len().saturating_sub(MAX_SENTENCES);
    all.drain(..skip);
    all
}

/// The highest score of the conversation (`recent` texts, oldest first, then `current`) and the
/// text that scored it, stopping early once a candidate reaches the classifier's threshold: the
/// joined conversation and its reduced candidates ([`score_reduced`]), then its leaning merge
/// ([`score_leaning`]).
pub fn score_conversation(
    classifier: &Classifier,
    recent: &[&str],
    current: &str,
) -> (Score, String) {
    let (mut best, mut best_text) = score_reduced(classifier, recent, current);
    if best.probability >= classifier.threshold {
        return (best, best_text);
    }
    if let Some((score, text)) = score_leaning(classifier, recent, current)
        && score.probability > best.probability
    {
        best = score;
        best_text = text;
    }
    (best, best_text)
}

/// The joined conversation, then with its least assistant-like full sentences left out
/// ([`LEFT_OUT`]): the highest score and its text, stopping early once one reaches the
/// threshold.
pub fn score_reduced(classifier: &Classifier, recent: &[&str], current: &str) -> (Score, String) {
    let mut whole = recent.join("\n");
    whole.push('\n');
    whole.push_str(current);
    let mut best = classifier.score(&whole);
    let mut best_text = whole;
    if best.probability >= classifier.threshold {
        return (best, best_text);
    }
    let all: Vec<Sentence<'_>> = conversation_sentences(recent, current)
        .into_iter()
        .map(|(_, s)| s)
        .collect();
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

/// The leaning sends of a conversation (`recent` texts, oldest first, then `current`): the
/// sends whose own sum of weights leans towards an assistant ([`crate::classify::Lean`]),
/// joined one per line and scored as a whole message, when the current send is one of them, at
/// least [`MIN_LEANING_SENDS`] are, they hold at least [`MIN_SEGMENT_WORDS`] words, and not every
/// send is (the joined conversation is scored already). `None` when there is no such merge.
///
/// The parts of a split answer each lean towards an assistant and a service filler send leans
/// away, so this is the answer without the sends that pad it. Each send is a whole message its
/// recipient read, so the merge is scored as the joined conversation is, without the part
/// offset: the offset kept the merge of the parts under the threshold, and scoring without it
/// blocked no more service conversations (`model/experiments/2026-12-07-conversation-lean.md`).
pub fn score_leaning(
    classifier: &Classifier,
    recent: &[&str],
    current: &str,
) -> Option<(Score, String)> {
    let current_lean = classifier.lean(current);
    if !current_lean.is_leaning() {
        return None;
    }
    let mut words = current_lean.words();
    let mut leaning: Vec<&str> = Vec::new();
    for text in recent {
        let lean = classifier.lean(text);
        if lean.is_leaning() {
            words = words.saturating_add(lean.words());
            leaning.push(text);
        }
    }
    if leaning.len() + 1 < MIN_LEANING_SENDS
        || leaning.len() == recent.len()
        || words < MIN_SEGMENT_WORDS
    {
        return None;
    }
    leaning.push(current);
    let text = leaning.join("\n");
    Some((classifier.score(&text), text))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An answer a general assistant streams in three sends (as `tests/conversation.rs`), and
    /// short service sends slipped between its parts.
    const SPLIT_ANSWER: [&str; 3] = [
        "You earn interest not",
        "only on your original deposit but also on the interest already added, so the balance grows faster each year. For example,",
        "1000 at 5% becomes 1050 after one year and 1102.50 after two.",
    ];
    const FILLER_SENDS: [&str; 2] = ["Ok.", "Order 4821 ships Thursday."];

    fn classifier() -> Classifier {
        Classifier::compile(&serde_json::from_str("{}").unwrap()).unwrap()
    }

    #[test]
    fn a_split_answer_padded_with_short_service_sends_reaches_the_threshold() {
        let c = classifier();
        let recent = [
            SPLIT_ANSWER[0],
            FILLER_SENDS[0],
            SPLIT_ANSWER[1],
            FILLER_SENDS[1],
        ];
        // The filler dilutes the joined conversation, and no reduced candidate leaves it out.
        let (reduced, _) = score_reduced(&c, &recent, SPLIT_ANSWER[2]);
        assert!(reduced.probability < c.threshold, "{}", reduced.probability);
        let (score, text) = score_conversation(&c, &recent, SPLIT_ANSWER[2]);
        assert!(score.probability >= c.threshold, "{}", score.probability);
        assert_eq!(text, SPLIT_ANSWER.join("\n"));
    }

    #[test]
    fn the_leaning_sends_merge_needs_this_send_leaning_two_sends_and_not_all() {
        let c = classifier();
        for filler in FILLER_SENDS {
            assert!(!c.lean(filler).is_leaning(), "{filler}");
        }
        for part in SPLIT_ANSWER {
            assert!(c.lean(part).is_leaning(), "{part}");
        }
        // This send leans away: the score is about this send.
        let recent = [SPLIT_ANSWER[0], SPLIT_ANSWER[1], SPLIT_ANSWER[2]];
        assert!(score_leaning(&c, &recent, FILLER_SENDS[0]).is_none());
        // Only this send leans.
        assert!(score_leaning(&c, &FILLER_SENDS, SPLIT_ANSWER[2]).is_none());
        // Every send leans: that is the joined conversation, scored already.
        assert!(score_leaning(&c, &SPLIT_ANSWER[..2], SPLIT_ANSWER[2]).is_none());
        let recent = [SPLIT_ANSWER[1], FILLER_SENDS[1]];
        let (_, text) = score_leaning(&c, &recent, SPLIT_ANSWER[2]).unwrap();
        assert_eq!(text, SPLIT_ANSWER[1..].join("\n"));
    }

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
