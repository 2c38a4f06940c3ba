//! Attaching the device allowlist program to a container's cgroup2 dir: on a cgroup v2
//! host this is what keeps a container's root from opening the host's disks (the v1
//! devices controller does it on v1 and hybrid hosts, where the program is attached too).
//!
//! The program is attached the classic way (BPF_PROG_ATTACH), not as a bpf link: such an
//! attachment belongs to the cgroup and lasts until the cgroup is removed, with no pinned
//! link to keep (aya's CgroupDevice links cannot be pinned).

use std::os::fd::{AsFd, AsRawFd};
use std::path::Path;

use aya::programs::CgroupDevice;
use ebrun_common::devices::DEVICE_ALLOWLIST_PROG;

use super::pins::prog_pin;
use super::BpfError;

/// `BPF_PROG_ATTACH` from linux/bpf.h.
const BPF_PROG_ATTACH: libc::c_long = 8;
/// `BPF_CGROUP_DEVICE` from linux/bpf.h.
const BPF_CGROUP_DEVICE: u32 = 6;

/// The leading fields of `union bpf_attr` for BPF_PROG_ATTACH.
#[repr(C)]
#[derive(Default)]
struct ProgAttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

/// Attaches the allowlist to `cgroup_dir`; it goes when the cgroup is removed.
pub(super) fn attach(pin_dir: &Path, cgroup_dir: &Path) -> Result<(), BpfError> {
    let name = DEVICE_ALLOWLIST_PROG;
    let prog_err = |source| BpfError::Program { name, source };
    let program = CgroupDevice::from_pin(prog_pin(pin_dir, name)).map_err(prog_err)?;
    let prog_fd = program.fd().map_err(prog_err)?;
    let cgroup = std::fs::File::open(cgroup_dir).map_err(|source| BpfError::Io {
        op: "open",
        path: cgroup_dir.to_path_buf(),
        source,
    })?;
    let attr = ProgAttachAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog_fd.as_fd().as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        ..ProgAttachAttr::default()
    };
    // SAFETY: bpf(2) reads `size_of::<ProgAttachAttr>()` bytes of a live, initialised
    // struct laid out as the kernel's bpf_attr prefix; both descriptors are open.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_ATTACH,
            &attr as *const ProgAttachAttr,
            std::mem::size_of::<ProgAttachAttr>(),
        )
    };
    if rc != 0 {
        return Err(BpfError::Io {
            op: "attach the device allowlist to",
            path: cgroup_dir.to_path_buf(),
            source: std::io::Error::last_os_error(),
        });
    }
    Ok(())
}
