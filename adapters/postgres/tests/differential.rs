//! Differential runs: random snapshots through the memory, SQLite and
//! PostgreSQL adapters must give the same facts and decisions, and the same
//! restores must have the same effects (outcome, decision, seat count, the
//! deleted members and conflicts left behind).
//!
//! Snapshots come from a seeded proptest strategy (the same cases on every
//! run; set `PROPTEST_RNG_SEED` to explore others). Ids, emails and phones
//! are drawn from small sets so that conflicts (F11, F12) are common.
//! Deletion times are relative to now, so restores pass on any date.
//! Tenants and members carry random attributes (every value kind, extremes
//! of i64, quotes and non-ASCII text), so that every adapter stores and
//! reads them alike, and a restored member's become its actor attributes.

// Test code: it asserts by panicking.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

#[path = "support/pg.rs"]
mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use futures::TryStreamExt;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use restore_conformance as suite;
use restore_directory::snapshot::{Seats, SnapshotDeletedMember, SnapshotMember, SnapshotTenant};
use restore_directory::{Directory, DirectoryError, RestoreOutcome, RestoreRequest, Snapshot};
use restore_engine::facts::{
    AttrValue, Attributes, DeletionReason, DeletionState, Facts, ResourceItem,
};
use restore_memory::MemoryDirectory;
use restore_sqlite::SqliteDirectory;

const CASES: usize = 24;

const IDS: &[&str] = &["u_a", "u_b", "u_c", "u_d", "u_e", "U_a", "u_f"];
const EMAILS: &[&str] = &[
    "a@x.test", "A@X.TEST", "b@x.test", "c@y.test", "d@y.test", "e@y.test",
];
const PHONES: &[&str] = &[
    "+15550100",
    "+15550101",
    "+15550102",
    "+15550103",
    "+15550104",
];
const ROLES: &[&str] = &["primary_admin", "admin", "approver"];
const RESOURCES: &[&str] = &[
    "documents",
    "group_chats",
    "calendar_events",
    "member_account",
];

const NAMES: &[&str] = &["region", "legal_hold", "rank", "groups", "note"];
const TEXTS: &[&str] = &["eu", "ünï \"quoted\" \\ text", "", "2026-12-01T00:00:00Z"];

fn attributes() -> impl Strategy<Value = Attributes> {
    let value = proptest::prop_oneof![
        proptest::bool::ANY.prop_map(AttrValue::Bool),
        proptest::sample::select(&[i64::MIN, -1, 0, 30, i64::MAX][..]).prop_map(AttrValue::Int),
        proptest::sample::select(TEXTS).prop_map(|s| AttrValue::Str(s.into())),
        proptest::sample::subsequence(TEXTS, 0..=3)
            .prop_map(|l| AttrValue::List(l.into_iter().map(Into::into).collect())),
    ];
    proptest::collection::btree_map(proptest::sample::select(NAMES), value, 0..3)
        .prop_map(|m| Attributes::new(m.into_iter().map(|(k, v)| (k.into(), v))).unwrap())
}

fn option_of<T: Clone + std::fmt::Debug + 'static>(
    values: &'static [T],
) -> impl Strategy<Value = Option<T>> {
    proptest::option::of(proptest::sample::select(values))
}

fn active_member() -> impl Strategy<Value = SnapshotMember> {
    (
        proptest::sample::select(IDS),
        option_of(EMAILS),
        option_of(PHONES),
        proptest::sample::subsequence(ROLES, 0..=2),
        attributes(),
    )
        .prop_map(|(id, email, phone, roles, attributes)| SnapshotMember {
            id: id.to_owned(),
            email: email.map(str::to_owned),
            phone: phone.map(str::to_owned),
            roles: roles.into_iter().map(str::to_owned).collect(),
            department: Some("sales".into()),
            attributes,
        })
}

fn items() -> impl Strategy<Value = BTreeMap<String, Vec<ResourceItem>>> {
    proptest::collection::btree_map(
        proptest::sample::select(RESOURCES).prop_map(str::to_owned),
        // Never empty: an empty list reads back as absent from SQL (a
        // documented difference that changes no decision).
        proptest::collection::vec(option_of(IDS), 1..4).prop_map(|owners| {
            owners
                .into_iter()
                .enumerate()
                .map(|(i, owner)| ResourceItem {
                    id: format!("item{i}"),
                    transferred_to: owner.map(str::to_owned),
                })
                .collect()
        }),
        0..3,
    )
}

