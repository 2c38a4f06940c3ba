//! The few kernel settings container networking needs.

use std::path::PathBuf;

use super::NetworkError;

fn set(path: PathBuf, value: &str) -> Result<(), NetworkError> {
    if std::fs::read_to_string(&path).is_ok_and(|v| v.trim() == value) {
        return Ok(());
    }
    std::fs::write(&path, value).map_err(|source| NetworkError::Io {
        op: "write sysctl",
        source: std::io::Error::new(source.kind(), format!("{}: {source}", path.display())),
    })
}

/// IPv4 forwarding, which routing between bridges and the outside needs (Docker sets it too).
pub fn enable_ipv4_forwarding() -> Result<(), NetworkError> {
    set("/proc/sys/net/ipv4/ip_forward".into(), "1")
}

/// IPv6 forwarding, for networks with IPv6.
pub fn enable_ipv6_forwarding() -> Result<(), NetworkError> {
    set("/proc/sys/net/ipv6/conf/all/forwarding".into(), "1")
}

/// Lets the host reach published ports on 127.0.0.1: packets DNATed from 127.0.0.1 may then
/// leave through `bridge` (and are masqueraded). Set on ebrun's own bridges only; it goes
/// with the bridge.
pub fn route_localnet(bridge: &str) -> Result<(), NetworkError> {
    set(
        PathBuf::from("/proc/sys/net/ipv4/conf")
            .join(bridge)
            .join("route_localnet"),
        "1",
    )
}
