//! The eBPF meters' overhead, part of `cargo xtask bench`:
//!
//! - a context-switch storm (two threads ping-ponging a byte through pipes, pinned to one
//!   CPU) in a container's cgroup, in pairs: one storm with the scheduler program attached,
//!   one with it detached (the bench holds the loaded program and attaches it per storm),
//!   in alternating order; plus the program's own cost per event from
//!   `kernel.bpf_stats_enabled`;
//! - iperf3 over the loopback inside a container, in pairs: one run with its traffic
//!   programs attached to its cgroup, one without, in alternating order; plus their cost
//!   per skb from `kernel.bpf_stats_enabled`.
//!
//! Targets: the storm at most 5% slower, iperf3 at most 2% less throughput. The storm's
//! verdict is the median over the pairs of the ratio of its two threads' CPU time (the
//! program runs in their context, at their switches): on a shared host the wall-clock time
//! also counts whatever else ran on CPU 0 (it is printed too), and pairing cancels the
//! host's drift. Other ebrun instances on the host (tests running meanwhile) add their own
//! programs to every context switch; the report says how many were loaded.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::{bpf_attach, util};

/// Round trips per storm: each is two context switches and two wakeups.
const ROUND_TRIPS: u32 = 100_000;
const STORM_TARGET: f64 = 1.05;
const IPERF_TARGET_LOSS: f64 = 0.02;

/// An ebrun instance to run the bench containers in.
struct Ebrun<'a> {
    bin: &'a Path,
    root: &'a Path,
}

impl Ebrun<'_> {
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(self.bin);
        c.arg("--root")
            .arg(self.root)
            .args(args)
            .stdin(Stdio::null());
        c
    }

    fn ok(&self, args: &[&str]) -> Result<String> {
        util::output(&mut self.cmd(args))
    }

    fn inspect(&self, name: &str) -> Result<Value> {
        let v: Value = serde_json::from_str(&self.ok(&["inspect", name])?)?;
        Ok(v[0].clone())
    }

    fn pin_dir(&self) -> Result<PathBuf> {
        Ok(Path::new("/sys/fs/bpf").join(self.ok(&["system", "prefix"])?.trim()))
    }
}

/// Where cgroup2 is mounted.
fn cgroup2_mount() -> Result<PathBuf> {
    util::mounts()?
        .into_iter()
        .find(|m| m.fstype == "cgroup2")
        .map(|m| m.mount_point)
        .context("no cgroup2 mount")
}

/// This process's cgroup2 directory.
fn own_cgroup2() -> Result<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/cgroup")?;
    let rel = text
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .context("no cgroup2 line in /proc/self/cgroup")?;
    Ok(cgroup2_mount()?.join(rel.trim_start_matches('/')))
}

/// Moves this whole process into cgroup2 dir `dir`.
fn move_self(dir: &Path) -> Result<()> {
    std::fs::write(dir.join("cgroup.procs"), std::process::id().to_string())
        .with_context(|| format!("move into {}", dir.display()))
}

/// Runs `f` in cgroup2 dir `dir`, pinned to CPU 0, then moves back.
fn in_cgroup_on_cpu0<T>(dir: &Path, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let home = own_cgroup2()?;
    let pid = std::process::id().to_string();
    let affinity = util::output(Command::new("taskset").args(["-cp", &pid]))?;
    let affinity = affinity
        .rsplit(':')
        .next()
        .unwrap_or("0")
        .trim()
        .to_string();
    move_self(dir)?;
    util::output(Command::new("taskset").args(["-cp", "0", &pid]))?;
    let result = f();
    let _ = util::output(Command::new("taskset").args(["-cp", &affinity, &pid]));
    move_self(&home)?;
    result
}

/// The calling thread's run time so far (ns, /proc/thread-self/schedstat): CPU time, which
/// other work on the CPU does not inflate as it does wall-clock time.
fn thread_runtime_ns() -> std::io::Result<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat")?;
    text.split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("unexpected schedstat {text:?}")))
}

