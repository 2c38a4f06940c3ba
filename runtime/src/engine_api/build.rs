//! `POST /build` (the classic builder, as the docker CLI uses it with `DOCKER_BUILDKIT=0`) and
//! `POST /commit`.
//!
//! A build runs as an `ebrun build` child process fed the context tar on its stdin: the same
//! builder as the command line, and a client that goes away ends it the way Ctrl-C does
//! (SIGTERM: the running step's container is killed and removed). Its output lines become
//! Docker's `{"stream": ...}` messages, its image id an `{"aux": {"ID": ...}}` one, its error
//! an `{"errorDetail": ...}` one.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::Stdio;

use hyper::StatusCode;
use serde_json::{json, Value};

use super::request;
use super::response::{self, Reply};
use super::router::Call;
use crate::container::{self, CommitOptions, ContainerStore};
use crate::image::Reference;

/// `POST /build`.
pub fn build(call: &Call) -> Reply {
    let q = &call.query;
    let mut args: Vec<String> = vec!["build".into()];
    for t in q.all("t") {
        args.extend(["-t".into(), t.to_string()]);
    }
    if let Some(f) = q.get("dockerfile").filter(|f| !f.is_empty()) {
        args.extend(["-f".into(), f.to_string()]);
    }
    match json_map(q.get("buildargs"), "buildargs") {
        Ok(map) => {
            for (k, v) in map {
                // A null value is an arg passed without a value: unset.
                if let Some(v) = v.as_str() {
                    args.extend(["--build-arg".into(), format!("{k}={v}")]);
                }
            }
        }
        Err(reply) => return reply,
    }
    match json_map(q.get("labels"), "labels") {
        Ok(map) => {
            for (k, v) in map {
                args.extend([
                    "--label".into(),
                    format!("{k}={}", v.as_str().unwrap_or("")),
                ]);
            }
        }
        Err(reply) => return reply,
    }
    for (param, flag) in [("target", "--target"), ("platform", "--platform")] {
        if let Some(v) = q.get(param).filter(|v| !v.is_empty()) {
            args.extend([flag.into(), v.to_string()]);
        }
    }
    if let Some(n) = q
        .get("networkmode")
        .filter(|n| !n.is_empty() && *n != "default")
    {
        args.extend(["--network".into(), n.to_string()]);
    }
    for (param, flag) in [("nocache", "--no-cache"), ("pull", "--pull"), ("q", "-q")] {
        if q.flag(param) {
            args.push(flag.into());
        }
    }
    if q.get("remote").is_some_and(|r| !r.is_empty()) {
        return response::error(
            StatusCode::BAD_REQUEST,
            "remote build contexts are not supported: send the context as the request body",
        );
    }
    let Some(mut body) = call.take_body_stream() else {
        return response::error(
            StatusCode::BAD_REQUEST,
            "no build context in the request body",
        );
    };
    let _ = std::fs::create_dir_all(call.paths.run_dir());
    let iid = match tempfile::NamedTempFile::new_in(call.paths.run_dir()) {
        Ok(f) => f,
        Err(e) => return response::error(StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    args.extend([
        "--iidfile".into(),
        iid.path().display().to_string(),
        "-".into(),
    ]);
    let mut cmd = call.paths.ebrun_command();
    cmd.args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return response::error(StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    let mut stdin = child.stdin.take().expect("piped");
    let stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut body, &mut stdin).and_then(|_| stdin.flush());
    });
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    response::streamed("application/json", move |out| {
        let mut lines = BufReader::new(stdout);
        let mut line = String::new();
        loop {
            line.clear();
            match lines.read_line(&mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if !out.send_json(&json!({ "stream": line })) {
                        // The client went away: stop the build as Ctrl-C would.
                        let _ = nix::sys::signal::kill(
                            nix::unistd::Pid::from_raw(child.id() as i32),
                            nix::sys::signal::Signal::SIGTERM,
                        );
                    }
                }
            }
        }
        let status = child.wait();
        let errors = errors.join().unwrap_or_default();
        match status {
            Ok(s) if s.success() => {
                if let Ok(id) = std::fs::read_to_string(iid.path()) {
                    out.send_json(&json!({"aux": {"ID": id.trim()}}));
                }
            }
            _ => {
                let message = errors
                    .lines()
                    .map(|l| l.strip_prefix("ERROR: ").unwrap_or(l))
                    .collect::<Vec<_>>()
                    .join("\n");
                let message = if message.is_empty() {
                    "the build failed".to_string()
                } else {
                    message
                };
                out.send_json(&json!({"errorDetail": {"message": message}, "error": message}));
            }
        }
    })
}

fn json_map(text: Option<&str>, name: &str) -> Result<serde_json::Map<String, Value>, Reply> {
    match text.filter(|t| !t.is_empty()) {
        None => Ok(Default::default()),
        Some(t) => serde_json::from_str(t).map_err(|e| {
            response::error(
                StatusCode::BAD_REQUEST,
                format!("invalid {name} parameter: {e}"),
            )
        }),
    }
}

/// `POST /commit?container=..&repo=..&tag=..&comment=..&author=..&pause=..&changes=..`, its
/// body an optional container config overriding the container's own.
pub fn commit(call: &Call) -> Reply {
    let q = &call.query;
    let Some(name) = q.get("container").filter(|c| !c.is_empty()) else {
        return response::error(StatusCode::BAD_REQUEST, "no container given");
    };
    let store = ContainerStore::new(&call.paths);
    let config = match store.lookup(name) {
        Ok(c) => c,
        Err(e) => return super::lifecycle::error(e),
    };
    let reference = match q.get("repo").filter(|r| !r.is_empty()) {
        Some(repo) => {
            let full = match q.get("tag").filter(|t| !t.is_empty()) {
                Some(tag) => format!("{repo}:{tag}"),
                None => repo.to_string(),
            };
            match Reference::parse_with_default_tag(&full) {
                Ok(r) => Some(r),
                Err(e) => return response::error(StatusCode::BAD_REQUEST, e),
            }
        }
        None => None,
    };
    let mut image_config = container::container_image_config(&call.paths, &config);
    // A config in the body overrides field by field (Docker's MergeAndVerifyConfig).
    if !call.body.is_empty() {
        match request::json_body::<Value>(&call.body) {
            Ok(Value::Object(fields)) => {
                for (k, v) in fields {
                    if !v.is_null() {
                        image_config[k] = v;
                    }
                }
            }
            Ok(_) => {}
            Err(reply) => return reply,
        }
    }
    let changes: Vec<String> = q.all("changes").map(str::to_string).collect();
    let image_config = match crate::build::apply_changes(image_config, &changes) {
        Ok(c) => c,
        Err(e) => return response::error(StatusCode::BAD_REQUEST, e),
    };
    let options = CommitOptions {
        comment: q
            .get("comment")
            .filter(|c| !c.is_empty())
            .map(str::to_string),
        author: q
            .get("author")
            .filter(|a| !a.is_empty())
            .map(str::to_string),
        pause: q.get("pause").is_none_or(|p| p != "0" && p != "false"),
        name: reference,
    };
    match container::commit(&call.paths, &config, image_config, options) {
        Ok(image) => response::json(StatusCode::CREATED, &json!({ "Id": image.id })),
        Err(e) => response::error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}
