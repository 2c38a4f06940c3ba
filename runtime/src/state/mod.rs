//! State is files (ARCHITECTURE.md point 2): every write is atomic (temp file + rename) and
//! every read-modify-write happens under an exclusive file lock.

mod atomic;
mod cause;
mod lock;

pub use atomic::{
    read_json, replace_atomic, replace_json_atomic, replace_json_volatile, write_atomic,
    write_json_atomic,
};
pub use cause::describe;
pub use lock::StateLock;

/// Errors reading or writing state files. The cause is part of the message and not also a
/// `source()`, so `{:#}` chains do not repeat it.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// A file operation failed, e.g. "write /var/lib/ebrun/containers/ID/state.json: no space
    /// left on device".
    #[error("{op} {}: {}", path.display(), describe(cause))]
    Io {
        op: &'static str,
        path: std::path::PathBuf,
        cause: std::io::Error,
    },
    /// A state file is not the JSON it should be (truncated, garbage, empty).
    #[error("state file {} is corrupt: {cause}", path.display())]
    Corrupt {
        path: std::path::PathBuf,
        cause: serde_json::Error,
    },
}

impl StateError {
    /// Whether the file is simply not there.
    pub fn is_not_found(&self) -> bool {
        matches!(self, StateError::Io { cause, .. } if cause.kind() == std::io::ErrorKind::NotFound)
    }
}

/// Logs, once per file and process, that a store skips an unreadable record (`what` names
/// the kind: "network", "volume", ...). Listings run several times per command; the user
/// needs to hear of each broken file once.
pub fn warn_skipped(what: &str, error: &StateError) {
    warn_once(format!("skipping a {what}: {error}"));
}

/// Logs `message` as a warning unless this process already did.
pub fn warn_once(message: String) {
    use std::collections::HashSet;
    use std::sync::Mutex;
    static WARNED: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    let mut warned = WARNED.lock().unwrap_or_else(|e| e.into_inner());
    if warned
        .get_or_insert_with(HashSet::new)
        .insert(message.clone())
    {
        tracing::warn!("{message}");
    }
}
