//! Criterion benchmarks: one decision with the compiled default policy, and
//! loading + compiling the default rules. Numbers and conditions: README.md.

// Benchmark set-up: fails loudly on bad fixtures, and criterion prints.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::Path;

use chrono::{DateTime, Utc};
use criterion::{criterion_group, criterion_main, Criterion};
use restore_engine::facts::{
    Actor, Conflicts, DeletedMember, DeletionReason, DeletionState, Facts, ResourceItem,
    TenantFacts,
};
use restore_engine::{PolicySet, Request};

fn rules_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../rules"))
}

fn at() -> DateTime<Utc> {
    "2026-11-24T10:00:00Z".parse().unwrap()
}

/// A typical allowed restore: resources with a few items, one transferred.
fn allowed_facts() -> Facts {
    let mut resources = BTreeMap::new();
    resources.insert(
        "documents".to_owned(),
        vec![
            ResourceItem {
                id: "d1".into(),
                transferred_to: None,
            },
            ResourceItem {
                id: "d2".into(),
                transferred_to: Some("u_anna".into()),
            },
        ],
    );
    resources.insert(
        "events_created".to_owned(),
        vec![ResourceItem {
            id: "e1".into(),
            transferred_to: None,
        }],
    );
    Facts {
        tenant: TenantFacts {
            id: "acme".into(),
            plan: "pro".into(),
            seats_total: 50,
            seats_used: 49,
            attributes: Default::default(),
        },
        member: DeletedMember {
            id: "u_bob".into(),
            email: Some("bob@acme.test".into()),
            phone: Some("+15550101".into()),
            deleted_at: "2026-11-01T09:00:00Z".parse().unwrap(),
            reason: DeletionReason::RemovedByAdmin,
            deletion: DeletionState::Completed,
            removed_from_list: false,
            resources,
            attributes: Default::default(),
        },
        conflicts: Conflicts::default(),
        actor: Some(Actor {
            id: "u_anna".into(),
            roles: vec!["primary_admin".into()],
            attributes: Default::default(),
        }),
    }
}

/// A denial where several blockers hold, so messages are rendered.
fn denied_facts() -> Facts {
    let mut facts = allowed_facts();
    facts.tenant.seats_used = 50;
    facts.member.deletion = DeletionState::InProgress;
    facts.conflicts.email = vec!["u_eve".into()];
    facts.actor.as_mut().unwrap().roles = vec!["admin".into()];
    facts
}

fn bench(c: &mut Criterion) {
    let set = PolicySet::load_dir(rules_dir()).expect("default rules");
    let policy = set.select(None, None, at()).expect("in force");
    let request = Request::default();
    let allowed = allowed_facts();
    let denied = denied_facts();
    assert!(policy.evaluate(&allowed, &request, at()).unwrap().allowed);
    assert_eq!(
        policy
            .evaluate(&denied, &request, at())
            .unwrap()
            .blockers
            .len(),
        4
    );

    c.bench_function("evaluate/allowed", |b| {
        b.iter(|| {
            policy
                .evaluate(black_box(&allowed), black_box(&request), black_box(at()))
                .unwrap()
        })
    });
    c.bench_function("evaluate/denied_4_blockers", |b| {
        b.iter(|| {
            policy
                .evaluate(black_box(&denied), black_box(&request), black_box(at()))
                .unwrap()
        })
    });
    let source = std::fs::read_to_string(rules_dir().join("default-restore.v1.yaml")).unwrap();
    c.bench_function("load_and_compile/default_rules", |b| {
        b.iter(|| {
            PolicySet::from_sources([("default-restore.v1.yaml", black_box(source.as_str()))])
        })
    });
    c.bench_function("load_and_compile/default_rules_dir", |b| {
        b.iter(|| PolicySet::load_dir(black_box(rules_dir())))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
