//! `create`: resolve the image, reserve the name, make the container's directory and files.
//! Every step is recorded in a journal; any failure undoes what was done.

use std::path::PathBuf;

use super::config::{now_rfc3339, ContainerConfig, ContainerState};
use super::spec::{self, RunSpec};
use super::store::ContainerStore;
use super::{id, io_err, names, ContainerError};
use crate::image::ImageStore;
use crate::undo::HostChange;
use crate::Paths;

/// /etc/hosts as Docker writes it for a container without a network address.
const HOSTS: &str = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\
fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n";

/// A created (not yet started) container.
pub struct Created {
    pub config: ContainerConfig,
}

/// Creates a container from `spec`; nothing is left behind if it fails.
pub fn create(paths: &Paths, spec: &RunSpec) -> Result<Created, ContainerError> {
    let mut steps = crate::events::Steps::begin(paths, "create");
    let images = ImageStore::open(paths)?;
    let pull =
        || crate::image::pull::pull_missing_platform(paths, &spec.image, spec.platform.as_ref());
    let image = match images.resolve(&spec.image) {
        // Docker treats a local image of another platform as missing.
        Ok(found)
            if spec
                .platform
                .as_ref()
                .is_some_and(|p| !p.matches(&found.platform())) =>
        {
            pull()?
        }
        Err(e) if e.is_not_found() => pull()?,
        other => other?,
    };
    steps.step("image");
    let image_config = image.config.config().as_ref();
    let (entrypoint, cmd) = spec::command(spec, image_config);
    let args: Vec<String> = entrypoint.iter().chain(cmd.iter()).cloned().collect();
    if args.is_empty() {
        return Err(ContainerError::NoCommand);
    }
    let id = id::new_id();
    let hostname = spec
        .hostname
        .clone()
        .unwrap_or_else(|| id::short(&id).to_string());
    let process = super::config::ProcessConfig {
        args,
        env: spec::environment(spec, image_config, &hostname),
        cwd: spec
            .workdir
            .clone()
            .or_else(|| {
                image_config
                    .and_then(|c| c.working_dir().clone())
                    .filter(|w| !w.is_empty())
                    .map(PathBuf::from)
            })
            .unwrap_or_else(|| PathBuf::from("/")),
        user: spec
            .user
            .clone()
            .or_else(|| image_config.and_then(|c| c.user().clone()))
            .unwrap_or_default(),
        hostname,
        tty: spec.tty,
        interactive: spec.interactive,
        stdin_once: spec.stdin_once,
        console_size: spec.console_size,
        security: spec.security.clone(),
    };
    spec.network.validate(paths)?;
    spec.options.validate()?;
    if let Some(hc) = &spec.healthcheck {
        super::health::validate(hc)?;
    }
    let healthcheck = super::health::merge(
        spec.healthcheck.as_ref(),
        images.docker_extras(&image).healthcheck.as_ref(),
    );
    if spec.auto_remove && spec.restart != super::RestartPolicy::No {
        return Err(ContainerError::InvalidFlag {
            flag: "--restart",
            value: spec.restart.name().to_string(),
            reason: "conflicting options: --restart and --rm".into(),
        });
    }
    let userns = if spec.userns_host {
        None
    } else {
        crate::userns::load(paths)?
    };
    if userns.is_some() {
        // Docker's words for what a remapped root cannot have.
        if spec.security.privileged {
            return Err(ContainerError::InvalidFlag {
                flag: "--privileged",
                value: "true".into(),
                reason: "privileged mode is incompatible with user namespaces. You must run the container in the host namespace when running privileged mode (--userns=host)".into(),
            });
        }
        if spec.network.mode == crate::network::NetworkMode::Host {
            return Err(ContainerError::InvalidFlag {
                flag: "--net",
                value: "host".into(),
                reason: "cannot share the host's network namespace when user namespaces are enabled (add --userns=host)".into(),
            });
        }
    }
    super::sysctls::check(
        &spec.sysctls,
        spec.network.mode == crate::network::NetworkMode::Host,
    )?;
    if !process.cwd.is_absolute() {
        return Err(ContainerError::InvalidFlag {
            flag: "--workdir",
            value: process.cwd.display().to_string(),
            reason: "the working directory must be an absolute path".into(),
        });
    }

    let containers = ContainerStore::new(paths);
    let _lock = containers.lock()?;
    super::reconcile::reconcile_locked(paths);
    let existing = containers.list();
    let name = match &spec.name {
        Some(name) => {
            names::validate(name)?;
            let name = name.trim_start_matches('/').to_string();
            if let Some(other) = existing.iter().find(|c| c.name == name) {
                return Err(ContainerError::NameInUse {
                    name,
                    id: other.id.clone(),
                });
            }
            name
        }
        None => names::random(&id, |n| existing.iter().any(|c| c.name == n)),
    };
    steps.step("name");

    // Both journals live in the container's directory until create commits: a create
    // killed half-way is undone by the next ebrun command (`reconcile`).
    let dir = containers.dir(&id);
    std::fs::create_dir_all(&dir).map_err(io_err("create", &dir))?;
    let mut journal =
        crate::teardown::persisted_journal(dir.join(super::reconcile::CREATE_JOURNAL));
    journal.record(HostChange::Dir { path: dir.clone() });
    crate::faults::point("create:dir");
    let mut volume_journal =
        crate::teardown::persisted_journal(dir.join(super::reconcile::VOLUMES_JOURNAL));
    let mounts = crate::volumes::prepare(
        paths,
        &spec.mounts,
        image_config,
        &existing,
        &mut volume_journal,
    )?;
    steps.step("volumes");
    for sub in ["upper", "work", "merged"] {
        let path = dir.join(sub);
        std::fs::create_dir(&path).map_err(io_err("create", &path))?;
    }
    if let Some(remap) = &userns {
        super::userns_dirs::prepare(paths, &dir, &mounts, remap)?;
    }
    let hostname_file = dir.join("hostname");
    std::fs::write(&hostname_file, format!("{}\n", process.hostname))
        .map_err(io_err("write", &hostname_file))?;
    let hosts_file = dir.join("hosts");
    std::fs::write(&hosts_file, HOSTS).map_err(io_err("write", &hosts_file))?;
    let resolv_file = dir.join("resolv.conf");
    std::fs::write(&resolv_file, host_resolv_conf()).map_err(io_err("write", &resolv_file))?;
    steps.step("rootfs");

    // The image's labels, then the user's (same key wins), as Docker merges them.
    let mut labels: std::collections::BTreeMap<String, String> = image_config
        .and_then(|c| c.labels().clone())
        .unwrap_or_default()
        .into_iter()
        .collect();
    labels.extend(spec.labels.clone());
    let config = ContainerConfig {
        id: id.clone(),
        name,
        image: spec.image.clone(),
        image_id: image.id.clone(),
        created: now_rfc3339(),
        process,
        entrypoint,
        cmd,
        read_only: spec.read_only,
        auto_remove: spec.auto_remove,
        resources: spec.resources.clone(),
        sysctls: spec.sysctls.clone(),
        cgroupns: crate::cgroups::CgroupnsMode::resolve(
            spec.cgroupns,
            crate::cgroups::Layout::detect(),
        ),
        network: spec.network.clone(),
        restart: spec.restart,
        mounts,
        layers: images.layer_dirs(&image),
        userns,
        labels,
        healthcheck,
        options: super::RunOptions {
            // The image's STOPSIGNAL unless --stop-signal, as Docker merges them.
            stop_signal: spec
                .options
                .stop_signal
                .clone()
                .or_else(|| image_config.and_then(|c| c.stop_signal().clone())),
            ..spec.options.clone()
        },
        changes: journal.changes().to_vec(),
    };
    containers.save_state(&id, &ContainerState::default())?;
    crate::faults::point("create:config");
    containers.save_config(&config)?;
    journal.commit();
    volume_journal.commit();
    steps.step("state");
    crate::events::container(paths, "create", &config, &[]);
    steps.finish(&config.id);
    tracing::debug!(id = %config.id, name = %config.name, "container created");
    Ok(Created { config })
}

/// The host's /etc/resolv.conf without loopback resolvers (unreachable from a container's
/// own network namespace), as Docker filters it. The network set-up may rewrite it.
fn host_resolv_conf() -> String {
    let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    host.lines()
        .filter(|line| {
            let mut words = line.split_whitespace();
            !(words.next() == Some("nameserver")
                && words
                    .next()
                    .and_then(|a| a.parse::<std::net::IpAddr>().ok())
                    .is_some_and(|a| a.is_loopback()))
        })
        .map(|l| format!("{l}\n"))
        .collect()
}
