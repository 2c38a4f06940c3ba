//! The classic builder: each stage from its `FROM`, each instruction one step making one
//! image (a layer for `RUN`, `COPY` and `ADD`, a config change for the others), every step
//! first looked up in the cache (an image with the same parent made by the same step). The
//! result of the target stage (the last one by default) is tagged.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::Value;

use super::context;
use super::dockerfile::{self, Dockerfile, FromInstr, Instruction, InstructionKind};
use super::dockerignore::DockerIgnore;
use super::error::BuildError;
use super::metadata;
use super::options::{BuildOptions, PREDEFINED_ARGS};
use super::output::BuildOutput;
use super::stage::StageState;
use crate::image::commit::Commit;
use crate::image::pull::{self, Output as PullOutput};
use crate::image::{ImageRecord, ImageStore, Platform};
use crate::Paths;

/// Builds what `opts` asks for; returns the image made (tagged as asked).
pub fn build(
    paths: &Paths,
    opts: &BuildOptions,
    out: &mut BuildOutput,
    interrupted: &AtomicBool,
) -> Result<ImageRecord, BuildError> {
    let _blocked = BlockedInterrupts::new();
    let text = context::read_dockerfile(&opts.context, &opts.dockerfile)?;
    let dockerfile = dockerfile::parse(&text)?;
    let ignore = context::read_ignore(&opts.context)?;
    let mut builder = Builder {
        paths,
        store: ImageStore::open(paths)?,
        opts,
        out,
        interrupted,
        ignore,
        escape: dockerfile.directives.escape,
        step: 0,
        total: 0,
        built: Vec::new(),
        used_args: BTreeSet::new(),
        global_args: BTreeMap::new(),
    };
    builder.run(&dockerfile)
}

pub(super) struct Builder<'a> {
    pub paths: &'a Paths,
    pub store: ImageStore,
    pub opts: &'a BuildOptions,
    pub out: &'a mut BuildOutput,
    pub interrupted: &'a AtomicBool,
    pub ignore: DockerIgnore,
    pub escape: char,
    step: usize,
    total: usize,
    /// Each finished stage: its name and its image.
    pub built: Vec<(Option<String>, Option<ImageRecord>)>,
    used_args: BTreeSet<String>,
    global_args: BTreeMap<String, String>,
}

