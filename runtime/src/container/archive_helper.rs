//! The work of the hidden `ebrun container-archive` helper: it confines itself to one
//! container's root, then reads or writes a tar on stdin/stdout with plain paths.
//!
//! Confinement, before any path of the container is touched:
//! - a live container (its init alive): the helper opens `/proc/PID/root` (the init's root
//!   directory: the pivot_root'ed rootfs), `setns`es into `/proc/PID/ns/mnt` (so the
//!   container's own mounts, volumes included, are what paths cross) and chroots to that
//!   root directory; then it checks `/` is the directory it opened;
//! - a stopped or created container, and every `export`: the helper unshares a mount
//!   namespace, makes every mount in it private (nothing propagates to the host), mounts the
//!   container's overlay on a temporary directory (read-only with the upper dir as the top
//!   lower layer for reads; with the upper and work dirs for writes), moves into it, detaches
//!   the mount from the tree and removes the directory, and chroots into it. The mount dies
//!   with the helper and the host never sees it.
//!
//! Inside the chroot, a symlink (absolute or `..`) resolves within the container: it can
//! name nothing of the host. The helper must be single-threaded for setns/unshare of the
//! mount namespace, which it is (the CLI starts no thread before dispatching).

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};
use nix::unistd::{chdir, chroot, fchdir};

use super::archive::{HelperErrorKind, HelperLine, PathStat};
use super::archive_tar::{base_name, extract, go_file_mode, ExtractOwners, IdMap, TarWriter};
use super::config::ContainerConfig;
use super::store::ContainerStore;
use crate::Paths;

/// What the helper was asked.
#[derive(Debug, Clone)]
pub enum HelperOp {
    Stat {
        path: String,
    },
    Get {
        path: String,
        rename: Option<String>,
    },
    Put {
        dir: String,
        no_overwrite_dir_non_dir: bool,
        copy_uid_gid: bool,
    },
    Export,
}

struct Failure {
    kind: HelperErrorKind,
    message: String,
}

fn failed(message: impl std::fmt::Display) -> Failure {
    Failure {
        kind: HelperErrorKind::Failed,
        message: message.to_string(),
    }
}

fn io_failure(what: &str, path: &str, e: io::Error) -> Failure {
    if e.kind() == io::ErrorKind::NotFound {
        Failure {
            kind: HelperErrorKind::PathNotFound,
            message: format!("{path}: no such file or directory"),
        }
    } else {
        failed(format!("{what} {path}: {e}"))
    }
}

fn say(out: &mut impl Write, line: &HelperLine) -> io::Result<()> {
    let mut text = serde_json::to_vec(line).map_err(io::Error::other)?;
    text.push(b'\n');
    out.write_all(&text)?;
    out.flush()
}

fn say_error(out: &mut impl Write, f: Failure) {
    let _ = say(
        out,
        &HelperLine::Error {
            kind: f.kind,
            message: f.message,
        },
    );
}

/// Runs the helper; returns its exit code. `out` is the answer and tar channel (stdout).
pub fn run_archive_helper(paths: &Paths, id: &str, op: HelperOp, out: File) -> i32 {
    let mut out = BufWriter::with_capacity(256 * 1024, out);
    let config = match ContainerStore::new(paths).lookup(id) {
        Ok(c) => c,
        Err(e) => {
            say_error(&mut out, failed(e));
            return 1;
        }
    };
    match work(paths, &config, op, &mut out) {
        Ok(()) => 0,
        Err(f) => {
            say_error(&mut out, f);
            1
        }
    }
}

/// Where the helper ended up.
enum Confined {
    /// In the running container's mount namespace.
    Live,
    /// In a private overlay mount of the stopped container.
    Overlay,
}

