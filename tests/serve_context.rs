//! The service with a policy that reads request context: `context` objects
//! on eligibility, batch, restore and AuthZEN requests, and decisions that
//! cannot be made answered 422 problem+json with a stable code.

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
use support::setup::{Setup, DECIDE, RESTORE};

const AT: &str = "2026-11-24T10:00:00Z";

/// The default policy as version 4.0.0, in force since 2025, with a
/// required `ticket` and a `channel` context value and one blocker on each.
fn context_policy() -> String {
    let text = support::setup::v3_text()
        .replace("version: \"3.0.0\"", "version: \"4.0.0\"")
        .replace(
            "effective_from: 2025-01-01T00:00:00Z",
            "effective_from: 2025-06-01T00:00:00Z",
        );
    let text = text.replacen(
        "\nblockers:\n",
        "\ncontext:\n  ticket: { type: string, required: true }\n  channel: { type: string, one_of: [console, open_api], default: console }\nblockers:\n  - id: api_closed\n    fact: F1\n    when: { fact: request.context.channel, is: open_api }\n    message: \"not over the open API (ticket {request.context.ticket})\"\n    remedy: \"use the console\"\n",
        1,
    );
    assert!(text.contains("api_closed") && text.contains("4.0.0"));
    text
}

fn setup() -> Setup {
    let setup = Setup::new();
    std::fs::write(
        std::path::Path::new(&setup.rules).join("context.yaml"),
        context_policy(),
    )
    .unwrap();
    setup
}

fn eligibility(context: Value) -> Value {
    json!({"tenant": "acme", "member": "u_bob", "actor": "u_anna", "at": AT, "context": context})
}

#[test]
fn eligibility_takes_context_and_answers_422_when_undecidable() {
    let setup = setup();
    let server = setup
        .serve_with_tokens(&setup.sqlite, &[])
        .with_token(DECIDE);

    let ok = server
        .post("/v1/eligibility", &eligibility(json!({"ticket": "T-1"})))
        .ok();
    assert_eq!(ok["allowed"], true, "{ok}");
    assert_eq!(ok["policy"]["version"], "4.0.0");
    let api = server
        .post(
            "/v1/eligibility",
            &eligibility(json!({"ticket": "T-9", "channel": "open_api"})),
        )
        .ok();
    assert_eq!(api["allowed"], false);
    assert_eq!(api["blockers"][0]["rule"], "api_closed");
    assert_eq!(
        api["blockers"][0]["message"],
        "not over the open API (ticket T-9)"
    );

    // Explain shows the bound context.
    let mut explained = eligibility(json!({"ticket": "T-1"}));
    explained["explain"] = json!(true);
    let body = server.post("/v1/eligibility", &explained).ok();
    assert!(
        body["explanation"]
            .to_string()
            .contains("request.context.channel = console (absent: default)"),
        "{body}"
    );

    // A missing required value, a value outside `one_of`, an undeclared name.
    let missing = server
        .post("/v1/eligibility", &eligibility(json!({})))
        .problem(422, "missing_value");
    assert!(
        missing["detail"]
            .as_str()
            .unwrap()
            .contains("`request.context.ticket` is missing"),
        "{missing}"
    );
    let bad = server
        .post(
            "/v1/eligibility",
            &eligibility(json!({"ticket": "T-1", "channel": "SECRET-fax"})),
        )
        .problem(422, "bad_value");
    assert!(!bad.to_string().contains("SECRET"), "{bad}");
    let unknown = server
        .post(
            "/v1/eligibility",
            &eligibility(json!({"ticket": "T-1", "tiket": "x"})),
        )
        .problem(422, "unknown_context");
    assert!(
        unknown["detail"]
            .as_str()
            .unwrap()
            .contains("did you mean `ticket`"),
        "{unknown}"
    );
    // Not an attribute value at all: the body's shape is wrong.
    server
        .post("/v1/eligibility", &eligibility(json!({"ticket": 1.5})))
        .problem(422, "invalid_request");
    // The old version, pinned, declares no context: the name is unknown.
    let mut pinned = eligibility(json!({"ticket": "T-1"}));
    pinned["policy_version"] = json!("1.0.0");
    server
        .post("/v1/eligibility", &pinned)
        .problem(422, "unknown_context");
}

#[test]
fn batch_items_that_cannot_be_decided_get_their_problem() {
    let setup = setup();
    let server = setup
        .serve_with_tokens(&setup.sqlite, &[])
        .with_token(DECIDE);
    let items = json!([
        {"tenant": "acme", "member": "u_bob", "actor": "u_anna"},
        {"tenant": "acme", "member": "u_day30", "actor": "u_anna"},
    ]);
    let body = server
        .post(
            "/v1/eligibility/batch",
            &json!({"at": AT, "items": items, "context": {"ticket": "T-1"}}),
        )
        .ok();
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert!(
        results.iter().all(|r| r.get("decision").is_some()),
        "{body}"
    );
    // Without the ticket each item is a 422 `missing_value` in its place.
    let body = server
        .post("/v1/eligibility/batch", &json!({"at": AT, "items": items}))
        .ok();
    for r in body["results"].as_array().unwrap() {
        assert_eq!(r["error"]["code"], "missing_value", "{body}");
        assert_eq!(r["error"]["status"], 422, "{body}");
    }
}

#[test]
fn restore_that_cannot_be_decided_writes_nothing() {
    let setup = setup();
    let server = setup
        .serve_with_tokens(&setup.sqlite, &[])
        .with_token(RESTORE);
    let restore = |context: Value| {
        server.post(
            "/v1/tenants/live/members/l_a/restore",
            &json!({"actor": "l_admin", "department": "ops", "context": context}),
        )
    };
    restore(json!({})).problem(422, "missing_value");
    restore(json!({"nope": 1})).problem(422, "unknown_context");
    let denied = restore(json!({"ticket": "T-1", "channel": "open_api"}));
    assert_eq!(denied.status, 409, "{denied:?}");
    // Nothing was written by the refusals: the restore goes through once.
    let done = restore(json!({"ticket": "T-1"})).ok();
    assert_eq!(done["decision"]["allowed"], true, "{done}");
    let again = restore(json!({"ticket": "T-1"}));
    assert_ne!(again.status, 200, "restored twice: {again:?}");
}

#[test]
fn authzen_context_members_the_policy_declares_are_request_context() {
    let setup = setup();
    let server = setup
        .serve_with_tokens(&setup.sqlite, &[])
        .with_token(DECIDE);
    let evaluation = |context: Value| {
        json!({
            "subject": {"type": "user", "id": "u_anna"},
            "action": {"name": "restore"},
            "resource": {"type": "deleted_member", "id": "u_bob", "properties": {"tenant": "acme"}},
            "context": context,
        })
    };
    let allowed = server
        .post(
            "/access/v1/evaluation",
            &evaluation(json!({"time": AT, "ticket": "T-1", "ip": "10.0.0.1"})),
        )
        .ok();
    assert_eq!(allowed["decision"], true, "{allowed}");
    let denied = server
        .post(
            "/access/v1/evaluation",
            &evaluation(json!({"time": AT, "ticket": "T-1", "channel": "open_api"})),
        )
        .ok();
    assert_eq!(denied["decision"], false, "{denied}");
    let failed = server
        .post("/access/v1/evaluation", &evaluation(json!({"time": AT})))
        .ok();
    assert_eq!(failed["decision"], false, "{failed}");
    assert_eq!(
        failed["context"]["error"]["code"], "missing_value",
        "{failed}"
    );
}
