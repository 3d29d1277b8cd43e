//! S3's `aws-chunked` framing of an object's body, undone for judging.

use crate::training::stage::{Stage, StripError, StripStats};

/// S3's `aws-chunked` framing (SigV4 streaming uploads): `{hex size}[;chunk-signature=...]`
/// CRLF, the data, CRLF, until a zero-size chunk, then trailer lines (`x-amz-checksum-crc32:`)
/// and a blank line. The data is handed to the inner stage; anything else is refused.
pub struct AwsChunked {
    inner: Box<dyn Stage>,
    buf: Vec<u8>,
    /// Data bytes left in the current chunk, then its CRLF.
    remaining: u64,
    state: ChunkState,
    max_line: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    Size,
    Data,
    DataEnd,
    Trailers,
    Done,
}

impl AwsChunked {
    pub fn new(inner: Box<dyn Stage>, max_record_bytes: usize) -> Self {
        Self {
            inner,
            buf: Vec::new(),
            remaining: 0,
            state: ChunkState::Size,
            max_line: max_record_bytes.clamp(1024, 64 << 10),
        }
    }

    /// Takes one CRLF-ended line from `buf`.
    fn line(&mut self) -> Result<Option<Vec<u8>>, StripError> {
        match memchr::memmem::find(&self.buf, b"\r\n") {
            Some(i) => {
                let line = self.buf.get(..i).unwrap_or_default().to_vec();
                self.buf.drain(..i + 2);
                Ok(Some(line))
            }
            None if self.buf.len() > self.max_line => Err(StripError::InvalidAwsChunked),
            None => Ok(None),
        }
    }

    fn step(&mut self, sink: &mut Vec<u8>, stats: &mut StripStats) -> Result<bool, StripError> {
        match self.state {
            ChunkState::Size => {
                let Some(line) = self.line()? else {
                    return Ok(false);
                };
                let text = std::str::from_utf8(&line).map_err(|_| StripError::InvalidAwsChunked)?;
                let size = text.split(';').next().unwrap_or("").trim();
                self.remaining = u64::from_str_radix(size, 16)
                    .ok()
                    .filter(|_| !size.is_empty() && size.len() <= 16)
                    .ok_or(StripError::InvalidAwsChunked)?;
                self.state = if self.remaining == 0 {
                    ChunkState::Trailers
                } else {
                    ChunkState::Data
                };
            }
            ChunkState::Data => {
                if self.buf.is_empty() {
                    return Ok(false);
                }
                let take = usize::try_from(self.remaining)
                    .unwrap_or(usize::MAX)
                    .min(self.buf.len());
                let data: Vec<u8> = self.buf.drain(..take).collect();
                self.inner.feed(&data, sink, stats)?;
                self.remaining -= take as u64;
                if self.remaining == 0 {
                    self.state = ChunkState::DataEnd;
                }
            }
            ChunkState::DataEnd => {
                if self.buf.len() < 2 {
                    return Ok(false);
                }
                if self.buf.get(..2) != Some(b"\r\n") {
                    return Err(StripError::InvalidAwsChunked);
                }
                self.buf.drain(..2);
                self.state = ChunkState::Size;
            }
            ChunkState::Trailers => {
                let Some(line) = self.line()? else {
                    return Ok(false);
                };
                if line.is_empty() {
                    self.state = ChunkState::Done;
                }
            }
            ChunkState::Done => {
                if !self.buf.trim_ascii().is_empty() {
                    return Err(StripError::InvalidAwsChunked);
                }
                self.buf.clear();
                return Ok(false);
            }
        }
        Ok(true)
    }
}

impl Stage for AwsChunked {
    fn feed(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        stats: &mut StripStats,
    ) -> Result<(), StripError> {
        self.buf.extend_from_slice(input);
        while self.step(out, stats)? {}
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<u8>, stats: &mut StripStats) -> Result<(), StripError> {
        while self.step(out, stats)? {}
        // Some writers end with the zero-size chunk's CRLF and no trailer section.
        let ended = self.state == ChunkState::Done
            || (self.state == ChunkState::Trailers && self.buf.is_empty());
        if !ended {
            return Err(StripError::InvalidAwsChunked);
        }
        self.inner.finish(out, stats)
    }

    fn bypass(&mut self, _out: &mut Vec<u8>) {
        // Only ever inside an `ObjectStage`, which forwards the object's own bytes.
    }
}
