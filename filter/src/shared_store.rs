//! The host's key-value store shared by every worker thread of one VM id (proxy-wasm shared
//! data), as the engine sees it: a value has a version, and a write can be made conditional on
//! the version read (compare-and-swap). Two concepts keep state in it: files uploaded in parts
//! (`training::parts`) and conversations (`conversation`). It imports nothing of the policy or
//! the flow, so both can use it.
//!
//! Envoy's shared data never deletes a key: whoever writes a key keeps it for the life of the
//! process. Every user bounds its memory by its key space and its value size.

/// A store of versioned values: the glue implements it with Envoy's shared data, tests and the
/// native tools with [`MemoryStore`].
pub trait SharedStore {
    /// The value and its version; `None` when the key was never written (or cannot be read).
    fn get(&self, key: &str) -> Option<(Vec<u8>, u32)>;
    /// Sets `key` if its version is still `cas` (`None`: whatever it is).
    fn set(&mut self, key: &str, value: &[u8], cas: Option<u32>) -> Result<(), StoreError>;
    /// As [`SharedStore::get`], but a read the host refused is an error, not an absent key.
    /// State that fails closed needs the difference.
    fn try_get(&self, key: &str) -> Result<Option<(Vec<u8>, u32)>, StoreError> {
        Ok(self.get(key))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreError {
    /// The value changed since it was read.
    Mismatch,
    /// The host refused.
    Failed,
}

/// A store in memory, with the host's versioning: for native tests and tools.
#[derive(Debug, Default, Clone)]
pub struct MemoryStore {
    values: std::collections::HashMap<String, (Vec<u8>, u32)>,
}

impl MemoryStore {
    /// The bytes held: every key and value, as Envoy's shared data holds them.
    pub fn total_bytes(&self) -> usize {
        self.values
            .iter()
            .map(|(k, (v, _))| k.len().saturating_add(v.len()))
            .fold(0, usize::saturating_add)
    }

    /// How many keys were ever written.
    pub fn key_count(&self) -> usize {
        self.values.len()
    }
}

impl SharedStore for MemoryStore {
    fn get(&self, key: &str) -> Option<(Vec<u8>, u32)> {
        self.values.get(key).cloned()
    }

    fn set(&mut self, key: &str, value: &[u8], cas: Option<u32>) -> Result<(), StoreError> {
        let version = self.values.get(key).map_or(0, |(_, v)| *v);
        if let Some(cas) = cas
            && cas != version
        {
            return Err(StoreError::Mismatch);
        }
        self.values
            .insert(key.to_owned(), (value.to_vec(), version.wrapping_add(1)));
        Ok(())
    }
}

/// A store read only: every write fails. What a caller that may read the host's shared data
/// but keeps no state of its own passes.
pub struct ReadOnly<'a>(pub &'a dyn SharedStore);

impl SharedStore for ReadOnly<'_> {
    fn get(&self, key: &str) -> Option<(Vec<u8>, u32)> {
        self.0.get(key)
    }

    fn set(&mut self, _key: &str, _value: &[u8], _cas: Option<u32>) -> Result<(), StoreError> {
        Err(StoreError::Failed)
    }

    fn try_get(&self, key: &str) -> Result<Option<(Vec<u8>, u32)>, StoreError> {
        self.0.try_get(key)
    }
}

/// A store with no host behind it: every read and write fails. What a caller that keeps no
/// state across requests passes; state that fails closed then refuses.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoStore;

impl SharedStore for NoStore {
    fn get(&self, _key: &str) -> Option<(Vec<u8>, u32)> {
        None
    }

    fn set(&mut self, _key: &str, _value: &[u8], _cas: Option<u32>) -> Result<(), StoreError> {
        Err(StoreError::Failed)
    }

    fn try_get(&self, _key: &str) -> Result<Option<(Vec<u8>, u32)>, StoreError> {
        Err(StoreError::Failed)
    }
}
