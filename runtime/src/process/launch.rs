//! What the executor runs: an OCI runtime spec resolved into the values the kernel takes
//! (clone flags, capability sets, compiled seccomp filters, parsed mount options). Built by
//! [`crate::oci::launch`] from a spec, whichever front end wrote it.

use std::path::PathBuf;

use nix::sched::CloneFlags;
use seccompiler::BpfProgram;

use crate::rootfs::RootfsSpec;

/// A container's first process and everything around it.
#[derive(Debug, Clone)]
pub struct Launch {
    pub process: ProcessSpec,
    pub rootfs: RootfsSpec,
    pub namespaces: Namespaces,
    /// `hostname` / `domainname` (set in a new UTS namespace).
    pub hostname: Option<String>,
    pub domainname: Option<String>,
    /// `linux.sysctl`: written under /proc/sys inside the container before exec.
    pub sysctl: Vec<(String, String)>,
    /// The hooks the container's process runs itself.
    pub hooks: ContainerHooks,
    /// `linux.personality`: the execution domain (PER_LINUX, PER_LINUX32) set before exec.
    pub personality: Option<libc::c_ulong>,
}

/// createContainer and startContainer hooks, with the state JSON they get on stdin (its
/// `pid` is filled in by the process, which reads its own pid as the host sees it).
#[derive(Debug, Clone, Default)]
pub struct ContainerHooks {
    pub create_container: Vec<super::Hook>,
    pub start_container: Vec<super::Hook>,
    /// The state, `"pid": 0` until the process fills it in.
    pub state: serde_json::Value,
}

/// The namespaces of the container's first process.
#[derive(Debug, Clone)]
pub struct Namespaces {
    /// New namespaces made by clone (mount, PID, UTS, IPC, network).
    pub clone: CloneFlags,
    /// A new cgroup namespace, made by the child once the parent has placed it in its cgroups
    /// (so its cgroup is the namespace's root).
    pub new_cgroup: bool,
    /// Namespaces joined by path (`--net container:X`, a pod's shared namespaces); a user
    /// namespace first.
    pub join: Vec<(CloneFlags, PathBuf)>,
    /// A new user namespace with these mappings: the parent writes them right after clone,
    /// and the child becomes the namespace's root before it builds anything.
    pub user: Option<IdMappings>,
}

/// `linux.uidMappings` / `gidMappings`: (container id, host id, size) ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdMappings {
    pub uid: Vec<(u32, u32, u32)>,
    pub gid: Vec<(u32, u32, u32)>,
}

impl IdMappings {
    /// The text of /proc/PID/uid_map or gid_map.
    pub fn map_text(ranges: &[(u32, u32, u32)]) -> String {
        ranges
            .iter()
            .map(|(inside, outside, size)| format!("{inside} {outside} {size}\n"))
            .collect()
    }

    /// The host uid of the container's root, if it is mapped.
    pub fn host_root_uid(&self) -> Option<u32> {
        host_of(&self.uid, 0)
    }

    pub fn host_root_gid(&self) -> Option<u32> {
        host_of(&self.gid, 0)
    }
}

fn host_of(ranges: &[(u32, u32, u32)], id: u32) -> Option<u32> {
    ranges
        .iter()
        .find(|(inside, _, size)| id >= *inside && id - inside < *size)
        .map(|(inside, outside, _)| outside + (id - inside))
}

impl Default for Namespaces {
    fn default() -> Self {
        Namespaces {
            clone: CloneFlags::empty(),
            new_cgroup: false,
            join: Vec::new(),
            user: None,
        }
    }
}

impl Namespaces {
    /// Whether the container's process is in a user namespace other than the host's.
    pub fn in_user_namespace(&self) -> bool {
        self.user.is_some()
            || self
                .join
                .iter()
                .any(|(f, _)| *f == CloneFlags::CLONE_NEWUSER)
    }
}

/// The five capability sets, as names of this kernel's capabilities.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    pub bounding: Vec<caps::Capability>,
    pub effective: Vec<caps::Capability>,
    pub permitted: Vec<caps::Capability>,
    pub inheritable: Vec<caps::Capability>,
    pub ambient: Vec<caps::Capability>,
}

/// One `process.rlimits[]` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rlimit {
    pub resource: nix::sys::resource::Resource,
    pub soft: u64,
    pub hard: u64,
}

/// What a container process runs, and as whom (`process` of the spec).
#[derive(Debug, Clone, Default)]
pub struct ProcessSpec {
    /// argv; `args[0]` is looked up in the process's PATH.
    pub args: Vec<String>,
    /// `KEY=VALUE` entries.
    pub env: Vec<String>,
    /// Working directory inside the container (a container's first process creates it).
    pub cwd: PathBuf,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub umask: Option<u32>,
    /// A pseudo-terminal as stdin/stdout/stderr.
    pub terminal: bool,
    /// The terminal's first size (rows, columns): OCI's `process.consoleSize`.
    pub console_size: Option<(u16, u16)>,
    /// Keep stdin (otherwise /dev/null): Docker's `-i`; always for an OCI caller's stdio.
    pub stdin: bool,
    pub capabilities: Capabilities,
    pub rlimits: Vec<Rlimit>,
    pub no_new_privileges: bool,
    /// Written to /proc/PID/oom_score_adj by the parent.
    pub oom_score_adj: Option<i32>,
    /// Compiled filters, installed in order just before exec.
    pub seccomp: Vec<BpfProgram>,
    /// Descriptors 3..3+N the caller passes on (`--preserve-fds N`); the rest are closed.
    pub preserve_fds: u32,
    /// `--init`: the process forks, stays as the container's init and its child execs
    /// `args` (see the init module).
    pub init: bool,
}
