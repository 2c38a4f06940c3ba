//! OCI hooks: programs run at points of a container's life with its state JSON on stdin
//! (config.md "POSIX-platform Hooks"). The runtime runs prestart, createRuntime, poststart
//! and poststop in its own namespaces; the container's process runs createContainer (before
//! pivot_root) and startContainer (just before exec) itself.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One hook of the spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    pub path: PathBuf,
    /// argv, `args[0]` included (the path when empty).
    pub args: Vec<String>,
    /// The hook's whole environment (empty: none).
    pub env: Vec<String>,
    pub timeout: Option<Duration>,
}

/// Runs `hooks` in order with `state` on stdin; the first that fails (non-zero exit, a
/// signal, its timeout, or not found) ends the run with a message naming `stage` and it.
pub fn run_hooks(stage: &str, hooks: &[Hook], state: &str) -> Result<(), String> {
    for hook in hooks {
        run_one(hook, state).map_err(|e| format!("{stage} hook {}: {e}", hook.path.display()))?;
    }
    Ok(())
}

fn run_one(hook: &Hook, state: &str) -> Result<(), String> {
    let mut cmd = Command::new(&hook.path);
    if let Some((arg0, rest)) = hook.args.split_first() {
        std::os::unix::process::CommandExt::arg0(&mut cmd, arg0);
        cmd.args(rest);
    }
    cmd.env_clear();
    for e in &hook.env {
        if let Some((k, v)) = e.split_once('=') {
            cmd.env(k, v);
        }
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is no failure.
        let _ = stdin.write_all(state.as_bytes());
    }
    let deadline = hook.timeout.map(|t| Instant::now() + t);
    let status = loop {
        match child.try_wait().map_err(|e| e.to_string())? {
            Some(status) => break status,
            None if deadline.is_some_and(|d| Instant::now() >= d) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "timed out after {}s",
                    hook.timeout.unwrap_or_default().as_secs()
                ));
            }
            None => std::thread::sleep(Duration::from_millis(5)),
        }
    };
    if status.success() {
        return Ok(());
    }
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
    }
    Err(format!("{status}: {}", stderr.trim()))
}
