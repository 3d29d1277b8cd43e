//! A whole JSON document (`application/json`), held up to `max_json_document_bytes` and
//! rewritten at the end.

use super::*;

/// A whole JSON document (`application/json`), held up to `max_json_document_bytes` and
/// rewritten at the end.
pub struct JsonDocumentStage {
    ctx: Arc<StageContext>,
    pending: Vec<u8>,
    bypassed: bool,
}

impl JsonDocumentStage {
    pub fn new(ctx: Arc<StageContext>) -> Self {
        Self {
            ctx,
            pending: Vec::new(),
            bypassed: false,
        }
    }
}

impl Stage for JsonDocumentStage {
    fn feed(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        _stats: &mut StripStats,
    ) -> Result<(), StripError> {
        if self.bypassed {
            out.extend_from_slice(input);
            return Ok(());
        }
        self.pending.extend_from_slice(input);
        if self.pending.len() > self.ctx.max_json_document_bytes {
            return Err(StripError::RecordTooLarge);
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<u8>, stats: &mut StripStats) -> Result<(), StripError> {
        if self.bypassed {
            return Ok(());
        }
        let doc =
            crate::training::json_doc::strip_document(&self.ctx.detectors, &self.pending, stats)?;
        out.extend_from_slice(&doc);
        self.pending.clear();
        Ok(())
    }

    fn bypass(&mut self, out: &mut Vec<u8>) {
        out.append(&mut self.pending);
        self.bypassed = true;
    }
}
