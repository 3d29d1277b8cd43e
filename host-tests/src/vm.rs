//! One wasmtime instance of the module: compiling, linking, finding the proxy-wasm exports,
//! and calling them so that a trap comes back as [`HostError::Trap`].

use std::path::Path;

use wasmtime::{
    Config, Engine, Extern, Instance, Linker, Module, Store, TypedFunc, WasmParams, WasmResults,
};

use crate::HostOptions;
use crate::abi::LogLevel;
use crate::error::{HostError, Trap};
use crate::hostcalls;
use crate::state::HostState;

/// A compiled module, reusable for many [`crate::Filter`]s (compiling is the slow part).
#[derive(Clone)]
pub struct WasmModule {
    engine: Engine,
    module: Module,
}

impl WasmModule {
    pub fn from_file(path: impl AsRef<Path>) -> Result<WasmModule, HostError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path)
            .map_err(|e| HostError::Load(format!("cannot read `{}`: {e}", path.display())))?;
        WasmModule::from_bytes(&bytes)
            .map_err(|e| HostError::Load(format!("`{}`: {e}", path.display())))
    }

    /// Compile a binary module (or WAT text when wasmtime's `wat` feature is on).
    pub fn from_bytes(bytes: &[u8]) -> Result<WasmModule, HostError> {
        let engine = Engine::new(&Config::new()).map_err(|e| HostError::Load(format!("{e:#}")))?;
        let module = Module::new(&engine, bytes).map_err(|e| HostError::Load(format!("{e:#}")))?;
        Ok(WasmModule { engine, module })
    }

    /// Every import as `(module, name)`.
    pub fn imports(&self) -> Vec<(String, String)> {
        self.module
            .imports()
            .map(|i| (i.module().to_string(), i.name().to_string()))
            .collect()
    }

    pub fn exports(&self) -> Vec<String> {
        self.module
            .exports()
            .map(|e| e.name().to_string())
            .collect()
    }
}

type Callback<P, R> = Option<TypedFunc<P, R>>;

/// The proxy-wasm callbacks the module exports (a missing one behaves as Envoy treats it:
/// Continue / nothing).
#[derive(Clone)]
pub(crate) struct Callbacks {
    pub context_create: Callback<(i32, i32), ()>,
    pub vm_start: Callback<(i32, i32), i32>,
    pub configure: Callback<(i32, i32), i32>,
    pub request_headers: Callback<(i32, i32, i32), i32>,
    pub request_body: Callback<(i32, i32, i32), i32>,
    pub request_trailers: Callback<(i32, i32), i32>,
    pub response_headers: Callback<(i32, i32, i32), i32>,
    pub response_body: Callback<(i32, i32, i32), i32>,
    pub response_trailers: Callback<(i32, i32), i32>,
    pub log: Callback<i32, ()>,
    pub done: Callback<i32, i32>,
    pub delete: Callback<i32, ()>,
    pub tick: Callback<i32, ()>,
    pub queue_ready: Callback<(i32, i32), ()>,
}

pub(crate) struct Vm {
    pub store: Store<HostState>,
    pub callbacks: Callbacks,
    pub stubbed_imports: Vec<String>,
    instance: Instance,
}

fn typed<P: WasmParams, R: WasmResults>(
    store: &mut Store<HostState>,
    instance: &Instance,
    name: &str,
) -> Result<Callback<P, R>, HostError> {
    let Some(func) = instance.get_func(&mut *store, name) else {
        return Ok(None);
    };
    func.typed::<P, R>(&*store).map(Some).map_err(|e| {
        HostError::Abi(format!(
            "export `{name}` has type `{}`, not the ABI 0.2.1 signature: {e}",
            func.ty(&*store)
        ))
    })
}

