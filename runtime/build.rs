//! Builds the kernel-side crate `ebpf/ebrun-ebpf` for bpfel-unknown-none with the nightly
//! toolchain and bpf-linker, and leaves the object in OUT_DIR for `include_bytes!`, so the
//! ebrun binary carries its BPF programs (users ship one file). `cargo xtask build-ebpf` runs
//! the same build on its own.
//!
//! The crate is outside the workspace (it must never be built for the host), so aya-build's
//! `--package` lookup cannot reach it; the build below mirrors aya-build's arguments.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let ebpf_dir = manifest_dir.join("../ebpf");
    println!(
        "cargo:rerun-if-changed={}",
        ebpf_dir.join("ebrun-ebpf/src").display()
    );
    println!(
        "cargo:rerun-if-changed={}",
        ebpf_dir.join("ebrun-ebpf/Cargo.toml").display()
    );
    println!(
        "cargo:rerun-if-changed={}",
        ebpf_dir.join("ebrun-common/src").display()
    );
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let target_dir = manifest_dir.join("../target/bpf");

    let mut cmd = Command::new("rustup");
    cmd.args(["run", "nightly", "cargo", "build", "--release"])
        .args(["--target", "bpfel-unknown-none", "-Z", "build-std=core"])
        .arg("--manifest-path")
        .arg(ebpf_dir.join("ebrun-ebpf/Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        .env(
            "CARGO_ENCODED_RUSTFLAGS",
            "-Cdebuginfo=2\x1f-Clink-arg=--btf",
        );
    for key in [
        "RUSTC",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTFLAGS",
        "CARGO_TARGET_DIR",
    ] {
        cmd.env_remove(key);
    }
    let status = cmd.status().unwrap_or_else(|e| {
        panic!("cannot run rustup to build the eBPF programs: {e}; run `cargo xtask setup`")
    });
    if !status.success() {
        panic!("building ebpf/ebrun-ebpf failed ({status}); `cargo xtask setup` installs nightly rust-src and bpf-linker");
    }
    let object = target_dir.join("bpfel-unknown-none/release/ebrun");
    std::fs::copy(&object, out_dir.join("ebrun.bpf.o"))
        .unwrap_or_else(|e| panic!("copy {}: {e}", object.display()));
    // Which build of the programs is pinned: the loader replaces pins of another build.
    let bytes = std::fs::read(&object).unwrap_or_else(|e| panic!("read {}: {e}", object.display()));
    println!(
        "cargo:rustc-env=EBRUN_BPF_OBJECT_HASH={:016x}",
        fnv1a(&bytes)
    );
}

/// FNV-1a, 64 bits: enough to tell two builds of the eBPF object apart.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}
