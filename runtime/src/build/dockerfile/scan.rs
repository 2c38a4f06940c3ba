//! The first pass over the text (buildkit `parser.Parse`): parser directives, comments,
//! line continuations, and heredoc bodies, giving one [`Node`] per instruction.
//!
//! Continuation lines that are comments or empty are skipped (an empty one gives Docker's
//! warning); the first line of an instruction loses its leading whitespace, continuation
//! lines keep theirs.

use super::directives::{self, DirectiveParser};
use super::error::DockerfileError;
use super::heredoc;
use super::node::{self, Node};
use super::types::Directives;

/// bufio.Scanner's limit: a line (with its line break) may be at most 64 KiB.
const MAX_LINE: usize = 64 * 1024;

pub(super) struct Scanned {
    pub directives: Directives,
    pub nodes: Vec<Node>,
    pub warnings: Vec<String>,
}

/// The physical lines, each with its line break; stops (and remembers where) at a line
/// longer than bufio.Scanner accepts.
struct Lines<'a> {
    rest: &'a str,
    too_long: bool,
}

impl<'a> Iterator for Lines<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.rest.is_empty() || self.too_long {
            return None;
        }
        let (line, rest) = match self.rest.find('\n') {
            Some(i) if i < MAX_LINE => self.rest.split_at(i + 1),
            None if self.rest.len() < MAX_LINE => (self.rest, ""),
            _ => {
                self.too_long = true;
                return None;
            }
        };
        self.rest = rest;
        Some(line)
    }
}

struct State {
    escape: char,
    syntax: Option<String>,
    directives: DirectiveParser,
}

impl State {
    /// buildkit's `processLine`: the line without its line break (and, for the first line
    /// of an instruction, its leading whitespace), checked for a directive, and empty when
    /// it is a comment.
    fn process_line<'l>(&mut self, raw: &'l str, strip_left: bool) -> Result<&'l str, String> {
        let mut line = trim_newline(raw);
        if strip_left {
            line = line.trim_start();
        }
        if let Some((name, value)) = self.directives.parse_line(line)? {
            match name.as_str() {
                "escape" => self.escape = directives::escape_token(&value)?,
                "syntax" => self.syntax = Some(value),
                _ => {}
            }
        }
        Ok(if is_comment(line) { "" } else { line })
    }
}

fn trim_newline(line: &str) -> &str {
    line.trim_end_matches(['\r', '\n'])
}

fn is_comment(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

/// Docker's continuation rule: the escape character as the last non-blank character, not
/// itself escaped. Returns the line without it, and whether the instruction ends here.
fn trim_continuation(line: &str, escape: char) -> (String, bool) {
    let trimmed = line.trim_end_matches([' ', '\t']);
    if let Some(before) = trimmed.strip_suffix(escape) {
        if before.is_empty() {
            return (String::new(), false);
        }
        if !before.ends_with(escape) {
            return (before.to_string(), false);
        }
    }
    (line.to_string(), true)
}

pub(super) fn scan(text: &str) -> Result<Scanned, DockerfileError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = Lines {
        rest: text,
        too_long: false,
    };
    let mut st = State {
        escape: '\\',
        syntax: None,
        directives: DirectiveParser::default(),
    };
    let mut nodes = Vec::new();
    let mut warnings = Vec::new();
    let mut current = 0;
    let syntax = |line: usize| move |m: String| DockerfileError::syntax(line, m);

    while let Some(raw) = lines.next() {
        let first = st.process_line(raw, true).map_err(syntax(current + 1))?;
        current += 1;
        let start = current;
        let (mut line, mut end) = trim_continuation(first, st.escape);
        if end && line.is_empty() {
            continue;
        }
        let mut empty_continuation = false;
        while !end {
            let Some(raw) = lines.next() else { break };
            let next = st.process_line(raw, false).map_err(syntax(current + 1))?;
            current += 1;
            if is_comment(raw) {
                continue;
            }
            if next.trim_start().is_empty() {
                empty_continuation = true;
                continue;
            }
            let (part, ends) = trim_continuation(next, st.escape);
            line.push_str(&part);
            end = ends;
        }
        if empty_continuation {
            warnings.push(format!("Empty continuation line found in: {line}"));
        }

        let mut node = node::node_from_line(&line, st.escape).map_err(syntax(start))?;
        if node.can_contain_heredoc() && line.contains("<<") {
            let docs = heredoc::heredocs_from_line(&line).map_err(syntax(start))?;
            for mut doc in docs {
                let mut terminated = false;
                for raw in lines.by_ref() {
                    current += 1;
                    let mut candidate = trim_newline(raw);
                    if doc.chomp {
                        candidate = candidate.trim_start_matches('\t');
                    }
                    if candidate == doc.name {
                        terminated = true;
                        break;
                    }
                    doc.content.push_str(raw);
                }
                if !terminated {
                    return Err(DockerfileError::syntax(start, "unterminated heredoc"));
                }
                node.heredocs.push(doc);
            }
        }
        node.start_line = start;
        node.end_line = current;
        nodes.push(node);
    }

    if lines.too_long {
        return Err(DockerfileError::syntax(
            current + 1,
            format!(
                "dockerfile line greater than max allowed size of {}",
                MAX_LINE - 1
            ),
        ));
    }
    if nodes.is_empty() {
        return Err(DockerfileError::syntax(
            current.max(1),
            "file with no instructions",
        ));
    }
    Ok(Scanned {
        directives: Directives {
            syntax: st.syntax,
            escape: st.escape,
        },
        nodes,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuation_rule() {
        let cases = [
            ("RUN a \\", "RUN a ", false),
            ("RUN a\\  \t", "RUN a", false),
            ("\\", "", false),
            ("  \\ ", "  ", false),
            ("RUN a \\\\", "RUN a \\\\", true),
            ("RUN a", "RUN a", true),
            ("RUN a \\ b", "RUN a \\ b", true),
        ];
        for (line, want, ends) in cases {
            assert_eq!(
                trim_continuation(line, '\\'),
                (want.to_string(), ends),
                "{line:?}"
            );
        }
        assert_eq!(trim_continuation("FROM `", '`'), ("FROM ".into(), false));
        assert_eq!(trim_continuation("FROM \\", '`'), ("FROM \\".into(), true));
    }

    #[test]
    fn lines_keep_their_breaks() {
        let lines: Vec<&str> = Lines {
            rest: "a\r\nb\n\nc",
            too_long: false,
        }
        .collect();
        assert_eq!(lines, ["a\r\n", "b\n", "\n", "c"]);
    }
}
