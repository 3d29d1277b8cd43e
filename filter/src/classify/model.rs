//! The trained model: a linear model over hashed features, quantised to one byte a weight.
//!
//! The model is data. `make model` writes `model/classifier.bin`; the filter embeds it and
//! reads it once per VM without copying the weight table. The format, little-endian:
//!
//! ```text
//! "WAGM" | u32 format (4) | u32 bits | u32 structural count | f32 scale | f32 bias
//! | f32 platt_a | f32 platt_b | f32 part_offset | f32 structural weights[count]
//! | u32 band count | u32 band edges[band count] | u32 plain factor
//! | u32 vocabulary size | { u32 bucket | u8 kind | u16 length | bytes }[size]
//! | i32 levels[256] | u8 codes[1 << bits]
//! ```
//!
//! **Length bands** (format 4): with band edges (characters of the whole message, ascending),
//! every hashed feature weighs twice: `plain factor * q[bucket]`, plus `q[conjunct]`, the
//! bucket of the same feature in the message's band, `(bucket * 0x9E3779B1 + (band + 1) *
//! 0x7F4A7C15) mod 2^bits` (a permutation of the table per band). The band of a message of `c`
//! characters is the number of edges at or below `c`. So one linear model weighs a word
//! differently in a short dialogue turn and in a long answer. No edges: one weight a feature.
//!
//! Each bucket's weight is one byte, a code, and the code selects an integer level:
//! `q[bucket] = levels[codes[bucket]]`. The trainer spaces the levels on a log scale, so that
//! one byte keeps small weights a linear byte would round to zero (format 2 was the linear
//! byte itself). The score of a segment is
//! `bias + scale * Σ q[bucket] / sqrt(n) + Σ structural weights`,
//! with one term per hashed feature occurrence (`n` of them). The probability is
//! `sigmoid(platt_a * score + platt_b)`, calibrated by the trainer on held-out data. A part
//! of a message (a field, a paragraph, a window) is scored at `score - part_offset`: one of
//! many candidates, it must say more than the whole message to count.

use super::features::{Kind, STRUCTURAL, bucket};
use std::collections::HashMap;
use std::sync::LazyLock;

/// The model shipped with the filter.
pub const BUILTIN_MODEL: &[u8] = include_bytes!("../../../model/classifier.bin");

const MAGIC: &[u8; 4] = b"WAGM";
const FORMAT: u32 = 4;
/// At most this many band edges (five bands).
const MAX_BAND_EDGES: usize = 4;
/// The conjunct bucket's permutation: `bucket * BAND_MULTIPLIER + (band + 1) * BAND_SALT`.
const BAND_MULTIPLIER: u64 = 0x9E37_79B1;
const BAND_SALT: u64 = 0x7F4A_7C15;
/// The level table: 256 little-endian `i32`, one per code.
const LEVELS_BYTES: usize = 256 * 4;
/// Weight tables from 2^12 to 2^22 buckets (4 KiB to 4 MiB).
const BITS: std::ops::RangeInclusive<u32> = 12..=22;

/// A model file that cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    #[error("model file is truncated at byte {0}")]
    Truncated(usize),
    #[error("model file does not start with `WAGM`")]
    BadMagic,
    #[error("model format {0} is not supported (this filter reads format {FORMAT})")]
    Format(u32),
    #[error("model has 2^{0} buckets; supported: 2^12 to 2^22")]
    Bits(u32),
    #[error("model has {0} structural weights, this filter computes {1}")]
    Structural(usize, usize),
    #[error("model parameter `{0}` is not a finite number")]
    NotFinite(&'static str),
    #[error("model has {0} trailing bytes")]
    Trailing(usize),
    #[error("model level of code 0 is {0}; code 0 must weigh 0")]
    ZeroLevel(i32),
    #[error("model has {0} band edges; at most {MAX_BAND_EDGES}, ascending, are supported")]
    Bands(usize),
    #[error("model plain factor is {0}; it must be 1 to 16")]
    PlainFactor(u32),
}

