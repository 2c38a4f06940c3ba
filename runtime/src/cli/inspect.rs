//! `ebrun inspect CONTAINER...`: JSON shaped like Docker's container inspect, plus an
//! `Ebrun` section with the container's cgroup2 id and eBPF meters.

use anyhow::Result;
use clap::Args;
use serde_json::{json, Value};

use ebrun::container::{ContainerConfig, ContainerState, ContainerStore, Status};

use super::Context;

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Containers (name, id or unique id prefix).
    #[arg(required = true)]
    targets: Vec<String>,
}

pub fn inspect(ctx: &Context, args: InspectArgs) -> Result<i32> {
    let store = ContainerStore::new(&ctx.paths);
    let mut out = Vec::new();
    let mut code = 0;
    for key in &args.targets {
        match store.lookup(key) {
            Ok(config) => {
                let state = store.load_state(&config.id)?;
                out.push(document(ctx, &config, &state));
            }
            Err(e) => {
                eprintln!("Error: {e}");
                code = 1;
            }
        }
    }
    println!("{}", serde_json::to_string_pretty(&Value::Array(out))?);
    Ok(code)
}

fn document(ctx: &Context, c: &ContainerConfig, s: &ContainerState) -> Value {
    let dir = ctx.paths.container_dir(&c.id);
    let lower: Vec<String> = c
        .layers
        .iter()
        .rev()
        .map(|p| p.display().to_string())
        .collect();
    let cgroup_id = s.cgroups.as_ref().map_or(0, |cg| cg.cgroup_id);
    let execs = (cgroup_id != 0)
        .then(|| {
            ebrun::bpf::exec_count(&ctx.paths.bpffs_dir(), cgroup_id)
                .ok()
                .flatten()
        })
        .flatten();
    json!({
        "Id": c.id,
        "Created": c.created,
        "Path": c.process.args.first(),
        "Args": c.process.args.get(1..).unwrap_or_default(),
        "State": {
            "Status": s.status.as_str(),
            "Running": s.status == Status::Running,
            "Paused": false,
            "Restarting": false,
            "OOMKilled": false,
            "Dead": false,
            "Pid": s.pid,
            "ExitCode": s.exit_code,
            "Error": s.error,
            "StartedAt": s.started_at.clone().unwrap_or_else(|| "0001-01-01T00:00:00Z".into()),
            "FinishedAt": s.finished_at.clone().unwrap_or_else(|| "0001-01-01T00:00:00Z".into()),
        },
        "Image": c.image_id,
        "Name": format!("/{}", c.name),
        "HostnamePath": dir.join("hostname"),
        "HostsPath": dir.join("hosts"),
        "Driver": "overlay2",
        "HostConfig": {
            "AutoRemove": c.auto_remove,
            "ReadonlyRootfs": c.read_only,
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
            "Meters": { "Execs": execs },
        }
    })
}