/// One storm's cost: wall-clock time and the CPU time of its two threads (the programs run
/// in their context, at their switches).
#[derive(Debug, Clone, Copy)]
struct StormTime {
    wall: Duration,
    cpu_ns: u64,
}

/// The storm: two threads of this process hand one byte back and forth `n` times.
fn storm(n: u32) -> Result<StormTime> {
    let (mut ping_r, mut ping_w) = std::io::pipe()?;
    let (mut pong_r, mut pong_w) = std::io::pipe()?;
    let echo = std::thread::spawn(move || -> std::io::Result<u64> {
        let start = thread_runtime_ns()?;
        let mut b = [0u8];
        for _ in 0..n {
            ping_r.read_exact(&mut b)?;
            pong_w.write_all(&b)?;
        }
        Ok(thread_runtime_ns()? - start)
    });
    let mut b = [0u8];
    let cpu_start = thread_runtime_ns()?;
    let start = Instant::now();
    for _ in 0..n {
        ping_w.write_all(&b)?;
        pong_r.read_exact(&mut b)?;
    }
    let wall = start.elapsed();
    let cpu = thread_runtime_ns()? - cpu_start;
    let echo_cpu = echo
        .join()
        .map_err(|_| anyhow::anyhow!("echo thread panicked"))??;
    Ok(StormTime {
        wall,
        cpu_ns: cpu + echo_cpu,
    })
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The id of the program behind a pinned link.
fn link_prog_id(link_pin: &Path) -> Result<u32> {
    let link: Value = serde_json::from_str(&util::output(
        Command::new("bpftool")
            .args(["-j", "link", "show", "pinned"])
            .arg(link_pin),
    )?)?;
    link["prog_id"]
        .as_u64()
        .and_then(|id| u32::try_from(id).ok())
        .context("link without prog_id")
}

/// (run_time_ns, run_cnt) of program `id`.
fn prog_stats(id: u32) -> Result<(u64, u64)> {
    let prog: Value = serde_json::from_str(&util::output(Command::new("bpftool").args([
        "-j",
        "prog",
        "show",
        "id",
        &id.to_string(),
    ]))?)?;
    Ok((
        prog["run_time_ns"].as_u64().unwrap_or(0),
        prog["run_cnt"].as_u64().unwrap_or(0),
    ))
}

/// Loaded programs named `name` (all instances on the host).
fn loaded_named(name: &str) -> usize {
    util::try_output(Command::new("bpftool").args(["-j", "prog", "show"]))
        .and_then(|s| serde_json::from_str::<Value>(&s).ok())
        .and_then(|v| {
            v.as_array()
                .map(|a| a.iter().filter(|p| p["name"] == name).count())
        })
        .unwrap_or(0)
}

/// The 1/5/15-minute load averages (the host is shared: say how busy it was).
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// The scheduler program's name (and its link's pin name).
const SCHED_PROG: &str = "sched_switch";

const STATS_SYSCTL: &str = "/proc/sys/kernel/bpf_stats_enabled";

/// Runs `measure` once with `kernel.bpf_stats_enabled` on: the growth of each program's
/// (run_time_ns, run_cnt) meanwhile (the statistics cost a little, so only on a run of its
/// own).
fn programs_cost<const N: usize, T>(
    ids: [u32; N],
    measure: impl FnOnce() -> Result<T>,
) -> Result<[(u64, u64); N]> {
    let mut before = [(0, 0); N];
    for (b, &id) in before.iter_mut().zip(&ids) {
        *b = prog_stats(id)?;
    }
    let old = std::fs::read_to_string(STATS_SYSCTL)?;
    std::fs::write(STATS_SYSCTL, "1")?;
    let run = measure();
    std::fs::write(STATS_SYSCTL, old.trim())?;
    run?;
    let mut cost = [(0, 0); N];
    for ((c, b), &id) in cost.iter_mut().zip(before).zip(&ids) {
        let after = prog_stats(id)?;
        *c = (after.0 - b.0, after.1 - b.1);
    }
    Ok(cost)
}

/// One measured pair, (with the programs, without): `with` runs first in even pairs,
/// `without` in odd ones, so that drift of the shared host falls on both alike.
fn paired<T>(
    pair: usize,
    with: impl FnOnce() -> Result<T>,
    without: impl FnOnce() -> Result<T>,
) -> Result<(T, T)> {
    if pair.is_multiple_of(2) {
        let w = with()?;
        Ok((w, without()?))
    } else {
        let wo = without()?;
        Ok((with()?, wo))
    }
}

/// Storm pairs per round: one storm with the program attached and one without, in
/// alternating order (with first in even pairs), so that drift on the shared host falls on
/// both cases alike.
const PAIRS_PER_ROUND: usize = 10;

/// The CPU time of one storm in cgroup `dir`, in seconds, and its wall-clock time.
fn storm_in(dir: &Path) -> Result<StormTime> {
    in_cgroup_on_cpu0(dir, || storm(ROUND_TRIPS))
}

/// The context-switch storm with and without the scheduler program: each round starts a
/// fresh instance, measures the program's own cost with bpf_stats, then detaches it (the
/// bench holds the program) and runs [`PAIRS_PER_ROUND`] pairs of storms, attaching it
/// for one storm of each pair.
fn storm_bench(ebrun: &Ebrun, rounds: usize) -> Result<()> {
    println!();
    println!(
        "context-switch storm: {ROUND_TRIPS} pipe round trips between two threads on CPU 0, \
         in a container's cgroup; {rounds} rounds of {PAIRS_PER_ROUND} storm pairs (with the \
         program / without, alternating order)"
    );
    let name = SCHED_PROG;
    let (mut ratios, mut with_rt, mut without_rt, mut wall_ratios) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut cost_ns, mut cost_cnt, mut others) = (0u64, 0u64, 0usize);
    let per_rt = |t: &StormTime| t.cpu_ns as f64 / f64::from(ROUND_TRIPS);
    for _ in 0..rounds {
        // A fresh instance: the container's start loads the programs and registers it.
        ebrun.ok(&["system", "teardown"])?;
        ebrun.ok(&[
            "run", "-d", "--net", "none", "--name", "storm", "busybox", "sleep", "3600",
        ])?;
        let dir = ebrun.inspect("storm")?["Ebrun"]["Cgroups"]["unified_dir"]
            .as_str()
            .map(PathBuf::from)
            .context("the container has no cgroup2 dir")?;
        // Other instances' programs (tests running meanwhile) run at every switch too.
        others = others.max(loaded_named(name).saturating_sub(1));
        let link_pin = ebrun.pin_dir()?.join("links").join(name);
        let id = link_prog_id(&link_pin)?;
        // The program's own cost, on a storm of its own.
        let [(ns, cnt)] = programs_cost([id], || storm_in(&dir))?;
        cost_ns += ns;
        cost_cnt += cnt;
        // Hold the program, then unpin its link: it stays loaded, detached.
        let prog = bpf_attach::prog_fd(id)?;
        std::fs::remove_file(&link_pin)?;
        for pair in 0..PAIRS_PER_ROUND {
            let (with, without) = paired(
                pair,
                || {
                    let _link = bpf_attach::attach_btf_tracepoint(&prog)?;
                    storm_in(&dir)
                },
                || storm_in(&dir),
            )?;
            ratios.push(with.cpu_ns as f64 / without.cpu_ns as f64);
            wall_ratios.push(with.wall.as_secs_f64() / without.wall.as_secs_f64());
            with_rt.push(per_rt(&with));
            without_rt.push(per_rt(&without));
        }
        drop(prog);
        ebrun.ok(&["rm", "-f", "storm"])?;
    }
    println!(
        "  CPU time of the two threads per round trip (median of {} storms each): without \
         {:.0} ns, with {:.0} ns",
        ratios.len(),
        median(&mut without_rt),
        median(&mut with_rt)
    );
    let (q1, q3) = quartiles(&ratios);
    println!(
        "  with/without per pair: wall-clock median {:.3}x; CPU time quartiles {q1:.3}x .. \
         {q3:.3}x",
        median(&mut wall_ratios)
    );
    println!("  load while measuring: {}", load_average());
    if cost_cnt > 0 {
        println!(
            "  {name}: {:.0} ns per event ({cost_cnt} events, bpf_stats, its own clock reads \
             included)",
            cost_ns as f64 / cost_cnt as f64
        );
    }
    if others > 0 {
        println!(
            "  note: {others} {name} program(s) of other ebrun instances were loaded \
             meanwhile, in both cases"
        );
    }
    // CPU time: the wall-clock ratio also counts whatever else the shared host ran on CPU 0.
    let ratio = median(&mut ratios);
    println!(
        "storm with/without (CPU time, median of the pairs) = {ratio:.3}x   target: at most \
         {STORM_TARGET:.2}x   {}",
        if ratio <= STORM_TARGET {
            "PASS"
        } else {
            "FAIL"
        }
    );
    Ok(())
}

