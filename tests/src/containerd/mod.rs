//! A real containerd per test, to run containers through its `io.containerd.runc.v2` shim with
//! any runc-compatible runtime binary (`ctr run --runc-binary`), as a containerd host would.
//!
//! Each [`Containerd`] is Debian's `containerd` with a config, root, state dir and sockets of its
//! own under a fresh tempdir, and a ctr namespace of its own (containers' cgroups are
//! `/<namespace>/<id>`). Dropping it kills that containerd, its shims and their containers by
//! pid, removes its cgroups and the tempdir; [`Footprint::leftovers`] checks that afterwards.
//!
//! The shim hard-codes two paths under `/run/containerd`: its socket (`/run/containerd/s/<hash>`)
//! and the runtime's default `--root` (`/run/containerd/runc/<ns>`). So containerd runs in a
//! mount namespace of its own with a tmpfs on `/run/containerd`: the host's `/run/containerd`
//! (and a host containerd) never sees anything of ours, and the shim's mounts (the overlay
//! rootfs at `<bundle>/rootfs`) vanish with that namespace. `ctr` creates the stdio FIFOs
//! itself, on the host side: always pass `--fifo-dir` (the helpers here do), else it uses the
//! host's `/run/containerd/fifo`, which the shim does not see.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common;

/// The name [`Containerd::import_busybox`] gives the test image.
pub const BUSYBOX: &str = "docker.io/library/busybox:latest";

/// The real runc, to compare a runtime under test with.
pub const RUNC: &str = "/usr/sbin/runc";

/// Plugins this harness does not need. CRI would start CNI and a streaming server; `opt`
/// creates `/opt/containerd`; `restart` restarts containers by label; the other snapshotters
/// probe the host (devmapper, btrfs, zfs, aufs' modprobe). Overlayfs stays the default.
/// `io.containerd.runtime.v1.linux` must stay: the tasks service refuses to load without it.
const DISABLED_PLUGINS: &[&str] = &[
    "io.containerd.grpc.v1.cri",
    "io.containerd.internal.v1.opt",
    "io.containerd.internal.v1.restart",
    "io.containerd.snapshotter.v1.aufs",
    "io.containerd.snapshotter.v1.btrfs",
    "io.containerd.snapshotter.v1.devmapper",
    "io.containerd.snapshotter.v1.native",
    "io.containerd.snapshotter.v1.zfs",
];

/// Held for a whole containerd test, footprint check included: mount namespace inode
/// numbers are reused once a namespace is gone, so a second containerd started meanwhile
/// could look like a leftover of the first.
pub fn serial() -> File {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open("/var/tmp/ebrun-tests-containerd.lock")
        .expect("open the containerd tests' lock");
    // SAFETY: flock(2) on a descriptor this function owns.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
    assert_eq!(rc, 0, "flock the containerd tests' lock");
    file
}

/// One containerd of our own.
pub struct Containerd {
    child: Child,
    dir: Option<tempfile::TempDir>,
    namespace: String,
    /// containerd's mount namespace (`mnt:[inode]`), never the host's: what is left in it is ours.
    mnt_ns: Option<String>,
    run_dir: Option<RunDirLease>,
    _host_lock: File,
}

