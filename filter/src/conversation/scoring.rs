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
//! Short filler sends ("Ok.", "Order 4821 ships Thursday.") between the parts, and short
//! filler sentences written into them, are never left out, being no full sentences, so the
//! conversation is also scored on its **leaning sends** ([`score_leaning`]), mirroring the
//! classifier's leaning merge: the sends (kept texts and this one) whose own sum of weights
//! leans towards an assistant, each without its short sentences that lean away, joined, when
//! this send is one of them, at least two are and something was left out. Measured with
//! `filter/examples/conversation_lean.rs` on conversations built from `model/texts`
//! (`model/experiments/2026-12-07-conversation-lean.md`): split answers with a short service
//! send after each part caught 36.5% to 92.9%, padded answers of every shape 41.2% to 60.6%,
//! service conversations blocked 127 to 128 of 3,009. Merging the leaning sentences of every
//! send instead blocked 6 times as many service conversations.
//!
//! Cost per send, at most: one scoring of each full sentence alone (together as long as the
//! conversation), then 9 scorings of at most the whole conversation, which
//! holds at most `max_text_bytes` of earlier texts and [`MAX_SENTENCES`] sentences; then one
//! pass over each send and over each sentence of the leaning sends for their lean, and one
//! scoring of at most the whole conversation.

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

/// Whether a sentence ends as one: with `.`, `!`, `?`, `。`, `！`, `？`, `؟` or `।`.
pub fn ends_a_sentence(sentence: &str) -> bool {
    sentence
        .trim_end()
        .ends_with(['.', '!', '?', '。', '！', '？', '؟', '।'])
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
/// sends whose own sum of weights leans towards an assistant ([`crate::classify::Lean`]), each
/// without its short sentences (under [`MIN_SEGMENT_WORDS`] words) that lean away, joined one
/// per line and scored as a whole message, when the current send is one of them, at least
/// [`MIN_LEANING_SENDS`] are, they keep at least [`MIN_SEGMENT_WORDS`] words, and something was
/// left out (else it is the joined conversation, scored already). `None` when there is no such
/// merge.
///
/// The parts of a split answer each lean towards an assistant, and a short service send or
/// sentence slipped between them leans away, so this is the answer without what pads it. Each
/// send is a whole message its recipient read, so the merge is scored as the joined
/// conversation is, without the part offset: less the offset, the merge of the parts stayed
/// under the threshold, and without it 1 more of 3,009 service conversations was blocked
/// (`model/experiments/2026-12-07-conversation-lean.md`). Only the sends that lean lose their
/// short sentences: merging the leaning sentences of every send instead blocked 6 times as
/// many service conversations.
pub fn score_leaning(
    classifier: &Classifier,
    recent: &[&str],
    current: &str,
) -> Option<(Score, String)> {
    if !classifier.lean(current).is_leaning() {
        return None;
    }
    let mut kept: Vec<String> = Vec::new();
    let (mut words, mut left_out, mut sends) = (0u32, false, 0usize);
    for text in recent {
        if !classifier.lean(text).is_leaning() {
            left_out = true;
            continue;
        }
        let (k, w, out) = without_short_leaning_away(classifier, text);
        (words, left_out, sends) = (words.saturating_add(w), left_out || out, sends + 1);
        kept.extend(k);
    }
    let (k, w, out) = without_short_leaning_away(classifier, current);
    (words, left_out, sends) = (words.saturating_add(w), left_out || out, sends + 1);
    if k.is_none() || sends < MIN_LEANING_SENDS || !left_out || words < MIN_SEGMENT_WORDS {
        return None;
    }
    kept.extend(k);
    let text = kept.join("\n");
    Some((classifier.score(&text), text))
}

/// A send without its short sentences that lean away from an assistant: what is kept (`None`
/// when nothing is), its words as the classifier counts them, and whether a sentence was left
/// out. Only a sentence that ends as one (`.`, `!`, `?` and their other scripts' forms) is left
/// out: a split answer's own fragments ("For example,") stay with their part.
fn without_short_leaning_away(classifier: &Classifier, text: &str) -> (Option<String>, u32, bool) {
    let (all, _) = sentences(text, 0, false);
    let mut kept: Vec<&Sentence<'_>> = Vec::new();
    let mut words = 0u32;
    for s in &all {
        let lean = classifier.lean(s.text);
        if is_full(s.text) || lean.is_leaning() || !ends_a_sentence(s.text) {
            words = words.saturating_add(lean.words());
            kept.push(s);
        }
    }
    let out = kept.len() < all.len();
    ((!kept.is_empty()).then(|| join(&kept)), words, out)
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
    fn the_leaning_sends_merge_needs_this_send_leaning_two_sends_and_something_left_out() {
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
        // Every send leans and keeps every sentence: that is the joined conversation.
        assert!(score_leaning(&c, &[SPLIT_ANSWER[0]], SPLIT_ANSWER[2]).is_none());
        let answer = format!("{}\n{}", SPLIT_ANSWER[0], SPLIT_ANSWER[2]);
        // A send leaning away is left out whole.
        let recent = [SPLIT_ANSWER[0], FILLER_SENDS[1]];
        let (_, text) = score_leaning(&c, &recent, SPLIT_ANSWER[2]).unwrap();
        assert_eq!(text, answer);
        // A short sentence leaning away is left out of a send that leans.
        let padded = format!("{}\n{}", SPLIT_ANSWER[2], FILLER_SENDS[1]);
        assert!(c.lean(&padded).is_leaning());
        let (_, text) = score_leaning(&c, &[SPLIT_ANSWER[0]], &padded).unwrap();
        assert_eq!(text, answer);
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
