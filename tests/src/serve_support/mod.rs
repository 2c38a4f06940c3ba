//! Helpers shared by the `ebrun serve` tests: free loopback ports, a serve process killed by
//! pid on drop, scraping `/metrics` and reading the exposition back.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::common::Instance;

/// A port nobody listens on now (the kernel's choice; tests never use the defaults).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a free port")
        .port()
}

/// A running `ebrun serve`, killed (by its pid) when dropped.
pub struct Serve {
    child: Option<Child>,
    pub port: u16,
}

impl Serve {
    /// Starts `ebrun serve` on a free port with `extra` flags and waits until it answers.
    pub fn start(inst: &Instance, extra: &[&str]) -> Serve {
        Self::start_with_stderr(inst, extra, Stdio::inherit())
    }

    /// [`Serve::start`] with serve's stderr going to `stderr` (e.g. a file to read back).
    pub fn start_with_stderr(inst: &Instance, extra: &[&str], stderr: Stdio) -> Serve {
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let mut args = vec!["serve", "--metrics-addr", addr.as_str()];
        args.extend_from_slice(extra);
        let child = inst
            .command(&args)
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("spawn ebrun serve");
        let serve = Serve {
            child: Some(child),
            port,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while try_get(port, "/metrics").is_err() {
            assert!(Instant::now() < deadline, "ebrun serve never answered");
            std::thread::sleep(Duration::from_millis(50));
        }
        serve
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// One scrape's text.
    pub fn scrape(&self) -> String {
        try_get(self.port, "/metrics").expect("scrape /metrics")
    }

    /// One scrape, parsed.
    pub fn metrics(&self) -> Metrics {
        Metrics::parse(&self.scrape())
    }

    /// Stops it with SIGTERM (as a user would) and waits.
    pub fn stop(mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: kill(2) on the pid of a child this test started and has not reaped.
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            let _ = c.wait();
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// `GET path` on 127.0.0.1:port; the body of a 200 answer.
pub fn try_get(port: u16, path: &str) -> Result<String, String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).map_err(|e| e.to_string())?;
    let text = String::from_utf8(raw).map_err(|e| e.to_string())?;
    let (head, body) = text.split_once("\r\n\r\n").ok_or("no header end")?;
    if !head.starts_with("HTTP/1.1 200") {
        return Err(head.lines().next().unwrap_or("").to_string());
    }
    Ok(body.to_string())
}

/// One series: name and labels.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Series {
    pub name: String,
    pub labels: BTreeMap<String, String>,
}

/// A parsed exposition: every series with its value, and the TYPE of every family.
#[derive(Debug, Default)]
pub struct Metrics {
    pub series: Vec<(Series, f64)>,
    pub types: BTreeMap<String, String>,
    /// The series written with an explicit timestamp (as written: ms in the text format).
    pub stamped: Vec<(Series, f64)>,
}

fn parse_labels(text: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut rest = text;
    while let Some((key, after)) = rest.split_once("=\"") {
        let mut value = String::new();
        let mut chars = after.char_indices();
        let mut end = after.len();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, n)) = chars.next() {
                        value.push(match n {
                            'n' => '\n',
                            other => other,
                        });
                    }
                }
                '"' => {
                    end = i + 1;
                    break;
                }
                c => value.push(c),
            }
        }
        labels.insert(key.trim_start_matches(',').trim().to_string(), value);
        rest = &after[end..];
    }
    labels
}

impl Metrics {
    pub fn parse(text: &str) -> Metrics {
        let mut m = Metrics::default();
        for line in text.lines() {
            if let Some(t) = line.strip_prefix("# TYPE ") {
                let mut f = t.split_whitespace();
                if let (Some(name), Some(kind)) = (f.next(), f.next()) {
                    m.types.insert(name.to_string(), kind.to_string());
                }
                continue;
            }
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            // `series value [timestamp]`; label values may hold spaces, numbers do not.
            let (series, rest) = match line.rfind('}') {
                Some(end) if line.contains('{') => line.split_at(end + 1),
                _ => line.split_once(' ').expect("series value"),
            };
            let mut numbers = rest.split_whitespace();
            let number = |v: &str| -> f64 {
                match v {
                    "+Inf" => f64::INFINITY,
                    v => v.parse().expect("numeric value"),
                }
            };
            let value = number(numbers.next().expect("a value"));
            let stamp = numbers.next().map(number);
            let (name, labels) = match series.split_once('{') {
                Some((name, labels)) => (name, parse_labels(labels.trim_end_matches('}'))),
                None => (series, BTreeMap::new()),
            };
            let series = Series {
                name: name.trim().to_string(),
                labels,
            };
            if let Some(t) = stamp {
                m.stamped.push((series.clone(), t));
            }
            m.series.push((series, value));
        }
        m
    }

    /// The values of series `name` whose labels include every pair of `labels`.
    pub fn values(&self, name: &str, labels: &[(&str, &str)]) -> Vec<f64> {
        self.series
            .iter()
            .filter(|(s, _)| {
                s.name == name
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|(_, v)| *v)
            .collect()
    }

    /// The one value of series `name` with `labels`; panics when there is not exactly one.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let v = self.values(name, labels);
        assert_eq!(v.len(), 1, "{name}{labels:?}: {v:?}");
        v[0]
    }

    /// Whether any series mentions container `id`.
    pub fn mentions(&self, id: &str) -> bool {
        self.series
            .iter()
            .any(|(s, _)| s.labels.get("id").map(String::as_str) == Some(id))
    }
}

/// Retries `check` on fresh scrapes until it passes; the scrape that passed. Panics with the
/// last complaint after `secs`.
pub fn eventually(
    serve: &Serve,
    secs: u64,
    mut check: impl FnMut(&Metrics) -> Result<(), String>,
) -> Metrics {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let m = serve.metrics();
        match check(&m) {
            Ok(()) => return m,
            Err(e) if Instant::now() > deadline => panic!("gave up waiting: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(300)),
        }
    }
}

/// Waits until container `name` runs; its full id.
pub fn wait_running(inst: &Instance, name: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = inst.run(&["inspect", "-f", "{{.State.Pid}} {{.Id}}", name]);
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        if let Some((pid, id)) = text.trim().split_once(' ') {
            if pid.parse::<i64>().is_ok_and(|p| p > 0) {
                return id.to_string();
            }
        }
        assert!(Instant::now() < deadline, "{name} never ran");
        std::thread::sleep(Duration::from_millis(50));
    }
}