/// A message's length band (see the module docs); always 0 for a model without bands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Band(pub u8);

/// A parsed model, borrowing its weight table from the file's bytes.
#[derive(Debug)]
pub struct Model {
    pub bits: u32,
    pub scale: f32,
    pub bias: f32,
    pub platt_a: f32,
    pub platt_b: f32,
    /// Subtracted from the raw score of a part that is not the whole message.
    pub part_offset: f32,
    pub structural: Vec<f32>,
    /// Message lengths in characters that start a new band, ascending (empty: no conjuncts).
    pub bands: Vec<u32>,
    /// How many times a feature's own bucket weighs beside its band's conjunct.
    pub plain_factor: i32,
    /// Names of the n-grams kept for explanations, by bucket and kind.
    pub vocabulary: HashMap<(u32, u8), String>,
    /// The 256 integer levels, as the file's bytes (`LEVELS_BYTES`).
    levels: &'static [u8],
    /// One code per bucket.
    weights: &'static [u8],
    /// `64 - bits`: a hash shifted right by it is its bucket, derived once here rather than
    /// for every feature.
    shift: u32,
    /// The first 12 hex digits of the file's SHA-256: the model's version.
    pub version: String,
}

/// A model's code table, level table and bucket shift, copied where features are summed so
/// that each feature's lookup is one shift and two loads.
#[derive(Debug, Clone, Copy)]
pub struct Lookup {
    levels: &'static [u8],
    weights: &'static [u8],
    shift: u32,
    /// The band's conjunct offset, when the model has bands.
    salt: Option<u64>,
    factor: i32,
}

impl Lookup {
    /// The quantised weight of a feature hash: its bucket's, and with bands its conjunct's in
    /// this lookup's band. The table holds `1 << bits` codes and the shift is `64 - bits`, so
    /// every bucket is in it.
    #[inline]
    pub fn weight_of(&self, hash: u64) -> i32 {
        let bucket = hash >> self.shift;
        let own = self.code_level(bucket);
        match self.salt {
            None => own,
            Some(salt) => own * self.factor + self.code_level(self.conjunct(bucket, salt)),
        }
    }

    /// The weight of a bucket, with its conjunct's in this lookup's band.
    pub fn weight(&self, bucket: u32) -> i32 {
        self.weight_of(u64::from(bucket) << self.shift)
    }

    #[inline]
    fn conjunct(&self, bucket: u64, salt: u64) -> u64 {
        // The table has 1 << (64 - shift) buckets: the mask keeps the low bits.
        let mask = u64::MAX >> self.shift;
        bucket.wrapping_mul(BAND_MULTIPLIER).wrapping_add(salt) & mask
    }

    #[inline]
    fn code_level(&self, bucket: u64) -> i32 {
        usize::try_from(bucket)
            .ok()
            .and_then(|b| self.weights.get(b))
            .map_or(0, |code| level(self.levels, *code))
    }
}

/// The level a code selects, from the file's table of 256 little-endian `i32`.
#[inline]
fn level(levels: &[u8], code: u8) -> i32 {
    let at = usize::from(code) * 4;
    levels
        .get(at..at + 4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map_or(0, i32::from_le_bytes)
}

static BUILTIN: LazyLock<Result<Model, ModelError>> = LazyLock::new(|| Model::parse(BUILTIN_MODEL));

/// The built-in model, parsed once per VM.
pub fn builtin() -> Result<&'static Model, ModelError> {
    BUILTIN.as_ref().map_err(Clone::clone)
}

struct Reader {
    bytes: &'static [u8],
    at: usize,
}

