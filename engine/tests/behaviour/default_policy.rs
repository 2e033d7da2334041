//! The default policy (rules/), fact by fact, on facts built in memory from
//! the test directory `tests/fixtures/directory.yaml` (no adapter). Each test
//! names the facts (F1..F25) it covers; decisions are snapshotted in the
//! top-level snapshots/ and the key fields are asserted as well.

use crate::support::{at, blockers, decide, snapshot_settings, ONE};
use restore_engine::decision::Outcome;
use restore_engine::Request;

#[test]
fn f1_only_primary_admins_may_restore() {
    let by_admin = decide("acme", "u_quit", Some("u_adam"), &ONE);
    assert!(!by_admin.allowed);
    assert_eq!(blockers(&by_admin), ["actor_not_permitted"]);
    assert_eq!(&*by_admin.blockers[0].fact, "F1");
    let by_primary = decide("acme", "u_quit", Some("u_anna"), &ONE);
    assert!(by_primary.allowed, "{by_primary:#?}");
    // No actor: a read-only eligibility question; F1 is not checked.
    let read_only = decide("acme", "u_quit", None, &ONE);
    assert!(read_only.allowed);
    snapshot_settings()
        .bind(|| insta::assert_yaml_snapshot!("default_policy__f1_actor_not_permitted", by_admin));
}

#[test]
fn f2_thirty_days_exactly_is_allowed_one_second_more_is_not() {
    let exactly = decide("acme", "u_day30", Some("u_anna"), &ONE);
    assert!(exactly.allowed, "{exactly:#?}");
    assert_eq!(exactly.restorable_until, Some(at()));
    let later = decide("acme", "u_day30s1", Some("u_anna"), &ONE);
    assert_eq!(blockers(&later), ["window_expired"]);
    assert!(later.restorable_until.unwrap() < at());
    snapshot_settings().bind(|| {
        insta::assert_yaml_snapshot!("default_policy__f2_window_exactly_30_days", exactly);
        insta::assert_yaml_snapshot!("default_policy__f2_window_expired_by_one_second", later);
    });
}

#[test]
fn f3_deletion_in_progress_blocks_and_names_the_latest_end() {
    let d = decide("acme", "u_deleting", Some("u_anna"), &ONE);
    assert_eq!(blockers(&d), ["deletion_in_progress"]);
    // Deleted 2026-11-23T12:00:00Z + 48h.
    assert!(
        d.blockers[0].remedy.contains("2026-11-25T12:00:00Z"),
        "{}",
        d.blockers[0].remedy
    );
    snapshot_settings()
        .bind(|| insta::assert_yaml_snapshot!("default_policy__f3_deletion_in_progress", d));
}

#[test]
fn f4_removed_from_the_list_is_never_restorable() {
    let d = decide("acme", "u_purged", Some("u_anna"), &ONE);
    assert_eq!(blockers(&d), ["removed_from_list"]);
    assert_eq!(&*d.blockers[0].fact, "F4");
    snapshot_settings()
        .bind(|| insta::assert_yaml_snapshot!("default_policy__f4_removed_from_list", d));
}

#[test]
fn f5_self_deactivated_members_restore_like_any_other() {
    let d = decide("acme", "u_quit", Some("u_anna"), &ONE);
    assert!(d.allowed);
    assert!(d.blockers.is_empty());
    snapshot_settings()
        .bind(|| insta::assert_yaml_snapshot!("default_policy__f5_self_deactivated", d));
}

#[test]
fn f6_batch_restore_is_not_offered() {
    let d = decide("acme", "u_quit", Some("u_anna"), &Request::batch(3));
    assert_eq!(blockers(&d), ["batch_restore_not_allowed"]);
    assert!(d.blockers[0].message.contains('3'));
    snapshot_settings()
        .bind(|| insta::assert_yaml_snapshot!("default_policy__f6_batch_restore", d.blockers));
}

#[test]
fn f7_f10_seats_block_only_on_pro_and_enterprise() {
    let cases = [
        ("full-starter", "s_gone", "s_admin", true),
        ("full-basic", "b_gone", "b_admin", true),
        ("full-pro", "p_gone", "p_admin", false),
        ("full-enterprise", "e_gone", "e_admin", false),
    ];
    let mut seen = Vec::new();
    for (tenant, member, actor, allowed) in cases {
        let d = decide(tenant, member, Some(actor), &ONE);
        assert_eq!(d.allowed, allowed, "{tenant}: {d:#?}");
        assert_eq!(&*d.policy.tier, tenant.trim_start_matches("full-"));
        if !allowed {
            assert_eq!(blockers(&d), ["no_available_seat"]);
            assert!(d.blockers[0].remedy.contains("purchase"));
        }
        seen.push((tenant, d.policy.tier.clone(), d.allowed, d.blockers));
    }
    snapshot_settings()
        .bind(|| insta::assert_yaml_snapshot!("default_policy__f7_f10_seats_per_tier", seen));
}

