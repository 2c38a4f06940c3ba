//! ebrun runs from a read-only view of its own binary (CVE-2019-5736).
//!
//! A container can make a process that ebrun starts in it exec `/proc/self/exe` (as the
//! command, or as a script's interpreter), which is the host's ebrun binary; it then holds a
//! descriptor of that file and reopens it for writing through /proc/self/fd once no ebrun runs
//! it any more (after an upgrade, nothing keeps the new binary busy). So before doing anything
//! ebrun re-executes itself from a detached, read-only bind mount of its binary
//! (`open_tree(OPEN_TREE_CLONE)` + `mount_setattr(MOUNT_ATTR_RDONLY)`, as runc 1.2 falls back
//! to): every reopening of that file, from any namespace, is on a read-only mount (EROFS).
//! The helpers ebrun starts run `/proc/self/exe`, which is that view already, so only the
//! first process of a command pays for the extra exec. Without CAP_SYS_ADMIN or on a kernel
//! older than 5.12, ebrun runs as it is.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const OPEN_TREE_CLONE: libc::c_uint = 1;
const MOUNT_ATTR_RDONLY: u64 = 0x1;
const MOUNT_ATTR_NOSUID: u64 = 0x2;
const MOUNT_ATTR_NODEV: u64 = 0x4;

/// `mount_setattr(2)`'s `struct mount_attr`.
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// Whether this process's binary is on a read-only mount (then nothing is done).
pub fn running_sealed() -> bool {
    let path = c"/proc/self/exe";
    // SAFETY: an all-zero statvfs is valid; the kernel fills it.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: a NUL-terminated path and a valid out-pointer.
    let rc = unsafe { libc::statvfs(path.as_ptr(), &mut st) };
    rc == 0 && st.f_flag & libc::ST_RDONLY != 0
}

/// A read-only, detached view of this process's binary.
fn sealed_view() -> Option<OwnedFd> {
    let path = c"/proc/self/exe";
    // SAFETY: a NUL-terminated path; the returned descriptor is owned below.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            path.as_ptr(),
            OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint,
        )
    };
    if fd < 0 {
        return None;
    }
    // SAFETY: open_tree returned a new descriptor this function owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: an empty NUL-terminated path with AT_EMPTY_PATH on our descriptor, and a valid
    // mount_attr of the size passed; the kernel only reads them during the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH as libc::c_uint,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    (rc == 0).then_some(fd)
}

/// The commands that start no process in a container (they read state, the store or the
/// kernel, or signal processes): they run as they are, sparing the extra exec. Any other
/// command, ebrun-oci included, is sealed.
const NEVER_ENTER: [&str; 33] = [
    "ps", "images", "image", "inspect", "logs", "version", "info", "system", "stats", "top",
    "events", "network", "volume", "cp", "export", "save", "load", "pull", "push", "tag", "rmi",
    "rm", "stop", "kill", "wait", "pause", "port", "diff", "history", "import", "login", "rename",
    "help",
];

/// Whether the command line `args` (without the program name) may start a process in a
/// container: its first word that is not an option (nor `--root`'s or `--log-level`'s value)
/// is not one of [`NEVER_ENTER`].
pub fn may_enter_containers(args: &[String]) -> bool {
    let mut words = args.iter();
    while let Some(word) = words.next() {
        if word == "--root" || word == "--log-level" {
            words.next();
        } else if !word.starts_with('-') {
            return !NEVER_ENTER.contains(&word.as_str());
        }
    }
    false
}

/// Re-executes this process from a read-only view of its binary unless it runs from one
/// already or its command starts no process in a container; returns only when it does not
/// re-execute (ebrun then runs as it is).
pub fn reexec_sealed() {
    let words: Vec<String> = std::env::args().skip(1).collect();
    let oci = std::env::args()
        .next()
        .is_some_and(|a| a.ends_with("ebrun-oci"));
    if !oci && !may_enter_containers(&words) {
        return;
    }
    // A debug build can be weakened on purpose, to show the escape tests catch it.
    if cfg!(debug_assertions) && std::env::var_os("EBRUN_TEST_UNSEALED").is_some() {
        return;
    }
    if running_sealed() {
        return;
    }
    let Some(view) = sealed_view() else {
        return;
    };
    let args: Vec<CString> = std::env::args_os()
        .filter_map(|a| CString::new(a.into_encoded_bytes()).ok())
        .collect();
    let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    extern "C" {
        static environ: *const *const libc::c_char;
    }
    // SAFETY: argv is NUL-terminated and its strings outlive the call; environ is libc's own
    // environment; on success the call does not return.
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            view.as_raw_fd(),
            c"".as_ptr(),
            argv.as_ptr(),
            environ,
            libc::AT_EMPTY_PATH,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::may_enter_containers;

    fn words(line: &str) -> Vec<String> {
        line.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn commands_that_start_container_processes_are_sealed() {
        for line in [
            "run --rm busybox",
            "--root /x exec c sh",
            "--root /x --log-level debug start c",
            "--root=/x restart c",
            "oci create --bundle b c",
            "serve",
            "build .",
            "some-future-command",
        ] {
            assert!(may_enter_containers(&words(line)), "{line}");
        }
        for line in [
            "ps -a",
            "--root /x images",
            "--log-level info logs c",
            "",
            "--version",
        ] {
            assert!(!may_enter_containers(&words(line)), "{line}");
        }
    }
}
