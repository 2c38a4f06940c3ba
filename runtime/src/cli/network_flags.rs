//! The network flags of `ebrun run` (`--net`, `-p`, `-P`, `--dns`, ...), parsed and validated
//! into [`ebrun::network::NetworkSpec`].

use anyhow::Result;
use clap::Args;

use ebrun::network::{spec, ExtraHost, NetworkMode, NetworkSpec, PortMapping, PortProto};

#[derive(Debug, Clone, Args)]
pub struct NetworkFlags {
    /// Connect a container to a network (bridge, none, host, container:NAME|ID, or a name).
    #[arg(long = "network", visible_alias = "net", value_name = "NETWORK")]
    network: Option<String>,
    /// Add network-scoped aliases for the container.
    #[arg(
        long = "network-alias",
        visible_alias = "net-alias",
        value_name = "ALIAS"
    )]
    network_alias: Vec<String>,
    /// Publish a container's port(s) to the host ([IP:][HOSTPORT:]CONTAINERPORT[/PROTO]).
    #[arg(short = 'p', long = "publish", value_name = "PORT")]
    publish: Vec<String>,
    /// Publish all exposed ports to random ports.
    #[arg(short = 'P', long = "publish-all")]
    publish_all: bool,
    /// Expose a port or a range of ports.
    #[arg(long = "expose", value_name = "PORT")]
    expose: Vec<String>,
    /// Set custom DNS servers.
    #[arg(long = "dns", value_name = "IP")]
    dns: Vec<String>,
    /// Set custom DNS search domains.
    #[arg(long = "dns-search", value_name = "DOMAIN")]
    dns_search: Vec<String>,
    /// Set DNS options.
    #[arg(long = "dns-option", visible_alias = "dns-opt", value_name = "OPTION")]
    dns_option: Vec<String>,
    /// Add a custom host-to-IP mapping (HOST:IP).
    #[arg(long = "add-host", value_name = "HOST:IP")]
    add_host: Vec<String>,
    /// Container MAC address (e.g. 92:d0:c6:0a:29:33).
    #[arg(long = "mac-address", value_name = "MAC")]
    mac_address: Option<String>,
    /// IPv4 address (e.g. 172.30.100.104), on a user-defined network.
    #[arg(long = "ip", value_name = "IP")]
    ip: Option<String>,
    /// IPv6 address (e.g. 2001:db8::33), on a user-defined network.
    #[arg(long = "ip6", value_name = "IP")]
    ip6: Option<String>,
}

fn bad(flag: &str, value: &str, reason: &str) -> anyhow::Error {
    anyhow::anyhow!("invalid {flag} value {value:?}: {reason}")
}

impl NetworkFlags {
    pub fn to_spec(&self) -> Result<NetworkSpec> {
        let mode = match &self.network {
            Some(n) => NetworkMode::parse(n)?,
            None => NetworkMode::Default,
        };
        let mut publish = Vec::new();
        for p in &self.publish {
            publish.extend(PortMapping::parse(p)?);
        }
        let mut expose = Vec::new();
        for e in &self.expose {
            expose.extend(PortProto::parse_range("--expose", e)?);
        }
        let dns = self
            .dns
            .iter()
            .map(|d| {
                d.parse()
                    .map_err(|_| bad("--dns", d, "expected an IP address"))
            })
            .collect::<Result<_>>()?;
        let extra_hosts = self
            .add_host
            .iter()
            .map(|h| ExtraHost::parse(h))
            .collect::<Result<_, _>>()?;
        if let Some(mac) = &self.mac_address {
            spec::parse_mac(mac)?;
        }
        let ipv4 = self
            .ip
            .as_deref()
            .map(|ip| {
                ip.parse()
                    .map_err(|_| bad("--ip", ip, "expected an IPv4 address"))
            })
            .transpose()?;
        let ipv6 = self
            .ip6
            .as_deref()
            .map(|ip| {
                ip.parse()
                    .map_err(|_| bad("--ip6", ip, "expected an IPv6 address"))
            })
            .transpose()?;
        for a in &self.network_alias {
            if a.is_empty() || a.chars().any(char::is_whitespace) {
                return Err(bad("--network-alias", a, "expected a name without spaces"));
            }
        }
        Ok(NetworkSpec {
            mode,
            aliases: self.network_alias.clone(),
            publish,
            publish_all: self.publish_all,
            expose,
            dns,
            dns_search: self.dns_search.clone(),
            dns_options: self.dns_option.clone(),
            extra_hosts,
            mac_address: self.mac_address.clone(),
            ipv4,
            ipv6,
            ..Default::default()
        })
    }
}
