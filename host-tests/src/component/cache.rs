//! The compiled engine component, kept between runs of `wa-guard`.
//!
//! Compiling the component with Cranelift takes about two seconds, longer than most commands
//! take to run. The machine code wasmtime produced is written to the user's cache and loaded on
//! the next run when the component's bytes and this wasmtime build (its version and compiler
//! settings) are the same: the file is named by a SHA-256 of both. Anything else (no cache
//! directory, a file from another build, a write that fails) falls back to compiling, and a
//! failed write is never an error.
//!
//! Where: `$WA_GUARD_CACHE_DIR`, else `$XDG_CACHE_HOME/wa-guard`, else `$HOME/.cache/wa-guard`.
//! `WA_GUARD_CACHE_DIR=off` turns the cache off.
//!
//! Loading machine code skips wasmtime's validation, so the directory must be as trusted as
//! the `wa-guard` binary itself: it is created private to the user (mode 0700), and a file only
//! ever appears in it whole (written beside, then renamed).

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// The compiled component for these bytes, when the cache has it.
pub(super) fn load(engine: &Engine, bytes: &[u8]) -> Option<Component> {
    let path = entry(engine, bytes)?;
    if !path.is_file() {
        return None;
    }
    // SAFETY: the file was written by `store` below from `Component::serialize` of the same
    // component bytes and wasmtime build (the name is a hash of both), into a directory private
    // to the user, and only by rename, so it is whole. wasmtime still checks that the file is
    // its own format and that the build and settings match, and returns an error otherwise.
    #[allow(unsafe_code)]
    let loaded = unsafe { Component::deserialize_file(engine, &path) };
    loaded.ok()
}

/// Keeps the compiled component for the next run; a failure is ignored (the next run compiles).
pub(super) fn store(engine: &Engine, bytes: &[u8], component: &Component) {
    let Some(path) = entry(engine, bytes) else {
        return;
    };
    let Ok(code) = component.serialize() else {
        return;
    };
    let Some(dir) = path.parent() else {
        return;
    };
    if create_private_dir(dir).is_err() {
        return;
    }
    let partial = path.with_extension(format!("partial-{}", std::process::id()));
    if std::fs::write(&partial, code).is_ok() && std::fs::rename(&partial, &path).is_ok() {
        return;
    }
    let _ = std::fs::remove_file(&partial);
}

/// The cache file for these component bytes under this engine, if there is a cache directory.
fn entry(engine: &Engine, bytes: &[u8]) -> Option<PathBuf> {
    let dir = directory()?;
    let mut build = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut build);
    let mut key = Sha256::new();
    key.update(bytes);
    key.update(build.finish().to_le_bytes());
    key.update(env!("CARGO_PKG_VERSION").as_bytes());
    let name: String = key
        .finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect();
    Some(dir.join(format!("{name}.cwasm")))
}

fn directory() -> Option<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = var("WA_GUARD_CACHE_DIR") {
        return (dir != "off").then(|| PathBuf::from(dir));
    }
    if let Some(xdg) = var("XDG_CACHE_HOME") {
        return Some(Path::new(&xdg).join("wa-guard"));
    }
    var("HOME").map(|home| Path::new(&home).join(".cache").join("wa-guard"))
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}
