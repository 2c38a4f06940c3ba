//! A snapshot of everything on the host that ebrun could leave behind: links, addresses,
//! routes, the whole nft ruleset, mounts, cgroup directories (v1 and v2), bpffs pins and
//! loaded BPF programs, files under /run, and ebrun processes. Two snapshots taken around
//! an operation are equal when it left nothing behind.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// The host state, as sorted lines per kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostSnapshot {
    pub kinds: Vec<(&'static str, BTreeSet<String>)>,
}

fn lines(cmd: &mut Command) -> BTreeSet<String> {
    let out = cmd.output().map(|o| o.stdout).unwrap_or_default();
    String::from_utf8_lossy(&out)
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

fn walk(dir: &Path, depth: usize, out: &mut BTreeSet<String>, dirs_only: bool) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.filter_map(Result::ok) {
        let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
        if is_dir || !dirs_only {
            out.insert(e.path().display().to_string());
        }
        if is_dir && depth > 1 {
            walk(&e.path(), depth - 1, out, dirs_only);
        }
    }
}

/// Lines of `nft list ruleset` without the counters' changing numbers.
fn nft_ruleset() -> BTreeSet<String> {
    lines(Command::new("nft").args(["list", "ruleset"]))
        .into_iter()
        .map(|l| {
            let mut words: Vec<&str> = l.split_whitespace().collect();
            while let Some(i) = words.iter().position(|w| *w == "packets") {
                words.drain(i..(i + 4).min(words.len()));
            }
            words.join(" ")
        })
        .collect()
}

impl HostSnapshot {
    /// Takes a snapshot now.
    pub fn take() -> HostSnapshot {
        let links: BTreeSet<String> = lines(Command::new("ip").args(["-o", "link", "show"]))
            .into_iter()
            .filter_map(|l| {
                l.split(": ")
                    .nth(1)
                    .map(|n| n.split('@').next().unwrap_or(n).to_string())
            })
            .collect();
        let addresses = lines(Command::new("ip").args(["-o", "addr", "show"]))
            .into_iter()
            .map(|l| {
                l.split_whitespace()
                    .skip(1)
                    .take(3)
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        let mut routes = lines(Command::new("ip").args(["route", "show", "table", "all"]));
        routes.extend(lines(
            Command::new("ip").args(["-6", "route", "show", "table", "all"]),
        ));
        // A bridge's carrier comes and goes with its ports: link-local routes and the
        // "linkdown" flag follow it, and say nothing about what was left behind.
        let routes: BTreeSet<String> = routes
            .into_iter()
            .filter(|r| !r.contains("fe80:") && !r.contains("ff00::"))
            .map(|r| r.replace(" linkdown", ""))
            .collect();
        let mounts = std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split(' ').collect();
                let sep = f.iter().position(|x| *x == "-")?;
                Some(format!("{} {}", f[4], f.get(sep + 1)?))
            })
            .collect();
        let mut cgroups = BTreeSet::new();
        for base in super::cgroup_bases() {
            walk(&base, 3, &mut cgroups, true);
        }
        let mut bpffs = BTreeSet::new();
        walk(Path::new("/sys/fs/bpf"), 6, &mut bpffs, false);
        let programs: BTreeSet<String> = {
            let mut counts = std::collections::BTreeMap::<String, usize>::new();
            for l in lines(Command::new("bpftool").args(["prog", "show"])) {
                if let Some(name) = l.split_whitespace().skip_while(|w| *w != "name").nth(1) {
                    *counts.entry(name.to_string()).or_default() += 1;
                }
            }
            counts
                .into_iter()
                .map(|(n, c)| format!("{n} x{c}"))
                .collect()
        };
        let mut run = BTreeSet::new();
        walk(Path::new("/run"), 6, &mut run, false);
        let processes = std::fs::read_dir("/proc")
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
                    .filter_map(|pid| std::fs::read(format!("/proc/{pid}/cmdline")).ok())
                    .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
                    .filter(|c| c.contains("ebrun") && c.contains("--root"))
                    .collect()
            })
            .unwrap_or_default();
        HostSnapshot {
            kinds: vec![
                ("link", links),
                ("address", addresses),
                ("route", routes),
                ("nft", nft_ruleset()),
                ("mount", mounts),
                ("cgroup", cgroups),
                ("bpffs", bpffs),
                ("bpf program", programs),
                ("/run", run),
                ("process", processes),
            ],
        }
    }

    /// The difference from `before` once the host has settled: the kernel finishes some
    /// clean-up in the background (a namespace's veth goes after the namespace), so the
    /// snapshot is retaken for up to `secs` seconds until nothing differs.
    pub fn settled_diff(before: &HostSnapshot, secs: u64) -> Vec<String> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            let diff = HostSnapshot::take().diff(before);
            if diff.is_empty() || std::time::Instant::now() > deadline {
                return diff;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    /// What differs from `before`, one line per added (+) or removed (-) item.
    pub fn diff(&self, before: &HostSnapshot) -> Vec<String> {
        let mut out = Vec::new();
        for ((kind, now), (_, then)) in self.kinds.iter().zip(&before.kinds) {
            for added in now.difference(then) {
                out.push(format!("+ {kind}: {added}"));
            }
            for removed in then.difference(now) {
                out.push(format!("- {kind}: {removed}"));
            }
        }
        out
    }
}
