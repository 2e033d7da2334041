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
use std::sync::Arc;

use chrono::{DateTime, Utc};
use criterion::{criterion_group, criterion_main, Criterion};
use restore_engine::facts::{
    Actor, AttrValue, Attributes, Conflicts, DeletedMember, DeletionReason, DeletionState, Facts,
    ResourceItem, TenantFacts,
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

/// A vendor-style policy (docs/rule-language-next.md §4): six attributes
/// of four types (tenant, member, actor) and two context values, read by
/// fact-to-fact comparisons, literals and a message.
const ATTRIBUTE_POLICY: &str = r#"format: restore-rules/v1
policy: attribute-bench
version: "1"
effective_from: 2020-01-01T00:00:00Z
settings:
  restore_window: 30d
  deletion_max_duration: 48h
  restore_roles: [primary_admin, user_administrator]
  block_without_seat: false
  batch_restore: true
attributes:
  tenant:
    region: { type: string, one_of: [eu, us], required: true }
  member:
    legal_hold: { type: bool, default: false }
    hold_until: { type: timestamp, default: "2000-01-01T00:00:00Z" }
    former_roles: { type: list, default: [] }
    upn_conflicts: { type: list, default: [] }
  actor:
    mfa: { type: bool, default: false }
context:
  reconcile: { type: bool, default: false }
  channel: { type: string, one_of: [console, open_api], default: console }
blockers:
  - id: actor_not_permitted
    fact: F1
    when:
      all:
        - { fact: actor.present, is: true }
        - not: { fact: actor.roles, intersects: { setting: restore_roles } }
    message: "`{actor.id}` may not restore users"
    remedy: "ask an administrator"
  - id: former_admin
    fact: F1
    when:
      all:
        - { fact: member.attributes.former_roles, intersects: [global_administrator] }
        - not: { fact: actor.roles, intersects: { fact: member.attributes.former_roles } }
    message: "`{member.id}` held {member.attributes.former_roles}"
    remedy: "ask a higher role"
  - id: legal_hold
    fact: F2
    when:
      all:
        - { fact: member.attributes.legal_hold, is: true }
        - { fact: member.attributes.hold_until, gt: { fact: evaluation.at } }
    message: "`{member.id}` is held until {member.attributes.hold_until}"
    remedy: "ask legal"
  - id: upn_conflict
    fact: F11
    when:
      all:
        - { fact: member.attributes.upn_conflicts, empty: false }
        - { fact: request.context.reconcile, is: false }
    message: "the name is used by {member.attributes.upn_conflicts}"
    remedy: "pass --context reconcile=true"
  - id: mfa_on_api
    fact: F1
    when:
      all:
        - { fact: request.context.channel, is: open_api }
        - { fact: actor.attributes.mfa, is: false }
        - { fact: tenant.attributes.region, is: eu }
    message: "the open API needs MFA in the EU"
    remedy: "enrol MFA"
  - id: window_expired
    fact: F2
    when: { fact: member.deleted_for, gt: { setting: restore_window } }
    message: "deleted {member.deleted_for} ago"
    remedy: "none"
resources:
  - { resource: member_account, fact: F14, outcome: restored }
  - { resource: documents, fact: F21, outcome: transfer_dependent }
"#;

fn attrs(pairs: &[(&str, AttrValue)]) -> Attributes {
    Attributes::new(pairs.iter().map(|(k, v)| (Arc::from(*k), v.clone()))).unwrap()
}

fn bench_attributes(c: &mut Criterion) {
    let set = PolicySet::from_sources([("attribute-bench.yaml", ATTRIBUTE_POLICY)]).unwrap();
    let policy = &set.policies()[0];
    let mut facts = allowed_facts();
    let text = |s: &str| AttrValue::Str(Arc::from(s));
    facts.tenant.attributes = attrs(&[("region", text("eu"))]);
    facts.member.attributes = attrs(&[
        ("legal_hold", AttrValue::Bool(false)),
        ("hold_until", text("2026-12-01T00:00:00Z")),
        (
            "former_roles",
            AttrValue::List(vec![Arc::from("auditor")].into()),
        ),
    ]);
    if let Some(actor) = &mut facts.actor {
        actor.attributes = attrs(&[("mfa", AttrValue::Bool(true))]);
    }
    let request = Request {
        context: attrs(&[("channel", text("open_api"))]),
        ..Request::default()
    };
    let decision = policy.evaluate(&facts, &request, at()).unwrap();
    assert!(decision.allowed, "{decision:?}");
    c.bench_function("evaluate, attribute policy", |b| {
        b.iter(|| policy.evaluate(black_box(&facts), black_box(&request), black_box(at())))
    });
}

criterion_group!(benches, bench, bench_attributes);
criterion_main!(benches);
