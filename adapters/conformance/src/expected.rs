//! What the conformance fixture is known to hold, written out by hand: the
//! facts and the default policy's decision for every deleted member. The
//! parity checks compare an adapter with the memory adapter; these compare
//! every adapter, the memory adapter included, with the truth.

use std::future::Future;

use futures::StreamExt;
use restore_directory::Snapshot;
use restore_engine::decision::{Decision, Outcome};
use restore_engine::facts::{DeletionReason, DeletionState, Facts};

use crate::{decide_at, default_policy, fixture, now, Subject};

/// One deleted member of the fixture, as it must come back.
struct Member {
    tenant: &'static str,
    id: &'static str,
    email: Option<&'static str>,
    phone: Option<&'static str>,
    deleted_at: &'static str,
    reason: DeletionReason,
    deletion: DeletionState,
    removed_from_list: bool,
    /// Blockers at [`now`] with the tenant's primary admin as actor, in rule order.
    blockers: &'static [&'static str],
    /// Resources with counts: (name, outcome, restored, not restored, items not restored).
    counted: &'static [Counted],
}

type Counted = (&'static str, Outcome, u32, u32, &'static [&'static str]);

use DeletionReason::{RemovedByAdmin as ADMIN, SelfDeactivated as SELF};
use DeletionState::{Completed as DONE, InProgress as BUSY};
use Outcome::{NotRestored, Restored, TransferDependent};

/// Every deleted member of `fixtures/directory.yaml`, in member-id order per tenant.
const MEMBERS: &[Member] = &[
    Member {
        tenant: "acme",
        id: "U_bob",
        email: Some("upper@acme.test"),
        phone: None,
        deleted_at: "2026-11-06T09:00:00Z",
        reason: ADMIN,
        deletion: DONE,
        removed_from_list: false,
        blockers: &[],
        counted: &[],
    },
    Member {
        tenant: "acme",
        id: "u_bob",
        email: Some("bob@acme.test"),
        phone: Some("+15550101"),
        deleted_at: "2026-11-01T09:00:00Z",
        reason: ADMIN,
        deletion: DONE,
        removed_from_list: false,
        blockers: &[],
        counted: &[
            ("group_chats", Restored, 2, 0, &[]),
            ("documents", TransferDependent, 2, 1, &["d2"]),
            ("minutes", TransferDependent, 1, 0, &[]),
            ("surveys", TransferDependent, 0, 0, &[]),
            ("approval_tasks_in_progress", NotRestored, 0, 1, &["t1"]),
        ],
    },
    Member {
        tenant: "acme",
        id: "u_cleo",
        email: Some("CARL@acme.TEST"),
        phone: None,
        deleted_at: "2026-11-02T09:00:00Z",
        reason: SELF,
        deletion: DONE,
        removed_from_list: false,
        blockers: &["duplicate_email"],
        counted: &[],
    },
    Member {
        tenant: "acme",
        id: "u_erin",
        email: Some("erin@acme.test"),
        phone: None,
        deleted_at: "2026-11-03T09:00:00Z",
        reason: ADMIN,
        deletion: DONE,
        removed_from_list: false,
        blockers: &["duplicate_user_id"],
        counted: &[],
    },
    Member {
        tenant: "acme",
        id: "u_fay",
        email: None,
        phone: Some("+15550100"),
        deleted_at: "2026-11-04T09:00:00Z",
        reason: ADMIN,
        deletion: DONE,
        removed_from_list: false,
        blockers: &["duplicate_phone"],
        counted: &[("surveys", TransferDependent, 0, 1, &["s1"])],
    },
    Member {
        tenant: "acme",
        id: "u_gus",
        email: Some("gus@acme.test"),
        phone: Some("+15550107"),
        deleted_at: "2026-11-05T09:00:00.250Z",
        reason: SELF,
        deletion: DONE,
        removed_from_list: false,
        blockers: &[],
        counted: &[("events_created", TransferDependent, 2, 0, &[])],
    },
    Member {
        tenant: "acme",
        id: "u_hal",
        email: None,
        phone: None,
        deleted_at: "2026-11-20T01:00:00Z",
        reason: ADMIN,
        deletion: BUSY,
        removed_from_list: false,
        blockers: &["deletion_in_progress"],
        counted: &[],
    },
    Member {
        tenant: "acme",
        id: "u_ivy",
        email: Some("ivy@acme.test"),
        phone: None,
        deleted_at: "2026-10-01T09:00:00Z",
        reason: SELF,
        deletion: DONE,
        removed_from_list: true,
        blockers: &["window_expired", "removed_from_list"],
        counted: &[],
    },
    Member {
        tenant: "beta",
        id: "u_erin",
        email: None,
        phone: None,
        deleted_at: "2026-11-10T10:00:00Z",
        reason: ADMIN,
        deletion: DONE,
        removed_from_list: false,
        // Starter: no seat blocker (F10), though every seat is used.
        blockers: &[],
        counted: &[],
    },
    Member {
        tenant: "beta",
        id: "u_yan",
        email: Some("anna@acme.test"),
        phone: Some("+15550100"),
        deleted_at: "2026-11-10T09:00:00Z",
        reason: ADMIN,
        deletion: DONE,
        removed_from_list: false,
        blockers: &[],
        counted: &[],
    },
    Member {
        tenant: "gamma",
        id: "u_kim",
        email: Some("kim@gamma.test"),
        phone: None,
        deleted_at: "2026-11-15T09:00:00Z",
        reason: ADMIN,
        deletion: DONE,
        removed_from_list: false,
        blockers: &["no_available_seat"],
        counted: &[("documents", TransferDependent, 1, 0, &[])],
    },
];

/// (tenant, plan, seats total, seats used, primary admin).
const TENANTS: &[(&str, &str, i64, i64, &str)] = &[
    ("acme", "pro", 50, 49, "u_anna"),
    ("beta", "starter", 5, 5, "u_zed"),
    ("gamma", "enterprise", 10, 10, "u_root"),
];

fn tenant_of(id: &str) -> (&'static str, &'static str, i64, i64, &'static str) {
    match TENANTS.iter().find(|t| t.0 == id) {
        Some(t) => *t,
        None => panic!("expected_decisions: no tenant `{id}` in the table"),
    }
}

fn check_facts(what: &str, m: &Member, facts: &Facts) {
    let (_, plan, total, used, _) = tenant_of(m.tenant);
    let t = &facts.tenant;
    assert_eq!(
        (&*t.id, &*t.plan, t.seats_total, t.seats_used),
        (m.tenant, plan, total, used),
        "{what}: tenant facts"
    );
    let f = &facts.member;
    assert_eq!(f.id, m.id, "{what}: member id");
    assert_eq!(f.email.as_deref(), m.email, "{what}: email");
    assert_eq!(f.phone.as_deref(), m.phone, "{what}: phone");
    assert_eq!(
        crate::format_time(f.deleted_at),
        m.deleted_at,
        "{what}: deleted_at (to the millisecond, in UTC)"
    );
    assert_eq!(f.reason, m.reason, "{what}: reason");
    assert_eq!(f.deletion, m.deletion, "{what}: deletion");
    assert_eq!(
        f.removed_from_list, m.removed_from_list,
        "{what}: removed_from_list"
    );
}

fn check_decision(what: &str, m: &Member, d: &Decision, actor_blocked: bool) {
    let mut want: Vec<&str> = Vec::new();
    if actor_blocked {
        want.push("actor_not_permitted");
    }
    want.extend_from_slice(m.blockers);
    let got: Vec<&str> = d.blockers.iter().map(|b| &*b.rule).collect();
    assert_eq!(got, want, "{what}: blockers");
    assert_eq!(d.allowed, want.is_empty(), "{what}: allowed");
    assert_eq!((&*d.tenant, d.member.as_str()), (m.tenant, m.id), "{what}");
    assert_eq!(
        d.resources.len(),
        19,
        "{what}: one outcome per resource rule"
    );
    for (name, outcome, restored, not_restored, items) in m.counted {
        let Some(r) = d.resource(name) else {
            panic!("{what}: no outcome for `{name}`")
        };
        assert_eq!(
            (r.outcome, r.restored, r.not_restored),
            (*outcome, Some(*restored), Some(*not_restored)),
            "{what}: `{name}` outcome and counts"
        );
        assert_eq!(r.not_restored_items, *items, "{what}: `{name}` items");
    }
    // Every other restored / not_restored resource has no listed items.
    for r in d.resources.iter() {
        let listed = m.counted.iter().any(|c| c.0 == &*r.resource);
        if !listed && matches!(r.outcome, Restored | NotRestored) {
            assert_eq!(
                (r.restored, r.not_restored),
                (None, None),
                "{what}: `{}` has no items",
                r.resource
            );
        }
    }
}

/// Facts and decisions of every deleted member equal the table above, through
/// `facts` (no actor, the primary admin, a member without the role) and
/// through the stream, in member-id order.
pub async fn expected_decisions<F, Fut>(make: &F)
where
    F: Fn(Snapshot) -> Fut,
    Fut: Future<Output = Subject>,
{
    let snapshot = fixture();
    let total: usize = snapshot
        .tenants
        .iter()
        .map(|t| t.deleted_members.len())
        .sum();
    assert_eq!(
        total,
        MEMBERS.len(),
        "the table covers every deleted member"
    );
    let s = make(snapshot).await;
    let decide = decide_at(default_policy(), now());
    for m in MEMBERS {
        let (_, _, _, _, admin) = tenant_of(m.tenant);
        for actor in [None, Some(admin)] {
            let what = format!("expected_decisions `{}/{}` actor {actor:?}", m.tenant, m.id);
            let facts = match s.directory.facts(m.tenant, m.id, actor).await {
                Ok(f) => f,
                Err(e) => panic!("{what}: {e}"),
            };
            check_facts(&what, m, &facts);
            let decision = decide(&facts).unwrap_or_else(|e| panic!("{what}: {e}"));
            check_decision(&what, m, &decision, false);
        }
        if m.tenant == "acme" {
            // u_carl has no role, u_dave is an admin but not a primary one (F1).
            for actor in ["u_carl", "u_dave"] {
                let what = format!("expected_decisions `acme/{}` actor {actor}", m.id);
                let facts = match s.directory.facts("acme", m.id, Some(actor)).await {
                    Ok(f) => f,
                    Err(e) => panic!("{what}: {e}"),
                };
                let decision = decide(&facts).unwrap_or_else(|e| panic!("{what}: {e}"));
                check_decision(&what, m, &decision, true);
            }
        }
    }
    for (tenant, _, _, _, admin) in TENANTS {
        let what = format!("expected_decisions stream `{tenant}`");
        let got: Vec<_> = s
            .directory
            .deleted_members(tenant, Some(admin))
            .collect()
            .await;
        let want: Vec<&Member> = MEMBERS.iter().filter(|m| m.tenant == *tenant).collect();
        assert_eq!(got.len(), want.len(), "{what}: members streamed");
        for (item, m) in got.into_iter().zip(want) {
            let facts = match item {
                Ok(f) => f,
                Err(e) => panic!("{what}: `{}`: {e}", m.id),
            };
            let what = format!("{what} `{}`", m.id);
            check_facts(&what, m, &facts);
            let decision = decide(&facts).unwrap_or_else(|e| panic!("{what}: {e}"));
            check_decision(&what, m, &decision, false);
        }
    }
}
