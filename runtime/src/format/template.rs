//! A subset of Go's `text/template`, for Docker's `--format` / `-f` flags, evaluated over JSON
//! data (what `inspect` shows):
//!
//! - text with `{{ ... }}` actions, `{{-` / `-}}` trim markers;
//! - `.`, `.Field.Sub`, `"strings"`, `` `raw` ``, numbers, `true`/`false`, `(sub pipelines)`,
//!   pipelines with `|`;
//! - `if` / `else` / `else if`, `range` (with `else`), `with`, `end`;
//! - functions: Docker's `json`, `join`, `split`, `upper`, `lower`, `title`, `truncate`, `pad`,
//!   `println`, and Go's `print`, `printf` (`%s %v %d %q`), `len`, `index`, `eq`, `ne`, `not`,
//!   `and`, `or`.
//!
//! Values print as Go prints them: arrays as `[a b]`, objects as `map[k:v]` (or `{v1 v2}` for
//! Docker's structs: objects whose keys are all capitalised field names), a missing key as
//! `<no value>`, null as `[]` (the nil slices and maps of Docker's types).

use serde_json::Value;

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    nodes: Vec<Node>,
}

#[derive(Debug, Clone)]
enum Node {
    Text(String),
    Print(Pipeline),
    If(Pipeline, Vec<Node>, Vec<Node>),
    Range(Pipeline, Vec<Node>, Vec<Node>),
    With(Pipeline, Vec<Node>, Vec<Node>),
}

#[derive(Debug, Clone)]
struct Pipeline(Vec<Command>);

#[derive(Debug, Clone)]
struct Command(Vec<Operand>);

#[derive(Debug, Clone)]
enum Operand {
    /// `.Field.Sub` (empty path: `.`).
    Field(Vec<String>),
    Literal(Value),
    Ident(String),
    Sub(Pipeline),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Field(Vec<String>),
    Str(String),
    Num(Value),
    Ident(String),
    Pipe,
    Open,
    Close,
}

/// An evaluated value: `None` is Go's "no value" (a missing key).
type Val = Option<Value>;

impl Template {
    /// Parses `src`; the error names what is wrong and where.
    pub fn parse(src: &str) -> Result<Template, String> {
        let mut items = split_actions(src)?;
        items.reverse();
        match parse_nodes(&mut items)? {
            (nodes, None) => Ok(Template { nodes }),
            (_, Some(Terminator::End)) => Err("template: unexpected {{end}}".into()),
            (_, Some(Terminator::Else(_))) => Err("template: unexpected {{else}}".into()),
        }
    }

    /// Runs the template on `data`.
    pub fn execute(&self, data: &Value) -> Result<String, String> {
        let mut out = String::new();
        exec_nodes(&self.nodes, data, &mut out)?;
        Ok(out)
    }
}

/// A `--format` value as the docker CLI reads it for a listing: `table TEMPLATE` (rows under
/// a header, aligned), `json`, or a bare template (one line per row).
pub struct ListFormat {
    pub table: bool,
    pub template: Template,
}

impl ListFormat {
    /// `given` (nothing or `table` mean `default`, itself a `table ...` format); `\t` and
    /// `\n` typed literally become tab and newline.
    pub fn parse(given: Option<&str>, default: &str) -> Result<ListFormat, String> {
        let format = match given {
            None | Some("") | Some("table") => default,
            Some("json") => "{{json .}}",
            Some(f) => f,
        };
        let (table, body) = match format.strip_prefix("table") {
            Some(rest) if rest.is_empty() || rest.starts_with([' ', '\t']) => {
                (true, rest.trim_start_matches([' ', '\t']))
            }
            _ => (false, format),
        };
        let template = Template::parse(&body.replace("\\t", "\t").replace("\\n", "\n"))?;
        Ok(ListFormat { table, template })
    }
}

/// Renders `src` on `data` in one go.
pub fn render(src: &str, data: &Value) -> Result<String, String> {
    Template::parse(src)?.execute(data)
}

enum Item {
    Text(String),
    Action(Vec<Tok>),
}

