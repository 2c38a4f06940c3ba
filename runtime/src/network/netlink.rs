//! Links, addresses and routes through rtnetlink (ARCHITECTURE.md point 6).
//!
//! rtnetlink is async: every [`Netlink`] owns a tokio current_thread runtime that lives only as
//! long as the value, so no thread is left behind on the run path. A handle in a container's
//! network namespace is opened by entering that namespace on this thread just long enough to
//! create the socket (a netlink socket stays in the namespace it was created in).

use std::fs::File;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsFd;

use futures_util::TryStreamExt;
use rtnetlink::packet_route::address::{AddressAttribute, AddressFlags};
use rtnetlink::packet_route::link::{InfoData, InfoKind, InfoVeth, LinkAttribute};
pub use rtnetlink::packet_route::link::{IpVlanFlags, IpVlanMode, MacVlanMode};
use rtnetlink::packet_route::route::{RouteAddress, RouteAttribute, RouteScope, RouteType};
use rtnetlink::{Handle, LinkBridge, LinkMessageBuilder, LinkUnspec, RouteMessageBuilder};

use super::NetworkError;

/// Linux's interface name limit (IFNAMSIZ - 1).
pub const IFNAME_MAX: usize = 15;

/// Whether `name` can be an interface name.
pub fn valid_ifname(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= IFNAME_MAX
        && name != "."
        && name != ".."
        && !name.contains(['/', ':', '\0'])
        && !name.chars().any(char::is_whitespace)
}

fn nl_err(op: &'static str) -> impl FnOnce(rtnetlink::Error) -> NetworkError {
    move |e| NetworkError::Netlink {
        op,
        message: e.to_string(),
    }
}

/// The errno of a netlink error reply, if that is what `e` is.
fn errno(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(m) => Some(-m.raw_code()),
        _ => None,
    }
}

/// An address with its prefix length, as `ip addr` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IfAddr {
    pub addr: IpAddr,
    pub prefix_len: u8,
}

/// The container side of one veth: its name inside, address(es), routes, MTU and MAC.
#[derive(Debug, Clone)]
pub struct ContainerLink {
    pub name: String,
    pub mac: [u8; 6],
    pub mtu: u32,
    pub v4: Option<IfAddr>,
    pub v6: Option<IfAddr>,
    /// Default routes (none on an `--internal` network's second interface etc.).
    pub gateway_v4: Option<Ipv4Addr>,
    pub gateway_v6: Option<Ipv6Addr>,
    /// A default route through the interface itself, without a gateway (ipvlan l3).
    pub default_dev: bool,
}

/// A LAN child of a parent interface, for macvlan and ipvlan networks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LanKind {
    MacVlan(MacVlanMode),
    IpVlan(IpVlanMode, IpVlanFlags),
}

/// A tokio current_thread runtime and an rtnetlink handle in the caller's namespace.
pub struct Netlink {
    rt: tokio::runtime::Runtime,
    handle: Handle,
}

