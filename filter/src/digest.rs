//! Digests the engine computes: the short fingerprint of a policy or a model, and HMAC-SHA256
//! (webhook signatures, hand-off link tokens).

use sha2::{Digest, Sha256};

/// The first 12 hex digits of the SHA-256 of `bytes`: the policy's fingerprint (and the
/// classifier model's version).
pub fn short_hash(bytes: &[u8]) -> String {
    crate::hex::encode(Sha256::digest(bytes).into_iter().take(6))
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
