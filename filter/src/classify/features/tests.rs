use super::structure::{has_business_id, has_business_id_bytewise};
use super::*;
use crate::classify::normalize::normalize;

/// Records the words and their kinds.
#[derive(Default)]
struct Words(Vec<String>, Vec<u64>);

impl Sink for Words {
    fn feature(&mut self, hash: u64, _kind: Kind) {
        self.1.push(hash);
    }
    fn named(&mut self, _hash: u64, kind: Kind, first: &str, _second: Option<&str>) {
        if kind == Kind::Word {
            self.0.push(first.to_owned());
        }
    }
}

fn words(text: &str) -> Vec<String> {
    let mut w = Words::default();
    featurize(&normalize(text), &mut Scratch::default(), &mut w);
    w.0
}

fn hashes(text: &str) -> Vec<u64> {
    let mut w = Words::default();
    featurize(&normalize(text), &mut Scratch::default(), &mut w);
    w.1
}

#[test]
fn words_split_on_punctuation_and_cjk_characters_stand_alone() {
    assert_eq!(words("Hello, world! It's"), ["hello", "world", "it", "s"]);
    assert_eq!(words("你好世界"), ["你", "好", "世", "界"]);
    assert_eq!(
        words("注文が届きました"),
        ["注", "文", "か\u{3099}", "届", "き", "ま", "し", "た"]
    );
    assert_eq!(words("किताब पढ़ो"), words("किताब पढ़ो"));
    assert_eq!(words("किताब").len(), 1);
}

#[test]
fn cyrillic_and_greek_lookalikes_read_as_latin_in_latin_words() {
    // Cyrillic е, р, а, о; Greek ο.
    assert_eq!(
        words("Hеrе is а rеcipе fοr yοu"),
        words("Here is a recipe for you")
    );
    assert_eq!(hashes("Еxрlаin"), hashes("Explain"));
    // A Russian word is left alone.
    assert_eq!(words("привет"), ["привет"]);
}

#[test]
fn latin_letters_inside_cyrillic_and_greek_words_read_in_the_words_script() {
    // Latin o, a, e, p, c, x, y, and capitals H, M, T, B, K (lowercase after normalising).
    assert_eq!(words("прoстo объяcнить"), ["просто", "объяснить"]);
    assert_eq!(words("пaкeт Hoвый"), words("пакет новый"));
    assert_eq!(hashes("Пpивeт, кaк дeлa"), hashes("Привет, как дела"));
    assert_eq!(words("καλημέρα"), words("καλημέρa"));
    assert_eq!(hashes("Ευχαριστώ"), hashes("Eυχαριστώ"));
    // A Latin word disguised with Cyrillic letters stays Latin, and so does a Latin word with
    // one Cyrillic letter that has no Latin look-alike.
    assert_eq!(words("Еxрlаin аррlе"), ["explain", "apple"]);
    assert_eq!(words("expлain"), ["expлain"]);
}

#[test]
fn spaced_out_letters_are_one_word() {
    assert_eq!(words("e x p l a i n this"), ["explain", "this"]);
    assert_eq!(words("e.x.p.l.a.i.n"), ["explain"]);
    assert_eq!(words("e-x-p-l-a-i-n"), ["explain"]);
    // Three single letters stay apart.
    assert_eq!(words("il y a à"), ["il", "y", "a", "a"]);
}

#[test]
fn structure_reads_markdown_lists_and_ids() {
    let text = normalize(
        "# Title\n\nSome **bold** text\n\n- a\n- b\n- c\n\n```\ncode\n```\n\n| a | b |\n|---|---|",
    );
    let mut shape = Shape::default();
    for p in paragraphs(&text) {
        shape.merge(&extract(p, &mut Scratch::default(), &mut Words::default()));
    }
    let ids: Vec<&str> = shape.structure().ids().map(|(_, n)| n).collect();
    for id in [
        "md_heading",
        "md_bold",
        "list_3plus",
        "code_fence",
        "md_table",
        "paragraphs_3plus",
    ] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    let ids_of = |t: &str| -> Vec<&'static str> {
        let n = normalize(t);
        let s = featurize(&n, &mut Scratch::default(), &mut Words::default());
        s.structure().ids().map(|(_, n)| n).collect()
    };
    assert!(ids_of("Your order #A1234 has shipped").contains(&"business_id"));
    assert!(ids_of("Parcel ZX-48213 is out").contains(&"business_id"));
    assert!(!ids_of("In 1969 humans walked on the moon.").contains(&"business_id"));
    assert!(ids_of("short").contains(&"len_lt80"));
}

