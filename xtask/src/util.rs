//! Helpers shared by the tasks: where things are, running commands, root checks, mounts, and
//! temporary directories that are removed (safely) also when a task fails.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::{bail, Context, Result};

/// The workspace root (the directory holding the top-level Cargo.toml).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives inside the workspace")
        .to_path_buf()
}

/// Cargo's target directory for the workspace (`CARGO_TARGET_DIR` or `<root>/target`).
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                workspace_root().join(dir)
            }
        }
        None => workspace_root().join("target"),
    }
}

/// Where the test/demo images live: `EBRUN_TEST_IMAGES` or `/var/cache/ebrun/images`.
pub fn images_dir() -> PathBuf {
    match std::env::var_os("EBRUN_TEST_IMAGES") {
        Some(dir) => std::path::absolute(PathBuf::from(dir)).expect("absolute path"),
        None => PathBuf::from("/var/cache/ebrun/images"),
    }
}

/// A `cargo` command run from the workspace root.
pub fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(workspace_root());
    cmd
}

/// The command line as a shell user would type it (for progress output and errors).
pub fn display_cmd(cmd: &Command) -> String {
    let mut parts = vec![quote(cmd.get_program())];
    parts.extend(cmd.get_args().map(quote));
    parts.join(" ")
}

fn quote(s: &OsStr) -> String {
    let s = s.to_string_lossy();
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@+,%".contains(c))
    {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Prints the command, runs it with inherited stdio and fails unless it exits 0.
pub fn run(cmd: &mut Command) -> Result<()> {
    println!("$ {}", display_cmd(cmd));
    let status = cmd
        .status()
        .with_context(|| format!("cannot run {}", display_cmd(cmd)))?;
    if !status.success() {
        bail!("`{}` failed ({status})", display_cmd(cmd));
    }
    Ok(())
}

/// Runs the command quietly and returns its stdout; fails (with its stderr) unless it exits 0.
pub fn output(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {}", display_cmd(cmd)))?;
    if !out.status.success() {
        bail!(
            "`{}` failed ({}): {}",
            display_cmd(cmd),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs the command quietly; `None` if it cannot be started or exits non-zero.
pub fn try_output(cmd: &mut Command) -> Option<String> {
    let out = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The effective uid of this process.
pub fn euid() -> Result<u32> {
    let status = std::fs::read_to_string("/proc/self/status").context("read /proc/self/status")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .context("no Uid line in /proc/self/status")
}

/// Fails unless this process runs as root.
pub fn require_root(task: &str) -> Result<()> {
    if euid()? != 0 {
        bail!("`cargo xtask {task}` must run as root (it manages mounts, cgroups and BPF)");
    }
    Ok(())
}

/// One line of /proc/self/mountinfo: the mount point and the filesystem type.
pub struct Mount {
    pub mount_point: PathBuf,
    pub fstype: String,
}

/// The mounts of this process's mount namespace.
pub fn mounts() -> Result<Vec<Mount>> {
    let info =
        std::fs::read_to_string("/proc/self/mountinfo").context("read /proc/self/mountinfo")?;
    let mut mounts = Vec::new();
    for line in info.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let Some(sep) = fields.iter().position(|f| *f == "-") else {
            continue;
        };
        if fields.len() < 5 || sep + 1 >= fields.len() {
            continue;
        }
        mounts.push(Mount {
            mount_point: PathBuf::from(unescape_mountinfo(fields[4])),
            fstype: fields[sep + 1].to_string(),
        });
    }
    Ok(mounts)
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape_mountinfo(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 4 <= bytes.len() {
            let octal = std::str::from_utf8(&bytes[i + 1..i + 4]).ok();
            if let Some(v) = octal.and_then(|o| u8::from_str_radix(o, 8).ok()) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Mount points at or below `dir`, deepest first.
pub fn mounts_under(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut found: Vec<PathBuf> = mounts()?
        .into_iter()
        .map(|m| m.mount_point)
        .filter(|mp| mp.starts_with(dir))
        .collect();
    found.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    found.dedup();
    Ok(found)
}

/// Removes `dir` recursively, but first unmounts whatever is mounted below it (a failed
/// debootstrap can leave proc, sys or device bind mounts behind) and never descends into a
/// mount that could not be removed.
pub fn remove_dir_safely(dir: &Path) -> Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    for mp in mounts_under(dir)? {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(&mp)
            .stderr(Stdio::null())
            .status();
    }
    let left = mounts_under(dir)?;
    if !left.is_empty() {
        bail!(
            "not removing {}: still mounted below it: {}",
            dir.display(),
            left.iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    std::fs::remove_dir_all(dir).with_context(|| format!("remove {}", dir.display()))
}

/// A directory removed (with [`remove_dir_safely`]) when dropped, also on error paths.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates a fresh directory `<parent>/<prefix><pid>-<n>`.
    pub fn new_in(parent: &Path, prefix: &str) -> Result<Self> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        std::fs::create_dir_all(parent).with_context(|| format!("create {}", parent.display()))?;
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = parent.join(format!("{prefix}{}-{n}", std::process::id()));
        if path.exists() {
            remove_dir_safely(&path)?;
        }
        std::fs::create_dir(&path).with_context(|| format!("create {}", path.display()))?;
        Ok(TempDir { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if let Err(e) = remove_dir_safely(&self.path) {
            eprintln!("warning: {e:#}");
        }
    }
}

/// Removes leftovers `<parent>/<prefix>*` of earlier runs that were killed (no Drop ran).
pub fn remove_stale_temp_dirs(parent: &Path, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(prefix) {
            // A concurrent run of the same task would own it: only remove dirs of dead pids.
            let name = entry.file_name().to_string_lossy().into_owned();
            let pid = name[prefix.len()..].split('-').next().unwrap_or("");
            if !pid.is_empty() && Path::new("/proc").join(pid).exists() {
                continue;
            }
            let path = entry.path();
            let result = if path.is_dir() {
                remove_dir_safely(&path)
            } else {
                std::fs::remove_file(&path).with_context(|| format!("remove {}", path.display()))
            };
            if let Err(e) = result {
                eprintln!("warning: {e:#}");
            }
        }
    }
}

/// Formats seconds since the epoch as RFC 3339 UTC (`2024-01-01T00:00:00Z`).
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Now, in seconds since the epoch.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_formats_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_704_067_200), "2024-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400 + 3661), "2000-02-29T01:01:01Z");
    }

    #[test]
    fn temp_dir_unmounts_before_removing() {
        if euid().unwrap() != 0 {
            eprintln!("skipped: needs root");
            return;
        }
        let tmp = TempDir::new_in(&std::env::temp_dir(), "xtask-util-test-").unwrap();
        let path = tmp.path().to_path_buf();
        let mnt = path.join("rootfs/proc");
        std::fs::create_dir_all(&mnt).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "tmpfs"])
            .arg(&mnt)
            .status()
            .unwrap();
        assert!(status.success());
        std::fs::write(mnt.join("file"), "x").unwrap();
        assert_eq!(mounts_under(&path).unwrap(), [mnt]);
        drop(tmp);
        assert!(!path.exists());
        assert!(mounts_under(&path).unwrap().is_empty());
    }

    #[test]
    fn mountinfo_unescapes_octal() {
        assert_eq!(unescape_mountinfo(r"/a\040b"), "/a b");
        assert_eq!(unescape_mountinfo(r"/plain"), "/plain");
        assert_eq!(unescape_mountinfo(r"/x\\"), r"/x\\");
    }
}