/// The first and third quartiles of `v`.
fn quartiles(v: &[f64]) -> (f64, f64) {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    if s.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let at = |q: f64| s[((s.len() - 1) as f64 * q).round() as usize];
    (at(0.25), at(0.75))
}

/// Seconds of each iperf3 run.
const IPERF_SECS: u32 = 1;
/// iperf3 pairs per round (one run with the traffic programs, one without, alternating).
/// Consecutive runs on this VM differ by several percent either way, so the verdict needs
/// many short pairs rather than a few long ones (80 pairs: quartiles -2.1% .. 4.2%, median
/// 0.6%).
const IPERF_PAIRS_PER_ROUND: usize = 8;

/// iperf3 client -> server over the container's loopback; bits per second received.
fn iperf(ebrun: &Ebrun, port: u16) -> Result<f64> {
    let script = format!(
        "iperf3 -s -1 -D -p {port} && sleep 0.3 && \
         iperf3 -c 127.0.0.1 -p {port} -t {IPERF_SECS} -J"
    );
    let out = ebrun.ok(&["exec", "perf", "sh", "-c", &script])?;
    let v: Value = serde_json::from_str(&out).context("iperf3 JSON")?;
    v["end"]["sum_received"]["bits_per_second"]
        .as_f64()
        .context("no throughput in iperf3's report")
}