impl Netlink {
    /// Connects in the calling thread's network namespace.
    pub fn new() -> Result<Self, NetworkError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .map_err(|e| NetworkError::Io {
                op: "create the netlink runtime",
                source: e,
            })?;
        let handle = Self::connect(&rt)?;
        Ok(Netlink { rt, handle })
    }

    fn connect(rt: &tokio::runtime::Runtime) -> Result<Handle, NetworkError> {
        let _guard = rt.enter();
        let (conn, handle, _) = rtnetlink::new_connection().map_err(|e| NetworkError::Io {
            op: "open a netlink socket",
            source: e,
        })?;
        rt.spawn(conn);
        Ok(handle)
    }

    /// A handle in the network namespace of process `pid` (sharing this runtime).
    pub fn in_netns_of(&self, pid: i32) -> Result<Handle, NetworkError> {
        let io = |op| move |source| NetworkError::Io { op, source };
        let own = File::open("/proc/thread-self/ns/net").map_err(io("open own netns"))?;
        let target =
            File::open(format!("/proc/{pid}/ns/net")).map_err(io("open container netns"))?;
        nix::sched::setns(target.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).map_err(|e| {
            NetworkError::Io {
                op: "enter container netns",
                source: e.into(),
            }
        })?;
        let handle = Self::connect(&self.rt);
        nix::sched::setns(own.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)
            .expect("return to ebrun's own network namespace");
        handle
    }

    /// The index of the link `name`, if it exists.
    pub fn link_index(&self, name: &str) -> Result<Option<u32>, NetworkError> {
        link_index(&self.rt, &self.handle, name)
    }

    /// The addresses on link `index`.
    pub fn addresses(&self, index: u32) -> Result<Vec<IfAddr>, NetworkError> {
        let handle = self.handle.clone();
        self.rt.block_on(async move {
            let mut out = Vec::new();
            let mut s = handle
                .address()
                .get()
                .set_link_index_filter(index)
                .execute();
            while let Some(m) = s.try_next().await.map_err(nl_err("list addresses"))? {
                for a in &m.attributes {
                    if let AddressAttribute::Address(addr) = a {
                        out.push(IfAddr {
                            addr: *addr,
                            prefix_len: m.header.prefix_len,
                        });
                    }
                }
            }
            Ok(out)
        })
    }

    /// Destinations of the host's IPv4 and IPv6 routes (all tables), and its addresses, as
    /// networks: what a new subnet must not overlap.
    pub fn host_networks(&self) -> Result<Vec<ipnet::IpNet>, NetworkError> {
        let handle = self.handle.clone();
        self.rt.block_on(async move {
            let mut out = Vec::new();
            for msg in [
                RouteMessageBuilder::<Ipv4Addr>::new().build(),
                RouteMessageBuilder::<Ipv6Addr>::new().build(),
            ] {
                let mut s = handle.route().get(msg).execute();
                while let Some(r) = s.try_next().await.map_err(nl_err("list routes"))? {
                    let len = r.header.destination_prefix_length;
                    if len == 0
                        || r.header.kind != rtnetlink::packet_route::route::RouteType::Unicast
                    {
                        continue;
                    }
                    for a in &r.attributes {
                        if let RouteAttribute::Destination(d) = a {
                            let ip = match d {
                                RouteAddress::Inet(v4) => IpAddr::V4(*v4),
                                RouteAddress::Inet6(v6) => IpAddr::V6(*v6),
                                _ => continue,
                            };
                            if let Ok(n) = ipnet::IpNet::new(ip, len) {
                                out.push(n.trunc());
                            }
                        }
                    }
                }
            }
            let mut s = handle.address().get().execute();
            while let Some(m) = s.try_next().await.map_err(nl_err("list addresses"))? {
                for a in &m.attributes {
                    if let AddressAttribute::Address(addr) = a {
                        if let Ok(n) = ipnet::IpNet::new(*addr, m.header.prefix_len) {
                            out.push(n.trunc());
                        }
                    }
                }
            }
            Ok(out)
        })
    }

    /// Creates bridge `name` (up, with `addrs` and `mtu`) unless it exists; true if created.
    pub fn ensure_bridge(
        &self,
        name: &str,
        addrs: &[IfAddr],
        mtu: Option<u32>,
    ) -> Result<bool, NetworkError> {
        if let Some(index) = self.link_index(name)? {
            self.add_missing_addresses(index, addrs)?;
            return Ok(false);
        }
        let mut msg = LinkBridge::new(name).up();
        if let Some(mtu) = mtu {
            msg = msg.mtu(mtu);
        }
        self.add_link(msg.build(), "create bridge")?;
        let index = self
            .link_index(name)?
            .ok_or_else(|| NetworkError::Invalid(format!("bridge {name} vanished")))?;
        self.add_missing_addresses(index, addrs)?;
        if addrs.iter().any(|a| a.addr.is_ipv6()) {
            self.add_loopback6_route(index)?;
        }
        Ok(true)
    }

    /// `local ::1 dev <bridge> table local`, for ports published on `::1`: a container's reply
    /// to a connection from the host's `::1` arrives on the bridge with its destination turned
    /// back to `::1` by conntrack, and the route lookup of a loopback destination must match
    /// the incoming device. The firewall then hands such replies to `lo`, and only replies of
    /// connections from `::1` (see the firewall's `loopback6` chains). Goes with the bridge.
    /// Its metric is unique to the bridge (the kernel refuses a second `::1` route of the
    /// same metric), and above `lo`'s, so the host's own traffic keeps using `lo`.
    fn add_loopback6_route(&self, index: u32) -> Result<(), NetworkError> {
        let msg = RouteMessageBuilder::<Ipv6Addr>::new()
            .destination_prefix(Ipv6Addr::LOCALHOST, 128)
            .output_interface(index)
            .priority(1024u32.saturating_add(index))
            .table_id(u32::from(libc::RT_TABLE_LOCAL))
            .kind(RouteType::Local)
            .scope(RouteScope::Host)
            .build();
        let handle = self.handle.clone();
        self.rt.block_on(async move {
            match handle.route().add(msg).execute().await {
                Err(e) if errno(&e) == Some(libc::EEXIST) => Ok(()),
                r => r.map_err(nl_err("add the ::1 route of a bridge")),
            }
        })
    }

    fn add_missing_addresses(&self, index: u32, addrs: &[IfAddr]) -> Result<(), NetworkError> {
        let present = self.addresses(index)?;
        for a in addrs.iter().filter(|a| !present.contains(a)) {
            add_address(&self.rt, &self.handle, index, *a)?;
        }
        Ok(())
    }

    /// Deletes link `name` if it exists.
    pub fn delete_link(&self, name: &str) -> Result<(), NetworkError> {
        if name.is_empty() {
            return Ok(());
        }
        let Some(index) = self.link_index(name)? else {
            return Ok(());
        };
        let handle = self.handle.clone();
        self.rt.block_on(async move {
            match handle.link().del(index).execute().await {
                Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(()),
                r => r.map_err(nl_err("delete link")),
            }
        })
    }

    /// Creates a veth pair: `host_name` enslaved to bridge `bridge_index` and up, its peer
    /// created directly in the network namespace of `pid` as `link.name`. Then configures
    /// the peer (and `lo`) inside that namespace.
    pub fn add_container_link(
        &self,
        host_name: &str,
        bridge_index: u32,
        pid: i32,
        link: &ContainerLink,
    ) -> Result<(), NetworkError> {
        let peer = LinkMessageBuilder::<LinkUnspec>::new()
            .name(link.name.clone())
            .mtu(link.mtu)
            .address(link.mac.to_vec())
            .setns_by_pid(pid as u32)
            .build();
        let msg = LinkMessageBuilder::<rtnetlink::LinkVeth>::new_with_info_kind(InfoKind::Veth)
            .name(host_name.to_string())
            .mtu(link.mtu)
            .controller(bridge_index)
            .up()
            .set_info_data(InfoData::Veth(InfoVeth::Peer(peer)))
            .build();
        let handle = self.handle.clone();
        self.rt.block_on(async move {
            handle.link().add(msg).execute().await.map_err(|e| {
                if errno(&e) == Some(libc::EEXIST) {
                    NetworkError::Invalid(format!("interface {host_name} already exists"))
                } else {
                    nl_err("create veth pair")(e)
                }
            })
        })?;
        let inner = self.in_netns_of(pid)?;
        configure_inside(&self.rt, &inner, link)
    }

    /// Creates a macvlan or ipvlan child of link `parent_index` directly inside the network
    /// namespace of `pid` as `link.name` (it dies with the namespace), then configures it.
    pub fn add_lan_link(
        &self,
        parent_index: u32,
        kind: LanKind,
        pid: i32,
        link: &ContainerLink,
    ) -> Result<(), NetworkError> {
        let msg = match kind {
            LanKind::MacVlan(mode) => rtnetlink::LinkMacVlan::new(&link.name, parent_index, mode)
                .mtu(link.mtu)
                .address(link.mac.to_vec())
                .setns_by_pid(pid as u32)
                .build(),
            LanKind::IpVlan(mode, flags) => {
                rtnetlink::LinkIpVlan::new(&link.name, parent_index, mode)
                    .flag(flags)
                    .mtu(link.mtu)
                    .setns_by_pid(pid as u32)
                    .build()
            }
        };
        self.add_link(msg, "create macvlan/ipvlan link")?;
        let inner = self.in_netns_of(pid)?;
        configure_inside(&self.rt, &inner, link)
    }

    /// Deletes link `name` inside the network namespace of `pid` if it exists.
    pub fn delete_link_in(&self, pid: i32, name: &str) -> Result<(), NetworkError> {
        let inner = self.in_netns_of(pid)?;
        let Some(index) = link_index(&self.rt, &inner, name)? else {
            return Ok(());
        };
        self.rt.block_on(async move {
            match inner.link().del(index).execute().await {
                Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(()),
                r => r.map_err(nl_err("delete link")),
            }
        })
    }

    /// Creates 802.1q sub-interface `name` (VLAN `id` of link `parent_index`), up.
    pub fn add_vlan(&self, name: &str, parent_index: u32, id: u16) -> Result<(), NetworkError> {
        let msg = rtnetlink::LinkVlan::new(name, parent_index, id)
            .up()
            .build();
        self.add_link(msg, "create VLAN sub-interface")
    }

    /// Creates dummy link `name`, up (the parent of a macvlan/ipvlan network without one).
    pub fn add_dummy(&self, name: &str) -> Result<(), NetworkError> {
        let msg = rtnetlink::LinkDummy::new(name).up().build();
        self.add_link(msg, "create dummy link")
    }

    /// Adds the link `msg` describes; errors name the operation `op`.
    fn add_link(
        &self,
        msg: rtnetlink::packet_route::link::LinkMessage,
        op: &'static str,
    ) -> Result<(), NetworkError> {
        let handle = self.handle.clone();
        self.rt
            .block_on(async move { handle.link().add(msg).execute().await.map_err(nl_err(op)) })
    }

    /// Brings `lo` up inside the network namespace of `pid` (`--net none`).
    pub fn loopback_up(&self, pid: i32) -> Result<(), NetworkError> {
        let inner = self.in_netns_of(pid)?;
        set_up(&self.rt, &inner, 1)
    }

    /// The MTU of link `name`.
    pub fn mtu(&self, name: &str) -> Result<Option<u32>, NetworkError> {
        let handle = self.handle.clone();
        let name = name.to_string();
        self.rt.block_on(async move {
            let mut s = handle.link().get().match_name(name).execute();
            match s.try_next().await {
                Ok(Some(m)) => Ok(m.attributes.iter().find_map(|a| match a {
                    LinkAttribute::Mtu(m) => Some(*m),
                    _ => None,
                })),
                Ok(None) => Ok(None),
                Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(None),
                Err(e) => Err(nl_err("get link")(e)),
            }
        })
    }
}