impl Builder<'_> {
    fn run(&mut self, df: &Dockerfile) -> Result<ImageRecord, BuildError> {
        for w in &df.warnings {
            self.out.line(format!("[WARNING]: {w}"));
        }
        let last = match &self.opts.target {
            Some(t) => df
                .stages
                .iter()
                .position(|s| s.from.name.as_deref() == Some(t.to_lowercase().as_str()))
                .ok_or_else(|| BuildError::NoTarget(t.clone()))?,
            None => df.stages.len().saturating_sub(1),
        };
        self.global_args = self.declare_globals(df)?;
        let labels = !self.opts.labels.is_empty();
        self.total = df.stages[..=last]
            .iter()
            .map(|s| 1 + s.instructions.len())
            .sum::<usize>()
            + usize::from(labels);
        for stage in &df.stages[..=last] {
            let mut state = self.from(&stage.from)?;
            self.instructions(&mut state, &stage.instructions)?;
            if stage.index == last && labels {
                self.build_labels(&mut state)?;
            }
            self.built.push((stage.from.name.clone(), state.image));
        }
        let image = self.built[last].1.clone().ok_or_else(|| {
            BuildError::Invalid("No image was generated. Is your Dockerfile empty?".into())
        })?;
        self.warn_unused_args();
        self.out
            .line(format!("Successfully built {}", image.short_id()));
        for tag in &self.opts.tags {
            self.store.tag(&image.id, tag)?;
            self.out
                .line(format!("Successfully tagged {}", tag.familiar()));
        }
        let image = self.store.resolve(&image.id)?;
        Ok(image)
    }

    /// The ARGs before the first FROM, with `--build-arg` values over their defaults.
    fn declare_globals(&mut self, df: &Dockerfile) -> Result<BTreeMap<String, String>, BuildError> {
        let mut globals = BTreeMap::new();
        for decl in &df.global_args {
            let value = match self.opts.build_args.get(&decl.name) {
                Some(v) => Some(v.clone()),
                None => match &decl.default {
                    Some(d) => Some(dockerfile::expand(d, self.escape, &|k| {
                        globals.get(k).cloned()
                    })?),
                    None => None,
                },
            };
            if let Some(v) = value {
                globals.insert(decl.name.clone(), v);
            }
            self.used_args.insert(decl.name.clone());
        }
        Ok(globals)
    }

    fn step_line(&mut self, text: &str) {
        self.step += 1;
        let line = format!("Step {}/{} : {}", self.step, self.total, text);
        self.out.line(line);
    }

    /// Stops at a Ctrl-C (or SIGTERM) that arrived since the last step.
    pub fn check_interrupt(&self) -> Result<(), BuildError> {
        if sigpending().unwrap_or(false) {
            self.interrupted.store(true, Ordering::SeqCst);
        }
        if self.interrupted.load(Ordering::SeqCst) {
            return Err(BuildError::Interrupted);
        }
        Ok(())
    }

    /// `FROM`: the base image (another stage, `scratch`, or an image pulled if missing).
    fn from(&mut self, from: &FromInstr) -> Result<StageState, BuildError> {
        self.check_interrupt()?;
        let original = from.original.trim_start();
        let shown = original
            .get(4..)
            .map(|rest| format!("FROM{rest}"))
            .unwrap_or_else(|| original.to_string());
        self.step_line(&shown);
        let globals = self.global_args.clone();
        let name = dockerfile::expand(&from.image, self.escape, &|k| globals.get(k).cloned())?;
        let platform = match &from.platform {
            Some(p) => {
                let p = dockerfile::expand(p, self.escape, &|k| globals.get(k).cloned())?;
                Some(Platform::parse(&p).map_err(|e| BuildError::step(from.line, e))?)
            }
            None => self.opts.platform.clone(),
        };
        let base = self.base_image(&name, platform.as_ref(), from.line)?;
        let (config, author, triggers) = match &base {
            Some(image) => {
                let doc = self.store.config_json(image)?;
                let triggers = super::stage::string_list(&doc["config"]["OnBuild"]);
                let author = doc["author"].as_str().map(str::to_string);
                (doc["config"].clone(), author, triggers)
            }
            None => (Value::Null, None, Vec::new()),
        };
        if let Some(image) = &base {
            self.out.line(format!(" ---> {}", image.short_id()));
        }
        let mut state = StageState::new(base, config, self.escape);
        state.author = author;
        state.platform = platform;
        if state.config.get("OnBuild").is_some() {
            // Triggers run in the child and are not inherited further.
            state.config["OnBuild"] = Value::Null;
        }
        if !triggers.is_empty() {
            self.out.line(format!(
                "# Executing {} build trigger{}",
                triggers.len(),
                if triggers.len() == 1 { "" } else { "s" }
            ));
            for trigger in triggers {
                let parsed = dockerfile::parse(&format!("FROM scratch\n{trigger}\n"))
                    .map_err(|e| BuildError::step(from.line, format!("ONBUILD {trigger}: {e}")))?;
                for instr in parsed.stages.into_iter().flat_map(|s| s.instructions) {
                    let instr = Instruction {
                        line: from.line,
                        ..instr
                    };
                    self.dispatch(&mut state, &instr)?;
                }
            }
        }
        Ok(state)
    }

    /// The image a `FROM` or `COPY --from` names: a stage built earlier (by name or index),
    /// `scratch` (None), or an image of the store, pulled when missing (or with `--pull`).
    pub fn base_image(
        &mut self,
        name: &str,
        platform: Option<&Platform>,
        line: usize,
    ) -> Result<Option<ImageRecord>, BuildError> {
        let lower = name.to_lowercase();
        if let Some((_, image)) = self
            .built
            .iter()
            .find(|(n, _)| n.as_deref() == Some(lower.as_str()))
        {
            return Ok(image.clone());
        }
        if lower == "scratch" {
            return Ok(None);
        }
        let local = match self.store.resolve(name) {
            Ok(i) if platform.is_none_or(|p| p.matches(&i.platform())) => Some(i),
            Ok(_) => None,
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(BuildError::step(line, e)),
        };
        if let Some(image) = local.filter(|_| !self.opts.pull) {
            return Ok(Some(image));
        }
        let output = if self.opts.quiet {
            PullOutput::Quiet
        } else {
            PullOutput::Stdout
        };
        let pulled = pull::pull_platform(self.paths, name, output, platform)
            .map_err(|e| BuildError::step(line, e))?;
        Ok(Some(pulled.image))
    }

    fn instructions(
        &mut self,
        state: &mut StageState,
        instructions: &[Instruction],
    ) -> Result<(), BuildError> {
        for instr in instructions {
            self.check_interrupt()?;
            self.step_line(instr.original.trim());
            self.dispatch(state, instr)?;
        }
        Ok(())
    }

    fn dispatch(&mut self, state: &mut StageState, instr: &Instruction) -> Result<(), BuildError> {
        match &instr.kind {
            InstructionKind::Arg(decls) => {
                let mut shown = Vec::new();
                for decl in decls {
                    let value = match self.opts.build_args.get(&decl.name) {
                        Some(v) => Some(v.clone()),
                        None => match &decl.default {
                            Some(d) => Some(
                                state
                                    .expand(d)
                                    .map_err(|e| BuildError::step(instr.line, e.message()))?,
                            ),
                            None => self.global_args.get(&decl.name).cloned(),
                        },
                    };
                    self.used_args.insert(decl.name.clone());
                    if let Some(v) = value {
                        state.args.insert(decl.name.clone(), v);
                    }
                    shown.push(match &decl.default {
                        Some(d) => format!("{}={d}", decl.name),
                        None => decl.name.clone(),
                    });
                }
                self.commit_config(state, &format!("ARG {}", shown.join(" ")))
            }
            InstructionKind::Run {
                command,
                heredocs,
                network,
            } => super::run_step::run(
                self,
                state,
                instr.line,
                command,
                heredocs,
                network.as_deref(),
            ),
            InstructionKind::Copy(c) => super::copy_step::copy(self, state, instr.line, c, false),
            InstructionKind::Add(c) => super::copy_step::copy(self, state, instr.line, c, true),
            kind => {
                let text =
                    metadata::apply(state, kind).map_err(|m| BuildError::step(instr.line, m))?;
                self.commit_config(state, &text)
            }
        }
    }

    /// `--label`s: one more `LABEL` step on the target stage.
    fn build_labels(&mut self, state: &mut StageState) -> Result<(), BuildError> {
        let pairs: Vec<(String, String)> = self
            .opts
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::to_string(v).unwrap_or_default()))
            .collect();
        let shown: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
        self.step_line(&format!("LABEL {}", shown.join(" ")));
        let kind = InstructionKind::Label(pairs);
        let text = metadata::apply(state, &kind).map_err(|m| BuildError::step(0, m))?;
        self.commit_config(state, &text)
    }

    /// A step that changes only the config: its image from the cache or made now.
    fn commit_config(&mut self, state: &mut StageState, text: &str) -> Result<(), BuildError> {
        let created_by = format!("{} #(nop)  {text}", state.shell().join(" "));
        if self.use_cache(state, &created_by)? {
            return Ok(());
        }
        let image = self.commit_step(state, None, created_by.clone(), created_by)?;
        self.advance(state, image);
        Ok(())
    }

    /// Makes the step's image from the stage's current one: its config, and the changes in
    /// `changes` (a container's upper directory) as a layer.
    pub fn commit_step(
        &self,
        state: &StageState,
        changes: Option<&std::path::Path>,
        created_by: String,
        key: String,
    ) -> Result<ImageRecord, BuildError> {
        let image = self.store.commit(Commit {
            base: state.image.as_ref(),
            changes,
            config: state.config.clone(),
            created_by,
            author: state.author.clone(),
            platform: state.platform.clone(),
            parent: state.image_id(),
            build_key: Some(key),
            ..Default::default()
        })?;
        Ok(image)
    }

    /// Takes the cached image of this step, if there is one (and the cache is on).
    pub fn use_cache(&mut self, state: &mut StageState, key: &str) -> Result<bool, BuildError> {
        if self.opts.no_cache {
            return Ok(false);
        }
        let parent = state.image_id();
        match self.store.cached_step(parent.as_deref(), key)? {
            Some(hit) => {
                self.out.line(" ---> Using cache");
                self.advance(state, hit);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// The step made (or found) `image`: the stage goes on from it.
    pub fn advance(&mut self, state: &mut StageState, image: ImageRecord) {
        self.out.line(format!(" ---> {}", image.short_id()));
        state.image = Some(image);
    }

    fn warn_unused_args(&mut self) {
        let unused: Vec<&String> = self
            .opts
            .build_args
            .keys()
            .filter(|k| !self.used_args.contains(*k) && !PREDEFINED_ARGS.contains(&k.as_str()))
            .collect();
        if !unused.is_empty() {
            let list: Vec<&str> = unused.iter().map(|s| s.as_str()).collect();
            self.out.line(format!(
                "[Warning] One or more build-args [{}] were not consumed",
                list.join(" ")
            ));
        }
    }
}

/// Whether SIGINT, SIGTERM, SIGHUP or SIGQUIT is pending (blocked while the build runs, so
/// that it is seen between steps instead of killing the build half-way).
fn sigpending() -> nix::Result<bool> {
    let mut set = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigpending writes a full sigset_t into the pointer it is given.
    let rc = unsafe { libc::sigpending(set.as_mut_ptr()) };
    if rc != 0 {
        return Err(nix::Error::last());
    }
    // SAFETY: initialized by the successful sigpending above.
    let set = unsafe { set.assume_init() };
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT] {
        // SAFETY: `set` is a valid, initialized sigset_t.
        if unsafe { libc::sigismember(&set, sig) } == 1 {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Blocks SIGINT, SIGTERM, SIGHUP and SIGQUIT while alive (see [`sigpending`]).
struct BlockedInterrupts {
    old: Option<nix::sys::signal::SigSet>,
}

impl BlockedInterrupts {
    fn new() -> BlockedInterrupts {
        use nix::sys::signal::{sigprocmask, SigSet, SigmaskHow, Signal};
        let mut set = SigSet::empty();
        for s in [
            Signal::SIGINT,
            Signal::SIGTERM,
            Signal::SIGHUP,
            Signal::SIGQUIT,
        ] {
            set.add(s);
        }
        let mut old = SigSet::empty();
        let ok = sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), Some(&mut old)).is_ok();
        BlockedInterrupts {
            old: ok.then_some(old),
        }
    }
}

impl Drop for BlockedInterrupts {
    fn drop(&mut self) {
        // With an interrupt pending the caller reports it and exits; otherwise the caller's
        // mask comes back.
        if sigpending().unwrap_or(true) {
            return;
        }
        if let Some(old) = &self.old {
            let _ = nix::sys::signal::sigprocmask(
                nix::sys::signal::SigmaskHow::SIG_SETMASK,
                Some(old),
                None,
            );
        }
    }
}
