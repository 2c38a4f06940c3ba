//! Tables from moby/patternmatcher's and ignorefile's tests, plus the context walk's
//! treatment of excluded directories.

use super::*;

fn ignore(patterns: &[&str]) -> DockerIgnore {
    DockerIgnore::from_patterns(patterns.iter().copied()).unwrap()
}

/// patternmatcher's TestMatches table (one pattern each).
#[test]
fn single_patterns() {
    let cases: &[(&str, &str, bool)] = &[
        ("**", "file", true),
        ("**", "file/", true),
        ("**/", "file", true),
        ("**/", "file/", true),
        ("**", "dir/file", true),
        ("**/", "dir/file", true),
        ("**", "dir/file/", true),
        ("**/**", "dir/file", true),
        ("**/**", "dir/file/", true),
        ("dir/**", "dir/file", true),
        ("dir/**", "dir/file/", true),
        ("dir/**", "dir/dir2/file", true),
        ("dir/**", "dir/dir2/file/", true),
        ("**/dir", "dir", true),
        ("**/dir", "dir/file", true),
        ("**/dir2/*", "dir/dir2/file", true),
        ("**/dir2/*", "dir/dir2/file/", true),
        ("**/dir2/**", "dir/dir2/dir3/file", true),
        ("**/dir2/**", "dir/dir2/dir3/file/", true),
        ("**file", "file", true),
        ("**file", "dir/file", true),
        ("**/file", "dir/file", true),
        ("**file", "dir/dir/file", true),
        ("**/file", "dir/dir/file", true),
        ("**/file*", "dir/dir/file", true),
        ("**/file*", "dir/dir/file.txt", true),
        ("**/file*txt", "dir/dir/file.txt", true),
        ("**/file*.txt", "dir/dir/file.txt", true),
        ("**/file*.txt*", "dir/dir/file.txt", true),
        ("**/**/*.txt", "dir/dir/file.txt", true),
        ("**/**/*.txt2", "dir/dir/file.txt", false),
        ("**/*.txt", "file.txt", true),
        ("**/**/*.txt", "file.txt", true),
        ("a**/*.txt", "a/file.txt", true),
        ("a**/*.txt", "a/dir/file.txt", true),
        ("a**/*.txt", "a/dir/dir/file.txt", true),
        ("a/*.txt", "a/dir/file.txt", false),
        ("a/*.txt", "a/file.txt", true),
        ("a/*.txt**", "a/file.txt", true),
        ("a[b-d]e", "ae", false),
        ("a[b-d]e", "ace", true),
        ("a[b-d]e", "aae", false),
        ("a[^b-d]e", "aze", true),
        (".*", ".foo", true),
        (".*", "foo", false),
        ("abc.def", "abcdef", false),
        ("abc.def", "abc.def", true),
        ("abc.def", "abcZdef", false),
        ("abc?def", "abcZdef", true),
        ("abc?def", "abcdef", false),
        ("a\\\\", "a\\", true),
        ("**/foo/bar", "foo/bar", true),
        ("**/foo/bar", "dir/foo/bar", true),
        ("**/foo/bar", "dir/dir2/foo/bar", true),
        ("abc/**", "abc", false),
        ("abc/**", "abc/def", true),
        ("abc/**", "abc/def/ghi", true),
        ("**/.foo", ".foo", true),
        ("**/.foo", "bar.foo", false),
        ("a(b)c/def", "a(b)c/def", true),
        ("a(b)c/def", "a(b)c/xyz", false),
        ("a.|)$(}+{bc", "a.|)$(}+{bc", true),
        (
            "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
            "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
            true,
        ),
        (
            "dist/*.whl",
            "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
            true,
        ),
        ("a\\*b", "a*b", true),
        // the filepath.Match table, where a matching parent directory counts
        ("*", "abc", true),
        ("a*", "ab/c", true),
        ("a*/b", "abc/b", true),
        ("a*/b", "a/c/b", false),
        ("a*b*c*d*e*/f", "axbxcxdxe/f", true),
        ("a*b*c*d*e*/f", "axbxcxdxexxx/f", true),
        ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", false),
        ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", false),
        ("a*b?c*x", "abxbbxdbxebxczzx", true),
        ("ab[^c]", "abc", false),
        ("ab[^e-g]", "abc", true),
        ("a?b", "a☺b", true),
        ("a[^a]b", "a☺b", true),
        ("a???b", "a☺b", false),
        ("[a-ζ]*", "α", true),
        ("*[a-ζ]", "A", false),
        ("a?b", "a/b", false),
        ("[\\]a]", "]", true),
        ("[x\\-]", "-", true),
        ("[\\-x]", "a", false),
        ("*x", "xxx", true),
        // the root is never excluded
        ("*", ".", false),
        ("**", "", false),
    ];
    for (pattern, path, want) in cases {
        assert_eq!(
            ignore(&[pattern]).is_excluded(path),
            *want,
            "{pattern} {path}"
        );
    }
}

