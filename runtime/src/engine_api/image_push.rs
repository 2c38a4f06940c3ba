//! `POST /images/{name}/push?tag=` (`docker push`) and `POST /auth` (`docker login`),
//! through the library's push and login check (what `ebrun push` / `ebrun login` run).
//!
//! A push answers 200 at once and streams Docker's JSON progress (`The push refers to
//! repository [...]`, a line per layer, `latest: digest: sha256:... size: N`); a failure ends
//! the stream with Docker's `errorDetail`, as dockerd does once it has started. Credentials
//! come from the client's `X-Registry-Auth`, else from `ebrun login`'s store.

use std::sync::mpsc;
use std::sync::Arc;

use base64::Engine as _;
use hyper::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};

use super::request::json_body;
use super::response::{self, Reply};
use super::router::Call;
use crate::image::pull::progress::JsonSink;
use crate::image::pull::{credentials, Credentials, Output, PullError};
use crate::image::reference::Reference;

/// `POST /images/{name}/push?tag=`.
pub fn push(call: &Call, name: &str) -> Reply {
    let tag = call.query.get("tag").unwrap_or("");
    // dockerd's `RepoTagReference` with a tag; the name as it is without one (every tag).
    let reference = if tag.is_empty() {
        Reference::parse(name).map(|r| r.familiar())
    } else {
        crate::image::repo_tag(name, tag).map(|r| r.familiar())
    };
    let reference = match reference {
        Ok(r) => r,
        Err(e) => return super::images::error(e),
    };
    let creds = match super::image_pull::credentials(call) {
        Ok(c) => c,
        Err(reply) => return reply,
    };
    let paths = call.paths.clone();
    response::streamed("application/json", move |out| {
        let (tx, rx) = mpsc::sync_channel::<Value>(64);
        let sink: JsonSink = Arc::new(move |v| {
            let _ = tx.send(v);
        });
        let worker = std::thread::spawn(move || {
            crate::image::push::push(&paths, &reference, Output::Json(sink), creds)
        });
        // The sink's sender goes with the worker: the messages end when it does.
        let mut client_gone = false;
        for message in rx {
            if !client_gone && !out.send_json(&message) {
                client_gone = true;
            }
        }
        let result = worker
            .join()
            .unwrap_or_else(|_| Err(PullError::Config("the push failed".into())));
        if let Err(e) = result {
            let message = e.to_string();
            out.send_json(&json!({"errorDetail": {"message": message}, "error": message}));
        }
    })
}

/// `POST /auth`'s body (Docker's `AuthConfig`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct AuthConfig {
    username: String,
    password: String,
    /// base64(`user:password`), what clients send from their config.json.
    auth: String,
    serveraddress: String,
    #[allow(dead_code)]
    email: String,
    identitytoken: String,
}

/// `POST /auth`: the login checked against the registry (nothing is stored: the client
/// keeps its credentials). `{"Status":"Login Succeeded","IdentityToken":""}`, or a 401 with
/// the registry's refusal.
pub fn auth(call: &Call) -> Reply {
    let body: AuthConfig = match json_body(&call.body) {
        Ok(b) => b,
        Err(reply) => return reply,
    };
    if !body.identitytoken.is_empty() {
        return response::error(
            StatusCode::BAD_REQUEST,
            "identity tokens are not supported: log in with a username and password",
        );
    }
    let (mut username, mut password) = (body.username, body.password);
    if username.is_empty() && !body.auth.is_empty() {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(body.auth.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok());
        match decoded.as_deref().and_then(|d| d.split_once(':')) {
            Some((u, p)) => (username, password) = (u.to_string(), p.to_string()),
            None => return response::error(StatusCode::BAD_REQUEST, "invalid auth configuration"),
        }
    }
    let creds = Credentials { username, password };
    let server = Some(body.serveraddress.as_str()).filter(|s| !s.is_empty());
    match credentials::check_login(&call.paths, server, &creds) {
        Ok(_) => response::json(
            StatusCode::OK,
            &json!({"Status": "Login Succeeded", "IdentityToken": ""}),
        ),
        Err(e @ (PullError::Unauthorized { .. } | PullError::LoginFailed { .. })) => {
            response::error(StatusCode::UNAUTHORIZED, e)
        }
        Err(e) => response::error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;

    use hyper::body::Bytes;
    use hyper::{HeaderMap, Method};

    use super::*;
    use crate::engine_api::request::Query;

    /// A registry's `/v2/` that wants basic auth for `ebrun:s3cret`; serves `n` requests.
    fn registry(n: usize) -> (u16, std::thread::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let good = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("ebrun:s3cret")
        );
        let server = std::thread::spawn(move || {
            for stream in listener.incoming().take(n) {
                let mut stream = stream.unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut authorized = false;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                        break;
                    }
                    let lower = line.to_ascii_lowercase();
                    if let Some(v) = lower.strip_prefix("authorization: ") {
                        authorized = v.trim() == good.to_ascii_lowercase();
                    }
                }
                let answer = if authorized {
                    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
                } else {
                    "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"test\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                };
                stream.write_all(answer.as_bytes()).unwrap();
            }
        });
        (port, server)
    }

    fn call(root: &std::path::Path, body: Value) -> Call {
        Call {
            paths: crate::Paths::new(root),
            method: Method::POST,
            path: "/auth".into(),
            query: Query::default(),
            headers: HeaderMap::new(),
            body: Bytes::from(body.to_string()),
            body_stream: std::sync::Mutex::new(None),
            version: (1, 50),
        }
    }

    async fn body_of(reply: Reply) -> Value {
        use http_body_util::BodyExt as _;
        let bytes = reply.into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test(flavor = "current_thread")]
    async fn auth_checks_the_login_with_the_registry() {
        let root = tempfile::tempdir().unwrap();
        // Two logins: a refused one (challenge, retry) and a good one (challenge, retry).
        let (port, server) = registry(4);
        let host = format!("127.0.0.1:{port}");
        std::fs::write(
            root.path().join("daemon.json"),
            json!({"insecure-registries": [host]}).to_string(),
        )
        .unwrap();
        let bad = tokio::task::spawn_blocking({
            let c = call(
                root.path(),
                json!({"username": "ebrun", "password": "wrong", "serveraddress": host}),
            );
            move || auth(&c)
        })
        .await
        .unwrap();
        assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            body_of(bad).await["message"],
            json!(format!(
                "login attempt to http://{host}/v2/ failed with status: 401 Unauthorized"
            ))
        );
        // The client's config.json form: `auth` = base64(user:password).
        let good = tokio::task::spawn_blocking({
            let auth_field = base64::engine::general_purpose::STANDARD.encode("ebrun:s3cret");
            let c = call(
                root.path(),
                json!({"auth": auth_field, "serveraddress": format!("http://{host}/")}),
            );
            move || auth(&c)
        })
        .await
        .unwrap();
        assert_eq!(good.status(), StatusCode::OK);
        assert_eq!(
            body_of(good).await,
            json!({"Status": "Login Succeeded", "IdentityToken": ""})
        );
        server.join().unwrap();
    }
}
