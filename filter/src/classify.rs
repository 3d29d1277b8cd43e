//! The content classifier: weighted, explainable signals over the text a recipient reads.
//!
//! Two kinds of signal add up to a score:
//! - lexicon rules: regexes grouped by language, positive for how general-purpose assistants
//!   talk, negative for business transactions (orders, bookings, tickets);
//! - structural signals computed here: markdown, code, math, tables, length, business ids.
//!
//! Each signal fires at most once. A message is a general-assistant message when the score
//! reaches the threshold. Every score names the signals that fired, so decisions explain
//! themselves in logs without carrying any of the text.

use crate::policy::document::{ContentSection, LexiconDoc};
use regex::{Regex, RegexSet, RegexSetBuilder};
use std::collections::{BTreeMap, HashSet};
use std::sync::LazyLock;

/// The built-in lexicon, compiled into the filter from `policies/lexicon.json`.
pub const BUILTIN_LEXICON: &str = include_str!("../../policies/lexicon.json");

/// Structural signals and their default weights.
pub const STRUCTURE_DEFAULTS: &[(&str, f64)] = &[
    ("markdown_heading", 0.8),
    ("markdown_bold", 0.5),
    ("list_3plus", 0.4),
    ("code_fence", 1.5),
    ("latex_math", 1.0),
    ("markdown_table", 0.8),
    ("long_700", 0.4),
    ("long_1500", 0.4),
    ("paragraphs_3plus", 0.3),
    ("business_reference", -0.7),
    ("no_business_reference", 0.3),
];

/// Texts longer than this many characters and without any business id score `no_business_reference`.
const NO_REFERENCE_MIN_CHARS: usize = 400;

/// Regex size budget for the whole lexicon set, compiled once at configure time.
const SET_SIZE_LIMIT: usize = 32 << 20;

/// The lazy DFA's cache. Too small and it thrashes on new text (about 1 ms per message
/// instead of about 10 µs); this is the largest share of the VM's memory.
const DFA_CACHE_LIMIT: usize = 24 << 20;

#[derive(Debug, Clone)]
struct LexiconRule {
    id: String,
    weight: f64,
}

/// A compiled classifier.
#[derive(Debug, Clone)]
pub struct Classifier {
    set: RegexSet,
    rules: Vec<LexiconRule>,
    structure: BTreeMap<&'static str, f64>,
    pub threshold: f64,
}

/// One signal that fired, with its weight.
#[derive(Debug, Clone, PartialEq)]
pub struct Signal {
    pub id: String,
    pub weight: f64,
}

/// A score and the signals behind it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Score {
    pub total: f64,
    pub signals: Vec<Signal>,
}

impl Score {
    fn add(&mut self, id: &str, weight: f64) {
        if weight != 0.0 {
            self.total += weight;
            self.signals.push(Signal {
                id: id.to_owned(),
                weight,
            });
        }
    }

    /// Signal ids, strongest first, for logs.
    pub fn signal_ids(&self) -> Vec<String> {
        let mut s: Vec<&Signal> = self.signals.iter().collect();
        s.sort_by(|a, b| b.weight.abs().total_cmp(&a.weight.abs()));
        s.into_iter().map(|s| s.id.clone()).collect()
    }
}

/// A configuration problem: `(json path relative to content, message)`.
pub type ClassifierError = (String, String);

