//! Parser directives (`# syntax=...`, `# escape=...`, `# check=...`): comments of the form
//! `# name=value` at the very top of the file. The first line that is not one (a blank line,
//! another comment, an instruction) ends them; later such lines are plain comments.

/// The directive names Docker knows (others end the directives, as any comment does).
const VALID: [&str; 3] = ["syntax", "escape", "check"];

/// Reads directives line by line until the first line that is not one.
#[derive(Debug, Default)]
pub(super) struct DirectiveParser {
    done: bool,
    seen: Vec<String>,
}

impl DirectiveParser {
    /// The directive on `line` (leading whitespace already trimmed) as (lowercased name,
    /// value), or None once directives are over. A repeated directive is Docker's error.
    pub fn parse_line(&mut self, line: &str) -> Result<Option<(String, String)>, String> {
        if self.done {
            return Ok(None);
        }
        let Some(rest) = line.strip_prefix('#') else {
            self.done = true;
            return Ok(None);
        };
        let Some((name, value)) = split_directive(rest.trim_start()) else {
            self.done = true;
            return Ok(None);
        };
        let name = name.to_ascii_lowercase();
        if !VALID.contains(&name.as_str()) {
            self.done = true;
            return Ok(None);
        }
        if self.seen.contains(&name) {
            return Err(format!("only one {name} parser directive can be used"));
        }
        self.seen.push(name.clone());
        Ok(Some((name, value.to_string())))
    }
}

/// Go regexp `\s`: ASCII space, tab, newline, form feed, carriage return.
fn is_re_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0c' | '\r')
}

/// Docker's `^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$`.
fn split_directive(text: &str) -> Option<(&str, &str)> {
    let mut chars = text.char_indices();
    match chars.next() {
        Some((_, c)) if c.is_ascii_alphabetic() => {}
        _ => return None,
    }
    let name_end = text
        .char_indices()
        .find(|&(_, c)| !c.is_ascii_alphanumeric())
        .map_or(text.len(), |(i, _)| i);
    let name = &text[..name_end];
    let after_name = text[name_end..].trim_start_matches(is_re_space);
    let after_eq = after_name.strip_prefix('=')?;
    let value = after_eq.trim_start_matches(is_re_space);
    if !value.is_empty() {
        return Some((name, value.trim_end_matches(is_re_space)));
    }
    // Only spaces after '=': the lazy `.+?` takes the last of them.
    let last = after_eq.chars().last()?;
    Some((name, &after_eq[after_eq.len() - last.len_utf8()..]))
}

/// Checks an `escape` directive's value.
pub(super) fn escape_token(value: &str) -> Result<char, String> {
    match value {
        "\\" => Ok('\\'),
        "`" => Ok('`'),
        _ => Err(format!(
            "invalid escape token '{value}' does not match ` or \\"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directive_forms() {
        let cases: &[(&str, Option<(&str, &str)>)] = &[
            ("# escape=`", Some(("escape", "`"))),
            ("#escape = `", Some(("escape", "`"))),
            ("# ESCAPE=\\", Some(("escape", "\\"))),
            (
                "# syntax = docker/dockerfile:1 ",
                Some(("syntax", "docker/dockerfile:1")),
            ),
            ("# check=skip=all", Some(("check", "skip=all"))),
            ("# escape=  ", Some(("escape", " "))),
            ("# escape=", None),
            ("# unknown=x", None),
            ("# just a comment", None),
            ("FROM x", None),
            ("", None),
        ];
        for (line, want) in cases {
            let got = DirectiveParser::default().parse_line(line).unwrap();
            let want = want.map(|(n, v)| (n.to_string(), v.to_string()));
            assert_eq!(got, want, "{line:?}");
        }
    }

    #[test]
    fn directives_end_at_first_other_line() {
        let mut p = DirectiveParser::default();
        assert!(p.parse_line("# syntax=a").unwrap().is_some());
        assert!(p.parse_line("# comment").unwrap().is_none());
        assert!(p.parse_line("# escape=`").unwrap().is_none());
    }

    #[test]
    fn repeated_directive_is_an_error() {
        let mut p = DirectiveParser::default();
        p.parse_line("# escape=`").unwrap();
        assert_eq!(
            p.parse_line("# escape=\\").unwrap_err(),
            "only one escape parser directive can be used"
        );
    }

    #[test]
    fn escape_values() {
        assert_eq!(escape_token("`"), Ok('`'));
        assert_eq!(escape_token("\\"), Ok('\\'));
        assert_eq!(
            escape_token("x").unwrap_err(),
            "invalid escape token 'x' does not match ` or \\"
        );
    }
}
