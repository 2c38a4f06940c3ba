//! The runtime spec's operations (runtime.md) on a bundle: create (everything up to the
//! user's program, which waits on a FIFO), start (opens it), kill, delete, pause, resume.
//! Every step of create is journaled: a failure leaves no cgroup, meter, state or process.

use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use nix::sys::signal::Signal;
use nix::unistd::Pid;

use super::state::{valid_id, OciState, OciStatus, OciStore, EXEC_FIFO};
use super::{load_spec, OciError, RootSource, CONFIG_FILE};
use crate::cgroups::{ContainerCgroups, Layout};
use crate::process::{self, StdioMode};
use crate::undo::HostChange;
use crate::Paths;

/// The journal of a create in progress, in the container's state directory.
const CREATE_JOURNAL: &str = "create.journal";

/// `create`'s options (runc's flags).
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub no_pivot: bool,
    /// `--preserve-fds N`: descriptors 3..3+N reach the container's process.
    pub preserve_fds: u32,
    /// The ebrun instance whose pinned eBPF meters count the container.
    pub meters: Option<Paths>,
}

fn io(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> OciError {
    let path = path.to_path_buf();
    move |source| OciError::Io { op, path, source }
}

/// `linux.cgroupsPath` as (parent, name) under every hierarchy: absolute `/a/b/id`,
/// relative `a/id`, `slice:prefix:name` with `--systemd-cgroup`, or `/<id>` without one
/// (as runc).
pub fn cgroup_location(spec_path: Option<&Path>, id: &str, systemd: bool) -> (String, String) {
    let text = spec_path
        .map(|p| p.to_string_lossy().to_string())
        .unwrap_or_default();
    if systemd {
        if let [slice, prefix, name] = text.splitn(3, ':').collect::<Vec<_>>()[..] {
            let slice = if slice.is_empty() {
                "system.slice"
            } else {
                slice
            };
            return (systemd_slice_path(slice), format!("{prefix}-{name}.scope"));
        }
    }
    let trimmed = text.trim_matches('/');
    match trimmed.rsplit_once('/') {
        Some((parent, name)) => (parent.to_string(), name.to_string()),
        None if !trimmed.is_empty() => (String::new(), trimmed.to_string()),
        None => (String::new(), id.to_string()),
    }
}

/// The spec's device rules: in the v1 devices controller where there is one; on cgroup v2
/// the eBPF device program enforces the default list (rules beyond it are not honoured
/// there: a warning says so), and a container must not start without it.
fn restrict_devices(
    meters: Option<&Paths>,
    cgroups: &ContainerCgroups,
    resources: &oci_spec::runtime::LinuxResources,
) -> Result<(), OciError> {
    let rules = crate::cgroups::device_rules(resources);
    let setup = |e: &dyn std::fmt::Display| OciError::Setup(format!("device rules: {e}"));
    cgroups.apply_device_rules(&rules).map_err(|e| setup(&e))?;
    if crate::cgroups::allows_all_devices(&rules) || cgroups.has_v1_devices() {
        return Ok(());
    }
    let Some(dir) = &cgroups.unified_dir else {
        return Ok(());
    };
    let paths = meters.ok_or_else(|| setup(&"no ebrun instance to load the device program"))?;
    let pin_dir = paths.bpffs_dir();
    crate::bpf::ensure_loaded(&pin_dir, &paths.root().join("bpf.lock"))
        .and_then(|()| crate::bpf::restrict_devices(&pin_dir, dir))
        .map_err(|e| setup(&e))?;
    let beyond = |r: &String| !crate::cgroups::DEFAULT_DEVICE_RULES.contains(&r.as_str());
    if rules.iter().any(|(allow, r)| *allow && beyond(r)) {
        tracing::warn!("cgroup v2: only the default device allowlist is enforced; the spec's extra allow rules are not");
    }
    Ok(())
}

/// Where systemd puts a slice: `a-b-c.slice` is `a.slice/a-b.slice/a-b-c.slice` (as
/// kubelet's `kubepods-besteffort-pod<uid>.slice` nests under `kubepods.slice`).
fn systemd_slice_path(slice: &str) -> String {
    let Some(stem) = slice.strip_suffix(".slice") else {
        return slice.to_string();
    };
    let parts: Vec<&str> = stem.split('-').collect();
    (1..=parts.len())
        .map(|n| format!("{}.slice", parts[..n].join("-")))
        .collect::<Vec<_>>()
        .join("/")
}

/// Creates container `id` from its bundle: the init is left waiting for `start`.
pub fn create(
    store: &OciStore,
    id: &str,
    opts: &CreateOptions,
    systemd_cgroup: bool,
) -> Result<OciState, OciError> {
    if !valid_id(id) {
        return Err(OciError::InvalidId(id.to_string()));
    }
    let bundle = std::fs::canonicalize(&opts.bundle).map_err(io("open bundle", &opts.bundle))?;
    let spec = load_spec(&bundle.join(CONFIG_FILE))?;
    let mut launch = super::launch(&spec, &bundle, RootSource::Prepared, opts.no_pivot)?;
    launch.process.preserve_fds = opts.preserve_fds;
    let spec_hooks = spec.hooks().clone().unwrap_or_default();
    let prestart = super::hooks(spec_hooks.prestart(), "hooks.prestart")?;
    let create_runtime = super::hooks(spec_hooks.create_runtime(), "hooks.createRuntime")?;
    let annotations = spec.annotations().clone().unwrap_or_default();
    let hook_state = |status: &str, pid: i32| {
        serde_json::json!({
            "ociVersion": spec.version(), "id": id, "status": status, "pid": pid,
            "bundle": bundle, "annotations": annotations,
        })
    };
    launch.hooks.state = hook_state("created", 0);
    if launch.process.terminal && opts.console_socket.is_none() {
        return Err(OciError::invalid(
            "process.terminal",
            "a terminal needs --console-socket to hand its master to",
        ));
    }
    // Making the directory reserves the id (no lock: a lock held here would be inherited by
    // the init, which waits for `start` with it).
    let dir = store.dir(id);
    std::fs::create_dir_all(store.root()).map_err(io("create", store.root()))?;
    match std::fs::create_dir(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(OciError::Exists(id.to_string()))
        }
        Err(e) => return Err(io("create", &dir)(e)),
    }
    // Persisted in the container's directory: if this process is killed half-way, `delete`
    // undoes what it did.
    let mut journal = crate::teardown::persisted_journal(dir.join(CREATE_JOURNAL));
    journal.record(HostChange::Dir { path: dir.clone() });
    crate::faults::point("oci:dir");
    let fifo_path = dir.join(EXEC_FIFO);
    nix::unistd::mkfifo(&fifo_path, nix::sys::stat::Mode::from_bits_truncate(0o622))
        .map_err(|e| io("mkfifo", &fifo_path)(e.into()))?;
    // Writable by the container's root also when it is mapped to another uid (the umask
    // took the bits mkfifo was given).
    std::fs::set_permissions(
        &fifo_path,
        std::os::unix::fs::PermissionsExt::from_mode(0o622),
    )
    .map_err(io("chmod", &fifo_path))?;
    let fifo = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_CLOEXEC)
        .open(&fifo_path)
        .map_err(io("open", &fifo_path))?;

    let linux = spec.linux().clone().unwrap_or_default();
    let (parent, name) = cgroup_location(linux.cgroups_path().as_deref(), id, systemd_cgroup);
    let cgroups = ContainerCgroups::create(Layout::detect(), &parent, &name, &mut journal)
        .map_err(|e| OciError::Setup(e.to_string()))?;
    let resources = linux.resources().clone().unwrap_or_default();
    cgroups
        .apply(&crate::cgroups::from_oci_resources(&resources))
        .map_err(|e| OciError::Setup(e.to_string()))?;
    restrict_devices(opts.meters.as_ref(), &cgroups, &resources)?;
    crate::faults::point("oci:cgroups");
    if let Some(paths) = &opts.meters {
        crate::container::attach_meters(paths, &cgroups, &mut journal);
    }
    let mut spawned = process::spawn(&launch, StdioMode::Inherit, Some(&fifo))
        .map_err(|e| OciError::Setup(e.to_string()))?;
    let pid = spawned.pid.as_raw();
    crate::faults::point("oci:spawned");
    if let Err(e) = cgroups.add_process(pid) {
        spawned.abort();
        return Err(OciError::Setup(e.to_string()));
    }
    // The runtime's hooks, in its own namespaces, once the container's exist.
    let state_text = hook_state("creating", pid).to_string();
    let hooked = process::run_hooks("prestart", &prestart, &state_text)
        .and_then(|()| process::run_hooks("createRuntime", &create_runtime, &state_text));
    if let Err(e) = hooked {
        spawned.abort();
        return Err(OciError::Setup(e));
    }
    spawned
        .start()
        .map_err(|f| OciError::Setup(f.message.clone()))?;
    if let (Some(socket), Some(master)) = (&opts.console_socket, spawned.pty_master.take()) {
        let sent = std::os::unix::net::UnixStream::connect(socket)
            .map_err(io("connect console socket", socket))
            .and_then(|s| {
                process::send_fd(s.as_raw_fd(), master.as_raw_fd())
                    .map_err(|e| io("send terminal", socket)(e.into()))
            });
        if let Err(e) = sent {
            let _ = nix::sys::signal::kill(spawned.pid, Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(spawned.pid, None);
            return Err(e);
        }
    }
    let state = OciState {
        id: id.to_string(),
        pid,
        pid_start_time: crate::container::process_start_time(pid),
        bundle,
        created: crate::container::now_rfc3339(),
        annotations: annotations.clone(),
        cgroups: Some(cgroups),
        changes: Vec::new(),
        started: false,
        paused: false,
    };
    if let Some(file) = store.mirror_file(id) {
        journal.record(HostChange::File { path: file });
    }
    let mut saved = state.clone();
    saved.changes = journal.changes().to_vec();
    let written = store.save(&saved).and_then(|()| match &opts.pid_file {
        Some(file) => crate::state::replace_atomic(file, pid.to_string().as_bytes())
            .map_err(|e| OciError::Setup(format!("write pid file {}: {e}", file.display()))),
        None => Ok(()),
    });
    if let Err(e) = written {
        let _ = nix::sys::signal::kill(spawned.pid, Signal::SIGKILL);
        let _ = nix::sys::wait::waitpid(spawned.pid, None);
        return Err(e);
    }
    journal.commit();
    Ok(saved)
}

