use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::*;
use crate::test_support::{http, post_json, serve, test_state, Reply};

fn doc() -> Value {
    serde_json::from_slice(document()).unwrap()
}

/// Every route with its method. `routes::ROUTES` lists the router's
/// templates (the HTTP metrics label them); a route added there but not
/// here fails this test, and `every_listed_route_is_served` checks the
/// router serves each.
fn routes() -> Vec<(&'static str, &'static str)> {
    use crate::routes::*;
    let list = vec![
        ("POST", ELIGIBILITY),
        ("POST", ELIGIBILITY_BATCH),
        ("GET", DELETED_MEMBERS),
        ("POST", RESTORE),
        ("GET", POLICIES),
        ("POST", RELOAD),
        ("GET", HEALTHZ),
        ("GET", READYZ),
        ("GET", METRICS),
        ("GET", OPENAPI),
        ("POST", AUTHZEN_EVALUATION),
        ("POST", AUTHZEN_EVALUATIONS),
        ("GET", AUTHZEN_CONFIGURATION),
    ];
    let templates: BTreeSet<&str> = list.iter().map(|(_, p)| *p).collect();
    let routed: BTreeSet<&str> = ROUTES.iter().copied().collect();
    assert_eq!(templates, routed, "a route is missing here or in ROUTES");
    list
}

fn fill(template: &str) -> String {
    template
        .replace("{tenant}", "acme")
        .replace("{member}", "u_bob")
}

#[test]
fn the_document_lists_every_route_and_only_routes() {
    let doc = doc();
    let paths = doc["paths"].as_object().unwrap();
    let documented: BTreeSet<(String, String)> = paths
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.to_uppercase(), path.clone()))
        })
        .collect();
    let routed: BTreeSet<(String, String)> = routes()
        .into_iter()
        .map(|(m, p)| (m.to_owned(), p.to_owned()))
        .collect();
    assert_eq!(documented, routed);
    assert_eq!(doc["openapi"], "3.1.0");
}

/// `ROUTE_METHODS` is what the router serves: each answers its method with
/// something other than the fallback's `not_found` / `method_not_allowed`.
#[tokio::test]
async fn every_listed_route_is_served() {
    let addr = serve(test_state()).await;
    for (method, template) in routes() {
        let reply = http(
            addr,
            method,
            &fill(template),
            &[("Content-Type", "application/json")],
            b"{}",
        )
        .await;
        let code = serde_json::from_slice::<Value>(&reply.body)
            .ok()
            .and_then(|v| v.get("code").cloned());
        assert_ne!(reply.status, 405, "{method} {template}");
        assert_ne!(code, Some(json!("not_found")), "{method} {template}");
    }
}

fn schema<'a>(doc: &'a Value, name: &str) -> &'a Value {
    &doc["components"]["schemas"][name]
}

