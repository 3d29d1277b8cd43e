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
