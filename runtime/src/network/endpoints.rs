//! Endpoint records (`<root>/network/endpoints/<container id>.json`): which addresses and
//! host ports a running container holds. They are the address allocations: written under the
//! network lock before anything is created on the host, tied to the container's process (pid
//! and start time), and reclaimed by the next ebrun network operation if that process is gone
//! without its clean-up having run (ebrun killed half-way).

use std::collections::HashSet;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{Attachment, NetworkError, PublishedPort};
use crate::state::read_json;
use crate::Paths;

/// What one running container holds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EndpointRecord {
    pub container_id: String,
    pub container_name: String,
    pub pid: i32,
    /// The process's start time (field 22 of /proc/PID/stat), against pid reuse.
    pub pid_start: u64,
    /// The container's /etc/hosts on the host (rewritten in place when peers come and go).
    pub hosts_file: PathBuf,
    /// Its own part of /etc/hosts (localhost, --add-host, its own name).
    pub own_hosts: String,
    /// Its names come from the embedded DNS server (started on a user-defined network):
    /// its /etc/hosts names only itself, as Docker's.
    #[serde(default)]
    pub embedded_dns: bool,
    pub attachments: Vec<Attachment>,
    pub ports: Vec<PublishedPort>,
}

/// The start time of process `pid`, if it exists.
pub fn process_start(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

impl EndpointRecord {
    /// Whether the process holding this endpoint still runs.
    pub fn alive(&self) -> bool {
        self.pid > 0 && process_start(self.pid) == Some(self.pid_start)
    }
}

/// The endpoint records of one instance.
pub struct Endpoints {
    dir: PathBuf,
}

impl Endpoints {
    pub fn new(paths: &Paths) -> Self {
        Endpoints {
            dir: paths.root().join("network").join("endpoints"),
        }
    }

    fn path(&self, container_id: &str) -> PathBuf {
        self.dir.join(format!("{container_id}.json"))
    }

    pub fn list(&self) -> Vec<EndpointRecord> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        entries
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .filter_map(|e| {
                read_json(&e.path())
                    .inspect_err(|err| crate::state::warn_skipped("network endpoint", err))
                    .ok()
            })
            .collect()
    }

    pub fn get(&self, container_id: &str) -> Option<EndpointRecord> {
        read_json(&self.path(container_id)).ok()
    }

    /// Writes a record atomically (temp file + rename). Not fsync'ed: a record only matters
    /// while its process runs, and a crash of the machine ends that process anyway.
    pub fn save(&self, record: &EndpointRecord) -> Result<(), NetworkError> {
        let path = self.path(&record.container_id);
        let io = |op| move |source| NetworkError::Io { op, source };
        std::fs::create_dir_all(&self.dir).map_err(io("create endpoints directory"))?;
        let bytes = serde_json::to_vec(record).map_err(|e| NetworkError::Io {
            op: "serialize endpoint record",
            source: std::io::Error::other(e),
        })?;
        let tmp = path.with_extension("tmp");
        let state_err = |op, cause| {
            NetworkError::State(crate::state::StateError::Io {
                op,
                path: path.clone(),
                cause,
            })
        };
        let written = std::fs::write(&tmp, bytes)
            .map_err(|e| state_err("write", e))
            .and_then(|()| std::fs::rename(&tmp, &path).map_err(|e| state_err("rename into", e)));
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp); // a full disk: no half record left behind
        }
        written
    }

    pub fn remove(&self, container_id: &str) -> Result<(), NetworkError> {
        match std::fs::remove_file(self.path(container_id)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(NetworkError::Io {
                op: "remove endpoint record",
                source: e,
            }),
            _ => Ok(()),
        }
    }

    /// Addresses in use on network `network_id`.
    pub fn used_addresses(&self, network_id: &str) -> (HashSet<Ipv4Addr>, HashSet<Ipv6Addr>) {
        let mut v4 = HashSet::new();
        let mut v6 = HashSet::new();
        for r in self.list() {
            for a in r.attachments.iter().filter(|a| a.network_id == network_id) {
                v4.extend(a.ip_address);
                v6.extend(a.global_ipv6_address);
            }
        }
        (v4, v6)
    }

    /// Host ports held by running containers: (host ip or None for all, port, proto).
    pub fn used_ports(&self) -> Vec<PublishedPort> {
        self.list().into_iter().flat_map(|r| r.ports).collect()
    }
}

