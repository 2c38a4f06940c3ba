//! The first pass: continuations, comments, directives, JSON forms, flags, heredoc bodies,
//! line numbers. Most tables are buildkit's parser testfiles with their expected dumps.

use super::{dump, strs};
use crate::build::dockerfile::{parse, scan};

/// (Dockerfile, Docker's dump of it)
const TESTFILES: &[(&str, &str)] = &[
    (
        // continueIndent
        "FROM ubuntu:14.04\n\nRUN echo hello\\\n  world\\\n  goodnight  \\\n  moon\\\n  light\\\nning\n\
RUN echo hello  \\\n  world\nRUN echo hello  \\\nworld\nRUN echo hello \\\ngoodbye\\\nfrog\n\
RUN echo hello  \\  \nworld\nRUN echo hi \\\n \\\n world \\\n\\\n good\\\n\\\nnight\n\
RUN echo goodbye\\\nfrog\nRUN echo good\\\nbye\\\nfrog\n\nRUN echo hello \\\n# this is a comment\n\n\
# this is a comment with a blank line surrounding it\n\nthis is some more useful stuff\n",
        "(from \"ubuntu:14.04\")\n\
(run \"echo hello  world  goodnight    moon  lightning\")\n\
(run \"echo hello    world\")\n\
(run \"echo hello  world\")\n\
(run \"echo hello goodbyefrog\")\n\
(run \"echo hello  world\")\n\
(run \"echo hi   world  goodnight\")\n\
(run \"echo goodbyefrog\")\n\
(run \"echo goodbyefrog\")\n\
(run \"echo hello this is some more useful stuff\")\n",
    ),
    (
        // escapes
        "FROM ubuntu:14.04\nLABEL maintainer Erik \\\\Hollensbe <erik@hollensbe.org>\\\"\n\n\
RUN apt-get \\update && \\\n  apt-get \\\"install znc -y\nADD \\conf\\\\\" /.znc\n\n\
RUN foo \\\n\nbar \\\n\nbaz\n\nCMD [ \"\\/usr\\\\\\\"/bin/znc\", \"-f\", \"-r\" ]\n",
        "(from \"ubuntu:14.04\")\n\
(label \"maintainer\" \"Erik \\\\\\\\Hollensbe <erik@hollensbe.org>\\\\\\\"\" \"\")\n\
(run \"apt-get \\\\update &&   apt-get \\\\\\\"install znc -y\")\n\
(add \"\\\\conf\\\\\\\\\\\"\" \"/.znc\")\n\
(run \"foo bar baz\")\n\
(cmd \"/usr\\\\\\\"/bin/znc\" \"-f\" \"-r\")\n",
    ),
    (
        // env
        "FROM ubuntu\nENV name value\nENV name=value\nENV name=value name2=value2\n\
ENV name=\"value value1\"\nENV name=value\\ value2\nENV name=\"value'quote space'value2\"\n\
ENV name='value\"double quote\"value2'\nENV name=value\\ value2 name2=value2\\ value3\n\
ENV name=\"a\\\"b\"\nENV name=\"a\\'b\"\nENV name='a\\'b'\nENV name='a\\'b''\nENV name='a\\\"b'\n\
ENV name=\"''\"\nENV name=value \\\n    name1=value1 \\\n    name2=\"value2a \\\n           value2b\" \\\n\
    name3=\"value3a\\n\\\"value3b\\\"\" \\\n\tname4=\"value4a\\\\nvalue4b\" \\\n",
        "(from \"ubuntu\")\n\
(env \"name\" \"value\" \"\")\n\
(env \"name\" \"value\" \"=\")\n\
(env \"name\" \"value\" \"=\" \"name2\" \"value2\" \"=\")\n\
(env \"name\" \"\\\"value value1\\\"\" \"=\")\n\
(env \"name\" \"value\\\\ value2\" \"=\")\n\
(env \"name\" \"\\\"value'quote space'value2\\\"\" \"=\")\n\
(env \"name\" \"'value\\\"double quote\\\"value2'\" \"=\")\n\
(env \"name\" \"value\\\\ value2\" \"=\" \"name2\" \"value2\\\\ value3\" \"=\")\n\
(env \"name\" \"\\\"a\\\\\\\"b\\\"\" \"=\")\n\
(env \"name\" \"\\\"a\\\\'b\\\"\" \"=\")\n\
(env \"name\" \"'a\\\\'b'\" \"=\")\n\
(env \"name\" \"'a\\\\'b''\" \"=\")\n\
(env \"name\" \"'a\\\\\\\"b'\" \"=\")\n\
(env \"name\" \"\\\"''\\\"\" \"=\")\n\
(env \"name\" \"value\" \"=\" \"name1\" \"value1\" \"=\" \"name2\" \"\\\"value2a            value2b\\\"\" \"=\" \"name3\" \"\\\"value3a\\\\n\\\\\\\"value3b\\\\\\\"\\\"\" \"=\" \"name4\" \"\\\"value4a\\\\\\\\nvalue4b\\\"\" \"=\")\n",
    ),
    (
        // trailing-backslash
        "# https://github.com/docker/for-win/issues/5254\n\nFROM hello-world\n\nENV A path\n\
ENV B another\\\\path\nENV C trailing\\\\backslash\\\\\nENV D This should not be appended to C\n\
ENV E hello\\\n\\\nworld\nENV F hello\\\n \\\nworld\nENV G hello \\\n\\\nworld\n",
        "(from \"hello-world\")\n\
(env \"A\" \"path\" \"\")\n\
(env \"B\" \"another\\\\\\\\path\" \"\")\n\
(env \"C\" \"trailing\\\\\\\\backslash\\\\\\\\\" \"\")\n\
(env \"D\" \"This should not be appended to C\" \"\")\n\
(env \"E\" \"helloworld\" \"\")\n\
(env \"F\" \"hello world\" \"\")\n\
(env \"G\" \"hello world\" \"\")\n",
    ),
    (
        // escape-after-comment: the directive after a comment is a comment
        "# Comment here. Should not be looking for the following parser directive.\n\
# Hence the following line will be ignored, and the subsequent backslash\n\
# continuation will be the default.\n# escape = `\n\nFROM image\nLABEL maintainer foo@bar.com\n\
ENV GOPATH \\\n\\go",
        "(from \"image\")\n(label \"maintainer\" \"foo@bar.com\" \"\")\n(env \"GOPATH\" \"\\\\go\" \"\")\n",
    ),
    (
        // escape-nonewline
        "# escape = `\n# There is no white space line after the directives. This still succeeds, but goes\n\
# against best practices.\nFROM image\nLABEL maintainer foo@bar.com\nENV GOPATH `\n\\go\n",
        "(from \"image\")\n(label \"maintainer\" \"foo@bar.com\" \"\")\n(env \"GOPATH\" \"\\\\go\" \"\")\n",
    ),
    (
        // escape-with-syntax
        "# syntax = docker/dockerfile\n# escape = `\n\nFROM `\n    image\n",
        "(from \"image\")\n",
    ),
    (
        // json
        "CMD []\nCMD [\"\"]\nCMD [\"a\"]\nCMD [\"a\",\"b\"]\nCMD [ \"a\", \"b\" ]\nCMD [\t\"a\",\t\"b\"\t]\n\
CMD\t[\t\"a\",\t\"b\"\t]\t\n\
CMD [\"abc 123\", \"♥\", \"☃\", \"\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u0000\"]\n",
        "(cmd)\n(cmd \"\")\n(cmd \"a\")\n(cmd \"a\" \"b\")\n(cmd \"a\" \"b\")\n(cmd \"a\" \"b\")\n\
(cmd \"a\" \"b\")\n(cmd \"abc 123\" \"♥\" \"☃\" \"\\\" \\\\ / \\b \\f \\n \\r \\t \\x00\")\n",
    ),
    (
        // health
        "FROM debian\nADD check.sh main.sh /app/\nCMD /app/main.sh\nHEALTHCHECK\n\
HEALTHCHECK --interval=5s --timeout=3s --retries=3 \\\n  CMD /app/check.sh --quiet\n\
HEALTHCHECK CMD\nHEALTHCHECK   CMD   a b\nHEALTHCHECK --timeout=3s CMD [\"foo\"]\n\
HEALTHCHECK CONNECT TCP 7000\n",
        "(from \"debian\")\n(add \"check.sh\" \"main.sh\" \"/app/\")\n(cmd \"/app/main.sh\")\n\
(healthcheck)\n\
(healthcheck [\"--interval=5s\" \"--timeout=3s\" \"--retries=3\"] \"CMD\" \"/app/check.sh --quiet\")\n\
(healthcheck \"CMD\")\n(healthcheck \"CMD\" \"a b\")\n(healthcheck [\"--timeout=3s\"] \"CMD\" \"foo\")\n\
(healthcheck \"CONNECT\" \"TCP 7000\")\n",
    ),
    (
        // flags
        "FROM scratch\nCOPY foo /tmp/\nCOPY --user=me foo /tmp/\nCOPY --doit=true foo /tmp/\n\
COPY --user=me --doit=true foo /tmp/\nCOPY --doit=true -- foo /tmp/\nCOPY -- foo /tmp/\n\
CMD --doit [ \"a\", \"b\" ]\nCMD --doit=true -- [ \"a\", \"b\" ]\nCMD --doit -- [ ]\n",
        "(from \"scratch\")\n(copy \"foo\" \"/tmp/\")\n(copy [\"--user=me\"] \"foo\" \"/tmp/\")\n\
(copy [\"--doit=true\"] \"foo\" \"/tmp/\")\n(copy [\"--user=me\" \"--doit=true\"] \"foo\" \"/tmp/\")\n\
(copy [\"--doit=true\"] \"foo\" \"/tmp/\")\n(copy \"foo\" \"/tmp/\")\n(cmd [\"--doit\"] \"a\" \"b\")\n\
(cmd [\"--doit=true\"] \"a\" \"b\")\n(cmd [\"--doit\"])\n",
    ),
    (
        // args
        "ARG foo bar=baz\nFROM ubuntu\nARG abc=\"123 456\" def\n",
        "(arg \"foo\" \"bar=baz\")\n(from \"ubuntu\")\n(arg \"abc=\\\"123 456\\\"\" \"def\")\n",
    ),
    (
        // ADD-COPY-with-JSON
        "FROM\tubuntu:14.04\nLABEL\tmaintainer\tSeongyeol Lim <seongyeol37@gmail.com>\n\n\
COPY\t.\t/go/src/github.com/docker/docker\nADD\t\t.\t/\nADD\t\tnull /\nCOPY\tnullfile /tmp\n\
ADD\t\t[ \"vimrc\", \"/tmp\" ]\nCOPY\t[ \"bashrc\", \"/tmp\" ]\nCOPY\t[ \"test file\", \"/tmp\" ]\n\
ADD\t\t[ \"test file\", \"/tmp/test file\" ]\n",
        "(from \"ubuntu:14.04\")\n(label \"maintainer\" \"Seongyeol Lim <seongyeol37@gmail.com>\" \"\")\n\
(copy \".\" \"/go/src/github.com/docker/docker\")\n(add \".\" \"/\")\n(add \"null\" \"/\")\n\
(copy \"nullfile\" \"/tmp\")\n(add \"vimrc\" \"/tmp\")\n(copy \"bashrc\" \"/tmp\")\n\
(copy \"test file\" \"/tmp\")\n(add \"test file\" \"/tmp/test file\")\n",
    ),
    (
        // continue-at-eof
        "FROM alpine:3.5\n\nRUN something \\",
        "(from \"alpine:3.5\")\n(run \"something\")\n",
    ),
    (
        // lk4d4-the-edge-case-generator (part)
        "FROM busybox:buildroot-2014.02\n\nLABEL maintainer docker <docker@docker.io>\n\n\
ONBUILD RUN [\"echo\", \"test\"]\nONBUILD RUN echo test\nONBUILD COPY . /\n\n\n\
# RUN Commands \\\n# linebreak in comment \\\nRUN [\"ls\", \"-la\"]\nRUN [\"echo\", \"'1234'\"]\n\
RUN echo '1234' && \\\n    echo \"456\" && \\\n    echo 789\nRUN    sh -c 'echo root:testpass \\\n        > /tmp/passwd'\n\
# ENV \\\nENV SCUBA 1 DUBA 3\nENV SCUBA \"1 DUBA 3\"\nCMD echo 'test' | wc -\n\
#EXPOSE\\\nEXPOSE 9000 5000 6000\nUSER docker:root\nVOLUME [\"/test\", \"/test2\"]\nVOLUME /test3\n",
        "(from \"busybox:buildroot-2014.02\")\n(label \"maintainer\" \"docker <docker@docker.io>\" \"\")\n\
(onbuild (run \"echo\" \"test\"))\n(onbuild (run \"echo test\"))\n(onbuild (copy \".\" \"/\"))\n\
(run \"ls\" \"-la\")\n(run \"echo\" \"'1234'\")\n(run \"echo '1234' &&     echo \\\"456\\\" &&     echo 789\")\n\
(run \"sh -c 'echo root:testpass         > /tmp/passwd'\")\n(env \"SCUBA\" \"1 DUBA 3\" \"\")\n\
(env \"SCUBA\" \"\\\"1 DUBA 3\\\"\" \"\")\n(cmd \"echo 'test' | wc -\")\n\
(expose \"9000\" \"5000\" \"6000\")\n(user \"docker:root\")\n(volume \"/test\" \"/test2\")\n\
(volume \"/test3\")\n",
    ),
    (
        // jeztah-invalid-json-*: not JSON, so the shell form
        "CMD '[\"echo\", \"Well, JSON in a string is JSON too?\"]'\n\
CMD ['echo','single quotes are invalid JSON']\n\
CMD [\"echo\", \"Please, close the brackets when you're done\"\n",
        "(cmd \"'[\\\"echo\\\", \\\"Well, JSON in a string is JSON too?\\\"]'\")\n\
(cmd \"['echo','single quotes are invalid JSON']\")\n\
(cmd \"[\\\"echo\\\", \\\"Please, close the brackets when you're done\\\"\")\n",
    ),
    (
        // unknown instructions keep no arguments; case is kept
        "from x\nRuN a b\nFROBNICATE x y\n",
        "(from \"x\")\n(run \"a b\")\n(frobnicate)\n",
    ),
    (
        // CRLF line ends, a byte-order mark, `#` only comments at line start
        "\u{feff}FROM x\r\nRUN a \\\r\n  b\r\nRUN echo # not a comment\r\n   # indented comment\r\n",
        "(from \"x\")\n(run \"a   b\")\n(run \"echo # not a comment\")\n",
    ),
];

