//! Every error of the service contract as an RFC 9457 problem with its
//! stable code, and the security rules: bearer tokens, scopes, tenant
//! binding without revealing existence, loopback only without tokens.

// Test code: it asserts by panicking.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::server::{eventually, serve_exits};
use support::setup::{Setup, ACME_DECIDE, ACME_RESTORE, ADMIN, DECIDE, RESTORE};

const AT: &str = "2026-11-24T10:00:00Z";

#[test]
fn malformed_requests_are_problems() {
    let setup = Setup::new();
    let server = setup
        .serve_with_tokens(
            &setup.sqlite,
            &["--max-body-bytes", "4096", "--max-batch-items", "5"],
        )
        .with_token(DECIDE);
    let post = |path: &str, content_type: &str, body: &str| {
        server
            .call("POST", path)
            .raw(content_type, body.as_bytes().to_vec())
            .send()
    };

    // 400: not JSON.
    post("/v1/eligibility", "application/json", "{\"tenant\": ").problem(400, "malformed_json");
    post(
        "/v1/eligibility/batch",
        "application/json",
        "{\"items\": [}",
    )
    .problem(400, "malformed_json");
    // 415: not declared as JSON.
    let body = r#"{"tenant":"acme","member":"u_bob"}"#;
    post("/v1/eligibility", "text/plain", body).problem(415, "unsupported_media_type");
    post("/v1/eligibility", "", body).problem(415, "unsupported_media_type");
    // 422: fields.
    let p = server
        .post(
            "/v1/eligibility",
            &json!({"tenant": "acme", "member": "u_bob", "at": "2026-11-24T10:00:00"}),
        )
        .problem(422, "invalid_request");
    let detail = p["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("at"), "the field is named: {p}");
    assert!(detail.to_lowercase().contains("zone"), "says why: {p}");
    let p = server
        .post(
            "/v1/eligibility",
            &json!({"tenant": "acme", "member": "u_bob", "color": "red"}),
        )
        .problem(422, "invalid_request");
    assert!(
        p["detail"].as_str().unwrap_or_default().contains("color"),
        "{p}"
    );
    let p = server
        .post("/v1/eligibility", &json!({"tenant": "acme"}))
        .problem(422, "invalid_request");
    assert!(
        p["detail"].as_str().unwrap_or_default().contains("member"),
        "{p}"
    );
    server
        .post("/v1/eligibility", &json!({"tenant": "acme", "member": 7}))
        .problem(422, "invalid_request");
    server
        .post(
            "/v1/eligibility",
            &json!({"tenant": "acme", "member": "u_bob", "actor": "u_ghost", "at": AT}),
        )
        .problem(422, "unknown_actor");
    server
        .post(
            "/v1/eligibility",
            &json!({"tenant": "acme", "member": "u_bob", "policy_version": "9.9.9"}),
        )
        .problem(422, "unknown_policy");
    server
        .post(
            "/v1/eligibility",
            &json!({"tenant": "acme", "member": "u_bob", "policy": "no-such-policy"}),
        )
        .problem(422, "unknown_policy");
    server
        .post(
            "/v1/eligibility",
            &json!({"tenant": "acme", "member": "u_bob", "at": "2020-01-01T00:00:00Z"}),
        )
        .problem(422, "unknown_policy"); // no version in force in 2020
    server
        .post("/v1/eligibility/batch", &json!({"items": []}))
        .problem(422, "invalid_request");
    // 404.
    server
        .post(
            "/v1/eligibility",
            &json!({"tenant": "nosuch", "member": "u_bob"}),
        )
        .problem(404, "unknown_tenant");
    server
        .post(
            "/v1/eligibility",
            &json!({"tenant": "acme", "member": "nobody"}),
        )
        .problem(404, "unknown_member");
    server
        .post(
            "/v1/eligibility",
            &json!({"tenant": "acme", "member": "g_only"}),
        )
        .problem(404, "unknown_member");
    server.get("/v1/nothing-here").problem(404, "not_found");
    // 405.
    server
        .get("/v1/eligibility")
        .problem(405, "method_not_allowed");
    server
        .call("DELETE", "/v1/eligibility/batch")
        .send()
        .problem(405, "method_not_allowed");
    // 413: body and item count.
    let big = json!({"tenant": "acme", "member": "u_bob", "actor": "x".repeat(8192)});
    server
        .post("/v1/eligibility", &big)
        .problem(413, "payload_too_large");
    let items: Vec<Value> = (0..6)
        .map(|_| json!({"tenant": "acme", "member": "u_bob"}))
        .collect();
    server
        .post("/v1/eligibility/batch", &json!({"items": items}))
        .problem(413, "too_many_items");
    let five = &items[..5];
    let ok = server
        .post("/v1/eligibility/batch", &json!({"items": five}))
        .ok();
    assert_eq!(ok["results"].as_array().unwrap().len(), 5);

    // The server is unharmed by all of that.
    server
        .post(
            "/v1/eligibility",
            &json!({"tenant": "acme", "member": "u_bob", "at": AT}),
        )
        .ok();
}

#[test]
fn tokens_scopes_and_tenant_binding() {
    let setup = Setup::new();
    let server = setup.serve_with_tokens(&setup.sqlite, &[]);
    let decide = json!({"tenant": "acme", "member": "u_bob", "at": AT});
    let eligibility = |token: Option<&str>, body: &Value| {
        let call = server.call("POST", "/v1/eligibility").json(body);
        match token {
            Some(t) => call.token(t).send(),
            None => call.send(),
        }
    };

    // 401: no token, an unknown token, a malformed header.
    let reply = eligibility(None, &decide);
    reply.problem(401, "unauthorized");
    let challenge = reply.header("www-authenticate").unwrap_or_default();
    assert!(challenge.starts_with("Bearer"), "{reply:?}");
    eligibility(Some("not-a-token"), &decide).problem(401, "unauthorized");
    server
        .call("POST", "/v1/eligibility")
        .header("authorization", &format!("Basic {DECIDE}"))
        .json(&decide)
        .send()
        .problem(401, "unauthorized");

    // Scopes: decide reads, restore also restores, admin only administers.
    eligibility(Some(DECIDE), &decide).ok();
    eligibility(Some(RESTORE), &decide).ok();
    eligibility(Some(ADMIN), &decide).problem(403, "forbidden");
    let restore_body = json!({"actor": "l_admin", "department": "ops"});
    server
        .call("POST", "/v1/tenants/live/members/l_a/restore")
        .token(DECIDE)
        .json(&restore_body)
        .send()
        .problem(403, "forbidden");
    server
        .call("POST", "/v1/tenants/live/members/l_a/restore")
        .token(ADMIN)
        .json(&restore_body)
        .send()
        .problem(403, "forbidden");
    server
        .call("GET", "/v1/policies")
        .token(DECIDE)
        .send()
        .problem(403, "forbidden");
    server
        .call("GET", "/v1/policies")
        .token(RESTORE)
        .send()
        .problem(403, "forbidden");
    let policies = server.call("GET", "/v1/policies").token(ADMIN).send().ok();
    assert_eq!(
        policies["policies"].as_array().unwrap().len(),
        2,
        "{policies}"
    );

    // Tenant binding: 403 for any other tenant, existing or not, and the
    // two answers cannot be told apart (the tenant id aside).
    eligibility(Some(ACME_DECIDE), &decide).ok();
    let other = eligibility(
        Some(ACME_DECIDE),
        &json!({"tenant": "globex", "member": "g_only"}),
    );
    let missing = eligibility(
        Some(ACME_DECIDE),
        &json!({"tenant": "nosuch", "member": "g_only"}),
    );
    let other_body = other.problem(403, "forbidden");
    let missing_body = missing.problem(403, "forbidden");
    let neutral = |v: &Value| v.to_string().replace("globex", "T").replace("nosuch", "T");
    assert_eq!(
        neutral(&other_body),
        neutral(&missing_body),
        "existence leaks"
    );
    for path in [
        "/v1/tenants/globex/deleted-members",
        "/v1/tenants/nosuch/deleted-members",
    ] {
        server
            .call("GET", path)
            .token(ACME_DECIDE)
            .send()
            .problem(403, "forbidden");
    }
    let batch = server
        .call("POST", "/v1/eligibility/batch")
        .token(ACME_DECIDE)
        .json(&json!({"at": AT, "items": [
            {"tenant": "acme", "member": "u_bob"},
            {"tenant": "globex", "member": "g_only"},
        ]}))
        .send()
        .ok();
    assert_eq!(batch["results"][0]["decision"]["allowed"], true, "{batch}");
    assert_eq!(batch["results"][1]["error"]["code"], "forbidden", "{batch}");
    assert_eq!(batch["results"][1]["error"]["status"], 403, "{batch}");
    server
        .call("POST", "/v1/tenants/live/members/l_a/restore")
        .token(ACME_RESTORE)
        .json(&restore_body)
        .send()
        .problem(403, "forbidden");
    // Unauthenticated endpoints.
    for path in ["/healthz", "/readyz", "/metrics"] {
        let reply = server.call("GET", path).no_token().send();
        assert_eq!(reply.status, 200, "{path}: {reply:?}");
    }
    // No secret in the logs.
    let stderr = server.stderr();
    for secret in [DECIDE, RESTORE, ADMIN, ACME_DECIDE] {
        assert!(!stderr.contains(secret), "a token in the log");
    }

    // Endpoints of the operations half (serverops): admin scope, AuthZEN binding.
    server
        .call("POST", "/v1/admin/reload")
        .token(DECIDE)
        .send()
        .problem(403, "forbidden");
    let authzen = json!({
        "subject": {"type": "user", "id": "g_admin"},
        "action": {"name": "restore"},
        "resource": {"type": "deleted_member", "id": "g_only", "properties": {"tenant": "globex"}},
    });
    let reply = server
        .call("POST", "/access/v1/evaluation")
        .token(ACME_DECIDE)
        .json(&authzen)
        .send();
    assert_eq!(
        reply.status, 403,
        "AuthZEN honours tenant binding: {reply:?}"
    );
    for path in ["/openapi.json", "/.well-known/authzen-configuration"] {
        let reply = server.call("GET", path).no_token().send();
        assert_eq!(reply.status, 200, "{path}: {reply:?}");
    }
}

#[test]
fn without_tokens_loopback_only() {
    let setup = Setup::without_sqlite();
    // Loopback without tokens: allowed, says so, everyone is anonymous.
    let server = setup.serve(&setup.memory, &[]);
    server
        .post(
            "/v1/eligibility",
            &json!({"tenant": "acme", "member": "u_bob", "at": AT}),
        )
        .ok();
    server.get("/v1/policies").ok();
    // The warning reaches our stderr reader asynchronously.
    eventually(
        Duration::from_secs(10),
        "a warning about running without tokens",
        || {
            let stderr = server.stderr().to_lowercase();
            (stderr.contains("loopback") && stderr.contains("token")).then_some(())
        },
    );
    drop(server);

    // --log-format json: every log line on stderr is a JSON object.
    let server = setup.serve(&setup.memory, &["--log-format", "json"]);
    let lines = eventually(Duration::from_secs(10), "a log line", || {
        let stderr = server.stderr();
        stderr.ends_with('\n').then_some(stderr)
    });
    for line in lines.lines().filter(|l| !l.trim().is_empty()) {
        let value: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("log line is not JSON ({e}): {line}"));
        assert!(value.is_object(), "{line}");
    }
    drop(server);

    // Any other address without tokens: refused before binding.
    for listen in ["0.0.0.0:0", "[::]:0"] {
        let (code, out, err) = serve_exits(
            &[
                "--rules",
                &setup.rules,
                "--directory",
                &setup.memory,
                "--listen",
                listen,
            ],
            Duration::from_secs(30),
        );
        assert_eq!(code, 2, "{listen}: {err}");
        assert!(out.is_empty(), "nothing on stdout: {out}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    }
    // A bad tokens file, a bad directory URL, bad rules: exit 2, one line.
    let bad = setup.path("bad-tokens.yaml");
    std::fs::write(
        &bad,
        "tokens:\n  - name: x\n    sha256: nothex\n    scopes: [decide]\n    tenants: [\"*\"]\n",
    )
    .unwrap();
    let bad = bad.display().to_string();
    let empty = setup.path("empty-rules");
    std::fs::create_dir_all(&empty).unwrap();
    let empty = empty.display().to_string();
    for (args, needle) in [
        (
            vec![
                "--rules",
                &setup.rules,
                "--directory",
                &setup.memory,
                "--tokens",
                &bad,
            ],
            "bad-tokens.yaml",
        ),
        (
            vec!["--rules", &setup.rules, "--directory", "nosuch:scheme"],
            "unknown directory URL scheme `nosuch`",
        ),
        (
            vec!["--rules", &empty, "--directory", &setup.memory],
            "empty-rules",
        ),
        (
            vec![
                "--rules",
                &setup.rules,
                "--directory",
                &setup.memory,
                "--max-concurrency",
                "many",
            ],
            "many",
        ),
    ] {
        let mut all = vec!["--listen", "127.0.0.1:0"];
        all.extend(args);
        let (code, out, err) = serve_exits(&all, Duration::from_secs(30));
        assert_eq!(code, 2, "{all:?}: {err}");
        assert!(out.is_empty(), "{all:?}: nothing on stdout: {out}");
        assert!(err.contains(needle), "{all:?}: names `{needle}`: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn a_body_slower_than_the_request_timeout_is_408() {
    use std::io::{Read, Write};
    let setup = Setup::without_sqlite();
    let server = setup.serve(&setup.memory, &["--request-timeout", "1"]);
    let mut socket = std::net::TcpStream::connect(("127.0.0.1", server.port())).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    // Announce 100 bytes, send 10, then nothing.
    write!(
        socket,
        "POST /v1/eligibility HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"tenant\":"
    )
    .unwrap();
    socket.flush().unwrap();
    let mut response = Vec::new();
    let mut buf = [0u8; 4096];
    // Read until the server answers and closes (bounded by the read timeout).
    while let Ok(n) = socket.read(&mut buf) {
        if n == 0 {
            break;
        }
        response.extend_from_slice(&buf[..n]);
        if String::from_utf8_lossy(&response).contains("\"code\"") {
            break;
        }
    }
    let text = String::from_utf8_lossy(&response);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("\"code\":\"request_timeout\""), "{text}");
    // Other requests are served meanwhile and after.
    server
        .post(
            "/v1/eligibility",
            &json!({"tenant": "acme", "member": "u_bob", "at": AT}),
        )
        .ok();
}
