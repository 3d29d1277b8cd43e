//! A whole JSON document (`application/json`), held up to `max_json_document_bytes` and
//! rewritten at the end.

use super::*;

/// A whole JSON document (`application/json`), held up to `max_json_document_bytes` and
/// rewritten at the end.
pub struct JsonDocumentStage {
    ctx: Arc<StageContext>,
    body: WholeBody,
}

impl JsonDocumentStage {
    pub fn new(ctx: Arc<StageContext>) -> Self {
        Self {
            ctx,
            body: WholeBody::default(),
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
        self.body.feed(input, out, self.ctx.max_json_document_bytes)
    }

    fn finish(&mut self, out: &mut Vec<u8>, stats: &mut StripStats) -> Result<(), StripError> {
        let Some(held) = self.body.held() else {
            return Ok(());
        };
        let doc = crate::training::json_doc::strip_document(&self.ctx.detectors, held, stats)?;
        out.extend_from_slice(&doc);
        self.body.clear();
        Ok(())
    }

    fn bypass(&mut self, out: &mut Vec<u8>) {
        self.body.bypass(out);
    }
}
