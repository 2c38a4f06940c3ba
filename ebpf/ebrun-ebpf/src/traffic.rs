//! Traffic per service port: cgroup_skb ingress and egress programs, attached to each
//! container's cgroup2 dir (the link is made at start and pinned per container).
//!
//! `skb->data` starts at the IP header; the headers are read in place when the skb's linear
//! data holds them (nearly always), else copied out. The service port is the local port when the local
//! side is a server (the port is below the ephemeral range, or the container accepted a TCP
//! connection on it), else the remote port; so a web server counts under :80 and a client
//! under :443, never under thousands of ephemeral ports. A container has at most its
//! configured number of (protocol, port) series; traffic of further ports is summed in its
//! overflow series. A GSO skb counts its segments as wire packets and their headers as wire
//! bytes.

use aya_ebpf::{
    bindings::BPF_NOEXIST,
    helpers::bpf_skb_cgroup_id,
    macros::{cgroup_skb, map},
    maps::{HashMap, PerCpuHashMap},
    programs::SkBuffContext,
};
use ebrun_common::traffic::{
    ListenKey, PortClaim, TrafficConf, TrafficCounters, TrafficKey, DIR_EGRESS, DIR_INGRESS,
    MAX_LISTEN_PORTS, MAX_TRAFFIC_SERIES, PROTO_OTHER, PROTO_TCP, PROTO_UDP,
};
use ebrun_common::MAX_CGROUPS;

use crate::atomic;

#[map(name = "TRAFFIC")]
static TRAFFIC: PerCpuHashMap<TrafficKey, TrafficCounters> =
    PerCpuHashMap::with_max_entries(MAX_TRAFFIC_SERIES, 0);

#[map(name = "TRAFFIC_CONF")]
static TRAFFIC_CONF: HashMap<u64, TrafficConf> = HashMap::with_max_entries(MAX_CGROUPS, 0);

#[map(name = "PORT_CLAIMS")]
static PORT_CLAIMS: HashMap<PortClaim, u64> = HashMap::with_max_entries(MAX_TRAFFIC_SERIES, 0);

#[map(name = "LISTEN_PORTS")]
static LISTEN_PORTS: HashMap<ListenKey, u64> = HashMap::with_max_entries(MAX_LISTEN_PORTS, 0);

const TCP_FLAG_SYN: u8 = 0x02;
const TCP_FLAG_ACK: u8 = 0x10;

#[cgroup_skb(ingress)]
pub fn traffic_ingress(ctx: SkBuffContext) -> i32 {
    count(&ctx, DIR_INGRESS);
    1
}

#[cgroup_skb(egress)]
pub fn traffic_egress(ctx: SkBuffContext) -> i32 {
    count(&ctx, DIR_EGRESS);
    1
}

/// What the headers say about one skb.
struct Packet {
    proto: u8,
    local_port: u16,
    remote_port: u16,
    /// IP plus L4 header bytes of each segment.
    headers: u32,
    tcp_flags: u8,
}

/// The headers from the skb's linear data (direct packet access: no helper call), or `None`
/// if they are not all there (then [`parse_copied`] copies them out).
#[inline(always)]
fn parse_direct(ctx: &SkBuffContext, direction: u8) -> Option<Option<Packet>> {
    // SAFETY: the program's own context; the verifier checks every read below against
    // `data_end`.
    let (data, end) = unsafe {
        (
            (*ctx.skb.skb).data as usize,
            (*ctx.skb.skb).data_end as usize,
        )
    };
    if data + 40 > end {
        return None;
    }
    // SAFETY: within [data, data + 40), checked above.
    let first = unsafe { *(data as *const u8) };
    let (l4, ip_header) = match first >> 4 {
        // SAFETY: as above.
        4 => (unsafe { *((data + 9) as *const u8) }, usize::from(first & 0x0f) * 4),
        // SAFETY: as above.
        6 => (unsafe { *((data + 6) as *const u8) }, 40),
        _ => return Some(None),
    };
    let l4_start = data + ip_header;
    if l4_start + 14 > end {
        return None;
    }
    // SAFETY: within [l4_start, l4_start + 14), checked above.
    let (ports, offset, tcp_flags) = unsafe {
        (
            *(l4_start as *const [u16; 2]),
            *((l4_start + 12) as *const u8),
            *((l4_start + 13) as *const u8),
        )
    };
    Some(Some(packet(l4, ip_header as u32, ports, offset, tcp_flags, direction)))
}

/// The headers copied out with bpf_skb_load_bytes (short packets, headers outside the
/// linear data).
#[inline(always)]
fn parse_copied(ctx: &SkBuffContext, direction: u8) -> Option<Packet> {
    let first: u8 = ctx.load(0).ok()?;
    let (l4, ip_header) = match first >> 4 {
        4 => (ctx.load::<u8>(9).ok()?, u32::from(first & 0x0f) * 4),
        6 => (ctx.load::<u8>(6).ok()?, 40),
        _ => return None,
    };
    let (offset, tcp_flags) = if l4 == PROTO_TCP {
        (
            ctx.load::<u8>(ip_header as usize + 12).ok()?,
            ctx.load::<u8>(ip_header as usize + 13).ok()?,
        )
    } else {
        (0, 0)
    };
    let ports: [u16; 2] = if l4 == PROTO_TCP || l4 == PROTO_UDP {
        ctx.load(ip_header as usize).ok()?
    } else {
        [0, 0]
    };
    Some(packet(l4, ip_header, ports, offset, tcp_flags, direction))
}

