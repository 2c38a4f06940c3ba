//! Every host change is undoable (ARCHITECTURE.md point 7).
//!
//! Creating a container is a sequence of steps, each recorded here as a [`HostChange`] right
//! after it is made. If creation fails, the [`Journal`] is dropped un-committed and undoes the
//! done steps in reverse. A committed journal's changes are saved with the container, and
//! `rm` (or clean-up after `--rm`) undoes the very same list. One mechanism, used everywhere.
//!
//! This module only records and orders changes; how each is undone belongs to the subsystem
//! that made it, and the crate's `teardown` module hands it there ([`UndoFn`]), so nothing
//! here depends on the subsystems that record into it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// One change made to the host, with everything needed to undo it later, in any process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HostChange {
    /// A directory tree ebrun created.
    Dir { path: PathBuf },
    /// A file ebrun created.
    File { path: PathBuf },
    /// A cgroup directory (v1 controller or cgroup2); its processes are killed on undo.
    Cgroup { path: PathBuf },
    /// A cgroup2 id registered in the pinned BPF maps of the instance pinned at `pin_dir`.
    BpfCgroup { pin_dir: PathBuf, cgroup_id: u64 },
    /// A pinned BPF link attaching a program to a container's cgroup; detached on undo.
    BpfLink { path: PathBuf },
    /// A container's network endpoint record: its address and host-port allocations.
    NetworkEndpoint { root: PathBuf, container_id: String },
    /// The host end of a container's veth pair. It goes by itself with the container's
    /// network namespace; deleted on undo only while process `pid` (started at
    /// `pid_start`) still holds that namespace.
    Veth {
        name: String,
        #[serde(default)]
        pid: i32,
        #[serde(default)]
        pid_start: u64,
    },
    /// nftables rules added to a chain of ebrun's `inet` table, by handle.
    NftRules {
        table: String,
        chain: String,
        handles: Vec<u64>,
    },
}

/// How a change is undone: the crate's `teardown` hands each change back to the subsystem
/// that made it. A change already undone (or never fully made) is not an error.
pub type UndoFn = fn(&HostChange) -> std::io::Result<()>;

/// Undoes `changes` in reverse order with `undo`, logging (not stopping at) failures.
/// Returns the changes that could not be undone.
pub fn undo_all_with(changes: &[HostChange], undo: UndoFn) -> Vec<(HostChange, std::io::Error)> {
    let mut failed = Vec::new();
    for change in changes.iter().rev() {
        if let Err(e) = undo(change) {
            tracing::warn!(?change, error = %e, "could not undo host change");
            failed.push((change.clone(), e));
        }
    }
    failed
}

/// The undo list of an operation in progress. Dropped without [`Journal::commit`], it undoes
/// everything recorded, newest first. A persisted journal also appends each change to a file
/// (one JSON line per change), so that if the process is killed half-way, the next ebrun
/// process can undo what was done (see `container::reconcile`).
#[derive(Debug)]
pub struct Journal {
    changes: Vec<HostChange>,
    file: Option<PathBuf>,
    appender: Option<std::fs::File>,
    undo: UndoFn,
}

impl Journal {
    /// An empty journal whose changes `undo` undoes.
    pub fn new(undo: UndoFn) -> Self {
        Journal {
            changes: Vec::new(),
            file: None,
            appender: None,
            undo,
        }
    }

    /// A journal mirrored to `file`, one appended line per step.
    pub fn persisted(file: PathBuf, undo: UndoFn) -> Self {
        let mut journal = Journal::new(undo);
        journal.file = Some(file);
        journal
    }

    /// Records a change that has just been made.
    pub fn record(&mut self, change: HostChange) {
        if let Err(e) = self.append(&change) {
            if let Some(file) = &self.file {
                tracing::warn!(file = %file.display(), error = %e, "could not persist the journal");
            }
        }
        self.changes.push(change);
    }

