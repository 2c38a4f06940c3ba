//! `POST /containers/{id}/exec`, `/exec/{id}/start|resize|json`: Docker's exec instances.
//!
//! An instance is a file under the run directory (what was asked; running, pid, exit code),
//! so any serve answers for it. Starting one runs `ebrun exec` (the CLI's own code path,
//! a single-threaded process, as joining a container's namespaces needs) with pipes, or a
//! terminal with `Tty`, relayed over the hijacked connection; the exit code is recorded
//! before the stream ends, so the client's inspect right after it finds it.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream as StdUnixStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex, OnceLock};

use hyper::upgrade::OnUpgrade;
use hyper::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::hijack;
use super::response::{self, Reply};
use super::router::Call;
use super::stdio_frames;
use crate::container::{self, ContainerStore, Escape, EscapeDetector, Stream};
use crate::Paths;

/// What `POST /containers/{id}/exec` asks for.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct ExecConfig {
    attach_stdin: bool,
    attach_stdout: bool,
    attach_stderr: bool,
    detach_keys: String,
    tty: bool,
    #[serde(deserialize_with = "super::request::nullable")]
    env: Vec<String>,
    #[serde(deserialize_with = "super::request::nullable")]
    cmd: Vec<String>,
    privileged: bool,
    user: String,
    working_dir: String,
}

/// An exec instance's file.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ExecRecord {
    id: String,
    container_id: String,
    config: ExecConfig,
    running: bool,
    started: bool,
    exit_code: Option<i32>,
    pid: i32,
}

fn dir(paths: &Paths) -> PathBuf {
    paths.run_dir().join("execs")
}

fn record_path(paths: &Paths, id: &str) -> PathBuf {
    dir(paths).join(format!("{id}.json"))
}

fn save(paths: &Paths, r: &ExecRecord) -> std::io::Result<()> {
    std::fs::create_dir_all(dir(paths))?;
    let text = serde_json::to_vec(r).map_err(std::io::Error::other)?;
    crate::state::write_atomic(&record_path(paths, &r.id), &text).map_err(std::io::Error::other)
}

fn load(paths: &Paths, id: &str) -> Option<ExecRecord> {
    if id.is_empty() || id.contains('/') {
        return None;
    }
    serde_json::from_slice(&std::fs::read(record_path(paths, id)).ok()?).ok()
}

/// Forgets the exec instances of containers that are gone (dockerd drops a container's
/// execs with it); done when a new instance is made.
fn forget_orphans(paths: &Paths) {
    let Ok(entries) = std::fs::read_dir(dir(paths)) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        if path.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let orphan = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice::<ExecRecord>(&b).ok())
            .is_none_or(|r| !r.running && !paths.container_dir(&r.container_id).exists());
        if orphan {
            let _ = std::fs::remove_file(&path);
        }
    }
}

fn no_such_exec(id: &str) -> Reply {
    response::error(
        StatusCode::NOT_FOUND,
        format!("No such exec instance: {id}"),
    )
}

/// Terminals of running execs, for resize.
fn terminals() -> &'static Mutex<HashMap<String, Arc<OwnedFd>>> {
    static TERMINALS: OnceLock<Mutex<HashMap<String, Arc<OwnedFd>>>> = OnceLock::new();
    TERMINALS.get_or_init(Default::default)
}

