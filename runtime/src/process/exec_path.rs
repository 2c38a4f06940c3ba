//! Finding the command in the container's PATH, with Docker's exit codes and wording.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Docker's exit code when the command cannot be found.
pub const EXIT_NOT_FOUND: i32 = 127;
/// Docker's exit code when the command exists but cannot be executed.
pub const EXIT_CANNOT_EXECUTE: i32 = 126;

/// Resolves `cmd` like execvp, in the current (container) root. Errors carry Docker's exit
/// code and message.
pub(super) fn find(cmd: &str, path_var: &str) -> Result<PathBuf, (i32, String)> {
    if cmd.contains('/') {
        let path = Path::new(cmd);
        return check(path).map(|_| path.to_path_buf());
    }
    let mut denied = None;
    for dir in path_var.split(':').filter(|d| !d.is_empty()) {
        let candidate = Path::new(dir).join(cmd);
        match check(&candidate) {
            Ok(()) => return Ok(candidate),
            Err(e) if e.0 == EXIT_CANNOT_EXECUTE => denied = Some(e),
            Err(_) => {}
        }
    }
    Err(denied.unwrap_or_else(|| {
        (
            EXIT_NOT_FOUND,
            format!("exec: \"{cmd}\": executable file not found in $PATH"),
        )
    }))
}

fn check(path: &Path) -> Result<(), (i32, String)> {
    let shown = path.display();
    match std::fs::metadata(path) {
        Err(_) => Err((
            EXIT_NOT_FOUND,
            format!("exec: \"{shown}\": stat {shown}: no such file or directory"),
        )),
        Ok(m) if m.is_dir() => Err((
            EXIT_CANNOT_EXECUTE,
            format!("exec: \"{shown}\": is a directory"),
        )),
        Ok(m) if m.permissions().mode() & 0o111 == 0 => Err((
            EXIT_CANNOT_EXECUTE,
            format!("exec: \"{shown}\": permission denied"),
        )),
        Ok(_) => Ok(()),
    }
}

/// Exit code for a failed execve: missing interpreter or file is "not found", anything else
/// "cannot execute".
pub(super) fn exit_code_for(errno: nix::Error) -> i32 {
    if errno == nix::Error::ENOENT {
        EXIT_NOT_FOUND
    } else {
        EXIT_CANNOT_EXECUTE
    }
}
