//! `cargo xtask test-v2`: runs the resource-limit tests (tests/tests/limits.rs), the eBPF
//! meter tests (tests/tests/meters.rs) and the in-container view (tests/tests/
//! in_container_view.rs: /sys/fs/cgroup, a JVM's limits) on a pure cgroup v2 kernel, the
//! layout most users have, inside a qemu VM.
//!
//! The guest is Debian's linux-image-amd64 booted with `cgroup_no_v1=all` under software
//! emulation (`-accel tcg -cpu max`: this host's KVM cannot run a stock Debian kernel, see
//! PLATFORM.md). A small initramfs (busybox, the virtio and 9p modules) mounts the host's
//! /usr, the cargo target directory and the test images read-only over virtio-9p at the same
//! paths, switches to a tmpfs root that mirrors the host's layout, mounts cgroup2 with the
//! cpu, cpuset, memory, pids and io controllers enabled, mounts a scratch ext4 disk (made
//! on the host as a sparse file) at /var/tmp, where the tests keep their
//! roots (page cache there is reclaimable, as on a real host; tmpfs is not), and runs each
//! suite's test binary against a copy of the ebrun binary (copies, so that a rebuild on the
//! host meanwhile does not change them under the guest). The guest prints a result marker
//! per suite on its serial console; the VM powers itself off. Nothing on the host changes
//! besides the build and a temporary directory under the target directory.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::util;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Stop the VM after this many seconds (all suites take 25-30 minutes under TCG).
    #[arg(long, default_value_t = 2700)]
    pub timeout: u64,
    /// Virtual CPUs of the guest (the cpuset tests need 2).
    #[arg(long, default_value_t = 2)]
    pub cpus: u32,
    /// Guest memory in MiB.
    #[arg(long, default_value_t = 2048)]
    pub memory: u32,
    /// Which tests to run in the guest.
    #[arg(long, value_enum, default_value_t = Suite::All)]
    pub suite: Suite,
    /// Size of the guest's scratch disk (/var/tmp) in MiB; a sparse file on the host.
    #[arg(long, default_value_t = 4096)]
    pub disk: u32,
    /// Arguments for each test binary (after `--`), e.g. a test name filter.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub test_args: Vec<String>,
}

/// The test suites the guest can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Suite {
    /// tests/tests/limits.rs: cgroup resource limits.
    Limits,
    /// tests/tests/meters.rs: the eBPF meters against ground truth.
    Meters,
    /// tests/tests/in_container_view.rs: what a process inside sees (/sys/fs/cgroup, a JVM).
    View,
    /// All of them, limits first.
    All,
}

impl Suite {
    /// The test targets (tests/tests/<name>.rs) of the suite.
    fn targets(self) -> &'static [&'static str] {
        match self {
            Suite::Limits => &["limits"],
            Suite::Meters => &["meters"],
            Suite::View => &["in_container_view"],
            Suite::All => &["limits", "meters", "in_container_view"],
        }
    }
}

/// The line the guest prints when all suites have run.
const RESULT_MARKER: &str = "EBRUN-TEST-V2-RESULT rc=";
/// The line the guest prints after each suite: `<marker><suite> rc=<code>`.
const SUITE_MARKER: &str = "EBRUN-TEST-V2-SUITE ";

/// Modules the initramfs loads, in dependency order, to reach the 9p shares.
const SHARE_MODULES: &[&str] = &[
    "drivers/virtio/virtio_ring",
    "drivers/virtio/virtio",
    "drivers/virtio/virtio_pci_modern_dev",
    "drivers/virtio/virtio_pci_legacy_dev",
    "drivers/virtio/virtio_pci",
    "fs/netfs/netfs",
    "fs/fscache/fscache",
    "net/9p/9pnet",
    "net/9p/9pnet_virtio",
    "fs/9p/9p",
];

/// A Debian kernel with its modules.
struct Kernel {
    image: PathBuf,
    modules: PathBuf,
    version: String,
}

