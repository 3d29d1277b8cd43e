//! The streaming walk against the reference path (raw scan, `IgnoredAny` or `Value`).

use super::super::{Detector, Detectors, RecordVerdict};
use super::{Outcome, walk};
use crate::document::{DetectorsDoc, ProvenanceDoc};
use regex::Regex;

/// A small deterministic generator (xorshift64*), so failures replay.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// Keys as they are written in the raw JSON (escapes included), few enough to repeat.
const KEYS: &[&str] = &[
    "wa_id",
    "WA_ID",
    "\\u0077a_id",
    " wa_id",
    "phone",
    "Phone",
    "channel",
    "Channel",
    "source",
    "messaging_product",
    "meta",
    "src",
    "text",
    "id",
    "a",
    "b",
    "wamid.HBgLMTY1MDM4Nzk0",
    "x\\u0077amid.HBgLMTY1MDM4Nzk0",
    "content",
    "role",
    "name",
    "value",
    "ctwa_clid",
    "from",
    "type",
    "image",
    "destination",
    "schemaId",
    "source_channel",
    "utm_source",
    "",
];

/// String bodies as written in the raw JSON.
const STRINGS: &[&str] = &[
    "whatsapp",
    " WhatsApp ",
    "Wh\\u0061tsApp",
    "wa",
    "WA ",
    "wa-business",
    "",
    "  ",
    "\\t",
    "\\n",
    "wamid.HBgLMTY1MDM4Nzk0",
    "id wamid.HBgL",
    "WAMID.abcdefgh12",
    "\\u0077amid.HBgLMTY1MDM4Nzk0",
    "12/03/2024, 14:22 - Ana: hi",
    "12\\/03\\/2024, 14:22 - Ana: hi",
    "[12/03/2024, 14:22:01] Ana Souza: open?",
    "note\\n12/03/2024,\\t14:22 - Bo: ok",
    "12/03/2024 at 14:22",
    "whatsapp_business_account",
    " Whatsapp_Business_Account",
    "webchat",
    "email",
    "channel",
    "Source",
    "It ships today.",
    "caf\\u00e9",
    "\\ud83d\\ude00",
    "\\ud800",
    "\\\"quoted\\\"",
    "16505551234",
    "+1 650 555 1234",
    "2024-03-12",
    "text",
    "Image",
    "WABA",
    "docs/whatsapp-guide.md",
    "[2024-03-12 14:22:01] production.ERROR: x",
];

const SCALARS: &[&str] = &[
    "null",
    "true",
    "false",
    "0",
    "-0",
    "12",
    "-7",
    "3.25",
    "1e5",
    "1e400",
    "-1e400",
    "18446744073709551616",
    "123456789012345678901234567890",
];

fn value(rng: &mut Rng, depth: usize, out: &mut String) {
    let roll = rng.below(if depth > 4 { 6 } else { 10 });
    match roll {
        0..=3 => {
            out.push('"');
            out.push_str(rng.pick(STRINGS));
            out.push('"');
        }
        4 | 5 => out.push_str(rng.pick(SCALARS)),
        6 | 7 => {
            out.push('{');
            for i in 0..rng.below(5) {
                if i > 0 {
                    out.push(',');
                }
                out.push('"');
                out.push_str(rng.pick(KEYS));
                out.push_str("\":");
                value(rng, depth + 1, out);
            }
            out.push('}');
        }
        _ => {
            out.push('[');
            for i in 0..rng.below(4) {
                if i > 0 {
                    out.push(',');
                }
                value(rng, depth + 1, out);
            }
            out.push(']');
        }
    }
}

/// A generated record, sometimes damaged so that it no longer parses.
fn record(rng: &mut Rng) -> Vec<u8> {
    let mut s = String::new();
    value(rng, 0, &mut s);
    let mut b = s.into_bytes();
    if rng.below(8) == 0 && !b.is_empty() {
        let at = rng.below(b.len());
        match rng.below(3) {
            0 => {
                b.remove(at);
            }
            1 => b.insert(at, b"\"{}[],:\\ 9e-"[rng.below(12)]),
            _ => b.truncate(at),
        }
    }
    b
}

fn configs() -> Vec<Detectors> {
    let docs = [
        DetectorsDoc::default(),
        DetectorsDoc {
            phone_keys: vec!["phone".into()],
            provenance: ProvenanceDoc {
                keys: vec!["meta.src".into(), "Channel".into()],
                values: vec!["wa".into()],
            },
            ..DetectorsDoc::default()
        },
        DetectorsDoc {
            wamid: false,
            webhook_envelope: false,
            chat_export: false,
            wa_id_keys: vec!["id".into(), "text".into()],
            ..DetectorsDoc::default()
        },
    ];
    docs.iter()
        .map(|d| Detectors::compile(d).unwrap())
        .collect()
}

