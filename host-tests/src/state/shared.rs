//! Shared data (key → bytes with compare-and-swap) and shared queues of one VM.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use crate::abi::Status;

/// `proxy_get_shared_data` / `proxy_set_shared_data`.
#[derive(Debug, Clone)]
pub struct SharedData {
    entries: HashMap<Vec<u8>, (Vec<u8>, u32)>,
    next_cas: u32,
}

impl Default for SharedData {
    fn default() -> SharedData {
        SharedData {
            entries: HashMap::new(),
            next_cas: 1,
        }
    }
}

impl SharedData {
    /// The value and its cas token.
    pub fn get(&self, key: &[u8]) -> Option<(&[u8], u32)> {
        self.entries.get(key).map(|(v, cas)| (v.as_slice(), *cas))
    }

    /// Store `value`. A non-zero `cas` must equal the entry's current token (cpp-host semantics:
    /// a missing key accepts any token).
    pub fn set(&mut self, key: &[u8], value: &[u8], cas: u32) -> Result<(), Status> {
        if let Some((_, current)) = self.entries.get(key)
            && cas != 0
            && cas != *current
        {
            return Err(Status::CasMismatch);
        }
        let token = self.next_cas;
        // INVARIANT: a cas token is never 0 (0 means "no cas" in the ABI).
        self.next_cas = self.next_cas.checked_add(1).unwrap_or(1);
        self.entries.insert(key.to_vec(), (value.to_vec(), token));
        Ok(())
    }
}

/// Something that runs right after a read of a shared-data key, before the guest gets the value
/// back: another worker (another VM over the same store) acting between this worker's read and
/// its write, as Envoy's threads can.
pub type AfterGet = Box<dyn FnOnce() + Send>;

/// The shared data of one `vm_id` across VMs: Envoy gives every worker thread's VM of one
/// `vm_id` the same store. Two [`crate::Filter`]s started with the same handle
/// ([`crate::HostOptions::shared_data`]) share it, as two workers do.
#[derive(Clone, Default)]
pub struct SharedDataHandle {
    inner: Arc<Mutex<SharedInner>>,
}

#[derive(Default)]
struct SharedInner {
    data: SharedData,
    /// Runs after the next read of a key with this prefix (once).
    after_get: Vec<(Vec<u8>, AfterGet)>,
}

impl std::fmt::Debug for SharedDataHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedDataHandle").finish_non_exhaustive()
    }
}

impl SharedDataHandle {
    fn lock(&self) -> std::sync::MutexGuard<'_, SharedInner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The value and its cas token.
    pub fn get(&self, key: &[u8]) -> Option<(Vec<u8>, u32)> {
        self.lock().data.get(key).map(|(v, cas)| (v.to_vec(), cas))
    }

    /// Store `value` (see [`SharedData::set`]).
    pub fn set(&self, key: &[u8], value: &[u8], cas: u32) -> Result<(), Status> {
        self.lock().data.set(key, value, cas)
    }

    /// Runs `action` after the next read of a key starting with `prefix`, between the guest's
    /// read and whatever it writes next: a compare-and-swap race, injected.
    pub fn after_next_get(&self, prefix: &str, action: AfterGet) {
        self.lock()
            .after_get
            .push((prefix.as_bytes().to_vec(), action));
    }

    /// The action waiting on a read of `key`, taken out (the lock is released before it runs,
    /// so it may use the store, or run another VM over it).
    pub(crate) fn take_after_get(&self, key: &[u8]) -> Option<AfterGet> {
        let mut inner = self.lock();
        let at = inner
            .after_get
            .iter()
            .position(|(p, _)| key.starts_with(p))?;
        Some(inner.after_get.remove(at).1)
    }

    /// Every key with its value's length, sorted by key.
    pub fn sizes(&self) -> Vec<(String, usize)> {
        let inner = self.lock();
        let mut out: Vec<(String, usize)> = inner
            .data
            .entries
            .iter()
            .map(|(k, (v, _))| (String::from_utf8_lossy(k).into_owned(), v.len()))
            .collect();
        out.sort();
        out
    }
}

#[derive(Debug, Clone)]
struct Queue {
    vm_id: Vec<u8>,
    name: Vec<u8>,
    owner_context: u32,
    items: VecDeque<Vec<u8>>,
}

/// `proxy_register_shared_queue` and friends. Queue ids start at 1.
#[derive(Debug, Clone, Default)]
pub struct SharedQueues {
    queues: Vec<Queue>,
    /// `(owner context, queue id)` to notify with `proxy_on_queue_ready` after the current call.
    pub(crate) ready: Vec<(u32, u32)>,
}

impl SharedQueues {
    fn find(&self, vm_id: &[u8], name: &[u8]) -> Option<u32> {
        self.queues
            .iter()
            .position(|q| q.vm_id == vm_id && q.name == name)
            .and_then(|i| u32::try_from(i + 1).ok())
    }

    fn queue_mut(&mut self, id: u32) -> Option<&mut Queue> {
        let index = usize::try_from(id).ok()?.checked_sub(1)?;
        self.queues.get_mut(index)
    }

    /// Register (or re-register, taking ownership) a queue of this VM.
    pub fn register(
        &mut self,
        vm_id: &[u8],
        name: &[u8],
        owner_context: u32,
    ) -> Result<u32, Status> {
        if let Some(id) = self.find(vm_id, name) {
            if let Some(queue) = self.queue_mut(id) {
                queue.owner_context = owner_context;
            }
            return Ok(id);
        }
        self.queues.push(Queue {
            vm_id: vm_id.to_vec(),
            name: name.to_vec(),
            owner_context,
            items: VecDeque::new(),
        });
        u32::try_from(self.queues.len()).map_err(|_| Status::InternalFailure)
    }

    pub fn resolve(&self, vm_id: &[u8], name: &[u8]) -> Option<u32> {
        self.find(vm_id, name)
    }

    pub fn enqueue(&mut self, id: u32, value: Vec<u8>) -> Result<(), Status> {
        let queue = self.queue_mut(id).ok_or(Status::NotFound)?;
        queue.items.push_back(value);
        let owner = queue.owner_context;
        self.ready.push((owner, id));
        Ok(())
    }

    pub fn dequeue(&mut self, id: u32) -> Result<Vec<u8>, Status> {
        let queue = self.queue_mut(id).ok_or(Status::NotFound)?;
        queue.items.pop_front().ok_or(Status::Empty)
    }
}
