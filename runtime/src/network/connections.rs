//! The networks a container is connected to beyond its `--network`, as recorded in its
//! config: `network connect` / `disconnect` ([`connect_container`], [`disconnect_container`],
//! for the CLI and the Engine API) change the record (of a stopped container only the
//! record; of a running one also its interfaces, see [`super::attach`]), and every start
//! attaches what the record says, as Docker does.

use std::net::{Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

use super::spec::{NetworkMode, NetworkSpec};
use super::store::{NetworkRecord, NetworkStore};
use super::NetworkError;
use crate::container::{ContainerError, ContainerStore, Status};
use crate::undo::HostChange;
use crate::Paths;

/// One `network connect` of a container, kept in its [`NetworkSpec`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Connection {
    /// The network's id (a later rename or a same-named network does not change it).
    pub network_id: String,
    /// Its name when connected (for messages).
    pub network_name: String,
    /// `--ip`, `--ip6`.
    pub ipv4: Option<Ipv4Addr>,
    pub ipv6: Option<Ipv6Addr>,
    /// `--alias`.
    pub aliases: Vec<String>,
}

/// The network of `spec`'s mode (`bridge` for the default), if it is attached at start.
fn mode_network(paths: &Paths, spec: &NetworkSpec) -> Option<NetworkRecord> {
    if spec.mode_disconnected {
        return None;
    }
    NetworkStore::new(paths)
        .lookup(spec.mode.network_name()?)
        .ok()
}

