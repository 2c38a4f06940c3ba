//! `ebrun attach [--detach-keys SEQ] [--no-stdin] [--sig-proxy=BOOL] CONTAINER`: the running
//! container's output live, and this terminal's input to its stdin, through its monitor's
//! attach socket. Ends with the container's exit code, or, when the detach keys (default
//! ctrl-p,ctrl-q) are typed, with "read escape sequence" and exit code 1 as Docker's does,
//! leaving the container running.

use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Result;
use clap::Args;
use nix::sys::signal::{sigprocmask, SigSet, SigmaskHow, Signal};

use ebrun::container::{self, ContainerConfig, ContainerStore, Escape, EscapeDetector};
use ebrun::Paths;

use super::Context;

#[derive(Debug, Args)]
pub struct AttachArgs {
    /// Override the key sequence for detaching a container (default "ctrl-p,ctrl-q").
    #[arg(long = "detach-keys", value_name = "SEQ")]
    detach_keys: Option<String>,
    /// Do not attach STDIN.
    #[arg(long = "no-stdin")]
    no_stdin: bool,
    /// Proxy all received signals to the process (not with a terminal: there the keys
    /// reach it through the terminal).
    #[arg(long = "sig-proxy", value_name = "BOOL", default_value_t = true,
          action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true,
          default_missing_value = "true")]
    sig_proxy: bool,
    container: String,
}

/// Signals `attach --sig-proxy` passes on to the container: the same as a foreground run
/// forwards (Docker's proxy skips the ones about the client's own terminal and children).
const PROXIED: [Signal; 7] = ebrun::process::FORWARDED;

pub fn attach(ctx: &Context, args: AttachArgs) -> Result<i32> {
    let keys = match &args.detach_keys {
        Some(spec) => match container::parse_detach_keys(spec) {
            Ok(k) => k,
            Err(e) => {
                eprintln!("Error response from daemon: {e}");
                return Ok(1);
            }
        },
        None => container::DEFAULT_DETACH_KEYS.to_vec(),
    };
    let store = ContainerStore::new(&ctx.paths);
    let Some(config) = super::lookup_or_report(&store, &args.container) else {
        return Ok(1);
    };
    if !container::running(&ctx.paths, &config)? {
        eprintln!("You cannot attach to a stopped container, start it first");
        return Ok(1);
    }
    let tty = config.process.tty;
    let stdin_attached = !args.no_stdin && config.process.interactive;
    if stdin_attached && tty && !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        // Docker's check: keys for a terminal must come from one.
        eprintln!("the input device is not a TTY");
        return Ok(1);
    }
    let mut socket = match connect(&ctx.paths, &config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "Error response from daemon: cannot attach to {}: {e}",
                config.name
            );
            return Ok(1);
        }
    };
    if args.sig_proxy && !tty {
        proxy_signals(&ctx.paths, &config)?;
    }
    // With a terminal the keys go to the container as typed (ctrl-c included).
    let raw = (stdin_attached && tty)
        .then(ebrun::process::RawMode::enter)
        .flatten();
    let detached = Arc::new(AtomicBool::new(false));
    if stdin_attached {
        let to_container = socket.try_clone()?;
        let detached = Arc::clone(&detached);
        // Input runs beside the output; it ends with this process.
        std::thread::spawn(move || {
            forward_input(to_container, EscapeDetector::new(keys), &detached)
        });
    }
    let copied = container::copy_frames_to_stdio(&mut socket);
    drop(raw);
    if detached.load(Ordering::SeqCst) {
        eprintln!("read escape sequence");
        return Ok(1);
    }
    copied?;
    Ok(container::wait_exit(
        &ctx.paths,
        &config,
        Some(std::time::Duration::from_secs(10)),
    )?
    .unwrap_or(0))
}

/// Connects to the container's attach socket. A monitor binds it just after reporting the
/// start, so a client right behind `run -d` may find it missing for a moment.
fn connect(paths: &Paths, config: &ContainerConfig) -> std::io::Result<UnixStream> {
    let path = container::attach_socket_path(paths, &config.id);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        match UnixStream::connect(&path) {
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
                ) && std::time::Instant::now() < deadline
                    && container::running(paths, config).unwrap_or(false) =>
            {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            result => return result,
        }
    }
}

/// Copies this process's stdin to the container until EOF or the detach keys; on those it
/// ends the connection, which ends the output copy too.
fn forward_input(
    mut to_container: UnixStream,
    mut detector: EscapeDetector,
    detached: &AtomicBool,
) {
    let mut buf = [0u8; 4096];
    let mut stdin = std::io::stdin();
    while let Ok(n) = stdin.read(&mut buf) {
        if n == 0 {
            return;
        }
        match detector.feed(&buf[..n]) {
            Escape::Forward(bytes) => {
                if to_container.write_all(&bytes).is_err() {
                    return;
                }
            }
            Escape::Detach(before) => {
                let _ = to_container.write_all(&before);
                detached.store(true, Ordering::SeqCst);
                let _ = to_container.shutdown(Shutdown::Both);
                return;
            }
        }
    }
}

/// `--sig-proxy`: the signals this process receives go to the container's init (as `ebrun
/// kill -s SIG` would send them) instead of ending the client.
fn proxy_signals(paths: &Paths, config: &ContainerConfig) -> Result<()> {
    let mut set = SigSet::empty();
    for s in PROXIED {
        set.add(s);
    }
    // Blocked before any other thread exists, so every thread inherits the mask and only
    // the proxy thread takes them.
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None)?;
    let paths = paths.clone();
    let config = config.clone();
    std::thread::spawn(move || {
        while let Ok(signal) = set.wait() {
            if let Err(e) = container::kill_container(&paths, &config, signal) {
                tracing::debug!(error = %e, "signal not proxied");
            }
        }
    });
    Ok(())
}