/// Splits the source into text and tokenized actions, applying trim markers.
fn split_actions(src: &str) -> Result<Vec<Item>, String> {
    let mut items = Vec::new();
    let mut rest = src;
    let mut trim_next = false;
    while let Some(start) = rest.find("{{") {
        let mut text = rest[..start].to_string();
        if trim_next {
            text = text.trim_start().to_string();
        }
        let after = &rest[start + 2..];
        let (trim_prev, body_start) = match after.strip_prefix("- ") {
            Some(_) => (true, 2),
            None => (false, 0),
        };
        if trim_prev {
            text = text.trim_end().to_string();
        }
        if !text.is_empty() {
            items.push(Item::Text(text));
        }
        let body_src = &after[body_start..];
        let end = find_action_end(body_src)
            .ok_or_else(|| format!("template: unclosed action in {src:?}"))?;
        let mut body = &body_src[..end];
        trim_next = false;
        if let Some(b) = body.strip_suffix(" -") {
            body = b;
            trim_next = true;
        }
        items.push(Item::Action(tokenize(body.trim())?));
        rest = &body_src[end + 2..];
    }
    let mut text = rest.to_string();
    if trim_next {
        text = text.trim_start().to_string();
    }
    if !text.is_empty() {
        items.push(Item::Text(text));
    }
    Ok(items)
}

/// The offset of the `}}` closing an action, skipping string literals.
fn find_action_end(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'`' => {
                i += 1;
                while i < b.len() && b[i] != b'`' {
                    i += 1;
                }
            }
            b'}' if b.get(i + 1) == Some(&b'}') => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

fn tokenize(s: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = s.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\n' | '\r' => i += 1,
            '|' => {
                toks.push(Tok::Pipe);
                i += 1;
            }
            '(' => {
                toks.push(Tok::Open);
                i += 1;
            }
            ')' => {
                toks.push(Tok::Close);
                i += 1;
            }
            '"' => {
                let mut out = String::new();
                i += 1;
                loop {
                    let Some(&c) = chars.get(i) else {
                        return Err(format!("template: unterminated string in {s:?}"));
                    };
                    i += 1;
                    match c {
                        '"' => break,
                        '\\' => {
                            let e = chars.get(i).copied().unwrap_or('\\');
                            i += 1;
                            out.push(match e {
                                'n' => '\n',
                                't' => '\t',
                                'r' => '\r',
                                other => other,
                            });
                        }
                        c => out.push(c),
                    }
                }
                toks.push(Tok::Str(out));
            }
            '`' => {
                let start = i + 1;
                let end = chars[start..]
                    .iter()
                    .position(|&c| c == '`')
                    .ok_or_else(|| format!("template: unterminated raw string in {s:?}"))?;
                toks.push(Tok::Str(chars[start..start + end].iter().collect()));
                i = start + end + 1;
            }
            '.' => {
                let mut path = Vec::new();
                i += 1;
                loop {
                    let start = i;
                    while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                        i += 1;
                    }
                    if i > start {
                        path.push(chars[start..i].iter().collect());
                    }
                    if i < chars.len() && chars[i] == '.' && i > start {
                        i += 1;
                        continue;
                    }
                    break;
                }
                toks.push(Tok::Field(path));
            }
            c if c.is_ascii_digit() || c == '-' => {
                let start = i;
                i += 1;
                while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                    i += 1;
                }
                let text: String = chars[start..i].iter().collect();
                let v: Value = serde_json::from_str(&text)
                    .map_err(|_| format!("template: bad number {text:?}"))?;
                toks.push(Tok::Num(v));
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                toks.push(Tok::Ident(chars[start..i].iter().collect()));
            }
            '$' => return Err("template: variables ($) are not supported".into()),
            other => return Err(format!("template: unexpected {other:?} in {s:?}")),
        }
    }
    Ok(toks)
}

/// How a list of nodes ended.
enum Terminator {
    End,
    /// `else`, or `else if COND` (the condition's tokens).
    Else(Option<Vec<Tok>>),
}

