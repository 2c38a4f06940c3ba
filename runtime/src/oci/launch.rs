//! A spec resolved into the executor's [`Launch`]: every field this kernel can do is turned
//! into what the syscalls take; what it cannot do is refused naming the JSON path, before
//! anything is created. AppArmor and SELinux labels are ignored (this host has neither), as
//! crun does on such hosts.

use std::path::{Path, PathBuf};

use nix::sched::CloneFlags;
use nix::sys::resource::Resource;
use nix::sys::stat::SFlag;
use oci_spec::runtime::{
    Capabilities as OciCaps, LinuxDeviceType, LinuxNamespaceType, PosixRlimitType, Spec,
};

use super::OciError;
use crate::process::{Capabilities, Launch, Namespaces, ProcessSpec, Rlimit};
use crate::rootfs::{parse_mount_options, DeviceNode, MountSpec, OverlayRoot, RootfsSpec};

/// Where the container's root comes from.
#[derive(Debug, Clone)]
pub enum RootSource {
    /// `root.path` is ready (an OCI bundle's `rootfs`, made by the caller).
    Prepared,
    /// An overlay of image layers is mounted on `root.path` first (the Docker front end).
    Overlay(OverlayRoot),
}

/// Resolves `spec` (of the bundle at `bundle`) for the executor.
pub fn launch(
    spec: &Spec,
    bundle: &Path,
    source: RootSource,
    no_pivot: bool,
) -> Result<Launch, OciError> {
    let linux = spec.linux().clone().unwrap_or_default();
    refuse_unsupported(spec, &linux)?;
    let mut namespaces = namespaces(spec)?;
    namespaces.user = id_mappings(&linux, &namespaces)?;
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| OciError::invalid("root", "missing: the spec must name its root"))?;
    let root_path = absolute(bundle, root.path());
    if matches!(source, RootSource::Prepared) && !root_path.is_dir() {
        return Err(OciError::invalid(
            "root.path",
            format!("{} is not a directory", root_path.display()),
        ));
    }
    let mut mounts = Vec::new();
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        let at = |field: &str| format!("mounts[{i}].{field}");
        if !m.destination().is_absolute() {
            return Err(OciError::invalid(
                at("destination"),
                format!("{} is not an absolute path", m.destination().display()),
            ));
        }
        let options = parse_mount_options(m.options().as_deref().unwrap_or_default())
            .map_err(|e| OciError::invalid(at("options"), e))?;
        let fstype = m.typ().clone().unwrap_or_default();
        let is_bind = options.bind || fstype == "bind";
        let source = match m.source() {
            Some(s) if is_bind => absolute(bundle, s).display().to_string(),
            Some(s) => s.display().to_string(),
            None if is_bind => {
                return Err(OciError::invalid(at("source"), "a bind needs a source"))
            }
            None => String::new(),
        };
        if fstype.is_empty() && !is_bind {
            return Err(OciError::invalid(at("type"), "missing (and not a bind)"));
        }
        mounts.push(MountSpec {
            destination: m.destination().clone(),
            fstype,
            source,
            options,
        });
    }
    let propagation = match linux.rootfs_propagation().as_deref() {
        None | Some("") => nix::mount::MsFlags::MS_SLAVE | nix::mount::MsFlags::MS_REC,
        Some(p) => crate::rootfs::mount_options::propagation_flags(p).ok_or_else(|| {
            OciError::invalid(
                "linux.rootfsPropagation",
                format!("{p:?}: expected private, rprivate, slave, rslave, shared or rshared"),
            )
        })?,
    };
    let rootfs = RootfsSpec {
        root: root_path,
        overlay: match source {
            RootSource::Overlay(o) => Some(o),
            RootSource::Prepared => None,
        },
        mounts,
        devices: devices(&linux)?,
        propagation,
        masked_paths: linux.masked_paths().clone().unwrap_or_default(),
        readonly_paths: linux.readonly_paths().clone().unwrap_or_default(),
        read_only: root.readonly().unwrap_or(false),
        no_pivot,
        bind_devices: namespaces.in_user_namespace(),
        cgroupns: namespaces.new_cgroup
            || namespaces
                .join
                .iter()
                .any(|(flag, _)| *flag == CloneFlags::CLONE_NEWCGROUP),
    };
    let new_uts = namespaces.clone.contains(CloneFlags::CLONE_NEWUTS);
    let personality = match linux.personality() {
        None => None,
        Some(p) if p.flags().as_ref().is_some_and(|f| !f.is_empty()) => {
            return Err(OciError::invalid(
                "linux.personality.flags",
                "no personality flags are supported",
            ))
        }
        Some(p) => Some(match p.domain() {
            oci_spec::runtime::LinuxPersonalityDomain::PerLinux => 0x0000,
            oci_spec::runtime::LinuxPersonalityDomain::PerLinux32 => 0x0008,
        }),
    };
    let mut sysctl: Vec<(String, String)> = linux
        .sysctl()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    sysctl.sort();
    check_sysctls(&sysctl, &namespaces)?;
    let all_hooks = spec.hooks().clone().unwrap_or_default();
    Ok(Launch {
        process: process(spec)?,
        rootfs,
        hooks: crate::process::ContainerHooks {
            create_container: hooks(all_hooks.create_container(), "hooks.createContainer")?,
            start_container: hooks(all_hooks.start_container(), "hooks.startContainer")?,
            state: serde_json::Value::Null,
        },
        namespaces,
        hostname: spec.hostname().clone().filter(|h| new_uts && !h.is_empty()),
        domainname: spec
            .domainname()
            .clone()
            .filter(|d| new_uts && !d.is_empty()),
        sysctl,
        personality,
    })
}

