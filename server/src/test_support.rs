//! Shared helpers for the unit tests of the serverops modules: the
//! repository's real rules and test directory, and an in-memory sink.

use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use restore_directory::Directory;
use restore_engine::facts::{Facts, Request};
use restore_engine::{Decision, PolicySet};

/// The repository's `rules/` folder.
pub fn rules_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../rules")
}

pub fn policy_set() -> PolicySet {
    PolicySet::load_dir(&rules_dir()).expect("the repository's rules load")
}

/// The time the test directory was written for.
pub fn fixture_time() -> DateTime<Utc> {
    "2026-11-24T10:00:00Z".parse().unwrap()
}

pub fn directory() -> restore_memory::MemoryDirectory {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/directory.yaml");
    restore_memory::MemoryDirectory::open(&path).expect("the test directory loads")
}

pub fn facts(tenant: &str, member: &str, actor: Option<&str>) -> Facts {
    futures::executor::block_on(directory().facts(tenant, member, actor)).expect("known member")
}

/// A real decision of the default rules on the test directory.
pub fn decide(tenant: &str, member: &str, actor: Option<&str>) -> Decision {
    let set = policy_set();
    let at = fixture_time();
    let policy = set.select(None, None, at).unwrap();
    policy
        .evaluate(&facts(tenant, member, actor), &Request::default(), at)
        .unwrap()
}

/// A denied decision with blockers (`full-pro` / `p_gone`).
pub fn sample_decision() -> Decision {
    let decision = decide("full-pro", "p_gone", Some("p_admin"));
    assert!(!decision.allowed && !decision.blockers.is_empty());
    decision
}

/// A `Write` whose bytes the test can read afterwards.
#[derive(Debug, Clone, Default)]
pub struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl SharedBuf {
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Version 2.0.0 of the default rules (`v1` is its text), in force from
/// 2025-01-01, with a restore window of one hour: members deleted longer
/// ago than that are denied (`window_expired`) where v1 allowed them.
pub fn v2_rules(v1: &str) -> String {
    let v2 = v1
        .replace("version: \"1.0.0\"", "version: \"2.0.0\"")
        .replace(
            "effective_from: 2024-11-21T00:00:00Z",
            "effective_from: 2025-01-01T00:00:00Z",
        )
        .replace("restore_window: 30d", "restore_window: 1h");
    assert_ne!(v1, v2);
    assert!(v2.contains("2.0.0") && v2.contains("restore_window: 1h"));
    v2
}

/// A server state on the repository's rules and test directory, with a
/// reloader on the rules folder (no tokens: every caller is `anonymous`).
pub fn test_state() -> crate::state::AppState {
    test_state_with(|_| {})
}

/// [`test_state`] with changed limits.
pub fn test_state_with(
    edit: impl FnOnce(&mut crate::state::ServerConfig),
) -> crate::state::AppState {
    let mut config = crate::state::ServerConfig::default();
    edit(&mut config);
    state(None, config, ops())
}

/// [`test_state`] with tokens `(name, token, scopes, tenants)`, e.g.
/// `("billing", "secret", "[decide]", "[acme]")`.
pub fn test_state_with_tokens(list: &[(&str, &str, &str, &str)]) -> crate::state::AppState {
    state(Some(tokens(list)), Default::default(), ops())
}

/// A reloader on the repository's rules folder.
pub fn ops() -> crate::serverops::ServerOps {
    crate::serverops::ServerOps {
        reloader: Some(crate::reload::Reloader::new(rules_dir(), None)),
        ..Default::default()
    }
}

pub fn state(
    tokens: Option<crate::auth::Tokens>,
    config: crate::state::ServerConfig,
    ops: crate::serverops::ServerOps,
) -> crate::state::AppState {
    state_on(policy_set(), tokens, config, ops)
}

/// A state serving `set` on the test directory.
pub fn state_on(
    set: PolicySet,
    tokens: Option<crate::auth::Tokens>,
    config: crate::state::ServerConfig,
    ops: crate::serverops::ServerOps,
) -> crate::state::AppState {
    crate::state::AppState::with_ops(set, Arc::new(directory()), tokens, config, ops)
}

/// Tokens `(name, token, scopes, tenants)`, e.g. `("billing", "secret", "[decide]", "[acme]")`.
pub fn tokens(list: &[(&str, &str, &str, &str)]) -> crate::auth::Tokens {
    use sha2::Digest;
    let mut yaml = String::from("tokens:\n");
    for (name, token, scopes, tenants) in list {
        let digest = hex::encode(sha2::Sha256::digest(token.as_bytes()));
        yaml.push_str(&format!(
            "  - {{name: {name}, sha256: {digest}, scopes: {scopes}, tenants: {tenants}}}\n"
        ));
    }
    crate::auth::Tokens::parse("tokens.yaml", &yaml).expect("test tokens parse")
}

/// A rules folder holding the default v1 rules (and `v2.yaml` with `v2`).
pub fn rules_folder(v2: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let v1 = std::fs::read_to_string(
        rules_dir().join("../tests/fixtures/rules-v1/default-restore.v1.yaml"),
    )
    .unwrap();
    std::fs::write(dir.path().join("default-restore.v1.yaml"), &v1).unwrap();
    if v2 {
        std::fs::write(dir.path().join("v2.yaml"), v2_rules(&v1)).unwrap();
    }
    dir
}

/// A reply read off the socket.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    /// Lower-case names.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

/// The server on 127.0.0.1:0, served until the test's runtime ends.
pub async fn serve(state: crate::state::AppState) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = crate::routes::router(state);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

/// One HTTP/1.1 request over a fresh connection (`Connection: close`).
pub async fn http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(20),
        stream.read_to_end(&mut raw),
    )
    .await
    .expect("the server answers within 20 s")
    .unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete head");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    Reply {
        status,
        headers,
        body,
    }
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(end) = raw.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size = usize::from_str_radix(
            std::str::from_utf8(&raw[..end])
                .unwrap()
                .split(';')
                .next()
                .unwrap()
                .trim(),
            16,
        )
        .unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&raw[end + 2..end + 2 + size]);
        raw = &raw[end + 2 + size + 2..];
    }
}

/// `http` with a JSON body.
pub async fn post_json(addr: std::net::SocketAddr, path: &str, body: &serde_json::Value) -> Reply {
    http(
        addr,
        "POST",
        path,
        &[("Content-Type", "application/json")],
        body.to_string().as_bytes(),
    )
    .await
}