/// Parses nodes up to an `end` / `else` (returned) or the end of input (`None`).
fn parse_nodes(items: &mut Vec<Item>) -> Result<(Vec<Node>, Option<Terminator>), String> {
    let mut nodes = Vec::new();
    while let Some(item) = items.pop() {
        let toks = match item {
            Item::Text(t) => {
                nodes.push(Node::Text(t));
                continue;
            }
            Item::Action(toks) => toks,
        };
        let keyword = match toks.first() {
            Some(Tok::Ident(k))
                if matches!(k.as_str(), "if" | "range" | "with" | "else" | "end") =>
            {
                k.clone()
            }
            _ => {
                nodes.push(Node::Print(parse_pipeline(&toks)?));
                continue;
            }
        };
        match keyword.as_str() {
            "end" if toks.len() == 1 => return Ok((nodes, Some(Terminator::End))),
            "end" => return Err("template: unexpected tokens after end".into()),
            "else" => {
                return match toks.get(1) {
                    None => Ok((nodes, Some(Terminator::Else(None)))),
                    Some(Tok::Ident(k)) if k == "if" => {
                        Ok((nodes, Some(Terminator::Else(Some(toks[2..].to_vec())))))
                    }
                    Some(_) => Err("template: unexpected tokens after else".into()),
                };
            }
            kw => nodes.push(parse_block(kw, &toks[1..], items)?),
        }
    }
    Ok((nodes, None))
}

/// Parses an `if` / `range` / `with` block after its opening action, through its `end`.
fn parse_block(kw: &str, cond: &[Tok], items: &mut Vec<Item>) -> Result<Node, String> {
    let pipe = parse_pipeline(cond)?;
    let (body, term) = parse_nodes(items)?;
    let alt = match term {
        Some(Terminator::End) => Vec::new(),
        Some(Terminator::Else(None)) => match parse_nodes(items)? {
            (alt, Some(Terminator::End)) => alt,
            _ => return Err(format!("template: {{{{{kw}}}}} without {{{{end}}}}")),
        },
        // `else if X ... end` is an `if` nested in the else branch, sharing the `end`.
        Some(Terminator::Else(Some(cond))) => vec![parse_block("if", &cond, items)?],
        None => return Err(format!("template: {{{{{kw}}}}} without {{{{end}}}}")),
    };
    Ok(match kw {
        "if" => Node::If(pipe, body, alt),
        "range" => Node::Range(pipe, body, alt),
        _ => Node::With(pipe, body, alt),
    })
}

fn parse_pipeline(toks: &[Tok]) -> Result<Pipeline, String> {
    let mut pos = 0;
    let p = parse_pipeline_at(toks, &mut pos)?;
    if pos != toks.len() {
        return Err("template: unexpected \")\"".into());
    }
    Ok(p)
}

fn parse_pipeline_at(toks: &[Tok], pos: &mut usize) -> Result<Pipeline, String> {
    let mut cmds = Vec::new();
    let mut cur = Vec::new();
    while *pos < toks.len() {
        let t = &toks[*pos];
        *pos += 1;
        match t {
            Tok::Pipe => {
                if cur.is_empty() {
                    return Err("template: empty command in pipeline".into());
                }
                cmds.push(Command(std::mem::take(&mut cur)));
            }
            Tok::Close => {
                *pos -= 1;
                break;
            }
            Tok::Open => {
                let sub = parse_pipeline_at(toks, pos)?;
                if toks.get(*pos) != Some(&Tok::Close) {
                    return Err("template: unclosed \"(\"".into());
                }
                *pos += 1;
                cur.push(Operand::Sub(sub));
            }
            Tok::Field(p) => cur.push(Operand::Field(p.clone())),
            Tok::Str(s) => cur.push(Operand::Literal(Value::String(s.clone()))),
            Tok::Num(n) => cur.push(Operand::Literal(n.clone())),
            Tok::Ident(id) => match id.as_str() {
                "true" => cur.push(Operand::Literal(Value::Bool(true))),
                "false" => cur.push(Operand::Literal(Value::Bool(false))),
                "nil" => cur.push(Operand::Literal(Value::Null)),
                _ => cur.push(Operand::Ident(id.clone())),
            },
        }
    }
    if cur.is_empty() {
        return Err("template: missing value for command".into());
    }
    cmds.push(Command(cur));
    Ok(Pipeline(cmds))
}

