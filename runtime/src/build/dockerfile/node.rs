//! One logical instruction line as buildkit's parser sees it (its `Node`): the instruction
//! word, the leading `--flags`, and the arguments as that instruction's line parser splits
//! them. Instructions Docker does not know get no arguments (they are refused later).

use super::heredoc::RawHeredoc;
use super::line_parsers::{self as lp, Parsed};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct Node {
    /// The instruction word as written (`run`, `RUN`, ...).
    pub cmd: String,
    /// `--name[=value]` words before the arguments, quotes removed.
    pub flags: Vec<String>,
    pub args: Vec<String>,
    pub json: bool,
    /// ONBUILD's trigger instruction.
    pub child: Option<Box<Node>>,
    pub heredocs: Vec<RawHeredoc>,
    /// The logical line (continuations joined).
    pub original: String,
    pub start_line: usize,
    pub end_line: usize,
}

impl Node {
    /// buildkit's `nodeArgs`: the arguments, or for ONBUILD the trigger word and its arguments.
    pub fn all_args(&self) -> Vec<String> {
        match &self.child {
            Some(child) => {
                let mut args = vec![child.cmd.clone()];
                args.extend(child.all_args());
                args
            }
            None => self.args.clone(),
        }
    }

    /// Whether heredocs on this line are read: RUN, COPY and ADD (also as an ONBUILD
    /// trigger) in their non-JSON form.
    pub fn can_contain_heredoc(&self) -> bool {
        let node = match &self.child {
            Some(child) if self.cmd.eq_ignore_ascii_case("onbuild") => child,
            _ => self,
        };
        let cmd = node.cmd.to_ascii_lowercase();
        matches!(cmd.as_str(), "run" | "copy" | "add") && !node.json
    }
}

/// Parses one logical line into a node (lines and heredocs not set).
pub(super) fn node_from_line(line: &str, escape: char) -> Result<Node, String> {
    let (cmd, flags, rest) = split_command(line, escape);
    let parsed = match cmd.to_ascii_lowercase().as_str() {
        "add" | "copy" | "volume" => lp::parse_maybe_json_to_list(&rest)?,
        "arg" => Parsed {
            args: lp::parse_words(&rest, escape),
            json: false,
        },
        "cmd" | "entrypoint" | "run" | "shell" => lp::parse_maybe_json(&rest)?,
        "env" => lp::parse_name_val(&rest, "ENV", escape)?,
        "label" => lp::parse_name_val(&rest, "LABEL", escape)?,
        "expose" | "from" => lp::parse_strings_whitespace_delimited(&rest),
        "healthcheck" => lp::parse_health_config(&rest)?,
        "maintainer" | "stopsignal" | "user" | "workdir" => lp::parse_string(&rest),
        "onbuild" => {
            let child = if rest.is_empty() {
                None
            } else {
                Some(Box::new(node_from_line(&rest, escape)?))
            };
            return Ok(Node {
                cmd,
                flags,
                child,
                original: line.to_string(),
                ..Node::default()
            });
        }
        _ => Parsed::default(),
    };
    Ok(Node {
        cmd,
        flags,
        args: parsed.args,
        json: parsed.json,
        original: line.to_string(),
        ..Node::default()
    })
}

/// The instruction word, its flags, and the rest of the line (trimmed).
fn split_command(line: &str, escape: char) -> (String, Vec<String>, String) {
    let (cmd, rest) = lp::split_blanks_once(line.trim());
    let (rest, flags) = match rest {
        Some(rest) => extract_builder_flags(rest, escape),
        None => ("", Vec::new()),
    };
    (cmd.to_string(), flags, rest.trim().to_string())
}