/// iperf3 with and without the traffic programs: each round starts a container, detaches
/// its traffic links (the bench holds the pinned programs) and runs
/// [`IPERF_PAIRS_PER_ROUND`] pairs of iperf3 runs, attaching the programs to its cgroup for
/// one run of each pair; plus the programs' own cost per packet (bpf_stats) on a run of its
/// own.
fn iperf_bench(ebrun: &Ebrun, rounds: usize) -> Result<()> {
    println!();
    println!(
        "iperf3 over a container's loopback (--net host), {IPERF_SECS} s per run, {rounds} \
         rounds of {IPERF_PAIRS_PER_ROUND} pairs (with the traffic programs / without, \
         alternating order)"
    );
    ebrun.ok(&[
        "image",
        "import",
        &util::images_dir().join("debian-tools").to_string_lossy(),
        "tools:latest",
    ])?;
    let port = 25000 + (std::process::id() % 1000) as u16;
    let (mut losses, mut with, mut without) = (Vec::new(), Vec::new(), Vec::new());
    let mut cost = [(0u64, 0u64); 2];
    let programs = [
        ("traffic_ingress", bpf_attach::CGROUP_INET_INGRESS),
        ("traffic_egress", bpf_attach::CGROUP_INET_EGRESS),
    ];
    for _ in 0..rounds {
        ebrun.ok(&[
            "run", "-d", "--net", "host", "--name", "perf", "tools", "sleep", "3600",
        ])?;
        let container = ebrun.inspect("perf")?;
        let id = container["Ebrun"]["CgroupId"].as_u64().unwrap_or(0);
        let dir = container["Ebrun"]["Cgroups"]["unified_dir"]
            .as_str()
            .map(PathBuf::from)
            .context("the container has no cgroup2 dir")?;
        let pins = ebrun.pin_dir()?;
        let links: Vec<PathBuf> = programs
            .iter()
            .map(|(p, _)| pins.join("links").join(format!("cg{id}-{p}")))
            .collect();
        if let Some(missing) = links.iter().find(|l| !l.exists()) {
            bail!(
                "the container's traffic link {} is missing",
                missing.display()
            );
        }
        // The programs' own cost, on a run of its own with the container's links.
        let ids = [link_prog_id(&links[0])?, link_prog_id(&links[1])?];
        for (total, (ns, cnt)) in cost
            .iter_mut()
            .zip(programs_cost(ids, || iperf(ebrun, port))?)
        {
            total.0 += ns;
            total.1 += cnt;
        }
        // Hold the programs, then unpin the container's links: detached.
        let progs: Vec<_> = programs
            .iter()
            .map(|(p, _)| bpf_attach::pinned_prog(&pins.join("progs").join(p)))
            .collect::<Result<_>>()?;
        for l in &links {
            std::fs::remove_file(l)?;
        }
        for pair in 0..IPERF_PAIRS_PER_ROUND {
            let (w, wo) = paired(
                pair,
                || {
                    let _links = progs
                        .iter()
                        .zip(programs)
                        .map(|(prog, (_, at))| bpf_attach::attach_cgroup(prog, &dir, at))
                        .collect::<Result<Vec<_>>>()?;
                    iperf(ebrun, port)
                },
                || iperf(ebrun, port),
            )?;
            losses.push(1.0 - w / wo);
            with.push(w);
            without.push(wo);
        }
        ebrun.ok(&["rm", "-f", "perf"])?;
    }
    println!(
        "  without programs: {:.2} Gbit/s (median of {} runs); with: {:.2} Gbit/s",
        median(&mut without) / 1e9,
        losses.len(),
        median(&mut with) / 1e9
    );
    let (q1, q3) = quartiles(&losses);
    println!(
        "  loss per pair: quartiles {:.2}% .. {:.2}%",
        q1 * 100.0,
        q3 * 100.0
    );
    for ((name, _), (ns, cnt)) in programs.iter().zip(&cost) {
        if *cnt > 0 {
            println!(
                "  {name}: {:.0} ns per skb ({cnt} skbs, bpf_stats, its own clock reads included)",
                *ns as f64 / *cnt as f64
            );
        }
    }
    let loss = median(&mut losses);
    println!(
        "iperf3 loss (median of the pairs) = {:.2}%   target: at most {:.0}%   {}",
        loss * 100.0,
        IPERF_TARGET_LOSS * 100.0,
        if loss <= IPERF_TARGET_LOSS {
            "PASS"
        } else {
            "FAIL"
        }
    );
    Ok(())
}

/// Which meter benchmarks to run.
#[derive(Debug, Clone, Copy)]
pub struct Parts {
    pub storm: bool,
    pub iperf: bool,
}

/// Runs the meter benchmarks in `parts` against the instance at `root` (which has busybox
/// imported).
pub fn run(bin: &Path, root: &Path, rounds: usize, parts: Parts) -> Result<()> {
    let ebrun = Ebrun { bin, root };
    let mut result = Ok(());
    if parts.storm {
        let storm = storm_bench(&ebrun, rounds);
        if let Err(e) = &storm {
            println!("storm bench FAILED: {e:#}");
        }
        let _ = ebrun.ok(&["rm", "-f", "storm"]);
        result = result.and(storm);
    }
    if parts.iperf {
        let iperf = iperf_bench(&ebrun, rounds);
        if let Err(e) = &iperf {
            println!("iperf3 bench FAILED: {e:#}");
        }
        let _ = ebrun.ok(&["rm", "-f", "perf"]);
        result = result.and(iperf);
    }
    result
}
