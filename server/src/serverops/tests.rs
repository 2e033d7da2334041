//! Reload, shadow and the decision log through the real router, over a socket.

use std::net::SocketAddr;

use serde_json::{json, Value};

use crate::decision_log::DecisionLog;
use crate::reload::Reloader;
use crate::shadow::Shadow;
use crate::test_support::{http, post_json, rules_folder, serve, state_on, tokens, SharedBuf};

use super::*;

const AT: &str = "2026-11-24T10:00:00Z";

fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

async fn metrics(addr: SocketAddr) -> String {
    String::from_utf8(http(addr, "GET", "/metrics", &[], b"").await.body).unwrap()
}

async fn post_as(
    addr: SocketAddr,
    token: &str,
    path: &str,
    body: &Value,
) -> crate::test_support::Reply {
    let auth = format!("Bearer {token}");
    http(
        addr,
        "POST",
        path,
        &[
            ("Content-Type", "application/json"),
            ("Authorization", &auth),
        ],
        body.to_string().as_bytes(),
    )
    .await
}

/// v1 and v2 (a one-hour window) loaded, v2 shadowing, a logged server.
async fn shadowed() -> (SocketAddr, AppState, SharedBuf, tempfile::TempDir) {
    let dir = rules_folder(true);
    let buf = SharedBuf::default();
    let ops = ServerOps {
        reloader: Some(Reloader::new(dir.path().to_owned(), None)),
        shadow: Some(Shadow::new("2.0.0")),
        decision_log: Some(DecisionLog::with_sink(Box::new(buf.clone()), 1024).unwrap()),
    };
    let set = crate::reload::load_rules(dir.path()).unwrap();
    let tokens = tokens(&[("billing", "secret", "[restore]", "[\"*\"]")]);
    let state = state_on(set, Some(tokens), Default::default(), ops);
    (serve(state.clone()).await, state, buf, dir)
}

