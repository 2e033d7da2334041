//! `restorectl serve` over PostgreSQL (each test its own schema): the same
//! decisions as the CLI, a restore, and what a slow directory does to the
//! service, made deterministic by a table lock the test holds: 504 past the
//! directory timeout, 503 when the one request slot is taken, and a SIGTERM
//! that lets in-flight requests finish before exit 0.

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
use support::pg::{PgDatabase, PgSchema};
use support::server::eventually;
use support::setup::{import, Setup};

const AT: &str = "2026-11-24T10:00:00Z";

fn pg_setup(label: &str) -> (Setup, PgSchema) {
    let setup = Setup::without_sqlite();
    let schema = PgSchema::create(label);
    import(&setup.snapshot, &schema.url);
    (setup, schema)
}

#[test]
fn decisions_stream_and_restore_on_postgres() {
    let (setup, schema) = pg_setup("api");
    let server = setup.serve(&schema.url, &[]);
    for (member, actor) in [
        ("u_bob", "u_anna"),
        ("u_everything", "u_anna"),
        ("u_eve", "u_adam"),
    ] {
        let served = server
            .post(
                "/v1/eligibility",
                &json!({"tenant": "acme", "member": member, "actor": actor, "at": AT}),
            )
            .ok();
        let (code, out, err) = setup.cli(
            &schema.url,
            &[
                "eval", "--tenant", "acme", "--member", member, "--actor", actor, "--at", AT,
                "--output", "json",
            ],
        );
        assert!(code == 0 || code == 1, "{err}");
        let cli: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(served, cli, "{member}");
    }
    let stream = server.get(&format!(
        "/v1/tenants/acme/deleted-members?actor=u_anna&at={AT}"
    ));
    assert_eq!(stream.status, 200, "{stream:?}");
    let (code, cli, err) = setup.cli(
        &schema.url,
        &[
            "eval-all", "--tenant", "acme", "--actor", "u_anna", "--at", AT, "--output", "jsonl",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let parse = |text: &str| {
        text.lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(parse(&stream.body), parse(&cli));

    let receipt = server
        .post(
            "/v1/tenants/live/members/l_a/restore",
            &json!({"actor": "l_admin", "department": "ops"}),
        )
        .ok();
    assert_eq!(receipt["seats_used"], 9, "{receipt}");
    assert_eq!(
        schema.query("SELECT seats_used FROM tenants WHERE id = 'live'"),
        "9"
    );
    assert_eq!(
        schema.query("SELECT member_id || ',' || actor || ',' || department FROM audit WHERE tenant_id = 'live'"),
        "l_a,l_admin,ops"
    );
    assert_eq!(
        schema.query("SELECT count(*) FROM deleted_members WHERE tenant_id = 'live' AND restored_at IS NOT NULL"),
        "1"
    );
    let denied = server.post(
        "/v1/tenants/live/members/l_old/restore",
        &json!({"actor": "l_admin", "department": "ops"}),
    );
    assert_eq!(denied.status, 409, "{denied:?}");
    assert_eq!(
        schema.query("SELECT count(*) FROM audit"),
        "1",
        "a denial writes nothing"
    );
}

#[test]
fn a_locked_directory_times_out_with_504_and_sheds_with_503() {
    let (setup, schema) = pg_setup("slow");
    let server = setup.serve(
        &schema.url,
        &[
            "--directory-timeout",
            "1",
            "--max-concurrency",
            "1",
            "--request-timeout",
            "30",
        ],
    );
    let body = json!({"tenant": "acme", "member": "u_bob", "at": AT});
    server.post("/v1/eligibility", &body).ok();

    let lock = schema.lock_tables();
    // 504: the directory does not answer within its timeout.
    server
        .post("/v1/eligibility", &body)
        .problem(504, "directory_timeout");
    lock.release();
    // A timed-out query is cancelled or finishes: the pool recovers.
    eventually(
        Duration::from_secs(20),
        "the directory to answer again",
        || (server.post("/v1/eligibility", &body).status == 200).then_some(()),
    );
    drop(server);

    // 503: with one slot taken by a request waiting on the lock, the next
    // is shed at once with Retry-After.
    let server = setup.serve(
        &schema.url,
        &[
            "--directory-timeout",
            "30",
            "--max-concurrency",
            "1",
            "--request-timeout",
            "60",
        ],
    );
    server.post("/v1/eligibility", &body).ok();
    let lock = schema.lock_tables();
    let shed_before = server.metric("restore_requests_shed_total", &[]);
    std::thread::scope(|s| {
        let slow = s.spawn(|| server.post("/v1/eligibility", &body));
        eventually(
            Duration::from_secs(20),
            "the first request to wait on the lock",
            || (schema.lock_waiters() >= 1).then_some(()),
        );
        let shed = server.post("/v1/eligibility", &body);
        let problem = shed.problem(503, "overloaded");
        assert_eq!(shed.header("retry-after"), Some("1"), "{problem}");
        lock.release();
        slow.join().unwrap().ok();
    });
    assert!(server.metric("restore_requests_shed_total", &[]) >= shed_before + 1.0);
}

#[test]
fn sigterm_finishes_in_flight_requests_and_exits_0() {
    let (setup, schema) = pg_setup("term");
    let mut server = setup.serve(
        &schema.url,
        &["--directory-timeout", "60", "--request-timeout", "60"],
    );
    server
        .post(
            "/v1/eligibility",
            &json!({"tenant": "live", "member": "l_a"}),
        )
        .ok();
    let port = server.port();
    let lock = schema.lock_tables();
    let (decision, restore) = std::thread::scope(|s| {
        let server = &server;
        let decision = s.spawn(move || {
            server.post(
                "/v1/eligibility",
                &json!({"tenant": "acme", "member": "u_bob", "at": AT}),
            )
        });
        let restore = s.spawn(move || {
            server.post(
                "/v1/tenants/live/members/l_b/restore",
                &json!({"actor": "l_admin", "department": "ops"}),
            )
        });
        eventually(
            Duration::from_secs(20),
            "both requests to wait on the lock",
            || (schema.lock_waiters() >= 2).then_some(()),
        );
        server.signal("TERM");
        // It stops accepting: new connections are refused.
        eventually(Duration::from_secs(20), "the listener to close", || {
            std::net::TcpStream::connect(("127.0.0.1", port))
                .is_err()
                .then_some(())
        });
        lock.release();
        (decision.join().unwrap(), restore.join().unwrap())
    });
    assert_eq!(decision.ok()["allowed"], true);
    assert_eq!(restore.ok()["seats_used"], 9);
    let status = server
        .wait_exit(Duration::from_secs(30))
        .expect("exits after SIGTERM");
    assert_eq!(status.code(), Some(0), "stderr: {}", server.stderr());
    assert_eq!(
        schema.query("SELECT count(*) FROM audit WHERE member_id = 'l_b'"),
        "1",
        "the in-flight restore committed"
    );
}

#[test]
fn an_unreachable_directory_is_503_and_not_ready_then_recovers() {
    let setup = Setup::without_sqlite();
    let db = PgDatabase::create("down");
    import(&setup.snapshot, &db.url);
    let server = setup.serve(&db.url, &["--directory-timeout", "5"]);
    let body = json!({"tenant": "acme", "member": "u_bob", "at": AT});
    server.post("/v1/eligibility", &body).ok();
    assert_eq!(server.get("/readyz").ok()["status"], "ready");

    db.allow_connections(false);
    let ready = server.get("/readyz");
    assert_eq!(ready.status, 503, "{ready:?}");
    let ready = ready.json();
    assert_eq!(ready["status"], "not_ready", "{ready}");
    assert!(ready["reason"].is_string(), "{ready}");
    let reply = server.post("/v1/eligibility", &body);
    let problem = reply.problem(503, "directory_unavailable");
    assert_eq!(reply.header("retry-after"), Some("1"), "{problem}");
    assert!(
        !reply.body.contains("postgres://"),
        "no connection string: {problem}"
    );
    assert_eq!(
        server.get("/healthz").ok()["status"],
        "ok",
        "alive all the same"
    );

    db.allow_connections(true);
    eventually(
        Duration::from_secs(30),
        "the directory to come back",
        || (server.get("/readyz").status == 200).then_some(()),
    );
    server.post("/v1/eligibility", &body).ok();

    // A plan no tier of the policy names is the policy's business: a 422
    // that names plan and tiers, never a silent pass.
    db.query("UPDATE tenants SET plan = 'platinum' WHERE id = 'globex'");
    let reply = server.post(
        "/v1/eligibility",
        &json!({"tenant": "globex", "member": "g_only"}),
    );
    let problem = reply.problem(422, "cannot_decide");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("plan `platinum` of tenant `globex` is not a tier"),
        "{problem}"
    );
    // A row the adapter cannot read is a 500 without detail.
    db.query("UPDATE tenants SET plan = 'Platinum Plan' WHERE id = 'globex'");
    let reply = server.post(
        "/v1/eligibility",
        &json!({"tenant": "globex", "member": "g_only"}),
    );
    let problem = reply.problem(500, "internal");
    assert!(
        !reply.body.contains("Platinum"),
        "no row content: {problem}"
    );
    server.post("/v1/eligibility", &body).ok();

    // A bad row met after the stream began ends the body with an error line.
    db.query(
        "UPDATE deleted_members SET reason = 'bogus' WHERE tenant_id = 'acme' AND id = 'u_pat'",
    );
    let stream = server.get(&format!("/v1/tenants/acme/deleted-members?at={AT}"));
    assert_eq!(stream.status, 200, "{stream:?}");
    let lines: Vec<Value> = stream
        .body
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect();
    let (last, decisions) = lines.split_last().expect("lines");
    assert_eq!(last["error"]["code"], "internal", "{last}");
    assert_eq!(last["error"]["status"], 500, "{last}");
    assert!(!stream.body.contains("bogus"), "no row content");
    let members: Vec<&str> = decisions
        .iter()
        .map(|d| d["member"].as_str().unwrap())
        .collect();
    assert!(
        members.contains(&"u_bob") && !members.contains(&"u_pat"),
        "{members:?}"
    );
}