pub fn run(args: Args) -> Result<()> {
    util::require_root("test-v2")?;
    crate::image::require_images()?;
    let started = Instant::now();
    let kernel = find_kernel()?;
    let qemu = which("qemu-system-x86_64")
        .context("qemu-system-x86_64 is missing: run `cargo xtask setup` (qemu-system-x86)")?;
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .context("busybox is missing: run `cargo xtask setup` (busybox-static)")?;

    util::run(util::cargo().args(["build", "-p", "ebrun"]))?;
    let target = util::target_dir();
    let images = util::images_dir();
    util::remove_stale_temp_dirs(&target.join("test-v2"), "vm-");
    let work = util::TempDir::new_in(&target.join("test-v2"), "vm-")?;
    // Copies in the shared target directory: the guest sees them, a rebuild does not touch them.
    let bin_dir = work.path().join("bin");
    std::fs::create_dir_all(&bin_dir)?;
    let ebrun = bin_dir.join("ebrun");
    copy_executable(&target.join("debug/ebrun"), &ebrun)?;
    let mut suites = Vec::new();
    for name in args.suite.targets() {
        let built = build_test(name)?;
        let copy = bin_dir.join(name);
        copy_executable(&built, &copy)?;
        suites.push(((*name).to_string(), copy));
    }
    let disk = work.path().join("scratch.ext4");
    make_scratch_disk(&disk, args.disk)?;
    let initramfs = work.path().join("initramfs.cpio");
    build_initramfs(
        &work.path().join("initramfs"),
        &initramfs,
        &kernel,
        &busybox,
        &Guest {
            target: &target,
            images: &images,
            suites: &suites,
            ebrun: &ebrun,
            test_args: &args.test_args,
            watchdog_secs: args.timeout.saturating_sub(120).max(60),
        },
    )?;
    println!(
        "test-v2: booting Debian kernel {} (cgroup v2 only) under qemu TCG, {} vCPUs, {} MiB",
        kernel.version, args.cpus, args.memory
    );

    let mut qemu_cmd = Command::new(qemu);
    qemu_cmd
        .args(["-accel", "tcg", "-cpu", "max", "-machine", "q35"])
        .args([
            "-smp",
            &args.cpus.to_string(),
            "-m",
            &args.memory.to_string(),
        ])
        .arg("-kernel")
        .arg(&kernel.image)
        .arg("-initrd")
        .arg(&initramfs)
        .args([
            "-append",
            "console=ttyS0 cgroup_no_v1=all panic=-1 loglevel=4 quiet",
            "-display",
            "none",
            "-serial",
            "stdio",
            "-monitor",
            "none",
            "-nic",
            "none",
            "-no-reboot",
        ])
        .arg("-drive")
        .arg(format!(
            "file={},format=raw,if=virtio,cache=unsafe",
            disk.display()
        ));
    for (tag, path) in [
        ("usr", Path::new("/usr")),
        ("target", &target),
        ("images", &images),
    ] {
        qemu_cmd.arg("-virtfs").arg(format!(
            "local,path={},mount_tag={tag},security_model=passthrough,readonly=on",
            path.display()
        ));
    }
    let log_path = target.join("test-v2/console.log");
    let outcome = run_vm(&mut qemu_cmd, &log_path, Duration::from_secs(args.timeout))?;
    let elapsed = started.elapsed();
    match outcome {
        VmOutcome::Finished { rc, suites } => {
            for s in &suites {
                println!(
                    "test-v2: {:<7} {} on cgroup v2 ({})",
                    s.name,
                    if s.rc == Some(0) { "PASSED" } else { "FAILED" },
                    s.summary.as_deref().unwrap_or("no summary"),
                );
            }
            println!(
                "test-v2: {} in {:.0} s; console log: {}",
                if rc == 0 { "PASSED" } else { "FAILED" },
                elapsed.as_secs_f64(),
                log_path.display()
            );
            if rc != 0 {
                let failed: Vec<&str> = suites
                    .iter()
                    .filter(|s| s.rc != Some(0))
                    .map(|s| s.name.as_str())
                    .collect();
                bail!(
                    "tests failed inside the cgroup v2 guest: {} (exit code {rc})",
                    failed.join(", ")
                );
            }
            Ok(())
        }
        VmOutcome::NoResult(why) => bail!(
            "the cgroup v2 guest gave no result ({why}) after {:.0} s; see {}",
            elapsed.as_secs_f64(),
            log_path.display()
        ),
    }
}