#[test]
fn featurize_is_the_sum_of_its_paragraphs() {
    let text = normalize("First part here.\n\nSecond part there.");
    let mut whole = Words::default();
    featurize(&text, &mut Scratch::default(), &mut whole);
    let mut parts = Words::default();
    for p in paragraphs(&text) {
        extract(p, &mut Scratch::default(), &mut parts);
    }
    assert_eq!(whole.1, parts.1);
}

/// Records the names of one kind of feature, with the trainer's naming.
struct Named(Kind, Vec<String>);

impl Sink for Named {
    fn feature(&mut self, _hash: u64, _kind: Kind) {}
    fn wants_names(&self) -> bool {
        true
    }
    fn named(&mut self, _hash: u64, kind: Kind, first: &str, second: Option<&str>) {
        if kind == self.0 {
            self.1.push(match second {
                Some(s) => format!("{first} {s}"),
                None => first.to_owned(),
            });
        }
    }
}

fn named(kind: Kind, text: &str) -> Vec<String> {
    let mut n = Named(kind, Vec::new());
    featurize(&normalize(text), &mut Scratch::default(), &mut n);
    n.1
}

#[test]
fn shape_tokens_read_punctuation_number_shapes_and_line_breaks() {
    // Words merge into one `w`, digits become their count, blanks are skipped.
    assert_eq!(
        named(Kind::Shape, "12 + 30 = 42"),
        ["#2", "+", "#2 +", "#2", "+ #2", "=", "#2 =", "#2", "= #2"].map(String::from)
    );
    assert_eq!(
        named(Kind::Shape, "Hello there, friend\nbye"),
        [",", "w ,", ", w", "NL", "w NL", "NL w"].map(String::from)
    );
    // At most six digits, then the run is `#6` whatever its length.
    assert_eq!(
        named(Kind::Shape, "ref 123456789"),
        ["#6", "w #6"].map(String::from)
    );
    // A run mixing letters and digits is a word; a CJK sentence is one run.
    assert!(named(Kind::Shape, "a0000b 注文3件").is_empty());
    assert_eq!(
        named(Kind::Shape, "注文ですか？"),
        ["?", "w ?"].map(String::from)
    );
}

#[test]
fn a_symbol_outside_ascii_counts_at_most_three_times_per_paragraph() {
    let shape_count = |text: &str| {
        named(Kind::Shape, text)
            .iter()
            .filter(|n| n.contains('🙂'))
            .count()
    };
    // The emoji, and its pairs with a word and with itself: three times each at most.
    assert_eq!(shape_count("ok 🙂"), 2);
    let stuffed = format!("The answer is here. {}", "🙂".repeat(60));
    assert_eq!(shape_count(&stuffed), 3 + 3 + 1);
    let after_each_word = "one 🙂 two 🙂 three 🙂 four 🙂 five 🙂 six 🙂 seven 🙂";
    assert_eq!(shape_count(after_each_word), 3 + 3 + 3);
    // ASCII punctuation is counted every time.
    assert_eq!(
        named(Kind::Shape, "a. b. c. d. e. f.")
            .iter()
            .filter(|n| n.as_str() == ".")
            .count(),
        6
    );
}

#[test]
fn shape_tokens_ignore_how_blanks_are_written() {
    // Obfuscation by blanks (no-break, ideographic, en spaces) changes no shape feature.
    assert_eq!(
        hashes("Total: 25 € = 5 x 5"),
        hashes("Total:\u{00A0}25\u{3000}€ =\u{2002}5 x 5")
    );
}

#[test]
fn position_features_name_a_paragraphs_first_and_last_words_and_first_bigram() {
    assert_eq!(
        named(Kind::Position, "Sure, here is a poem.\n\nHope you like it"),
        ["^sure here", "^sure", "poem$", "^hope you", "^hope", "it$"].map(String::from)
    );
    assert_eq!(
        named(Kind::Position, "Thanks"),
        ["^thanks", "thanks$"].map(String::from)
    );
    assert!(named(Kind::Position, "!!!").is_empty());
}