fn deleted_member(now: DateTime<Utc>) -> impl Strategy<Value = SnapshotDeletedMember> {
    (
        proptest::sample::select(IDS),
        option_of(EMAILS),
        option_of(PHONES),
        // Up to 40 days ago, whole seconds: both sides of the 30-day window
        // and of the 48-hour deletion limit.
        0i64..40 * 86_400,
        proptest::bool::weighted(0.2),
        proptest::bool::weighted(0.8),
        proptest::bool::weighted(0.1),
        (items(), attributes()),
    )
        .prop_map(
            move |(
                id,
                email,
                phone,
                ago,
                self_deactivated,
                completed,
                removed,
                (resources, attributes),
            )| {
                SnapshotDeletedMember {
                    id: id.to_owned(),
                    email: email.map(str::to_owned),
                    phone: phone.map(str::to_owned),
                    deleted_at: now - TimeDelta::seconds(ago),
                    reason: if self_deactivated {
                        DeletionReason::SelfDeactivated
                    } else {
                        DeletionReason::RemovedByAdmin
                    },
                    deletion: if completed {
                        DeletionState::Completed
                    } else {
                        DeletionState::InProgress
                    },
                    removed_from_list: removed,
                    resources,
                    attributes,
                }
            },
        )
}

/// Ids made unique within each list by keeping the first of each.
fn dedup<T>(items: Vec<T>, id: impl Fn(&T) -> &str) -> Vec<T> {
    let mut seen = std::collections::HashSet::new();
    items
        .into_iter()
        .filter(|item| seen.insert(id(item).to_owned()))
        .collect()
}

fn tenant(now: DateTime<Utc>, id: String) -> impl Strategy<Value = SnapshotTenant> {
    (
        proptest::sample::select(&["starter", "basic", "pro", "enterprise"][..]),
        0i64..8,
        0i64..5,
        proptest::collection::vec(active_member(), 0..5),
        proptest::collection::vec(deleted_member(now), 1..7),
        attributes(),
    )
        .prop_map(
            move |(plan, total, used, members, deleted, attributes)| SnapshotTenant {
                id: id.clone(),
                plan: plan.to_owned(),
                seats: Seats { total, used },
                members: dedup(members, |m| &m.id),
                deleted_members: dedup(deleted, |m| &m.id),
                attributes,
            },
        )
}

fn snapshot(now: DateTime<Utc>) -> impl Strategy<Value = Snapshot> {
    (tenant(now, "t1".into()), tenant(now, "t2".into()))
        .prop_map(|(a, b)| Snapshot::new(vec![a, b]))
}

/// The three adapters holding one snapshot, the reference first.
struct Trio {
    names: [&'static str; 3],
    directories: [Arc<dyn Directory>; 3],
    _guards: (tempfile::TempDir, common::SchemaGuard),
}

async fn trio(snapshot: &Snapshot) -> Trio {
    let memory = MemoryDirectory::from_snapshot(snapshot);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("d.db").display());
    let sqlite = SqliteDirectory::connect(&url).await.unwrap();
    sqlite.import(snapshot).await.unwrap();
    let (postgres, guard) = common::fresh(Some(snapshot)).await;
    Trio {
        names: ["memory", "sqlite", "postgres"],
        directories: [Arc::new(memory), Arc::new(sqlite), postgres],
        _guards: (dir, guard),
    }
}

/// What a result is, comparable across adapters (audit ids are per
/// backend sequence, so they are left out).
fn outcome_key(result: &Result<RestoreOutcome, DirectoryError>) -> String {
    match result {
        Ok(RestoreOutcome::Restored(r)) => format!(
            "restored seats_used={} department={} items={} decision={}",
            r.seats_used,
            r.department,
            r.restored_items,
            serde_json::to_string(&r.decision).unwrap()
        ),
        Ok(RestoreOutcome::Denied(d)) => {
            format!("denied {}", serde_json::to_string(d).unwrap())
        }
        Err(e) => format!("error {:?}", std::mem::discriminant(e)),
    }
}

