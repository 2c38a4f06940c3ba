//! The embedded DNS server at 127.0.0.11 of containers on user-defined networks, as Docker's:
//! container names, `--network-alias`es (compose service names are aliases) and short ids
//! of the containers sharing a network with the asking one, `NAME.NETWORK`, reverse (PTR)
//! lookups of their addresses; everything else forwarded to the upstream resolvers
//! (`--dns`, daemon.json's `dns`, else the host's).
//!
//! No daemon (ARCHITECTURE.md point 1): the server is a thread of the container's
//! supervisor (its monitor, or the foreground `ebrun run`), started by the network set-up.
//! The thread enters the container's network namespace (setns of one thread only), binds
//! 127.0.0.11:53 over UDP and TCP there before the container's process execs, and serves
//! until the container's init exits (a pidfd in its poll set), then closes its sockets so
//! the namespace can go. Nothing to undo on the host: a killed supervisor takes the thread
//! and its sockets with it. Cost: one thread and two sockets per container, no process, no
//! firewall rule, about 0.1 ms at start.
//!
//! Names come from the endpoint records (`<root>/network/endpoints/*.json`, the allocations
//! every start, stop, `network connect`/`disconnect` and `rename` rewrite): the table is read
//! again when the directory changes (its mtime) and at least once a second, so a change
//! answers within 1 s, usually at once.
//!
//! Forwarded queries go from the container's namespace (so an `--internal` network has no
//! way out), except to loopback resolvers of the host (127.0.0.53, ...), which are asked
//! from the host's namespace, as Docker's `host(...)` servers. Each forwarded query runs in
//! a short-lived thread of its own (at most [`MAX_FORWARDS`] at once), so a slow upstream
//! never delays the names of the network.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, PTR};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::endpoints::{EndpointRecord, Endpoints};
use super::NetworkError;
use crate::Paths;

/// The address containers ask (`nameserver 127.0.0.11`).
pub const ADDRESS: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 11);
/// Docker's TTL for its own answers.
const TTL: u32 = 600;
/// Forwarded queries in flight at once; more get SERVFAIL.
const MAX_FORWARDS: usize = 64;
/// How long one upstream gets to answer.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(2);
/// The name table is read again at least this often.
const MAX_AGE: Duration = Duration::from_secs(1);

/// One upstream resolver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Upstream {
    pub addr: IpAddr,
    /// Asked from the host's namespace (a loopback resolver of the host).
    pub from_host: bool,
}

impl Upstream {
    pub fn new(addr: IpAddr) -> Self {
        Upstream {
            addr,
            from_host: addr.is_loopback(),
        }
    }
}

fn io_err(op: &'static str) -> impl Fn(std::io::Error) -> NetworkError {
    move |source| NetworkError::Io { op, source }
}

fn pidfd_open(pid: i32) -> std::io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the descriptor was just created and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

fn enter(ns: &File) -> std::io::Result<()> {
    nix::sched::setns(ns.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).map_err(Into::into)
}

/// Starts the server of container `container_id` (init `pid`, whose namespace has `lo` up):
/// returns once it listens on 127.0.0.11:53 (UDP and TCP) inside that namespace.
pub fn start(
    paths: &Paths,
    container_id: &str,
    pid: i32,
    upstreams: Vec<Upstream>,
) -> Result<(), NetworkError> {
    let host_ns = File::open("/proc/thread-self/ns/net").map_err(io_err("open own netns"))?;
    let target =
        File::open(format!("/proc/{pid}/ns/net")).map_err(io_err("open container netns"))?;
    let container_ns = target.try_clone().map_err(io_err("open container netns"))?;
    let pidfd = pidfd_open(pid).map_err(io_err("pidfd_open"))?;
    let (tx, rx) = std::sync::mpsc::channel();
    let server = Server {
        endpoints: Endpoints::new(paths),
        endpoints_dir: paths.root().join("network").join("endpoints"),
        container_id: container_id.to_string(),
        upstreams,
        host_ns,
        container_ns,
        table: Mutex::new(None),
        rotation: [AtomicUsize::new(0), AtomicUsize::new(0)],
        forwards: AtomicUsize::new(0),
    };
    std::thread::Builder::new()
        .name("dns".into())
        .spawn(move || {
            let bound = enter(&target)
                .map_err(io_err("enter container netns"))
                .and_then(|()| {
                    let udp =
                        UdpSocket::bind((ADDRESS, 53)).map_err(io_err("bind 127.0.0.11:53/udp"))?;
                    let tcp = TcpListener::bind((ADDRESS, 53))
                        .map_err(io_err("bind 127.0.0.11:53/tcp"))?;
                    Ok((udp, tcp))
                });
            drop(target);
            match bound {
                Ok((udp, tcp)) => {
                    let _ = tx.send(Ok(()));
                    Arc::new(server).serve(udp, tcp, pidfd);
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                }
            }
        })
        .map_err(io_err("start the DNS thread"))?;
    rx.recv_timeout(Duration::from_secs(5))
        .map_err(|_| NetworkError::Invalid("the embedded DNS server did not start".into()))?
}

