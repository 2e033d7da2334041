//! Several versions of one policy side by side: the one in force at `--at`
//! is used unless `--policy-version` pins one; tiers override settings.

mod support;

use std::path::Path;

use restore_engine::{PolicySet, RuleErrorKind, SelectError};
use support::{restorectl, root, two_versions};

fn eval(rules: &Path, extra: &[&str]) -> (i32, serde_json::Value) {
    let rules = rules.display().to_string();
    let mut args = vec![
        "eval",
        "--rules",
        &rules,
        "--directory",
        "memory:tests/fixtures/directory.yaml",
    ];
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = restorectl(&args);
    assert!(code == 0 || code == 1, "exit {code}: {stderr}");
    (code, serde_json::from_str(&stdout).expect("JSON decision"))
}

#[test]
fn the_version_in_force_at_the_time_is_picked() {
    let dir = tempfile::tempdir().unwrap();
    two_versions(dir.path());
    let member = ["--tenant", "acme", "--member", "u_day30s1"];
    // Before 2.0.0 takes effect: 30 days, so 30 days and 1 second is too late.
    let (code, d) = eval(
        dir.path(),
        &[&member[..], &["--at", "2026-11-24T10:00:00Z"]].concat(),
    );
    assert_eq!((code, d["policy"]["version"].as_str()), (1, Some("1.0.0")));
    // Under 2.0.0 (60 days) the same member is restorable.
    let (code, d) = eval(
        dir.path(),
        &[&member[..], &["--at", "2026-12-02T10:00:00Z"]].concat(),
    );
    assert_eq!((code, d["policy"]["version"].as_str()), (0, Some("2.0.0")));
    // Pinning replays the old version at the later time.
    let (code, d) = eval(
        dir.path(),
        &[
            &member[..],
            &["--at", "2026-12-02T10:00:00Z", "--policy-version", "1.0.0"],
        ]
        .concat(),
    );
    assert_eq!((code, d["policy"]["version"].as_str()), (1, Some("1.0.0")));
    assert_ne!(d["policy"]["digest"], serde_json::Value::Null);
}

#[test]
fn tiers_can_widen_who_may_restore() {
    let dir = tempfile::tempdir().unwrap();
    two_versions(dir.path());
    let set = PolicySet::load_dir(dir.path()).unwrap();
    let v2 = set.select(None, Some("2.0.0"), support::at()).unwrap();
    let directory = support::fixture_directory();
    // e_admin has roles [primary_admin, admin]; check an `admin`-only actor by
    // editing the facts: tiers are a setting, not code.
    let mut facts = support::block_on(restore_directory::Directory::facts(
        &directory,
        "full-enterprise",
        "e_gone",
        Some("e_admin"),
    ))
    .unwrap();
    facts.tenant.seats_used = 0;
    facts.actor.as_mut().unwrap().roles = vec!["admin".into()];
    let request = restore_engine::Request { batch_size: 2 };
    let d = v2.evaluate(&facts, &request, support::at());
    assert!(
        d.allowed,
        "enterprise on 2.0.0 allows admins and batches: {d:#?}"
    );
    facts.tenant.plan = restore_engine::facts::Plan::Pro;
    let d = v2.evaluate(&facts, &request, support::at());
    let rules: Vec<&str> = d.blockers.iter().map(|b| &*b.rule).collect();
    assert_eq!(rules, ["actor_not_permitted", "batch_restore_not_allowed"]);
}

#[test]
fn selection_errors_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    two_versions(dir.path());
    let set = PolicySet::load_dir(dir.path()).unwrap();
    let early = "2020-01-01T00:00:00Z".parse().unwrap();
    assert!(matches!(
        set.select(None, None, early),
        Err(SelectError::NotInForce { .. })
    ));
    assert!(matches!(
        set.select(None, Some("9.9"), early),
        Err(SelectError::UnknownVersion { .. })
    ));
    assert!(matches!(
        set.select(Some("nope"), None, early),
        Err(SelectError::UnknownPolicy { .. })
    ));
    let rules = dir.path().display().to_string();
    let (code, stdout, stderr) = restorectl(&[
        "eval",
        "--rules",
        &rules,
        "--directory",
        "memory:tests/fixtures/directory.yaml",
        "--tenant",
        "acme",
        "--member",
        "u_bob",
        "--policy-version",
        "9.9",
    ]);
    assert_eq!(code, 2);
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("has no version `9.9`; known: 1.0.0, 2.0.0"),
        "{stderr}"
    );
}

#[test]
fn two_versions_with_one_effective_date_are_a_load_error() {
    let dir = tempfile::tempdir().unwrap();
    let v1 = std::fs::read_to_string(root().join("rules/default-restore.v1.yaml")).unwrap();
    std::fs::write(dir.path().join("a.yaml"), &v1).unwrap();
    std::fs::write(
        dir.path().join("b.yaml"),
        v1.replace("version: \"1.0.0\"", "version: \"1.0.1\""),
    )
    .unwrap();
    std::fs::write(dir.path().join("c.yaml"), &v1).unwrap();
    let err = PolicySet::load_dir(dir.path()).unwrap_err();
    assert!(err
        .diagnostics
        .iter()
        .any(|d| matches!(d.kind, RuleErrorKind::SameEffectiveDate { .. })));
    assert!(err
        .diagnostics
        .iter()
        .any(|d| matches!(d.kind, RuleErrorKind::DuplicateVersion { .. })));
}
