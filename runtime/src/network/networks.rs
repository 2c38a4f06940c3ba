//! Networks as objects: the default `bridge` network (from daemon.json), user networks
//! (`ebrun network create/rm/prune`), and bringing a network's bridge up on the host.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use super::daemon_config::DaemonConfig;
use super::endpoints::Endpoints;
use super::filter::PruneFilter;
use super::firewall::Firewall;
use super::netlink::{valid_ifname, IfAddr, Netlink};
use super::store::{new_id, NetworkRecord, NetworkStore, OPT_BRIDGE_NAME, OPT_MASQUERADE, OPT_MTU};
use super::{ipam, sysctl, NetworkError};
use crate::Paths;

/// Docker's default bridge address.
const DOCKER_BIP: &str = "172.17.0.1/16";

/// The default bridge's device: `<prefix>0`, like `docker0` (`ebrun0`, `ebrun-1a2b3c4d0`).
pub fn default_bridge_name(paths: &Paths) -> String {
    format!("{}0", paths.prefix())
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

fn empty_record(id: String, name: &str, bridge: String) -> NetworkRecord {
    NetworkRecord {
        id,
        name: name.to_string(),
        driver: "bridge".into(),
        created: now(),
        bridge,
        ..Default::default()
    }
}

/// Subnets a new network must not overlap: the host's routes and addresses (every
/// instance's bridges included) and this instance's networks, except `except`.
fn taken_subnets(
    nl: &Netlink,
    store: &NetworkStore,
    except: &str,
) -> Result<Vec<IpNet>, NetworkError> {
    let mut taken = nl.host_networks()?;
    for n in store.bridges().iter().filter(|n| n.id != except) {
        taken.extend(n.subnet.map(IpNet::V4));
        taken.extend(n.subnet_v6.map(IpNet::V6));
    }
    Ok(taken)
}

/// The default `bridge` network as daemon.json configures it (stored so that its id and an
/// automatically chosen subnet stay stable). Caller holds the instance lock.
pub fn default_network(
    paths: &Paths,
    config: &DaemonConfig,
) -> Result<NetworkRecord, NetworkError> {
    let store = NetworkStore::new(paths);
    let old = store.by_name("bridge");
    if old.is_none() {
        // The bridge's record may be the unreadable one: a new record beside it would give the
        // same bridge a second network (another id and subnet).
        if let Some(e) = store.first_unreadable() {
            return Err(e.into());
        }
    }
    let id = old.as_ref().map(|o| o.id.clone()).unwrap_or_else(new_id);
    let mut n = empty_record(id, "bridge", default_bridge_name(paths));
    if let Some(o) = &old {
        n.created = o.created.clone();
    }
    n.mtu = config.mtu;
    n.default_gateway = config.default_gateway;
    n.default_gateway_v6 = config.default_gateway_v6;
    n.options.insert(OPT_BRIDGE_NAME.into(), n.bridge.clone());
    if let Some(bridge) = &config.bridge {
        n.bridge = bridge.clone();
        n.existing_bridge = true;
        n.options.insert(OPT_BRIDGE_NAME.into(), bridge.clone());
        let nl = Netlink::new()?;
        let index = nl.link_index(bridge)?.ok_or_else(|| {
            NetworkError::Config(format!(
                "daemon.json \"bridge\": no interface named {bridge:?}"
            ))
        })?;
        let v4 = nl
            .addresses(index)?
            .into_iter()
            .find(|a| a.addr.is_ipv4())
            .ok_or_else(|| {
                NetworkError::Config(format!(
                    "daemon.json \"bridge\": {bridge} has no IPv4 address"
                ))
            })?;
        if let IpAddr::V4(a) = v4.addr {
            n.gateway = Some(a);
            n.subnet = Ipv4Net::new(a, v4.prefix_len).ok().map(|s| s.trunc());
        }
    } else if let Some(bip) = config.bip {
        n.subnet = Some(bip.trunc());
        n.gateway = Some(bip.addr());
    } else if let Some(o) = old.as_ref().filter(|o| o.auto_subnet && o.subnet.is_some()) {
        n.subnet = o.subnet;
        n.gateway = o.gateway;
        n.auto_subnet = true;
    } else {
        n.auto_subnet = true;
    }
    n.ip_range = config.fixed_cidr;
    if config.ipv6 {
        n.ipv6 = true;
        n.subnet_v6 = config.fixed_cidr_v6;
        n.gateway_v6 = config
            .fixed_cidr_v6
            .map(|s| std::net::Ipv6Addr::from(u128::from(s.network()) + 1));
    }
    if old.as_ref() != Some(&n) {
        store.save(&n)?;
    }
    Ok(n)
}

/// Picks the default bridge's subnet if it has none yet (Docker's 172.17.0.0/16 when free,
/// else the next free pool). Caller holds the host lock.
fn choose_auto_subnet(
    nl: &Netlink,
    store: &NetworkStore,
    n: &mut NetworkRecord,
) -> Result<(), NetworkError> {
    let taken = taken_subnets(nl, store, &n.id)?;
    let bridge_exists = nl.link_index(&n.bridge)?.is_some();
    if let Some(s) = n.subnet {
        if bridge_exists || !ipam::overlaps_any(IpNet::V4(s), &taken) {
            return Ok(());
        }
    }
    let docker: Ipv4Net = DOCKER_BIP.parse().expect("valid bip");
    let subnet = if !ipam::overlaps_any(IpNet::V4(docker.trunc()), &taken) {
        docker.trunc()
    } else {
        ipam::pick_subnet(&taken).ok_or_else(|| {
            NetworkError::Invalid("could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network".into())
        })?
    };
    n.subnet = Some(subnet);
    n.gateway = subnet.hosts().next();
    store.save(n)?;
    Ok(())
}

/// Makes sure `n`'s bridge exists with its addresses, that forwarding is on and that the
/// firewall knows the network. Caller holds the instance lock.
pub fn bring_up(paths: &Paths, nl: &Netlink, n: &mut NetworkRecord) -> Result<(), NetworkError> {
    if n.is_lan() {
        return super::lan::ensure_parent(nl, n).map(|_| ());
    }
    if !n.is_bridge() {
        return Ok(());
    }
    let store = NetworkStore::new(paths);
    let exists = nl.link_index(&n.bridge)?.is_some();
    if exists && !(n.auto_subnet && n.subnet.is_none()) {
        // The fast path of every container start: nothing to create.
        return sync_firewall(paths, false);
    }
    if n.existing_bridge && !exists {
        return Err(NetworkError::Config(format!(
            "bridge {} does not exist",
            n.bridge
        )));
    }
    let _host = NetworkStore::host_lock()?;
    if n.auto_subnet {
        choose_auto_subnet(nl, &store, n)?;
    } else if !exists {
        if let Some(s) = n.subnet {
            let taken = nl.host_networks()?;
            if ipam::overlaps_any(IpNet::V4(s), &taken) {
                return Err(NetworkError::Invalid(format!(
                    "cannot create bridge {} for network {}: its subnet {s} overlaps a route or address on the host",
                    n.bridge, n.name
                )));
            }
        }
    }
    let mut addrs = Vec::new();
    if let (Some(gw), Some(s)) = (n.gateway, n.subnet) {
        addrs.push(IfAddr {
            addr: IpAddr::V4(gw),
            prefix_len: s.prefix_len(),
        });
    }
    if let (true, Some(gw), Some(s)) = (n.ipv6, n.gateway_v6, n.subnet_v6) {
        addrs.push(IfAddr {
            addr: IpAddr::V6(gw),
            prefix_len: s.prefix_len(),
        });
    }
    let created = if n.existing_bridge {
        false
    } else {
        nl.ensure_bridge(&n.bridge, &addrs, n.mtu)?
    };
    sysctl::enable_ipv4_forwarding()?;
    if n.ipv6 {
        sysctl::enable_ipv6_forwarding()?;
    }
    if !n.existing_bridge {
        sysctl::route_localnet(&n.bridge)?;
    }
    drop(_host);
    sync_firewall(paths, created)?;
    if created {
        sync_compat(paths)?;
    }
    Ok(())
}

/// Renders the per-network firewall rules for this instance's networks.
pub fn sync_firewall(paths: &Paths, force: bool) -> Result<(), NetworkError> {
    let store = NetworkStore::new(paths);
    Firewall::new(paths).sync_networks(&store.bridges(), force)
}

/// The iptables FORWARD accept rules for this instance's bridges that exist.
pub fn sync_compat(paths: &Paths) -> Result<(), NetworkError> {
    let store = NetworkStore::new(paths);
    let nl = Netlink::new()?;
    let mut bridges = Vec::new();
    for n in store.bridges() {
        if nl.link_index(&n.bridge)?.is_some() {
            bridges.push(n.bridge.clone());
        }
    }
    super::iptables_compat::sync_forward_accepts(paths.prefix(), &bridges)
}

/// What `network create` asks for (the CLI's flags, the Engine API's `POST /networks/create`).
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    pub name: String,
    pub driver: String,
    pub subnet: Option<Ipv4Net>,
    pub gateway: Option<std::net::Ipv4Addr>,
    pub ip_range: Option<Ipv4Net>,
    pub subnet_v6: Option<Ipv6Net>,
    pub gateway_v6: Option<std::net::Ipv6Addr>,
    pub internal: bool,
    pub attachable: bool,
    pub ipv6: bool,
    pub options: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    /// `--aux-address NAME=IP` (macvlan and ipvlan networks).
    pub aux_addresses: BTreeMap<String, std::net::Ipv4Addr>,
}