/// The /etc/hosts lines naming `peer` for a container on `network_id`.
fn peer_lines(peer: &EndpointRecord, networks: &HashSet<String>) -> String {
    let mut out = String::new();
    for a in peer
        .attachments
        .iter()
        .filter(|a| networks.contains(&a.network_id))
    {
        let mut names = vec![peer.container_name.clone()];
        names.extend(a.aliases.iter().cloned());
        names.push(
            peer.container_id
                .get(..12)
                .unwrap_or(&peer.container_id)
                .to_string(),
        );
        let names = names.join(" ");
        if let Some(ip) = a.ip_address {
            out.push_str(&format!("{ip}\t{names}\n"));
        }
        if let Some(ip) = a.global_ipv6_address {
            out.push_str(&format!("{ip}\t{names}\n"));
        }
    }
    out
}

/// Rewrites, in place (the file is bind-mounted into the container), the /etc/hosts of every
/// live endpoint without the embedded DNS server (started on the default bridge, connected
/// to user-defined networks later) so that it names the containers sharing a user-defined
/// network with it.
pub fn refresh_hosts(endpoints: &Endpoints) {
    let all: Vec<EndpointRecord> = endpoints.list().into_iter().filter(|r| r.alive()).collect();
    for r in all.iter().filter(|r| !r.embedded_dns) {
        let nets: HashSet<String> = r
            .attachments
            .iter()
            .filter(|a| a.network_name != "bridge")
            .map(|a| a.network_id.clone())
            .collect();
        let mut text = r.own_hosts.clone();
        for peer in all.iter().filter(|p| p.container_id != r.container_id) {
            text.push_str(&peer_lines(peer, &nets));
        }
        if std::fs::read_to_string(&r.hosts_file).is_ok_and(|t| t == text) {
            continue;
        }
        let written = std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&r.hosts_file)
            .and_then(|mut f| f.write_all(text.as_bytes()));
        if let Err(e) = written {
            tracing::warn!(file = %r.hosts_file.display(), error = %e, "could not update /etc/hosts");
        }
    }
}

/// `rename`: the container's endpoint takes its new name (the embedded DNS answers it from
/// the record). Nothing to do for a container without an endpoint.
pub fn rename(paths: &Paths, container_id: &str, new_name: &str) -> Result<(), NetworkError> {
    let store = super::NetworkStore::new(paths);
    if !store.dir().exists() {
        return Ok(());
    }
    let _lock = store.lock()?;
    let eps = Endpoints::new(paths);
    let Some(mut r) = eps.get(container_id) else {
        return Ok(());
    };
    r.container_name = new_name.to_string();
    eps.save(&r)?;
    refresh_hosts(&eps);
    Ok(())
}

/// Whether `a` and `b` (None: all addresses) can both bind the same port.
pub fn host_ips_conflict(a: Option<IpAddr>, b: Option<IpAddr>) -> bool {
    match (a, b) {
        (None, _) | (_, None) => true,
        (Some(a), Some(b)) => a == b || a.is_unspecified() || b.is_unspecified(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_is_alive() {
        let pid = std::process::id() as i32;
        let r = EndpointRecord {
            pid,
            pid_start: process_start(pid).unwrap(),
            ..Default::default()
        };
        assert!(r.alive());
        let dead = EndpointRecord {
            pid,
            pid_start: 1,
            ..Default::default()
        };
        assert!(!dead.alive());
    }
}
