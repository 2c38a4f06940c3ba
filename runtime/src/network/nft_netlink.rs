//! A container's published-port (DNAT) rules added and deleted over netlink, in this
//! process, with rustables: no `nft` process per `run -p` and per removal. Starting nft
//! (its libraries, its cache of the host's whole ruleset) cost more than the rest of the
//! container's network set-up together. The table, its chains and the network-wide rules
//! still go through `nft -j` (firewall.rs): they change rarely.
//!
//! A deletion commits at once, but the kernel frees the deleted rules after an RCU grace
//! period, and the last close of a netfilter netlink socket waits for that (10-20 ms here).
//! [`delete_rules`] hands its socket's last reference to a child that only exits, so the
//! caller does not wait for the kernel's clean-up.

use std::net::IpAddr;
use std::os::fd::{AsRawFd, OwnedFd};

use nix::sys::socket::{self, AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol};
use rustables::expr::{
    Cmp, CmpOp, HighLevelPayload, IPv4HeaderField, IPv6HeaderField, Immediate, Meta, MetaType, Nat,
    NatType, NetworkHeaderField, Payload, Register,
};
use rustables::{list_rules_for_chain, Batch, Chain, MsgType, ProtocolFamily, Rule, Table};

use super::firewall::Dnat;
use super::spec::Proto;
use super::NetworkError;

fn error(what: &str, e: impl std::fmt::Display) -> NetworkError {
    NetworkError::Firewall(format!("{what}: {e}"))
}

fn chain(table: &str, chain: &str) -> Chain {
    Chain::new(&Table::new(ProtocolFamily::Inet).with_name(table)).with_name(chain)
}

/// The rule's comment as nft stores it (a NFTNL_UDATA_RULE_COMMENT attribute), so that
/// `nft list` shows `comment "<owner>"`.
fn comment(owner: &str) -> Vec<u8> {
    let text = owner.as_bytes();
    let mut data = Vec::with_capacity(text.len() + 3);
    data.push(0); // NFTNL_UDATA_RULE_COMMENT
    data.push(u8::try_from(text.len() + 1).unwrap_or(u8::MAX));
    data.extend_from_slice(text);
    data.push(0);
    data
}

fn ip_protocol(proto: Proto) -> u8 {
    (match proto {
        Proto::Tcp => libc::IPPROTO_TCP,
        Proto::Udp => libc::IPPROTO_UDP,
        Proto::Sctp => libc::IPPROTO_SCTP,
    }) as u8
}

