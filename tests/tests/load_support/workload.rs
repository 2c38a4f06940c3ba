//! The load: detached containers in four roles, a quarter each. Web servers (busybox httpd on
//! a published loopback port, serving a 64 KiB page), clients fetching from those servers
//! over the instance's bridge in a loop, CPU spinners under a small CPU quota, and memory
//! holders (16 MiB of anonymous memory plus page cache churn, well inside their limit).
//! And the OOM storm: containers that wait at a gate, then all outgrow their limit at once.

use std::time::{Duration, Instant};

use ebrun_tests::common::Instance;
use ebrun_tests::serve_support::wait_running;

/// The default bridge's address: the first 10.N.0.1/24 (N from 230) that no address or
/// route of the host is in (ebrun instances outside the tests' lock may hold some).
pub fn free_bip() -> (String, String) {
    let mut taken = String::new();
    for args in [
        &["-o", "-4", "addr", "show"][..],
        &["-4", "route", "show", "table", "all"],
    ] {
        let out = std::process::Command::new("ip")
            .args(args)
            .output()
            .expect("ip");
        taken.push_str(&String::from_utf8_lossy(&out.stdout));
    }
    (230..=254)
        .map(|n| format!("10.{n}.0."))
        .find(|net| !taken.contains(net.as_str()))
        .map(|net| (format!("{net}1/24"), format!("{net}1")))
        .expect("a free 10.N.0.0/24 for the bridge")
}
/// Bytes of the page every web container serves.
pub const PAGE_BYTES: usize = 65536;
/// CPU quota of a spinner (`--cpus`): 25 spinners of 100 containers take one core.
pub const SPINNER_CPUS: &str = "0.04";
/// The OOM storm's memory limit.
pub const STORM_LIMIT: &str = "32m";

/// What a load container does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Web,
    Client,
    Cpu,
    Memory,
}

impl Role {
    fn of(i: usize) -> Role {
        [Role::Web, Role::Client, Role::Cpu, Role::Memory][i % 4]
    }
}

/// One running load container.
#[derive(Debug, Clone)]
pub struct LoadContainer {
    pub name: String,
    pub id: String,
    pub role: Role,
    /// The host port (on 127.0.0.1) of a web container's port 80.
    pub host_port: Option<u16>,
}

const WEB: &str = "mkdir -p /www && head -c 65536 /dev/zero > /www/index.html \
                   && exec httpd -f -p 80 -h /www";

/// Doubles a 16-byte string 20 times (16 MiB) and keeps it, rewriting 8 MiB of page cache
/// every two seconds.
const MEMORY: &str = "x=0123456789abcdef; i=0; while [ $i -lt 20 ]; do x=$x$x; i=$((i+1)); done; \
                      while :; do dd if=/dev/zero of=/tmp/f bs=1M count=8 2>/dev/null; sleep 2; done";

/// A client loop fetching the page from `ip` five times a second; each failure goes to
/// the container's log (which must stay empty).
fn client_script(ip: &str) -> String {
    format!(
        "while :; do n=$(wget -q -O - http://{ip}/ | wc -c); \
         [ \"$n\" = {PAGE_BYTES} ] || echo \"fetch from {ip} failed: $n bytes\"; sleep 0.2; done"
    )
}

fn inspect_ip(inst: &Instance, name: &str) -> String {
    inst.ok(&["inspect", "-f", "{{.NetworkSettings.IPAddress}}", name])
        .trim()
        .to_string()
}

fn published_port(inst: &Instance, name: &str) -> u16 {
    let out = inst.ok(&["port", name, "80/tcp"]);
    out.lines()
        .next()
        .and_then(|l| l.rsplit_once(':'))
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or_else(|| panic!("no published port for {name}: {out:?}"))
}

