//! The second pass (buildkit `instructions/parse.go`): each node becomes a typed instruction,
//! its argument count and flags checked with Docker's messages.

use super::copy::{parse_add, parse_copy};
use super::error::DockerfileError;
use super::flags::BFlags;
use super::health::parse_healthcheck;
use super::heredoc::{self, RawHeredoc};
use super::node::Node;
use super::suggest::suggest;
use super::types::{ArgDecl, FromInstr, Heredoc, Instruction, InstructionKind, ShellOrExec};

/// A node as an instruction, or the start of a stage.
pub(super) enum Parsed {
    From(FromInstr),
    Instr(Instruction),
}

const ALL_INSTRUCTIONS: [&str; 18] = [
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

const REQUIRES_BUILDKIT: &str =
    "option requires BuildKit. Refer to https://docs.docker.com/go/buildkit/ to learn how to build images with BuildKit enabled";

pub(super) fn parse_node(node: &Node) -> Result<Parsed, DockerfileError> {
    let cmd = node.cmd.to_ascii_lowercase();
    if !ALL_INSTRUCTIONS
        .iter()
        .any(|n| n.eq_ignore_ascii_case(&cmd))
    {
        return Err(DockerfileError::UnknownInstruction {
            line: node.start_line,
            instruction: node.cmd.clone(),
            suggestion: suggest(&node.cmd, &ALL_INSTRUCTIONS, false),
        });
    }
    let failed = |m: String| DockerfileError::instruction(node.start_line, m);
    if cmd == "from" {
        return parse_from(node).map(Parsed::From).map_err(failed);
    }
    let kind = parse_kind(&cmd, node).map_err(failed)?;
    Ok(Parsed::Instr(Instruction {
        line: node.start_line,
        original: node.original.clone(),
        kind,
    }))
}

fn parse_kind(cmd: &str, node: &Node) -> Result<InstructionKind, String> {
    let args = node.all_args();
    let mut flags = BFlags::new(&node.flags);
    Ok(match cmd {
        "env" => {
            flags.parse()?;
            InstructionKind::Env(key_values(&args, "ENV")?)
        }
        "label" => {
            flags.parse()?;
            InstructionKind::Label(key_values(&args, "LABEL")?)
        }
        "maintainer" => InstructionKind::Maintainer(one_arg(&args, "MAINTAINER", &mut flags)?),
        "workdir" => InstructionKind::Workdir(one_arg(&args, "WORKDIR", &mut flags)?),
        "user" => InstructionKind::User(one_arg(&args, "USER", &mut flags)?),
        "stopsignal" => {
            // Docker does not check STOPSIGNAL's flags.
            if args.len() != 1 {
                return Err(exactly_one("STOPSIGNAL"));
            }
            InstructionKind::StopSignal(args[0].clone())
        }
        "add" => InstructionKind::Add(parse_add(node, &args, &mut flags)?),
        "copy" => InstructionKind::Copy(parse_copy(node, &args, &mut flags)?),
        "onbuild" => InstructionKind::Onbuild(parse_onbuild(node, &args, &mut flags)?),
        "run" => parse_run(node, &args, &mut flags)?,
        "cmd" => {
            flags.parse()?;
            InstructionKind::Cmd(shell_or_exec(&args, node.json))
        }
        "entrypoint" => {
            flags.parse()?;
            InstructionKind::Entrypoint(shell_or_exec(&args, node.json))
        }
        "healthcheck" => InstructionKind::Healthcheck(parse_healthcheck(node, &args, &mut flags)?),
        "expose" => {
            if args.is_empty() {
                return Err(at_least_one("EXPOSE"));
            }
            flags.parse()?;
            let mut ports = args;
            ports.sort();
            InstructionKind::Expose(ports)
        }
        "volume" => {
            if args.is_empty() {
                return Err(at_least_one("VOLUME"));
            }
            flags.parse()?;
            let volumes: Vec<String> = args.iter().map(|v| v.trim().to_string()).collect();
            if volumes.iter().any(String::is_empty) {
                return Err("VOLUME specified can not be an empty string".into());
            }
            InstructionKind::Volume(volumes)
        }
        "arg" => InstructionKind::Arg(parse_arg(&args)?),
        "shell" => {
            flags.parse()?;
            if args.is_empty() {
                return Err(at_least_one("SHELL"));
            }
            if !node.json {
                return Err("SHELL requires the arguments to be in JSON form".into());
            }
            InstructionKind::Shell(args)
        }
        other => unreachable!("instruction {other} is checked by the caller"),
    })
}

pub(super) fn at_least_one(cmd: &str) -> String {
    format!("{cmd} requires at least one argument")
}

fn exactly_one(cmd: &str) -> String {
    format!("{cmd} requires exactly one argument")
}

fn one_arg(args: &[String], cmd: &str, flags: &mut BFlags) -> Result<String, String> {
    if args.len() != 1 {
        return Err(exactly_one(cmd));
    }
    flags.parse()?;
    Ok(args[0].clone())
}

/// Docker's `handleJSONArgs`: the JSON array as is, or the words joined as one shell line.
pub(super) fn shell_or_exec(args: &[String], json: bool) -> ShellOrExec {
    if json || args.is_empty() {
        ShellOrExec::Exec(args.to_vec())
    } else {
        ShellOrExec::Shell(args.join(" "))
    }
}

/// A heredoc as the instruction uses it (`<<-` bodies lose their leading tabs).
pub(super) fn heredoc_for_use(doc: &RawHeredoc) -> Heredoc {
    Heredoc {
        name: doc.name.clone(),
        content: if doc.chomp {
            heredoc::chomp(&doc.content)
        } else {
            doc.content.clone()
        },
        expand: doc.expand,
        chomp_tabs: doc.chomp,
    }
}

fn key_values(args: &[String], cmd: &str) -> Result<Vec<(String, String)>, String> {
    if args.is_empty() {
        return Err(at_least_one(cmd));
    }
    if !args.len().is_multiple_of(3) {
        return Err(format!("Bad input to {cmd}, too many arguments"));
    }
    args.chunks(3)
        .map(|kv| {
            if kv[0].is_empty() {
                return Err(format!("{cmd} names can not be blank"));
            }
            Ok((kv[0].clone(), kv[1].clone()))
        })
        .collect()
}

fn parse_arg(args: &[String]) -> Result<Vec<ArgDecl>, String> {
    if args.is_empty() {
        return Err(at_least_one("ARG"));
    }
    args.iter()
        .map(|arg| match arg.split_once('=') {
            Some(("", _)) => Err("ARG names can not be blank".to_string()),
            Some((name, value)) => Ok(ArgDecl {
                name: name.into(),
                default: Some(value.into()),
            }),
            None => Ok(ArgDecl {
                name: arg.clone(),
                default: None,
            }),
        })
        .collect()
}

fn parse_from(node: &Node) -> Result<FromInstr, String> {
    let args = &node.args;
    let name = match args.as_slice() {
        [_, as_word, name] if as_word.eq_ignore_ascii_case("as") => {
            let lower = name.to_lowercase();
            if !valid_stage_name(&lower) {
                return Err(format!(
                    "invalid name for build stage: {}, name can't start with a number or contain symbols",
                    super::error::go_quote(name)
                ));
            }
            Some(lower)
        }
        [_] => None,
        _ => return Err("FROM requires either one or three arguments".into()),
    };
    let mut flags = BFlags::new(&node.flags);
    flags.add_string("platform", "");
    flags.parse()?;
    Ok(FromInstr {
        image: args[0].clone(),
        name,
        platform: flags.non_empty("platform"),
        line: node.start_line,
        original: node.original.clone(),
    })
}

/// Docker's `^[a-z][a-z0-9-_.]*$`.
fn valid_stage_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c))
}