fn exec_nodes(nodes: &[Node], dot: &Value, out: &mut String) -> Result<(), String> {
    for node in nodes {
        match node {
            Node::Text(t) => out.push_str(t),
            Node::Print(p) => out.push_str(&print(&eval_pipeline(p, dot)?)),
            Node::If(p, body, alt) => {
                if truthy(&eval_pipeline(p, dot)?) {
                    exec_nodes(body, dot, out)?;
                } else {
                    exec_nodes(alt, dot, out)?;
                }
            }
            Node::With(p, body, alt) => {
                let v = eval_pipeline(p, dot)?;
                if truthy(&v) {
                    exec_nodes(body, v.as_ref().unwrap_or(&Value::Null), out)?;
                } else {
                    exec_nodes(alt, dot, out)?;
                }
            }
            Node::Range(p, body, alt) => {
                let items: Vec<Value> = match eval_pipeline(p, dot)? {
                    Some(Value::Array(a)) => a,
                    Some(Value::Object(m)) => {
                        let mut keys: Vec<&String> = m.keys().collect();
                        keys.sort();
                        keys.into_iter().map(|k| m[k].clone()).collect()
                    }
                    Some(Value::Null) | None => Vec::new(),
                    Some(other) => {
                        return Err(format!(
                            "template: range can't iterate over {}",
                            print(&Some(other))
                        ))
                    }
                };
                if items.is_empty() {
                    exec_nodes(alt, dot, out)?;
                }
                for item in &items {
                    exec_nodes(body, item, out)?;
                }
            }
        }
    }
    Ok(())
}

fn eval_pipeline(p: &Pipeline, dot: &Value) -> Result<Val, String> {
    let mut piped: Option<Val> = None;
    for cmd in &p.0 {
        piped = Some(eval_command(cmd, dot, piped)?);
    }
    Ok(piped.expect("pipelines are non-empty"))
}

fn eval_command(cmd: &Command, dot: &Value, piped: Option<Val>) -> Result<Val, String> {
    match &cmd.0[0] {
        Operand::Ident(name) => {
            let mut args = Vec::new();
            for op in &cmd.0[1..] {
                args.push(eval_operand(op, dot)?);
            }
            if let Some(p) = piped {
                args.push(p);
            }
            call(name, args)
        }
        op => {
            if cmd.0.len() > 1 || piped.is_some() {
                return Err("template: can't give arguments to a non-function".into());
            }
            eval_operand(op, dot)
        }
    }
}

fn eval_operand(op: &Operand, dot: &Value) -> Result<Val, String> {
    match op {
        Operand::Field(path) => {
            let mut cur = Some(dot.clone());
            for key in path {
                cur = match cur {
                    Some(Value::Object(m)) => m.get(key).cloned(),
                    Some(Value::Null) | None => None,
                    Some(other) => {
                        return Err(format!(
                            "template: can't evaluate field {key} in type {}",
                            type_name(&other)
                        ))
                    }
                };
            }
            Ok(cur)
        }
        Operand::Literal(v) => Ok(Some(v.clone())),
        Operand::Sub(p) => eval_pipeline(p, dot),
        Operand::Ident(name) => call(name, Vec::new()),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "nil",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "slice",
        Value::Object(_) => "map",
    }
}

fn want(name: &str, args: &[Val], n: usize) -> Result<(), String> {
    if args.len() != n {
        return Err(format!(
            "template: wrong number of args for {name}: want {n} got {}",
            args.len()
        ));
    }
    Ok(())
}

fn text(v: &Val) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        other => print(other),
    }
}

