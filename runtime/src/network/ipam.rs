//! Address management: free subnets for new networks (Docker's default address pools) and
//! free addresses inside a network. Callers hold the instance's network lock, and the
//! host-wide lock when choosing subnets, so parallel ebrun processes never hand out the same.

use std::collections::HashSet;
use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use super::store::NetworkRecord;

/// Docker's default pools: 172.17-31.0.0/16, then 192.168.0.0/16 cut into /20s.
pub fn default_pools() -> Vec<Ipv4Net> {
    let mut pools: Vec<Ipv4Net> = (17..=31)
        .map(|b| Ipv4Net::new(Ipv4Addr::new(172, b, 0, 0), 16).expect("valid /16"))
        .collect();
    pools.extend(
        (0..16).map(|i| Ipv4Net::new(Ipv4Addr::new(192, 168, i * 16, 0), 20).expect("valid /20")),
    );
    pools
}

fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// Whether `net` overlaps any of `taken`.
pub fn overlaps_any(net: IpNet, taken: &[IpNet]) -> bool {
    taken.iter().any(|t| overlaps(&net, t))
}

/// The first pool not overlapping `taken` (host routes, addresses, other networks).
pub fn pick_subnet(taken: &[IpNet]) -> Option<Ipv4Net> {
    default_pools()
        .into_iter()
        .find(|p| !overlaps_any(IpNet::V4(*p), taken))
}

/// A unique-local /64 for a network created with `--ipv6` but no IPv6 subnet.
pub fn pick_subnet_v6(network_id: &str, taken: &[IpNet]) -> Option<Ipv6Net> {
    let seed = u64::from_str_radix(network_id.get(..10).unwrap_or("0"), 16).unwrap_or(0);
    (0..64u64).find_map(|i| {
        let v = seed.wrapping_add(i);
        let addr = Ipv6Addr::new(
            0xfd00 | ((v >> 32) & 0xff) as u16,
            (v >> 16) as u16,
            v as u16,
            0,
            0,
            0,
            0,
            0,
        );
        let net = Ipv6Net::new(addr, 64).ok()?;
        (!overlaps_any(IpNet::V6(net), taken)).then_some(net)
    })
}

/// The first free IPv4 address of `net` (its ip-range if set), skipping the network and
/// broadcast addresses, the gateway and `used`.
pub fn next_free_v4(net: &NetworkRecord, used: &HashSet<Ipv4Addr>) -> Option<Ipv4Addr> {
    let subnet = net.subnet?;
    let range = net.ip_range.unwrap_or(subnet);
    let (lo, hi) = (u32::from(range.network()), u32::from(range.broadcast()));
    (lo..=hi).map(Ipv4Addr::from).find(|a| {
        *a != subnet.network()
            && *a != subnet.broadcast()
            && Some(*a) != net.gateway
            && !used.contains(a)
    })
}

/// The first free IPv6 address of `net`'s IPv6 subnet after the gateway.
pub fn next_free_v6(net: &NetworkRecord, used: &HashSet<Ipv6Addr>) -> Option<Ipv6Addr> {
    let subnet = net.subnet_v6?;
    let base = u128::from(subnet.network());
    let size = if subnet.prefix_len() >= 128 {
        1
    } else {
        1u128 << (128 - subnet.prefix_len())
    };
    (1..size.min(1 << 20))
        .map(|i| Ipv6Addr::from(base + i))
        .find(|a| Some(*a) != net.gateway_v6 && !used.contains(a))
}

/// Docker's MAC for an IPv4 address: 02:42 followed by the address.
pub fn mac_for(ip: Option<Ipv4Addr>) -> [u8; 6] {
    match ip {
        Some(ip) => {
            let o = ip.octets();
            [0x02, 0x42, o[0], o[1], o[2], o[3]]
        }
        None => {
            let mut b = [0u8; 6];
            let id = super::store::new_id();
            for (i, byte) in b.iter_mut().enumerate() {
                *byte = u8::from_str_radix(&id[i * 2..i * 2 + 2], 16).unwrap_or(0);
            }
            b[0] = (b[0] & 0xfe) | 0x02;
            b
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pools_skip_taken() {
        let taken: Vec<IpNet> = vec![
            "172.17.0.0/16".parse().unwrap(),
            "172.18.5.0/24".parse().unwrap(),
        ];
        assert_eq!(pick_subnet(&taken).unwrap().to_string(), "172.19.0.0/16");
    }

    #[test]
    fn first_free_address_after_gateway() {
        let mut n: NetworkRecord = serde_json::from_value(serde_json::json!({
            "id": "x", "name": "n", "driver": "bridge", "created": "",
            "subnet": "10.5.0.0/24", "gateway": "10.5.0.1"
        }))
        .unwrap();
        let mut used = HashSet::new();
        assert_eq!(next_free_v4(&n, &used), Some(Ipv4Addr::new(10, 5, 0, 2)));
        used.insert(Ipv4Addr::new(10, 5, 0, 2));
        assert_eq!(next_free_v4(&n, &used), Some(Ipv4Addr::new(10, 5, 0, 3)));
        n.ip_range = Some("10.5.0.128/25".parse().unwrap());
        assert_eq!(next_free_v4(&n, &used), Some(Ipv4Addr::new(10, 5, 0, 128)));
        assert_eq!(
            mac_for(Some(Ipv4Addr::new(172, 17, 0, 2))),
            [2, 0x42, 172, 17, 0, 2]
        );
    }
}
