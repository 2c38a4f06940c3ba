//! Containers whose files cannot be read (a truncated or garbage `config.json` or
//! `state.json`) and stray entries in the containers directory. Other containers are not
//! affected: `ps` lists them and warns about the broken ones, commands naming a broken one
//! fail with a clear error, and `rm -f` removes what the container's id leads to (its
//! processes, cgroups, meters, network endpoint and firewall rules) and its directory.

use std::path::{Path, PathBuf};

use super::config::{ContainerConfig, ContainerState};
use super::store::ContainerStore;
use super::ContainerError;
use crate::cgroups::{hierarchy_roots, unified_mount, Layout};
use crate::state::{read_json, StateError};
use crate::teardown::undo_all;
use crate::undo::HostChange;
use crate::Paths;

/// An entry of the containers directory that is not a usable container.
#[derive(Debug, Clone)]
pub struct Broken {
    /// The directory's (or file's) name: a container id, or whatever a stray entry is called.
    pub id: String,
    pub path: PathBuf,
    /// What is wrong with it, naming the file.
    pub reason: String,
}

impl Broken {
    /// Whether it is (or was) a container: its directory is named with a container id.
    pub fn is_container(&self) -> bool {
        is_container_id(&self.id)
    }

    /// The warning `ps` prints for it.
    pub fn warning(&self) -> String {
        if self.is_container() {
            format!(
                "WARNING: container {} is unreadable and not listed: {}; `ebrun rm -f {}` removes it",
                self.id, self.reason, self.id
            )
        } else {
            format!(
                "WARNING: {} is not a container and is ignored: {}",
                self.path.display(),
                self.reason
            )
        }
    }
}

/// A full container id: 64 lower-case hex digits.
pub(super) fn is_container_id(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Why the container in `dir` cannot be used, if it cannot: its config or state unreadable,
/// or (for a stray directory) no config at all.
fn check_dir(dir: &Path, name: &str) -> Option<String> {
    let config = dir.join("config.json");
    match read_json::<ContainerConfig>(&config) {
        Err(e) if e.is_not_found() && is_container_id(name) => None, // an interrupted create
        Err(e) if e.is_not_found() => Some(format!("{} is missing", config.display())),
        Err(e) => Some(e.to_string()),
        Ok(_) => match read_state(dir) {
            Err(e) => Some(e.to_string()),
            Ok(_) => None,
        },
    }
}

fn read_state(dir: &Path) -> Result<ContainerState, StateError> {
    super::store::read_state(&dir.join("state.json"))
}

/// Every broken entry of the containers directory (hidden files, such as the lock, are
/// ebrun's own and not listed).
pub fn scan(paths: &Paths) -> Vec<Broken> {
    let Ok(entries) = std::fs::read_dir(paths.containers_dir()) else {
        return Vec::new();
    };
    let mut broken: Vec<Broken> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                return None;
            }
            let path = e.path();
            let reason = if e.file_type().is_ok_and(|t| t.is_dir()) {
                check_dir(&path, &name)?
            } else {
                "a file where a container directory belongs".to_string()
            };
            Some(Broken {
                id: name,
                path,
                reason,
            })
        })
        .collect();
    broken.sort_by(|a, b| a.id.cmp(&b.id));
    broken
}

/// The broken container `key` names (its full id or a unique prefix of it).
pub(super) fn find(paths: &Paths, key: &str) -> Option<Broken> {
    if key.is_empty() {
        return None;
    }
    let mut matches = scan(paths)
        .into_iter()
        .filter(|b| b.is_container() && b.id.starts_with(key));
    let first = matches.next()?;
    matches.next().is_none().then_some(first)
}

/// Removes the container with id `id` whose config or state cannot be read, with the
/// containers lock held: the processes of its monitor and cgroups are killed, and everything
/// found by its id is undone — the recorded run changes if the state is readable, else its
/// cgroups, meters and network endpoint (with its port rules) — then its directory goes.
pub(super) fn remove_locked(paths: &Paths, id: &str) -> Result<(), ContainerError> {
    let dir = ContainerStore::new(paths).dir(id);
    let state = read_state(&dir).ok();
    let config = read_json::<ContainerConfig>(&dir.join("config.json")).ok();
    kill_monitor(paths, id);
    thaw(paths, id);
    let mut failed = Vec::new();
    if let Some(state) = &state {
        failed.extend(undo_all(&state.run_changes));
    }
    failed.extend(undo_all(&derived_changes(paths, id)));
    if let Err(e) = crate::network::reclaim_endpoint(paths, id) {
        tracing::warn!(error = %e, "could not reclaim the container's network endpoint");
    }
    if let Some(config) = &config {
        failed.extend(undo_all(&config.changes));
    }
    let change = HostChange::Dir { path: dir };
    if let Err(e) = crate::teardown::undo_change(&change) {
        failed.push((change, e));
    }
    match failed.first() {
        Some((change, error)) => Err(ContainerError::Remove {
            id: id.to_string(),
            message: format!("{change:?}: {error}"),
        }),
        None => Ok(()),
    }
}

/// Thaws the container's cgroups (it may have been paused): frozen processes cannot die,
/// and their cgroups could not be removed.
fn thaw(paths: &Paths, id: &str) {
    let relative = Path::new(paths.prefix()).join(id);
    for root in hierarchy_roots() {
        let dir = root.join(&relative);
        for (file, value) in [("freezer.state", "THAWED"), ("cgroup.freeze", "0")] {
            if dir.join(file).exists() {
                let _ = std::fs::write(dir.join(file), value);
            }
        }
    }
}

/// What a container's id leads to without its state file: its cgroup in every hierarchy
/// and its entries in the pinned meters (which also drops its cgroup links).
fn derived_changes(paths: &Paths, id: &str) -> Vec<HostChange> {
    let relative = Path::new(paths.prefix()).join(id);
    let mut changes = Vec::new();
    if let Some(unified) = unified_mount(Layout::detect()) {
        if let Ok(meta) = std::fs::metadata(unified.join(&relative)) {
            changes.push(HostChange::BpfCgroup {
                pin_dir: paths.bpffs_dir(),
                cgroup_id: std::os::unix::fs::MetadataExt::ino(&meta),
            });
        }
    }
    // Undone newest first: the cgroups (and their processes) go before the meters' entries.
    for root in hierarchy_roots() {
        let path = root.join(&relative);
        if path.exists() {
            changes.push(HostChange::Cgroup { path });
        }
    }
    changes
}

/// SIGKILLs the container's monitor (the process running `container-monitor ID` for this
/// root), so that it neither restarts the container nor writes into the directory being
/// removed. Found by its command line: a pid from an unreadable state could be anyone's.
pub fn kill_monitor(paths: &Paths, id: &str) {
    let root = paths.root().to_string_lossy().into_owned();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return;
    };
    for entry in procs.filter_map(Result::ok) {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        let is_monitor = args
            .windows(2)
            .any(|w| w[0] == super::MONITOR_COMMAND.as_bytes() && w[1] == id.as_bytes())
            && args.contains(&root.as_bytes());
        if is_monitor && pid != std::process::id() as i32 {
            tracing::info!(pid, id, "killing the monitor of an unreadable container");
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}
