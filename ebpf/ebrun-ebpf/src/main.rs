//! ebrun's kernel-side programs. One file per probe; this file only gathers them.
#![no_std]
#![no_main]
#![feature(core_intrinsics)]
#![allow(internal_features)]

mod atomic;
mod device_allowlist;
mod exec_count;
mod oom_victim;
mod sched_switch;
mod traffic;
mod vmscan_reclaim;

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 4] = *b"GPL\0";
