//! What the user asks for on `ebrun run` (`--network`, `-p`, `-P`, `--expose`, `--dns`,
//! `--add-host`, `--ip`, ...): parsed and checked here, so the CLI stays a thin mapping.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

use super::NetworkError;

/// `--network`: Docker's network modes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", from = "String")]
pub enum NetworkMode {
    /// Nothing given: the default bridge (Docker shows `default`).
    #[default]
    Default,
    /// `bridge`: the default bridge network.
    Bridge,
    /// `none`: a network namespace with only `lo`.
    None,
    /// `host`: the host's network namespace.
    Host,
    /// `container:NAME|ID`: another container's network namespace.
    Container(String),
    /// A user-defined network, by name or id.
    Named(String),
}

impl From<String> for NetworkMode {
    fn from(s: String) -> Self {
        match s.as_str() {
            "" | "default" => NetworkMode::Default,
            "bridge" => NetworkMode::Bridge,
            "none" => NetworkMode::None,
            "host" => NetworkMode::Host,
            _ => match s.strip_prefix("container:") {
                Some(c) => NetworkMode::Container(c.to_string()),
                None => NetworkMode::Named(s),
            },
        }
    }
}

impl From<NetworkMode> for String {
    fn from(m: NetworkMode) -> String {
        m.to_string()
    }
}

impl fmt::Display for NetworkMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetworkMode::Default => f.write_str("default"),
            NetworkMode::Bridge => f.write_str("bridge"),
            NetworkMode::None => f.write_str("none"),
            NetworkMode::Host => f.write_str("host"),
            NetworkMode::Container(c) => write!(f, "container:{c}"),
            NetworkMode::Named(n) => f.write_str(n),
        }
    }
}

impl NetworkMode {
    /// Parses `--network VALUE`.
    pub fn parse(value: &str) -> Result<Self, NetworkError> {
        if value.is_empty() || value == "container:" {
            return Err(NetworkError::invalid_flag(
                "--network",
                value,
                "expected bridge, none, host, container:NAME|ID or a network name",
            ));
        }
        Ok(NetworkMode::from(value.to_string()))
    }

    /// The network a container in this mode gets an address on, if any.
    pub fn network_name(&self) -> Option<&str> {
        match self {
            NetworkMode::Default | NetworkMode::Bridge => Some("bridge"),
            NetworkMode::Named(n) => Some(n),
            _ => None,
        }
    }
}

/// A transport protocol of a published or exposed port.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    #[default]
    Tcp,
    Udp,
    Sctp,
}

impl Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Sctp => "sctp",
        }
    }

    fn parse(flag: &'static str, whole: &str, s: &str) -> Result<Self, NetworkError> {
        match s.to_ascii_lowercase().as_str() {
            "" | "tcp" => Ok(Proto::Tcp),
            "udp" => Ok(Proto::Udp),
            "sctp" => Ok(Proto::Sctp),
            _ => Err(NetworkError::invalid_flag(
                flag,
                whole,
                &format!("invalid proto: {s} (allowed: tcp, udp, sctp)"),
            )),
        }
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A container port and protocol (`80/tcp`): `--expose`, or an image's `ExposedPorts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PortProto {
    pub port: u16,
    pub proto: Proto,
}

impl fmt::Display for PortProto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.port, self.proto)
    }
}

impl PortProto {
    /// Parses `PORT[-PORT][/PROTO]` (`--expose`, image `ExposedPorts` keys).
    pub fn parse_range(flag: &'static str, value: &str) -> Result<Vec<Self>, NetworkError> {
        let (ports, proto) = value.split_once('/').unwrap_or((value, ""));
        let proto = Proto::parse(flag, value, proto)?;
        let (lo, hi) = parse_port_range(flag, value, ports)?;
        Ok((lo..=hi).map(|port| PortProto { port, proto }).collect())
    }
}

/// One `-p` mapping (ranges are expanded into one mapping per container port).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortMapping {
    /// The host address to bind; `None`: daemon.json's `ip`, else all addresses.
    pub host_ip: Option<IpAddr>,
    /// The host port or range to choose from; `None`: any free port.
    pub host_ports: Option<(u16, u16)>,
    pub container_port: u16,
    pub proto: Proto,
}

fn parse_port(flag: &'static str, whole: &str, s: &str) -> Result<u16, NetworkError> {
    match s.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(NetworkError::invalid_flag(
            flag,
            whole,
            &format!("invalid port {s:?} (allowed: 1-65535)"),
        )),
    }
}

fn parse_port_range(flag: &'static str, whole: &str, s: &str) -> Result<(u16, u16), NetworkError> {
    match s.split_once('-') {
        Some((a, b)) => {
            let (lo, hi) = (parse_port(flag, whole, a)?, parse_port(flag, whole, b)?);
            if hi < lo {
                return Err(NetworkError::invalid_flag(
                    flag,
                    whole,
                    &format!("invalid range {s:?}: the end is below the start"),
                ));
            }
            Ok((lo, hi))
        }
        None => {
            let p = parse_port(flag, whole, s)?;
            Ok((p, p))
        }
    }
}

