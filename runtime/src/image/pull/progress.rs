//! What a pull shows: a progress bar per layer on a terminal (indicatif), Docker's plain
//! status lines otherwise (`<id>: Pulling fs layer`, `Download complete`, `Pull complete`),
//! or, for the Engine API, the JSON messages `docker pull` renders
//! (`{"status": ..., "id": ..., "progressDetail": {...}}`).

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Receives the JSON progress messages of a pull (the Engine API's stream).
pub type JsonSink = Arc<dyn Fn(serde_json::Value) + Send + Sync>;

/// Where pull output goes: `docker pull` writes to stdout, `docker run` to stderr.
#[derive(Clone)]
pub enum Output {
    Stdout,
    Stderr,
    /// `pull -q`: only the final image name (printed by the caller).
    Quiet,
    /// Docker's JSON progress messages, for the Engine API.
    Json(JsonSink),
}

impl Output {
    /// One message as Docker's JSON stream has it: `ID: STATUS` lines carry the id apart.
    fn json_line(text: &str) -> serde_json::Value {
        match text.split_once(": ") {
            Some((id, status)) if !id.contains(' ') && !matches!(id, "Digest" | "Status") => {
                serde_json::json!({"status": status, "id": id})
            }
            _ => serde_json::json!({"status": text}),
        }
    }
}

/// The pull's display.
pub struct Progress {
    output: Output,
    multi: Option<MultiProgress>,
    lock: Mutex<()>,
}

/// One layer's line or bar.
pub struct LayerProgress<'a> {
    progress: &'a Progress,
    id: String,
    bar: Option<ProgressBar>,
    total: u64,
    /// Bytes so far (for the JSON messages).
    done: Mutex<u64>,
    /// The status while bytes move: `Downloading` or `Pushing`.
    moving: &'static str,
}

impl Progress {
    pub fn new(output: Output) -> Progress {
        let terminal = match output {
            Output::Stdout => std::io::stdout().is_terminal(),
            Output::Stderr => std::io::stderr().is_terminal(),
            Output::Quiet | Output::Json(_) => false,
        };
        let multi = terminal.then(|| {
            let target = match output {
                Output::Stdout => ProgressDrawTarget::stdout(),
                _ => ProgressDrawTarget::stderr(),
            };
            MultiProgress::with_draw_target(target)
        });
        Progress {
            output,
            multi,
            lock: Mutex::new(()),
        }
    }

    /// Prints one line (above the bars on a terminal).
    pub fn line(&self, text: &str) {
        let _guard = self.lock.lock().expect("progress lock");
        if let Some(m) = &self.multi {
            let _ = m.println(text);
            return;
        }
        match &self.output {
            Output::Json(sink) => sink(Output::json_line(text)),
            Output::Stdout => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{text}");
                let _ = out.flush();
            }
            Output::Stderr => eprintln!("{text}"),
            Output::Quiet => {}
        }
    }

    /// One message as it is: never split into an id and a status (`latest: digest: ...`).
    pub fn plain(&self, text: &str) {
        if let Output::Json(sink) = &self.output {
            sink(serde_json::json!({ "status": text }));
        } else {
            self.line(text);
        }
    }

    /// Docker's `aux` message (the JSON stream only: a push's tag, digest and size).
    pub fn aux(&self, value: serde_json::Value) {
        if let Output::Json(sink) = &self.output {
            sink(serde_json::json!({ "progress": "", "aux": value }));
        }
    }

    /// A layer to download (`total` bytes).
    pub fn layer(&self, id: &str, total: u64) -> LayerProgress<'_> {
        self.layer_as(id, total, "Pulling fs layer", "Downloading")
    }

    /// A layer to push (`total` bytes): `Preparing`, then `Pushing`.
    pub fn push_layer(&self, id: &str, total: u64) -> LayerProgress<'_> {
        self.layer_as(id, total, "Preparing", "Pushing")
    }

    fn layer_as(
        &self,
        id: &str,
        total: u64,
        first: &'static str,
        moving: &'static str,
    ) -> LayerProgress<'_> {
        let bar = self.multi.as_ref().map(|m| {
            let bar = m.add(ProgressBar::new(total));
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix}: {msg:18} [{bar:40}] {decimal_bytes}/{decimal_total_bytes}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.set_prefix(id.to_string());
            bar.set_message(first);
            bar
        });
        let layer = LayerProgress {
            progress: self,
            id: id.to_string(),
            bar,
            total,
            done: Mutex::new(0),
            moving,
        };
        if layer.bar.is_none() {
            self.line(&format!("{id}: {first}"));
        }
        layer
    }
}

impl LayerProgress<'_> {
    /// Bytes already on disk from an earlier, interrupted pull.
    pub fn resumed(&self, bytes: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(bytes);
        }
        if let Ok(mut done) = self.done.lock() {
            *done = bytes;
        }
        if bytes > 0 {
            self.status(&format!("Resuming at {bytes} bytes"));
        }
    }

    /// `n` more bytes downloaded.
    pub fn inc(&self, n: u64) {
        if let Output::Json(sink) = &self.progress.output {
            let mut done = self.done.lock().expect("progress lock");
            let before = *done;
            *done += n;
            // A message per 1% (or per 512 KiB of a layer of unknown size).
            let step = (self.total / 100).max(512 * 1024);
            if before / step != *done / step || *done == self.total {
                sink(serde_json::json!({
                    "status": self.moving,
                    "progressDetail": {"current": *done, "total": self.total},
                    "id": self.id,
                }));
            }
        }
        if let Some(bar) = &self.bar {
            if bar.position() == 0 {
                bar.set_message(self.moving);
            }
            bar.inc(n);
        }
    }

    /// A status change (`Verifying Checksum`, `Download complete`, ...).
    pub fn status(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.set_message(text.to_string()),
            None => self.progress.line(&format!("{}: {text}", self.id)),
        }
    }

    /// The last status; the bar becomes a plain line.
    pub fn finish(self, text: &str) {
        match &self.bar {
            Some(bar) => {
                bar.finish_and_clear();
                self.progress.line(&format!("{}: {text}", self.id));
            }
            None => self.progress.line(&format!("{}: {text}", self.id)),
        }
    }
}
