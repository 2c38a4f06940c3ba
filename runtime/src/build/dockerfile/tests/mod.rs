//! Table tests modelled on Docker's own: buildkit's parser testfiles (as AST dumps in
//! Docker's `result` format), `shell/lex_test.go`'s envVarTest and wordsTest tables, and the
//! instruction and error cases of `instructions/parse_test.go`.

mod errors;
mod expand_cases;
mod instruction_cases;
mod scan_cases;

use super::error::go_quote;
use super::node::Node;
use super::*;

pub(super) fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Docker's `Node.Dump()` of one instruction: `(cmd ["--flag"] "arg" ...)`.
fn dump_node(node: &Node) -> String {
    let mut out = node.cmd.to_lowercase();
    if !node.flags.is_empty() {
        let flags: Vec<String> = node.flags.iter().map(|f| go_quote(f)).collect();
        out.push_str(&format!(" [{}]", flags.join(" ")));
    }
    for arg in &node.args {
        out.push(' ');
        out.push_str(&go_quote(arg));
    }
    if let Some(child) = &node.child {
        out.push_str(&format!(" ({})", dump_node(child)));
    }
    out
}

/// The first pass over `text`, dumped one instruction a line as Docker's `result` files are.
pub(super) fn dump(text: &str) -> String {
    let scanned = scan::scan(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    scanned
        .nodes
        .iter()
        .map(|n| format!("({})\n", dump_node(n)))
        .collect()
}

/// The instructions of all stages (FROM lines left out).
pub(super) fn kinds(text: &str) -> Vec<InstructionKind> {
    let df = parse(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    df.stages
        .into_iter()
        .flat_map(|s| s.instructions)
        .map(|i| i.kind)
        .collect()
}

/// The one instruction after `FROM scratch`.
pub(super) fn kind(line: &str) -> InstructionKind {
    let mut all = kinds(&format!("FROM scratch\n{line}\n"));
    assert_eq!(all.len(), 1, "{line}");
    all.remove(0)
}

pub(super) fn error(text: &str) -> DockerfileError {
    match parse(text) {
        Ok(df) => panic!("parsed: {df:?}\n{text}"),
        Err(e) => e,
    }
}
