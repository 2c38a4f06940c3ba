//! Container logs in Docker's json-file format: one JSON object per line,
//! `{"log":"text\n","stream":"stdout","time":"2026-11-27T21:44:15.123456789Z"}`,
//! in `<container dir>/<id>-json.log`. stdout and stderr are kept apart by `stream`.

use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::config::now_rfc3339;

/// Which stream a log line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    Stdout,
    Stderr,
}

/// One log entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogEntry {
    pub log: String,
    pub stream: Stream,
    pub time: String,
}

/// The log file of a container.
pub fn log_path(container_dir: &Path, id: &str) -> PathBuf {
    container_dir.join(format!("{id}-json.log"))
}

/// Docker's json-file cuts lines longer than this into several entries (only the last one
/// ends in a newline); it also bounds what is held back waiting for a newline.
pub const MAX_LINE: usize = 16 * 1024;

/// Appends the container's output to its log, one entry per line; a partial line is kept
/// until its newline arrives, it reaches [`MAX_LINE`], or the writer is flushed at exit.
pub struct LogWriter {
    file: File,
    partial: [Vec<u8>; 2],
}

impl LogWriter {
    /// Opens (creating, appending to) the log at `path`, readable by root only.
    pub fn open(path: &Path) -> std::io::Result<LogWriter> {
        use std::os::unix::fs::OpenOptionsExt;
        let file = File::options()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)?;
        Ok(LogWriter {
            file,
            partial: [Vec::new(), Vec::new()],
        })
    }

    /// Records a chunk of output: its entries share one timestamp and one write.
    pub fn write(&mut self, stream: Stream, data: &[u8]) -> std::io::Result<()> {
        let time = now_rfc3339();
        let mut out = Vec::new();
        let partial = &mut self.partial[stream as usize];
        let mut rest = data;
        while let Some(pos) = rest.iter().position(|b| *b == b'\n') {
            let (line, tail) = rest.split_at(pos + 1);
            if partial.is_empty() {
                encode(stream, line, &time, &mut out)?;
            } else {
                partial.extend_from_slice(line);
                encode(stream, &std::mem::take(partial), &time, &mut out)?;
            }
            rest = tail;
        }
        partial.extend_from_slice(rest);
        while partial.len() >= MAX_LINE {
            let long: Vec<u8> = partial.drain(..MAX_LINE).collect();
            encode(stream, &long, &time, &mut out)?;
        }
        self.append(&out)
    }

    /// Writes out incomplete lines (at exit).
    pub fn flush(&mut self) -> std::io::Result<()> {
        let time = now_rfc3339();
        let mut out = Vec::new();
        for stream in [Stream::Stdout, Stream::Stderr] {
            let rest = std::mem::take(&mut self.partial[stream as usize]);
            if !rest.is_empty() {
                encode(stream, &rest, &time, &mut out)?;
            }
        }
        self.append(&out)
    }

    fn append(&mut self, entries: &[u8]) -> std::io::Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        // A write cut short (a full disk) would leave half an entry for the next one to be
        // glued to: cut the log back to its last whole entry; these lines are lost.
        let end = self.file.metadata()?.len();
        self.file.write_all(entries).inspect_err(|_| {
            let _ = self.file.set_len(end);
        })
    }
}

/// Appends one json-file entry (a line of JSON) to `out`.
fn encode(stream: Stream, line: &[u8], time: &str, out: &mut Vec<u8>) -> std::io::Result<()> {
    /// [`LogEntry`] borrowing its text, as it is written.
    #[derive(Serialize)]
    struct Entry<'a> {
        log: std::borrow::Cow<'a, str>,
        stream: Stream,
        time: &'a str,
    }
    let entry = Entry {
        log: String::from_utf8_lossy(line),
        stream,
        time,
    };
    serde_json::to_writer(&mut *out, &entry).map_err(std::io::Error::other)?;
    out.push(b'\n');
    Ok(())
}

/// Reads a container's log: every entry, or the last `tail` ones.
pub struct LogReader {
    reader: BufReader<File>,
}

impl LogReader {
    pub fn open(path: &Path) -> std::io::Result<LogReader> {
        Ok(LogReader {
            reader: BufReader::new(File::open(path)?),
        })
    }

    /// All complete entries from the current position on.
    pub fn read_available(&mut self) -> Vec<LogEntry> {
        let mut entries = Vec::new();
        loop {
            let start = self.reader.stream_position().unwrap_or(0);
            let mut line = String::new();
            match self.reader.read_line(&mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) if !line.ends_with('\n') => {
                    // A line being written right now: read it again next time.
                    let _ = self.reader.seek(SeekFrom::Start(start));
                    break;
                }
                Ok(_) => {
                    if let Ok(entry) = serde_json::from_str(&line) {
                        entries.push(entry);
                    }
                }
            }
        }
        entries
    }
}

/// The last `n` of `entries` (`None`: all), as `--tail` selects them.
pub fn tail(mut entries: Vec<LogEntry>, n: Option<usize>) -> Vec<LogEntry> {
    if let Some(n) = n {
        let skip = entries.len().saturating_sub(n);
        entries.drain(..skip);
    }
    entries
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_split_per_stream_and_partials_flushed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x-json.log");
        let mut w = LogWriter::open(&path).unwrap();
        w.write(Stream::Stdout, b"a\nb").unwrap();
        w.write(Stream::Stderr, b"err\n").unwrap();
        w.write(Stream::Stdout, b"c\n").unwrap();
        w.write(Stream::Stdout, b"tail").unwrap();
        w.flush().unwrap();
        let entries = LogReader::open(&path).unwrap().read_available();
        let logs: Vec<(Stream, &str)> =
            entries.iter().map(|e| (e.stream, e.log.as_str())).collect();
        assert_eq!(
            logs,
            vec![
                (Stream::Stdout, "a\n"),
                (Stream::Stderr, "err\n"),
                (Stream::Stdout, "bc\n"),
                (Stream::Stdout, "tail"),
            ]
        );
        assert_eq!(tail(entries, Some(1)).len(), 1);
    }

    #[test]
    fn long_lines_are_cut_like_docker_and_chunks_are_not_rescanned() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x-json.log");
        let mut w = LogWriter::open(&path).unwrap();
        // 40 MiB without a newline, in 16 KiB chunks: linear, not quadratic.
        let chunk = vec![b'z'; 16384];
        let started = std::time::Instant::now();
        for _ in 0..2560 {
            w.write(Stream::Stdout, &chunk).unwrap();
        }
        w.write(Stream::Stdout, b"end\n").unwrap();
        w.flush().unwrap();
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
        let entries = LogReader::open(&path).unwrap().read_available();
        assert_eq!(entries.len(), 2561);
        assert!(entries[..2560].iter().all(|e| e.log.len() == MAX_LINE));
        assert_eq!(entries[2560].log, "end\n");
    }
}
