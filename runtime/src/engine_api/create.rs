//! `POST /containers/create`: Docker's create body becomes the same
//! [`RunSpec`](crate::container::RunSpec) `ebrun run`'s flags become, checked by the same
//! library rules (limits, ports, mounts, capabilities), then the same
//! [`container::create`] (whose translation to the OCI spec is the one `ebrun run` uses).

use hyper::StatusCode;
use serde_json::json;

use super::create_body::{CreateBody, HostConfig, MountBody};
use super::response::{self, Reply};
use super::router::Call;
use crate::cgroups::{check_limits, GivenText, HostCaps, Resources};
use crate::container::{self, RestartPolicy, RunSpec};
use crate::network::{ExtraHost, NetworkMode, NetworkSpec, PortMapping, PortProto, Proto};
use crate::volumes::{spec as volume_spec, MountRequests};

fn bad(message: impl std::fmt::Display) -> Reply {
    response::error(StatusCode::BAD_REQUEST, message)
}

/// `POST /containers/create?name=&platform=`.
pub fn create(call: &Call) -> Reply {
    let body: CreateBody = match super::request::json_body(&call.body) {
        Ok(b) => b,
        Err(reply) => return reply,
    };
    if body.image.is_empty() {
        return bad("config cannot be empty in order to create a container");
    }
    let name = call.query.get("name").filter(|n| !n.is_empty());
    let platform = match call.query.get("platform").filter(|p| !p.is_empty()) {
        Some(p) => match crate::image::Platform::parse(p) {
            Ok(p) => Some(p),
            Err(e) => return bad(e),
        },
        None => None,
    };
    // Docker's create never pulls: a missing image is a 404 the client answers by pulling.
    match crate::image::ImageStore::open(&call.paths).and_then(|s| s.resolve(&body.image)) {
        Ok(_) => {}
        Err(e) if e.is_not_found() => {
            return response::error(
                StatusCode::NOT_FOUND,
                format!("No such image: {}", full_reference(&body.image)),
            )
        }
        Err(e) => return bad(e),
    }
    let (mut spec, warnings) = match to_run_spec(body) {
        Ok(s) => s,
        Err(reply) => return reply,
    };
    spec.name = name.map(str::to_string);
    spec.platform = platform;
    match container::create(&call.paths, &spec) {
        Ok(created) => response::json(
            StatusCode::CREATED,
            &json!({"Id": created.config.id, "Warnings": warnings}),
        ),
        Err(e) => super::lifecycle::error(e),
    }
}

/// `busybox` as Docker names it in "No such image": `busybox:latest`.
fn full_reference(image: &str) -> String {
    let last = image.rsplit('/').next().unwrap_or(image);
    if last.contains(':') || image.contains('@') {
        image.to_string()
    } else {
        format!("{image}:latest")
    }
}

/// The body as ebrun's run options, and the warnings Docker would give.
fn to_run_spec(body: CreateBody) -> Result<(RunSpec, Vec<String>), Reply> {
    let hc = &body.host_config;
    refuse_unsupported(hc)?;
    let mut warnings = Vec::new();
    let mut security = crate::process::SecuritySpec {
        capabilities: crate::process::resolve_capabilities(
            hc.privileged,
            &hc.cap_add,
            &hc.cap_drop,
        )
        .map_err(bad)?,
        privileged: hc.privileged,
        ..Default::default()
    };
    if hc.privileged {
        security.seccomp = crate::process::SeccompProfile::Unconfined;
    }
    for opt in &hc.security_opt {
        crate::process::apply_security_opt(&mut security, opt).map_err(bad)?;
    }
    let userns_host = match hc.userns_mode.as_str() {
        "" => false,
        "host" => true,
        other => {
            return Err(bad(format!(
                "invalid HostConfig.UsernsMode {other:?} (--userns): only \"host\" is allowed"
            )))
        }
    };
    // dockerd takes any mode it knows and leaves the sysctls to the runtime's checks
    // (runc's rules, applied at create).
    let cgroupns = crate::cgroups::CgroupnsMode::parse(&hc.cgroupns_mode).map_err(|_| {
        bad(format!(
            "invalid cgroup namespace mode: {}",
            hc.cgroupns_mode
        ))
    })?;
    let restart = restart_policy(hc)?;
    let (resources, limit_warnings) = resources(hc)?;
    warnings.extend(limit_warnings);
    let spec = RunSpec {
        image: body.image.clone(),
        cmd: body.cmd.clone().unwrap_or_default(),
        entrypoint: body.entrypoint.clone(),
        env: body
            .env
            .iter()
            .filter(|e| e.contains('='))
            .cloned()
            .collect(),
        workdir: (!body.working_dir.is_empty()).then(|| body.working_dir.clone().into()),
        user: (!body.user.is_empty()).then(|| body.user.clone()),
        hostname: (!body.hostname.is_empty()).then(|| body.hostname.clone()),
        tty: body.tty,
        interactive: body.open_stdin,
        stdin_once: body.stdin_once,
        console_size: match hc.console_size.as_slice() {
            [rows, cols] if *rows > 0 && *cols > 0 => Some((*rows, *cols)),
            _ => None,
        },
        read_only: hc.readonly_rootfs,
        auto_remove: hc.auto_remove,
        detach: true,
        restart,
        security,
        userns_host,
        sysctls: hc.sysctls.clone(),
        cgroupns,
        resources,
        network: network(&body)?,
        mounts: mounts(&body)?,
        labels: body.labels.clone(),
        healthcheck: body.healthcheck.clone(),
        options: options(&body)?,
        ..Default::default()
    };
    Ok((spec, warnings))
}