fn lines(buf: &SharedBuf) -> Vec<Value> {
    buf.text()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn decisions_are_logged_with_their_id_and_shadow_disagreements_counted() {
    let (addr, state, buf, _dir) = shadowed().await;
    // Allowed under 1.0.0; v2's one-hour window denies it: a disagreement.
    let reply = post_as(
        addr,
        "secret",
        "/v1/eligibility",
        &json!({"tenant": "acme", "member": "u_bob", "actor": "u_anna", "at": AT, "policy_version": "1.0.0"}),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.json()["allowed"],
        true,
        "the shadow never changes the answer"
    );
    let id = reply.header("x-decision-id").unwrap().to_owned();
    // Decided under 2.0.0 itself: the shadow agrees.
    let agreeing = post_as(
        addr,
        "secret",
        "/v1/eligibility",
        &json!({"tenant": "acme", "member": "u_bob", "actor": "u_anna", "at": AT, "policy_version": "2.0.0"}),
    )
    .await;
    assert_eq!(agreeing.status, 200);
    let authzen = post_as(
        addr,
        "secret",
        "/access/v1/evaluation",
        &json!({"subject": {"type": "user", "id": "u_anna"}, "action": {"name": "restore"},
                "resource": {"type": "deleted_member", "id": "u_bob", "properties": {"tenant": "acme"}},
                "context": {"time": AT, "policy_version": "1.0.0"}}),
    )
    .await;
    assert_eq!(authzen.json()["decision"], true);

    let text = metrics(addr).await;
    assert_eq!(
        metric(&text, "restore_shadow_disagreements_total"),
        Some(2.0),
        "{text}"
    );
    assert_eq!(metric(&text, "restore_shadow_evaluations_total"), Some(3.0));
    state.ops.decision_log.as_ref().unwrap().close().await;

    let lines = lines(&buf);
    assert_eq!(lines.len(), 3);
    let first = &lines[0];
    assert_eq!(first["decision_id"], id.as_str());
    assert_eq!(first["kind"], "decision");
    assert_eq!(first["endpoint"], "/v1/eligibility");
    assert_eq!(first["token"], "billing");
    assert_eq!(
        (
            first["tenant"].as_str(),
            first["member"].as_str(),
            first["actor"].as_str()
        ),
        (Some("acme"), Some("u_bob"), Some("u_anna"))
    );
    assert_eq!(first["policy"]["version"], "1.0.0");
    assert_eq!(first["allowed"], true);
    assert_eq!(first["shadow"]["version"], "2.0.0");
    assert_eq!(first["shadow"]["allowed"], false);
    assert!(first["shadow"]["blockers"]
        .as_array()
        .unwrap()
        .contains(&json!("window_expired")));
    assert!(first["latency_us"].as_u64().is_some());
    assert!(
        lines[1].get("shadow").is_none(),
        "agreeing lines carry no shadow"
    );
    assert_eq!(lines[2]["endpoint"], "/access/v1/evaluation");
    assert_eq!(
        lines[2]["decision_id"],
        authzen.json()["context"]["decision_id"]
    );
    assert!(lines[2]["shadow"].is_object());
}

#[tokio::test]
async fn streamed_and_restore_decisions_are_logged_and_shadowed() {
    let (addr, state, buf, _dir) = shadowed().await;
    let reply = http(
        addr,
        "GET",
        &format!("/v1/tenants/acme/deleted-members?actor=u_anna&at={AT}&policy_version=1.0.0"),
        &[("Authorization", "Bearer secret")],
        b"",
    )
    .await;
    assert_eq!(reply.status, 200);
    let streamed = String::from_utf8(reply.body).unwrap().lines().count();
    assert!(streamed > 1);
    // A restore decides at the server's clock; whatever the verdict, it is
    // logged as a restore, with its actor, and shadowed.
    let restore = post_as(
        addr,
        "secret",
        "/v1/tenants/acme/members/u_bob/restore",
        &json!({"actor": "u_anna", "department": "Sales", "policy_version": "1.0.0"}),
    )
    .await;
    assert!(matches!(restore.status, 200 | 409), "{}", restore.status);
    let text = metrics(addr).await;
    assert_eq!(
        metric(&text, "restore_shadow_evaluations_total"),
        Some(streamed as f64 + 1.0)
    );
    state.ops.decision_log.as_ref().unwrap().close().await;
    let lines = lines(&buf);
    assert_eq!(lines.len(), streamed + 1);
    let ids: std::collections::HashSet<&str> = lines
        .iter()
        .map(|l| l["decision_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids.len(),
        lines.len(),
        "every streamed line gets its own id"
    );
    assert!(
        lines[..streamed]
            .iter()
            .all(|l| l["endpoint"] == "/v1/tenants/{tenant}/deleted-members"
                && l["actor"] == "u_anna")
    );
    let last = lines.last().unwrap();
    assert_eq!(last["kind"], "restore");
    assert_eq!(last["actor"], "u_anna");
    assert_eq!(
        last["decision_id"],
        restore.header("x-decision-id").unwrap()
    );
}

#[tokio::test]
async fn a_bad_reload_changes_nothing_and_is_reported_everywhere() {
    let dir = rules_folder(false);
    let ops = ServerOps {
        reloader: Some(Reloader::new(dir.path().to_owned(), None)),
        ..Default::default()
    };
    let set = crate::reload::load_rules(dir.path()).unwrap();
    let tokens = tokens(&[
        ("ops", "admin-token", "[admin]", "[\"*\"]"),
        ("app", "app-token", "[decide]", "[\"*\"]"),
    ]);
    let addr = serve(state_on(set, Some(tokens), Default::default(), ops)).await;

    let reply = post_as(addr, "app-token", "/v1/admin/reload", &json!({})).await;
    assert_eq!(reply.status, 403, "reload needs scope admin");

    let v1 = std::fs::read_to_string(dir.path().join("default-restore.v1.yaml")).unwrap();
    let broken =
        crate::test_support::v2_rules(&v1).replace("restore_window: 1h", "restore_window: 1 hour");
    std::fs::write(dir.path().join("v2.yaml"), &broken).unwrap();
    let reply = post_as(addr, "admin-token", "/v1/admin/reload", &json!({})).await;
    assert_eq!(reply.status, 422);
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json")
    );
    let problem = reply.json();
    assert_eq!(problem["code"], "reload_failed");
    let error = &problem["errors"][0];
    assert!(error["file"].as_str().unwrap().ends_with("v2.yaml"));
    let line = broken.lines().position(|l| l.contains("1 hour")).unwrap() + 1;
    assert_eq!(error["line"], line);
    assert!(error["column"].as_u64().unwrap() > 0);
    assert_eq!(error["path"], "settings.restore_window");
    assert!(error["message"].as_str().unwrap().contains("1 hour"));

    // The old set keeps serving; readiness and metrics tell.
    let decision = post_as(
        addr,
        "app-token",
        "/v1/eligibility",
        &json!({"tenant": "acme", "member": "u_bob", "at": AT}),
    )
    .await;
    assert_eq!(decision.json()["policy"]["version"], "1.0.0");
    let ready = http(addr, "GET", "/readyz", &[], b"").await;
    assert_eq!(ready.status, 200);
    let ready = ready.json();
    assert_eq!(ready["last_reload_error"]["trigger"], "api");
    assert_eq!(ready["last_reload_error"]["errors"][0]["line"], line);
    let text = metrics(addr).await;
    assert_eq!(
        metric(&text, "restore_policy_reloads_total"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        metric(&text, "restore_policy_reload_failures_total"),
        Some(1.0)
    );
    assert_eq!(
        metric(&text, "restore_policy_last_reload_successful"),
        Some(0.0)
    );

    // Fixed: the reload goes through, the error clears, v2 serves.
    std::fs::write(
        dir.path().join("v2.yaml"),
        crate::test_support::v2_rules(&v1),
    )
    .unwrap();
    let reply = post_as(addr, "admin-token", "/v1/admin/reload", &json!({})).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["reloaded"], true);
    assert_eq!(reply.json()["policies"].as_array().unwrap().len(), 2);
    assert!(http(addr, "GET", "/readyz", &[], b"").await.json()["last_reload_error"].is_null());
    let decision = post_as(
        addr,
        "app-token",
        "/v1/eligibility",
        &json!({"tenant": "acme", "member": "u_bob", "at": AT}),
    )
    .await;
    assert_eq!(decision.json()["policy"]["version"], "2.0.0");
    let text = metrics(addr).await;
    assert_eq!(metric(&text, "restore_policy_reloads_total"), Some(2.0));
    assert_eq!(
        metric(&text, "restore_policy_reload_failures_total"),
        Some(1.0)
    );
    assert_eq!(
        metric(&text, "restore_policy_last_reload_successful"),
        Some(1.0)
    );
}

/// While the rules flip between v1 alone and v1 + v2 (in force at `AT`),
/// every batch is decided on one of them whole: never a mix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_runs_on_one_set_while_reloads_swap() {
    let dir = rules_folder(false);
    let ops = ServerOps {
        reloader: Some(Reloader::new(dir.path().to_owned(), None)),
        ..Default::default()
    };
    let set = crate::reload::load_rules(dir.path()).unwrap();
    let state = state_on(set, None, Default::default(), ops);
    let addr = serve(state.clone()).await;
    let v1 = std::fs::read_to_string(dir.path().join("default-restore.v1.yaml")).unwrap();
    let v2 = crate::test_support::v2_rules(&v1);
    let flipper = {
        let state = state.clone();
        let dir = dir.path().to_owned();
        tokio::spawn(async move {
            for i in 0..40 {
                let path = dir.join("v2.yaml");
                if i % 2 == 0 {
                    std::fs::write(&path, &v2).unwrap();
                } else {
                    std::fs::remove_file(&path).unwrap();
                }
                crate::reload::reload(&state, crate::reload::Trigger::Api)
                    .await
                    .unwrap();
            }
        })
    };
    let items: Vec<Value> = (0..300)
        .map(|_| json!({"tenant": "acme", "member": "u_bob", "actor": "u_anna"}))
        .collect();
    let mut seen = std::collections::HashSet::new();
    for _ in 0..10 {
        let reply = post_json(
            addr,
            "/v1/eligibility/batch",
            &json!({"at": AT, "items": items}),
        )
        .await;
        assert_eq!(reply.status, 200);
        let versions: std::collections::HashSet<String> = reply.json()["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r["decision"]["policy"]["version"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(versions.len(), 1, "one batch, one policy set: {versions:?}");
        seen.extend(versions);
        // AuthZEN picks the version per evaluation, on the request's one set.
        let evaluations: Vec<Value> = (0..300)
            .map(|_| json!({"resource": {"type": "deleted_member", "id": "u_bob", "properties": {"tenant": "acme"}}}))
            .collect();
        let reply = post_json(
            addr,
            "/access/v1/evaluations",
            &json!({"subject": {"type": "user", "id": "u_anna"}, "action": {"name": "restore"},
                    "context": {"time": AT}, "evaluations": evaluations}),
        )
        .await;
        assert_eq!(reply.status, 200);
        let versions: std::collections::HashSet<String> = reply.json()["evaluations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                e["context"]["policy"]["version"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(
            versions.len(),
            1,
            "one request, one policy set: {versions:?}"
        );
    }
    flipper.await.unwrap();
    assert!(!seen.is_empty());
}