/// What this host or ebrun cannot do is refused, naming the field (as crun does); security
/// labels of modules this host does not have are ignored, with a note in the log.
fn refuse_unsupported(spec: &Spec, linux: &oci_spec::runtime::Linux) -> Result<(), OciError> {
    if linux.intel_rdt().is_some() {
        return Err(OciError::invalid(
            "linux.intelRdt",
            "Intel RDT (resctrl) is not available on this host",
        ));
    }
    if linux
        .seccomp()
        .as_ref()
        .is_some_and(|s| s.listener_path().is_some())
    {
        return Err(OciError::invalid(
            "linux.seccomp.listenerPath",
            "seccomp user notification is not supported by ebrun",
        ));
    }
    if linux.time_offsets().as_ref().is_some_and(|t| !t.is_empty()) {
        return Err(OciError::invalid(
            "linux.timeOffsets",
            "time namespaces are not supported by ebrun yet",
        ));
    }
    if let Some(p) = spec.process() {
        if p.apparmor_profile().as_ref().is_some_and(|a| !a.is_empty()) {
            tracing::debug!("process.apparmorProfile ignored: this host has no AppArmor");
        }
        if p.selinux_label().as_ref().is_some_and(|l| !l.is_empty()) {
            tracing::debug!("process.selinuxLabel ignored: this host has no SELinux");
        }
    }
    Ok(())
}

/// A sysctl key in its dotted form (`net/ipv4/ip_forward` -> `net.ipv4.ip_forward`; a dot
/// inside a slash-separated key, as in an interface name, becomes a slash), as runc reads it.
pub fn dotted_sysctl(key: &str) -> String {
    match key.find(['.', '/']) {
        Some(i) if key.as_bytes()[i] == b'/' => key
            .chars()
            .map(|c| match c {
                '.' => '/',
                '/' => '.',
                c => c,
            })
            .collect(),
        _ => key.to_string(),
    }
}

