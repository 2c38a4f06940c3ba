//! Attaching and detaching loaded programs from the bench, so that one measurement runs with
//! a program and the next without, many times over: the few bpf(2) commands this needs
//! (a program fd by id or by pin, a BTF tracepoint link, a cgroup link), nothing else.

use std::os::fd::{FromRawFd, OwnedFd};

use anyhow::{Context, Result};

const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_RAW_TRACEPOINT_OPEN: libc::c_long = 17;

/// `union bpf_attr` for BPF_PROG_GET_FD_BY_ID: prog_id, next_id, open_flags.
#[repr(C)]
#[derive(Default)]
struct GetFdById {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
}

/// `union bpf_attr` for BPF_RAW_TRACEPOINT_OPEN: name (0 for a BTF tracepoint program,
/// which names its tracepoint at load), prog_fd.
#[repr(C, align(8))]
#[derive(Default)]
struct RawTracepointOpen {
    name: u64,
    prog_fd: u32,
    _pad: u32,
}

/// bpf(2) with an attribute struct; the new fd.
fn bpf<T>(cmd: libc::c_long, attr: &T, what: &str) -> Result<OwnedFd> {
    // SAFETY: `attr` is a live, initialised `union bpf_attr` prefix of the given size; the
    // kernel only reads it (both commands return a new fd and write nothing back).
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *const T,
            std::mem::size_of::<T>() as libc::c_uint,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).context(what.to_string());
    }
    // SAFETY: a new fd the kernel just returned, owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// An fd of the loaded program with id `id` (it stays loaded while the fd is open).
pub fn prog_fd(id: u32) -> Result<OwnedFd> {
    let attr = GetFdById {
        prog_id: id,
        ..Default::default()
    };
    bpf(
        BPF_PROG_GET_FD_BY_ID,
        &attr,
        &format!("open BPF program id {id}"),
    )
}

/// Attaches BTF tracepoint program `prog` to its tracepoint; dropping the link detaches it.
pub fn attach_btf_tracepoint(prog: &OwnedFd) -> Result<OwnedFd> {
    use std::os::fd::AsRawFd;
    let attr = RawTracepointOpen {
        prog_fd: prog.as_raw_fd() as u32,
        ..Default::default()
    };
    bpf(
        BPF_RAW_TRACEPOINT_OPEN,
        &attr,
        "attach the BTF tracepoint program",
    )
}

const BPF_OBJ_GET: libc::c_long = 7;
const BPF_LINK_CREATE: libc::c_long = 28;
/// `enum bpf_attach_type`: BPF_CGROUP_INET_INGRESS, BPF_CGROUP_INET_EGRESS.
pub const CGROUP_INET_INGRESS: u32 = 0;
pub const CGROUP_INET_EGRESS: u32 = 1;

/// `union bpf_attr` for BPF_OBJ_GET: pathname, bpf_fd, file_flags.
#[repr(C, align(8))]
#[derive(Default)]
struct ObjGet {
    pathname: u64,
    bpf_fd: u32,
    file_flags: u32,
}

/// `union bpf_attr` for BPF_LINK_CREATE (the common part): prog_fd, target_fd, attach_type,
/// flags.
#[repr(C, align(8))]
#[derive(Default)]
struct LinkCreate {
    prog_fd: u32,
    target_fd: u32,
    attach_type: u32,
    flags: u32,
}

/// The program pinned at `path`.
pub fn pinned_prog(path: &std::path::Path) -> Result<OwnedFd> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())?;
    let attr = ObjGet {
        pathname: c_path.as_ptr() as u64,
        ..Default::default()
    };
    bpf(BPF_OBJ_GET, &attr, &format!("open {}", path.display()))
}

/// Attaches cgroup program `prog` to cgroup directory `cgroup` at `attach_type`; dropping
/// the link detaches it.
pub fn attach_cgroup(
    prog: &OwnedFd,
    cgroup: &std::path::Path,
    attach_type: u32,
) -> Result<OwnedFd> {
    use std::os::fd::AsRawFd;
    let dir = std::fs::File::open(cgroup).with_context(|| format!("open {}", cgroup.display()))?;
    let attr = LinkCreate {
        prog_fd: prog.as_raw_fd() as u32,
        target_fd: dir.as_raw_fd() as u32,
        attach_type,
        flags: 0,
    };
    bpf(
        BPF_LINK_CREATE,
        &attr,
        &format!("attach a program to {}", cgroup.display()),
    )
}
