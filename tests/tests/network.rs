//! Networking end to end: bridges, NAT, published ports, modes, user networks, DNS files,
//! clean-up. Every address used lives in a namespace or on a bridge the test creates: an
//! "outside host" is a network namespace joined to the host by a veth with its own /24.
//! Each test has its own daemon.json (its own bridge subnet), ports and names, so tests run
//! in parallel.

use ebrun_tests::common;

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{sh, sh_ok, text, Instance};

/// Polls `f` until it is true or `secs` pass.
fn wait_for(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    f()
}

/// A network namespace standing for another machine, with a veth to the host:
/// host side `10.250.N.1/24`, outside side `10.250.N.2/24`. Removed on drop.
struct OutsideHost {
    ns: String,
    host_if: String,
    host_ip: String,
    ip: String,
}

impl OutsideHost {
    fn new(n: u8) -> Self {
        let ns = format!("ebrun-test-out{n}-{}", std::process::id());
        let host_if = format!("ebt-h{n}");
        let _ = sh(&["ip", "netns", "del", &ns]);
        let _ = sh(&["ip", "link", "del", &host_if]);
        sh_ok(&["ip", "netns", "add", &ns]);
        let me = OutsideHost {
            ns: ns.clone(),
            host_if: host_if.clone(),
            host_ip: format!("10.250.{n}.1"),
            ip: format!("10.250.{n}.2"),
        };
        let peer = format!("ebt-o{n}");
        sh_ok(&[
            "ip", "link", "add", &host_if, "type", "veth", "peer", "name", &peer, "netns", &ns,
        ]);
        sh_ok(&[
            "ip",
            "addr",
            "add",
            &format!("{}/24", me.host_ip),
            "dev",
            &host_if,
        ]);
        sh_ok(&["ip", "link", "set", &host_if, "up"]);
        me.exec_ok(&["ip", "addr", "add", &format!("{}/24", me.ip), "dev", &peer]);
        me.exec_ok(&["ip", "link", "set", &peer, "up"]);
        me.exec_ok(&["ip", "link", "set", "lo", "up"]);
        me.exec_ok(&["ip", "route", "add", "default", "via", &me.host_ip]);
        me
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns]).args(args);
        c
    }

    fn exec(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("ip netns exec")
    }

    fn exec_ok(&self, args: &[&str]) -> String {
        let out = self.exec(args);
        assert!(
            out.status.success(),
            "in {}: {args:?}: {}",
            self.ns,
            text(&out)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// An HTTP server (host busybox) answering `/cgi-bin/ip` with the client's address.
    fn serve_client_address(&self, port: u16, dir: &std::path::Path) -> std::process::Child {
        let cgi = dir.join("cgi-bin");
        std::fs::create_dir_all(&cgi).unwrap();
        std::fs::write(
            cgi.join("ip"),
            "#!/bin/busybox sh\necho 'Content-Type: text/plain'\necho\necho \"$REMOTE_ADDR\"\n",
        )
        .unwrap();
        sh_ok(&["chmod", "+x", cgi.join("ip").to_str().unwrap()]);
        self.cmd(&[
            "busybox",
            "httpd",
            "-f",
            "-p",
            &port.to_string(),
            "-h",
            dir.to_str().unwrap(),
        ])
        .spawn()
        .expect("start httpd in the outside host")
    }
}

/// A unique-local /48 (`fdXX:XXXX:XXXX`) of this test process, so parallel runs and the
/// host's own addresses never share a prefix.
fn ula48() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let r = u64::from(std::process::id()) << 20 ^ u64::from(nanos);
    format!(
        "fd{:02x}:{:x}:{:x}",
        r & 0xff,
        ((r >> 8) & 0xffff) | 0x100,
        (r >> 24) & 0xffff
    )
}

impl OutsideHost {
    /// Adds IPv6 to the link: host side `PREFIX::1/64`, outside side `PREFIX::2/64`, and the
    /// outside host's default route through the host. Returns (host side, outside side).
    fn add_v6(&self, prefix: &str) -> (String, String) {
        let (host6, out6) = (format!("{prefix}::1"), format!("{prefix}::2"));
        sh_ok(&[
            "ip",
            "addr",
            "add",
            &format!("{host6}/64"),
            "dev",
            &self.host_if,
            "nodad",
        ]);
        let peer = self.host_if.replacen("ebt-h", "ebt-o", 1);
        self.exec_ok(&[
            "ip",
            "addr",
            "add",
            &format!("{out6}/64"),
            "dev",
            &peer,
            "nodad",
        ]);
        self.exec_ok(&["ip", "-6", "route", "add", "default", "via", &host6]);
        (host6, out6)
    }
}

impl Drop for OutsideHost {
    fn drop(&mut self) {
        let _ = sh(&["ip", "netns", "del", &self.ns]);
        let _ = sh(&["ip", "link", "del", &self.host_if]);
    }
}

/// Kills a child process this test started, on drop.
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An instance with busybox and a daemon.json of its own.
fn instance(daemon_json: &str) -> Instance {
    let inst = Instance::with_busybox();
    std::fs::write(inst.root().join("daemon.json"), daemon_json).unwrap();
    inst
}

