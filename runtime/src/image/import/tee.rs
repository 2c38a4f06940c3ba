//! A reader that copies what it reads into a file: an import keeps each layer blob byte for
//! byte while it unpacks it. Without a file it only passes the bytes on (the blob is linked
//! instead).

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};

/// Reads from `inner`, writing every byte read to `copy` (if any).
pub(crate) struct TeeReader<R> {
    inner: R,
    copy: Option<BufWriter<File>>,
}

impl<R: Read> TeeReader<R> {
    pub fn new(inner: R, copy: Option<File>) -> Self {
        TeeReader {
            inner,
            copy: copy.map(|f| BufWriter::with_capacity(256 << 10, f)),
        }
    }

    /// Flushes the copy and syncs nothing (the import syncs the filesystem once).
    pub fn finish(self) -> io::Result<()> {
        match self.copy {
            Some(mut c) => c.flush(),
            None => Ok(()),
        }
    }
}

impl<R: Read> Read for TeeReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(c) = &mut self.copy {
            c.write_all(&buf[..n])?;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_everything_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("copy");
        let mut tee = TeeReader::new(&b"hello world"[..], Some(File::create(&path).unwrap()));
        let mut out = String::new();
        tee.read_to_string(&mut out).unwrap();
        tee.finish().unwrap();
        assert_eq!(out, "hello world");
        assert_eq!(std::fs::read(&path).unwrap(), b"hello world");
    }
}