impl Containerd {
    /// Starts containerd and waits until it answers `ctr version`.
    pub fn start() -> Containerd {
        let host_lock = common::host_lock(false);
        let run_dir = RunDirLease::acquire();
        let dir = tempfile::Builder::new()
            .prefix("ebrun-oci-")
            .tempdir_in(std::env::var_os("EBRUN_TEST_TMP").unwrap_or_else(|| "/var/tmp".into()))
            .expect("create the containerd tempdir");
        // tempfile's suffix is alphanumeric, so the dir's name is a valid ctr namespace.
        let namespace = dir
            .path()
            .file_name()
            .and_then(|n| n.to_str())
            .expect("utf-8 tempdir name")
            .to_string();
        let d = dir.path().display();
        let plugins: Vec<String> = DISABLED_PLUGINS
            .iter()
            .map(|p| format!("\"{p}\""))
            .collect();
        let config = format!(
            "version = 2\nroot = \"{d}/root\"\nstate = \"{d}/state\"\n\
             disabled_plugins = [{}]\n\
             [grpc]\n  address = \"{d}/containerd.sock\"\n\
             [ttrpc]\n  address = \"{d}/containerd.sock.ttrpc\"\n",
            plugins.join(", ")
        );
        let config_path = dir.path().join("config.toml");
        std::fs::write(&config_path, config).expect("write containerd's config");
        for sub in ["fifo", "runtime-root"] {
            std::fs::create_dir(dir.path().join(sub)).expect("create a containerd subdir");
        }
        let log = File::create(dir.path().join("containerd.log")).expect("create containerd.log");
        // unshare without --fork and sh's exec keep one pid: `child` is containerd itself.
        let child = Command::new("unshare")
            .args(["--mount", "--propagation", "slave", "--", "sh", "-c"])
            .arg("mount -t tmpfs -o mode=0711 ebrun-oci /run/containerd && exec containerd \"$@\"")
            .arg("sh")
            .arg("--config")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup containerd.log"))
            .stderr(log)
            .spawn()
            .expect("spawn unshare + containerd (apt-get install containerd)");
        let mut c = Containerd {
            child,
            dir: Some(dir),
            namespace,
            mnt_ns: None,
            run_dir: Some(run_dir),
            _host_lock: host_lock,
        };
        c.wait_ready();
        let ns = mnt_ns_of(&c.pid().to_string()).expect("read containerd's mount namespace");
        // Drop kills what is in this namespace: it must not be the host's.
        assert_ne!(
            Some(&ns),
            mnt_ns_of("self").as_ref(),
            "containerd in the host's mount ns"
        );
        c.mnt_ns = Some(ns);
        c
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("containerd exited with {status}:\n{}", self.log());
            }
            let out = self
                .command(&["--connect-timeout", "1s", "version"])
                .output();
            if out.is_ok_and(|o| o.status.success()) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "containerd did not answer:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn dir(&self) -> &Path {
        self.dir.as_ref().expect("tempdir lives until drop").path()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// containerd's gRPC socket (`ctr --address`).
    pub fn socket(&self) -> PathBuf {
        self.dir().join("containerd.sock")
    }

    /// The ctr namespace every helper uses; containers' cgroups are `/<namespace>/<id>`.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Where ctr puts the stdio FIFOs (`--fifo-dir`).
    pub fn fifo_dir(&self) -> PathBuf {
        self.dir().join("fifo")
    }

    /// The runtime's `--root` for containers started by [`Containerd::run_with`].
    pub fn runtime_root(&self) -> PathBuf {
        self.dir().join("runtime-root").join(&self.namespace)
    }

    /// The bundle the shim makes for container `id` (config.json, rootfs, log.json, init.pid).
    pub fn bundle(&self, id: &str) -> PathBuf {
        self.dir()
            .join("state/io.containerd.runtime.v2.task")
            .join(&self.namespace)
            .join(id)
    }

