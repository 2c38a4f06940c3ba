//! Variable substitution: buildkit's `envVarTest` and `wordsTest` tables and the cases of
//! `TestProcessWithMatches` and `TestShellParserMandatoryEnvVars`.

use std::collections::HashMap;

use super::strs;
use crate::build::dockerfile::{expand, expand_heredoc, expand_words};

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn word(input: &str, vars: &HashMap<String, String>) -> Option<String> {
    expand(input, '\\', &|k| vars.get(k).cloned()).ok()
}

/// envVarTest (the Unix lines), with PWD=/home, SHELL=bash, KOREAN=한국어, NULL="".
#[test]
fn env_var_test() {
    let vars = env(&[
        ("PWD", "/home"),
        ("SHELL", "bash"),
        ("KOREAN", "한국어"),
        ("NULL", ""),
    ]);
    let cases: &[(&str, Option<&str>)] = &[
        ("hello", Some("hello")),
        ("he'll'o", Some("hello")),
        ("he'llo", None),
        ("he\\'llo", Some("he'llo")),
        ("he\\\\'llo", None),
        ("abc\\tdef", Some("abctdef")),
        ("\"abc\\tdef\"", Some("abc\\tdef")),
        ("\"abc\\\\tdef\"", Some("abc\\tdef")),
        ("'abc\\tdef'", Some("abc\\tdef")),
        ("hello\\", Some("hello")),
        ("hello\\\\", Some("hello\\")),
        ("\"hello", None),
        ("\"hello\\\"", None),
        ("\"hel'lo\"", Some("hel'lo")),
        ("'hello", None),
        ("'hello\\'", Some("hello\\")),
        ("'hello\\there'", Some("hello\\there")),
        ("'hello\\\\there'", Some("hello\\\\there")),
        ("\"''\"", Some("''")),
        ("$.", Some("$.")),
        ("he$1x", Some("hex")),
        ("he$.x", Some("he$.x")),
        ("he$pwd.", Some("he.")),
        ("he$PWD", Some("he/home")),
        ("he\\$PWD", Some("he$PWD")),
        ("he\\\\$PWD", Some("he\\/home")),
        ("\"he\\$PWD\"", Some("he$PWD")),
        ("\"he\\\\$PWD\"", Some("he\\/home")),
        ("\\${}", Some("${}")),
        ("\\${}aaa", Some("${}aaa")),
        ("he\\${}", Some("he${}")),
        ("he\\${}xx", Some("he${}xx")),
        ("${}", None),
        ("${}aaa", None),
        ("he${}", None),
        ("he${}xx", None),
        ("he${hi}", Some("he")),
        ("he${hi}xx", Some("hexx")),
        ("he${PWD}", Some("he/home")),
        ("he${.}", None),
        ("he${XXX:-000}xx", Some("he000xx")),
        ("he${PWD:-000}xx", Some("he/homexx")),
        ("he${XXX:-$PWD}xx", Some("he/homexx")),
        ("he${XXX:-${PWD:-yyy}}xx", Some("he/homexx")),
        ("he${XXX:-${YYY:-yyy}}xx", Some("heyyyxx")),
        ("he${XXX:YYY}", None),
        ("he${XXX?}", None),
        ("he${XXX:?}", None),
        ("he${PWD?}", Some("he/home")),
        ("he${PWD:?}", Some("he/home")),
        ("he${NULL?}", Some("he")),
        ("he${NULL:?}", None),
        ("he${XXX:+${PWD}}xx", Some("hexx")),
        ("he${PWD:+${XXX}}xx", Some("hexx")),
        ("he${PWD:+${SHELL}}xx", Some("hebashxx")),
        ("he${XXX:+000}xx", Some("hexx")),
        ("he${PWD:+000}xx", Some("he000xx")),
        ("'he${XX}'", Some("he${XX}")),
        ("\"he${PWD}\"", Some("he/home")),
        ("\"he'$PWD'\"", Some("he'/home'")),
        ("\"$PWD\"", Some("/home")),
        ("'$PWD'", Some("$PWD")),
        ("'\\$PWD'", Some("\\$PWD")),
        ("'\"hello\"'", Some("\"hello\"")),
        ("he\\$PWD", Some("he$PWD")),
        ("'he\\$PWD'", Some("he\\$PWD")),
        ("he${PWD", None),
        ("he${PWD:=000}xx", None),
        ("he${PWD:+${PWD}:}xx", Some("he/home:xx")),
        ("he${XXX:-\\$PWD:}xx", Some("he$PWD:xx")),
        ("he${XXX:-\\${PWD}z}xx", Some("he${PWDz}xx")),
        ("안녕하세요", Some("안녕하세요")),
        ("안'녕'하세요", Some("안녕하세요")),
        ("안'녕하세요", None),
        ("안녕\\'하세요", Some("안녕'하세요")),
        ("안녕$1x", Some("안녕x")),
        ("$KOREAN", Some("한국어")),
        ("안녕$KOREAN", Some("안녕한국어")),
        ("${{aaa}", None),
        ("${aaa}}", Some("}")),
        ("${aaa", None),
        ("${{aaa:-bbb}", None),
        ("${aaa:-bbb}}", Some("bbb}")),
        ("${aaa:-bbb", None),
        ("${aaa:-bbb}", Some("bbb")),
        ("${aaa:-${bbb:-ccc}}", Some("ccc")),
        ("${aaa:-bbb ${foo}", None),
        ("${aaa:-bbb {foo}", Some("bbb {foo")),
        ("${:}", None),
        ("${:-bbb}", None),
        ("${:+bbb}", None),
        // Positional and special parameters are never set.
        ("$1", Some("")),
        ("${1:+bbb}", Some("")),
        ("${1:-bbb}", Some("bbb")),
        ("$999aaa", Some("aaa")),
        ("${999:-bbb}aaa", Some("bbbaaa")),
        ("$001aaa", Some("aaa")),
        ("$@@@", Some("@@")),
        ("$@aaa", Some("aaa")),
        ("${@:-bbb}aaa", Some("bbbaaa")),
        ("$*", Some("")),
        ("${#}", Some("")),
        ("${?:-bbb}", Some("bbb")),
        ("$-", Some("")),
        ("$$", Some("")),
        ("${!:-bbb}", Some("bbb")),
        ("$0", Some("")),
        ("${0:-bbb}", Some("bbb")),
    ];
    for (input, want) in cases {
        assert_eq!(word(input, &vars).as_deref(), *want, "{input}");
    }
}

