//! The resource flags of `ebrun run` / `ebrun update` (`-m`, `--cpus`, ...), parsed and
//! validated into [`ebrun::cgroups::Resources`]. (Being written.)

use anyhow::Result;
use clap::Args;

use ebrun::cgroups::Resources;

#[derive(Debug, Clone, Args)]
pub struct ResourceFlags {}

impl ResourceFlags {
    pub fn to_resources(&self) -> Result<Resources> {
        Ok(Resources::default())
    }
}
