//! Loads the embedded object once per instance and pins programs, links and maps.

use std::path::{Path, PathBuf};

use aya::programs::{links::FdLink, RawTracePoint};
use aya::Ebpf;
use ebrun_common::{EXEC_COUNT_MAP, EXEC_COUNT_PROG, EXEC_COUNT_TRACEPOINT};
use nix::mount::{mount, MsFlags};
use nix::sys::statfs::{statfs, FsType};

use super::{BpfError, OBJECT};
use crate::state::StateLock;

/// `BPF_FS_MAGIC` from linux/magic.h.
const BPF_FS_MAGIC: FsType = FsType(0xcafe_4a11);
const BPFFS: &str = "/sys/fs/bpf";

/// Where a map is pinned.
pub(super) fn map_pin(pin_dir: &Path, name: &str) -> PathBuf {
    pin_dir.join("maps").join(name)
}

fn link_pin(pin_dir: &Path, name: &str) -> PathBuf {
    pin_dir.join("links").join(name)
}

/// Makes sure the programs are loaded, attached and pinned under `pin_dir`. The first caller
/// (under `lock_path`) loads; later callers find the pins and return at once.
pub fn ensure_loaded(pin_dir: &Path, lock_path: &Path) -> Result<(), BpfError> {
    let done = link_pin(pin_dir, EXEC_COUNT_PROG);
    if done.exists() {
        return Ok(());
    }
    let _lock = StateLock::exclusive(lock_path)?;
    if done.exists() {
        return Ok(());
    }
    mount_bpffs()?;
    // A half-made pin dir from a killed loader: start over.
    let _ = std::fs::remove_dir_all(pin_dir);
    for sub in ["maps", "links"] {
        let dir = pin_dir.join(sub);
        std::fs::create_dir_all(&dir).map_err(|source| BpfError::Io {
            op: "create",
            path: dir,
            source,
        })?;
    }
    let result = load_and_pin(pin_dir);
    if result.is_err() {
        let _ = std::fs::remove_dir_all(pin_dir);
    }
    result
}

fn load_and_pin(pin_dir: &Path) -> Result<(), BpfError> {
    let mut ebpf = Ebpf::load(OBJECT)?;
    let map = ebpf
        .map(EXEC_COUNT_MAP)
        .ok_or(BpfError::Missing(EXEC_COUNT_MAP))?;
    let path = map_pin(pin_dir, EXEC_COUNT_MAP);
    map.pin(&path)
        .map_err(|source| BpfError::Pin { path, source })?;

    let program: &mut RawTracePoint = ebpf
        .program_mut(EXEC_COUNT_PROG)
        .ok_or(BpfError::Missing(EXEC_COUNT_PROG))?
        .try_into()
        .map_err(|source| BpfError::Program {
            name: EXEC_COUNT_PROG,
            source,
        })?;
    let prog_err = |source| BpfError::Program {
        name: EXEC_COUNT_PROG,
        source,
    };
    program.load().map_err(prog_err)?;
    let link_id = program.attach(EXEC_COUNT_TRACEPOINT).map_err(prog_err)?;
    let link: FdLink = program.take_link(link_id).map_err(prog_err)?.into();
    // The link pin is written last: its presence means "fully loaded".
    let path = link_pin(pin_dir, EXEC_COUNT_PROG);
    link.pin(&path)
        .map_err(|source| BpfError::Pin { path, source })?;
    tracing::info!(pin_dir = %pin_dir.display(), "eBPF programs loaded and pinned");
    Ok(())
}

/// Removes every pin of the instance: links detach and maps go once no one holds them.
pub fn unload(pin_dir: &Path) -> Result<(), BpfError> {
    match std::fs::remove_dir_all(pin_dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(BpfError::Io {
            op: "remove",
            path: pin_dir.to_path_buf(),
            source: e,
        }),
        _ => Ok(()),
    }
}

fn mount_bpffs() -> Result<(), BpfError> {
    if matches!(statfs(BPFFS), Ok(s) if s.filesystem_type() == BPF_FS_MAGIC) {
        return Ok(());
    }
    mount(
        Some("bpf"),
        BPFFS,
        Some("bpf"),
        MsFlags::empty(),
        None::<&str>,
    )
    .map_err(BpfError::MountBpffs)
}
