//! The parsed Dockerfile: stages of typed instructions, with their arguments still raw
//! (quotes and `$VAR`s as written; the executor expands them with [`super::expand`] when it
//! reaches the instruction, as Docker does).

use std::time::Duration;

/// A whole Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    pub directives: Directives,
    /// The `ARG`s before the first `FROM` (they may be used in `FROM` lines).
    pub global_args: Vec<ArgDecl>,
    pub stages: Vec<Stage>,
    /// Docker's parse warnings (`Empty continuation line found in: RUN ...`); the classic
    /// builder prints each as `[WARNING]: <text>` before building.
    pub warnings: Vec<String>,
}

/// The parser directives at the top of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directives {
    /// `# syntax=...` as written (the classic builder ignores it).
    pub syntax: Option<String>,
    /// `\` (the default) or `` ` ``: the escape and line-continuation character.
    pub escape: char,
}

impl Default for Directives {
    fn default() -> Self {
        Directives {
            syntax: None,
            escape: '\\',
        }
    }
}

/// `FROM ...` and the instructions up to the next `FROM`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    pub from: FromInstr,
    pub instructions: Vec<Instruction>,
    /// The stage's position (0-based), which `COPY --from=<n>` may name.
    pub index: usize,
}

/// `FROM [--platform=...] image [AS name]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FromInstr {
    /// As written; expand it with the global ARGs.
    pub image: String,
    /// The `AS` name, lowercased (Docker's stage-name rule checked).
    pub name: Option<String>,
    /// `--platform` as written (None when absent or empty).
    pub platform: Option<String>,
    pub line: usize,
    pub original: String,
}

/// One instruction of a stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// The (1-based) line the instruction starts on.
    pub line: usize,
    /// The instruction as written, continuation lines joined (the escape character and the
    /// line break dropped, comment lines skipped), e.g. `RUN apt-get update &&     apt-get
    /// install x`: Docker's node `Original`.
    pub original: String,
    pub kind: InstructionKind,
}

/// What an instruction does, with its arguments as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstructionKind {
    Run {
        command: ShellOrExec,
        /// The heredocs on the line, in order (their bodies follow the instruction).
        heredocs: Vec<Heredoc>,
        /// `--network=` (`default`, `none` or `host`, checked), when given.
        network: Option<String>,
    },
    Copy(CopyInstr),
    Add(CopyInstr),
    /// Raw key and value pairs (quotes and escapes kept, expanded later). The legacy form
    /// `ENV key value with spaces` gives one pair whose value is the rest of the line.
    Env(Vec<(String, String)>),
    Arg(Vec<ArgDecl>),
    Workdir(String),
    User(String),
    Label(Vec<(String, String)>),
    /// The ports as written, sorted as Docker sorts them.
    Expose(Vec<String>),
    /// The JSON or the space-separated form, each path trimmed.
    Volume(Vec<String>),
    Cmd(ShellOrExec),
    Entrypoint(ShellOrExec),
    /// The JSON form only (Docker refuses the other).
    Shell(Vec<String>),
    StopSignal(String),
    Healthcheck(HealthcheckInstr),
    /// The trigger as written after `ONBUILD` (heredoc bodies appended as Docker does), to be
    /// stored in the image's `OnBuild` list.
    Onbuild(String),
    Maintainer(String),
}

impl InstructionKind {
    /// The instruction's name in upper case (`RUN`, `COPY`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            InstructionKind::Run { .. } => "RUN",
            InstructionKind::Copy(_) => "COPY",
            InstructionKind::Add(_) => "ADD",
            InstructionKind::Env(_) => "ENV",
            InstructionKind::Arg(_) => "ARG",
            InstructionKind::Workdir(_) => "WORKDIR",
            InstructionKind::User(_) => "USER",
            InstructionKind::Label(_) => "LABEL",
            InstructionKind::Expose(_) => "EXPOSE",
            InstructionKind::Volume(_) => "VOLUME",
            InstructionKind::Cmd(_) => "CMD",
            InstructionKind::Entrypoint(_) => "ENTRYPOINT",
            InstructionKind::Shell(_) => "SHELL",
            InstructionKind::StopSignal(_) => "STOPSIGNAL",
            InstructionKind::Healthcheck(_) => "HEALTHCHECK",
            InstructionKind::Onbuild(_) => "ONBUILD",
            InstructionKind::Maintainer(_) => "MAINTAINER",
        }
    }
}

/// The two forms of RUN/CMD/ENTRYPOINT/HEALTHCHECK CMD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShellOrExec {
    /// The text after the instruction (and its flags), run with the stage's SHELL.
    Shell(String),
    /// A JSON array of strings. An instruction with no arguments at all (`CMD` alone) is
    /// `Exec([])` too: Docker resolves an empty command line to `[]` without a shell.
    Exec(Vec<String>),
}

/// The arguments of COPY and ADD.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CopyInstr {
    /// The source paths as written (heredoc sources are in `heredocs` instead).
    pub sources: Vec<String>,
    pub dest: String,
    /// `--from` (COPY only).
    pub from: Option<String>,
    pub chown: Option<String>,
    pub chmod: Option<String>,
    pub link: bool,
    /// The heredoc sources (`COPY <<EOF /dest`), in the order they appear.
    pub heredocs: Vec<Heredoc>,
    /// `--exclude` patterns, in order.
    pub exclude: Vec<String>,
    /// `--parents` (COPY only).
    pub parents: bool,
    /// `--checksum` (ADD only).
    pub checksum: Option<String>,
    /// `--keep-git-dir` (ADD only), when given.
    pub keep_git_dir: Option<bool>,
    /// `--unpack` (ADD only), when given.
    pub unpack: Option<bool>,
}

/// `ARG name[=default]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgDecl {
    pub name: String,
    /// As written (quotes kept); expand before use.
    pub default: Option<String>,
}

/// A heredoc body (`<<EOF` ... `EOF`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    /// The delimiter word with its quotes removed, e.g. `EOF`.
    pub name: String,
    /// The lines between the instruction and the delimiter, each with its line break. With
    /// `<<-` the leading tabs of each line are already stripped, as Docker does before use.
    pub content: String,
    /// False when any part of the delimiter was quoted (`<<"EOF"`, `<<'EOF'`, `<<E"OF"`):
    /// the body is then used as written. For COPY, expand an expanding body with
    /// [`super::expand_heredoc`].
    pub expand: bool,
    /// `<<-`.
    pub chomp_tabs: bool,
}

/// `HEALTHCHECK NONE` or `HEALTHCHECK [options] CMD ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthcheckInstr {
    None,
    /// Durations and retries are None when not given or zero (Docker stores 0, meaning
    /// "inherit or use the default").
    Check {
        test: ShellOrExec,
        interval: Option<Duration>,
        timeout: Option<Duration>,
        start_period: Option<Duration>,
        start_interval: Option<Duration>,
        retries: Option<u32>,
    },
}
