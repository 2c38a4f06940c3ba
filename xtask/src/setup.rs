//! `cargo xtask setup`: installs what a fresh Debian 12 machine lacks, idempotently, with one
//! status line per step. A second run changes nothing and says so.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::util;

#[derive(Debug, clap::Args)]
pub struct Args {}

/// Debian packages the build, the tests, the demo and the benchmark need.
const PACKAGES: &[&str] = &[
    // bpf-linker is built against LLVM 22 (the LLVM of the nightly toolchain).
    "llvm-22-dev",
    "libpolly-22-dev",
    "libzstd-dev",
    "zlib1g-dev",
    // rustables (ebrun's in-process nf_tables client) generates its bindings with bindgen.
    "libclang-dev",
    // Test images and reference runtimes.
    "busybox-static",
    "crun",
    "runc",
    // `ebrun oci` under a real containerd (ctr and the io.containerd.runc.v2 shim).
    "containerd",
    "skopeo",
    "umoci",
    "debootstrap",
    // Registry tests and the pull benchmark: a real registry, htpasswd, podman to compare.
    "docker-registry",
    "apache2-utils",
    "podman",
    // `cargo xtask test-v2`: a Debian kernel booted under qemu with cgroup v2 only.
    "qemu-system-x86",
    "linux-image-amd64",
    "cpio",
    // Networking, benchmarking, inspection.
    "nftables",
    "iptables",
    "iproute2",
    "hyperfine",
    "jq",
    // The escape tests trace `cp` (CVE-2019-14271: no library of the container is loaded).
    "strace",
    // The network tests' outside host fetches with curl and talks UDP with python3.
    "curl",
    "python3",
    // The Engine API's clients: Debian's docker-compose and the Python Docker SDK.
    "docker-compose",
    "python3-docker",
    // The Engine API's TLS test makes its CA and certificates with openssl.
    "openssl",
    "iperf3",
    // `ebrun serve` tests: promtool lints /metrics, a real Prometheus runs the dashboards' queries.
    "prometheus",
];

/// Installed when the distribution has them.
const OPTIONAL_PACKAGES: &[&str] = &["bpftool"];

const BPF_LINKER_VERSION: &str = "0.13.0";
const LLVM_MAJOR: &str = "22";

pub fn run(_args: Args) -> Result<()> {
    util::require_root("setup")?;
    let mut changed = false;
    changed |= debian_packages()?;
    changed |= bpf_linker()?;
    changed |= nightly()?;
    changed |= bpffs()?;
    changed |= crate::image::run(crate::image::Args {
        force: false,
        images: Vec::new(),
    })?;
    if changed {
        println!("setup: done");
    } else {
        println!("setup: nothing to do, everything was already in place");
    }
    Ok(())
}

fn installed(package: &str) -> bool {
    util::try_output(Command::new("dpkg-query").args(["-W", "-f=${Status}", package]))
        .is_some_and(|s| s.trim() == "install ok installed")
}

/// Whether apt knows an installable version of `package`.
fn has_candidate(package: &str) -> bool {
    util::try_output(Command::new("apt-cache").args(["policy", package])).is_some_and(|out| {
        out.lines()
            .filter_map(|l| l.trim().strip_prefix("Candidate:"))
            .any(|c| c.trim() != "(none)")
    })
}

fn apt_get() -> Command {
    let mut cmd = Command::new("apt-get");
    cmd.env("DEBIAN_FRONTEND", "noninteractive");
    cmd
}

