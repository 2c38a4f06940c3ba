//! `exec`: a new process in a running container, described by a `process` object (runc's
//! `--process FILE`, or built from the command line), with the container's seccomp filter.

use std::os::fd::AsRawFd;
use std::path::PathBuf;

use super::state::{OciStatus, OciStore};
use super::{load_spec, OciError, CONFIG_FILE};
use crate::process::{self, ExecTarget};

/// `exec`'s options.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
}

/// Runs `process` in container `id`. Detached: returns 0 once it runs (its pid in the pid
/// file); otherwise waits and returns its exit code.
pub fn exec(
    store: &OciStore,
    id: &str,
    process: &oci_spec::runtime::Process,
    opts: &ExecOptions,
) -> Result<i32, OciError> {
    let state = store.load(id)?;
    if state.status() != OciStatus::Running && state.status() != OciStatus::Created {
        return Err(OciError::State {
            id: id.to_string(),
            status: state.status().as_str(),
            wanted: "running",
        });
    }
    let spec = load_spec(&state.bundle.join(CONFIG_FILE))?;
    let seccomp = spec.linux().as_ref().and_then(|l| l.seccomp().clone());
    let spec_process = super::process_of(process, seccomp.as_ref())?;
    if spec_process.terminal && opts.console_socket.is_none() {
        return Err(OciError::invalid(
            "process.terminal",
            "a terminal needs --console-socket to hand its master to",
        ));
    }
    let target = ExecTarget::new(state.pid, state.cgroups.iter().flat_map(|c| c.dirs()));
    let (pid, master) = process::spawn_exec(&target, &spec_process)
        .map_err(|e| OciError::Setup(e.to_string()))?
        .map_err(|f| OciError::Setup(f.message))?;
    if let (Some(socket), Some(master)) = (&opts.console_socket, &master) {
        let stream =
            std::os::unix::net::UnixStream::connect(socket).map_err(|source| OciError::Io {
                op: "connect console socket",
                path: socket.clone(),
                source,
            })?;
        process::send_fd(stream.as_raw_fd(), master.as_raw_fd())
            .map_err(|e| OciError::Setup(format!("send terminal: {e}")))?;
    }
    if let Some(file) = &opts.pid_file {
        crate::state::replace_atomic(file, pid.as_raw().to_string().as_bytes())
            .map_err(|e| OciError::Setup(format!("write pid file {}: {e}", file.display())))?;
    }
    if opts.detach {
        return Ok(0);
    }
    let status = process::supervise(
        pid,
        if opts.console_socket.is_some() {
            None
        } else {
            master
        },
    )
    .map_err(|e| OciError::Setup(e.to_string()))?;
    Ok(status.code())
}