#[test]
fn exceptions() {
    let cases: &[(&[&str], &str, bool)] = &[
        (&["*"], "fileutils.go", true),
        (&["*.go"], "fileutils.go", true),
        (&["!fileutils.go", "*.go"], "fileutils.go", true),
        (&["*.go", "!fileutils.go"], "fileutils.go", false),
        (&["docs", "!docs/README.md"], "docs/README.md", false),
        (&["docs/", "!docs/README.md"], "docs/README.md", false),
        (&["docs/*", "!docs/README.md"], "docs/README.md", false),
        (&["docs", "!docs/README.md"], "docs/other.md", true),
        (&["**", "!util/docker/web"], "util/docker/web/foo", false),
        (
            &["**", "!util/docker/web", "util/docker/web/foo"],
            "util/docker/web/foo",
            true,
        ),
        (
            &["**", "!dist/*.whl"],
            "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
            false,
        ),
        (&["docs", "  !docs/README.md"], "docs/README.md", false),
        (&["docs", "!docs/README.md  "], "docs/README.md", false),
        // The walk skips an excluded directory unless an exception starts with its path:
        // `!**/keep` cannot reach into `dir`.
        (&["dir", "!**/keep"], "dir/keep", true),
        (&["dir", "!dir/sub/keep"], "dir/sub/keep", false),
        (&["dir", "!dir/sub/keep"], "dir/sub/other", true),
        (&["*", "!*/keep"], "a/keep", true),
    ];
    for (patterns, path, want) in cases {
        assert_eq!(
            ignore(patterns).is_excluded(path),
            *want,
            "{patterns:?} {path}"
        );
    }
}

#[test]
fn descending_into_excluded_directories() {
    let di = ignore(&["dir", "!dir/sub/keep"]);
    assert!(di.may_include_below("dir"));
    assert!(di.may_include_below("dir/sub"));
    assert!(di.may_include_below("dir/sub/keep"));
    assert!(!di.may_include_below("dir/other"));
    assert!(!di.may_include_below("di"));
    assert!(!ignore(&["dir"]).may_include_below("dir"));
    assert!(!ignore(&["dir", "!**/keep"]).may_include_below("dir"));
}

#[test]
fn reads_the_file() {
    // ignorefile's TestReadAll, with the "!" lines left out (they are errors).
    let text =
        "test1\n/test2\n/a/file/here\n\nlastfile\n# this is a comment\n! /inverted/abs/path\n";
    let di = DockerIgnore::parse(text).unwrap();
    let got: Vec<(String, bool)> = di
        .patterns
        .iter()
        .map(|p| (p.text.clone(), p.exclusion))
        .collect();
    let want: Vec<(String, bool)> = [
        ("test1", false),
        ("test2", false),
        ("a/file/here", false),
        ("lastfile", false),
        ("inverted/abs/path", true),
    ]
    .iter()
    .map(|(t, e)| (t.to_string(), *e))
    .collect();
    assert_eq!(got, want);

    let di =
        DockerIgnore::parse("\u{feff}*.log\r\n  # not a comment  \n./build/../out/\n").unwrap();
    assert!(di.is_excluded("x.log"));
    assert!(di.is_excluded("# not a comment"));
    assert!(di.is_excluded("out/x"));
    assert!(!di.is_excluded("build"));
    assert!(DockerIgnore::empty().is_empty());
    assert!(!DockerIgnore::empty().is_excluded("anything"));
}

#[test]
fn refused_files() {
    assert_eq!(
        DockerIgnore::parse("a\n!\n").unwrap_err(),
        DockerIgnoreError::IllegalExclusion { line: 2 }
    );
    assert_eq!(
        DockerIgnore::parse("! \n").unwrap_err().to_string(),
        ".dockerignore:1: illegal exclusion pattern: \"!\""
    );
    assert_eq!(
        DockerIgnore::parse("ok\n[\n").unwrap_err(),
        DockerIgnoreError::BadPattern {
            line: 2,
            pattern: "[".into()
        }
    );
    for bad in [
        "[]a]",
        "[-]",
        "[x-]",
        "\\",
        "[a-b-c]",
        "[^",
        "a[",
        "[Local-Only]/",
    ] {
        assert!(DockerIgnore::parse(bad).is_err(), "{bad}");
    }
}