/// The names one network gives its containers.
#[derive(Default)]
struct NetworkNames {
    name: String,
    /// Lower-case name -> addresses, in the order of the records.
    hosts: HashMap<String, (Vec<Ipv4Addr>, Vec<Ipv6Addr>)>,
    /// Address -> container name (PTR).
    reverse: HashMap<IpAddr, String>,
}

/// The names of an instance, by network id, and the networks of the asking container.
#[derive(Default)]
struct Table {
    networks: HashMap<String, NetworkNames>,
    /// The asking container's user-defined networks, in attachment order.
    mine: Vec<String>,
}

impl Table {
    fn build(records: &[EndpointRecord], me: &str) -> Self {
        let mut t = Table::default();
        for r in records.iter().filter(|r| r.alive()) {
            let short = r.container_id.get(..12).unwrap_or(&r.container_id);
            for a in r.attachments.iter().filter(|a| a.network_name != "bridge") {
                if r.container_id == me {
                    t.mine.push(a.network_id.clone());
                }
                let n = t.networks.entry(a.network_id.clone()).or_default();
                n.name = a.network_name.to_lowercase();
                let mut names = vec![r.container_name.as_str(), short];
                names.extend(a.aliases.iter().map(String::as_str));
                names.sort_unstable();
                names.dedup();
                for name in names.into_iter().filter(|n| !n.is_empty()) {
                    let e = n.hosts.entry(name.to_lowercase()).or_default();
                    e.0.extend(a.ip_address);
                    e.1.extend(a.global_ipv6_address);
                }
                for ip in a
                    .ip_address
                    .map(IpAddr::V4)
                    .into_iter()
                    .chain(a.global_ipv6_address.map(IpAddr::V6))
                {
                    n.reverse.insert(ip, r.container_name.clone());
                }
            }
        }
        t
    }

    /// The addresses of `name` (lower case, no trailing dot) on the asker's networks: the
    /// first network naming it wins; `NAME.NETWORK` asks that network only.
    fn lookup(&self, name: &str) -> Option<&(Vec<Ipv4Addr>, Vec<Ipv6Addr>)> {
        let nets = || self.mine.iter().filter_map(|id| self.networks.get(id));
        if let Some(found) = nets().find_map(|n| n.hosts.get(name)) {
            return Some(found);
        }
        let (head, tail) = name.split_once('.')?;
        nets()
            .find(|n| n.name == tail)
            .and_then(|n| n.hosts.get(head))
    }

    /// `NAME.NETWORK` for an address on the asker's networks.
    fn reverse(&self, ip: IpAddr) -> Option<String> {
        self.mine
            .iter()
            .filter_map(|id| self.networks.get(id))
            .find_map(|n| n.reverse.get(&ip).map(|c| format!("{c}.{}", n.name)))
    }
}

/// The address of a reverse name (`4.3.2.1.in-addr.arpa`, nibbles `.ip6.arpa`).
fn reverse_address(name: &str) -> Option<IpAddr> {
    if let Some(v4) = name.strip_suffix(".in-addr.arpa") {
        let mut o: Vec<u8> = v4
            .split('.')
            .map(str::parse)
            .collect::<Result<_, _>>()
            .ok()?;
        if o.len() != 4 {
            return None;
        }
        o.reverse();
        return Some(IpAddr::V4(Ipv4Addr::new(o[0], o[1], o[2], o[3])));
    }
    let v6 = name.strip_suffix(".ip6.arpa")?;
    let nibbles: Vec<u8> = v6
        .split('.')
        .map(|n| u8::from_str_radix(n, 16))
        .collect::<Result<_, _>>()
        .ok()?;
    if nibbles.len() != 32 || nibbles.iter().any(|n| *n > 15) {
        return None;
    }
    let mut bytes = [0u8; 16];
    for (i, pair) in nibbles.rchunks(2).enumerate() {
        bytes[i] = (pair[1] << 4) | pair[0];
    }
    Some(IpAddr::V6(Ipv6Addr::from(bytes)))
}

