//! `POST /containers/{id}/attach`: the container's output and input over the hijacked
//! connection, through its monitor's attach socket (the same one `ebrun attach` uses).
//!
//! Attaching to a container that is not running (the docker CLI's `run` and `start -a`
//! attach first, then start) marks the attach pending: the next monitor lets this client in
//! before the process starts, so not a byte of output is missed. The client's half-close
//! ends the container's stdin when it was made with `StdinOnce`; the detach keys end the
//! attachment and leave the container running.

use std::time::Duration;

use hyper::upgrade::OnUpgrade;
use hyper::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

use super::hijack;
use super::response::{self, Reply};
use super::router::Call;
use super::stdio_frames::{self, Wanted};
use crate::container::{self, ContainerConfig, ContainerStore, Escape, EscapeDetector, Stream};
use crate::Paths;

/// How long an attach to a container not yet started waits for its start.
const START_WAIT: Duration = Duration::from_secs(3600);

pub async fn attach(call: Call, upgrade: Option<OnUpgrade>) -> Reply {
    let key = call.segments("/containers/").first().map(|k| k.to_string());
    let paths = call.paths.clone();
    let found = tokio::task::spawn_blocking(move || {
        let config = ContainerStore::new(&paths).lookup(key.as_deref().unwrap_or(""))?;
        let running = container::running(&paths, &config)?;
        Ok::<_, container::ContainerError>((config, running))
    })
    .await;
    let (config, running) = match found {
        Ok(Ok(found)) => found,
        Ok(Err(e)) => return super::lifecycle::error(e),
        Err(e) => return response::error(StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    let q = &call.query;
    let wanted = Wanted {
        stdout: q.flag("stdout"),
        stderr: q.flag("stderr"),
    };
    let keys = match q.get("detachKeys").filter(|k| !k.is_empty()) {
        Some(spec) => match container::parse_detach_keys(spec) {
            Ok(k) => k,
            Err(e) => return response::error(StatusCode::BAD_REQUEST, e),
        },
        None => container::DEFAULT_DETACH_KEYS.to_vec(),
    };
    let stdin = q.flag("stdin") && config.process.interactive;
    if !running {
        if let Err(e) = container::mark_pending_attach(&call.paths, &config.id) {
            return response::error(StatusCode::INTERNAL_SERVER_ERROR, e);
        }
    }
    let tty = config.process.tty;
    let paths = call.paths.clone();
    let Some(upgrade) = upgrade else {
        // No upgrade asked for: the output as the body, no input.
        return response::streamed(stdio_frames::content_type(tty), move |out| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            let Ok(runtime) = runtime else { return };
            runtime.block_on(async move {
                let Some(socket) = connect(&paths, &config).await else {
                    return;
                };
                let (mut from, _to) = socket.into_split();
                while let Some((stream, data)) = read_frame(&mut from).await {
                    if wanted.wants(stream)
                        && !out
                            .send_async(stdio_frames::frame(stream, &data, tty))
                            .await
                    {
                        break;
                    }
                }
            });
        });
    };
    tokio::spawn(async move {
        let Some(io) = hijack::connection(upgrade).await else {
            container::clear_pending_attach(&paths, &config.id);
            return;
        };
        let Some(socket) = connect(&paths, &config).await else {
            return;
        };
        relay(io, socket, wanted, stdin, tty, keys).await;
    });
    hijack::switching(stdio_frames::content_type(tty))
}

/// Connects to the container's attach socket: at once when it is running, else when its
/// next monitor binds it (the pending mark makes that monitor wait for this client).
async fn connect(paths: &Paths, config: &ContainerConfig) -> Option<UnixStream> {
    let path = container::attach_socket_path(paths, &config.id);
    let deadline = tokio::time::Instant::now() + START_WAIT;
    let dir = paths.container_dir(&config.id);
    while tokio::time::Instant::now() < deadline {
        if let Ok(s) = UnixStream::connect(&path).await {
            return Some(s);
        }
        if !dir.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    container::clear_pending_attach(paths, &config.id);
    None
}

/// One frame of the monitor's attach socket (`[stream][u32 length][data]`).
async fn read_frame(from: &mut (impl AsyncReadExt + Unpin)) -> Option<(Stream, Vec<u8>)> {
    let mut header = [0u8; 5];
    from.read_exact(&mut header).await.ok()?;
    let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
    let mut data = vec![0u8; len];
    from.read_exact(&mut data).await.ok()?;
    let stream = if header[0] == 2 {
        Stream::Stderr
    } else {
        Stream::Stdout
    };
    Some((stream, data))
}

/// Output to the client until the container's output ends; the client's input (when asked
/// for) to the container until it half-closes or types the detach keys.
async fn relay(
    io: hijack::Io,
    socket: UnixStream,
    wanted: Wanted,
    stdin: bool,
    tty: bool,
    keys: Vec<u8>,
) {
    let (mut client_in, mut client_out) = tokio::io::split(io);
    let (mut from, mut to) = socket.into_split();
    let input = async move {
        if !stdin {
            return std::future::pending::<()>().await;
        }
        let mut detector = EscapeDetector::new(keys);
        let mut buf = [0u8; 4096];
        loop {
            match client_in.read(&mut buf).await {
                Ok(0) | Err(_) => {
                    // The client's half-close: the monitor ends the container's stdin (with
                    // StdinOnce); the output goes on.
                    let _ = to.shutdown().await;
                    return std::future::pending::<()>().await;
                }
                Ok(n) => match detector.feed(&buf[..n]) {
                    Escape::Forward(bytes) => {
                        if to.write_all(&bytes).await.is_err() {
                            return std::future::pending::<()>().await;
                        }
                    }
                    Escape::Detach(before) => {
                        let _ = to.write_all(&before).await;
                        return;
                    }
                },
            }
        }
    };
    let output = async {
        while let Some((stream, data)) = read_frame(&mut from).await {
            if !wanted.wants(stream) {
                continue;
            }
            let bytes = stdio_frames::frame(stream, &data, tty);
            if client_out.write_all(&bytes).await.is_err() {
                return;
            }
            let _ = client_out.flush().await;
        }
    };
    // Whichever ends first ends the attachment: the container's output, or a detach.
    tokio::select! {
        _ = output => {}
        _ = input => {}
    }
    let _ = client_out.shutdown().await;
}