    /// containerd's own log (stdout and stderr), for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir().join("containerd.log")).unwrap_or_default()
    }

    /// `ctr --address SOCK --namespace NS args...`, stdin from /dev/null.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("ctr");
        cmd.arg("--address")
            .arg(self.socket())
            .args(["--namespace", &self.namespace])
            .args(args)
            .stdin(Stdio::null());
        cmd
    }

    /// Runs ctr and returns its output.
    pub fn ctr(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("spawn ctr")
    }

    /// Runs ctr, asserts success, returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.ctr(args);
        assert!(
            out.status.success(),
            "ctr {args:?} failed with {:?}\nstdout: {}\nstderr: {}\ncontainerd log:\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
        String::from_utf8(out.stdout).expect("utf-8 ctr output")
    }

    /// Imports the test image (`cargo xtask image`) as [`BUSYBOX`] and returns that name. The
    /// archive's own ref is `busybox:latest`; `--index-name` adds the full name.
    pub fn import_busybox(&self) -> &'static str {
        let archive = common::images_dir().join("busybox-oci.tar");
        assert!(
            archive.is_file(),
            "{} missing: run `cargo xtask image`",
            archive.display()
        );
        let archive = archive.to_str().expect("utf-8 image path");
        self.ok(&["images", "import", "--index-name", BUSYBOX, archive]);
        BUSYBOX
    }

    /// `ctr run --fifo-dir .. --runc-binary RUNTIME --runc-root .. args...`: the shim execs
    /// `RUNTIME --root <runtime_root()> --log <bundle>/log.json --log-format json ...`.
    /// ctr quirk: `--no-pivot` replaces the runtime options, runc-binary and runc-root included.
    pub fn run_with(&self, runtime: &Path, args: &[&str]) -> Output {
        self.command(&["run"])
            .arg("--fifo-dir")
            .arg(self.fifo_dir())
            .arg("--runc-binary")
            .arg(runtime)
            .arg("--runc-root")
            .arg(self.dir().join("runtime-root"))
            .args(args)
            .output()
            .expect("spawn ctr run")
    }

    /// `ctr task exec --fifo-dir .. args...`.
    pub fn exec(&self, args: &[&str]) -> Output {
        self.command(&["task", "exec"])
            .arg("--fifo-dir")
            .arg(self.fifo_dir())
            .args(args)
            .output()
            .expect("spawn ctr task exec")
    }

    /// What to look for after the drop.
    pub fn footprint(&self) -> Footprint {
        Footprint {
            pid: self.pid(),
            dir: self.dir().to_path_buf(),
            namespace: self.namespace.clone(),
            mnt_ns: self.mnt_ns.clone(),
        }
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        // containerd first, so that it starts no shim (nor a `shim delete`) meanwhile.
        let _ = self.child.kill();
        let _ = self.child.wait();
        let socket = self.socket().to_string_lossy().into_owned();
        let procs = processes();
        // Shims are daemons (parent: pid 1); they name our socket in `-address`.
        let shims: Vec<u32> = procs
            .iter()
            .filter(|(_, p)| {
                p.argv
                    .windows(2)
                    .any(|w| w[0] == "-address" && w[1] == socket)
            })
            .map(|(pid, _)| *pid)
            .collect();
        let mut victims = descendants(&procs, &shims);
        victims.extend(&shims);
        // Also what is still in our mount namespace, and in the containers' cgroups (a
        // container whose shim died was reparented away from it).
        if let Some(ns) = &self.mnt_ns {
            victims.extend(
                procs
                    .iter()
                    .filter(|(_, p)| p.mnt_ns.as_ref() == Some(ns))
                    .map(|(pid, _)| *pid),
            );
        }
        let cgroups = namespace_cgroups(&self.namespace);
        for dir in &cgroups {
            victims.extend(pids_in(dir));
        }
        // A paused container's processes ignore SIGKILL until thawed.
        for dir in &cgroups {
            write_existing(&dir.join("freezer.state"), "THAWED");
            write_existing(&dir.join("cgroup.freeze"), "0");
        }
        for pid in &victims {
            // SAFETY: kill(2) with pids found above, all started by this containerd.
            unsafe { libc::kill(*pid as libc::pid_t, libc::SIGKILL) };
        }
        wait_gone(&victims);
        // Deepest first: rmdir fails on a cgroup with children.
        for dir in cgroups.iter().rev() {
            rmdir_retrying(dir);
        }
        drop(self.run_dir.take());
        // The shim's mounts went with the mount namespace, so this removes plain files only.
        if let Some(dir) = self.dir.take() {
            let _ = dir.close();
        }
    }
}

/// What a [`Containerd`] may leave on the host, captured before dropping it.
pub struct Footprint {
    pid: u32,
    dir: PathBuf,
    namespace: String,
    mnt_ns: Option<String>,
}

impl Footprint {
    /// Every process, mount, cgroup and file of that containerd still there; empty if none.
    pub fn leftovers(&self) -> Vec<String> {
        let mut found = Vec::new();
        let dir = self.dir.to_string_lossy().into_owned();
        for (pid, p) in processes() {
            let in_ns = self.mnt_ns.is_some() && p.mnt_ns == self.mnt_ns;
            if pid == self.pid || in_ns || p.argv.iter().any(|a| a.contains(&dir)) {
                found.push(format!("process {pid}: {}", p.argv.join(" ")));
            }
        }
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        found.extend(
            mountinfo
                .lines()
                .filter(|l| l.contains(&dir))
                .map(|l| format!("mount: {l}")),
        );
        for cg in namespace_cgroups(&self.namespace) {
            found.push(format!("cgroup: {}", cg.display()));
        }
        if self.dir.exists() {
            found.push(format!("dir: {dir}"));
        }
        found
    }
}

/// The host's `/run/containerd`, needed as the mount point of our private tmpfs. Created if
/// missing and then removed by the last harness done with it: every live instance holds a
/// shared flock; whoever then gets it exclusively removes the dir if a harness created it.
struct RunDirLease {
    lock: File,
}