/// Starts `n` load containers (web servers first, so each client has a server to fetch
/// from) and waits until each runs.
pub fn start(inst: &Instance, n: usize) -> Vec<LoadContainer> {
    let mut order: Vec<usize> = (0..n).filter(|i| Role::of(*i) == Role::Web).collect();
    order.extend((0..n).filter(|i| Role::of(*i) != Role::Web));
    let mut out: Vec<LoadContainer> = Vec::with_capacity(n);
    let mut web_ips: Vec<String> = Vec::new();
    for i in order {
        let role = Role::of(i);
        let name = format!("load-{i:03}");
        let mut args: Vec<String> = ["run", "-d", "--name", &name]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let script = match role {
            Role::Web => {
                args.extend(["-p".into(), "127.0.0.1::80".into()]);
                WEB.to_string()
            }
            Role::Client => {
                assert!(!web_ips.is_empty(), "a client without a server");
                client_script(&web_ips[(i / 4) % web_ips.len()])
            }
            Role::Cpu => {
                args.extend(["--net".into(), "none".into()]);
                args.extend(["--cpus".into(), SPINNER_CPUS.into()]);
                "while :; do :; done".to_string()
            }
            Role::Memory => {
                args.extend(["--net".into(), "none".into(), "-m".into(), "64m".into()]);
                args.extend(["--cpus".into(), "0.1".into()]);
                MEMORY.to_string()
            }
        };
        args.extend(["busybox".into(), "sh".into(), "-c".into(), script]);
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        inst.ok(&argv);
        let id = wait_running(inst, &name);
        let host_port = (role == Role::Web).then(|| published_port(inst, &name));
        if role == Role::Web {
            web_ips.push(inspect_ip(inst, &name));
        }
        out.push(LoadContainer {
            name,
            id,
            role,
            host_port,
        });
    }
    out
}

/// The OOM storm's containers, started and waiting at the gate.
pub struct Storm {
    pub ids: Vec<String>,
    gate: std::path::PathBuf,
}

/// Starts `n` containers with a small memory limit that wait until the gate file appears
/// and then double a string until the OOM killer ends them.
pub fn storm_ready(inst: &Instance, n: usize) -> Storm {
    let dir = inst.root().join("storm-gate");
    std::fs::create_dir_all(&dir).expect("gate dir");
    let mount = format!("{}:/gate:ro", dir.display());
    let script = "while [ ! -e /gate/go ]; do sleep 0.05; done; \
                  x=0123456789abcdef; while :; do x=$x$x; done";
    let names: Vec<String> = (0..n).map(|i| format!("storm-{i:02}")).collect();
    // Started all at once, each by its own `run -d`.
    let runs: Vec<_> = names
        .iter()
        .map(|name| {
            inst.command(&[
                "run",
                "-d",
                "--net",
                "none",
                "-m",
                STORM_LIMIT,
                "--name",
                name,
                "-v",
                &mount,
                "busybox",
                "sh",
                "-c",
                script,
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn ebrun run")
        })
        .collect();
    for (name, run) in names.iter().zip(runs) {
        let out = run.wait_with_output().expect("wait for ebrun run");
        assert!(
            out.status.success(),
            "run {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let ids = names.iter().map(|n| wait_running(inst, n)).collect();
    Storm { ids, gate: dir }
}

impl Storm {
    /// Opens the gate: every storm container starts allocating at once.
    pub fn release(&self) {
        std::fs::write(self.gate.join("go"), b"").expect("open the gate");
    }

    /// Waits until every storm container has exited; their exit codes and OOMKilled flags.
    pub fn wait_exited(&self, inst: &Instance, secs: u64) -> Vec<(String, i64, bool)> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let mut args = vec![
                "inspect",
                "-f",
                "{{.State.Status}} {{.State.ExitCode}} {{.State.OOMKilled}}",
            ];
            args.extend(self.ids.iter().map(String::as_str));
            let out = inst.ok(&args);
            let states: Vec<(String, i64, bool)> = out
                .lines()
                .map(|l| {
                    let f: Vec<&str> = l.split_whitespace().collect();
                    (
                        f[0].to_string(),
                        f[1].parse().unwrap_or(-1),
                        f.get(2) == Some(&"true"),
                    )
                })
                .collect();
            if states.iter().all(|(s, _, _)| s == "exited") || Instant::now() > deadline {
                return states;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}
