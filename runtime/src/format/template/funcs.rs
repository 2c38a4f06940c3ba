//! Values as Go's `fmt` prints them, and the template functions: Go's builtins (`len`,
//! `index`, `slice`, `print`, `printf`, `println`, `html`, `js`, `urlquery`, comparisons)
//! and the docker CLI's (`json`, `join`, `split`, `title`, `lower`, `upper`, `pad`,
//! `truncate`, from `github.com/docker/cli/templates`).

use serde_json::{Map, Number, Value};

use super::{Row, V};

/// The functions a template may call (Go's builtins and the docker CLI's).
pub const FUNCS: &[&str] = &[
    "and", "or", "not", "len", "index", "slice", "print", "printf", "println", "html", "js",
    "urlquery", "eq", "ne", "lt", "le", "gt", "ge", "call", "json", "join", "split", "title",
    "lower", "upper", "pad", "truncate",
];

/// Whether an object reads as one of Docker's structs (exported, capitalised field names,
/// printed in field order as `{a b}`) rather than a map (`map[k:v]`, sorted keys).
pub fn is_struct(m: &Map<String, Value>) -> bool {
    !m.is_empty()
        && m.keys().all(|k| {
            k.starts_with(|c: char| c.is_ascii_uppercase()) && !k.contains(['/', '.', ':'])
        })
}

/// Go's `fmt.Sprint` of one value.
pub fn print(v: &V) -> String {
    match v {
        V::Missing => "<no value>".into(),
        V::Nil => "<nil>".into(),
        V::J(v) => print_json(v),
        V::Row(r) => print_row(r),
    }
}

fn print_row(r: &Row) -> String {
    let mut keys: Vec<&String> = r.fields.keys().collect();
    keys.sort();
    format!(
        "&{{{}}}",
        keys.iter()
            .map(|k| print_json(&r.fields[*k]))
            .collect::<Vec<_>>()
            .join(" ")
    )
}

pub fn print_json(v: &Value) -> String {
    match v {
        // Docker's nil slices (Cmd, Env, Dns, ...) are what a null most often is.
        Value::Null => "[]".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => print_number(n),
        Value::String(s) => s.clone(),
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(print_nested).collect::<Vec<_>>().join(" ")
        ),
        Value::Object(m) if is_struct(m) => format!(
            "{{{}}}",
            m.values().map(print_nested).collect::<Vec<_>>().join(" ")
        ),
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{k}:{}", print_nested(&m[k])))
                .collect();
            format!("map[{}]", parts.join(" "))
        }
    }
}

/// A value inside a slice, map or struct: nil pointers print as `<nil>` there.
fn print_nested(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".into(),
        other => print_json(other),
    }
}

pub fn print_number(n: &Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    go_float(n.as_f64().unwrap_or(0.0), 'g', None)
}

/// Go's `strconv.FormatFloat(f, fmt, prec, 64)` for `g` (shortest with `prec` None, `%v`'s
/// exponent threshold 21), `e` and `f`.
pub fn go_float(f: f64, verb: char, prec: Option<usize>) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    match verb {
        'f' => format!("{:.*}", prec.unwrap_or(6), f),
        'e' => exp_form(&format!("{:.*e}", prec.unwrap_or(6), f)),
        _ => {
            let (sci, eprec) = match prec {
                None => (format!("{f:e}"), 21),
                Some(p) => (format!("{:.*e}", p.max(1) - 1, f), p.max(1) as i32),
            };
            let (mant, exp) = sci.split_once('e').expect("exponent");
            let exp: i32 = exp.parse().expect("integer exponent");
            if exp < -4 || exp >= eprec {
                exp_form(&sci)
            } else {
                let digits = mant.trim_start_matches('-').replace('.', "").len() as i32;
                let decimals = (digits - 1 - exp).max(0) as usize;
                format!("{f:.decimals$}")
            }
        }
    }
}

