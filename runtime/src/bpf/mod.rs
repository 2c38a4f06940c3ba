//! eBPF: loading the embedded programs once per host and root, pinning them under
//! `/sys/fs/bpf/<prefix>` (ARCHITECTURE.md point 3), and the per-container map entries.
//!
//! Nothing here needs a long-lived process: programs, links and maps live in bpffs pins, so
//! counting goes on while no ebrun runs, and any ebrun process reads the counters.

mod exec_counter;
mod loader;

pub use exec_counter::exec_count;
pub use loader::{ensure_loaded, unload};

use std::path::Path;

/// The BPF object built from `ebpf/ebrun-ebpf` by build.rs.
pub(crate) static OBJECT: &[u8] =
    aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/ebrun.bpf.o"));

/// Errors of the bpf module.
#[derive(Debug, thiserror::Error)]
pub enum BpfError {
    #[error("mount bpffs at /sys/fs/bpf: {0}")]
    MountBpffs(#[source] nix::Error),
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("load the eBPF object: {0}")]
    Load(#[from] aya::EbpfError),
    #[error("program {name}: {source}")]
    Program {
        name: &'static str,
        #[source]
        source: aya::programs::ProgramError,
    },
    #[error("pin {path}: {source}")]
    Pin {
        path: std::path::PathBuf,
        #[source]
        source: aya::pin::PinError,
    },
    #[error("map {name}: {source}")]
    Map {
        name: &'static str,
        #[source]
        source: aya::maps::MapError,
    },
    #[error("the eBPF object has no {0}")]
    Missing(&'static str),
    #[error("state lock: {0}")]
    State(#[from] crate::state::StateError),
}

/// Registers a container's cgroup2 id so the programs start counting for it.
pub fn register_cgroup(pin_dir: &Path, cgroup_id: u64) -> Result<(), BpfError> {
    exec_counter::register(pin_dir, cgroup_id)
}

/// Removes a container's entries from every map. Missing entries or pins are not an error.
pub fn forget_cgroup(pin_dir: &Path, cgroup_id: u64) -> Result<(), BpfError> {
    exec_counter::forget(pin_dir, cgroup_id)
}
