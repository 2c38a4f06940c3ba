//! The cgroups of one container: v1 controller directories through cgroups-rs, and the
//! cgroup2 directory whose id keys every BPF map.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use cgroups_rs::fs::hierarchies::{V1, V2};
use cgroups_rs::fs::{Cgroup, Hierarchy};

use super::layout::{unified_dir, Layout};
use super::CgroupError;
use crate::undo::{HostChange, Journal};

/// A container's cgroup directories, in every hierarchy the host has.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ContainerCgroups {
    /// Path relative to each hierarchy's root: `<prefix>/<container id>`.
    pub relative: String,
    pub layout: Layout,
    /// v1 controller directories (empty on unified hosts).
    pub v1_dirs: Vec<PathBuf>,
    /// The cgroup2 directory (absent only on legacy hosts).
    pub unified_dir: Option<PathBuf>,
    /// The cgroup2 id (inode of `unified_dir`), what eBPF programs see; 0 on legacy hosts.
    pub cgroup_id: u64,
}

impl ContainerCgroups {
    /// Creates `<prefix>/<id>` (`<id>` with an empty prefix) in every hierarchy, recording
    /// each directory in `journal`.
    pub fn create(
        layout: Layout,
        prefix: &str,
        id: &str,
        journal: &mut Journal,
    ) -> Result<Self, CgroupError> {
        let relative = if prefix.is_empty() {
            id.to_string()
        } else {
            format!("{prefix}/{id}")
        };
        let mut v1_dirs = Vec::new();
        let mut unified = None;
        match layout {
            Layout::Legacy | Layout::Hybrid => {
                let cg = Cgroup::new(Box::new(V1::new()) as Box<dyn Hierarchy>, &relative).map_err(
                    |e| CgroupError::Create {
                        path: relative.clone(),
                        message: e.to_string(),
                    },
                );
                // Record whatever was created, also when creation failed half-way.
                let loaded = Cgroup::load(Box::new(V1::new()) as Box<dyn Hierarchy>, &relative);
                for sub in loaded.subsystems() {
                    let dir = sub.to_controller().path().to_path_buf();
                    if dir.exists() {
                        journal.record(HostChange::Cgroup { path: dir.clone() });
                        v1_dirs.push(dir);
                    }
                }
                cg?;
                if v1_dirs.is_empty() {
                    // No hierarchy is mounted (e.g. a mount namespace without /sys/fs/cgroup):
                    // a container must never run unconfined and unaccounted.
                    return Err(CgroupError::Create {
                        path: relative,
                        message: "no cgroup hierarchy is mounted under /sys/fs/cgroup".into(),
                    });
                }
                if layout == Layout::Hybrid {
                    let dir = unified_dir(layout, &relative).expect("hybrid has cgroup2");
                    create_dir(&dir, journal)?;
                    unified = Some(dir);
                }
            }
            Layout::Unified => {
                let dir = unified_dir(layout, &relative).expect("unified has cgroup2");
                let created = Cgroup::new(Box::new(V2::new()) as Box<dyn Hierarchy>, &relative);
                if dir.exists() {
                    journal.record(HostChange::Cgroup { path: dir.clone() });
                }
                created.map_err(|e| CgroupError::Create {
                    path: relative.clone(),
                    message: e.to_string(),
                })?;
                unified = Some(dir);
            }
        }
        let cgroup_id = match &unified {
            Some(dir) => std::fs::metadata(dir)
                .map_err(|source| CgroupError::Io {
                    op: "stat",
                    path: dir.clone(),
                    source,
                })?
                .ino(),
            None => 0,
        };
        Ok(ContainerCgroups {
            relative,
            layout,
            v1_dirs,
            unified_dir: unified,
            cgroup_id,
        })
    }

    /// Moves process `pid` into every one of the container's cgroups.
    pub fn add_process(&self, pid: i32) -> Result<(), CgroupError> {
        for dir in self.v1_dirs.iter().chain(self.unified_dir.iter()) {
            write_procs(dir, pid)?;
        }
        Ok(())
    }

    /// All directories, v1 first then cgroup2.
    pub fn dirs(&self) -> impl Iterator<Item = &Path> {
        self.v1_dirs
            .iter()
            .chain(self.unified_dir.iter())
            .map(PathBuf::as_path)
    }
}

fn create_dir(dir: &Path, journal: &mut Journal) -> Result<(), CgroupError> {
    if let Some(parent) = dir.parent() {
        if !parent.exists() {
            std::fs::create_dir_all(parent).map_err(|source| CgroupError::Io {
                op: "create cgroup",
                path: parent.to_path_buf(),
                source,
            })?;
        }
    }
    match std::fs::create_dir(dir) {
        Ok(()) => {
            journal.record(HostChange::Cgroup {
                path: dir.to_path_buf(),
            });
            Ok(())
        }
        Err(source) => Err(CgroupError::Io {
            op: "create cgroup",
            path: dir.to_path_buf(),
            source,
        }),
    }
}

fn write_procs(dir: &Path, pid: i32) -> Result<(), CgroupError> {
    std::fs::write(dir.join("cgroup.procs"), pid.to_string()).map_err(|e| CgroupError::AddTask {
        pid,
        path: dir.display().to_string(),
        message: e.to_string(),
    })
}