fn call(name: &str, args: Vec<Val>) -> Result<Val, String> {
    let s = |v: String| Ok(Some(Value::String(v)));
    match name {
        "json" => {
            want(name, &args, 1)?;
            s(serde_json::to_string(args[0].as_ref().unwrap_or(&Value::Null)).expect("JSON"))
        }
        "join" => {
            want(name, &args, 2)?;
            let sep = text(&args[1]);
            match &args[0] {
                Some(Value::Array(a)) => s(a
                    .iter()
                    .map(|v| text(&Some(v.clone())))
                    .collect::<Vec<_>>()
                    .join(&sep)),
                Some(Value::Null) | None => s(String::new()),
                other => Err(format!("template: join: not a list: {}", print(other))),
            }
        }
        "split" => {
            want(name, &args, 2)?;
            let parts = text(&args[0])
                .split(text(&args[1]).as_str())
                .map(|p| Value::String(p.to_string()))
                .collect();
            Ok(Some(Value::Array(parts)))
        }
        "upper" => {
            want(name, &args, 1)?;
            s(text(&args[0]).to_uppercase())
        }
        "lower" => {
            want(name, &args, 1)?;
            s(text(&args[0]).to_lowercase())
        }
        "title" => {
            want(name, &args, 1)?;
            let t = text(&args[0]);
            let mut out = String::new();
            let mut start = true;
            for c in t.chars() {
                if start {
                    out.extend(c.to_uppercase());
                } else {
                    out.push(c);
                }
                start = c.is_whitespace();
            }
            s(out)
        }
        "truncate" => {
            want(name, &args, 2)?;
            let n = args[1].as_ref().and_then(Value::as_u64).unwrap_or(0) as usize;
            s(text(&args[0]).chars().take(n).collect())
        }
        "pad" => {
            want(name, &args, 3)?;
            let l = args[1].as_ref().and_then(Value::as_u64).unwrap_or(0) as usize;
            let r = args[2].as_ref().and_then(Value::as_u64).unwrap_or(0) as usize;
            s(format!(
                "{}{}{}",
                " ".repeat(l),
                text(&args[0]),
                " ".repeat(r)
            ))
        }
        "print" | "println" => {
            let mut out = String::new();
            for (i, a) in args.iter().enumerate() {
                let is_str = matches!(a, Some(Value::String(_)));
                let prev_str = i > 0 && matches!(args[i - 1], Some(Value::String(_)));
                if i > 0 && (name == "println" || (!is_str && !prev_str)) {
                    out.push(' ');
                }
                out.push_str(&text(a));
            }
            if name == "println" {
                out.push('\n');
            }
            s(out)
        }
        "printf" => {
            let Some(format) = args.first() else {
                return Err("template: printf needs a format".into());
            };
            s(printf(&text(format), &args[1..]))
        }
        "len" => {
            want(name, &args, 1)?;
            let n = match &args[0] {
                Some(Value::Array(a)) => a.len(),
                Some(Value::Object(m)) => m.len(),
                Some(Value::String(st)) => st.len(),
                Some(Value::Null) | None => 0,
                other => return Err(format!("template: len of {}", print(other))),
            };
            Ok(Some(Value::from(n)))
        }
        "index" => {
            if args.is_empty() {
                return Err("template: index needs an argument".into());
            }
            let mut cur = args[0].clone();
            for key in &args[1..] {
                cur = match (cur, key) {
                    (Some(Value::Array(a)), Some(Value::Number(n))) => {
                        let i = n.as_u64().ok_or("template: index: bad index")? as usize;
                        Some(
                            a.get(i)
                                .cloned()
                                .ok_or_else(|| format!("template: index out of range: {i}"))?,
                        )
                    }
                    (Some(Value::Object(m)), k) => m.get(&text(k)).cloned(),
                    (Some(Value::Null) | None, _) => None,
                    (other, _) => return Err(format!("template: can't index {}", print(&other))),
                };
            }
            Ok(cur)
        }
        "eq" | "ne" => {
            if args.len() < 2 {
                return Err(format!("template: {name} needs two arguments"));
            }
            let eq = args[1..].iter().any(|a| a == &args[0]);
            Ok(Some(Value::Bool(if name == "eq" { eq } else { !eq })))
        }
        "not" => {
            want(name, &args, 1)?;
            Ok(Some(Value::Bool(!truthy(&args[0]))))
        }
        "and" => Ok(args
            .iter()
            .find(|a| !truthy(a))
            .or(args.last())
            .cloned()
            .flatten()),
        "or" => Ok(args
            .iter()
            .find(|a| truthy(a))
            .or(args.last())
            .cloned()
            .flatten()),
        other => Err(format!("template: function {other:?} not defined")),
    }
}

fn printf(format: &str, args: &[Val]) -> String {
    let mut out = String::new();
    let mut args = args.iter();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some('q') => out.push_str(&format!("{:?}", args.next().map(text).unwrap_or_default())),
            Some(_) => out.push_str(
                &args
                    .next()
                    .map(text)
                    .unwrap_or_else(|| "%!v(MISSING)".into()),
            ),
            None => out.push('%'),
        }
    }
    out
}

/// Go's truth: false, 0, "", nil, and empty collections are false.
fn truthy(v: &Val) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(m)) => !m.is_empty(),
    }
}

/// Prints a value as Go's `fmt.Print` would print the decoded value.
fn print(v: &Val) -> String {
    match v {
        None => "<no value>".into(),
        Some(v) => print_value(v),
    }
}

