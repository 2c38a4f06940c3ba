//! Go's `text/template`, as the docker CLI runs it for every `--format` / `-f`: the whole
//! language (actions with trim markers and comments, variables with `:=` and `=`, `range
//! $i, $v :=` with `else`, `break`, `continue`, `if`/`else if`, `with`/`else with`,
//! pipelines, parenthesised calls, field chains, methods with arguments such as `.Label
//! "k"`, `define`/`template`/`block`) with Go's builtins and the docker CLI's functions.
//!
//! Data is JSON (what `inspect` shows, decoded as Docker's Go types would print: structs as
//! `{a b}` in field order, maps as `map[k:v]` sorted, nil slices as `[]`) or a [`Row`]: one of
//! the docker CLI's formatter contexts (`cli/command/formatter`), whose fields are its
//! methods' values and which errors on an unknown field as Go does on a struct.
//!
//! Errors read like Go's: `template: :1: function "nope" not defined` when parsing,
//! `template: :1:2: executing "" at <.Nope>: can't evaluate field Nope in type ...` when
//! running.
//!
//! (No maintained Rust crate implements text/template closely enough: gtmpl, the closest,
//! has no methods with arguments, ranges over maps unsorted and runs `range`'s `else` even
//! after iterations, and loses struct field order.)

mod exec;
mod funcs;
mod lex;
mod parse;

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

pub use funcs::{go_float, go_quote};

/// A parse or execution error, worded as Go's.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateError(pub String);

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TemplateError {}

impl From<TemplateError> for String {
    fn from(e: TemplateError) -> String {
        e.0
    }
}

fn line_col(src: &str, pos: usize) -> (usize, usize) {
    let pos = pos.min(src.len());
    let before = &src[..pos];
    let line = 1 + before.matches('\n').count();
    let col = match before.rfind('\n') {
        Some(nl) => pos - nl - 1,
        None => pos,
    };
    (line, col)
}

impl TemplateError {
    fn parse(src: &str, pos: usize, msg: &str) -> TemplateError {
        let (line, _) = line_col(src, pos);
        TemplateError(format!("template: :{line}: {msg}"))
    }

    fn exec(src: &str, pos: usize, name: &str, context: &str, msg: &str) -> TemplateError {
        let (line, col) = line_col(src, pos);
        TemplateError(format!(
            "template: :{line}:{col}: executing {name:?} at <{context}>: {msg}"
        ))
    }
}

/// A value during execution: Go's invalid value (a missing map key, printed `<no value>`),
/// decoded JSON, or a formatter context.
#[derive(Debug, Clone)]
pub enum V {
    Missing,
    /// A nil pointer returned by a context's method (`Platform`): `<nil>`, JSON `null`.
    Nil,
    J(Value),
    Row(std::rc::Rc<Row>),
}

/// A method of a formatter context taking arguments (`Label`).
pub type Method = fn(&Row, &[V]) -> Result<V, String>;

/// One of the docker CLI's formatter contexts: `fields` are its argument-less methods
/// (what `{{json .}}` shows, keys sorted), `methods` those taking arguments.
#[derive(Debug, Clone)]
pub struct Row {
    /// Go's name of the context's type, for errors (`*formatter.ContainerContext`).
    pub type_name: String,
    pub fields: Map<String, Value>,
    pub labels: BTreeMap<String, String>,
    pub methods: Vec<(&'static str, Method)>,
    /// A struct errs on an unknown field; a map (a table's header) gives `<no value>`.
    pub strict: bool,
}

impl Row {
    pub fn new(type_name: &str, fields: Map<String, Value>) -> Row {
        Row {
            type_name: type_name.to_string(),
            fields,
            labels: BTreeMap::new(),
            methods: Vec::new(),
            strict: true,
        }
    }

