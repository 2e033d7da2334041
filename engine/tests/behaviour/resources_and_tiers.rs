//! Resource exceptions (several on one resource: the first that holds wins),
//! per-tier overrides of the time windows, and every blocker of the default
//! policy holding at once.

use crate::support::{
    at, blockers, default_rules, default_rules_text, plain_facts, policy_from, ts, ONE,
};
use chrono::TimeDelta;
use restore_engine::decision::Outcome;
use restore_engine::facts::{DeletionReason, DeletionState, ResourceItem};
use restore_engine::vocabulary::Plan;
use restore_engine::vocabulary::Value;
use restore_engine::Request;

const EXCEPTIONS: &str = r#"format: restore-rules/v1
policy: exceptions
version: "1"
effective_from: 2020-01-01T00:00:00Z
settings:
  restore_window: 3650d
  deletion_max_duration: 48h
  restore_roles: [primary_admin]
  block_without_seat: false
  batch_restore: false
blockers: []
resources:
  - { resource: member_account, fact: F14, outcome: restored }
  - resource: chats
    fact: F20
    outcome: restored
    exceptions:
      - when: { fact: member.id, is: nobody }
        outcome: reset
        reason: "never holds"
      - when: { fact: member.reason, is: self_deactivated }
        outcome: not_restored
        reason: "second"
      - when: { fact: member.deletion, is: completed }
        outcome: automatic
        reason: "third"
  - { resource: documents, fact: F21, outcome: transfer_dependent }
"#;

#[test]
fn the_first_exception_that_holds_wins() {
    let set = policy_from(EXCEPTIONS);
    let policy = set.select(None, None, at()).unwrap();
    let chats = |facts: &restore_engine::Facts| {
        let d = policy.evaluate(facts, &ONE, at()).unwrap();
        assert!(d.allowed);
        assert_eq!(d.resources.len(), 3, "one outcome per rule");
        // Other rules keep their plain outcome whatever the exceptions do.
        assert_eq!(
            d.resource("member_account")
                .map(|r| (r.outcome, r.reason.clone())),
            Some((Outcome::Restored, None))
        );
        let documents = d.resource("documents").unwrap();
        assert_eq!(
            (documents.restored, documents.not_restored),
            (Some(0), Some(0))
        );
        let c = d.resource("chats").unwrap().clone();
        (c.outcome, c.reason.as_deref().map(str::to_owned), c)
    };
    // Completed, removed by an admin: only the third holds.
    let f = plain_facts();
    let (outcome, reason, _) = chats(&f);
    assert_eq!(
        (outcome, reason.as_deref()),
        (Outcome::Automatic, Some("third"))
    );
    // Self-deactivated and completed: the second and third hold; the second wins.
    let mut quit = plain_facts();
    quit.member.reason = DeletionReason::SelfDeactivated;
    let (outcome, reason, c) = chats(&quit);
    assert_eq!(
        (outcome, reason.as_deref()),
        (Outcome::NotRestored, Some("second"))
    );
    assert_eq!(
        (c.restored, c.not_restored),
        (None, None),
        "no items listed"
    );
    // With items, the exception's outcome decides the counts.
    quit.member.resources.insert(
        "chats".into(),
        vec![
            ResourceItem {
                id: "c1".into(),
                transferred_to: None,
            },
            ResourceItem {
                id: "c2".into(),
                transferred_to: Some("x".into()),
            },
        ],
    );
    let (_, _, c) = chats(&quit);
    assert_eq!((c.restored, c.not_restored), (Some(0), Some(2)));
    assert_eq!(c.not_restored_items, ["c1", "c2"]);
    // None holds: the rule's own outcome, no reason.
    let mut deleting = plain_facts();
    deleting.member.deletion = DeletionState::InProgress;
    let (outcome, reason, _) = chats(&deleting);
    assert_eq!((outcome, reason), (Outcome::Restored, None));
    // Self-deactivated while in progress: only the second holds.
    deleting.member.reason = DeletionReason::SelfDeactivated;
    let (outcome, reason, _) = chats(&deleting);
    assert_eq!(
        (outcome, reason.as_deref()),
        (Outcome::NotRestored, Some("second"))
    );
}

