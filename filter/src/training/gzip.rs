//! Streaming `gzip` / `deflate` decoding in front of a stage, with a bounded expansion ratio.
//!
//! Decompressed uploads are forwarded identity-encoded: the glue removes `content-encoding`
//! and `content-length` in the headers phase, so the upstream receives plain, stripped bytes.
//! The gzip framing (RFC 1952) is parsed here; the deflate stream goes through miniz_oxide.

use super::stage::{Stage, StripError, StripStats};
use flate2::{Decompress, FlushDecompress, Status};

const WINDOW: usize = 64 << 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Gzip,
    /// zlib-wrapped deflate, as RFC 9110 defines `deflate`.
    Deflate,
}

enum Phase {
    GzipHeader,
    Stream,
    GzipTrailer,
    Done,
}

pub struct DecodeStage {
    coding: Coding,
    inner: Box<dyn Stage>,
    phase: Phase,
    decompress: Decompress,
    pending: Vec<u8>,
    bytes_in: u64,
    bytes_out: u64,
    max_ratio: u64,
}

impl DecodeStage {
    pub fn new(coding: Coding, inner: Box<dyn Stage>, max_ratio: u64) -> Self {
        let (phase, decompress) = match coding {
            Coding::Gzip => (Phase::GzipHeader, Decompress::new(false)),
            Coding::Deflate => (Phase::Stream, Decompress::new(true)),
        };
        Self {
            coding,
            inner,
            phase,
            decompress,
            pending: Vec::new(),
            bytes_in: 0,
            bytes_out: 0,
            max_ratio,
        }
    }

    /// Parses a gzip member header; `Ok(None)` when more bytes are needed.
    fn header_len(buf: &[u8]) -> Result<Option<usize>, StripError> {
        let Some(fixed) = buf.get(..10) else {
            return Ok(None);
        };
        if fixed.get(..3) != Some(&[0x1f, 0x8b, 0x08]) {
            return Err(StripError::InvalidCompression);
        }
        let flags = fixed.get(3).copied().unwrap_or(0);
        let mut at = 10;
        if flags & 0x04 != 0 {
            let (Some(lo), Some(hi)) = (buf.get(at), buf.get(at + 1)) else {
                return Ok(None);
            };
            at += 2 + usize::from(u16::from_le_bytes([*lo, *hi]));
        }
        for bit in [0x08, 0x10] {
            if flags & bit != 0 {
                match buf.get(at..).and_then(|r| memchr::memchr(0, r)) {
                    Some(i) => at += i + 1,
                    None => return Ok(None),
                }
            }
        }
        if flags & 0x02 != 0 {
            at += 2;
        }
        Ok((buf.len() >= at).then_some(at))
    }

    fn run(&mut self, out: &mut Vec<u8>, stats: &mut StripStats) -> Result<(), StripError> {
        let mut window = vec![0u8; WINDOW];
        loop {
            match self.phase {
                // Zero bytes after a member are padding some writers add, not a member.
                Phase::GzipHeader if self.pending.first() == Some(&0) => self.phase = Phase::Done,
                Phase::GzipHeader => match Self::header_len(&self.pending)? {
                    Some(n) => {
                        self.pending.drain(..n);
                        self.decompress.reset(false);
                        self.phase = Phase::Stream;
                    }
                    None => return Ok(()),
                },
                Phase::Stream => {
                    if self.pending.is_empty() {
                        return Ok(());
                    }
                    let before_in = self.decompress.total_in();
                    let before_out = self.decompress.total_out();
                    let status = self
                        .decompress
                        .decompress(&self.pending, &mut window, FlushDecompress::None)
                        .map_err(|_| StripError::InvalidCompression)?;
                    let consumed = usize::try_from(self.decompress.total_in() - before_in)
                        .unwrap_or(usize::MAX);
                    let produced = usize::try_from(self.decompress.total_out() - before_out)
                        .unwrap_or(usize::MAX);
                    self.pending.drain(..consumed.min(self.pending.len()));
                    self.bytes_out += produced as u64;
                    if self.bytes_out > self.bytes_in.max(1024).saturating_mul(self.max_ratio) {
                        return Err(StripError::ExpansionTooLarge);
                    }
                    self.inner
                        .feed(window.get(..produced).unwrap_or_default(), out, stats)?;
                    match status {
                        Status::StreamEnd => {
                            self.phase = if self.coding == Coding::Gzip {
                                Phase::GzipTrailer
                            } else {
                                Phase::Done
                            };
                        }
                        _ if consumed == 0 && produced == 0 => return Ok(()),
                        _ => {}
                    }
                }
                Phase::GzipTrailer => {
                    if self.pending.len() < 8 {
                        return Ok(());
                    }
                    self.pending.drain(..8);
                    // Concatenated members are one stream (RFC 1952 §2.2), and the next member
                    // may start in a later chunk: wait for its header whatever the chunking.
                    self.phase = Phase::GzipHeader;
                }
                Phase::Done => {
                    return if self.pending.iter().all(|b| *b == 0) {
                        Ok(())
                    } else {
                        Err(StripError::InvalidCompression)
                    };
                }
            }
        }
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
        self.pending.extend_from_slice(input);
        self.run(out, stats)
    }

    fn finish(&mut self, out: &mut Vec<u8>, stats: &mut StripStats) -> Result<(), StripError> {
        self.run(out, stats)?;
        let padding_only = self.pending.iter().all(|b| *b == 0);
        match self.phase {
            Phase::Done | Phase::GzipHeader if padding_only && self.bytes_in > 0 => {
                self.inner.finish(out, stats)
            }
            _ => Err(StripError::InvalidCompression),
        }
    }

    /// Decoding goes on (the upstream was promised identity-encoded bytes); only stripping stops.
    fn bypass(&mut self, out: &mut Vec<u8>) {
        self.inner.bypass(out);
    }
}
