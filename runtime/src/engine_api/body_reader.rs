//! A request body read as it arrives, by blocking code (`images/load`, `archive` PUT: tar
//! streams larger than any limit on JSON bodies).

use std::io::Read;

use futures_util::StreamExt as _;
use http_body_util::BodyStream;
use hyper::body::{Bytes, Incoming};
use tokio::sync::mpsc;

/// The body as `std::io::Read`; an error of the connection is an I/O error.
pub struct BodyReader {
    rx: mpsc::Receiver<Result<Bytes, String>>,
    current: Bytes,
}

impl BodyReader {
    /// Starts copying `body` from the connection (on the async runtime) into the reader.
    pub fn spawn(body: Incoming) -> BodyReader {
        let (tx, rx) = mpsc::channel(8);
        tokio::spawn(async move {
            let mut frames = BodyStream::new(body);
            while let Some(frame) = frames.next().await {
                let piece = match frame {
                    Ok(f) => match f.into_data() {
                        Ok(data) => Ok(data),
                        Err(_) => continue,
                    },
                    Err(e) => Err(e.to_string()),
                };
                let failed = piece.is_err();
                // A full channel holds this task back until the reader drains it.
                if tx.send(piece).await.is_err() || failed {
                    return;
                }
            }
        });
        BodyReader {
            rx,
            current: Bytes::new(),
        }
    }
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            // Read on a blocking thread (the endpoints run off the async runtime).
            match self.rx.blocking_recv() {
                Some(Ok(data)) => self.current = data,
                Some(Err(e)) => return Err(std::io::Error::other(e)),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current = self.current.slice(n..);
        Ok(n)
    }
}
