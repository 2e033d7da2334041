//! Criterion: encoding one decision as compact JSON, `restore_engine::json`
//! against `serde_json::to_writer`, into a reused buffer. Numbers and
//! conditions: BENCHMARKS.md, "Decision encoding (issue 12)".

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
use restore_engine::json::{write_decision, DecisionEncoder};
use restore_engine::{PolicySet, Request};

fn at() -> DateTime<Utc> {
    "2026-11-24T10:00:00.123456789Z".parse().unwrap()
}

/// A member with no items: its decision holds the tier's shared table.
fn plain_facts() -> Facts {
    Facts {
        tenant: TenantFacts {
            id: "acme".into(),
            plan: "enterprise".into(),
            seats_total: 50,
            seats_used: 49,
            attributes: Default::default(),
        },
        member: DeletedMember {
            id: "u_0001234".into(),
            email: Some("bob@acme.test".into()),
            phone: Some("+15550101".into()),
            deleted_at: "2026-11-01T09:00:00Z".parse().unwrap(),
            reason: DeletionReason::RemovedByAdmin,
            deletion: DeletionState::Completed,
            removed_from_list: false,
            resources: BTreeMap::new(),
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

/// Denied twice over, with items: blocker messages and a table of its own.
fn denied_with_items() -> Facts {
    let mut facts = plain_facts();
    facts.member.deletion = DeletionState::InProgress;
    facts.conflicts.email = vec!["u_eve".into()];
    facts.member.resources.insert(
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
    facts
}

fn bench(c: &mut Criterion) {
    let rules = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../rules"));
    let set = PolicySet::load_dir(rules).expect("default rules");
    let policy = set.select(None, None, at()).expect("in force");
    let request = Request::default();
    for (name, facts) in [
        ("allowed_shared_table", plain_facts()),
        ("denied_own_table", denied_with_items()),
    ] {
        let decision = policy.evaluate(&facts, &request, at()).unwrap();
        let mut out = Vec::with_capacity(8192);
        c.bench_function(&format!("encode/{name}/serde_json"), |b| {
            b.iter(|| {
                out.clear();
                serde_json::to_writer(&mut out, black_box(&decision)).unwrap();
                black_box(out.len())
            })
        });
        let mut encoder = DecisionEncoder::new();
        c.bench_function(&format!("encode/{name}/decision_encoder"), |b| {
            b.iter(|| {
                out.clear();
                encoder.encode(&mut out, black_box(&decision));
                black_box(out.len())
            })
        });
        c.bench_function(&format!("encode/{name}/write_decision"), |b| {
            b.iter(|| {
                out.clear();
                write_decision(&mut out, black_box(&decision));
                black_box(out.len())
            })
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