#[test]
fn the_walk_agrees_with_the_reference_on_generated_records() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut seen = [0usize; 3];
    let mut labels = std::collections::BTreeSet::new();
    for det in configs() {
        assert!(det.streaming);
        for _ in 0..20_000 {
            let raw = record(&mut rng);
            let Ok(text) = std::str::from_utf8(&raw) else {
                continue;
            };
            let reference = det.judge_json_reference(text);
            let outcome = walk(&det, text);
            if crate::strict_json::from_slice(&raw).is_err()
                && serde_json::from_str::<serde_json::Value>(text).is_ok()
            {
                // A repeated key: the walk checks every value, the `Value` only the last.
                if let RecordVerdict::WhatsApp(_) = reference {
                    assert!(matches!(outcome, Outcome::Found(_)), "{text}");
                }
                continue;
            }
            match outcome {
                Outcome::Found(d) => {
                    seen[0] += 1;
                    labels.insert(d.as_str());
                    assert_eq!(reference, RecordVerdict::WhatsApp(d), "{text}");
                }
                Outcome::Clean => {
                    seen[1] += 1;
                    assert_eq!(reference, RecordVerdict::Keep, "{text}");
                }
                Outcome::Undecided => seen[2] += 1,
            }
            assert_eq!(det.judge_json(&raw), reference, "{text}");
        }
    }
    // The generator reaches every outcome and most labels.
    assert!(seen.iter().all(|&n| n > 1000), "{seen:?}");
    assert!(labels.len() >= 5, "{labels:?}");
}

/// Object-level findings (a message object, a name/value or schema-id pair, an abbreviation
/// next to a `destination`) depend on keys that may come in any order: every ordering of up
/// to four of these members agrees with the reference, label included.
#[test]
fn object_level_findings_agree_in_every_key_order() {
    let det = Detectors::compile(&DetectorsDoc::default()).unwrap();
    let members = [
        r#""from":"16505551234""#,
        r#""type":"text""#,
        r#""text":{"body":"hi"}"#,
        r#""text.body":"hi""#,
        r#""origin":"WA""#,
        r#""destination":"OR""#,
        r#""b":"wamid.HBgLMTY1MDM4Nzk0""#,
        r#""channel":"waba""#,
        r#""schemaId":"x1""#,
        r#""value":"WhatsApp""#,
        r#""z":"12/03/2024, 14:22 - Ana: hi""#,
    ];
    let mut labels = std::collections::BTreeSet::new();
    let mut order = Vec::new();
    fn each(members: &[&str], order: &mut Vec<usize>, f: &mut dyn FnMut(&[usize])) {
        f(order);
        if order.len() == 4 {
            return;
        }
        for i in 0..members.len() {
            if !order.contains(&i) {
                order.push(i);
                each(members, order, f);
                order.pop();
            }
        }
    }
    each(&members, &mut order, &mut |order| {
        let body: Vec<&str> = order.iter().map(|&i| members[i]).collect();
        let rec = format!("{{{}}}", body.join(","));
        let reference = det.judge_json_reference(&rec);
        let got = match walk(&det, &rec) {
            Outcome::Found(d) => RecordVerdict::WhatsApp(d),
            Outcome::Clean => RecordVerdict::Keep,
            Outcome::Undecided => panic!("undecided: {rec}"),
        };
        assert_eq!(got, reference, "{rec}");
        if let RecordVerdict::WhatsApp(d) = got {
            labels.insert(d.as_str());
        }
    });
    assert!(
        ["message_object", "provenance", "wamid", "chat_export"]
            .iter()
            .all(|l| labels.contains(l)),
        "{labels:?}"
    );
}

#[test]
fn the_label_follows_sorted_keys_not_document_order() {
    let det = Detectors::compile(&DetectorsDoc::default()).unwrap();
    for (rec, want) in [
        (
            r#"{"z":"wamid.HBgLMTY1MDM4Nzk0","channel":"whatsapp"}"#,
            Detector::Provenance,
        ),
        (
            r#"{"channel":"whatsapp","a":"wamid.HBgLMTY1MDM4Nzk0"}"#,
            Detector::Wamid,
        ),
        (
            r#"{"a":{"wa_id":"1"},"messaging_product":"whatsapp"}"#,
            Detector::WebhookEnvelope,
        ),
        (
            r#"{"b":[1,{"x":"12/03/2024, 14:22 - Ana: hi"}],"a":[{"wa_id":""},"wamid.HBgLMTY1MDM4Nzk0"]}"#,
            Detector::Wamid,
        ),
    ] {
        assert_eq!(walk(&det, rec), Outcome::Found(want), "{rec}");
        assert_eq!(
            det.judge_json_reference(rec),
            RecordVerdict::WhatsApp(want),
            "{rec}"
        );
    }
}