/// Splits `[IP:][HOSTPORT:]CPORT` with a bracketed or bare IPv6 address allowed.
fn split_publish(value: &str) -> Option<(Option<&str>, Option<&str>, &str)> {
    if let Some(rest) = value.strip_prefix('[') {
        let (ip, rest) = rest.split_once(']')?;
        let rest = rest.strip_prefix(':')?;
        let (host, cport) = rest.split_once(':')?;
        return Some((Some(ip), Some(host), cport));
    }
    let parts: Vec<&str> = value.split(':').collect();
    match parts.as_slice() {
        [c] => Some((None, None, c)),
        [h, c] => Some((None, Some(h), c)),
        [ip, h, c] => Some((Some(ip), Some(h), c)),
        // A bare IPv6 address: everything before the last two fields.
        _ => {
            let c = parts[parts.len() - 1];
            let h = parts[parts.len() - 2];
            let ip_len = value.len() - c.len() - h.len() - 2;
            Some((Some(&value[..ip_len]), Some(h), c))
        }
    }
}

impl PortMapping {
    /// Parses one `-p` value: `CPORT`, `HPORT:CPORT`, `IP::CPORT`, `IP:HPORT:CPORT`, with
    /// ranges (`8000-8002:80-82`) and `/tcp`, `/udp` or `/sctp`.
    pub fn parse(value: &str) -> Result<Vec<Self>, NetworkError> {
        const FLAG: &str = "--publish";
        let (spec, proto) = value.rsplit_once('/').unwrap_or((value, ""));
        let proto = Proto::parse(FLAG, value, proto)?;
        let (ip, host, cport) = split_publish(spec).ok_or_else(|| {
            NetworkError::invalid_flag(
                FLAG,
                value,
                "expected [IP:][HOSTPORT:]CONTAINERPORT[/PROTO]",
            )
        })?;
        let host_ip = match ip {
            None | Some("") => None,
            Some(ip) => Some(ip.parse::<IpAddr>().map_err(|_| {
                NetworkError::invalid_flag(FLAG, value, &format!("invalid IP address {ip:?}"))
            })?),
        };
        let (clo, chi) = parse_port_range(FLAG, value, cport)?;
        let host = match host {
            None | Some("") => None,
            Some(h) => Some(parse_port_range(FLAG, value, h)?),
        };
        let count = u32::from(chi - clo) + 1;
        let mut out = Vec::new();
        for (i, container_port) in (clo..=chi).enumerate() {
            let host_ports = match host {
                None => None,
                Some((hlo, hhi)) if count == 1 => Some((hlo, hhi)),
                Some((hlo, hhi)) if u32::from(hhi - hlo) + 1 == count => {
                    Some((hlo + i as u16, hlo + i as u16))
                }
                Some(_) => {
                    return Err(NetworkError::invalid_flag(
                        FLAG,
                        value,
                        "the host and container port ranges must have the same length",
                    ))
                }
            };
            out.push(PortMapping {
                host_ip,
                host_ports,
                container_port,
                proto,
            });
        }
        Ok(out)
    }
}

/// The address of an `--add-host` entry: an IP, or Docker's `host-gateway` (the host as
/// containers see it), resolved when the container starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum HostIp {
    Ip(IpAddr),
    HostGateway,
}

/// The special `--add-host` value Docker replaces by the host's gateway address.
pub const HOST_GATEWAY: &str = "host-gateway";

impl TryFrom<String> for HostIp {
    type Error = std::net::AddrParseError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        if s == HOST_GATEWAY {
            return Ok(HostIp::HostGateway);
        }
        s.parse().map(HostIp::Ip)
    }
}

impl From<HostIp> for String {
    fn from(h: HostIp) -> String {
        h.to_string()
    }
}

impl fmt::Display for HostIp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostIp::Ip(ip) => ip.fmt(f),
            HostIp::HostGateway => f.write_str(HOST_GATEWAY),
        }
    }
}

/// `--add-host HOST:IP` (or `HOST=IP`); IP may be `host-gateway`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtraHost {
    pub host: String,
    pub ip: HostIp,
}

impl ExtraHost {
    pub fn parse(value: &str) -> Result<Self, NetworkError> {
        const FLAG: &str = "--add-host";
        let (host, ip) = value
            .split_once('=')
            .or_else(|| value.split_once(':'))
            .ok_or_else(|| NetworkError::invalid_flag(FLAG, value, "expected HOST:IP"))?;
        let ip = ip.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || host.chars().any(char::is_whitespace) {
            return Err(NetworkError::invalid_flag(FLAG, value, "invalid host name"));
        }
        let ip = HostIp::try_from(ip.to_string()).map_err(|_| {
            NetworkError::invalid_flag(
                FLAG,
                value,
                &format!("invalid IP address {ip:?} (an IP address or {HOST_GATEWAY})"),
            )
        })?;
        Ok(ExtraHost {
            host: host.to_string(),
            ip,
        })
    }
}

