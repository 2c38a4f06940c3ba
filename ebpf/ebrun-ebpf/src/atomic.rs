//! Atomic adds on map values shared between CPUs. The bpfel target has no compare-and-swap,
//! and with the generic CPU model LLVM cannot use the old value of an atomic add (that needs
//! BPF_FETCH): only plain atomic adds are available.

use core::intrinsics::{atomic_xadd, AtomicOrdering};

/// Adds `v` to `*p`.
///
/// # Safety
/// `p` points into a live map value, 8-byte aligned.
#[inline(always)]
pub unsafe fn add(p: *mut u64, v: u64) {
    // SAFETY: the caller guarantees a valid, aligned pointer into a map value.
    unsafe { atomic_xadd::<u64, u64, { AtomicOrdering::Relaxed }>(p, v) };
}
