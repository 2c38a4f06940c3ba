//! How each instruction's argument text becomes a list of arguments (buildkit
//! `parser/line_parsers.go`): words with quotes kept, `key=value` pairs, JSON arrays, or the
//! text as one argument. Nothing is expanded here.

/// The arguments of one instruction line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct Parsed {
    /// In Docker's layout: for ENV and LABEL (key, value, separator) triples, the separator
    /// being "=" or "" (the legacy `KEY value` form).
    pub args: Vec<String>,
    /// The arguments were a JSON array.
    pub json: bool,
}

impl Parsed {
    fn of(args: Vec<String>) -> Self {
        Parsed { args, json: false }
    }
}

const NOT_STRING_ARRAY: &str =
    "when using JSON array syntax, arrays must be comprised of strings only";

/// buildkit's `reWhitespace`: `[\t\v\f\r ]+`.
pub(super) fn is_blank(c: char) -> bool {
    matches!(c, '\t' | '\x0b' | '\x0c' | '\r' | ' ')
}

/// The text split at runs of blanks, empty pieces dropped (`text` is trimmed already).
pub(super) fn split_blanks(text: &str) -> Vec<String> {
    text.split(is_blank)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// Splits at the first run of blanks: (first, rest).
pub(super) fn split_blanks_once(text: &str) -> (&str, Option<&str>) {
    match text.find(is_blank) {
        Some(i) => (&text[..i], Some(text[i..].trim_start_matches(is_blank))),
        None => (text, None),
    }
}

/// Words separated by whitespace, quotes and escapes kept as written (they are removed when
/// the word is expanded).
pub(super) fn parse_words(rest: &str, escape: char) -> Vec<String> {
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote,
    }
    let chars: Vec<char> = rest.chars().collect();
    let mut words = Vec::new();
    let mut phase = Phase::Spaces;
    let mut quote = '\0';
    let mut blank_ok = false;
    let mut word = String::new();
    let mut pos = 0;
    loop {
        let at_end = pos == chars.len();
        let mut ch = chars.get(pos).copied().unwrap_or('\0');
        if phase == Phase::Spaces {
            if at_end {
                break;
            }
            if ch.is_whitespace() {
                pos += 1;
                continue;
            }
            phase = Phase::Word;
        }
        if at_end {
            if blank_ok || !word.is_empty() {
                words.push(word);
            }
            break;
        }
        if phase == Phase::Word {
            if ch.is_whitespace() {
                phase = Phase::Spaces;
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
            }
            if ch == escape {
                if pos + 1 == chars.len() {
                    pos += 1;
                    continue; // an escape at the very end is dropped
                }
                // Outside quotes the escape and the next character stay as they are.
                word.push(ch);
                pos += 1;
                ch = chars[pos];
            }
            word.push(ch);
            pos += 1;
            continue;
        }
        // In quotes.
        if ch == quote {
            phase = Phase::Word;
        }
        if ch == escape && quote != '\'' {
            if pos + 1 == chars.len() {
                phase = Phase::Word;
                pos += 1;
                continue;
            }
            pos += 1;
            word.push(ch);
            ch = chars[pos];
        }
        word.push(ch);
        pos += 1;
    }
    words
}

/// ENV and LABEL: `key=value ...` pairs, or the legacy `key value` (one pair, the value being
/// the rest of the text).
pub(super) fn parse_name_val(rest: &str, key: &str, escape: char) -> Result<Parsed, String> {
    let words = parse_words(rest, escape);
    let Some(first) = words.first() else {
        return Ok(Parsed::default());
    };
    if !first.contains('=') {
        let (name, value) = split_blanks_once(rest);
        let Some(value) = value else {
            return Err(format!("{key} must have two arguments"));
        };
        return Ok(Parsed::of(vec![name.into(), value.into(), String::new()]));
    }
    let mut args = Vec::with_capacity(words.len() * 3);
    for word in &words {
        let Some((k, v)) = word.split_once('=') else {
            return Err(format!(
                "Syntax error - can't find = in {}. Must be of the form: name=value",
                super::error::go_quote(word)
            ));
        };
        args.extend([k.to_string(), v.to_string(), "=".to_string()]);
    }
    Ok(Parsed::of(args))
}

/// FROM, EXPOSE (and the non-JSON COPY/ADD/VOLUME): blank-separated words.
pub(super) fn parse_strings_whitespace_delimited(rest: &str) -> Parsed {
    Parsed::of(split_blanks(rest))
}

/// USER, WORKDIR, MAINTAINER, STOPSIGNAL: the text as one argument.
pub(super) fn parse_string(rest: &str) -> Parsed {
    if rest.is_empty() {
        return Parsed::default();
    }
    Parsed::of(vec![rest.into()])
}

