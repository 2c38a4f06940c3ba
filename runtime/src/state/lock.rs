//! Exclusive advisory locks on a lock file, released on drop.

use std::fs::File;
use std::path::Path;

use nix::fcntl::{Flock, FlockArg};

use super::StateError;

/// Holds an exclusive `flock` on a file until dropped.
pub struct StateLock {
    _lock: Flock<File>,
}

impl StateLock {
    /// Blocks until the lock at `path` (created if missing) is held exclusively.
    pub fn exclusive(path: &Path) -> Result<Self, StateError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|cause| StateError::Io {
                op: "create directory",
                path: dir.to_path_buf(),
                cause,
            })?;
        }
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|cause| StateError::Io {
                op: "open lock file",
                path: path.to_path_buf(),
                cause,
            })?;
        let lock =
            Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, errno)| StateError::Io {
                op: "lock",
                path: path.to_path_buf(),
                cause: errno.into(),
            })?;
        Ok(StateLock { _lock: lock })
    }
}
