//! `restorectl serve` over a SQLite directory, black box over real sockets:
//! decisions equal `restorectl eval --output json`, the batch keeps request
//! order and isolates a bad item, the NDJSON stream equals `eval-all --output
//! jsonl` line for line, and restores write at the server's clock.

// Test code: it asserts by panicking.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

mod support;

use serde_json::{json, Value};
use support::server::Server;
use support::setup::{is_decision_id, Setup, DECIDE, RESTORE};

const AT: &str = "2026-11-24T10:00:00Z";

/// `restorectl eval --output json` (exit 0 allowed, 1 denied), parsed.
fn cli_decision(
    setup: &Setup,
    tenant: &str,
    member: &str,
    actor: Option<&str>,
    extra: &[&str],
) -> Value {
    let mut args = vec![
        "eval", "--tenant", tenant, "--member", member, "--at", AT, "--output", "json",
    ];
    if let Some(actor) = actor {
        args.extend_from_slice(&["--actor", actor]);
    }
    args.extend_from_slice(extra);
    let (code, out, err) = setup.cli(&setup.sqlite, &args);
    assert!(code == 0 || code == 1, "eval {args:?}: {err}");
    serde_json::from_str(&out).expect("eval prints JSON")
}

fn eligibility(server: &Server, body: Value) -> support::server::Reply {
    server.post("/v1/eligibility", &body)
}

#[test]
fn decisions_equal_the_cli_and_carry_a_decision_id() {
    let setup = Setup::new();
    let server = setup
        .serve_with_tokens(&setup.sqlite, &[])
        .with_token(DECIDE);
    let cases: &[(&str, &str, Option<&str>)] = &[
        ("acme", "u_bob", Some("u_anna")),
        ("acme", "u_bob", None),
        ("acme", "u_bob", Some("u_adam")), // F1: not the primary admin
        ("acme", "u_day30", Some("u_anna")),
        ("acme", "u_day30s1", Some("u_anna")),
        ("acme", "u_everything", Some("u_anna")),
        ("acme", "u_eve", None),
        ("full-pro", "p_gone", Some("p_admin")),
        ("globex", "g_only", None),
    ];
    let mut ids = std::collections::HashSet::new();
    for (tenant, member, actor) in cases {
        let mut body = json!({"tenant": tenant, "member": member, "at": AT});
        if let Some(actor) = actor {
            body["actor"] = json!(actor);
        }
        let reply = eligibility(&server, body);
        let decision = reply.ok();
        assert!(
            reply.content_type().starts_with("application/json"),
            "{reply:?}"
        );
        assert_eq!(
            decision,
            cli_decision(&setup, tenant, member, *actor, &[]),
            "{tenant}/{member} as {actor:?}"
        );
        let id = reply.header("x-decision-id").expect("X-Decision-Id");
        assert!(is_decision_id(id), "decision id {id:?}");
        assert!(ids.insert(id.to_owned()), "decision id {id} repeated");
    }

    // A denial is an answer, not an HTTP error.
    let denied = eligibility(
        &server,
        json!({"tenant": "acme", "member": "u_everything", "at": AT}),
    )
    .ok();
    assert_eq!(denied["allowed"], false);
    assert!(denied["blockers"].as_array().unwrap().len() > 1, "{denied}");

    // --explain and --policy-version give what the CLI gives.
    let explained = eligibility(
        &server,
        json!({"tenant": "acme", "member": "u_everything", "actor": "u_anna", "at": AT, "explain": true}),
    )
    .ok();
    assert!(
        explained["explanation"].is_object() || explained["explanation"].is_array(),
        "{explained}"
    );
    assert_eq!(
        explained,
        cli_decision(
            &setup,
            "acme",
            "u_everything",
            Some("u_anna"),
            &["--explain"]
        )
    );
    let pinned = eligibility(
        &server,
        json!({"tenant": "acme", "member": "u_day30s1", "actor": "u_anna", "at": AT, "policy_version": "2.0.0"}),
    )
    .ok();
    assert_eq!(pinned["policy"]["version"], "2.0.0");
    assert_eq!(pinned["allowed"], true, "60-day window of 2.0.0: {pinned}");
    assert_eq!(
        pinned,
        cli_decision(
            &setup,
            "acme",
            "u_day30s1",
            Some("u_anna"),
            &["--policy-version", "2.0.0"]
        )
    );
    let named = eligibility(
        &server,
        json!({"tenant": "acme", "member": "u_bob", "at": AT, "policy": "default-restore"}),
    )
    .ok();
    assert_eq!(named["policy"]["name"], "default-restore");
    assert_eq!(named["policy"]["version"], "1.0.0");

    // Without `at` the server decides now: 1.0.0 is in force until 2999.
    let now = eligibility(
        &server,
        json!({"tenant": "live", "member": "l_a", "actor": "l_admin"}),
    )
    .ok();
    assert_eq!(now["allowed"], true, "{now}");
    assert_eq!(now["policy"]["version"], "1.0.0");
    let evaluated: chrono::DateTime<chrono::Utc> = now["evaluated_at"]
        .as_str()
        .unwrap()
        .parse()
        .expect("evaluated_at");
    let skew = (chrono::Utc::now() - evaluated).num_seconds().abs();
    assert!(skew < 600, "evaluated_at {evaluated} is not now");

    // X-Request-Id is echoed.
    let reply = server
        .call("POST", "/v1/eligibility")
        .header("x-request-id", "req-test-42")
        .json(&json!({"tenant": "acme", "member": "u_bob", "at": AT}))
        .send();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("x-request-id"), Some("req-test-42"));
}

