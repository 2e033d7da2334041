//! The AuthZEN endpoints over a real socket, on the repository's rules and
//! test directory, at the time the directory was written for.

use serde_json::{json, Value};

use crate::test_support::{http, post_json, serve, test_state, Reply};

const EVALUATION: &str = "/access/v1/evaluation";
const EVALUATIONS: &str = "/access/v1/evaluations";
const AT: &str = "2026-11-24T10:00:00Z";

fn restore_of(tenant: &str, member: &str, actor: &str) -> Value {
    json!({
        "subject": {"type": "user", "id": actor},
        "action": {"name": "restore"},
        "resource": {"type": "deleted_member", "id": member, "properties": {"tenant": tenant}},
        "context": {"time": AT}
    })
}

fn context(reply: &Reply) -> Value {
    reply.json()["context"].clone()
}

#[tokio::test]
async fn an_allowed_restore_is_decision_true_with_the_decision_in_context() {
    let addr = serve(test_state()).await;
    let reply = post_json(addr, EVALUATION, &restore_of("acme", "u_bob", "u_anna")).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let body = reply.json();
    assert_eq!(body["decision"], true);
    let ctx = &body["context"];
    assert_eq!(ctx["decision_id"].as_str(), reply.header("x-decision-id"));
    assert_eq!(ctx["decision_id"].as_str().unwrap().len(), 32);
    assert_eq!(ctx["policy"]["name"], "default-restore");
    assert_eq!(ctx["policy"]["version"], "1.0.0");
    assert_eq!(ctx["blockers"], json!([]));
    assert!(ctx["restorable_until"].as_str().unwrap().ends_with('Z'));
    assert!(ctx.get("error").is_none() && ctx.get("reason").is_none());
}

#[tokio::test]
async fn a_denied_restore_is_decision_false_with_blockers_and_remedies() {
    let addr = serve(test_state()).await;
    let reply = post_json(
        addr,
        EVALUATION,
        &restore_of("full-pro", "p_gone", "p_admin"),
    )
    .await;
    assert_eq!(reply.status, 200, "a denial is an answer, not an error");
    let body = reply.json();
    assert_eq!(body["decision"], false);
    let expected = crate::test_support::decide("full-pro", "p_gone", Some("p_admin"));
    let blockers = body["context"]["blockers"].as_array().unwrap();
    assert_eq!(blockers.len(), expected.blockers.len());
    for (got, want) in blockers.iter().zip(&expected.blockers) {
        assert_eq!(got["rule"], &*want.rule);
        assert_eq!(got["fact"], &*want.fact);
        assert_eq!(got["message"], want.message);
        assert_eq!(got["remedy"], want.remedy);
    }
}

#[tokio::test]
async fn x_request_id_is_echoed() {
    let addr = serve(test_state()).await;
    let body = restore_of("acme", "u_bob", "u_anna").to_string();
    let reply = http(
        addr,
        "POST",
        EVALUATION,
        &[
            ("Content-Type", "application/json"),
            ("X-Request-ID", "bfe9eb29-ab87-4ca3-be83-a1d5d8305716"),
        ],
        body.as_bytes(),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("x-request-id"),
        Some("bfe9eb29-ab87-4ca3-be83-a1d5d8305716")
    );
}

/// Certification §2.4: 400 for what the spec calls malformed.
#[tokio::test]
async fn malformed_requests_are_400_problems() {
    let addr = serve(test_state()).await;
    let good = restore_of("acme", "u_bob", "u_anna").to_string();
    let cases: Vec<(&str, Vec<u8>, &str)> =
        vec![
        ("text/plain", good.clone().into_bytes(), "Content-Type"),
        ("application/json", Vec::new(), "empty"),
        ("application/json", b"{\"subject\":".to_vec(), "not valid JSON"),
        ("application/json", b"[]".to_vec(), "JSON object"),
        (
            "application/json",
            json!({"action": {"name": "read"}, "resource": {"type": "record", "id": "record-1"}})
                .to_string()
                .into_bytes(),
            "`subject` is required",
        ),
        (
            "application/json",
            json!({"subject": {"type": "user", "id": "alice"}, "action": {"name": 123},
                   "resource": {"type": "record", "id": "record-1"}})
            .to_string()
            .into_bytes(),
            "`action.name` must be a string",
        ),
    ];
    for path in [EVALUATION, EVALUATIONS] {
        for (content_type, body, expected) in &cases {
            let reply = http(addr, "POST", path, &[("Content-Type", content_type)], body).await;
            assert_eq!(reply.status, 400, "{path} {expected}");
            assert_eq!(
                reply.header("content-type"),
                Some("application/problem+json")
            );
            let problem = reply.json();
            assert_eq!(problem["code"], "bad_request");
            let detail = problem["detail"].as_str().unwrap();
            assert!(detail.contains(expected), "{detail} lacks {expected}");
        }
    }
}

