//! A small OCI distribution client on `ureq` (blocking, one connection pool shared by the
//! download threads): `GET /v2/<repo>/manifests/<ref>` and `/blobs/<digest>` (with `Range`
//! to resume), and the registry's authentication: an anonymous or credentialed bearer token
//! from the realm a `401` names, or HTTP basic auth. Plain HTTP only for registries the host
//! lists as insecure.

use std::io::Seek as _;
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine as _;
use serde::Deserialize;

use super::PullError;

/// The media types we accept for a manifest, most preferred first.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.v2+json";

/// The registry host Docker Hub's `docker.io` names really live at.
const DOCKER_HUB_REGISTRY: &str = "registry-1.docker.io";

/// Username and password for one registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl Credentials {
    fn basic_header(&self) -> String {
        let raw = format!("{}:{}", self.username, self.password);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }
}

/// The body of a push request; sent again after an authentication challenge.
pub enum Payload<'a> {
    Empty,
    /// Bytes and their content type (a manifest).
    Bytes(&'a [u8], &'a str),
    /// A file from its start (a blob), telling `sent` the bytes sent so far.
    File(&'a std::fs::File, &'a (dyn Fn(u64) + Sync)),
}

/// A reader telling how much went through it.
struct Counting<'a, R> {
    inner: R,
    sent: &'a (dyn Fn(u64) + Sync),
    total: u64,
}

impl<R: std::io::Read> std::io::Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.total += n as u64;
        (self.sent)(self.total);
        Ok(n)
    }
}

/// One repository on one registry.
pub struct Registry {
    agent: ureq::Agent,
    /// `http://127.0.0.1:5000` or `https://registry-1.docker.io`.
    base: String,
    repository: String,
    credentials: Option<Credentials>,
    /// The `Authorization` value earned from the last challenge.
    authorization: Mutex<Option<String>>,
}

/// A response with its status, headers and (unread) body.
pub type Response = ureq::http::Response<ureq::Body>;

