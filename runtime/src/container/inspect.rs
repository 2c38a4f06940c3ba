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
    let mut doc = json!({
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
            crate::network::inspect_settings(&c.network, &s.network, &c.id)
        } else {
            crate::network::inspect_settings(&c.network, &Default::default(), &c.id)
        },
        "HostConfig": {
            "AutoRemove": c.auto_remove,
            "RestartPolicy": {
                "Name": c.restart.name(),
                "MaximumRetryCount": c.restart.max_retries(),
            },
            "ReadonlyRootfs": c.read_only,
            "NetworkMode": c.network.mode.to_string(),
            "LogConfig": {"Type": "json-file", "Config": {}},
            "PortBindings": port_bindings(c),
            "Binds": crate::volumes::inspect::binds(&c.mounts),
            "Privileged": c.process.security.privileged,
            "CgroupnsMode": c.cgroupns.as_str(),
            "Memory": c.resources.memory.unwrap_or(0),
            "MemorySwap": c.resources.memory_swap.unwrap_or(0),
            "MemoryReservation": c.resources.memory_reservation.unwrap_or(0),
            "NanoCpus": c.resources.nano_cpus.unwrap_or(0),
            "CpuShares": c.resources.cpu_shares.unwrap_or(0),
            "CpuPeriod": c.resources.cpu_period.unwrap_or(0),
            "CpuQuota": c.resources.cpu_quota.unwrap_or(0),
            "CpusetCpus": c.resources.cpuset_cpus.clone().unwrap_or_default(),
            "PidsLimit": c.resources.pids_limit,
            "OomKillDisable": c.resources.oom_kill_disable.unwrap_or(false),
            "Dns": c.network.dns,
            "ExtraHosts": c.network.extra_hosts.iter().map(|h| format!("{}:{}", h.host, h.ip)).collect::<Vec<_>>(),
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
            "Labels": c.labels,
            "StdinOnce": c.process.stdin_once,
            "AttachStdin": c.process.stdin_once,
            "AttachStdout": !c.process.interactive || c.process.stdin_once,
            "AttachStderr": !c.process.interactive || c.process.stdin_once,
            "ExposedPorts": exposed_ports(c),
        },
        "Ebrun": {
            "Cgroups": s.cgroups,
            "CgroupId": cgroup_id,
            "Meters": meters,
        }
    });
    // Docker shows both only when there is one: a health check configured, a health state
    // once the container ran with it.
    if let Some(hc) = &c.healthcheck {
        doc["Config"]["Healthcheck"] = json!(hc);
    }
    if let Some(health) = super::health::current(paths, c, s) {
        doc["State"]["Health"] = json!(health);
    }
    // Docker leaves `Sysctls` out unless some were given.
    if !c.sysctls.is_empty() {
        doc["HostConfig"]["Sysctls"] = json!(c.sysctls);
    }
    options_fields(&mut doc, &c.options);
    doc
}

/// `--init`, `--ulimit`, `--shm-size`, ... where Docker's inspect shows them.
fn options_fields(doc: &mut Value, o: &super::RunOptions) {
    let host = &mut doc["HostConfig"];
    host["Init"] = if o.init { json!(true) } else { Value::Null };
    host["Ulimits"] = json!(o.effective_ulimits());
    host["ShmSize"] = json!(o.shm_size.unwrap_or(super::run_options::DEFAULT_SHM_SIZE));
    host["GroupAdd"] = if o.group_add.is_empty() {
        Value::Null
    } else {
        json!(o.group_add)
    };
    host["Runtime"] = json!(if o.runtime.is_empty() {
        "runc"
    } else {
        o.runtime.as_str()
    });
    doc["Config"]["Domainname"] = json!(o.domainname);
    // Docker leaves these out unless given.
    if let Some(sig) = &o.stop_signal {
        doc["Config"]["StopSignal"] = json!(sig);
    }
    if let Some(t) = o.stop_timeout {
        doc["Config"]["StopTimeout"] = json!(t);
    }
    if !o.annotations.is_empty() {
        doc["HostConfig"]["Annotations"] = json!(o.annotations);
    }
}

/// `HostConfig.PortBindings`: `{"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}`.
fn port_bindings(c: &ContainerConfig) -> Value {
    let mut map = serde_json::Map::new();
    for p in &c.network.publish {
        let key = format!("{}/{}", p.container_port, p.proto.as_str());
        let host_port = match p.host_ports {
            Some((a, b)) if a == b => a.to_string(),
            Some((a, b)) => format!("{a}-{b}"),
            None => String::new(),
        };
        let entry = json!({
            "HostIp": p.host_ip.map(|i| i.to_string()).unwrap_or_default(),
            "HostPort": host_port,
        });
        match map.get_mut(&key) {
            Some(Value::Array(list)) => list.push(entry),
            _ => {
                map.insert(key, json!([entry]));
            }
        }
    }
    Value::Object(map)
}

/// `Config.ExposedPorts`: published and `--expose`d ports.
fn exposed_ports(c: &ContainerConfig) -> Value {
    let mut map = serde_json::Map::new();
    for p in &c.network.publish {
        map.insert(
            format!("{}/{}", p.container_port, p.proto.as_str()),
            json!({}),
        );
    }
    for e in &c.network.expose {
        map.insert(e.to_string(), json!({}));
    }
    if map.is_empty() {
        Value::Null
    } else {
        Value::Object(map)
    }
}
