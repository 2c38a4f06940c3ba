//! `cp` and `export`: files into and out of a container as tar streams.
//!
//! A container's filesystem is hostile: its symlinks (absolute, or with `..`) must never
//! make ebrun read or write a host file. So no tar work happens in the caller: it starts the
//! hidden `ebrun container-archive` helper, which confines itself to the container's root
//! before it touches a path (see `archive_helper`), and streams the tar through the
//! helper's stdin or stdout. The helper's first line on stdout is its answer (a JSON
//! [`HelperLine`]: the path's stat, or the error), then comes the tar; for an extraction it
//! says a second line once the stream is in.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdout, Stdio};

use serde::{Deserialize, Serialize};

use super::config::ContainerConfig;
use super::ContainerError;
use crate::Paths;

/// The hidden command line of the helper: `ebrun --root R container-archive ID OP [PATH]`.
pub const ARCHIVE_COMMAND: &str = "container-archive";

/// Errors of `cp` and `export`, each with the status dockerd answers.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("{0}")]
    Container(#[from] ContainerError),
    /// 404.
    #[error("Could not find the file {path} in container {container}")]
    PathNotFound { path: String, container: String },
    /// 400.
    #[error("{0}")]
    BadParameter(String),
    /// 403.
    #[error("{0}")]
    Forbidden(String),
    /// 409.
    #[error("{0}")]
    Conflict(String),
    /// 500.
    #[error("{0}")]
    Failed(String),
    #[error("{op}: {source}")]
    Io {
        op: &'static str,
        #[source]
        source: io::Error,
    },
}

/// What Docker's `X-Docker-Container-Path-Stat` header carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathStat {
    pub name: String,
    pub size: i64,
    /// Go's `os.FileMode` bits.
    pub mode: u32,
    /// RFC 3339.
    pub mtime: String,
    #[serde(rename = "linkTarget")]
    pub link_target: String,
}

impl PathStat {
    pub fn is_dir(&self) -> bool {
        self.mode & (1 << 31) != 0
    }

    /// The header's value: base64 of the JSON.
    pub fn header_value(&self) -> String {
        use base64::Engine as _;
        let json = serde_json::to_string(self).unwrap_or_default();
        base64::engine::general_purpose::STANDARD.encode(json)
    }
}

/// The kinds of failure the helper reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HelperErrorKind {
    PathNotFound,
    BadParameter,
    Forbidden,
    Failed,
}

/// One answer line of the helper.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HelperLine {
    Ok(Option<PathStat>),
    Error {
        kind: HelperErrorKind,
        message: String,
    },
}

/// `PUT .../archive` options.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExtractOptions {
    /// `noOverwriteDirNonDir`: a directory and a non-directory do not replace each other.
    pub no_overwrite_dir_non_dir: bool,
    /// `copyUIDGID`: entries owned by the container's user instead of the archive's ids.
    pub copy_uid_gid: bool,
}

/// A running helper and its answer channel.
struct Helper {
    child: Child,
    stdout: BufReader<ChildStdout>,
    /// The container's name as the caller gave it, for Docker's messages.
    shown: String,
    path: String,
}

fn spawn(
    paths: &Paths,
    config: &ContainerConfig,
    shown: &str,
    args: &[&str],
    path: &str,
    stdin: bool,
) -> Result<Helper, ArchiveError> {
    let mut child = paths
        .ebrun_command()
        .args([ARCHIVE_COMMAND, &config.id])
        .args(args)
        .stdin(if stdin { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|source| ArchiveError::Io {
            op: "start the archive helper",
            source,
        })?;
    let stdout = BufReader::with_capacity(
        256 * 1024,
        child.stdout.take().expect("the helper's stdout is piped"),
    );
    Ok(Helper {
        child,
        stdout,
        shown: shown.to_string(),
        path: path.to_string(),
    })
}

impl Helper {
    /// The next answer line; the helper's end without one is a failure.
    fn answer(&mut self) -> Result<Option<PathStat>, ArchiveError> {
        let mut line = Vec::new();
        self.stdout
            .read_until(b'\n', &mut line)
            .map_err(|source| ArchiveError::Io {
                op: "read the archive helper's answer",
                source,
            })?;
        if line.is_empty() {
            let status = self.child.wait().ok();
            return Err(ArchiveError::Failed(format!(
                "the archive helper ended without an answer ({})",
                status.map_or("unknown status".into(), |s| s.to_string())
            )));
        }
        match serde_json::from_slice::<HelperLine>(&line) {
            Ok(HelperLine::Ok(stat)) => Ok(stat),
            Ok(HelperLine::Error { kind, message }) => Err(match kind {
                HelperErrorKind::PathNotFound => ArchiveError::PathNotFound {
                    path: self.path.clone(),
                    container: self.shown.clone(),
                },
                HelperErrorKind::BadParameter => ArchiveError::BadParameter(message),
                HelperErrorKind::Forbidden => ArchiveError::Forbidden(message),
                HelperErrorKind::Failed => ArchiveError::Failed(message),
            }),
            Err(e) => Err(ArchiveError::Failed(format!(
                "the archive helper's answer is unreadable: {e}"
            ))),
        }
    }

    fn into_reader(self) -> ArchiveReader {
        ArchiveReader {
            child: Some(self.child),
            stdout: self.stdout,
        }
    }
}

/// A tar stream coming from the helper. Dropped before its end, it stops the helper.
pub struct ArchiveReader {
    child: Option<Child>,
    stdout: BufReader<ChildStdout>,
}

impl Read for ArchiveReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.stdout.read(buf)
    }
}