/// The table as read: (read at, the endpoints directory's mtime then, table).
type Cached = (Instant, Option<SystemTime>, Arc<Table>);

struct Server {
    endpoints: Endpoints,
    endpoints_dir: std::path::PathBuf,
    container_id: String,
    upstreams: Vec<Upstream>,
    host_ns: File,
    container_ns: File,
    table: Mutex<Option<Cached>>,
    /// Round robin over the addresses of a shared alias: one counter for A, one for AAAA.
    rotation: [AtomicUsize; 2],
    forwards: AtomicUsize,
}

/// What to do with a query.
enum Reply {
    Local(Vec<u8>),
    Forward,
}

impl Server {
    fn table(&self) -> Arc<Table> {
        let mtime = std::fs::metadata(&self.endpoints_dir)
            .and_then(|m| m.modified())
            .ok();
        let mut cached = self.table.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, m, t)) = cached.as_ref() {
            if *m == mtime && at.elapsed() < MAX_AGE {
                return t.clone();
            }
        }
        let t = Arc::new(Table::build(&self.endpoints.list(), &self.container_id));
        *cached = Some((Instant::now(), mtime, t.clone()));
        t
    }

    fn rotated<T: Clone>(&self, which: usize, list: &[T]) -> Vec<T> {
        if list.len() < 2 {
            return list.to_vec();
        }
        let k = self.rotation[which].fetch_add(1, Ordering::Relaxed) % list.len();
        list[k..].iter().chain(&list[..k]).cloned().collect()
    }

    /// The answer from the network's names, or Forward.
    fn answer(&self, query: &[u8]) -> Reply {
        let Ok(msg) = Message::from_vec(query) else {
            return Reply::Forward;
        };
        if msg.message_type != MessageType::Query
            || msg.op_code != OpCode::Query
            || msg.queries.len() != 1
        {
            return Reply::Forward;
        }
        let q = &msg.queries[0];
        let qname = q.name().to_lowercase();
        let text = qname.to_ascii();
        let text = text.trim_end_matches('.');
        let table = self.table();
        let mut answers = Vec::new();
        match q.query_type() {
            RecordType::A | RecordType::AAAA => {
                let Some((v4, v6)) = table.lookup(text) else {
                    return Reply::Forward;
                };
                if q.query_type() == RecordType::A {
                    for ip in self.rotated(0, v4) {
                        answers.push(Record::from_rdata(qname.clone(), TTL, RData::A(A(ip))));
                    }
                } else {
                    for ip in self.rotated(1, v6) {
                        answers.push(Record::from_rdata(
                            qname.clone(),
                            TTL,
                            RData::AAAA(AAAA(ip)),
                        ));
                    }
                }
            }
            RecordType::PTR => {
                let Some(host) = reverse_address(text).and_then(|ip| table.reverse(ip)) else {
                    return Reply::Forward;
                };
                let Ok(target) = Name::from_ascii(format!("{host}.")) else {
                    return Reply::Forward;
                };
                answers.push(Record::from_rdata(
                    qname.clone(),
                    TTL,
                    RData::PTR(PTR(target)),
                ));
            }
            _ => return Reply::Forward,
        }
        let mut resp = Message::response(msg.id, OpCode::Query);
        resp.metadata.authoritative = true;
        resp.metadata.recursion_desired = msg.recursion_desired;
        resp.metadata.recursion_available = true;
        resp.add_query(q.clone());
        resp.add_answers(answers);
        match resp.to_vec() {
            Ok(bytes) => Reply::Local(bytes),
            Err(_) => Reply::Forward,
        }
    }

    fn servfail(query: &[u8]) -> Option<Vec<u8>> {
        let msg = Message::from_vec(query).ok()?;
        let mut resp = Message::error_msg(msg.id, msg.op_code, ResponseCode::ServFail);
        resp.metadata.recursion_desired = msg.recursion_desired;
        resp.metadata.recursion_available = true;
        resp.add_queries(msg.queries.iter().cloned());
        resp.to_vec().ok()
    }

    /// Asks the upstreams in turn (in this thread's namespace, or the host's for loopback
    /// ones); the first answer wins, SERVFAIL if none.
    fn forward(&self, query: &[u8], tcp: bool) -> Option<Vec<u8>> {
        let id = query.get(..2)?;
        for u in &self.upstreams {
            // This thread is a forwarding thread of its own: it may change namespace.
            let ns = if u.from_host {
                &self.host_ns
            } else {
                &self.container_ns
            };
            if enter(ns).is_err() {
                continue;
            }
            let to = SocketAddr::new(u.addr, 53);
            let got = if tcp {
                ask_tcp(to, query)
            } else {
                ask_udp(to, query)
            };
            if let Ok(resp) = got {
                if resp.get(..2) == Some(id) {
                    return Some(resp);
                }
            }
        }
        Self::servfail(query)
    }

    /// Runs `f` in a forwarding thread, unless too many are in flight.
    fn spawn_forward(self: &Arc<Self>, f: impl FnOnce(&Server) + Send + 'static) -> bool {
        if self.forwards.fetch_add(1, Ordering::AcqRel) >= MAX_FORWARDS {
            self.forwards.fetch_sub(1, Ordering::AcqRel);
            return false;
        }
        let me = self.clone();
        let spawned = std::thread::Builder::new()
            .name("dns-fwd".into())
            .spawn(move || {
                f(&me);
                me.forwards.fetch_sub(1, Ordering::AcqRel);
            });
        if spawned.is_err() {
            self.forwards.fetch_sub(1, Ordering::AcqRel);
            return false;
        }
        true
    }

    fn on_udp(self: &Arc<Self>, udp: &UdpSocket) {
        let mut buf = [0u8; 4096];
        let Ok((n, from)) = udp.recv_from(&mut buf) else {
            return;
        };
        let query = buf[..n].to_vec();
        match self.answer(&query) {
            Reply::Local(resp) => {
                let _ = udp.send_to(&resp, from);
            }
            Reply::Forward => {
                let Ok(out) = udp.try_clone() else { return };
                let q = query.clone();
                let started = self.spawn_forward(move |s| {
                    if let Some(resp) = s.forward(&q, false) {
                        let _ = out.send_to(&resp, from);
                    }
                });
                if !started {
                    if let Some(resp) = Self::servfail(&query) {
                        let _ = udp.send_to(&resp, from);
                    }
                }
            }
        }
    }

    /// One TCP client: length-prefixed queries until it closes or idles 10 s.
    fn on_tcp(&self, mut conn: TcpStream) {
        let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
        let _ = conn.set_write_timeout(Some(Duration::from_secs(10)));
        loop {
            let mut len = [0u8; 2];
            if conn.read_exact(&mut len).is_err() {
                return;
            }
            let mut query = vec![0u8; usize::from(u16::from_be_bytes(len))];
            if conn.read_exact(&mut query).is_err() {
                return;
            }
            let resp = match self.answer(&query) {
                Reply::Local(resp) => Some(resp),
                Reply::Forward => self.forward(&query, true),
            };
            let Some(resp) = resp else { return };
            let Ok(n) = u16::try_from(resp.len()) else {
                return;
            };
            let mut out = n.to_be_bytes().to_vec();
            out.extend_from_slice(&resp);
            if conn.write_all(&out).is_err() {
                return;
            }
        }
    }

    fn serve(self: Arc<Self>, udp: UdpSocket, tcp: TcpListener, pidfd: OwnedFd) {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        loop {
            let mut fds = [
                PollFd::new(udp.as_fd(), PollFlags::POLLIN),
                PollFd::new(tcp.as_fd(), PollFlags::POLLIN),
                PollFd::new(pidfd.as_fd(), PollFlags::POLLIN),
            ];
            match poll(&mut fds, PollTimeout::NONE) {
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "embedded DNS: poll failed; stopping");
                    return;
                }
                Ok(_) => {}
            }
            let ready = |i: usize| fds[i].revents().is_some_and(|r| !r.is_empty());
            if ready(2) {
                return; // the container's init exited: the sockets close with this thread
            }
            if ready(0) {
                self.on_udp(&udp);
            }
            if ready(1) {
                if let Ok((conn, _)) = tcp.accept() {
                    let started = self.spawn_forward(move |s| s.on_tcp(conn));
                    if !started {
                        tracing::debug!("embedded DNS: too many TCP clients");
                    }
                }
            }
        }
    }
}

