//! The streaming `Stripper` of one upload: fed chunk by chunk, it forwards what its stage keeps.

use super::stage::{Stage, StripError, StripStats};

/// A streaming stripper for one upload.
pub struct Stripper {
    stage: Box<dyn Stage>,
    /// It undoes the body's `content-encoding`: what it forwards is identity-encoded.
    decodes: bool,
    pub stats: StripStats,
    /// The first error; after it, the body was bypassed (policy `allow`) or blocked.
    pub error: Option<StripError>,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

impl Stripper {
    /// A stripper over `stage`; `decodes` when the stage undoes the body's `content-encoding`.
    pub(super) fn new(stage: Box<dyn Stage>, decodes: bool, stats: StripStats) -> Self {
        Self {
            stage,
            decodes,
            stats,
            error: None,
            bytes_in: 0,
            bytes_out: 0,
        }
    }

    /// Feeds a chunk, appending the bytes to forward now to `out`. On error, `out` still holds
    /// what was judged before the error; the rest is held for `bypass`.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> Result<(), StripError> {
        self.bytes_in += chunk.len() as u64;
        let before = out.len();
        let r = self.stage.feed(chunk, out, &mut self.stats);
        self.bytes_out += (out.len() - before) as u64;
        r.map_err(|e| self.fail(e))
    }

    /// Ends the body, appending the last bytes to forward.
    pub fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), StripError> {
        // An empty body holds no records; there is nothing to inspect or refuse.
        if self.bytes_in == 0 {
            return Ok(());
        }
        let before = out.len();
        let r = self.stage.finish(out, &mut self.stats);
        self.bytes_out += (out.len() - before) as u64;
        r.map_err(|e| self.fail(e))
    }

    fn fail(&mut self, e: StripError) -> StripError {
        // A record found after a tolerated error is what the upload is refused for.
        if e == StripError::RecordsInObject {
            self.error = Some(e);
        }
        self.error.get_or_insert(e);
        e
    }

    /// After an error the policy tolerates: forward the held bytes and everything after as is.
    /// A broken compressed stream cannot be forwarded identity-encoded, and a WhatsApp record
    /// found in an upload part or an object is a finding, not a body that could not be read:
    /// neither is ever bypassed.
    pub fn bypass(&mut self, out: &mut Vec<u8>) -> bool {
        if matches!(
            self.error,
            Some(
                StripError::InvalidCompression
                    | StripError::ExpansionTooLarge
                    | StripError::RecordsInObject
                    | StripError::RecordsInPart
            )
        ) {
            return false;
        }
        let before = out.len();
        self.stage.bypass(out);
        self.bytes_out += (out.len() - before) as u64;
        true
    }

    /// Whether the stripper undoes the body's `content-encoding`, so the header must go.
    pub fn decodes(&self) -> bool {
        self.decodes
    }

    /// Every record was WhatsApp-derived: nothing would be left to train on.
    pub fn stripped_everything(&self) -> bool {
        self.stats.records_seen > 0 && self.stats.records_stripped == self.stats.records_seen
    }
}
