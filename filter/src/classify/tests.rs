use super::*;

fn section(json: &str) -> ContentSection {
    serde_json::from_str(json).unwrap()
}

#[test]
fn threshold_must_be_a_probability() {
    for bad in ["0", "1", "1.2", "-0.1"] {
        let err = Classifier::compile(&section(&format!(r#"{{"threshold": {bad}}}"#))).unwrap_err();
        assert_eq!(err[0].0, "threshold", "{bad}");
    }
    assert!(Classifier::compile(&section(r#"{"threshold": 0.7}"#)).is_ok());
}

#[test]
fn term_errors_are_reported_together() {
    let err = Classifier::compile(&section(
        r#"{"terms": [{"id": "", "terms": ["x"], "weight": 1}, {"id": "b", "terms": [], "weight": 99}, {"id": "c", "terms": ["\u200b"], "weight": 1}]}"#,
    ))
    .unwrap_err();
    let paths: Vec<&str> = err.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        [
            "terms[0].id",
            "terms[1].weight",
            "terms[1].terms",
            "terms[2].terms[0]"
        ]
    );
}

/// Words as the scorer counts them.
fn words_in(text: &str) -> u32 {
    struct Words(u32);
    impl Sink for Words {
        fn feature(&mut self, _hash: u64, kind: Kind) {
            self.0 += u32::from(kind == Kind::Word);
        }
    }
    let mut w = Words(0);
    features::featurize(&normalize::normalize(text), &mut Scratch::default(), &mut w);
    w.0
}

/// The trainer's scorer (`model/train.py`, on the features the Rust featuriser wrote) and this
/// scorer agree on a sample of the project's own texts, written by `make model` next to the
/// model it scored with. Quantisation is the trainer's too, so the two must agree closely.
#[test]
fn rust_scorer_agrees_with_the_trainer() {
    let classifier = Classifier::compile(&section("{}")).unwrap();
    let sample = include_str!("../../../model/parity.jsonl");
    let mut n = 0;
    for line in sample.lines() {
        let rec: serde_json::Value = serde_json::from_str(line).unwrap();
        let text = rec["text"].as_str().unwrap();
        if words_in(text) < MIN_MESSAGE_WORDS {
            // Not scored by design (see `MIN_MESSAGE_WORDS`).
            assert_eq!(classifier.score(text).probability, 0.0, "{text:?}");
            continue;
        }
        let got = classifier.score_unwindowed(text).probability;
        let quantised = rec["p_quantised"].as_f64().unwrap();
        let float = rec["p_float"].as_f64().unwrap();
        assert!(
            (got - quantised).abs() < 2e-3,
            "{got} vs trainer {quantised}: {text:?}"
        );
        assert!(
            (got - float).abs() < 0.05,
            "{got} vs unquantised {float}: {text:?}"
        );
        n += 1;
    }
    assert!(n >= 50, "parity sample has {n} texts");
}

#[test]
fn padding_with_service_lines_cannot_dilute_an_answer() {
    let c = Classifier::compile(&section("{}")).unwrap();
    let answer = "Photosynthesis is the process by which green plants turn light, water and carbon \
        dioxide into glucose and oxygen. It happens in the chloroplasts, where chlorophyll absorbs \
        light energy and drives the splitting of water molecules.";
    let alone = c.score(answer).probability;
    let padding = "Your order #AB-20931 has shipped and will arrive on Friday. Track it in the app. \
        Thank you for shopping with Larkspur Home, reply STOP to opt out of delivery updates.";
    // A part is scored at its raw score less the model's part offset: padding can cost an
    // answer that much and no more.
    let floor = shifted(alone, -f64::from(c.model.platt_a * c.model.part_offset));
    assert!(floor < alone && floor > 0.5, "{floor} {alone}");
    let padded = c
        .score(&format!("{padding}\n\n{answer}\n\n{padding}"))
        .probability;
    assert!(padded >= floor - 1e-6, "{padded} < {floor}");
    let fields = c.score_texts(&[padding, answer]).probability;
    assert!(fields >= floor - 1e-6, "{fields} < {floor}");
    // Without the padding, the answer is scored whole, without the offset.
    assert!(alone > padded.min(fields), "{alone}");
}

/// A probability moved by `shift` in logit space.
fn shifted(p: f64, shift: f64) -> f64 {
    1.0 / (1.0 + (-((p / (1.0 - p)).ln() + shift)).exp())
}

/// Padding written into the answer's own paragraph (no blank line): a paragraph longer than
/// two windows is also scored in windows of whole sentences, so the answer's window counts.
#[test]
fn padding_in_the_same_paragraph_cannot_dilute_an_answer() {
    let c = Classifier::compile(&section("{}")).unwrap();
    let answer = "Photosynthesis is the process by which green plants turn light, water and carbon \
        dioxide into glucose and oxygen. It happens in the chloroplasts, where chlorophyll absorbs \
        light energy and drives the splitting of water molecules. The oxygen we breathe is a by-product \
        of that splitting, and the glucose feeds the plant's growth. In short, the light reactions \
        capture energy and the Calvin cycle uses it to fix carbon dioxide into sugars that the whole \
        food chain depends on.";
    let alone = c.score(answer).probability;
    assert!(
        alone >= 0.8,
        "the answer alone is clearly an assistant's: {alone}"
    );
    let boilerplate = "Your order #AB-20931 has shipped and will arrive on Friday between 9 and 12. \
        Track it in the Larkspur Home app under My orders. Returns are free within 30 days. \
        Reply STOP to opt out of delivery updates. ";
    let padding = boilerplate.repeat(12);
    // A window is one candidate of many, so its probability is lowered by the part offset and
    // the window penalty: padding can cost an answer of at least a window's length that much,
    // and little more (a window holds the answer's sentences and at most a sentence of
    // padding).
    let floor = shifted(
        alone,
        -crate::classify::WINDOW_LOGIT_PENALTY - f64::from(c.model.platt_a * c.model.part_offset),
    );
    for text in [
        format!("{answer} {padding}"),
        format!("{padding}{answer} {padding}"),
        format!("{padding}\n{answer}\n{padding}"),
    ] {
        let unwindowed = c.score_unwindowed(&text).probability;
        assert!(
            unwindowed < c.threshold,
            "the padding dilutes the whole: {unwindowed}"
        );
        let mut score = c.score(&text);
        assert!(
            score.probability >= floor - 0.05,
            "padded in one paragraph: {} < {floor} (alone {alone})",
            score.probability
        );
        // The explanation is computed on the winning window, and names features.
        c.explain(&[text.as_str()], &mut score);
        assert!(!score.signals.is_empty());
    }
    // Boilerplate alone, however long, is not an assistant.
    assert!(c.score(&padding).probability < c.threshold);
}

/// An answer cut into paragraphs of fewer than 8 words between short service lines: no
/// paragraph is scored alone, and the whole and the field are diluted by the service lines. The
/// merge of the short paragraphs that lean towards an assistant is scored as one more part.
#[test]
fn an_answer_interleaved_with_service_lines_is_scored_on_its_own_paragraphs() {
    let c = Classifier::compile(&section("{}")).unwrap();
    let answer = [
        "Black holes form when massive stars",
        "collapse under their own gravity after",
        "running out of nuclear fuel, and",
        "nothing, not even light, can escape",
        "once it crosses the event horizon.",
    ];
    let service = [
        "Reply HELP to see our menu.",
        "Store hours: 9 to 6 daily.",
        "Order updates are in your account.",
        "Thanks for choosing Larkspur Home.",
    ];
    let mut text = String::new();
    for (i, a) in answer.iter().enumerate() {
        text.push_str(a);
        if let Some(s) = service.get(i) {
            text.push_str("\n\n");
            text.push_str(s);
            text.push_str("\n\n");
        }
    }
    let mut score = c.score(&text);
    assert!(score.leaning, "the leaning merge is the highest part");
    let floor = shifted(
        c.score(&answer.join(" ")).probability,
        -f64::from(c.model.platt_a * c.model.part_offset),
    );
    assert!(
        score.probability >= floor - 0.1 && score.probability >= c.threshold,
        "{} (floor {floor})",
        score.probability
    );
    // The explanation reads the merged paragraphs only.
    c.explain(&[text.as_str()], &mut score);
    assert!(!score.signals.is_empty());
    // Service lines alone, however many, merge into no assistant.
    let menu = service.join("\n\n").repeat(3);
    let menu_score = c.score(&menu);
    assert!(menu_score.probability < c.threshold, "{menu_score:?}");
    // Fewer than three paragraphs: no merge (the field is scored already).
    let two = format!("{}\n\n{}", answer.join(" "), service.join(" "));
    assert!(!c.score(&two).leaning);
}

#[test]
fn obfuscation_families_score_as_the_plain_text() {
    let c = Classifier::compile(&section("{}")).unwrap();
    let plain = "Here is a simple recipe for banana bread: mash three ripe bananas, mix in melted \
        butter, sugar, an egg and flour, then bake for an hour.";
    let p = c.score(plain).probability;
    let nfd: String = unicode_normalization::UnicodeNormalization::nfd(plain).collect();
    let variants = [
        plain.replace(' ', " \u{200B}"),
        plain.replace('e', "e\u{FE0F}"),
        plain.replace(' ', "\u{2066} \u{2069}"),
        plain.replace('a', "\u{E0061}a"),
        plain
            .replace("recipe", "r\u{0435}cip\u{0435}")
            .replace("banana", "b\u{0430}n\u{0430}n\u{0430}"),
        plain
            .replace("bread", "𝐛𝐫𝐞𝐚𝐝")
            .replace("simple", "ｓｉｍｐｌｅ"),
        nfd,
        plain.replace("recipe", "r e c i p e"),
        plain.replace(' ', " \u{180E}"),
    ];
    for v in variants {
        let q = c.score(&v).probability;
        assert!((q - p).abs() < 1e-6, "{q} vs {p}: {v:?}");
    }
}

#[test]
fn terms_match_whole_words_across_breaks_and_fields() {
    let c = Classifier::compile(&section(
        r#"{"terms": [{"id": "brand", "terms": ["Acme Parcel"], "weight": -20}, {"id": "ai", "terms": ["as an ai language model"], "weight": 20}]}"#,
    ))
    .unwrap();
    assert!(
        c.score("As an AI\n\nlanguage  model, I cannot.")
            .probability
            > 0.99
    );
    assert!(
        c.score_texts(&["As an AI", "language model, I cannot."])
            .probability
            > 0.99
    );
    assert!(c.score("ＡＣＭＥ parcel: your order shipped").probability < 0.01);
    // Look-alikes, spaced-out letters and blank fillers do not hide a term.
    assert!(c.score("Аs аn АI lаnguаge model, I cannot.").probability > 0.99);
    assert!(c.score("As an AI l a n g u a g e  m o d e l").probability > 0.99);
    assert!(
        c.score("as\u{2800}an\u{2800}ai\u{2800}language\u{2800}model")
            .probability
            > 0.99
    );
    // Whole words only.
    let plain = c.score("acmeparcels shipped your order").probability;
    assert!(plain > 0.001, "{plain}");
}

#[test]
fn one_or_two_words_are_not_scored() {
    let c = Classifier::compile(&section("{}")).unwrap();
    for t in ["OK", "Terima kasih", "✅", "x", "?", "谢谢"] {
        assert_eq!(c.score(t).probability, 0.0, "{t}");
    }
    let terms = Classifier::compile(&section(
        r#"{"terms": [{"id": "ai", "terms": ["chatgpt"], "weight": 20}]}"#,
    ))
    .unwrap();
    assert!(terms.score("ChatGPT here").probability > 0.99);
}