impl Classifier {
    /// Compiles the content section, with the built-in lexicon unless it is switched off.
    pub fn compile(section: &ContentSection) -> Result<Self, Vec<ClassifierError>> {
        let mut errors = Vec::new();
        let lexicon: LexiconDoc = if section.builtin_lexicon {
            match serde_json::from_str(BUILTIN_LEXICON) {
                Ok(l) => l,
                Err(e) => {
                    return Err(vec![(
                        "builtin_lexicon".into(),
                        format!("built-in lexicon is invalid: {e}"),
                    )]);
                }
            }
        } else {
            LexiconDoc {
                version: 1,
                languages: BTreeMap::new(),
            }
        };
        if let Some(langs) = &section.languages {
            for (i, l) in langs.iter().enumerate() {
                if section.builtin_lexicon && !lexicon.languages.contains_key(l) {
                    let known: Vec<&str> = lexicon.languages.keys().map(String::as_str).collect();
                    errors.push((
                        format!("languages[{i}]"),
                        format!("unknown language `{l}` (known: {})", known.join(", ")),
                    ));
                }
            }
        }
        let enabled = |lang: &str| {
            section
                .languages
                .as_ref()
                .is_none_or(|ls| ls.iter().any(|l| l == lang))
        };
        let disabled: HashSet<&str> = section.disable.iter().map(String::as_str).collect();

        let mut patterns: Vec<String> = Vec::new();
        let mut rules: Vec<LexiconRule> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        for (lang, list) in &lexicon.languages {
            for r in list {
                seen.insert(r.id.clone());
                if enabled(lang) && !disabled.contains(r.id.as_str()) {
                    patterns.push(fold_pattern(&r.pattern));
                    rules.push(LexiconRule {
                        id: r.id.clone(),
                        weight: r.weight,
                    });
                }
            }
        }
        for (i, id) in section.disable.iter().enumerate() {
            if !seen.contains(id) {
                errors.push((format!("disable[{i}]"), format!("no lexicon rule `{id}`")));
            }
        }
        for (i, r) in section.rules.iter().enumerate() {
            if r.id.is_empty() || seen.contains(&r.id) {
                errors.push((
                    format!("rules[{i}].id"),
                    format!("rule id `{}` is empty or already used", r.id),
                ));
            }
            if !r.weight.is_finite() {
                errors.push((
                    format!("rules[{i}].weight"),
                    "weight must be a finite number".into(),
                ));
            }
            if let Err(e) = Regex::new(&r.pattern) {
                errors.push((
                    format!("rules[{i}].pattern"),
                    format!(
                        "invalid regex `{}`: {}",
                        r.pattern,
                        last_line(&e.to_string())
                    ),
                ));
            }
            seen.insert(r.id.clone());
            patterns.push(fold_pattern(&r.pattern));
            rules.push(LexiconRule {
                id: r.id.clone(),
                weight: r.weight,
            });
        }

        let mut structure: BTreeMap<&'static str, f64> =
            STRUCTURE_DEFAULTS.iter().copied().collect();
        for (name, w) in &section.structure {
            match STRUCTURE_DEFAULTS.iter().find(|(n, _)| n == name) {
                Some((n, _)) if w.is_finite() => {
                    structure.insert(n, *w);
                }
                Some(_) => errors.push((
                    format!("structure.{name}"),
                    "weight must be a finite number".into(),
                )),
                None => {
                    let known: Vec<&str> = STRUCTURE_DEFAULTS.iter().map(|(n, _)| *n).collect();
                    errors.push((
                        format!("structure.{name}"),
                        format!(
                            "unknown structural signal `{name}` (known: {})",
                            known.join(", ")
                        ),
                    ));
                }
            }
        }
        if !section.threshold.is_finite() || section.threshold <= 0.0 {
            errors.push((
                "threshold".into(),
                format!(
                    "threshold must be a positive number, got `{}`",
                    section.threshold
                ),
            ));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        // Text and patterns are both lowercased and folded to ASCII, so the set needs no
        // case-insensitivity and ASCII word boundaries suffice: Unicode `\b` would force the
        // slow engine on any non-ASCII message.
        let set = RegexSetBuilder::new(&patterns)
            .size_limit(SET_SIZE_LIMIT)
            .dfa_size_limit(DFA_CACHE_LIMIT)
            .build()
            .map_err(|e| {
                vec![(
                    "rules".to_owned(),
                    format!("lexicon does not compile: {}", last_line(&e.to_string())),
                )]
            })?;
        Ok(Self {
            set,
            rules,
            structure,
            threshold: section.threshold,
        })
    }

    /// Scores the visible text of one message.
    pub fn score(&self, text: &str) -> Score {
        let mut score = Score::default();
        let normalized = normalize_for_lexicon(text);
        for i in self.set.matches(&normalized).iter() {
            if let Some(rule) = self.rules.get(i) {
                score.add(&rule.id, rule.weight);
            }
        }
        for (id, fired) in structural_signals(&strip_invisible(text)) {
            if fired {
                score.add(id, self.structure.get(id).copied().unwrap_or(0.0));
            }
        }
        score
    }

    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }
}

