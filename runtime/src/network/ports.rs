//! Choosing host ports: the `-p`/`-P` requests resolved against the ports other containers
//! of this instance hold and against sockets bound on the host (a port in use is refused
//! before anything is created, with Docker's message).

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, UdpSocket};

use super::endpoints::host_ips_conflict;
use super::spec::{NetworkSpec, PortMapping, PortProto, Proto};
use super::{NetworkError, PublishedPort};

/// Whether a socket can be bound to `ip:port` now (nobody on the host holds it).
fn bindable(ip: Option<IpAddr>, port: u16, proto: Proto) -> bool {
    let ip = ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let addr = SocketAddr::new(ip, port);
    match proto {
        Proto::Tcp => TcpListener::bind(addr).is_ok(),
        Proto::Udp => UdpSocket::bind(addr).is_ok(),
        Proto::Sctp => sctp_bindable(addr),
    }
}

/// Whether an SCTP socket can be bound to `addr`. A kernel without SCTP sockets has no
/// program holding the port: free.
fn sctp_bindable(addr: SocketAddr) -> bool {
    use nix::sys::socket::{socket, AddressFamily, SockFlag, SockProtocol, SockType};
    use std::os::fd::AsRawFd;
    let family = if addr.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    };
    let Ok(fd) = socket(
        family,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::Sctp,
    ) else {
        return true;
    };
    let rc = match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from(*a.ip()).to_be(),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: bind(2) on a socket this function owns, with a sockaddr_in that lives
            // for the call and its exact size.
            unsafe {
                libc::bind(
                    fd.as_raw_fd(),
                    std::ptr::from_ref(&sin).cast(),
                    std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
                )
            }
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: 0,
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: as above, with a sockaddr_in6.
            unsafe {
                libc::bind(
                    fd.as_raw_fd(),
                    std::ptr::from_ref(&sin6).cast(),
                    std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
                )
            }
        }
    };
    rc == 0
}

/// Published SCTP ports are DNATed by the kernel's SCTP connection tracking; without it
/// (`CONFIG_NF_CT_PROTO_SCTP`), their rules would match but never translate correctly.
fn check_sctp_support() -> Result<(), NetworkError> {
    let netfilter = std::path::Path::new("/proc/sys/net/netfilter");
    let conntrack_loaded = netfilter
        .join("nf_conntrack_tcp_timeout_established")
        .exists();
    if conntrack_loaded
        && !netfilter
            .join("nf_conntrack_sctp_timeout_established")
            .exists()
    {
        return Err(NetworkError::Invalid(
            "cannot publish an SCTP port: this kernel has no SCTP connection tracking \
             (CONFIG_NF_CT_PROTO_SCTP), which NAT of SCTP needs; allowed on this host: tcp, udp"
                .into(),
        ));
    }
    Ok(())
}

fn held(used: &[PublishedPort], ip: Option<IpAddr>, port: u16, proto: Proto) -> bool {
    used.iter()
        .any(|u| u.host_port == port && u.proto == proto && host_ips_conflict(Some(u.host_ip), ip))
}

fn in_use(used: &[PublishedPort], ip: Option<IpAddr>, port: u16, proto: Proto) -> bool {
    held(used, ip, port, proto) || !bindable(ip, port, proto)
}

/// The ports `-P` publishes: the image's and `--expose`'s, sorted.
pub fn exposed(spec: &NetworkSpec, image_exposed: &[PortProto]) -> Vec<PortProto> {
    let set: BTreeSet<PortProto> = image_exposed
        .iter()
        .chain(spec.expose.iter())
        .copied()
        .collect();
    set.into_iter().collect()
}

/// The kernel's ephemeral port range (Docker allocates published ports from it).
fn ephemeral_range() -> (u16, u16) {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            let mut it = s.split_whitespace().map(|p| p.parse::<u16>().ok());
            Some((it.next()??, it.next()??))
        })
        .unwrap_or((32768, 60999))
}