/// Lets a created container's init exec the user's program.
pub fn start(store: &OciStore, id: &str) -> Result<(), OciError> {
    let mut state = store.load(id)?;
    match state.status() {
        OciStatus::Created => {}
        other => {
            return Err(OciError::State {
                id: id.to_string(),
                status: other.as_str(),
                wanted: "created",
            })
        }
    }
    let fifo_path = store.dir(id).join(EXEC_FIFO);
    // Non-blocking: the held init is already blocked opening it for writing, so it goes on
    // as soon as a reader is there; we wait for its byte, and give up if it dies.
    let fifo = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo_path)
        .map_err(io("open", &fifo_path))?;
    let mut byte = [0u8; 1];
    loop {
        match nix::unistd::read(&fifo, &mut byte) {
            Ok(1) => break,
            Ok(_) | Err(nix::errno::Errno::EAGAIN) if state.alive() => {
                let mut fds = [nix::poll::PollFd::new(
                    std::os::fd::AsFd::as_fd(&fifo),
                    nix::poll::PollFlags::POLLIN,
                )];
                let _ = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(100u16));
            }
            Ok(_) | Err(_) => {
                return Err(OciError::Setup(format!(
                    "container {id}'s init exited before start"
                )))
            }
        }
    }
    let _ = std::fs::remove_file(&fifo_path);
    state.started = true;
    store.save(&state)?;
    // A failing poststart hook is only logged (runtime.md).
    let poststart = stage_hooks(&state, |h| h.poststart().clone(), "hooks.poststart");
    let text = state.to_json().to_string();
    if let Err(e) = process::run_hooks("poststart", &poststart, &text) {
        tracing::warn!("{e}");
    }
    Ok(())
}