#[test]
fn batch_keeps_order_and_isolates_bad_items() {
    let setup = Setup::new();
    let server = setup
        .serve_with_tokens(&setup.sqlite, &[])
        .with_token(DECIDE);
    let items = json!([
        {"tenant": "acme", "member": "u_bob", "actor": "u_anna"},
        {"tenant": "acme", "member": "nobody"},
        {"tenant": "acme", "member": "u_everything", "actor": "u_anna"},
        {"tenant": "nosuch", "member": "u_bob"},
        {"tenant": "acme", "member": "g_only"},
        {"tenant": "acme", "member": "u_bob", "actor": "u_ghost"},
        {"tenant": "globex", "member": "g_only"},
    ]);
    let body = server
        .post("/v1/eligibility/batch", &json!({"at": AT, "items": items}))
        .ok();
    let results = body["results"].as_array().expect("results");
    assert_eq!(results.len(), 7, "{body}");
    let decision = |i: usize| {
        let r = &results[i];
        assert!(r.get("error").is_none(), "item {i}: {r}");
        assert!(
            is_decision_id(r["decision_id"].as_str().unwrap_or("")),
            "item {i}: {r}"
        );
        r["decision"].clone()
    };
    let error = |i: usize, status: u16, code: &str| {
        let e = &results[i]["error"];
        assert_eq!(e["status"], status, "item {i}: {}", results[i]);
        assert_eq!(e["code"], code, "item {i}: {}", results[i]);
        assert!(results[i].get("decision").is_none());
    };
    assert_eq!(
        decision(0),
        cli_decision(&setup, "acme", "u_bob", Some("u_anna"), &[])
    );
    error(1, 404, "unknown_member");
    assert_eq!(
        decision(2),
        cli_decision(&setup, "acme", "u_everything", Some("u_anna"), &[])
    );
    error(3, 404, "unknown_tenant");
    error(4, 404, "unknown_member"); // g_only is globex's, never found through acme
    error(5, 422, "unknown_actor");
    assert_eq!(
        decision(6),
        cli_decision(&setup, "globex", "g_only", None, &[])
    );
}

