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
