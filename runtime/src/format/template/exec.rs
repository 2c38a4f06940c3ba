//! Executing a parsed template (`text/template/exec.go`): dot and variables, field chains
//! and methods, pipelines, `if`/`with`/`range` with `break`/`continue`, `template` calls,
//! `and`/`or` evaluated lazily. Errors name the place as Go does:
//! `template: :1:2: executing "" at <.Nope>: ...`.

use serde_json::Value;

use super::funcs::{self, print, truthy, type_name};
use super::parse::{Arg, Cmd, Node, Num, Pipe, Tree};
use super::{TemplateError, V};

/// Go's limit on nested template calls.
const MAX_DEPTH: usize = 10000;

pub struct State<'t> {
    pub tree: &'t Tree,
    pub src: &'t str,
    pub name: String,
    pub vars: Vec<(String, V)>,
    pub out: String,
    pub depth: usize,
    /// Docker's header functions: json/split/join/title/lower/upper/truncate return their
    /// first argument (a table's header is the template run on the column titles).
    pub header: bool,
    /// `inspect -f`: a field missing from one of Docker's structs is an error (the CLI's
    /// fallback to the raw JSON runs with `missingkey=error`).
    pub missing_key_error: bool,
}

enum Flow {
    Normal,
    Break,
    Continue,
}

type R<T> = Result<T, TemplateError>;

impl<'t> State<'t> {
    fn err(&self, pos: usize, context: &str, msg: &str) -> TemplateError {
        let context = if context.chars().count() > 20 {
            format!("{}...", context.chars().take(20).collect::<String>())
        } else {
            context.to_string()
        };
        TemplateError::exec(self.src, pos, &self.name, &context, msg)
    }

    pub fn walk_root(&mut self, dot: &V) -> R<()> {
        let tree = self.tree;
        self.walk(&tree.root, dot).map(|_| ())
    }

    fn walk(&mut self, nodes: &[Node], dot: &V) -> R<Flow> {
        for node in nodes {
            match node {
                Node::Text(t) => self.out.push_str(t),
                Node::Action(pipe) => {
                    let v = self.pipeline(dot, pipe)?;
                    if pipe.decl.is_empty() {
                        self.out.push_str(&print(&v));
                    }
                }
                Node::If(b) | Node::With(b) => {
                    let mark = self.vars.len();
                    let v = self.pipeline(dot, &b.pipe)?;
                    let flow = if truthy(&v) {
                        let d = if matches!(node, Node::With(_)) {
                            v
                        } else {
                            dot.clone()
                        };
                        self.walk(&b.list, &d)?
                    } else if let Some(alt) = &b.else_list {
                        self.walk(alt, dot)?
                    } else {
                        Flow::Normal
                    };
                    self.vars.truncate(mark);
                    if !matches!(flow, Flow::Normal) {
                        return Ok(flow);
                    }
                }
                Node::Range(b) => {
                    let mark = self.vars.len();
                    let v = self.pipeline_value(dot, &b.pipe)?;
                    if !b.pipe.is_assign {
                        for d in &b.pipe.decl {
                            self.vars.push((d.clone(), v.clone()));
                        }
                    }
                    let items: Vec<(V, V)> = match &v {
                        V::J(Value::Array(a)) => a
                            .iter()
                            .enumerate()
                            .map(|(i, x)| (V::J(Value::from(i)), V::J(x.clone())))
                            .collect(),
                        V::J(Value::Object(m)) if !funcs::is_struct(m) || m.is_empty() => {
                            let mut keys: Vec<&String> = m.keys().collect();
                            keys.sort();
                            keys.into_iter()
                                .map(|k| (V::J(Value::String(k.clone())), V::J(m[k].clone())))
                                .collect()
                        }
                        V::J(Value::Number(n)) if n.as_i64().is_some() => {
                            (0..n.as_i64().expect("checked"))
                                .map(|i| (V::J(Value::from(i)), V::J(Value::from(i))))
                                .collect()
                        }
                        V::Missing | V::Nil | V::J(Value::Null) => Vec::new(),
                        other => {
                            return Err(self.err(
                                b.pipe.pos,
                                &b.pipe.to_string(),
                                &format!("range can't iterate over {}", print(other)),
                            ))
                        }
                    };
                    if items.is_empty() {
                        if let Some(alt) = &b.else_list {
                            let flow = self.walk(alt, dot)?;
                            self.vars.truncate(mark);
                            if !matches!(flow, Flow::Normal) {
                                return Ok(flow);
                            }
                            continue;
                        }
                    }
                    for (key, elem) in items {
                        let n = b.pipe.decl.len();
                        match n {
                            1 => self.set_var(&b.pipe.decl[0], elem.clone()),
                            2 => {
                                self.set_var(&b.pipe.decl[0], key);
                                self.set_var(&b.pipe.decl[1], elem.clone());
                            }
                            _ => {}
                        }
                        let inner = self.vars.len();
                        let flow = self.walk(&b.list, &elem)?;
                        self.vars.truncate(inner);
                        if matches!(flow, Flow::Break) {
                            break;
                        }
                    }
                    self.vars.truncate(mark);
                }
                Node::Template { pos, name, pipe } => {
                    let tree = self.tree;
                    let Some(body) = tree.defines.get(name) else {
                        return Err(self.err(
                            *pos,
                            &format!("{{{{template {}}}}}", funcs::go_quote(name)),
                            &format!("template {:?} not defined", name),
                        ));
                    };
                    let new_dot = match pipe {
                        Some(p) => self.pipeline(dot, p)?,
                        None => V::J(Value::Null),
                    };
                    self.depth += 1;
                    if self.depth >= MAX_DEPTH {
                        return Err(self.err(
                            *pos,
                            name,
                            "exceeded maximum template depth (100000)",
                        ));
                    }
                    let saved_vars =
                        std::mem::replace(&mut self.vars, vec![("$".into(), new_dot.clone())]);
                    let saved_name = std::mem::replace(&mut self.name, name.clone());
                    self.walk(body, &new_dot)?;
                    self.vars = saved_vars;
                    self.name = saved_name;
                    self.depth -= 1;
                }
                Node::Break => return Ok(Flow::Break),
                Node::Continue => return Ok(Flow::Continue),
            }
        }
        Ok(Flow::Normal)
    }