#[test]
fn deleted_members_stream_equals_eval_all() {
    let setup = Setup::new();
    let server = setup
        .serve_with_tokens(&setup.sqlite, &[])
        .with_token(DECIDE);
    // After every deletion, including the race tenant's (relative to now):
    // a member deleted after the evaluation time is an error, not a decision.
    let at = (chrono::Utc::now() + chrono::Duration::hours(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let at = at.as_str();
    for (tenant, actor) in [
        ("acme", Some("u_anna")),
        ("acme", None),
        ("globex", None),
        ("race", Some("r_admin")),
    ] {
        let mut path = format!("/v1/tenants/{tenant}/deleted-members?at={at}");
        let mut args = vec![
            "eval-all", "--tenant", tenant, "--at", at, "--output", "jsonl",
        ];
        if let Some(actor) = actor {
            path.push_str(&format!("&actor={actor}"));
            args.extend_from_slice(&["--actor", actor]);
        }
        let reply = server.get(&path);
        assert_eq!(reply.status, 200, "{reply:?}");
        assert!(
            reply.content_type().starts_with("application/x-ndjson"),
            "{reply:?}"
        );
        let (code, cli, err) = setup.cli(&setup.sqlite, &args);
        assert_eq!(code, 0, "{err}");
        let served: Vec<&str> = reply.body.lines().collect();
        let expected: Vec<&str> = cli.lines().collect();
        assert_eq!(served.len(), expected.len(), "{tenant}: line count");
        assert!(!served.is_empty());
        for (i, (s, e)) in served.iter().zip(&expected).enumerate() {
            let s: Value = serde_json::from_str(s).unwrap_or_else(|e| panic!("line {i}: {e}: {s}"));
            let e: Value = serde_json::from_str(e).unwrap();
            assert_eq!(s, e, "{tenant} line {i}");
        }
    }
    // Unknown tenant and actor are detected before the 200.
    server
        .get(&format!("/v1/tenants/nosuch/deleted-members?at={AT}"))
        .problem(404, "unknown_tenant");
    server
        .get(&format!(
            "/v1/tenants/acme/deleted-members?at={AT}&actor=u_ghost"
        ))
        .problem(422, "unknown_actor");
    server
        .get("/v1/tenants/acme/deleted-members?at=2026-11-24T10:00:00")
        .problem(422, "invalid_request");
}

#[test]
fn restore_writes_once_and_a_denial_is_409() {
    let setup = Setup::new();
    let server = setup
        .serve_with_tokens(&setup.sqlite, &[])
        .with_token(RESTORE);
    let restore = |member: &str, body: Value| {
        server.post(&format!("/v1/tenants/live/members/{member}/restore"), &body)
    };

    // A caller-chosen time has no place on a write.
    let body = restore(
        "l_a",
        json!({"actor": "l_admin", "department": "ops", "at": AT}),
    )
    .problem(422, "invalid_request");
    assert!(
        body["detail"].as_str().unwrap_or("").contains("at"),
        "{body}"
    );
    restore("l_a", json!({"actor": "l_admin", "department": "  "}))
        .problem(422, "department_required");
    // The default policy gives no default department: the field is needed.
    let missing = restore("l_a", json!({"actor": "l_admin"})).problem(422, "department_required");
    assert!(
        missing["detail"]
            .as_str()
            .unwrap_or("")
            .contains("no default department"),
        "{missing}"
    );
    restore("l_a", json!({"actor": "l_ghost", "department": "ops"})).problem(422, "unknown_actor");
    restore(
        "l_a",
        json!({"actor": "l_admin", "department": "ops", "policy_version": "9.9.9"}),
    )
    .problem(422, "unknown_policy");
    restore("nobody", json!({"actor": "l_admin", "department": "ops"}))
        .problem(404, "unknown_member");

    // Allowed: a receipt shaped as `restore --output json`.
    let reply = restore("l_a", json!({"actor": "l_admin", "department": "ops"}));
    let receipt = reply.ok();
    assert_eq!(receipt["seats_used"], 9, "{receipt}");
    assert_eq!(receipt["department"], "ops");
    assert_eq!(receipt["decision"]["allowed"], true);
    assert_eq!(receipt["decision"]["member"], "l_a");
    assert!(
        is_decision_id(reply.header("x-decision-id").unwrap_or("")),
        "{reply:?}"
    );
    let (code, cli, err) = setup.cli(
        &setup.sqlite,
        &[
            "restore",
            "--tenant",
            "live",
            "--member",
            "l_b",
            "--actor",
            "l_admin",
            "--department",
            "ops",
            "--output",
            "json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let cli: Value = serde_json::from_str(&cli).unwrap();
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&receipt), keys(&cli), "receipt members as the CLI's");
    assert_eq!(keys(&receipt["decision"]), keys(&cli["decision"]));
    assert_eq!(cli["seats_used"], 10);

    // Restored members are gone from the stream; a second restore finds nothing.
    let stream = server.get("/v1/tenants/live/deleted-members?actor=l_admin");
    assert_eq!(stream.status, 200, "{stream:?}");
    let members: Vec<String> = stream
        .body
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["member"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(members, ["l_c", "l_old"]);
    restore("l_a", json!({"actor": "l_admin", "department": "ops"})).problem(404, "unknown_member");

    // Denied: 409 with the decision as the body, nothing written.
    let reply = restore("l_old", json!({"actor": "l_admin", "department": "ops"}));
    assert_eq!(reply.status, 409, "{reply:?}");
    let decision = reply.json();
    assert_eq!(decision["allowed"], false, "{decision}");
    assert_eq!(decision["member"], "l_old");
    let blockers: Vec<&str> = decision["blockers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["rule"].as_str().unwrap())
        .collect();
    assert!(blockers.contains(&"window_expired"), "{decision}");
    // Two seats were free and both are taken now: the next restore is refused for the seat.
    let reply = restore("l_c", json!({"actor": "l_admin", "department": "ops"}));
    assert_eq!(reply.status, 409, "{reply:?}");
    assert!(reply.body.contains("no_available_seat"), "{reply:?}");
    let stream = server.get("/v1/tenants/live/deleted-members?actor=l_admin");
    assert_eq!(stream.body.lines().count(), 2, "denials changed nothing");
}