fn parse_onbuild(node: &Node, args: &[String], flags: &mut BFlags) -> Result<String, String> {
    if args.is_empty() {
        return Err(at_least_one("ONBUILD"));
    }
    flags.parse()?;
    let trigger = args[0].trim().to_uppercase();
    match trigger.as_str() {
        "ONBUILD" => return Err("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed".into()),
        "MAINTAINER" | "FROM" => {
            return Err(format!("{trigger} isn't allowed as an ONBUILD trigger"))
        }
        _ => {}
    }
    let re_space = |c: char| matches!(c, ' ' | '\t' | '\n' | '\x0c' | '\r');
    let text = node.original.trim_start_matches(re_space);
    let mut expression = match text.get(..7) {
        Some(word) if word.eq_ignore_ascii_case("onbuild") => {
            text[7..].trim_start_matches(re_space).to_string()
        }
        _ => text.to_string(),
    };
    for doc in &node.heredocs {
        expression.push('\n');
        expression.push_str(&doc.content);
        expression.push_str(&doc.name);
    }
    Ok(expression)
}

fn parse_run(node: &Node, args: &[String], flags: &mut BFlags) -> Result<InstructionKind, String> {
    flags.add_strings("device");
    flags.add_strings("mount");
    flags.add_string("network", "default");
    flags.add_string("security", "sandbox");
    flags.parse()?;
    let network = flags.string("network");
    if !matches!(network.as_str(), "default" | "none" | "host") {
        return Err(format!(
            "invalid network mode {}",
            super::error::go_quote(&network)
        ));
    }
    let security = flags.string("security");
    if !matches!(security.as_str(), "sandbox" | "insecure") {
        return Err(format!(
            "security {} is not valid",
            super::error::go_quote(&security)
        ));
    }
    // The classic builder refuses these (it refuses --network too; ebrun runs that one).
    if let Some(flag) = flags.used().into_iter().find(|f| *f != "network") {
        return Err(format!("the --{flag} {REQUIRES_BUILDKIT}"));
    }
    Ok(InstructionKind::Run {
        command: shell_or_exec(args, node.json),
        heredocs: node.heredocs.iter().map(heredoc_for_use).collect(),
        network: flags.is_used("network").then_some(network),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_names() {
        for ok in ["a", "build", "a-b_c.d9", "x1"] {
            assert!(valid_stage_name(ok), "{ok}");
        }
        for bad in ["", "1a", "-a", "a/b", "a:b", "A"] {
            assert!(!valid_stage_name(bad), "{bad}");
        }
    }
}