/// The bridge device of an instance's default network.
fn default_bridge(inst: &Instance) -> String {
    format!("{}0", inst.prefix())
}

/// A detached web server container serving "hello" on port 80.
fn web(inst: &Instance, extra: &[&str]) -> String {
    let mut args = vec!["run", "-d"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&[
        "busybox",
        "sh",
        "-c",
        "mkdir -p /www && echo hello > /www/index.html && exec httpd -f -p 80 -h /www",
    ]);
    inst.ok(&args).trim().to_string()
}

/// An HTTP GET with curl, run in the outside host or on the host.
fn fetch(outside: Option<&OutsideHost>, url: &str) -> Option<String> {
    let args = ["curl", "-s", "-f", "-m", "2", url];
    let out = match outside {
        Some(o) => o.exec(&args),
        None => sh(&args),
    };
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// A UDP exchange with python3: sends "ping" to host:port, returns the reply.
fn udp_ask(outside: &OutsideHost, host: &str, port: u16) -> Option<String> {
    let script = format!(
        "import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.settimeout(1)\n\
         for i in range(5):\n  s.sendto(b'ping',('{host}',{port}))\n  try:\n    print(s.recv(100).decode());break\n  except Exception: pass\n"
    );
    let out = outside.exec(&["python3", "-c", &script]);
    let reply = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (!reply.is_empty()).then_some(reply)
}

#[test]
fn bridge_nat_and_published_ports() {
    let inst = instance(r#"{"bip": "10.211.0.1/24", "mtu": 1400}"#);
    let outside = OutsideHost::new(11);
    let tmp = tempfile::tempdir().unwrap();
    let _server = Reaped(outside.serve_client_address(8011, tmp.path()));

    // Outbound: the container reaches the outside host, which sees the host's address.
    let url = format!("http://{}:8011/cgi-bin/ip", outside.ip);
    assert!(
        wait_for(10, || fetch(None, &url).is_some()),
        "outside server not up"
    );
    let seen = inst.ok(&["run", "--rm", "busybox", "wget", "-q", "-O", "-", &url]);
    // busybox httpd shows the client as [::ffff:A.B.C.D].
    assert!(
        seen.trim()
            .trim_end_matches(']')
            .ends_with(&format!(":{}", outside.host_ip)),
        "not masqueraded to the host's address: {seen}"
    );

    // daemon.json: bip and mtu took effect.
    let inside = inst.ok(&["run", "--rm", "busybox", "ip", "addr", "show", "eth0"]);
    assert!(inside.contains("inet 10.211.0."), "{inside}");
    assert!(inside.contains("mtu 1400"), "{inside}");
    let br = sh_ok(&["ip", "addr", "show", &default_bridge(&inst)]);
    assert!(br.contains("inet 10.211.0.1/24"), "{br}");

    // Published TCP port: from the outside host, the host's addresses, 127.0.0.1 and
    // another container (hairpin).
    let id = web(&inst, &["-p", "18011:80", "-p", "127.0.0.1:18012:80"]);
    let host_url = format!("http://{}:18011/", outside.host_ip);
    assert!(
        wait_for(10, || fetch(Some(&outside), &host_url).as_deref()
            == Some("hello")),
        "published port from the outside host"
    );
    assert_eq!(
        fetch(None, "http://127.0.0.1:18011/").as_deref(),
        Some("hello")
    );
    assert_eq!(fetch(None, &host_url).as_deref(), Some("hello"));
    assert_eq!(
        fetch(None, "http://127.0.0.1:18012/").as_deref(),
        Some("hello")
    );
    let hairpin = inst.ok(&["run", "--rm", "busybox", "wget", "-q", "-O", "-", &host_url]);
    assert_eq!(hairpin.trim(), "hello", "hairpin from another container");
    // -p 127.0.0.1:H:C is not reachable from the outside host.
    assert_eq!(
        fetch(
            Some(&outside),
            &format!("http://{}:18012/", outside.host_ip)
        ),
        None
    );

    // `port` and `ps` show the mappings.
    let ports = inst.ok(&["port", &id]);
    assert!(ports.contains("80/tcp -> 0.0.0.0:18011"), "{ports}");
    assert!(ports.contains("80/tcp -> 127.0.0.1:18012"), "{ports}");
    assert_eq!(
        inst.ok(&["port", &id, "80/tcp"]).lines().next(),
        Some("0.0.0.0:18011")
    );

    // A host port already in use is refused before anything is created.
    let containers_before = std::fs::read_dir(inst.root().join("containers"))
        .unwrap()
        .count();
    let out = inst.run(&["run", "--rm", "-p", "18011:80", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125), "{}", text(&out));
    assert!(
        text(&out).contains("port is already allocated"),
        "{}",
        text(&out)
    );
    let listener = std::net::TcpListener::bind("0.0.0.0:18013").unwrap();
    let out = inst.run(&["run", "--rm", "-p", "18013:80", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125), "{}", text(&out));
    drop(listener);
    let containers_after = std::fs::read_dir(inst.root().join("containers"))
        .unwrap()
        .count();
    assert_eq!(
        containers_before, containers_after,
        "a refused run created a container"
    );
}

#[test]
fn published_udp_port() {
    let inst = Instance::new();
    std::fs::write(
        inst.root().join("daemon.json"),
        r#"{"bip": "10.212.0.1/24"}"#,
    )
    .unwrap();
    inst.ok(&[
        "image",
        "import",
        common::image_layout("debian-tools").to_str().unwrap(),
        "debian-tools:latest",
    ]);
    let outside = OutsideHost::new(12);
    inst.ok(&[
        "run",
        "-d",
        "-p",
        "18021:5353/udp",
        "debian-tools",
        "perl",
        "-MIO::Socket::INET",
        "-e",
        "$s=IO::Socket::INET->new(LocalPort=>5353,Proto=>'udp') or die; \
         while(1){$s->recv($m,100); $s->send(\"echo:$m\")}",
    ]);
    let mut reply = None;
    assert!(
        wait_for(10, || {
            reply = udp_ask(&outside, &outside.host_ip, 18021);
            reply.is_some()
        }),
        "no UDP reply through the published port"
    );
    assert_eq!(reply.as_deref(), Some("echo:ping"));
}

#[test]
fn network_modes() {
    let inst = instance(r#"{"bip": "10.213.0.1/24"}"#);
    // --net none: only lo.
    let links = inst.ok(&[
        "run", "--rm", "--net", "none", "busybox", "ip", "-o", "link",
    ]);
    let names: Vec<&str> = links
        .lines()
        .filter_map(|l| l.split(':').nth(1))
        .map(str::trim)
        .collect();
    assert_eq!(names, vec!["lo"], "{links}");
    // --net host: the host's links.
    let outside = OutsideHost::new(13);
    let links = inst.ok(&[
        "run", "--rm", "--net", "host", "busybox", "ip", "-o", "link",
    ]);
    assert!(links.contains(&outside.host_if), "{links}");
    // container:X shares X's network namespace.
    let id = inst.ok(&["run", "-d", "--name", "netowner", "busybox", "sleep", "60"]);
    let id = id.trim();
    let own = inst.ok(&["exec", id, "ip", "-o", "-4", "addr", "show", "eth0"]);
    let shared = inst.ok(&[
        "run",
        "--rm",
        "--net",
        "container:netowner",
        "busybox",
        "ip",
        "-o",
        "-4",
        "addr",
        "show",
        "eth0",
    ]);
    let addr = |s: &str| s.split_whitespace().nth(3).unwrap_or("").to_string();
    assert!(addr(&own).starts_with("10.213.0."), "{own}");
    assert_eq!(addr(&own), addr(&shared));
    // Unknown network: Docker's error, exit 125, nothing created.
    let out = inst.run(&["run", "--rm", "--network", "nosuchnet", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        text(&out).contains("network nosuchnet not found"),
        "{}",
        text(&out)
    );
}

#[test]
fn dns_files() {
    let inst = instance(r#"{"bip": "10.214.0.1/24"}"#);
    let out = inst.ok(&[
        "run",
        "--rm",
        "--hostname",
        "box1",
        "--dns",
        "10.9.9.9",
        "--dns-search",
        "example.test",
        "--dns-option",
        "ndots:2",
        "--add-host",
        "db:10.1.2.3",
        "busybox",
        "sh",
        "-c",
        "cat /etc/resolv.conf /etc/hosts /etc/hostname",
    ]);
    assert!(
        out.contains("nameserver 10.9.9.9\nsearch example.test\noptions ndots:2\n"),
        "{out}"
    );
    assert!(out.contains("10.1.2.3\tdb\n"), "{out}");
    assert!(
        out.contains("10.214.0.2\tbox1\n") || out.contains("\tbox1\n"),
        "{out}"
    );
    assert!(out.contains("box1"), "{out}");
    // Without --dns: the host's resolvers minus loopback ones.
    let resolv = inst.ok(&["run", "--rm", "busybox", "cat", "/etc/resolv.conf"]);
    assert!(!resolv.contains("nameserver 127."), "{resolv}");
    assert!(resolv.contains("nameserver "), "{resolv}");
}

#[test]
fn user_networks_isolation_names_internal() {
    let inst = instance(r#"{"bip": "10.215.0.1/24"}"#);
    let outside = OutsideHost::new(15);
    inst.ok(&["network", "create", "--subnet", "10.215.1.0/24", "front15"]);
    inst.ok(&["network", "create", "--subnet", "10.215.2.0/24", "back15"]);
    inst.ok(&[
        "network",
        "create",
        "--internal",
        "--subnet",
        "10.215.3.0/24",
        "int15",
    ]);
    // Overlapping subnets are refused.
    let out = inst.run(&[
        "network",
        "create",
        "--subnet",
        "10.215.1.128/25",
        "overlap15",
    ]);
    assert!(!out.status.success(), "overlapping subnet accepted");
    assert!(text(&out).contains("overlaps"), "{}", text(&out));
    let ls = inst.ok(&["network", "ls"]);
    for n in ["bridge", "host", "none", "front15", "back15", "int15"] {
        assert!(ls.contains(n), "{ls}");
    }

    inst.ok(&[
        "run",
        "-d",
        "--name",
        "api15",
        "--network",
        "front15",
        "--network-alias",
        "api",
        "busybox",
        "sleep",
        "60",
    ]);
    inst.ok(&[
        "run",
        "-d",
        "--name",
        "db15",
        "--network",
        "back15",
        "busybox",
        "sleep",
        "60",
    ]);
    // Same network: by name and by alias.
    let out = inst.ok(&[
        "run",
        "--rm",
        "--network",
        "front15",
        "busybox",
        "sh",
        "-c",
        "ping -c1 -W2 api15 >/dev/null && ping -c1 -W2 api >/dev/null && echo ok",
    ]);
    assert_eq!(out.trim(), "ok");
    // Different networks: no name, no route through.
    let out = inst.run(&[
        "run",
        "--rm",
        "--network",
        "front15",
        "busybox",
        "ping",
        "-c1",
        "-W1",
        "10.215.2.2",
    ]);
    assert!(
        !out.status.success(),
        "networks are not isolated: {}",
        text(&out)
    );
    let out = inst.run(&[
        "run",
        "--rm",
        "--network",
        "front15",
        "busybox",
        "ping",
        "-c1",
        "-W1",
        "db15",
    ]);
    assert!(!out.status.success(), "name of another network resolved");
    // A user network reaches the outside host; an --internal one does not.
    let ok = inst.run(&[
        "run",
        "--rm",
        "--network",
        "front15",
        "busybox",
        "ping",
        "-c1",
        "-W2",
        &outside.ip,
    ]);
    assert!(ok.status.success(), "{}", text(&ok));
    let blocked = inst.run(&[
        "run",
        "--rm",
        "--network",
        "int15",
        "busybox",
        "ping",
        "-c1",
        "-W1",
        &outside.ip,
    ]);
    assert!(
        !blocked.status.success(),
        "--internal network reached the outside"
    );

    // --ip on a user network; inspect shows the network.
    let out = inst.ok(&[
        "run",
        "--rm",
        "--network",
        "back15",
        "--ip",
        "10.215.2.77",
        "busybox",
        "ip",
        "-o",
        "-4",
        "addr",
        "show",
        "eth0",
    ]);
    assert!(out.contains("10.215.2.77/24"), "{out}");
    let v: serde_json::Value =
        serde_json::from_str(&inst.ok(&["network", "inspect", "front15"])).unwrap();
    assert_eq!(v[0]["IPAM"]["Config"][0]["Subnet"], "10.215.1.0/24");
    assert_eq!(v[0]["Containers"].as_object().map(|m| m.len()), Some(1));

    // A network in use cannot be removed; once free it can.
    let out = inst.run(&["network", "rm", "back15"]);
    assert!(!out.status.success());
    inst.ok(&["rm", "-f", "db15"]);
    inst.ok(&["network", "rm", "back15"]);
    assert!(!inst.ok(&["network", "ls"]).contains("back15"));
}

/// This instance's part of the host: its bridge's ports (veths), the routes through its
/// bridge, its nft table and its allocations (other tests run in parallel on the same host).
fn host_snapshot(inst: &Instance) -> (String, String, String, Vec<String>) {
    let br = default_bridge(inst);
    let links: String = sh_ok(&["ip", "-o", "link", "show", "master", &br])
        .lines()
        .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string() + "\n")
        .collect();
    let routes =
        sh_ok(&["ip", "route", "show", "table", "all", "dev", &br]).replace(" linkdown", "");
    let table = sh(&["nft", "list", "table", "inet", &inst.prefix()]);
    let endpoints: Vec<String> = std::fs::read_dir(inst.root().join("network/endpoints"))
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    (links, routes, text(&table), endpoints)
}

#[test]
fn rm_restores_the_host() {
    let inst = instance(r#"{"bip": "10.216.0.1/24"}"#);
    // The first run creates the default bridge (it stays, like docker0).
    inst.ok(&["run", "--rm", "busybox", "true"]);
    // Its veth goes with its network namespace, in the background.
    assert!(wait_for(5, || host_snapshot(&inst).0.is_empty()));
    let before = host_snapshot(&inst);
    let id = web(&inst, &["-p", "18061:80", "-p", "18062:81/udp"]);
    let during = host_snapshot(&inst);
    assert_ne!(before, during, "the container changed nothing on the host?");
    assert_eq!(during.3.len(), 1, "one allocation");
    inst.ok(&["rm", "-f", &id]);
    assert!(
        wait_for(5, || host_snapshot(&inst) == before),
        "host not restored:\nbefore {before:?}\nafter {:?}",
        host_snapshot(&inst)
    );
}

#[test]
fn parallel_runs_get_distinct_addresses() {
    let inst = instance(r#"{"bip": "10.217.0.1/24"}"#);
    let root = inst.root().to_path_buf();
    let handles: Vec<_> = (0..20)
        .map(|_| {
            let root = root.clone();
            std::thread::spawn(move || {
                Command::new(common::ebrun_bin())
                    .arg("--root")
                    .arg(&root)
                    .args(["run", "-d", "busybox", "sleep", "60"])
                    .output()
                    .unwrap()
            })
        })
        .collect();
    for h in handles {
        let out = h.join().unwrap();
        assert!(out.status.success(), "{}", text(&out));
    }
    let mut ips = std::collections::BTreeSet::new();
    for e in std::fs::read_dir(root.join("network/endpoints")).unwrap() {
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(e.unwrap().path()).unwrap()).unwrap();
        ips.insert(
            v["attachments"][0]["ip_address"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    assert_eq!(ips.len(), 20, "{ips:?}");
}

#[test]
fn invalid_daemon_json_names_the_key() {
    let inst = instance(r#"{"bip": "10.218.0.1/99"}"#);
    let out = inst.run(&["run", "--rm", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(text(&out).contains("\"bip\""), "{}", text(&out));
    let inst = instance(r#"{"mtu": "big"}"#);
    let out = inst.run(&["run", "--rm", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(text(&out).contains("\"mtu\""), "{}", text(&out));
    let out = inst.run(&["run", "--rm", "-p", "99999:80", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(text(&out).contains("--publish"), "{}", text(&out));
}

/// iptables' FORWARD chain with policy DROP (as Docker itself, or a firewall manager, leaves
/// it): ebrun inserts accept rules for its bridges, as Docker does, through iptables itself,
/// and removes them with its bridges. The test's first rule accepts all traffic not of this
/// test's bridge, so that only this test's traffic meets the DROP policy and parallel tests
/// are not affected.
#[test]
fn forward_policy_drop_in_iptables() {
    let Some(listing) = sh(&["iptables", "-w", "-S", "FORWARD"])
        .status
        .success()
        .then(|| sh_ok(&["iptables", "-w", "-S", "FORWARD"]))
    else {
        eprintln!("skipped: no usable iptables");
        return;
    };
    let old_policy = if listing.lines().any(|l| l == "-P FORWARD DROP") {
        "DROP"
    } else {
        "ACCEPT"
    };
    let table_existed = sh(&["nft", "list", "table", "ip", "filter"])
        .status
        .success();
    let inst = instance(r#"{"bip": "10.219.0.1/24"}"#);
    let outside = OutsideHost::new(19);
    let br = default_bridge(&inst);
    let mark = format!("ebrun-test-{}", std::process::id());
    let others = [
        "FORWARD",
        "!",
        "-i",
        &br,
        "!",
        "-o",
        &br,
        "-j",
        "ACCEPT",
        "-m",
        "comment",
        "--comment",
        &mark,
    ]
    .map(str::to_string)
    .to_vec();
    struct Restore {
        others: Vec<String>,
        old_policy: &'static str,
        table_existed: bool,
    }
    impl Drop for Restore {
        fn drop(&mut self) {
            let _ = sh(&["iptables", "-w", "-P", "FORWARD", self.old_policy]);
            let mut del = vec!["iptables", "-w", "-D"];
            del.extend(self.others.iter().map(String::as_str));
            let _ = sh(&del);
            if !self.table_existed {
                let _ = sh(&["nft", "delete", "table", "ip", "filter"]);
            }
        }
    }
    let mut ins = vec!["iptables", "-w", "-I"];
    ins.extend(others.iter().map(String::as_str));
    sh_ok(&ins);
    let _restore = Restore {
        others: others.clone(),
        old_policy,
        table_existed,
    };
    sh_ok(&["iptables", "-w", "-P", "FORWARD", "DROP"]);

    let out = inst.run(&["run", "--rm", "busybox", "ping", "-c1", "-W2", &outside.ip]);
    assert!(
        out.status.success(),
        "FORWARD DROP blocked the container: {}",
        text(&out)
    );
    let chain = sh_ok(&["iptables", "-w", "-S", "FORWARD"]);
    assert!(
        chain.contains(&format!("ebrun:{}", inst.prefix())),
        "{chain}"
    );
    web(&inst, &["-p", "18091:80"]);
    assert!(wait_for(10, || fetch(
        Some(&outside),
        &format!("http://{}:18091/", outside.host_ip)
    )
    .as_deref()
        == Some("hello")));
    inst.ok(&["system", "teardown"]);
    let chain = sh_ok(&["iptables", "-w", "-S", "FORWARD"]);
    assert!(
        !chain.contains(&format!("ebrun:{}", inst.prefix())),
        "accept rules left behind: {chain}"
    );
}

/// An ebrun killed with SIGKILL while its container runs (and the container killed too, as
/// if the machine's ebrun and container died mid-way): the allocation and the published
/// port's rule are reclaimed by the next ebrun network operation.
#[test]
fn killed_run_is_reclaimed() {
    let inst = instance(r#"{"bip": "10.220.0.1/24"}"#);
    let mut child = inst
        .command(&["run", "--rm", "-p", "18101:80", "busybox", "sleep", "60"])
        .spawn()
        .unwrap();
    let eps = inst.root().join("network/endpoints");
    let record = || -> Option<serde_json::Value> {
        let e = std::fs::read_dir(&eps).ok()?.next()?.ok()?;
        serde_json::from_slice(&std::fs::read(e.path()).ok()?).ok()
    };
    assert!(wait_for(10, || record().is_some()), "no endpoint record");
    let pid = record().unwrap()["pid"].as_i64().unwrap() as i32;
    let rule_present = || {
        sh_ok(&["nft", "list", "chain", "inet", &inst.prefix(), "published"])
            .contains("dport 18101")
    };
    // Killed only once the run is complete (its rules are in place).
    assert!(
        wait_for(10, rule_present),
        "the published port's rule never appeared"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    // SAFETY: kill(2) on the container's init, a process this test started.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    assert!(wait_for(5, || std::fs::metadata(format!("/proc/{pid}")).is_err()));
    assert!(
        rule_present(),
        "the rule should still be there before any ebrun runs"
    );
    inst.ok(&["run", "--rm", "busybox", "true"]);
    assert!(!rule_present(), "stale rule not reclaimed");
    assert!(record().is_none(), "stale allocation not reclaimed");
}

/// Sends a UDP datagram "forged" from inside container `id`, crafted by hand on its eth0
/// (AF_PACKET, to the bridge's MAC) with IPv6 destination `dst`, port `port`; returns what a
/// host socket bound to `bind`:`port` received within 2 s. Runs the host's python3 in the
/// container's network namespace.
fn forge_udp_from(inst: &Instance, id: &str, dst: &str, bind: &str, port: u16) -> Option<String> {
    const FORGE: &str = r#"
import socket, struct, sys
ifname, dst_mac, dst_ip, port = sys.argv[1:5]
src_mac = open('/sys/class/net/%s/address' % ifname).read().strip()
src_ip = [l.split()[0] for l in open('/proc/net/if_inet6') if l.split()[5] == ifname
          and not l.startswith('fe80')][0]
src_ip = ':'.join(src_ip[i:i + 4] for i in range(0, 32, 4))
mac = lambda m: bytes(int(x, 16) for x in m.split(':'))
src = socket.inet_pton(socket.AF_INET6, src_ip); dst = socket.inet_pton(socket.AF_INET6, dst_ip)
payload = b'forged'; ulen = 8 + len(payload)
def csum(d):
    d += bytes(len(d) % 2)
    s = sum(struct.unpack('!%dH' % (len(d) // 2), d))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff or 0xffff
udp = struct.pack('!HHHH', 40000, int(port), ulen, 0) + payload
udp = udp[:6] + struct.pack('!H', csum(src + dst + struct.pack('!I3xB', ulen, 17) + udp)) + udp[8:]
ip6 = struct.pack('!IHBB', 6 << 28, ulen, 17, 64) + src + dst
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW); s.bind((ifname, 0))
for _ in range(3): s.send(mac(dst_mac) + mac(src_mac) + b'\x86\xdd' + ip6 + udp)
"#;
    let listener = std::net::UdpSocket::bind((bind.parse::<std::net::Ipv6Addr>().unwrap(), port))
        .expect("bind the host's UDP socket");
    listener
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let pid = inst.ok(&["inspect", "-f", "{{.State.Pid}}", id]);
    let bridge_mac =
        std::fs::read_to_string(format!("/sys/class/net/{}/address", default_bridge(inst)))
            .unwrap();
    sh_ok(&[
        "nsenter",
        "-t",
        pid.trim(),
        "-n",
        "python3",
        "-c",
        FORGE,
        "eth0",
        bridge_mac.trim(),
        dst,
        &port.to_string(),
    ]);
    let mut buf = [0u8; 100];
    let n = listener.recv(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

#[test]
fn ipv6_addresses_published_ports_and_masquerade() {
    let ula = ula48();
    let inst = instance(&format!(
        r#"{{"bip": "10.221.0.1/24", "ipv6": true, "fixed-cidr-v6": "{ula}:1::/64"}}"#
    ));
    let outside = OutsideHost::new(16);
    let (host6, out6) = outside.add_v6(&format!("{ula}:99"));
    let tmp = tempfile::tempdir().unwrap();
    let _server = Reaped(outside.serve_client_address(8016, tmp.path()));
    let url = format!("http://[{out6}]:8016/cgi-bin/ip");
    assert!(
        wait_for(10, || fetch(None, &url).is_some()),
        "outside server not up on IPv6"
    );

    // The container has an IPv6 address, the bridge's as gateway and a default route.
    let inside = inst.ok(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "ip -6 addr show eth0; ip -6 route",
    ]);
    assert!(inside.contains(&format!("inet6 {ula}:1::2/64")), "{inside}");
    assert!(
        inside.contains(&format!("default via {ula}:1::1 dev eth0")),
        "{inside}"
    );

    // Outbound over IPv6: the outside host sees the host's address (ip6 masquerade).
    let seen = inst.ok(&["run", "--rm", "busybox", "wget", "-q", "-O", "-", &url]);
    assert_eq!(seen.trim(), format!("[{host6}]"), "not masqueraded");

    // A published port answers on both families: from the outside host over IPv6 and
    // IPv4, and from the host on its IPv6 address.
    let id = web(&inst, &["-p", "18016:80"]);
    let url6 = format!("http://[{host6}]:18016/");
    assert!(
        wait_for(10, || fetch(Some(&outside), &url6).as_deref()
            == Some("hello")),
        "published port from the outside host over IPv6"
    );
    assert_eq!(
        fetch(
            Some(&outside),
            &format!("http://{}:18016/", outside.host_ip)
        )
        .as_deref(),
        Some("hello")
    );
    assert_eq!(fetch(None, &url6).as_deref(), Some("hello"));
    // ::1 too, from the host (no proxy process: see the firewall's loopback6 chains); a
    // port published on [::1] only there.
    assert_eq!(fetch(None, "http://[::1]:18016/").as_deref(), Some("hello"));
    let local_only = web(&inst, &["-p", "[::1]:18017:80"]);
    assert!(
        wait_for(10, || fetch(None, "http://[::1]:18017/").as_deref()
            == Some("hello")),
        "port published on [::1] from the host"
    );
    assert_eq!(fetch(None, &format!("http://[{host6}]:18017/")), None);
    assert_eq!(
        fetch(Some(&outside), &format!("http://[{host6}]:18017/")),
        None
    );
    inst.ok(&["rm", "-f", &local_only]);
    // A container forging a packet to ::1 through the bridge reaches no loopback service of
    // the host, while the same packet to the bridge's address arrives.
    assert_eq!(
        forge_udp_from(&inst, &id, &format!("{ula}:1::1"), "::", 18018),
        Some("forged".to_string()),
        "the forged packet does not even reach the host's bridge address"
    );
    assert_eq!(forge_udp_from(&inst, &id, "::1", "::1", 18019), None);

    // inspect and port show the IPv6 side.
    let settings: serde_json::Value =
        serde_json::from_str(&inst.ok(&["inspect", "-f", "{{json .NetworkSettings}}", &id]))
            .unwrap();
    let addr6 = settings["GlobalIPv6Address"].as_str().unwrap_or("");
    assert!(addr6.starts_with(&format!("{ula}:1::")), "{settings}");
    assert_eq!(settings["GlobalIPv6PrefixLen"], 64, "{settings}");
    assert_eq!(settings["IPv6Gateway"], format!("{ula}:1::1"), "{settings}");
    let net = &settings["Networks"]["bridge"];
    assert_eq!(net["GlobalIPv6Address"], addr6, "{settings}");
    assert_eq!(net["IPv6Gateway"], format!("{ula}:1::1"), "{settings}");
    let ports = inst.ok(&["port", &id]);
    assert!(
        ports.contains("80/tcp -> [::]:18016") || ports.contains("80/tcp -> :::18016"),
        "{ports}"
    );

    // A user network with --ipv6 and an IPv6 subnet: addresses, --ip6 and the way out.
    inst.ok(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        "10.216.1.0/24",
        "--subnet",
        &format!("{ula}:2::/64"),
        "v6net16",
    ]);
    let out = inst.ok(&[
        "run",
        "--rm",
        "--network",
        "v6net16",
        "--ip6",
        &format!("{ula}:2::77"),
        "busybox",
        "sh",
        "-c",
        &format!("ip -6 addr show eth0; wget -q -O - {url}"),
    ]);
    assert!(out.contains(&format!("inet6 {ula}:2::77/64")), "{out}");
    assert!(out.contains(&format!("[{host6}]")), "{out}");
    let v: serde_json::Value =
        serde_json::from_str(&inst.ok(&["network", "inspect", "v6net16"])).unwrap();
    assert_eq!(v[0]["EnableIPv6"], true, "{v}");
    let subnets: Vec<&str> = v[0]["IPAM"]["Config"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["Subnet"].as_str())
        .collect();
    assert!(subnets.contains(&format!("{ula}:2::/64").as_str()), "{v}");
    inst.ok(&["rm", "-f", &id]);
    inst.ok(&["network", "rm", "v6net16"]);
}

#[test]
fn add_host_gateway_and_sctp_ports() {
    let inst = instance(r#"{"bip": "10.217.0.1/24"}"#);
    // host-gateway: the default bridge's address, on any network.
    let hosts = inst.ok(&[
        "run",
        "--rm",
        "--add-host",
        "host.docker.internal:host-gateway",
        "busybox",
        "cat",
        "/etc/hosts",
    ]);
    assert!(
        hosts.contains("10.217.0.1\thost.docker.internal\n"),
        "{hosts}"
    );
    inst.ok(&["network", "create", "--subnet", "10.217.1.0/24", "user17"]);
    let hosts = inst.ok(&[
        "run",
        "--rm",
        "--network",
        "user17",
        "--add-host",
        "gw:host-gateway",
        "busybox",
        "cat",
        "/etc/hosts",
    ]);
    assert!(hosts.contains("10.217.0.1\tgw\n"), "{hosts}");
    inst.ok(&["network", "rm", "user17"]);
    // daemon.json's host-gateway-ip wins.
    std::fs::write(
        inst.root().join("daemon.json"),
        r#"{"bip": "10.217.0.1/24", "host-gateway-ip": "10.217.0.254"}"#,
    )
    .unwrap();
    let hosts = inst.ok(&[
        "run",
        "--rm",
        "--add-host",
        "gw:host-gateway",
        "busybox",
        "cat",
        "/etc/hosts",
    ]);
    assert!(hosts.contains("10.217.0.254\tgw\n"), "{hosts}");
    let out = inst.run(&["run", "--rm", "--add-host", "gw:gateway", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(text(&out).contains("host-gateway"), "{}", text(&out));

    // -p .../sctp: published (DNAT rule for SCTP), shown by port and ps.
    let id = inst
        .ok(&["run", "-d", "-p", "18031:9/sctp", "busybox", "sleep", "60"])
        .trim()
        .to_string();
    assert_eq!(
        inst.ok(&["port", &id, "9/sctp"]).lines().next(),
        Some("0.0.0.0:18031")
    );
    assert!(inst.ok(&["ps"]).contains("0.0.0.0:18031->9/sctp"));
    let rules = sh_ok(&["nft", "list", "table", "inet", &inst.prefix()]);
    assert!(
        rules.contains("sctp dport 18031 dnat ip to 10.217.0.") && rules.contains(":9 comment"),
        "{rules}"
    );
    let out = inst.run(&["run", "--rm", "-p", "9/sctpx", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(text(&out).contains("tcp, udp, sctp"), "{}", text(&out));
    inst.ok(&["rm", "-f", &id]);
}

/// The interface names and IPv4 addresses inside a running container (`eth0 10.0.0.2/24`).
fn inside_v4(inst: &Instance, id: &str) -> Vec<String> {
    inst.ok(&["exec", id, "ip", "-o", "-4", "addr", "show"])
        .lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w.len() > 3 && w[1] != "lo").then(|| format!("{} {}", w[1], w[3]))
        })
        .collect()
}

#[test]
fn connect_and_disconnect_a_stopped_container() {
    let inst = instance(r#"{"bip": "10.218.0.1/24"}"#);
    inst.ok(&["network", "create", "--subnet", "10.218.1.0/24", "net18"]);
    inst.ok(&["network", "create", "--subnet", "10.218.2.0/24", "live18"]);
    let id = inst
        .ok(&["run", "-d", "--name", "c18", "busybox", "sleep", "600"])
        .trim()
        .to_string();
    assert_eq!(inside_v4(&inst, &id), vec!["eth0 10.218.0.2/24"]);
    inst.ok(&["stop", "-t", "0", "c18"]);

    // Connected while stopped: recorded, attached at start as the second interface.
    inst.ok(&["network", "connect", "--ip", "10.218.1.50", "net18", "c18"]);
    let out = inst.run(&["network", "connect", "net18", "c18"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("already exists in network net18"),
        "{}",
        text(&out)
    );
    inst.ok(&["start", "c18"]);
    assert_eq!(
        inside_v4(&inst, &id),
        vec!["eth0 10.218.0.2/24", "eth1 10.218.1.50/24"]
    );
    // A running connect is recorded too: it survives a restart.
    inst.ok(&["network", "connect", "live18", "c18"]);
    inst.ok(&["restart", "-t", "0", "c18"]);
    assert_eq!(
        inside_v4(&inst, &id),
        vec![
            "eth0 10.218.0.2/24",
            "eth1 10.218.1.50/24",
            "eth2 10.218.2.2/24"
        ]
    );
    inst.ok(&["network", "disconnect", "live18", "c18"]);
    inst.ok(&["stop", "-t", "0", "c18"]);

    // Disconnected from its --network while stopped: net18 becomes eth0 with the route.
    inst.ok(&["network", "disconnect", "bridge", "c18"]);
    inst.ok(&["start", "c18"]);
    assert_eq!(inside_v4(&inst, &id), vec!["eth0 10.218.1.50/24"]);
    let routes = inst.ok(&["exec", "c18", "ip", "route"]);
    assert!(
        routes.contains("default via 10.218.1.1 dev eth0"),
        "{routes}"
    );
    inst.ok(&["stop", "-t", "0", "c18"]);

    // From every network: only lo.
    inst.ok(&["network", "disconnect", "net18", "c18"]);
    let out = inst.run(&["network", "disconnect", "net18", "c18"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("is not connected to network net18"),
        "{}",
        text(&out)
    );
    let out = inst.run(&["network", "connect", "nosuchnet18", "c18"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("nosuchnet18 not found"),
        "{}",
        text(&out)
    );
    inst.ok(&["start", "c18"]);
    assert!(inside_v4(&inst, &id).is_empty());
    inst.ok(&["rm", "-f", "c18"]);
    inst.ok(&["network", "rm", "net18", "live18"]);
}