/// The newest /boot/vmlinuz-*-amd64 whose modules are installed.
fn find_kernel() -> Result<Kernel> {
    let mut found: Vec<Kernel> = std::fs::read_dir("/boot")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let version = name.strip_prefix("vmlinuz-")?.to_string();
            let modules = Path::new("/usr/lib/modules").join(&version);
            modules.join("kernel").is_dir().then(|| Kernel {
                image: e.path(),
                modules,
                version,
            })
        })
        .collect();
    found.sort_by(|a, b| a.version.cmp(&b.version));
    found.pop().context(
        "no Debian kernel in /boot with modules in /usr/lib/modules: run `cargo xtask setup` \
         (linux-image-amd64)",
    )
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_string_lossy()
        .split(':')
        .map(|d| Path::new(d).join(program))
        .find(|p| p.exists())
}

/// Builds test target `name` (tests/tests/<name>.rs) and returns its executable.
fn build_test(name: &str) -> Result<PathBuf> {
    let mut cmd = util::cargo();
    cmd.args([
        "test",
        "-p",
        "ebrun-tests",
        "--test",
        name,
        "--no-run",
        "--message-format=json",
    ]);
    println!("$ {}", util::display_cmd(&cmd));
    let out = cmd.stderr(Stdio::inherit()).output()?;
    if !out.status.success() {
        bail!("building the {name} test failed");
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["reason"] == "compiler-artifact" && v["target"]["name"] == name)
        .find_map(|v| v["executable"].as_str().map(PathBuf::from))
        .with_context(|| format!("cargo did not report the {name} test executable"))
}

fn copy_executable(from: &Path, to: &Path) -> Result<()> {
    std::fs::copy(from, to)
        .with_context(|| format!("copy {} to {}", from.display(), to.display()))?;
    Ok(())
}

/// A sparse file of `mib` MiB holding an empty ext4 file system, for the guest's /var/tmp.
fn make_scratch_disk(path: &Path, mib: u32) -> Result<()> {
    let file = std::fs::File::create(path).with_context(|| format!("create {}", path.display()))?;
    file.set_len(u64::from(mib) << 20)?;
    drop(file);
    util::output(
        Command::new("mkfs.ext4")
            .args(["-q", "-F", "-E", "nodiscard", "-O", "^has_journal"])
            .arg(path),
    )
    .context("mkfs.ext4 (e2fsprogs) for the guest's scratch disk")?;
    Ok(())
}

/// What the guest runs.
struct Guest<'a> {
    target: &'a Path,
    images: &'a Path,
    /// (suite name, test binary), run in this order.
    suites: &'a [(String, PathBuf)],
    ebrun: &'a Path,
    test_args: &'a [String],
    /// Seconds after which the guest reports its processes and stops the tests.
    watchdog_secs: u64,
}