/// Parses `--mac-address`.
pub fn parse_mac(value: &str) -> Result<[u8; 6], NetworkError> {
    let bytes: Vec<u8> = value
        .split(':')
        .map(|b| u8::from_str_radix(b, 16))
        .collect::<Result<_, _>>()
        .ok()
        .filter(|v: &Vec<u8>| v.len() == 6 && value.split(':').all(|b| b.len() == 2))
        .ok_or_else(|| {
            NetworkError::invalid_flag("--mac-address", value, "expected six hex bytes a:b:c:d:e:f")
        })?;
    if bytes[0] & 1 == 1 {
        return Err(NetworkError::invalid_flag(
            "--mac-address",
            value,
            "a multicast address cannot be a container's address",
        ));
    }
    let mut mac = [0u8; 6];
    mac.copy_from_slice(&bytes);
    Ok(mac)
}

/// What the user asked for (`--network`, `-p`, `--dns`, ...), stored in the container's config.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkSpec {
    /// `--network` / `--net`.
    pub mode: NetworkMode,
    /// `--network-alias`: extra names on a user network.
    pub aliases: Vec<String>,
    /// `-p`, expanded.
    pub publish: Vec<PortMapping>,
    /// `-P`: publish every exposed port to a free host port.
    pub publish_all: bool,
    /// `--expose`.
    pub expose: Vec<PortProto>,
    /// `--dns`.
    pub dns: Vec<IpAddr>,
    /// `--dns-search`.
    pub dns_search: Vec<String>,
    /// `--dns-option`.
    pub dns_options: Vec<String>,
    /// `--add-host`.
    pub extra_hosts: Vec<ExtraHost>,
    /// `--mac-address`, as typed (checked).
    pub mac_address: Option<String>,
    /// `--ip`.
    pub ipv4: Option<Ipv4Addr>,
    /// `--ip6`.
    pub ipv6: Option<Ipv6Addr>,
    /// Networks joined with `network connect`, attached after `mode`'s at every start.
    pub connected: Vec<super::connections::Connection>,
    /// `network disconnect` of `mode`'s network: it is no longer attached at start.
    pub mode_disconnected: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_forms() {
        let p = PortMapping::parse("80").unwrap();
        assert_eq!(p[0].container_port, 80);
        assert_eq!(p[0].host_ports, None);
        let p = PortMapping::parse("8080:80/udp").unwrap();
        assert_eq!(
            (p[0].host_ports, p[0].proto),
            (Some((8080, 8080)), Proto::Udp)
        );
        let p = PortMapping::parse("127.0.0.1::80").unwrap();
        assert_eq!(p[0].host_ip, Some("127.0.0.1".parse().unwrap()));
        assert_eq!(p[0].host_ports, None);
        let p = PortMapping::parse("8000-8002:80-82").unwrap();
        assert_eq!(p.len(), 3);
        assert_eq!(
            (p[2].host_ports, p[2].container_port),
            (Some((8002, 8002)), 82)
        );
        let p = PortMapping::parse("[::1]:8080:80").unwrap();
        assert_eq!(p[0].host_ip, Some("::1".parse().unwrap()));
        let p = PortMapping::parse("::1:8080:80").unwrap();
        assert_eq!(p[0].host_ip, Some("::1".parse().unwrap()));
        let p = PortMapping::parse("9000-9010:80").unwrap();
        assert_eq!(p[0].host_ports, Some((9000, 9010)));
        assert!(PortMapping::parse("8000-8001:80-82").is_err());
        assert!(PortMapping::parse("0:80").is_err());
        assert!(PortMapping::parse("80/sctpx").is_err());
        assert_eq!(
            PortMapping::parse("9:9/SCTP").unwrap()[0].proto,
            Proto::Sctp
        );
        assert!(PortMapping::parse("1.2.3:80:80").is_err());
    }

    #[test]
    fn modes_round_trip() {
        for m in [
            "default",
            "bridge",
            "none",
            "host",
            "container:abc",
            "mynet",
        ] {
            assert_eq!(NetworkMode::from(m.to_string()).to_string(), m);
        }
    }

    #[test]
    fn add_host_and_mac() {
        let h = ExtraHost::parse("db:10.0.0.5").unwrap();
        assert_eq!(h.host, "db");
        assert!(ExtraHost::parse("v6:[::1]").is_ok());
        let gw = ExtraHost::parse("gw:host-gateway").unwrap();
        assert_eq!(gw.ip, HostIp::HostGateway);
        let json = serde_json::to_string(&gw).unwrap();
        assert_eq!(json, r#"{"host":"gw","ip":"host-gateway"}"#);
        assert_eq!(serde_json::from_str::<ExtraHost>(&json).unwrap(), gw);
        let old: ExtraHost = serde_json::from_str(r#"{"host":"db","ip":"10.0.0.5"}"#).unwrap();
        assert_eq!(old, h);
        assert!(ExtraHost::parse("gw:host-gw").is_err());
        assert!(ExtraHost::parse("nocolon").is_err());
        assert_eq!(parse_mac("02:42:ac:11:00:02").unwrap()[5], 2);
        assert!(parse_mac("01:42:ac:11:00:02").is_err());
        assert!(parse_mac("zz").is_err());
    }
}