/// wordsTest: the ENV lines accumulate.
#[test]
fn words_test() {
    let mut vars: HashMap<String, String> = HashMap::new();
    let steps: &[(&str, &[&str])] = &[
        ("hello", &["hello"]),
        ("hello${hi}bye", &["hellobye"]),
        ("ENV hi=hi", &[]),
        ("hello${hi}bye", &["hellohibye"]),
        ("ENV space=abc  def", &[]),
        ("hello${space}bye", &["helloabc", "defbye"]),
        ("hello\"${space}\"bye", &["helloabc  defbye"]),
        ("hello \"${space}\"bye", &["hello", "abc  defbye"]),
        ("ENV leading=  ab c", &[]),
        ("hello${leading}def", &["hello", "ab", "cdef"]),
        ("hello\"${leading}\" def", &["hello  ab c", "def"]),
        ("hello\"${leading}\"", &["hello  ab c"]),
        ("hello${leading}", &["hello", "ab", "c"]),
        ("ENV trailing=ab c   ", &[]),
        ("hello${trailing}", &["helloab", "c"]),
        ("hello${trailing}d", &["helloab", "c", "d"]),
        ("hello\"${trailing}\"d", &["helloab c   d"]),
        ("hel\"lo${trailing}\"", &["helloab c   "]),
        ("hello\" there  \"", &["hello there  "]),
        ("hello there     ", &["hello", "there"]),
        ("hello\\ there", &["hello there"]),
        ("hello\" there", &["error"]),
        ("hello\\\" there", &["hello\"", "there"]),
        ("hello\"\\\\there\"", &["hello\\there"]),
        ("hello\"\\there\"", &["hello\\there"]),
        ("hello'\\\\there'", &["hello\\\\there"]),
        ("hello'\\there'", &["hello\\there"]),
        ("hello'$there'", &["hello$there"]),
        // Not in buildkit's table: an empty quoted word is no word; nested ${} keep the
        // text before them (see lex.rs).
        ("\"\"", &[]),
        ("80/${proto:-tcp} 53", &["80/tcp", "53"]),
    ];
    for (input, want) in steps {
        if let Some(assignment) = input.strip_prefix("ENV ") {
            let (k, v) = assignment.split_once('=').unwrap();
            vars.insert(k.into(), v.into());
            continue;
        }
        let got = expand_words(input, '\\', &|k| vars.get(k).cloned())
            .unwrap_or_else(|_| strs(&["error"]));
        assert_eq!(got, strs(want), "{input}");
    }
}

