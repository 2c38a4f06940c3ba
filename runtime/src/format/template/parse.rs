//! The parser of Go's `text/template` (`text/template/parse/parse.go`): actions, pipelines
//! with declarations, commands, operands and field chains, `if`/`range`/`with` (with `else`,
//! `else if`, `else with`), `define`/`template`/`block`, `break`/`continue`. As in Go,
//! unknown functions and undefined variables are parse errors.

use std::collections::HashMap;
use std::fmt;

use super::lex::{Item, Tok};
use super::TemplateError;

#[derive(Debug, Clone)]
pub enum Node {
    Text(String),
    Action(Pipe),
    If(Box<Branch>),
    With(Box<Branch>),
    Range(Box<Branch>),
    Template {
        pos: usize,
        name: String,
        pipe: Option<Pipe>,
    },
    Break,
    Continue,
}

#[derive(Debug, Clone)]
pub struct Branch {
    pub pipe: Pipe,
    pub list: Vec<Node>,
    pub else_list: Option<Vec<Node>>,
}

#[derive(Debug, Clone)]
pub struct Pipe {
    pub pos: usize,
    pub decl: Vec<String>,
    pub is_assign: bool,
    pub cmds: Vec<Cmd>,
}

#[derive(Debug, Clone)]
pub struct Cmd {
    pub args: Vec<Arg>,
}

#[derive(Debug, Clone)]
pub enum Num {
    Int(i64),
    Float(f64),
}

#[derive(Debug, Clone)]
pub enum Arg {
    Dot(usize),
    Nil(usize),
    Bool(bool),
    Num(Num, String),
    Str(String),
    /// `.A.B`
    Field(usize, Vec<String>),
    /// `$x.A.B` (name includes the `$`).
    Var(usize, String, Vec<String>),
    /// A function's name.
    Ident(usize, String),
    /// `(pipeline).A.B`
    Chain(usize, Box<Arg>, Vec<String>),
    Pipe(Box<Pipe>),
}

impl Arg {
    pub fn pos(&self) -> usize {
        match self {
            Arg::Dot(p) | Arg::Nil(p) | Arg::Field(p, _) | Arg::Var(p, ..) | Arg::Ident(p, _) => *p,
            Arg::Chain(p, ..) => *p,
            Arg::Pipe(p) => p.pos,
            _ => 0,
        }
    }
}

impl fmt::Display for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arg::Dot(_) => write!(f, "."),
            Arg::Nil(_) => write!(f, "nil"),
            Arg::Bool(b) => write!(f, "{b}"),
            Arg::Num(_, text) => write!(f, "{text}"),
            Arg::Str(s) => write!(f, "{}", super::funcs::go_quote(s)),
            Arg::Field(_, idents) => {
                for i in idents {
                    write!(f, ".{i}")?;
                }
                Ok(())
            }
            Arg::Var(_, name, idents) => {
                write!(f, "{name}")?;
                for i in idents {
                    write!(f, ".{i}")?;
                }
                Ok(())
            }
            Arg::Ident(_, name) => write!(f, "{name}"),
            Arg::Chain(_, node, idents) => {
                match node.as_ref() {
                    Arg::Pipe(p) => write!(f, "({p})")?,
                    other => write!(f, "{other}")?,
                }
                for i in idents {
                    write!(f, ".{i}")?;
                }
                Ok(())
            }
            Arg::Pipe(p) => write!(f, "({p})"),
        }
    }
}

impl fmt::Display for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                write!(f, " ")?;
            }
            write!(f, "{a}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Pipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.decl.is_empty() {
            write!(f, "{}", self.decl.join(", "))?;
            write!(f, "{}", if self.is_assign { " = " } else { " := " })?;
        }
        for (i, c) in self.cmds.iter().enumerate() {
            if i > 0 {
                write!(f, " | ")?;
            }
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

/// A parsed template set: the main list and the `define`d ones.
#[derive(Debug, Clone, Default)]
pub struct Tree {
    pub root: Vec<Node>,
    pub defines: HashMap<String, Vec<Node>>,
}

enum Terminator {
    Eof,
    End,
    Else,
    ElseIf(usize),
    ElseWith(usize),
}

struct Parser<'a> {
    src: &'a str,
    items: Vec<Item>,
    i: usize,
    vars: Vec<String>,
    range_depth: usize,
    defines: HashMap<String, Vec<Node>>,
    is_func: &'a dyn Fn(&str) -> bool,
}