fn debian_packages() -> Result<bool> {
    let mut missing: Vec<&str> = PACKAGES.iter().copied().filter(|p| !installed(p)).collect();
    let optional: Vec<&str> = OPTIONAL_PACKAGES
        .iter()
        .copied()
        .filter(|p| !installed(p))
        .collect();
    if missing.is_empty() && optional.iter().all(|p| !has_candidate(p)) {
        for p in &optional {
            println!("[skip] {p} (not available from apt here)");
        }
        println!("[ok] debian packages (already installed)");
        return Ok(false);
    }
    util::run(apt_get().args(["update", "-q"]))?;
    let mut skipped = Vec::new();
    for p in optional {
        if has_candidate(p) {
            missing.push(p);
        } else {
            skipped.push(p);
        }
    }
    util::run(
        apt_get()
            .args(["install", "-y", "-q", "--no-install-recommends"])
            .args(&missing),
    )?;
    for p in skipped {
        println!("[skip] {p} (not available from apt here)");
    }
    println!("[done] debian packages: installed {}", missing.join(" "));
    Ok(true)
}

fn bpf_linker_version() -> Option<String> {
    util::try_output(Command::new("bpf-linker").arg("--version"))
        .or_else(|| {
            let home = std::env::var_os("CARGO_HOME")
                .map(std::path::PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))?;
            util::try_output(Command::new(home.join("bin/bpf-linker")).arg("--version"))
        })
        .map(|s| s.trim().to_string())
}

fn bpf_linker() -> Result<bool> {
    if let Some(v) = bpf_linker_version() {
        if v.split_whitespace().any(|w| w == BPF_LINKER_VERSION) {
            println!("[ok] bpf-linker {BPF_LINKER_VERSION} (already installed)");
            return Ok(false);
        }
        println!("found {v}, installing {BPF_LINKER_VERSION}");
    }
    let llvm_prefix = format!("/usr/lib/llvm-{LLVM_MAJOR}");
    if !Path::new(&llvm_prefix).join("bin/llvm-config").exists() {
        bail!("{llvm_prefix}/bin/llvm-config is missing: install llvm-{LLVM_MAJOR}-dev");
    }
    util::run(
        Command::new("cargo")
            .env("LLVM_PREFIX", &llvm_prefix)
            .args(["install", &format!("bpf-linker@{BPF_LINKER_VERSION}")])
            .args([
                "--no-default-features",
                "--features",
                &format!("llvm-{LLVM_MAJOR}"),
            ]),
    )?;
    println!("[done] bpf-linker {BPF_LINKER_VERSION} built against LLVM {LLVM_MAJOR}");
    Ok(true)
}

fn nightly() -> Result<bool> {
    let mut changed = false;
    let toolchains = util::output(Command::new("rustup").args(["toolchain", "list"]))?;
    if toolchains.lines().any(|l| l.starts_with("nightly")) {
        println!("[ok] rust nightly toolchain (already installed)");
    } else {
        util::run(Command::new("rustup").args([
            "toolchain",
            "install",
            "nightly",
            "--profile",
            "minimal",
        ]))?;
        println!("[done] rust nightly toolchain installed");
        changed = true;
    }
    let components = util::output(Command::new("rustup").args([
        "component",
        "list",
        "--installed",
        "--toolchain",
        "nightly",
    ]))?;
    if components.lines().any(|l| l.trim().starts_with("rust-src")) {
        println!("[ok] nightly rust-src (already installed)");
    } else {
        util::run(Command::new("rustup").args([
            "component",
            "add",
            "rust-src",
            "--toolchain",
            "nightly",
        ]))?;
        println!("[done] nightly rust-src installed");
        changed = true;
    }
    Ok(changed)
}

fn bpffs() -> Result<bool> {
    let bpf = Path::new("/sys/fs/bpf");
    let mounted = util::mounts()?
        .iter()
        .any(|m| m.mount_point == bpf && m.fstype == "bpf");
    if mounted {
        println!("[ok] bpffs at /sys/fs/bpf (already mounted)");
        return Ok(false);
    }
    std::fs::create_dir_all(bpf).context("create /sys/fs/bpf")?;
    util::run(Command::new("mount").args(["-t", "bpf", "bpf", "/sys/fs/bpf"]))?;
    println!("[done] bpffs mounted at /sys/fs/bpf");
    Ok(true)
}
