//! Resource limits (`-m`, `--cpus`, ...) and their application to a container's cgroups.
//!
//! (Being written.)

use serde::{Deserialize, Serialize};

use super::{CgroupError, ContainerCgroups};

/// The limits a user asked for; all optional.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Resources {}

impl ContainerCgroups {
    /// Writes `resources` into the container's cgroups (before its process starts, and on
    /// `ebrun update`).
    pub fn apply(&self, _resources: &Resources) -> Result<(), CgroupError> {
        Ok(())
    }
}