#[test]
fn repeated_keys_have_every_value_checked() {
    let det = Detectors::compile(&DetectorsDoc::default()).unwrap();
    for (rec, want) in [
        (
            r#"{"wa_id":"1","wa_id":""}"#,
            RecordVerdict::WhatsApp(Detector::WaIdKey),
        ),
        (
            r#"{"wa_id":"","wa_id":"1"}"#,
            RecordVerdict::WhatsApp(Detector::WaIdKey),
        ),
        (
            r#"{"messaging_product":"whatsapp","messaging_product":"x"}"#,
            RecordVerdict::WhatsApp(Detector::WebhookEnvelope),
        ),
        (
            r#"{"meta":{"id":"wamid.HBgLMTY1MDM4Nzk0"},"meta":{"id":"clean"}}"#,
            RecordVerdict::WhatsApp(Detector::Wamid),
        ),
        (r#"{"a":"x","a":"y"}"#, RecordVerdict::Keep),
    ] {
        assert_eq!(det.judge_json(rec.as_bytes()), want, "{rec}");
    }
}

#[test]
fn nesting_at_the_parser_limit_agrees() {
    let det = Detectors::compile(&DetectorsDoc::default()).unwrap();
    for depth in 120..135 {
        for inner in [r#""wamid.HBgLMTY1MDM4Nzk0""#, r#"{"wa_id":"1"}"#, "1e400"] {
            let rec = format!("{}{inner}{}", "[".repeat(depth), "]".repeat(depth));
            assert_eq!(
                det.judge_json(rec.as_bytes()),
                det.judge_json_reference(&rec),
                "depth {depth} {inner}"
            );
        }
    }
}

#[test]
fn lenient_validation_is_kept_for_records_without_triggers() {
    let det = Detectors::compile(&DetectorsDoc::default()).unwrap();
    // `IgnoredAny` accepts these, a `Value` does not: the raw scan decides which applies.
    for (rec, want) in [
        (r#"{"n":1e400}"#, RecordVerdict::Keep),
        (r#"{"n":1e400,"channel":"x"}"#, RecordVerdict::Uninspectable),
        // An escape is a trigger itself, so a lone surrogate always meets the `Value` parser.
        (r#"{"s":"\ud800"}"#, RecordVerdict::Uninspectable),
    ] {
        assert_eq!(det.judge_json(rec.as_bytes()), want, "{rec}");
    }
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    assert_eq!(det.judge_json(deep.as_bytes()), RecordVerdict::Keep);
}

#[test]
fn keys_with_blanks_keep_the_walk_on_and_match() {
    let det = Detectors::compile(&DetectorsDoc {
        wa_id_keys: vec![" wa_id".into()],
        ..DetectorsDoc::default()
    })
    .unwrap();
    assert!(det.streaming);
    // Configured keys are trimmed for the raw scan as for the comparison.
    let want = RecordVerdict::WhatsApp(Detector::WaIdKey);
    assert_eq!(det.judge_json(br#"{"wa_id":"1"}"#), want);
    assert_eq!(det.judge_json_reference(r#"{"wa_id":"1"}"#), want);
}

/// The raw scan and the `wamid` pre-check look for ASCII `wamid.` only; that holds if no other
/// character case-folds to these letters in `WAMID` (`whatsapp` is only ever compared with
/// ASCII case-insensitive functions, so `ſ` folding to `s` does not matter).
#[test]
fn only_ascii_case_folds_to_the_wamid_letters() {
    let letters = Regex::new(r"(?i)^[wamid.]$").unwrap();
    let mut buf = [0u8; 4];
    for c in (0..=0x10FFFF).filter_map(char::from_u32) {
        if letters.is_match(c.encode_utf8(&mut buf)) {
            assert!(c.is_ascii(), "{c:?} folds to a trigger letter");
        }
    }
}

#[test]
fn cheap_string_checks_never_hide_a_match() {
    let det = Detectors::compile(&DetectorsDoc::default()).unwrap();
    let wamid = Regex::new(super::super::WAMID).unwrap();
    let chat = Regex::new(super::super::CHAT_EXPORT).unwrap();
    for s in [
        "wamid.HBgLMTY1MDM4",
        "WaMiD.HBgLMTY1MDM4",
        "xwamid.12345678",
        "wamid.1234567",
        "wamid.wamid.HBgLMTY1MDM4",
        ".wamid.HBgLMTY1MDM4",
        "wamid",
        "12/03/2024, 14:22 - Ana: hi",
        "12/03/2024, 14 22 - Ana hi",
        "١٢/٠٣/٢٠٢٤, ١٤:٢٢ - Ana: hi",
    ] {
        assert_eq!(det.has_wamid(s), wamid.is_match(s), "{s}");
        let want = if wamid.is_match(s) {
            Some(Detector::Wamid)
        } else if chat.is_match(s) {
            Some(Detector::ChatExport)
        } else {
            None
        };
        assert_eq!(det.judge_string(s), want, "{s}");
    }
}