/// Removes zero-width and other invisible characters, keeping line structure, so that they
/// cannot break a markdown marker (`#\u{200B} Title`, `**\u{200B}bold**`, a split code fence).
fn strip_invisible(text: &str) -> std::borrow::Cow<'_, str> {
    let invisible = |c: char| matches!(c, '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}' | '\u{00AD}' | '\u{034F}');
    if !text.is_ascii() && text.chars().any(invisible) {
        std::borrow::Cow::Owned(text.chars().filter(|c| !invisible(*c)).collect())
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// Lowercases and folds a pattern's literal characters the way text is normalised, keeping
/// escapes intact, and makes `\b` an ASCII word boundary.
pub fn fold_pattern(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('b') => out.push_str("(?-u:\\b)"),
                Some(e) => {
                    out.push('\\');
                    out.push(e);
                }
                None => out.push('\\'),
            }
            continue;
        }
        for l in c.to_lowercase() {
            match fold_diacritic(l) {
                Some(a) => out.push_str(a),
                None => out.push(l),
            }
        }
    }
    out
}

/// ASCII for the lowercase Latin letters with diacritics used by the lexicon's languages.
fn fold_diacritic(c: char) -> Option<&'static str> {
    Some(match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ą' => "a",
        'ç' | 'ć' | 'č' => "c",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ę' | 'ě' => "e",
        'ì' | 'í' | 'î' | 'ï' | 'ī' => "i",
        'ñ' | 'ń' | 'ň' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' => "o",
        'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' => "u",
        'ý' | 'ÿ' => "y",
        'ś' | 'š' => "s",
        'ź' | 'ż' | 'ž' => "z",
        'ł' => "l",
        'ř' => "r",
        'ď' => "d",
        'ť' => "t",
        'ß' => "ss",
        'æ' => "ae",
        'œ' => "oe",
        _ => return None,
    })
}

fn last_line(s: &str) -> String {
    s.lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or(s)
        .trim()
        .to_owned()
}

/// Removes invisible characters, folds full-width ASCII and collapses whitespace, so that
/// zero-width joiners, odd spaces and line breaks cannot split a phrase; then lowercases and
/// folds Latin diacritics to ASCII (`é` → `e`, `ß` → `ss`), as `fold_pattern` does to rules.
pub fn normalize_for_lexicon(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last_space = true;
    let mut rest = text;
    while !rest.is_empty() {
        // Fast path: runs of ASCII (most WhatsApp text) need only lowercasing and the
        // whitespace collapse, byte by byte; other characters are decoded one at a time.
        let run = rest
            .bytes()
            .position(|b| !b.is_ascii())
            .unwrap_or(rest.len());
        let Some((ascii, tail)) = rest.split_at_checked(run) else {
            break;
        };
        push_ascii_run(&mut out, &mut last_space, ascii);
        let mut chars = tail.chars();
        if let Some(ch) = chars.next() {
            push_folded(&mut out, &mut last_space, ch);
        }
        rest = chars.as_str();
    }
    if out.ends_with(' ') {
        out.pop();
    }
    out
}

/// Appends an ASCII run: its words are copied whole and lowercased in place, and each run of
/// whitespace becomes one space.
fn push_ascii_run(out: &mut String, last_space: &mut bool, ascii: &str) {
    let is_space = |b: &u8| matches!(b, b'\t' | b'\n' | 0x0B | 0x0C | b'\r' | b' ');
    let start = out.len();
    let mut rest = ascii;
    loop {
        let word_len = rest
            .bytes()
            .position(|b| is_space(&b))
            .unwrap_or(rest.len());
        let (word, tail) = rest.split_at_checked(word_len).unwrap_or((rest, ""));
        if !word.is_empty() {
            out.push_str(word);
            *last_space = false;
        }
        let Some(after_space) = tail.get(1..) else {
            break;
        };
        if !*last_space {
            out.push(' ');
            *last_space = true;
        }
        rest = after_space;
    }
    if let Some(added) = out.get_mut(start..) {
        added.make_ascii_lowercase();
    }
}

