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
                "GoVersion": "",
                "GitCommit": "",
                "BuildTime": "",
                "Experimental": "false",
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

/// `GET /system/df`: images, containers (their writable layer) and volumes with what they
/// use, as `docker system df` shows them.
pub fn df(paths: &Paths) -> Value {
    let containers = crate::container::ContainerStore::new(paths).list();
    let images: Vec<Value> = crate::image::ImageStore::open(paths)
        .and_then(|s| s.list())
        .unwrap_or_default()
        .iter()
        .map(|i| {
            json!({
                "Id": i.id,
                "ParentId": "",
                "RepoTags": i.repo_tags,
                "RepoDigests": i.repo_digests,
                "Created": i.created.as_deref()
                    .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.timestamp())
                    .unwrap_or(0),
                "Size": i.size,
                "SharedSize": 0,
                "Labels": {},
                "Containers": containers.iter().filter(|c| c.image_id == i.id).count(),
            })
        })
        .collect();
    let layers: i64 = images.iter().filter_map(|i| i["Size"].as_i64()).sum();
    let container_rows: Vec<Value> = containers
        .iter()
        .map(|c| {
            let state = crate::container::observe(paths, c).ok();
            json!({
                "Id": c.id,
                "Names": [format!("/{}", c.name)],
                "Image": c.image,
                "ImageID": c.image_id,
                "Command": c.process.args.join(" "),
                "State": state.as_ref().map(|s| s.status.as_str()).unwrap_or("exited"),
                "SizeRw": crate::volumes::store::disk_usage(&paths.container_dir(&c.id).join("upper")),
                "Labels": c.labels,
            })
        })
        .collect();
    let store = crate::volumes::VolumeStore::new(paths);
    let volumes: Vec<Value> = store
        .list()
        .iter()
        .map(|v| {
            let mut doc = crate::volumes::inspect::volume_json(&store, v);
            let users = containers
                .iter()
                .filter(|c| c.mounts.iter().any(|m| m.name.as_deref() == Some(&v.name)))
                .count();
            let size = doc["Mountpoint"]
                .as_str()
                .map(|p| crate::volumes::store::disk_usage(std::path::Path::new(p)))
                .unwrap_or(0);
            doc["UsageData"] = json!({"Size": size, "RefCount": users});
            doc
        })
        .collect();
    json!({
        "LayersSize": layers,
        "Images": images,
        "Containers": container_rows,
        "Volumes": volumes,
        "BuildCache": [],
    })
}