fn link_index(
    rt: &tokio::runtime::Runtime,
    handle: &Handle,
    name: &str,
) -> Result<Option<u32>, NetworkError> {
    let handle = handle.clone();
    let name = name.to_string();
    rt.block_on(async move {
        let mut s = handle.link().get().match_name(name).execute();
        match s.try_next().await {
            Ok(m) => Ok(m.map(|m| m.header.index)),
            Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(None),
            Err(e) => Err(nl_err("get link")(e)),
        }
    })
}

fn add_address(
    rt: &tokio::runtime::Runtime,
    handle: &Handle,
    index: u32,
    a: IfAddr,
) -> Result<(), NetworkError> {
    let mut req = handle.address().add(index, a.addr, a.prefix_len);
    if a.addr.is_ipv6() {
        // Duplicate address detection only delays the first packets on a private bridge.
        req.message_mut()
            .attributes
            .push(AddressAttribute::Flags(AddressFlags::Nodad));
    }
    rt.block_on(async move {
        match req.execute().await {
            Err(e) if errno(&e) == Some(libc::EEXIST) => Ok(()),
            r => r.map_err(nl_err("add address")),
        }
    })
}

fn set_up(rt: &tokio::runtime::Runtime, handle: &Handle, index: u32) -> Result<(), NetworkError> {
    let handle = handle.clone();
    rt.block_on(async move {
        handle
            .link()
            .set(LinkUnspec::new_with_index(index).up().build())
            .execute()
            .await
            .map_err(nl_err("set link up"))
    })
}

