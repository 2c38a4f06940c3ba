//! The unix socket and the router: `/vX.Y/` prefixes checked against the versions served,
//! each endpoint's blocking store reads off the async runtime.

use std::convert::Infallible;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::UnixListener;
use tokio::sync::watch;

use super::response::{self, Reply};
use crate::Paths;

/// The socket `ebrun serve` answers on by default: `/run/<prefix>/docker.sock`.
pub fn default_socket(paths: &Paths) -> PathBuf {
    paths.run_dir().join("docker.sock")
}

/// `1.47` as (1, 47).
fn parse_version(v: &str) -> Option<(u32, u32)> {
    let (major, minor) = v.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// The endpoint of `/v1.47/containers/json`; an unsupported version is refused with
/// Docker's message (a 400).
fn route(path: &str) -> Result<&str, String> {
    let Some(rest) = path.strip_prefix("/v") else {
        return Ok(path);
    };
    let Some((version, endpoint)) = rest.split_once('/') else {
        return Ok(path);
    };
    let Some(asked) = parse_version(version) else {
        return Ok(path);
    };
    let (min, max) = (
        parse_version(super::MIN_API_VERSION).expect("a version"),
        parse_version(super::API_VERSION).expect("a version"),
    );
    if asked < min {
        return Err(format!(
            "client version {version} is too old. Minimum supported API version is {}, please upgrade your client to a newer version",
            super::MIN_API_VERSION
        ));
    }
    if asked > max {
        return Err(format!(
            "client version {version} is too new. Maximum supported API version is {}",
            super::API_VERSION
        ));
    }
    Ok(&path[path.len() - endpoint.len() - 1..])
}

/// `all=1`, `all=true`.
fn query_flag(query: Option<&str>, name: &str) -> bool {
    query.into_iter().flat_map(|q| q.split('&')).any(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        k == name && matches!(v, "1" | "true" | "True")
    })
}

/// Runs `read` (blocking store I/O) off the async runtime.
async fn blocking(read: impl FnOnce() -> Reply + Send + 'static) -> Reply {
    tokio::task::spawn_blocking(read).await.unwrap_or_else(|e| {
        response::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("handler failed: {e}"),
        )
    })
}

async fn handle(req: Request<Incoming>, paths: Paths) -> Result<Reply, Infallible> {
    let endpoint = match route(req.uri().path()) {
        Ok(e) => e.to_string(),
        Err(message) => return Ok(response::error(StatusCode::BAD_REQUEST, message)),
    };
    let query = req.uri().query().map(str::to_string);
    let method = req.method().clone();
    let reply = match (method, endpoint.as_str()) {
        (Method::GET | Method::HEAD, "/_ping") => response::text(StatusCode::OK, "OK"),
        (Method::GET, "/version") => response::json(StatusCode::OK, &super::system::version()),
        (Method::GET, "/info") => {
            blocking(move || response::json(StatusCode::OK, &super::system::info(&paths))).await
        }
        (Method::GET, "/containers/json") => {
            let all = query_flag(query.as_deref(), "all");
            blocking(move || response::json(StatusCode::OK, &super::containers::list(&paths, all)))
                .await
        }
        (Method::GET, "/images/json") => {
            blocking(move || match super::images::list(&paths) {
                Ok(list) => response::json(StatusCode::OK, &list),
                Err(e) => response::error(StatusCode::INTERNAL_SERVER_ERROR, e),
            })
            .await
        }
        (method, path) => match path.strip_prefix("/containers/") {
            Some(rest) => {
                let (key, action) = rest.split_once('/').unwrap_or((rest, ""));
                let (key, action) = (key.to_string(), action.to_string());
                blocking(move || {
                    super::lifecycle::handle(&paths, &method, &key, &action, query.as_deref())
                        .unwrap_or_else(|| response::error(StatusCode::NOT_FOUND, "page not found"))
                })
                .await
            }
            None => response::error(StatusCode::NOT_FOUND, "page not found"),
        },
    };
    Ok(reply)
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
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((s, _)) => s,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept on the API socket");
                        continue;
                    }
                };
                let paths = paths.clone();
                let service = hyper::service::service_fn(move |req| handle(req, paths.clone()));
                tokio::spawn(async move {
                    if let Err(e) = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await
                    {
                        tracing::debug!(error = %e, "API connection");
                    }
                });
            }
            _ = stop.changed() => break,
        }
    }
    let _ = std::fs::remove_file(&path);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_checked_in_the_prefix() {
        assert_eq!(
            route("/v1.47/containers/json").ok(),
            Some("/containers/json")
        );
        assert_eq!(route("/_ping").ok(), Some("/_ping"));
        assert!(route("/v1.12/info").is_err());
        assert!(route("/v9.0/info").is_err());
        assert!(query_flag(Some("all=1&size=0"), "all"));
        assert!(!query_flag(Some("all=0"), "all"));
    }
}