/// One of Docker's `IPAM.Config` entries as given (the API's JSON; the CLI's `--subnet`,
/// `--gateway` and `--ip-range` of one address family). Empty strings are absent fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpamConfig {
    pub subnet: String,
    pub ip_range: String,
    pub gateway: String,
}

/// Docker's wrapping of IPAM errors.
fn ipam_error(errors: &[String]) -> NetworkError {
    NetworkError::Invalid(format!("invalid network config:\n{}", errors.join("\n")))
}

impl CreateOptions {
    /// Reads `configs` into the subnet, gateway and range fields: each must parse (Docker's
    /// messages), with at most one IPv4 and one IPv6 subnet and ranges on IPv4 only. Whether
    /// the values fit together is checked by [`create`].
    pub fn set_ipam(&mut self, configs: &[IpamConfig]) -> Result<(), NetworkError> {
        let mut errors = Vec::new();
        for c in configs {
            let Ok(subnet) = c.subnet.parse::<IpNet>() else {
                errors.push(format!(
                    "invalid subnet {}: invalid CIDR block notation",
                    c.subnet
                ));
                continue;
            };
            let family = if subnet.addr().is_ipv4() {
                "IPv4"
            } else {
                "IPv6"
            };
            let gateway = match c.gateway.as_str() {
                "" => None,
                g => match g.parse::<IpAddr>() {
                    Ok(ip) if ip.is_ipv4() == subnet.addr().is_ipv4() => Some(ip),
                    Ok(_) => {
                        errors.push(format!(
                            "invalid gateway {g}: parent subnet is an {family} block"
                        ));
                        None
                    }
                    Err(_) => {
                        errors.push(format!("invalid gateway {g}: invalid address"));
                        None
                    }
                },
            };
            let range = match c.ip_range.as_str() {
                "" => None,
                r => match r.parse::<IpNet>() {
                    Ok(IpNet::V4(n)) if subnet.addr().is_ipv4() => Some(n),
                    Ok(IpNet::V4(_)) => {
                        errors.push(format!(
                            "invalid ip-range {r}: parent subnet is an {family} block"
                        ));
                        None
                    }
                    Ok(IpNet::V6(_)) => {
                        errors.push(format!(
                            "invalid ip-range {r}: ebrun supports ranges of IPv4 subnets only"
                        ));
                        None
                    }
                    Err(_) => {
                        errors.push(format!("invalid ip-range {r}: invalid CIDR block notation"));
                        None
                    }
                },
            };
            match subnet {
                IpNet::V4(s) if self.subnet.is_none() => {
                    self.subnet = Some(s);
                    self.gateway = match gateway {
                        Some(IpAddr::V4(g)) => Some(g),
                        _ => None,
                    };
                    self.ip_range = range;
                }
                IpNet::V6(s) if self.subnet_v6.is_none() => {
                    self.subnet_v6 = Some(s);
                    self.gateway_v6 = match gateway {
                        Some(IpAddr::V6(g)) => Some(g),
                        _ => None,
                    };
                }
                _ => errors.push(format!(
                    "invalid subnet {}: ebrun supports one IPv4 and one IPv6 subnet per network",
                    c.subnet
                )),
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ipam_error(&errors))
        }
    }
}

