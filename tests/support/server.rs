//! A `restorectl serve` child process for black-box tests over real sockets.
//!
//! [`Server::start`] runs the binary with `--listen 127.0.0.1:0`, waits (bounded)
//! for the one `listening on http://…` line on stdout, and kills the child when
//! dropped. Requests go through a blocking `ureq` agent that never turns an
//! HTTP status into an error, so every test asserts on status, headers and body.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long a server may take to print its `listening on` line (a debug
/// build on a busy 2-core CI machine, migrations included).
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Upper bound of any one request; a hang fails the test instead of CI.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    stderr: Arc<Mutex<String>>,
    stdout: Arc<Mutex<Vec<String>>>,
    agent: ureq::Agent,
    /// Bearer token sent by [`Server::get`] and [`Server::post`].
    pub token: Option<String>,
}

/// A finished HTTP exchange.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    /// The first value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn content_type(&self) -> &str {
        self.header("content-type").unwrap_or("")
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {}: body is not JSON ({e}): {:?}",
                self.status, self.body
            )
        })
    }

    /// Asserts a 200 and returns the JSON body.
    pub fn ok(&self) -> Value {
        assert_eq!(self.status, 200, "expected 200, got {self:?}");
        self.json()
    }

    /// Asserts an RFC 9457 problem with `status` and `code`, and returns it.
    pub fn problem(&self, status: u16, code: &str) -> Value {
        assert_eq!(
            self.status, status,
            "expected {status} {code}, got {self:?}"
        );
        assert!(
            self.content_type().starts_with("application/problem+json"),
            "problem content type, got {self:?}"
        );
        let body = self.json();
        assert_eq!(body["code"], code, "problem code: {body}");
        assert_eq!(body["status"], status, "problem status member: {body}");
        assert_eq!(
            body["type"],
            format!("urn:restorectl:problem:{code}"),
            "problem type: {body}"
        );
        assert!(body["title"].is_string(), "problem title: {body}");
        for leak in ["panicked", "RUST_BACKTRACE", "src/", ".rs:"] {
            assert!(!self.body.contains(leak), "`{leak}` in a problem: {body}");
        }
        body
    }
}

/// One request under construction; see [`Server::call`].
pub struct Call<'a> {
    server: &'a Server,
    method: &'static str,
    path: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    token: Option<String>,
}

