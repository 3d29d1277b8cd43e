//! The engine's WASI component (`filter/component`, the WIT world
//! `wa-egress-guard:policy@0.1.0`) hosted in wasmtime: what `wa-guard` runs, so the command
//! line decides with exactly the engine that ships.
//!
//! The component reads no file, clock or environment. Its only host call is the seed of Rust's
//! hash maps (`wasi:random/insecure-seed`); the other WASI imports that Rust's standard library
//! links (stdio for a panic message, exit) are defined as traps, so the component gets no
//! ambient authority, and a trap comes back as an error, never as a decision.

use std::fmt;
use std::path::Path;

mod cache;

use wasmtime::component::{Component, Linker, ResourceAny};
use wasmtime::{Config, Engine, Store};

mod bindings {
    wasmtime::component::bindgen!({
        world: "guard",
        path: "../filter/component/wit",
        additional_derives: [PartialEq],
    });
}

pub use bindings::exports::wa_egress_guard::policy::cases::CaseResult;
pub use bindings::exports::wa_egress_guard::policy::engine::{
    Action, Attribute, Decision, Evaluation, Identity, LocalReply, Outcome, Problem, RequestHead,
    StrippedRecord, UploadCounts, UploadOutcome,
};

/// Where `cargo build -p wa-egress-guard-component --target wasm32-wasip2 --release` (`make
/// component`) writes the component, relative to the workspace.
pub const DEFAULT_COMPONENT_PATH: &str =
    "target/wasm32-wasip2/release/wa_egress_guard_component.wasm";

/// The WIT package the component implements.
pub const WIT_PACKAGE: &str = "wa-egress-guard:policy@0.1.0";

/// The component could not be loaded, or a call into it failed (a trap).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentError(pub String);

impl fmt::Display for ComponentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ComponentError {}

fn error(context: &str) -> impl Fn(wasmtime::Error) -> ComponentError + '_ {
    move |e| ComponentError(format!("{context}: {e:?}"))
}

/// One instance of the component with its store.
pub struct GuardComponent {
    store: Store<()>,
    guard: bindings::Guard,
}

/// A compiled policy inside the component (the `policy` resource).
#[derive(Debug, Clone, Copy)]
pub struct PolicyHandle(ResourceAny);

/// A streamed upload inside the component (the `upload` resource).
#[derive(Debug, Clone, Copy)]
pub struct UploadHandle(ResourceAny);

