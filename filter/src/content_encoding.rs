//! `content-encoding`, read once per request, and the one gzip and deflate decoder that both
//! jobs use: a send's body is decoded whole under an absolute limit, an upload is decoded as it
//! streams under an expansion ratio, and a payload compressed inside a string is decoded whole.
//!
//! The decoder checks every gzip member's CRC-32 and length, and a stream must end. What may
//! follow its end is the caller's choice ([`AfterEnd`]), because the jobs differ there: an upload
//! accepts the zero padding some writers add, a send refuses it after gzip and leaves whatever
//! follows a zlib or raw deflate stream unread, as Graph's own reader does.

use flate2::{Crc, Decompress, FlushDecompress, Status};

/// One coding of a `content-encoding` list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    /// `gzip` or `x-gzip` (RFC 1952; concatenated members are one stream).
    Gzip,
    /// `deflate`: zlib-wrapped deflate per RFC 9110.
    Deflate,
    /// Anything else: the body cannot be read.
    Unsupported,
}

/// A request's `content-encoding`: its codings in the order they were applied, without
/// `identity` and empty items. `gzip, gzip` is two layers, undone in reverse order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContentEncoding {
    codings: Vec<Coding>,
}

impl ContentEncoding {
    /// Reads the header (repeated headers arrive joined by commas).
    pub fn parse(header: Option<&str>) -> Self {
        let codings = header
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty() && !c.eq_ignore_ascii_case("identity"))
            .map(|c| {
                if c.eq_ignore_ascii_case("gzip") || c.eq_ignore_ascii_case("x-gzip") {
                    Coding::Gzip
                } else if c.eq_ignore_ascii_case("deflate") {
                    Coding::Deflate
                } else {
                    Coding::Unsupported
                }
            })
            .collect();
        Self { codings }
    }

    /// The body is sent as it is.
    pub fn is_identity(&self) -> bool {
        self.codings.is_empty()
    }

    /// The codings in the order they were applied.
    pub fn codings(&self) -> &[Coding] {
        &self.codings
    }

    /// What a streamed upload, which undoes one layer as it goes, makes of the encoding.
    pub fn single_layer(&self) -> Layer {
        match self.codings.as_slice() {
            [] => Layer::Identity,
            [c @ (Coding::Gzip | Coding::Deflate)] => Layer::One(*c),
            _ => Layer::Unreadable,
        }
    }
}

/// A body's encoding as one layer to undo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    Identity,
    One(Coding),
    /// More than one layer, or one the decoder does not know.
    Unreadable,
}

/// Why decoding stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InflateError<E> {
    /// The bytes are not a complete, well-formed stream of the coding.
    Invalid,
    /// The sink refused the output (a budget it enforces).
    Sink(E),
}

/// A one-shot decode went beyond its limit, or the stream is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InflateWholeError {
    Invalid,
    TooLarge,
}

/// How a deflate stream is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    Gzip,
    Zlib,
    /// No header at all: not what RFC 9110 calls `deflate`, but common in the wild.
    Raw,
}

/// What may follow the end of the compressed stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterEnd {
    /// Nothing (after a gzip member: only another member).
    Nothing,
    /// Zero bytes: padding some writers add.
    ZeroPadding,
    /// Anything: it is not read, as a reader that stops at the stream's end does not read it.
    Unread,
}

impl AfterEnd {
    fn allows(self, rest: &[u8]) -> bool {
        match self {
            Self::Nothing => rest.is_empty(),
            Self::ZeroPadding => rest.iter().all(|b| *b == 0),
            Self::Unread => true,
        }
    }
}

const WINDOW: usize = 64 << 10;
const GZIP_MAGIC: [u8; 3] = [0x1f, 0x8b, 0x08];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    GzipHeader,
    Stream,
    GzipTrailer,
    Done,
}

/// A streaming decoder: compressed bytes in, decoded bytes handed to a sink window by window,
/// so that memory stays bounded by the window whatever the expansion.
pub struct Inflater {
    framing: Framing,
    after_end: AfterEnd,
    phase: Phase,
    decompress: Decompress,
    crc: Crc,
    pending: Vec<u8>,
    members: u32,
}

impl std::fmt::Debug for Inflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inflater")
            .field("framing", &self.framing)
            .field("phase", &self.phase)
            .finish_non_exhaustive()
    }
}

impl Inflater {
    pub fn new(framing: Framing, after_end: AfterEnd) -> Self {
        let (phase, zlib) = match framing {
            Framing::Gzip => (Phase::GzipHeader, false),
            Framing::Zlib => (Phase::Stream, true),
            Framing::Raw => (Phase::Stream, false),
        };
        Self {
            framing,
            after_end,
            phase,
            decompress: Decompress::new(zlib),
            crc: Crc::new(),
            pending: Vec::new(),
            members: 0,
        }
    }

    /// The decoder for one `content-encoding` coding (`deflate` is zlib-wrapped).
    pub fn for_coding(coding: Coding, after_end: AfterEnd) -> Option<Self> {
        match coding {
            Coding::Gzip => Some(Self::new(Framing::Gzip, after_end)),
            Coding::Deflate => Some(Self::new(Framing::Zlib, after_end)),
            Coding::Unsupported => None,
        }
    }

