//! Helpers shared by the engine's behaviour tests: the default rules, facts
//! built in memory from the project's test directory (no adapter), and insta
//! settings that keep snapshots in the top-level `snapshots/`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use restore_engine::facts::{
    ActiveMember, Actor, Conflicts, DeletedMember, DeletionReason, DeletionState, Facts,
    TenantFacts,
};
use restore_engine::{CompiledPolicy, Decision, PolicySet, Request};
use serde::Deserialize;

/// The workspace root (the engine is one level below it).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures").join(name)
}

/// The time every fixture decision is made at.
pub fn at() -> DateTime<Utc> {
    ts("2026-11-24T10:00:00Z")
}

pub fn ts(text: &str) -> DateTime<Utc> {
    match DateTime::parse_from_rfc3339(text) {
        Ok(t) => t.with_timezone(&Utc),
        Err(e) => panic!("bad timestamp `{text}` in a test: {e}"),
    }
}

/// The default rule file's text.
pub fn default_rules_text() -> String {
    std::fs::read_to_string(root().join("rules/default-restore.v1.yaml"))
        .expect("rules/default-restore.v1.yaml is readable")
}

/// The default policy in format v1: the bytes `rules/` held before the
/// rewrite in format v2 (kept for replay and for tests that edit v1 text).
pub fn v1_rules_text() -> String {
    std::fs::read_to_string(root().join("tests/fixtures/rules-v1/default-restore.v1.yaml"))
        .expect("the v1 fixture is readable")
}

pub fn default_rules() -> PolicySet {
    PolicySet::load_dir(&root().join("rules")).expect("default rules load")
}

pub fn default_policy(set: &PolicySet) -> &CompiledPolicy {
    set.select(None, None, at()).expect("a version in force")
}

/// One policy from rule-file text (panics with the diagnostics if it does not load).
pub fn policy_from(text: &str) -> PolicySet {
    match PolicySet::from_sources([("test.yaml", text)]) {
        Ok(set) => set,
        Err(e) => panic!("test rules do not load: {e}\n{text}"),
    }
}

/// The subset of the directory snapshot format these tests read: the same
/// file (`tests/fixtures/directory.yaml`) the end-to-end tests use.
#[derive(Deserialize)]
struct Snapshot {
    tenants: Vec<SnapshotTenant>,
}

#[derive(Deserialize)]
struct SnapshotTenant {
    id: String,
    plan: String,
    seats: Seats,
    members: Vec<ActiveMember>,
    deleted_members: Vec<DeletedMember>,
}

#[derive(Deserialize)]
struct Seats {
    total: i64,
    used: i64,
}

/// Facts of one deleted member of the test directory, computed as every
/// adapter must: conflicts against the tenant's active members, the actor
/// an active member of the same tenant.
pub fn fixture_facts(tenant: &str, member: &str, actor: Option<&str>) -> Facts {
    let text = std::fs::read_to_string(fixture("directory.yaml")).expect("fixture readable");
    let snapshot: Snapshot = serde_yaml::from_str(&text).expect("fixture parses");
    let t = snapshot
        .tenants
        .into_iter()
        .find(|t| t.id == tenant)
        .unwrap_or_else(|| panic!("no tenant `{tenant}` in the fixture"));
    let deleted = t
        .deleted_members
        .iter()
        .find(|m| m.id == member)
        .unwrap_or_else(|| panic!("no deleted member `{member}` in `{tenant}`"))
        .clone();
    let actor = actor.map(|a| {
        let m = t
            .members
            .iter()
            .find(|m| m.id == a)
            .unwrap_or_else(|| panic!("no active member `{a}` in `{tenant}`"));
        Actor {
            id: m.id.clone(),
            roles: m.roles.clone(),
            attributes: m.attributes.clone(),
        }
    });
    Facts {
        tenant: TenantFacts {
            id: t.id.as_str().into(),
            plan: t.plan.as_str().into(),
            seats_total: t.seats.total,
            seats_used: t.seats.used,
            attributes: Default::default(),
        },
        conflicts: Conflicts::find(&deleted, &t.members),
        member: deleted,
        actor,
    }
}

/// Evaluates one member of the test directory with the default policy.
pub fn decide(tenant: &str, member: &str, actor: Option<&str>, request: &Request) -> Decision {
    let set = default_rules();
    let facts = fixture_facts(tenant, member, actor);
    default_policy(&set)
        .evaluate(&facts, request, at())
        .expect("the fixture's plans are tiers of the default policy")
}

/// Plain facts, built in code: a Pro tenant with free seats, a member deleted
/// a day before [`at`], no items, no conflicts, a primary admin as actor.
pub fn plain_facts() -> Facts {
    Facts {
        tenant: TenantFacts {
            id: "t".into(),
            plan: "pro".into(),
            seats_total: 10,
            seats_used: 5,
            attributes: Default::default(),
        },
        member: DeletedMember {
            id: "m".into(),
            email: Some("m@t.test".into()),
            phone: None,
            deleted_at: ts("2026-11-23T10:00:00Z"),
            reason: DeletionReason::RemovedByAdmin,
            deletion: DeletionState::Completed,
            removed_from_list: false,
            resources: Default::default(),
            attributes: Default::default(),
        },
        conflicts: Conflicts::default(),
        actor: Some(Actor {
            id: "admin".into(),
            roles: vec!["primary_admin".into()],
            attributes: Default::default(),
        }),
    }
}

/// Ids of the blockers that hold, in rule order.
pub fn blockers(d: &Decision) -> Vec<&str> {
    d.blockers.iter().map(|b| &*b.rule).collect()
}

/// insta settings: snapshots in the top-level `snapshots/`, named by the
/// test (`<module>__<name>`, as when each module was its own test binary),
/// with the rule digest redacted (it changes with every edit of a rule file's comments;
/// the digest itself has a known-answer test).
pub fn snapshot_settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(root().join("snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.add_redaction(".policy.digest", "[digest]");
    settings
}

/// A rules directory with the default policy (1.0.0) and a 2.0.0 that takes
/// effect on 2026-12-01, widening F1 and F6 on Enterprise and the window to 60d.
pub fn two_versions(dir: &Path) {
    let v1 = v1_rules_text();
    let v2 = v1
        .replace("version: \"1.0.0\"", "version: \"2.0.0\"")
        .replace(
            "effective_from: 2024-11-21T00:00:00Z",
            "effective_from: 2026-12-01T00:00:00Z",
        )
        .replace("restore_window: 30d ", "restore_window: 60d ")
        .replace(
            "  enterprise:\n    block_without_seat: true     # F10\n",
            "  enterprise:\n    block_without_seat: true\n    restore_roles: [primary_admin, admin]\n    batch_restore: true\n",
        );
    assert_ne!(v1, v2);
    assert!(
        v2.contains("restore_roles: [primary_admin, admin]"),
        "replacement applied"
    );
    std::fs::write(dir.join("default-restore.v1.yaml"), v1).unwrap();
    std::fs::write(dir.join("default-restore.v2.yaml"), v2).unwrap();
}

pub const ONE: Request = Request::ONE;
