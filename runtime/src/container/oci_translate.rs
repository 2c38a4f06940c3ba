//! The one translation from Docker's options to an OCI runtime spec: a container's config
//! (its `run` flags merged with the image config) becomes the `config.json` the executor
//! runs. Every Docker flag that reaches the kernel is found here in one hop: flag -> spec
//! field; the executor takes it from there (see the `oci` module).

use std::path::{Path, PathBuf};

use oci_spec::runtime::{
    LinuxBuilder, LinuxNamespaceBuilder, LinuxNamespaceType, Mount, MountBuilder, ProcessBuilder,
    RootBuilder, Spec, SpecBuilder, UserBuilder,
};

use super::config::ContainerConfig;
use super::ContainerError;
use crate::cgroups::CgroupnsMode;
use crate::network::NetnsMode;
use crate::rootfs::{OverlayRoot, READ_ONLY_PATHS};
use crate::volumes::{BindRecursive, MountType};
use crate::Paths;

/// The files Docker bind-mounts into every container, from its directory.
pub const BIND_FILES: [&str; 3] = ["hostname", "hosts", "resolv.conf"];

/// The spec's version ebrun writes.
const OCI_VERSION: &str = "1.0.2";

fn invalid(what: &str, e: impl std::fmt::Display) -> ContainerError {
    ContainerError::InvalidState(format!("OCI spec {what}: {e}"))
}

fn mount(destination: &str, typ: &str, source: &str, options: &[&str]) -> Mount {
    MountBuilder::default()
        .destination(destination)
        .typ(typ)
        .source(source)
        .options(options.iter().map(|o| o.to_string()).collect::<Vec<_>>())
        .build()
        .expect("a mount has every field it needs")
}

/// Docker's default mounts: /proc, /dev, /dev/pts, /sys and /sys/fs/cgroup (read-only
/// unless privileged), /dev/mqueue, /dev/shm.
fn kernel_mounts(privileged: bool, shm_size: u64) -> Vec<Mount> {
    let rw = if privileged { "rw" } else { "ro" };
    vec![
        mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"]),
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        ),
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        ),
        mount("/sys", "sysfs", "sysfs", &["nosuid", "noexec", "nodev", rw]),
        // The container's own cgroups (see rootfs::cgroup_mount for what each layout shows).
        mount(
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            &[rw, "nosuid", "noexec", "nodev"],
        ),
        mount(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        ),
        mount(
            "/dev/shm",
            "tmpfs",
            "shm",
            &[
                "nosuid",
                "noexec",
                "nodev",
                "mode=1777",
                &format!("size={}k", shm_size / 1024),
            ],
        ),
    ]
}

/// `-v`, `--mount`, `--tmpfs`: binds with their propagation and recursion, tmpfs with
/// Docker's defaults (nosuid, nodev, noexec) unless an option turns one off.
fn user_mounts(config: &ContainerConfig) -> Vec<Mount> {
    let recursive_ro = crate::rootfs::volume_mounts::has_mount_setattr();
    config
        .mounts
        .iter()
        .map(|m| {
            let destination = m.destination.to_string_lossy().to_string();
            if m.kind == MountType::Tmpfs {
                let mut options = vec!["nosuid", "nodev", "noexec"];
                options.extend(m.tmpfs_options.iter().map(String::as_str));
                if m.read_only {
                    options.push("ro");
                }
                return mount(&destination, "tmpfs", "tmpfs", &options);
            }
            let mut options = vec![if m.bind_recursive == BindRecursive::Disabled {
                "bind"
            } else {
                "rbind"
            }];
            if m.read_only {
                options.push("ro");
                // Read-only all the way down where the kernel can (Docker 25+), unless
                // `bind-recursive=writable`; `readonly` insists (fails on old kernels).
                match m.bind_recursive {
                    BindRecursive::Readonly => options.push("rro"),
                    BindRecursive::Enabled if recursive_ro => options.push("rro"),
                    _ => {}
                }
            }
            options.push(m.propagation.map_or("rprivate", |p| p.as_str()));
            if m.kind == MountType::Volume && !m.no_copy {
                options.push("copyup");
            }
            mount(&destination, "bind", &m.source.to_string_lossy(), &options)
        })
        .collect()
}

/// /etc/hostname, /etc/hosts and /etc/resolv.conf from the container's directory, except
/// where a user mount replaces one (as in Docker).
fn etc_mounts(dir: &Path, config: &ContainerConfig) -> Vec<Mount> {
    BIND_FILES
        .iter()
        .map(|name| (format!("/etc/{name}"), dir.join(name)))
        .filter(|(dest, _)| {
            !config
                .mounts
                .iter()
                .any(|m| m.destination == Path::new(dest))
        })
        .map(|(dest, source)| {
            mount(
                &dest,
                "bind",
                &source.to_string_lossy(),
                &["rbind", "rprivate"],
            )
        })
        .collect()
}

