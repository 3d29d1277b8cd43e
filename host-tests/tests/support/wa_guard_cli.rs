//! What the `wa-guard` command tests share: the workspace, the engine component and a run of
//! the binary this package builds (included by `wa_guard_replay.rs` and `wa_guard_strip.rs`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// `$WA_GUARD_COMPONENT` (the Makefile exports it) or the default release path.
pub fn component() -> PathBuf {
    let path = std::env::var_os("WA_GUARD_COMPONENT").map_or_else(
        || workspace_root().join(host_tests::component::DEFAULT_COMPONENT_PATH),
        PathBuf::from,
    );
    assert!(
        path.exists(),
        "`{}` is missing: build it first with `make component`",
        path.display()
    );
    path
}

/// `wa-guard --component COMPONENT ARGS...`, run from the workspace.
pub fn wa_guard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wa-guard"))
        .current_dir(workspace_root())
        .arg("--component")
        .arg(component())
        .args(args)
        .output()
        .unwrap()
}
