//! Errors of the host: loading, the VM refusing to start or to take a configuration, and
//! guest traps. A trap is never swallowed: it names the callback it happened in.

use std::fmt;

use crate::state::LogRecord;

/// A trap in a guest callback.
#[derive(Debug, Clone)]
pub struct Trap {
    /// The export that trapped, e.g. `proxy_on_request_body`.
    pub callback: String,
    pub context_id: u32,
    /// wasmtime's error chain (trap code, host error, wasm backtrace).
    pub message: String,
    /// The last critical log of the callback: the proxy-wasm SDK's panic hook logs the panic
    /// message there before the `unreachable` trap.
    pub panic_message: Option<String>,
    /// What the guest wrote to stderr during the callback (Rust's default panic hook).
    pub stderr: String,
}

impl fmt::Display for Trap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` (context {}) trapped: {}",
            self.callback, self.context_id, self.message
        )?;
        if let Some(panic) = &self.panic_message {
            write!(f, "; guest panic: {panic}")?;
        }
        if !self.stderr.is_empty() {
            write!(f, "; guest stderr: {}", self.stderr.trim_end())?;
        }
        Ok(())
    }
}

#[derive(Debug)]
pub enum HostError {
    /// The module could not be read, compiled or instantiated.
    Load(String),
    /// The module does not speak proxy-wasm ABI 0.2.x the way this host expects.
    Abi(String),
    /// `proxy_on_vm_start` returned false.
    VmStartRejected { logs: Vec<LogRecord> },
    /// `proxy_on_configure` returned false: the plugin configuration was rejected.
    ConfigureRejected { logs: Vec<LogRecord> },
    /// A guest callback trapped.
    Trap(Box<Trap>),
    /// An earlier trap failed the VM; Envoy would answer 503 from now on.
    VmFailed(Box<Trap>),
}

fn write_logs(f: &mut fmt::Formatter<'_>, logs: &[LogRecord]) -> fmt::Result {
    for log in logs.iter().rev().take(5).rev() {
        write!(f, "\n  [{}] {}", log.level.name(), log.message)?;
    }
    Ok(())
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostError::Load(message) => write!(f, "cannot load the module: {message}"),
            HostError::Abi(message) => write!(f, "unsupported module: {message}"),
            HostError::VmStartRejected { logs } => {
                write!(f, "`proxy_on_vm_start` returned false")?;
                write_logs(f, logs)
            }
            HostError::ConfigureRejected { logs } => {
                write!(
                    f,
                    "plugin configuration rejected (`proxy_on_configure` returned false)"
                )?;
                write_logs(f, logs)
            }
            HostError::Trap(trap) => write!(f, "{trap}"),
            HostError::VmFailed(trap) => write!(f, "the VM failed earlier: {trap}"),
        }
    }
}

impl std::error::Error for HostError {}

impl HostError {
    /// The trap, for a `Trap` or `VmFailed` error.
    pub fn trap(&self) -> Option<&Trap> {
        match self {
            HostError::Trap(trap) | HostError::VmFailed(trap) => Some(trap),
            _ => None,
        }
    }
}
