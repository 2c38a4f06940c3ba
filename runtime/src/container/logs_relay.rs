//! The json-file log of a foreground `ebrun run`: Docker logs every container's output, not
//! only detached ones. The foreground run relays the container's output to its caller and
//! hands each chunk here; the log file is created with the first output, so a run that
//! prints nothing (`run --rm busybox true`) costs no file.

use std::path::PathBuf;

use super::logs::{log_path, LogWriter, Stream};
use crate::Paths;

/// The log of one foreground run, opened on its first output.
pub struct ForegroundLog {
    path: PathBuf,
    writer: Option<LogWriter>,
    /// Set once opening or writing failed: the run goes on, unlogged, with one warning.
    failed: bool,
}

impl ForegroundLog {
    pub fn new(paths: &Paths, id: &str) -> ForegroundLog {
        ForegroundLog {
            path: log_path(&paths.container_dir(id), id),
            writer: None,
            failed: false,
        }
    }

    /// Records output the container wrote to `fd` (1: stdout, 2: stderr; its terminal's
    /// output comes as stdout).
    pub fn output(&mut self, fd: i32, data: &[u8]) {
        if self.failed {
            return;
        }
        let stream = if fd == 2 {
            Stream::Stderr
        } else {
            Stream::Stdout
        };
        let result = match &mut self.writer {
            Some(w) => w.write(stream, data),
            None => {
                LogWriter::open(&self.path).and_then(|w| self.writer.insert(w).write(stream, data))
            }
        };
        if let Err(e) = result {
            tracing::warn!(path = %self.path.display(), error = %e, "container log unavailable");
            self.failed = true;
        }
    }

    /// Writes out a last incomplete line.
    pub fn finish(&mut self) {
        if let Some(w) = &mut self.writer {
            let _ = w.flush();
        }
    }
}

/// Supervises a foreground run's container until it exits, relaying its output to the
/// caller and into its log; returns the exit code Docker reports.
pub fn supervise_logged(
    paths: &Paths,
    id: &str,
    started: &mut super::start::Started,
) -> Result<i32, super::ContainerError> {
    let spawned = &mut started.spawned;
    let output = crate::process::Output {
        pty_master: spawned.pty_master.take(),
        stdout: spawned.stdout.take(),
        stderr: spawned.stderr.take(),
    };
    let mut log = ForegroundLog::new(paths, id);
    let status = crate::process::supervise_relayed(spawned.pid, output, &mut |fd, data| {
        log.output(fd, data)
    });
    log.finish();
    Ok(status?.code())
}