#[test]
fn docker_testfiles() {
    for (text, want) in TESTFILES {
        assert_eq!(dump(text), *want, "{text}");
    }
}

#[test]
fn line_numbers() {
    // buildkit's testfile-line
    let text = "# ESCAPE=\\\n\n\n\nFROM brimstone/ubuntu:14.04\n\n\n\
# TORUN -v /var/run/docker.sock:/var/run/docker.sock\n\n\nENV GOPATH \\\n/go\n\n\n\n\
# Install the packages we need, clean up after them and us\nRUN apt-get update \\\n\
\t&& dpkg -l | awk '/^ii/ {print $2}' > /tmp/dpkg.clean \\\n\n\n\
    && apt-get --no-install-recommends install -y git golang ca-certificates \\\n\
    && apt-get clean \\\n    && rm -rf /var/lib/apt/lists \\\n\n\
\t&& go get -v github.com/brimstone/consuldock \\\n\
    && mv $GOPATH/bin/consuldock /usr/local/bin/consuldock \\\n\n\
\t&& dpkg -l | awk '/^ii/ {print $2}' > /tmp/dpkg.dirty \\\n\
\t&& apt-get remove --purge -y $(diff /tmp/dpkg.clean /tmp/dpkg.dirty | awk '/^>/ {print $2}') \\\n\
\t&& rm /tmp/dpkg.* \\\n\t&& rm -rf $GOPATH\n\n\n\n\n";
    let scanned = scan::scan(text).unwrap();
    let lines: Vec<(usize, usize)> = scanned
        .nodes
        .iter()
        .map(|n| (n.start_line, n.end_line))
        .collect();
    assert_eq!(lines, [(5, 5), (11, 12), (17, 31)]);
    assert_eq!(scanned.warnings.len(), 1);
}

