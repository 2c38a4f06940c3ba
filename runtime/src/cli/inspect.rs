//! `ebrun inspect CONTAINER...`: JSON shaped like Docker's container inspect, plus an
//! `Ebrun` section with the container's cgroup2 id and eBPF meters.

use anyhow::Result;
use clap::Args;
use serde_json::{json, Value};

use ebrun::container::{ContainerConfig, ContainerError, ContainerState, ContainerStore, Status};

use super::Context;

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Format output using a Go template (or 'json').
    #[arg(short = 'f', long = "format")]
    format: Option<String>,
    /// Only inspect objects of this type (container or image).
    #[arg(long = "type")]
    kind: Option<String>,
    /// Containers or images (name, id or unique id prefix).
    #[arg(required = true)]
    targets: Vec<String>,
}

pub fn inspect(ctx: &Context, args: InspectArgs) -> Result<i32> {
    let store = ContainerStore::new(&ctx.paths);
    let images = ebrun::image::ImageStore::open(&ctx.paths)?;
    let want = args.kind.as_deref();
    if want.is_some_and(|k| k != "container" && k != "image") {
        anyhow::bail!(
            "\"{}\" is not a valid value for --type",
            want.unwrap_or_default()
        );
    }
    let mut out = Vec::new();
    let mut code = 0;
    for key in &args.targets {
        match (want != Some("image")).then(|| store.lookup(key)) {
            Some(Ok(config)) => {
                match ebrun::container::observe(&ctx.paths, &config) {
                    Ok(state) => out.push(document(ctx, &config, &state)),
                    Err(e) => {
                        eprintln!("Error response from daemon: {e}");
                        code = 1;
                    }
                }
                continue;
            }
            Some(Err(e @ ContainerError::Unreadable { .. })) => {
                eprintln!("Error response from daemon: {e}");
                code = 1;
                continue;
            }
            _ => {}
        }
        let image = (want != Some("container"))
            .then(|| images.resolve(key).ok())
            .flatten();
        match image {
            Some(record) => out.push(serde_json::to_value(ebrun::image::inspect::inspect(
                &images, &record,
            ))?),
            None => {
                eprintln!("Error: No such object: {key}");
                code = 1;
            }
        }
    }
    match args.format.as_deref() {
        None => println!("{}", serde_json::to_string_pretty(&Value::Array(out))?),
        Some("json") => println!("{}", serde_json::to_string(&Value::Array(out))?),
        Some(template) => {
            let template = ebrun::format::template::Template::parse(template)
                .map_err(|e| anyhow::anyhow!("template parsing error: {e}"))?;
            for v in &out {
                println!("{}", template.execute(v).map_err(|e| anyhow::anyhow!(e))?);
            }
        }
    }
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
    let meters = s
        .cgroups
        .as_ref()
        .map(|cg| ebrun::bpf::snapshot(&ctx.paths.bpffs_dir(), cg));
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
        "LogPath": ebrun::container::log_path(&dir, &c.id),
        "RestartCount": s.restart_count,
        "Driver": "overlay2",
        "Mounts": ebrun::volumes::inspect::mounts_json(&c.mounts),
        // Docker blanks the addresses and ports of a stopped container.
        "NetworkSettings": if matches!(s.status, Status::Running | Status::Paused | Status::Restarting) {
            ebrun::network::inspect_settings(&c.network, &s.network)
        } else {
            ebrun::network::inspect_settings(&c.network, &Default::default())
        },
        "HostConfig": {
            "AutoRemove": c.auto_remove,
            "RestartPolicy": {
                "Name": c.restart.name(),
                "MaximumRetryCount": c.restart.max_retries(),
            },
            "ReadonlyRootfs": c.read_only,
            "Tmpfs": ebrun::volumes::inspect::tmpfs_json(&c.mounts),
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
