//! Traffic per direction, protocol and service port (eBPF cgroup_skb).

use super::{st, Collector, Family};
use crate::metrics::sample::Sample;

/// `ebrun_container_network_{bytes,payload_bytes,packets}_total`.
pub struct Network;

impl Collector for Network {
    fn collect(&self, sample: &Sample, emit: &mut dyn FnMut(Family)) {
        let mut bytes = Family::counter(
            "ebrun_container_network_bytes_total",
            "IP bytes (headers included) the container sent (egress) or received (ingress), per protocol and service port; port \"other\" sums the ports beyond the per-container bound and non-TCP/UDP traffic.",
        );
        let mut payload = Family::counter(
            "ebrun_container_network_payload_bytes_total",
            "TCP/UDP payload bytes, per direction, protocol and service port.",
        );
        let mut packets = Family::counter(
            "ebrun_container_network_packets_total",
            "Packets on the wire (a GSO packet counts as its segments), per direction, protocol and service port.",
        );
        for c in &sample.containers {
            let Some(series) = c.meters.as_ref().and_then(|m| m.traffic.as_ref()) else {
                continue;
            };
            for s in series {
                let port = s.port.map_or(st("other"), |p| p.to_string().into());
                let labels = [
                    ("direction", st(s.direction)),
                    ("protocol", st(s.protocol)),
                    ("port", port),
                ];
                bytes.add_container(&c.labels, &labels, s.wire_bytes as f64);
                payload.add_container(&c.labels, &labels, s.payload_bytes as f64);
                packets.add_container(&c.labels, &labels, s.wire_packets as f64);
            }
        }
        for f in [bytes, payload, packets] {
            super::emit_nonempty(emit, f);
        }
    }
}
