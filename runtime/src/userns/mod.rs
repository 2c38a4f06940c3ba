//! Docker's user namespaces (`userns-remap` in daemon.json, `--userns=host`): the container's
//! root is an unprivileged uid of the host. The setting names a user whose subordinate ranges
//! (/etc/subuid, /etc/subgid) become the container's uid and gid mappings; `"default"` makes
//! the `dockremap` user and its ranges, as dockerd does. The image's layers are used through
//! copies whose ownership is shifted into the range (made once per layer and range), and the
//! container's own directories belong to its root.

mod layers;
mod remap;

pub use layers::shifted_layer;
pub use remap::{load, parse_setting, subordinate_range, IdRange, Remap, DOCKREMAP};

/// Errors of the userns module.
#[derive(Debug, thiserror::Error)]
pub enum UsernsError {
    #[error("userns-remap {value:?}: {reason}")]
    Setting { value: String, reason: String },
    #[error("{op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}