#[test]
fn scoring_sinks_build_no_names() {
    // The scorer's sink does not ask for names, so shape and position features cost no string.
    struct Count(usize);
    impl Sink for Count {
        fn feature(&mut self, _hash: u64, _kind: Kind) {}
        fn named(&mut self, _hash: u64, kind: Kind, _first: &str, _second: Option<&str>) {
            if matches!(kind, Kind::Shape | Kind::Position) {
                self.0 += 1;
            }
        }
    }
    let mut c = Count(0);
    featurize(
        &normalize("Why? Because 2 + 2 = 4."),
        &mut Scratch::default(),
        &mut c,
    );
    assert_eq!(c.0, 0);
}

/// The featuriser as first written, one character at a time and with the look-alike table
/// searched per character: the reference that the faster code must match feature for feature.
mod reference {
    use super::super::*;

    #[derive(Default)]
    struct Text {
        words: Vec<(String, bool, bool)>,
        tokens: Vec<u32>,
    }

    impl Text {
        fn push_token(&mut self, token: u32) {
            if token != TOKEN_WORD || self.tokens.last() != Some(&TOKEN_WORD) {
                self.tokens.push(token);
            }
        }
    }

    #[derive(Default)]
    struct State {
        gap: usize,
        gap_newline: bool,
        word: Option<(String, bool)>,
        last_single: bool,
        run: u32,
        run_digits: bool,
    }

    impl State {
        fn run_char(&mut self, c: char) {
            if self.run == 0 {
                self.run_digits = true;
            }
            self.run += 1;
            self.run_digits &= c == '0';
        }

        fn end_run(&mut self, t: &mut Text) {
            if self.run > 0 {
                t.push_token(if self.run_digits {
                    TOKEN_DIGITS + self.run.min(MAX_DIGITS_SHAPE)
                } else {
                    TOKEN_WORD
                });
                self.run = 0;
            }
        }

        fn end_word(&mut self, t: &mut Text) {
            if let Some((w, short_gap)) = self.word.take() {
                t.words.push((mapped(&w), false, short_gap));
            }
        }
    }

    /// [`word_script`], written as its rule reads.
    fn mapped(word: &str) -> String {
        let letters: Vec<char> = word
            .chars()
            .filter(|&c| is_word_char(c) && !is_numeric(c) && !is_combining_mark(c))
            .collect();
        let latin = letters.iter().filter(|c| c.is_ascii_alphabetic()).count();
        let in_block = |c: char, blocks: &[(u32, u32)]| {
            blocks
                .iter()
                .any(|&(lo, hi)| (lo..=hi).contains(&u32::from(c)))
        };
        let script = |blocks: &[(u32, u32)], twin: fn(char) -> Option<char>| {
            let all = letters.iter().filter(|&&c| in_block(c, blocks)).count();
            let unique = letters
                .iter()
                .filter(|&&c| in_block(c, blocks) && lookalike(c).is_none())
                .count();
            let without_twin = letters
                .iter()
                .filter(|&&c| c.is_ascii_alphabetic() && twin(c).is_none())
                .count();
            let stands = (without_twin == 0 && all > latin) || unique > without_twin;
            (all, latin > 0 && stands)
        };
        let (cyrillic, cyrillic_word) = script(&[(0x0400, 0x052F)], cyrillic_twin);
        let (greek, greek_word) = script(&[(0x0370, 0x03FF), (0x1F00, 0x1FFF)], greek_twin);
        if cyrillic_word && cyrillic >= greek {
            return word
                .chars()
                .map(|c| cyrillic_twin(c).unwrap_or(c))
                .collect();
        }
        if greek_word {
            return word.chars().map(|c| greek_twin(c).unwrap_or(c)).collect();
        }
        let lookalikes = letters
            .iter()
            .any(|&c| !c.is_ascii() && lookalike(c).is_some());
        let unique = letters
            .iter()
            .any(|&c| !c.is_ascii_alphabetic() && lookalike(c).is_none());
        if lookalikes && (latin > 0 || !unique) {
            return word.chars().map(|c| lookalike(c).unwrap_or(c)).collect();
        }
        word.to_owned()
    }

