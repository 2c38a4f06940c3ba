//! seccomp: ebrun's default filter (the effect of Docker's default profile: syscalls that
//! reach beyond the container fail with EPERM — keyrings, kernel modules, mounts, namespaces,
//! bpf, clock and reboot control, ...), `seccomp=unconfined`, and Docker-format JSON profiles.
//! Filters are compiled to BPF with `seccompiler` and installed just before exec.

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};
use serde::{Deserialize, Serialize};

/// Which filter a container's processes run under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SeccompProfile {
    /// ebrun's default filter.
    Default,
    /// No filter.
    Unconfined,
    /// A Docker-format profile (kept whole: the container's processes compile it).
    Docker(DockerProfile),
}

/// Syscalls a default container may not make (EPERM), each with the capability that
/// allows it again (as Docker's profile does when that capability is added), if any.
const DENIED: &[(&str, Option<&str>)] = &[
    ("acct", Some("CAP_SYS_PACCT")),
    ("add_key", None),
    ("bpf", Some("CAP_SYS_ADMIN")),
    ("clock_adjtime", Some("CAP_SYS_TIME")),
    ("clock_settime", Some("CAP_SYS_TIME")),
    ("create_module", None),
    ("delete_module", Some("CAP_SYS_MODULE")),
    ("finit_module", Some("CAP_SYS_MODULE")),
    ("fsconfig", Some("CAP_SYS_ADMIN")),
    ("fsmount", Some("CAP_SYS_ADMIN")),
    ("fsopen", Some("CAP_SYS_ADMIN")),
    ("fspick", Some("CAP_SYS_ADMIN")),
    ("get_kernel_syms", None),
    ("get_mempolicy", Some("CAP_SYS_NICE")),
    ("init_module", Some("CAP_SYS_MODULE")),
    ("ioperm", Some("CAP_SYS_RAWIO")),
    ("iopl", Some("CAP_SYS_RAWIO")),
    ("kcmp", Some("CAP_SYS_PTRACE")),
    ("kexec_file_load", Some("CAP_SYS_BOOT")),
    ("kexec_load", Some("CAP_SYS_BOOT")),
    ("keyctl", None),
    ("lookup_dcookie", Some("CAP_SYS_ADMIN")),
    ("mbind", Some("CAP_SYS_NICE")),
    ("mount", Some("CAP_SYS_ADMIN")),
    ("mount_setattr", Some("CAP_SYS_ADMIN")),
    ("move_mount", Some("CAP_SYS_ADMIN")),
    ("move_pages", Some("CAP_SYS_NICE")),
    ("name_to_handle_at", Some("CAP_SYS_ADMIN")),
    ("nfsservctl", None),
    ("open_by_handle_at", Some("CAP_DAC_READ_SEARCH")),
    ("open_tree", Some("CAP_SYS_ADMIN")),
    ("perf_event_open", Some("CAP_SYS_ADMIN")),
    ("pivot_root", Some("CAP_SYS_ADMIN")),
    ("process_vm_readv", Some("CAP_SYS_PTRACE")),
    ("process_vm_writev", Some("CAP_SYS_PTRACE")),
    ("query_module", None),
    ("quotactl", Some("CAP_SYS_ADMIN")),
    ("reboot", Some("CAP_SYS_BOOT")),
    ("request_key", None),
    ("set_mempolicy", Some("CAP_SYS_NICE")),
    ("setns", Some("CAP_SYS_ADMIN")),
    ("settimeofday", Some("CAP_SYS_TIME")),
    ("swapoff", Some("CAP_SYS_ADMIN")),
    ("swapon", Some("CAP_SYS_ADMIN")),
    ("syslog", Some("CAP_SYSLOG")),
    ("sysfs", None),
    ("umount2", Some("CAP_SYS_ADMIN")),
    ("unshare", Some("CAP_SYS_ADMIN")),
    ("uselib", None),
    ("userfaultfd", None),
    ("ustat", None),
    ("vhangup", Some("CAP_SYS_TTY_CONFIG")),
];

/// Namespace flags `clone` may not carry in a default container.
const CLONE_NAMESPACE_FLAGS: [u64; 7] = [
    libc::CLONE_NEWNS as u64,
    libc::CLONE_NEWUTS as u64,
    libc::CLONE_NEWIPC as u64,
    libc::CLONE_NEWUSER as u64,
    libc::CLONE_NEWPID as u64,
    libc::CLONE_NEWNET as u64,
    libc::CLONE_NEWCGROUP as u64,
];

fn arch() -> TargetArch {
    if cfg!(target_arch = "aarch64") {
        TargetArch::aarch64
    } else {
        TargetArch::x86_64
    }
}

fn syscall_number(name: &str) -> Option<i64> {
    name.parse::<syscalls::Sysno>().ok().map(|s| s.id() as i64)
}

fn compile(filter: SeccompFilter) -> Result<BpfProgram, String> {
    filter
        .try_into()
        .map_err(|e: seccompiler::BackendError| e.to_string())
}

