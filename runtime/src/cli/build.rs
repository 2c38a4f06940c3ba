//! `ebrun build [OPTIONS] PATH | -`: Docker's classic builder on ebrun's own store and
//! containers. Exit 1 when the build fails (the error names the Dockerfile line), 130 when
//! interrupted, 125 for bad flags.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use anyhow::Result;
use clap::Args;

use ebrun::build::context::{dockerfile_flag, scratch_context, unpack_context};
use ebrun::build::{self, BuildError, BuildOptions, BuildOutput, DockerfileSource};
use ebrun::image::{ImageStore, Platform, Reference};

use super::Context;

const EXIT_USAGE: i32 = 125;

/// `ebrun build`
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Name and optionally a tag in the "name:tag" format.
    #[arg(short = 't', long = "tag", value_name = "NAME[:TAG]")]
    pub tags: Vec<String>,
    /// Name of the Dockerfile (default: "PATH/Dockerfile"; "-" reads it from STDIN).
    #[arg(short = 'f', long = "file", value_name = "PATH")]
    pub file: Option<PathBuf>,
    /// Set build-time variables (KEY=VALUE, or KEY to take it from the environment).
    #[arg(long = "build-arg", value_name = "KEY[=VALUE]")]
    pub build_args: Vec<String>,
    /// Set the target build stage to build.
    #[arg(long)]
    pub target: Option<String>,
    /// Do not use cache when building the image.
    #[arg(long)]
    pub no_cache: bool,
    /// Always attempt to pull a newer version of the base images.
    #[arg(long)]
    pub pull: bool,
    /// Set the networking mode for the RUN instructions (bridge, none, host).
    #[arg(long, value_name = "MODE")]
    pub network: Option<String>,
    /// Set metadata for an image (KEY=VALUE).
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// Suppress the build output and print the image ID on success.
    #[arg(short, long)]
    pub quiet: bool,
    /// Write the image ID to the file.
    #[arg(long, value_name = "FILE")]
    pub iidfile: Option<PathBuf>,
    /// Set platform if server is multi-platform capable.
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    pub platform: Option<String>,
    /// Remove intermediate containers after a successful build (always done).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub rm: bool,
    /// Always remove intermediate containers (always done).
    #[arg(long)]
    pub force_rm: bool,
    /// Build context: a directory, or "-" for a tar (or a Dockerfile) on STDIN.
    #[arg(value_name = "PATH | -")]
    pub context: String,
}

pub fn build(ctx: &Context, args: BuildArgs) -> Result<i32> {
    let usage = |m: String| {
        eprintln!("ebrun: {m}\nSee 'ebrun build --help'.");
        Ok(EXIT_USAGE)
    };
    let mut tags = Vec::new();
    for t in &args.tags {
        match Reference::parse_with_default_tag(t) {
            Ok(r) if r.digest().is_none() => tags.push(r),
            Ok(_) => {
                return usage(format!(
                    "invalid argument {t:?} for \"-t, --tag\" flag: a tag cannot hold a digest"
                ))
            }
            Err(e) => {
                return usage(format!(
                    "invalid argument {t:?} for \"-t, --tag\" flag: {e}"
                ))
            }
        }
    }
    let mut build_args = BTreeMap::new();
    for a in &args.build_args {
        match a.split_once('=') {
            Some((k, v)) => {
                build_args.insert(k.to_string(), v.to_string());
            }
            // A bare KEY takes the value from the environment, and is unset without one.
            None => {
                if let Ok(v) = std::env::var(a) {
                    build_args.insert(a.clone(), v);
                }
            }
        }
    }
    let mut labels = BTreeMap::new();
    for l in &args.labels {
        let (k, v) = ebrun::container::parse_label(l);
        labels.insert(k, v);
    }
    let platform = match &args.platform {
        Some(p) => match Platform::parse(p) {
            Ok(p) => Some(p),
            Err(e) => {
                return usage(format!(
                    "invalid argument {p:?} for \"--platform\" flag: {e}"
                ))
            }
        },
        None => None,
    };
    if let Some(n) = &args.network {
        if !["default", "bridge", "none", "host"].contains(&n.as_str()) {
            return usage(format!(
                "invalid argument {n:?} for \"--network\" flag: a build's RUN steps use bridge, none or host"
            ));
        }
    }

    // The context: a directory, or a tar (or a lone Dockerfile) on stdin.
    let store = ImageStore::open(&ctx.paths)?;
    let mut _stdin_context = None;
    let (context, dockerfile) = if args.context == "-" {
        let dir = scratch_context(&store.dir().join("tmp"))?;
        let mut input = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut input)?;
        let is_tar =
            input.len() >= 512 && &input[257..262] == b"ustar" || input.starts_with(&[0x1f, 0x8b]);
        let dockerfile = if is_tar {
            if let Err(e) = unpack_context(input.as_slice(), dir.path()) {
                eprintln!("ERROR: {e}");
                return Ok(1);
            }
            match &args.file {
                Some(f) => DockerfileSource::InContext(f.display().to_string()),
                None => DockerfileSource::InContext("Dockerfile".into()),
            }
        } else {
            DockerfileSource::Text(String::from_utf8_lossy(&input).to_string())
        };
        let path = dir.path().to_path_buf();
        _stdin_context = Some(dir);
        (path, dockerfile)
    } else {
        let dir = PathBuf::from(&args.context);
        if !dir.is_dir() {
            eprintln!(
                "ERROR: unable to prepare context: path {:?} not found",
                args.context
            );
            return Ok(1);
        }
        let dockerfile = match &args.file {
            Some(f) => dockerfile_flag(&dir, f),
            None => DockerfileSource::InContext("Dockerfile".into()),
        };
        (dir, dockerfile)
    };

    let opts = BuildOptions {
        context,
        dockerfile,
        tags,
        build_args,
        target: args.target.clone(),
        no_cache: args.no_cache,
        pull: args.pull,
        network: args.network.clone(),
        labels,
        platform,
        quiet: args.quiet,
    };
    let mut out = BuildOutput::new(Box::new(std::io::stdout()), args.quiet);
    let interrupted = AtomicBool::new(false);
    match build::build(&ctx.paths, &opts, &mut out, &interrupted) {
        Ok(image) => {
            if args.quiet {
                out.result(&image.id);
            }
            if let Some(f) = &args.iidfile {
                std::fs::File::create(f)?.write_all(image.id.as_bytes())?;
            }
            Ok(0)
        }
        Err(BuildError::Interrupted) => {
            eprintln!("ERROR: build interrupted; its containers and layers were removed");
            Ok(130)
        }
        Err(e) => {
            eprintln!("ERROR: {e}");
            Ok(1)
        }
    }
}
