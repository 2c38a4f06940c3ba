//! Docker's default device rules for a container's cgroup on cgroup v2, where no devices
//! controller exists: any node may be created (mknod), but only the standard ones (null,
//! zero, full, random, urandom, tty, console, ptmx, pts, tun) may be read or written.
//! Returns 1 to allow, 0 to refuse (EPERM).

use aya_ebpf::{macros::cgroup_device, programs::DeviceContext};

/// `BPF_DEVCG_DEV_CHAR` (the low half of `access_type`).
const DEV_CHAR: u32 = 2;
/// `BPF_DEVCG_ACC_MKNOD` (the high half of `access_type`).
const ACC_MKNOD: u32 = 1;

#[cgroup_device]
pub fn device_allowlist(ctx: DeviceContext) -> i32 {
    // SAFETY: the kernel passes a valid bpf_cgroup_dev_ctx for the program's lifetime.
    let dev = unsafe { &*ctx.device };
    let kind = dev.access_type & 0xffff;
    let access = dev.access_type >> 16;
    if access & !ACC_MKNOD == 0 {
        return 1;
    }
    if kind != DEV_CHAR {
        return 0;
    }
    i32::from(allowed_char(dev.major, dev.minor))
}

fn allowed_char(major: u32, minor: u32) -> bool {
    matches!(
        (major, minor),
        (1, 3)
            | (1, 5)
            | (1, 7)
            | (1, 8)
            | (1, 9)
            | (5, 0)
            | (5, 1)
            | (5, 2)
            | (136, _)
            | (10, 200)
    )
}