/// `--init`, `--ulimit`, `--shm-size`, `--stop-signal`, `--group-add`, ...: the same
/// [`RunOptions`](crate::container::RunOptions) `ebrun run`'s flags give, checked by the same
/// rules at create.
fn options(body: &CreateBody) -> Result<crate::container::RunOptions, Reply> {
    let hc = &body.host_config;
    if hc.shm_size < 0 {
        return Err(bad("SHM size can not be less than 0"));
    }
    Ok(crate::container::RunOptions {
        init: hc.init == Some(true),
        ulimits: hc.ulimits.clone(),
        shm_size: (hc.shm_size > 0).then_some(hc.shm_size as u64),
        stop_signal: (!body.stop_signal.is_empty()).then(|| body.stop_signal.clone()),
        stop_timeout: body.stop_timeout,
        group_add: hc.group_add.clone(),
        domainname: body.domainname.clone(),
        annotations: hc.annotations.clone(),
        runtime: hc.runtime.clone(),
    })
}

/// Options ebrun does not carry out yet: refused by name rather than ignored.
fn refuse_unsupported(hc: &HostConfig) -> Result<(), Reply> {
    let set: [(&str, &str, bool); 8] = [
        ("Devices", "--device", !hc.devices.is_empty()),
        ("DeviceRequests", "--gpus", !hc.device_requests.is_empty()),
        ("Links", "--link", !hc.links.is_empty()),
        ("PidMode", "--pid", !hc.pid_mode.is_empty()),
        (
            "IpcMode",
            "--ipc",
            !matches!(hc.ipc_mode.as_str(), "" | "private" | "shareable"),
        ),
        ("UTSMode", "--uts", !hc.uts_mode.is_empty()),
        (
            "CgroupParent",
            "--cgroup-parent",
            !hc.cgroup_parent.is_empty(),
        ),
        (
            "LogConfig",
            "--log-driver",
            hc.log_config
                .as_ref()
                .is_some_and(|l| !matches!(l.kind.as_str(), "" | "json-file")),
        ),
    ];
    match set.iter().find(|(_, _, given)| *given) {
        Some((field, flag, _)) => Err(bad(format!(
            "HostConfig.{field} ({flag}) is not supported by ebrun yet; remove it to run this container"
        ))),
        None => Ok(()),
    }
}

pub fn restart_policy(hc: &HostConfig) -> Result<RestartPolicy, Reply> {
    let p = &hc.restart_policy;
    let text = match (p.name.as_str(), p.maximum_retry_count) {
        ("", _) => "no".to_string(),
        ("on-failure", n) if n > 0 => format!("on-failure:{n}"),
        (name, 0) => name.to_string(),
        (name, n) => {
            return Err(bad(format!(
                "invalid restart policy: maximum retry count can only be used with 'on-failure' (got {name} with MaximumRetryCount {n})"
            )))
        }
    };
    let policy = RestartPolicy::parse(&text).map_err(bad)?;
    if hc.auto_remove && policy != RestartPolicy::No {
        return Err(bad(
            "conflicting options: cannot specify both --restart and --rm",
        ));
    }
    Ok(policy)
}

/// The limits, with 0 meaning "not set" as in Docker's body, checked by the rules `ebrun
/// run` uses.
fn resources(hc: &HostConfig) -> Result<(Resources, Vec<String>), Reply> {
    let r = requested_resources(hc)?;
    check_limits(
        r.clone(),
        &GivenText::of_values(&r),
        &HostCaps::detect(),
        false,
    )
    .map_err(bad)
}

