//! Shared test fixtures: the built module (compiled once per test binary), policies, and
//! requests the suite uses often.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use host_tests::{Filter, HostOptions, WasmModule};

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host-tests lives in the workspace")
        .to_path_buf()
}

/// `$WASM` (the Makefile exports it) or the default release path.
pub fn wasm_path() -> PathBuf {
    std::env::var_os("WASM")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(host_tests::DEFAULT_WASM_PATH))
}

/// The real filter module, compiled once for the whole test binary.
pub fn module() -> &'static WasmModule {
    static MODULE: OnceLock<WasmModule> = OnceLock::new();
    MODULE.get_or_init(|| {
        let path = wasm_path();
        assert!(
            path.exists(),
            "`{}` is missing: build it first with \
             `cargo build -p wa-egress-guard --target wasm32-wasip1 --release` (or `make wasm`)",
            path.display()
        );
        WasmModule::from_file(&path).unwrap_or_else(|e| panic!("{e}"))
    })
}

pub fn policy_bytes(relative: &str) -> Vec<u8> {
    let path = workspace_root().join("policies").join(relative);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read `{}`: {e}", path.display()))
}

/// The demo policy: support bots, an AI lab, a pilot in audit mode, one support number.
pub fn demo_filter() -> Filter {
    Filter::start(module(), HostOptions::default())
        .unwrap()
        .configure(policy_bytes("examples/demo.json"))
        .unwrap()
}

pub fn default_filter() -> Filter {
    Filter::start(module(), HostOptions::default())
        .unwrap()
        .configure(policy_bytes("default.json"))
        .unwrap()
}

pub const SUPPORT_NUMBER: &str = "106540352242922";
pub const SUPPORT_BOT: &str = "spiffe://cluster.local/ns/support/sa/helpdesk";
pub const LAB_BOT: &str = "spiffe://cluster.local/ns/ai-lab/sa/chatbot";

pub fn text_message(text: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "15550001111",
        "type": "text",
        "text": {"body": text}
    }))
    .unwrap()
}

/// A compiled WAT module for host-mechanics tests (never for behaviour of our filter).
pub fn wat_module(text: &str) -> WasmModule {
    WasmModule::from_bytes(text.as_bytes()).unwrap_or_else(|e| panic!("{e}"))
}
