//! `--sysctl` (Docker's `HostConfig.Sysctls`) and the namespaced sysctls Docker sets in
//! every container with a network namespace of its own; both become the spec's
//! `linux.sysctl`, written by the executor inside the container's namespaces.

use std::collections::BTreeMap;

use super::ContainerError;

/// The IPC namespace's sysctls Docker (and runc) allow.
const IPC_SYSCTLS: [&str; 8] = [
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// Whether a sysctl belongs to the IPC namespace (`kernel.msg*`, `kernel.sem`,
/// `kernel.shm*`, `fs.mqueue.*`).
fn is_ipc(key: &str) -> bool {
    IPC_SYSCTLS.contains(&key) || key.starts_with("fs.mqueue.")
}

/// `--sysctl KEY=VALUE` as the docker CLI takes it: a key of Docker's allowed list (the IPC
/// namespace's and `net.*`), split at the first `=`; anything else in the CLI's words.
pub fn parse_sysctl(entry: &str) -> Result<(String, String), String> {
    let refused = || {
        format!(
            "invalid argument \"{entry}\" for \"--sysctl\" flag: sysctl '{entry}' is not allowed"
        )
    };
    let (key, value) = entry.split_once('=').ok_or_else(refused)?;
    if is_ipc(key) || key.starts_with("net.") {
        Ok((key.to_string(), value.to_string()))
    } else {
        Err(refused())
    }
}

/// runc's rules, checked when the container is made so that nothing is created for a sysctl
/// that would reach the host: `net.*` needs a network namespace that is not the host's (the
/// IPC ones need a private IPC namespace, which every ebrun container has), and a sysctl
/// of no namespace is refused. `kernel.domainname` is the UTS namespace's (the API lets it
/// through, as dockerd does).
pub fn check(sysctls: &BTreeMap<String, String>, host_network: bool) -> Result<(), ContainerError> {
    for (key, value) in sysctls {
        let key = crate::oci::dotted_sysctl(key);
        let refuse = |reason: String| {
            Err(ContainerError::InvalidFlag {
                flag: "--sysctl",
                value: format!("{key}={value}"),
                reason,
            })
        };
        if is_ipc(&key) || key == "kernel.domainname" {
            continue;
        }
        if key.starts_with("net.") {
            if host_network {
                return refuse(format!(
                    "sysctl {key:?} not allowed in host network namespace"
                ));
            }
            continue;
        }
        if key == "kernel.hostname" {
            return refuse(format!(
                "sysctl {key:?} is not allowed as it conflicts with the OCI \"hostname\" field (use --hostname)"
            ));
        }
        return refuse(format!(
            "sysctl {key:?} is not in a separate kernel namespace"
        ));
    }
    Ok(())
}

/// Docker's defaults for a container with a network namespace of its own (not `--net host`
/// nor `container:`), where this kernel has them: any port from 0 binds without
/// CAP_NET_BIND_SERVICE and every group may open ICMP echo sockets (not in a user namespace,
/// where the group range cannot be mapped).
pub fn docker_defaults(own_netns: bool, userns: bool) -> BTreeMap<String, String> {
    let exists = |key: &str| {
        std::path::Path::new("/proc/sys")
            .join(key.replace('.', "/"))
            .exists()
    };
    let mut map = BTreeMap::new();
    if !own_netns {
        return map;
    }
    if !userns && exists("net.ipv4.ping_group_range") {
        map.insert(
            "net.ipv4.ping_group_range".to_string(),
            "0 2147483647".to_string(),
        );
    }
    if exists("net.ipv4.ip_unprivileged_port_start") {
        map.insert(
            "net.ipv4.ip_unprivileged_port_start".to_string(),
            "0".to_string(),
        );
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_docker_cli_allowed_list() {
        assert_eq!(
            parse_sysctl("net.core.somaxconn=1024").unwrap(),
            ("net.core.somaxconn".into(), "1024".into())
        );
        assert_eq!(parse_sysctl("kernel.sem=1 2 3 4").unwrap().1, "1 2 3 4");
        assert!(parse_sysctl("fs.mqueue.msg_max=20").is_ok());
        assert_eq!(
            parse_sysctl("kernel.pid_max=10").unwrap_err(),
            "invalid argument \"kernel.pid_max=10\" for \"--sysctl\" flag: sysctl 'kernel.pid_max=10' is not allowed"
        );
        assert!(parse_sysctl("net.ipv4.ip_forward").is_err());
    }

    #[test]
    fn namespaces_decide() {
        let one = |k: &str| BTreeMap::from([(k.to_string(), "1".to_string())]);
        assert!(check(&one("net.ipv4.ip_forward"), false).is_ok());
        let e = check(&one("net.ipv4.ip_forward"), true).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid --sysctl value \"net.ipv4.ip_forward=1\": sysctl \"net.ipv4.ip_forward\" not allowed in host network namespace"
        );
        assert!(check(&one("kernel.shmmax"), true).is_ok());
        assert!(check(&one("kernel.domainname"), true).is_ok());
        assert!(check(&one("vm.swappiness"), false)
            .unwrap_err()
            .to_string()
            .contains("is not in a separate kernel namespace"));
        assert!(check(&one("kernel.hostname"), false).is_err());
    }
}