/// One stage's hooks from the container's bundle (none if it cannot be read now).
fn stage_hooks(
    state: &OciState,
    pick: impl Fn(&oci_spec::runtime::Hooks) -> Option<Vec<oci_spec::runtime::Hook>>,
    at: &str,
) -> Vec<process::Hook> {
    load_spec(&state.bundle.join(CONFIG_FILE))
        .ok()
        .and_then(|s| s.hooks().clone())
        .and_then(|h| super::hooks(&pick(&h), at).ok())
        .unwrap_or_default()
}

/// Sends `signal` to the init (or, with `all`, to every process of its cgroup).
pub fn kill(store: &OciStore, id: &str, signal: Signal, all: bool) -> Result<(), OciError> {
    let state = store.load(id)?;
    if state.status() == OciStatus::Stopped {
        return Err(OciError::State {
            id: id.to_string(),
            status: "stopped",
            wanted: "running or created",
        });
    }
    if all {
        for pid in processes(&state) {
            let _ = nix::sys::signal::kill(Pid::from_raw(pid), signal);
        }
        Ok(())
    } else {
        nix::sys::signal::kill(Pid::from_raw(state.pid), signal)
            .map_err(|e| OciError::Setup(format!("kill {}: {e}", state.pid)))
    }
}

/// The pids in the container's cgroup.
pub fn processes(state: &OciState) -> Vec<i32> {
    let Some(cg) = &state.cgroups else {
        return Vec::new();
    };
    let mut pids: Vec<i32> = cg
        .dirs()
        .next()
        .and_then(|d| std::fs::read_to_string(d.join("cgroup.procs")).ok())
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    pids.sort_unstable();
    pids
}

