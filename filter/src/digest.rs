//! Digests the engine computes: the short fingerprint of a policy or a model, and HMAC-SHA256
//! (webhook signatures, hand-off link tokens).

use sha2::{Digest, Sha256};

/// The first 12 hex digits of the SHA-256 of `bytes`: the policy's fingerprint (and the
/// classifier model's version).
pub fn short_hash(bytes: &[u8]) -> String {
    crate::hex::encode(Sha256::digest(bytes).into_iter().take(6))
}

/// A salted SHA-256 of `fields` (each followed by a zero byte but the last), cut into an
/// 8-byte tag and a slot among `slots`: where shared-data records keyed by a secret-free hash
/// live (conversation state, GCS sessions). The tag tells records of one slot apart.
pub fn tag_and_slot(fields: &[&[u8]], slots: u32) -> ([u8; 8], u32) {
    let mut h = Sha256::new();
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            h.update([0]);
        }
        h.update(field);
    }
    let digest: [u8; 32] = h.finalize().into();
    let mut tag = [0u8; 8];
    let mut spread = [0u8; 8];
    for (i, b) in digest.iter().enumerate() {
        if let Some(t) = tag.get_mut(i) {
            *t = *b;
        } else if let Some(s) = i.checked_sub(8).and_then(|j| spread.get_mut(j)) {
            *s = *b;
        }
    }
    let slot = u64::from_be_bytes(spread) % u64::from(slots.max(1));
    (tag, u32::try_from(slot).unwrap_or(0))
}

/// SHA-256's block size, which HMAC pads the key to (RFC 2104).
const BLOCK: usize = 64;

/// HMAC-SHA256 (RFC 2104) over the `sha2` crate the filter already uses: a key longer than a
/// block is hashed first, then `H((K ^ opad) || H((K ^ ipad) || message))`.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        let digest = Sha256::digest(key);
        for (b, k) in block.iter_mut().zip(digest.iter()) {
            *b = *k;
        }
    } else {
        for (b, k) in block.iter_mut().zip(key.iter()) {
            *b = *k;
        }
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    inner.update(message);
    let inner = inner.finalize();
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner);
    outer.finalize().into()
}
