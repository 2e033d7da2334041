//! `restorectl serve` with the operations flags, as a process: start-up
//! errors for `--shadow-version` and `--decision-log`, a broken rule file
//! reported by `/readyz` then fixed by SIGHUP, and the decision log flushed
//! by a graceful SIGTERM.

// Test code: it asserts by panicking.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use support::root;

fn serve(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_restorectl"));
    command
        .current_dir(root())
        .args([
            "serve",
            "--directory",
            "memory:tests/fixtures/directory.yaml",
        ])
        .args(["--listen", "127.0.0.1:0"])
        .args(args);
    command
}

#[test]
fn an_unknown_shadow_version_or_unwritable_log_exits_2_naming_it() {
    let out = serve(&["--rules", "rules", "--shadow-version", "9.9.9"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("9.9.9") && stderr.contains("1.0.0"),
        "{stderr}"
    );

    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("no-such-dir").join("decisions.ndjson");
    let out = serve(&["--rules", "rules", "--decision-log", log.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-dir"));
}

/// Kills the server if a test fails half-way.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// One request, `Connection: close`; (status, body).
fn request(addr: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let status = raw.split(' ').nth(1).unwrap().parse().unwrap();
    let body = raw.split_once("\r\n\r\n").unwrap().1.to_owned();
    (status, body)
}

fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    for _ in 0..200 {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    cond()
}

#[test]
fn sighup_fixes_a_reported_reload_error_and_sigterm_flushes_the_log() {
    let rules = tempfile::tempdir().unwrap();
    std::fs::copy(
        root().join("rules/default-restore.v1.yaml"),
        rules.path().join("default-restore.v1.yaml"),
    )
    .unwrap();
    let log = rules.path().join("decisions.ndjson");
    let mut server = Server(
        serve(&[
            "--rules",
            rules.path().to_str().unwrap(),
            "--decision-log",
            log.to_str().unwrap(),
            "--no-watch",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(server.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("first line: {line}"))
        .to_owned();

    let (status, body) = request(
        &addr,
        "POST",
        "/access/v1/evaluation",
        r#"{"subject":{"type":"user","id":"u_anna"},"action":{"name":"restore"},
            "resource":{"type":"deleted_member","id":"u_bob","properties":{"tenant":"acme"}},
            "context":{"time":"2026-11-24T10:00:00Z"}}"#,
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.starts_with(r#"{"decision":true"#), "{body}");

    // A broken file, then SIGHUP: reported, the old rules keep serving.
    std::fs::write(
        rules.path().join("broken.yaml"),
        "format: restore-rules/v1\npolicy: [\n",
    )
    .unwrap();
    signal(&server.0, "HUP");
    assert!(eventually(|| request(&addr, "GET", "/readyz", "")
        .1
        .contains("broken.yaml")));
    let (_, metrics) = request(&addr, "GET", "/metrics", "");
    assert!(
        metrics.contains("restore_policy_reload_failures_total 1"),
        "{metrics}"
    );
    // Removed, then SIGHUP: the error clears.
    std::fs::remove_file(rules.path().join("broken.yaml")).unwrap();
    signal(&server.0, "HUP");
    assert!(eventually(|| request(&addr, "GET", "/readyz", "")
        .1
        .contains(r#""last_reload_error":null"#)));

    signal(&server.0, "TERM");
    let status = server.0.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert_eq!(lines[0]["endpoint"], "/access/v1/evaluation");
    assert_eq!(lines[0]["actor"], "u_anna");
}