fn ask_udp(to: SocketAddr, query: &[u8]) -> std::io::Result<Vec<u8>> {
    let any: SocketAddr = if to.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let s = UdpSocket::bind(any)?;
    s.connect(to)?;
    s.set_read_timeout(Some(UPSTREAM_TIMEOUT))?;
    s.send(query)?;
    let mut buf = vec![0u8; 65535];
    let n = s.recv(&mut buf)?;
    buf.truncate(n);
    Ok(buf)
}

fn ask_tcp(to: SocketAddr, query: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut s = TcpStream::connect_timeout(&to, UPSTREAM_TIMEOUT)?;
    s.set_read_timeout(Some(UPSTREAM_TIMEOUT))?;
    let len = u16::try_from(query.len()).map_err(std::io::Error::other)?;
    let mut out = len.to_be_bytes().to_vec();
    out.extend_from_slice(query);
    s.write_all(&out)?;
    let mut len = [0u8; 2];
    s.read_exact(&mut len)?;
    let mut resp = vec![0u8; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut resp)?;
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::Attachment;

    fn record(
        id: &str,
        name: &str,
        net: (&str, &str),
        ip: [u8; 4],
        aliases: &[&str],
    ) -> EndpointRecord {
        let pid = std::process::id() as i32;
        EndpointRecord {
            container_id: id.repeat(64 / id.len()),
            container_name: name.into(),
            pid,
            pid_start: super::super::endpoints::process_start(pid).unwrap(),
            attachments: vec![Attachment {
                network_id: net.0.into(),
                network_name: net.1.into(),
                ip_address: Some(Ipv4Addr::from(ip)),
                aliases: aliases.iter().map(|a| a.to_string()).collect(),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn names_aliases_and_networks() {
        let recs = vec![
            record("a", "web", ("n1", "front"), [10, 0, 0, 2], &["svc"]),
            record("b", "web2", ("n1", "front"), [10, 0, 0, 3], &["svc"]),
            record("c", "db", ("n2", "back"), [10, 0, 1, 2], &[]),
            record("d", "old", ("bridge-id", "bridge"), [172, 17, 0, 2], &[]),
        ];
        let me = recs[0].container_id.clone();
        let t = Table::build(&recs, &me);
        assert_eq!(
            t.lookup("web2").unwrap().0,
            vec![Ipv4Addr::new(10, 0, 0, 3)]
        );
        assert_eq!(t.lookup("svc").unwrap().0.len(), 2);
        assert_eq!(
            t.lookup("web2.front").unwrap().0,
            vec![Ipv4Addr::new(10, 0, 0, 3)]
        );
        assert_eq!(
            t.lookup("bbbbbbbbbbbb").unwrap().0,
            vec![Ipv4Addr::new(10, 0, 0, 3)]
        );
        assert!(t.lookup("db").is_none(), "another network's name");
        assert!(t.lookup("old").is_none(), "the default bridge has no names");
        assert_eq!(
            t.reverse("10.0.0.3".parse().unwrap()).as_deref(),
            Some("web2.front")
        );
    }

    #[test]
    fn reverse_names() {
        assert_eq!(
            reverse_address("3.0.0.10.in-addr.arpa"),
            Some("10.0.0.3".parse().unwrap())
        );
        let v6: Ipv6Addr = "fd00::1:2".parse().unwrap();
        let nibbles: String = v6
            .octets()
            .iter()
            .rev()
            .map(|b| format!("{:x}.{:x}.", b & 15, b >> 4))
            .collect();
        assert_eq!(
            reverse_address(&format!("{nibbles}ip6.arpa")),
            Some(IpAddr::V6(v6))
        );
        assert_eq!(reverse_address("example.com"), None);
    }
}