/// ebrun's default filter as an OCI `linux.seccomp` for a process holding `capabilities`:
/// the denied syscalls fail with EPERM, namespace flags of clone too, clone3 with ENOSYS.
pub fn docker_default_oci(capabilities: &[String]) -> oci_spec::runtime::LinuxSeccomp {
    let holds = |cap: &str| capabilities.iter().any(|c| c == cap);
    let denied: Vec<&str> = DENIED
        .iter()
        .filter(|(_, unless)| !unless.is_some_and(holds))
        .map(|(name, _)| *name)
        .collect();
    let mut syscalls = vec![serde_json::json!({
        "names": denied, "action": "SCMP_ACT_ERRNO", "errnoRet": libc::EPERM,
    })];
    if !holds("CAP_SYS_ADMIN") {
        for flag in CLONE_NAMESPACE_FLAGS {
            syscalls.push(serde_json::json!({
                "names": ["clone"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::EPERM,
                "args": [{"index": 0, "value": flag, "valueTwo": flag, "op": "SCMP_CMP_MASKED_EQ"}],
            }));
        }
    }
    // clone3 passes its flags in memory, out of a filter's reach: ENOSYS makes the C
    // libraries fall back to clone, which the rules above check.
    syscalls.push(serde_json::json!({
        "names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::ENOSYS,
    }));
    serde_json::from_value(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": syscalls,
    }))
    .expect("the default filter is a valid linux.seccomp")
}

/// Compiles an OCI `linux.seccomp` into the BPF programs to install, in order.
pub fn compile_oci(spec: &oci_spec::runtime::LinuxSeccomp) -> Result<Vec<BpfProgram>, String> {
    // The OCI schema is Docker's profile format without its capability conditions.
    let value = serde_json::to_value(spec).map_err(|e| e.to_string())?;
    let profile: DockerProfile = serde_json::from_value(value).map_err(|e| e.to_string())?;
    profile.filters()
}

impl SeccompProfile {
    /// The profile as an OCI `linux.seccomp` for a process holding `capabilities` (`None`:
    /// unconfined).
    pub fn to_oci(&self, capabilities: &[String]) -> Option<oci_spec::runtime::LinuxSeccomp> {
        match self {
            SeccompProfile::Default => Some(docker_default_oci(capabilities)),
            SeccompProfile::Unconfined => None,
            SeccompProfile::Docker(p) => {
                let mut value = serde_json::to_value(p).expect("a profile serializes");
                // Docker's singular `name` joins the `names` OCI has.
                let entries = value["syscalls"].as_array_mut().into_iter().flatten();
                for entry in entries.filter_map(|e| e.as_object_mut()) {
                    let mut names = entry
                        .get("names")
                        .and_then(|n| n.as_array().cloned())
                        .unwrap_or_default();
                    if let Some(name) = entry.remove("name").filter(|n| n.is_string()) {
                        names.push(name);
                    }
                    entry.insert("names".into(), serde_json::Value::Array(names));
                }
                serde_json::from_value(value).ok()
            }
        }
    }

    /// Parses a Docker seccomp profile (defaultAction, syscalls[{names, action, args}]).
    pub fn from_docker_json(text: &str) -> Result<SeccompProfile, String> {
        let profile: DockerProfile =
            serde_json::from_str(text).map_err(|e| format!("not a seccomp profile: {e}"))?;
        profile.filters()?;
        Ok(SeccompProfile::Docker(profile))
    }
}

/// Installs `filters` on the calling thread. Unlike `seccompiler::apply_filter`, this does
/// not set no_new_privs itself (`--security-opt no-new-privileges=false` must hold): without
/// it the caller needs CAP_SYS_ADMIN.
pub fn install(filters: &[BpfProgram]) -> Result<(), String> {
    const SECCOMP_SET_MODE_FILTER: libc::c_ulong = 1;
    for f in filters {
        let prog = libc::sock_fprog {
            len: u16::try_from(f.len()).map_err(|_| "seccomp filter too long".to_string())?,
            // seccompiler's sock_filter has the kernel's layout (code, jt, jf, k).
            filter: f.as_ptr() as *mut libc::sock_filter,
        };
        // SAFETY: `prog` points at `f`, a valid BPF program that outlives the call; the
        // kernel copies it.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                SECCOMP_SET_MODE_FILTER,
                0 as libc::c_ulong,
                &prog as *const libc::sock_fprog,
            )
        };
        if rc != 0 {
            return Err(std::io::Error::last_os_error().to_string());
        }
    }
    Ok(())
}

/// Docker's seccomp profile format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DockerProfile {
    #[serde(rename = "defaultAction")]
    pub default_action: String,
    #[serde(rename = "defaultErrnoRet", default)]
    pub default_errno: Option<u32>,
    #[serde(default)]
    pub syscalls: Vec<DockerSyscalls>,
}

/// One entry of a profile's `syscalls`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DockerSyscalls {
    #[serde(default)]
    pub names: Vec<String>,
    #[serde(default)]
    pub name: Option<String>,
    pub action: String,
    #[serde(default)]
    pub args: Vec<DockerArg>,
    #[serde(rename = "errnoRet", default)]
    pub errno: Option<u32>,
}

