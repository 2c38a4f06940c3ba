//! The storage flags of `ebrun run` (`-v`, `--mount`, `--tmpfs`, `--volumes-from`), parsed
//! and checked into [`ebrun::volumes::MountRequests`].

use anyhow::Result;
use clap::Args;

use ebrun::volumes::{spec, MountRequests};

#[derive(Debug, Clone, Args)]
pub struct VolumeFlags {
    /// Bind mount a volume ([SOURCE:]DESTINATION[:OPTIONS]; SOURCE is a volume name or an
    /// absolute host path; OPTIONS: ro, rw, z, Z, nocopy, a propagation).
    #[arg(short = 'v', long = "volume", value_name = "VOLUME")]
    volume: Vec<String>,
    /// Attach a filesystem mount to the container (type=bind|volume|tmpfs,source=..,
    /// target=..,readonly,...).
    #[arg(long = "mount", value_name = "MOUNT")]
    mount: Vec<String>,
    /// Mount a tmpfs directory (PATH[:OPTIONS]).
    #[arg(long = "tmpfs", value_name = "PATH")]
    tmpfs: Vec<String>,
    /// Mount volumes from the specified container(s) (CONTAINER[:ro|rw]).
    #[arg(long = "volumes-from", value_name = "CONTAINER")]
    volumes_from: Vec<String>,
}

impl VolumeFlags {
    pub fn to_requests(&self) -> Result<MountRequests> {
        let mut requests = MountRequests::default();
        for v in &self.volume {
            requests.mounts.push(spec::parse_volume_flag(v)?);
        }
        for m in &self.mount {
            requests.mounts.push(spec::parse_mount_flag(m)?);
        }
        for t in &self.tmpfs {
            requests.mounts.push(spec::parse_tmpfs_flag(t)?);
        }
        for f in &self.volumes_from {
            requests.volumes_from.push(spec::parse_volumes_from(f)?);
        }
        Ok(requests)
    }
}
