//! Operating the service: health, readiness, metrics, reload (admin
//! endpoint, SIGHUP, folder watch) with a broken file keeping the old set,
//! shadow evaluation and the decision log.

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
use support::server::{eventually, Server};
use support::setup::{is_decision_id, v3_text, Setup, ADMIN, DECIDE, RESTORE};

const AT: &str = "2026-11-24T10:00:00Z";

fn versions(server: &Server, token: Option<&str>) -> Vec<String> {
    let call = server.call("GET", "/v1/policies");
    let call = match token {
        Some(t) => call.token(t),
        None => call,
    };
    let body = call.send().ok();
    body["policies"]
        .as_array()
        .expect("policies")
        .iter()
        .map(|p| p["version"].as_str().unwrap().to_owned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

fn version_now(server: &Server) -> String {
    let decision = server
        .post(
            "/v1/eligibility",
            &json!({"tenant": "live", "member": "l_a"}),
        )
        .ok();
    decision["policy"]["version"].as_str().unwrap().to_owned()
}

#[test]
fn health_readiness_policies_and_openapi() {
    let setup = Setup::new();
    let server = setup.serve_with_tokens(&setup.sqlite, &[]);
    assert_eq!(server.get("/healthz").ok(), json!({"status": "ok"}));
    let ready = server.get("/readyz").ok();
    assert_eq!(ready["status"], "ready", "{ready}");
    assert_eq!(ready["policies"], 2, "{ready}");
    assert!(ready["last_reload_error"].is_null(), "{ready}");

    let policies = server.call("GET", "/v1/policies").token(ADMIN).send().ok();
    let list = policies["policies"].as_array().unwrap();
    let find = |v: &str| {
        list.iter()
            .find(|p| p["version"] == v)
            .unwrap_or_else(|| panic!("{v} listed: {policies}"))
    };
    let v1 = find("1.0.0");
    let v2 = find("2.0.0");
    assert_eq!(v1["name"], "default-restore");
    assert_eq!(v1["in_force"], true, "{policies}");
    assert_eq!(
        v2["in_force"], false,
        "2.0.0 takes effect in 2999: {policies}"
    );
    assert_eq!(v2["effective_from"], "2999-01-01T00:00:00Z");
    for p in list {
        let digest = p["digest"].as_str().unwrap_or_default();
        assert!(digest.starts_with("sha256:") && digest.len() == 71, "{p}");
        assert!(
            p["file"].as_str().unwrap_or_default().ends_with(".yaml"),
            "{p}"
        );
    }
    // The digest is the one decisions carry.
    let decision = server
        .call("POST", "/v1/eligibility")
        .token(DECIDE)
        .json(&json!({"tenant": "acme", "member": "u_bob", "at": AT}))
        .send()
        .ok();
    assert_eq!(decision["policy"]["digest"], v1["digest"]);

    let openapi = server.get("/openapi.json").ok();
    assert!(
        openapi["openapi"]
            .as_str()
            .unwrap_or_default()
            .starts_with("3."),
        "OpenAPI 3.x"
    );
    let paths = openapi["paths"].as_object().expect("paths");
    for path in [
        "/v1/eligibility",
        "/v1/eligibility/batch",
        "/v1/tenants/{tenant}/deleted-members",
        "/v1/tenants/{tenant}/members/{member}/restore",
        "/v1/policies",
        "/v1/admin/reload",
        "/access/v1/evaluation",
        "/access/v1/evaluations",
        "/.well-known/authzen-configuration",
        "/healthz",
        "/readyz",
    ] {
        assert!(paths.contains_key(path), "{path} in openapi.json");
    }
}

#[test]
fn metrics_count_decisions_blockers_requests_and_restores() {
    let setup = Setup::new();
    let server = setup.serve(&setup.sqlite, &[]);
    for member in ["u_bob", "u_day30", "u_everything", "u_day30s1"] {
        server
            .post(
                "/v1/eligibility",
                &json!({"tenant": "acme", "member": member, "actor": "u_anna", "at": AT}),
            )
            .ok();
    }
    server
        .post(
            "/v1/eligibility",
            &json!({"tenant": "acme", "member": "nobody"}),
        )
        .problem(404, "unknown_member");
    let stream = server.get("/v1/tenants/globex/deleted-members");
    assert_eq!(stream.status, 200);
    server
        .post(
            "/v1/tenants/live/members/l_a/restore",
            &json!({"actor": "l_admin", "department": "ops"}),
        )
        .ok();
    let reply = server.post(
        "/v1/tenants/live/members/l_old/restore",
        &json!({"actor": "l_admin", "department": "ops"}),
    );
    assert_eq!(reply.status, 409);

    let m = |name: &str, labels: &[(&str, &str)]| server.metric(name, labels);
    assert!(
        m(
            "restore_decisions_total",
            &[("outcome", "allowed"), ("endpoint", "/v1/eligibility")]
        ) >= 2.0
    );
    assert!(
        m(
            "restore_decisions_total",
            &[("outcome", "denied"), ("endpoint", "/v1/eligibility")]
        ) >= 2.0
    );
    assert!(m("restore_blockers_total", &[("rule", "window_expired")]) >= 2.0);
    assert!(
        m(
            "restore_blockers_total",
            &[("rule", "deletion_in_progress")]
        ) >= 1.0
    );
    assert_eq!(m("restore_restores_total", &[("outcome", "restored")]), 1.0);
    assert_eq!(m("restore_restores_total", &[("outcome", "denied")]), 1.0);
    assert!(
        m(
            "restore_http_requests_total",
            &[("endpoint", "/v1/eligibility"), ("status", "200")]
        ) >= 4.0
    );
    assert!(
        m(
            "restore_http_requests_total",
            &[("endpoint", "/v1/eligibility"), ("status", "404")]
        ) >= 1.0
    );
    assert!(
        m(
            "restore_http_requests_total",
            &[("endpoint", "/v1/tenants/{tenant}/deleted-members")]
        ) >= 1.0,
        "route template as the label"
    );
    assert!(
        m(
            "restore_http_request_duration_seconds_count",
            &[("endpoint", "/v1/eligibility")]
        ) >= 5.0
    );
    assert!(
        m(
            "restore_http_request_duration_seconds_bucket",
            &[("endpoint", "/v1/eligibility"), ("le", "+Inf")]
        ) >= 5.0
    );
    let text = server.get("/metrics");
    assert!(text.content_type().starts_with("text/plain"), "{text:?}");
    for name in [
        "restore_http_requests_in_flight",
        "restore_policy_reloads_total",
        "restore_policy_reload_failures_total",
        "restore_shadow_disagreements_total",
        "restore_requests_shed_total",
    ] {
        assert!(
            text.body.lines().any(|l| l.starts_with(name)),
            "{name} exported"
        );
    }
    assert!(
        !text.body.contains("/v1/tenants/globex"),
        "raw paths never become labels"
    );
    assert!(
        !text.body.contains("/members/l_a/"),
        "raw paths never become labels"
    );
}

#[test]
fn reload_with_a_broken_file_keeps_serving_then_a_good_one_is_served() {
    let setup = Setup::new();
    let server = setup
        .serve_with_tokens(&setup.sqlite, &[])
        .with_token(ADMIN);
    let rules = std::path::Path::new(&setup.rules);
    let v3 = rules.join("default-restore.v3.yaml");
    std::fs::write(
        &v3,
        v3_text().replace("restore_window: 30d ", "restore_window: thirty "),
    )
    .unwrap();
    let (code, _, check) = support::restorectl(&["check", "--rules", &setup.rules]);
    assert_ne!(code, 0);
    assert!(
        check.contains("default-restore.v3.yaml:18:19"),
        "CLI locates it: {check}"
    );

    let reloads = server.metric("restore_policy_reloads_total", &[]);
    let failures = server.metric("restore_policy_reload_failures_total", &[]);
    let reply = server.call("POST", "/v1/admin/reload").send();
    let problem = reply.problem(422, "reload_failed");
    let errors = problem["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{problem}");
    let e = &errors[0];
    assert!(
        e["file"]
            .as_str()
            .unwrap_or_default()
            .ends_with("default-restore.v3.yaml"),
        "{e}"
    );
    assert_eq!(e["line"], 18, "{e}");
    assert_eq!(e["column"], 19, "{e}");
    assert_eq!(e["path"], "settings.restore_window", "{e}");
    assert!(e["message"].is_string(), "{e}");
    assert!(
        !reply.body.contains("F2: restorable while"),
        "no file content echoed"
    );

    // The old set keeps serving; readiness shows the error.
    assert_eq!(versions(&server, None), ["1.0.0", "2.0.0"]);
    let decision = server
        .call("POST", "/v1/eligibility")
        .token(DECIDE)
        .json(&json!({"tenant": "live", "member": "l_a"}))
        .send()
        .ok();
    assert_eq!(decision["policy"]["version"], "1.0.0");
    let ready = server.get("/readyz").ok();
    assert_eq!(ready["status"], "ready", "{ready}");
    let last = &ready["last_reload_error"];
    assert!(
        last.to_string().contains("default-restore.v3.yaml"),
        "{ready}"
    );
    assert!(last.to_string().contains("18"), "line in readyz: {ready}");
    assert_eq!(
        server.metric("restore_policy_reload_failures_total", &[]),
        failures + 1.0
    );
    eventually(Duration::from_secs(10), "the log to name the file", || {
        server
            .stderr()
            .contains("default-restore.v3.yaml")
            .then_some(())
    });

    // Fixed: the new version is served.
    std::fs::write(&v3, v3_text()).unwrap();
    let body = server.call("POST", "/v1/admin/reload").send().ok();
    assert_eq!(body["reloaded"], true, "{body}");
    assert_eq!(body["policies"].as_array().unwrap().len(), 3, "{body}");
    assert_eq!(versions(&server, None), ["1.0.0", "2.0.0", "3.0.0"]);
    let decision = server
        .call("POST", "/v1/eligibility")
        .token(DECIDE)
        .json(&json!({"tenant": "live", "member": "l_a"}))
        .send()
        .ok();
    assert_eq!(decision["policy"]["version"], "3.0.0");
    let ready = server.get("/readyz").ok();
    assert!(ready["last_reload_error"].is_null(), "{ready}");
    assert_eq!(ready["policies"], 3);
    assert_eq!(
        server.metric("restore_policy_reloads_total", &[]),
        reloads + 2.0,
        "two reload attempts, one failed"
    );
    assert_eq!(
        server.metric("restore_policy_reload_failures_total", &[]),
        failures + 1.0
    );
}

#[test]
fn sighup_and_the_folder_watch_reload() {
    let setup = Setup::without_sqlite();
    let hup = setup.serve(&setup.memory, &[]);
    let watched = Server::start(&["--rules", &setup.rules, "--directory", &setup.memory]);
    assert_eq!(version_now(&hup), "1.0.0");
    assert_eq!(version_now(&watched), "1.0.0");
    std::fs::write(
        std::path::Path::new(&setup.rules).join("default-restore.v3.yaml"),
        v3_text(),
    )
    .unwrap();
    // The folder watch picks it up by itself (debounced).
    eventually(Duration::from_secs(30), "the watch to reload", || {
        (version_now(&watched) == "3.0.0").then_some(())
    });
    // --no-watch: nothing changes until SIGHUP.
    assert_eq!(versions(&hup, None), ["1.0.0", "2.0.0"]);
    let reloads = hup.metric("restore_policy_reloads_total", &[]);
    hup.signal("HUP");
    eventually(Duration::from_secs(30), "SIGHUP to reload", || {
        (version_now(&hup) == "3.0.0").then_some(())
    });
    assert_eq!(
        hup.metric("restore_policy_reloads_total", &[]),
        reloads + 1.0
    );
}

/// Waits for the decision log to hold `n` lines (it is written off the
/// request path) and returns them parsed.
fn log_lines(path: &std::path::Path, n: usize) -> Vec<Value> {
    eventually(Duration::from_secs(20), "decision log lines", || {
        let text = std::fs::read_to_string(path).ok()?;
        let complete: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
        (complete.len() >= n && text.ends_with('\n')).then(|| {
            complete
                .iter()
                .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
                .collect()
        })
    })
}

#[test]
fn shadow_disagreements_and_the_decision_log() {
    let setup = Setup::new();
    let log = setup.path("decisions.ndjson");
    let server = setup.serve_with_tokens(
        &setup.sqlite,
        &[
            "--shadow-version",
            "2.0.0",
            "--decision-log",
            log.to_str().unwrap(),
        ],
    );
    let mut ids = Vec::new();
    // u_day30s1: 1.0.0 denies (30-day window), 2.0.0 allows (60 days): a disagreement.
    for member in ["u_bob", "u_day30s1", "u_everything"] {
        let reply = server
            .call("POST", "/v1/eligibility")
            .token(DECIDE)
            .json(&json!({"tenant": "acme", "member": member, "actor": "u_anna", "at": AT}))
            .send();
        let decision = reply.ok();
        assert_eq!(
            decision["policy"]["version"], "1.0.0",
            "shadow never answers"
        );
        if member == "u_day30s1" {
            assert_eq!(decision["allowed"], false, "{decision}");
        }
        ids.push(reply.header("x-decision-id").unwrap().to_owned());
    }
    let reply = server
        .call("POST", "/v1/tenants/live/members/l_a/restore")
        .token(RESTORE)
        .json(&json!({"actor": "l_admin", "department": "ops"}))
        .send();
    reply.ok();
    ids.push(reply.header("x-decision-id").unwrap().to_owned());

    assert_eq!(
        server.metric("restore_shadow_disagreements_total", &[]),
        1.0
    );
    eventually(
        Duration::from_secs(10),
        "a warn line for the disagreement",
        || server.stderr().contains("u_day30s1").then_some(()),
    );

    let lines = log_lines(&log, 4);
    assert_eq!(
        lines.len(),
        4,
        "one line per decision and restore: {lines:?}"
    );
    for (line, id) in lines.iter().zip(&ids) {
        assert_eq!(
            line["decision_id"],
            id.as_str(),
            "X-Decision-Id is the log's id: {line}"
        );
        assert!(is_decision_id(id));
        let time: Result<chrono::DateTime<chrono::Utc>, _> =
            line["time"].as_str().unwrap_or_default().parse();
        assert!(time.is_ok(), "time: {line}");
        assert_eq!(line["policy"]["name"], "default-restore");
        assert_eq!(line["policy"]["version"], "1.0.0");
        assert!(line["policy"]["digest"]
            .as_str()
            .unwrap_or_default()
            .starts_with("sha256:"));
        assert!(line["latency_us"].is_u64(), "{line}");
        assert!(line["blockers"].is_array(), "{line}");
    }
    let by_member = |m: &str| lines.iter().find(|l| l["member"] == m).unwrap();
    let bob = by_member("u_bob");
    assert_eq!(bob["kind"], "decision");
    assert_eq!(bob["endpoint"], "/v1/eligibility");
    assert_eq!(bob["token"], "billing");
    assert_eq!(bob["tenant"], "acme");
    assert_eq!(bob["actor"], "u_anna");
    assert_eq!(bob["allowed"], true);
    assert_eq!(bob["blockers"], json!([]));
    let day = by_member("u_day30s1");
    assert_eq!(day["allowed"], false);
    assert_eq!(day["blockers"], json!(["window_expired"]));
    assert_eq!(day["shadow"]["version"], "2.0.0", "{day}");
    assert_eq!(day["shadow"]["allowed"], true, "{day}");
    assert_eq!(day["shadow"]["blockers"], json!([]), "{day}");
    let everything = by_member("u_everything");
    assert_eq!(everything["allowed"], false);
    assert!(everything["blockers"].as_array().unwrap().len() > 1);
    let restored = by_member("l_a");
    assert_eq!(restored["kind"], "restore");
    assert_eq!(restored["token"], "helpdesk");
    assert_eq!(restored["tenant"], "live");
    assert_eq!(restored["allowed"], true);
}

#[test]
fn decision_log_to_stdout_follows_the_listening_line() {
    let setup = Setup::without_sqlite();
    let server = setup.serve(&setup.memory, &["--decision-log", "-"]);
    let reply = server.post(
        "/v1/eligibility",
        &json!({"tenant": "acme", "member": "u_bob", "actor": "u_anna", "at": AT}),
    );
    reply.ok();
    let line = eventually(
        Duration::from_secs(20),
        "a decision-log line on stdout",
        || server.stdout_lines().first().cloned(),
    );
    let line: Value = serde_json::from_str(&line).expect("an NDJSON line");
    assert_eq!(line["decision_id"], reply.header("x-decision-id").unwrap());
    assert_eq!(
        line["token"], "anonymous",
        "no --tokens: the anonymous caller"
    );
    assert_eq!(line["member"], "u_bob");
    assert_eq!(line["allowed"], true);
}

#[test]
fn reloads_under_load_never_mix_sets() {
    let setup = Setup::without_sqlite();
    let server = setup.serve(&setup.memory, &[]);
    let v3 = std::path::Path::new(&setup.rules).join("default-restore.v3.yaml");
    std::fs::write(&v3, v3_text()).unwrap();
    server.post("/v1/admin/reload", &json!({})).ok();
    // The digest of each version, as listed.
    let listed = server.get("/v1/policies").ok();
    let digest_of: std::collections::HashMap<String, String> = listed["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["version"].as_str().unwrap().to_owned(),
                p["digest"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let seen = std::thread::scope(|s| {
        let workers: Vec<_> = (0..3)
            .map(|_| {
                let (server, stop) = (&server, &stop);
                s.spawn(move || {
                    let mut seen = Vec::new();
                    // Bounded: at most 2,000 requests per worker.
                    for _ in 0..2000 {
                        if stop.load(std::sync::atomic::Ordering::Relaxed) {
                            break;
                        }
                        let d = server
                            .post(
                                "/v1/eligibility",
                                &json!({"tenant": "live", "member": "l_a"}),
                            )
                            .ok();
                        seen.push((
                            d["policy"]["version"].as_str().unwrap().to_owned(),
                            d["policy"]["digest"].as_str().unwrap().to_owned(),
                        ));
                    }
                    seen
                })
            })
            .collect();
        // Flip 3.0.0 out and in again, reloading each time.
        for i in 0..10 {
            if i % 2 == 0 {
                std::fs::remove_file(&v3).unwrap();
            } else {
                std::fs::write(&v3, v3_text()).unwrap();
            }
            server.post("/v1/admin/reload", &json!({})).ok();
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect::<Vec<_>>()
    });
    assert!(!seen.is_empty());
    for (version, digest) in &seen {
        assert!(version == "1.0.0" || version == "3.0.0", "{version}");
        assert_eq!(
            &digest_of[version], digest,
            "version {version} with another's digest"
        );
    }
}

#[test]
fn sigint_exits_0_with_the_decision_log_flushed() {
    let setup = Setup::without_sqlite();
    let log = setup.path("decisions.ndjson");
    let mut server = setup.serve(&setup.memory, &["--decision-log", log.to_str().unwrap()]);
    let reply = server.post(
        "/v1/eligibility",
        &json!({"tenant": "acme", "member": "u_bob", "at": AT}),
    );
    reply.ok();
    server.signal("INT");
    let status = server
        .wait_exit(Duration::from_secs(30))
        .expect("exits after SIGINT");
    assert_eq!(status.code(), Some(0), "{}", server.stderr());
    // Written before the process ended: no waiting here.
    let text = std::fs::read_to_string(&log).expect("decision log");
    let line: Value = serde_json::from_str(text.lines().next().expect("a line")).unwrap();
    assert_eq!(line["decision_id"], reply.header("x-decision-id").unwrap());
}
