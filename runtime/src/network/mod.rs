//! Container networking: bridges, veth pairs, addresses and routes (rtnetlink), the firewall
//! (nftables, in a table of ebrun's own), IPAM, published ports, user networks and DNS files.
//!
//! - [`spec`]: what the user asks for (`--network`, `-p`, `--dns`, ...), parsed and checked
//! - [`daemon_config`]: the host's settings in Docker's daemon.json
//! - [`store`], [`networks`]: network records, the default bridge, `network create/rm`
//! - [`ipam`], [`endpoints`]: subnets and addresses; per-container allocations
//! - [`netlink`], [`sysctl`]: links, addresses, routes; forwarding
//! - [`lan`]: macvlan and ipvlan networks (a child of a parent interface per container)
//! - [`firewall`]: the nftables table (NAT, published ports, isolation)
//! - [`ports`]: choosing and checking host ports
//! - [`dns`]: /etc/hosts and /etc/resolv.conf
//! - [`resolver`]: the embedded DNS server at 127.0.0.11 of containers on user networks
//! - [`attach`]: wiring a container to a network (run, connect, disconnect)
//! - [`connections`]: `network connect/disconnect` of a container: the networks recorded for
//!   later starts, and the interfaces of a running one
//! - [`filter`]: Docker's filters of `network ls` and `network prune`
//! - [`inspect`]: Docker's JSON and `ps`/`port` text
//!
//! Every host change of a container is journaled ([`crate::undo::HostChange`]):
//! `NetworkEndpoint` (the allocations), `Veth` and `NftRules`; `rm`, exit clean-up and
//! failed starts undo them. A setup killed half-way leaves an endpoint record whose process
//! is gone: the next network operation reclaims it ([`reap_stale`]).

pub mod attach;
pub mod connections;
pub mod daemon_config;
pub mod dns;
pub mod endpoints;
pub mod filter;
pub mod firewall;
pub mod inspect;
pub mod ipam;
pub mod iptables_compat;
pub mod lan;
pub mod netlink;
pub mod networks;
mod nft_netlink;
pub mod ports;
pub mod resolver;
pub mod spec;
pub mod store;
pub mod sysctl;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use serde::{Deserialize, Serialize};

pub use attach::{connect, disconnect, setup};
pub use filter::{FilterArgs, NetworkFilter, PruneFilter};
pub use inspect::{inspect_settings, network_inspect, ports_column};
pub use networks::{create as create_network, remove as remove_network, CreateOptions, IpamConfig};
pub use spec::{ExtraHost, HostIp, NetworkMode, NetworkSpec, PortMapping, PortProto, Proto};
pub use store::{NetworkRecord, NetworkStore};

use crate::Paths;

/// Errors of the network module.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error("{0}")]
    Invalid(String),
    #[error("invalid {flag} value {value:?}: {reason}")]
    InvalidFlag {
        flag: &'static str,
        value: String,
        reason: String,
    },
    #[error("daemon.json: {0}")]
    Config(String),
    #[error("network {0} not found")]
    NotFound(String),
    /// What Docker refuses with a 403: a pre-defined network, one with active endpoints, a
    /// second endpoint of a container on one network.
    #[error("{0}")]
    Forbidden(String),
    /// A network of that name exists (Docker's 409).
    #[error("network with name {0} already exists")]
    NameExists(String),
    /// A driver ebrun does not have (Docker's 404 for a plugin it cannot find).
    #[error("plugin \"{0}\" not found")]
    UnknownDriver(String),
    #[error("network {0} is ambiguous (more than one network has this id prefix)")]
    Ambiguous(String),
    #[error("{0}")]
    PortInUse(String),
    #[error("netlink: {op}: {message}")]
    Netlink { op: &'static str, message: String },
    #[error("nftables: {0}")]
    Firewall(String),
    #[error("{op}: {source}")]
    Io {
        op: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    State(#[from] crate::state::StateError),
}

impl NetworkError {
    pub(crate) fn invalid_flag(flag: &'static str, value: &str, reason: &str) -> Self {
        NetworkError::InvalidFlag {
            flag,
            value: value.to_string(),
            reason: reason.to_string(),
        }
    }
}

/// One network a container is attached to (Docker's `NetworkSettings.Networks.<name>`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Attachment {
    pub network_name: String,
    pub network_id: String,
    pub endpoint_id: String,
    /// The interface inside the container (`eth0`, `eth1`, ...).
    pub interface: String,
    /// The host end of its veth pair.
    pub host_veth: String,
    pub mac_address: String,
    pub ip_address: Option<Ipv4Addr>,
    pub ip_prefix_len: u8,
    pub gateway: Option<Ipv4Addr>,
    pub global_ipv6_address: Option<Ipv6Addr>,
    pub global_ipv6_prefix_len: u8,
    pub ipv6_gateway: Option<Ipv6Addr>,
    pub aliases: Vec<String>,
}

/// A published port: host address and port to container port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedPort {
    /// `0.0.0.0`: every address of the host.
    pub host_ip: IpAddr,
    pub host_port: u16,
    pub container_port: u16,
    pub proto: Proto,
}

