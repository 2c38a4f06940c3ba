//! The network flags of `ebrun run` (`--net`, `-p`, `-P`, `--dns`, ...), parsed and validated
//! into [`ebrun::network::NetworkSpec`]. (Being written.)

use anyhow::Result;
use clap::Args;

use ebrun::network::NetworkSpec;

#[derive(Debug, Clone, Args)]
pub struct NetworkFlags {}

impl NetworkFlags {
    pub fn to_spec(&self) -> Result<NetworkSpec> {
        Ok(NetworkSpec::default())
    }
}