#[test]
fn f8_f9_a_restore_requires_a_department_and_a_seat() {
    let d = decide("acme", "u_bob", Some("u_anna"), &ONE);
    let requires: Vec<&str> = d.requires.iter().map(|r| &**r).collect();
    assert_eq!(requires, ["department", "seat"]);
}

#[test]
fn f11_duplicate_user_id_blocks() {
    let d = decide("acme", "u_dup", Some("u_anna"), &ONE);
    assert_eq!(blockers(&d), ["duplicate_user_id"]);
    assert!(d.blockers[0].remedy.contains("u_dup"));
    snapshot_settings()
        .bind(|| insta::assert_yaml_snapshot!("default_policy__f11_duplicate_user_id", d.blockers));
}

#[test]
fn f12_duplicate_email_case_insensitive_and_phone_block() {
    let email = decide("acme", "u_eve", Some("u_anna"), &ONE);
    assert_eq!(blockers(&email), ["duplicate_email"]);
    assert!(email.blockers[0].message.contains("u_eve2"));
    let phone = decide("acme", "u_pat", Some("u_anna"), &ONE);
    assert_eq!(blockers(&phone), ["duplicate_phone"]);
    assert!(phone.blockers[0].message.contains("u_pat2"));
    snapshot_settings().bind(|| {
        insta::assert_yaml_snapshot!("default_policy__f12_duplicate_email", email.blockers);
        insta::assert_yaml_snapshot!("default_policy__f12_duplicate_phone", phone.blockers);
    });
}

#[test]
fn every_blocker_that_holds_is_reported() {
    let d = decide("acme", "u_everything", Some("u_adam"), &Request::batch(2));
    assert_eq!(
        blockers(&d),
        [
            "actor_not_permitted",
            "window_expired",
            "deletion_in_progress",
            "removed_from_list",
            "batch_restore_not_allowed",
            "duplicate_phone",
            "duplicate_email"
        ]
    );
    snapshot_settings().bind(|| insta::assert_yaml_snapshot!("default_policy__all_blockers", d));
}

#[test]
fn f14_to_f25_resources_with_per_item_transfers() {
    let d = decide("acme", "u_bob", Some("u_anna"), &ONE);
    assert!(d.allowed);
    let outcome = |name: &str| d.resource(name).map(|r| r.outcome);
    assert_eq!(outcome("member_account"), Some(Outcome::Restored)); // F14
    assert_eq!(outcome("department"), Some(Outcome::Reset)); // F15
    assert_eq!(outcome("user_permissions"), Some(Outcome::Restored)); // F16
    for reset in ["admin_permissions", "approval_roles", "user_groups"] {
        assert_eq!(outcome(reset), Some(Outcome::Reset), "{reset}"); // F17
    }
    assert_eq!(outcome("dynamic_groups"), Some(Outcome::Automatic)); // F18
    assert_eq!(outcome("group_chats"), Some(Outcome::Restored)); // F19
    assert_eq!(outcome("chats"), Some(Outcome::Restored)); // F20
    let documents = d.resource("documents").unwrap(); // F21
    assert_eq!(documents.outcome, Outcome::TransferDependent);
    assert_eq!(
        (documents.restored, documents.not_restored),
        (Some(1), Some(1))
    );
    assert_eq!(documents.not_restored_items, ["d2"]);
    let joined = d.resource("events_joined").unwrap();
    assert_eq!(joined.not_restored_items, ["e3"]);
    assert_eq!(d.resource("events_created").unwrap().restored, Some(2));
    assert_eq!(outcome("third_party_calendars"), Some(Outcome::NotRestored)); // F22
    assert_eq!(outcome("business_email_address"), Some(Outcome::Restored)); // F23
    assert_eq!(outcome("business_email_data"), Some(Outcome::Restored));
    assert_eq!(outcome("approval_processes"), Some(Outcome::Restored)); // F24
    assert_eq!(
        outcome("approval_tasks_in_progress"),
        Some(Outcome::NotRestored)
    ); // F25
    assert_eq!(d.resources.len(), 19, "every resource of docs/design.md");
    snapshot_settings()
        .bind(|| insta::assert_yaml_snapshot!("default_policy__f14_f25_resources", d.resources));
}