#[test]
fn item_counts_per_outcome() {
    let set = policy_from(EXCEPTIONS);
    let policy = set.select(None, None, at()).unwrap();
    let mut f = plain_facts();
    f.member.deletion = DeletionState::InProgress; // no exception holds
    let items = |ids: &[(&str, Option<&str>)]| -> Vec<ResourceItem> {
        ids.iter()
            .map(|(id, to)| ResourceItem {
                id: (*id).into(),
                transferred_to: to.map(Into::into),
            })
            .collect()
    };
    f.member.resources.insert(
        "documents".into(),
        items(&[
            ("d1", None),
            ("d2", Some("u")),
            ("d3", None),
            ("d4", Some("v")),
        ]),
    );
    f.member
        .resources
        .insert("chats".into(), items(&[("c1", None)]));
    // Items of a resource no rule names change nothing.
    f.member
        .resources
        .insert("unknown".into(), items(&[("u1", None)]));
    let d = policy.evaluate(&f, &ONE, at()).unwrap();
    let documents = d.resource("documents").unwrap();
    assert_eq!(
        (documents.restored, documents.not_restored),
        (Some(2), Some(2))
    );
    assert_eq!(documents.not_restored_items, ["d2", "d4"]);
    let chats = d.resource("chats").unwrap();
    assert_eq!((chats.restored, chats.not_restored), (Some(1), Some(0)));
    assert!(chats.not_restored_items.is_empty());
    assert_eq!(d.resource("member_account").unwrap().restored, None);
}

/// The default rules with per-tier windows: Starter 7 days, Enterprise 90
/// days and a 72-hour deletion process; Basic and Pro keep the defaults.
fn tiered_windows() -> restore_engine::PolicySet {
    let text = default_rules_text()
        .replace("  starter: {}\n", "  starter: { restore_window: 7d }\n")
        .replace(
            "  enterprise:\n    block_without_seat: true     # F10\n",
            "  enterprise:\n    block_without_seat: true\n    restore_window: 90d\n    deletion_max_duration: 72h\n",
        );
    assert!(text.contains("restore_window: 7d") && text.contains("restore_window: 90d"));
    policy_from(&text)
}

#[test]
fn tiers_override_the_restore_window() {
    let set = tiered_windows();
    let policy = set.select(None, None, at()).unwrap();
    let window = |plan: Plan| match policy.setting(plan.as_str(), "restore_window") {
        Some(Value::Duration(d)) => d.num_days(),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        Plan::ALL.map(window),
        [7, 30, 30, 90],
        "starter, basic, pro, enterprise"
    );
    assert_eq!(policy.setting("gold", "restore_window"), None);
    let deleted_at = ts("2026-10-01T00:00:00Z");
    for (plan, days) in [
        (Plan::Starter, 7),
        (Plan::Basic, 30),
        (Plan::Pro, 30),
        (Plan::Enterprise, 90),
    ] {
        let mut f = plain_facts();
        f.tenant.plan = plan.as_str().into();
        f.member.deleted_at = deleted_at;
        let window = TimeDelta::days(days);
        let until = deleted_at + window;
        // Exactly at the end of the tier's window: allowed, restorable until now.
        let d = policy.evaluate(&f, &ONE, until).unwrap();
        assert!(d.allowed, "{plan}: exactly {days}d: {:?}", d.blockers);
        assert_eq!(d.restorable_until, Some(until), "{plan}");
        assert_eq!(&*d.policy.tier, plan.as_str());
        // One second later: expired, and the message names the tier's window.
        let late = until + TimeDelta::seconds(1);
        let d = policy.evaluate(&f, &ONE, late).unwrap();
        assert_eq!(blockers(&d), ["window_expired"], "{plan}");
        assert_eq!(d.restorable_until, Some(until));
        let message = &d.blockers[0].message;
        assert!(
            message.contains(&format!("restore window of {days}d")),
            "{plan}: {message}"
        );
        assert!(
            d.blockers[0].remedy.contains(&format!("more than {days}d")),
            "{plan}: {}",
            d.blockers[0].remedy
        );
    }
}

