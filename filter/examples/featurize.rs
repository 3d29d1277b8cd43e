//! Writes the classifier's features of labelled texts for the trainer (`model/train.py`), so
//! that training and scoring read texts through the same code.
//!
//! `featurize --bits B --in texts.jsonl --out DIR [--vocab-min-df N]`
//!
//! Input: one JSON object a line with `text` (other fields are ignored). Output in DIR:
//! - `features.svm`: svmlight rows, zero-based, label 0; one row for each text (part -1) and
//!   one for each paragraph of at least `MIN_SEGMENT_WORDS` words of a text that has more
//!   than one paragraph. Hashed buckets are `0..2^B` with value `count / sqrt(n)`; structural
//!   signal `i` is column `2^B + i` with value 1.
//! - `rows.tsv`: for each row, the input line number and the part (-1 for the whole text).
//! - `short.svm` and `short.tsv`: for each text of at least `MIN_MERGED_PARAGRAPHS` paragraphs,
//!   one row for each paragraph of fewer than `MIN_SEGMENT_WORDS` words, with raw counts (not
//!   divided by `sqrt(n)`), and in the TSV the input line number, the text's paragraphs, the
//!   row's features `n`, words, and its shape (flags, list items, paragraphs, characters): the
//!   trainer sums them into the leaning merge the filter scores (`leaning_merge`).
//! - `vocab.tsv`: `kind, bucket, document frequency, name` for the words, bigrams, shape tokens
//!   and position features seen in at least N texts (default 20), from which the trainer keeps
//!   a small named vocabulary.

use std::collections::HashMap;
use std::io::{BufRead, BufWriter, Write};
use wa_egress_guard::classify::features::{self, Kind, STRUCTURAL, Scratch, Shape, Sink};
use wa_egress_guard::classify::{MIN_MERGED_PARAGRAPHS, MIN_SEGMENT_WORDS, normalize};

struct Counts {
    bits: u32,
    buckets: HashMap<u32, u32>,
    n: u32,
    words: u32,
    names: Vec<(u8, u32, String)>,
    want_names: bool,
}

impl Counts {
    fn new(bits: u32, want_names: bool) -> Self {
        Self {
            bits,
            buckets: HashMap::new(),
            n: 0,
            words: 0,
            names: Vec::new(),
            want_names,
        }
    }

    fn bucket(&self, hash: u64) -> u32 {
        features::bucket(hash, self.bits)
    }
}

impl Sink for Counts {
    fn feature(&mut self, hash: u64, kind: Kind) {
        *self.buckets.entry(self.bucket(hash)).or_default() += 1;
        self.n += 1;
        self.words += u32::from(kind == Kind::Word);
    }

    fn wants_names(&self) -> bool {
        self.want_names
    }

    fn named(&mut self, hash: u64, kind: Kind, first: &str, second: Option<&str>) {
        if self.want_names {
            let k = kind.code();
            let name = match second {
                Some(s) => format!("{first} {s}"),
                None => first.to_owned(),
            };
            let b = self.bucket(hash);
            self.names.push((k, b, name));
        }
    }
}

fn row(out: &mut impl Write, counts: &Counts, shape: &Shape) -> std::io::Result<()> {
    let mut cols: Vec<(u32, f64)> = counts
        .buckets
        .iter()
        .map(|(b, c)| (*b, f64::from(*c) / f64::from(counts.n.max(1)).sqrt()))
        .collect();
    cols.sort_by_key(|c| c.0);
    write!(out, "0")?;
    for (b, v) in cols {
        write!(out, " {b}:{v:.6}")?;
    }
    let base = 1u32 << counts.bits;
    for (i, _) in shape.structure().ids() {
        write!(out, " {}:1", base + i as u32)?;
    }
    writeln!(out)
}

/// A paragraph's raw counts: `0 b:count ...`.
fn raw_row(out: &mut impl Write, counts: &Counts) -> std::io::Result<()> {
    let mut cols: Vec<(u32, u32)> = counts.buckets.iter().map(|(b, c)| (*b, *c)).collect();
    cols.sort_by_key(|c| c.0);
    write!(out, "0")?;
    for (b, v) in cols {
        write!(out, " {b}:{v}")?;
    }
    writeln!(out)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let bits: u32 = arg("--bits").ok_or("--bits is required")?.parse()?;
    let input = arg("--in").ok_or("--in is required")?;
    let out_dir = std::path::PathBuf::from(arg("--out").ok_or("--out is required")?);
    let min_df: u32 = arg("--vocab-min-df").map_or(Ok(20), |v| v.parse())?;
    std::fs::create_dir_all(&out_dir)?;
    let mut svm = BufWriter::new(std::fs::File::create(out_dir.join("features.svm"))?);
    let mut rows = BufWriter::new(std::fs::File::create(out_dir.join("rows.tsv"))?);
    let mut short_svm = BufWriter::new(std::fs::File::create(out_dir.join("short.svm"))?);
    let mut short_rows = BufWriter::new(std::fs::File::create(out_dir.join("short.tsv"))?);
    let mut df: HashMap<(u8, u32, String), u32> = HashMap::new();
    let mut scratch = Scratch::default();
    let reader = std::io::BufReader::new(std::fs::File::open(&input)?);
    for (line_no, line) in reader.lines().enumerate() {
        let line = line?;
        let value: serde_json::Value = serde_json::from_str(&line)?;
        let text = value
            .get("text")
            .and_then(|t| t.as_str())
            .ok_or_else(|| format!("{input}:{}: no `text`", line_no + 1))?;
        let normalized = normalize::normalize(text);
        let mut whole = Counts::new(bits, true);
        let shape = features::featurize(&normalized, &mut scratch, &mut whole);
        row(&mut svm, &whole, &shape)?;
        writeln!(rows, "{line_no}\t-1")?;
        whole.names.sort();
        whole.names.dedup();
        for key in whole.names.drain(..) {
            *df.entry(key).or_default() += 1;
        }
        let paragraphs: Vec<&str> = features::paragraphs(&normalized).collect();
        if paragraphs.len() > 1 {
            for (i, p) in paragraphs.iter().enumerate() {
                let mut part = Counts::new(bits, false);
                let shape = features::extract(p, &mut scratch, &mut part);
                if part.words >= MIN_SEGMENT_WORDS {
                    row(&mut svm, &part, &shape)?;
                    writeln!(rows, "{line_no}\t{i}")?;
                } else if paragraphs.len() >= MIN_MERGED_PARAGRAPHS {
                    raw_row(&mut short_svm, &part)?;
                    let [flags, items, paras, chars] = shape.counts();
                    writeln!(
                        short_rows,
                        "{line_no}\t{}\t{}\t{}\t{flags}\t{items}\t{paras}\t{chars}",
                        paragraphs.len(),
                        part.n,
                        part.words
                    )?;
                }
            }
        }
    }
    let mut vocab = BufWriter::new(std::fs::File::create(out_dir.join("vocab.tsv"))?);
    let mut kept: Vec<_> = df.into_iter().filter(|(_, n)| *n >= min_df).collect();
    kept.sort();
    for ((kind, bucket, name), n) in kept {
        writeln!(vocab, "{kind}\t{bucket}\t{n}\t{name}")?;
    }
    eprintln!(
        "featurize: {} structural signals, 2^{bits} buckets",
        STRUCTURAL.len()
    );
    Ok(())
}