impl Reader {
    fn take(&mut self, n: usize) -> Result<&'static [u8], ModelError> {
        let end = self
            .at
            .checked_add(n)
            .ok_or(ModelError::Truncated(self.at))?;
        let s = self
            .bytes
            .get(self.at..end)
            .ok_or(ModelError::Truncated(self.at))?;
        self.at = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], ModelError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn u32(&mut self) -> Result<u32, ModelError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn f32(&mut self, name: &'static str) -> Result<f32, ModelError> {
        let v = f32::from_le_bytes(self.array()?);
        if v.is_finite() {
            Ok(v)
        } else {
            Err(ModelError::NotFinite(name))
        }
    }
}

impl Model {
    pub fn parse(bytes: &'static [u8]) -> Result<Self, ModelError> {
        let mut r = Reader { bytes, at: 0 };
        if r.take(4)? != MAGIC {
            return Err(ModelError::BadMagic);
        }
        let format = r.u32()?;
        if format != FORMAT {
            return Err(ModelError::Format(format));
        }
        let bits = r.u32()?;
        if !BITS.contains(&bits) {
            return Err(ModelError::Bits(bits));
        }
        let count = r.u32()? as usize;
        if count != STRUCTURAL.len() {
            return Err(ModelError::Structural(count, STRUCTURAL.len()));
        }
        let scale = r.f32("scale")?;
        let bias = r.f32("bias")?;
        let platt_a = r.f32("platt_a")?;
        let platt_b = r.f32("platt_b")?;
        let part_offset = r.f32("part_offset")?;
        let structural = (0..count)
            .map(|_| r.f32("structural weight"))
            .collect::<Result<Vec<_>, _>>()?;
        let edges = r.u32()? as usize;
        if edges > MAX_BAND_EDGES {
            return Err(ModelError::Bands(edges));
        }
        let bands = (0..edges).map(|_| r.u32()).collect::<Result<Vec<_>, _>>()?;
        if bands.windows(2).any(|w| w.first() >= w.get(1)) {
            return Err(ModelError::Bands(edges));
        }
        let factor = r.u32()?;
        if !(1..=16).contains(&factor) {
            return Err(ModelError::PlainFactor(factor));
        }
        let size = r.u32()?;
        let mut vocabulary = HashMap::new();
        for _ in 0..size {
            let bucket = r.u32()?;
            let [kind] = r.array::<1>()?;
            let len = usize::from(u16::from_le_bytes(r.array()?));
            let name = String::from_utf8_lossy(r.take(len)?).into_owned();
            vocabulary.insert((bucket, kind), name);
        }
        let levels = r.take(LEVELS_BYTES)?;
        if level(levels, 0) != 0 {
            return Err(ModelError::ZeroLevel(level(levels, 0)));
        }
        let weights = r.take(1usize << bits)?;
        if r.at != bytes.len() {
            return Err(ModelError::Trailing(bytes.len() - r.at));
        }
        Ok(Self {
            bits,
            scale,
            bias,
            platt_a,
            platt_b,
            part_offset,
            structural,
            bands,
            // INVARIANT: 1..=16, checked above.
            plain_factor: i32::try_from(factor).unwrap_or(1),
            vocabulary,
            levels,
            weights,
            // INVARIANT: bits is in 12..=22 (checked above), so the shift is in 42..=52.
            shift: 64 - bits,
            version: crate::digest::short_hash(bytes),
        })
    }

    /// The bucket a feature hash falls in.
    pub fn bucket(&self, hash: u64) -> u32 {
        bucket(hash, self.bits)
    }

    /// The quantised weight of a bucket alone: the level its code selects.
    pub fn weight(&self, bucket: u32) -> i32 {
        self.weights
            .get(bucket as usize)
            .map_or(0, |code| level(self.levels, *code))
    }

    /// The quantised weight of a feature hash in a band: `weight(bucket(hash))` without bands
    /// (checked in the tests), with the shift derived once per model.
    #[inline]
    pub fn weight_of(&self, hash: u64, band: Band) -> i32 {
        self.lookup(band).weight_of(hash)
    }