impl Vm {
    pub fn instantiate(module: &WasmModule, options: &HostOptions) -> Result<Vm, HostError> {
        let load = |e: wasmtime::Error| HostError::Load(format!("{e:#}"));
        let mut store = Store::new(&module.engine, HostState::new(options));
        store.limiter(|state| &mut state.limits);
        store.call_hook(|mut ctx, hook| {
            let crossings = &mut ctx.data_mut().crossings;
            match hook {
                wasmtime::CallHook::CallingHost => crossings.hostcalls += 1,
                wasmtime::CallHook::CallingWasm => crossings.guest_entries += 1,
                _ => {}
            }
            Ok(())
        });
        let mut linker = Linker::new(&module.engine);
        hostcalls::register(&mut linker).map_err(load)?;
        let stubbed_imports =
            hostcalls::stub_missing_imports(&mut linker, &mut store, &module.module)
                .map_err(load)?;
        let instance = linker
            .instantiate(&mut store, &module.module)
            .map_err(load)?;

        let abi = ["proxy_abi_version_0_2_1", "proxy_abi_version_0_2_0"]
            .iter()
            .any(|name| instance.get_func(&mut store, name).is_some());
        if !abi {
            return Err(HostError::Abi(
                "the module exports no `proxy_abi_version_0_2_1` (or 0_2_0)".into(),
            ));
        }
        match instance.get_export(&mut store, "memory") {
            Some(Extern::Memory(memory)) => store.data_mut().guest.memory = Some(memory),
            _ => return Err(HostError::Abi("the module exports no `memory`".into())),
        }
        let allocate = match typed::<i32, i32>(&mut store, &instance, "proxy_on_memory_allocate")? {
            Some(f) => Some(f),
            None => typed::<i32, i32>(&mut store, &instance, "malloc")?,
        };
        if allocate.is_none() {
            return Err(HostError::Abi(
                "the module exports neither `proxy_on_memory_allocate` nor `malloc`".into(),
            ));
        }
        store.data_mut().guest.allocate = allocate;

        let s = &mut store;
        let i = &instance;
        let callbacks = Callbacks {
            context_create: typed(s, i, "proxy_on_context_create")?,
            vm_start: typed(s, i, "proxy_on_vm_start")?,
            configure: typed(s, i, "proxy_on_configure")?,
            request_headers: typed(s, i, "proxy_on_request_headers")?,
            request_body: typed(s, i, "proxy_on_request_body")?,
            request_trailers: typed(s, i, "proxy_on_request_trailers")?,
            response_headers: typed(s, i, "proxy_on_response_headers")?,
            response_body: typed(s, i, "proxy_on_response_body")?,
            response_trailers: typed(s, i, "proxy_on_response_trailers")?,
            log: typed(s, i, "proxy_on_log")?,
            done: typed(s, i, "proxy_on_done")?,
            delete: typed(s, i, "proxy_on_delete")?,
            tick: typed(s, i, "proxy_on_tick")?,
            queue_ready: typed(s, i, "proxy_on_queue_ready")?,
        };
        let mut vm = Vm {
            store,
            callbacks,
            stubbed_imports,
            instance,
        };
        vm.run_start_function()?;
        Ok(vm)
    }

    /// `_initialize` (a reactor, as the Rust SDK builds) or else `_start`.
    fn run_start_function(&mut self) -> Result<(), HostError> {
        for name in ["_initialize", "_start"] {
            if let Some(start) = typed::<(), ()>(&mut self.store, &self.instance, name)? {
                return self.call(name, 0, &start, ());
            }
        }
        Ok(())
    }

    /// Call a guest export as the callback `callback` of `context`. A trap becomes
    /// [`HostError::Trap`] with the guest's panic message when the SDK logged one.
    pub fn call<P: WasmParams, R: WasmResults>(
        &mut self,
        callback: &str,
        context: u32,
        func: &TypedFunc<P, R>,
        args: P,
    ) -> Result<R, HostError> {
        let logs_before = self.store.data().logs.len();
        let stderr_before = self.store.data().wasi.stderr.len();
        self.store.data_mut().current_context = context;
        match func.call(&mut self.store, args) {
            Ok(result) => Ok(result),
            Err(error) => {
                let state = self.store.data();
                let panic_message = state
                    .logs
                    .get(logs_before..)
                    .unwrap_or_default()
                    .iter()
                    .rev()
                    .find(|l| l.level == LogLevel::Critical)
                    .map(|l| l.message.clone());
                let stderr = state
                    .wasi
                    .stderr
                    .get(stderr_before..)
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .unwrap_or_default();
                Err(HostError::Trap(Box::new(Trap {
                    callback: callback.to_string(),
                    context_id: context,
                    message: format!("{error:?}"),
                    panic_message,
                    stderr,
                })))
            }
        }
    }

    /// Current size of the guest's linear memory in bytes.
    pub fn memory_bytes(&self) -> usize {
        self.store
            .data()
            .guest
            .memory
            .map_or(0, |m| m.data_size(&self.store))
    }
}
