//! rlimits: Docker's default open-files limit, clamped to what the host allows (hard limits
//! cannot be raised here, see PLATFORM.md: CAP_SYS_RESOURCE is not in the bounding set).

use nix::sys::resource::{getrlimit, setrlimit, Resource};

/// Docker's (containerd's) default RLIMIT_NOFILE.
const DOCKER_NOFILE: u64 = 1_048_576;

pub(super) fn apply_defaults() -> nix::Result<()> {
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    let soft = DOCKER_NOFILE.min(hard);
    setrlimit(Resource::RLIMIT_NOFILE, soft, hard)
}
