//! State is files (ARCHITECTURE.md point 2): every write is atomic (temp file + rename) and
//! every read-modify-write happens under an exclusive file lock.

mod atomic;
mod lock;

pub use atomic::{read_json, replace_atomic, replace_json_atomic, write_atomic, write_json_atomic};
pub use lock::StateLock;

/// Errors reading or writing state files.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("state file {path} is corrupt: {source}")]
    Corrupt {
        path: std::path::PathBuf,
        #[source]
        source: serde_json::Error,
    },
}