fn configure_inside(
    rt: &tokio::runtime::Runtime,
    inner: &Handle,
    link: &ContainerLink,
) -> Result<(), NetworkError> {
    set_up(rt, inner, 1)?;
    let index = link_index(rt, inner, &link.name)?
        .ok_or_else(|| NetworkError::Invalid(format!("{} missing in the container", link.name)))?;
    for a in [link.v4, link.v6].into_iter().flatten() {
        add_address(rt, inner, index, a)?;
    }
    set_up(rt, inner, index)?;
    let mut routes = Vec::new();
    if let Some(gw) = link.gateway_v4 {
        routes.push(
            RouteMessageBuilder::<Ipv4Addr>::new()
                .output_interface(index)
                .gateway(gw)
                .build(),
        );
    }
    if let Some(gw) = link.gateway_v6 {
        let mut b = RouteMessageBuilder::<Ipv6Addr>::new().output_interface(index);
        b.get_mut()
            .attributes
            .push(RouteAttribute::Gateway(RouteAddress::Inet6(gw)));
        routes.push(b.build());
    }
    if link.default_dev && link.gateway_v4.is_none() {
        routes.push(
            RouteMessageBuilder::<Ipv4Addr>::new()
                .output_interface(index)
                .scope(RouteScope::Link)
                .build(),
        );
    }
    let handle = inner.clone();
    rt.block_on(async move {
        for r in routes {
            match handle.route().add(r).execute().await {
                Err(e) if errno(&e) == Some(libc::EEXIST) => {}
                r => r.map_err(nl_err("add default route"))?,
            }
        }
        Ok(())
    })
}