impl GuardComponent {
    /// Compiles and instantiates the component in a file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ComponentError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path)
            .map_err(|e| ComponentError(format!("cannot read `{}`: {e}", path.display())))?;
        Self::from_bytes(&bytes)
            .map_err(|e| ComponentError(format!("`{}`: {}", path.display(), e.0)))
    }

    /// Compiles and instantiates a component from its bytes. The machine code is kept in the
    /// user's cache (see [`cache`]) and reused while the component and this wasmtime build are
    /// the same, so a command line run does not compile the engine again.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ComponentError> {
        let engine = Engine::new(&Config::new()).map_err(error("engine"))?;
        let component = match cache::load(&engine, bytes) {
            Some(component) => component,
            None => {
                let component =
                    Component::new(&engine, bytes).map_err(error("not a valid component"))?;
                cache::store(&engine, bytes, &component);
                component
            }
        };
        Self::instantiate(&engine, &component)
    }

    /// Compiles and instantiates a component, without the cache.
    pub fn from_bytes_uncached(bytes: &[u8]) -> Result<Self, ComponentError> {
        let engine = Engine::new(&Config::new()).map_err(error("engine"))?;
        let component = Component::new(&engine, bytes).map_err(error("not a valid component"))?;
        Self::instantiate(&engine, &component)
    }

    fn instantiate(engine: &Engine, component: &Component) -> Result<Self, ComponentError> {
        let mut linker: Linker<()> = Linker::new(engine);
        for version in ["0.2.0", "0.2.6"] {
            linker
                .instance(&format!("wasi:random/insecure-seed@{version}"))
                .and_then(|mut i| {
                    i.func_wrap("insecure-seed", |_, (): ()| {
                        Ok(((hash_seed(), hash_seed()),))
                    })
                })
                .map_err(error("linking"))?;
        }
        linker
            .define_unknown_imports_as_traps(component)
            .map_err(error("linking"))?;
        let mut store = Store::new(engine, ());
        let guard = bindings::Guard::instantiate(&mut store, component, &linker)
            .map_err(error("instantiating"))?;
        Ok(Self { store, guard })
    }

    /// The version of the policy document format the engine reads.
    pub fn policy_schema_version(&mut self) -> Result<u32, ComponentError> {
        self.guard
            .wa_egress_guard_policy_engine()
            .call_policy_schema_version(&mut self.store)
            .map_err(error("policy-schema-version"))
    }

    /// Compiles a policy: the handle, or every problem with its JSON path.
    pub fn compile(
        &mut self,
        json: &str,
    ) -> Result<Result<PolicyHandle, Vec<Problem>>, ComponentError> {
        Ok(self
            .guard
            .wa_egress_guard_policy_engine()
            .policy()
            .call_compile(&mut self.store, json)
            .map_err(error("compile"))?
            .map(PolicyHandle))
    }

    pub fn fingerprint(&mut self, policy: PolicyHandle) -> Result<String, ComponentError> {
        self.guard
            .wa_egress_guard_policy_engine()
            .policy()
            .call_fingerprint(&mut self.store, policy.0)
            .map_err(error("fingerprint"))
    }

    /// Decides a WhatsApp request; `None` when it is not one the policy governs.
    pub fn decide(
        &mut self,
        policy: PolicyHandle,
        head: &RequestHead,
        body: &[u8],
        attributes: &[Attribute],
    ) -> Result<Option<Decision>, ComponentError> {
        self.guard
            .wa_egress_guard_policy_engine()
            .policy()
            .call_decide(&mut self.store, policy.0, head, body, attributes)
            .map_err(error("decide"))
    }

    /// Runs any request through the engine, its body whole.
    pub fn evaluate(
        &mut self,
        policy: PolicyHandle,
        head: &RequestHead,
        body: &[u8],
        attributes: &[Attribute],
        explain: bool,
    ) -> Result<Outcome, ComponentError> {
        self.guard
            .wa_egress_guard_policy_engine()
            .policy()
            .call_evaluate(&mut self.store, policy.0, head, body, attributes, explain)
            .map_err(error("evaluate"))
    }

    /// Starts a streamed training upload; `None` when the request is not one.
    pub fn start_upload(
        &mut self,
        policy: PolicyHandle,
        head: &RequestHead,
        attributes: &[Attribute],
    ) -> Result<Option<UploadHandle>, ComponentError> {
        Ok(self
            .guard
            .wa_egress_guard_policy_engine()
            .policy()
            .call_start_upload(&mut self.store, policy.0, head, attributes)
            .map_err(error("start-upload"))?
            .map(UploadHandle))
    }

    /// Starts a streamed training upload that lists the records it strips ([`Self::stripped`]).
    pub fn start_upload_listing(
        &mut self,
        policy: PolicyHandle,
        head: &RequestHead,
        attributes: &[Attribute],
    ) -> Result<Option<UploadHandle>, ComponentError> {
        Ok(self
            .guard
            .wa_egress_guard_policy_engine()
            .policy()
            .call_start_upload_listing(&mut self.store, policy.0, head, attributes)
            .map_err(error("start-upload-listing"))?
            .map(UploadHandle))
    }

    /// The records an upload started by [`Self::start_upload_listing`] stripped: number,
    /// offset in the decoded body, detector.
    pub fn stripped(
        &mut self,
        upload: UploadHandle,
    ) -> Result<Vec<StrippedRecord>, ComponentError> {
        self.guard
            .wa_egress_guard_policy_engine()
            .upload()
            .call_stripped(&mut self.store, upload.0)
            .map_err(error("stripped"))
    }

    /// Feeds a chunk: the bytes to forward now, or the refusal.
    pub fn feed(
        &mut self,
        upload: UploadHandle,
        chunk: &[u8],
    ) -> Result<Result<Vec<u8>, LocalReply>, ComponentError> {
        self.guard
            .wa_egress_guard_policy_engine()
            .upload()
            .call_feed(&mut self.store, upload.0, chunk)
            .map_err(error("feed"))
    }

    /// Ends the upload: the bytes still to forward, or the refusal.
    pub fn finish(
        &mut self,
        upload: UploadHandle,
    ) -> Result<Result<Vec<u8>, LocalReply>, ComponentError> {
        self.guard
            .wa_egress_guard_policy_engine()
            .upload()
            .call_finish(&mut self.store, upload.0)
            .map_err(error("finish"))
    }

    pub fn upload_outcome(
        &mut self,
        upload: UploadHandle,
    ) -> Result<Option<UploadOutcome>, ComponentError> {
        self.guard
            .wa_egress_guard_policy_engine()
            .upload()
            .call_outcome(&mut self.store, upload.0)
            .map_err(error("outcome"))
    }

    /// Runs one policy case (`{note, request, want}` as JSON) with the component's runner;
    /// `Ok(Err)` when the case cannot be read.
    pub fn run_case(
        &mut self,
        policy: PolicyHandle,
        case: &str,
    ) -> Result<Result<CaseResult, String>, ComponentError> {
        self.guard
            .wa_egress_guard_policy_cases()
            .call_run_case(&mut self.store, policy.0, case)
            .map_err(error("run-case"))
    }

    /// Frees a policy inside the component.
    pub fn drop_policy(&mut self, policy: PolicyHandle) -> Result<(), ComponentError> {
        policy
            .0
            .resource_drop(&mut self.store)
            .map_err(error("dropping a policy"))
    }

    /// Frees an upload inside the component.
    pub fn drop_upload(&mut self, upload: UploadHandle) -> Result<(), ComponentError> {
        upload
            .0
            .resource_drop(&mut self.store)
            .map_err(error("dropping an upload"))
    }
}

/// A seed for the guest's hash maps (HashDoS resistance, not secrecy): the process's own
/// randomly keyed hasher.
fn hash_seed() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now())
}