/// Whether the namespace at `path` is this process's own network namespace.
fn is_own_netns(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (
        std::fs::metadata("/proc/self/ns/net"),
        std::fs::metadata(path),
    ) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// `linux.sysctl` under runc's rules: a sysctl is written only into a namespace the
/// container has of its own (IPC ones with a new IPC namespace, `net.*` with a network
/// namespace that is not this one, `kernel.domainname` with a new UTS namespace, `user.*`
/// with a user namespace); anything else would change the host, and is refused in runc's
/// words.
fn check_sysctls(
    sysctl: &[(String, String)],
    ns: &crate::process::Namespaces,
) -> Result<(), OciError> {
    const IPC: [&str; 8] = [
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    let has = |flag: CloneFlags| ns.clone.contains(flag) || ns.join.iter().any(|(f, _)| *f == flag);
    let host_net = || {
        if ns.clone.contains(CloneFlags::CLONE_NEWNET) {
            return false;
        }
        match ns.join.iter().find(|(f, _)| *f == CloneFlags::CLONE_NEWNET) {
            Some((_, path)) => is_own_netns(path),
            None => true,
        }
    };
    for (key, _) in sysctl {
        let s = dotted_sysctl(key);
        let refuse = |why: String| Err(OciError::invalid(format!("linux.sysctl[{key:?}]"), why));
        if IPC.contains(&s.as_str()) || s.starts_with("fs.mqueue.") {
            if !has(CloneFlags::CLONE_NEWIPC) {
                return refuse(format!(
                    "sysctl {s:?} is not allowed in the hosts ipc namespace"
                ));
            }
        } else if s.starts_with("net.") {
            if host_net() {
                return refuse(format!(
                    "sysctl {s:?} not allowed in host network namespace"
                ));
            }
        } else if s == "kernel.domainname" && has(CloneFlags::CLONE_NEWUTS) {
        } else if s == "kernel.hostname" && has(CloneFlags::CLONE_NEWUTS) {
            return refuse(format!(
                "sysctl {s:?} is not allowed as it conflicts with the OCI \"hostname\" field"
            ));
        } else if s.starts_with("user.") {
            if !has(CloneFlags::CLONE_NEWUSER) {
                return refuse(format!(
                    "setting ucounts without a user namespace not allowed: {s}"
                ));
            }
        } else {
            return refuse(format!(
                "sysctl {s:?} is not in a separate kernel namespace"
            ));
        }
    }
    Ok(())
}

/// One stage's hooks of the spec (`at`: its JSON path, for errors).
pub fn hooks(
    list: &Option<Vec<oci_spec::runtime::Hook>>,
    at: &str,
) -> Result<Vec<crate::process::Hook>, OciError> {
    list.iter()
        .flatten()
        .enumerate()
        .map(|(i, h)| {
            if !h.path().is_absolute() {
                return Err(OciError::invalid(
                    format!("{at}[{i}].path"),
                    format!("{} is not an absolute path", h.path().display()),
                ));
            }
            Ok(crate::process::Hook {
                path: h.path().clone(),
                args: h.args().clone().unwrap_or_default(),
                env: h.env().clone().unwrap_or_default(),
                timeout: match h.timeout() {
                    Some(t) if t <= 0 => {
                        return Err(OciError::invalid(
                            format!("{at}[{i}].timeout"),
                            format!("{t}: must be positive"),
                        ))
                    }
                    t => t.map(|t| std::time::Duration::from_secs(t as u64)),
                },
            })
        })
        .collect()
}

fn absolute(bundle: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        bundle.join(path)
    }
}

fn namespaces(spec: &Spec) -> Result<Namespaces, OciError> {
    let mut ns = Namespaces::default();
    let list = spec.linux().as_ref().and_then(|l| l.namespaces().clone());
    for (i, n) in list.iter().flatten().enumerate() {
        let at = format!("linux.namespaces[{i}]");
        let flag = match n.typ() {
            LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
            LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
            LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
            LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
            LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
            LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
            LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
            LinuxNamespaceType::Time => {
                return Err(OciError::invalid(
                    format!("{at}.type"),
                    "time namespaces are not supported by ebrun yet",
                ))
            }
        };
        match n.path() {
            Some(path) if flag == CloneFlags::CLONE_NEWNS => {
                return Err(OciError::invalid(
                    format!("{at}.path"),
                    format!(
                        "joining a mount namespace ({}) is not supported",
                        path.display()
                    ),
                ))
            }
            // A user namespace is joined before the others (they belong to it).
            Some(path) if flag == CloneFlags::CLONE_NEWUSER => {
                ns.join.insert(0, (flag, path.clone()))
            }
            Some(path) => ns.join.push((flag, path.clone())),
            None if flag == CloneFlags::CLONE_NEWCGROUP => ns.new_cgroup = true,
            None => ns.clone |= flag,
        }
    }
    if !ns.clone.contains(CloneFlags::CLONE_NEWNS) {
        return Err(OciError::invalid(
            "linux.namespaces",
            "ebrun needs a new mount namespace (type \"mount\") to build the container's root",
        ));
    }
    Ok(ns)
}

/// The mappings of a new user namespace; mappings without one (or one without mappings)
/// are refused.
fn id_mappings(
    linux: &oci_spec::runtime::Linux,
    ns: &Namespaces,
) -> Result<Option<crate::process::IdMappings>, OciError> {
    let ranges = |m: &Option<Vec<oci_spec::runtime::LinuxIdMapping>>| -> Vec<(u32, u32, u32)> {
        m.iter()
            .flatten()
            .map(|r| (r.container_id(), r.host_id(), r.size()))
            .collect()
    };
    let maps = crate::process::IdMappings {
        uid: ranges(linux.uid_mappings()),
        gid: ranges(linux.gid_mappings()),
    };
    let new_user = ns.clone.contains(CloneFlags::CLONE_NEWUSER);
    match (new_user, maps.uid.is_empty(), maps.gid.is_empty()) {
        (false, true, true) => Ok(None),
        (false, _, _) => Err(OciError::invalid(
            "linux.uidMappings",
            "mappings need a new user namespace (linux.namespaces type \"user\" without a path)",
        )),
        (true, true, _) => Err(OciError::invalid(
            "linux.uidMappings",
            "a new user namespace needs uid mappings",
        )),
        (true, _, true) => Err(OciError::invalid(
            "linux.gidMappings",
            "a new user namespace needs gid mappings",
        )),
        (true, false, false) => {
            for (name, list) in [
                ("linux.uidMappings", &maps.uid),
                ("linux.gidMappings", &maps.gid),
            ] {
                if let Some(i) = list.iter().position(|(_, _, size)| *size == 0) {
                    return Err(OciError::invalid(
                        format!("{name}[{i}].size"),
                        "must be at least 1",
                    ));
                }
            }
            Ok(Some(maps))
        }
    }
}

fn devices(linux: &oci_spec::runtime::Linux) -> Result<Vec<DeviceNode>, OciError> {
    let mut nodes = Vec::new();
    for (i, d) in linux.devices().iter().flatten().enumerate() {
        let kind = match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
            LinuxDeviceType::B => SFlag::S_IFBLK,
            LinuxDeviceType::P => SFlag::S_IFIFO,
            LinuxDeviceType::A => {
                return Err(OciError::invalid(
                    format!("linux.devices[{i}].type"),
                    "\"a\" is for cgroup rules only; a device node is c, b, u or p",
                ))
            }
        };
        nodes.push(DeviceNode {
            path: d.path().clone(),
            kind,
            major: d.major() as u64,
            minor: d.minor() as u64,
            mode: d.file_mode().unwrap_or(0o666),
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
        });
    }
    Ok(nodes)
}