/// Checks that `network` can be connected to a container with `spec` and records it.
/// `container` names the container in messages.
pub fn record_connect(
    paths: &Paths,
    spec: &mut NetworkSpec,
    container: &str,
    network: &str,
    ip: (Option<Ipv4Addr>, Option<Ipv6Addr>),
    aliases: &[String],
) -> Result<NetworkRecord, NetworkError> {
    let n = super::networks::find(paths, network)?;
    match &spec.mode {
        NetworkMode::Host => {
            return Err(NetworkError::Invalid(
                "container cannot be disconnected from host network or connected to host network"
                    .into(),
            ))
        }
        NetworkMode::None | NetworkMode::Container(_) => {
            return Err(NetworkError::Invalid(format!(
                "container sharing network namespace with another container or host cannot be connected to any other network (network mode {})",
                spec.mode
            )))
        }
        _ => {}
    }
    if !n.is_bridge() {
        return Err(NetworkError::Invalid(format!(
            "container cannot be connected to network {} (driver {})",
            n.name, n.driver
        )));
    }
    let attached = mode_network(paths, spec).is_some_and(|m| m.id == n.id)
        || spec.connected.iter().any(|c| c.network_id == n.id);
    if attached {
        return Err(NetworkError::Forbidden(format!(
            "endpoint with name {container} already exists in network {}",
            n.name
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
    if let Some(v6) = ip.1 {
        if !n.ipv6 || !n.subnet_v6.is_some_and(|s| s.contains(&v6)) {
            return Err(NetworkError::Invalid(format!(
                "invalid --ip6 {v6}: network {} has no IPv6 subnet containing it",
                n.name
            )));
        }
    }
    spec.connected.push(Connection {
        network_id: n.id.clone(),
        network_name: n.name.clone(),
        ipv4: ip.0,
        ipv6: ip.1,
        aliases: aliases.to_vec(),
    });
    Ok(n)
}

/// Removes `network` from what `spec` attaches at start: a recorded connection, or the
/// network of its `--network`.
pub fn record_disconnect(
    paths: &Paths,
    spec: &mut NetworkSpec,
    container: &str,
    network: &str,
) -> Result<NetworkRecord, NetworkError> {
    let n = super::networks::find(paths, network)?;
    if spec.mode == NetworkMode::Host {
        return Err(NetworkError::Invalid(
            "container cannot be disconnected from host network or connected to host network"
                .into(),
        ));
    }
    if let Some(pos) = spec.connected.iter().position(|c| c.network_id == n.id) {
        spec.connected.remove(pos);
        return Ok(n);
    }
    if mode_network(paths, spec).is_some_and(|m| m.id == n.id) {
        spec.mode_disconnected = true;
        return Ok(n);
    }
    Err(NetworkError::Invalid(format!(
        "container {container} is not connected to network {}",
        n.name
    )))
}

/// `network connect NETWORK CONTAINER`: recorded in the container's config for every later
/// start (Docker's); a running container also gets its interface now.
pub fn connect_container(
    paths: &Paths,
    network: &str,
    container: &str,
    ip: (Option<Ipv4Addr>, Option<Ipv6Addr>),
    aliases: &[String],
) -> Result<(), ContainerError> {
    let containers = ContainerStore::new(paths);
    let id = containers.lookup(container)?.id;
    let _lock = containers.lock()?;
    let mut state = containers.load_state(&id)?;
    let mut config = containers.lookup(&id)?;
    let name = config.name.clone();
    record_connect(paths, &mut config.network, &name, network, ip, aliases)?;
    if state.pid <= 0 || state.status != Status::Running {
        return containers.save_config(&config);
    }
    let (attachment, changes) = super::connect(paths, network, &id, state.pid, ip, aliases)?;
    state.network.attachments.push(attachment);
    state.run_changes.extend(changes);
    containers.save_state(&id, &state)?;
    containers.save_config(&config)
}

/// `network disconnect [--force] NETWORK CONTAINER`: the record and, of a running container,
/// its interface. `force` ignores what is not connected.
pub fn disconnect_container(
    paths: &Paths,
    network: &str,
    container: &str,
    force: bool,
) -> Result<(), ContainerError> {
    let containers = ContainerStore::new(paths);
    let id = containers.lookup(container)?.id;
    let _lock = containers.lock()?;
    let mut state = containers.load_state(&id)?;
    let mut config = containers.lookup(&id)?;
    let name = config.name.clone();
    let recorded = record_disconnect(paths, &mut config.network, &name, network);
    if state.pid <= 0 || state.status != Status::Running {
        // A stopped container: only the record changes.
        return match recorded {
            Ok(_) => containers.save_config(&config),
            Err(_) if force => Ok(()),
            Err(e) => Err(e.into()),
        };
    }
    match super::disconnect(paths, network, &id) {
        Ok(attachment) => {
            if recorded.is_ok() {
                containers.save_config(&config)?;
            }
            state
                .network
                .attachments
                .retain(|x| x.network_id != attachment.network_id);
            state.run_changes.retain(
                |c| !matches!(c, HostChange::Veth { name, .. } if *name == attachment.host_veth),
            );
            containers.save_state(&id, &state)
        }
        Err(e) if force => {
            tracing::warn!(error = %e, "disconnect");
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// What a start attaches: the spec for the first interface (eth0, with the default route)
/// and the connections after it. `None` for the first: no network is left (only `lo`).
pub fn plan(spec: &NetworkSpec) -> (Option<NetworkSpec>, Vec<Connection>) {
    if !spec.mode_disconnected {
        return (Some(spec.clone()), spec.connected.clone());
    }
    let mut rest = spec.connected.clone();
    if rest.is_empty() {
        return (None, rest);
    }
    let first = rest.remove(0);
    let primary = NetworkSpec {
        mode: NetworkMode::Named(first.network_id),
        ipv4: first.ipv4,
        ipv6: first.ipv6,
        aliases: first.aliases,
        mode_disconnected: false,
        connected: Vec::new(),
        ..spec.clone()
    };
    (Some(primary), rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_promotes_the_first_connection() {
        let c = |id: &str| Connection {
            network_id: id.into(),
            network_name: id.into(),
            ..Default::default()
        };
        let spec = NetworkSpec {
            connected: vec![c("a"), c("b")],
            ..Default::default()
        };
        let (first, rest) = plan(&spec);
        assert_eq!(first.unwrap().mode, NetworkMode::Default);
        assert_eq!(rest.len(), 2);
        let spec = NetworkSpec {
            mode_disconnected: true,
            ..spec
        };
        let (first, rest) = plan(&spec);
        assert_eq!(first.unwrap().mode, NetworkMode::Named("a".into()));
        assert_eq!(rest, vec![c("b")]);
        let (first, rest) = plan(&NetworkSpec {
            mode_disconnected: true,
            ..Default::default()
        });
        assert!(first.is_none() && rest.is_empty());
    }
}