/// Docker's checks of a subnet given by the user and what is given inside it.
fn check_ipam(o: &CreateOptions) -> Result<(), NetworkError> {
    let mut errors = Vec::new();
    if let Some(s) = o.subnet {
        if s != s.trunc() {
            errors.push(format!("invalid subnet {s}: it should be {}", s.trunc()));
        }
        if let Some(r) = o.ip_range {
            if r.prefix_len() < s.prefix_len() {
                errors.push(format!(
                    "invalid ip-range {r}: CIDR block is bigger than its parent subnet {s}"
                ));
            }
            if r != r.trunc() {
                errors.push(format!("invalid ip-range {r}: it should be {}", r.trunc()));
            }
            if !s.trunc().contains(&r.network()) && !r.trunc().contains(&s.network()) {
                errors.push(format!(
                    "invalid ip-range {r}: parent subnet {s} doesn't contain ip-range"
                ));
            }
        }
        if let Some(g) = o.gateway {
            if !s.contains(&g) {
                errors.push(format!(
                    "invalid gateway {g}: parent subnet {s} doesn't contain this address"
                ));
            } else if g == s.network() || g == s.broadcast() {
                errors.push(format!(
                    "invalid gateway {g}: not a host address of subnet {s}"
                ));
            }
        }
    }
    if let Some(s) = o.subnet_v6 {
        if s != s.trunc() {
            errors.push(format!("invalid subnet {s}: it should be {}", s.trunc()));
        }
        if let Some(g) = o.gateway_v6.filter(|g| !s.contains(g)) {
            errors.push(format!(
                "invalid gateway {g}: parent subnet {s} doesn't contain this address"
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ipam_error(&errors))
    }
}

fn valid_network_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

/// Creates a user network and its bridge (Docker's checks and error kinds: a pre-defined
/// name is forbidden, a taken one a conflict, a driver other than `bridge` not found).
pub fn create(paths: &Paths, o: &CreateOptions) -> Result<NetworkRecord, NetworkError> {
    if NetworkRecord::predefined_name(&o.name) {
        return Err(NetworkError::Forbidden(format!(
            "operation is not permitted on predefined {} network",
            o.name
        )));
    }
    if !valid_network_name(&o.name) {
        return Err(NetworkError::Invalid(format!(
            "invalid network name {:?}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
            o.name
        )));
    }
    let lan = matches!(o.driver.as_str(), "macvlan" | "ipvlan");
    if !lan && !matches!(o.driver.as_str(), "" | "bridge") {
        return Err(NetworkError::UnknownDriver(o.driver.clone()));
    }
    if !lan && !o.aux_addresses.is_empty() {
        return Err(NetworkError::Invalid(
            "auxiliary addresses are supported on macvlan and ipvlan networks only".into(),
        ));
    }
    for (key, value) in o.options.iter().filter(|_| !lan) {
        if ![OPT_BRIDGE_NAME, OPT_MTU, OPT_MASQUERADE].contains(&key.as_str()) {
            return Err(NetworkError::Invalid(format!(
                "unsupported option {key:?} (allowed: {OPT_BRIDGE_NAME}, {OPT_MTU}, {OPT_MASQUERADE})"
            )));
        }
        if key == OPT_MASQUERADE && !matches!(value.as_str(), "true" | "false") {
            return Err(NetworkError::Invalid(format!(
                "invalid {OPT_MASQUERADE} {value:?}: true or false"
            )));
        }
    }
    check_ipam(o)?;
    let store = NetworkStore::new(paths);
    let _lock = store.lock()?;
    if store.by_name(&o.name).is_some() {
        return Err(NetworkError::NameExists(o.name.clone()));
    }
    let id = new_id();
    let bridge = match o.options.get(OPT_BRIDGE_NAME).filter(|_| !lan) {
        Some(b) if !valid_ifname(b) => {
            return Err(NetworkError::Invalid(format!(
                "invalid {OPT_BRIDGE_NAME} {b:?}: an interface name of 1-15 characters"
            )))
        }
        Some(b) => b.clone(),
        None => format!("br-{}", &id[..12]),
    };
    let mtu = match o.options.get(OPT_MTU) {
        Some(m) => Some(
            m.parse::<u32>()
                .ok()
                .filter(|m| (68..=65535).contains(m))
                .ok_or_else(|| {
                    NetworkError::Invalid(format!(
                        "invalid {OPT_MTU} {m:?}: a number from 68 to 65535"
                    ))
                })?,
        ),
        None => None,
    };
    let mut n = empty_record(id.clone(), &o.name, bridge);
    n.internal = o.internal;
    n.attachable = o.attachable;
    n.mtu = mtu;
    n.options = o.options.clone();
    n.labels = o.labels.clone();
    n.ipv6 = o.ipv6 || o.subnet_v6.is_some();
    if lan {
        return super::lan::create(paths, &store, o, n);
    }
    let nl = Netlink::new()?;
    if nl.link_index(&n.bridge)?.is_some() {
        return Err(NetworkError::Invalid(format!(
            "bridge name {} is already in use on the host",
            n.bridge
        )));
    }
    let _host = NetworkStore::host_lock()?;
    let taken = taken_subnets(&nl, &store, "")?;
    let subnet = match o.subnet {
        Some(s) => {
            if ipam::overlaps_any(IpNet::V4(s), &taken) {
                return Err(NetworkError::Invalid(format!(
                    "invalid pool request: Pool overlaps with other one on this address space ({s})"
                )));
            }
            s
        }
        None => ipam::pick_subnet(&taken).ok_or_else(|| {
            NetworkError::Invalid("could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network".into())
        })?,
    };
    n.subnet = Some(subnet);
    n.gateway = o.gateway.or_else(|| subnet.hosts().next());
    n.ip_range = o.ip_range;
    if n.ipv6 {
        let s6 = match o.subnet_v6 {
            Some(s) => {
                if ipam::overlaps_any(IpNet::V6(s), &taken) {
                    return Err(NetworkError::Invalid(format!(
                        "invalid pool request: Pool overlaps with other one on this address space ({s})"
                    )));
                }
                s
            }
            None => ipam::pick_subnet_v6(&id, &taken)
                .ok_or_else(|| NetworkError::Invalid("no free IPv6 subnet".into()))?,
        };
        n.subnet_v6 = Some(s6);
        n.gateway_v6 = o
            .gateway_v6
            .or_else(|| Some(std::net::Ipv6Addr::from(u128::from(s6.network()) + 1)));
    }
    store.save(&n)?;
    drop(_host);
    if let Err(e) = bring_up(paths, &nl, &mut n) {
        let _ = nl.delete_link(&n.bridge);
        let _ = store.delete(&n);
        let _ = sync_firewall(paths, false);
        return Err(e);
    }
    crate::events::network(paths, "create", &n.id, &n.name, None);
    Ok(n)
}

/// Every network of the instance, sorted by name, the default `bridge` included: it exists
/// before its first container, as Docker's does.
pub fn list(paths: &Paths) -> Result<Vec<NetworkRecord>, NetworkError> {
    let store = NetworkStore::new(paths);
    let mut all = store.list();
    if !all.iter().any(|n| n.name == "bridge") {
        let _lock = store.lock()?;
        let config = DaemonConfig::load(paths)?;
        all.push(default_network(paths, &config)?);
    }
    all.sort_by(|x, y| x.name.cmp(&y.name));
    Ok(all)
}

/// Docker's lookup of one network (name, id, unique id prefix), the default `bridge`
/// included before its first container.
pub fn find(paths: &Paths, key: &str) -> Result<NetworkRecord, NetworkError> {
    let store = NetworkStore::new(paths);
    match store.lookup(key) {
        Err(NetworkError::NotFound(_)) if store.by_name("bridge").is_none() => {
            let _lock = store.lock()?;
            let config = DaemonConfig::load(paths)?;
            default_network(paths, &config)?;
            store.lookup(key)
        }
        r => r,
    }
}

/// The live endpoints on network `id`: (container name, endpoint id).
fn active_endpoints(paths: &Paths, id: &str) -> Vec<(String, String)> {
    Endpoints::new(paths)
        .list()
        .into_iter()
        .filter_map(|r| {
            let a = r.attachments.iter().find(|a| a.network_id == id)?;
            Some((r.container_name.clone(), a.endpoint_id.clone()))
        })
        .collect()
}

/// Removes a user network (refused while containers are attached).
pub fn remove(paths: &Paths, key: &str) -> Result<NetworkRecord, NetworkError> {
    let store = NetworkStore::new(paths);
    let _lock = store.lock()?;
    super::reap_stale(paths);
    let n = store.lookup(key)?;
    if n.is_predefined() {
        return Err(NetworkError::Forbidden(format!(
            "{} is a pre-defined network and cannot be removed",
            n.name
        )));
    }
    let users = active_endpoints(paths, &n.id);
    if !users.is_empty() {
        let endpoints: Vec<String> = users
            .iter()
            .map(|(name, ep)| format!("name:{name:?} id:{:?}", &ep[..ep.len().min(12)]))
            .collect();
        return Err(NetworkError::Forbidden(format!(
            "error while removing network: network {} has active endpoints ({})",
            n.name,
            endpoints.join(", ")
        )));
    }
    store.delete(&n)?;
    if n.is_lan() {
        super::lan::remove_links(&Netlink::new()?, &n);
        crate::events::network(paths, "destroy", &n.id, &n.name, None);
        return Ok(n);
    }
    sync_firewall(paths, false)?;
    if !n.existing_bridge {
        Netlink::new()?.delete_link(&n.bridge)?;
    }
    sync_compat(paths)?;
    crate::events::network(paths, "destroy", &n.id, &n.name, None);
    Ok(n)
}

/// `network prune`: removes the user networks no container is attached to that `filter`
/// selects; returns their names. A network that cannot be removed is skipped, as by Docker.
pub fn prune(paths: &Paths, filter: &PruneFilter) -> Result<Vec<String>, NetworkError> {
    let mut deleted = Vec::new();
    for n in NetworkStore::new(paths).list() {
        if n.is_predefined() || !filter.selects(&n) {
            continue;
        }
        match remove(paths, &n.id) {
            Ok(_) => deleted.push(n.name),
            Err(e) => tracing::debug!(network = %n.name, error = %e, "not pruned"),
        }
    }
    Ok(deleted)
}

/// Deletes every bridge this instance created and its firewall table (`system teardown`).
/// Network records stay, as Docker's do; bridges come back on next use.
pub fn teardown(paths: &Paths) -> Result<(), NetworkError> {
    let store = NetworkStore::new(paths);
    let _lock = store.lock()?;
    super::reap_stale(paths);
    let nl = Netlink::new()?;
    for n in store.bridges().iter().filter(|n| !n.existing_bridge) {
        nl.delete_link(&n.bridge)?;
    }
    for n in store.list().iter().filter(|n| n.is_lan()) {
        super::lan::remove_links(&nl, n);
    }
    let _ = super::iptables_compat::sync_forward_accepts(paths.prefix(), &[]);
    Firewall::new(paths).remove_table()
}
