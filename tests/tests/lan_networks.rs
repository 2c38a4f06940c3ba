//! macvlan and ipvlan networks (`network create -d macvlan|ipvlan -o parent=IF[.VLAN]`):
//! containers with their own address on the parent's LAN. The LAN is a dummy interface this
//! test creates, and the "other machine" on it a network namespace of the test's own holding
//! a macvlan (or ipvlan) of the same dummy; they ping each other both ways. Docker's checks
//! and messages, static addresses, `--ip-range` and `--aux-address`, an 802.1q
//! sub-interface created and removed with its network, and nothing left after `network rm`.
//!
//! Addresses: 10.249.21.0/24 to 10.249.25.0/24, on links and namespaces the test creates.

use ebrun_tests::common::{sh, sh_ok, text, Instance};

fn link_exists(name: &str) -> bool {
    std::path::Path::new("/sys/class/net").join(name).exists()
}

/// Whether the kernel has link type `kind` (this development kernel has macvlan but neither
/// dummy, ipvlan nor 802.1q VLANs): probed on a veth pair of the test's own.
fn kernel_has(kind: &str) -> bool {
    let (a, b) = (format!("ebtpr{}", std::process::id() % 10000), "ebtprobe-p");
    let _ = sh(&["ip", "link", "del", &a]);
    sh_ok(&["ip", "link", "add", &a, "type", "veth", "peer", "name", b]);
    let args: Vec<&str> = match kind {
        "dummy" => vec!["ip", "link", "add", "ebtprobe-d", "type", "dummy"],
        "vlan" => vec![
            "ip",
            "link",
            "add",
            "link",
            &a,
            "name",
            "ebtprobe-v",
            "type",
            "vlan",
            "id",
            "9",
        ],
        _ => vec!["ip", "link", "add", "ebtprobe-i", "link", &a, "type", kind],
    };
    let ok = sh(&args).status.success();
    let _ = sh(&["ip", "link", "del", "ebtprobe-d"]);
    let _ = sh(&["ip", "link", "del", &a]);
    if !ok {
        eprintln!("SKIPPED: this kernel has no {kind} links");
    }
    ok
}

/// A LAN: a veth pair of the test's own, both ends up (a dummy interface where the kernel
/// has them would do as well), and the namespaces of the other machines on it. Everything
/// is deleted on drop.
struct Lan {
    dummy: String,
    peers: Vec<String>,
}

impl Lan {
    fn new(dummy: &str) -> Self {
        let other = format!("{dummy}x");
        let _ = sh(&["ip", "link", "del", dummy]);
        sh_ok(&[
            "ip", "link", "add", dummy, "type", "veth", "peer", "name", &other,
        ]);
        sh_ok(&["ip", "link", "set", dummy, "up"]);
        sh_ok(&["ip", "link", "set", &other, "up"]);
        Lan {
            dummy: dummy.to_string(),
            peers: Vec::new(),
        }
    }

    /// Another machine on `lower` (the dummy or one of its VLANs): a namespace holding a
    /// child link of `lower` (`macvlan mode bridge` or `ipvlan mode l2|l3`) with `cidr`.
    fn peer(&mut self, lower: &str, kind: &[&str], cidr: &str) -> String {
        let ns = format!("ebrun-lanpeer{}-{}", self.peers.len(), std::process::id());
        let _ = sh(&["ip", "netns", "del", &ns]);
        sh_ok(&["ip", "netns", "add", &ns]);
        self.peers.push(ns.clone());
        let child = format!(
            "ebtp{}{}",
            self.peers.len(),
            &self.dummy[self.dummy.len() - 2..]
        );
        let mut add = vec!["ip", "link", "add", &child, "link", lower, "type"];
        add.extend_from_slice(kind);
        sh_ok(&add);
        sh_ok(&["ip", "link", "set", &child, "netns", &ns]);
        let exec = |args: &[&str]| {
            let mut full = vec!["ip", "netns", "exec", &ns];
            full.extend_from_slice(args);
            sh_ok(&full);
        };
        exec(&["ip", "addr", "add", cidr, "dev", &child]);
        exec(&["ip", "link", "set", &child, "up"]);
        exec(&["ip", "link", "set", "lo", "up"]);
        ns
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        for ns in &self.peers {
            let _ = sh(&["ip", "netns", "del", ns]);
        }
        let _ = sh(&["ip", "link", "del", &self.dummy]);
    }
}

