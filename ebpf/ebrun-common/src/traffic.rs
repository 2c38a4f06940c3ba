//! The traffic meter: cgroup_skb ingress/egress programs attached to each container's
//! cgroup2 dir, counting packets and bytes by direction, L4 protocol and service port.

/// Per-CPU hash: [`TrafficKey`] -> [`TrafficCounters`].
pub const TRAFFIC_MAP: &str = "TRAFFIC";
/// Hash: cgroup2 id -> [`TrafficConf`] (set at registration).
pub const TRAFFIC_CONF_MAP: &str = "TRAFFIC_CONF";
/// Hash: [`PortClaim`] -> `u64` (protocol << 16 | port): which series took each of a
/// container's port slots. Inserting a slot is atomic, which keeps the bound exact when CPUs
/// race.
pub const PORT_CLAIMS_MAP: &str = "PORT_CLAIMS";
/// Hash: [`ListenKey`] -> `u64` (1): TCP ports a container accepted a connection on.
pub const LISTEN_PORTS_MAP: &str = "LISTEN_PORTS";
pub const TRAFFIC_INGRESS_PROG: &str = "traffic_ingress";
pub const TRAFFIC_EGRESS_PROG: &str = "traffic_egress";

/// Size of [`TRAFFIC_MAP`] for all containers together.
pub const MAX_TRAFFIC_SERIES: u32 = 65536;
/// Size of [`LISTEN_PORTS_MAP`].
pub const MAX_LISTEN_PORTS: u32 = 16384;
/// Service ports per container when nothing else is configured.
pub const DEFAULT_MAX_PORTS: u32 = 64;

/// [`TrafficKey::proto`] values.
pub const PROTO_OTHER: u8 = 0;
pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;
/// [`TrafficKey::direction`] values.
pub const DIR_INGRESS: u8 = 0;
pub const DIR_EGRESS: u8 = 1;

/// One series: a container's traffic in one direction, one protocol, one service port.
/// `overflow == 1` is the series of all ports beyond the container's bound (port 0).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TrafficKey {
    pub cgroup_id: u64,
    pub port: u16,
    pub proto: u8,
    pub direction: u8,
    pub overflow: u8,
    pub _pad: [u8; 3],
}

/// Counters of one series on one CPU.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrafficCounters {
    /// skbs seen (a GSO/GRO skb is one).
    pub packets: u64,
    /// Packets on the wire (a GSO skb counts its segments).
    pub wire_packets: u64,
    /// L4 payload bytes (what the applications sent or received).
    pub payload_bytes: u64,
    /// IP packet bytes on the wire: payload plus the IP and L4 headers of every segment.
    pub wire_bytes: u64,
}

/// A container's traffic settings, and how many service ports it uses.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrafficConf {
    /// Most distinct (protocol, port) series; the rest goes to the overflow series.
    pub max_ports: u32,
    /// First port of the ephemeral range: a local port below it is a service port.
    pub ephemeral_start: u32,
    /// Port slots claimed so far (at most `max_ports`).
    pub used_ports: u64,
}

/// A listening port of a container.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ListenKey {
    pub cgroup_id: u64,
    pub port: u16,
    pub proto: u8,
    pub _pad: [u8; 5],
}

/// One of a container's port slots, `0..max_ports`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortClaim {
    pub cgroup_id: u64,
    pub slot: u32,
    pub _pad: u32,
}

crate::user_pod!(
    TrafficKey,
    TrafficCounters,
    TrafficConf,
    ListenKey,
    PortClaim
);