/// The text of `file` (e.g. `etc/passwd`) as the container's root shows it: the upper dir
/// first, then the layers from the top, stopping at a whiteout.
pub(crate) fn read_in_layers(upper: &Path, layers: &[PathBuf], file: &str) -> Option<String> {
    let name = Path::new(file).file_name()?.to_string_lossy().to_string();
    let parent = Path::new(file).parent().unwrap_or(Path::new(""));
    for dir in std::iter::once(upper).chain(layers.iter().rev().map(PathBuf::as_path)) {
        let path = dir.join(file);
        if let Ok(meta) = std::fs::symlink_metadata(&path) {
            // An overlay whiteout (a 0/0 character device) hides the file below.
            if std::os::unix::fs::FileTypeExt::is_char_device(&meta.file_type()) {
                return None;
            }
            if let Ok(text) = std::fs::read_to_string(&path) {
                return Some(text);
            }
        }
        let whiteout = dir.join(parent).join(format!(".wh.{name}"));
        let opaque = dir.join(parent).join(".wh..wh..opq");
        if whiteout.exists() || opaque.exists() {
            return None;
        }
    }
    None
}

/// `-u USER[:GROUP]` resolved against the container's own /etc/passwd and /etc/group, with
/// `--group-add`'s groups (names looked up in /etc/group, or numbers) added.
fn user(dir: &Path, config: &ContainerConfig) -> Result<crate::process::UserSpec, ContainerError> {
    let upper = dir.join("upper");
    let passwd = read_in_layers(&upper, &config.layers, "etc/passwd");
    let group = read_in_layers(&upper, &config.layers, "etc/group");
    let failed = |message: String| {
        ContainerError::Start(crate::process::StartFailure {
            exit_code: 125,
            message,
        })
    };
    let mut user = crate::process::resolve_user_with(
        &config.process.user,
        passwd.as_deref(),
        group.as_deref(),
    )
    .map_err(failed)?;
    for added in &config.options.group_add {
        let gid = group
            .as_deref()
            .unwrap_or("")
            .lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|f| f.len() >= 3 && f[0] == added)
            .and_then(|f| f[2].parse::<u32>().ok())
            .or_else(|| added.parse().ok())
            .ok_or_else(|| {
                failed(format!(
                    "Unable to find group {added}: no matching entries in group file"
                ))
            })?;
        if !user.groups.contains(&gid) {
            user.groups.push(gid);
        }
    }
    Ok(user)
}

/// `--ulimit`s on top of Docker's default open-files limit (a nofile given replaces it).
fn rlimits(config: &ContainerConfig) -> Vec<oci_spec::runtime::PosixRlimit> {
    use super::run_options::rlim;
    let build = |typ, soft, hard| {
        oci_spec::runtime::PosixRlimitBuilder::default()
            .typ(typ)
            .soft(soft)
            .hard(hard)
            .build()
            .expect("an rlimit builds")
    };
    let ulimits = config.options.effective_ulimits();
    let mut out: Vec<_> = crate::process::docker_default_rlimits()
        .iter()
        .filter(|_| !ulimits.iter().any(|u| u.name == "nofile"))
        .map(|r| {
            build(
                oci_spec::runtime::PosixRlimitType::RlimitNofile,
                r.soft,
                r.hard,
            )
        })
        .collect();
    out.extend(ulimits.iter().filter_map(|u| {
        u.oci_type()
            .map(|typ| build(typ, rlim(u.soft), rlim(u.hard)))
    }));
    out
}

/// Docker's capability sets: a root process holds the container's set in the bounding,
/// effective and permitted sets (not the inheritable one, since Docker 20.10.14:
/// CVE-2022-24769); another user only keeps the bounding set (its capabilities go with
/// setuid).
fn capabilities(names: &[String], root: bool) -> oci_spec::runtime::LinuxCapabilities {
    // oci-spec parses the names without their CAP_ prefix.
    let set: oci_spec::runtime::Capabilities = names
        .iter()
        .filter_map(|n| n.trim_start_matches("CAP_").parse().ok())
        .collect();
    let held = if root {
        set.clone()
    } else {
        Default::default()
    };
    oci_spec::runtime::LinuxCapabilitiesBuilder::default()
        .bounding(set)
        .effective(held.clone())
        .permitted(held)
        .inheritable(oci_spec::runtime::Capabilities::default())
        .ambient(oci_spec::runtime::Capabilities::default())
        .build()
        .expect("capability sets build")
}

