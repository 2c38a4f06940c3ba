//! macvlan and ipvlan networks (Docker's drivers of the same names): each container gets a
//! child of a parent interface of the host, created directly inside its network namespace,
//! with its own address on the parent's LAN (what the handbook does with pipework). No
//! bridge, no NAT, no published ports: the LAN's router is the gateway.
//!
//! `-o parent=IF.VLAN` names an 802.1q sub-interface: created (up) with the network when it
//! does not exist, and deleted with it. Without a parent, the network gets a dummy link of
//! its own (`dm-<id>`) and is internal, as Docker's.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use ipnet::IpNet;

use super::netlink::{valid_ifname, IpVlanFlags, IpVlanMode, LanKind, MacVlanMode, Netlink};
use super::networks::CreateOptions;
use super::store::{NetworkRecord, NetworkStore, OPT_MTU};
use super::{ipam, NetworkError};
use crate::Paths;

/// The options a macvlan or ipvlan network accepts.
fn allowed_options(driver: &str) -> &'static [&'static str] {
    if driver == "macvlan" {
        &["parent", "macvlan_mode", OPT_MTU]
    } else {
        &["parent", "ipvlan_mode", "ipvlan_flag", OPT_MTU]
    }
}

/// The kind of child link of network `n` (its mode options checked as Docker does).
pub fn kind(n: &NetworkRecord) -> Result<LanKind, NetworkError> {
    kind_of(&n.driver, &n.options)
}

fn kind_of(driver: &str, options: &BTreeMap<String, String>) -> Result<LanKind, NetworkError> {
    let opt = |k: &str| options.get(k).map(String::as_str).unwrap_or("");
    if driver == "macvlan" {
        let mode = match opt("macvlan_mode") {
            "" | "bridge" => MacVlanMode::Bridge,
            "private" => MacVlanMode::Private,
            "vepa" => MacVlanMode::Vepa,
            "passthru" => MacVlanMode::Passthrough,
            m => {
                return Err(NetworkError::Invalid(format!(
                    "requested macvlan mode '{m}' is not valid, 'bridge' mode is the macvlan driver default"
                )))
            }
        };
        return Ok(LanKind::MacVlan(mode));
    }
    let mode = match opt("ipvlan_mode") {
        "" | "l2" => IpVlanMode::L2,
        "l3" => IpVlanMode::L3,
        "l3s" => IpVlanMode::L3S,
        m => {
            return Err(NetworkError::Invalid(format!(
                "requested ipvlan mode '{m}' is not valid, 'l2' mode is the ipvlan driver default"
            )))
        }
    };
    let flags = match opt("ipvlan_flag") {
        "" | "bridge" => IpVlanFlags::empty(),
        "private" => IpVlanFlags::Private,
        "vepa" => IpVlanFlags::Vepa,
        f => {
            return Err(NetworkError::Invalid(format!(
                "requested ipvlan flag '{f}' is not valid, 'bridge' is the ipvlan driver default"
            )))
        }
    };
    Ok(LanKind::IpVlan(mode, flags))
}

/// Whether containers of `n` route through the interface itself (ipvlan l3 and l3s: no
/// gateway on the LAN answers for them).
pub fn routes_by_device(n: &NetworkRecord) -> bool {
    matches!(
        kind(n),
        Ok(LanKind::IpVlan(IpVlanMode::L3 | IpVlanMode::L3S, _))
    )
}

/// `IF.VLAN`: (IF, VLAN id), Docker's checks.
fn parse_vlan(parent: &str) -> Result<Option<(&str, u16)>, NetworkError> {
    let Some((base, id)) = parent.rsplit_once('.') else {
        return Ok(None);
    };
    if base.is_empty() || id.is_empty() {
        return Err(NetworkError::Invalid(format!(
            "required interface name format is: name.vlan_id, ex. eth0.10 for vlan 10, instead received: {parent}"
        )));
    }
    let id: u16 = id
        .parse()
        .ok()
        .filter(|v| (1..=4094).contains(v))
        .ok_or_else(|| {
            NetworkError::Invalid(format!(
                "vlan id out of range: {id}, it must be from 1-4094"
            ))
        })?;
    Ok(Some((base, id)))
}

/// Makes sure the parent of `n` exists: the user's must; a VLAN sub-interface or dummy
/// ebrun created is made again if it is gone (after `system teardown`).
pub fn ensure_parent(nl: &Netlink, n: &NetworkRecord) -> Result<u32, NetworkError> {
    let parent = n.parent();
    if let Some(i) = nl.link_index(parent)? {
        return Ok(i);
    }
    if n.created_link.is_empty() || n.created_link != parent {
        return Err(NetworkError::Invalid(format!(
            "-o parent interface was not found on the host: {parent}"
        )));
    }
    match parse_vlan(parent)? {
        Some((base, id)) => {
            let base_index = nl.link_index(base)?.ok_or_else(|| {
                NetworkError::Invalid(format!(
                    "-o parent interface was not found on the host: {base}"
                ))
            })?;
            nl.add_vlan(parent, base_index, id)?;
        }
        None => nl.add_dummy(parent)?,
    }
    nl.link_index(parent)?
        .ok_or_else(|| NetworkError::Invalid(format!("link {parent} vanished")))
}