#[test]
fn empty_continuation_lines_warn() {
    let text = "\nFROM alpine:3.6\n\nRUN valid \\\n    continuation\n\nRUN something \\\n\n    following \\\n\n    more\n\n\
RUN another \\\n\n    thing\n\nRUN non-indented \\\n# this is a comment\n   after-comment\n\n\
RUN indented \\\n    # this is an indented comment\n    comment\n\t";
    let df = parse(text).unwrap();
    assert_eq!(
        df.warnings,
        strs(&[
            "Empty continuation line found in: RUN something     following     more",
            "Empty continuation line found in: RUN another     thing",
        ])
    );
    let originals: Vec<&str> = df.stages[0]
        .instructions
        .iter()
        .map(|i| i.original.as_str())
        .collect();
    assert_eq!(
        originals,
        [
            "RUN valid     continuation",
            "RUN something     following     more",
            "RUN another     thing",
            "RUN non-indented    after-comment",
            "RUN indented     comment",
        ]
    );
}

#[test]
fn directives() {
    let df = parse("# syntax=docker/dockerfile:1\n# escape=`\nFROM x\nRUN a `\n  b\n").unwrap();
    assert_eq!(df.directives.syntax.as_deref(), Some("docker/dockerfile:1"));
    assert_eq!(df.directives.escape, '`');
    assert_eq!(df.stages[0].instructions[0].original, "RUN a   b");
    // Leading whitespace before a directive is allowed; after an instruction it is a comment.
    let df = parse("  # escape=`\nFROM x\n").unwrap();
    assert_eq!(df.directives.escape, '`');
    let df = parse("FROM x\n# escape=`\nRUN a \\\n b\n").unwrap();
    assert_eq!(df.directives.escape, '\\');
    assert_eq!(df.stages[0].instructions[0].original, "RUN a  b");
    // After a blank line, too.
    assert_eq!(
        parse("\n# escape=`\nFROM x\n").unwrap().directives.escape,
        '\\'
    );
}