/// The links of the host whose lower device is `lower`, but for the other end of its veth.
fn children_of(lower: &str) -> Vec<String> {
    sh_ok(&["ip", "-o", "link", "show"])
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .filter(|name| name.ends_with(&format!("@{lower}")) && *name != format!("{lower}x@{lower}"))
        .map(str::to_string)
        .collect()
}

fn ping_from_ns(ns: &str, ip: &str) -> bool {
    sh(&[
        "ip", "netns", "exec", ns, "busybox", "ping", "-c1", "-W2", ip,
    ])
    .status
    .success()
}

fn ping_from(inst: &Instance, container: &str, ip: &str) -> bool {
    inst.run(&["exec", container, "ping", "-c1", "-W2", ip])
        .status
        .success()
}

fn ipv4_of(inst: &Instance, container: &str) -> String {
    inst.ok(&[
        "inspect",
        "-f",
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
        container,
    ])
    .trim()
    .to_string()
}

fn as_strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn refused(inst: &Instance, args: &[&str], message: &str) {
    let out = inst.run(args);
    assert!(!out.status.success(), "{args:?} was accepted");
    assert!(text(&out).contains(message), "{args:?}: {}", text(&out));
}

#[test]
fn macvlan_on_a_lan_and_a_vlan() {
    let inst = Instance::with_busybox();
    let mut lan = Lan::new("ebtlan21");
    let peer = lan.peer(
        "ebtlan21",
        &["macvlan", "mode", "bridge"],
        "10.249.21.200/24",
    );

    // Docker's checks.
    let create = ["network", "create", "-d", "macvlan"];
    let with = |extra: &[&str]| -> Vec<String> {
        create.iter().chain(extra).map(|s| s.to_string()).collect()
    };
    let bad_mode = with(&[
        "--subnet",
        "10.249.21.0/24",
        "-o",
        "parent=ebtlan21",
        "-o",
        "macvlan_mode=nope",
        "x",
    ]);
    refused(
        &inst,
        &as_strs(&bad_mode),
        "requested macvlan mode 'nope' is not valid, 'bridge' mode is the macvlan driver default",
    );
    let no_parent = with(&["--subnet", "10.249.21.0/24", "-o", "parent=ebtnosuch0", "x"]);
    refused(
        &inst,
        &as_strs(&no_parent),
        "-o parent interface was not found on the host: ebtnosuch0",
    );
    let bad_vlan = with(&[
        "--subnet",
        "10.249.21.0/24",
        "-o",
        "parent=ebtlan21.5000",
        "x",
    ]);
    refused(
        &inst,
        &as_strs(&bad_vlan),
        "vlan id out of range: 5000, it must be from 1-4094",
    );
    let bad_aux = with(&[
        "--subnet",
        "10.249.21.0/24",
        "--aux-address",
        "r=10.249.99.1",
        "-o",
        "parent=ebtlan21",
        "x",
    ]);
    refused(
        &inst,
        &as_strs(&bad_aux),
        "no matching subnet for aux-address 10.249.99.1",
    );
    assert!(!inst.ok(&["network", "ls"]).contains(" x "));

    let good = with(&[
        "--subnet",
        "10.249.21.0/24",
        "--gateway",
        "10.249.21.1",
        "--ip-range",
        "10.249.21.64/26",
        "--aux-address",
        "router2=10.249.21.64",
        "-o",
        "parent=ebtlan21",
        "lan21",
    ]);
    inst.ok(&as_strs(&good));
    let again = with(&[
        "--subnet",
        "10.249.22.0/24",
        "-o",
        "parent=ebtlan21",
        "lan21b",
    ]);
    refused(
        &inst,
        &as_strs(&again),
        "network lan21 is already using parent interface ebtlan21",
    );
    let v: serde_json::Value =
        serde_json::from_str(&inst.ok(&["network", "inspect", "lan21"])).unwrap();
    assert_eq!(v[0]["Driver"], "macvlan");
    assert_eq!(v[0]["Options"]["parent"], "ebtlan21");

    // The first address of the range after the aux address; a static one with --ip.
    inst.ok(&[
        "run",
        "-d",
        "--name",
        "m1",
        "--network",
        "lan21",
        "busybox",
        "sleep",
        "300",
    ]);
    inst.ok(&[
        "run",
        "-d",
        "--name",
        "m2",
        "--network",
        "lan21",
        "--ip",
        "10.249.21.10",
        "busybox",
        "sleep",
        "300",
    ]);
    assert_eq!(ipv4_of(&inst, "m1"), "10.249.21.65");
    assert_eq!(ipv4_of(&inst, "m2"), "10.249.21.10");
    let route = inst.ok(&["exec", "m1", "ip", "route"]);
    assert!(
        route.contains("default via 10.249.21.1 dev eth0"),
        "{route}"
    );
    // The LAN's other machine and the containers reach each other, both ways.
    assert!(ping_from(&inst, "m1", "10.249.21.200"), "container -> peer");
    assert!(ping_from_ns(&peer, "10.249.21.65"), "peer -> container");
    assert!(
        ping_from_ns(&peer, "10.249.21.10"),
        "peer -> static container"
    );
    // Names on a macvlan network come from the same embedded DNS.
    let out = inst.ok(&[
        "exec",
        "m2",
        "sh",
        "-c",
        "ping -c1 -W2 m1 >/dev/null && echo ok",
    ]);
    assert_eq!(out.trim(), "ok");

    // A VLAN of the LAN: the sub-interface is created with the network and removed with
    // it; a peer on the same VLAN is reached.
    let vlans = kernel_has("vlan");
    if vlans {
        inst.ok(&[
            "network",
            "create",
            "-d",
            "macvlan",
            "--subnet",
            "10.249.22.0/24",
            "-o",
            "parent=ebtlan21.42",
            "vlan42",
        ]);
        assert!(link_exists("ebtlan21.42"));
        let vpeer = lan.peer(
            "ebtlan21.42",
            &["macvlan", "mode", "bridge"],
            "10.249.22.200/24",
        );
        inst.ok(&[
            "run",
            "-d",
            "--name",
            "v1",
            "--network",
            "vlan42",
            "busybox",
            "sleep",
            "300",
        ]);
        let v1 = ipv4_of(&inst, "v1");
        assert!(
            ping_from(&inst, "v1", "10.249.22.200"),
            "VLAN container -> peer"
        );
        assert!(ping_from_ns(&vpeer, &v1), "VLAN peer -> container");
        // Not across VLANs.
        assert!(!ping_from(&inst, "v1", "10.249.21.200"));
        refused(&inst, &["network", "rm", "vlan42"], "has active endpoints");
        inst.ok(&["rm", "-f", "v1"]);
        inst.ok(&["network", "rm", "vlan42"]);
        assert!(
            !link_exists("ebtlan21.42"),
            "the VLAN sub-interface outlived its network"
        );
    } else {
        // The kernel cannot make the sub-interface: a clear error, nothing recorded.
        let out = inst.run(&[
            "network",
            "create",
            "-d",
            "macvlan",
            "--subnet",
            "10.249.22.0/24",
            "-o",
            "parent=ebtlan21.42",
            "vlan42",
        ]);
        assert!(!out.status.success());
        assert!(text(&out).contains("VLAN sub-interface"), "{}", text(&out));
        assert!(!inst.ok(&["network", "ls"]).contains("vlan42"));
    }
    refused(&inst, &["network", "rm", "lan21"], "has active endpoints");
    inst.ok(&["rm", "-f", "m1", "m2"]);
    inst.ok(&["network", "rm", "lan21"]);
    // The user's parent stays, with no child link of ebrun's left on the host.
    assert!(link_exists("ebtlan21"));
    assert_eq!(children_of("ebtlan21"), Vec::<String>::new());

    // Without a parent: a dummy link of the network's own, internal, gone with it.
    if !kernel_has("dummy") {
        return;
    }
    let id = inst.ok(&[
        "network",
        "create",
        "-d",
        "macvlan",
        "--subnet",
        "10.249.25.0/24",
        "noparent",
    ]);
    let dm = format!("dm-{}", &id.trim()[..12]);
    assert!(link_exists(&dm));
    let v: serde_json::Value =
        serde_json::from_str(&inst.ok(&["network", "inspect", "noparent"])).unwrap();
    assert_eq!(v[0]["Internal"], true);
    inst.ok(&["network", "rm", "noparent"]);
    assert!(!link_exists(&dm));
}

