//! The embedded DNS server at 127.0.0.11 of containers on user-defined networks, as
//! Docker's: names, aliases and short ids of the network's containers, round robin over a
//! shared alias, renames and removals seen within 1 s, everything else forwarded to the
//! container's `--dns` (a resolver this test runs in a namespace of its own: no query leaves
//! the machine), UDP and TCP, `--dns-search`/`--dns-option` in resolv.conf, no names on the
//! default bridge, and nothing left once the containers are gone.
//!
//! Addresses: 10.249.10-13.0/24 for the first test (default bridge, two user networks, the
//! link to the test's resolver), 10.249.15-17.0/24 for the second.

use ebrun_tests::common::{self, sh, sh_ok, text, Instance};

use std::process::Command;
use std::time::{Duration, Instant};

/// A DNS server of the test's own (python3) in a network namespace joined to the host by a
/// veth: host side 10.249.N.1, server 10.249.N.2:53 (UDP and TCP). It answers
/// `outside.test` with 10.249.9.9 and NXDOMAIN for anything else. Removed on drop.
struct TestResolver {
    ns: String,
    host_if: String,
    server: std::process::Child,
}

const RESOLVER_PY: &str = r#"
import socket, struct, threading, sys
def answer(q):
    ident = struct.unpack('>H', q[:2])[0]
    i = 12; labels = []
    while q[i]:
        l = q[i]; labels.append(q[i+1:i+1+l].decode()); i += 1 + l
    i += 1
    qtype = struct.unpack('>H', q[i:i+2])[0]
    i += 4
    name = '.'.join(labels).lower()
    question = q[12:i]
    if name == 'outside.test' and qtype == 1:
        rr = b'\xc0\x0c' + struct.pack('>HHIH', 1, 1, 60, 4) + socket.inet_aton('10.249.9.9')
        return struct.pack('>HHHHHH', ident, 0x8180, 1, 1, 0, 0) + question + rr
    rcode = 0 if name == 'outside.test' else 3
    return struct.pack('>HHHHHH', ident, 0x8180 | rcode, 1, 0, 0, 0) + question
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(('10.249.N.2', 53))
t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind(('10.249.N.2', 53)); t.listen(8)
def tcp():
    while True:
        c, _ = t.accept()
        try:
            n = struct.unpack('>H', c.recv(2))[0]; q = b''
            while len(q) < n: q += c.recv(n - len(q))
            r = answer(q); c.sendall(struct.pack('>H', len(r)) + r)
        except Exception: pass
        c.close()
threading.Thread(target=tcp, daemon=True).start()
print('ready', flush=True)
while True:
    q, a = u.recvfrom(4096)
    try: u.sendto(answer(q), a)
    except Exception: pass
"#;

impl TestResolver {
    fn new(n: u8) -> Self {
        let ns = format!("ebrun-dnst{n}-{}", std::process::id());
        let host_if = format!("ebt-dns{n}");
        let peer = format!("ebt-dnsp{n}");
        let (host_ip, ip) = (format!("10.249.{n}.1"), format!("10.249.{n}.2"));
        let _ = sh(&["ip", "netns", "del", &ns]);
        let _ = sh(&["ip", "link", "del", &host_if]);
        sh_ok(&["ip", "netns", "add", &ns]);
        sh_ok(&[
            "ip", "link", "add", &host_if, "type", "veth", "peer", "name", &peer, "netns", &ns,
        ]);
        sh_ok(&[
            "ip",
            "addr",
            "add",
            &format!("{host_ip}/24"),
            "dev",
            &host_if,
        ]);
        sh_ok(&["ip", "link", "set", &host_if, "up"]);
        let in_ns = |args: &[&str]| {
            let mut full = vec!["ip", "netns", "exec", &ns];
            full.extend_from_slice(args);
            sh_ok(&full);
        };
        in_ns(&["ip", "addr", "add", &format!("{ip}/24"), "dev", &peer]);
        in_ns(&["ip", "link", "set", &peer, "up"]);
        in_ns(&["ip", "link", "set", "lo", "up"]);
        in_ns(&["ip", "route", "add", "default", "via", &host_ip]);
        let script = RESOLVER_PY.replace("10.249.N.2", &ip);
        let mut server = Command::new("ip")
            .args(["netns", "exec", &ns, "python3", "-c", &script])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("start the test's resolver");
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(server.stdout.as_mut().unwrap()),
            &mut line,
        )
        .unwrap();
        assert_eq!(line.trim(), "ready");
        TestResolver {
            ns,
            host_if,
            server,
        }
    }
}