/// Appends one non-ASCII character, lowercased and folded.
fn push_folded(out: &mut String, last_space: &mut bool, ch: char) {
    for c in ch.to_lowercase() {
        if let Some(ascii) = fold_diacritic(c) {
            out.push_str(ascii);
            *last_space = false;
            continue;
        }
        let c = match c {
            '\u{200B}'..='\u{200F}'
            | '\u{2060}'..='\u{2064}'
            | '\u{FEFF}'
            | '\u{00AD}'
            | '\u{034F}' => {
                continue;
            }
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{2018}' | '\u{2019}' | '\u{02BC}' => '\'',
            '\u{201C}' | '\u{201D}' => '"',
            c => c,
        };
        push_normalized(out, last_space, c);
    }
}

/// Appends one normalised character, collapsing whitespace runs to one space.
fn push_normalized(out: &mut String, last_space: &mut bool, c: char) {
    if c.is_whitespace() {
        if !*last_space {
            out.push(' ');
        }
        *last_space = true;
    } else {
        out.push(c);
        *last_space = false;
    }
}

struct StructureRegexes {
    heading: Regex,
    bold: Regex,
    list_item: Regex,
    latex: Regex,
    table: Regex,
    business: Regex,
}

/// An order, booking, ticket... id, in the lexicon's languages (matched case-insensitively).
const BUSINESS_REF: &str = r"#\s?[a-z]{0,4}\d[a-z0-9-]{2,}|\b(?:order|booking|reservation|ticket|case|tracking|confirmation|reference|ref|invoice|claim|policy|account|membership|loyalty|pnr|commande|réservation|dossier|facture|pedido|reserva|encomenda|fatura|factura|bestellung|buchung|auftrag|rechnung|ordine|prenotazione|fattura|pratica|bestelling|boeking|factuur)\w*\s*(?:no\.?|nr\.?|n[°º]|number|num|id|code|#|numéro|número|nummer|numero)?\s*[:#]?\s*[a-z]{0,4}-?\d[a-z0-9-]{2,}";

/// Case-sensitive: uppercase codes such as `ZX-48213` or `ABC123` read as a booking or parcel id.
const BUSINESS_CODE: &str = r"\b[A-Z]{2,5}-?\d{3,}[A-Z0-9]*\b|\b\d{3,}-[A-Z0-9]{2,}\b";

static STRUCTURE: LazyLock<Option<StructureRegexes>> = LazyLock::new(|| {
    Some(StructureRegexes {
        heading: Regex::new(r"(?m)^\s{0,3}#{1,6}\s+\S").ok()?,
        bold: Regex::new(r"\*\*[^*\n]+\*\*|__[^_\n]+__").ok()?,
        list_item: Regex::new(r"(?m)^\s*(?:[-*•▪◦–]|\d{1,2}[.)]|[a-z][.)])\s+\S").ok()?,
        latex: Regex::new(r"\\(?:frac|sqrt|times|cdot|sum|int|alpha|beta|pi|theta|le|ge|neq|boxed)\b|\$\$|\\\(|\\\[").ok()?,
        table: Regex::new(r"(?m)^\s*\|?\s*:?-{3,}:?\s*\|").ok()?,
        // One pass for both kinds of business id.
        business: Regex::new(&format!("(?i:{BUSINESS_REF})|{BUSINESS_CODE}")).ok()?,
    })
});

