//! Where the Engine API listens: unix sockets, and TCP only where it cannot be reached
//! unauthenticated (loopback, or TLS with client certificates checked against a CA), as
//! dockerd refuses to expose an open TCP socket.

use std::net::SocketAddr;
use std::path::PathBuf;

/// `--tlscacert`, `--tlscert`, `--tlskey` (`--tlsverify`: clients must present a certificate
/// the CA signed).
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// With `--tlsverify`: the CA client certificates must chain to.
    pub client_ca: Option<PathBuf>,
}

/// One `--api` URL.
#[derive(Debug, Clone)]
pub enum Endpoint {
    Unix(PathBuf),
    Tcp {
        addr: SocketAddr,
        tls: Option<TlsFiles>,
    },
}

impl Endpoint {
    /// `unix:///PATH` or `tcp://HOST:PORT` (an IP address); `tls` applies to TCP.
    pub fn parse(url: &str, tls: Option<&TlsFiles>) -> Result<Endpoint, String> {
        if let Some(path) = url.strip_prefix("unix://") {
            if !path.starts_with('/') {
                return Err(format!(
                    "invalid --api {url:?}: a unix socket needs an absolute path (unix:///PATH)"
                ));
            }
            return Ok(Endpoint::Unix(PathBuf::from(path)));
        }
        let Some(hostport) = url.strip_prefix("tcp://") else {
            return Err(format!(
                "invalid --api {url:?}: expected unix:///PATH or tcp://IP:PORT"
            ));
        };
        let addr: SocketAddr = hostport.trim_end_matches('/').parse().map_err(|_| {
            format!("invalid --api {url:?}: tcp:// needs an IP address and a port, e.g. tcp://127.0.0.1:2375")
        })?;
        let verified = tls.is_some_and(|t| t.client_ca.is_some());
        if !addr.ip().is_loopback() && !verified {
            return Err(format!(
                "refusing --api {url}: the Engine API gives root on this host, so off loopback it is served only with --tlsverify (and --tlscacert, --tlscert, --tlskey); use tcp://127.0.0.1:PORT or a unix socket otherwise"
            ));
        }
        Ok(Endpoint::Tcp {
            addr,
            tls: tls.cloned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_only_on_loopback_or_with_client_certificates() {
        assert!(matches!(
            Endpoint::parse("unix:///run/x.sock", None),
            Ok(Endpoint::Unix(_))
        ));
        assert!(Endpoint::parse("unix://rel.sock", None).is_err());
        assert!(Endpoint::parse("tcp://127.0.0.1:2375", None).is_ok());
        assert!(Endpoint::parse("tcp://[::1]:2375", None).is_ok());
        let e = Endpoint::parse("tcp://0.0.0.0:2375", None).unwrap_err();
        assert!(e.contains("--tlsverify"), "{e}");
        let tls = TlsFiles {
            cert: "c".into(),
            key: "k".into(),
            client_ca: Some("ca".into()),
        };
        assert!(Endpoint::parse("tcp://0.0.0.0:2376", Some(&tls)).is_ok());
        assert!(Endpoint::parse("tcp://localhost:2375", None).is_err());
        assert!(Endpoint::parse("http://x", None).is_err());
    }
}