impl Drop for TestResolver {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
        let _ = sh(&["ip", "netns", "del", &self.ns]);
        let _ = sh(&["ip", "link", "del", &self.host_if]);
    }
}

/// Polls `f` until it is true or `limit` passes; returns the time it took.
fn within(limit: Duration, mut f: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    loop {
        if f() {
            return Some(start.elapsed());
        }
        if start.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The IPv4 addresses busybox nslookup prints for `name`, asked from container `from`.
fn lookup(inst: &Instance, from: &str, name: &str) -> Vec<String> {
    let out = inst.run(&["exec", from, "nslookup", "-type=a", name]);
    let s = String::from_utf8_lossy(&out.stdout).into_owned();
    let answers = s.split_once("Name:").map(|x| x.1).unwrap_or("");
    answers
        .lines()
        .filter_map(|l| l.strip_prefix("Address: "))
        .map(|a| a.trim().to_string())
        .collect()
}

/// One A query over TCP to 127.0.0.11 from inside the network namespace of `pid` (the
/// host's python3 entering it): the addresses of the answer, or the rcode as `rcode N`.
fn tcp_lookup(pid: &str, name: &str) -> Vec<String> {
    let script = format!(
        r#"
import socket, struct
q = struct.pack('>HHHHHH', 0x1234, 0x0100, 1, 0, 0, 0)
for l in '{name}'.split('.'): q += bytes([len(l)]) + l.encode()
q += b'\0' + struct.pack('>HH', 1, 1)
s = socket.create_connection(('127.0.0.11', 53), timeout=5)
s.sendall(struct.pack('>H', len(q)) + q)
n = struct.unpack('>H', s.recv(2))[0]; r = b''
while len(r) < n: r += s.recv(n - len(r))
flags, qd, an = struct.unpack('>HHH', r[2:8])
if flags & 15: print('rcode', flags & 15)
i = 12
def skip(i):
    while True:
        if r[i] & 0xc0: return i + 2
        if r[i] == 0: return i + 1
        i += 1 + r[i]
for _ in range(qd): i = skip(i) + 4
for _ in range(an):
    i = skip(i); t, c, ttl, ln = struct.unpack('>HHIH', r[i:i+10]); i += 10
    if t == 1: print(socket.inet_ntoa(r[i:i+4]))
    i += ln
"#
    );
    let out = sh(&["nsenter", "-t", pid, "-n", "python3", "-c", &script]);
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// An instance whose default bridge is 10.249.N.1/24 and whose containers' resolver is
/// the test's own at 10.249.R.2 (daemon.json `dns`): no query ever reaches the host's.
fn instance(n: u8, r: u8) -> Instance {
    let inst = Instance::with_busybox();
    std::fs::write(
        inst.root().join("daemon.json"),
        format!(r#"{{"bip": "10.249.{n}.1/24", "dns": ["10.249.{r}.2"]}}"#),
    )
    .unwrap();
    inst
}

fn sleeper(inst: &Instance, name: &str, extra: &[&str]) -> String {
    let mut args = vec!["run", "-d", "--name", name];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["busybox", "sleep", "300"]);
    inst.ok(&args).trim().to_string()
}

fn pid_of(inst: &Instance, name: &str) -> String {
    inst.ok(&["inspect", "-f", "{{.State.Pid}}", name])
        .trim()
        .to_string()
}

/// The threads named `dns` of the supervisor (monitor) of container `name`.
fn dns_threads(inst: &Instance, name: &str) -> usize {
    let pid = pid_of(inst, name);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let ppid = status
        .lines()
        .find_map(|l| l.strip_prefix("PPid:"))
        .map(|p| p.trim().to_string())
        .unwrap_or_default();
    std::fs::read_dir(format!("/proc/{ppid}/task"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|t| {
                    std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim() == "dns")
                })
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn names_aliases_round_robin_and_changes() {
    let inst = instance(10, 13);
    let _resolver = TestResolver::new(13);
    inst.ok(&[
        "network",
        "create",
        "--subnet",
        "10.249.11.0/24",
        "dnsnet11",
    ]);
    inst.ok(&["network", "create", "--subnet", "10.249.12.0/24", "other12"]);
    let web1 = sleeper(
        &inst,
        "web1",
        &[
            "--network",
            "dnsnet11",
            "--network-alias",
            "svc",
            "--ip",
            "10.249.11.21",
        ],
    );
    sleeper(
        &inst,
        "web2",
        &[
            "--network",
            "dnsnet11",
            "--network-alias",
            "svc",
            "--ip",
            "10.249.11.22",
        ],
    );
    sleeper(
        &inst,
        "elsewhere",
        &["--network", "other12", "--ip", "10.249.12.5"],
    );
    sleeper(
        &inst,
        "cli",
        &["--network", "dnsnet11", "--dns", "10.249.13.2"],
    );

    // resolv.conf as Docker writes it for the embedded server. (busybox nslookup asks
    // only NAME.SEARCH for a NAME without dots when there is a search list: the lookups
    // below are made from `cli`, which has none.)
    let resolv = inst.ok(&[
        "run",
        "--rm",
        "--network",
        "dnsnet11",
        "--dns-search",
        "example.test",
        "--dns-option",
        "timeout:1",
        "busybox",
        "cat",
        "/etc/resolv.conf",
    ]);
    assert_eq!(
        resolv,
        "nameserver 127.0.0.11\nsearch example.test\noptions ndots:0 timeout:1\n"
    );
    // With a search list, NAME.SEARCH is forwarded and a bare NAME answered.
    let out = inst.ok(&[
        "run",
        "--rm",
        "--network",
        "dnsnet11",
        "--dns-search",
        "test",
        "busybox",
        "sh",
        "-c",
        "nslookup -type=a outside; ping -c1 -W2 web1 >/dev/null && echo pinged",
    ]);
    assert!(
        out.contains("10.249.9.9") && out.contains("pinged"),
        "{out}"
    );
    // /etc/hosts names only the container itself (names come from DNS).
    let hosts = inst.ok(&["exec", "cli", "cat", "/etc/hosts"]);
    assert!(!hosts.contains("web1"), "{hosts}");

    // Names, aliases, short ids, NAME.NETWORK; ping by name.
    assert_eq!(lookup(&inst, "cli", "web1"), ["10.249.11.21"]);
    assert_eq!(lookup(&inst, "cli", "WEB2"), ["10.249.11.22"]);
    assert_eq!(lookup(&inst, "cli", &web1[..12]), ["10.249.11.21"]);
    assert_eq!(lookup(&inst, "cli", "web2.dnsnet11"), ["10.249.11.22"]);
    let ping = inst.ok(&[
        "exec",
        "cli",
        "sh",
        "-c",
        "ping -c1 -W2 web2 >/dev/null && echo ok",
    ]);
    assert_eq!(ping.trim(), "ok");
    // Another network's container has no name here (the query goes to the upstream, which
    // knows nothing of it).
    assert!(lookup(&inst, "cli", "elsewhere").is_empty());
    // Reverse lookup of a peer.
    let rev = inst.ok(&["exec", "cli", "nslookup", "10.249.11.22"]);
    assert!(rev.contains("web2.dnsnet11"), "{rev}");

    // Round robin over the alias both web1 and web2 carry.
    let mut firsts = std::collections::BTreeSet::new();
    for _ in 0..6 {
        let got = lookup(&inst, "cli", "svc");
        assert_eq!(got.len(), 2, "{got:?}");
        firsts.insert(got[0].clone());
    }
    assert_eq!(firsts.len(), 2, "the same address always first: {firsts:?}");

    // Forwarded: names the network does not know go to --dns (UDP and TCP).
    assert_eq!(lookup(&inst, "cli", "outside.test"), ["10.249.9.9"]);
    let cli_pid = pid_of(&inst, "cli");
    assert_eq!(tcp_lookup(&cli_pid, "outside.test"), ["10.249.9.9"]);
    assert_eq!(tcp_lookup(&cli_pid, "nosuch.test"), ["rcode 3"]);
    // And the network's names over TCP.
    assert_eq!(tcp_lookup(&cli_pid, "web1"), ["10.249.11.21"]);

    // A new container answers at once, a renamed one under its new name only, a removed
    // one no more: each within 1 s.
    let started = Instant::now();
    sleeper(
        &inst,
        "late",
        &["--network", "dnsnet11", "--ip", "10.249.11.30"],
    );
    let after_start = within(Duration::from_secs(1), || {
        lookup(&inst, "cli", "late") == ["10.249.11.30"]
    })
    .expect("a new container's name did not answer within 1 s");
    eprintln!(
        "name answered {:?} after run -d returned ({:?} after it was called)",
        after_start,
        started.elapsed()
    );
    inst.ok(&["rename", "late", "later"]);
    within(Duration::from_secs(1), || {
        lookup(&inst, "cli", "later") == ["10.249.11.30"] && lookup(&inst, "cli", "late").is_empty()
    })
    .expect("a rename was not seen within 1 s");
    inst.ok(&["rm", "-f", "later"]);
    within(Duration::from_secs(1), || {
        lookup(&inst, "cli", "later").is_empty()
    })
    .expect("a removed container still resolved after 1 s");

    // A restarted container gets a new server; the old one is gone with the old process.
    inst.ok(&["restart", "-t", "0", "web1"]);
    assert_eq!(lookup(&inst, "web1", "web2"), ["10.249.11.22"]);
    assert_eq!(dns_threads(&inst, "web1"), 1);
}

#[test]
fn default_bridge_has_no_names_and_nothing_is_left() {
    let inst = instance(15, 17);
    let _resolver = TestResolver::new(17);
    sleeper(&inst, "plain1", &[]);
    sleeper(&inst, "plain2", &[]);
    // The default bridge: the container's own resolvers, no server, no names.
    let resolv = inst.ok(&["exec", "plain1", "cat", "/etc/resolv.conf"]);
    assert_eq!(resolv, "nameserver 10.249.17.2\n");
    assert!(lookup(&inst, "plain1", "plain2").is_empty());
    assert_eq!(lookup(&inst, "plain1", "outside.test"), ["10.249.9.9"]);
    assert_eq!(dns_threads(&inst, "plain1"), 0);

    // A foreground run on a user network resolves its peer, and leaves nothing.
    inst.ok(&["network", "create", "--subnet", "10.249.16.0/24", "fg16"]);
    sleeper(&inst, "peer", &["--network", "fg16", "--ip", "10.249.16.9"]);
    let out = inst.ok(&[
        "run",
        "--rm",
        "--network",
        "fg16",
        "busybox",
        "nslookup",
        "-type=a",
        "peer",
    ]);
    assert!(out.contains("10.249.16.9"), "{out}");
    assert_eq!(dns_threads(&inst, "peer"), 1);
    let monitor = {
        let pid = pid_of(&inst, "peer");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("PPid:"))
            .unwrap()
            .trim()
            .to_string()
    };
    let netns = std::fs::read_link(format!("/proc/{}/ns/net", pid_of(&inst, "peer"))).unwrap();
    inst.ok(&["rm", "-f", "peer", "plain1", "plain2"]);
    inst.ok(&["network", "rm", "fg16"]);
    // The monitor (and with it the server's thread and sockets) is gone, and no process
    // still holds the container's network namespace.
    assert!(
        within(Duration::from_secs(5), || !std::path::Path::new(&format!(
            "/proc/{monitor}"
        ))
        .exists())
        .is_some(),
        "the monitor outlived rm"
    );
    let holders: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(Result::ok)
        .filter(|p| std::fs::read_link(p.path().join("ns/net")).is_ok_and(|l| l == netns))
        .map(|p| p.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        holders.is_empty(),
        "processes left in the container's netns: {holders:?}"
    );
    inst.ok(&["system", "teardown"]);
    assert_eq!(
        common::host_objects_of(inst.root(), &inst.prefix()),
        Vec::<String>::new()
    );
}