#[test]
fn f19_group_chats_cutoff_is_18_00_utc_plus_8() {
    let before = decide("acme", "u_old", None, &ONE);
    let chats = before.resource("group_chats").unwrap();
    assert_eq!(chats.outcome, Outcome::NotRestored);
    assert_eq!(chats.not_restored_items, ["g_old"]);
    assert!(chats
        .reason
        .as_deref()
        .unwrap_or_default()
        .contains("UTC+8"));
    let at_cutoff = decide("acme", "u_cutoff", None, &ONE);
    assert_eq!(
        at_cutoff.resource("group_chats").unwrap().outcome,
        Outcome::Restored
    );
    snapshot_settings().bind(|| {
        insta::assert_yaml_snapshot!("default_policy__f19_group_chats_before_cutoff", chats);
    });
}

#[test]
fn decision_records_the_policy_and_its_digest() {
    let d = decide("acme", "u_bob", None, &ONE);
    assert_eq!(&*d.policy.name, "default-restore");
    assert_eq!(&*d.policy.version, "1.0.0");
    let bytes =
        std::fs::read(crate::support::root().join("rules/default-restore.v1.yaml")).unwrap();
    assert_eq!(d.policy.digest, restore_engine::load::digest(&bytes));
    assert!(d.policy.digest.starts_with("sha256:") && d.policy.digest.len() == 7 + 64);
    // The digest function itself has a known-answer test (tests/digest.rs).
}

#[test]
fn one_compiled_policy_serves_many_threads() {
    let set = crate::support::default_rules();
    let policy = crate::support::default_policy(&set);
    let facts = crate::support::fixture_facts("acme", "u_bob", None);
    let expected = policy.evaluate(&facts, &ONE, at()).unwrap();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| assert_eq!(policy.evaluate(&facts, &ONE, at()).unwrap(), expected));
        }
    });
}

/// Members with no listed items and no exception that holds share their
/// tier's precomputed resource table; it must equal what is built per member.
#[test]
fn plain_members_share_a_resource_table_equal_to_a_built_one() {
    let set = crate::support::default_rules();
    let policy = crate::support::default_policy(&set);
    let mut facts = crate::support::fixture_facts("acme", "u_bob", Some("u_anna"));
    facts.member.resources.clear();
    let first = policy.evaluate(&facts, &ONE, at()).unwrap();
    let second = policy.evaluate(&facts, &ONE, at()).unwrap();
    assert!(std::sync::Arc::ptr_eq(&first.resources, &second.resources));
    let documents = first.resource("documents").unwrap();
    assert_eq!(
        (documents.restored, documents.not_restored),
        (Some(0), Some(0)),
        "transfer-dependent counts are always given"
    );
    assert_eq!(first.resource("chats").unwrap().restored, None);

    // An empty list for a transfer-dependent resource changes no outcome
    // but makes the table be built for this member.
    facts
        .member
        .resources
        .insert("documents".into(), Vec::new());
    let built = policy.evaluate(&facts, &ONE, at()).unwrap();
    assert!(!std::sync::Arc::ptr_eq(&first.resources, &built.resources));
    assert_eq!(built.resources, first.resources);

    // An empty list for a `restored` resource gives counts: no longer plain.
    facts.member.resources.insert("chats".into(), Vec::new());
    let counted = policy.evaluate(&facts, &ONE, at()).unwrap();
    let chats = counted.resource("chats").unwrap();
    assert_eq!((chats.restored, chats.not_restored), (Some(0), Some(0)));
}

/// A plan no tier declares is an error naming the plan and the tiers, for
/// evaluate, try_evaluate and explain alike: never a silent pass. Plans
/// match exactly (`Pro` is not `pro`).
#[test]
fn a_plan_no_tier_declares_cannot_be_decided() {
    let set = crate::support::default_rules();
    let policy = crate::support::default_policy(&set);
    assert_eq!(
        policy.tier_names().iter().map(|t| &**t).collect::<Vec<_>>(),
        ["starter", "basic", "pro", "enterprise"]
    );
    for plan in ["trial", "Pro", "pro "] {
        let mut f = crate::support::plain_facts();
        f.tenant.plan = plan.into();
        let e = policy.evaluate(&f, &ONE, at()).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "plan `{plan}` of tenant `t` is not a tier of policy `default-restore` 1.0.0 \
                 (tiers: starter, basic, pro, enterprise)"
            )
        );
        assert!(matches!(
            e,
            restore_engine::EvaluationError::UnknownTier { .. }
        ));
        assert_eq!(policy.try_evaluate(&f, &ONE, at()).unwrap_err(), e);
        assert_eq!(policy.explain(&f, &ONE, at()).unwrap_err(), e);
    }
}