/// An argument condition of a profile entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DockerArg {
    pub index: u8,
    pub value: u64,
    #[serde(rename = "valueTwo", default)]
    pub value_two: u64,
    pub op: String,
}

fn action(name: &str, errno: Option<u32>) -> Result<SeccompAction, String> {
    Ok(match name {
        "SCMP_ACT_ALLOW" => SeccompAction::Allow,
        "SCMP_ACT_ERRNO" => SeccompAction::Errno(errno.unwrap_or(libc::EPERM as u32)),
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => SeccompAction::KillThread,
        "SCMP_ACT_KILL_PROCESS" => SeccompAction::KillProcess,
        "SCMP_ACT_TRAP" => SeccompAction::Trap,
        "SCMP_ACT_LOG" => SeccompAction::Log,
        other => return Err(format!("unsupported seccomp action {other}")),
    })
}

fn condition(arg: &DockerArg) -> Result<SeccompCondition, String> {
    let op = match arg.op.as_str() {
        "SCMP_CMP_EQ" => SeccompCmpOp::Eq,
        "SCMP_CMP_NE" => SeccompCmpOp::Ne,
        "SCMP_CMP_LT" => SeccompCmpOp::Lt,
        "SCMP_CMP_LE" => SeccompCmpOp::Le,
        "SCMP_CMP_GT" => SeccompCmpOp::Gt,
        "SCMP_CMP_GE" => SeccompCmpOp::Ge,
        "SCMP_CMP_MASKED_EQ" => {
            return SeccompCondition::new(
                arg.index,
                SeccompCmpArgLen::Qword,
                SeccompCmpOp::MaskedEq(arg.value),
                arg.value_two,
            )
            .map_err(|e| e.to_string())
        }
        other => return Err(format!("unsupported seccomp operator {other}")),
    };
    SeccompCondition::new(arg.index, SeccompCmpArgLen::Qword, op, arg.value)
        .map_err(|e| e.to_string())
}

impl DockerProfile {
    /// One filter per action: each matches its syscalls and otherwise returns the default
    /// action; stacked, the kernel's precedence picks the strictest verdict.
    fn filters(&self) -> Result<Vec<BpfProgram>, String> {
        let default = action(&self.default_action, self.default_errno)?;
        let mut by_action: Vec<(SeccompAction, BTreeMap<i64, Vec<SeccompRule>>)> = Vec::new();
        for entry in &self.syscalls {
            let act = action(&entry.action, entry.errno)?;
            if act == default {
                continue;
            }
            let rule = if entry.args.is_empty() {
                None
            } else {
                let conds = entry
                    .args
                    .iter()
                    .map(condition)
                    .collect::<Result<Vec<_>, _>>()?;
                Some(SeccompRule::new(conds).map_err(|e| e.to_string())?)
            };
            let slot = match by_action.iter().position(|(a, _)| *a == act) {
                Some(i) => i,
                None => {
                    by_action.push((act.clone(), BTreeMap::new()));
                    by_action.len() - 1
                }
            };
            let names = entry.names.iter().chain(entry.name.iter());
            for name in names {
                // Syscalls this architecture lacks are skipped, as libseccomp does.
                let Some(nr) = syscall_number(name) else {
                    continue;
                };
                let rules = by_action[slot].1.entry(nr).or_default();
                match &rule {
                    Some(r) => rules.push(r.clone()),
                    None => rules.clear(),
                }
            }
        }
        by_action
            .into_iter()
            .map(|(act, rules)| {
                SeccompFilter::new(rules, default.clone(), act, arch())
                    .map_err(|e| e.to_string())
                    .and_then(compile)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_filters_compile() {
        let default = SeccompProfile::Default.to_oci(&[]).unwrap();
        // One filter for EPERM (the denied syscalls, clone's namespace flags), one for ENOSYS.
        assert_eq!(compile_oci(&default).unwrap().len(), 2);
        assert!(SeccompProfile::Unconfined.to_oci(&[]).is_none());
        // A capability lifts its syscalls from the list, as Docker's profile does.
        let admin = docker_default_oci(&["CAP_SYS_ADMIN".into()]);
        let names = |s: &oci_spec::runtime::LinuxSeccomp| -> Vec<String> {
            s.syscalls()
                .iter()
                .flatten()
                .flat_map(|e| e.names().clone())
                .collect()
        };
        assert!(names(&default).contains(&"mount".to_string()));
        assert!(!names(&admin).contains(&"mount".to_string()));
    }

    #[test]
    fn docker_profiles_parse_and_compile() {
        let text = r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO"},
            {"names":["personality"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":8,"valueTwo":0,"op":"SCMP_CMP_EQ"}]}]}"#;
        let p = SeccompProfile::from_docker_json(text).unwrap();
        assert_eq!(compile_oci(&p.to_oci(&[]).unwrap()).unwrap().len(), 1);
        assert!(SeccompProfile::from_docker_json("{}").is_err());
        assert!(SeccompProfile::from_docker_json(
            r#"{"defaultAction":"SCMP_ACT_BOGUS","syscalls":[]}"#
        )
        .is_err());
    }
}
