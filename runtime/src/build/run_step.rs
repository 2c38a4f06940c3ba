//! `RUN`: the command runs in a container of the stage's current image (default bridge
//! network, or `--network`), its output streamed; its changes become the step's layer. A
//! failing command fails the build with its exit code and last lines of output.

use std::sync::atomic::Ordering;

use super::dockerfile::{Heredoc, ShellOrExec};
use super::error::BuildError;
use super::executor::Builder;
use super::stage::StageState;
use super::step_container::StepContainer;

/// The command a `RUN` runs: its exec form as is; its shell form with the stage's shell, the
/// heredoc bodies after the line (the shell reads them as it would in a script). A line that
/// is only a heredoc (`RUN <<EOF`) runs the heredoc's body as the script.
pub fn command(state: &StageState, command: &ShellOrExec, heredocs: &[Heredoc]) -> Vec<String> {
    let text = match command {
        ShellOrExec::Exec(args) => return args.clone(),
        ShellOrExec::Shell(text) => text,
    };
    let script = match heredocs {
        [] => text.clone(),
        [only] if is_only_heredoc(text, only) => only.content.clone(),
        all => {
            let mut s = text.clone();
            s.push('\n');
            for h in all {
                s.push_str(&h.content);
                if !h.content.is_empty() && !h.content.ends_with('\n') {
                    s.push('\n');
                }
                s.push_str(&h.name);
                s.push('\n');
            }
            s
        }
    };
    let mut v = state.shell();
    v.push(script);
    v
}

/// `<<EOF`, `<<-EOF`, `<<"EOF"` alone on the line.
fn is_only_heredoc(text: &str, h: &Heredoc) -> bool {
    let t = text.trim();
    let Some(rest) = t.strip_prefix("<<") else {
        return false;
    };
    let rest = rest.strip_prefix('-').unwrap_or(rest);
    rest.trim_matches(|c| c == '"' || c == '\'') == h.name
}

pub(super) fn run(
    b: &mut Builder<'_>,
    state: &mut StageState,
    line: usize,
    cmd: &ShellOrExec,
    heredocs: &[Heredoc],
    network: Option<&str>,
) -> Result<(), BuildError> {
    let args = command(state, cmd, heredocs);
    let build_args = state.run_args();
    let shown = args.join(" ");
    let created_by = if build_args.is_empty() {
        shown.clone()
    } else {
        format!("|{} {} {shown}", build_args.len(), build_args.join(" "))
    };
    let network = network.or(b.opts.network.as_deref());
    let key = match network {
        Some(n) if n != "default" => format!("{created_by}\0network={n}"),
        _ => created_by.clone(),
    };
    if b.use_cache(state, &key)? {
        return Ok(());
    }
    let container = StepContainer::create(b.paths, state, args, network, line)?;
    b.out
        .line(format!(" ---> Running in {}", container.short_id()));
    let out = &mut *b.out;
    let code =
        crate::container::run_created(b.paths, &container.config, b.interrupted, &mut |_, data| {
            out.container_output(data)
        })
        .map_err(|e| BuildError::step(line, e))?;
    let tail = b.out.take_tail();
    if b.interrupted.load(Ordering::SeqCst) {
        return Err(BuildError::Interrupted);
    }
    if code != 0 {
        return Err(BuildError::RunFailed {
            line,
            command: shown,
            code,
            tail,
        });
    }
    let upper = container.upper();
    // The image is made before the container goes, so its changes are still there; the
    // ` ---> id` line follows Docker's `Removing intermediate container`.
    let short = container.short_id().to_string();
    let image = b.commit_step(state, Some(&upper), created_by, key);
    drop(container);
    b.out
        .line(format!("Removing intermediate container {short}"));
    b.advance(state, image?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn heredoc(name: &str, content: &str) -> Heredoc {
        Heredoc {
            name: name.into(),
            content: content.into(),
            expand: true,
            chomp_tabs: false,
        }
    }

    #[test]
    fn heredocs_become_a_script() {
        let state = StageState::new(None, serde_json::json!({}), '\\');
        let h = heredoc("EOF", "echo a\necho b\n");
        assert_eq!(
            command(
                &state,
                &ShellOrExec::Shell("<<EOF".into()),
                std::slice::from_ref(&h)
            ),
            ["/bin/sh", "-c", "echo a\necho b\n"]
        );
        assert_eq!(
            command(&state, &ShellOrExec::Shell("cat <<EOF > /x".into()), &[h]),
            ["/bin/sh", "-c", "cat <<EOF > /x\necho a\necho b\nEOF\n"]
        );
        assert_eq!(
            command(&state, &ShellOrExec::Exec(vec!["true".into()]), &[]),
            ["true"]
        );
    }
}
