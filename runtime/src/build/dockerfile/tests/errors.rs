//! Dockerfiles Docker refuses, with Docker's messages and the line.

use super::error;
use crate::build::dockerfile::DockerfileError;

#[test]
fn refused_with_dockers_words() {
    let cases: &[(&str, &str)] = &[
        // buildkit's testfiles-negative
        ("", "file with no instructions"),
        ("# Hello\n# These are just comments\n\n", "file with no instructions"),
        ("FROM busybox\n\nENV PATH\n", "ENV must have two arguments"),
        ("CMD [ \"echo\", [ \"nested json\" ] ]\n", "when using JSON array syntax, arrays must be comprised of strings only"),
        // parser
        ("# escape=x\nFROM a\n", "invalid escape token 'x' does not match ` or \\"),
        ("# escape=`\n# escape=\\\nFROM a\n", "only one escape parser directive can be used"),
        ("FROM a\nRUN <<EOF\nnever ends\n", "unterminated heredoc"),
        // A line that does not lex opens no heredoc: the body is an instruction.
        ("FROM a\nRUN <<'EOF\nx\n", "unknown instruction: x"),
        ("FROM a\nLABEL a=b c\n", "Syntax error - can't find = in \"c\". Must be of the form: name=value"),
        // instructions
        ("FROM a\nRUNN x\n", "unknown instruction: RUNN (did you mean RUN?)"),
        ("FROM a\ncopyy a b\n", "unknown instruction: copyy (did you mean copy?)"),
        ("FROM a\nFROBNICATE\n", "unknown instruction: FROBNICATE"),
        ("RUN x\n", "no build stage in current context"),
        ("ARG A\nENV B=1\nFROM x\n", "no build stage in current context"),
        ("FROM\n", "FROM requires either one or three arguments"),
        ("FROM a b\n", "FROM requires either one or three arguments"),
        ("FROM a AS 1st\n", "invalid name for build stage: \"1st\", name can't start with a number or contain symbols"),
        ("FROM a AS b/c\n", "invalid name for build stage: \"b/c\", name can't start with a number or contain symbols"),
        ("FROM --platfrom=x a\n", "unknown flag: --platfrom (did you mean platform?)"),
        ("FROM --plat=x a\n", "unknown flag: --plat"),
        ("FROM a\nCOPY --xyz=1 a b\n", "unknown flag: --xyz"),
        ("FROM a\nCOPY --chwon=1 a b\n", "unknown flag: --chwon (did you mean chown?)"),
        ("FROM a\nADD --from=x a b\n", "unknown flag: --from"),
        ("FROM a\nCOPY a\n", "COPY requires at least two arguments, but only one was provided. Destination could not be determined"),
        ("FROM a\nADD a\n", "ADD requires at least two arguments, but only one was provided. Destination could not be determined"),
        ("FROM a\nCOPY a <<EOF\nx\nEOF\n", "COPY cannot accept a heredoc as a destination"),
        ("FROM a\nCOPY --from a b\n", "missing a value on flag: --from"),
        ("FROM a\nCOPY --link=maybe a b\n", "expecting boolean value for flag --link, not: maybe"),
        ("FROM a\nCOPY --from=a --from=b a b\n", "duplicate flag specified: --from"),
        ("FROM a\nENV\n", "ENV requires at least one argument"),
        ("FROM a\nENV =x\n", "ENV names can not be blank"),
        ("FROM a\nLABEL\n", "LABEL requires at least one argument"),
        ("FROM a\nENV --x=1 A=b\n", "unknown flag: --x"),
        ("FROM a\nARG\n", "ARG requires at least one argument"),
        ("FROM a\nARG =x\n", "ARG names can not be blank"),
        ("FROM a\nWORKDIR\n", "WORKDIR requires exactly one argument"),
        ("FROM a\nUSER\n", "USER requires exactly one argument"),
        ("FROM a\nMAINTAINER\n", "MAINTAINER requires exactly one argument"),
        ("FROM a\nSTOPSIGNAL\n", "STOPSIGNAL requires exactly one argument"),
        ("FROM a\nEXPOSE\n", "EXPOSE requires at least one argument"),
        ("FROM a\nVOLUME\n", "VOLUME requires at least one argument"),
        ("FROM a\nVOLUME [\"\"]\n", "VOLUME specified can not be an empty string"),
        ("FROM a\nSHELL /bin/sh -c\n", "SHELL requires the arguments to be in JSON form"),
        ("FROM a\nSHELL []\n", "SHELL requires at least one argument"),
        ("FROM a\nONBUILD\n", "ONBUILD requires at least one argument"),
        ("FROM a\nONBUILD ONBUILD RUN x\n", "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),
        ("FROM a\nONBUILD FROM x\n", "FROM isn't allowed as an ONBUILD trigger"),
        ("FROM a\nONBUILD maintainer x\n", "MAINTAINER isn't allowed as an ONBUILD trigger"),
        ("FROM a\nHEALTHCHECK\n", "HEALTHCHECK requires at least one argument"),
        ("FROM a\nHEALTHCHECK NONE x\n", "HEALTHCHECK NONE takes no arguments"),
        ("FROM a\nHEALTHCHECK CMD\n", "Missing command after HEALTHCHECK CMD"),
        ("FROM a\nHEALTHCHECK CONNECT TCP 7000\n", "Unknown type \"CONNECT\" in HEALTHCHECK (try CMD)"),
        ("FROM a\nHEALTHCHECK --interval=1us CMD x\n", "Interval \"interval\" cannot be less than 1ms"),
        ("FROM a\nHEALTHCHECK --timeout=-1s CMD x\n", "Interval \"timeout\" cannot be less than 1ms"),
        ("FROM a\nHEALTHCHECK --interval=5 CMD x\n", "time: missing unit in duration \"5\""),
        ("FROM a\nHEALTHCHECK --retries=-1 CMD x\n", "--retries cannot be negative (-1)"),
        ("FROM a\nHEALTHCHECK --retires=1 CMD x\n", "unknown flag: --retires (did you mean retries?)"),
        ("FROM a\nRUN --network=bridge x\n", "invalid network mode \"bridge\""),
        ("FROM a\nRUN --mount=type=cache,target=/x make\n", "the --mount option requires BuildKit. Refer to https://docs.docker.com/go/buildkit/ to learn how to build images with BuildKit enabled"),
        ("FROM a\nRUN --security=insecure make\n", "the --security option requires BuildKit. Refer to https://docs.docker.com/go/buildkit/ to learn how to build images with BuildKit enabled"),
        ("FROM a\nRUN --security=bad make\n", "security \"bad\" is not valid"),
    ];
    for (text, want) in cases {
        assert_eq!(error(text).message(), *want, "{text}");
    }
}

#[test]
fn errors_name_their_line() {
    let cases: &[(&str, usize)] = &[
        ("FROM a\n\nRUNN x\n", 3),
        ("FROM a\nRUN a \\\n  b\nCOPY x\n", 4),
        ("FROM a\nRUN <<EOF\nx\n", 2),
        ("# escape=`\n# escape=`\nFROM a\n", 2),
        ("# a\n\nRUN x\n", 3),
        ("\n\n", 2),
    ];
    for (text, line) in cases {
        assert_eq!(error(text).line(), *line, "{text}");
    }
    assert_eq!(
        error("FROM a\n\nRUNN x\n").to_string(),
        "Dockerfile:3: unknown instruction: RUNN (did you mean RUN?)"
    );
    assert!(matches!(
        error("RUN x\n"),
        DockerfileError::NoBuildStage { line: 1 }
    ));
}

#[test]
fn first_pass_errors_come_first() {
    // The unknown instruction is on line 2, but the unterminated heredoc is reported.
    assert_eq!(
        error("FROM a\nRUNN x\nRUN <<EOF\n").message(),
        "unterminated heredoc"
    );
}

#[test]
fn too_long_line() {
    let text = format!("FROM a\nLABEL test={}\n", "a".repeat(64 * 1024));
    assert_eq!(
        error(&text).message(),
        "dockerfile line greater than max allowed size of 65535"
    );
}
