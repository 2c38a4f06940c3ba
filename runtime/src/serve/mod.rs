//! `ebrun serve`: the long-running service of ARCHITECTURE.md point 4. It owns no container:
//! it reads state files, cgroup files and pinned maps, and writes only the events journal,
//! so starting, stopping or restarting it never changes a container.
//!
//! - Prometheus `GET /metrics` ([`http`]), rendered per scrape by [`crate::metrics`];
//! - OOM kills moved from the kernel's ring into the events journal as they happen
//!   ([`oom_watch`]; kills from while it was down are picked up at start);
//! - with an OTLP endpoint, the same metrics and the create/start/rm step timings as spans
//!   over OTLP/HTTP ([`otlp`]);
//! - the Docker Engine API on unix sockets ([`crate::engine_api`]).

mod http;
mod oom_watch;
mod otlp;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::metrics::Exporter;
use crate::Paths;

/// The default metrics address (loopback only, as Docker's metrics-addr examples).
pub const DEFAULT_METRICS_ADDR: &str = "127.0.0.1:9449";

/// What `ebrun serve` is asked to do.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Where `GET /metrics` listens.
    pub metrics_addr: SocketAddr,
    /// Where the Docker Engine API is served: unix sockets, TCP (loopback or TLS).
    pub api_endpoints: Vec<crate::engine_api::Endpoint>,
    /// Base URL of an OTLP/HTTP receiver (`/v1/metrics` and `/v1/traces` are appended).
    pub otlp_endpoint: Option<String>,
    /// How often metrics are pushed over OTLP.
    pub otlp_interval: Duration,
    /// How often the OOM ring is looked at.
    pub oom_poll: Duration,
}

/// Errors of `serve`.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot serve the Engine API on {}: {source}", path.display())]
    ApiSocket {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot serve the Engine API on tcp://{addr}: {message}")]
    ApiTcp { addr: SocketAddr, message: String },
    #[error("start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
    #[error("OTLP endpoint {endpoint}: {message}")]
    Otlp { endpoint: String, message: String },
}

/// Runs until SIGINT or SIGTERM. `ready` is called with the address actually bound (useful
/// with port 0) once `/metrics` answers.
pub fn run(
    paths: &Paths,
    options: &ServeOptions,
    ready: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    raise_open_files_limit();
    let exporter = Arc::new(Mutex::new(Exporter::new(paths)));
    // The OTLP clients are made and dropped outside the async runtime (they run their own).
    let telemetry = match &options.otlp_endpoint {
        Some(endpoint) => Some(otlp::Telemetry::start(
            paths,
            endpoint,
            options.otlp_interval,
            exporter.clone(),
        )?),
        None => None,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .max_blocking_threads(4)
        .build()
        .map_err(ServeError::Runtime)?;
    let result = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(options.metrics_addr)
            .await
            .map_err(|source| ServeError::Listen {
                addr: options.metrics_addr,
                source,
            })?;
        let bound = listener.local_addr().map_err(|source| ServeError::Listen {
            addr: options.metrics_addr,
            source,
        })?;
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut tasks = vec![
            tokio::spawn(http::serve(listener, exporter.clone(), stop_rx.clone())),
            tokio::spawn(oom_watch::run(
                paths.clone(),
                options.oom_poll,
                stop_rx.clone(),
            )),
        ];
        if let Some(t) = &telemetry {
            tasks.push(tokio::spawn(t.clone().run(stop_rx.clone())));
        }
        // Every endpoint bound before any is served: a failure leaves no socket file behind.
        let listeners = match bind_api(&options.api_endpoints).await {
            Ok(l) => l,
            Err(e) => return Err(e),
        };
        for listener in listeners {
            tasks.push(match listener {
                ApiListener::Unix(listener, path) => {
                    tracing::info!(socket = %path.display(), "serving the Engine API");
                    tokio::spawn(crate::engine_api::serve_unix(
                        listener,
                        path,
                        paths.clone(),
                        stop_rx.clone(),
                    ))
                }
                ApiListener::Tcp(listener, tls) => {
                    tracing::info!(addr = ?listener.local_addr().ok(), tls = tls.is_some(), "serving the Engine API");
                    tokio::spawn(crate::engine_api::serve_tcp(
                        listener,
                        tls,
                        paths.clone(),
                        stop_rx.clone(),
                    ))
                }
            });
        }
        tracing::info!(addr = %bound, "serving metrics");
        // From here on `rm` leaves removed containers' last values for the next scrape.
        crate::metrics::removed::mark_serving(paths);
        ready(bound);
        wait_for_signal().await;
        crate::metrics::removed::unmark_serving(paths);
        crate::metrics::removed::release_waiting(paths, true);
        let _ = stop_tx.send(true);
        for t in tasks {
            let _ = t.await;
        }
        Ok(())
    });
    drop(runtime);
    if let Some(t) = telemetry {
        t.shutdown();
    }
    result
}

/// The exporter keeps each running container's cgroup counter files open (about ten per
/// container): raise the soft limit of open files to the hard one.
fn raise_open_files_limit() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        if soft < hard {
            if let Err(e) = setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
                tracing::debug!(error = %e, "cannot raise the open files limit");
            }
        }
    }
}

/// Resolves on SIGINT or SIGTERM.
async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::warn!("cannot watch signals; serving until killed");
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

/// A bound Engine API endpoint.
enum ApiListener {
    Unix(tokio::net::UnixListener, std::path::PathBuf),
    Tcp(tokio::net::TcpListener, Option<tokio_rustls::TlsAcceptor>),
}

/// Binds every endpoint, or none: on a failure the sockets already made are removed.
async fn bind_api(
    endpoints: &[crate::engine_api::Endpoint],
) -> Result<Vec<ApiListener>, ServeError> {
    use crate::engine_api::Endpoint;
    let mut bound = Vec::new();
    let undo = |bound: &[ApiListener]| {
        for l in bound {
            if let ApiListener::Unix(_, path) = l {
                let _ = std::fs::remove_file(path);
            }
        }
    };
    for e in endpoints {
        let listener = match e {
            Endpoint::Unix(path) => crate::engine_api::bind(path)
                .map(|l| ApiListener::Unix(l, path.clone()))
                .map_err(|source| ServeError::ApiSocket {
                    path: path.clone(),
                    source,
                }),
            Endpoint::Tcp { addr, tls } => {
                let acceptor = tls
                    .as_ref()
                    .map(crate::engine_api::tls_acceptor)
                    .transpose()
                    .map_err(|message| ServeError::ApiTcp {
                        addr: *addr,
                        message,
                    });
                match acceptor {
                    Ok(acceptor) => tokio::net::TcpListener::bind(addr)
                        .await
                        .map(|l| ApiListener::Tcp(l, acceptor))
                        .map_err(|e| ServeError::ApiTcp {
                            addr: *addr,
                            message: e.to_string(),
                        }),
                    Err(e) => Err(e),
                }
            }
        };
        match listener {
            Ok(l) => bound.push(l),
            Err(e) => {
                undo(&bound);
                return Err(e);
            }
        }
    }
    Ok(bound)
}
