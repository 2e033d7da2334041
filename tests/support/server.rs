//! A `restorectl serve` child process for black-box tests over real sockets.
//!
//! [`Server::start`] runs the binary with `--listen 127.0.0.1:0`, waits (bounded)
//! for the one `listening on http://…` line on stdout, and kills the child when
//! dropped. Requests go through a blocking `ureq` agent that never turns an
//! HTTP status into an error, so every test asserts on status, headers and body.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest, Sha256};

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
    pub fn json(self, body: &Value) -> Self {
        self.raw("application/json", body.to_string().into_bytes())
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

/// A token of the tokens file: (name, secret, scopes, tenants).
pub type TokenSpec<'a> = (&'a str, &'a str, &'a [&'a str], &'a [&'a str]);

/// Writes a `--tokens` file holding the sha256 of each secret.
pub fn write_tokens(path: &Path, tokens: &[TokenSpec]) {
    let mut yaml = String::from("tokens:\n");
    for (name, secret, scopes, tenants) in tokens {
        let digest: String = Sha256::digest(secret.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let list = |items: &[&str]| {
            items
                .iter()
                .map(|s| format!("\"{s}\""))
                .collect::<Vec<_>>()
                .join(", ")
        };
        yaml.push_str(&format!(
            "  - name: {name}\n    sha256: {digest}\n    scopes: [{}]\n    tenants: [{}]\n",
            list(scopes),
            list(tenants)
        ));
    }
    std::fs::write(path, yaml).expect("write tokens file");
}

/// A snapshot file: the test fixture plus tenants whose members were deleted
/// relative to now, so that restores (decided at the server's clock) pass on
/// any date. `live`: pro, 10 seats with 8 used, admin `l_admin`, plain member
/// `l_user`; deleted `l_a`, `l_b`, `l_c` (a day ago), `l_old` (40 days ago,
/// outside the 30-day window). `race`: pro, 50 seats with 49 used, admin
/// `r_admin`, deleted `r_00`…`r_19` (a day ago).
pub fn write_live_snapshot(path: &Path) {
    let now = chrono::Utc::now();
    let ago = |days: i64| {
        (now - chrono::Duration::days(days)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    let mut yaml = std::fs::read_to_string(super::fixture("directory.yaml")).expect("fixture");
    if !yaml.ends_with('\n') {
        yaml.push('\n');
    }
    let deleted = |id: &str, days: i64| {
        format!(
            "      - {{ id: {id}, deleted_at: {}, reason: removed_by_admin, deletion: completed }}\n",
            ago(days)
        )
    };
    yaml.push_str(
        "  - id: live\n    plan: pro\n    seats: { total: 10, used: 8 }\n    members:\n      - { id: l_admin, roles: [primary_admin] }\n      - { id: l_user, roles: [] }\n    deleted_members:\n",
    );
    for id in ["l_a", "l_b", "l_c"] {
        yaml.push_str(&deleted(id, 1));
    }
    yaml.push_str(&deleted("l_old", 40));
    yaml.push_str(
        "  - id: race\n    plan: pro\n    seats: { total: 50, used: 49 }\n    members:\n      - { id: r_admin, roles: [primary_admin] }\n    deleted_members:\n",
    );
    for i in 0..20 {
        yaml.push_str(&deleted(&format!("r_{i:02}"), 1));
    }
    std::fs::write(path, yaml).expect("write snapshot");
}

/// `restorectl import --from SNAPSHOT --to URL`, asserting success.
pub fn import(snapshot: &Path, url: &str) {
    let (code, _, err) =
        super::restorectl(&["import", "--from", snapshot.to_str().unwrap(), "--to", url]);
    assert_eq!(code, 0, "import into {url}: {err}");
}

/// A rules folder: the default policy 1.0.0, and a 2.0.0 with a 60-day
/// window that takes effect only in 2999 (so 1.0.0 stays in force on any
/// date a test runs; pin 2.0.0 or shadow it to see the difference).
pub fn write_rules(dir: &Path) {
    let v1 = std::fs::read_to_string(super::root().join("rules/default-restore.v1.yaml")).unwrap();
    let v2 = v1
        .replace("version: \"1.0.0\"", "version: \"2.0.0\"")
        .replace(
            "effective_from: 2024-11-21T00:00:00Z",
            "effective_from: 2999-01-01T00:00:00Z",
        )
        .replace("restore_window: 30d ", "restore_window: 60d ");
    assert!(
        v2.contains("2999-01-01") && v2.contains("restore_window: 60d"),
        "v2 edits applied"
    );
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("default-restore.v1.yaml"), v1).unwrap();
    std::fs::write(dir.join("default-restore.v2.yaml"), v2).unwrap();
}

/// A third version, in force since 2025 (so it replaces 1.0.0 now).
pub fn v3_text() -> String {
    std::fs::read_to_string(super::root().join("rules/default-restore.v1.yaml"))
        .unwrap()
        .replace("version: \"1.0.0\"", "version: \"3.0.0\"")
        .replace(
            "effective_from: 2024-11-21T00:00:00Z",
            "effective_from: 2025-01-01T00:00:00Z",
        )
}

/// Tokens of [`Setup`]: secrets sent as `Bearer` tokens.
pub const ADMIN: &str = "admin-secret-0123456789";
pub const DECIDE: &str = "decide-secret-0123456789";
pub const RESTORE: &str = "restore-secret-0123456789";
/// `decide`, bound to tenant `acme`.
pub const ACME_DECIDE: &str = "acme-decide-secret-0123456789";
/// `restore`, bound to tenant `acme`.
pub const ACME_RESTORE: &str = "acme-restore-secret-0123456789";

/// A scratch folder with the rules of [`write_rules`], the snapshot of
/// [`write_live_snapshot`] imported into SQLite, and a tokens file.
pub struct Setup {
    pub dir: tempfile::TempDir,
    pub rules: String,
    pub snapshot: std::path::PathBuf,
    /// `sqlite:…` with the snapshot imported.
    pub sqlite: String,
    /// `memory:…` of the snapshot.
    pub memory: String,
    pub tokens: String,
}

impl Setup {
    pub fn new() -> Setup {
        Self::with_sqlite(true)
    }

    /// Without the SQLite import (for tests on memory: or PostgreSQL).
    pub fn without_sqlite() -> Setup {
        Self::with_sqlite(false)
    }

    fn with_sqlite(sqlite: bool) -> Setup {
        let dir = tempfile::tempdir().expect("tempdir");
        let rules = dir.path().join("rules");
        write_rules(&rules);
        let snapshot = dir.path().join("directory.yaml");
        write_live_snapshot(&snapshot);
        let db = format!("sqlite:{}", dir.path().join("directory.db").display());
        if sqlite {
            import(&snapshot, &db);
        }
        let tokens = dir.path().join("tokens.yaml");
        write_tokens(
            &tokens,
            &[
                ("ops-admin", ADMIN, &["admin"], &["*"]),
                ("billing", DECIDE, &["decide"], &["*"]),
                ("helpdesk", RESTORE, &["restore"], &["*"]),
                ("acme-portal", ACME_DECIDE, &["decide"], &["acme"]),
                ("acme-helpdesk", ACME_RESTORE, &["restore"], &["acme"]),
            ],
        );
        Setup {
            rules: rules.display().to_string(),
            memory: format!("memory:{}", snapshot.display()),
            snapshot,
            sqlite: db,
            tokens: tokens.display().to_string(),
            dir,
        }
    }

    pub fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    /// `--rules … --directory URL --no-watch` plus `extra`.
    pub fn serve(&self, directory: &str, extra: &[&str]) -> Server {
        let mut args = vec![
            "--rules",
            &self.rules,
            "--directory",
            directory,
            "--no-watch",
        ];
        args.extend_from_slice(extra);
        Server::start(&args)
    }

    /// As [`Setup::serve`], with `--tokens`.
    pub fn serve_with_tokens(&self, directory: &str, extra: &[&str]) -> Server {
        let mut args = vec!["--tokens", self.tokens.as_str()];
        args.extend_from_slice(extra);
        self.serve(directory, &args)
    }

    /// `restorectl ARGS… --rules RULES --directory URL`: (code, stdout, stderr).
    pub fn cli(&self, directory: &str, args: &[&str]) -> (i32, String, String) {
        let mut all: Vec<&str> = args.to_vec();
        all.extend_from_slice(&["--rules", &self.rules, "--directory", directory]);
        super::restorectl(&all)
    }
}

/// 32 lowercase hex digits (a 128-bit decision id).
pub fn is_decision_id(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}