/// What one pass over the bytes tells about a text: the necessary conditions of the
/// structural regexes, so that most texts skip most of them.
#[derive(Debug, Default, PartialEq)]
struct Shape {
    chars: usize,
    newlines: usize,
    /// `#`: a heading.
    hash: bool,
    /// `**` or `__`: bold.
    pair_emphasis: bool,
    /// `\\` or `$`: LaTeX.
    latex: bool,
    pipe: bool,
    /// `---` (looked for only when there is a `|`): a table's separator row.
    dashes3: bool,
    /// A code fence.
    fence: bool,
    /// A decimal digit, or any non-ASCII character (which could be a Unicode digit).
    digit: bool,
}

/// Byte classes for `Shape::of`, one bit per byte the structural regexes need.
const CLASS_HASH: u8 = 1;
const CLASS_EMPHASIS: u8 = 2;
const CLASS_LATEX: u8 = 4;
const CLASS_PIPE: u8 = 8;
const CLASS_DASH: u8 = 16;
const CLASS_BACKTICK: u8 = 32;
const CLASS_DIGIT: u8 = 64;

#[expect(
    clippy::indexing_slicing,
    reason = "evaluated at compile time: an out-of-range index fails the build, never a request"
)]
static BYTE_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = match b as u8 {
            b'#' => CLASS_HASH,
            b'*' | b'_' => CLASS_EMPHASIS,
            b'\\' | b'$' => CLASS_LATEX,
            b'|' => CLASS_PIPE,
            b'-' => CLASS_DASH,
            b'`' => CLASS_BACKTICK,
            b'0'..=b'9' | 0x80.. => CLASS_DIGIT,
            _ => 0,
        };
        b += 1;
    }
    t
};

impl Shape {
    /// One branch-free pass for the single bytes; the runs (`**`, `---`, three backticks)
    /// are searched for only when their byte occurs.
    fn of(text: &str) -> Self {
        let bytes = text.as_bytes();
        let (mut class, mut newlines, mut continuation) = (0u8, 0usize, 0usize);
        for &b in bytes {
            class |= BYTE_CLASS.get(usize::from(b)).copied().unwrap_or(0);
            newlines += usize::from(b == b'\n');
            // UTF-8 continuation bytes do not start a character.
            continuation += usize::from(b & 0xC0 == 0x80);
        }
        let has = |bit: u8| class & bit != 0;
        Self {
            chars: bytes.len() - continuation,
            newlines,
            hash: has(CLASS_HASH),
            pair_emphasis: has(CLASS_EMPHASIS) && (text.contains("**") || text.contains("__")),
            latex: has(CLASS_LATEX),
            pipe: has(CLASS_PIPE),
            dashes3: has(CLASS_DASH) && has(CLASS_PIPE) && text.contains("---"),
            fence: has(CLASS_BACKTICK) && text.contains("```"),
            digit: has(CLASS_DIGIT),
        }
    }
}