/// What the headers say: `l4` the IP protocol, `ip_header` its length, then the first four
/// bytes of the L4 header as ports and TCP's data offset and flags bytes (read whatever the
/// protocol; only TCP and UDP use them).
#[inline(always)]
fn packet(l4: u8, ip_header: u32, ports: [u16; 2], offset: u8, flags: u8, direction: u8) -> Packet {
    let mut packet = Packet {
        proto: PROTO_OTHER,
        local_port: 0,
        remote_port: 0,
        headers: ip_header,
        tcp_flags: 0,
    };
    let l4_header = match l4 {
        PROTO_TCP => {
            packet.tcp_flags = flags;
            u32::from(offset >> 4) * 4
        }
        PROTO_UDP => 8,
        _ => return packet,
    };
    let (source, dest) = (u16::from_be(ports[0]), u16::from_be(ports[1]));
    packet.proto = l4;
    packet.headers += l4_header;
    (packet.local_port, packet.remote_port) = if direction == DIR_EGRESS {
        (source, dest)
    } else {
        (dest, source)
    };
    packet
}

#[inline(always)]
fn count(ctx: &SkBuffContext, direction: u8) {
    // SAFETY: the program's own context pointer.
    let cgroup_id = unsafe { bpf_skb_cgroup_id(ctx.skb.skb) };
    let Some(conf) = TRAFFIC_CONF.get_ptr_mut(cgroup_id) else {
        return;
    };
    let parsed = match parse_direct(ctx, direction) {
        Some(p) => p,
        None => parse_copied(ctx, direction),
    };
    let Some(packet) = parsed else {
        return;
    };
    let len = ctx.len();
    // SAFETY: the program's own context.
    let segments = unsafe { (*ctx.skb.skb).gso_segs }.max(1);
    let counters = match series(cgroup_id, conf, &packet, direction) {
        Series::Known(c) => c,
        Series::New(key) => {
            let _ = TRAFFIC.insert(key, TrafficCounters::default(), u64::from(BPF_NOEXIST));
            match TRAFFIC.get_ptr_mut(key) {
                Some(c) => c,
                None => return,
            }
        }
    };
    let payload = u64::from(len.saturating_sub(packet.headers));
    // SAFETY: this CPU's slot of a live per-CPU hash entry.
    unsafe {
        (*counters).packets += 1;
        (*counters).wire_packets += u64::from(segments);
        (*counters).payload_bytes += payload;
        (*counters).wire_bytes += payload + u64::from(segments) * u64::from(packet.headers);
    }
}

/// The series a packet counts in.
enum Series {
    /// An existing series: this CPU's counters.
    Known(*mut TrafficCounters),
    /// A series to create (its port's, or the overflow series).
    New(TrafficKey),
}

/// The series this packet counts in: its service port's, or the overflow series.
#[inline(always)]
fn series(cgroup_id: u64, conf: *mut TrafficConf, packet: &Packet, direction: u8) -> Series {
    let mut key = TrafficKey {
        cgroup_id,
        port: 0,
        proto: packet.proto,
        direction,
        overflow: 0,
        _pad: [0; 3],
    };
    if packet.proto == PROTO_OTHER {
        return found_or_new(key);
    }
    let listen = ListenKey {
        cgroup_id,
        port: packet.local_port,
        proto: packet.proto,
        _pad: [0; 5],
    };
    if packet.proto == PROTO_TCP
        && direction == DIR_INGRESS
        && packet.tcp_flags & (TCP_FLAG_SYN | TCP_FLAG_ACK) == TCP_FLAG_SYN
    {
        let _ = LISTEN_PORTS.insert(listen, 1, 0);
    }
    // SAFETY: a live hash entry; `ephemeral_start` is written only at registration.
    let ephemeral_start = unsafe { (*conf).ephemeral_start };
    let local_is_service =
        u32::from(packet.local_port) < ephemeral_start || LISTEN_PORTS.get_ptr(listen).is_some();
    key.port = if local_is_service {
        packet.local_port
    } else {
        packet.remote_port
    };
    if let Some(c) = TRAFFIC.get_ptr_mut(key) {
        return Series::Known(c);
    }
    // A new series: the other direction of a port already counted costs nothing more.
    let mut other_way = key;
    other_way.direction = if direction == DIR_EGRESS {
        DIR_INGRESS
    } else {
        DIR_EGRESS
    };
    if TRAFFIC.get_ptr(other_way).is_some() || claim_port_slot(cgroup_id, conf, key) {
        return Series::New(key);
    }
    key.port = 0;
    key.overflow = 1;
    found_or_new(key)
}

#[inline(always)]
fn found_or_new(key: TrafficKey) -> Series {
    match TRAFFIC.get_ptr_mut(key) {
        Some(c) => Series::Known(c),
        None => Series::New(key),
    }
}

/// Claims the container's next free port slot for `key`'s port. Two CPUs racing for one slot
/// cannot both insert it, so the number of series never exceeds `max_ports`.
#[inline(always)]
fn claim_port_slot(cgroup_id: u64, conf: *mut TrafficConf, key: TrafficKey) -> bool {
    let value = (u64::from(key.proto) << 16) | u64::from(key.port);
    for _ in 0..2 {
        // SAFETY: a live hash entry; `used_ports` changes only by atomic adds.
        let (used, max) = unsafe {
            (
                core::ptr::read_volatile(&(*conf).used_ports),
                u64::from((*conf).max_ports),
            )
        };
        if used >= max {
            return false;
        }
        let claim = PortClaim {
            cgroup_id,
            slot: used as u32,
            _pad: 0,
        };
        if PORT_CLAIMS
            .insert(claim, value, u64::from(BPF_NOEXIST))
            .is_ok()
        {
            // SAFETY: as above.
            unsafe { atomic::add(&mut (*conf).used_ports, 1) };
            return true;
        }
    }
    false
}