    /// Adds Docker's `Label NAME` method over `labels` (the value, or "" when absent).
    pub fn with_labels(mut self, labels: BTreeMap<String, String>) -> Row {
        self.labels = labels;
        self.methods.push(("Label", label_method));
        self
    }
}

fn label_method(row: &Row, args: &[V]) -> Result<V, String> {
    if args.len() != 1 {
        return Err(format!(
            "wrong number of args for Label: want 1 got {}",
            args.len()
        ));
    }
    let V::J(Value::String(name)) = &args[0] else {
        return Err(format!(
            "wrong type for value; expected string; got {}",
            funcs::type_name(&args[0])
        ));
    };
    Ok(V::J(Value::String(
        row.labels.get(name).cloned().unwrap_or_default(),
    )))
}

/// `SubHeaderContext.Label`: a label's column title is its last dotted part, `-` and `_`
/// as spaces.
fn header_label(_: &Row, args: &[V]) -> Result<V, String> {
    let name = match args {
        [V::J(Value::String(s))] => s.clone(),
        _ => {
            return Err(format!(
                "wrong number of args for Label: want 1 got {}",
                args.len()
            ))
        }
    };
    let last = name.rsplit('.').next().unwrap_or_default();
    Ok(V::J(Value::String(last.replace(['-', '_'], " "))))
}

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    src: String,
    tree: parse::Tree,
}

impl Template {
    /// Parses `src`; unknown functions and undefined variables are errors, as in Go.
    pub fn parse(src: &str) -> Result<Template, TemplateError> {
        let tree = parse::parse(src, &|name| funcs::FUNCS.contains(&name))?;
        Ok(Template {
            src: src.to_string(),
            tree,
        })
    }

    fn run(&self, dot: V, header: bool) -> (String, Result<(), TemplateError>) {
        self.run_with(dot, header, false)
    }

    fn run_with(
        &self,
        dot: V,
        header: bool,
        missing_key_error: bool,
    ) -> (String, Result<(), TemplateError>) {
        let mut state = exec::State {
            tree: &self.tree,
            src: &self.src,
            name: String::new(),
            vars: vec![("$".into(), dot.clone())],
            out: String::new(),
            depth: 0,
            header,
            missing_key_error,
        };
        let r = state.walk_root(&dot);
        (state.out, r)
    }

    /// Runs the template on JSON data.
    pub fn execute(&self, data: &Value) -> Result<String, TemplateError> {
        let (out, r) = self.run(V::J(data.clone()), false);
        r.map(|_| out)
    }

    /// Runs the template on an inspected object as `docker inspect -f` does: a key missing
    /// from one of Docker's structs is an error.
    pub fn execute_inspect(&self, data: &Value) -> Result<String, TemplateError> {
        let (out, r) = self.run_with(V::J(data.clone()), false, true);
        r.map(|_| out)
    }

    /// Runs the template on a formatter context.
    pub fn execute_row(&self, row: &Row) -> Result<String, TemplateError> {
        let (out, r) = self.run(V::Row(std::rc::Rc::new(row.clone())), false);
        r.map(|_| out)
    }

    /// A table's header: the template run on the column titles with the docker CLI's header
    /// functions; what was written before an error is kept (the CLI ignores the error).
    pub fn execute_header(&self, titles: &[(&str, &str)]) -> String {
        let map: Map<String, Value> = titles
            .iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
            .collect();
        let mut header = Row::new("formatter.SubHeaderContext", map);
        header.strict = false;
        header.methods.push(("Label", header_label));
        self.run(V::Row(std::rc::Rc::new(header)), true).0
    }
}

/// Renders `src` on `data` in one go.
pub fn render(src: &str, data: &Value) -> Result<String, TemplateError> {
    Template::parse(src)?.execute(data)
}

/// A `--format` value as the docker CLI's formatter reads it for a listing (`formatter.
/// Context`): `table ...` (rows under a header, laid out by tabwriter), `json` (`{{json .}}`
/// per row), or a template (one execution per row, each followed by a newline). `\t` and
/// `\n` typed literally become tab and newline.
#[derive(Debug, Clone)]
pub struct ListFormat {
    pub table: bool,
    pub template: Template,
}