/// The limits a body sets (0: not set), before the rules are checked (an update checks
/// them merged with the container's).
pub fn requested_resources(hc: &HostConfig) -> Result<Resources, Reply> {
    let pos = |v: i64| (v != 0).then_some(v);
    let throttled = !hc.blkio_device_read_bps.is_empty()
        || !hc.blkio_device_write_bps.is_empty()
        || !hc.blkio_device_read_i_ops.is_empty()
        || !hc.blkio_device_write_i_ops.is_empty();
    if throttled {
        return Err(bad(
            "HostConfig.BlkioDevice* (--device-read-bps and friends) are not supported through the API yet; use ebrun run",
        ));
    }
    let r = Resources {
        memory: pos(hc.memory),
        memory_swap: pos(hc.memory_swap),
        memory_reservation: pos(hc.memory_reservation),
        memory_swappiness: hc.memory_swappiness.filter(|s| *s >= 0).map(|s| s as u64),
        kernel_memory: pos(hc.kernel_memory),
        oom_kill_disable: hc.oom_kill_disable.filter(|d| *d),
        oom_score_adj: (hc.oom_score_adj != 0).then_some(hc.oom_score_adj),
        nano_cpus: pos(hc.nano_cpus),
        cpu_shares: (hc.cpu_shares > 0).then(|| (hc.cpu_shares as u64).clamp(2, 262_144)),
        cpu_period: (hc.cpu_period > 0).then_some(hc.cpu_period as u64),
        cpu_quota: pos(hc.cpu_quota),
        cpu_rt_period: (hc.cpu_realtime_period > 0).then_some(hc.cpu_realtime_period as u64),
        cpu_rt_runtime: pos(hc.cpu_realtime_runtime),
        cpuset_cpus: (!hc.cpuset_cpus.is_empty()).then(|| hc.cpuset_cpus.clone()),
        cpuset_mems: (!hc.cpuset_mems.is_empty()).then(|| hc.cpuset_mems.clone()),
        pids_limit: hc.pids_limit.filter(|p| *p != 0),
        blkio_weight: (hc.blkio_weight != 0).then_some(hc.blkio_weight),
        ..Default::default()
    };
    if hc
        .memory_swappiness
        .is_some_and(|s| !(-1..=100).contains(&s))
    {
        return Err(bad(format!(
            "invalid --memory-swappiness value \"{}\": Invalid value: {0}, valid memory swappiness range is 0-100",
            hc.memory_swappiness.unwrap_or_default()
        )));
    }
    Ok(r)
}

/// `80/tcp` (a `PortBindings` or `ExposedPorts` key).
fn port_key(key: &str) -> Result<(u16, Proto), Reply> {
    let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
    let parsed = PortProto::parse_range("ExposedPorts", &format!("{port}/{proto}")).map_err(bad)?;
    match parsed.as_slice() {
        [one] => Ok((one.port, one.proto)),
        _ => Err(bad(format!(
            "invalid port {key:?}: a port binding names one container port"
        ))),
    }
}