const RUN_DIR: &str = "/run/containerd";
const RUN_DIR_LOCK: &str = "/var/tmp/ebrun-tests-run-containerd.lock";
const RUN_DIR_MARKER: &str = "/var/tmp/ebrun-tests-run-containerd.created";

impl RunDirLease {
    fn acquire() -> RunDirLease {
        let lock = open_lock();
        flock(&lock, libc::LOCK_SH).expect("flock the /run/containerd lease");
        if std::fs::DirBuilder::new()
            .mode(0o711)
            .create(RUN_DIR)
            .is_ok()
        {
            File::create(RUN_DIR_MARKER).expect("mark /run/containerd as ours");
        }
        RunDirLease { lock }
    }
}

impl Drop for RunDirLease {
    fn drop(&mut self) {
        let _ = flock(&self.lock, libc::LOCK_UN);
        let lock = open_lock();
        if flock(&lock, libc::LOCK_EX | libc::LOCK_NB).is_ok()
            && std::fs::remove_file(RUN_DIR_MARKER).is_ok()
        {
            // Fails, as it should, if someone else has put something in it since.
            let _ = std::fs::remove_dir(RUN_DIR);
        }
    }
}

fn open_lock() -> File {
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(RUN_DIR_LOCK)
        .expect("open the /run/containerd lease lock")
}

fn flock(file: &File, op: libc::c_int) -> std::io::Result<()> {
    // SAFETY: flock(2) on a descriptor the caller owns.
    match unsafe { libc::flock(file.as_raw_fd(), op) } {
        0 => Ok(()),
        _ => Err(std::io::Error::last_os_error()),
    }
}

struct Proc {
    ppid: u32,
    argv: Vec<String>,
    mnt_ns: Option<String>,
    zombie: bool,
}

/// `mnt:[inode]` of `/proc/<pid>`.
fn mnt_ns_of(pid: &str) -> Option<String> {
    std::fs::read_link(format!("/proc/{pid}/ns/mnt"))
        .ok()
        .map(|l| l.to_string_lossy().into_owned())
}

/// Every process now, by pid (those that vanish while being read are skipped).
fn processes() -> HashMap<u32, Proc> {
    let mut out = HashMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // "pid (comm) state ppid ...": comm may contain anything, so split after its ')'.
        let after_comm: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        let argv = std::fs::read(format!("/proc/{pid}/cmdline"))
            .unwrap_or_default()
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let mnt_ns = mnt_ns_of(&pid.to_string());
        out.insert(
            pid,
            Proc {
                ppid: after_comm.get(1).and_then(|p| p.parse().ok()).unwrap_or(0),
                argv,
                mnt_ns,
                zombie: after_comm.first() == Some(&"Z"),
            },
        );
    }
    out
}

/// All descendants of `roots` (children, grandchildren, ...).
fn descendants(procs: &HashMap<u32, Proc>, roots: &[u32]) -> HashSet<u32> {
    let mut found = HashSet::new();
    let mut frontier: Vec<u32> = roots.to_vec();
    while let Some(parent) = frontier.pop() {
        for (pid, p) in procs {
            if p.ppid == parent && found.insert(*pid) {
                frontier.push(*pid);
            }
        }
    }
    found
}

/// Waits (up to 10 s) until each pid is gone or a zombie (pid 1 reaps the orphans).
fn wait_gone(pids: &HashSet<u32>) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let procs = processes();
        if pids
            .iter()
            .all(|pid| procs.get(pid).is_none_or(|p| p.zombie))
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `/<namespace>` and every cgroup below it, in every hierarchy, parents before children.
fn namespace_cgroups(namespace: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for base in common::cgroup_bases() {
        let mut stack = vec![base.join(namespace)];
        while let Some(dir) = stack.pop() {
            if !dir.is_dir() {
                continue;
            }
            if let Ok(entries) = std::fs::read_dir(&dir) {
                stack.extend(entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
            }
            found.push(dir);
        }
    }
    found
}

/// Writes a cgroup control file if the hierarchy has it (cgroupfs creates no files).
fn write_existing(path: &Path, value: &str) {
    use std::io::Write;
    if let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(path) {
        let _ = f.write_all(value.as_bytes());
    }
}

fn pids_in(cgroup: &Path) -> Vec<u32> {
    std::fs::read_to_string(cgroup.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// rmdir, retried for a while: a cgroup stays busy until its last killed process is gone.
fn rmdir_retrying(dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::fs::remove_dir(dir).is_err() && dir.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
}
