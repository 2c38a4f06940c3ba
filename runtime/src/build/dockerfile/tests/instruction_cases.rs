//! The second pass: each instruction's typed result.

use std::time::Duration;

use super::{kind, kinds, strs};
use crate::build::dockerfile::*;

fn shell(s: &str) -> ShellOrExec {
    ShellOrExec::Shell(s.into())
}

fn exec(v: &[&str]) -> ShellOrExec {
    ShellOrExec::Exec(strs(v))
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn run(command: ShellOrExec) -> InstructionKind {
    InstructionKind::Run {
        command,
        heredocs: vec![],
        network: None,
    }
}

#[test]
fn simple_instructions() {
    use InstructionKind as K;
    let cases: Vec<(&str, InstructionKind)> = vec![
        (
            "RUN apt-get update && apt-get install -y x",
            run(shell("apt-get update && apt-get install -y x")),
        ),
        ("run [\"echo\", \"hi\"]", run(exec(&["echo", "hi"]))),
        ("RUN", run(exec(&[]))),
        (
            "RUN [\"echo\", \"a\" ] x",
            run(shell("[\"echo\", \"a\" ] x")),
        ),
        ("CMD echo $HOME", K::Cmd(shell("echo $HOME"))),
        ("CMD []", K::Cmd(exec(&[]))),
        ("CMD", K::Cmd(exec(&[]))),
        (
            "ENTRYPOINT [\"/bin/sh\", \"-c\"]",
            K::Entrypoint(exec(&["/bin/sh", "-c"])),
        ),
        ("ENTRYPOINT top -b", K::Entrypoint(shell("top -b"))),
        (
            "SHELL [\"/bin/bash\", \"-c\"]",
            K::Shell(strs(&["/bin/bash", "-c"])),
        ),
        (
            "ENV PATH /usr/bin:$PATH",
            K::Env(pairs(&[("PATH", "/usr/bin:$PATH")])),
        ),
        (
            "ENV k  v with  spaces",
            K::Env(pairs(&[("k", "v with  spaces")])),
        ),
        (
            "ENV a=1 b=\"2 3\" c=",
            K::Env(pairs(&[("a", "1"), ("b", "\"2 3\""), ("c", "")])),
        ),
        (
            "LABEL version=1.0 \"com.x\"=\"y z\"",
            K::Label(pairs(&[("version", "1.0"), ("\"com.x\"", "\"y z\"")])),
        ),
        (
            "LABEL maintainer Someone <a@b>",
            K::Label(pairs(&[("maintainer", "Someone <a@b>")])),
        ),
        (
            "ARG a b=2 c=\"x y\"",
            K::Arg(vec![
                ArgDecl {
                    name: "a".into(),
                    default: None,
                },
                ArgDecl {
                    name: "b".into(),
                    default: Some("2".into()),
                },
                ArgDecl {
                    name: "c".into(),
                    default: Some("\"x y\"".into()),
                },
            ]),
        ),
        (
            "ARG --ignored-flag x",
            K::Arg(vec![ArgDecl {
                name: "x".into(),
                default: None,
            }]),
        ),
        ("WORKDIR /app dir", K::Workdir("/app dir".into())),
        ("USER 1000:1000", K::User("1000:1000".into())),
        (
            "EXPOSE 80/tcp 53/udp 443",
            K::Expose(strs(&["443", "53/udp", "80/tcp"])),
        ),
        ("EXPOSE $PORT", K::Expose(strs(&["$PORT"]))),
        ("VOLUME /a /b", K::Volume(strs(&["/a", "/b"]))),
        (
            "VOLUME [\"/data\", \" /x \"]",
            K::Volume(strs(&["/data", "/x"])),
        ),
        ("STOPSIGNAL SIGKILL", K::StopSignal("SIGKILL".into())),
        // Flags are split off every instruction, but STOPSIGNAL does not check them.
        ("STOPSIGNAL --x 9", K::StopSignal("9".into())),
        ("MAINTAINER Jane <j@x>", K::Maintainer("Jane <j@x>".into())),
        ("ONBUILD RUN echo hi", K::Onbuild("RUN echo hi".into())),
        ("onbuild  add . /app", K::Onbuild("add . /app".into())),
        ("ONBUILD RUNN x", K::Onbuild("RUNN x".into())),
        ("HEALTHCHECK NONE", K::Healthcheck(HealthcheckInstr::None)),
        (
            "HEALTHCHECK --interval=5s none",
            K::Healthcheck(HealthcheckInstr::None),
        ),
    ];
    for (line, want) in cases {
        assert_eq!(kind(line), want, "{line}");
    }
}

#[test]
fn run_flags_and_heredocs() {
    let k = kind("RUN --network=none apk add x");
    assert_eq!(
        k,
        InstructionKind::Run {
            command: shell("apk add x"),
            heredocs: vec![],
            network: Some("none".into()),
        }
    );
    let all = kinds("FROM x\nRUN <<EOF\necho $HOME\nEOF\nRUN <<-'EOT' bash\n\techo a\n\t\techo b\n\tEOT\nRUN cat <<A <<\"B\" > f\n1\nA\n2\nB\n");
    let heredocs: Vec<Vec<Heredoc>> = all
        .into_iter()
        .map(|k| match k {
            InstructionKind::Run { heredocs, .. } => heredocs,
            other => panic!("{other:?}"),
        })
        .collect();
    let h = |name: &str, content: &str, expand: bool, chomp_tabs: bool| Heredoc {
        name: name.into(),
        content: content.into(),
        expand,
        chomp_tabs,
    };
    assert_eq!(
        heredocs,
        vec![
            vec![h("EOF", "echo $HOME\n", true, false)],
            vec![h("EOT", "echo a\necho b\n", false, true)],
            vec![h("A", "1\n", true, false), h("B", "2\n", false, false)],
        ]
    );
}

#[test]
fn copy_and_add() {
    let k = kind("COPY --from=builder --chown=1000:1000 --chmod=0755 --link --exclude=*.md --exclude=tmp a b /dest/");
    assert_eq!(
        k,
        InstructionKind::Copy(CopyInstr {
            sources: strs(&["a", "b"]),
            dest: "/dest/".into(),
            from: Some("builder".into()),
            chown: Some("1000:1000".into()),
            chmod: Some("0755".into()),
            link: true,
            exclude: strs(&["*.md", "tmp"]),
            ..CopyInstr::default()
        })
    );
    assert_eq!(
        kind("ADD [\"a b\", \"/c d/\"]"),
        InstructionKind::Add(CopyInstr {
            sources: strs(&["a b"]),
            dest: "/c d/".into(),
            ..CopyInstr::default()
        })
    );
    assert_eq!(
        kind("ADD --checksum=sha256:abc --keep-git-dir=false --unpack https://x/y.tgz /y"),
        InstructionKind::Add(CopyInstr {
            sources: strs(&["https://x/y.tgz"]),
            dest: "/y".into(),
            checksum: Some("sha256:abc".into()),
            keep_git_dir: Some(false),
            unpack: Some(true),
            ..CopyInstr::default()
        })
    );
    let all =
        kinds("FROM x\nCOPY <<one.txt <<-\"two\" plain /dest/\nhello $X\none.txt\n\tworld\ntwo\n");
    let InstructionKind::Copy(copy) = &all[0] else {
        panic!("{all:?}")
    };
    assert_eq!(copy.sources, strs(&["plain"]));
    assert_eq!(copy.dest, "/dest/");
    let docs: Vec<(&str, &str, bool)> = copy
        .heredocs
        .iter()
        .map(|h| (h.name.as_str(), h.content.as_str(), h.expand))
        .collect();
    assert_eq!(
        docs,
        [("one.txt", "hello $X\n", true), ("two", "world\n", false)]
    );
}

#[test]
fn healthcheck() {
    assert_eq!(
        kind("HEALTHCHECK --interval=30s --timeout=1m30s --start-period=500ms --start-interval=2s --retries=5 CMD curl -f http://localhost/"),
        InstructionKind::Healthcheck(HealthcheckInstr::Check {
            test: shell("curl -f http://localhost/"),
            interval: Some(Duration::from_secs(30)),
            timeout: Some(Duration::from_secs(90)),
            start_period: Some(Duration::from_millis(500)),
            start_interval: Some(Duration::from_secs(2)),
            retries: Some(5),
        })
    );
    assert_eq!(
        kind("HEALTHCHECK --start-period=0s --timeout=0s --retries=0 cmd [\"foo\"]"),
        InstructionKind::Healthcheck(HealthcheckInstr::Check {
            test: exec(&["foo"]),
            interval: None,
            timeout: None,
            start_period: None,
            start_interval: None,
            retries: None,
        })
    );
}

#[test]
fn stages_and_global_args() {
    let df = parse(
        "# syntax=docker/dockerfile:1\nARG BASE=alpine\nARG TAG\nFROM --platform=$BUILDPLATFORM ${BASE}:${TAG} AS Build\n\
RUN make\nFROM scratch\nCOPY --from=build /out /\n",
    )
    .unwrap();
    assert_eq!(
        df.global_args,
        vec![
            ArgDecl {
                name: "BASE".into(),
                default: Some("alpine".into())
            },
            ArgDecl {
                name: "TAG".into(),
                default: None
            },
        ]
    );
    assert_eq!(df.stages.len(), 2);
    let first = &df.stages[0];
    assert_eq!(first.index, 0);
    assert_eq!(
        first.from,
        FromInstr {
            image: "${BASE}:${TAG}".into(),
            name: Some("build".into()),
            platform: Some("$BUILDPLATFORM".into()),
            line: 4,
            original: "FROM --platform=$BUILDPLATFORM ${BASE}:${TAG} AS Build".into(),
        }
    );
    assert_eq!(first.instructions.len(), 1);
    assert_eq!(first.instructions[0].line, 5);
    assert_eq!(first.instructions[0].original, "RUN make");
    assert_eq!(df.stages[1].index, 1);
    assert_eq!(df.stages[1].from.name, None);
    assert_eq!(df.stages[1].from.line, 6);
    // ARGs after the first FROM belong to the stage.
    assert_eq!(kinds("FROM x\nARG A\n").len(), 1);
    // Only ARGs: no stage (the builder says "No image was generated").
    assert!(parse("ARG A=1\n").unwrap().stages.is_empty());
}

#[test]
fn originals_and_lines() {
    let df = parse(
        "FROM x\n\nRUN apt-get update && \\\n    apt-get install x\n# c\nENV A=1 \\\n  B=2\n",
    )
    .unwrap();
    let got: Vec<(usize, &str)> = df.stages[0]
        .instructions
        .iter()
        .map(|i| (i.line, i.original.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (3, "RUN apt-get update &&     apt-get install x"),
            (6, "ENV A=1   B=2"),
        ]
    );
    assert_eq!(
        kind("ONBUILD RUN <<EOF\necho hi\nEOF"),
        InstructionKind::Onbuild("RUN <<EOF\necho hi\nEOF".into())
    );
    assert_eq!(kind("RUN echo").name(), "RUN");
}
