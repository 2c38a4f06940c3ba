//! `_ping`, `version` and `info`.

use serde_json::{json, Value};

use crate::Paths;

fn kernel_version() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// `GET /version`.
pub fn version() -> Value {
    let version = env!("CARGO_PKG_VERSION");
    json!({
        "Platform": {"Name": "ebrun"},
        "Components": [{
            "Name": "Engine",
            "Version": version,
            "Details": {
                "ApiVersion": super::API_VERSION,
                "MinAPIVersion": super::MIN_API_VERSION,
                "Os": "linux",
                "Arch": arch(),
                "KernelVersion": kernel_version(),
            },
        }],
        "Version": version,
        "ApiVersion": super::API_VERSION,
        "MinAPIVersion": super::MIN_API_VERSION,
        "GitCommit": "",
        "GoVersion": "",
        "Os": "linux",
        "Arch": arch(),
        "KernelVersion": kernel_version(),
        "Experimental": false,
        "BuildTime": "",
    })
}

/// `GET /info`: counts from the store, and what the host is.
pub fn info(paths: &Paths) -> Value {
    let (mut running, mut paused, mut stopped) = (0, 0, 0);
    let containers = crate::container::ContainerStore::new(paths).list();
    for c in &containers {
        match crate::container::observe(paths, c).map(|s| s.status) {
            Ok(crate::container::Status::Running) => running += 1,
            Ok(crate::container::Status::Paused) => paused += 1,
            _ => stopped += 1,
        }
    }
    let images = crate::image::ImageStore::open(paths)
        .and_then(|s| s.list())
        .map(|l| l.len())
        .unwrap_or(0);
    let layout = crate::cgroups::Layout::detect();
    let hostname = nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default();
    json!({
        "ID": paths.prefix(),
        "Containers": containers.len(),
        "ContainersRunning": running,
        "ContainersPaused": paused,
        "ContainersStopped": stopped,
        "Images": images,
        "Driver": "overlay2",
        "DockerRootDir": paths.root(),
        "Name": hostname,
        "ServerVersion": env!("CARGO_PKG_VERSION"),
        "OSType": "linux",
        "OperatingSystem": "Linux",
        "Architecture": std::env::consts::ARCH,
        "KernelVersion": kernel_version(),
        "NCPU": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "MemTotal": crate::cgroups::host_memory(),
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": if layout == crate::cgroups::Layout::Unified { "2" } else { "1" },
        "DefaultRuntime": "ebrun",
        "Runtimes": {"ebrun": {"path": "ebrun"}},
        "SecurityOptions": ["name=seccomp,profile=builtin"],
        "Warnings": [],
    })
}
