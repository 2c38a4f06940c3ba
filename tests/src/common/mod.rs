//! Shared harness for the end-to-end tests: each test gets its own ebrun instance (its own
//! `--root`, hence its own prefix for cgroups and bpffs pins), runs the real binary, and tears
//! everything down on drop, also when the test fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub mod snapshot;

/// A command's standard output as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A command's standard error as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The ebrun binary under test: `EBRUN_BIN`, else the workspace's debug build.
/// A command's stdout and stderr together, for messages.
pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs a host command (`args[0]` with the rest as its arguments) and returns its output.
pub fn sh(args: &[&str]) -> Output {
    Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// [`sh`], asserting success; returns stdout.
pub fn sh_ok(args: &[&str]) -> String {
    let out = sh(args);
    assert!(out.status.success(), "{args:?}: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn ebrun_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("EBRUN_BIN") {
        return PathBuf::from(p);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/debug/ebrun")
}

/// Where `cargo xtask image` left the test images (OCI layouts and archives).
pub fn images_dir() -> PathBuf {
    std::env::var_os("EBRUN_TEST_IMAGES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/ebrun/images"))
}

/// An OCI layout of a test image, e.g. `image_layout("busybox")`.
pub fn image_layout(name: &str) -> PathBuf {
    images_dir().join(name)
}

/// One isolated ebrun instance.
pub struct Instance {
    root: tempfile::TempDir,
    /// Shared for ordinary tests; exclusive for tests that compare whole-host snapshots.
    _host_lock: std::fs::File,
}

/// Every test holds this lock (shared); a test comparing snapshots of the whole host holds
/// it exclusively, so no other test changes the host meanwhile.
pub fn host_lock(exclusive: bool) -> std::fs::File {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open("/var/tmp/ebrun-tests.lock")
        .expect("open the tests' host lock");
    let op = if exclusive {
        libc::LOCK_EX
    } else {
        libc::LOCK_SH
    };
    // SAFETY: flock(2) on a descriptor this function owns.
    let rc = unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(&file), op) };
    assert_eq!(rc, 0, "flock the tests' host lock");
    file
}

impl Instance {
    /// A fresh instance with an empty root.
    pub fn new() -> Self {
        Self::with_lock(false)
    }

    /// A fresh instance while no other test runs: for whole-host before/after snapshots.
    pub fn exclusive() -> Self {
        Self::with_lock(true)
    }

    fn with_lock(exclusive: bool) -> Self {
        let lock = host_lock(exclusive);
        let root = tempfile::Builder::new()
            .prefix("ebrun-test-")
            .tempdir_in(std::env::var_os("EBRUN_TEST_TMP").unwrap_or_else(|| "/var/tmp".into()))
            .expect("create test root");
        Instance {
            root,
            _host_lock: lock,
        }
    }

    /// A fresh instance with the busybox test image imported as `busybox:latest`.
    pub fn with_busybox() -> Self {
        let inst = Self::new();
        inst.ok(&[
            "image",
            "import",
            image_layout("busybox").to_str().unwrap(),
            "busybox:latest",
        ]);
        inst
    }

    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// A command running ebrun against this instance.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(ebrun_bin());
        cmd.arg("--root").arg(self.root()).args(args);
        cmd.stdin(Stdio::null());
        cmd
    }

    /// Runs ebrun and returns its output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("spawn ebrun")
    }

    /// Runs ebrun, asserts success, returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "ebrun {args:?} failed with {:?}\nstdout: {}\nstderr: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 stdout")
    }

    /// `ebrun inspect NAME`'s object.
    pub fn inspect(&self, name: &str) -> serde_json::Value {
        let out = self.ok(&["inspect", name]);
        let v: serde_json::Value = serde_json::from_str(&out).expect("inspect prints JSON");
        v[0].clone()
    }

    /// The host objects this instance may create; empty when nothing is left behind.
    pub fn host_objects(&self) -> Vec<String> {
        host_objects_of(self.root(), &self.prefix())
    }

    /// The prefix ebrun derives from this root (`ebrun system info` would say the same).
    pub fn prefix(&self) -> String {
        self.ok(&["system", "prefix"]).trim().to_string()
    }
}

impl Default for Instance {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.run(&["system", "teardown"]);
    }
}

/// Mounts under `root`, cgroup dirs and bpffs pins named with `prefix`, processes whose
/// command line mentions `root`.
pub fn host_objects_of(root: &Path, prefix: &str) -> Vec<String> {
    let mut found = Vec::new();
    let root_s = root.to_string_lossy().to_string();
    if let Ok(mountinfo) = std::fs::read_to_string("/proc/self/mountinfo") {
        for line in mountinfo.lines() {
            if line.contains(&root_s) {
                found.push(format!("mount: {line}"));
            }
        }
    }
    for base in cgroup_bases() {
        let dir = base.join(prefix);
        if dir.exists() {
            found.push(format!("cgroup: {}", dir.display()));
        }
    }
    let pins = Path::new("/sys/fs/bpf").join(prefix);
    if pins.exists() {
        found.push(format!("bpffs: {}", pins.display()));
    }
    found
}

/// Every cgroup hierarchy's mount point (v1 controllers and the cgroup2 mount).
pub fn cgroup_bases() -> Vec<PathBuf> {
    let mut bases = Vec::new();
    if let Ok(mountinfo) = std::fs::read_to_string("/proc/self/mountinfo") {
        for line in mountinfo.lines() {
            let fields: Vec<&str> = line.split(' ').collect();
            if let Some(sep) = fields.iter().position(|f| *f == "-") {
                let fstype = fields.get(sep + 1).copied().unwrap_or("");
                if fstype == "cgroup" || fstype == "cgroup2" {
                    bases.push(PathBuf::from(fields[4]));
                }
            }
        }
    }
    bases
}

/// A file of the container's cgroups: in the v1 directory of `controller`, or in the cgroup2
/// directory on unified hosts.
pub fn cgroup_file(inst: &Instance, name: &str, controller: &str, file: &str) -> PathBuf {
    let cg = &inst.inspect(name)["Ebrun"]["Cgroups"];
    if cg["layout"] == "unified" {
        return PathBuf::from(cg["unified_dir"].as_str().unwrap()).join(file);
    }
    let dirs = cg["v1_dirs"].as_array().expect("v1 dirs");
    let dir = dirs
        .iter()
        .filter_map(serde_json::Value::as_str)
        .find(|d| {
            d.strip_prefix("/sys/fs/cgroup/")
                .and_then(|rest| rest.split('/').next())
                .is_some_and(|mount| mount.split(',').any(|c| c == controller))
        })
        .unwrap_or_else(|| panic!("no {controller} directory in {dirs:?}"));
    PathBuf::from(dir).join(file)
}