/// The `WWW-Authenticate` challenge of a 401 (empty when there is none).
fn challenge_of(resp: &Response) -> String {
    resp.headers()
        .get("www-authenticate")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// Docker's token endpoint answer.
#[derive(Deserialize)]
struct TokenResponse {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
}

/// An authentication challenge from `WWW-Authenticate`.
#[derive(Debug, PartialEq, Eq)]
pub enum Challenge {
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
    Basic,
}

/// Parses `Bearer realm="..",service="..",scope=".."` or `Basic realm=".."`.
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let (scheme, params) = header.trim().split_once(' ').unwrap_or((header.trim(), ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Challenge::Basic);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut realm = None;
    let mut service = None;
    let mut scope = None;
    // key="value" pairs; values may contain commas (scopes), so parse quotes properly.
    let mut rest = params.trim();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=')?;
        let key = key
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let after = after.trim_start();
        let (value, next) = if let Some(q) = after.strip_prefix('"') {
            let end = q.find('"')?;
            (&q[..end], &q[end + 1..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        match key.as_str() {
            "realm" => realm = Some(value.to_string()),
            "service" => service = Some(value.to_string()),
            "scope" => scope = Some(value.to_string()),
            _ => {}
        }
        rest = next.trim_start_matches([',', ' ']);
    }
    Some(Challenge::Bearer {
        realm: realm?,
        service,
        scope,
    })
}

impl Registry {
    /// A client for `repository` on `domain`, over plain HTTP when `insecure`.
    pub fn new(
        domain: &str,
        repository: &str,
        insecure: bool,
        credentials: Option<Credentials>,
    ) -> Registry {
        let host = if domain == crate::image::reference::DEFAULT_DOMAIN {
            DOCKER_HUB_REGISTRY
        } else {
            domain
        };
        let scheme = if insecure { "http" } else { "https" };
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_recv_response(Some(Duration::from_secs(60)))
            .max_idle_connections_per_host(8)
            .user_agent(concat!("ebrun/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Registry {
            agent,
            base: format!("{scheme}://{host}"),
            repository: repository.to_string(),
            credentials,
            authorization: Mutex::new(None),
        }
    }

    /// `<base>/v2/`.
    pub fn ping_url(&self) -> String {
        format!("{}/v2/", self.base)
    }

    /// The URL of a manifest (by tag or digest) or blob (by digest) of the repository.
    pub fn url(&self, kind: &str, reference: &str) -> String {
        format!("{}/v2/{}/{kind}/{reference}", self.base, self.repository)
    }

    /// A `Location` header's URL, made absolute against the registry.
    pub fn absolute(&self, location: &str) -> String {
        if location.starts_with("http://") || location.starts_with("https://") {
            location.to_string()
        } else {
            format!("{}/{}", self.base, location.trim_start_matches('/'))
        }
    }

    /// The registry's URL (`http://127.0.0.1:5000`).
    pub fn base(&self) -> &str {
        &self.base
    }

    fn send(&self, url: &str, accept: Option<&str>, from: u64) -> Result<Response, PullError> {
        let mut req = self.agent.get(url);
        if let Some(a) = accept {
            req = req.header("Accept", a);
        }
        if from > 0 {
            req = req.header("Range", format!("bytes={from}-"));
        }
        if let Some(auth) = self.authorization.lock().expect("auth lock").clone() {
            req = req.header("Authorization", auth);
        }
        req.call().map_err(|e| PullError::Http {
            url: url.to_string(),
            message: e.to_string(),
        })
    }

    /// GETs `url`, answering one authentication challenge. `from` > 0 asks for the bytes
    /// from that offset on (the answer is 206 if the registry honours it, 200 if not).
    /// Errors for statuses other than 200/206.
    pub fn get(&self, url: &str, accept: Option<&str>, from: u64) -> Result<Response, PullError> {
        let mut resp = self.send(url, accept, from)?;
        if resp.status() == 401 {
            let challenge = challenge_of(&resp);
            self.authenticate(&challenge, url)?;
            resp = self.send(url, accept, from)?;
        }
        match resp.status().as_u16() {
            200 | 206 => Ok(resp),
            401 => Err(self.unauthorized(url)),
            status => {
                let body = resp
                    .body_mut()
                    .with_config()
                    .limit(64 << 10)
                    .read_to_string()
                    .unwrap_or_default();
                Err(PullError::Status {
                    url: url.to_string(),
                    status,
                    message: registry_message(&body),
                })
            }
        }
    }

    fn unauthorized(&self, url: &str) -> PullError {
        self.unauthorized_on("Get", url)
    }

    fn unauthorized_on(&self, method: &'static str, url: &str) -> PullError {
        PullError::Unauthorized {
            method,
            url: url.to_string(),
            with_credentials: self.credentials.is_some(),
        }
    }

    /// Earns an `Authorization` value for the challenge (bearer token or basic).
    fn authenticate(&self, challenge: &str, url: &str) -> Result<(), PullError> {
        let value = match parse_challenge(challenge) {
            Some(Challenge::Basic) => match &self.credentials {
                Some(c) => c.basic_header(),
                None => return Err(self.unauthorized(url)),
            },
            Some(Challenge::Bearer {
                realm,
                service,
                scope,
            }) => {
                let scope = scope.unwrap_or_else(|| format!("repository:{}:pull", self.repository));
                format!(
                    "Bearer {}",
                    self.token(&realm, service.as_deref(), Some(&scope))?
                )
            }
            None => return Err(self.unauthorized(url)),
        };
        *self.authorization.lock().expect("auth lock") = Some(value);
        Ok(())
    }

    /// Fetches a bearer token from `realm` (with the credentials, if any).
    fn token(
        &self,
        realm: &str,
        service: Option<&str>,
        scope: Option<&str>,
    ) -> Result<String, PullError> {
        let mut req = self.agent.get(realm);
        if let Some(s) = service {
            req = req.query("service", s);
        }
        if let Some(s) = scope {
            req = req.query("scope", s);
        }
        if let Some(c) = &self.credentials {
            req = req.header("Authorization", c.basic_header());
        }
        let mut resp = req.call().map_err(|e| PullError::Http {
            url: realm.to_string(),
            message: e.to_string(),
        })?;
        if resp.status() == 401 || resp.status() == 403 {
            return Err(self.unauthorized(realm));
        }
        if resp.status() != 200 {
            return Err(PullError::Status {
                url: realm.to_string(),
                status: resp.status().as_u16(),
                message: "token request failed".into(),
            });
        }
        let body = resp
            .body_mut()
            .with_config()
            .limit(1 << 20)
            .read_to_vec()
            .map_err(|e| PullError::Http {
                url: realm.to_string(),
                message: e.to_string(),
            })?;
        let token: TokenResponse = serde_json::from_slice(&body).map_err(|e| PullError::Http {
            url: realm.to_string(),
            message: format!("invalid token response: {e}"),
        })?;
        token
            .token
            .or(token.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| PullError::Http {
                url: realm.to_string(),
                message: "the token response holds no token".into(),
            })
    }

    /// One request of a push (`HEAD`, `POST`, `PUT`), as it is answered.
    fn send_push(
        &self,
        method: &'static str,
        url: &str,
        payload: &Payload<'_>,
    ) -> Result<Response, PullError> {
        let auth = self.authorization.lock().expect("auth lock").clone();
        let failed = |e: ureq::Error| PullError::Request {
            method,
            url: url.to_string(),
            message: e.to_string(),
        };
        if method == "Head" {
            let mut req = self.agent.head(url);
            if let Some(a) = auth {
                req = req.header("Authorization", a);
            }
            return req.call().map_err(failed);
        }
        let mut req = match method {
            "Post" => self.agent.post(url),
            _ => self.agent.put(url),
        };
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        match payload {
            Payload::Empty => req.header("Content-Length", "0").send_empty(),
            Payload::Bytes(bytes, content_type) => {
                req.header("Content-Type", *content_type).send(*bytes)
            }
            Payload::File(file, sent) => {
                let mut file: &std::fs::File = file;
                file.seek(std::io::SeekFrom::Start(0))
                    .map_err(|e| PullError::Request {
                        method,
                        url: url.to_string(),
                        message: e.to_string(),
                    })?;
                let mut reader = Counting {
                    inner: file,
                    sent: *sent,
                    total: 0,
                };
                req.header("Content-Type", "application/octet-stream")
                    .send(ureq::SendBody::from_reader(&mut reader))
            }
        }
        .map_err(failed)
    }

    /// A request of a push (`method` is Go's name: `Head`, `Post`, `Put`), answering one
    /// authentication challenge (the body is sent again). Any status but 401 is returned for
    /// the caller to judge.
    pub fn push_request(
        &self,
        method: &'static str,
        url: &str,
        payload: &Payload<'_>,
    ) -> Result<Response, PullError> {
        let mut resp = self.send_push(method, url, payload)?;
        if resp.status() == 401 {
            let challenge = challenge_of(&resp);
            self.authenticate(&challenge, url)
                .map_err(|_| self.unauthorized_on(method, url))?;
            resp = self.send_push(method, url, payload)?;
        }
        if resp.status() == 401 {
            return Err(self.unauthorized_on(method, url));
        }
        Ok(resp)
    }

    /// The error for an unexpected answer `resp` to a push request, with the registry's
    /// message.
    pub fn push_error(method: &'static str, url: &str, mut resp: Response) -> PullError {
        let status = resp.status();
        let body = resp
            .body_mut()
            .with_config()
            .limit(64 << 10)
            .read_to_string()
            .unwrap_or_default();
        let message = registry_message(&body);
        PullError::Request {
            method,
            url: url.to_string(),
            message: if message.is_empty() {
                status.to_string()
            } else {
                format!("{status}: {message}")
            },
        }
    }

    /// `docker login`'s check: `GET /v2/` with the credentials must succeed.
    pub fn check_login(&self) -> Result<(), PullError> {
        let url = self.ping_url();
        let resp = self.send(&url, None, 0)?;
        match resp.status().as_u16() {
            200 => Ok(()),
            401 => {
                let challenge = challenge_of(&resp);
                match parse_challenge(&challenge) {
                    Some(Challenge::Bearer { realm, service, .. }) => {
                        self.token(&realm, service.as_deref(), None).map(|_| ())
                    }
                    _ => {
                        self.authenticate(&challenge, &url)?;
                        let again = self.send(&url, None, 0)?;
                        if again.status() == 200 {
                            Ok(())
                        } else {
                            Err(PullError::LoginFailed {
                                url,
                                status: again.status().to_string(),
                            })
                        }
                    }
                }
            }
            _ => Err(PullError::LoginFailed {
                url,
                status: resp.status().to_string(),
            }),
        }
    }
}

/// The message of a registry's `{"errors":[{"code":..,"message":..}]}` body.
fn registry_message(body: &str) -> String {
    #[derive(Deserialize)]
    struct Errors {
        errors: Vec<ErrorItem>,
    }
    #[derive(Deserialize)]
    struct ErrorItem {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    match serde_json::from_str::<Errors>(body) {
        Ok(e) if !e.errors.is_empty() => e
            .errors
            .iter()
            .map(|i| {
                if i.code.is_empty() {
                    i.message.clone()
                } else {
                    format!(
                        "{}: {}",
                        i.code.to_ascii_lowercase().replace('_', " "),
                        i.message
                    )
                }
            })
            .collect::<Vec<_>>()
            .join("; "),
        _ => body.trim().chars().take(200).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_challenges() {
        assert_eq!(
            parse_challenge(
                r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull,push""#
            ),
            Some(Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/busybox:pull,push".into()),
            })
        );
        assert_eq!(
            parse_challenge(r#"Basic realm="basic-realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(parse_challenge("Negotiate"), None);
    }

    #[test]
    fn registry_messages() {
        let body =
            r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{}}]}"#;
        assert_eq!(registry_message(body), "manifest unknown: manifest unknown");
    }
}
