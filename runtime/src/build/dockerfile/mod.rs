//! The Dockerfile as Docker reads it (buildkit's `frontend/dockerfile/parser`,
//! `instructions` and `shell`, which the classic builder uses too): [`parse`] turns the
//! text into stages of typed instructions with Docker's checks and error messages;
//! [`expand`] and [`expand_words`] substitute variables in an argument when the executor
//! gets to it. No I/O.
//!
//! The parse is Docker's two passes: `scan` splits the text into instruction nodes
//! (directives, comments, continuations, heredocs; `node`, `line_parsers`, `heredoc`), then
//! `instructions` checks and types each node (`flags`, `copy`, `health`). As in Docker,
//! every error of the first pass comes before any of the second. `lex` is the shell-word
//! processor behind [`expand`].

mod copy;
mod directives;
mod error;
mod expand;
mod flags;
mod health;
mod heredoc;
mod instructions;
mod lex;
mod line_parsers;
mod node;
mod scan;
mod shell_pattern;
mod suggest;
mod types;

#[cfg(test)]
mod tests;

pub use error::DockerfileError;
pub use expand::{expand, expand_heredoc, expand_words};
pub use types::{
    ArgDecl, CopyInstr, Directives, Dockerfile, FromInstr, HealthcheckInstr, Heredoc, Instruction,
    InstructionKind, ShellOrExec, Stage,
};

use instructions::Parsed;

/// Parses a Dockerfile. The `ARG`s before the first `FROM` are the global args; any other
/// instruction there is an error. A file of only `ARG`s parses to no stages (Docker fails
/// such a build later: "No image was generated. Is your Dockerfile empty?").
pub fn parse(text: &str) -> Result<Dockerfile, DockerfileError> {
    let scanned = scan::scan(text)?;
    let mut global_args = Vec::new();
    let mut stages: Vec<Stage> = Vec::new();
    for node in &scanned.nodes {
        match instructions::parse_node(node)? {
            Parsed::From(from) => stages.push(Stage {
                from,
                instructions: Vec::new(),
                index: stages.len(),
            }),
            Parsed::Instr(instr) => match stages.last_mut() {
                Some(stage) => stage.instructions.push(instr),
                None => match instr.kind {
                    InstructionKind::Arg(args) => global_args.extend(args),
                    _ => return Err(DockerfileError::NoBuildStage { line: instr.line }),
                },
            },
        }
    }
    Ok(Dockerfile {
        directives: scanned.directives,
        global_args,
        stages,
        warnings: scanned.warnings,
    })
}