fn network(body: &CreateBody) -> Result<NetworkSpec, Reply> {
    let hc = &body.host_config;
    let mode = match hc.network_mode.as_str() {
        "" | "default" => NetworkMode::Default,
        _ if body.network_disabled => NetworkMode::parse("none").map_err(bad)?,
        m => NetworkMode::parse(m).map_err(bad)?,
    };
    let mut publish = Vec::new();
    for (key, bindings) in &hc.port_bindings {
        let (port, proto) = port_key(key)?;
        for b in bindings.iter().flatten() {
            let host_ip =
                match b.host_ip.as_str() {
                    "" => None,
                    ip => Some(ip.trim_matches(|c| c == '[' || c == ']').parse().map_err(
                        |_| {
                            bad(format!(
                        "invalid HostIp {ip:?} in the port binding of {key}: expected an IP address"
                    ))
                        },
                    )?),
                };
            let host_ports = match b.host_port.as_str() {
                "" | "0" => None,
                p => {
                    let text = format!("{p}:{port}/{proto}");
                    let parsed = PortMapping::parse(&text).map_err(bad)?;
                    parsed.first().and_then(|m| m.host_ports)
                }
            };
            publish.push(PortMapping {
                host_ip,
                host_ports,
                container_port: port,
                proto,
            });
        }
    }
    let mut expose = Vec::new();
    for key in body.exposed_ports.keys() {
        let (port, proto) = port_key(key)?;
        expose.push(PortProto { port, proto });
    }
    let dns = hc
        .dns
        .iter()
        .map(|d| {
            d.parse()
                .map_err(|_| bad(format!("invalid --dns value {d:?}: expected an IP address")))
        })
        .collect::<Result<_, _>>()?;
    let extra_hosts = hc
        .extra_hosts
        .iter()
        .map(|h| ExtraHost::parse(h).map_err(bad))
        .collect::<Result<_, _>>()?;
    // The endpoint of the network the container is made on: aliases and a fixed address.
    let mode_name = mode.to_string();
    let endpoint = body
        .networking_config
        .endpoints_config
        .iter()
        .find(|(name, _)| **name == mode_name || body.networking_config.endpoints_config.len() == 1)
        .and_then(|(_, e)| e.as_ref());
    if body.networking_config.endpoints_config.len() > 1 {
        return Err(bad(
            "a container is created on one network; connect it to the others with POST /networks/{id}/connect",
        ));
    }
    let mut spec = NetworkSpec {
        mode,
        publish,
        publish_all: hc.publish_all_ports,
        expose,
        dns,
        dns_search: hc.dns_search.clone(),
        dns_options: hc.dns_options.clone(),
        extra_hosts,
        mac_address: (!body.mac_address.is_empty()).then(|| body.mac_address.clone()),
        ..Default::default()
    };
    if let Some(e) = endpoint {
        spec.aliases = e.aliases.clone();
        if let Some(ipam) = &e.ipam_config {
            if !ipam.ipv4_address.is_empty() {
                spec.ipv4 = Some(ipam.ipv4_address.parse().map_err(|_| {
                    bad(format!(
                        "invalid IPAMConfig.IPv4Address {:?} (--ip): expected an IPv4 address",
                        ipam.ipv4_address
                    ))
                })?);
            }
            if !ipam.ipv6_address.is_empty() {
                spec.ipv6 = Some(ipam.ipv6_address.parse().map_err(|_| {
                    bad(format!(
                        "invalid IPAMConfig.IPv6Address {:?} (--ip6): expected an IPv6 address",
                        ipam.ipv6_address
                    ))
                })?);
            }
        }
        if !e.mac_address.is_empty() {
            spec.mac_address = Some(e.mac_address.clone());
        }
    }
    if let Some(mac) = &spec.mac_address {
        crate::network::spec::parse_mac(mac).map_err(bad)?;
    }
    Ok(spec)
}

/// `--mount`'s text for a `Mounts` element: the structure and the flag are one syntax, so
/// both go through the one parser.
fn mount_text(m: &MountBody) -> String {
    let mut parts = vec![format!("type={}", m.kind)];
    if !m.source.is_empty() {
        parts.push(format!("source={}", m.source));
    }
    parts.push(format!("target={}", m.target));
    if m.read_only {
        parts.push("readonly".to_string());
    }
    if let Some(b) = &m.bind_options {
        if !b.propagation.is_empty() {
            parts.push(format!("bind-propagation={}", b.propagation));
        }
        if b.non_recursive {
            parts.push("bind-recursive=disabled".to_string());
        }
    }
    if let Some(v) = &m.volume_options {
        if v.no_copy {
            parts.push("volume-nocopy".to_string());
        }
        for (k, val) in &v.labels {
            parts.push(format!("volume-label={k}={val}"));
        }
    }
    if let Some(t) = &m.tmpfs_options {
        if t.size_bytes > 0 {
            parts.push(format!("tmpfs-size={}", t.size_bytes));
        }
        if t.mode != 0 {
            parts.push(format!("tmpfs-mode={:o}", t.mode));
        }
    }
    parts.join(",")
}