#[test]
fn tiers_override_the_deletion_duration() {
    let set = tiered_windows();
    let policy = set.select(None, None, at()).unwrap();
    let mut f = plain_facts();
    f.member.deletion = DeletionState::InProgress;
    f.member.deleted_at = ts("2026-11-23T12:00:00Z");
    for (plan, ends_by) in [
        ("pro", "2026-11-25T12:00:00Z"),
        ("enterprise", "2026-11-26T12:00:00Z"),
    ] {
        f.tenant.plan = plan.into();
        let d = policy.evaluate(&f, &ONE, at()).unwrap();
        assert_eq!(blockers(&d), ["deletion_in_progress"], "{plan}");
        assert!(
            d.blockers[0].remedy.contains(ends_by),
            "{plan}: {}",
            d.blockers[0].remedy
        );
    }
}

/// Every one of the default policy's nine blockers holds on these facts;
/// each is reported, in rule order, with its fact and rendered text.
#[test]
fn all_nine_blockers_at_once() {
    let set = default_rules();
    let policy = set.select(None, None, at()).unwrap();
    let mut f = plain_facts();
    f.tenant.plan = "pro".into();
    f.tenant.seats_total = 3;
    f.tenant.seats_used = 4;
    f.member.id = "u_x".into();
    f.member.deleted_at = ts("2026-10-01T00:00:00Z");
    f.member.deletion = DeletionState::InProgress;
    f.member.removed_from_list = true;
    f.conflicts.user_id = vec!["u_x".into()];
    f.conflicts.email = vec!["u_e1".into(), "u_e2".into()];
    f.conflicts.phone = vec!["u_p".into()];
    f.actor.as_mut().unwrap().id = "u_admin".into();
    f.actor.as_mut().unwrap().roles = vec!["admin".into()];
    let d = policy.evaluate(&f, &Request::batch(4), at()).unwrap();
    assert!(!d.allowed);
    let got: Vec<(&str, &str)> = d.blockers.iter().map(|b| (&*b.rule, &*b.fact)).collect();
    assert_eq!(
        got,
        [
            ("actor_not_permitted", "F1"),
            ("window_expired", "F2"),
            ("deletion_in_progress", "F3"),
            ("removed_from_list", "F4"),
            ("batch_restore_not_allowed", "F6"),
            ("no_available_seat", "F10"),
            ("duplicate_user_id", "F11"),
            ("duplicate_phone", "F12"),
            ("duplicate_email", "F12"),
        ]
    );
    let text = |rule: &str| {
        let b = d.blockers.iter().find(|b| &*b.rule == rule).unwrap();
        format!("{} | {}", b.message, b.remedy)
    };
    assert_eq!(
        text("actor_not_permitted"),
        "`u_admin` may not restore members; allowed roles: primary_admin | \
         ask a member with one of these roles to restore the member: primary_admin"
    );
    assert_eq!(
        text("window_expired"),
        "deleted 54d10h ago, more than the restore window of 30d; restorable until \
         2026-10-31T00:00:00Z | none: a member deleted for more than 30d can never be restored"
    );
    assert!(text("deletion_in_progress").contains("at the latest 2026-10-03T00:00:00Z"));
    assert!(text("batch_restore_not_allowed").contains("4 members were asked for"));
    assert_eq!(
        text("no_available_seat"),
        "no available seat on the pro plan (4 of 3 seats used) | purchase additional seats, then retry"
    );
    assert!(text("duplicate_user_id").contains("`u_x`"));
    // Lists render comma-separated, nothing before the first entry.
    assert_eq!(
        text("duplicate_email"),
        "the email address is already used by active member u_e1, u_e2 (compared \
         case-insensitively) | update the existing member's information (u_e1, u_e2), then retry"
    );
    assert!(text("duplicate_phone").contains("u_p"));
    // The resources are decided all the same.
    assert_eq!(d.resources.len(), 19);
}