fn work(
    paths: &Paths,
    config: &ContainerConfig,
    op: HelperOp,
    out: &mut BufWriter<File>,
) -> Result<(), Failure> {
    let ids = IdMap {
        remap: config.userns,
    };
    let (live, write) = match &op {
        HelperOp::Export => (false, false),
        HelperOp::Put { .. } => (true, true),
        _ => (true, false),
    };
    let confined = confine(paths, config, live, write)?;
    match op {
        HelperOp::Stat { path } => {
            let stat = stat(&path)?;
            say(out, &HelperLine::Ok(Some(stat))).map_err(failed)
        }
        HelperOp::Get { path, rename } => {
            let abs = absolute(&path);
            let stat = stat(&path)?;
            say(out, &HelperLine::Ok(Some(stat))).map_err(failed)?;
            let base = match rename {
                Some(name) => name,
                None => match base_name(&abs).as_str() {
                    "/" => ".".to_string(),
                    b => b.to_string(),
                },
            };
            let mut tar = TarWriter::new(&mut *out, ids);
            // `dir/.`: the directory's contents, named `./x` as dockerd names them.
            tar.append_tree(base.as_bytes(), Path::new(&abs))
                .and_then(|()| tar.finish().map(|_| ()))
                .map_err(|e| failed(format!("archive {path}: {e}")))
        }
        HelperOp::Put {
            dir,
            no_overwrite_dir_non_dir,
            copy_uid_gid,
        } => {
            let abs = absolute(&dir);
            let meta = fs::metadata(&abs).map_err(|e| io_failure("stat", &dir, e))?;
            if !meta.is_dir() {
                return Err(Failure {
                    kind: HelperErrorKind::BadParameter,
                    message: "extraction point is not a directory".into(),
                });
            }
            let read_only = match confined {
                Confined::Overlay => config.read_only,
                Confined::Live => nix::sys::statvfs::statvfs(abs.as_str())
                    .map(|s| s.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY))
                    .unwrap_or(false),
            };
            if read_only {
                return Err(Failure {
                    kind: HelperErrorKind::Forbidden,
                    message: "container rootfs is marked read-only".into(),
                });
            }
            let force = if copy_uid_gid {
                let user = if config.process.user.is_empty() {
                    "0:0"
                } else {
                    config.process.user.as_str()
                };
                let u =
                    crate::process::resolve_user(user, Path::new("/")).map_err(|e| Failure {
                        kind: HelperErrorKind::BadParameter,
                        message: e,
                    })?;
                Some((u.uid, u.gid))
            } else {
                None
            };
            say(out, &HelperLine::Ok(None)).map_err(failed)?;
            let mut input = io::stdin().lock();
            let owners = ExtractOwners {
                force,
                ids: Some(ids),
            };
            extract(
                &mut input,
                Path::new(&abs),
                no_overwrite_dir_non_dir,
                owners,
            )
            .map_err(|e| Failure {
                kind: if e.kind() == io::ErrorKind::InvalidInput {
                    HelperErrorKind::BadParameter
                } else {
                    HelperErrorKind::Failed
                },
                message: e.to_string(),
            })?;
            // The rest of the stream (a tar's trailing blocks): read, so the writer is not
            // cut off after the helper has said all went well.
            let _ = io::copy(&mut input.take(u64::MAX), &mut io::sink());
            say(out, &HelperLine::Ok(None)).map_err(failed)
        }
        HelperOp::Export => {
            say(out, &HelperLine::Ok(None)).map_err(failed)?;
            let mut tar = TarWriter::new(&mut *out, ids);
            tar.append_children(None, Path::new("/"))
                .and_then(|()| tar.finish().map(|_| ()))
                .map_err(|e| failed(format!("export: {e}")))
        }
    }
}

/// `path` as an absolute path of the container, its trailing `/` or `/.` kept (they mean
/// "follow the link" and "the directory's contents").
fn absolute(path: &str) -> String {
    if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    }
}

/// Docker's stat of `path`: the path itself (a symlink is not followed unless the path
/// ends with `/`), with the link's resolved target.
fn stat(path: &str) -> Result<PathStat, Failure> {
    let abs = absolute(path);
    let meta = fs::symlink_metadata(&abs).map_err(|e| io_failure("stat", path, e))?;
    let link_target = if meta.file_type().is_symlink() {
        fs::canonicalize(&abs)
            .or_else(|_| fs::read_link(&abs))
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    } else {
        String::new()
    };
    let mtime = chrono::DateTime::from_timestamp(meta.mtime(), meta.mtime_nsec() as u32)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
    Ok(PathStat {
        name: base_name(&abs),
        size: meta.size() as i64,
        mode: go_file_mode(&meta),
        mtime,
        link_target,
    })
}

fn confine(
    paths: &Paths,
    config: &ContainerConfig,
    live: bool,
    write: bool,
) -> Result<Confined, Failure> {
    if live {
        let state = super::observe(paths, config).map_err(failed)?;
        if state.pid > 0 && super::observe::process_alive(state.pid, state.pid_start_time) {
            return enter_live(state.pid, state.pid_start_time).map(|()| Confined::Live);
        }
    }
    enter_overlay(paths, config, write).map(|()| Confined::Overlay)
}