/// Rust's `1.5e3` as Go's `1.5e+03`.
fn exp_form(sci: &str) -> String {
    let (mant, exp) = sci.split_once('e').expect("exponent");
    let exp: i32 = exp.parse().expect("integer exponent");
    format!("{mant}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs())
}

/// Go's `strconv.Quote`.
pub fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\x0b' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `encoding/json` (HTML escaping off, as the docker CLI sets it) of a value decoded
/// into Docker's types: structs keep their field order, maps are sorted.
pub fn to_json(v: &V) -> String {
    match v {
        V::Missing | V::Nil => "null".into(),
        V::J(v) => json_value(v, false),
        // A context's MarshalJSON is json.Marshal's: HTML characters escaped.
        V::Row(r) => json_value(&Value::Object(sorted(&r.fields)), true),
    }
}

fn sorted(m: &Map<String, Value>) -> Map<String, Value> {
    let mut keys: Vec<&String> = m.keys().collect();
    keys.sort();
    keys.into_iter()
        .map(|k| (k.clone(), m[k].clone()))
        .collect()
}

fn json_value(v: &Value, html: bool) -> String {
    match v {
        Value::Object(m) => {
            let m = if is_struct(m) { m.clone() } else { sorted(m) };
            let parts: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{}:{}", json_string(k, html), json_value(v, html)))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::Array(a) => format!(
            "[{}]",
            a.iter()
                .map(|v| json_value(v, html))
                .collect::<Vec<_>>()
                .join(",")
        ),
        Value::String(s) => json_string(s, html),
        other => other.to_string(),
    }
}

fn json_string(s: &str, html: bool) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{2028}' | '\u{2029}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            '<' | '>' | '&' if html => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's truth: false, 0, "", nil, and empty collections are false.
pub fn truthy(v: &V) -> bool {
    match v {
        V::Missing | V::Nil | V::J(Value::Null) => false,
        V::J(Value::Bool(b)) => *b,
        V::J(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        V::J(Value::String(s)) => !s.is_empty(),
        V::J(Value::Array(a)) => !a.is_empty(),
        V::J(Value::Object(m)) => !m.is_empty(),
        V::Row(_) => true,
    }
}

/// Go's type name for a decoded value, in error messages.
pub fn type_name(v: &V) -> String {
    match v {
        V::Missing => "<no value>".into(),
        V::Nil => "<nil>".into(),
        V::Row(r) => r.type_name.clone(),
        V::J(Value::Null) => "<nil>".into(),
        V::J(Value::Bool(_)) => "bool".into(),
        V::J(Value::Number(n)) if n.is_f64() => "float64".into(),
        V::J(Value::Number(_)) => "int".into(),
        V::J(Value::String(_)) => "string".into(),
        V::J(Value::Array(_)) => "[]interface {}".into(),
        V::J(Value::Object(m)) if is_struct(m) => "struct".into(),
        V::J(Value::Object(_)) => "map[string]interface {}".into(),
    }
}

fn arity(name: &str, args: &[V], n: usize) -> Result<(), String> {
    if args.len() != n {
        return Err(format!(
            "wrong number of args for {name}: want {n} got {}",
            args.len()
        ));
    }
    Ok(())
}

/// A string parameter: Go refuses other types.
fn string_arg(v: &V) -> Result<String, String> {
    match v {
        V::J(Value::String(s)) => Ok(s.clone()),
        V::Missing => Err("invalid value; expected string".into()),
        other => Err(format!(
            "wrong type for value; expected string; got {}",
            type_name(other)
        )),
    }
}

/// An int parameter.
fn int_arg(v: &V) -> Result<i64, String> {
    match v {
        V::J(Value::Number(n)) if n.as_i64().is_some() => Ok(n.as_i64().expect("checked")),
        V::J(Value::Number(n)) if n.as_f64().is_some_and(|f| f.fract() == 0.0) => {
            Ok(n.as_f64().expect("checked") as i64)
        }
        V::Missing => Err("invalid value; expected int".into()),
        other => Err(format!(
            "wrong type for value; expected int; got {}",
            type_name(other)
        )),
    }
}

fn string(s: String) -> Result<V, String> {
    Ok(V::J(Value::String(s)))
}

/// Calls function `name` on evaluated arguments (`and`/`or` are evaluated lazily by the
/// executor and never reach here). Errors are Go's `error calling NAME: ...` tails.
pub fn call(name: &str, args: &[V]) -> Result<V, String> {
    match name {
        "json" => {
            arity(name, args, 1)?;
            string(to_json(&args[0]))
        }
        "join" => {
            arity(name, args, 2)?;
            let sep = string_arg(&args[1])?;
            let items = match &args[0] {
                V::J(Value::Array(a)) => a
                    .iter()
                    .map(|v| match v {
                        Value::String(s) => Ok(s.clone()),
                        other => Err(format!(
                            "wrong type for value; expected []string; got {}",
                            type_name(&V::J(Value::Array(vec![other.clone()])))
                        )),
                    })
                    .collect::<Result<Vec<_>, _>>()?,
                V::J(Value::Null) => Vec::new(),
                V::Missing => return Err("invalid value; expected []string".into()),
                other => {
                    return Err(format!(
                        "wrong type for value; expected []string; got {}",
                        type_name(other)
                    ))
                }
            };
            string(items.join(&sep))
        }
        "split" => {
            arity(name, args, 2)?;
            let s = string_arg(&args[0])?;
            let sep = string_arg(&args[1])?;
            let parts: Vec<Value> = if sep.is_empty() {
                s.chars().map(|c| Value::String(c.to_string())).collect()
            } else {
                s.split(sep.as_str())
                    .map(|p| Value::String(p.to_string()))
                    .collect()
            };
            Ok(V::J(Value::Array(parts)))
        }
        "upper" => {
            arity(name, args, 1)?;
            string(string_arg(&args[0])?.to_uppercase())
        }
        "lower" => {
            arity(name, args, 1)?;
            string(string_arg(&args[0])?.to_lowercase())
        }
        "title" => {
            arity(name, args, 1)?;
            string(title(&string_arg(&args[0])?))
        }
        "truncate" => {
            arity(name, args, 2)?;
            let s = string_arg(&args[0])?;
            let n = int_arg(&args[1])?;
            if (s.len() as i64) < n {
                return string(s);
            }
            let mut end = n.max(0) as usize;
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            string(s[..end].to_string())
        }
        "pad" => {
            arity(name, args, 3)?;
            let s = string_arg(&args[0])?;
            let l = int_arg(&args[1])?.max(0) as usize;
            let r = int_arg(&args[2])?.max(0) as usize;
            if s.is_empty() {
                return string(s);
            }
            string(format!("{}{s}{}", " ".repeat(l), " ".repeat(r)))
        }
        "print" => string(sprint(args)),
        "println" => string(sprintln(args)),
        "printf" => {
            if args.is_empty() {
                return Err("wrong number of args for printf: want at least 1 got 0".into());
            }
            string(sprintf(&string_arg(&args[0])?, &args[1..]))
        }
        "html" => string(html_escape(&eval_args_string(args))),
        "js" => string(js_escape(&eval_args_string(args))),
        "urlquery" => {
            string(form_urlencoded::byte_serialize(eval_args_string(args).as_bytes()).collect())
        }
        "len" => {
            arity(name, args, 1)?;
            let n = match &args[0] {
                V::J(Value::Array(a)) => a.len(),
                V::J(Value::Object(m)) if !is_struct(m) => m.len(),
                V::J(Value::String(s)) => s.len(),
                V::J(Value::Null) => 0,
                V::Missing => return Err("len of nil pointer".into()),
                other => return Err(format!("len of type {}", type_name(other))),
            };
            Ok(V::J(Value::from(n)))
        }
        "index" => {
            if args.is_empty() {
                return Err("wrong number of args for index: want at least 1 got 0".into());
            }
            let mut cur = args[0].clone();
            for key in &args[1..] {
                cur = index(&cur, key)?;
            }
            Ok(cur)
        }
        "slice" => {
            if args.is_empty() {
                return Err("wrong number of args for slice: want at least 1 got 0".into());
            }
            let idx = args[1..]
                .iter()
                .map(int_arg)
                .collect::<Result<Vec<_>, _>>()?;
            if idx.len() > 3 {
                return Err(format!("too many slice indexes: {}", idx.len()));
            }
            let len = match &args[0] {
                V::J(Value::String(s)) => s.len(),
                V::J(Value::Array(a)) => a.len(),
                other => return Err(format!("can't slice item of type {}", type_name(other))),
            } as i64;
            let i = idx.first().copied().unwrap_or(0);
            let j = idx.get(1).copied().unwrap_or(len);
            if i < 0 || j < i || j > len {
                return Err(format!(
                    "slice index out of range: {}",
                    if i < 0 || i > len { i } else { j }
                ));
            }
            match &args[0] {
                V::J(Value::String(s)) => {
                    if idx.len() == 3 {
                        return Err("cannot 3-index slice a string".into());
                    }
                    string(
                        s.get(i as usize..j as usize)
                            .ok_or("slice index out of range")?
                            .to_string(),
                    )
                }
                V::J(Value::Array(a)) => Ok(V::J(Value::Array(a[i as usize..j as usize].to_vec()))),
                _ => unreachable!("checked above"),
            }
        }
        "not" => {
            arity(name, args, 1)?;
            Ok(V::J(Value::Bool(!truthy(&args[0]))))
        }
        "eq" => {
            if args.len() < 2 {
                return Err("missing argument for comparison".into());
            }
            for other in &args[1..] {
                if compare(&args[0], other)? == Some(std::cmp::Ordering::Equal) {
                    return Ok(V::J(Value::Bool(true)));
                }
            }
            Ok(V::J(Value::Bool(false)))
        }
        "ne" | "lt" | "le" | "gt" | "ge" => {
            arity(name, args, 2)?;
            let ord = compare(&args[0], &args[1])?;
            if name != "ne" && ord.is_none() {
                return Err("invalid type for comparison".into());
            }
            use std::cmp::Ordering::*;
            let r = match name {
                "ne" => ord != Some(Equal),
                "lt" => ord == Some(Less),
                "le" => ord != Some(Greater),
                "gt" => ord == Some(Greater),
                _ => ord != Some(Less),
            };
            Ok(V::J(Value::Bool(r)))
        }
        "call" => Err("can't call method/function with no functions in the data".into()),
        other => Err(format!("function {other:?} not defined")),
    }
}

/// Go's `index` step: a slice by integer, a map by key (a missing key is the element type's
/// zero value: "" in Docker's `map[string]string` labels and options).
fn index(item: &V, key: &V) -> Result<V, String> {
    match item {
        V::J(Value::Array(a)) => {
            let i = int_arg(key)
                .map_err(|_| "cannot index slice/array with type string".to_string())?;
            if i < 0 || i as usize >= a.len() {
                return Err(format!("index out of range: {i}"));
            }
            Ok(V::J(a[i as usize].clone()))
        }
        V::J(Value::String(s)) => {
            let i = int_arg(key)?;
            s.as_bytes()
                .get(i as usize)
                .map(|b| V::J(Value::from(*b)))
                .ok_or_else(|| format!("index out of range: {i}"))
        }
        V::J(Value::Object(m)) => {
            let k = string_arg(key)?;
            Ok(match m.get(&k) {
                Some(v) => V::J(v.clone()),
                None if m.values().all(Value::is_string) => V::J(Value::String(String::new())),
                None => V::Missing,
            })
        }
        V::J(Value::Null) => Ok(V::J(Value::String(String::new()))),
        V::Missing => Err("index of untyped nil".into()),
        other => Err(format!("can't index item of type {}", type_name(other))),
    }
}

/// Go's comparison of basic kinds; None when the values are unequal and not ordered
/// (nil against a value); an error for kinds Go does not compare.
fn compare(a: &V, b: &V) -> Result<Option<std::cmp::Ordering>, String> {
    let basic = |v: &V| -> Result<(), String> {
        match v {
            V::J(Value::Array(_)) | V::J(Value::Object(_)) | V::Row(_) => Err(format!(
                "non-comparable type {}: {}",
                print(v),
                type_name(v)
            )),
            _ => Ok(()),
        }
    };
    basic(a)?;
    basic(b)?;
    Ok(match (a, b) {
        (V::J(Value::String(x)), V::J(Value::String(y))) => Some(x.cmp(y)),
        (V::J(Value::Bool(x)), V::J(Value::Bool(y))) => Some(x.cmp(y)),
        (V::J(Value::Number(x)), V::J(Value::Number(y))) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => Some(i.cmp(&j)),
            _ => x
                .as_f64()
                .zip(y.as_f64())
                .and_then(|(f, g)| f.partial_cmp(&g)),
        },
        (V::J(Value::Null) | V::Missing | V::Nil, V::J(Value::Null) | V::Missing | V::Nil) => {
            Some(std::cmp::Ordering::Equal)
        }
        (V::J(Value::Null) | V::Missing | V::Nil, _)
        | (_, V::J(Value::Null) | V::Missing | V::Nil) => None,
        _ => return Err("incompatible types for comparison".into()),
    })
}

/// `strings.Title`: each letter after a separator (anything but letters, digits, `_`, `'`)
/// is upper-cased.
fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_sep = true;
    for c in s.chars() {
        if prev_sep {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        prev_sep = !(c.is_alphanumeric() || c == '_' || c == '\'');
    }
    out
}

fn is_string(v: &V) -> bool {
    matches!(v, V::J(Value::String(_)))
}

/// `fmt.Sprint`: a space between operands when neither is a string.
pub fn sprint(args: &[V]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 && !is_string(a) && !is_string(&args[i - 1]) {
            out.push(' ');
        }
        out.push_str(&print(a));
    }
    out
}

