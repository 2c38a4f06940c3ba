//! The calls other modules make when something happens: one line at each point (create,
//! start, die, kill, stop, destroy, network connect/disconnect, volume create/destroy).
//! Recording never fails the operation: errors are logged.

use std::collections::BTreeMap;

use super::event::{Event, EventType};
use super::journal::EventJournal;
use super::oom::drain_oom_kills;
use crate::container::{ContainerConfig, ContainerState};
use crate::network::NetworkStore;
use crate::Paths;

/// Docker's attributes of every container event.
fn container_attributes(config: &ContainerConfig) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("image".to_string(), config.image.clone()),
        ("name".to_string(), config.name.clone()),
    ])
}

fn container_event(config: &ContainerConfig, action: &str, extra: &[(&str, String)]) -> Event {
    let mut attributes = container_attributes(config);
    for (k, v) in extra {
        attributes.insert(k.to_string(), v.clone());
    }
    Event::new(EventType::Container, action, &config.id, attributes)
}

fn append(paths: &Paths, events: &[Event]) {
    if let Err(e) = EventJournal::new(paths).append(events) {
        tracing::warn!(error = %e, "could not record events");
    }
}

/// A container event (`create`, `kill`, `stop`, `destroy`, `pause`, ...) with Docker's
/// attributes plus `extra` (e.g. `("signal", "15")`).
pub fn container(paths: &Paths, action: &str, config: &ContainerConfig, extra: &[(&str, String)]) {
    append(paths, &[container_event(config, action, extra)]);
}

fn network_event(
    paths: &Paths,
    action: &str,
    network_id: &str,
    network_name: &str,
    container_id: Option<&str>,
) -> Event {
    let driver = NetworkStore::new(paths)
        .lookup(network_id)
        .map(|n| n.driver)
        .unwrap_or_else(|_| "bridge".into());
    let mut attributes = BTreeMap::from([
        ("name".to_string(), network_name.to_string()),
        ("type".to_string(), driver),
    ]);
    if let Some(c) = container_id {
        attributes.insert("container".into(), c.to_string());
    }
    Event::new(EventType::Network, action, network_id, attributes)
}

/// A network event: `connect`/`disconnect` of `container_id`, or `create`/`destroy`.
pub fn network(
    paths: &Paths,
    action: &str,
    network_id: &str,
    network_name: &str,
    container_id: Option<&str>,
) {
    let event = network_event(paths, action, network_id, network_name, container_id);
    append(paths, &[event]);
}

/// An image event as dockerd logs it: `tag`, `untag`, `delete`, `pull`, `push`, `load`,
/// `save`, `import`; `id` is the image id (a reference for pull and push), `name` its
/// `name` attribute.
pub fn image(paths: &Paths, action: &str, id: &str, name: &str) {
    let attributes = BTreeMap::from([("name".to_string(), name.to_string())]);
    append(
        paths,
        &[Event::new(EventType::Image, action, id, attributes)],
    );
}

/// A volume event (`create`, `destroy`) of the local driver.
pub fn volume(paths: &Paths, action: &str, name: &str) {
    let attributes = BTreeMap::from([("driver".to_string(), "local".to_string())]);
    append(
        paths,
        &[Event::new(EventType::Volume, action, name, attributes)],
    );
}

/// The container's process runs: a network `connect` per network it is on, then `start`.
pub fn container_started(paths: &Paths, config: &ContainerConfig, state: &ContainerState) {
    let mut events: Vec<Event> = state
        .network
        .attachments
        .iter()
        .map(|a| {
            network_event(
                paths,
                "connect",
                &a.network_id,
                &a.network_name,
                Some(&config.id),
            )
        })
        .collect();
    events.push(container_event(config, "start", &[]));
    append(paths, &events);
}

/// The container's process ended (`state` records the exit): its OOM kills still in the
/// kernel's ring first, then `die` with the exit code, then a network `disconnect` per
/// network.
pub fn container_died(paths: &Paths, config: &ContainerConfig, state: &ContainerState) {
    drain_container_ooms(paths, config, state);
    let mut events = vec![container_event(
        config,
        "die",
        &[("exitCode", state.exit_code.to_string())],
    )];
    events.extend(state.network.attachments.iter().map(|a| {
        network_event(
            paths,
            "disconnect",
            &a.network_id,
            &a.network_name,
            Some(&config.id),
        )
    }));
    append(paths, &events);
}

/// `rm` is about to drop the container's meters: move its OOM kills into the journal first.
pub fn remove_started(paths: &Paths, config: &ContainerConfig, state: &ContainerState) {
    drain_container_ooms(paths, config, state);
}

fn drain_container_ooms(paths: &Paths, config: &ContainerConfig, state: &ContainerState) {
    let Some(cgroup_id) = state
        .cgroups
        .as_ref()
        .map(|c| c.cgroup_id)
        .filter(|id| *id != 0)
    else {
        return;
    };
    if let Err(e) = drain_oom_kills(paths, &[(cgroup_id, config)], 0) {
        tracing::warn!(error = %e, "could not record the container's OOM kills");
    }
}
