//! rlimits of a container process (`process.rlimits`), and Docker's default open-files
//! limit for its front end, clamped to what the host allows (hard limits cannot be raised
//! without CAP_SYS_RESOURCE, see PLATFORM.md).

use nix::sys::resource::{getrlimit, setrlimit, Resource};

use super::Rlimit;

/// Docker's (containerd's) default RLIMIT_NOFILE.
const DOCKER_NOFILE: u64 = 1_048_576;

/// Docker's default open-files limit, as high as this host lets a process go.
pub fn docker_default() -> Vec<Rlimit> {
    let hard = getrlimit(Resource::RLIMIT_NOFILE)
        .map(|(_, hard)| hard)
        .unwrap_or(DOCKER_NOFILE);
    let limit = DOCKER_NOFILE.min(hard);
    vec![Rlimit {
        resource: Resource::RLIMIT_NOFILE,
        soft: limit,
        hard: limit,
    }]
}

pub(super) fn apply(limits: &[Rlimit]) -> Result<(), String> {
    for l in limits {
        setrlimit(l.resource, l.soft, l.hard).map_err(|e| {
            let (_, host_hard) = getrlimit(l.resource).unwrap_or((0, 0));
            format!(
                "setrlimit {:?} {}:{}: {e} (this process's hard limit is {host_hard}; raising it needs CAP_SYS_RESOURCE)",
                l.resource, l.soft, l.hard
            )
        })?;
    }
    Ok(())
}
