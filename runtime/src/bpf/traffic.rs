//! The traffic meter: per-container cgroup_skb links, and the per-port series they fill.

use std::path::{Path, PathBuf};

use aya::maps::{HashMap, Map, MapData, PerCpuHashMap};
use aya::programs::links::{CgroupAttachMode, FdLink};
use aya::programs::{CgroupSkb, CgroupSkbAttachType};
use ebrun_common::traffic::{
    ListenKey, PortClaim, TrafficConf, TrafficCounters, TrafficKey, DEFAULT_MAX_PORTS, DIR_EGRESS,
    DIR_INGRESS, LISTEN_PORTS_MAP, PORT_CLAIMS_MAP, PROTO_OTHER, PROTO_TCP, PROTO_UDP,
    TRAFFIC_CONF_MAP, TRAFFIC_EGRESS_PROG, TRAFFIC_INGRESS_PROG, TRAFFIC_MAP,
};
use serde::Serialize;

use super::pins::{cgroup_link_pin, ignore_missing, map_err, open_map, per_cpu_default, prog_pin};
use super::BpfError;

/// Environment variable setting how many service ports a container started now gets its own
/// series for (default [`DEFAULT_MAX_PORTS`]); the traffic of further ports is summed under
/// port "other".
pub const MAX_PORTS_ENV: &str = "EBRUN_METER_PORTS";

/// Where the ephemeral port range is (the first port of it ends the "service" ports).
const PORT_RANGE: &str = "/proc/sys/net/ipv4/ip_local_port_range";
/// The kernel's default ephemeral range start, if the file cannot be read.
const DEFAULT_EPHEMERAL_START: u32 = 32768;

const PROGRAMS: [(&str, CgroupSkbAttachType); 2] = [
    (TRAFFIC_INGRESS_PROG, CgroupSkbAttachType::Ingress),
    (TRAFFIC_EGRESS_PROG, CgroupSkbAttachType::Egress),
];

/// One traffic series of a container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TrafficSeries {
    /// "ingress" or "egress".
    pub direction: &'static str,
    /// "tcp", "udp" or "other".
    pub protocol: &'static str,
    /// The service port; `None` for "other" (ports beyond the bound, or no ports at all).
    pub port: Option<u16>,
    /// skbs seen (a GSO skb is one).
    pub packets: u64,
    /// Packets on the wire (a GSO skb counts as its segments).
    pub wire_packets: u64,
    /// L4 payload bytes.
    pub payload_bytes: u64,
    /// IP packet bytes: payload plus IP and L4 headers of every segment.
    pub wire_bytes: u64,
}

fn series_map(
    pin_dir: &Path,
) -> Result<Option<PerCpuHashMap<MapData, TrafficKey, TrafficCounters>>, BpfError> {
    let Some(data) = open_map(pin_dir, TRAFFIC_MAP)? else {
        return Ok(None);
    };
    PerCpuHashMap::try_from(Map::PerCpuHashMap(data))
        .map(Some)
        .map_err(map_err(TRAFFIC_MAP))
}

fn hash_map<K: aya::Pod, V: aya::Pod>(
    pin_dir: &Path,
    name: &'static str,
) -> Result<Option<HashMap<MapData, K, V>>, BpfError> {
    let Some(data) = open_map(pin_dir, name)? else {
        return Ok(None);
    };
    HashMap::try_from(Map::HashMap(data))
        .map(Some)
        .map_err(map_err(name))
}

fn ephemeral_start() -> u32 {
    std::fs::read_to_string(PORT_RANGE)
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(DEFAULT_EPHEMERAL_START)
}

/// The bound from [`MAX_PORTS_ENV`]; a bad value is ignored with a warning.
fn max_ports() -> u32 {
    match std::env::var(MAX_PORTS_ENV) {
        Ok(v) => v.parse().unwrap_or_else(|_| {
            tracing::warn!(value = %v, "{MAX_PORTS_ENV} must be a number of ports; using {DEFAULT_MAX_PORTS}");
            DEFAULT_MAX_PORTS
        }),
        Err(_) => DEFAULT_MAX_PORTS,
    }
}

fn key(cgroup_id: u64, port: u16, proto: u8, direction: u8, overflow: u8) -> TrafficKey {
    TrafficKey {
        cgroup_id,
        port,
        proto,
        direction,
        overflow,
        _pad: [0; 3],
    }
}

pub(super) fn register(pin_dir: &Path, cgroup_id: u64) -> Result<(), BpfError> {
    let Some(mut series) = series_map(pin_dir)? else {
        return Ok(());
    };
    // The series that must always exist: beyond-the-bound ports, and non-TCP/UDP traffic.
    for direction in [DIR_INGRESS, DIR_EGRESS] {
        for (proto, overflow) in [(PROTO_TCP, 1), (PROTO_UDP, 1), (PROTO_OTHER, 0)] {
            series
                .insert(
                    key(cgroup_id, 0, proto, direction, overflow),
                    per_cpu_default::<TrafficCounters>(TRAFFIC_MAP)?,
                    0,
                )
                .map_err(map_err(TRAFFIC_MAP))?;
        }
    }
    if let Some(mut conf) = hash_map::<u64, TrafficConf>(pin_dir, TRAFFIC_CONF_MAP)? {
        let value = TrafficConf {
            max_ports: max_ports(),
            ephemeral_start: ephemeral_start(),
            used_ports: 0,
        };
        conf.insert(cgroup_id, value, 0)
            .map_err(map_err(TRAFFIC_CONF_MAP))?;
    }
    Ok(())
}

