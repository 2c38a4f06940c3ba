//! Network records (`<root>/network/networks/<id>.json`): the predefined `bridge`, `host`
//! and `none` networks and the user's, looked up as Docker does (name, id, id prefix).

use std::collections::BTreeMap;
use std::io::Read;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use ipnet::{Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};

use super::NetworkError;
use crate::state::{read_json, write_json_atomic, StateLock};
use crate::Paths;

/// Docker's bridge option naming the bridge device.
pub const OPT_BRIDGE_NAME: &str = "com.docker.network.bridge.name";
/// Docker's bridge option turning outbound masquerade off (`false`).
pub const OPT_MASQUERADE: &str = "com.docker.network.bridge.enable_ip_masquerade";
/// Docker's bridge option setting the MTU.
pub const OPT_MTU: &str = "com.docker.network.driver.mtu";

/// One network.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkRecord {
    pub id: String,
    pub name: String,
    /// `bridge`, `host` or `null` (Docker's driver names).
    pub driver: String,
    pub created: String,
    /// The bridge device (bridge driver only).
    #[serde(default)]
    pub bridge: String,
    /// The bridge exists outside ebrun (daemon.json `bridge`): never created or deleted.
    #[serde(default)]
    pub existing_bridge: bool,
    #[serde(default)]
    pub subnet: Option<Ipv4Net>,
    #[serde(default)]
    pub gateway: Option<Ipv4Addr>,
    #[serde(default)]
    pub ip_range: Option<Ipv4Net>,
    #[serde(default)]
    pub subnet_v6: Option<Ipv6Net>,
    #[serde(default)]
    pub gateway_v6: Option<Ipv6Addr>,
    /// The containers' default routes when not the bridge's address (daemon.json).
    #[serde(default)]
    pub default_gateway: Option<Ipv4Addr>,
    #[serde(default)]
    pub default_gateway_v6: Option<Ipv6Addr>,
    /// The subnet was picked from the free pools (not given by the user).
    #[serde(default)]
    pub auto_subnet: bool,
    #[serde(default)]
    pub ipv6: bool,
    #[serde(default)]
    pub internal: bool,
    /// Docker's `Attachable` (recorded and reported; every ebrun network can be attached to).
    #[serde(default)]
    pub attachable: bool,
    #[serde(default)]
    pub mtu: Option<u32>,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// `--aux-address NAME=IP`: addresses never given to containers (macvlan, ipvlan).
    #[serde(default)]
    pub aux_addresses: BTreeMap<String, Ipv4Addr>,
    /// The link ebrun created as the parent (a VLAN sub-interface, or a dummy when no
    /// parent was given), deleted with the network. Empty: the parent was the user's.
    #[serde(default)]
    pub created_link: String,
}

impl NetworkRecord {
    /// Whether containers on it get an interface and an address.
    pub fn is_bridge(&self) -> bool {
        self.driver == "bridge"
    }

    /// A macvlan or ipvlan network: containers get a child of the parent interface, with
    /// their own address on its LAN.
    pub fn is_lan(&self) -> bool {
        matches!(self.driver.as_str(), "macvlan" | "ipvlan")
    }

    /// The parent interface of a macvlan or ipvlan network (`-o parent=`).
    pub fn parent(&self) -> &str {
        self.options.get("parent").map(String::as_str).unwrap_or("")
    }

    /// Whether traffic leaving the network is masqueraded (Docker's
    /// `com.docker.network.bridge.enable_ip_masquerade`, default true).
    pub fn masquerade(&self) -> bool {
        self.options.get(OPT_MASQUERADE).map(String::as_str) != Some("false")
    }

    /// Docker's scope and the predefined flag.
    pub fn is_predefined(&self) -> bool {
        Self::predefined_name(&self.name)
    }

    /// The names of Docker's pre-defined networks: `bridge`, `host`, `none`.
    pub fn predefined_name(name: &str) -> bool {
        matches!(name, "bridge" | "host" | "none")
    }
}

/// A fresh 64-hex-digit id.
pub fn new_id() -> String {
    let mut bytes = [0u8; 32];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = f.read_exact(&mut bytes);
    }
    hex::encode(bytes)
}

/// The networks of one ebrun instance.
pub struct NetworkStore {
    paths: Paths,
}

/// Host-wide lock taken while choosing a subnet and creating its bridge, so that parallel
/// instances never pick the same free subnet.
pub const HOST_LOCK: &str = "/run/ebrun-network.lock";