/// `Bind for IP:PORT failed: port is already allocated` (Docker's wording).
fn allocated(ip: Option<IpAddr>, port: u16) -> NetworkError {
    let ip = ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    NetworkError::PortInUse(format!(
        "Bind for {}:{port} failed: port is already allocated",
        fmt_ip(ip)
    ))
}

fn fmt_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V6(v6) => format!("[{v6}]"),
        v4 => v4.to_string(),
    }
}

/// Resolves every requested mapping to a concrete host port. `default_ip` is daemon.json's
/// `ip`; `used` the ports other containers hold. The result has one entry per mapping, with
/// `host_ip` unspecified (`0.0.0.0`) when no address was asked for.
pub fn resolve(
    spec: &NetworkSpec,
    image_exposed: &[PortProto],
    default_ip: Option<IpAddr>,
    used: &[PublishedPort],
) -> Result<Vec<PublishedPort>, NetworkError> {
    let mut wanted: Vec<PortMapping> = spec.publish.clone();
    if spec.publish_all {
        for p in exposed(spec, image_exposed) {
            if !wanted
                .iter()
                .any(|w| w.container_port == p.port && w.proto == p.proto)
            {
                wanted.push(PortMapping {
                    host_ip: None,
                    host_ports: None,
                    container_port: p.port,
                    proto: p.proto,
                });
            }
        }
    }
    let mut taken: Vec<PublishedPort> = used.to_vec();
    let mut out = Vec::new();
    for m in wanted {
        let ip = m.host_ip.or(default_ip);
        if m.proto == Proto::Sctp {
            check_sctp_support()?;
        }
        let port = match m.host_ports {
            Some((lo, hi)) if lo == hi => {
                if in_use(&taken, ip, lo, m.proto) {
                    return Err(allocated(ip, lo));
                }
                lo
            }
            Some((lo, hi)) => (lo..=hi)
                .find(|p| !in_use(&taken, ip, *p, m.proto))
                .ok_or_else(|| allocated(ip, lo))?,
            None => {
                let (lo, hi) = ephemeral_range();
                (lo..=hi)
                    .find(|p| !in_use(&taken, ip, *p, m.proto))
                    .ok_or_else(|| NetworkError::PortInUse("no free host port left".into()))?
            }
        };
        let p = PublishedPort {
            host_ip: ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            host_port: port,
            container_port: m.container_port,
            proto: m.proto,
        };
        taken.push(p.clone());
        out.push(p);
    }
    Ok(out)
}

/// Checks the fixed host ports of `spec` (before anything is created).
pub fn check_fixed(
    spec: &NetworkSpec,
    default_ip: Option<IpAddr>,
    used: &[PublishedPort],
) -> Result<(), NetworkError> {
    let fixed = NetworkSpec {
        publish: spec
            .publish
            .iter()
            .filter(|m| m.host_ports.is_some())
            .cloned()
            .collect(),
        ..Default::default()
    };
    resolve(&fixed, &[], default_ip, used).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_held_by_a_socket_is_refused() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let spec = NetworkSpec {
            publish: PortMapping::parse(&format!("127.0.0.1:{port}:80")).unwrap(),
            ..Default::default()
        };
        let e = check_fixed(&spec, None, &[]).unwrap_err().to_string();
        assert!(e.contains("port is already allocated"), "{e}");
    }

    #[test]
    fn port_held_by_another_container_is_refused() {
        let used = vec![PublishedPort {
            host_ip: "0.0.0.0".parse().unwrap(),
            host_port: 40999,
            container_port: 80,
            proto: Proto::Tcp,
        }];
        let spec = NetworkSpec {
            publish: PortMapping::parse("40999:80").unwrap(),
            ..Default::default()
        };
        assert!(check_fixed(&spec, None, &used).is_err());
        let udp = NetworkSpec {
            publish: PortMapping::parse("40999:80/udp").unwrap(),
            ..Default::default()
        };
        assert!(check_fixed(&udp, None, &used).is_ok());
    }
}