/// A capability set of the spec as this kernel's capabilities (names it does not know are
/// refused, naming the set).
fn caps_of(set: &Option<OciCaps>, at: &str) -> Result<Vec<caps::Capability>, OciError> {
    set.iter()
        .flatten()
        .map(|c| {
            let name = c.to_string();
            let name = if name.starts_with("CAP_") {
                name
            } else {
                format!("CAP_{name}")
            };
            name.parse::<caps::Capability>()
                .map_err(|_| OciError::invalid(at, format!("unknown capability {name}")))
        })
        .collect()
}

fn rlimit_resource(t: PosixRlimitType) -> Option<Resource> {
    Some(match t {
        PosixRlimitType::RlimitCpu => Resource::RLIMIT_CPU,
        PosixRlimitType::RlimitFsize => Resource::RLIMIT_FSIZE,
        PosixRlimitType::RlimitData => Resource::RLIMIT_DATA,
        PosixRlimitType::RlimitStack => Resource::RLIMIT_STACK,
        PosixRlimitType::RlimitCore => Resource::RLIMIT_CORE,
        PosixRlimitType::RlimitRss => Resource::RLIMIT_RSS,
        PosixRlimitType::RlimitNproc => Resource::RLIMIT_NPROC,
        PosixRlimitType::RlimitNofile => Resource::RLIMIT_NOFILE,
        PosixRlimitType::RlimitMemlock => Resource::RLIMIT_MEMLOCK,
        PosixRlimitType::RlimitAs => Resource::RLIMIT_AS,
        PosixRlimitType::RlimitLocks => Resource::RLIMIT_LOCKS,
        PosixRlimitType::RlimitSigpending => Resource::RLIMIT_SIGPENDING,
        PosixRlimitType::RlimitMsgqueue => Resource::RLIMIT_MSGQUEUE,
        PosixRlimitType::RlimitNice => Resource::RLIMIT_NICE,
        PosixRlimitType::RlimitRtprio => Resource::RLIMIT_RTPRIO,
        PosixRlimitType::RlimitRttime => Resource::RLIMIT_RTTIME,
        #[allow(unreachable_patterns)]
        _ => return None,
    })
}