    fn split(text: &str) -> Text {
        let mut t = Text::default();
        let mut st = State::default();
        for c in text.chars() {
            if is_combining_mark(c) && st.last_single && st.word.is_none() && st.gap == 0 {
                if let Some(last) = t.words.last_mut() {
                    last.0.push(c);
                }
                st.run_char(c);
            } else if is_single_char_word(c) {
                st.end_word(&mut t);
                t.words
                    .push((c.to_string(), true, st.gap == 1 && !st.gap_newline));
                st.run_char(c);
                st.last_single = true;
                st.gap = 0;
                st.gap_newline = false;
            } else if is_word_char(c) {
                let short_gap = st.gap == 1 && !st.gap_newline;
                st.word
                    .get_or_insert_with(|| (String::new(), short_gap))
                    .0
                    .push(c);
                st.run_char(c);
                st.last_single = false;
                st.gap = 0;
                st.gap_newline = false;
            } else {
                st.end_word(&mut t);
                st.end_run(&mut t);
                if c == '\n' {
                    t.push_token(TOKEN_NL);
                } else if !c.is_whitespace() {
                    t.push_token(u32::from(c));
                }
                st.last_single = false;
                st.gap += 1;
                st.gap_newline |= c == '\n';
            }
        }
        st.end_word(&mut t);
        st.end_run(&mut t);
        // Spaced-out letters.
        let letter = |w: &(String, bool, bool)| !w.1 && w.0.chars().count() == 1;
        let mut out: Vec<(String, bool, bool)> = Vec::new();
        let mut i = 0;
        while i < t.words.len() {
            let mut j = i + 1;
            if letter(&t.words[i]) {
                while j < t.words.len() && letter(&t.words[j]) && t.words[j].2 {
                    j += 1;
                }
            }
            if j - i >= MIN_SPACED_LETTERS {
                let joined: String = t.words[i..j].iter().map(|w| w.0.as_str()).collect();
                out.push((mapped(&joined), false, t.words[i].2));
            } else {
                out.extend(t.words[i..j].iter().cloned());
            }
            i = j;
        }
        t.words = out;
        t
    }

    /// Every feature of a paragraph, as `(kind code, hash)`, and its words.
    pub fn features(text: &str) -> (Vec<(u8, u64)>, Vec<String>) {
        let t = split(text);
        let mut f = Vec::new();
        let mut prev: Option<u32> = None;
        // A feature with a symbol outside ASCII counts at most MAX_SYMBOL_REPEATS times.
        let symbol = |t: u32| (0x80..TOKEN_NL).contains(&t);
        let mut seen: std::collections::HashMap<u64, u8> = std::collections::HashMap::new();
        let mut push = |f: &mut Vec<(u8, u64)>, is_symbol: bool, key: u64, h: u64| {
            let n = seen.entry(key).or_default();
            if !is_symbol || *n < MAX_SYMBOL_REPEATS {
                f.push((3, h));
            }
            *n = n.saturating_add(1);
        };
        for &tok in &t.tokens {
            if tok != TOKEN_WORD {
                push(
                    &mut f,
                    symbol(tok),
                    u64::from(tok),
                    mix(SEED_SHAPE, u64::from(tok)),
                );
            }
            if let Some(p) = prev {
                let h = mix(mix(SEED_SHAPE_PAIR, u64::from(p)), u64::from(tok));
                push(&mut f, symbol(p) || symbol(tok), h, h);
            }
            prev = Some(tok);
        }
        let hashes: Vec<u64> = t.words.iter().map(|w| hash_str(SEED_WORD, &w.0)).collect();
        for (i, (word, single, _)) in t.words.iter().enumerate() {
            f.push((0, hashes[i]));
            if i > 0 {
                f.push((1, mix(mix(SEED_BIGRAM, hashes[i - 1]), hashes[i])));
            }
            if !single {
                let chars: Vec<char> = std::iter::once('<')
                    .chain(word.chars())
                    .chain(std::iter::once('>'))
                    .collect();
                for start in 0..chars.len() {
                    let mut h = SEED_CHAR;
                    for (k, c) in chars.iter().skip(start).take(MAX_N).enumerate() {
                        h = mix(h, u64::from(*c));
                        if k + 1 >= MIN_N {
                            f.push((2, h));
                        }
                    }
                }
            }
        }
        if let Some(&first) = hashes.first() {
            if let Some(&second) = hashes.get(1) {
                f.push((4, mix(mix(SEED_POS ^ 2, first), second)));
            }
            f.push((4, mix(SEED_POS, first)));
            f.push((4, mix(SEED_POS ^ 1, *hashes.last().unwrap())));
        }
        (f, t.words.into_iter().map(|w| w.0).collect())
    }
}

