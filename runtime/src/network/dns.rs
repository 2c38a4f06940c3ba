//! The container's /etc/hosts and /etc/resolv.conf, as Docker writes them.

use std::net::IpAddr;

use super::daemon_config::DaemonConfig;
use super::spec::NetworkSpec;

/// Docker's fixed /etc/hosts header.
pub const HOSTS_HEADER: &str = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\
fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n";

/// Docker's resolvers when the host has none a container can use.
const FALLBACK_DNS: [&str; 2] = ["8.8.8.8", "8.8.4.4"];

/// The container's own /etc/hosts: header, `--add-host` entries, its addresses with its
/// hostname.
pub fn own_hosts(spec: &NetworkSpec, hostname: &str, addresses: &[IpAddr]) -> String {
    let mut out = HOSTS_HEADER.to_string();
    for h in &spec.extra_hosts {
        out.push_str(&format!("{}\t{}\n", h.ip, h.host));
    }
    for a in addresses {
        out.push_str(&format!("{a}\t{hostname}\n"));
    }
    out
}

/// /etc/hosts for `--net host`: the host's own, plus `--add-host` entries.
pub fn host_mode_hosts(spec: &NetworkSpec) -> String {
    let mut out =
        std::fs::read_to_string("/etc/hosts").unwrap_or_else(|_| HOSTS_HEADER.to_string());
    if !out.ends_with('\n') && !out.is_empty() {
        out.push('\n');
    }
    for h in &spec.extra_hosts {
        out.push_str(&format!("{}\t{}\n", h.ip, h.host));
    }
    out
}

/// The resolvers, search domains and options a container gets: `--dns*` flags, else
/// daemon.json's, else the host's; loopback resolvers dropped unless `keep_loopback`, with
/// Docker's fallback when none is left.
struct Resolv {
    servers: Vec<String>,
    search: Vec<String>,
    options: Vec<String>,
}

impl Resolv {
    fn choose(spec: &NetworkSpec, config: &DaemonConfig, keep_loopback: bool) -> Self {
        let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        let mut servers: Vec<String> = Vec::new();
        let mut search: Vec<String> = Vec::new();
        let mut options: Vec<String> = Vec::new();
        for line in host.lines() {
            let mut words = line.split_whitespace();
            match words.next() {
                Some("nameserver") => {
                    if let Some(a) = words.next() {
                        let loopback = a.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
                        if keep_loopback || !loopback {
                            servers.push(a.to_string());
                        }
                    }
                }
                Some("search") | Some("domain") => search = words.map(str::to_string).collect(),
                Some("options") => options.extend(words.map(str::to_string)),
                _ => {}
            }
        }
        let pick = |flag: &[String], daemon: &[String], host: Vec<String>| {
            if !flag.is_empty() {
                flag.to_vec()
            } else if !daemon.is_empty() {
                daemon.to_vec()
            } else {
                host
            }
        };
        let to_s = |v: &[IpAddr]| v.iter().map(ToString::to_string).collect::<Vec<_>>();
        let mut servers = pick(&to_s(&spec.dns), &to_s(&config.dns), servers);
        if servers.is_empty() {
            servers = FALLBACK_DNS.iter().map(|s| s.to_string()).collect();
        }
        Resolv {
            servers,
            search: pick(&spec.dns_search, &config.dns_search, search),
            options: pick(&spec.dns_options, &config.dns_options, options),
        }
    }

    fn text(&self) -> String {
        let mut out = String::new();
        for s in &self.servers {
            out.push_str(&format!("nameserver {s}\n"));
        }
        if !self.search.is_empty() && self.search != ["."] {
            out.push_str(&format!("search {}\n", self.search.join(" ")));
        }
        if !self.options.is_empty() {
            out.push_str(&format!("options {}\n", self.options.join(" ")));
        }
        out
    }
}

/// /etc/resolv.conf: `--dns*` flags, else daemon.json's, else the host's; loopback
/// resolvers dropped unless `keep_loopback` (host network), with Docker's fallback when none
/// is left.
pub fn resolv_conf(spec: &NetworkSpec, config: &DaemonConfig, keep_loopback: bool) -> String {
    Resolv::choose(spec, config, keep_loopback).text()
}

/// /etc/resolv.conf of a container on a user-defined network, as Docker writes it: the
/// embedded server (`nameserver 127.0.0.11`), the search domains, the options with
/// `ndots:0` unless the user set ndots.
pub fn resolv_conf_embedded(spec: &NetworkSpec, config: &DaemonConfig) -> String {
    let mut r = Resolv::choose(spec, config, true);
    r.servers = vec![super::resolver::ADDRESS.to_string()];
    if !r.options.iter().any(|o| o.starts_with("ndots:")) {
        r.options.insert(0, "ndots:0".into());
    }
    r.text()
}

/// The resolvers the embedded server forwards to (the host's loopback ones included: it
/// asks those from the host's namespace), those of the container's own networks first.
pub fn upstreams(spec: &NetworkSpec, config: &DaemonConfig) -> Vec<super::resolver::Upstream> {
    let mut out: Vec<super::resolver::Upstream> = Resolv::choose(spec, config, true)
        .servers
        .iter()
        .filter_map(|s| s.parse::<IpAddr>().ok())
        .map(super::resolver::Upstream::new)
        .collect();
    out.sort_by_key(|u| u.from_host);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_host_resolvers() {
        let spec = NetworkSpec {
            dns: vec!["10.1.2.3".parse().unwrap()],
            dns_search: vec!["example.test".into()],
            dns_options: vec!["ndots:2".into()],
            ..Default::default()
        };
        let text = resolv_conf(&spec, &DaemonConfig::default(), false);
        assert_eq!(
            text,
            "nameserver 10.1.2.3\nsearch example.test\noptions ndots:2\n"
        );
    }

    #[test]
    fn own_hosts_names_the_container() {
        let text = own_hosts(
            &NetworkSpec::default(),
            "abc",
            &["172.17.0.2".parse().unwrap()],
        );
        assert!(text.starts_with("127.0.0.1\tlocalhost\n"));
        assert!(text.ends_with("172.17.0.2\tabc\n"));
    }

    #[test]
    fn embedded_server_and_ndots() {
        let spec = NetworkSpec {
            dns: vec!["10.1.2.3".parse().unwrap()],
            dns_search: vec!["example.test".into()],
            dns_options: vec!["timeout:2".into()],
            ..Default::default()
        };
        let text = resolv_conf_embedded(&spec, &DaemonConfig::default());
        assert_eq!(
            text,
            "nameserver 127.0.0.11\nsearch example.test\noptions ndots:0 timeout:2\n"
        );
        let up = upstreams(&spec, &DaemonConfig::default());
        assert_eq!(up[0].addr.to_string(), "10.1.2.3");
        let spec = NetworkSpec {
            dns_options: vec!["ndots:3".into()],
            ..spec
        };
        assert!(resolv_conf_embedded(&spec, &DaemonConfig::default()).contains("options ndots:3\n"));
    }
}