/// Certification §2.2.1's request: well-formed, but not a restore question.
#[tokio::test]
async fn other_actions_and_types_are_false_with_a_reason() {
    let addr = serve(test_state()).await;
    let reply = post_json(
        addr,
        EVALUATION,
        &json!({"subject": {"type": "user", "id": "alice"}, "action": {"name": "read"},
                "resource": {"type": "record", "id": "record-1"}, "foo": "bar"}),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["decision"], false);
    assert_eq!(context(&reply)["code"], "unsupported_action");
    assert!(context(&reply)["reason"]
        .as_str()
        .unwrap()
        .contains("`restore`"));
    assert!(
        reply.header("x-decision-id").is_none(),
        "no decision was made"
    );
}

#[tokio::test]
async fn unknown_members_and_bad_values_are_false_with_an_error() {
    let addr = serve(test_state()).await;
    let cases = [
        (
            restore_of("acme", "nobody", "u_anna"),
            404,
            "unknown_member",
        ),
        (
            restore_of("no-such-tenant", "u_bob", "u_anna"),
            404,
            "unknown_tenant",
        ),
        (
            restore_of("acme", "u_bob", "stranger"),
            422,
            "unknown_actor",
        ),
        (
            json!({"subject": {"type": "user", "id": "u_anna"}, "action": {"name": "restore"},
                   "resource": {"type": "deleted_member", "id": "u_bob", "properties": {"tenant": "acme"}},
                   "context": {"time": "2026-11-24T10:00:00", "policy_version": "1.0.0"}}),
            400,
            "invalid_request",
        ),
        (
            json!({"subject": {"type": "user", "id": "u_anna"}, "action": {"name": "restore"},
                   "resource": {"type": "deleted_member", "id": "u_bob", "properties": {"tenant": "acme"}},
                   "context": {"policy_version": "9.9.9"}}),
            422,
            "unknown_policy",
        ),
    ];
    for (payload, status, code) in cases {
        let reply = post_json(addr, EVALUATION, &payload).await;
        assert_eq!(reply.status, 200, "{payload}");
        assert_eq!(reply.json()["decision"], false);
        let error = &context(&reply)["error"];
        assert_eq!(
            (error["status"].as_u64(), error["code"].as_str()),
            (Some(status), Some(code)),
            "{payload}"
        );
        assert!(!error["message"].as_str().unwrap().is_empty());
    }
}

fn batch(semantic: Option<&str>) -> Value {
    let mut body = json!({
        "subject": {"type": "user", "id": "u_anna"},
        "action": {"name": "restore"},
        "context": {"time": AT},
        "evaluations": [
            {"resource": {"type": "deleted_member", "id": "u_bob", "properties": {"tenant": "acme"}}},
            {"subject": {"type": "user", "id": "p_admin"},
             "resource": {"type": "deleted_member", "id": "p_gone", "properties": {"tenant": "full-pro"}}},
            {"resource": {"type": "deleted_member", "id": "nobody", "properties": {"tenant": "acme"}}},
            {"resource": {"type": "deleted_member", "id": "u_bob", "properties": {"tenant": "acme"}}},
            {}
        ]
    });
    if let Some(s) = semantic {
        body["options"] = json!({"evaluations_semantic": s});
    }
    body
}