#[test]
fn ipvlan_l2_and_l3() {
    if !kernel_has("ipvlan") {
        return;
    }
    let inst = Instance::with_busybox();
    let mut lan = Lan::new("ebtlan23");
    let peer = lan.peer("ebtlan23", &["ipvlan", "mode", "l2"], "10.249.23.200/24");
    refused(
        &inst,
        &[
            "network",
            "create",
            "-d",
            "ipvlan",
            "--subnet",
            "10.249.23.0/24",
            "-o",
            "parent=ebtlan23",
            "-o",
            "ipvlan_mode=l4",
            "x",
        ],
        "requested ipvlan mode 'l4' is not valid, 'l2' mode is the ipvlan driver default",
    );
    inst.ok(&[
        "network",
        "create",
        "-d",
        "ipvlan",
        "--subnet",
        "10.249.23.0/24",
        "-o",
        "parent=ebtlan23",
        "-o",
        "ipvlan_mode=l2",
        "ipl2",
    ]);
    inst.ok(&[
        "run",
        "-d",
        "--name",
        "i1",
        "--network",
        "ipl2",
        "--ip",
        "10.249.23.5",
        "busybox",
        "sleep",
        "300",
    ]);
    assert!(ping_from(&inst, "i1", "10.249.23.200"), "container -> peer");
    assert!(ping_from_ns(&peer, "10.249.23.5"), "peer -> container");
    // An ipvlan child has its parent's MAC.
    let mac = inst.ok(&["exec", "i1", "cat", "/sys/class/net/eth0/address"]);
    let parent_mac = std::fs::read_to_string("/sys/class/net/ebtlan23/address").unwrap();
    assert_eq!(mac.trim(), parent_mac.trim());
    inst.ok(&["rm", "-f", "i1"]);
    inst.ok(&["network", "rm", "ipl2"]);

    // l3: the default route goes through the interface itself.
    inst.ok(&[
        "network",
        "create",
        "-d",
        "ipvlan",
        "--subnet",
        "10.249.24.0/24",
        "-o",
        "parent=ebtlan23",
        "-o",
        "ipvlan_mode=l3",
        "ipl3",
    ]);
    inst.ok(&[
        "run",
        "-d",
        "--name",
        "i3",
        "--network",
        "ipl3",
        "busybox",
        "sleep",
        "300",
    ]);
    let route = inst.ok(&["exec", "i3", "ip", "route"]);
    assert!(route.contains("default dev eth0"), "{route}");
    inst.ok(&["rm", "-f", "i3"]);
    inst.ok(&["network", "rm", "ipl3"]);
    assert_eq!(children_of("ebtlan23"), Vec::<String>::new());
}