fn print_value(v: &Value) -> String {
    match v {
        Value::Null => "[]".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(print_value).collect::<Vec<_>>().join(" ")
        ),
        // Docker's structs (Mounts, State, ...) have exported, capitalised field names and
        // print as `{v1 v2 ...}` in field order; maps (Labels, Options) as `map[k:v]`.
        Value::Object(m)
            if !m.is_empty()
                && m.keys()
                    .all(|k| k.starts_with(|c: char| c.is_ascii_uppercase())) =>
        {
            format!(
                "{{{}}}",
                m.values().map(print_value).collect::<Vec<_>>().join(" ")
            )
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{k}:{}", print_value(&m[k])))
                .collect();
            format!("map[{}]", parts.join(" "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn r(t: &str, v: &Value) -> String {
        render(t, v).unwrap()
    }

    #[test]
    fn fields_and_functions() {
        let v = json!({"Id": "sha256:abc", "RepoTags": ["a:1", "b:2"], "Config": {"Cmd": ["sh"], "Env": null, "Labels": {"x": "1"}}, "Size": 4261550});
        assert_eq!(r("{{.Id}}", &v), "sha256:abc");
        assert_eq!(r("{{.Config.Cmd}}", &v), "[sh]");
        assert_eq!(r("{{json .Config.Cmd}}", &v), "[\"sh\"]");
        assert_eq!(r("{{.Config.Cmd | json}}", &v), "[\"sh\"]");
        assert_eq!(r("{{json .Config.Env}}", &v), "null");
        assert_eq!(r("{{.Size}}", &v), "4261550");
        assert_eq!(r("{{.Nope}}", &v), "<no value>");
        assert_eq!(r("{{join .RepoTags \",\"}}", &v), "a:1,b:2");
        assert_eq!(r("{{index .RepoTags 1}}", &v), "b:2");
        assert_eq!(r("{{index .Config.Labels \"x\"}}", &v), "1");
        assert_eq!(r("{{len .RepoTags}}", &v), "2");
        assert_eq!(r("{{upper (index .RepoTags 0)}}", &v), "A:1");
        assert_eq!(r("{{.Config.Labels}}", &v), "map[x:1]");
        let mounts = serde_json::json!({"Mounts": [{"Type": "volume", "Name": "n", "Mode": "", "RW": true}]});
        assert_eq!(r("{{.Mounts}}", &mounts), "[{volume n  true}]");
        assert_eq!(
            r("id={{.Id}} size={{.Size}}\n", &v),
            "id=sha256:abc size=4261550\n"
        );
        assert_eq!(
            r("{{printf \"%s-%d\" .Id .Size}}", &v),
            "sha256:abc-4261550"
        );
    }

    #[test]
    fn control_flow() {
        let v = json!({"Tags": ["a", "b"], "Empty": [], "Yes": true, "Obj": {"K": "v"}});
        assert_eq!(r("{{range .Tags}}<{{.}}>{{end}}", &v), "<a><b>");
        assert_eq!(r("{{range .Empty}}x{{else}}none{{end}}", &v), "none");
        assert_eq!(r("{{if .Yes}}y{{else}}n{{end}}", &v), "y");
        assert_eq!(r("{{if .Empty}}y{{else}}n{{end}}", &v), "n");
        assert_eq!(r("{{with .Obj}}{{.K}}{{end}}", &v), "v");
        assert_eq!(r("{{if eq .Obj.K \"v\"}}same{{end}}", &v), "same");
        assert_eq!(r("a  {{- .Obj.K -}}  b", &v), "avb");
        assert_eq!(r("{{range .Tags}}{{.}}\n{{end}}", &v), "a\nb\n");
        let t = "{{if eq .Obj.K \"x\"}}1{{else if eq .Obj.K \"v\"}}2{{else}}3{{end}}";
        assert_eq!(r(t, &v), "2");
    }

    #[test]
    fn errors_are_reported() {
        assert!(Template::parse("{{.Id").is_err());
        assert!(Template::parse("{{if .X}}").is_err());
        assert!(Template::parse("{{end}}").is_err());
        assert!(render("{{nofunc .X}}", &json!({})).is_err());
        assert!(render("{{.A.B}}", &json!({"A": "s"})).is_err());
    }
}