#[test]
fn heredoc_bodies() {
    let text = "FROM alpine:3.6\n\nENV NAME=me\n\nRUN ls\n\nRUN <<EMPTY\nEMPTY\n\nRUN 3<<EMPTY2\nEMPTY2\n\n\
RUN \"<<NOHEREDOC\"\n\nRUN <<INDENT\n\tfoo\n\tbar\nINDENT\n\nRUN <<-UNINDENT\n\tbaz\n\tquux\nUNINDENT\n\n\
RUN <<-UNINDENT2\n\tbaz\n\tquux\n\tUNINDENT2\n\nRUN <<-'NOEXPAND'\n\tdon't expand $NAME\nNOEXPAND\n\n\
RUN <<COMMENT\n# internal comment\necho hello world\necho foo bar # trailing comment\nCOMMENT\n\n\
COPY <<FILE1 <<FILE2 /dest\ncontent 1\nFILE1\ncontent 2\nFILE2\n\n\
COPY <<X <<Y /dest\nY\nX\nX\nY\n\nRUN <<COMPLEX python3\nprint('hello world')\nCOMPLEX\n\n\
RUN <<  EOF  > foo\nEOF\n\nRUN [\"<<EOF\"]\n";
    let scanned = scan::scan(text).unwrap();
    let docs: Vec<Vec<(String, String, bool, bool)>> = scanned
        .nodes
        .iter()
        .map(|n| {
            n.heredocs
                .iter()
                .map(|h| (h.name.clone(), h.content.clone(), h.expand, h.chomp))
                .collect()
        })
        .collect();
    let d = |name: &str, content: &str, expand: bool, chomp: bool| {
        (name.to_string(), content.to_string(), expand, chomp)
    };
    assert_eq!(
        docs,
        vec![
            vec![],
            vec![],
            vec![],
            vec![d("EMPTY", "", true, false)],
            vec![d("EMPTY2", "", true, false)],
            vec![],
            vec![d("INDENT", "\tfoo\n\tbar\n", true, false)],
            vec![d("UNINDENT", "\tbaz\n\tquux\n", true, true)],
            vec![d("UNINDENT2", "\tbaz\n\tquux\n", true, true)],
            vec![d("NOEXPAND", "\tdon't expand $NAME\n", false, true)],
            vec![d(
                "COMMENT",
                "# internal comment\necho hello world\necho foo bar # trailing comment\n",
                true,
                false
            )],
            vec![
                d("FILE1", "content 1\n", true, false),
                d("FILE2", "content 2\n", true, false)
            ],
            vec![d("X", "Y\n", true, false), d("Y", "X\n", true, false)],
            vec![d("COMPLEX", "print('hello world')\n", true, false)],
            vec![d("EOF", "", true, false)],
            vec![],
        ]
    );
    assert_eq!(scanned.nodes[3].start_line, 7);
    assert_eq!(scanned.nodes[3].end_line, 8);
}

#[test]
fn heredocs_only_on_run_copy_add() {
    // USER does not read heredocs: the body lines are instructions of their own.
    assert_eq!(
        dump("FROM x\nUSER <<INVALID\nINVALID\n"),
        "(from \"x\")\n(user \"<<INVALID\")\n(invalid)\n"
    );
    let text = "FROM x\nONBUILD RUN <<EOF\necho hi\nEOF\n";
    assert_eq!(scan::scan(text).unwrap().nodes[1].heredocs.len(), 1);
}