async fn all_facts(directory: &dyn Directory, tenant: &str, actor: Option<&str>) -> Vec<Facts> {
    directory
        .deleted_members(tenant, actor)
        .try_collect()
        .await
        .unwrap_or_else(|e| panic!("{tenant}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_snapshots_decide_and_restore_alike_in_every_adapter() {
    let now = Utc::now().duration_trunc(TimeDelta::seconds(1)).unwrap();
    let policy = suite::default_policy();
    let decide = suite::decide_at(policy, now);
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    );
    let strategy = snapshot(now);
    // Kinds of restore outcome seen, so that the run is known to cover both.
    let mut seen = BTreeMap::<&str, usize>::new();
    for case in 0..CASES {
        let snapshot = strategy.new_tree(&mut runner).unwrap().current();
        let trio = trio(&snapshot).await;
        let [reference, ..] = &trio.directories;
        for tenant in &snapshot.tenants {
            // An admin when there is one: most restores then get past F1.
            let actor = tenant
                .members
                .iter()
                .find(|m| m.roles.iter().any(|r| r == "primary_admin"))
                .or(tenant.members.first())
                .map(|m| m.id.as_str());
            let want = all_facts(&**reference, &tenant.id, actor).await;
            let want_decisions: Vec<_> = want.iter().map(&decide).collect();
            for (name, directory) in trio.names.iter().zip(&trio.directories).skip(1) {
                let got = all_facts(&**directory, &tenant.id, actor).await;
                assert_eq!(
                    got, want,
                    "case {case}, {name}, tenant {}: facts",
                    tenant.id
                );
                let decisions: Vec<_> = got.iter().map(&decide).collect();
                assert_eq!(decisions, want_decisions, "case {case}, {name}: decisions");
            }

            // The same restores, in the same order, through each adapter.
            let Some(actor) = actor else { continue };
            for member in tenant.deleted_members.iter().take(3) {
                let request = RestoreRequest {
                    tenant: tenant.id.clone(),
                    member: member.id.clone(),
                    actor: actor.to_owned(),
                    department: "ops".into(),
                    at: now,
                };
                let mut keys = Vec::new();
                for directory in &trio.directories {
                    keys.push(outcome_key(
                        &directory.apply_restore(&request, &decide).await,
                    ));
                }
                let kind = keys[0].split(' ').next().unwrap_or_default();
                *seen
                    .entry(if kind == "restored" {
                        "restored"
                    } else {
                        "other"
                    })
                    .or_default() += 1;
                for (name, key) in trio.names.iter().zip(&keys).skip(1) {
                    assert_eq!(
                        key, &keys[0],
                        "case {case}, {name}: restore of {}",
                        member.id
                    );
                }
                if kind == "restored" {
                    // Its attributes came back with it: its actor attributes.
                    for (name, directory) in trio.names.iter().zip(&trio.directories) {
                        let facts = all_facts(&**directory, &tenant.id, Some(&member.id)).await;
                        for f in facts {
                            let got = f.actor.map(|a| a.attributes);
                            assert_eq!(
                                got.as_ref(),
                                Some(&member.attributes),
                                "case {case}, {name}: actor attributes of restored {}",
                                member.id
                            );
                        }
                    }
                }
            }
            // What the restores left: remaining members, their conflicts
            // (restored members are active now) and the seat count.
            let want = all_facts(&**reference, &tenant.id, None).await;
            for (name, directory) in trio.names.iter().zip(&trio.directories).skip(1) {
                let got = all_facts(&**directory, &tenant.id, None).await;
                assert_eq!(
                    got, want,
                    "case {case}, {name}, tenant {}: after restores",
                    tenant.id
                );
            }
        }
    }
    eprintln!("restore outcomes over {CASES} cases: {seen:?}");
    let count = |kind| seen.get(kind).copied().unwrap_or(0);
    assert!(
        count("restored") >= 3 && count("other") >= 3,
        "the random cases should restore some members and refuse others: {seen:?}"
    );
}
