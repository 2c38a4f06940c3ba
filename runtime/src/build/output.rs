//! What a build prints, in the classic builder's words (`Step 2/7 : RUN make`, ` ---> Using
//! cache`, ` ---> Running in 3f2a...`, `Successfully built 9c1e...`), with the output of `RUN`
//! steps between. `-q` prints only the image id at the end.

use std::collections::VecDeque;
use std::io::Write;

/// Lines of a failed `RUN`'s output kept for its error message.
const TAIL_LINES: usize = 10;

/// Where a build's progress goes.
pub struct BuildOutput {
    out: Box<dyn Write + Send>,
    quiet: bool,
    /// The last lines of the running step's output.
    tail: VecDeque<String>,
    partial: Vec<u8>,
}

impl BuildOutput {
    pub fn new(out: Box<dyn Write + Send>, quiet: bool) -> BuildOutput {
        BuildOutput {
            out,
            quiet,
            tail: VecDeque::new(),
            partial: Vec::new(),
        }
    }

    /// One progress line (nothing with `-q`).
    pub fn line(&mut self, text: impl AsRef<str>) {
        if !self.quiet {
            let _ = writeln!(self.out, "{}", text.as_ref());
            let _ = self.out.flush();
        }
    }

    /// A line printed even with `-q` (the final id).
    pub fn result(&mut self, text: impl AsRef<str>) {
        let _ = writeln!(self.out, "{}", text.as_ref());
        let _ = self.out.flush();
    }

    /// Output of a `RUN` step's container.
    pub fn container_output(&mut self, data: &[u8]) {
        if !self.quiet {
            let _ = self.out.write_all(data);
            let _ = self.out.flush();
        }
        self.partial.extend_from_slice(data);
        while let Some(i) = self.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=i).collect();
            self.keep(String::from_utf8_lossy(&line[..i]).trim_end().to_string());
        }
    }

    fn keep(&mut self, line: String) {
        if self.tail.len() == TAIL_LINES {
            self.tail.pop_front();
        }
        self.tail.push_back(line);
    }

    /// The last lines of the step's output; clears them for the next step.
    pub fn take_tail(&mut self) -> Vec<String> {
        if !self.partial.is_empty() {
            let rest = std::mem::take(&mut self.partial);
            self.keep(String::from_utf8_lossy(&rest).trim_end().to_string());
        }
        self.tail.drain(..).collect()
    }
}