/// Into the mount namespace and root of the container's init `pid`.
fn enter_live(pid: i32, start_time: u64) -> Result<(), Failure> {
    let ns = File::open(format!("/proc/{pid}/ns/mnt"))
        .map_err(|e| failed(format!("open the container's mount namespace: {e}")))?;
    let root = File::open(format!("/proc/{pid}/root"))
        .map_err(|e| failed(format!("open the container's root: {e}")))?;
    // Both were opened while `pid` was still the container's init (not a reused pid).
    if !super::observe::process_alive(pid, start_time) {
        return Err(failed("the container stopped"));
    }
    let opened = root
        .metadata()
        .map_err(|e| failed(format!("stat the container's root: {e}")))?;
    setns(&ns, CloneFlags::CLONE_NEWNS)
        .map_err(|e| failed(format!("join the container's mount namespace: {e}")))?;
    fchdir(&root).map_err(|e| failed(format!("enter the container's root: {e}")))?;
    chroot(".").map_err(|e| failed(format!("chroot into the container's root: {e}")))?;
    chdir("/").map_err(|e| failed(format!("chdir /: {e}")))?;
    let now = fs::metadata("/").map_err(|e| failed(format!("stat /: {e}")))?;
    if (now.dev(), now.ino()) != (opened.dev(), opened.ino()) {
        return Err(failed("the container's root moved while entering it"));
    }
    Ok(())
}

/// A private mount of the container's overlay, as the helper's root.
fn enter_overlay(paths: &Paths, config: &ContainerConfig, write: bool) -> Result<(), Failure> {
    let overlay = super::oci_translate::overlay_root(paths, config).map_err(failed)?;
    unshare(CloneFlags::CLONE_NEWNS)
        .map_err(|e| failed(format!("unshare the mount namespace: {e}")))?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|e| failed(format!("make / private: {e}")))?;
    let dir = tempfile::Builder::new()
        .prefix("archive-")
        .tempdir_in(paths.container_dir(&config.id))
        .map_err(|e| failed(format!("make a mount point: {e}")))?
        .keep();
    let result = mount_root(&overlay, &dir, write);
    if result.is_err() {
        // Never mounted, or detached again: an empty directory of the host's. (After a
        // successful chroot, `mount_root` has removed it already.)
        let _ = fs::remove_dir(&dir);
    }
    result
}

fn mount_root(
    overlay: &crate::rootfs::OverlayRoot,
    dir: &Path,
    write: bool,
) -> Result<(), Failure> {
    let mount_failed = |e: nix::Error| failed(format!("mount the container's filesystem: {e}"));
    if write {
        let data = crate::rootfs::overlay_options(overlay).map_err(failed)?;
        mount(
            Some("overlay"),
            dir,
            Some("overlay"),
            MsFlags::empty(),
            Some(data.as_str()),
        )
        .map_err(mount_failed)?;
    } else {
        // The upper dir on top of the image layers; overlayfs wants two lower dirs at least
        // without an upper one, so a lone directory is bind-mounted read-only instead.
        let mut lower: Vec<PathBuf> = Vec::new();
        if overlay.upper.is_dir() {
            lower.push(overlay.upper.clone());
        }
        lower.extend(overlay.layers.iter().rev().cloned());
        match lower.as_slice() {
            [] => return Err(failed("the container has no filesystem")),
            [only] => {
                mount(
                    Some(only.as_path()),
                    dir,
                    None::<&str>,
                    MsFlags::MS_BIND,
                    None::<&str>,
                )
                .map_err(mount_failed)?;
                mount(
                    None::<&str>,
                    dir,
                    None::<&str>,
                    MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
                    None::<&str>,
                )
                .map_err(mount_failed)?;
            }
            _ => {
                let list: Vec<String> = lower.iter().map(|p| p.display().to_string()).collect();
                let data = format!("lowerdir={}", list.join(":"));
                mount(
                    Some("overlay"),
                    dir,
                    Some("overlay"),
                    MsFlags::MS_RDONLY,
                    Some(data.as_str()),
                )
                .map_err(mount_failed)?;
            }
        }
    }
    let root = File::open(dir).map_err(|e| failed(format!("open the mount: {e}")))?;
    // In the mount, detach it from the tree (the open directory keeps it alive), remove
    // the then empty mount point, and make the mount the root.
    let entered = fchdir(&root)
        .and_then(|()| umount2(dir, MntFlags::MNT_DETACH))
        .inspect_err(|_| {
            let _ = umount2(dir, MntFlags::MNT_DETACH);
        })
        .and_then(|()| {
            let _ = fs::remove_dir(dir);
            chroot(".")
        })
        .and_then(|()| chdir("/"));
    entered.map_err(|e| failed(format!("enter the container's filesystem: {e}")))
}