    /// Sets a range's variable: the one its pipeline declared (`:=`) or an outer one (`=`).
    fn set_var(&mut self, name: &str, v: V) {
        if let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| n == name) {
            slot.1 = v;
        }
    }

    /// A range's pipeline: its value, declarations left to the loop.
    fn pipeline_value(&mut self, dot: &V, pipe: &Pipe) -> R<V> {
        let mut value: Option<V> = None;
        for cmd in &pipe.cmds {
            value = Some(self.command(dot, cmd, value)?);
        }
        Ok(value.unwrap_or(V::Missing))
    }

    fn pipeline(&mut self, dot: &V, pipe: &Pipe) -> R<V> {
        let value = self.pipeline_value(dot, pipe)?;
        for d in &pipe.decl {
            if pipe.is_assign {
                if let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| n == d) {
                    slot.1 = value.clone();
                }
            } else {
                self.vars.push((d.clone(), value.clone()));
            }
        }
        Ok(value)
    }

    fn not_a_function(&self, cmd: &Cmd, fin: &Option<V>) -> R<()> {
        if cmd.args.len() > 1 || fin.is_some() {
            let a = &cmd.args[0];
            return Err(self.err(
                a.pos(),
                &cmd.to_string(),
                &format!("can't give argument to non-function {a}"),
            ));
        }
        Ok(())
    }

    fn command(&mut self, dot: &V, cmd: &Cmd, fin: Option<V>) -> R<V> {
        let first = &cmd.args[0];
        match first {
            Arg::Field(pos, idents) => self.field_chain(dot, dot.clone(), *pos, idents, cmd, fin),
            Arg::Chain(pos, node, idents) => {
                // Go refuses arguments to a chain's intermediate value, not to its last field.
                let base = self.arg(dot, node)?;
                self.field_chain(dot, base, *pos, idents, cmd, fin)
            }
            Arg::Ident(pos, name) => self.function(dot, *pos, name, cmd, fin),
            Arg::Pipe(p) => {
                self.not_a_function(cmd, &fin)?;
                let mark = self.vars.len();
                let v = self.pipeline(dot, p)?;
                self.vars.truncate(mark);
                Ok(v)
            }
            Arg::Var(pos, name, idents) => {
                let v = self.var(name);
                if idents.is_empty() {
                    self.not_a_function(cmd, &fin)?;
                    return Ok(v);
                }
                self.field_chain(dot, v, *pos, idents, cmd, fin)
            }
            Arg::Nil(pos) => Err(self.err(*pos, "nil", "nil is not a command")),
            other => {
                self.not_a_function(cmd, &fin)?;
                self.arg(dot, other)
            }
        }
    }

    fn var(&self, name: &str) -> V {
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or(V::Missing)
    }

    /// An argument's value.
    fn arg(&mut self, dot: &V, arg: &Arg) -> R<V> {
        Ok(match arg {
            Arg::Dot(_) => dot.clone(),
            Arg::Nil(_) => V::J(Value::Null),
            Arg::Bool(b) => V::J(Value::Bool(*b)),
            Arg::Num(Num::Int(i), _) => V::J(Value::from(*i)),
            Arg::Num(Num::Float(f), _) => V::J(
                serde_json::Number::from_f64(*f)
                    .map(Value::Number)
                    .unwrap_or(Value::Null),
            ),
            Arg::Str(s) => V::J(Value::String(s.clone())),
            Arg::Field(pos, idents) => {
                let cmd = Cmd {
                    args: vec![arg.clone()],
                };
                self.field_chain(dot, dot.clone(), *pos, idents, &cmd, None)?
            }
            Arg::Var(pos, name, idents) => {
                let v = self.var(name);
                if idents.is_empty() {
                    v
                } else {
                    let cmd = Cmd {
                        args: vec![arg.clone()],
                    };
                    self.field_chain(dot, v, *pos, idents, &cmd, None)?
                }
            }
            Arg::Chain(pos, node, idents) => {
                let base = self.arg(dot, node)?;
                let cmd = Cmd {
                    args: vec![arg.clone()],
                };
                self.field_chain(dot, base, *pos, idents, &cmd, None)?
            }
            Arg::Ident(pos, name) => {
                let cmd = Cmd {
                    args: vec![arg.clone()],
                };
                self.function(dot, *pos, name, &cmd, None)?
            }
            Arg::Pipe(p) => {
                let mark = self.vars.len();
                let v = self.pipeline(dot, p)?;
                self.vars.truncate(mark);
                v
            }
        })
    }

    /// `.A.B.C` on `receiver`: the last one gets the command's other arguments (a method).
    fn field_chain(
        &mut self,
        dot: &V,
        mut receiver: V,
        pos: usize,
        idents: &[String],
        cmd: &Cmd,
        fin: Option<V>,
    ) -> R<V> {
        let context = cmd.args[0].to_string();
        let n = idents.len();
        for ident in &idents[..n - 1] {
            receiver = self.field(dot, receiver, pos, &context, ident, &[], None)?;
        }
        self.field(
            dot,
            receiver,
            pos,
            &context,
            &idents[n - 1],
            &cmd.args[1..],
            fin,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn field(
        &mut self,
        dot: &V,
        receiver: V,
        pos: usize,
        context: &str,
        name: &str,
        args: &[Arg],
        fin: Option<V>,
    ) -> R<V> {
        let has_args = !args.is_empty() || fin.is_some();
        match &receiver {
            V::Row(row) => {
                if let Some(method) = row.methods.iter().find(|m| m.0 == name) {
                    let mut vals = Vec::new();
                    for a in args {
                        vals.push(self.arg(dot, a)?);
                    }
                    if let Some(f) = fin {
                        vals.push(f);
                    }
                    return (method.1)(row, &vals).map_err(|e| self.err(pos, context, &e));
                }
                match row.fields.get(name) {
                    Some(Value::Null) if !has_args => Ok(V::Nil),
                    Some(v) if !has_args => Ok(V::J(v.clone())),
                    Some(_) => Err(self.err(
                        pos,
                        context,
                        &format!(
                            "wrong number of args for {name}: want 0 got {}",
                            args.len() + usize::from(fin.is_some())
                        ),
                    )),
                    None if !row.strict => Ok(V::Missing),
                    None => Err(self.err(
                        pos,
                        context,
                        &format!("can't evaluate field {name} in type {}", row.type_name),
                    )),
                }
            }
            V::J(Value::Object(m)) => {
                if has_args {
                    return Err(self.err(
                        pos,
                        context,
                        &format!("{name} is not a method but has arguments"),
                    ));
                }
                match m.get(name) {
                    Some(v) => Ok(V::J(v.clone())),
                    None if self.missing_key_error && funcs::is_struct(m) => {
                        Err(self.err(pos, context, &format!("map has no entry for key {name:?}")))
                    }
                    None => Ok(V::Missing),
                }
            }
            V::Missing | V::Nil | V::J(Value::Null) => Err(self.err(
                pos,
                context,
                &format!("nil pointer evaluating interface {{}}.{name}"),
            )),
            other => Err(self.err(
                pos,
                context,
                &format!("can't evaluate field {name} in type {}", type_name(other)),
            )),
        }
    }

    fn function(&mut self, dot: &V, pos: usize, name: &str, cmd: &Cmd, fin: Option<V>) -> R<V> {
        let context = cmd.to_string();
        let rest = &cmd.args[1..];
        if name == "and" || name == "or" {
            if rest.is_empty() && fin.is_none() {
                return Err(self.err(
                    pos,
                    &context,
                    &format!("wrong number of args for {name}: want at least 1 got 0"),
                ));
            }
            let mut last = V::Missing;
            for a in rest {
                last = self.arg(dot, a)?;
                if truthy(&last) == (name == "or") {
                    return Ok(last);
                }
            }
            if let Some(f) = fin {
                last = f;
            }
            return Ok(last);
        }
        let mut vals = Vec::with_capacity(rest.len() + 1);
        for a in rest {
            vals.push(self.arg(dot, a)?);
        }
        if let Some(f) = fin {
            vals.push(f);
        }
        if self.header
            && matches!(
                name,
                "json" | "split" | "join" | "title" | "lower" | "upper" | "truncate"
            )
        {
            return Ok(vals.into_iter().next().unwrap_or(V::Missing));
        }
        funcs::call(name, &vals).map_err(|e| {
            let msg = if e.starts_with("wrong number of args")
                || e.starts_with("wrong type for value")
                || e.starts_with("invalid value;")
            {
                e
            } else {
                format!("error calling {name}: {e}")
            };
            self.err(pos, &context, &msg)
        })
    }
}