/// Texts mixing what the splitter treats differently: ASCII words and digits, punctuation,
/// Cyrillic, Greek and mixed-script words, CJK with voicing marks, Thai, Devanagari, Arabic,
/// spaced-out letters, line breaks, emoji, long words.
fn generated_texts() -> Vec<String> {
    const PIECES: &[&str] = &[
        "hello",
        "World",
        "0",
        "12",
        "1234567",
        "a0b",
        " ",
        " ",
        " ",
        "  ",
        "\n",
        "\n\n",
        ".",
        ", ",
        "!",
        "? ",
        "#",
        "**",
        "-",
        "—",
        "'",
        "привет",
        "Еxрlаin",
        "рор",
        "οκ",
        "ѕeа",
        "注文",
        "が",
        "か\u{3099}",
        "ガ",
        "ภาษาไทย",
        "किताब",
        "पढ़ो",
        "كتاب",
        "é",
        "e\u{301}",
        "x",
        "y",
        "e x p l a i n",
        "a。b",
        "🙂",
        "€",
        "ﬁ",
        "Ｅｘ",
        "\u{200B}",
        "ё",
        "Й",
        "supercalifragilisticexpialidocious-and-then-some-more-letters-to-pass-sixty-four",
        "длинноесловодлинноесловодлинноесловодлинноесловодлинноесловоещё",
    ];
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..3000)
        .map(|_| {
            let len = 1 + (next() % 40) as usize;
            (0..len)
                .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
                .collect()
        })
        .collect()
}

/// Every feature as `(kind code, hash)`, sorted, and the words in order.
struct All(Vec<(u8, u64)>, Vec<String>);

impl Sink for All {
    fn feature(&mut self, hash: u64, kind: Kind) {
        self.0.push((kind.code(), hash));
    }
    fn named(&mut self, _hash: u64, kind: Kind, first: &str, _second: Option<&str>) {
        if kind == Kind::Word {
            self.1.push(first.to_owned());
        }
    }
}

#[test]
fn features_match_the_straightforward_reference() {
    let mut scratch = Scratch::default();
    let mut n = 0;
    for raw in generated_texts() {
        for text in [normalize(&raw), raw.clone()] {
            for p in paragraphs(&text) {
                let mut got = All(Vec::new(), Vec::new());
                let shape = extract(p, &mut scratch, &mut got);
                let (mut want, words) = reference::features(p);
                got.0.sort_unstable();
                want.sort_unstable();
                assert_eq!(got.1, words, "{p:?}");
                assert_eq!(got.0, want, "{p:?}");
                assert_eq!(shape, super::shape(p));
                n += 1;
            }
        }
    }
    assert!(n > 5000, "{n}");
}

#[test]
fn the_dense_lookalike_table_agrees_with_the_search() {
    for c in (0..0x11_0000u32).filter_map(char::from_u32) {
        assert_eq!(latin_of(c), lookalike(c), "{c:?}");
    }
}

/// The places a sink is told: tokens then words, each in text order, a link after every one
/// but the first of each, and the words' hashes those of their word features.
#[test]
fn places_follow_the_text() {
    #[derive(Default)]
    struct Places(Vec<Place>, Vec<u64>);
    impl Sink for Places {
        fn feature(&mut self, hash: u64, kind: Kind) {
            if kind == Kind::Word {
                self.1.push(hash);
            }
        }
        fn place(&mut self, place: Place) {
            self.0.push(place);
        }
    }
    let text = normalize("Hello there, 42 friends.\nBye e x p l a i n 你好");
    let mut p = Places::default();
    extract(&text, &mut Scratch::default(), &mut p);
    let tokens: Vec<usize> =
        p.0.iter()
            .filter_map(|p| match p {
                Place::Token { at } => Some(*at),
                _ => None,
            })
            .collect();
    let words: Vec<(usize, u64)> =
        p.0.iter()
            .filter_map(|p| match p {
                Place::Word { at, hash } => Some((*at, *hash)),
                _ => None,
            })
            .collect();
    // w , #2 w . NL w (the CJK run is part of the last w).
    assert_eq!(tokens, [0, 11, 13, 16, 23, 24, 25]);
    let at: Vec<&str> = words.iter().map(|(a, _)| &text[*a..]).collect();
    assert!(at[0].starts_with("hello") && at[3].starts_with("friends"));
    assert!(at[5].starts_with("e x p") && at[6].starts_with("你"));
    assert_eq!(words.iter().map(|w| w.1).collect::<Vec<_>>(), p.1);
    let links = p.0.iter().filter(|p| **p == Place::Link).count();
    assert_eq!(links, tokens.len() - 1 + words.len() - 1);
}