/// A JSON array of strings. `Ok(None)`: not JSON (the caller falls back to another form);
/// `Err`: JSON, but not all strings.
fn parse_json(rest: &str) -> Result<Option<Parsed>, String> {
    let rest = rest.trim_start();
    if !rest.starts_with('[') {
        return Ok(None);
    }
    let Ok(values) = serde_json::from_str::<Vec<serde_json::Value>>(rest) else {
        return Ok(None);
    };
    let args = values
        .into_iter()
        .map(|v| match v {
            serde_json::Value::String(s) => Ok(s),
            _ => Err(NOT_STRING_ARRAY.to_string()),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(Parsed { args, json: true }))
}

/// RUN, CMD, ENTRYPOINT, SHELL: a JSON array, or else the text as one argument.
pub(super) fn parse_maybe_json(rest: &str) -> Result<Parsed, String> {
    if rest.is_empty() {
        return Ok(Parsed::default());
    }
    Ok(parse_json(rest)?.unwrap_or_else(|| Parsed::of(vec![rest.into()])))
}

/// COPY, ADD, VOLUME: a JSON array, or else blank-separated words.
pub(super) fn parse_maybe_json_to_list(rest: &str) -> Result<Parsed, String> {
    Ok(parse_json(rest)?.unwrap_or_else(|| parse_strings_whitespace_delimited(rest)))
}

/// HEALTHCHECK: the type word, then the command as RUN takes it.
pub(super) fn parse_health_config(rest: &str) -> Result<Parsed, String> {
    let sep = rest.find(char::is_whitespace).unwrap_or(rest.len());
    if sep == 0 {
        return Ok(Parsed::default());
    }
    let command = parse_maybe_json(rest[sep..].trim_start())?;
    let mut args = vec![rest[..sep].to_string()];
    args.extend(command.args);
    Ok(Parsed {
        args,
        json: command.json,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strs(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn words_keep_quotes() {
        let cases: &[(&str, &[&str])] = &[
            ("foo", &["foo"]),
            ("foo bar", &["foo", "bar"]),
            ("foo\\ bar", &["foo\\ bar"]),
            ("foo=bar", &["foo=bar"]),
            ("foo bar 'abc xyz'", &["foo", "bar", "'abc xyz'"]),
            ("foo bar \"abc xyz\"", &["foo", "bar", "\"abc xyz\""]),
            ("àöû", &["àöû"]),
            ("föo bàr \"âbc xÿz\"", &["föo", "bàr", "\"âbc xÿz\""]),
            ("a=\"x \\\" y\" b", &["a=\"x \\\" y\"", "b"]),
            ("a='x \\' b", &["a='x \\'", "b"]),
            ("trailing\\", &["trailing"]),
            ("\"\"", &["\"\""]),
        ];
        for (input, want) in cases {
            assert_eq!(parse_words(input, '\\'), strs(want), "{input}");
        }
        assert_eq!(parse_words("a`  b", '`'), strs(&["a` ", "b"]));
    }

    #[test]
    fn name_val_forms() {
        let cases: &[(&str, &[&str])] = &[
            ("name value", &["name", "value", ""]),
            (
                "name  value with  spaces",
                &["name", "value with  spaces", ""],
            ),
            ("name=value", &["name", "value", "="]),
            ("a=1 b=2", &["a", "1", "=", "b", "2", "="]),
            ("name=\"value value1\"", &["name", "\"value value1\"", "="]),
            ("name=value\\ value2", &["name", "value\\ value2", "="]),
            ("name='a\\'b''", &["name", "'a\\'b''", "="]),
            ("name=", &["name", "", "="]),
        ];
        for (input, want) in cases {
            assert_eq!(
                parse_name_val(input, "ENV", '\\').unwrap().args,
                strs(want),
                "{input}"
            );
        }
        assert_eq!(
            parse_name_val("name", "ENV", '\\').unwrap_err(),
            "ENV must have two arguments"
        );
        assert_eq!(
            parse_name_val("a=1 b", "LABEL", '\\').unwrap_err(),
            "Syntax error - can't find = in \"b\". Must be of the form: name=value"
        );
        assert_eq!(parse_name_val("", "ENV", '\\').unwrap(), Parsed::default());
    }

    #[test]
    fn json_or_not() {
        let json = |args: &[&str]| Parsed {
            args: strs(args),
            json: true,
        };
        let cases: &[(&str, Parsed)] = &[
            ("[]", json(&[])),
            ("[\"\"]", json(&[""])),
            ("[ \"a\", \"b\" ]", json(&["a", "b"])),
            ("[\t\"a\",\t\"b\"\t]", json(&["a", "b"])),
            ("[\"\\u0000\", \"\\/\"]", json(&["\0", "/"])),
            ("['a']", Parsed::of(strs(&["['a']"]))),
            ("[\"a\"", Parsed::of(strs(&["[\"a\""]))),
            ("[\"a\" ] x", Parsed::of(strs(&["[\"a\" ] x"]))),
            ("echo [\"a\"]", Parsed::of(strs(&["echo [\"a\"]"]))),
            ("", Parsed::default()),
        ];
        for (input, want) in cases {
            assert_eq!(&parse_maybe_json(input).unwrap(), want, "{input}");
        }
        assert_eq!(parse_maybe_json("[1]").unwrap_err(), NOT_STRING_ARRAY);
        assert_eq!(
            parse_maybe_json("[\"a\", [\"b\"]]").unwrap_err(),
            NOT_STRING_ARRAY
        );
        assert_eq!(
            parse_maybe_json_to_list("a  b\tc").unwrap(),
            Parsed::of(strs(&["a", "b", "c"]))
        );
    }

    #[test]
    fn health_config() {
        let p = parse_health_config("CMD   a b").unwrap();
        assert_eq!(p, Parsed::of(strs(&["CMD", "a b"])));
        let p = parse_health_config("CMD [\"foo\"]").unwrap();
        assert_eq!((p.args, p.json), (strs(&["CMD", "foo"]), true));
        assert_eq!(parse_health_config("CMD").unwrap().args, strs(&["CMD"]));
        assert_eq!(parse_health_config("").unwrap(), Parsed::default());
    }
}
