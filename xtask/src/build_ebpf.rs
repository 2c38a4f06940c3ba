//! `cargo xtask build-ebpf`: builds the kernel-side crate `ebpf/ebrun-ebpf` (outside the
//! workspace: it only builds for bpfel-unknown-none) with the nightly toolchain and
//! bpf-linker, as `runtime/build.rs` does when it embeds the object into ebrun, and prints the
//! object's path. Flags as aya-build passes them (BTF and debug info for CO-RE and aya-log).

use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Result};

use crate::util;

#[derive(Debug, clap::Args)]
pub struct Args {}

/// The BPF target of the kernel-side crate.
pub const BPF_TARGET: &str = "bpfel-unknown-none";

/// The rustflags aya-build passes (joined with 0x1f, as `CARGO_ENCODED_RUSTFLAGS` wants).
pub const ENCODED_RUSTFLAGS: &str = "-Cdebuginfo=2\x1f-Clink-arg=--btf";

/// The build command, run from the workspace root.
pub fn command() -> Command {
    let root = util::workspace_root();
    let mut cmd = Command::new("rustup");
    cmd.current_dir(&root)
        .args(["run", "nightly", "cargo", "build", "--release"])
        .args(["--target", BPF_TARGET, "-Z", "build-std=core"])
        .arg("--manifest-path")
        .arg(root.join("ebpf/ebrun-ebpf/Cargo.toml"))
        .arg("--target-dir")
        .arg(bpf_target_dir())
        .env("CARGO_ENCODED_RUSTFLAGS", ENCODED_RUSTFLAGS);
    // The stable toolchain's settings must not leak into the nightly build.
    for key in [
        "RUSTC",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTFLAGS",
        "CARGO_TARGET_DIR",
    ] {
        cmd.env_remove(key);
    }
    cmd
}

/// `target/bpf`, the eBPF crate's own target directory.
fn bpf_target_dir() -> PathBuf {
    util::target_dir().join("bpf")
}

/// The object the build leaves.
pub fn object_path() -> PathBuf {
    bpf_target_dir().join(BPF_TARGET).join("release/ebrun")
}

/// Builds and returns the object's path.
pub fn run(_args: Args) -> Result<PathBuf> {
    util::run(&mut command())?;
    let object = object_path();
    if !object.is_file() {
        bail!("the build succeeded but {} is missing", object.display());
    }
    println!("{}", object.display());
    Ok(object)
}