/// A plan no tier names falls to the default tier when the policy declares
/// one (the decision reports that tier), and is an error otherwise.
#[test]
fn a_declared_default_tier_takes_unknown_plans() {
    let set = default_rules();
    let source = set.select(None, None, at()).unwrap().source().clone();
    assert_eq!(source.default_tier, None);
    let mut with_default = source.clone();
    with_default.default_tier = Some(1);
    let policy = restore_engine::CompiledPolicy::compile(with_default);
    assert_eq!(policy.default_tier(), Some("basic"));
    assert_eq!(policy.tier_id("enterprise"), Some(3));
    assert_eq!(policy.tier_id("trial"), Some(1));
    let mut f = plain_facts();
    f.tenant.plan = "trial".into();
    let d = policy.evaluate(&f, &ONE, at()).unwrap();
    assert_eq!(&*d.policy.tier, "basic");
    let strict = restore_engine::CompiledPolicy::compile(source);
    assert_eq!(strict.default_tier(), None);
    assert_eq!(strict.tier_id("trial"), None);
    assert!(strict.evaluate(&f, &ONE, at()).is_err());
}

/// `tenant.plan` is typed by the declared tiers: a listed name that is no
/// tier is a load error at the typo.
#[test]
fn plan_literals_are_checked_against_the_declared_tiers() {
    let text = default_rules_text().replace(
        "blockers:\n",
        "blockers:\n  - id: probe\n    fact: F7\n    when: { fact: tenant.plan, in: [pro, enterprize] }\n    message: m\n    remedy: r\n",
    );
    let err = restore_engine::PolicySet::from_sources([("t.yaml", text.as_str())]).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("expected one of starter | basic | pro | enterprise, found `enterprize`"),
        "{message}"
    );
}

/// `unlimited` is a duration: a window that never expires, a decision
/// whose `restorable_until` is null, and texts that say `unlimited`/`never`.
#[test]
fn an_unlimited_window_never_expires() {
    let text = default_rules_text().replace(
        "  enterprise:\n    block_without_seat: true     # F10\n",
        "  enterprise:\n    block_without_seat: true\n    restore_window: unlimited\n",
    );
    assert!(text.contains("restore_window: unlimited"));
    let set = policy_from(&text);
    let policy = set.select(None, None, at()).unwrap();
    assert_eq!(
        policy.setting("enterprise", "restore_window"),
        Some(&Value::Duration(restore_engine::vocabulary::UNLIMITED))
    );
    let mut f = plain_facts();
    f.tenant.plan = "enterprise".into();
    f.member.deleted_at = ts("1990-01-01T00:00:00Z");
    let d = policy.evaluate(&f, &ONE, at()).unwrap();
    assert!(d.allowed, "{:?}", d.blockers);
    assert_eq!(d.restorable_until, None);
    let json = serde_json::to_string(&d).unwrap();
    assert!(json.contains("\"restorable_until\":null"), "{json}");
    let mut fast = Vec::new();
    restore_engine::json::write_decision(&mut fast, &d);
    assert_eq!(String::from_utf8(fast).unwrap(), json);
    // Pro keeps the finite window.
    f.tenant.plan = "pro".into();
    let d = policy.evaluate(&f, &ONE, at()).unwrap();
    assert_eq!(blockers(&d), ["window_expired"]);
    assert!(d.restorable_until.is_some());
    let mut out = String::new();
    restore_engine::vocabulary::write_duration(&mut out, restore_engine::vocabulary::UNLIMITED);
    assert_eq!(out, "unlimited");
    assert_eq!(
        restore_engine::vocabulary::parse_duration("unlimited"),
        Ok(restore_engine::vocabulary::UNLIMITED)
    );
}