#[test]
fn blanks_are_whitespace() {
    for c in (0..0x11_0000u32).filter_map(char::from_u32) {
        assert_eq!(is_blank(c), c.is_whitespace(), "{c:?}");
        assert_eq!(is_mark(c), is_combining_mark(c), "{c:?}");
    }
}

#[test]
fn business_ids_are_found_as_byte_by_byte() {
    const PIECES: &[&str] = &[
        "0", "00", "000", "00000", "a", "bx", "-", "_", "/", "#", " ", "x0", ".", "A", "é", "\n",
    ];
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..20_000 {
        let mut text = String::new();
        for _ in 0..(next() % 12) {
            text.push_str(PIECES[(next() % PIECES.len() as u64) as usize]);
        }
        assert_eq!(
            has_business_id(&text),
            has_business_id_bytewise(&text),
            "{text:?}"
        );
    }
}

#[test]
fn the_word_bound_is_never_below_the_words_read() {
    let mut scratch = Scratch::default();
    for raw in generated_texts() {
        let text = normalize(&raw);
        for p in paragraphs(&text) {
            let mut got = All(Vec::new(), Vec::new());
            extract(p, &mut scratch, &mut got);
            let words = got.1.len();
            assert!(may_have_more_words(p, words.saturating_sub(1)), "{p:?}");
        }
    }
}

/// `hash_str` as first written, byte by byte into each zero-padded 8-byte step: the reference
/// of the step-wise one.
fn hash_str_bytewise(seed: u64, s: &str) -> u64 {
    let mut h = seed;
    for chunk in s.as_bytes().chunks(8) {
        let mut b = [0u8; 8];
        for (d, s) in b.iter_mut().zip(chunk) {
            *d = *s;
        }
        h = mix(h, u64::from_le_bytes(b));
    }
    mix(h, s.len() as u64)
}

#[test]
fn word_hashes_match_the_bytewise_hash() {
    let mut s = String::new();
    for c in "abcdefghijklmnopqrstuvwxyz0привет注文ß"
        .chars()
        .cycle()
        .take(80)
    {
        assert_eq!(
            hash_str(SEED_WORD, &s),
            hash_str_bytewise(SEED_WORD, &s),
            "{s:?}"
        );
        s.push(c);
    }
}

/// The character n-grams of ASCII words framed on the stack are those framed as code points,
/// for every length around the stack frame's.
#[test]
fn stack_framed_grams_are_the_code_point_grams() {
    #[derive(Default)]
    struct Hashes(Vec<u64>);
    impl Sink for Hashes {
        fn feature(&mut self, hash: u64, _kind: Kind) {
            self.0.push(hash);
        }
    }
    let mut word = String::new();
    for c in "Explain0the-Answer_".chars().cycle().take(70) {
        let (mut got, mut want) = (Hashes::default(), Hashes::default());
        char_grams(&word, &mut Vec::new(), &mut got);
        let framed: Vec<u32> = std::iter::once(u32::from('<'))
            .chain(word.chars().map(u32::from))
            .chain(std::iter::once(u32::from('>')))
            .collect();
        grams(&framed, &mut want);
        assert_eq!(got.0, want.0, "{word:?}");
        word.push(c);
    }
}

#[test]
fn run_classes_by_table_are_the_run_classes() {
    for c in (0x80..0x11_0000u32).filter_map(char::from_u32) {
        assert_eq!(run_class(c), run_class_of(c), "{c:?}");
    }
}
