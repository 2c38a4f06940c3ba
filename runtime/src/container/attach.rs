//! The attach socket of a detached container: its monitor streams the container's output to
//! every connected client and passes what clients send to the container's stdin.
//!
//! Frames from the monitor: `[stream: u8][length: u32, big endian][data]`, stream 1 for
//! stdout, 2 for stderr. From a client: raw stdin bytes.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::logs::Stream;
use crate::Paths;

/// Where a container's attach socket lives (per boot, under the run dir).
pub fn socket_path(paths: &Paths, id: &str) -> PathBuf {
    paths.run_dir().join("attach").join(format!("{id}.sock"))
}

/// The mark of a client waiting to attach to a container before its start.
fn pending_path(paths: &Paths, id: &str) -> PathBuf {
    paths.run_dir().join("attach").join(format!("{id}.pending"))
}

/// A client will attach before the start (the Engine API's attach to a created container):
/// the next monitor waits for it before starting the process, so no output is missed.
pub fn mark_pending(paths: &Paths, id: &str) -> std::io::Result<()> {
    let path = pending_path(paths, id);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, b"")
}

/// The waiting client has gone (or connected).
pub fn clear_pending(paths: &Paths, id: &str) {
    let _ = std::fs::remove_file(pending_path(paths, id));
}

/// How long a monitor waits for a client marked pending.
const PENDING_WAIT: Duration = Duration::from_secs(5);

/// The monitor's side: when a client is marked pending, waits (up to [`PENDING_WAIT`]) for
/// it to connect to `listener` (non-blocking), and returns it.
pub fn accept_pending(paths: &Paths, id: &str, listener: &UnixListener) -> Vec<UnixStream> {
    let path = pending_path(paths, id);
    if !path.exists() {
        return Vec::new();
    }
    let deadline = Instant::now() + PENDING_WAIT;
    let mut accepted = Vec::new();
    while Instant::now() < deadline && path.exists() {
        match listener.accept() {
            Ok((stream, _)) => {
                let _ = stream.set_nonblocking(false);
                accepted.push(stream);
                break;
            }
            Err(_) => std::thread::sleep(Duration::from_micros(500)),
        }
    }
    clear_pending(paths, id);
    accepted
}

/// Encodes one frame.
pub fn frame(stream: Stream, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + data.len());
    out.push(match stream {
        Stream::Stdout => 1,
        Stream::Stderr => 2,
    });
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(data);
    out
}

/// Reads the next frame; `None` at the end of the stream.
pub fn read_frame(reader: &mut impl Read) -> std::io::Result<Option<(Stream, Vec<u8>)>> {
    let mut header = [0u8; 5];
    match reader.read_exact(&mut header) {
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
        Ok(()) => {}
    }
    let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
    let mut data = vec![0u8; len];
    reader.read_exact(&mut data)?;
    let stream = if header[0] == 2 {
        Stream::Stderr
    } else {
        Stream::Stdout
    };
    Ok(Some((stream, data)))
}

/// Copies frames from `socket` to this process's stdout/stderr until the monitor closes it.
pub fn copy_frames_to_stdio(socket: &mut impl Read) -> std::io::Result<()> {
    while let Some((stream, data)) = read_frame(socket)? {
        match stream {
            Stream::Stdout => {
                let mut out = std::io::stdout();
                out.write_all(&data)?;
                out.flush()?;
            }
            Stream::Stderr => std::io::stderr().write_all(&data)?,
        }
    }
    Ok(())
}
