//! The attach socket of a detached container: its monitor streams the container's output to
//! every connected client and passes what clients send to the container's stdin.
//!
//! Frames from the monitor: `[stream: u8][length: u32, big endian][data]`, stream 1 for
//! stdout, 2 for stderr. From a client: raw stdin bytes.

use std::io::{Read, Write};
use std::path::PathBuf;

use super::logs::Stream;
use crate::Paths;

/// Where a container's attach socket lives (per boot, under the run dir).
pub fn socket_path(paths: &Paths, id: &str) -> PathBuf {
    paths.run_dir().join("attach").join(format!("{id}.sock"))
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
