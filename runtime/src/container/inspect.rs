//! Docker's container inspect document, for `ebrun inspect` and the Engine API alike.

use serde_json::{json, Value};

use super::{ContainerConfig, ContainerState, Status};
use crate::Paths;

/// A container as Docker's inspect shows it (`ebrun inspect`, the Engine API), plus an
/// `Ebrun` section with its cgroups, cgroup2 id and eBPF meters.
pub fn inspect_document(paths: &Paths, c: &ContainerConfig, s: &ContainerState) -> Value {
    let dir = paths.container_dir(&c.id);
    let lower: Vec<String> = c
        .layers
        .iter()
        .rev()
        .map(|p| p.display().to_string())
        .collect();
    let cgroup_id = s.cgroups.as_ref().map_or(0, |cg| cg.cgroup_id);
    let meters = s
        .cgroups
        .as_ref()
        .map(|cg| crate::bpf::snapshot(&paths.bpffs_dir(), cg));
    json!({
        "Id": c.id,
        "Created": c.created,
        "Path": c.process.args.first(),
        "Args": c.process.args.get(1..).unwrap_or_default(),
        "State": {
            "Status": s.status.as_str(),
            "Running": matches!(s.status, Status::Running | Status::Paused | Status::Restarting),
            "Paused": s.paused,
            "Restarting": s.status == Status::Restarting,
            "OOMKilled": s.oom_killed,
            "Dead": false,
            "Pid": s.pid,
            "ExitCode": s.exit_code,
            "Error": s.error,
            "StartedAt": s.started_at.clone().unwrap_or_else(|| "0001-01-01T00:00:00Z".into()),
            "FinishedAt": s.finished_at.clone().unwrap_or_else(|| "0001-01-01T00:00:00Z".into()),
        },
        "Image": c.image_id,
        "Name": format!("/{}", c.name),
        "ResolvConfPath": dir.join("resolv.conf"),
        "HostnamePath": dir.join("hostname"),
        "HostsPath": dir.join("hosts"),
        "LogPath": crate::container::log_path(&dir, &c.id),
        "RestartCount": s.restart_count,
        "Driver": "overlay2",
        "Mounts": crate::volumes::inspect::mounts_json(&c.mounts),
        // Docker blanks the addresses and ports of a stopped container.
        "NetworkSettings": if matches!(s.status, Status::Running | Status::Paused | Status::Restarting) {
            crate::network::inspect_settings(&c.network, &s.network)
        } else {
            crate::network::inspect_settings(&c.network, &Default::default())
        },
        "HostConfig": {
            "AutoRemove": c.auto_remove,
            "RestartPolicy": {
                "Name": c.restart.name(),
                "MaximumRetryCount": c.restart.max_retries(),
            },
            "ReadonlyRootfs": c.read_only,
            "Tmpfs": crate::volumes::inspect::tmpfs_json(&c.mounts),
        },
        "GraphDriver": {
            "Name": "overlay2",
            "Data": {
                "LowerDir": lower.join(":"),
                "UpperDir": dir.join("upper"),
                "WorkDir": dir.join("work"),
                "MergedDir": dir.join("merged"),
            }
        },
        "Config": {
            "Hostname": c.process.hostname,
            "User": c.process.user,
            "Tty": c.process.tty,
            "OpenStdin": c.process.interactive,
            "Env": c.process.env,
            "Cmd": c.cmd,
            "Entrypoint": if c.entrypoint.is_empty() { Value::Null } else { json!(c.entrypoint) },
            "WorkingDir": c.process.cwd,
            "Image": c.image,
        },
        "Ebrun": {
            "Cgroups": s.cgroups,
            "CgroupId": cgroup_id,
            "Meters": meters,
        }
    })
}