/// (word, variables, result or None for an error)
type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], Option<&'a str>);

/// TestProcessWithMatches and the mandatory-variable cases.
#[test]
fn modifiers() {
    let cases: &[Case] = &[
        ("x ${UNUSED}", &[], Some("x ")),
        ("${FOO-aaa} ${BAR-bbb} ${BAZ-ccc}", &[("FOO", "xxx"), ("BAR", "")], Some("xxx  ccc")),
        ("${FOO:-aaa} ${BAR:-bbb} ${BAZ:-ccc}", &[("FOO", "xxx"), ("BAR", "")], Some("xxx bbb ccc")),
        ("${FOO:-}", &[], Some("")),
        ("${FOO+aaa} ${BAR+bbb} ${BAZ+ccc}", &[("FOO", "xxx"), ("BAR", "")], Some("aaa bbb ")),
        ("${FOO:+aaa} ${BAR:+bbb} ${BAZ:+ccc}", &[("FOO", "xxx"), ("BAR", "")], Some("aaa  ")),
        ("${FOO?aaa}", &[("FOO", "xxx")], Some("xxx")),
        ("${BAR?bbb}", &[("BAR", "")], Some("")),
        ("${BAZ?ccc}", &[], None),
        ("${BAR:?bbb}", &[("BAR", "")], None),
        ("${FOO=aaa}", &[("FOO", "xxx")], None),
        ("${FOO=:aaa}", &[("FOO", "xxx")], None),
        ("${FOO=}", &[], None),
        ("${FOO#()[]{\\}^$.\\*\\?|\\\\}", &[("FOO", "()[]{}^$.*?|\\x")], Some("x")),
        ("${FOO%%\\**}", &[("FOO", "xx**")], Some("xx")),
        ("${FOO#*x*y}", &[("FOO", "xxyy")], Some("y")),
        ("${FOO#*}", &[("FOO", "xxyy")], Some("xxyy")),
        ("${FOO#$BAR}", &[("FOO", "xxyy"), ("BAR", "x")], Some("xyy")),
        ("${FOO#$BAR}", &[("FOO", "xxyy"), ("BAR", "")], Some("xxyy")),
        ("${FOO#}", &[("FOO", "xxyy")], Some("xxyy")),
        ("${FOO##*x}", &[("FOO", "xxyy")], Some("yy")),
        ("${FOO##}", &[("FOO", "xxyy")], Some("xxyy")),
        ("${FOO#?\\?}", &[("FOO", "???y")], Some("?y")),
        ("${ABC:-.}${FOO%x}${ABC:-.}", &[("FOO", "xxyy")], Some(".xxyy.")),
        ("${FOO%%\\**\\*}", &[("FOO", "a***yy*")], Some("a")),
        ("${FOO%}", &[("FOO", "xxyy")], Some("xxyy")),
        ("${FOO%%$BAR}", &[("FOO", "xxyy"), ("BAR", "")], Some("xxyy")),
        ("${FOO:#}", &[], None),
        ("${FOO:##}", &[], None),
        ("${FOO:%}", &[], None),
        ("${FOO:%%}", &[], None),
        (
            "${FOO/$NEEDLE/.} - ${FOO//$NEEDLE/.}",
            &[("FOO", "/foo*/*/*.txt"), ("NEEDLE", "\\*/")],
            Some("/foo.*/*.txt - /foo..*.txt"),
        ),
        (
            "${FOO/$NEEDLE/} - ${FOO//$NEEDLE/}",
            &[("FOO", "/tmp/tmp/bar.txt"), ("NEEDLE", "/tmp")],
            Some("/tmp/bar.txt - /bar.txt"),
        ),
        (
            "${FOO/$NEEDLE/$REPLACEMENT} - ${FOO//$NEEDLE/$REPLACEMENT}",
            &[("FOO", "/a/foo/b/c.txt"), ("NEEDLE", "/?/"), ("REPLACEMENT", "/")],
            Some("/foo/b/c.txt - /foo/c.txt"),
        ),
        (
            "${FOO/$NEEDLE/$REPLACEMENT}",
            &[("FOO", "http://google.de"), ("NEEDLE", "http://"), ("REPLACEMENT", "https://")],
            Some("https://google.de"),
        ),
        ("${FOO//\\//\\/}", &[("FOO", "/tmp/foo.txt")], Some("\\/tmp\\/foo.txt")),
        ("${FOO/$BAR/ww}", &[("FOO", "xxyy"), ("BAR", "")], Some("wwxxyy")),
        ("${FOO//ww}", &[("FOO", "xxyy")], None),
        ("${FOO//}", &[("FOO", "xxyy")], None),
        ("${FOO///}", &[("FOO", "xxyy")], Some("xxyy")),
        ("${FOO///}", &[], Some("")),
        (
            "something-${VERSION}.${TARGETOS}-${TARGETARCH}${TARGETVARIANT:+-${TARGETVARIANT}}.tar.gz",
            &[("VERSION", "v1.2.3"), ("TARGETOS", "linux"), ("TARGETARCH", "arm"), ("TARGETVARIANT", "v7")],
            Some("something-v1.2.3.linux-arm-v7.tar.gz"),
        ),
        (
            "something-${VERSION}.${TARGETOS}-${TARGETARCH}${TARGETVARIANT:+-${TARGETVARIANT}}.tar.gz",
            &[("VERSION", "v1.2.3"), ("TARGETOS", "linux"), ("TARGETARCH", "arm64"), ("TARGETVARIANT", "")],
            Some("something-v1.2.3.linux-arm64.tar.gz"),
        ),
    ];
    for (input, vars, want) in cases {
        assert_eq!(
            word(input, &env(vars)).as_deref(),
            *want,
            "{input} {vars:?}"
        );
    }
}

