//! The unix socket: bound with dockerd's owner and mode, each connection served by the
//! router (connections may be hijacked: attach, exec).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::Paths;

/// The socket `ebrun serve` answers on by default: `/run/<prefix>/docker.sock`.
pub fn default_socket(paths: &Paths) -> PathBuf {
    paths.run_dir().join("docker.sock")
}

/// The socket's owner and mode as dockerd's: group `docker` (0660) where it exists, else
/// root only (0600).
fn set_access(path: &Path) -> std::io::Result<()> {
    let docker_gid = nix::unistd::Group::from_name("docker").ok().flatten();
    match docker_gid {
        Some(g) => {
            std::os::unix::fs::chown(path, Some(0), Some(g.gid.as_raw()))?;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
        }
        None => std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)),
    }
}

/// Binds `path` (replacing a socket left by an earlier serve).
pub fn bind(path: &Path) -> std::io::Result<UnixListener> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    match std::fs::symlink_metadata(path) {
        Ok(m) if std::os::unix::fs::FileTypeExt::is_socket(&m.file_type()) => {
            std::fs::remove_file(path)?
        }
        Ok(_) => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!("{} exists and is not a socket", path.display()),
            ))
        }
        Err(_) => {}
    }
    let listener = UnixListener::bind(path)?;
    set_access(path)?;
    Ok(listener)
}

/// Serves one connection (hijackable: attach, exec) until it ends.
fn serve_connection<IO>(io: IO, paths: Paths)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req| super::router::handle(req, paths.clone()));
    tokio::spawn(async move {
        if let Err(e) = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(io), service)
            .with_upgrades()
            .await
        {
            tracing::debug!(error = %e, "API connection");
        }
    });
}

/// Serves the Engine API on `listener` (bound at `path`) until `stop` turns true; the
/// socket file goes with it.
pub async fn serve_unix(
    listener: UnixListener,
    path: PathBuf,
    paths: Paths,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => serve_connection(stream, paths.clone()),
                Err(e) => tracing::warn!(error = %e, "accept on the API socket"),
            },
            _ = stop.changed() => break,
        }
    }
    let _ = std::fs::remove_file(&path);
}

/// Serves the Engine API on a TCP listener (TLS when `tls` is given) until `stop` turns
/// true. A client that fails the handshake is dropped; the others go on.
pub async fn serve_tcp(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    paths: Paths,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => match &tls {
                    None => serve_connection(stream, paths.clone()),
                    Some(acceptor) => {
                        let (acceptor, paths) = (acceptor.clone(), paths.clone());
                        tokio::spawn(async move {
                            match acceptor.accept(stream).await {
                                Ok(tls_stream) => serve_connection(tls_stream, paths),
                                Err(e) => tracing::info!(%peer, error = %e, "TLS handshake refused"),
                            }
                        });
                    }
                },
                Err(e) => tracing::warn!(error = %e, "accept on the API's TCP port"),
            },
            _ = stop.changed() => break,
        }
    }
}