fn mounts(body: &CreateBody) -> Result<MountRequests, Reply> {
    let hc = &body.host_config;
    let mut requests = MountRequests::default();
    for b in &hc.binds {
        requests
            .mounts
            .push(volume_spec::parse_volume_flag(b).map_err(bad)?);
    }
    for m in &hc.mounts {
        requests
            .mounts
            .push(volume_spec::parse_mount_flag(&mount_text(m)).map_err(bad)?);
    }
    for (path, options) in &hc.tmpfs {
        let text = if options.is_empty() {
            path.clone()
        } else {
            format!("{path}:{options}")
        };
        requests
            .mounts
            .push(volume_spec::parse_tmpfs_flag(&text).map_err(bad)?);
    }
    // `Config.Volumes`: anonymous volumes (`-v /path`), unless a mount above covers the path.
    for path in body.volumes.keys() {
        let covered = requests
            .mounts
            .iter()
            .any(|m| m.destination == std::path::Path::new(path));
        if !covered {
            requests
                .mounts
                .push(volume_spec::parse_volume_flag(path).map_err(bad)?);
        }
    }
    for f in &hc.volumes_from {
        requests
            .volumes_from
            .push(volume_spec::parse_volumes_from(f).map_err(bad)?);
    }
    Ok(requests)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(json: &str) -> CreateBody {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn docker_cli_body_becomes_run_options() {
        let (spec, warnings) = to_run_spec(body(
            r#"{"Image":"busybox","Cmd":["sh","-c","true"],"Entrypoint":null,"Env":["A=1","B"],
                "Labels":{"com.docker.compose.project":"p"},"OpenStdin":true,"StdinOnce":true,
                "ExposedPorts":{"80/tcp":{}},
                "HostConfig":{"Memory":67108864,"NanoCpus":500000000,"AutoRemove":true,
                  "PortBindings":{"80/tcp":[{"HostIp":"127.0.0.1","HostPort":"8080"}]},
                  "RestartPolicy":{"Name":"no","MaximumRetryCount":0},
                  "Binds":["/tmp:/data:ro"],"Tmpfs":{"/run":"size=1m"},
                  "LogConfig":{"Type":"","Config":{}},"NetworkMode":"default"},
                "NetworkingConfig":{"EndpointsConfig":null},"Unknown":1}"#,
        ))
        .unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(spec.cmd, ["sh", "-c", "true"]);
        assert_eq!(spec.env, ["A=1"]);
        assert!(spec.interactive && spec.stdin_once && spec.auto_remove);
        assert_eq!(spec.resources.memory, Some(64 << 20));
        assert_eq!(spec.resources.nano_cpus, Some(500_000_000));
        assert_eq!(spec.network.publish[0].host_ports, Some((8080, 8080)));
        assert_eq!(spec.mounts.mounts.len(), 2);
        assert_eq!(spec.labels["com.docker.compose.project"], "p");
        assert_eq!(spec.healthcheck, None);
    }

    #[test]
    fn healthcheck_is_carried_as_the_cli_flags_are() {
        let (spec, warnings) = to_run_spec(body(
            r#"{"Image":"busybox","Healthcheck":{"Test":["CMD-SHELL","test -f /ok"],
                "Interval":200000000,"Timeout":0,"Retries":2,"StartPeriod":0}}"#,
        ))
        .unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        let hc = spec.healthcheck.unwrap();
        assert_eq!(hc.test, ["CMD-SHELL", "test -f /ok"]);
        assert_eq!((hc.interval, hc.retries), (200_000_000, 2));
        let (spec, _) = to_run_spec(body(
            r#"{"Image":"busybox","Healthcheck":{"Test":["NONE"]}}"#,
        ))
        .unwrap();
        assert!(spec.healthcheck.unwrap().is_disabled());
        let (spec, _) = to_run_spec(body(r#"{"Image":"busybox","Healthcheck":null}"#)).unwrap();
        assert!(spec.healthcheck.is_none());
    }

    #[test]
    fn bad_values_name_the_field() {
        let err = |json: &str| match to_run_spec(body(json)) {
            Err(r) => r.status(),
            Ok(_) => StatusCode::OK,
        };
        assert_eq!(
            err(r#"{"Image":"b","HostConfig":{"Memory":1024}}"#),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            err(r#"{"Image":"b","HostConfig":{"Devices":[{"PathOnHost":"/dev/fuse"}]}}"#),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            err(
                r#"{"Image":"b","HostConfig":{"RestartPolicy":{"Name":"always"},"AutoRemove":true}}"#
            ),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            err(r#"{"Image":"b","HostConfig":{"PortBindings":{"99999/tcp":[]}}}"#),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(full_reference("busybox"), "busybox:latest");
        assert_eq!(
            full_reference("localhost:5000/a"),
            "localhost:5000/a:latest"
        );
    }

    #[test]
    fn sysctls_and_cgroupns_mode_are_carried() {
        let (spec, _) = to_run_spec(body(
            r#"{"Image":"b","HostConfig":{"Sysctls":{"net.core.somaxconn":"512"},"CgroupnsMode":"private"}}"#,
        ))
        .unwrap();
        assert_eq!(spec.sysctls["net.core.somaxconn"], "512");
        assert_eq!(spec.cgroupns, Some(crate::cgroups::CgroupnsMode::Private));
        let (spec, _) =
            to_run_spec(body(r#"{"Image":"b","HostConfig":{"CgroupnsMode":""}}"#)).unwrap();
        assert_eq!(spec.cgroupns, None);
        assert!(to_run_spec(body(r#"{"Image":"b","HostConfig":{"CgroupnsMode":"x"}}"#)).is_err());
    }
}
