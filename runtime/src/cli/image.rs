//! `ebrun image import|ls|rm|inspect`, `ebrun images`, `ebrun rmi`.
//! (Being written.)

use anyhow::Result;
use clap::{Args, Subcommand};

use super::Context;

#[derive(Debug, Subcommand)]
pub enum ImageCommand {}

#[derive(Debug, Args)]
pub struct ImagesArgs {}

#[derive(Debug, Args)]
pub struct RmiArgs {}

pub fn image_command(_ctx: &Context, cmd: ImageCommand) -> Result<i32> {
    match cmd {}
}

pub fn images(_ctx: &Context, _args: ImagesArgs) -> Result<i32> {
    Ok(0)
}

pub fn rmi(_ctx: &Context, _args: RmiArgs) -> Result<i32> {
    Ok(0)
}
