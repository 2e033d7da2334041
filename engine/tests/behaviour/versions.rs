//! Several versions of one policy side by side: picking the one in force at
//! a time (the `effective_from` boundary to the second), pinning a version,
//! tier overrides of settings, and version conflicts as load errors.

use crate::support::{at, blockers, default_rules_text, fixture_facts, ts, two_versions};
use restore_engine::{PolicySet, RuleErrorKind, SelectError};

#[test]
fn tiers_can_widen_who_may_restore() {
    let dir = tempfile::tempdir().unwrap();
    two_versions(dir.path());
    let set = PolicySet::load_dir(dir.path()).unwrap();
    let v2 = set.select(None, Some("2.0.0"), at()).unwrap();
    // e_admin has roles [primary_admin, admin]; check an `admin`-only actor by
    // editing the facts: tiers are a setting, not code.
    let mut facts = fixture_facts("full-enterprise", "e_gone", Some("e_admin"));
    facts.tenant.seats_used = 0;
    facts.actor.as_mut().unwrap().roles = vec!["admin".into()];
    let request = restore_engine::Request::batch(2);
    let d = v2.evaluate(&facts, &request, at()).unwrap();
    assert!(
        d.allowed,
        "enterprise on 2.0.0 allows admins and batches: {d:#?}"
    );
    facts.tenant.plan = "pro".into();
    let d = v2.evaluate(&facts, &request, at()).unwrap();
    assert_eq!(
        blockers(&d),
        ["actor_not_permitted", "batch_restore_not_allowed"]
    );
}

#[test]
fn selection_errors_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    two_versions(dir.path());
    let set = PolicySet::load_dir(dir.path()).unwrap();
    let early = ts("2020-01-01T00:00:00Z");
    match set.select(None, None, early) {
        Err(e @ SelectError::NotInForce { .. }) => assert_eq!(
            e.to_string(),
            "no version of policy `default-restore` is in force at 2020-01-01T00:00:00Z; \
             the earliest takes effect at 2024-11-21T00:00:00Z"
        ),
        other => panic!("{other:?}"),
    }
    match set.select(None, Some("9.9"), early) {
        Err(e @ SelectError::UnknownVersion { .. }) => assert_eq!(
            e.to_string(),
            "policy `default-restore` has no version `9.9`; known: 1.0.0, 2.0.0"
        ),
        other => panic!("{other:?}"),
    }
    match set.select(Some("nope"), None, early) {
        Err(e @ SelectError::UnknownPolicy { .. }) => assert_eq!(
            e.to_string(),
            "no policy named `nope`; known: default-restore"
        ),
        other => panic!("{other:?}"),
    }
    // Named explicitly, the one policy is found too.
    let named = set.select(Some("default-restore"), None, at()).unwrap();
    assert_eq!(named.version(), "1.0.0");
}

#[test]
fn two_policies_need_a_name() {
    let v1 = default_rules_text();
    let other = v1.replace("policy: default-restore", "policy: other");
    let set =
        PolicySet::from_sources([("a.yaml", v1.as_str()), ("b.yaml", other.as_str())]).unwrap();
    match set.select(None, None, at()) {
        Err(e @ SelectError::AmbiguousPolicy { .. }) => assert_eq!(
            e.to_string(),
            "several policies are loaded (default-restore, other); pick one with --policy"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        set.select(Some("other"), None, at()).unwrap().name(),
        "other"
    );
    assert_eq!(set.policies().len(), 2);
}

/// The version in force is the latest whose `effective_from` is at or before
/// the time: exactly at the boundary the new version applies, one second
/// before it the old one does; pinning overrides the time.
#[test]
fn effective_from_boundary_to_the_second() {
    let dir = tempfile::tempdir().unwrap();
    two_versions(dir.path());
    let set = PolicySet::load_dir(dir.path()).unwrap();
    let version = |at: &str| set.select(None, None, ts(at)).unwrap().version().to_owned();
    assert_eq!(version("2026-12-01T00:00:00Z"), "2.0.0", "exactly at");
    assert_eq!(
        version("2026-11-30T23:59:59Z"),
        "1.0.0",
        "one second before"
    );
    assert_eq!(version("2030-01-01T00:00:00Z"), "2.0.0", "long after");
    assert_eq!(
        version("2024-11-21T00:00:00Z"),
        "1.0.0",
        "first version, exactly at"
    );
    assert!(matches!(
        set.select(None, None, ts("2024-11-20T23:59:59Z")),
        Err(SelectError::NotInForce { .. })
    ));
    let pinned = set
        .select(None, Some("1.0.0"), ts("2026-12-01T00:00:00Z"))
        .unwrap();
    assert_eq!(pinned.version(), "1.0.0");
    // The two versions decide differently on the window: a member deleted 31
    // days before the boundary is restorable under 2.0.0 (60 days) only.
    let mut facts = crate::support::plain_facts();
    facts.member.deleted_at = ts("2026-10-31T00:00:00Z");
    let boundary = ts("2026-12-01T00:00:00Z");
    let before = ts("2026-11-30T23:59:59Z");
    let d = set
        .select(None, None, boundary)
        .unwrap()
        .evaluate(&facts, &crate::support::ONE, boundary)
        .unwrap();
    assert!(d.allowed, "{d:#?}");
    assert_eq!(&*d.policy.version, "2.0.0");
    let d = set
        .select(None, None, before)
        .unwrap()
        .evaluate(&facts, &crate::support::ONE, before)
        .unwrap();
    assert_eq!(blockers(&d), ["window_expired"]);
    assert_eq!(&*d.policy.version, "1.0.0");
}

#[test]
fn two_versions_with_one_effective_date_are_a_load_error() {
    let dir = tempfile::tempdir().unwrap();
    let v1 = default_rules_text();
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
