//! What the load test left on the host: the difference from a snapshot taken before, limited
//! to this instance's objects (ebrun runs outside the tests' lock may come and go meanwhile):
//! anything named with its prefix or root, and the veths that were ports of its bridge.

use std::process::Command;
use std::time::{Duration, Instant};

use ebrun_tests::common::snapshot::HostSnapshot;

/// The interfaces enslaved to the bridge holding address `bridge_ip` (its veths).
pub fn bridge_ports(bridge_ip: &str) -> Vec<String> {
    let out = Command::new("ip")
        .args(["-o", "-4", "addr", "show"])
        .output()
        .expect("ip addr");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let Some(bridge) = text
        .lines()
        .find(|l| l.contains(&format!(" {bridge_ip}/")))
        .and_then(|l| l.split_whitespace().nth(1))
    else {
        return Vec::new();
    };
    let out = Command::new("ip")
        .args(["-o", "link", "show", "master", bridge])
        .output()
        .expect("ip link");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap_or(n).to_string())
        .collect()
}

/// The lines of the host's difference from `before` that are this instance's, once the
/// kernel's background clean-up has had up to `secs` seconds. ebrun leaves a container's
/// host veth to go with its network namespace, and TCP sockets that outlive the container's
/// processes keep the namespace for a while (measured with 100 containers: two to four of
/// the wget clients' veths stayed for about 90 s after teardown): for veths alone the wait
/// is up to `veth_secs`.
pub fn leftovers(
    before: &HostSnapshot,
    marks: &[String],
    secs: u64,
    veth_secs: u64,
) -> Vec<String> {
    let started = Instant::now();
    loop {
        let ours: Vec<String> = HostSnapshot::take()
            .diff(before)
            .into_iter()
            .filter(|l| l.starts_with('+') && marks.iter().any(|m| l.contains(m.as_str())))
            .collect();
        let only_veths = ours.iter().all(|l| l.starts_with("+ link: veth"));
        let limit = Duration::from_secs(if only_veths { veth_secs } else { secs });
        if ours.is_empty() {
            eprintln!("load: host clean {:.1?} after teardown", started.elapsed());
            return ours;
        }
        if started.elapsed() > limit {
            return ours;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}
