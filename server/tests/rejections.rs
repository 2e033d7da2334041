//! Every way the HTTP layer can refuse a request answers an RFC 9457
//! problem with the contract's code: over a real socket on 127.0.0.1, on
//! the memory directory of the test fixture.

// Test code: it asserts by panicking.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

use std::path::Path;
use std::sync::Arc;

use restore_engine::PolicySet;
use restore_server::{AppState, ServerConfig, Tokens};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: serde_json::Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }
}

/// Starts a server on 127.0.0.1:0; returns its address.
async fn start(tokens: Option<Tokens>, config: ServerConfig) -> std::net::SocketAddr {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let set = PolicySet::load_dir(&root.join("rules")).unwrap();
    let directory =
        restore_memory::MemoryDirectory::open(&root.join("tests/fixtures/directory.yaml")).unwrap();
    let state = AppState::new(set, Arc::new(directory), tokens, config);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(restore_server::serve(
        listener,
        state,
        std::future::pending(),
    ));
    address
}

/// One HTTP/1.1 request on its own connection; `head` is the request line
/// and headers (CRLF-separated, without the final blank line).
async fn send(address: std::net::SocketAddr, head: &str, body: &[u8]) -> Answer {
    let mut stream = TcpStream::connect(address).await.unwrap();
    let request = format!(
        "{head}\r\nHost: test\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    // The server may answer (413) before reading the whole body.
    let _ = stream.write_all(body).await;
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw).await;
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect();
    Answer {
        status,
        headers,
        body: serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
    }
}

fn post(path: &str, extra: &str) -> String {
    format!("POST {path} HTTP/1.1\r\nContent-Type: application/json{extra}")
}