impl Call<'_> {
    pub fn token(mut self, token: &str) -> Self {
        self.token = Some(token.to_owned());
        self
    }

    pub fn no_token(mut self) -> Self {
        self.token = None;
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// A JSON body with `Content-Type: application/json`.
    /// A JSON body with its object keys sorted, so the bytes sent (and the
    /// line/column any parse error names) do not depend on whether some
    /// crate in the build turned on serde_json's `preserve_order`.
    pub fn json(self, body: &Value) -> Self {
        self.raw(
            "application/json",
            sorted_keys(body).to_string().into_bytes(),
        )
    }

    /// Any body with the given content type (empty: no `Content-Type`).
    pub fn raw(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        if !content_type.is_empty() {
            self.headers
                .push(("content-type".to_owned(), content_type.to_owned()));
        }
        self.body = Some(body.into());
        self
    }

    pub fn send(self) -> Reply {
        let url = self.server.url(&self.path);
        let mut builder = ureq::http::Request::builder().method(self.method).uri(&url);
        for (k, v) in &self.headers {
            builder = builder.header(k, v);
        }
        if let Some(token) = &self.token {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        let result = match self.body {
            Some(body) => self
                .server
                .agent
                .run(builder.body(body).expect("request builds")),
            None => self
                .server
                .agent
                .run(builder.body(()).expect("request builds")),
        };
        let mut response = result.unwrap_or_else(|e| {
            panic!(
                "{} {url}: {e}\nserver stderr:\n{}",
                self.method,
                self.server.stderr()
            )
        });
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let bytes = response
            .body_mut()
            .with_config()
            .limit(256 << 20)
            .read_to_vec()
            .unwrap_or_else(|e| panic!("{} {url}: reading the body: {e}", self.method));
        Reply {
            status,
            headers,
            body: String::from_utf8(bytes).expect("response body is UTF-8"),
        }
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(REQUEST_TIMEOUT))
        .build()
        .into()
}

impl Server {
    /// Starts `restorectl serve --listen 127.0.0.1:0 ARGS…` and waits for its
    /// `listening on` line; panics (with its stderr) if it exits or is silent.
    pub fn start(args: &[&str]) -> Server {
        Self::start_env(args, &[])
    }

    pub fn start_env(args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_restorectl"));
        command
            .arg("serve")
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .current_dir(super::root())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("restorectl serve starts");
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        let mut err = child.stderr.take().expect("piped stderr");
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let lines = stdout.clone();
        let out = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut first = Some(tx);
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                match first.take() {
                    Some(tx) => {
                        let _ = tx.send(line);
                    }
                    None => lines.lock().unwrap().push(line),
                }
            }
        });
        let line = match rx.recv_timeout(START_TIMEOUT) {
            Ok(line) => line,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                // Give the stderr reader a moment to drain the pipe.
                std::thread::sleep(Duration::from_millis(100));
                panic!(
                    "restorectl serve {args:?} printed no `listening on` line ({e:?});\nstderr:\n{}",
                    stderr.lock().unwrap()
                );
            }
        };
        let base = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("first stdout line is {line:?}, not `listening on …`"))
            .trim_end_matches('/')
            .to_owned();
        assert!(
            base.starts_with("http://127.0.0.1:") && !base.ends_with(":0"),
            "bound address in {line:?}"
        );
        Server {
            child,
            base,
            stderr,
            stdout,
            agent: agent(),
            token: None,
        }
    }

    pub fn with_token(mut self, token: &str) -> Server {
        self.token = Some(token.to_owned());
        self
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn port(&self) -> u16 {
        self.base.rsplit(':').next().unwrap().parse().unwrap()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the server wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Lines the server wrote to stdout after the `listening on` line.
    pub fn stdout_lines(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }

    pub fn call(&self, method: &'static str, path: &str) -> Call<'_> {
        Call {
            server: self,
            method,
            path: path.to_owned(),
            headers: Vec::new(),
            body: None,
            token: self.token.clone(),
        }
    }

    pub fn get(&self, path: &str) -> Reply {
        self.call("GET", path).send()
    }

    pub fn post(&self, path: &str, body: &Value) -> Reply {
        self.call("POST", path).json(body).send()
    }

    /// Sends a signal by name (`TERM`, `HUP`, …) to this server's process only.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args(["-s", name, &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -s {name} {}", self.child.id());
    }

    /// Waits (bounded) for the process to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The value of a Prometheus sample: the sum over the lines of `name`
    /// whose labels contain every `label="value"` pair given.
    pub fn metric(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let text = self.get("/metrics");
        assert_eq!(text.status, 200, "{text:?}");
        metric_sum(&text.body, name, labels)
    }
}

/// See [`Server::metric`].
pub fn metric_sum(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let (metric, rest) = match series.split_once('{') {
                Some((m, rest)) => (m, rest),
                None => (series, ""),
            };
            if metric != name {
                return None;
            }
            labels
                .iter()
                .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")))
                .then(|| value.parse::<f64>().ok())?
        })
        .sum()
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Never a panic in the server, whatever the test sent it.
        let stderr = self.stderr();
        if !std::thread::panicking() && stderr.contains("panicked at") {
            panic!("the server panicked:\n{stderr}");
        }
    }
}

/// Runs `restorectl serve ARGS…` expecting it to exit by itself (bounded);
/// returns (exit code, stdout, stderr). Panics if it is still running.
pub fn serve_exits(args: &[&str], timeout: Duration) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_restorectl"))
        .arg("serve")
        .args(args)
        .current_dir(super::root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("restorectl serve starts");
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            let mut out = String::new();
            let mut err = String::new();
            child.stdout.take().unwrap().read_to_string(&mut out).ok();
            child.stderr.take().unwrap().read_to_string(&mut err).ok();
            return (status.code().unwrap_or(-1), out, err);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("restorectl serve {args:?} did not exit within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Polls `check` every 20 ms until it returns `Some`, at most `timeout`.
pub fn eventually<T>(timeout: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `value` with every object's keys in sorted order, whatever map type
/// serde_json was built with.
fn sorted_keys(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted_keys(&map[k])))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted_keys).collect()),
        other => other.clone(),
    }
}
