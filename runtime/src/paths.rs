//! Where an ebrun instance keeps its state, and the names of the host objects it creates.
//!
//! `--root` (or `EBRUN_ROOT`) moves everything: the persistent state under the root, the
//! per-boot state under `/run/<prefix>`, and the prefix that names host objects (cgroup
//! parents, bpffs pins). The default root `/var/lib/ebrun` has the prefix `ebrun`; any other
//! root gets `ebrun-<8 hex digits of a hash of its path>`, so instances never clash.

use std::path::{Path, PathBuf};

/// The default persistent root, as Docker's `/var/lib/docker`.
pub const DEFAULT_ROOT: &str = "/var/lib/ebrun";

/// All locations of one ebrun instance.
#[derive(Debug, Clone)]
pub struct Paths {
    root: PathBuf,
    prefix: String,
}

impl Paths {
    /// This instance's ebrun as a command (`ebrun --root ROOT`) for the helper processes
    /// ebrun starts (monitors, exec, archive). It is run from /proc/self/exe: that stays the
    /// binary this process runs even when the file on disk was replaced meanwhile (an
    /// upgrade or a rebuild under a long-running `ebrun serve`).
    pub fn ebrun_command(&self) -> std::process::Command {
        use std::os::unix::process::CommandExt;
        let mut cmd = std::process::Command::new("/proc/self/exe");
        cmd.arg0("ebrun").arg("--root").arg(self.root());
        cmd
    }

    /// Keeps the root out of other host users' reach (CVE-2021-21284, CVE-2021-41091): made
    /// 0700 when missing, and an existing root that others may read or write (an older
    /// ebrun's 0755) loses that; searchable bits that a remapped container's directories add
    /// (see `container::userns_dirs`) stay. The per-boot directory is 0711: not listable, but
    /// the Engine API's socket in it stays reachable to the `docker` group. Only as root;
    /// errors are left to the command.
    pub fn secure_root(&self) {
        if !nix::unistd::geteuid().is_root() {
            return;
        }
        secure_dir(&self.root, 0o700);
        secure_dir(&self.run_dir(), 0o711);
    }

    /// Paths for the instance rooted at `root` (made absolute; not created).
    pub fn new(root: impl AsRef<Path>) -> Self {
        let root = std::path::absolute(root.as_ref()).unwrap_or_else(|_| root.as_ref().into());
        let prefix = if root == Path::new(DEFAULT_ROOT) {
            "ebrun".to_string()
        } else {
            format!(
                "ebrun-{:08x}",
                fnv1a(root.as_os_str().as_encoded_bytes()) as u32
            )
        };
        Paths { root, prefix }
    }

    /// The persistent root (images, layers, containers).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The prefix naming this instance's host objects: cgroup parents, bpffs dir.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Per-boot state (dies with the boot): `/run/<prefix>`.
    pub fn run_dir(&self) -> PathBuf {
        PathBuf::from("/run").join(&self.prefix)
    }

    /// The image store's directory.
    pub fn images_dir(&self) -> PathBuf {
        self.root.join("image")
    }

    /// Directory of all containers.
    pub fn containers_dir(&self) -> PathBuf {
        self.root.join("containers")
    }

    /// Directory of one container.
    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.containers_dir().join(id)
    }

    /// Where this instance pins its BPF programs, maps and links.
    pub fn bpffs_dir(&self) -> PathBuf {
        PathBuf::from("/sys/fs/bpf").join(&self.prefix)
    }
}

/// Creates `dir` with `mode` if missing; takes read and write from group and others if an
/// existing `dir` grants them.
fn secure_dir(dir: &Path, mode: u32) {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    if let Some(parent) = dir.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    let _ = std::fs::DirBuilder::new().mode(mode).create(dir);
    if let Ok(meta) = std::fs::metadata(dir) {
        let current = meta.permissions().mode() & 0o7777;
        if meta.is_dir() && current & 0o066 != 0 {
            let _ =
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(current & !0o066));
        }
    }
}

/// 64-bit FNV-1a: a stable, dependency-free hash for naming (not for security).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100000001b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_root_has_plain_prefix() {
        assert_eq!(Paths::new(DEFAULT_ROOT).prefix(), "ebrun");
    }

    #[test]
    fn other_roots_get_distinct_stable_prefixes() {
        let a = Paths::new("/tmp/a");
        let b = Paths::new("/tmp/b");
        assert_ne!(a.prefix(), b.prefix());
        assert_eq!(a.prefix(), Paths::new("/tmp/a").prefix());
        assert!(a.prefix().starts_with("ebrun-") && a.prefix().len() == 14);
    }
}
