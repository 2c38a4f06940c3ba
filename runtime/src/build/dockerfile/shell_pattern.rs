//! The shell patterns of `${VAR#pattern}`, `${VAR%pattern}` and `${VAR/pattern/repl}`:
//! `*` (any run of characters), `?` (one character) and `\*`, `\?`, `\\` escapes, matched
//! the way buildkit's translation to a Go regexp matches (leftmost-first; `*` and `?` do
//! not cross a newline, as `.` does not).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Lit(char),
    Any,
    Star,
}

fn compile(pattern: &str) -> Result<Vec<Tok>, String> {
    let mut toks = Vec::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => toks.push(Tok::Star),
            '?' => toks.push(Tok::Any),
            // `\}` and `\/` were escaped for the `${}` syntax, not for the pattern.
            '\\' if matches!(chars.peek(), Some('}' | '/')) => {}
            '\\' => match chars.next() {
                Some(e @ ('*' | '?' | '\\')) => toks.push(Tok::Lit(e)),
                Some(e) => return Err(format!("invalid escape '\\{e}'")),
                None => return Err("invalid escape '\\\u{fffd}'".into()),
            },
            c => toks.push(Tok::Lit(c)),
        }
    }
    Ok(toks)
}

/// The end of the preferred match of `toks` starting at `pos`, if any.
fn match_at(toks: &[Tok], text: &[char], pos: usize, greedy: bool) -> Option<usize> {
    let Some((tok, rest)) = toks.split_first() else {
        return Some(pos);
    };
    match tok {
        Tok::Lit(c) => (text.get(pos) == Some(c))
            .then(|| match_at(rest, text, pos + 1, greedy))
            .flatten(),
        Tok::Any => text
            .get(pos)
            .filter(|&&c| c != '\n')
            .and_then(|_| match_at(rest, text, pos + 1, greedy)),
        Tok::Star => {
            let max = text[pos..].iter().take_while(|&&c| c != '\n').count();
            let mut lens: Box<dyn Iterator<Item = usize>> = if greedy {
                Box::new((0..=max).rev())
            } else {
                Box::new(0..=max)
            };
            lens.find_map(|n| match_at(rest, text, pos + n, greedy))
        }
    }
}

/// The leftmost match at or after `from`, as (start, end).
fn find(toks: &[Tok], text: &[char], from: usize) -> Option<(usize, usize)> {
    (from..=text.len()).find_map(|s| match_at(toks, text, s, true).map(|e| (s, e)))
}

/// `${VAR#pattern}` (`greedy`: `##`): the value without the shortest (longest) prefix
/// matching the pattern.
pub(super) fn trim_prefix(pattern: &str, value: &str, greedy: bool) -> Result<String, String> {
    let toks = compile(pattern)?;
    let text: Vec<char> = value.chars().collect();
    Ok(match match_at(&toks, &text, 0, greedy) {
        Some(end) => text[end..].iter().collect(),
        None => value.to_string(),
    })
}

/// `${VAR%pattern}` (`greedy`: `%%`): the same at the end, by matching the reversed pattern
/// against the reversed value.
pub(super) fn trim_suffix(pattern: &str, value: &str, greedy: bool) -> Result<String, String> {
    let reversed: String = value.chars().rev().collect();
    let trimmed = trim_prefix(&reverse_pattern(pattern), &reversed, greedy)?;
    Ok(trimmed.chars().rev().collect())
}

/// The pattern backwards, each escape staying in front of the character it escapes.
fn reverse_pattern(pattern: &str) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = vec!['\0'; chars.len()];
    let last = chars.len().saturating_sub(1);
    let mut i = 0;
    while i < chars.len() {
        let at = last - i;
        if chars[i] == '\\' && i != last {
            out[at - 1] = '\\';
            out[at] = chars[i + 1];
            i += 2;
        } else {
            out[at] = chars[i];
            i += 1;
        }
    }
    out.into_iter().collect()
}

/// `${VAR/pattern/repl}` (first match) and `${VAR//pattern/repl}` (`all`, Go's
/// `ReplaceAllString` rules for empty matches). The replacement is used literally.
pub(super) fn replace(
    pattern: &str,
    value: &str,
    replacement: &str,
    all: bool,
) -> Result<String, String> {
    let toks = compile(pattern)?;
    let text: Vec<char> = value.chars().collect();
    let slice = |a: usize, b: usize| text[a..b].iter().collect::<String>();
    if !all {
        return Ok(match find(&toks, &text, 0) {
            Some((s, e)) => slice(0, s) + replacement + &slice(e, text.len()),
            None => value.to_string(),
        });
    }
    let mut out = String::new();
    let (mut last_end, mut search) = (0, 0);
    while search <= text.len() {
        let Some((s, e)) = find(&toks, &text, search) else {
            break;
        };
        out.push_str(&slice(last_end, s));
        // No replacement for an empty match right after the previous match.
        if e > last_end || s == 0 {
            out.push_str(replacement);
        }
        last_end = e;
        search = if e <= search { search + 1 } else { e };
    }
    out.push_str(&slice(last_end, text.len()));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverses_patterns_keeping_escapes() {
        for (pattern, want) in [
            ("a\\*c", "c\\*a"),
            ("\\\\\\ab", "b\\a\\\\"),
            ("ab\\", "\\ba"),
            ("\\\\b", "b\\\\"),
        ] {
            assert_eq!(reverse_pattern(pattern), want, "{pattern}");
        }
    }

    #[test]
    fn invalid_escapes() {
        for pattern in ["\\", "\\x", "\\\\\\"] {
            assert!(compile(pattern).is_err(), "{pattern}");
        }
        assert!(compile("(()[]{\\}^$.\\*\\?|\\\\").is_ok());
    }

    #[test]
    fn trims_and_replaces() {
        assert_eq!(trim_prefix("*x*y", "xxyy", false).unwrap(), "y");
        assert_eq!(trim_prefix("*", "xxyy", false).unwrap(), "xxyy");
        assert_eq!(trim_prefix("*x", "xxyy", true).unwrap(), "yy");
        assert_eq!(trim_prefix("?\\?", "???y", false).unwrap(), "?y");
        assert_eq!(trim_suffix("\\**", "xx**", true).unwrap(), "xx");
        assert_eq!(trim_suffix("\\**\\*", "a***yy*", true).unwrap(), "a");
        assert_eq!(trim_suffix("x", "xxyy", false).unwrap(), "xxyy");
        assert_eq!(
            replace("\\*/", "/foo*/*/*.txt", ".", false).unwrap(),
            "/foo.*/*.txt"
        );
        assert_eq!(
            replace("\\*/", "/foo*/*/*.txt", ".", true).unwrap(),
            "/foo..*.txt"
        );
        assert_eq!(
            replace("/?/", "/a/foo/b/c.txt", "/", true).unwrap(),
            "/foo/c.txt"
        );
        assert_eq!(replace("", "xxyy", "ww", false).unwrap(), "wwxxyy");
        assert_eq!(replace("", "ab", "-", true).unwrap(), "-a-b-");
        assert_eq!(
            replace("\\/", "/tmp/foo.txt", "\\/", true).unwrap(),
            "\\/tmp\\/foo.txt"
        );
    }
}