/// `fmt.Sprintln`: spaces between all operands, and a newline.
pub fn sprintln(args: &[V]) -> String {
    let mut out = args.iter().map(print).collect::<Vec<_>>().join(" ");
    out.push('\n');
    out
}

/// The text `html`, `js` and `urlquery` escape: one string argument as is, else `Sprint`.
fn eval_args_string(args: &[V]) -> String {
    match args {
        [V::J(Value::String(s))] => s.clone(),
        _ => sprint(args),
    }
}

fn html_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\0' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

fn js_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Go's `fmt.Sprintf` for the verbs templates use: `%v %s %q %d %x %X %o %b %c %t %f %e %g
/// %%`, with flags (`-+ 0#`), width and precision.
pub fn sprintf(format: &str, args: &[V]) -> String {
    let mut out = String::new();
    let mut next = 0usize;
    let chars: Vec<char> = format.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut minus = false;
        let mut plus = false;
        let mut zero = false;
        let mut space = false;
        let mut sharp = false;
        while i < chars.len() && "-+0 #".contains(chars[i]) {
            match chars[i] {
                '-' => minus = true,
                '+' => plus = true,
                '0' => zero = true,
                ' ' => space = true,
                _ => sharp = true,
            }
            i += 1;
        }
        let mut width = None;
        while i < chars.len() && chars[i].is_ascii_digit() {
            width = Some(width.unwrap_or(0) * 10 + chars[i].to_digit(10).expect("digit") as usize);
            i += 1;
        }
        let mut prec = None;
        if i < chars.len() && chars[i] == '.' {
            i += 1;
            let mut p = 0;
            while i < chars.len() && chars[i].is_ascii_digit() {
                p = p * 10 + chars[i].to_digit(10).expect("digit") as usize;
                i += 1;
            }
            prec = Some(p);
        }
        let Some(&verb) = chars.get(i) else {
            out.push_str("%!(NOVERB)");
            break;
        };
        i += 1;
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(next) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        next += 1;
        let num = match arg {
            V::J(Value::Number(n)) => Some(n),
            _ => None,
        };
        let body = match (verb, arg) {
            ('v', _) => print(arg),
            ('s', V::J(Value::String(s))) => match prec {
                Some(p) => s.chars().take(p).collect(),
                None => s.clone(),
            },
            ('s', V::J(Value::Array(_)) | V::J(Value::Object(_))) => print(arg),
            ('q', V::J(Value::String(s))) => {
                if sharp && !s.contains('`') {
                    format!("`{s}`")
                } else {
                    go_quote(s)
                }
            }
            ('t', V::J(Value::Bool(b))) => b.to_string(),
            ('d', _) if num.is_some_and(|n| !n.is_f64()) => {
                let n = num.expect("checked");
                let s = print_number(n);
                if plus && !s.starts_with('-') {
                    format!("+{s}")
                } else if space && !s.starts_with('-') {
                    format!(" {s}")
                } else {
                    s
                }
            }
            ('x' | 'X' | 'o' | 'b', _) if num.is_some_and(|n| n.as_i64().is_some()) => {
                let n = num.and_then(Number::as_i64).expect("checked");
                let (neg, abs) = (n < 0, n.unsigned_abs());
                let digits = match verb {
                    'x' => format!("{abs:x}"),
                    'X' => format!("{abs:X}"),
                    'o' => format!("{abs:o}"),
                    _ => format!("{abs:b}"),
                };
                let prefix = match (sharp, verb) {
                    (true, 'x') => "0x",
                    (true, 'X') => "0X",
                    (true, 'o') => "0",
                    _ => "",
                };
                format!("{}{prefix}{digits}", if neg { "-" } else { "" })
            }
            ('x' | 'X', V::J(Value::String(s))) => {
                let h: String = s.bytes().map(|b| format!("{b:02x}")).collect();
                if verb == 'X' {
                    h.to_uppercase()
                } else {
                    h
                }
            }
            ('c', _) if num.is_some_and(|n| n.as_u64().is_some()) => num
                .and_then(Number::as_u64)
                .and_then(|u| char::from_u32(u as u32))
                .map(String::from)
                .unwrap_or_default(),
            ('f' | 'F' | 'e' | 'g', _) if num.is_some() => {
                let f = num.and_then(Number::as_f64).expect("number");
                let v = if verb == 'F' { 'f' } else { verb };
                let s = go_float(f, v, prec);
                if plus && f >= 0.0 {
                    format!("+{s}")
                } else {
                    s
                }
            }
            _ => format!("%!{verb}({}={})", type_name(arg), print(arg)),
        };
        let w = body.chars().count();
        match width {
            Some(wd) if wd > w => {
                let pad = wd - w;
                if minus {
                    out.push_str(&body);
                    out.push_str(&" ".repeat(pad));
                } else if zero && num.is_some() && verb != 's' && verb != 'v' {
                    let (sign, digits) = match body.strip_prefix(['-', '+']) {
                        Some(d) => (&body[..1], d),
                        None => ("", body.as_str()),
                    };
                    out.push_str(sign);
                    out.push_str(&"0".repeat(pad));
                    out.push_str(digits);
                } else {
                    out.push_str(&" ".repeat(pad));
                    out.push_str(&body);
                }
            }
            _ => out.push_str(&body),
        }
    }
    if next < args.len() {
        out.push_str("%!(EXTRA ");
        out.push_str(
            &args[next..]
                .iter()
                .map(|a| format!("{}={}", type_name(a), print(a)))
                .collect::<Vec<_>>()
                .join(", "),
        );
        out.push(')');
    }
    out
}