fn build_initramfs(
    staging: &Path,
    out: &Path,
    kernel: &Kernel,
    busybox: &Path,
    guest: &Guest,
) -> Result<()> {
    for dir in ["bin", "modules", "proc", "sys", "dev", "newroot"] {
        std::fs::create_dir_all(staging.join(dir))?;
    }
    std::fs::copy(busybox, staging.join("bin/busybox")).context("copy busybox")?;
    let mut loads = String::new();
    for module in SHARE_MODULES {
        let src = kernel.modules.join("kernel").join(format!("{module}.ko"));
        let name = Path::new(module).file_name().unwrap().to_string_lossy();
        std::fs::copy(&src, staging.join("modules").join(format!("{name}.ko")))
            .with_context(|| format!("copy {}", src.display()))?;
        loads.push_str(&format!(
            "insmod /modules/{name}.ko || echo \"insmod {name} failed\"\n"
        ));
    }
    let quote = |p: &Path| shell_quote(&p.to_string_lossy());
    let init = format!(
        r#"#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
{loads}
mount -t tmpfs -o mode=0755 tmpfs /newroot
cd /newroot
mkdir -p usr proc sys dev tmp var/tmp run etc root /newroot{target} /newroot{images}
ln -s usr/bin bin; ln -s usr/sbin sbin; ln -s usr/lib lib; ln -s usr/lib64 lib64
opts=trans=virtio,version=9p2000.L,msize=512000,cache=loose,ro
mount -t 9p -o $opts usr /newroot/usr || echo "mount usr failed"
mount -t 9p -o $opts target /newroot{target} || echo "mount target failed"
mount -t 9p -o $opts images /newroot{images} || echo "mount images failed"
cp /stage2 /newroot/stage2
mount --move /proc /newroot/proc
mount --move /sys /newroot/sys
mount --move /dev /newroot/dev
exec switch_root /newroot /usr/bin/sh /stage2
"#,
        target = quote(guest.target),
        images = quote(guest.images),
    );
    let test_args: Vec<String> = guest.test_args.iter().map(|a| shell_quote(a)).collect();
    let suites: String = guest
        .suites
        .iter()
        .map(|(name, bin)| format!("run_suite {} {}\n", shell_quote(name), quote(bin)))
        .collect();
    let stage2 = format!(
        r#"#!/usr/bin/sh
export PATH=/usr/sbin:/usr/bin HOME=/root
mount -t cgroup2 none /sys/fs/cgroup
for c in cpu cpuset memory pids io; do
    echo "+$c" > /sys/fs/cgroup/cgroup.subtree_control || echo "cannot enable $c"
done
mount -t bpf bpf /sys/fs/bpf
mkdir -p /dev/pts /dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /var/tmp
mount -t tmpfs tmpfs /run
echo /usr/sbin/modprobe > /proc/sys/kernel/modprobe
modprobe overlay
modprobe virtio_blk && modprobe ext4 && mount -t ext4 /dev/vda /var/tmp \
    || echo "guest: no scratch disk, /var/tmp is tmpfs"
echo 'root:x:0:0:root:/root:/bin/sh' > /etc/passwd
echo 'root:x:0:' > /etc/group
echo '127.0.0.1 localhost' > /etc/hosts
: > /etc/resolv.conf
ip link set lo up 2>/dev/null
echo "guest: Linux $(uname -r), $(nproc) CPUs, cgroup2 controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
grep -c ' - cgroup ' /proc/self/mountinfo | sed 's/^/guest: cgroup v1 mounts: /'
for i in 1 2; do
    t0=$(date +%s%N); {ebrun} --version > /dev/null; t1=$(date +%s%N)
    echo "guest: ebrun --version took $(( (t1 - t0) / 1000000 )) ms"
done
start=$(date +%s)
# A hung test shows what the guest was doing instead of silently using up the timeout; the
# suites after it are skipped.
( sleep {watchdog}; echo; echo "guest: tests still running after {watchdog} s:";
  ps -eo pid,ppid,stat,etime,args; : > /run/timed-out; kill -9 $(cat /run/suite.pid) ) &
watchdog=$!
rc=0
run_suite() {{
    name=$1; shift
    t0=$(date +%s)
    echo "guest: suite $name"
    if [ -e /run/timed-out ]; then
        echo "guest: suite $name skipped (out of time)"
        suite_rc=124
    else
        EBRUN_BIN={ebrun} EBRUN_TEST_IMAGES={images} EBRUN_TEST_SLOW=2 RUST_BACKTRACE=1 \
            "$@" --test-threads=1 --nocapture {test_args} &
        echo $! > /run/suite.pid
        wait $!
        suite_rc=$?
    fi
    echo "guest: suite $name took $(( $(date +%s) - t0 )) s"
    echo "{suite_marker}$name rc=$suite_rc"
    [ $suite_rc -eq 0 ] || rc=$suite_rc
}}
{suites}
kill $watchdog 2>/dev/null
echo "guest: tests took $(( $(date +%s) - start )) s"
echo "{marker}$rc"
sync
echo 1 > /proc/sys/kernel/sysrq
echo o > /proc/sysrq-trigger
sleep 30
"#,
        ebrun = quote(guest.ebrun),
        images = quote(guest.images),
        suites = suites,
        test_args = test_args.join(" "),
        watchdog = guest.watchdog_secs,
        marker = RESULT_MARKER,
        suite_marker = SUITE_MARKER,
    );
    write_executable(&staging.join("init"), &init)?;
    write_executable(&staging.join("stage2"), &stage2)?;

    let list = util::output(Command::new("find").arg(".").current_dir(staging))?;
    let file = std::fs::File::create(out).with_context(|| format!("create {}", out.display()))?;
    let mut cpio = Command::new("cpio")
        .args(["-o", "-H", "newc", "--quiet"])
        .current_dir(staging)
        .stdin(Stdio::piped())
        .stdout(file)
        .spawn()
        .context("run cpio (install it: cargo xtask setup)")?;
    cpio.stdin
        .take()
        .expect("piped stdin")
        .write_all(list.as_bytes())?;
    if !cpio.wait()?.success() {
        bail!("cpio failed to build the initramfs");
    }
    Ok(())
}

