//! The host's network settings in Docker's `daemon.json` format.
//!
//! Where it is read from: `EBRUN_DAEMON_CONFIG` if set (an empty value means "no file");
//! otherwise `/etc/ebrun/daemon.json` for the default root (`/var/lib/ebrun`) and
//! `<root>/daemon.json` for any other root, so that independent instances (tests) each have
//! their own. A missing file means Docker's defaults. Keys other than the network keys below
//! are left to the modules that use them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use ipnet::{Ipv4Net, Ipv6Net};
use serde_json::Value;

use super::NetworkError;
use crate::Paths;

/// The environment variable naming the daemon.json to read.
pub const CONFIG_ENV: &str = "EBRUN_DAEMON_CONFIG";
/// The file read for the default root.
pub const DEFAULT_CONFIG: &str = "/etc/ebrun/daemon.json";

/// Docker's network keys of daemon.json, checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DaemonConfig {
    /// `bridge`: an existing bridge to use for the default network (Docker's `-b`).
    pub bridge: Option<String>,
    /// `bip`: the default bridge's address and prefix (`172.17.0.1/16`).
    pub bip: Option<Ipv4Net>,
    /// `fixed-cidr`: the part of the subnet containers get addresses from.
    pub fixed_cidr: Option<Ipv4Net>,
    /// `fixed-cidr-v6`: the IPv6 subnet of the default bridge.
    pub fixed_cidr_v6: Option<Ipv6Net>,
    /// `mtu` of the default bridge and its containers' interfaces.
    pub mtu: Option<u32>,
    /// `default-gateway` / `default-gateway-v6`: the containers' default route.
    pub default_gateway: Option<Ipv4Addr>,
    pub default_gateway_v6: Option<Ipv6Addr>,
    /// `dns`, `dns-search`, `dns-opts`: the containers' resolv.conf.
    pub dns: Vec<IpAddr>,
    pub dns_search: Vec<String>,
    pub dns_options: Vec<String>,
    /// `ipv6`: IPv6 on the default bridge (needs `fixed-cidr-v6`).
    pub ipv6: bool,
    /// `ip`: the default host address published ports bind to.
    pub ip: Option<IpAddr>,
    /// `host-gateway-ip`: what `--add-host NAME:host-gateway` resolves to (default: the
    /// default bridge's address).
    pub host_gateway_ip: Option<IpAddr>,
}

/// The daemon.json this instance reads, if any.
pub fn config_path(paths: &Paths) -> Option<PathBuf> {
    match std::env::var_os(CONFIG_ENV) {
        Some(p) if p.is_empty() => None,
        Some(p) => Some(PathBuf::from(p)),
        None if paths.root() == std::path::Path::new(crate::paths::DEFAULT_ROOT) => {
            Some(PathBuf::from(DEFAULT_CONFIG))
        }
        None => Some(paths.root().join("daemon.json")),
    }
}

fn invalid(key: &str, value: &Value, allowed: &str) -> NetworkError {
    NetworkError::Config(format!(
        "invalid value {value} for daemon.json key {key:?}: {allowed}"
    ))
}

fn string<'a>(key: &str, v: &'a Value) -> Result<&'a str, NetworkError> {
    v.as_str()
        .ok_or_else(|| invalid(key, v, "expected a string"))
}

fn parsed<T: std::str::FromStr>(key: &str, v: &Value, allowed: &str) -> Result<T, NetworkError> {
    string(key, v)?
        .parse::<T>()
        .map_err(|_| invalid(key, v, allowed))
}

fn strings(key: &str, v: &Value) -> Result<Vec<String>, NetworkError> {
    v.as_array()
        .ok_or_else(|| invalid(key, v, "expected a list of strings"))?
        .iter()
        .map(|s| string(key, s).map(str::to_string))
        .collect()
}

