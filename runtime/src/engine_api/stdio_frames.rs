//! Docker's stdio stream framing: raw bytes with a terminal; otherwise each piece with an
//! 8-byte header `[stream, 0, 0, 0, length (u32, big endian)]` (stream 0 stdin, 1 stdout,
//! 2 stderr), the "multiplexed stream" clients demultiplex.

use hyper::body::Bytes;

use crate::container::Stream;

/// Content type of a raw stream (a container with a terminal).
pub const RAW: &str = "application/vnd.docker.raw-stream";
/// Content type of a multiplexed stream.
pub const MULTIPLEXED: &str = "application/vnd.docker.multiplexed-stream";

/// The content type for a container with (`tty`) or without a terminal.
pub fn content_type(tty: bool) -> &'static str {
    if tty {
        RAW
    } else {
        MULTIPLEXED
    }
}

/// One piece of output as the client reads it.
pub fn frame(stream: Stream, data: &[u8], tty: bool) -> Bytes {
    if tty {
        return Bytes::copy_from_slice(data);
    }
    let mut out = Vec::with_capacity(8 + data.len());
    out.push(match stream {
        Stream::Stdout => 1,
        Stream::Stderr => 2,
    });
    out.extend_from_slice(&[0, 0, 0]);
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(data);
    Bytes::from(out)
}

/// Which streams a request asked for (`stdout=1&stderr=1`).
#[derive(Debug, Clone, Copy)]
pub struct Wanted {
    pub stdout: bool,
    pub stderr: bool,
}

impl Wanted {
    pub fn wants(&self, stream: Stream) -> bool {
        match stream {
            Stream::Stdout => self.stdout,
            Stream::Stderr => self.stderr,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiplexed_header() {
        assert_eq!(
            &frame(Stream::Stderr, b"hi", false)[..],
            &[2, 0, 0, 0, 0, 0, 0, 2, b'h', b'i']
        );
        assert_eq!(&frame(Stream::Stdout, b"hi", true)[..], b"hi");
    }
}
