//! The lexer of Go's `text/template` (`text/template/parse/lex.go`): text between actions,
//! `{{- ` / ` -}}` trim markers, comments, and the tokens inside actions.

use super::TemplateError;

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// Text outside actions (trim markers already applied).
    Text(String),
    /// `{{` (the action's start).
    Left,
    /// `}}`.
    Right,
    /// A `{{/* ... */}}` comment (dropped by the parser).
    Comment,
    Space,
    /// `.` alone.
    Dot,
    /// `.Name` (a field, possibly after a variable or a parenthesis: a chain).
    Field(String),
    /// `$` or `$name`.
    Var(String),
    /// An identifier: a keyword, `true`/`false`/`nil`, or a function's name.
    Ident(String),
    Str(String),
    /// A number or a character constant, as written.
    Num(String),
    Char(char),
    Pipe,
    Open,
    Close,
    Comma,
    Declare,
    Assign,
}

/// A token and the byte offset where it starts in the source.
#[derive(Debug, Clone)]
pub struct Item {
    pub tok: Tok,
    pub pos: usize,
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_alnum(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// Whether `s` (at an action's start) begins with a left trim marker: `-` and a space.
fn trim_marker(s: &[u8]) -> bool {
    s.len() >= 2 && s[0] == b'-' && is_space(s[1])
}

pub fn lex(src: &str) -> Result<Vec<Item>, TemplateError> {
    let b = src.as_bytes();
    let mut items = Vec::new();
    let mut i = 0;
    let mut trim_next = false;
    while i <= b.len() {
        let start = i;
        let next = src[i..].find("{{").map(|o| i + o);
        let end = next.unwrap_or(b.len());
        let mut text = &src[start..end];
        if trim_next {
            text = text.trim_start_matches([' ', '\t', '\r', '\n']);
        }
        let Some(action) = next else {
            if !text.is_empty() {
                items.push(Item {
                    tok: Tok::Text(text.to_string()),
                    pos: start,
                });
            }
            break;
        };
        let left_trim = trim_marker(&b[action + 2..]);
        if left_trim {
            text = text.trim_end_matches([' ', '\t', '\r', '\n']);
        }
        if !text.is_empty() {
            items.push(Item {
                tok: Tok::Text(text.to_string()),
                pos: start,
            });
        }
        let mut p = action + 2;
        if left_trim {
            p += 1; // the space after the marker is lexed as space
        }
        // A comment: `{{/*` ... `*/}}`, optionally with trim markers.
        let body = &src[p..];
        let body_trimmed = if left_trim { body.trim_start() } else { body };
        if body_trimmed.starts_with("/*") {
            let cstart = p + (body.len() - body_trimmed.len());
            let Some(close) = src[cstart + 2..].find("*/") else {
                return Err(TemplateError::parse(src, action, "unclosed comment"));
            };
            let mut q = cstart + 2 + close + 2;
            let mut right_trim = false;
            if src[q..].starts_with(" -}}")
                || src[q..].starts_with("\t-}}")
                || src[q..].starts_with("\n-}}")
            {
                right_trim = true;
                q += 1;
            }
            if !(src[q..].starts_with("}}") || right_trim && src[q..].starts_with("-}}")) {
                return Err(TemplateError::parse(
                    src,
                    action,
                    "comment ends before closing delimiter",
                ));
            }
            q += if right_trim { 3 } else { 2 };
            items.push(Item {
                tok: Tok::Comment,
                pos: action,
            });
            trim_next = right_trim;
            i = q;
            continue;
        }
        items.push(Item {
            tok: Tok::Left,
            pos: action,
        });
        let (toks, after, right_trim) = lex_action(src, p, action)?;
        items.extend(toks);
        trim_next = right_trim;
        i = after;
    }
    Ok(items)
}

/// Lexes one action from `p` (after `{{`) through its `}}`; returns the tokens, the offset
/// after the action, and whether it ended with a right trim marker.
fn lex_action(
    src: &str,
    mut p: usize,
    action: usize,
) -> Result<(Vec<Item>, usize, bool), TemplateError> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut paren = 0i32;
    let push = |out: &mut Vec<Item>, tok: Tok, pos: usize| out.push(Item { tok, pos });
    loop {
        if p >= b.len() {
            return Err(TemplateError::parse(src, action, "unclosed action"));
        }
        let c = b[p];
        // The right delimiter, with or without a trim marker before it.
        if is_space(c) {
            let s = p;
            while p < b.len() && is_space(b[p]) {
                p += 1;
            }
            if src[p..].starts_with("-}}") {
                push(&mut out, Tok::Right, p);
                return Ok((out, p + 3, true));
            }
            // Newlines inside actions are spaces (Go 1.16 and later).
            push(&mut out, Tok::Space, s);
            continue;
        }
        if src[p..].starts_with("}}") {
            if paren > 0 {
                return Err(TemplateError::parse(src, p, "unclosed left paren"));
            }
            push(&mut out, Tok::Right, p);
            return Ok((out, p + 2, false));
        }
        let start = p;
        match c {
            b'|' => {
                push(&mut out, Tok::Pipe, p);
                p += 1;
            }
            b'(' => {
                paren += 1;
                push(&mut out, Tok::Open, p);
                p += 1;
            }
            b')' => {
                paren -= 1;
                if paren < 0 {
                    return Err(TemplateError::parse(src, p, "unexpected right paren"));
                }
                push(&mut out, Tok::Close, p);
                p += 1;
            }
            b',' => {
                push(&mut out, Tok::Comma, p);
                p += 1;
            }
            b'=' => {
                push(&mut out, Tok::Assign, p);
                p += 1;
            }
            b':' => {
                if b.get(p + 1) != Some(&b'=') {
                    return Err(TemplateError::parse(src, p, "expected :="));
                }
                push(&mut out, Tok::Declare, p);
                p += 2;
            }
            b'"' => {
                p += 1;
                let mut s = String::new();
                loop {
                    let Some(ch) = src[p..].chars().next() else {
                        return Err(TemplateError::parse(
                            src,
                            start,
                            "unterminated quoted string",
                        ));
                    };
                    p += ch.len_utf8();
                    match ch {
                        '"' => break,
                        '\n' => {
                            return Err(TemplateError::parse(
                                src,
                                start,
                                "unterminated quoted string",
                            ))
                        }
                        '\\' => {
                            let (esc, n) = unescape(&src[p..]).ok_or_else(|| {
                                TemplateError::parse(src, start, "invalid syntax")
                            })?;
                            s.push(esc);
                            p += n;
                        }
                        ch => s.push(ch),
                    }
                }
                push(&mut out, Tok::Str(s), start);
            }
            b'`' => {
                let Some(end) = src[p + 1..].find('`') else {
                    return Err(TemplateError::parse(
                        src,
                        start,
                        "unterminated raw quoted string",
                    ));
                };
                let raw = src[p + 1..p + 1 + end].replace('\r', "");
                push(&mut out, Tok::Str(raw), start);
                p += end + 2;
            }
            b'\'' => {
                p += 1;
                let Some(ch) = src[p..].chars().next() else {
                    return Err(TemplateError::parse(
                        src,
                        start,
                        "unterminated character constant",
                    ));
                };
                p += ch.len_utf8();
                let value = if ch == '\\' {
                    let (esc, n) = unescape(&src[p..])
                        .ok_or_else(|| TemplateError::parse(src, start, "invalid syntax"))?;
                    p += n;
                    esc
                } else {
                    ch
                };
                if b.get(p) != Some(&b'\'') {
                    return Err(TemplateError::parse(
                        src,
                        start,
                        "unterminated character constant",
                    ));
                }
                p += 1;
                push(&mut out, Tok::Char(value), start);
            }
            b'$' => {
                p += 1;
                let n = ident_len(&src[p..]);
                push(&mut out, Tok::Var(format!("${}", &src[p..p + n])), start);
                p += n;
            }
            b'.' if b.get(p + 1).is_some_and(|d| d.is_ascii_digit()) => {
                let n = number_len(&src[p..]);
                push(&mut out, Tok::Num(src[p..p + n].to_string()), start);
                p += n;
            }
            b'.' => {
                p += 1;
                let n = ident_len(&src[p..]);
                if n == 0 {
                    push(&mut out, Tok::Dot, start);
                } else {
                    push(&mut out, Tok::Field(src[p..p + n].to_string()), start);
                    p += n;
                }
            }
            b'+' | b'-' | b'0'..=b'9' => {
                let n = number_len(&src[p..]);
                if n == 0 || (n == 1 && !c.is_ascii_digit()) {
                    return Err(TemplateError::parse(
                        src,
                        start,
                        &format!("bad number syntax: {:?}", &src[p..p + n.max(1)]),
                    ));
                }
                push(&mut out, Tok::Num(src[p..p + n].to_string()), start);
                p += n;
            }
            _ => {
                let n = ident_len(&src[p..]);
                if n == 0 {
                    let ch = src[p..].chars().next().unwrap_or(' ');
                    return Err(TemplateError::parse(
                        src,
                        start,
                        &format!("unexpected {ch:?} in command"),
                    ));
                }
                push(&mut out, Tok::Ident(src[p..p + n].to_string()), start);
                p += n;
            }
        }
    }
}

fn ident_len(s: &str) -> usize {
    s.char_indices()
        .find(|&(_, c)| !is_alnum(c))
        .map(|(i, _)| i)
        .unwrap_or(s.len())
}

fn number_len(s: &str) -> usize {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let hex = s[i..].starts_with("0x") || s[i..].starts_with("0X");
    if hex {
        i += 2;
    }
    while i < b.len() {
        let c = b[i];
        let ok = c.is_ascii_digit()
            || c == b'_'
            || c == b'.'
            || (hex && c.is_ascii_hexdigit())
            || (!hex && (c == b'e' || c == b'E'))
            || ((c == b'+' || c == b'-') && i > 0 && matches!(b[i - 1], b'e' | b'E') && !hex);
        if !ok {
            break;
        }
        i += 1;
    }
    i
}

/// Go's escape after a backslash: the character and how many bytes it took.
fn unescape(s: &str) -> Option<(char, usize)> {
    let c = s.chars().next()?;
    let simple = match c {
        'n' => Some('\n'),
        't' => Some('\t'),
        'r' => Some('\r'),
        'a' => Some('\x07'),
        'b' => Some('\x08'),
        'f' => Some('\x0c'),
        'v' => Some('\x0b'),
        '\\' => Some('\\'),
        '"' => Some('"'),
        '\'' => Some('\''),
        _ => None,
    };
    if let Some(e) = simple {
        return Some((e, 1));
    }
    let (digits, radix, skip) = match c {
        'x' => (2, 16, 1),
        'u' => (4, 16, 1),
        'U' => (8, 16, 1),
        '0'..='7' => (3, 8, 0),
        _ => return None,
    };
    let text = s.get(skip..skip + digits)?;
    let n = u32::from_str_radix(text, radix).ok()?;
    Some((char::from_u32(n)?, skip + digits))
}