    /// Decodes what `input` completes, handing every decoded window to `sink`.
    pub fn feed<E>(
        &mut self,
        input: &[u8],
        sink: &mut dyn FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), InflateError<E>> {
        self.pending.extend_from_slice(input);
        self.run(sink)
    }

    /// Ends the input: the stream must be complete, followed by what `after_end` allows.
    pub fn finish<E>(
        &mut self,
        sink: &mut dyn FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), InflateError<E>> {
        self.run(sink)?;
        let ended = match self.phase {
            Phase::Done => true,
            Phase::GzipHeader => self.members > 0,
            Phase::Stream | Phase::GzipTrailer => false,
        };
        if ended && self.after_end.allows(&self.pending) {
            Ok(())
        } else {
            Err(InflateError::Invalid)
        }
    }

    /// Parses a gzip member header; `Ok(None)` when more bytes are needed.
    fn header_len(buf: &[u8]) -> Result<Option<usize>, ()> {
        let Some(fixed) = buf.get(..10) else {
            return Ok(None);
        };
        if fixed.get(..3) != Some(&GZIP_MAGIC) {
            return Err(());
        }
        let flags = fixed.get(3).copied().unwrap_or(0);
        let mut at: usize = 10;
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

    fn run<E>(
        &mut self,
        sink: &mut dyn FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), InflateError<E>> {
        let mut window: Vec<u8> = Vec::new();
        loop {
            match self.phase {
                // After a member: another member, or what may follow the stream's end.
                Phase::GzipHeader
                    if self.members > 0
                        && self.after_end != AfterEnd::Nothing
                        && self.pending.first().is_some_and(|b| *b != 0x1f) =>
                {
                    self.phase = Phase::Done;
                }
                Phase::GzipHeader => match Self::header_len(&self.pending) {
                    Ok(Some(n)) => {
                        self.pending.drain(..n);
                        self.decompress.reset(false);
                        self.crc.reset();
                        self.phase = Phase::Stream;
                    }
                    Ok(None) => return Ok(()),
                    Err(()) => return Err(InflateError::Invalid),
                },
                Phase::Stream => {
                    if self.pending.is_empty() {
                        return Ok(());
                    }
                    if window.is_empty() {
                        window = vec![0u8; WINDOW];
                    }
                    let before_in = self.decompress.total_in();
                    let before_out = self.decompress.total_out();
                    let status = self
                        .decompress
                        .decompress(&self.pending, &mut window, FlushDecompress::None)
                        .map_err(|_| InflateError::Invalid)?;
                    let consumed = usize::try_from(self.decompress.total_in() - before_in)
                        .unwrap_or(usize::MAX);
                    let produced = usize::try_from(self.decompress.total_out() - before_out)
                        .unwrap_or(usize::MAX);
                    self.pending.drain(..consumed.min(self.pending.len()));
                    let decoded = window.get(..produced).unwrap_or_default();
                    if self.framing == Framing::Gzip {
                        self.crc.update(decoded);
                    }
                    sink(decoded).map_err(InflateError::Sink)?;
                    match status {
                        Status::StreamEnd if self.framing == Framing::Gzip => {
                            self.phase = Phase::GzipTrailer;
                        }
                        Status::StreamEnd => self.phase = Phase::Done,
                        _ if consumed == 0 && produced == 0 => return Ok(()),
                        _ => {}
                    }
                }
                Phase::GzipTrailer => {
                    let Some(trailer) = self.pending.get(..8) else {
                        return Ok(());
                    };
                    let word = |at: usize| {
                        trailer
                            .get(at..at + 4)
                            .and_then(|s| <[u8; 4]>::try_from(s).ok())
                            .map(u32::from_le_bytes)
                    };
                    if word(0) != Some(self.crc.sum()) || word(4) != Some(self.crc.amount()) {
                        return Err(InflateError::Invalid);
                    }
                    self.pending.drain(..8);
                    self.members = self.members.saturating_add(1);
                    // Concatenated members are one stream (RFC 1952 §2.2), and the next member
                    // may start in a later chunk: wait for its header whatever the chunking.
                    self.phase = Phase::GzipHeader;
                }
                Phase::Done => {
                    if self.after_end == AfterEnd::Unread {
                        self.pending.clear();
                    }
                    return if self.after_end.allows(&self.pending) {
                        Ok(())
                    } else {
                        Err(InflateError::Invalid)
                    };
                }
            }
        }
    }
}

/// Decodes a whole stream, refusing more than `limit` decoded bytes.
pub fn inflate_whole(
    framing: Framing,
    after_end: AfterEnd,
    bytes: &[u8],
    limit: usize,
) -> Result<Vec<u8>, InflateWholeError> {
    let mut out = Vec::new();
    let mut sink = |w: &[u8]| {
        if out.len().saturating_add(w.len()) > limit {
            return Err(());
        }
        out.extend_from_slice(w);
        Ok(())
    };
    let mut inflater = Inflater::new(framing, after_end);
    let result = inflater
        .feed(bytes, &mut sink)
        .and_then(|()| inflater.finish(&mut sink));
    match result {
        Ok(()) => Ok(out),
        Err(InflateError::Invalid) => Err(InflateWholeError::Invalid),
        Err(InflateError::Sink(())) => Err(InflateWholeError::TooLarge),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};
    use std::io::Write;

    fn gzip(b: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(b).unwrap();
        e.finish().unwrap()
    }

    /// `gzip, gzip` is two layers wherever it is read: a send undoes both (in reverse order),
    /// and an upload, which undoes one layer as it streams, finds it uninspectable.
    #[test]
    fn stacked_codings_are_read_as_layers_everywhere() {
        let e = ContentEncoding::parse(Some("gzip, gzip"));
        assert_eq!(e.codings(), &[Coding::Gzip, Coding::Gzip]);
        assert_eq!(e.single_layer(), Layer::Unreadable);
        let e = ContentEncoding::parse(Some(" Identity ,X-GZIP,,"));
        assert_eq!(e.codings(), &[Coding::Gzip]);
        assert_eq!(e.single_layer(), Layer::One(Coding::Gzip));
        let e = ContentEncoding::parse(Some("deflate, br"));
        assert_eq!(e.codings(), &[Coding::Deflate, Coding::Unsupported]);
        assert_eq!(e.single_layer(), Layer::Unreadable);
        assert!(ContentEncoding::parse(Some("identity")).is_identity());
        assert!(ContentEncoding::parse(None).is_identity());
    }

    #[test]
    fn members_are_checked_and_joined_whatever_the_chunking() {
        let mut two = gzip(b"hello ");
        two.extend(gzip(b"world"));
        two.extend([0u8; 3]);
        for cut in 0..=two.len() {
            let mut out = Vec::new();
            let mut sink = |w: &[u8]| -> Result<(), ()> {
                out.extend_from_slice(w);
                Ok(())
            };
            let mut i = Inflater::new(Framing::Gzip, AfterEnd::ZeroPadding);
            i.feed(&two[..cut], &mut sink).unwrap();
            i.feed(&two[cut..], &mut sink).unwrap();
            i.finish(&mut sink).unwrap();
            assert_eq!(out, b"hello world", "cut at {cut}");
        }
        // Zero padding is refused where nothing may follow.
        assert_eq!(
            inflate_whole(Framing::Gzip, AfterEnd::Nothing, &two, 1 << 20),
            Err(InflateWholeError::Invalid)
        );
        let joined = &two[..two.len() - 3];
        assert_eq!(
            inflate_whole(Framing::Gzip, AfterEnd::Nothing, joined, 1 << 20).unwrap(),
            b"hello world"
        );
        // A wrong CRC-32 or length, a truncated member, garbage after it, or nothing at all.
        let good = gzip(b"hello");
        let n = good.len();
        for bad in [
            {
                let mut b = good.clone();
                b[n - 8] ^= 1;
                b
            },
            {
                let mut b = good.clone();
                b[n - 1] ^= 1;
                b
            },
            good[..n - 3].to_vec(),
            [good.as_slice(), b"x"].concat(),
            vec![0u8; 4],
            Vec::new(),
        ] {
            for after_end in [AfterEnd::Nothing, AfterEnd::ZeroPadding] {
                assert_eq!(
                    inflate_whole(Framing::Gzip, after_end, &bad, 1 << 20),
                    Err(InflateWholeError::Invalid)
                );
            }
        }
    }

    #[test]
    fn zlib_and_raw_deflate_decode_within_the_limit() {
        let mut z = ZlibEncoder::new(Vec::new(), Compression::default());
        z.write_all(&[b'a'; 4096]).unwrap();
        let z = z.finish().unwrap();
        let whole =
            |framing, bytes: &[u8], limit| inflate_whole(framing, AfterEnd::Nothing, bytes, limit);
        assert_eq!(whole(Framing::Zlib, &z, 4096).unwrap().len(), 4096);
        assert_eq!(
            whole(Framing::Zlib, &z, 4095),
            Err(InflateWholeError::TooLarge)
        );
        assert_eq!(
            whole(Framing::Raw, &z, 1 << 20),
            Err(InflateWholeError::Invalid)
        );
        // What follows the stream: refused, or left unread.
        let trailed = [z.as_slice(), b"garbage"].concat();
        assert_eq!(
            whole(Framing::Zlib, &trailed, 1 << 20),
            Err(InflateWholeError::Invalid)
        );
        assert_eq!(
            inflate_whole(Framing::Zlib, AfterEnd::Unread, &trailed, 1 << 20)
                .unwrap()
                .len(),
            4096
        );
        let mut d = DeflateEncoder::new(Vec::new(), Compression::default());
        d.write_all(b"raw").unwrap();
        let d = d.finish().unwrap();
        assert_eq!(whole(Framing::Raw, &d, 16).unwrap(), b"raw");
        // A truncated stream never ends, whatever may follow it.
        assert_eq!(
            inflate_whole(Framing::Zlib, AfterEnd::Unread, &z[..z.len() - 2], 1 << 20),
            Err(InflateWholeError::Invalid)
        );
    }
}