impl ListFormat {
    /// `given` as typed; nothing or `table` mean `default` (itself a `table ...` format).
    pub fn parse(given: Option<&str>, default: &str) -> Result<ListFormat, TemplateError> {
        let format = match given {
            None | Some("") | Some("table") => default,
            Some(f) => f,
        };
        Self::from_format(format)
    }

    /// A final format (Docker's `formatter.Format`), defaults already applied.
    pub fn from_format(format: &str) -> Result<ListFormat, TemplateError> {
        let table = format.starts_with("table");
        let body = if table {
            &format["table".len()..]
        } else if format == "json" {
            "{{json .}}"
        } else {
            format
        };
        let body = body
            .trim_matches(' ')
            .replace("\\t", "\t")
            .replace("\\n", "\n");
        let template = Template::parse(&body)
            .map_err(|e| TemplateError(format!("template parsing error: {e}")))?;
        Ok(ListFormat { table, template })
    }

    /// The output for `rows` (a table under the header `titles` gives).
    pub fn render(&self, rows: &[Row], titles: &[(&str, &str)]) -> Result<String, TemplateError> {
        let mut body = String::new();
        for row in rows {
            body.push_str(
                &self
                    .template
                    .execute_row(row)
                    .map_err(|e| TemplateError(format!("template parsing error: {e}")))?,
            );
            body.push('\n');
        }
        Ok(self.finish(body, titles))
    }

    /// The output for rows that are plain JSON values.
    pub fn render_json(
        &self,
        rows: &[Value],
        titles: &[(&str, &str)],
    ) -> Result<String, TemplateError> {
        let mut body = String::new();
        for row in rows {
            body.push_str(
                &self
                    .template
                    .execute(row)
                    .map_err(|e| TemplateError(format!("template parsing error: {e}")))?,
            );
            body.push('\n');
        }
        Ok(self.finish(body, titles))
    }

    fn finish(&self, body: String, titles: &[(&str, &str)]) -> String {
        if !self.table {
            return body;
        }
        let mut text = self.template.execute_header(titles);
        text.push('\n');
        text.push_str(&body);
        super::tabwriter::docker_table(&text)
    }
}

/// The docker CLI's `inspect` output of `objects` (and the errors met, one per line, for
/// stderr): indented JSON (4 spaces) without a format, compact JSON for `json`, else the
/// template on each object, a newline after each (a lone newline when nothing printed).
/// Err: the template does not parse (the CLI exits 64).
pub fn inspect_output(
    format: Option<&str>,
    objects: &[Value],
) -> Result<(String, Vec<String>), TemplateError> {
    let mut errors = Vec::new();
    let out = match format {
        None | Some("") => {
            let mut buf = Vec::new();
            let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
            let mut ser = serde_json::Serializer::with_formatter(&mut buf, formatter);
            serde::Serialize::serialize(&objects, &mut ser).expect("JSON values serialize");
            let mut s = String::from_utf8(buf).expect("JSON is UTF-8");
            s.push('\n');
            s
        }
        Some("json") => format!(
            "{}\n",
            serde_json::to_string(&objects).expect("JSON values serialize")
        ),
        Some(f) => {
            let t = Template::parse(f)
                .map_err(|e| TemplateError(format!("template parsing error: {e}")))?;
            let mut out = String::new();
            for o in objects {
                match t.execute_inspect(o) {
                    Ok(s) => {
                        out.push_str(&s);
                        out.push('\n');
                    }
                    Err(e) => errors.push(format!("template parsing error: {e}")),
                }
            }
            if out.is_empty() {
                out.push('\n');
            }
            out
        }
    };
    Ok((out, errors))
}

#[cfg(test)]
mod tests;
