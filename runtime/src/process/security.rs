//! Security settings of a container's processes (`--cap-add`, `--cap-drop`, `--privileged`,
//! `--security-opt no-new-privileges|seccomp=...`), resolved once at create and applied by
//! every process of the container (its init and each `exec`).

use serde::{Deserialize, Serialize};

use super::caps::DEFAULT_CAPABILITIES;
use super::seccomp::SeccompProfile;

/// What a container's processes may do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecuritySpec {
    /// The capabilities a root process holds (names like `CAP_NET_ADMIN`); the bounding set.
    pub capabilities: Vec<String>,
    /// Set no_new_privs before exec.
    pub no_new_privs: bool,
    pub seccomp: SeccompProfile,
    /// `--privileged`: all capabilities, no seccomp, no masked paths, writable /sys.
    pub privileged: bool,
}

impl Default for SecuritySpec {
    fn default() -> Self {
        SecuritySpec {
            capabilities: DEFAULT_CAPABILITIES.iter().map(|c| c.to_string()).collect(),
            // Docker's default (`--security-opt no-new-privileges` or daemon.json turns it
            // on): set-uid programs such as sudo work in the container.
            no_new_privs: false,
            seccomp: SeccompProfile::Default,
            privileged: false,
        }
    }
}

/// Errors resolving security flags.
#[derive(Debug, thiserror::Error)]
pub enum SecurityError {
    #[error("invalid {flag} value {value:?}: {reason}")]
    Invalid {
        flag: &'static str,
        value: String,
        reason: String,
    },
}

fn parse_cap(flag: &'static str, name: &str) -> Result<caps::Capability, SecurityError> {
    let upper = name.to_ascii_uppercase();
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    full.parse().map_err(|_| SecurityError::Invalid {
        flag,
        value: name.to_string(),
        reason: "unknown capability (see capabilities(7); ALL is allowed)".into(),
    })
}

/// Docker's capability arithmetic: start from the default set (all with `--privileged`),
/// drop `cap_drop` (ALL drops everything), then add `cap_add` (ALL adds everything).
pub fn resolve_capabilities(
    privileged: bool,
    cap_add: &[String],
    cap_drop: &[String],
) -> Result<Vec<String>, SecurityError> {
    // "All" is what this host can grant: its bounding set (here, for example, without
    // CAP_SYS_RESOURCE).
    let available: Vec<caps::Capability> = caps::read(None, caps::CapSet::Bounding)
        .map(|s| s.into_iter().collect())
        .unwrap_or_else(|_| caps::all().into_iter().collect());
    let mut set: Vec<caps::Capability> = if privileged {
        available.clone()
    } else {
        DEFAULT_CAPABILITIES.to_vec()
    };
    for name in cap_drop {
        if name.eq_ignore_ascii_case("all") {
            set.clear();
        } else {
            let cap = parse_cap("--cap-drop", name)?;
            set.retain(|c| *c != cap);
        }
    }
    for name in cap_add {
        if name.eq_ignore_ascii_case("all") {
            set = available.clone();
        } else {
            let cap = parse_cap("--cap-add", name)?;
            if !available.contains(&cap) {
                return Err(SecurityError::Invalid {
                    flag: "--cap-add",
                    value: name.clone(),
                    reason: "this host's capability bounding set lacks it".into(),
                });
            }
            if !set.contains(&cap) {
                set.push(cap);
            }
        }
    }
    let mut names: Vec<String> = set.iter().map(|c| c.to_string()).collect();
    names.sort();
    Ok(names)
}

/// Parses `--security-opt` values into `spec`.
pub fn apply_security_opt(spec: &mut SecuritySpec, opt: &str) -> Result<(), SecurityError> {
    let invalid = |reason: &str| SecurityError::Invalid {
        flag: "--security-opt",
        value: opt.to_string(),
        reason: reason.to_string(),
    };
    let (key, value) = match opt.split_once(['=', ':']) {
        Some((k, v)) => (k, Some(v)),
        None => (opt, None),
    };
    match (key, value) {
        ("no-new-privileges", None | Some("true")) => spec.no_new_privs = true,
        ("no-new-privileges", Some("false")) => spec.no_new_privs = false,
        ("seccomp", Some("unconfined")) => spec.seccomp = SeccompProfile::Unconfined,
        ("seccomp", Some(path)) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| invalid(&format!("cannot read the seccomp profile: {e}")))?;
            let profile = SeccompProfile::from_docker_json(&text).map_err(|e| invalid(&e))?;
            spec.seccomp = profile;
        }
        ("apparmor" | "label", Some(_)) => {
            tracing::warn!(
                "--security-opt {opt}: this host has no AppArmor/SELinux support in ebrun; ignored"
            );
        }
        _ => {
            return Err(invalid(
                "allowed: no-new-privileges[=true|false], seccomp=unconfined, seccomp=PROFILE.json",
            ))
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_capability_arithmetic() {
        let default = resolve_capabilities(false, &[], &[]).unwrap();
        assert_eq!(default.len(), 14);
        let more = resolve_capabilities(false, &["NET_ADMIN".into()], &["chown".into()]).unwrap();
        assert!(more.contains(&"CAP_NET_ADMIN".to_string()));
        assert!(!more.contains(&"CAP_CHOWN".to_string()));
        let none = resolve_capabilities(false, &[], &["ALL".into()]).unwrap();
        assert!(none.is_empty());
        let only = resolve_capabilities(false, &["KILL".into()], &["ALL".into()]).unwrap();
        assert_eq!(only, vec!["CAP_KILL".to_string()]);
        assert!(resolve_capabilities(false, &["NOPE".into()], &[]).is_err());
        assert!(resolve_capabilities(true, &[], &[]).unwrap().len() > 30);
    }

    #[test]
    fn security_opts() {
        let mut s = SecuritySpec::default();
        apply_security_opt(&mut s, "no-new-privileges=false").unwrap();
        assert!(!s.no_new_privs);
        apply_security_opt(&mut s, "seccomp=unconfined").unwrap();
        assert_eq!(s.seccomp, SeccompProfile::Unconfined);
        assert!(apply_security_opt(&mut s, "bogus").is_err());
    }
}
