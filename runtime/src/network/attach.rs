//! Wiring a container to its network: at start ([`setup`]), and later with
//! `ebrun network connect` / `disconnect`.
//!
//! Order of a bridge attachment, each step journaled right after it is made: allocations
//! (endpoint record: addresses, host ports) -> veth pair (peer created directly inside the
//! container's namespace, so it dies with it) -> DNAT rules -> /etc/hosts, /etc/resolv.conf.

use std::net::IpAddr;
use std::path::Path;

use serde_json::Value;

use super::daemon_config::DaemonConfig;
use super::endpoints::{self, EndpointRecord, Endpoints};
use super::firewall::{self, Dnat, Firewall};
use super::netlink::{ContainerLink, IfAddr, Netlink};
use super::spec::{HostIp, NetworkMode, NetworkSpec, PortProto};
use super::store::{new_id, NetworkRecord, NetworkStore};
use super::{
    connections, dns, ipam, networks, ports, Attachment, NetworkError, NetworkState, PublishedPort,
};
use crate::undo::{HostChange, Journal};
use crate::Paths;

/// What the network set-up reads from the container's config.json.
struct ContainerMeta {
    name: String,
    hostname: String,
    image_id: String,
}

impl ContainerMeta {
    fn read(container_dir: &Path, container_id: &str) -> Self {
        let v: Value = std::fs::read(container_dir.join("config.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(Value::Null);
        let s = |p: &str| {
            v.pointer(p)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let short = container_id.get(..12).unwrap_or(container_id).to_string();
        let hostname = Some(s("/process/hostname"))
            .filter(|h| !h.is_empty())
            .unwrap_or(short);
        ContainerMeta {
            name: s("/name"),
            hostname,
            image_id: s("/image_id"),
        }
    }
}

/// The image's `ExposedPorts` (for `-P`).
fn image_exposed(paths: &Paths, image_id: &str) -> Vec<PortProto> {
    let Ok(store) = crate::image::ImageStore::open(paths) else {
        return Vec::new();
    };
    let Ok(image) = store.resolve(image_id) else {
        return Vec::new();
    };
    image
        .config
        .config()
        .as_ref()
        .and_then(|c| c.exposed_ports().clone())
        .unwrap_or_default()
        .iter()
        .filter_map(|p| PortProto::parse_range("ExposedPorts", p).ok())
        .flatten()
        .collect()
}

fn write_file(path: &Path, text: &str) -> Result<(), NetworkError> {
    std::fs::write(path, text).map_err(|source| NetworkError::Io {
        op: "write container file",
        source: std::io::Error::new(source.kind(), format!("{}: {source}", path.display())),
    })
}

/// The host end's name: `veth` + 11 hex digits of a hash of instance, container and network.
fn veth_name(prefix: &str, container_id: &str, network_id: &str) -> String {
    use sha2::Digest;
    let h = sha2::Sha256::digest(format!("{prefix}/{container_id}/{network_id}").as_bytes());
    format!("veth{}", &hex::encode(h)[..11])
}

/// Wires the network namespace of `pid` (held before exec) as `spec` asks, writing the
/// container's /etc/hosts and /etc/resolv.conf into `container_dir`, and records every host
/// change in `journal`.
pub fn setup(
    paths: &Paths,
    container_id: &str,
    container_dir: &Path,
    spec: &NetworkSpec,
    pid: i32,
    journal: &mut Journal,
) -> Result<NetworkState, NetworkError> {
    let meta = ContainerMeta::read(container_dir, container_id);
    let config = DaemonConfig::load(paths)?;
    let resolved = with_host_gateway(paths, &config, spec)?;
    let spec = resolved.as_ref().unwrap_or(spec);
    let hosts = container_dir.join("hosts");
    let resolv = container_dir.join("resolv.conf");
    match &spec.mode {
        NetworkMode::Host => {
            write_file(&hosts, &dns::host_mode_hosts(spec))?;
            write_file(&resolv, &dns::resolv_conf(spec, &config, true))?;
            Ok(NetworkState {
                mode: "host".into(),
                ..Default::default()
            })
        }
        _ if connections::plan(spec).0.is_none() => {
            // Disconnected from every network while stopped: only `lo`, as `none`.
            Netlink::new()?.loopback_up(pid)?;
            write_file(&hosts, &dns::own_hosts(spec, &meta.hostname, &[]))?;
            write_file(&resolv, &dns::resolv_conf(spec, &config, false))?;
            Ok(NetworkState {
                mode: spec.mode.to_string(),
                sandbox_key: format!("/proc/{pid}/ns/net"),
                ..Default::default()
            })
        }
        NetworkMode::None => {
            Netlink::new()?.loopback_up(pid)?;
            write_file(&hosts, &dns::own_hosts(spec, &meta.hostname, &[]))?;
            write_file(&resolv, &dns::resolv_conf(spec, &config, false))?;
            Ok(NetworkState {
                mode: "none".into(),
                sandbox_key: format!("/proc/{pid}/ns/net"),
                ..Default::default()
            })
        }
        NetworkMode::Container(key) => {
            let (id, other_pid, dir) = super::running_container(paths, key)?;
            for f in ["hosts", "resolv.conf"] {
                let text = std::fs::read_to_string(dir.join(f)).unwrap_or_default();
                write_file(&container_dir.join(f), &text)?;
            }
            Ok(NetworkState {
                mode: format!("container:{id}"),
                sandbox_key: format!("/proc/{other_pid}/ns/net"),
                ..Default::default()
            })
        }
        NetworkMode::Default | NetworkMode::Bridge | NetworkMode::Named(_) => {
            let (first, rest) = connections::plan(spec);
            let first = first.as_ref().unwrap_or(spec);
            let mut state =
                attach_bridge(paths, container_id, &meta, &config, first, pid, journal)?;
            for c in &rest {
                let ip = (c.ipv4, c.ipv6);
                let (a, changes) =
                    connect(paths, &c.network_id, container_id, pid, ip, &c.aliases)?;
                for change in changes {
                    journal.record(change);
                }
                state.attachments.push(a);
            }
            // Docker: the embedded DNS server on user-defined networks, none on the default
            // bridge (its containers keep the host's resolvers and have no names).
            if state
                .attachments
                .first()
                .is_some_and(|a| a.network_name != "bridge")
            {
                super::resolver::start(paths, container_id, pid, dns::upstreams(spec, &config))?;
                write_file(&resolv, &dns::resolv_conf_embedded(spec, &config))?;
            } else {
                write_file(&resolv, &dns::resolv_conf(spec, &config, false))?;
            }
            Ok(state)
        }
    }
}

/// `spec` with its `--add-host NAME:host-gateway` entries resolved (None: it has none):
/// to daemon.json's `host-gateway-ip`, else to the default bridge's address (Docker's
/// docker0 address), whatever network the container is on. The default bridge is brought
/// up if it has no address yet.
fn with_host_gateway(
    paths: &Paths,
    config: &DaemonConfig,
    spec: &NetworkSpec,
) -> Result<Option<NetworkSpec>, NetworkError> {
    if !spec.extra_hosts.iter().any(|h| h.ip == HostIp::HostGateway) {
        return Ok(None);
    }
    let ip = match config.host_gateway_ip {
        Some(ip) => ip,
        None => {
            let _lock = NetworkStore::new(paths).lock()?;
            let mut n = networks::default_network(paths, config)?;
            if n.gateway.is_none() {
                networks::bring_up(paths, &Netlink::new()?, &mut n)?;
            }
            IpAddr::V4(n.gateway.ok_or_else(|| {
                NetworkError::Invalid(
                    "--add-host host-gateway: the default bridge has no address".into(),
                )
            })?)
        }
    };
    let mut resolved = spec.clone();
    for h in &mut resolved.extra_hosts {
        if h.ip == HostIp::HostGateway {
            h.ip = HostIp::Ip(ip);
        }
    }
    Ok(Some(resolved))
}

/// The network `spec` attaches to, brought up. Caller holds the instance lock.
fn resolve_network(
    paths: &Paths,
    nl: &Netlink,
    config: &DaemonConfig,
    key: &str,
) -> Result<NetworkRecord, NetworkError> {
    let mut n = if key == "bridge" {
        networks::default_network(paths, config)?
    } else {
        NetworkStore::new(paths).lookup(key)?
    };
    if !n.is_bridge() && !n.is_lan() {
        return Err(NetworkError::Invalid(format!(
            "container cannot be connected to network {} (driver {}): use --network {}",
            n.name, n.driver, n.name
        )));
    }
    networks::bring_up(paths, nl, &mut n)?;
    Ok(n)
}

/// Allocates addresses on `n` for a container; `requested` from `--ip`/`--ip6`.
fn allocate(
    eps: &Endpoints,
    n: &NetworkRecord,
    requested: (Option<std::net::Ipv4Addr>, Option<std::net::Ipv6Addr>),
) -> Result<(Option<std::net::Ipv4Addr>, Option<std::net::Ipv6Addr>), NetworkError> {
    let (mut used4, used6) = eps.used_addresses(&n.id);
    if n.is_lan() {
        used4.extend(super::lan::reserved(n));
    }
    let v4 = match requested.0 {
        Some(ip) => {
            if used4.contains(&ip) || Some(ip) == n.gateway {
                return Err(NetworkError::Invalid(format!(
                    "Address already in use: {ip} on network {}",
                    n.name
                )));
            }
            Some(ip)
        }
        None => Some(ipam::next_free_v4(n, &used4).ok_or_else(|| {
            NetworkError::Invalid(format!("no available IPv4 addresses on network {}", n.name))
        })?),
    };
    let v6 = if n.ipv6 && n.subnet_v6.is_some() {
        match requested.1 {
            Some(ip) if used6.contains(&ip) => {
                return Err(NetworkError::Invalid(format!(
                    "Address already in use: {ip} on network {}",
                    n.name
                )))
            }
            Some(ip) => Some(ip),
            None => ipam::next_free_v6(n, &used6),
        }
    } else {
        None
    };
    Ok((v4, v6))
}

/// Creates the veth pair for attachment `a` of network `n` in the namespace of `pid` (or,
/// on a macvlan or ipvlan network, the parent's child link).
fn plug(nl: &Netlink, n: &NetworkRecord, a: &Attachment, pid: i32) -> Result<(), NetworkError> {
    if n.is_lan() {
        return plug_lan(nl, n, a, pid);
    }
    let bridge_index = nl
        .link_index(&n.bridge)?
        .ok_or_else(|| NetworkError::Invalid(format!("bridge {} is missing", n.bridge)))?;
    let mtu = match n.mtu {
        Some(m) => m,
        None => nl.mtu(&n.bridge)?.unwrap_or(1500),
    };
    let mut mac = [0u8; 6];
    for (i, b) in a.mac_address.split(':').enumerate().take(6) {
        mac[i] = u8::from_str_radix(b, 16).unwrap_or(0);
    }
    let link = ContainerLink {
        name: a.interface.clone(),
        mac,
        mtu,
        v4: a.ip_address.map(|ip| IfAddr {
            addr: IpAddr::V4(ip),
            prefix_len: a.ip_prefix_len,
        }),
        v6: a.global_ipv6_address.map(|ip| IfAddr {
            addr: IpAddr::V6(ip),
            prefix_len: a.global_ipv6_prefix_len,
        }),
        gateway_v4: a.gateway,
        gateway_v6: a.ipv6_gateway,
        default_dev: false,
    };
    nl.add_container_link(&a.host_veth, bridge_index, pid, &link)
}

fn plug_lan(nl: &Netlink, n: &NetworkRecord, a: &Attachment, pid: i32) -> Result<(), NetworkError> {
    let parent = super::lan::ensure_parent(nl, n)?;
    let mtu = match n.mtu {
        Some(m) => m,
        None => nl.mtu(n.parent())?.unwrap_or(1500),
    };
    let mut mac = [0u8; 6];
    for (i, b) in a.mac_address.split(':').enumerate().take(6) {
        mac[i] = u8::from_str_radix(b, 16).unwrap_or(0);
    }
    let link = ContainerLink {
        name: a.interface.clone(),
        mac,
        mtu,
        v4: a.ip_address.map(|ip| IfAddr {
            addr: IpAddr::V4(ip),
            prefix_len: a.ip_prefix_len,
        }),
        v6: None,
        gateway_v4: a.gateway,
        gateway_v6: None,
        // ipvlan l3: no router answers for the containers' addresses; the first network's
        // default route goes through the interface itself.
        default_dev: !n.internal && a.interface == "eth0" && super::lan::routes_by_device(n),
    };
    nl.add_lan_link(parent, super::lan::kind(n)?, pid, &link)
}

fn mac_text(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Builds attachment `interface` of the container on `n`.
#[allow(clippy::too_many_arguments)]
fn new_attachment(
    paths: &Paths,
    container_id: &str,
    n: &NetworkRecord,
    interface: &str,
    addrs: (Option<std::net::Ipv4Addr>, Option<std::net::Ipv6Addr>),
    mac: Option<[u8; 6]>,
    aliases: &[String],
) -> Attachment {
    Attachment {
        network_name: n.name.clone(),
        network_id: n.id.clone(),
        endpoint_id: new_id(),
        interface: interface.to_string(),
        host_veth: if n.is_lan() {
            String::new()
        } else {
            veth_name(paths.prefix(), container_id, &n.id)
        },
        // An ipvlan child has its parent's MAC.
        mac_address: if n.driver == "ipvlan" {
            String::new()
        } else {
            mac_text(mac.unwrap_or_else(|| ipam::mac_for(addrs.0)))
        },
        ip_address: addrs.0,
        ip_prefix_len: n.subnet.map(|s| s.prefix_len()).unwrap_or(0),
        gateway: if n.internal || super::lan::routes_by_device(n) {
            None
        } else {
            n.default_gateway.or(n.gateway)
        },
        global_ipv6_address: addrs.1,
        global_ipv6_prefix_len: if addrs.1.is_some() {
            n.subnet_v6.map(|s| s.prefix_len()).unwrap_or(0)
        } else {
            0
        },
        ipv6_gateway: if n.internal || addrs.1.is_none() {
            None
        } else {
            n.default_gateway_v6.or(n.gateway_v6)
        },
        aliases: aliases.to_vec(),
    }
}

/// DNAT rules for the published ports of a container with addresses `a`.
fn dnat_rules(ports: &[PublishedPort], a: &Attachment) -> Result<Vec<Dnat>, NetworkError> {
    let mut out = Vec::new();
    for p in ports {
        let any = p.host_ip.is_unspecified();
        if p.host_ip.is_ipv4() || any {
            if let Some(to) = a.ip_address {
                out.push(Dnat {
                    host_ip: (!any).then_some(p.host_ip),
                    host_port: p.host_port,
                    proto: p.proto,
                    to: IpAddr::V4(to),
                    to_port: p.container_port,
                });
            }
        }
        if p.host_ip.is_ipv6() || any {
            match a.global_ipv6_address {
                Some(to) => out.push(Dnat {
                    host_ip: (!any).then_some(p.host_ip),
                    host_port: p.host_port,
                    proto: p.proto,
                    to: IpAddr::V6(to),
                    to_port: p.container_port,
                }),
                None if !any => {
                    return Err(NetworkError::Invalid(format!(
                        "cannot publish on {}: the container has no IPv6 address",
                        p.host_ip
                    )))
                }
                None => {}
            }
        }
    }
    Ok(out)
}

fn attach_bridge(
    paths: &Paths,
    container_id: &str,
    meta: &ContainerMeta,
    config: &DaemonConfig,
    spec: &NetworkSpec,
    pid: i32,
    journal: &mut Journal,
) -> Result<NetworkState, NetworkError> {
    let store = NetworkStore::new(paths);
    let _lock = store.lock()?;
    super::reap_stale(paths);
    let nl = Netlink::new()?;
    let key = spec.mode.network_name().unwrap_or("bridge");
    let n = resolve_network(paths, &nl, config, key)?;
    let eps = Endpoints::new(paths);
    let exposed = if spec.publish_all {
        image_exposed(paths, &meta.image_id)
    } else {
        Vec::new()
    };
    // Docker publishes no ports of macvlan/ipvlan containers: they are on the LAN.
    let ports = if n.is_lan() {
        Vec::new()
    } else {
        ports::resolve(spec, &exposed, config.ip, &eps.used_ports())?
    };
    let addrs = allocate(&eps, &n, (spec.ipv4, spec.ipv6))?;
    let mac = spec
        .mac_address
        .as_deref()
        .map(super::spec::parse_mac)
        .transpose()?;
    let attachment = new_attachment(paths, container_id, &n, "eth0", addrs, mac, &spec.aliases);
    let own_addrs: Vec<IpAddr> = addrs
        .0
        .map(IpAddr::V4)
        .into_iter()
        .chain(addrs.1.map(IpAddr::V6))
        .collect();
    let record = EndpointRecord {
        container_id: container_id.to_string(),
        container_name: meta.name.clone(),
        pid,
        pid_start: endpoints::process_start(pid).unwrap_or(0),
        hosts_file: crate::container::ContainerStore::new(paths)
            .dir(container_id)
            .join("hosts"),
        own_hosts: dns::own_hosts(spec, &meta.hostname, &own_addrs),
        embedded_dns: n.name != "bridge",
        attachments: vec![attachment.clone()],
        ports: ports.clone(),
    };
    eps.save(&record)?;
    journal.record(HostChange::NetworkEndpoint {
        root: paths.root().to_path_buf(),
        container_id: container_id.to_string(),
    });
    plug(&nl, &n, &attachment, pid)?;
    if !attachment.host_veth.is_empty() {
        journal.record(HostChange::Veth {
            name: attachment.host_veth.clone(),
            pid,
            pid_start: record.pid_start,
        });
    }
    let rules = dnat_rules(&ports, &attachment)?;
    let fw = Firewall::new(paths);
    let handles = fw.add_dnat(&rules, container_id)?;
    if !handles.is_empty() {
        journal.record(HostChange::NftRules {
            table: fw.table_name().to_string(),
            chain: firewall::PUBLISHED.to_string(),
            handles,
        });
    }
    // Writes this container's /etc/hosts and updates its peers'.
    std::fs::write(&record.hosts_file, &record.own_hosts).map_err(|e| NetworkError::Io {
        op: "write /etc/hosts",
        source: e,
    })?;
    if n.name != "bridge" {
        endpoints::refresh_hosts(&eps);
    }
    Ok(NetworkState {
        mode: n.name.clone(),
        attachments: vec![attachment],
        ports,
        sandbox_key: format!("/proc/{pid}/ns/net"),
    })
}

/// `ebrun network connect [--ip] [--alias] NETWORK CONTAINER`: a new interface in a running
/// container. Returns the attachment and the host changes to add to the run's journal.
pub fn connect(
    paths: &Paths,
    network: &str,
    container_id: &str,
    pid: i32,
    ip: (Option<std::net::Ipv4Addr>, Option<std::net::Ipv6Addr>),
    aliases: &[String],
) -> Result<(Attachment, Vec<HostChange>), NetworkError> {
    let config = DaemonConfig::load(paths)?;
    let store = NetworkStore::new(paths);
    let _lock = store.lock()?;
    super::reap_stale(paths);
    let eps = Endpoints::new(paths);
    let mut record = eps.get(container_id).ok_or_else(|| {
        NetworkError::Invalid(format!(
            "container {container_id} has no network endpoint (its network mode has no networks)"
        ))
    })?;
    let nl = Netlink::new()?;
    let n = resolve_network(paths, &nl, &config, network)?;
    if record.attachments.iter().any(|a| a.network_id == n.id) {
        return Err(NetworkError::Forbidden(format!(
            "endpoint with name {} already exists in network {}",
            record.container_name, n.name
        )));
    }
    if let Some(v4) = ip.0 {
        if !n.subnet.is_some_and(|s| s.contains(&v4)) {
            return Err(NetworkError::Invalid(format!(
                "invalid --ip {v4}: not in the subnet of network {}",
                n.name
            )));
        }
    }
    let addrs = allocate(&eps, &n, ip)?;
    let interface = (0..)
        .map(|i| format!("eth{i}"))
        .find(|name| !record.attachments.iter().any(|a| &a.interface == name))
        .expect("a free interface name");
    let mut a = new_attachment(paths, container_id, &n, &interface, addrs, None, aliases);
    // The first network gives the default route; later ones only their subnet.
    a.gateway = None;
    a.ipv6_gateway = None;
    record.attachments.push(a.clone());
    eps.save(&record)?;
    if let Err(e) = plug(&nl, &n, &a, pid) {
        record.attachments.pop();
        let _ = eps.save(&record);
        return Err(e);
    }
    endpoints::refresh_hosts(&eps);
    crate::events::network(paths, "connect", &n.id, &n.name, Some(container_id));
    if a.host_veth.is_empty() {
        return Ok((a, Vec::new())); // a macvlan/ipvlan child: it goes with the namespace
    }
    let change = HostChange::Veth {
        name: a.host_veth.clone(),
        pid,
        pid_start: record.pid_start,
    };
    Ok((a, vec![change]))
}

/// `ebrun network disconnect NETWORK CONTAINER`: removes the container's interface on it.
pub fn disconnect(
    paths: &Paths,
    network: &str,
    container_id: &str,
) -> Result<Attachment, NetworkError> {
    let store = NetworkStore::new(paths);
    let _lock = store.lock()?;
    let n = store.lookup(network)?;
    let eps = Endpoints::new(paths);
    let mut record = eps.get(container_id).ok_or_else(|| {
        NetworkError::Invalid(format!(
            "container {container_id} is not connected to network {}",
            n.name
        ))
    })?;
    let pos = record
        .attachments
        .iter()
        .position(|a| a.network_id == n.id)
        .ok_or_else(|| {
            NetworkError::Invalid(format!(
                "container {container_id} is not connected to network {}",
                n.name
            ))
        })?;
    let a = record.attachments.remove(pos);
    let nl = Netlink::new()?;
    if a.host_veth.is_empty() {
        nl.delete_link_in(record.pid, &a.interface)?; // a macvlan/ipvlan child
    } else {
        nl.delete_link(&a.host_veth)?;
    }
    eps.save(&record)?;
    endpoints::refresh_hosts(&eps);
    crate::events::network(paths, "disconnect", &n.id, &n.name, Some(container_id));
    Ok(a)
}