/// Evaluates every structural signal. Returns `(signal id, fired)`.
fn structural_signals(text: &str) -> [(&'static str, bool); 11] {
    let Some(re) = STRUCTURE.as_ref() else {
        return [("", false); 11];
    };
    // Each regex runs only when the text holds what every one of its matches needs.
    let shape = Shape::of(text);
    let chars = shape.chars;
    let has_ref = shape.digit && re.business.is_match(text);
    // Three paragraphs need two blank-line separators, so at least four line feeds.
    let paragraphs = if shape.newlines >= 4 {
        text.split("\n\n").filter(|p| !p.trim().is_empty()).count()
    } else {
        1
    };
    [
        ("markdown_heading", shape.hash && re.heading.is_match(text)),
        (
            "markdown_bold",
            shape.pair_emphasis && re.bold.is_match(text),
        ),
        (
            "list_3plus",
            shape.newlines >= 2 && re.list_item.find_iter(text).nth(2).is_some(),
        ),
        ("code_fence", shape.fence),
        ("latex_math", shape.latex && re.latex.is_match(text)),
        (
            "markdown_table",
            shape.pipe && shape.dashes3 && re.table.is_match(text),
        ),
        ("long_700", chars > 700),
        ("long_1500", chars > 1500),
        ("paragraphs_3plus", paragraphs >= 3),
        ("business_reference", has_ref),
        (
            "no_business_reference",
            !has_ref && chars > NO_REFERENCE_MIN_CHARS,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain, char-by-char definitions the fast paths must agree with.
    mod reference {
        use super::super::*;

        pub fn normalize(text: &str) -> String {
            let mut out = String::new();
            let mut last_space = true;
            for ch in text.chars() {
                for c in ch.to_lowercase() {
                    if let Some(ascii) = fold_diacritic(c) {
                        out.push_str(ascii);
                        last_space = false;
                        continue;
                    }
                    let c = match c {
                        '\u{200B}'..='\u{200F}'
                        | '\u{2060}'..='\u{2064}'
                        | '\u{FEFF}'
                        | '\u{00AD}'
                        | '\u{034F}' => continue,
                        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap(),
                        '\u{2018}' | '\u{2019}' | '\u{02BC}' => '\'',
                        '\u{201C}' | '\u{201D}' => '"',
                        c => c,
                    };
                    push_normalized(&mut out, &mut last_space, c);
                }
            }
            if out.ends_with(' ') {
                out.pop();
            }
            out
        }

        pub fn structural(text: &str) -> Vec<(&'static str, bool)> {
            let re = STRUCTURE.as_ref().unwrap();
            let chars = text.chars().count();
            let business_ref = Regex::new(&format!("(?i){BUSINESS_REF}")).unwrap();
            let business_code = Regex::new(BUSINESS_CODE).unwrap();
            let has_ref = business_ref.is_match(text) || business_code.is_match(text);
            let paragraphs = text.split("\n\n").filter(|p| !p.trim().is_empty()).count();
            vec![
                ("markdown_heading", re.heading.is_match(text)),
                ("markdown_bold", re.bold.is_match(text)),
                ("list_3plus", re.list_item.find_iter(text).nth(2).is_some()),
                ("code_fence", text.contains("```")),
                ("latex_math", re.latex.is_match(text)),
                ("markdown_table", re.table.is_match(text)),
                ("long_700", chars > 700),
                ("long_1500", chars > 1500),
                ("paragraphs_3plus", paragraphs >= 3),
                ("business_reference", has_ref),
                (
                    "no_business_reference",
                    !has_ref && chars > NO_REFERENCE_MIN_CHARS,
                ),
            ]
        }
    }

    /// Seeded texts built from the pieces the fast paths special-case: every kind of
    /// whitespace, markdown markers, digits (ASCII and not), case changes that expand,
    /// diacritics, invisible and full-width characters.
    fn generated_texts() -> Vec<String> {
        const PIECES: &[&str] = &[
            "a",
            "Z",
            "hello",
            " ",
            "  ",
            "\t",
            "\n",
            "\n\n",
            "\r\n",
            "\u{0B}",
            "\u{0C}",
            "#",
            "## ",
            "*",
            "**",
            "__",
            "_",
            "\\frac",
            "\\",
            "$",
            "$$",
            "|",
            "-",
            "---",
            ":---:",
            "`",
            "```",
            "1",
            "42",
            "123",
            "ZX-48213",
            "order #A123",
            "٣",
            "#٣ab",
            "٣٤٥-AB",
            "é",
            "É",
            "ß",
            "İ",
            "Σ",
            "ﬁ",
            "\u{200B}",
            "\u{00AD}",
            "\u{FEFF}",
            "Ｈｅｌｌｏ",
            "\u{2019}",
            "\u{201C}",
            "\u{00A0}",
            "\u{2003}",
            "\u{3000}",
            "- item",
            "1. step",
            "a) x",
            "日本",
            "😀",
        ];
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        (0..3000)
            .map(|_| {
                let len = (next() % 60) as usize;
                (0..len)
                    .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
                    .collect()
            })
            .collect()
    }

    #[test]
    fn fast_normalisation_agrees_with_the_reference() {
        for text in generated_texts() {
            assert_eq!(
                normalize_for_lexicon(&text),
                reference::normalize(&text),
                "{text:?}"
            );
        }
    }

    #[test]
    fn prefiltered_structure_agrees_with_the_reference() {
        for text in generated_texts() {
            let text = strip_invisible(&text);
            assert_eq!(
                structural_signals(&text).to_vec(),
                reference::structural(&text),
                "{text:?}"
            );
        }
    }

    fn section(json: &str) -> ContentSection {
        serde_json::from_str(json).unwrap()
    }

    fn only(rules: &str) -> Classifier {
        Classifier::compile(&section(&format!(
            r#"{{"builtin_lexicon": false, "rules": {rules}}}"#
        )))
        .unwrap()
    }

    #[test]
    fn builtin_lexicon_compiles_with_all_languages() {
        let c = Classifier::compile(&section("{}")).unwrap();
        assert!(c.rule_count() > 0);
    }

    #[test]
    fn rules_fire_once_and_case_insensitively() {
        let c = only(r#"[{"id":"a","pattern":"here is","weight":0.7}]"#);
        let s = c.score("HERE IS one, here is two");
        assert_eq!(
            s.signals,
            vec![Signal {
                id: "a".into(),
                weight: 0.7
            }]
        );
    }

    #[test]
    fn diacritics_and_case_fold_on_both_sides() {
        let c = only(r#"[{"id":"fr","pattern":"\\bvoilà une réponse\\b","weight":1}]"#);
        assert_eq!(c.score("VOILA UNE REPONSE").total, 1.0);
        assert_eq!(c.score("Voilà une réponse détaillée").total, 1.0);
        assert_eq!(c.score("voilà une réponsex").total, 0.0);
        assert_eq!(fold_pattern(r"\bStraße\S+"), r"(?-u:\b)strasse\S+");
    }

    #[test]
    fn zero_width_and_line_breaks_cannot_split_a_phrase() {
        let c = only(r#"[{"id":"a","pattern":"as an ai language model","weight":2}]"#);
        assert_eq!(
            c.score("As an\u{200B} AI\nlanguage\u{00A0}model, I").total,
            2.0
        );
        assert_eq!(c.score("Ａｓ ａｎ ＡＩ language model").total, 2.0);
    }

    #[test]
    fn structural_signals_fire_on_markdown_and_code() {
        let c = only("[]");
        let s =
            c.score("# Title\n\nSome **bold** text\n\n- a\n- b\n- c\n\n```rust\nfn x() {}\n```");
        let ids = s.signal_ids();
        for id in [
            "markdown_heading",
            "markdown_bold",
            "list_3plus",
            "code_fence",
            "paragraphs_3plus",
        ] {
            assert!(ids.iter().any(|i| i == id), "{id} missing in {ids:?}");
        }
    }

    #[test]
    fn business_references_are_recognised_in_several_languages() {
        let c = only("[]");
        for t in [
            "Your order #A1234 has shipped",
            "Votre commande n° 558812 est prête",
            "Ihre Buchung 77812X ist bestätigt",
            "Parcel ZX-48213 is out for delivery",
        ] {
            assert!(
                c.score(t)
                    .signal_ids()
                    .contains(&"business_reference".to_string()),
                "{t}"
            );
        }
        assert!(
            !c.score("In 1969 the first humans walked on the moon.")
                .signal_ids()
                .contains(&"business_reference".to_string())
        );
    }

    #[test]
    fn configuration_errors_are_reported_together() {
        let err = Classifier::compile(&section(
            r#"{"builtin_lexicon": false, "threshold": -1, "rules":[{"id":"x","pattern":"(","weight":1}], "structure":{"nope":1}, "disable":["ghost"]}"#,
        ))
        .unwrap_err();
        let paths: Vec<&str> = err.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            paths,
            [
                "disable[0]",
                "rules[0].pattern",
                "structure.nope",
                "threshold"
            ]
        );
    }

    #[test]
    fn structure_weights_can_be_overridden() {
        let c = Classifier::compile(&section(
            r#"{"builtin_lexicon": false, "structure": {"code_fence": 3.0}}"#,
        ))
        .unwrap();
        assert_eq!(c.score("```\nx\n```").total, 3.0);
    }
}