/// The leading words that start with `--` (quotes removed, escapes applied), up to the
/// first other word or a lone `--`; and the text after them.
fn extract_builder_flags(line: &str, escape: char) -> (&str, Vec<String>) {
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote,
    }
    let chars: Vec<(usize, char)> = line.char_indices().collect();
    let byte_at = |pos: usize| chars.get(pos).map_or(line.len(), |&(i, _)| i);
    let mut words = Vec::new();
    let mut phase = Phase::Spaces;
    let mut word = String::new();
    let mut quote = '\0';
    let mut blank_ok = false;
    let mut pos = 0;
    loop {
        let at_end = pos == chars.len();
        let mut ch = chars.get(pos).map_or('\0', |&(_, c)| c);
        if phase == Phase::Spaces {
            if at_end {
                break;
            }
            if ch.is_whitespace() {
                pos += 1;
                continue;
            }
            let next_is_dash = chars.get(pos + 1).is_some_and(|&(_, c)| c == '-');
            if ch != '-' || !next_is_dash {
                return (&line[byte_at(pos)..], words);
            }
            phase = Phase::Word;
        }
        if at_end {
            if word != "--" && (blank_ok || !word.is_empty()) {
                words.push(word);
            }
            break;
        }
        if phase == Phase::Word {
            if ch.is_whitespace() {
                phase = Phase::Spaces;
                if word == "--" {
                    return (&line[byte_at(pos)..], words);
                }
                if blank_ok || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                word.clear();
                blank_ok = false;
                pos += 1;
                continue;
            }
            if ch == '\'' || ch == '"' {
                quote = ch;
                blank_ok = true;
                phase = Phase::Quote;
                pos += 1;
                continue;
            }
        } else if ch == quote {
            phase = Phase::Word;
            pos += 1;
            continue;
        }
        if ch == escape {
            if pos + 1 == chars.len() {
                if phase == Phase::Quote {
                    phase = Phase::Word;
                }
                pos += 1;
                continue; // an escape at the end is dropped
            }
            pos += 1;
            ch = chars[pos].1;
        }
        word.push(ch);
        pos += 1;
    }
    ("", words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strs(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn flags_are_split_off() {
        let cases: &[(&str, &[&str], &str)] = &[
            ("foo /tmp/", &[], "foo /tmp/"),
            ("--user=me foo /tmp/", &["--user=me"], "foo /tmp/"),
            (
                "--user=me --doit=true foo /tmp/",
                &["--user=me", "--doit=true"],
                "foo /tmp/",
            ),
            ("--doit=true -- foo /tmp/", &["--doit=true"], "foo /tmp/"),
            ("-- foo /tmp/", &[], "foo /tmp/"),
            ("--doit [ \"a\", \"b\" ]", &["--doit"], "[ \"a\", \"b\" ]"),
            ("--doit -- [ ]", &["--doit"], "[ ]"),
            ("--chown=\"a b\" x y", &["--chown=a b"], "x y"),
            ("--from=a\\ b x", &["--from=a b"], "x"),
            ("--link", &["--link"], ""),
            ("--x=''", &["--x="], ""),
            ("-x y", &[], "-x y"),
        ];
        for (input, flags, rest) in cases {
            let (got_rest, got_flags) = extract_builder_flags(input, '\\');
            assert_eq!(got_flags, strs(flags), "{input}");
            assert_eq!(got_rest.trim(), *rest, "{input}");
        }
    }

    #[test]
    fn nodes() {
        let n = node_from_line("COPY --from=x a b /c/", '\\').unwrap();
        assert_eq!(
            (n.cmd.as_str(), n.flags, n.args),
            ("COPY", strs(&["--from=x"]), strs(&["a", "b", "/c/"]))
        );
        let n = node_from_line("cmd [\"a\"]", '\\').unwrap();
        assert!(n.json);
        let n = node_from_line("ONBUILD RUN echo hi", '\\').unwrap();
        assert_eq!(n.all_args(), strs(&["RUN", "echo hi"]));
        assert!(n.can_contain_heredoc());
        let n = node_from_line("RUNN echo", '\\').unwrap();
        assert!(n.args.is_empty());
        let n = node_from_line("FROM\tubuntu:14.04", '\\').unwrap();
        assert_eq!(n.args, strs(&["ubuntu:14.04"]));
        assert!(node_from_line("RUN [1]", '\\').is_err());
        assert!(node_from_line("ONBUILD ENV x", '\\').is_err());
    }
}
