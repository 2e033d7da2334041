//! OpenID AuthZEN Authorization API 1.0 over real sockets: the mapping onto
//! `/v1/eligibility` decisions, the batch with its default values and the
//! three `evaluations_semantic` options, the metadata document, X-Request-ID.

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
use support::setup::{is_decision_id, Setup};

const AT: &str = "2026-11-24T10:00:00Z";

fn evaluation(actor: &str, member: &str, tenant: &str) -> Value {
    json!({
        "subject": {"type": "user", "id": actor},
        "action": {"name": "restore"},
        "resource": {"type": "deleted_member", "id": member, "properties": {"tenant": tenant}},
        "context": {"time": AT},
    })
}

fn resource(member: &str, tenant: &str) -> Value {
    json!({"resource": {"type": "deleted_member", "id": member, "properties": {"tenant": tenant}}})
}

fn start() -> (Setup, Server) {
    let setup = Setup::without_sqlite();
    let server = setup.serve(&setup.memory, &[]);
    (setup, server)
}

#[test]
fn evaluation_maps_onto_the_decision() {
    let (_setup, server) = start();
    for (actor, member) in [
        ("u_anna", "u_bob"),
        ("u_anna", "u_everything"),
        ("u_adam", "u_bob"),
    ] {
        let reply = server
            .call("POST", "/access/v1/evaluation")
            .header("x-request-id", "bfe9eb29-ab87-4ca3-be83-a1d5d8305716")
            .json(&evaluation(actor, member, "acme"))
            .send();
        let body = reply.ok();
        assert!(
            reply.content_type().starts_with("application/json"),
            "{reply:?}"
        );
        assert_eq!(
            reply.header("x-request-id"),
            Some("bfe9eb29-ab87-4ca3-be83-a1d5d8305716"),
            "X-Request-ID echoed"
        );
        let decision = server
            .post(
                "/v1/eligibility",
                &json!({"tenant": "acme", "member": member, "actor": actor, "at": AT}),
            )
            .ok();
        assert_eq!(
            body["decision"], decision["allowed"],
            "{actor}/{member}: {body}"
        );
        let context = &body["context"];
        assert!(
            is_decision_id(context["decision_id"].as_str().unwrap_or("")),
            "{body}"
        );
        assert_eq!(context["policy"]["name"], decision["policy"]["name"]);
        assert_eq!(context["policy"]["version"], decision["policy"]["version"]);
        assert_eq!(context["restorable_until"], decision["restorable_until"]);
        let blockers = context["blockers"].as_array().expect("blockers");
        let expected = decision["blockers"].as_array().unwrap();
        assert_eq!(blockers.len(), expected.len(), "{body}");
        for (got, want) in blockers.iter().zip(expected) {
            for key in ["rule", "fact", "message", "remedy"] {
                assert_eq!(got[key], want[key], "blocker {key}: {got}");
            }
        }
    }

    // A pinned version goes through the context.
    let mut pinned = evaluation("u_anna", "u_day30s1", "acme");
    pinned["context"]["policy_version"] = json!("2.0.0");
    let body = server.post("/access/v1/evaluation", &pinned).ok();
    assert_eq!(body["decision"], true, "60-day window of 2.0.0: {body}");
    assert_eq!(body["context"]["policy"]["version"], "2.0.0");
    let body = server
        .post(
            "/access/v1/evaluation",
            &evaluation("u_anna", "u_day30s1", "acme"),
        )
        .ok();
    assert_eq!(body["decision"], false, "{body}");

    // Extra members are allowed by the spec.
    let mut extra = evaluation("u_anna", "u_bob", "acme");
    extra["subject"]["properties"] = json!({"department": "Sales"});
    extra["action"]["properties"] = json!({"method": "POST"});
    extra["vendor_extension"] = json!(1);
    assert_eq!(
        server.post("/access/v1/evaluation", &extra).ok()["decision"],
        true
    );
}

#[test]
fn other_types_and_actions_are_denied_and_malformed_requests_are_400() {
    let (_setup, server) = start();
    let mut wrong_action = evaluation("u_anna", "u_bob", "acme");
    wrong_action["action"]["name"] = json!("delete");
    let mut wrong_subject = evaluation("u_anna", "u_bob", "acme");
    wrong_subject["subject"]["type"] = json!("service");
    let mut wrong_resource = evaluation("u_anna", "u_bob", "acme");
    wrong_resource["resource"]["type"] = json!("document");
    for body in [wrong_action, wrong_subject, wrong_resource] {
        let reply = server.post("/access/v1/evaluation", &body).ok();
        assert_eq!(reply["decision"], false, "{body} -> {reply}");
        assert!(
            reply["context"].is_object(),
            "a reason in the context: {reply}"
        );
    }

    // Required members missing or mistyped: the request is malformed.
    let mut no_subject = evaluation("u_anna", "u_bob", "acme");
    no_subject.as_object_mut().unwrap().remove("subject");
    let mut no_action_name = evaluation("u_anna", "u_bob", "acme");
    no_action_name["action"] = json!({});
    let mut numeric_id = evaluation("u_anna", "u_bob", "acme");
    numeric_id["resource"]["id"] = json!(5);
    for body in [no_subject, no_action_name, numeric_id] {
        let reply = server.post("/access/v1/evaluation", &body);
        assert_eq!(reply.status, 400, "{body} -> {reply:?}");
    }
    let reply = server
        .call("POST", "/access/v1/evaluation")
        .raw("application/json", b"{\"subject\":".to_vec())
        .send();
    assert_eq!(reply.status, 400, "{reply:?}");
}