fn assert_problem(answer: &Answer, status: u16, code: &str) {
    assert_eq!(answer.status, status, "{}", answer.body);
    assert_eq!(answer.code(), code, "{}", answer.body);
    assert_eq!(
        answer.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(answer.body["status"], status);
    assert_eq!(
        answer.body["type"],
        format!("urn:restorectl:problem:{code}")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routing_and_body_rejections_are_problems() {
    let config = ServerConfig {
        max_body_bytes: 4096,
        max_batch_items: 2,
        ..ServerConfig::default()
    };
    let server = start(None, config).await;
    let good = br#"{"tenant":"acme","member":"u_bob","at":"2026-11-24T10:00:00Z"}"#;

    let answer = send(server, &post("/v1/eligibility", ""), good).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["member"], "u_bob");
    let decision_id = answer.header("x-decision-id").unwrap();
    assert!(decision_id.len() == 32 && decision_id.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(answer.header("x-request-id").map(str::len), Some(32));

    let cases: Vec<(String, Vec<u8>, u16, &str)> = vec![
        (post("/v1/eligibility", ""), b"{\"tenant\":".to_vec(), 400, "malformed_json"),
        (post("/v1/eligibility", ""), b"{\"tenant\":\"acme\"}".to_vec(), 422, "invalid_request"),
        (post("/v1/eligibility", ""), b"{\"tenant\":\"acme\",\"member\":\"u_bob\",\"x\":1}".to_vec(), 422, "invalid_request"),
        (post("/v1/eligibility", ""), b"{\"tenant\":\"acme\",\"member\":\"u_bob\",\"at\":\"2026-11-24T10:00:00\"}".to_vec(), 422, "invalid_request"),
        ("POST /v1/eligibility HTTP/1.1\r\nContent-Type: text/plain".into(), good.to_vec(), 415, "unsupported_media_type"),
        ("POST /v1/eligibility HTTP/1.1".into(), good.to_vec(), 415, "unsupported_media_type"),
        (post("/v1/eligibility", ""), vec![b' '; 5000], 413, "payload_too_large"),
        ("GET /v1/eligibility HTTP/1.1".into(), vec![], 405, "method_not_allowed"),
        ("GET /v2/nothing HTTP/1.1".into(), vec![], 404, "not_found"),
        (post("/v1/eligibility", ""), b"{\"tenant\":\"nope\",\"member\":\"u_bob\"}".to_vec(), 404, "unknown_tenant"),
        (post("/v1/eligibility", ""), b"{\"tenant\":\"acme\",\"member\":\"nope\"}".to_vec(), 404, "unknown_member"),
        (post("/v1/eligibility", ""), b"{\"tenant\":\"acme\",\"member\":\"u_bob\",\"actor\":\"nope\"}".to_vec(), 422, "unknown_actor"),
        (post("/v1/eligibility", ""), b"{\"tenant\":\"acme\",\"member\":\"u_bob\",\"policy_version\":\"9\"}".to_vec(), 422, "unknown_policy"),
        (post("/v1/eligibility/batch", ""), b"{\"items\":[]}".to_vec(), 422, "invalid_request"),
        (post("/v1/eligibility/batch", ""), br#"{"items":[{"tenant":"a","member":"b"},{"tenant":"a","member":"b"},{"tenant":"a","member":"b"}]}"#.to_vec(), 413, "too_many_items"),
        (post("/v1/tenants/acme/members/u_bob/restore", ""), br#"{"actor":"u_anna","department":"x","at":"2026-11-24T10:00:00Z"}"#.to_vec(), 422, "invalid_request"),
        (post("/v1/tenants/acme/members/u_bob/restore", ""), br#"{"actor":"u_anna","department":" "}"#.to_vec(), 422, "department_required"),
        ("GET /v1/tenants/acme/deleted-members?color=red HTTP/1.1".into(), vec![], 422, "invalid_request"),
        ("GET /v1/tenants/%FF/deleted-members HTTP/1.1".into(), vec![], 422, "invalid_request"),
        ("GET /v1/tenants/nope/deleted-members HTTP/1.1".into(), vec![], 404, "unknown_tenant"),
    ];
    for (head, body, status, code) in cases {
        let answer = send(server, &head, &body).await;
        assert_problem(&answer, status, code);
        let text = answer.body.to_string();
        assert!(
            !text.contains("panicked") && !text.contains(".rs:"),
            "{text}"
        );
    }

    let answer = send(server, "GET /v1/eligibility HTTP/1.1", &[]).await;
    assert_eq!(answer.header("allow"), Some("POST"));
    let answer = send(
        server,
        "GET /healthz HTTP/1.1\r\nX-Request-Id: caller-chosen-1",
        &[],
    )
    .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("x-request-id"), Some("caller-chosen-1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_scopes_and_tenant_binding_over_http() {
    let digest = |token: &str| hex::encode(Sha256::digest(token.as_bytes()));
    let tokens = Tokens::parse(
        "tokens.yaml",
        &format!(
            "tokens:\n\
             - {{name: reader, sha256: {}, scopes: [decide], tenants: ['*']}}\n\
             - {{name: acme, sha256: {}, scopes: [restore], tenants: [acme]}}\n\
             - {{name: ops, sha256: {}, scopes: [admin], tenants: ['*']}}\n",
            digest("read-token"),
            digest("acme-token"),
            digest("ops-token")
        ),
    )
    .unwrap();
    let server = start(Some(tokens), ServerConfig::default()).await;
    let body = br#"{"tenant":"acme","member":"u_bob","at":"2026-11-24T10:00:00Z"}"#;
    let bearer = |token: &str| format!("\r\nAuthorization: Bearer {token}");

    let answer = send(server, &post("/v1/eligibility", ""), body).await;
    assert_problem(&answer, 401, "unauthorized");
    assert_eq!(answer.header("www-authenticate"), Some("Bearer"));
    let answer = send(server, &post("/v1/eligibility", &bearer("wrong")), body).await;
    assert_problem(&answer, 401, "unauthorized");
    let answer = send(
        server,
        &post("/v1/eligibility", &bearer("read-token")),
        body,
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let answer = send(server, &post("/v1/eligibility", &bearer("ops-token")), body).await;
    assert_problem(&answer, 403, "forbidden");

    // Bound to acme: every other tenant, existing or not, is the same 403.
    let globex = send(
        server,
        &post("/v1/eligibility", &bearer("acme-token")),
        br#"{"tenant":"globex","member":"x"}"#,
    )
    .await;
    let missing = send(
        server,
        &post("/v1/eligibility", &bearer("acme-token")),
        br#"{"tenant":"no-such-tenant","member":"x"}"#,
    )
    .await;
    assert_problem(&globex, 403, "forbidden");
    assert_eq!(globex.body, missing.body);
    let stream = send(
        server,
        &format!(
            "GET /v1/tenants/globex/deleted-members HTTP/1.1{}",
            bearer("acme-token")
        ),
        &[],
    )
    .await;
    assert_problem(&stream, 403, "forbidden");

    // restore needs the restore scope; admin endpoints need admin.
    let restore = br#"{"actor":"u_anna","department":"Sales"}"#;
    let answer = send(
        server,
        &post(
            "/v1/tenants/acme/members/u_bob/restore",
            &bearer("read-token"),
        ),
        restore,
    )
    .await;
    assert_problem(&answer, 403, "forbidden");
    let answer = send(
        server,
        &format!("GET /v1/policies HTTP/1.1{}", bearer("read-token")),
        &[],
    )
    .await;
    assert_problem(&answer, 403, "forbidden");
    let answer = send(
        server,
        &format!("GET /v1/policies HTTP/1.1{}", bearer("ops-token")),
        &[],
    )
    .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body["policies"][0]["in_force"], true);

    // Probes and metrics need no token.
    for path in ["/healthz", "/readyz"] {
        let answer = send(server, &format!("GET {path} HTTP/1.1"), &[]).await;
        assert_eq!(answer.status, 200, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_server_sheds_and_a_slow_request_times_out() {
    let config = ServerConfig {
        max_concurrency: 1,
        request_timeout: std::time::Duration::from_millis(1500),
        ..ServerConfig::default()
    };
    let server = start(None, config).await;
    // A body announced but never finished holds the only permit.
    let mut slow = TcpStream::connect(server).await.unwrap();
    slow.write_all(
        b"POST /v1/eligibility HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n\
          Content-Length: 100\r\nConnection: close\r\n\r\n{\"tenant\":",
    )
    .await
    .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    let shed = send(
        server,
        &post("/v1/eligibility", ""),
        br#"{"tenant":"acme","member":"u_bob"}"#,
    )
    .await;
    assert_problem(&shed, 503, "overloaded");
    assert_eq!(shed.header("retry-after"), Some("1"));
    // Probes are not shed.
    let health = send(server, "GET /healthz HTTP/1.1", &[]).await;
    assert_eq!(health.status, 200);
    let metrics = send(server, "GET /metrics HTTP/1.1", &[]).await;
    assert_eq!(metrics.status, 200);

    // The slow request runs out of time: 408, and its permit is free again.
    let mut raw = Vec::new();
    slow.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8(raw).unwrap();
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("\"code\":\"request_timeout\""), "{text}");
    let answer = send(
        server,
        &post("/v1/eligibility", ""),
        br#"{"tenant":"acme","member":"u_bob"}"#,
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_finishes_its_head_is_disconnected() {
    let config = ServerConfig {
        request_timeout: std::time::Duration::from_millis(700),
        ..ServerConfig::default()
    };
    let server = start(None, config).await;
    let mut slow = TcpStream::connect(server).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: te")
        .await
        .unwrap();
    let mut raw = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        slow.read_to_end(&mut raw),
    )
    .await;
    assert!(
        read.is_ok(),
        "the server kept a half-sent request head open"
    );
    // Other clients are served meanwhile and after.
    let answer = send(server, "GET /healthz HTTP/1.1", &[]).await;
    assert_eq!(answer.status, 200);
}