fn write_executable(path: &Path, text: &str) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).with_context(|| format!("write {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
    Ok(())
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@+,%".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// One suite's verdict as the guest reported it.
struct SuiteResult {
    name: String,
    rc: Option<i32>,
    /// cargo test's "test result:" line.
    summary: Option<String>,
}

enum VmOutcome {
    Finished { rc: i32, suites: Vec<SuiteResult> },
    NoResult(String),
}

/// Runs qemu, echoing and logging its console, until it exits or `timeout` passes (then it
/// is killed). The guest's verdict is the result marker line.
fn run_vm(cmd: &mut Command, log_path: &Path, timeout: Duration) -> Result<VmOutcome> {
    println!("$ {}", util::display_cmd(cmd));
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("start qemu")?;
    let stdout = child.stdout.take().expect("piped stdout");
    let mut log = std::fs::File::create(log_path)
        .with_context(|| format!("create {}", log_path.display()))?;
    let reader = std::thread::spawn(move || {
        let mut rc = None;
        let mut suites: Vec<SuiteResult> = Vec::new();
        let mut summary = None;
        for line in BufReader::new(stdout).split(b'\n').map_while(Result::ok) {
            let line = String::from_utf8_lossy(&line)
                .trim_end_matches('\r')
                .to_string();
            println!("  | {line}");
            let _ = writeln!(log, "{line}");
            if let Some(v) = line.strip_prefix(RESULT_MARKER) {
                rc = v.trim().parse::<i32>().ok();
            }
            if line.starts_with("test result:") {
                summary = Some(line.trim_start_matches("test result: ").to_string());
            }
            if let Some(v) = line.strip_prefix(SUITE_MARKER) {
                let (name, code) = v.split_once(" rc=").unwrap_or((v, ""));
                suites.push(SuiteResult {
                    name: name.to_string(),
                    rc: code.trim().parse().ok(),
                    summary: summary.take(),
                });
            }
        }
        (rc, suites)
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let (rc, suites) = reader.join().unwrap_or((None, Vec::new()));
    Ok(match (rc, status) {
        (Some(rc), _) => VmOutcome::Finished { rc, suites },
        (None, None) => VmOutcome::NoResult(format!("timed out after {} s", timeout.as_secs())),
        (None, Some(status)) => VmOutcome::NoResult(format!("qemu exited with {status}")),
    })
}
