//! Network load from the host: a thread fetching the web containers' page through their
//! published ports on 127.0.0.1, round robin, as fast as they answer (with a short pause),
//! counting fetches that returned the whole page and those that did not.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// What the host's fetches came to.
#[derive(Debug, Default)]
pub struct Fetches {
    pub ok: u64,
    pub bytes: u64,
    /// The first few failures: "port: why".
    pub failures: Vec<String>,
    pub failed: u64,
}

/// The page's body from 127.0.0.1:`port`, or why not.
fn fetch(port: u16) -> Result<Vec<u8>, String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    s.write_all(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).map_err(|e| e.to_string())?;
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no header end")?;
    let status = String::from_utf8_lossy(&raw[..end.min(20)]).to_string();
    if !(status.starts_with("HTTP/1.0 200") || status.starts_with("HTTP/1.1 200")) {
        return Err(status);
    }
    Ok(raw[end + 4..].to_vec())
}

/// The fetching thread; [`HostClient::finish`] stops it.
pub struct HostClient {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Fetches>>,
}

impl HostClient {
    /// Fetches `expect_bytes`-long pages from `ports` until finished.
    pub fn start(ports: Vec<u16>, expect_bytes: usize) -> HostClient {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut f = Fetches::default();
            let mut i = 0;
            while !flag.load(Ordering::Relaxed) && !ports.is_empty() {
                let port = ports[i % ports.len()];
                i += 1;
                match fetch(port) {
                    Ok(body) if body.len() == expect_bytes => {
                        f.ok += 1;
                        f.bytes += body.len() as u64;
                    }
                    other => {
                        f.failed += 1;
                        if f.failures.len() < 10 {
                            let why = match other {
                                Ok(body) => format!("{} bytes", body.len()),
                                Err(e) => e,
                            };
                            f.failures.push(format!("{port}: {why}"));
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            f
        });
        HostClient {
            stop,
            thread: Some(thread),
        }
    }

    pub fn finish(mut self) -> Fetches {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .expect("running")
            .join()
            .expect("the host client thread panicked")
    }
}

impl Drop for HostClient {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
