//! `ebrun info`: Docker's system-wide summary (server part): counts, storage driver and its
//! backing filesystem, cgroup version and driver, kernel, OS, CPUs, memory, root dir,
//! insecure registries. `--format` takes a Go template over Docker's field names.

use anyhow::Result;
use clap::Args;
use serde_json::{json, Value};

use ebrun::cgroups::Layout;
use ebrun::container::{self, ContainerStore, Status};
use ebrun::format::template::Template;
use ebrun::image::pull::insecure;
use ebrun::image::ImageStore;
use ebrun::volumes::VolumeStore;

use super::Context;

#[derive(Debug, Args)]
pub struct InfoArgs {
    /// Format output using a Go template (or `json`).
    #[arg(short, long)]
    format: Option<String>,
}

/// Docker's name for the filesystem type of `path` (`extfs`, `xfs`, ...).
fn backing_filesystem(path: &std::path::Path) -> String {
    let mut probe = path.to_path_buf();
    while !probe.exists() {
        if !probe.pop() {
            break;
        }
    }
    let Ok(s) = nix::sys::statfs::statfs(&probe) else {
        return "unknown".into();
    };
    match s.filesystem_type().0 as u64 {
        0xEF53 => "extfs",
        0x5846_5342 => "xfs",
        0x9123_683E => "btrfs",
        0x0102_1994 => "tmpfs",
        0x794C_7630 => "overlayfs",
        0x2FC1_2FC1 => "zfs",
        0x6969 => "nfs",
        0xF2F5_2010 => "f2fs",
        _ => "unknown",
    }
    .to_string()
}

fn os_release() -> String {
    std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_string())
        })
        .unwrap_or_else(|| "Linux".into())
}

fn mem_total() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// The document `--format` sees, with Docker's field names.
fn document(ctx: &Context) -> Result<Value> {
    let configs = ContainerStore::new(&ctx.paths).list();
    let (mut running, mut paused, mut stopped) = (0, 0, 0);
    for c in &configs {
        match container::observe(&ctx.paths, c).map(|s| s.status) {
            Ok(Status::Running) | Ok(Status::Restarting) => running += 1,
            Ok(Status::Paused) => paused += 1,
            _ => stopped += 1,
        }
    }
    let images = ImageStore::open(&ctx.paths)?.list()?.len();
    let volumes = VolumeStore::new(&ctx.paths).list().len();
    let layout = Layout::detect();
    let uname = nix::sys::utsname::uname()?;
    let registries = insecure::insecure_registries(&ctx.paths).unwrap_or_default();
    let ncpu = std::thread::available_parallelism().map_or(1, |n| n.get());
    Ok(json!({
        "ID": ctx.paths.prefix(),
        "Containers": configs.len(),
        "ContainersRunning": running,
        "ContainersPaused": paused,
        "ContainersStopped": stopped,
        "Images": images,
        "Volumes": volumes,
        "Driver": "overlay2",
        "DriverStatus": [
            ["Backing Filesystem", backing_filesystem(&ctx.paths.images_dir())],
            ["Supports d_type", "true"],
            ["Native Overlay Diff", "true"],
        ],
        "LoggingDriver": "json-file",
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": layout.version().to_string(),
        "CgroupLayout": format!("{layout:?}").to_lowercase(),
        "KernelVersion": uname.release().to_string_lossy(),
        "OperatingSystem": os_release(),
        "OSType": "linux",
        "Architecture": uname.machine().to_string_lossy(),
        "NCPU": ncpu,
        "MemTotal": mem_total(),
        "Name": uname.nodename().to_string_lossy(),
        "ServerVersion": env!("CARGO_PKG_VERSION"),
        "DockerRootDir": ctx.paths.root(),
        "RegistryConfig": { "InsecureRegistryCIDRs": registries },
    }))
}

pub fn info(ctx: &Context, args: InfoArgs) -> Result<i32> {
    let doc = document(ctx)?;
    match args.format.as_deref() {
        Some("json") => println!("{}", serde_json::to_string(&doc)?),
        Some(t) => {
            let template =
                Template::parse(t).map_err(|e| anyhow::anyhow!("template parsing error: {e}"))?;
            println!(
                "{}",
                template.execute(&doc).map_err(|e| anyhow::anyhow!(e))?
            );
        }
        None => print!("{}", text(&doc)),
    }
    Ok(0)
}

fn text(d: &Value) -> String {
    let s = |k: &str| match &d[k] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut out = String::from("Server:\n");
    out += &format!(" Containers: {}\n", s("Containers"));
    out += &format!("  Running: {}\n", s("ContainersRunning"));
    out += &format!("  Paused: {}\n", s("ContainersPaused"));
    out += &format!("  Stopped: {}\n", s("ContainersStopped"));
    out += &format!(" Images: {}\n", s("Images"));
    out += &format!(" Volumes: {}\n", s("Volumes"));
    out += &format!(" Server Version: {}\n", s("ServerVersion"));
    out += &format!(" Storage Driver: {}\n", s("Driver"));
    for pair in d["DriverStatus"].as_array().into_iter().flatten() {
        out += &format!(
            "  {}: {}\n",
            pair[0].as_str().unwrap_or_default(),
            pair[1].as_str().unwrap_or_default()
        );
    }
    out += &format!(" Logging Driver: {}\n", s("LoggingDriver"));
    out += &format!(" Cgroup Driver: {}\n", s("CgroupDriver"));
    out += &format!(
        " Cgroup Version: {} ({})\n",
        s("CgroupVersion"),
        s("CgroupLayout")
    );
    out += &format!(" Kernel Version: {}\n", s("KernelVersion"));
    out += &format!(" Operating System: {}\n", s("OperatingSystem"));
    out += &format!(" OSType: {}\n", s("OSType"));
    out += &format!(" Architecture: {}\n", s("Architecture"));
    out += &format!(" CPUs: {}\n", s("NCPU"));
    let mem = d["MemTotal"].as_u64().unwrap_or(0) as f64 / (1u64 << 30) as f64;
    out += &format!(" Total Memory: {mem:.2}GiB\n");
    out += &format!(" Name: {}\n", s("Name"));
    out += &format!(" Docker Root Dir: {}\n", s("DockerRootDir"));
    let regs = d["RegistryConfig"]["InsecureRegistryCIDRs"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if !regs.is_empty() {
        out += " Insecure Registries:\n";
        for r in regs {
            out += &format!("  {}\n", r.as_str().unwrap_or_default());
        }
    }
    out
}