#[test]
fn evaluations_default_values_order_and_semantics() {
    let (_setup, server) = start();
    // Defaults at the top level, one entry overriding the action.
    let body = json!({
        "subject": {"type": "user", "id": "u_anna"},
        "action": {"name": "restore"},
        "context": {"time": AT},
        "evaluations": [
            resource("u_bob", "acme"),
            resource("u_everything", "acme"),
            resource("u_day30", "acme"),
            {"action": {"name": "delete"}, "resource": {"type": "deleted_member", "id": "u_bob", "properties": {"tenant": "acme"}}},
            resource("nobody", "acme"),
        ],
    });
    let reply = server.post("/access/v1/evaluations", &body).ok();
    let decisions: Vec<&Value> = reply["evaluations"]
        .as_array()
        .expect("evaluations")
        .iter()
        .map(|e| &e["decision"])
        .collect();
    assert_eq!(
        decisions,
        [
            &json!(true),
            &json!(false),
            &json!(true),
            &json!(false),
            &json!(false)
        ],
        "{reply}"
    );
    // An unknown member fails only its own evaluation, with a reason.
    assert!(reply["evaluations"][4]["context"].is_object(), "{reply}");

    let semantic = |name: &str, members: &[&str]| {
        let body = json!({
            "subject": {"type": "user", "id": "u_anna"},
            "action": {"name": "restore"},
            "context": {"time": AT},
            "options": {"evaluations_semantic": name},
            "evaluations": members.iter().map(|m| resource(m, "acme")).collect::<Vec<_>>(),
        });
        let reply = server.post("/access/v1/evaluations", &body).ok();
        reply["evaluations"]
            .as_array()
            .expect("evaluations")
            .iter()
            .map(|e| e["decision"].as_bool().expect("boolean decision"))
            .collect::<Vec<bool>>()
    };
    let mixed = ["u_bob", "u_everything", "u_day30"];
    assert_eq!(semantic("execute_all", &mixed), [true, false, true]);
    assert_eq!(
        semantic("deny_on_first_deny", &mixed),
        [true, false],
        "stops at the first deny"
    );
    assert_eq!(
        semantic("deny_on_first_deny", &["u_bob", "u_day30"]),
        [true, true]
    );
    let denied_first = ["u_everything", "u_bob", "u_everything"];
    assert_eq!(
        semantic("permit_on_first_permit", &denied_first),
        [false, true],
        "stops at the first permit"
    );
    assert_eq!(
        semantic("permit_on_first_permit", &["u_everything", "u_day30s1"]),
        [false, false]
    );
    let reply = server.post(
        "/access/v1/evaluations",
        &json!({"options": {"evaluations_semantic": "sometimes"}, "evaluations": [evaluation("u_anna", "u_bob", "acme")]}),
    );
    assert_eq!(reply.status, 400, "unknown semantic: {reply:?}");

    // Without an `evaluations` array: a single evaluation, as the spec says.
    let single = server
        .post(
            "/access/v1/evaluations",
            &evaluation("u_anna", "u_bob", "acme"),
        )
        .ok();
    assert_eq!(single["decision"], true, "{single}");
}

#[test]
fn metadata_document() {
    let (_setup, server) = start();
    let reply = server.get("/.well-known/authzen-configuration");
    let meta = reply.ok();
    assert!(
        reply.content_type().starts_with("application/json"),
        "{reply:?}"
    );
    let pdp = meta["policy_decision_point"]
        .as_str()
        .expect("policy_decision_point");
    let one = meta["access_evaluation_endpoint"]
        .as_str()
        .expect("access_evaluation_endpoint");
    let many = meta["access_evaluations_endpoint"]
        .as_str()
        .expect("access_evaluations_endpoint");
    assert!(one.ends_with("/access/v1/evaluation"), "{meta}");
    assert!(many.ends_with("/access/v1/evaluations"), "{meta}");
    assert!(one.starts_with(pdp.trim_end_matches('/')), "{meta}");
    // Endpoints this PDP lacks are omitted, not null.
    for (key, value) in meta.as_object().unwrap() {
        assert!(!value.is_null(), "{key} is null: {meta}");
    }
}