/// Removes a stopped container (with `force`, kills a running one first): its cgroups,
/// meter registrations and state go.
pub fn delete(store: &OciStore, id: &str, force: bool) -> Result<(), OciError> {
    let state = match store.load(id) {
        Err(OciError::NotFound(_)) => {
            // A create killed half-way left its journal: undo what it did.
            let journal = store.dir(id).join(CREATE_JOURNAL);
            return match crate::undo::read_persisted(&journal) {
                Some(changes) => {
                    crate::teardown::undo_all(&changes);
                    let _ = std::fs::remove_dir_all(store.dir(id));
                    Ok(())
                }
                None => Err(OciError::NotFound(id.to_string())),
            };
        }
        other => other?,
    };
    let status = state.status();
    if status != OciStatus::Stopped && status != OciStatus::Created && !force {
        return Err(OciError::State {
            id: id.to_string(),
            status: status.as_str(),
            wanted: "stopped (or --force)",
        });
    }
    if state.alive() {
        if let Some(cg) = &state.cgroups {
            if state.paused {
                let _ = cg.freeze(false);
            }
            for dir in cg.dirs() {
                crate::cgroups::kill_all(dir);
            }
        }
        let _ = nix::sys::signal::kill(Pid::from_raw(state.pid), Signal::SIGKILL);
        crate::process::wait_for_exit(state.pid, std::time::Duration::from_secs(10));
    }
    let _lock = store.lock()?;
    let poststop = stage_hooks(&state, |h| h.poststop().clone(), "hooks.poststop");
    let mut stopped = state.to_json();
    stopped["status"] = "stopped".into();
    crate::teardown::undo_all(&state.changes);
    // A failing poststop hook is only logged (runtime.md).
    if let Err(e) = process::run_hooks("poststop", &poststop, &stopped.to_string()) {
        tracing::warn!("{e}");
    }
    Ok(())
}

/// Freezes (`pause`) or thaws (`resume`) the container's cgroup.
pub fn set_paused(store: &OciStore, id: &str, paused: bool) -> Result<(), OciError> {
    let mut state = store.load(id)?;
    let status = state.status();
    let wanted = if paused {
        OciStatus::Running
    } else {
        OciStatus::Paused
    };
    if status != wanted {
        return Err(OciError::State {
            id: id.to_string(),
            status: status.as_str(),
            wanted: wanted.as_str(),
        });
    }
    if let Some(cg) = &state.cgroups {
        cg.freeze(paused)
            .map_err(|e| OciError::Setup(e.to_string()))?;
    }
    state.paused = paused;
    store.save(&state)
}

/// `update --resources`: new limits for a running container's cgroups.
pub fn update(
    store: &OciStore,
    id: &str,
    resources: &oci_spec::runtime::LinuxResources,
) -> Result<(), OciError> {
    let state = store.load(id)?;
    if state.status() == OciStatus::Stopped {
        return Err(OciError::State {
            id: id.to_string(),
            status: "stopped",
            wanted: "running, paused or created",
        });
    }
    let cgroups = state
        .cgroups
        .as_ref()
        .ok_or_else(|| OciError::Setup(format!("container {id} has no cgroups")))?;
    cgroups
        .apply(&crate::cgroups::from_oci_resources(resources))
        .map_err(|e| OciError::Setup(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::cgroup_location;
    use std::path::Path;

    #[test]
    fn cgroups_path_forms() {
        let at = |p: &str, systemd| cgroup_location(Some(Path::new(p)), "id", systemd);
        assert_eq!(at("/default/c1", false), ("default".into(), "c1".into()));
        assert_eq!(at("/k8s/pod1/c1", false), ("k8s/pod1".into(), "c1".into()));
        assert_eq!(at("c1", false), (String::new(), "c1".into()));
        assert_eq!(
            at("system.slice:cri-containerd:abc", true),
            ("system.slice".into(), "cri-containerd-abc.scope".into())
        );
        assert_eq!(
            cgroup_location(None, "id", false),
            (String::new(), "id".into())
        );
        assert_eq!(
            at("kubepods-besteffort-pod12.slice:cri-containerd:abc", true).0,
            "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod12.slice"
        );
    }
}
