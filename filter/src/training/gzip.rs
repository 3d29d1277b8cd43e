//! A decoded upload: the one `gzip` / `deflate` decoder ([`crate::content_encoding`]) in front
//! of a stage, with a bounded expansion ratio.
//!
//! Decompressed uploads are forwarded identity-encoded: the glue removes `content-encoding`
//! and `content-length` in the headers phase, so the upstream receives plain, stripped bytes.

use super::stage::{Stage, StripError, StripStats};
use crate::content_encoding::{AfterEnd, Coding, InflateError, Inflater};

pub struct DecodeStage {
    inflater: Inflater,
    inner: Box<dyn Stage>,
    bytes_in: u64,
    bytes_out: u64,
    max_ratio: u64,
}

impl DecodeStage {
    /// `None` for a coding the decoder does not know.
    pub fn new(coding: Coding, inner: Box<dyn Stage>, max_ratio: u64) -> Option<Self> {
        Some(Self {
            // Zero bytes after the stream are padding some writers add.
            inflater: Inflater::for_coding(coding, AfterEnd::ZeroPadding)?,
            inner,
            bytes_in: 0,
            bytes_out: 0,
            max_ratio,
        })
    }

    /// Runs the decoder (`finish`: to its end), feeding every decoded window to the inner
    /// stage within the expansion budget.
    fn run(
        &mut self,
        input: &[u8],
        finish: bool,
        out: &mut Vec<u8>,
        stats: &mut StripStats,
    ) -> Result<(), StripError> {
        let Self {
            inflater,
            inner,
            bytes_in,
            bytes_out,
            max_ratio,
        } = self;
        let budget = (*bytes_in).max(1024).saturating_mul(*max_ratio);
        let mut sink = |window: &[u8]| {
            *bytes_out += window.len() as u64;
            if *bytes_out > budget {
                return Err(StripError::ExpansionTooLarge);
            }
            inner.feed(window, out, stats)
        };
        let result = if finish {
            inflater.finish(&mut sink)
        } else {
            inflater.feed(input, &mut sink)
        };
        result.map_err(|e| match e {
            InflateError::Invalid => StripError::InvalidCompression,
            InflateError::Sink(e) => e,
        })
    }
}

impl Stage for DecodeStage {
    fn feed(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        stats: &mut StripStats,
    ) -> Result<(), StripError> {
        self.bytes_in += input.len() as u64;
        self.run(input, false, out, stats)
    }

    fn finish(&mut self, out: &mut Vec<u8>, stats: &mut StripStats) -> Result<(), StripError> {
        self.run(&[], true, out, stats)?;
        self.inner.finish(out, stats)
    }

    /// Decoding goes on (the upstream was promised identity-encoded bytes); only stripping stops.
    fn bypass(&mut self, out: &mut Vec<u8>) {
        self.inner.bypass(out);
    }
}