pub fn parse(src: &str, is_func: &dyn Fn(&str) -> bool) -> Result<Tree, TemplateError> {
    let items = super::lex::lex(src)?;
    let mut p = Parser {
        src,
        items,
        i: 0,
        vars: vec!["$".into()],
        range_depth: 0,
        defines: HashMap::new(),
        is_func,
    };
    let (root, end) = p.list(true)?;
    match end {
        Terminator::Eof => {}
        Terminator::End => return Err(p.err_at_prev("unexpected {{end}}")),
        _ => return Err(p.err_at_prev("unexpected {{else}}")),
    }
    Ok(Tree {
        root,
        defines: p.defines,
    })
}

impl<'a> Parser<'a> {
    fn err(&self, pos: usize, msg: &str) -> TemplateError {
        TemplateError::parse(self.src, pos, msg)
    }

    fn err_at_prev(&self, msg: &str) -> TemplateError {
        let pos = self
            .items
            .get(self.i.saturating_sub(1))
            .map(|t| t.pos)
            .unwrap_or(self.src.len());
        self.err(pos, msg)
    }

    fn peek(&self) -> Option<&Tok> {
        self.items.get(self.i).map(|t| &t.tok)
    }

    fn pos(&self) -> usize {
        self.items
            .get(self.i)
            .map(|t| t.pos)
            .unwrap_or(self.src.len())
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.items.get(self.i).map(|t| t.tok.clone());
        self.i += 1;
        t
    }

    fn skip_space(&mut self) {
        while self.peek() == Some(&Tok::Space) {
            self.i += 1;
        }
    }

    fn next_non_space(&mut self) -> Option<Tok> {
        self.skip_space();
        self.next()
    }

    fn expect_right(&mut self, context: &str) -> Result<(), TemplateError> {
        match self.next_non_space() {
            Some(Tok::Right) => Ok(()),
            Some(t) => Err(self.err_at_prev(&format!("unexpected {} in {context}", tok_text(&t)))),
            None => Err(self.err(self.src.len(), "unexpected EOF")),
        }
    }

    /// Nodes until EOF or a terminating action (`end`, `else ...`).
    fn list(&mut self, top: bool) -> Result<(Vec<Node>, Terminator), TemplateError> {
        let mut nodes = Vec::new();
        loop {
            let Some(tok) = self.next() else {
                return Ok((nodes, Terminator::Eof));
            };
            match tok {
                Tok::Text(t) => nodes.push(Node::Text(t)),
                Tok::Comment => {}
                Tok::Left => {
                    self.skip_space();
                    let kw_pos = self.pos();
                    let kw = match self.peek() {
                        Some(Tok::Ident(k)) => k.clone(),
                        _ => String::new(),
                    };
                    match kw.as_str() {
                        "end" => {
                            self.i += 1;
                            self.expect_right("end")?;
                            return Ok((nodes, Terminator::End));
                        }
                        "else" => {
                            self.i += 1;
                            self.skip_space();
                            match self.peek() {
                                Some(Tok::Ident(k)) if k == "if" => {
                                    self.i += 1;
                                    return Ok((nodes, Terminator::ElseIf(kw_pos)));
                                }
                                Some(Tok::Ident(k)) if k == "with" => {
                                    self.i += 1;
                                    return Ok((nodes, Terminator::ElseWith(kw_pos)));
                                }
                                _ => {
                                    self.expect_right("else")?;
                                    return Ok((nodes, Terminator::Else));
                                }
                            }
                        }
                        "if" | "with" | "range" => {
                            self.i += 1;
                            nodes.push(self.control(&kw, kw_pos)?);
                        }
                        "break" | "continue" => {
                            self.i += 1;
                            if self.range_depth == 0 {
                                return Err(self
                                    .err(kw_pos, &format!("{{{{{kw}}}}} outside {{{{range}}}}")));
                            }
                            self.expect_right(&kw)?;
                            nodes.push(if kw == "break" {
                                Node::Break
                            } else {
                                Node::Continue
                            });
                        }
                        "template" => {
                            self.i += 1;
                            nodes.push(self.template_call(kw_pos)?);
                        }
                        "define" | "block" => {
                            self.i += 1;
                            if kw == "define" && !top {
                                return Err(self.err(kw_pos, "unexpected <define> in command"));
                            }
                            let name = match self.next_non_space() {
                                Some(Tok::Str(s)) => s,
                                _ => {
                                    return Err(self
                                        .err_at_prev(&format!("unexpected token in {kw} clause")))
                                }
                            };
                            let pipe = if kw == "block" {
                                Some(self.pipeline("block", false)?)
                            } else {
                                self.expect_right("define clause")?;
                                None
                            };
                            let saved = std::mem::replace(&mut self.vars, vec!["$".into()]);
                            let depth = std::mem::take(&mut self.range_depth);
                            let (body, end) = self.list(false)?;
                            self.vars = saved;
                            self.range_depth = depth;
                            if !matches!(end, Terminator::End) {
                                return Err(self.err(self.pos(), "unexpected EOF"));
                            }
                            self.defines.insert(name.clone(), body);
                            if let Some(pipe) = pipe {
                                nodes.push(Node::Template {
                                    pos: kw_pos,
                                    name,
                                    pipe: Some(pipe),
                                });
                            }
                        }
                        _ => {
                            let pipe = self.pipeline("command", false)?;
                            nodes.push(Node::Action(pipe));
                        }
                    }
                }
                other => return Err(self.err_at_prev(&format!("unexpected {}", tok_text(&other)))),
            }
        }
    }

