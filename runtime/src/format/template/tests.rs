use super::*;
use serde_json::json;

fn r(t: &str, v: &Value) -> String {
    render(t, v).unwrap_or_else(|e| panic!("{t}: {e}"))
}

fn err(t: &str, v: &Value) -> String {
    match Template::parse(t) {
        Err(e) => e.0,
        Ok(tpl) => tpl.execute(v).expect_err(t).0,
    }
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
    assert_eq!(r("{{index .Config.Labels \"nope\"}}", &v), "");
    assert_eq!(r("{{len .RepoTags}}", &v), "2");
    assert_eq!(r("{{upper (index .RepoTags 0)}}", &v), "A:1");
    assert_eq!(r("{{.Config.Labels}}", &v), "map[x:1]");
    let mounts = json!({"Mounts": [{"Type": "volume", "Name": "n", "Mode": "", "RW": true}]});
    assert_eq!(r("{{.Mounts}}", &mounts), "[{volume n  true}]");
    assert_eq!(
        r("{{printf \"%s-%d\" .Id .Size}}", &v),
        "sha256:abc-4261550"
    );
    assert_eq!(
        r("{{printf \"%-6s|%5d|%05d|%q\" \"ab\" 42 42 \"x\"}}", &v),
        "ab    |   42|00042|\"x\""
    );
    assert_eq!(
        r("{{printf \"%.2f %v %x\" 3.14159 1.5 255}}", &v),
        "3.14 1.5 ff"
    );
    assert_eq!(r("{{printf \"%d\"}}", &v), "%!d(MISSING)");
    assert_eq!(r("{{printf \"%d\" \"s\"}}", &v), "%!d(string=s)");
    assert_eq!(r("{{print 1 2 \"a\" \"b\" 3}}", &v), "1 2ab3");
    assert_eq!(r("{{println \"a\" 1}}", &v), "a 1\n");
    assert_eq!(r("{{split \"a,b,c\" \",\"}}", &v), "[a b c]");
    assert_eq!(r("{{title \"hello world-wide\"}}", &v), "Hello World-Wide");
    assert_eq!(
        r("{{truncate \"abcdef\" 3}}|{{truncate \"ab\" 3}}", &v),
        "abc|ab"
    );
    assert_eq!(r("{{pad \"x\" 1 2}}|{{pad \"\" 1 2}}|", &v), " x  ||");
    assert_eq!(
        r("{{html \"<a href='x'>&</a>\"}}", &v),
        "&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt;"
    );
    assert_eq!(r("{{js \"it's <b>\"}}", &v), "it\\'s \\u003Cb\\u003E");
    assert_eq!(r("{{urlquery \"a b&c\"}}", &v), "a+b%26c");
    assert_eq!(
        r("{{slice \"abcdef\" 1 3}} {{slice .RepoTags 1}}", &v),
        "bc [b:2]"
    );
    assert_eq!(r("{{'a'}} {{0x10}} {{1e3}} {{-2}}", &v), "97 16 1000 -2");
}

