//! Heredoc words (`<<EOF`, `<<-EOF`, `<<"EOF"`, `3<<EOF`) on RUN/COPY/ADD lines, found and
//! read as buildkit's parser does.

use super::error::go_quote;
use super::lex::Lex;

/// A heredoc as the parser reads it (the body is filled in after the instruction line).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct RawHeredoc {
    pub name: String,
    pub fd: u32,
    pub expand: bool,
    pub chomp: bool,
    /// The body as written (tabs not yet stripped).
    pub content: String,
}

fn no_env(_: &str) -> Option<String> {
    None
}

/// Go regexp `\s`.
fn is_re_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0c' | '\r')
}

/// The heredoc that `word` opens, if it is one: buildkit's `^(\d*)<<(-?)\s*([^<]*)$` and a
/// delimiter that lexes as exactly one word. An unbalanced quote in the delimiter is an
/// error.
pub(super) fn parse_heredoc(word: &str) -> Result<Option<RawHeredoc>, String> {
    let digits = word.len() - word.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let Some(rest) = word[digits..].strip_prefix("<<") else {
        return Ok(None);
    };
    let (chomp, rest) = match rest.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let rest = rest.trim_start_matches(is_re_space);
    if rest.is_empty() || rest.contains('<') {
        return Ok(None);
    }
    let fd = word[..digits].parse().unwrap_or(0);

    let mut lex = Lex::new('\\');
    lex.skip_unset_env = true;
    let failed = |e: String| format!("failed to process {}: {e}", go_quote(rest));
    let words = lex.process_words(rest, &no_env).map_err(failed)?;
    let [name] = words.as_slice() else {
        return Ok(None);
    };
    lex.raw_quotes = true;
    let raw = lex.process_words(rest, &no_env).map_err(failed)?;
    if raw.len() != words.len() {
        return Err(format!(
            "internal lexing of heredoc produced inconsistent results: {rest}"
        ));
    }
    let quotes = |s: &str| s.chars().filter(|&c| c == '\'' || c == '"').count();
    Ok(Some(RawHeredoc {
        name: name.clone(),
        fd,
        // Quotes that the lexer removed mean part of the delimiter was quoted.
        expand: quotes(name) == quotes(&raw[0]),
        chomp,
        content: String::new(),
    }))
}

/// The heredocs an instruction line opens, in order. A line that does not lex (an
/// unbalanced quote) opens none.
pub(super) fn heredocs_from_line(line: &str) -> Result<Vec<RawHeredoc>, String> {
    let mut lex = Lex::new('\\');
    lex.raw_quotes = true;
    lex.raw_escapes = true;
    lex.skip_unset_env = true;
    let words = lex.process_words(line, &no_env).unwrap_or_default();
    let mut docs = Vec::new();
    for word in words {
        if let Some(doc) = parse_heredoc(&word)? {
            docs.push(doc);
        }
    }
    Ok(docs)
}

/// `<<-`: the body without the leading tabs of each line.
pub(super) fn chomp(content: &str) -> String {
    content
        .split_inclusive('\n')
        .map(|line| line.trim_start_matches('\t'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heredoc_words() {
        for word in [
            "<<EOF",
            "<<'EOF'",
            "<<\"EOF\"",
            "<<-EOF",
            "<<-'EOF'",
            "<<-\"EOF\"",
            "<<EO\"F\"",
            "<< EOF",
            "<<- EOF",
        ] {
            let doc = parse_heredoc(word).unwrap().unwrap();
            assert_eq!(doc.name, "EOF", "{word}");
            assert_eq!(doc.chomp, word.starts_with("<<-"), "{word}");
            assert_eq!(doc.expand, !word.contains(['\'', '"']), "{word}");
        }
        for word in ["<<'EOF", "<<\"EOF", "<<EOF'", "<<EOF\""] {
            assert!(parse_heredoc(word).is_err(), "{word}");
        }
        for word in ["", "EOF", "<<", "<<-", "<EOF", "<<<EOF", "<<EOF sh"] {
            assert_eq!(parse_heredoc(word).unwrap(), None, "{word}");
        }
        assert_eq!(parse_heredoc("3<<EOF").unwrap().unwrap().fd, 3);
    }

    #[test]
    fn delimiter_quoting() {
        let cases = [
            ("<<eo'f'", "eof", false),
            ("<<eo\\'f", "eo'f", true),
            ("<<'e'o\\'f", "eo'f", false),
            ("<<'one two'", "one two", false),
            ("<<$EOF", "$EOF", true),
        ];
        for (word, name, expand) in cases {
            let doc = parse_heredoc(word).unwrap().unwrap();
            assert_eq!((doc.name.as_str(), doc.expand), (name, expand), "{word}");
        }
    }

    #[test]
    fn heredocs_on_a_line() {
        let cases: &[(&str, &[&str])] = &[
            ("RUN <<EOF", &["EOF"]),
            ("RUN <<-EOF", &["EOF"]),
            // `<<-` and the word split apart: no heredoc (buildkit's own test of this
            // line passes only because it checks the names of whatever it found).
            ("RUN <<- EOF", &[]),
            ("RUN << -EOF", &["-EOF"]),
            ("RUN <<'EOF'", &["EOF"]),
            ("RUN 4<<EOF", &["EOF"]),
            ("RUN <<EOF <<EOF2", &["EOF", "EOF2"]),
            ("RUN '<<EOF'", &[]),
            ("RUN \"<<EOF\"", &[]),
            ("RUN <<  EOF  > foo", &["EOF"]),
            ("COPY <<FILE1 <<FILE2 /dest", &["FILE1", "FILE2"]),
            ("RUN cat <<EOF | sh", &["EOF"]),
        ];
        for (line, names) in cases {
            let docs = heredocs_from_line(line).unwrap();
            let got: Vec<&str> = docs.iter().map(|d| d.name.as_str()).collect();
            assert_eq!(&got, names, "{line}");
        }
    }

    #[test]
    fn chomps_leading_tabs() {
        assert_eq!(chomp("\thello\n\t\tworld\n  x\n"), "hello\nworld\n  x\n");
    }
}
