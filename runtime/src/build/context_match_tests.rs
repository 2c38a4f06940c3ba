//! COPY sources against a context directory made for each test.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use super::*;

/// A context with files (`name`), directories (`name/`) and links (`name -> target`).
fn context(entries: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in entries {
        let root = dir.path();
        if let Some((link, target)) = entry.split_once(" -> ") {
            symlink(target, root.join(link)).unwrap();
        } else if let Some(d) = entry.strip_suffix('/') {
            fs::create_dir_all(root.join(d)).unwrap();
        } else {
            let path = root.join(entry);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, entry).unwrap();
        }
    }
    dir
}

fn found(root: &Path, pattern: &str, ignore: &DockerIgnore) -> Result<Vec<String>, String> {
    resolve_sources(root, pattern, ignore)
        .map(|v| v.iter().map(|p| p.to_string_lossy().into_owned()).collect())
        .map_err(|e| e.to_string())
}

const TREE: &[&str] = &[
    "a.txt",
    "b.txt",
    "c.md",
    "dir/x.txt",
    "dir/sub/y.txt",
    "dir2/",
    "file*star",
    "link -> dir",
    "abs -> /dir/x.txt",
    "up -> ../../../dir/sub",
    "dangling -> nowhere",
];

#[test]
fn single_paths() {
    let ctx = context(TREE);
    let none = DockerIgnore::empty();
    let cases: &[(&str, Result<&[&str], &str>)] = &[
        ("a.txt", Ok(&["a.txt"])),
        ("/a.txt", Ok(&["a.txt"])),
        ("./a.txt", Ok(&["a.txt"])),
        ("dir/", Ok(&["dir"])),
        (".", Ok(&["."])),
        ("dir/../b.txt", Ok(&["b.txt"])),
        ("link/sub/y.txt", Ok(&["link/sub/y.txt"])),
        ("abs", Ok(&["abs"])),
        ("up/y.txt", Ok(&["up/y.txt"])),
        ("file\\*star", Err("file not found in build context or excluded by .dockerignore: stat file\\*star: file does not exist")),
        ("nope", Err("file not found in build context or excluded by .dockerignore: stat nope: file does not exist")),
        ("dangling", Err("file not found in build context or excluded by .dockerignore: stat dangling: file does not exist")),
        ("a.txt/x", Err("file not found in build context or excluded by .dockerignore: stat a.txt/x: file does not exist")),
        ("../x", Err("forbidden path outside the build context: ../x ()")),
        ("dir/../../x", Err("forbidden path outside the build context: dir/../../x ()")),
        ("//../x", Err("forbidden path outside the build context: /../x ()")),
        ("..", Err("forbidden path outside the build context: .. ()")),
    ];
    for (pattern, want) in cases {
        let want = want
            .map(|v| v.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .map_err(String::from);
        assert_eq!(found(ctx.path(), pattern, &none), want, "{pattern}");
    }
}

#[test]
fn links_resolve_inside_the_context() {
    let ctx = context(TREE);
    let none = DockerIgnore::empty();
    let real = |rel: &str| resolve_in_context(ctx.path(), rel, &none).unwrap();
    assert_eq!(real("abs"), PathBuf::from("dir/x.txt"));
    assert_eq!(real("up/y.txt"), PathBuf::from("dir/sub/y.txt"));
    assert_eq!(real("link/sub"), PathBuf::from("dir/sub"));
    assert_eq!(real("."), PathBuf::from("."));
    let loops = context(&["a -> b", "b -> a"]);
    assert!(matches!(
        resolve_in_context(loops.path(), "a", &none),
        Err(ContextError::TooManyLinks { .. })
    ));
}

#[test]
fn globs() {
    let ctx = context(TREE);
    let none = DockerIgnore::empty();
    let cases: &[(&str, Result<&[&str], &str>)] = &[
        ("*.txt", Ok(&["a.txt", "b.txt"])),
        ("/*.txt", Ok(&["a.txt", "b.txt"])),
        ("./[ab].txt", Ok(&["a.txt", "b.txt"])),
        ("?.md", Ok(&["c.md"])),
        ("dir*", Ok(&["dir", "dir2"])),
        ("*/*.txt", Ok(&["dir/x.txt"])),
        ("dir/*/*", Ok(&["dir/sub/y.txt"])),
        ("file\\**", Ok(&["file*star"])),
        ("*.none", Err("no source files were specified")),
        ("dan*", Err("file not found in build context or excluded by .dockerignore: stat dangling: file does not exist")),
    ];
    for (pattern, want) in cases {
        let want = want
            .map(|v| v.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .map_err(String::from);
        assert_eq!(found(ctx.path(), pattern, &none), want, "{pattern}");
    }
    let e = resolve_sources(ctx.path(), "*.none", &none).unwrap_err();
    assert_eq!(e.pattern(), "*.none");
}

#[test]
fn dockerignore_hides_files() {
    let ctx = context(&[
        "a.txt",
        "b.log",
        "dir/keep.txt",
        "dir/drop.txt",
        "other/x",
        "link -> other",
    ]);
    let ignore = DockerIgnore::parse("*.log\ndir\n!dir/keep.txt\nother\n").unwrap();
    let not_found = |p: &str| {
        Err(format!(
            "file not found in build context or excluded by .dockerignore: stat {p}: file does not exist"
        ))
    };
    let ok = |v: &[&str]| Ok(v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    assert_eq!(found(ctx.path(), "b.log", &ignore), not_found("b.log"));
    assert_eq!(
        found(ctx.path(), "dir/drop.txt", &ignore),
        not_found("dir/drop.txt")
    );
    assert_eq!(
        found(ctx.path(), "dir/keep.txt", &ignore),
        ok(&["dir/keep.txt"])
    );
    // The excluded directory exists, holding only what is re-included.
    assert_eq!(found(ctx.path(), "dir", &ignore), ok(&["dir"]));
    // The link is in the context, its target is not: Docker fails on it as a glob match.
    assert_eq!(found(ctx.path(), "*", &ignore), not_found("link"));
    assert_eq!(found(ctx.path(), "[ad]*", &ignore), ok(&["a.txt", "dir"]));
    assert_eq!(found(ctx.path(), "dir/*", &ignore), ok(&["dir/keep.txt"]));
    assert_eq!(found(ctx.path(), "other", &ignore), not_found("other"));
    // A link into an excluded directory finds nothing there.
    assert_eq!(found(ctx.path(), "link/x", &ignore), not_found("link/x"));
    assert_eq!(
        found(ctx.path(), "*.log", &ignore),
        Err("no source files were specified".into())
    );
}
