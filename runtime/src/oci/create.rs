//! `create`: everything of a container up to the user's program, which waits on a FIFO for
//! `start`. Every step is journaled (in the container's state directory, so that `delete`
//! undoes a create killed half-way); any failure undoes the done ones.

use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::state::{valid_id, OciState, OciStore, EXEC_FIFO};
use super::{io_err as io, load_spec, OciError, RootSource, CONFIG_FILE};
use crate::cgroups::{ContainerCgroups, Layout};
use crate::process::{self, StdioMode};
use crate::undo::HostChange;
use crate::Paths;

/// The journal of a create in progress, in the container's state directory.
pub(super) const CREATE_JOURNAL: &str = "create.journal";

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
            spawned.abort();
            return Err(e);
        }
    }
    if let Some(file) = store.mirror_file(id) {
        journal.record(HostChange::File { path: file });
    }
    let state = OciState {
        id: id.to_string(),
        pid,
        pid_start_time: crate::container::process_start_time(pid),
        bundle,
        created: crate::container::now_rfc3339(),
        annotations: annotations.clone(),
        cgroups: Some(cgroups),
        changes: journal.changes().to_vec(),
        started: false,
        paused: false,
    };
    let written = store.save(&state).and_then(|()| match &opts.pid_file {
        Some(file) => crate::state::replace_atomic(file, pid.to_string().as_bytes())
            .map_err(|e| OciError::Setup(format!("write pid file {}: {e}", file.display()))),
        None => Ok(()),
    });
    if let Err(e) = written {
        spawned.abort();
        return Err(e);
    }
    journal.commit();
    Ok(state)
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