    /// The band of a message of `chars` characters: how many band edges are at or below it.
    pub fn band_of(&self, chars: usize) -> Band {
        let chars = u32::try_from(chars).unwrap_or(u32::MAX);
        Band(u8::try_from(self.bands.iter().filter(|&&e| e <= chars).count()).unwrap_or(u8::MAX))
    }

    /// The band of a message whose fields are `texts`: their characters, summed.
    pub fn band_of_texts<S: AsRef<str>>(&self, texts: &[S]) -> Band {
        if self.bands.is_empty() {
            return Band(0);
        }
        self.band_of(texts.iter().map(|t| t.as_ref().chars().count()).sum())
    }

    /// The weight table, its shift and the band's conjunct offset, to keep next to a running
    /// sum.
    pub fn lookup(&self, band: Band) -> Lookup {
        Lookup {
            levels: self.levels,
            weights: self.weights,
            shift: self.shift,
            salt: (!self.bands.is_empty()).then(|| (u64::from(band.0) + 1).wrapping_mul(BAND_SALT)),
            factor: self.plain_factor,
        }
    }
    /// The name of an n-gram bucket, when the trainer kept it for explanations.
    pub fn name(&self, bucket: u32, kind: Kind) -> Option<&str> {
        self.vocabulary
            .get(&(bucket, kind.code()))
            .map(String::as_str)
    }

    /// The calibrated probability of a raw score.
    pub fn probability(&self, score: f32) -> f64 {
        self.probability_shifted(score, 0.0)
    }

    /// The probability with `shift` added in logit space (negative: less likely).
    pub fn probability_shifted(&self, score: f32, shift: f64) -> f64 {
        let z = f64::from(self.platt_a) * f64::from(score) + f64::from(self.platt_b) + shift;
        1.0 / (1.0 + (-z).exp())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weight_of_a_hash_is_the_weight_of_its_bucket() {
        let model = builtin().unwrap();
        let mut h = 0x9E37_79B9_7F4A_7C15u64;
        for i in 0..200_000u64 {
            h = (h ^ i).wrapping_mul(0x5851_F42D_4C95_7F2D).rotate_left(17);
            for band in 0..=model.bands.len() {
                let band = Band(u8::try_from(band).unwrap());
                let lookup = model.lookup(band);
                assert_eq!(
                    model.weight_of(h, band),
                    lookup.weight(model.bucket(h)),
                    "{h:x}"
                );
            }
        }
        for h in [0, u64::MAX, 1 << 63, (1 << 42) - 1] {
            let lookup = model.lookup(Band(0));
            assert_eq!(
                model.weight_of(h, Band(0)),
                lookup.weight(model.bucket(h)),
                "{h:x}"
            );
        }
    }

    /// A model of 2^12 buckets with the given level table, bucket `i` holding code `i % 256`,
    /// the given band edges and plain factor.
    fn banded(levels: &[i32; 256], edges: &[u32], factor: u32) -> &'static [u8] {
        let mut b = b"WAGM".to_vec();
        for v in [FORMAT, 12, u32::try_from(STRUCTURAL.len()).unwrap()] {
            b.extend(v.to_le_bytes());
        }
        for _ in 0..5 + STRUCTURAL.len() {
            b.extend(1.0f32.to_le_bytes());
        }
        b.extend(u32::try_from(edges.len()).unwrap().to_le_bytes());
        for e in edges {
            b.extend(e.to_le_bytes());
        }
        b.extend(factor.to_le_bytes());
        b.extend(0u32.to_le_bytes());
        for l in levels {
            b.extend(l.to_le_bytes());
        }
        b.extend((0..1u32 << 12).map(|i| (i % 256) as u8));
        Box::leak(b.into_boxed_slice())
    }

