//! Undoing host changes: each change recorded in a journal ([`crate::undo`]) goes back to the
//! subsystem that made it (directories and files here, cgroups, BPF registrations and links,
//! network endpoints, veths, firewall rules). The journal only orders them; this is the one
//! place that knows every kind, above all the subsystems, so none of them depends on another
//! through the journal.

use crate::undo::{HostChange, Journal};

/// Undoes `change`; a change already undone (or never fully made) is not an error.
pub fn undo_change(change: &HostChange) -> std::io::Result<()> {
    let not_found_is_done = |r: std::io::Result<()>| match r {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    };
    match change {
        HostChange::Dir { path } => not_found_is_done(std::fs::remove_dir_all(path)),
        HostChange::File { path } => not_found_is_done(std::fs::remove_file(path)),
        HostChange::Cgroup { path } => crate::cgroups::remove_dir(path),
        HostChange::BpfCgroup { pin_dir, cgroup_id } => {
            crate::bpf::forget_cgroup(pin_dir, *cgroup_id).map_err(std::io::Error::other)
        }
        HostChange::BpfLink { path } => {
            crate::bpf::detach_link(path).map_err(std::io::Error::other)
        }
        HostChange::NetworkEndpoint { root, container_id } => {
            crate::network::undo_endpoint(root, container_id).map_err(std::io::Error::other)
        }
        HostChange::Veth {
            name,
            pid,
            pid_start,
        } => crate::network::undo_veth(name, *pid, *pid_start).map_err(std::io::Error::other),
        HostChange::NftRules { table, handles, .. } => {
            crate::network::undo_rules(table, handles).map_err(std::io::Error::other)
        }
    }
}

/// Undoes `changes` in reverse order, logging (not stopping at) failures. Returns the
/// changes that could not be undone.
pub fn undo_all(changes: &[HostChange]) -> Vec<(HostChange, std::io::Error)> {
    crate::undo::undo_all_with(changes, undo_change)
}

/// A journal that undoes through [`undo_change`] when dropped uncommitted.
pub fn journal() -> Journal {
    Journal::new(undo_change)
}

/// A [`journal`] mirrored to `file` (one appended line per change).
pub fn persisted_journal(file: std::path::PathBuf) -> Journal {
    Journal::persisted(file, undo_change)
}