impl NetworkStore {
    pub fn new(paths: &Paths) -> Self {
        NetworkStore {
            paths: paths.clone(),
        }
    }

    pub fn dir(&self) -> PathBuf {
        self.paths.root().join("network")
    }

    fn networks_dir(&self) -> PathBuf {
        self.dir().join("networks")
    }

    /// Serializes every change to networks, endpoints and the firewall of this instance.
    pub fn lock(&self) -> Result<StateLock, NetworkError> {
        Ok(StateLock::exclusive(&self.dir().join(".lock"))?)
    }

    /// The host-wide subnet lock.
    pub fn host_lock() -> Result<StateLock, NetworkError> {
        Ok(StateLock::exclusive(std::path::Path::new(HOST_LOCK))?)
    }

    /// Every stored network (the predefined `host` and `none` are added by [`Self::list`]).
    fn stored(&self) -> Vec<NetworkRecord> {
        let Ok(entries) = std::fs::read_dir(self.networks_dir()) else {
            return Vec::new();
        };
        let mut out: Vec<NetworkRecord> = entries
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .filter_map(|e| {
                read_json(&e.path())
                    .inspect_err(|err| crate::state::warn_skipped("network", err))
                    .ok()
            })
            .collect();
        out.sort_by(|a, b| a.created.cmp(&b.created).then(a.name.cmp(&b.name)));
        out
    }

    /// The first stored record that cannot be read, if any.
    pub fn first_unreadable(&self) -> Option<crate::state::StateError> {
        let entries = std::fs::read_dir(self.networks_dir()).ok()?;
        entries
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .find_map(|e| read_json::<NetworkRecord>(&e.path()).err())
    }

    /// Every network: the stored ones plus `host` and `none`.
    pub fn list(&self) -> Vec<NetworkRecord> {
        let mut all = self.stored();
        // `host` and `none` date from the default bridge (Go's zero time before it exists):
        // clients parse the date.
        let created = all
            .iter()
            .find(|n| n.name == "bridge")
            .map(|n| n.created.clone())
            .unwrap_or_else(|| "0001-01-01T00:00:00Z".into());
        for (name, driver) in [("host", "host"), ("none", "null")] {
            if !all.iter().any(|n| n.name == name) {
                all.push(NetworkRecord {
                    created: created.clone(),
                    ..self.predefined(name, driver)
                });
            }
        }
        all
    }

    /// `host` and `none`: fixed records whose ids derive from the instance.
    fn predefined(&self, name: &str, driver: &str) -> NetworkRecord {
        use sha2::Digest;
        let id = hex::encode(sha2::Sha256::digest(
            format!("{}/{name}", self.paths.prefix()).as_bytes(),
        ));
        NetworkRecord {
            id,
            name: name.to_string(),
            driver: driver.to_string(),
            ..Default::default()
        }
    }

    /// Docker's lookup: exact name, full id, then unique id prefix.
    pub fn lookup(&self, key: &str) -> Result<NetworkRecord, NetworkError> {
        let all = self.list();
        if let Some(n) = all.iter().find(|n| n.name == key || n.id == key) {
            return Ok(n.clone());
        }
        let matches: Vec<&NetworkRecord> = all.iter().filter(|n| n.id.starts_with(key)).collect();
        match matches.as_slice() {
            [one] if !key.is_empty() => Ok((*one).clone()),
            [] | [_] => Err(NetworkError::NotFound(key.to_string())),
            _ => Err(NetworkError::Ambiguous(key.to_string())),
        }
    }

    /// Finds a stored network by exact name.
    pub fn by_name(&self, name: &str) -> Option<NetworkRecord> {
        self.stored().into_iter().find(|n| n.name == name)
    }

    pub fn save(&self, record: &NetworkRecord) -> Result<(), NetworkError> {
        write_json_atomic(
            &self.networks_dir().join(format!("{}.json", record.id)),
            record,
        )?;
        Ok(())
    }

    pub fn delete(&self, record: &NetworkRecord) -> Result<(), NetworkError> {
        let path = self.networks_dir().join(format!("{}.json", record.id));
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(NetworkError::Io {
                op: "remove network record",
                source: e,
            }),
            _ => Ok(()),
        }
    }

    /// The stored networks with a bridge (what the firewall is rendered from).
    pub fn bridges(&self) -> Vec<NetworkRecord> {
        self.stored()
            .into_iter()
            .filter(|n| n.is_bridge())
            .collect()
    }
}