#[test]
fn error_messages() {
    let vars = env(&[("ARG", "x"), ("EMPTY", "")]);
    let message = |input: &str| {
        expand(input, '\\', &|k| vars.get(k).cloned())
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        message("${VAR:?message here$ARG}"),
        "failed to process \"${VAR:?message here$ARG}\": VAR: message herex"
    );
    assert_eq!(
        message("${VAR?}"),
        "failed to process \"${VAR?}\": VAR: is not allowed to be unset"
    );
    assert_eq!(
        message("${EMPTY:?}"),
        "failed to process \"${EMPTY:?}\": EMPTY: is not allowed to be empty"
    );
    assert_eq!(
        message("'abc"),
        "failed to process \"'abc\": unexpected end of statement while looking for matching single-quote"
    );
    assert_eq!(
        message("${}"),
        "failed to process \"${}\": syntax error: bad substitution"
    );
    assert_eq!(
        message("${X"),
        "failed to process \"${X\": syntax error: missing '}'"
    );
    assert_eq!(
        message("${X:=y}"),
        "failed to process \"${X:=y}\": unsupported modifier (:=) in substitution"
    );
    let e = expand("${X?}", '\\', &|_| None).unwrap_err().at_line(4);
    assert_eq!(e.line(), 4);
    assert!(e.to_string().starts_with("Dockerfile:4: failed to process"));
}

#[test]
fn backtick_escape() {
    let vars = env(&[("X", "1")]);
    let w = |input: &str| expand(input, '`', &|k| vars.get(k).cloned()).unwrap();
    assert_eq!(w("c:\\dir\\$X"), "c:\\dir\\1");
    assert_eq!(w("a` b`$X"), "a b$X");
    assert_eq!(w("\"a`\"b\""), "a\"b");
    assert_eq!(w("\"a\\b\""), "a\\b");
    assert_eq!(
        expand_words("a` b c", '`', &|_| None).unwrap(),
        strs(&["a b", "c"])
    );
}

#[test]
fn heredoc_expansion_keeps_quotes() {
    let vars = env(&[("NAME", "me")]);
    let got = expand_heredoc("echo \"$NAME\" '${NAME}' \\$NAME\n", &|k| {
        vars.get(k).cloned()
    })
    .unwrap();
    assert_eq!(got, "echo \"me\" 'me' $NAME\n");
}