    fn template_call(&mut self, pos: usize) -> Result<Node, TemplateError> {
        let name = match self.next_non_space() {
            Some(Tok::Str(s)) => s,
            _ => return Err(self.err_at_prev("unexpected token in template clause")),
        };
        self.skip_space();
        let pipe = if self.peek() == Some(&Tok::Right) {
            self.i += 1;
            None
        } else {
            Some(self.pipeline("template clause", false)?)
        };
        Ok(Node::Template { pos, name, pipe })
    }

    /// `if` / `with` / `range` after the keyword, through the matching `end`.
    fn control(&mut self, kw: &str, kw_pos: usize) -> Result<Node, TemplateError> {
        let vars_len = self.vars.len();
        let pipe = self.pipeline(kw, kw == "range")?;
        if pipe.cmds.is_empty() {
            return Err(self.err(kw_pos, &format!("missing value for {kw}")));
        }
        if kw == "range" {
            self.range_depth += 1;
        }
        let (list, end) = self.list(false)?;
        if kw == "range" {
            self.range_depth -= 1;
        }
        let else_list = match end {
            Terminator::End => None,
            Terminator::Else => {
                let (alt, end) = self.list(false)?;
                if !matches!(end, Terminator::End) {
                    return Err(self.err(self.pos(), "expected end; found {{else}} or EOF"));
                }
                Some(alt)
            }
            Terminator::ElseIf(p) | Terminator::ElseWith(p) if kw != "range" => {
                let nested_kw = if matches!(end, Terminator::ElseIf(_)) {
                    "if"
                } else {
                    "with"
                };
                // `{{else if X}}...{{end}}` is `{{else}}{{if X}}...{{end}}{{end}}` with one end.
                Some(vec![self.control(nested_kw, p)?])
            }
            Terminator::ElseIf(p) | Terminator::ElseWith(p) => {
                return Err(self.err(p, "unexpected {{else if}} in range"))
            }
            Terminator::Eof => return Err(self.err(self.src.len(), "unexpected EOF")),
        };
        self.vars.truncate(vars_len);
        let branch = Box::new(Branch {
            pipe,
            list,
            else_list,
        });
        Ok(match kw {
            "if" => Node::If(branch),
            "with" => Node::With(branch),
            _ => Node::Range(branch),
        })
    }