    /// A model of 2^12 buckets without bands.
    fn tiny(levels: &[i32; 256]) -> &'static [u8] {
        banded(levels, &[], 1)
    }

    #[test]
    fn a_banded_feature_weighs_its_bucket_and_its_conjunct_in_the_band() {
        let mut levels = [0i32; 256];
        for (code, level) in levels.iter_mut().enumerate() {
            *level = i32::try_from(code).unwrap() * 3;
        }
        let model = Model::parse(banded(&levels, &[80, 300], 2)).unwrap();
        assert_eq!(model.band_of(0), Band(0));
        assert_eq!(model.band_of(79), Band(0));
        assert_eq!(model.band_of(80), Band(1));
        assert_eq!(model.band_of(299), Band(1));
        assert_eq!(model.band_of(300), Band(2));
        assert_eq!(
            model.band_of_texts(&["é".repeat(50), "x".repeat(30)]),
            Band(1)
        );
        for bucket in [0u32, 1, 77, 4095] {
            let h = u64::from(bucket) << 52;
            for band in 0..3u64 {
                // The trainer's permutation (model/train.py, `with_bands`).
                let conjunct = (u64::from(bucket) * 0x9E37_79B1 + (band + 1) * 0x7F4A_7C15) % 4096;
                let want = 2 * levels[bucket as usize % 256] + levels[conjunct as usize % 256];
                let band = Band(u8::try_from(band).unwrap());
                assert_eq!(
                    model.weight_of(h, band),
                    want,
                    "bucket {bucket} band {band:?}"
                );
            }
        }
        // A model without bands weighs the bucket alone, in any band.
        let plain = Model::parse(tiny(&levels)).unwrap();
        assert_eq!(plain.weight_of(77 << 52, Band(2)), levels[77]);
        assert_eq!(plain.band_of_texts(&["x".repeat(500)]), Band(0));
    }

    #[test]
    fn band_edges_out_of_order_or_a_zero_factor_are_refused() {
        let levels = [0i32; 256];
        assert_eq!(
            Model::parse(banded(&levels, &[300, 80], 1)).unwrap_err(),
            ModelError::Bands(2)
        );
        assert_eq!(
            Model::parse(banded(&levels, &[1, 2, 3, 4, 5], 1)).unwrap_err(),
            ModelError::Bands(5)
        );
        assert_eq!(
            Model::parse(banded(&levels, &[80], 0)).unwrap_err(),
            ModelError::PlainFactor(0)
        );
    }

    #[test]
    fn a_code_weighs_the_level_it_selects() {
        let mut levels = [0i32; 256];
        for (code, level) in levels.iter_mut().enumerate().skip(1) {
            // Log-spaced magnitudes, negative for the codes above 127, as the trainer writes.
            let k = i32::try_from(if code < 128 { code } else { 256 - code }).unwrap();
            let sign = if code < 128 { 1 } else { -1 };
            *level = sign * (1 << (k / 10)) * 64;
        }
        let model = Model::parse(tiny(&levels)).unwrap();
        for bucket in [0u32, 1, 127, 128, 129, 255, 256, 4095] {
            let code = (bucket % 256) as usize;
            assert_eq!(model.weight(bucket), levels[code], "bucket {bucket}");
            assert_eq!(
                model.weight_of(u64::from(bucket) << 52, Band(0)),
                levels[code]
            );
        }
        assert_eq!(
            model.weight(1 << 12),
            0,
            "a bucket past the table weighs nothing"
        );
    }

    #[test]
    fn a_table_whose_code_zero_weighs_something_is_refused() {
        let mut levels = [0i32; 256];
        levels[0] = 5;
        assert_eq!(
            Model::parse(tiny(&levels)).unwrap_err(),
            ModelError::ZeroLevel(5)
        );
        let mut truncated = tiny(&[0; 256]).to_vec();
        truncated.truncate(truncated.len() - (1 << 12) - 1);
        assert!(matches!(
            Model::parse(Box::leak(truncated.into_boxed_slice())),
            Err(ModelError::Truncated(_))
        ));
    }
}