    /// Appends one change to the journal's file. Appending (rather than rewriting the file
    /// and renaming it over the old one) costs one small write per step: ext4 turns a
    /// rename over an existing file into a synchronous writeback of the new one. No fsync:
    /// this guards against a killed process, whose writes the page cache keeps; a power loss
    /// takes the changes (cgroups, links, rules) with it anyway.
    fn append(&mut self, change: &HostChange) -> std::io::Result<()> {
        use std::io::Write;
        let Some(file) = &self.file else {
            return Ok(());
        };
        if self.appender.is_none() {
            self.appender = Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(file)?,
            );
        }
        let mut line = serde_json::to_vec(change).map_err(std::io::Error::other)?;
        line.push(b'\n');
        // One write(2) per line: a killed process leaves whole lines only.
        self.appender
            .as_mut()
            .expect("opened above")
            .write_all(&line)
    }

    /// What has been recorded so far, oldest first.
    pub fn changes(&self) -> &[HostChange] {
        &self.changes
    }

    /// Keeps the changes: they now belong to whoever persists the returned list.
    pub fn commit(mut self) -> Vec<HostChange> {
        self.forget_file();
        std::mem::take(&mut self.changes)
    }

    fn forget_file(&mut self) {
        self.appender = None;
        if let Some(file) = self.file.take() {
            let _ = std::fs::remove_file(file);
        }
    }
}

/// Reads a journal a killed process left behind: every whole line it holds (a line cut
/// short by a crash is skipped).
pub fn read_persisted(file: &Path) -> Option<Vec<HostChange>> {
    let text = std::fs::read_to_string(file).ok()?;
    Some(
        text.lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect(),
    )
}

impl Drop for Journal {
    fn drop(&mut self) {
        if !self.changes.is_empty() {
            tracing::debug!(steps = self.changes.len(), "rolling back");
            undo_all_with(&self.changes, self.undo);
        }
        self.forget_file();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Directories only, as the tests make them.
    fn undo_dir(change: &HostChange) -> std::io::Result<()> {
        match change {
            HostChange::Dir { path } => std::fs::remove_dir_all(path),
            _ => Ok(()),
        }
    }

    #[test]
    fn dropped_journal_undoes_in_reverse() {
        let tmp = tempfile::tempdir().unwrap();
        let outer = tmp.path().join("outer");
        let inner = outer.join("inner");
        {
            let mut journal = Journal::new(undo_dir);
            std::fs::create_dir(&outer).unwrap();
            journal.record(HostChange::Dir {
                path: outer.clone(),
            });
            std::fs::create_dir(&inner).unwrap();
            journal.record(HostChange::Dir {
                path: inner.clone(),
            });
        }
        assert!(!outer.exists());
    }

    #[test]
    fn committed_journal_keeps_changes() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("kept");
        let mut journal = Journal::new(undo_dir);
        std::fs::create_dir(&dir).unwrap();
        journal.record(HostChange::Dir { path: dir.clone() });
        let changes = journal.commit();
        assert!(dir.exists());
        assert!(undo_all_with(&changes, undo_dir).is_empty());
        assert!(!dir.exists());
    }
}

#[cfg(test)]
mod persisted_tests {
    use super::*;

    #[test]
    fn a_persisted_journal_survives_in_its_file_until_commit() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("journal.json");
        let dir = tmp.path().join("made");
        let mut journal = Journal::persisted(file.clone(), |_| Ok(()));
        std::fs::create_dir(&dir).unwrap();
        journal.record(HostChange::Dir { path: dir.clone() });
        assert_eq!(
            read_persisted(&file).unwrap(),
            vec![HostChange::Dir { path: dir.clone() }]
        );
        journal.commit();
        assert!(!file.exists());
        assert!(dir.exists());
    }
}

#[cfg(test)]
mod torn_journal_tests {
    use super::*;

    #[test]
    fn a_line_cut_short_by_a_crash_is_skipped() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("journal.json");
        let whole = serde_json::to_string(&HostChange::Dir { path: "/a".into() }).unwrap();
        std::fs::write(&file, format!("{whole}\n{{\"Dir\":{{\"pa")).unwrap();
        assert_eq!(
            read_persisted(&file).unwrap(),
            vec![HostChange::Dir { path: "/a".into() }]
        );
    }
}
