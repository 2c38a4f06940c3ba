//! Which registries may be reached over plain HTTP: those listed in daemon.json's
//! `insecure-registries` (`host[:port]` or a CIDR of registry addresses), and, as in Docker,
//! every registry on a loopback address (127.0.0.0/8, ::1, `localhost`) without listing.
//! The file is the one the network module reads (see [`crate::network::daemon_config`]).

use ipnet::IpNet;
use serde_json::Value;

use super::PullError;
use crate::Paths;

/// The `insecure-registries` entries of this instance's daemon.json.
pub fn insecure_registries(paths: &Paths) -> Result<Vec<String>, PullError> {
    let Some(path) = crate::network::daemon_config::config_path(paths) else {
        return Ok(Vec::new());
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(PullError::Config(format!(
                "cannot read {}: {e}",
                path.display()
            )))
        }
    };
    let doc: Value = serde_json::from_str(&text)
        .map_err(|e| PullError::Config(format!("{}: not valid JSON: {e}", path.display())))?;
    let Some(list) = doc.get("insecure-registries") else {
        return Ok(Vec::new());
    };
    list.as_array()
        .and_then(|a| a.iter().map(|v| v.as_str().map(str::to_string)).collect())
        .ok_or_else(|| {
            PullError::Config(format!(
                "{}: \"insecure-registries\" must be a list of strings (host[:port] or CIDR)",
                path.display()
            ))
        })
}

/// Whether `domain` (`host[:port]`) is on loopback or covered by one of `entries`.
pub fn is_insecure(domain: &str, entries: &[String]) -> bool {
    let host = match domain.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => domain,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
    {
        return true;
    }
    entries.iter().any(|e| {
        let e = e
            .trim_start_matches("http://")
            .trim_start_matches("https://")
            .trim_end_matches('/');
        if e == domain {
            return true;
        }
        match (e.parse::<IpNet>(), host.parse::<std::net::IpAddr>()) {
            (Ok(net), Ok(ip)) => net.contains(&ip),
            _ => false,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_hosts_and_cidrs() {
        let list = vec!["127.0.0.1:5000".to_string(), "10.0.0.0/8".to_string()];
        assert!(is_insecure("127.0.0.1:5000", &list));
        assert!(!is_insecure(
            "10.1.0.1:5001",
            &["10.1.0.1:5000".to_string()]
        ));
        // Loopback registries are insecure without listing, as in Docker.
        assert!(is_insecure("127.0.0.1:5001", &[]));
        assert!(is_insecure("127.8.0.1", &[]));
        assert!(is_insecure("localhost:5000", &[]));
        assert!(is_insecure("[::1]:5000", &[]));
        assert!(!is_insecure("registry.example:5000", &[]));
        assert!(is_insecure("10.1.2.3:443", &list));
        assert!(!is_insecure("docker.io", &list));
    }
}