    /// A pipeline through the closing `}}` (or `)` when `context` is "parenthesized").
    fn pipeline(&mut self, context: &str, multi_decl: bool) -> Result<Pipe, TemplateError> {
        self.skip_space();
        let pos = self.pos();
        let mut decl = Vec::new();
        let mut is_assign = false;
        // A declaration: `$x :=`, `$x =`, or (range) `$i, $v :=`.
        let save = self.i;
        if let Some(Tok::Var(v)) = self.peek().cloned() {
            self.i += 1;
            self.skip_space();
            match self.peek() {
                Some(Tok::Declare) | Some(Tok::Assign) => {
                    is_assign = self.peek() == Some(&Tok::Assign);
                    self.i += 1;
                    decl.push(v);
                }
                Some(Tok::Comma) if multi_decl => {
                    self.i += 1;
                    self.skip_space();
                    if let Some(Tok::Var(v2)) = self.peek().cloned() {
                        self.i += 1;
                        self.skip_space();
                        match self.peek() {
                            Some(Tok::Declare) | Some(Tok::Assign) => {
                                is_assign = self.peek() == Some(&Tok::Assign);
                                self.i += 1;
                                decl.push(v);
                                decl.push(v2);
                            }
                            _ => {
                                return Err(
                                    self.err(self.pos(), "range can only initialize variables")
                                )
                            }
                        }
                    } else {
                        return Err(self.err(self.pos(), "range can only initialize variables"));
                    }
                }
                Some(Tok::Comma) => {
                    return Err(self.err(self.pos(), &format!("too many declarations in {context}")))
                }
                _ => self.i = save,
            }
        }
        if is_assign {
            for v in &decl {
                if !self.vars.contains(v) {
                    return Err(self.err(pos, &format!("undefined variable {v:?}")));
                }
            }
        }
        let mut cmds = Vec::new();
        loop {
            self.skip_space();
            match self.peek() {
                Some(Tok::Right) if context != "parenthesized pipeline" => {
                    self.i += 1;
                    break;
                }
                Some(Tok::Close) if context == "parenthesized pipeline" => {
                    self.i += 1;
                    break;
                }
                None => return Err(self.err(self.src.len(), "unclosed action")),
                _ => {}
            }
            let cmd = self.command()?;
            cmds.push(cmd);
            self.skip_space();
            if self.peek() == Some(&Tok::Pipe) {
                self.i += 1;
                self.skip_space();
                if matches!(self.peek(), Some(Tok::Right) | Some(Tok::Close)) {
                    return Err(self.err(self.pos(), "missing command"));
                }
            }
        }
        if !is_assign {
            self.vars.extend(decl.iter().cloned());
        }
        if cmds.is_empty() && context != "if" && context != "with" && context != "range" {
            return Err(self.err(pos, &format!("missing value for {context}")));
        }
        Ok(Pipe {
            pos,
            decl,
            is_assign,
            cmds,
        })
    }

    fn command(&mut self) -> Result<Cmd, TemplateError> {
        let mut args = Vec::new();
        loop {
            self.skip_space();
            match self.peek() {
                None => return Err(self.err(self.src.len(), "unclosed action")),
                Some(Tok::Right) | Some(Tok::Close) | Some(Tok::Pipe) => break,
                _ => {}
            }
            let operand = self.operand()?;
            args.push(operand);
            match self.peek() {
                Some(Tok::Space) | Some(Tok::Right) | Some(Tok::Close) | Some(Tok::Pipe) => {}
                Some(t) => {
                    let t = t.clone();
                    return Err(self.err(
                        self.pos(),
                        &format!("unexpected {} in operand", tok_text(&t)),
                    ));
                }
                None => return Err(self.err(self.src.len(), "unclosed action")),
            }
        }
        if args.is_empty() {
            return Err(self.err(self.pos(), "empty command"));
        }
        Ok(Cmd { args })
    }