/// `network create -d macvlan|ipvlan`. Caller holds the instance lock and has checked the
/// name and the IPAM values.
pub fn create(
    paths: &Paths,
    store: &NetworkStore,
    o: &CreateOptions,
    mut n: NetworkRecord,
) -> Result<NetworkRecord, NetworkError> {
    let allowed = allowed_options(&o.driver);
    for key in o.options.keys() {
        if !allowed.contains(&key.as_str()) {
            return Err(NetworkError::Invalid(format!(
                "unsupported option {key:?} for the {} driver (allowed: {})",
                o.driver,
                allowed.join(", ")
            )));
        }
    }
    kind_of(&o.driver, &o.options)?;
    if o.ipv6 || o.subnet_v6.is_some() {
        return Err(NetworkError::Invalid(format!(
            "ebrun's {} networks are IPv4 only",
            o.driver
        )));
    }
    n.driver = o.driver.clone();
    n.bridge.clear();
    let mut parent = o.options.get("parent").cloned().unwrap_or_default();
    if parent.is_empty() {
        // Docker: no parent, a dummy link of the network's own, and no way out.
        parent = format!("dm-{}", &n.id[..12]);
        n.internal = true;
    } else if !valid_ifname(&parent) {
        return Err(NetworkError::Invalid(format!(
            "invalid parent interface {parent:?}: an interface name of 1-15 characters"
        )));
    }
    n.options.insert("parent".into(), parent.clone());
    for other in store.list().iter().filter(|x| x.is_lan()) {
        if other.parent() == parent {
            return Err(NetworkError::Invalid(format!(
                "network {} is already using parent interface {parent}",
                other.name
            )));
        }
    }
    let nl = Netlink::new()?;
    let _host = NetworkStore::host_lock()?;
    // The LAN's subnet is the parent's: only other networks' subnets are taken.
    let taken: Vec<IpNet> = store
        .list()
        .iter()
        .filter_map(|x| x.subnet.map(IpNet::V4))
        .collect();
    let subnet = match o.subnet {
        Some(s) if ipam::overlaps_any(IpNet::V4(s), &taken) => {
            return Err(NetworkError::Invalid(format!(
                "invalid pool request: Pool overlaps with other one on this address space ({s})"
            )))
        }
        Some(s) => s,
        None => {
            let mut all = nl.host_networks()?;
            all.extend(taken);
            ipam::pick_subnet(&all).ok_or_else(|| {
                NetworkError::Invalid("could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network".into())
            })?
        }
    };
    for (name, ip) in &o.aux_addresses {
        if !subnet.contains(ip) {
            return Err(NetworkError::Invalid(format!(
                "invalid network config:\nno matching subnet for aux-address {ip} ({name})"
            )));
        }
    }
    n.subnet = Some(subnet);
    n.gateway = o.gateway.or_else(|| subnet.hosts().next());
    n.ip_range = o.ip_range;
    n.aux_addresses = o.aux_addresses.clone();
    if nl.link_index(&parent)?.is_none() {
        match parse_vlan(&parent)? {
            Some(_) => n.created_link = parent.clone(),
            None if n.internal && !o.options.contains_key("parent") => {
                n.created_link = parent.clone()
            }
            None => {
                return Err(NetworkError::Invalid(format!(
                    "-o parent interface was not found on the host: {parent}"
                )))
            }
        }
        ensure_parent(&nl, &n)?;
    }
    if let Err(e) = store.save(&n) {
        remove_links(&nl, &n);
        return Err(e);
    }
    drop(_host);
    crate::events::network(paths, "create", &n.id, &n.name, None);
    Ok(n)
}

/// Deletes the link ebrun created for network `n` (its VLAN sub-interface or dummy).
pub fn remove_links(nl: &Netlink, n: &NetworkRecord) {
    if n.created_link.is_empty() {
        return;
    }
    if let Err(e) = nl.delete_link(&n.created_link) {
        tracing::warn!(link = %n.created_link, error = %e, "could not delete the network's parent link");
    }
}

/// Addresses of `n` never given to containers: its gateway and aux addresses.
pub fn reserved(n: &NetworkRecord) -> impl Iterator<Item = Ipv4Addr> + '_ {
    n.aux_addresses.values().copied().chain(n.gateway)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vlan_parents() {
        assert_eq!(parse_vlan("eth0").unwrap(), None);
        assert_eq!(parse_vlan("eth0.10").unwrap(), Some(("eth0", 10)));
        let e = parse_vlan("eth0.5000").unwrap_err().to_string();
        assert_eq!(e, "vlan id out of range: 5000, it must be from 1-4094");
        assert!(parse_vlan("eth0.").is_err());
    }

    #[test]
    fn modes() {
        let o = |k: &str, v: &str| BTreeMap::from([(k.to_string(), v.to_string())]);
        assert!(matches!(
            kind_of("ipvlan", &o("ipvlan_mode", "l3")),
            Ok(LanKind::IpVlan(IpVlanMode::L3, _))
        ));
        let e = kind_of("macvlan", &o("macvlan_mode", "x")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "requested macvlan mode 'x' is not valid, 'bridge' mode is the macvlan driver default"
        );
        let e = kind_of("ipvlan", &o("ipvlan_mode", "l4")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "requested ipvlan mode 'l4' is not valid, 'l2' mode is the ipvlan driver default"
        );
    }
}