fn namespaces(netns: &NetnsMode, cgroupns: CgroupnsMode) -> Vec<oci_spec::runtime::LinuxNamespace> {
    let ns = |typ: LinuxNamespaceType, path: Option<&Path>| {
        let mut b = LinuxNamespaceBuilder::default().typ(typ);
        if let Some(p) = path {
            b = b.path(p);
        }
        b.build().expect("a namespace builds")
    };
    let mut list = vec![
        ns(LinuxNamespaceType::Pid, None),
        ns(LinuxNamespaceType::Ipc, None),
        ns(LinuxNamespaceType::Uts, None),
        ns(LinuxNamespaceType::Mount, None),
    ];
    match netns {
        NetnsMode::New => list.push(ns(LinuxNamespaceType::Network, None)),
        NetnsMode::Join(path) => list.push(ns(LinuxNamespaceType::Network, Some(path))),
        NetnsMode::Host => {}
    }
    if cgroupns == CgroupnsMode::Private {
        list.push(ns(LinuxNamespaceType::Cgroup, None));
    }
    list
}

/// The spec of `config`'s next start (`netns`: where its network namespace comes from).
pub fn spec_for(
    paths: &Paths,
    config: &ContainerConfig,
    netns: &NetnsMode,
) -> Result<Spec, ContainerError> {
    let dir = paths.container_dir(&config.id);
    let p = &config.process;
    let security = &p.security;
    let user = user(&dir, config)?;
    let root_user = user.uid == 0;
    let uid_user = UserBuilder::default()
        .uid(user.uid)
        .gid(user.gid)
        .additional_gids(user.groups.clone())
        .build()
        .map_err(|e| invalid("process.user", e))?;
    let rlimits = rlimits(config);
    let args: Vec<String> = if config.options.init {
        [super::run_options::INIT_PATH.to_string(), "--".to_string()]
            .into_iter()
            .chain(p.args.iter().cloned())
            .collect()
    } else {
        p.args.clone()
    };
    let mut process = ProcessBuilder::default()
        .terminal(p.tty)
        .user(uid_user)
        .args(args)
        .env(p.env.clone())
        .cwd(p.cwd.clone())
        .capabilities(capabilities(&security.capabilities, root_user))
        .rlimits(rlimits)
        .no_new_privileges(security.no_new_privs);
    if let Some(adj) = config.resources.oom_score_adj {
        process = process.oom_score_adj(adj);
    }
    if let (true, Some((rows, cols))) = (p.tty, p.console_size) {
        process = process.console_size(
            oci_spec::runtime::BoxBuilder::default()
                .height(u64::from(rows))
                .width(u64::from(cols))
                .build()
                .map_err(|e| invalid("process.consoleSize", e))?,
        );
    }
    let process = process.build().map_err(|e| invalid("process", e))?;

    let mut mounts = kernel_mounts(
        security.privileged,
        config
            .options
            .shm_size
            .unwrap_or(super::run_options::DEFAULT_SHM_SIZE),
    );
    mounts.extend(user_mounts(config));
    mounts.extend(etc_mounts(&dir, config));
    let (masked, readonly): (Vec<String>, Vec<String>) = if security.privileged {
        (Vec::new(), Vec::new())
    } else {
        (
            crate::rootfs::masked_paths(),
            READ_ONLY_PATHS.iter().map(|s| s.to_string()).collect(),
        )
    };
    let mut namespaces = namespaces(netns, config.cgroupns);
    let mut linux = LinuxBuilder::default();
    if let Some(remap) = &config.userns {
        // daemon.json's userns-remap: the container's ids are the range's.
        namespaces.insert(
            0,
            LinuxNamespaceBuilder::default()
                .typ(LinuxNamespaceType::User)
                .build()
                .expect("a namespace builds"),
        );
        let map = |r: crate::userns::IdRange| {
            vec![oci_spec::runtime::LinuxIdMappingBuilder::default()
                .container_id(0u32)
                .host_id(r.start)
                .size(r.size)
                .build()
                .expect("a mapping builds")]
        };
        linux = linux
            .uid_mappings(map(remap.uid))
            .gid_mappings(map(remap.gid));
    }
    // Docker's namespaced defaults, then `--sysctl` (the same key wins).
    let mut sysctl =
        super::sysctls::docker_defaults(matches!(netns, NetnsMode::New), config.userns.is_some());
    sysctl.extend(config.sysctls.clone());
    let mut linux = linux
        .namespaces(namespaces)
        .sysctl(
            sysctl
                .into_iter()
                .collect::<std::collections::HashMap<_, _>>(),
        )
        .masked_paths(masked)
        .readonly_paths(readonly)
        .rootfs_propagation("rprivate")
        .resources(crate::cgroups::to_oci_resources(&config.resources))
        .cgroups_path(PathBuf::from(format!("/{}/{}", paths.prefix(), config.id)));
    if let Some(seccomp) = security.seccomp.to_oci(&security.capabilities) {
        linux = linux.seccomp(seccomp);
    }
    let linux = linux.build().map_err(|e| invalid("linux", e))?;
    let mut annotations: std::collections::HashMap<String, String> =
        config.options.annotations.clone().into_iter().collect();
    annotations.insert(
        "org.opencontainers.image.ref.name".to_string(),
        config.image.clone(),
    );
    annotations.insert("io.ebrun.container.name".to_string(), config.name.clone());
    if config.options.init {
        annotations.insert(
            super::run_options::INIT_ANNOTATION.to_string(),
            "true".to_string(),
        );
    }
    let mut spec = SpecBuilder::default();
    if !config.options.domainname.is_empty() {
        spec = spec.domainname(config.options.domainname.clone());
    }
    spec.version(OCI_VERSION)
        .root(
            RootBuilder::default()
                .path(dir.join("merged"))
                .readonly(config.read_only)
                .build()
                .map_err(|e| invalid("root", e))?,
        )
        .hostname(p.hostname.clone())
        .process(process)
        .mounts(mounts)
        .linux(linux)
        .annotations(annotations)
        .build()
        .map_err(|e| invalid("spec", e))
}

