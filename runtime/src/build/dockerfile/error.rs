//! The errors of parsing a Dockerfile and of substituting its variables, in Docker's words,
//! each with the (1-based) Dockerfile line it is about.

use thiserror::Error;

/// A Dockerfile that Docker would refuse. `Display` is `Dockerfile:<line>: <Docker's message>`
/// (just the message while the line is unknown, see [`DockerfileError::at_line`]).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DockerfileError {
    /// The text does not split into instructions: a bad parser directive, an unterminated
    /// heredoc, a JSON array of non-strings, `ENV` without a value, an empty file, ...
    /// (the errors of buildkit's `parser.Parse`).
    #[error("{}", located(*line, message))]
    Syntax { line: usize, message: String },
    /// An instruction's arguments or flags are wrong (the errors of `instructions.Parse`:
    /// "COPY requires at least two arguments, ...", "unknown flag: --foo", ...).
    #[error("{}", located(*line, message))]
    Instruction { line: usize, message: String },
    /// An instruction name Docker does not know, with its "did you mean" when one is close.
    #[error("{}", located(*line, &unknown_message(instruction, suggestion.as_deref())))]
    UnknownInstruction {
        line: usize,
        instruction: String,
        suggestion: Option<String>,
    },
    /// An instruction other than `ARG` before the first `FROM`.
    #[error("{}", located(*line, "no build stage in current context"))]
    NoBuildStage { line: usize },
    /// Variable substitution failed (`${X:?message}`, an unmatched quote, `${}`, ...). The
    /// expansion functions do not know the line: it is 0 until the caller sets it.
    #[error("{}", located(*line, message))]
    Expand { line: usize, message: String },
}

impl DockerfileError {
    /// The Dockerfile line the error is about (1-based; 0 when not known).
    pub fn line(&self) -> usize {
        match self {
            DockerfileError::Syntax { line, .. }
            | DockerfileError::Instruction { line, .. }
            | DockerfileError::UnknownInstruction { line, .. }
            | DockerfileError::NoBuildStage { line }
            | DockerfileError::Expand { line, .. } => *line,
        }
    }

    /// Docker's message without the location, e.g. `unknown instruction: RUNN (did you mean
    /// RUN?)`; the classic builder's daemon wraps instruction errors as `dockerfile parse
    /// error on line 7: <message>`.
    pub fn message(&self) -> String {
        match self {
            DockerfileError::Syntax { message, .. }
            | DockerfileError::Instruction { message, .. }
            | DockerfileError::Expand { message, .. } => message.clone(),
            DockerfileError::UnknownInstruction {
                instruction,
                suggestion,
                ..
            } => unknown_message(instruction, suggestion.as_deref()),
            DockerfileError::NoBuildStage { .. } => "no build stage in current context".into(),
        }
    }

    /// The same error about `line` (for the expansion errors, whose functions see only a word).
    pub fn at_line(mut self, at: usize) -> Self {
        match &mut self {
            DockerfileError::Syntax { line, .. }
            | DockerfileError::Instruction { line, .. }
            | DockerfileError::UnknownInstruction { line, .. }
            | DockerfileError::NoBuildStage { line }
            | DockerfileError::Expand { line, .. } => *line = at,
        }
        self
    }

    pub(super) fn syntax(line: usize, message: impl Into<String>) -> Self {
        DockerfileError::Syntax {
            line,
            message: message.into(),
        }
    }

    pub(super) fn instruction(line: usize, message: impl Into<String>) -> Self {
        DockerfileError::Instruction {
            line,
            message: message.into(),
        }
    }
}

fn located(line: usize, message: &str) -> String {
    if line == 0 {
        message.to_string()
    } else {
        format!("Dockerfile:{line}: {message}")
    }
}

fn unknown_message(instruction: &str, suggestion: Option<&str>) -> String {
    match suggestion {
        Some(s) => format!("unknown instruction: {instruction} (did you mean {s}?)"),
        None => format!("unknown instruction: {instruction}"),
    }
}

/// Go's `%q` (and `%#v`) of a string: double-quoted, with `\"`, `\\` and Go's escapes for
/// control characters; printable characters stay as they are.
pub(super) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\x7f' => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_the_line() {
        let e = DockerfileError::UnknownInstruction {
            line: 7,
            instruction: "RUNN".into(),
            suggestion: Some("RUN".into()),
        };
        assert_eq!(
            e.to_string(),
            "Dockerfile:7: unknown instruction: RUNN (did you mean RUN?)"
        );
        assert_eq!(e.line(), 7);
        assert_eq!(e.message(), "unknown instruction: RUNN (did you mean RUN?)");
        let e = DockerfileError::Expand {
            line: 0,
            message: "x".into(),
        };
        assert_eq!(e.to_string(), "x");
        assert_eq!(e.at_line(3).to_string(), "Dockerfile:3: x");
        assert_eq!(
            DockerfileError::NoBuildStage { line: 1 }.to_string(),
            "Dockerfile:1: no build stage in current context"
        );
    }

    #[test]
    fn quotes_as_go() {
        assert_eq!(go_quote("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(go_quote("x\ty\n\u{1}"), r#""x\ty\n\x01""#);
        assert_eq!(go_quote("♥"), "\"♥\"");
    }
}