/// The keys of `value` are properties of `schema`, and every required
/// property is there.
fn conforms(doc: &Value, name: &str, value: &Value) {
    let schema = schema(doc, name);
    let properties: BTreeSet<&str> = schema["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("{name} has properties"))
        .keys()
        .map(String::as_str)
        .collect();
    let keys: BTreeSet<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert!(
        keys.is_subset(&properties),
        "{name}: {keys:?} not within {properties:?}"
    );
    for required in schema["required"].as_array().into_iter().flatten() {
        assert!(
            keys.contains(required.as_str().unwrap()),
            "{name}: {required} missing in {value}"
        );
    }
}

#[test]
fn decision_schemas_match_real_decisions() {
    let doc = doc();
    for (tenant, member, actor) in [
        ("acme", "u_bob", Some("u_anna")),
        ("full-pro", "p_gone", None),
    ] {
        let decision = crate::test_support::decide(tenant, member, actor);
        let value = serde_json::to_value(&decision).unwrap();
        conforms(&doc, "Decision", &value);
        conforms(&doc, "PolicyRef", &value["policy"]);
        for resource in value["resources"].as_array().unwrap() {
            conforms(&doc, "ResourceDecision", resource);
        }
        for blocker in value["blockers"].as_array().unwrap() {
            conforms(&doc, "BlockerHit", blocker);
        }
        let receipt = restore_directory::Receipt {
            decision,
            department: "Sales".into(),
            audit_id: 1,
            seats_used: 2,
            restored_items: 3,
        };
        conforms(&doc, "Receipt", &serde_json::to_value(&receipt).unwrap());
    }
    let outcomes: Vec<&str> = schema(&doc, "Outcome")["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(outcomes.contains(&"transfer_dependent"), "{outcomes:?}");
}

#[tokio::test]
async fn operation_schemas_match_real_responses() {
    let doc = doc();
    let addr = serve(test_state()).await;
    let get = |path: &'static str| async move { http(addr, "GET", path, &[], b"").await };
    conforms(&doc, "Health", &get("/healthz").await.json());
    let ready: Reply = get("/readyz").await;
    assert_eq!(ready.status, 200);
    conforms(&doc, "Readiness", &ready.json());
    let policies = get("/v1/policies").await.json();
    conforms(&doc, "PolicyList", &policies);
    conforms(&doc, "PolicySummary", &policies["policies"][0]);
    let problem = post_json(
        addr,
        "/v1/eligibility",
        &json!({"tenant": "acme", "member": "nobody"}),
    )
    .await;
    assert_eq!(problem.status, 404);
    conforms(&doc, "Problem", &problem.json());
    let batch = post_json(
        addr,
        "/v1/eligibility/batch",
        &json!({"at": "2026-11-24T10:00:00Z", "items": [{"tenant": "acme", "member": "u_bob"}]}),
    )
    .await;
    conforms(&doc, "BatchResponse", &batch.json());
    let reloaded = http(addr, "POST", "/v1/admin/reload", &[], b"").await;
    assert_eq!(
        reloaded.status,
        200,
        "{}",
        String::from_utf8_lossy(&reloaded.body)
    );
    conforms(&doc, "Reloaded", &reloaded.json());
}

/// Every documented request property is accepted by the handler (which
/// refuses unknown fields), so the request schemas cannot drift either.
#[tokio::test]
async fn documented_request_properties_are_accepted() {
    let doc = doc();
    let addr = serve(test_state()).await;
    let full = |name: &str| -> Vec<String> {
        schema(&doc, name)["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    };
    assert_eq!(
        full("EligibilityRequest"),
        [
            "actor",
            "at",
            "context",
            "explain",
            "member",
            "policy",
            "policy_version",
            "tenant"
        ]
    );
    let reply = post_json(
        addr,
        "/v1/eligibility",
        &json!({"tenant": "acme", "member": "u_bob", "actor": "u_anna", "at": "2026-11-24T10:00:00Z",
                "policy": "default-restore", "policy_version": "1.0.0", "explain": true, "context": {}}),
    )
    .await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(
        full("BatchRequest"),
        ["at", "context", "items", "policy", "policy_version"]
    );
    assert_eq!(full("BatchItem"), ["actor", "member", "tenant"]);
    let reply = post_json(
        addr,
        "/v1/eligibility/batch",
        &json!({"at": "2026-11-24T10:00:00Z", "policy": "default-restore", "policy_version": "1.0.0", "context": {},
                "items": [{"tenant": "acme", "member": "u_bob", "actor": "u_anna"}]}),
    )
    .await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(
        full("RestoreRequest"),
        ["actor", "context", "department", "policy", "policy_version"]
    );
    // Every field known (a denial or a conflict is fine, an unknown field is not).
    let reply = post_json(
        addr,
        "/v1/tenants/full-pro/members/p_gone/restore",
        &json!({"actor": "p_admin", "department": "Sales", "policy": "default-restore", "policy_version": "1.0.0", "context": {}}),
    )
    .await;
    assert_eq!(
        reply.status,
        409,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
}

#[tokio::test]
async fn openapi_json_is_served_without_a_token() {
    let state = crate::test_support::test_state_with_tokens(&[("a", "t", "[admin]", "[\"*\"]")]);
    let addr = serve(state).await;
    let reply = http(addr, "GET", "/openapi.json", &[], b"").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.json(), doc());
    assert!(doc()["components"]["securitySchemes"]["bearer"].is_object());
}