/// `docker exec`'s process in the spec's terms: the container's environment with the exec's
/// added, its user resolved against the running container's own files (`root`: its
/// /proc/PID/root), the container's capabilities and seccomp filter.
pub fn exec_process(
    config: &ContainerConfig,
    exec: &super::ExecSpec,
    root: &Path,
) -> Result<crate::process::ProcessSpec, ContainerError> {
    let p = &config.process;
    let mut env = p.env.clone();
    for e in &exec.env {
        let key = e.split('=').next().unwrap_or("");
        env.retain(|x| x.split('=').next() != Some(key));
        env.push(e.clone());
    }
    if exec.tty && !env.iter().any(|e| e.starts_with("TERM=")) {
        env.push("TERM=xterm".into());
    }
    let user_name = exec.user.clone().unwrap_or_else(|| p.user.clone());
    let user = crate::process::resolve_user(&user_name, root).map_err(|e| {
        ContainerError::Start(crate::process::StartFailure {
            exit_code: 126,
            message: e,
        })
    })?;
    let process = ProcessBuilder::default()
        .terminal(exec.tty)
        .user(
            UserBuilder::default()
                .uid(user.uid)
                .gid(user.gid)
                .additional_gids(user.groups.clone())
                .build()
                .map_err(|e| invalid("process.user", e))?,
        )
        .args(exec.args.clone())
        .env(env)
        .cwd(exec.workdir.clone().unwrap_or_else(|| p.cwd.clone()))
        .capabilities(capabilities(&p.security.capabilities, user.uid == 0))
        .no_new_privileges(p.security.no_new_privs)
        .build()
        .map_err(|e| invalid("process", e))?;
    let seccomp = p.security.seccomp.to_oci(&p.security.capabilities);
    let mut spec = crate::oci::process_of(&process, seccomp.as_ref())
        .map_err(|e| ContainerError::InvalidState(e.to_string()))?;
    spec.stdin = exec.interactive;
    spec.rlimits = crate::process::docker_default_rlimits();
    Ok(spec)
}

/// The overlay of `config`'s image layers that becomes the spec's root; for a remapped
/// container, of the layers' copies its root owns (made on first use).
pub fn overlay_root(
    paths: &Paths,
    config: &ContainerConfig,
) -> Result<OverlayRoot, ContainerError> {
    let dir = paths.container_dir(&config.id);
    let layers = match &config.userns {
        None => config.layers.clone(),
        Some(remap) => config
            .layers
            .iter()
            .map(|layer| {
                let copy = crate::userns::shifted_layer(layer, remap)?;
                super::userns_dirs::make_reachable(paths, &copy)?;
                Ok(copy)
            })
            .collect::<Result<_, ContainerError>>()?,
    };
    Ok(OverlayRoot {
        layers,
        upper: dir.join("upper"),
        work: dir.join("work"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_read_through_the_layers() {
        let d = tempfile::tempdir().unwrap();
        let (upper, low, top) = (d.path().join("u"), d.path().join("l0"), d.path().join("l1"));
        for p in [&upper, &low, &top] {
            std::fs::create_dir_all(p.join("etc")).unwrap();
        }
        std::fs::write(low.join("etc/passwd"), "low").unwrap();
        let layers = vec![low.clone(), top.clone()];
        assert_eq!(
            read_in_layers(&upper, &layers, "etc/passwd").as_deref(),
            Some("low")
        );
        std::fs::write(top.join("etc/passwd"), "top").unwrap();
        assert_eq!(
            read_in_layers(&upper, &layers, "etc/passwd").as_deref(),
            Some("top")
        );
        std::fs::write(upper.join("etc/.wh.passwd"), "").unwrap();
        assert_eq!(read_in_layers(&upper, &layers, "etc/passwd"), None);
    }
}