/// The spec's `process` for the executor (also an `exec`'s `--process` file).
pub fn process(spec: &Spec) -> Result<ProcessSpec, OciError> {
    let p = spec
        .process()
        .as_ref()
        .ok_or_else(|| OciError::invalid("process", "missing: the spec must name a process"))?;
    let mut process = process_of(p, spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()))?;
    if own_init(spec, &process.args) {
        process.args.drain(..2);
        process.init = true;
    }
    Ok(process)
}

/// Docker's `--init` as ebrun writes it: `process.args` are `/sbin/docker-init -- CMD...`
/// and the annotation `io.ebrun.init` is "true": the executor plays that init itself (see
/// process::init) instead of exec'ing a binary; without the annotation (Docker's tini
/// bind-mounted there) the spec's args are exec'd as they are.
fn own_init(spec: &Spec, args: &[String]) -> bool {
    use crate::container::run_options::{INIT_ANNOTATION, INIT_PATH};
    args.len() >= 3
        && args[0] == INIT_PATH
        && args[1] == "--"
        && spec
            .annotations()
            .as_ref()
            .and_then(|a| a.get(INIT_ANNOTATION))
            .is_some_and(|v| v == "true")
}

/// Resolves one `process` object; `seccomp` is the container's filter.
pub fn process_of(
    p: &oci_spec::runtime::Process,
    seccomp: Option<&oci_spec::runtime::LinuxSeccomp>,
) -> Result<ProcessSpec, OciError> {
    let args = p.args().clone().unwrap_or_default();
    if args.is_empty() {
        return Err(OciError::invalid("process.args", "empty: nothing to run"));
    }
    if !p.cwd().is_absolute() {
        return Err(OciError::invalid(
            "process.cwd",
            format!("{} is not an absolute path", p.cwd().display()),
        ));
    }
    let c = p.capabilities().clone().unwrap_or_default();
    let capabilities = Capabilities {
        bounding: caps_of(c.bounding(), "process.capabilities.bounding")?,
        effective: caps_of(c.effective(), "process.capabilities.effective")?,
        permitted: caps_of(c.permitted(), "process.capabilities.permitted")?,
        inheritable: caps_of(c.inheritable(), "process.capabilities.inheritable")?,
        ambient: caps_of(c.ambient(), "process.capabilities.ambient")?,
    };
    let mut rlimits = Vec::new();
    for (i, r) in p.rlimits().iter().flatten().enumerate() {
        let resource = rlimit_resource(r.typ()).ok_or_else(|| {
            OciError::invalid(format!("process.rlimits[{i}].type"), "not a Linux rlimit")
        })?;
        if r.soft() > r.hard() {
            return Err(OciError::invalid(
                format!("process.rlimits[{i}]"),
                format!(
                    "soft limit {} is above the hard limit {}",
                    r.soft(),
                    r.hard()
                ),
            ));
        }
        rlimits.push(Rlimit {
            resource,
            soft: r.soft(),
            hard: r.hard(),
        });
    }
    if let Some(adj) = p.oom_score_adj() {
        if !(-1000..=1000).contains(&adj) {
            return Err(OciError::invalid(
                "process.oomScoreAdj",
                format!("{adj} is outside -1000..1000"),
            ));
        }
    }
    let seccomp = match seccomp {
        Some(s) => {
            crate::process::compile_seccomp(s).map_err(|e| OciError::invalid("linux.seccomp", e))?
        }
        None => Vec::new(),
    };
    let user = p.user();
    Ok(ProcessSpec {
        args,
        env: p.env().clone().unwrap_or_default(),
        cwd: p.cwd().clone(),
        uid: user.uid(),
        gid: user.gid(),
        additional_gids: user.additional_gids().clone().unwrap_or_default(),
        umask: user.umask(),
        terminal: p.terminal().unwrap_or(false),
        console_size: p
            .console_size()
            .as_ref()
            .map(|b| (b.height() as u16, b.width() as u16)),
        stdin: true,
        capabilities,
        rlimits,
        no_new_privileges: p.no_new_privileges().unwrap_or(false),
        oom_score_adj: p.oom_score_adj(),
        seccomp,
        preserve_fds: 0,
        init: false,
    })
}