pub(super) fn forget(pin_dir: &Path, cgroup_id: u64) -> Result<(), BpfError> {
    if let Some(mut conf) = hash_map::<u64, TrafficConf>(pin_dir, TRAFFIC_CONF_MAP)? {
        ignore_missing(conf.remove(&cgroup_id)).map_err(map_err(TRAFFIC_CONF_MAP))?;
    }
    if let Some(mut series) = series_map(pin_dir)? {
        let keys: Vec<TrafficKey> = series
            .keys()
            .filter_map(Result::ok)
            .filter(|k| k.cgroup_id == cgroup_id)
            .collect();
        for k in keys {
            ignore_missing(series.remove(&k)).map_err(map_err(TRAFFIC_MAP))?;
        }
    }
    if let Some(mut claims) = hash_map::<PortClaim, u64>(pin_dir, PORT_CLAIMS_MAP)? {
        let keys: Vec<PortClaim> = claims
            .keys()
            .filter_map(Result::ok)
            .filter(|k| k.cgroup_id == cgroup_id)
            .collect();
        for k in keys {
            ignore_missing(claims.remove(&k)).map_err(map_err(PORT_CLAIMS_MAP))?;
        }
    }
    if let Some(mut listen) = hash_map::<ListenKey, u64>(pin_dir, LISTEN_PORTS_MAP)? {
        let keys: Vec<ListenKey> = listen
            .keys()
            .filter_map(Result::ok)
            .filter(|k| k.cgroup_id == cgroup_id)
            .collect();
        for k in keys {
            ignore_missing(listen.remove(&k)).map_err(map_err(LISTEN_PORTS_MAP))?;
        }
    }
    for (program, _) in PROGRAMS {
        detach(&cgroup_link_pin(pin_dir, cgroup_id, program))?;
    }
    Ok(())
}

/// Attaches the traffic programs to the container's cgroup2 dir and pins the links; returns
/// the pins made (each to be removed by [`detach`]). Nothing if the meter is not loaded.
pub(super) fn attach(
    pin_dir: &Path,
    cgroup_dir: &Path,
    cgroup_id: u64,
) -> Result<Vec<PathBuf>, BpfError> {
    let mut pins = Vec::new();
    for (name, attach_type) in PROGRAMS {
        let pin = prog_pin(pin_dir, name);
        if !pin.exists() {
            return Ok(pins);
        }
        let prog_err = |source| BpfError::Program { name, source };
        let mut program = CgroupSkb::from_pin(&pin, attach_type).map_err(prog_err)?;
        let cgroup = std::fs::File::open(cgroup_dir).map_err(|source| BpfError::Io {
            op: "open",
            path: cgroup_dir.to_path_buf(),
            source,
        })?;
        let link_id = program
            .attach(&cgroup, attach_type, CgroupAttachMode::Single)
            .map_err(prog_err)?;
        let link: FdLink = program
            .take_link(link_id)
            .map_err(prog_err)?
            .try_into()
            .map_err(|e: aya::programs::links::LinkError| BpfError::Link {
                name,
                message: e.to_string(),
            })?;
        let path = cgroup_link_pin(pin_dir, cgroup_id, name);
        detach(&path)?;
        link.pin(&path).map_err(|source| BpfError::Pin {
            path: path.clone(),
            source,
        })?;
        pins.push(path);
    }
    Ok(pins)
}

/// Removes a pinned link: the programs detach from the cgroup.
pub(super) fn detach(pin: &Path) -> Result<(), BpfError> {
    match std::fs::remove_file(pin) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(BpfError::Io {
            op: "remove",
            path: pin.to_path_buf(),
            source: e,
        }),
        _ => Ok(()),
    }
}

pub(super) fn read(pin_dir: &Path, cgroup_id: u64) -> Result<Option<Vec<TrafficSeries>>, BpfError> {
    let Some(series) = series_map(pin_dir)? else {
        return Ok(None);
    };
    let mut out: Vec<(TrafficKey, TrafficSeries)> = Vec::new();
    for k in series.keys().filter_map(Result::ok) {
        if k.cgroup_id != cgroup_id {
            continue;
        }
        let Ok(per_cpu) = series.get(&k, 0) else {
            continue;
        };
        let s = series_from(&k, &per_cpu);
        out.push((k, s));
    }
    if out.is_empty() {
        // Registered containers always have their "other" series.
        return Ok(None);
    }
    out.sort_by_key(|(k, _)| (k.direction, k.proto, k.overflow, k.port));
    Ok(Some(out.into_iter().map(|(_, s)| s).collect()))
}

/// One series from its key and per-CPU counters, summed.
pub fn series_from(k: &TrafficKey, per_cpu: &[TrafficCounters]) -> TrafficSeries {
    let mut s = TrafficSeries {
        direction: if k.direction == DIR_EGRESS {
            "egress"
        } else {
            "ingress"
        },
        protocol: match k.proto {
            PROTO_TCP => "tcp",
            PROTO_UDP => "udp",
            _ => "other",
        },
        port: (k.overflow == 0 && k.proto != PROTO_OTHER).then_some(k.port),
        packets: 0,
        wire_packets: 0,
        payload_bytes: 0,
        wire_bytes: 0,
    };
    for c in per_cpu {
        s.packets += c.packets;
        s.wire_packets += c.wire_packets;
        s.payload_bytes += c.payload_bytes;
        s.wire_bytes += c.wire_bytes;
    }
    s
}