#[test]
fn json_orders_like_go() {
    let v =
        json!({"Config": {"Labels": {"z": "1", "a": "2"}, "Image": "bb"}, "S": {"B": 1, "A": 2}});
    // Maps sort their keys; structs keep their field order.
    assert_eq!(r("{{json .Config.Labels}}", &v), r#"{"a":"2","z":"1"}"#);
    assert_eq!(r("{{json .S}}", &v), r#"{"B":1,"A":2}"#);
    assert_eq!(r("{{json \"<&>\"}}", &v), r#""<&>""#);
}

#[test]
fn control_flow() {
    let v = json!({"Tags": ["a", "b"], "Empty": [], "Yes": true, "Obj": {"K": "v"}, "M": {"b": 2, "a": 1}});
    assert_eq!(r("{{range .Tags}}<{{.}}>{{end}}", &v), "<a><b>");
    assert_eq!(r("{{range .Empty}}x{{else}}none{{end}}", &v), "none");
    assert_eq!(r("{{range .Tags}}x{{else}}none{{end}}", &v), "xx");
    assert_eq!(r("{{if .Yes}}y{{else}}n{{end}}", &v), "y");
    assert_eq!(r("{{if .Empty}}y{{else}}n{{end}}", &v), "n");
    assert_eq!(r("{{if .Nope}}y{{else}}n{{end}}", &v), "n");
    assert_eq!(r("{{with .Obj}}{{.K}}{{end}}", &v), "v");
    assert_eq!(r("{{with .Nope}}x{{else with .Obj}}{{.K}}{{end}}", &v), "v");
    assert_eq!(r("{{if eq .Obj.K \"v\"}}same{{end}}", &v), "same");
    assert_eq!(r("{{if eq .Obj.K \"x\" \"v\"}}any{{end}}", &v), "any");
    assert_eq!(r("a  {{- .Obj.K -}}  b", &v), "avb");
    assert_eq!(
        r("a {{/* a comment */}} b {{- /* trimmed */ -}} c", &v),
        "a  bc"
    );
    assert_eq!(r("{{range .Tags}}{{.}}\n{{end}}", &v), "a\nb\n");
    let t = "{{if eq .Obj.K \"x\"}}1{{else if eq .Obj.K \"v\"}}2{{else}}3{{end}}";
    assert_eq!(r(t, &v), "2");
    // Maps range in key order; the key and value variables.
    assert_eq!(
        r("{{range $k, $v := .M}}{{$k}}={{$v}};{{end}}", &v),
        "a=1;b=2;"
    );
    assert_eq!(
        r("{{range $i, $t := .Tags}}{{$i}}:{{$t}} {{end}}", &v),
        "0:a 1:b "
    );
    assert_eq!(r("{{range $t := .Tags}}{{$t}}{{end}}", &v), "ab");
    // break and continue.
    assert_eq!(
        r(
            "{{range .Tags}}{{if eq . \"b\"}}{{break}}{{end}}{{.}}{{end}}",
            &v
        ),
        "a"
    );
    assert_eq!(
        r(
            "{{range .Tags}}{{if eq . \"a\"}}{{continue}}{{end}}{{.}}{{end}}",
            &v
        ),
        "b"
    );
    // Variables: declared, assigned in a loop, `$` is the data.
    assert_eq!(
        r("{{$n := 0}}{{range .Tags}}{{$n = .}}{{end}}{{$n}}", &v),
        "b"
    );
    assert_eq!(r("{{with .Obj}}{{$.Yes}} {{.K}}{{end}}", &v), "true v");
    assert_eq!(r("{{$x := .Obj}}{{$x.K}}", &v), "v");
    // and/or give an operand and stop early; comparisons.
    assert_eq!(
        r("{{and 1 0 2}} {{or 0 \"\" 3}} {{or 1 .Nope.Boom}}", &v),
        "0 3 1"
    );
    assert_eq!(
        r("{{and .Yes .Obj.K}} {{or .Empty \"dflt\"}}", &v),
        "v dflt"
    );
    assert_eq!(
        r("{{lt 1 2}} {{ge \"b\" \"a\"}} {{ne 1 1}} {{not .Yes}}", &v),
        "true true false false"
    );
    // define, template, block.
    assert_eq!(
        r(
            "{{define \"T\"}}[{{.}}]{{end}}{{template \"T\" .Obj.K}}{{template \"T\" 3}}",
            &v
        ),
        "[v][3]"
    );
    assert_eq!(r("{{block \"B\" .Tags}}{{len .}}{{end}}", &v), "2");
    // Pipelines and parenthesised calls.
    assert_eq!(r("{{.Obj.K | printf \"%s!\" | upper}}", &v), "V!");
    assert_eq!(r("{{(index .Tags 1) | len}}", &v), "1");
    assert_eq!(r("{{(.Obj).K}}", &v), "v");
    assert_eq!(r("{{range 3}}{{.}}{{end}}", &v), "012");
}

#[test]
fn rows_have_methods_and_strict_fields() {
    let mut fields = Map::new();
    fields.insert("ID".into(), json!("abc"));
    fields.insert("Names".into(), json!("web"));
    let mut labels = BTreeMap::new();
    labels.insert("com.example".to_string(), "v1".to_string());
    let row = Row::new("*formatter.ContainerContext", fields).with_labels(labels);
    let t = |s: &str| Template::parse(s).unwrap().execute_row(&row);
    assert_eq!(
        t("{{.ID}} {{.Label \"com.example\"}}|{{.Label \"x\"}}").unwrap(),
        "abc v1|"
    );
    assert_eq!(t("{{json .}}").unwrap(), r#"{"ID":"abc","Names":"web"}"#);
    assert_eq!(
        t("{{.Nope}}").unwrap_err().0,
        "template: :1:2: executing \"\" at <.Nope>: can't evaluate field Nope in type *formatter.ContainerContext"
    );
}

#[test]
fn list_formats_as_the_docker_cli() {
    let mut fields = Map::new();
    fields.insert("ID".into(), json!("abc"));
    fields.insert("Names".into(), json!("web"));
    let rows = vec![Row::new("*formatter.ContainerContext", fields)];
    let titles = [("ID", "CONTAINER ID"), ("Names", "NAMES")];
    let f = ListFormat::from_format("table {{.ID}}\\t{{.Names}}").unwrap();
    assert_eq!(
        f.render(&rows, &titles).unwrap(),
        "CONTAINER ID   NAMES\nabc            web\n"
    );
    // Header functions keep the titles.
    let f = ListFormat::from_format("table {{lower .ID}}\\t{{json .Names}}").unwrap();
    assert_eq!(
        f.render(&rows, &titles).unwrap(),
        "CONTAINER ID   NAMES\nabc            \"web\"\n"
    );
    let f = ListFormat::from_format("json").unwrap();
    assert_eq!(
        f.render(&rows, &titles).unwrap(),
        "{\"ID\":\"abc\",\"Names\":\"web\"}\n"
    );
    let f = ListFormat::from_format("{{.ID}}: {{.Names}}").unwrap();
    assert_eq!(f.render(&rows, &titles).unwrap(), "abc: web\n");
    // An empty table still has its header.
    let f = ListFormat::from_format("table {{.ID}}").unwrap();
    assert_eq!(f.render(&[], &titles).unwrap(), "CONTAINER ID\n");
}

#[test]
fn errors_read_like_go() {
    let v = json!({"A": "s", "L": [1]});
    assert_eq!(err("{{.Id", &v), "template: :1: unclosed action");
    assert_eq!(err("{{if .X}}", &v), "template: :1: unexpected EOF");
    assert_eq!(err("{{end}}", &v), "template: :1: unexpected {{end}}");
    assert_eq!(
        err("{{nofunc .X}}", &v),
        "template: :1: function \"nofunc\" not defined"
    );
    assert_eq!(err("{{$x}}", &v), "template: :1: undefined variable \"$x\"");
    assert_eq!(
        err("{{.A.B}}", &v),
        "template: :1:4: executing \"\" at <.A.B>: can't evaluate field B in type string"
    );
    assert_eq!(
        err("{{index .L 5}}", &v),
        "template: :1:2: executing \"\" at <index .L 5>: error calling index: index out of range: 5"
    );
    assert!(err("{{.A \"x\"}}", &v).contains("A is not a method but has arguments"));
    assert!(err("{{break}}", &v).contains("outside {{range}}"));
}