/// What was set up for a running container (addresses, ports), stored in its state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkState {
    /// The resolved mode: `bridge`, `none`, `host`, `container:<id>` or a network name.
    pub mode: String,
    pub attachments: Vec<Attachment>,
    pub ports: Vec<PublishedPort>,
    /// The network namespace (`/proc/<pid>/ns/net` while running).
    pub sandbox_key: String,
}

/// How the container's process gets its network namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum NetnsMode {
    /// A new, empty network namespace (bridge and none modes).
    #[default]
    New,
    /// The host's network namespace (`--net host`).
    Host,
    /// Join the namespace at this path (`--net container:X`).
    Join(std::path::PathBuf),
}

/// The running container `key` for `--net container:KEY`: (id, pid, directory).
pub(crate) fn running_container(
    paths: &Paths,
    key: &str,
) -> Result<(String, i32, std::path::PathBuf), NetworkError> {
    let store = crate::container::ContainerStore::new(paths);
    let config = store
        .lookup(key)
        .map_err(|e| NetworkError::Invalid(e.to_string()))?;
    let state = store
        .load_state(&config.id)
        .map_err(|e| NetworkError::Invalid(e.to_string()))?;
    if state.pid <= 0 || state.status != crate::container::Status::Running {
        return Err(NetworkError::Invalid(format!(
            "cannot join network of a non running container: {}",
            config.id
        )));
    }
    Ok((config.id.clone(), state.pid, store.dir(&config.id)))
}

impl NetworkSpec {
    /// Checks the spec before anything is created (port conflicts, unknown networks, ...).
    pub fn validate(&self, paths: &Paths) -> Result<(), NetworkError> {
        let config = daemon_config::DaemonConfig::load(paths)?;
        if let Some(mac) = &self.mac_address {
            spec::parse_mac(mac)?;
        }
        let user_network = matches!(self.mode, NetworkMode::Named(_));
        if (self.ipv4.is_some() || self.ipv6.is_some()) && !user_network {
            return Err(NetworkError::Invalid(
                "user specified IP address is supported on user defined networks only".into(),
            ));
        }
        if !self.aliases.is_empty() && !user_network {
            return Err(NetworkError::Invalid(
                "network-scoped alias is supported only for containers in user defined networks"
                    .into(),
            ));
        }
        match &self.mode {
            NetworkMode::Container(key) => {
                if !self.publish.is_empty() || self.publish_all {
                    return Err(NetworkError::Invalid(
                        "conflicting options: port publishing and the container type network mode"
                            .into(),
                    ));
                }
                if !self.dns.is_empty() || !self.extra_hosts.is_empty() {
                    return Err(NetworkError::Invalid(
                        "conflicting options: dns and the network mode".into(),
                    ));
                }
                running_container(paths, key)?;
                return Ok(());
            }
            NetworkMode::Host | NetworkMode::None => return Ok(()),
            NetworkMode::Named(name) => {
                let n = NetworkStore::new(paths).lookup(name)?;
                if let Some(ip) = self.ipv4 {
                    if !n.subnet.is_some_and(|s| s.contains(&ip)) {
                        return Err(NetworkError::Invalid(format!(
                            "invalid --ip {ip}: not in the subnet of network {}",
                            n.name
                        )));
                    }
                }
                if let Some(ip) = self.ipv6 {
                    if !n.subnet_v6.is_some_and(|s| s.contains(&ip)) {
                        return Err(NetworkError::Invalid(format!(
                            "invalid --ip6 {ip}: network {} has no IPv6 subnet containing it",
                            n.name
                        )));
                    }
                }
            }
            NetworkMode::Default | NetworkMode::Bridge => {}
        }
        let used: Vec<PublishedPort> = endpoints::Endpoints::new(paths)
            .list()
            .into_iter()
            .filter(|r| r.alive())
            .flat_map(|r| r.ports)
            .collect();
        ports::check_fixed(self, config.ip, &used)
    }

    /// How the process's network namespace is made.
    pub fn netns_mode(&self, paths: &Paths) -> Result<NetnsMode, NetworkError> {
        match &self.mode {
            NetworkMode::Host => Ok(NetnsMode::Host),
            NetworkMode::Container(key) => {
                let (_, pid, _) = running_container(paths, key)?;
                Ok(NetnsMode::Join(format!("/proc/{pid}/ns/net").into()))
            }
            _ => Ok(NetnsMode::New),
        }
    }
}

