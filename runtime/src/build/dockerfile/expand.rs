//! Variable substitution as Docker applies it to instruction arguments (buildkit
//! `shell.Lex.ProcessWord` / `ProcessWords`): quotes removed, the directive's escape
//! character applied, `$VAR` and `${VAR...}` substituted from `lookup` (None: unset).

use super::error::{go_quote, DockerfileError};
use super::lex::Lex;

fn failed(word: &str, message: String) -> DockerfileError {
    DockerfileError::Expand {
        line: 0,
        message: format!("failed to process {}: {message}", go_quote(word)),
    }
}

/// One word: `"a b"$X` with X=c gives `a bc`. Single quotes keep everything literal;
/// `${X:-default}`, `${X-default}`, `${X:+alt}`, `${X+alt}`, `${X:?message}`, `${X?message}`,
/// `${X#pattern}`, `${X%pattern}` (and `##`, `%%`), `${X/pattern/repl}`, `${X//pattern/repl}`
/// as in Docker. The error has line 0 (see [`DockerfileError::at_line`]).
pub fn expand(
    word: &str,
    escape: char,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, DockerfileError> {
    Lex::new(escape)
        .process_word(word, lookup)
        .map_err(|e| failed(word, e))
}

/// The same, then split into words at unquoted whitespace, including whitespace that a
/// substituted value brings: `EXPOSE $PORTS` with PORTS=`80 443` gives two ports. An empty
/// quoted string gives no word.
pub fn expand_words(
    text: &str,
    escape: char,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<String>, DockerfileError> {
    Lex::new(escape)
        .process_words(text, lookup)
        .map_err(|e| failed(text, e))
}

/// A heredoc body whose delimiter was not quoted, as buildkit expands a COPY/ADD heredoc
/// source: variables substituted, `\` escapes applied, quotes left as they are.
pub fn expand_heredoc(
    content: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, DockerfileError> {
    let mut lex = Lex::new('\\');
    lex.skip_process_quotes = true;
    lex.process_word(content, lookup)
        .map_err(|e| failed(content, e))
}