fn addr_bytes(ip: &IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

/// The same expressions nft makes of `meta nfproto ipv4 [ip daddr X] tcp dport H dnat ip
/// to A:P` (see `nft --debug=netlink`).
fn dnat_rule(chain: &Chain, r: &Dnat, owner: &str) -> Result<Rule, NetworkError> {
    let v4 = r.to.is_ipv4();
    let mut rule = Rule::new(chain)
        .map_err(|e| error("build rule", e))?
        .with_userdata(comment(owner));
    rule.add_expr(Meta::new(MetaType::NfProto));
    rule.add_expr(Cmp::new(
        CmpOp::Eq,
        [if v4 {
            libc::NFPROTO_IPV4
        } else {
            libc::NFPROTO_IPV6
        } as u8],
    ));
    if let Some(ip) = r.host_ip {
        let field = match ip {
            IpAddr::V4(_) => NetworkHeaderField::IPv4(IPv4HeaderField::Daddr),
            IpAddr::V6(_) => NetworkHeaderField::IPv6(IPv6HeaderField::Daddr),
        };
        rule.add_expr(HighLevelPayload::Network(field).build());
        rule.add_expr(Cmp::new(CmpOp::Eq, addr_bytes(&ip)));
    }
    rule.add_expr(Meta::new(MetaType::L4Proto));
    rule.add_expr(Cmp::new(CmpOp::Eq, [ip_protocol(r.proto)]));
    // The destination port sits at offset 2 of the TCP, UDP and SCTP headers alike.
    rule.add_expr(
        Payload::default()
            .with_dreg(Register::Reg1)
            .with_base(rustables::sys::NFT_PAYLOAD_TRANSPORT_HEADER)
            .with_offset(2u32)
            .with_len(2u32),
    );
    rule.add_expr(Cmp::new(CmpOp::Eq, r.host_port.to_be_bytes()));
    rule.add_expr(Immediate::new_data(addr_bytes(&r.to), Register::Reg1));
    rule.add_expr(Immediate::new_data(
        r.to_port.to_be_bytes().to_vec(),
        Register::Reg2,
    ));
    rule.add_expr(
        Nat::default()
            .with_nat_type(NatType::DNat)
            .with_family(if v4 {
                ProtocolFamily::Ipv4
            } else {
                ProtocolFamily::Ipv6
            })
            .with_ip_register(Register::Reg1)
            .with_port_register(Register::Reg2),
    );
    Ok(rule)
}

/// A bound NETLINK_NETFILTER socket.
fn open_socket() -> Result<OwnedFd, NetworkError> {
    let sock = socket::socket(
        AddressFamily::Netlink,
        socket::SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkNetFilter,
    )
    .map_err(|e| error("open a netfilter netlink socket", e))?;
    socket::bind(sock.as_raw_fd(), &NetlinkAddr::new(0, 0))
        .map_err(|e| error("bind a netfilter netlink socket", e))?;
    Ok(sock)
}

/// Sends a finished batch and reads the kernel's answers until every message with an ACK
/// request is acknowledged; the first error is returned.
fn send_batch(sock: &OwnedFd, bytes: &[u8], messages: u32) -> Result<(), NetworkError> {
    let mut sent = 0;
    while sent < bytes.len() {
        sent += socket::send(sock.as_raw_fd(), &bytes[sent..], MsgFlags::empty())
            .map_err(|e| error("send to nf_tables", e))?;
    }
    // rustables asks for an ACK of the batch's begin message and of every object message;
    // the batch end gets none.
    let mut acks = 0u32;
    let mut buf = vec![0u8; 16384];
    while acks < messages {
        let n = socket::recv(sock.as_raw_fd(), &mut buf, MsgFlags::empty())
            .map_err(|e| error("read from nf_tables", e))?;
        let mut at = 0;
        while at + 16 <= n {
            let len = u32::from_ne_bytes(buf[at..at + 4].try_into().expect("4 bytes")) as usize;
            let kind = u16::from_ne_bytes(buf[at + 4..at + 6].try_into().expect("2 bytes"));
            if len < 16 || at + len > n {
                break;
            }
            if kind == libc::NLMSG_ERROR as u16 && len >= 20 {
                let code = i32::from_ne_bytes(buf[at + 16..at + 20].try_into().expect("4 bytes"));
                if code != 0 {
                    return Err(NetworkError::Firewall(format!(
                        "nf_tables: {}",
                        std::io::Error::from_raw_os_error(-code)
                    )));
                }
                acks += 1;
            }
            at += (len + 3) & !3;
        }
    }
    Ok(())
}

/// Adds one DNAT rule per entry to `chain` of the inet table `table`, marked with `owner`
/// (the container id); returns the handles of the owner's rules.
pub fn add_dnat(
    table: &str,
    chain_name: &str,
    rules: &[Dnat],
    owner: &str,
) -> Result<Vec<u64>, NetworkError> {
    if rules.is_empty() {
        return Ok(Vec::new());
    }
    let chain = chain(table, chain_name);
    let mut batch = Batch::new();
    for r in rules {
        batch.add(&dnat_rule(&chain, r, owner)?, MsgType::Add);
    }
    let sock = open_socket()?;
    send_batch(&sock, &batch.finalize(), rules.len() as u32 + 1)?;
    drop(sock);
    let mine = comment(owner);
    let handles: Vec<u64> = list_rules(&chain)?
        .iter()
        .filter(|rule| rule.get_userdata() == Some(&mine))
        .filter_map(|rule| rule.get_handle().copied())
        .collect();
    if handles.len() < rules.len() {
        return Err(NetworkError::Firewall(format!(
            "nf_tables lists {} rules of {owner} after adding {}",
            handles.len(),
            rules.len()
        )));
    }
    Ok(handles)
}

/// The rules of `chain`. A dump that another process's ruleset change interrupts (seen when
/// containers start in parallel) fails to decode; it is read again, a few times.
fn list_rules(chain: &Chain) -> Result<Vec<Rule>, NetworkError> {
    let mut attempt = 0;
    loop {
        match list_rules_for_chain(chain) {
            Ok(rules) => return Ok(rules),
            Err(e) if attempt < 4 => {
                attempt += 1;
                tracing::debug!(error = ?e, attempt, "nf_tables rule dump failed; reading it again");
                std::thread::sleep(std::time::Duration::from_millis(attempt * 2));
            }
            Err(e) => {
                return Err(error(
                    "list the published-port rules",
                    format!("{e} ({e:?})"),
                ))
            }
        }
    }
}

/// Deletes the rules with these handles from `chain` of the inet table `table`. Rules
/// already gone are not an error (a teardown, or an earlier undo).
pub fn delete_rules(table: &str, chain_name: &str, handles: &[u64]) -> Result<(), NetworkError> {
    if handles.is_empty() {
        return Ok(());
    }
    let chain = chain(table, chain_name);
    let sock = open_socket()?;
    let mut result = Ok(());
    for handle in handles {
        // One batch per rule, so that one already gone does not keep the others.
        let mut batch = Batch::new();
        let rule = Rule::new(&chain)
            .map_err(|e| error("build rule", e))?
            .with_handle(*handle);
        batch.add(&rule, MsgType::Del);
        match send_batch(&sock, &batch.finalize(), 2) {
            Err(NetworkError::Firewall(m)) if m.contains("No such file or directory") => {}
            Err(e) => result = Err(e),
            Ok(()) => {}
        }
    }
    close_in_background(sock);
    result
}

/// Closes `sock` without waiting for the kernel to free what the last batch deleted: a
/// child process that holds nothing else and only exits keeps the last reference.
fn close_in_background(sock: OwnedFd) {
    let fd = sock.as_raw_fd() as libc::c_uint;
    // SAFETY: the child makes only raw system calls (close_range, _exit), which are
    // async-signal-safe, so forking a process that may have other threads is sound. It
    // closes every other descriptor first, so no pipe of the caller's (a test's captured
    // stdout) stays open while it waits for the kernel.
    match unsafe { libc::fork() } {
        0 => unsafe {
            if fd > 0 {
                libc::syscall(libc::SYS_close_range, 0, fd - 1, 0);
            }
            libc::syscall(libc::SYS_close_range, fd + 1, libc::c_uint::MAX, 0);
            libc::_exit(0)
        },
        // No child: close it here and wait.
        -1 => drop(sock),
        // The child is left to this process's exit (or a monitor's reaping of all its
        // children): waiting for it would be waiting for the kernel again.
        _ => drop(sock),
    }
}
