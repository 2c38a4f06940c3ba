//! ebrun's kernel-side programs. One file per probe; this file only gathers them.
#![no_std]
#![no_main]

mod exec_count;

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 4] = *b"GPL\0";