/// Reclaims the endpoint of container `container_id`, whose processes are known to be gone
/// though its record may say otherwise (a zombie not reaped yet): used when a container whose
/// own records cannot be read is removed.
pub fn reclaim_endpoint(paths: &Paths, container_id: &str) -> Result<(), NetworkError> {
    let store = NetworkStore::new(paths);
    if !store.dir().exists() {
        return Ok(());
    }
    let _lock = store.lock()?;
    reap(paths, |r| r.container_id == container_id || !r.alive());
    Ok(())
}

/// Reclaims the endpoints of containers whose process is gone without clean-up (a create
/// killed half-way): their firewall rules, veths and allocations. Caller holds the lock.
pub fn reap_stale(paths: &Paths) {
    reap(paths, |r| !r.alive());
}

fn reap(paths: &Paths, is_stale: impl Fn(&endpoints::EndpointRecord) -> bool) {
    let eps = endpoints::Endpoints::new(paths);
    let stale: Vec<endpoints::EndpointRecord> =
        eps.list().into_iter().filter(|r| is_stale(r)).collect();
    if stale.is_empty() {
        return;
    }
    let fw = firewall::Firewall::new(paths);
    let nl = netlink::Netlink::new().ok();
    for r in &stale {
        tracing::info!(container = %r.container_id, "reclaiming a stale network endpoint");
        if !r.ports.is_empty() {
            if let Err(e) = fw.delete_owned(&r.container_id) {
                tracing::warn!(error = %e, "could not delete stale port rules");
            }
        }
        if let Some(nl) = &nl {
            for a in &r.attachments {
                let _ = nl.delete_link(&a.host_veth);
            }
        }
        let _ = eps.remove(&r.container_id);
    }
    endpoints::refresh_hosts(&eps);
}

/// Undo of [`crate::undo::HostChange::NetworkEndpoint`]: releases a container's addresses
/// and ports and drops it from its peers' /etc/hosts.
pub fn undo_endpoint(root: &Path, container_id: &str) -> Result<(), NetworkError> {
    let paths = Paths::new(root);
    let store = NetworkStore::new(&paths);
    if !store.dir().exists() {
        return Ok(());
    }
    let _lock = store.lock()?;
    let eps = endpoints::Endpoints::new(&paths);
    let had_peers = eps
        .get(container_id)
        .is_some_and(|r| r.attachments.iter().any(|a| a.network_name != "bridge"));
    eps.remove(container_id)?;
    if had_peers {
        endpoints::refresh_hosts(&eps);
    }
    Ok(())
}

/// Undo of [`crate::undo::HostChange::Veth`]. While the container's process lives (a failed
/// start, `network disconnect`), the host end is deleted. Once it is gone, the kernel
/// deletes the pair with the namespace, but only once nothing holds the namespace: an
/// orphaned TCP socket of a killed process keeps it (and the veth) for up to ~90 s. So the
/// pair is deleted anyway, by an `ip` process left to finish on its own: deleting a link
/// waits for an RCU grace period (about 25 ms per veth) that `rm` need not wait for.
pub fn undo_veth(name: &str, pid: i32, pid_start: u64) -> Result<(), NetworkError> {
    if pid > 0 && endpoints::process_start(pid) != Some(pid_start) {
        delete_link_in_background(name);
        return Ok(());
    }
    netlink::Netlink::new()?.delete_link(name)
}

/// Starts `ip link delete NAME` without waiting for it (nothing to do if it is gone).
fn delete_link_in_background(name: &str) {
    if !std::path::Path::new("/sys/class/net").join(name).exists() {
        return;
    }
    let started = std::process::Command::new("ip")
        .args(["link", "delete", name])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if let Err(e) = started {
        tracing::debug!(error = %e, veth = name, "could not start ip to delete the veth");
    }
}

/// Undo of [`crate::undo::HostChange::NftRules`]: committed when this returns; the kernel
/// frees the rules in the background (see [`firewall::delete_rules_deferred`]).
pub fn undo_rules(table: &str, handles: &[u64]) -> Result<(), NetworkError> {
    firewall::delete_rules_deferred(table, handles)
}

/// Removes every host object of this instance's networking (`ebrun system teardown`):
/// stale endpoints, bridges ebrun created, the iptables accept rules and the nft table.
pub fn teardown(paths: &Paths) -> Result<(), NetworkError> {
    if !NetworkStore::new(paths).dir().exists() {
        return Ok(());
    }
    networks::teardown(paths)
}