impl DaemonConfig {
    /// Reads and checks this instance's daemon.json (defaults if there is none).
    pub fn load(paths: &Paths) -> Result<Self, NetworkError> {
        let Some(path) = config_path(paths) else {
            return Ok(Self::default());
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::parse(&text).map_err(|e| match e {
                NetworkError::Config(m) => NetworkError::Config(format!("{}: {m}", path.display())),
                other => other,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(NetworkError::Config(format!(
                "cannot read {}: {e}",
                path.display()
            ))),
        }
    }

    /// Parses the text of a daemon.json.
    pub fn parse(text: &str) -> Result<Self, NetworkError> {
        let doc: Value = serde_json::from_str(text)
            .map_err(|e| NetworkError::Config(format!("not valid JSON: {e}")))?;
        let Value::Object(map) = doc else {
            return Err(NetworkError::Config("expected a JSON object".into()));
        };
        let mut c = DaemonConfig::default();
        for (key, v) in &map {
            match key.as_str() {
                "bridge" => {
                    let name = string(key, v)?;
                    if !super::netlink::valid_ifname(name) {
                        return Err(invalid(
                            key,
                            v,
                            "expected an interface name (1-15 characters)",
                        ));
                    }
                    c.bridge = Some(name.to_string());
                }
                "bip" => {
                    let net: Ipv4Net = parsed(
                        key,
                        v,
                        "expected an IPv4 address/prefix such as 172.17.0.1/16",
                    )?;
                    if net.addr() == net.network() || net.prefix_len() > 30 {
                        return Err(invalid(
                            key,
                            v,
                            "the address must be a host address of a subnet of /30 or larger",
                        ));
                    }
                    c.bip = Some(net);
                }
                "fixed-cidr" => {
                    c.fixed_cidr = Some(
                        parsed::<Ipv4Net>(key, v, "expected an IPv4 subnet such as 172.17.1.0/24")?
                            .trunc(),
                    )
                }
                "fixed-cidr-v6" => {
                    c.fixed_cidr_v6 = Some(
                        parsed::<Ipv6Net>(key, v, "expected an IPv6 subnet such as fd00:1::/64")?
                            .trunc(),
                    )
                }
                "mtu" => {
                    let mtu = v.as_u64().filter(|m| (68..=65535).contains(m));
                    c.mtu = Some(
                        mtu.ok_or_else(|| invalid(key, v, "expected a number from 68 to 65535"))?
                            as u32,
                    );
                }
                "default-gateway" => {
                    c.default_gateway = Some(parsed(key, v, "expected an IPv4 address")?)
                }
                "default-gateway-v6" => {
                    c.default_gateway_v6 = Some(parsed(key, v, "expected an IPv6 address")?)
                }
                "dns" => {
                    c.dns = strings(key, v)?
                        .iter()
                        .map(|s| {
                            s.parse()
                                .map_err(|_| invalid(key, v, "expected a list of IP addresses"))
                        })
                        .collect::<Result<_, _>>()?
                }
                "dns-search" => c.dns_search = strings(key, v)?,
                "dns-opts" => c.dns_options = strings(key, v)?,
                "ipv6" => {
                    c.ipv6 = v
                        .as_bool()
                        .ok_or_else(|| invalid(key, v, "expected true or false"))?
                }
                "ip" => c.ip = Some(parsed(key, v, "expected an IP address")?),
                "host-gateway-ip" => {
                    c.host_gateway_ip = Some(parsed(key, v, "expected an IP address")?)
                }
                _ => {}
            }
        }
        if c.bridge.is_some() && c.bip.is_some() {
            return Err(NetworkError::Config(
                "\"bridge\" and \"bip\" cannot both be set: bip configures the bridge ebrun creates".into(),
            ));
        }
        if let (Some(bip), Some(fixed)) = (c.bip, c.fixed_cidr) {
            if !bip.trunc().contains(&fixed) {
                return Err(NetworkError::Config(format!(
                    "\"fixed-cidr\" {fixed} is not inside \"bip\" {bip}"
                )));
            }
        }
        if c.ipv6 && c.fixed_cidr_v6.is_none() {
            return Err(NetworkError::Config(
                "\"ipv6\": true needs \"fixed-cidr-v6\" (the subnet containers get IPv6 addresses from)".into(),
            ));
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_docker_keys() {
        let c = DaemonConfig::parse(
            r#"{"bip":"10.99.0.1/24","mtu":1400,"dns":["10.0.0.2"],"ipv6":true,
                "fixed-cidr-v6":"fd00:99::/64","ip":"127.0.0.1","log-driver":"json-file"}"#,
        )
        .unwrap();
        assert_eq!(c.bip.unwrap().to_string(), "10.99.0.1/24");
        assert_eq!(c.mtu, Some(1400));
        assert!(c.ipv6);
        assert_eq!(c.ip, Some("127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn errors_name_the_key() {
        for (text, key) in [
            (r#"{"bip":"300.1.1.1/16"}"#, "bip"),
            (r#"{"mtu":"big"}"#, "mtu"),
            (r#"{"dns":["x"]}"#, "dns"),
            (r#"{"ipv6":"yes"}"#, "ipv6"),
            (r#"{"fixed-cidr":"10.0.0.0"}"#, "fixed-cidr"),
            (r#"{"host-gateway-ip":"gw"}"#, "host-gateway-ip"),
        ] {
            let e = DaemonConfig::parse(text).unwrap_err().to_string();
            assert!(e.contains(key), "{e}");
        }
        assert!(DaemonConfig::parse(r#"{"ipv6":true}"#).is_err());
        assert!(
            DaemonConfig::parse(r#"{"bip":"10.0.0.1/24","fixed-cidr":"10.1.0.0/24"}"#).is_err()
        );
    }
}