impl ArchiveReader {
    /// Waits for the helper: an error if it failed (the stream is then cut short).
    pub fn finish(mut self) -> Result<(), ArchiveError> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let status = child.wait().map_err(|source| ArchiveError::Io {
            op: "wait for the archive helper",
            source,
        })?;
        if status.success() {
            Ok(())
        } else {
            Err(ArchiveError::Failed(format!(
                "the archive helper failed ({status})"
            )))
        }
    }
}

impl Drop for ArchiveReader {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Our own child: stop it (the reader went away) and reap it.
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The stat of `path` in the container (`HEAD .../archive`). `shown` is the container as
/// the user named it.
pub fn stat_path(
    paths: &Paths,
    config: &ContainerConfig,
    shown: &str,
    path: &str,
) -> Result<PathStat, ArchiveError> {
    let mut helper = spawn(paths, config, shown, &["stat", path], path, false)?;
    let stat = helper.answer();
    let _ = helper.child.wait();
    stat?.ok_or_else(|| ArchiveError::Failed("the archive helper gave no stat".into()))
}

/// `path` in the container as a tar stream (`GET .../archive`), its top entry named after
/// the path's base name (or `rename`, which `ebrun cp` uses to copy under a new name).
pub fn archive_path(
    paths: &Paths,
    config: &ContainerConfig,
    shown: &str,
    path: &str,
    rename: Option<&str>,
) -> Result<(PathStat, ArchiveReader), ArchiveError> {
    let mut args = vec!["get", path];
    if let Some(name) = rename {
        args.extend(["--rename", name]);
    }
    let mut helper = spawn(paths, config, shown, &args, path, false)?;
    let stat = helper
        .answer()?
        .ok_or_else(|| ArchiveError::Failed("the archive helper gave no stat".into()))?;
    Ok((stat, helper.into_reader()))
}

/// Extracts the tar stream `input` into directory `dir` of the container (`PUT .../archive`).
pub fn extract_to(
    paths: &Paths,
    config: &ContainerConfig,
    shown: &str,
    dir: &str,
    options: ExtractOptions,
    input: &mut dyn Read,
) -> Result<(), ArchiveError> {
    if super::observe(paths, config)?.paused {
        return Err(ArchiveError::Conflict(format!(
            "Container {} is paused, unpause the container before copying into it",
            config.id
        )));
    }
    let mut args = vec!["put", dir];
    if options.no_overwrite_dir_non_dir {
        args.push("--no-overwrite-dir-non-dir");
    }
    if options.copy_uid_gid {
        args.push("--copy-uid-gid");
    }
    let mut helper = spawn(paths, config, shown, &args, dir, true)?;
    let mut stdin = helper
        .child
        .stdin
        .take()
        .expect("the helper's stdin is piped");
    // The first answer: the directory is there and writable.
    if let Err(e) = helper.answer() {
        drop(stdin);
        let _ = helper.child.wait();
        return Err(e);
    }
    let copied = io::copy(input, &mut stdin).and_then(|_| stdin.flush());
    drop(stdin);
    // The helper's verdict explains a broken pipe (it stopped reading on an error).
    let verdict = helper.answer();
    let status = helper.child.wait();
    verdict?;
    match copied {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            return Err(ArchiveError::Io {
                op: "read the archive",
                source: e,
            })
        }
        _ => {}
    }
    match status {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(ArchiveError::Failed(format!(
            "the archive helper failed ({s})"
        ))),
        Err(source) => Err(ArchiveError::Io {
            op: "wait for the archive helper",
            source,
        }),
    }
}

/// The container's whole filesystem as a tar stream (`GET .../export`): its image layers
/// and its changes, without its mounts.
pub fn export(paths: &Paths, config: &ContainerConfig) -> Result<ArchiveReader, ArchiveError> {
    let mut helper = spawn(paths, config, &config.name, &["export"], "/", false)?;
    helper.answer()?;
    Ok(helper.into_reader())
}
