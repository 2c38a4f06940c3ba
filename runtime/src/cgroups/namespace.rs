//! `--cgroupns host|private` (Docker's `HostConfig.CgroupnsMode`): whether a container gets a
//! cgroup namespace of its own, and Docker's default for this host.

use serde::{Deserialize, Serialize};

use super::Layout;

/// A container's cgroup namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CgroupnsMode {
    /// The host's: /proc/self/cgroup shows the container's full cgroup paths.
    Host,
    /// Its own, rooted at the container's cgroup.
    Private,
}

impl Default for CgroupnsMode {
    /// Containers made before the mode was recorded had a namespace of their own.
    fn default() -> Self {
        CgroupnsMode::Private
    }
}

impl CgroupnsMode {
    /// `--cgroupns`'s value: `host`, `private`, or empty for the default (None). Anything
    /// else is refused in the docker CLI's words.
    pub fn parse(text: &str) -> Result<Option<CgroupnsMode>, String> {
        match text {
            "" => Ok(None),
            "host" => Ok(Some(CgroupnsMode::Host)),
            "private" => Ok(Some(CgroupnsMode::Private)),
            _ => Err("--cgroupns: invalid CGROUP mode".to_string()),
        }
    }

    /// dockerd's default: private on a cgroup v2 host, the host's on v1 and hybrid hosts.
    /// (dockerd's `default-cgroupns-mode: private` would still give a privileged container
    /// the host's on v1; ebrun has no such daemon.json key.)
    pub fn default_for(layout: Layout) -> CgroupnsMode {
        match layout {
            Layout::Unified => CgroupnsMode::Private,
            Layout::Hybrid | Layout::Legacy => CgroupnsMode::Host,
        }
    }

    /// The mode `given`, or the default for this host.
    pub fn resolve(given: Option<CgroupnsMode>, layout: Layout) -> Self {
        given.unwrap_or_else(|| Self::default_for(layout))
    }

    /// Docker's name (`HostConfig.CgroupnsMode`).
    pub fn as_str(self) -> &'static str {
        match self {
            CgroupnsMode::Host => "host",
            CgroupnsMode::Private => "private",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_defaults_and_values() {
        assert_eq!(
            CgroupnsMode::default_for(Layout::Unified),
            CgroupnsMode::Private
        );
        assert_eq!(
            CgroupnsMode::default_for(Layout::Hybrid),
            CgroupnsMode::Host
        );
        assert_eq!(CgroupnsMode::parse("").unwrap(), None);
        assert_eq!(
            CgroupnsMode::parse("private").unwrap(),
            Some(CgroupnsMode::Private)
        );
        assert_eq!(
            CgroupnsMode::parse("shareable").unwrap_err(),
            "--cgroupns: invalid CGROUP mode"
        );
    }
}
