//! insta snapshots of representative service responses, as a reviewable
//! diff when the API changes: problem bodies, a decision, AuthZEN answers,
//! `/v1/policies` and `/openapi.json`. Volatile members (digests, decision
//! ids, file paths) are redacted; decisions are made at a fixed `at`.

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
use support::server::Reply;
use support::setup::{Setup, ADMIN, DECIDE};

const AT: &str = "2026-11-24T10:00:00Z";

fn settings() -> insta::Settings {
    let mut settings = support::snapshot_settings();
    // Key order must not depend on whether some other crate in the build
    // turned on serde_json's `preserve_order` (cedar-policy does).
    settings.set_sort_maps(true);
    settings.add_redaction(".decision_id", "[decision-id]");
    settings.add_redaction(".context.decision_id", "[decision-id]");
    settings.add_redaction(".context.policy.digest", "[digest]");
    settings.add_redaction(".evaluations[].context.decision_id", "[decision-id]");
    settings.add_redaction(".evaluations[].context.policy.digest", "[digest]");
    settings.add_redaction(".policies[].digest", "[digest]");
    settings.add_redaction(".policies[].file", "[file]");
    settings
}

/// A problem with its status and content type folded in.
fn problem(reply: &Reply) -> Value {
    json!({
        "status_line": reply.status,
        "content_type": reply.content_type(),
        "body": reply.json(),
    })
}

#[test]
fn decision_batch_and_problem_responses() {
    let setup = Setup::without_sqlite();
    let server = setup
        .serve_with_tokens(&setup.memory, &[])
        .with_token(DECIDE);
    let settings = settings();
    let _guard = settings.bind_to_scope();

    let decision = server
        .post(
            "/v1/eligibility",
            &json!({"tenant": "acme", "member": "u_everything", "actor": "u_anna", "at": AT}),
        )
        .ok();
    insta::assert_json_snapshot!("decision_denied", decision);

    let batch = server
        .post(
            "/v1/eligibility/batch",
            &json!({"at": AT, "items": [
                {"tenant": "acme", "member": "u_bob", "actor": "u_anna"},
                {"tenant": "acme", "member": "nobody"},
            ]}),
        )
        .ok();
    insta::assert_json_snapshot!("batch", batch, {
        ".results[].decision_id" => "[decision-id]",
        ".results[].decision.policy.digest" => "[digest]",
    });

    let problems = json!({
        "malformed_json": problem(&server.call("POST", "/v1/eligibility").raw("application/json", b"{".to_vec()).send()),
        "unsupported_media_type": problem(&server.call("POST", "/v1/eligibility").raw("text/plain", b"{}".to_vec()).send()),
        "timestamp_without_zone": problem(&server.post("/v1/eligibility", &json!({"tenant": "acme", "member": "u_bob", "at": "2026-11-24T10:00:00"}))),
        "unknown_field": problem(&server.post("/v1/eligibility", &json!({"tenant": "acme", "member": "u_bob", "colour": 1}))),
        "unknown_tenant": problem(&server.post("/v1/eligibility", &json!({"tenant": "nosuch", "member": "u_bob"}))),
        "unknown_member": problem(&server.post("/v1/eligibility", &json!({"tenant": "acme", "member": "nobody"}))),
        "unknown_actor": problem(&server.post("/v1/eligibility", &json!({"tenant": "acme", "member": "u_bob", "actor": "u_ghost"}))),
        "unknown_policy": problem(&server.post("/v1/eligibility", &json!({"tenant": "acme", "member": "u_bob", "policy_version": "9.9.9"}))),
        "unauthorized": problem(&server.call("POST", "/v1/eligibility").no_token().json(&json!({"tenant": "acme", "member": "u_bob"})).send()),
        "forbidden_scope": problem(&server.get("/v1/policies")),
        "not_found": problem(&server.get("/nowhere")),
        "method_not_allowed": problem(&server.get("/v1/eligibility")),
        "restore_with_at": problem(&server.call("POST", "/v1/tenants/live/members/l_a/restore").token(support::setup::RESTORE).json(&json!({"actor": "l_admin", "department": "ops", "at": AT})).send()),
    });
    insta::assert_json_snapshot!("problems", problems);
}

#[test]
fn operations_and_authzen_responses() {
    let setup = Setup::without_sqlite();
    let server = setup
        .serve_with_tokens(&setup.memory, &[])
        .with_token(DECIDE);
    let settings = settings();
    let _guard = settings.bind_to_scope();

    let authzen_one = server
        .post(
            "/access/v1/evaluation",
            &json!({
                "subject": {"type": "user", "id": "u_anna"},
                "action": {"name": "restore"},
                "resource": {"type": "deleted_member", "id": "u_eve", "properties": {"tenant": "acme"}},
                "context": {"time": AT},
            }),
        )
        .ok();
    insta::assert_json_snapshot!("authzen_evaluation", authzen_one);
    let authzen_many = server
        .post(
            "/access/v1/evaluations",
            &json!({
                "subject": {"type": "user", "id": "u_anna"},
                "action": {"name": "restore"},
                "context": {"time": AT},
                "options": {"evaluations_semantic": "execute_all"},
                "evaluations": [
                    {"resource": {"type": "deleted_member", "id": "u_bob", "properties": {"tenant": "acme"}}},
                    {"resource": {"type": "deleted_member", "id": "u_purged", "properties": {"tenant": "acme"}}},
                    {"action": {"name": "delete"}, "resource": {"type": "deleted_member", "id": "u_bob", "properties": {"tenant": "acme"}}},
                ],
            }),
        )
        .ok();
    insta::assert_json_snapshot!("authzen_evaluations", authzen_many);
    let metadata = server.get("/.well-known/authzen-configuration").ok();
    // The metadata names this server's own address: replace the port.
    let metadata: Value = serde_json::from_str(
        &metadata
            .to_string()
            .replace(&format!(":{}", server.port()), ":[port]"),
    )
    .unwrap();
    insta::assert_json_snapshot!("authzen_configuration", metadata);

    let policies = server.call("GET", "/v1/policies").token(ADMIN).send().ok();
    insta::assert_json_snapshot!("policies", policies);

    let openapi = server.get("/openapi.json").ok();
    insta::assert_json_snapshot!("openapi", openapi);
}