    fn operand(&mut self) -> Result<Arg, TemplateError> {
        let pos = self.pos();
        let tok = self.next().expect("checked by the caller");
        let term = match tok {
            Tok::Dot => Arg::Dot(pos),
            Tok::Field(f) => {
                // Go places a chain `.A.B` at its second field.
                let mut idents = vec![f];
                let mut chain_pos = pos;
                while let Some(Tok::Field(g)) = self.peek().cloned() {
                    if idents.len() == 1 {
                        chain_pos = self.pos();
                    }
                    self.i += 1;
                    idents.push(g);
                }
                return Ok(Arg::Field(chain_pos, idents));
            }
            Tok::Var(v) => {
                if !self.vars.contains(&v) {
                    return Err(self.err(pos, &format!("undefined variable {v:?}")));
                }
                let mut idents = Vec::new();
                let mut chain_pos = pos;
                while let Some(Tok::Field(g)) = self.peek().cloned() {
                    if idents.is_empty() {
                        chain_pos = self.pos();
                    }
                    self.i += 1;
                    idents.push(g);
                }
                return Ok(Arg::Var(chain_pos, v, idents));
            }
            Tok::Ident(id) => match id.as_str() {
                "true" => Arg::Bool(true),
                "false" => Arg::Bool(false),
                "nil" => Arg::Nil(pos),
                "if" | "else" | "end" | "range" | "with" | "define" | "template" | "block"
                | "break" | "continue" => {
                    return Err(self.err(pos, &format!("unexpected <{id}> in command")))
                }
                _ => {
                    if !(self.is_func)(&id) {
                        return Err(self.err(pos, &format!("function {id:?} not defined")));
                    }
                    Arg::Ident(pos, id)
                }
            },
            Tok::Str(s) => Arg::Str(s),
            Tok::Char(c) => Arg::Num(Num::Int(c as i64), format!("{c:?}")),
            Tok::Num(text) => Arg::Num(
                parse_number(&text)
                    .ok_or_else(|| self.err(pos, &format!("bad number syntax: {text:?}")))?,
                text,
            ),
            Tok::Open => {
                let p = self.pipeline("parenthesized pipeline", false)?;
                Arg::Pipe(Box::new(p))
            }
            other => {
                return Err(self.err(pos, &format!("unexpected {} in operand", tok_text(&other))))
            }
        };
        let mut idents = Vec::new();
        let mut pos = pos;
        while let Some(Tok::Field(g)) = self.peek().cloned() {
            if idents.is_empty() {
                pos = self.pos();
            }
            self.i += 1;
            idents.push(g);
        }
        if idents.is_empty() {
            return Ok(term);
        }
        match term {
            Arg::Dot(_) | Arg::Nil(_) | Arg::Bool(_) | Arg::Num(..) | Arg::Str(_) => Err(self.err(
                pos,
                &format!("unexpected . after term {:?}", term.to_string()),
            )),
            t => Ok(Arg::Chain(pos, Box::new(t), idents)),
        }
    }
}

fn parse_number(text: &str) -> Option<Num> {
    let clean = text.replace('_', "");
    let (neg, body) = match clean.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, clean.strip_prefix('+').unwrap_or(&clean)),
    };
    let int = if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        i64::from_str_radix(h, 16).ok()
    } else if let Some(o) = body.strip_prefix("0o").or_else(|| body.strip_prefix("0O")) {
        i64::from_str_radix(o, 8).ok()
    } else if body.len() > 1 && body.starts_with('0') && body.bytes().all(|b| b.is_ascii_digit()) {
        i64::from_str_radix(&body[1..], 8).ok()
    } else {
        body.parse::<i64>().ok()
    };
    if let Some(i) = int {
        return Some(Num::Int(if neg { -i } else { i }));
    }
    let f: f64 = body.parse().ok()?;
    // Go's constants: a float literal with an integral value is still usable as an int.
    Some(Num::Float(if neg { -f } else { f }))
}

fn tok_text(t: &Tok) -> String {
    match t {
        Tok::Text(s) => format!("{s:?}"),
        Tok::Left => "\"{{\"".into(),
        Tok::Right => "\"}}\"".into(),
        Tok::Comment => "comment".into(),
        Tok::Space => "space".into(),
        Tok::Dot => "<.>".into(),
        Tok::Field(f) => format!("<.{f}>"),
        Tok::Var(v) => format!("<{v}>"),
        Tok::Ident(i) => format!("<{i}>"),
        Tok::Str(s) => format!("{s:?}"),
        Tok::Num(n) => format!("<{n}>"),
        Tok::Char(c) => format!("{c:?}"),
        Tok::Pipe => "\"|\"".into(),
        Tok::Open => "\"(\"".into(),
        Tok::Close => "\")\"".into(),
        Tok::Comma => "\",\"".into(),
        Tok::Declare => "\":=\"".into(),
        Tok::Assign => "\"=\"".into(),
    }
}