fn decisions(reply: &Reply) -> Vec<bool> {
    reply.json()["evaluations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["decision"].as_bool().unwrap())
        .collect()
}

#[tokio::test]
async fn execute_all_answers_every_evaluation_in_order() {
    let addr = serve(test_state()).await;
    for semantic in [None, Some("execute_all")] {
        let reply = post_json(addr, EVALUATIONS, &batch(semantic)).await;
        assert_eq!(reply.status, 200);
        let body = reply.json();
        assert!(
            body.get("decision").is_none(),
            "§7.2: top-level decision omitted"
        );
        assert_eq!(decisions(&reply), [true, false, false, true, false]);
        let evaluations = body["evaluations"].as_array().unwrap();
        assert!(!evaluations[1]["context"]["blockers"]
            .as_array()
            .unwrap()
            .is_empty());
        assert_eq!(evaluations[2]["context"]["error"]["code"], "unknown_member");
        // `{}` lacks a resource and there is no top-level one.
        assert_eq!(evaluations[4]["context"]["error"]["status"], 400);
        assert!(evaluations[4]["context"]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("evaluations[4].resource"));
        let ids: std::collections::HashSet<&str> = [0, 1, 3]
            .iter()
            .map(|i| evaluations[*i]["context"]["decision_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids.len(), 3, "every decision has its own id");
    }
}

#[tokio::test]
async fn deny_on_first_deny_stops_after_the_first_false() {
    let addr = serve(test_state()).await;
    let reply = post_json(addr, EVALUATIONS, &batch(Some("deny_on_first_deny"))).await;
    assert_eq!(reply.status, 200);
    assert_eq!(decisions(&reply), [true, false]);
    let last = &reply.json()["evaluations"][1]["context"];
    assert_eq!(last["reason"], "deny_on_first_deny");
    assert_eq!(last["code"], "200");
    assert!(
        !last["blockers"].as_array().unwrap().is_empty(),
        "the denial's own context stays"
    );
}

#[tokio::test]
async fn permit_on_first_permit_stops_after_the_first_true() {
    let addr = serve(test_state()).await;
    let mut body = batch(Some("permit_on_first_permit"));
    body["evaluations"].as_array_mut().unwrap().swap(0, 2);
    let reply = post_json(addr, EVALUATIONS, &body).await;
    assert_eq!(reply.status, 200);
    assert_eq!(decisions(&reply), [false, false, true]);
}

#[tokio::test]
async fn evaluations_without_an_array_answers_as_a_single_evaluation() {
    let addr = serve(test_state()).await;
    for extra in [json!(null), json!([])] {
        let mut body = restore_of("acme", "u_bob", "u_anna");
        if !extra.is_null() {
            body["evaluations"] = extra;
        }
        let reply = post_json(addr, EVALUATIONS, &body).await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.json()["decision"], true);
        assert!(reply.json().get("evaluations").is_none());
    }
}

#[tokio::test]
async fn too_many_evaluations_is_413() {
    let addr = serve(crate::test_support::test_state_with(|config| {
        config.max_batch_items = 2
    }))
    .await;
    let reply = post_json(addr, EVALUATIONS, &batch(None)).await;
    assert_eq!(reply.status, 413);
    assert_eq!(reply.json()["code"], "too_many_items");
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let addr = serve(crate::test_support::test_state_with(|config| {
        config.max_body_bytes = 200
    }))
    .await;
    let mut body = restore_of("acme", "u_bob", "u_anna");
    body["context"]["padding"] = json!("x".repeat(500));
    for path in [EVALUATION, EVALUATIONS] {
        let reply = post_json(addr, path, &body).await;
        assert_eq!(reply.status, 413, "{path}");
        assert_eq!(reply.json()["code"], "payload_too_large");
    }
}

#[tokio::test]
async fn tokens_scopes_and_tenant_binding_apply() {
    let state = crate::test_support::test_state_with_tokens(&[
        ("acme-only", "secret-acme", "[decide]", "[acme]"),
        ("admin", "secret-admin", "[admin]", "[\"*\"]"),
    ]);
    let addr = serve(state).await;
    let send = |token: Option<&'static str>, path: &'static str, body: Value| async move {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![("Content-Type", "application/json")];
        if let Some(auth) = &auth {
            headers.push(("Authorization", auth.as_str()));
        }
        http(addr, "POST", path, &headers, body.to_string().as_bytes()).await
    };
    let reply = send(None, EVALUATION, restore_of("acme", "u_bob", "u_anna")).await;
    assert_eq!(reply.status, 401);
    assert!(reply.header("www-authenticate").is_some());
    let reply = send(
        Some("secret-admin"),
        EVALUATION,
        restore_of("acme", "u_bob", "u_anna"),
    )
    .await;
    assert_eq!(reply.status, 403, "admin does not imply decide");
    let reply = send(
        Some("secret-acme"),
        EVALUATION,
        restore_of("acme", "u_bob", "u_anna"),
    )
    .await;
    assert_eq!(
        (reply.status, reply.json()["decision"].as_bool()),
        (200, Some(true))
    );
    for tenant in ["full-pro", "no-such-tenant"] {
        let reply = send(
            Some("secret-acme"),
            EVALUATION,
            restore_of(tenant, "x", "y"),
        )
        .await;
        assert_eq!(reply.status, 403, "{tenant}");
        assert!(
            !String::from_utf8_lossy(&reply.body).contains(tenant),
            "never says whether it exists"
        );
    }
    let metadata = http(addr, "GET", "/.well-known/authzen-configuration", &[], b"").await;
    assert_eq!(metadata.status, 200, "the metadata needs no token");
    let reply = send(Some("secret-acme"), EVALUATIONS, batch(None)).await;
    assert_eq!(reply.status, 200);
    let evaluations = reply.json()["evaluations"].clone();
    assert_eq!(evaluations[0]["decision"], true);
    assert_eq!(evaluations[1]["context"]["error"]["status"], 403);
}

#[tokio::test]
async fn the_configuration_names_both_endpoints_under_the_host_asked_for() {
    let addr = serve(test_state()).await;
    let reply = http(addr, "GET", "/.well-known/authzen-configuration", &[], b"").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let base = format!("http://{addr}");
    assert_eq!(
        reply.json(),
        json!({
            "policy_decision_point": base,
            "access_evaluation_endpoint": format!("{base}/access/v1/evaluation"),
            "access_evaluations_endpoint": format!("{base}/access/v1/evaluations"),
        })
    );
    let reply = http(
        addr,
        "GET",
        "/.well-known/authzen-configuration",
        &[
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Host", "pdp.example.com"),
        ],
        b"",
    )
    .await;
    assert_eq!(
        reply.json()["policy_decision_point"],
        "https://pdp.example.com"
    );
    // A forged host with a path cannot inject into the URLs.
    let reply = http(
        addr,
        "GET",
        "/.well-known/authzen-configuration",
        &[("X-Forwarded-Host", "evil.example/x?y")],
        b"",
    )
    .await;
    assert_eq!(reply.json()["policy_decision_point"], base);
}