/// `POST /containers/{id}/exec`.
pub fn create(call: &Call, key: &str) -> Reply {
    let config: ExecConfig = match super::request::json_body(&call.body) {
        Ok(c) => c,
        Err(reply) => return reply,
    };
    if config.cmd.is_empty() {
        return response::error(StatusCode::BAD_REQUEST, "No exec command specified");
    }
    if !config.detach_keys.is_empty() {
        if let Err(e) = container::parse_detach_keys(&config.detach_keys) {
            return response::error(StatusCode::BAD_REQUEST, e);
        }
    }
    let c = match ContainerStore::new(&call.paths).lookup(key) {
        Ok(c) => c,
        Err(e) => return super::lifecycle::error(e),
    };
    match container::running(&call.paths, &c) {
        Ok(true) => {}
        Ok(false) => {
            return response::error(
                StatusCode::CONFLICT,
                format!("container {} is not running", c.id),
            )
        }
        Err(e) => return super::lifecycle::error(e),
    }
    forget_orphans(&call.paths);
    let record = ExecRecord {
        id: crate::container::new_id(),
        container_id: c.id.clone(),
        config,
        running: false,
        started: false,
        exit_code: None,
        pid: 0,
    };
    match save(&call.paths, &record) {
        Ok(()) => response::json(StatusCode::CREATED, &json!({"Id": record.id})),
        Err(e) => response::error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

/// `/exec/{id}/json` and `/exec/{id}/resize`.
pub fn handle(call: &Call) -> Option<Reply> {
    let segments = call.segments("/exec/");
    let (id, action) = match segments.as_slice() {
        [id, action] => (*id, *action),
        _ => return None,
    };
    Some(match (&call.method, action) {
        (&Method::GET, "json") => match load(&call.paths, id) {
            Some(r) => response::json(StatusCode::OK, &inspect(&r)),
            None => no_such_exec(id),
        },
        (&Method::POST, "resize") => {
            let Some(_) = load(&call.paths, id) else {
                return Some(no_such_exec(id));
            };
            let (h, w) = match call.query.terminal_size() {
                Ok(size) => size,
                Err(r) => return Some(r),
            };
            let terminal = terminals().lock().ok().and_then(|t| t.get(id).cloned());
            match terminal {
                Some(fd) => match crate::process::set_winsize(fd.as_fd(), h, w) {
                    Ok(()) => response::empty(StatusCode::OK),
                    Err(e) => response::error(StatusCode::INTERNAL_SERVER_ERROR, e),
                },
                None => response::error(
                    StatusCode::CONFLICT,
                    format!("exec {id} has no terminal to resize (not running with Tty)"),
                ),
            }
        }
        _ => return None,
    })
}

fn inspect(r: &ExecRecord) -> serde_json::Value {
    json!({
        "ID": r.id,
        "ContainerID": r.container_id,
        "Running": r.running,
        "ExitCode": r.exit_code,
        "Pid": r.pid,
        "CanRemove": false,
        "DetachKeys": r.config.detach_keys,
        "OpenStdin": r.config.attach_stdin,
        "OpenStdout": r.config.attach_stdout,
        "OpenStderr": r.config.attach_stderr,
        "ProcessConfig": {
            "tty": r.config.tty,
            "entrypoint": r.config.cmd.first(),
            "arguments": r.config.cmd.get(1..).unwrap_or_default(),
            "privileged": r.config.privileged,
            "user": r.config.user,
        },
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct StartBody {
    detach: bool,
    console_size: Option<Vec<u16>>,
}

/// `POST /exec/{id}/start`: hijacked unless `Detach`.
pub async fn start(call: Call, upgrade: Option<OnUpgrade>) -> Reply {
    let id = call
        .segments("/exec/")
        .first()
        .map(|s| s.to_string())
        .unwrap_or_default();
    let body: StartBody = match super::request::json_body(&call.body) {
        Ok(b) => b,
        Err(reply) => return reply,
    };
    let Some(mut record) = load(&call.paths, &id) else {
        return no_such_exec(&id);
    };
    if record.started {
        return response::error(
            StatusCode::CONFLICT,
            format!("Error: Exec command {id} has already run"),
        );
    }
    let paths = call.paths.clone();
    record.started = true;
    let tty = record.config.tty;
    let launched = match launch(&paths, &record, body.detach, body.console_size.as_deref()) {
        Ok(l) => l,
        Err(e) => return response::error(StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    record.running = true;
    record.pid = launched.child.id() as i32;
    let _ = save(&paths, &record);
    if body.detach {
        std::thread::spawn(move || finish(&paths, record, launched, None));
        return response::empty(StatusCode::OK);
    }
    // The relay's end inside this process: a socket pair, its other end copied to the
    // client's connection.
    let (near, far) = match StdUnixStream::pair() {
        Ok(p) => p,
        Err(e) => return response::error(StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    let keys = if record.config.detach_keys.is_empty() {
        container::DEFAULT_DETACH_KEYS.to_vec()
    } else {
        container::parse_detach_keys(&record.config.detach_keys).unwrap_or_default()
    };
    std::thread::spawn(move || finish(&paths, record, launched, Some((near, keys))));
    let Some(upgrade) = upgrade else {
        return response::streamed(stdio_frames::content_type(tty), move |out| {
            let mut far = far;
            let mut buf = [0u8; 16384];
            while let Ok(n) = far.read(&mut buf) {
                if n == 0 || !out.send(buf[..n].to_vec()) {
                    break;
                }
            }
        });
    };
    tokio::spawn(async move {
        let Some(mut io) = hijack::connection(upgrade).await else {
            return;
        };
        let _ = far.set_nonblocking(true);
        let Ok(mut far) = tokio::net::UnixStream::from_std(far) else {
            return;
        };
        let _ = tokio::io::copy_bidirectional(&mut io, &mut far).await;
    });
    hijack::switching(stdio_frames::content_type(tty))
}

/// A started `ebrun exec` and the ends of its stdio this process keeps.
struct Launched {
    child: std::process::Child,
    /// With a terminal: its master; else stdin, stdout, stderr pipes.
    terminal: Option<Arc<OwnedFd>>,
}

fn launch(
    paths: &Paths,
    r: &ExecRecord,
    detach: bool,
    size: Option<&[u16]>,
) -> std::io::Result<Launched> {
    let mut cmd = paths.ebrun_command();
    cmd.arg("exec");
    let c = &r.config;
    if c.attach_stdin && !detach {
        cmd.arg("-i");
    }
    if c.tty {
        cmd.arg("-t");
    }
    for e in &c.env {
        cmd.arg("-e").arg(e);
    }
    if !c.working_dir.is_empty() {
        cmd.arg("-w").arg(&c.working_dir);
    }
    if !c.user.is_empty() {
        cmd.arg("-u").arg(&c.user);
    }
    cmd.arg(&r.container_id).args(&c.cmd);
    if detach {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        return Ok(Launched {
            child: cmd.spawn()?,
            terminal: None,
        });
    }
    if c.tty {
        let pty = nix::pty::openpty(None, None).map_err(std::io::Error::from)?;
        if let Some([rows, cols]) = size.and_then(|s| <[u16; 2]>::try_from(s).ok()) {
            let _ = crate::process::set_winsize(pty.master.as_fd(), rows, cols);
        }
        let slave = pty.slave;
        cmd.stdin(Stdio::from(slave.try_clone()?))
            .stdout(Stdio::from(slave.try_clone()?))
            .stderr(Stdio::from(slave));
        // SAFETY: setsid and ioctl are async-signal-safe; the child makes the terminal on
        // its stdin its controlling terminal, so it gets SIGWINCH on resize.
        unsafe {
            cmd.pre_exec(|| {
                nix::unistd::setsid().map_err(std::io::Error::from)?;
                if libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn()?;
        return Ok(Launched {
            child,
            terminal: Some(Arc::new(pty.master)),
        });
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    Ok(Launched {
        child: cmd.spawn()?,
        terminal: None,
    })
}

/// Relays the exec's stdio over `near` (when attached), waits for it, and records its exit
/// code before the client's stream ends.
fn finish(
    paths: &Paths,
    mut record: ExecRecord,
    mut launched: Launched,
    attached: Option<(StdUnixStream, Vec<u8>)>,
) {
    let mut relays = Vec::new();
    if let Some((near, keys)) = attached {
        let tty = record.config.tty;
        if let Some(master) = &launched.terminal {
            if let Ok(mut t) = terminals().lock() {
                t.insert(record.id.clone(), Arc::clone(master));
            }
            let out = std::fs::File::from(master.try_clone().expect("dup terminal"));
            let input = std::fs::File::from(master.try_clone().expect("dup terminal"));
            relays.push(pump_output(
                out,
                near.try_clone().ok(),
                Stream::Stdout,
                true,
            ));
            // The input relay ends on the client's half-close; it is not waited for.
            let _ = pump_input(near.try_clone().ok(), Some(input), keys);
        } else {
            if let Some(out) = launched.child.stdout.take() {
                relays.push(pump_output(out, near.try_clone().ok(), Stream::Stdout, tty));
            }
            if let Some(err) = launched.child.stderr.take() {
                relays.push(pump_output(err, near.try_clone().ok(), Stream::Stderr, tty));
            }
            let stdin = launched.child.stdin.take();
            // The input relay ends on the client's half-close; it is not waited for.
            let _ = pump_input(near.try_clone().ok(), stdin, keys);
        }
        let status = launched.child.wait();
        if launched.terminal.is_some() {
            // The terminal's output ends with the exec (nothing else holds its other side).
            if let Ok(mut t) = terminals().lock() {
                t.remove(&record.id);
            }
        }
        for r in relays.drain(..) {
            let _ = r.join();
        }
        record.exit_code = Some(exit_code(status));
        record.running = false;
        let _ = save(paths, &record);
        let _ = near.shutdown(std::net::Shutdown::Both);
        return;
    }
    let status = launched.child.wait();
    record.exit_code = Some(exit_code(status));
    record.running = false;
    let _ = save(paths, &record);
}

fn exit_code(status: std::io::Result<std::process::ExitStatus>) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Ok(s) => s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0)),
        Err(_) => 126,
    }
}

/// Copies one output of the exec to the client, framed unless it is a terminal.
fn pump_output(
    mut from: impl Read + Send + 'static,
    to: Option<StdUnixStream>,
    stream: Stream,
    tty: bool,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let Some(mut to) = to else { return };
        let mut buf = [0u8; 16384];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if to
                        .write_all(&stdio_frames::frame(stream, &buf[..n], tty))
                        .is_err()
                    {
                        return;
                    }
                }
            }
        }
    })
}

/// Copies the client's input to the exec's stdin until the client half-closes (the stdin
/// closes) or types the detach keys (the exec is left running, the stream ends).
fn pump_input(
    from: Option<StdUnixStream>,
    to: Option<impl Write + Send + 'static>,
    keys: Vec<u8>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let (Some(mut from), Some(mut to)) = (from, to) else {
            return;
        };
        let mut detector = EscapeDetector::new(keys);
        let mut buf = [0u8; 4096];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => match detector.feed(&buf[..n]) {
                    Escape::Forward(bytes) => {
                        if to.write_all(&bytes).is_err() {
                            return;
                        }
                    }
                    Escape::Detach(before) => {
                        let _ = to.write_all(&before);
                        let _ = from.shutdown(std::net::Shutdown::Both);
                        return;
                    }
                },
            }
        }
    })
}
