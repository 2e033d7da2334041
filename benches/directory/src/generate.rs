//! A synthetic one-tenant directory: `n` deleted members with a realistic mix
//! of decisions, and the active members that create conflicts.
//!
//! Everything is a pure function of the member index, so the restore test can
//! pick members that are certain to be allowed ([`restorable`]) without
//! reading the database.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use restore_directory::snapshot::{
    Seats, Snapshot, SnapshotDeletedMember, SnapshotMember, SnapshotTenant, SNAPSHOT_FORMAT,
};
use restore_engine::facts::{DeletionReason, DeletionState, ResourceItem};

/// The one tenant of the benchmark directory.
pub const TENANT: &str = "bench";
/// The acting primary administrator.
pub const ADMIN: &str = "admin";
/// Active members without any conflict, to make the `members` table less trivial.
const PLAIN_ACTIVE: usize = 100;

/// Deleted member `i` has an active member with the same email, upper-cased
/// (email keys compare case-insensitively, F12).
fn email_conflict(i: usize) -> bool {
    i % 997 == 1
}
/// Deleted member `i` has an active member with the same phone (F12).
fn phone_conflict(i: usize) -> bool {
    i % 991 == 2
}
/// Deleted member `i` has an active member with the same id (F11).
fn id_conflict(i: usize) -> bool {
    i % 983 == 3
}
/// Days since deletion: 0..40, so a quarter is past the 30-day window (F2).
fn age_days(i: usize) -> usize {
    (i * 7) % 40
}
fn in_progress(i: usize) -> bool {
    age_days(i) == 0 && i.is_multiple_of(2)
}
fn removed(i: usize) -> bool {
    i % 50 == 5
}
fn has_email(i: usize) -> bool {
    i % 40 != 39
}
fn has_phone(i: usize) -> bool {
    !i.is_multiple_of(25)
}

/// Id of deleted member `i`; zero-padded so id order is index order.
pub fn member_id(i: usize) -> String {
    format!("u{i:08}")
}
fn email(i: usize) -> String {
    format!("user{i}@bench.example")
}
fn phone(i: usize) -> String {
    format!("+1555{i:08}")
}

/// Whether the default policy allows restoring member `i` (by `admin`, with
/// seats to spare): no conflict, deletion completed, listed, inside the
/// window with a day of margin.
pub fn restorable(i: usize) -> bool {
    !email_conflict(i)
        && !phone_conflict(i)
        && !id_conflict(i)
        && !in_progress(i)
        && !removed(i)
        && age_days(i) < 29
}

/// What [`generate`] produced, beyond the snapshot itself.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Shape {
    pub deleted_members: usize,
    pub active_members: usize,
    pub resource_items: usize,
    pub members_with_items: usize,
    pub transferred_items: usize,
    pub restorable: usize,
}

/// Builds the snapshot. `now` anchors deletion times; evaluate at `now`.
pub fn generate(n: usize, now: DateTime<Utc>) -> (Snapshot, Shape) {
    let mut shape = Shape {
        deleted_members: n,
        active_members: 0,
        resource_items: 0,
        members_with_items: 0,
        transferred_items: 0,
        restorable: 0,
    };
    let mut members = vec![SnapshotMember {
        id: ADMIN.into(),
        email: Some("admin@bench.example".into()),
        phone: Some("+15550000000".into()),
        roles: vec!["primary_admin".into()],
        department: Some("IT".into()),
        attributes: Default::default(),
    }];
    for j in 0..PLAIN_ACTIVE {
        members.push(SnapshotMember {
            id: format!("active{j:04}"),
            email: Some(format!("active{j}@bench.example")),
            phone: Some(format!("+1666{j:08}")),
            roles: vec![],
            department: Some("Sales".into()),
            attributes: Default::default(),
        });
    }
    let mut deleted = Vec::with_capacity(n);
    for i in 0..n {
        if email_conflict(i) && has_email(i) {
            members.push(SnapshotMember {
                id: format!("emaildup{i:08}"),
                email: Some(email(i).to_uppercase()),
                phone: None,
                roles: vec![],
                department: None,
                attributes: Default::default(),
            });
        }
        if phone_conflict(i) && has_phone(i) {
            members.push(SnapshotMember {
                id: format!("phonedup{i:08}"),
                email: None,
                phone: Some(phone(i)),
                roles: vec![],
                department: None,
                attributes: Default::default(),
            });
        }
        if id_conflict(i) {
            members.push(SnapshotMember {
                id: member_id(i),
                email: Some(format!("rehired{i}@bench.example")),
                phone: None,
                roles: vec![],
                department: Some("Ops".into()),
                attributes: Default::default(),
            });
        }
        let mut resources = BTreeMap::new();
        // One member in ten owns items; one of its documents was transferred.
        if i % 10 == 0 {
            let item = |id: String, to: Option<&str>| ResourceItem {
                id,
                transferred_to: to.map(str::to_owned),
            };
            resources.insert(
                "documents".to_owned(),
                vec![
                    item(format!("doc{i}a"), None),
                    item(format!("doc{i}b"), Some(ADMIN)),
                    item(format!("doc{i}c"), None),
                ],
            );
            resources.insert(
                "events_created".to_owned(),
                vec![item(format!("evt{i}"), None)],
            );
            shape.members_with_items += 1;
            shape.resource_items += 4;
            shape.transferred_items += 1;
        }
        // One hour past the day boundary: age_days 30 is past the window.
        let deleted_at =
            now - Duration::days(age_days(i) as i64) - Duration::hours(1) - Duration::minutes(1);
        deleted.push(SnapshotDeletedMember {
            id: member_id(i),
            email: has_email(i).then(|| email(i)),
            phone: has_phone(i).then(|| phone(i)),
            deleted_at,
            reason: if i % 3 == 0 {
                DeletionReason::SelfDeactivated
            } else {
                DeletionReason::RemovedByAdmin
            },
            deletion: if in_progress(i) {
                DeletionState::InProgress
            } else {
                DeletionState::Completed
            },
            removed_from_list: removed(i),
            resources,
            attributes: Default::default(),
        });
        shape.restorable += usize::from(restorable(i));
    }
    shape.active_members = members.len();
    let active = i64::try_from(members.len()).unwrap_or(i64::MAX);
    let total = active.saturating_add(i64::try_from(n).unwrap_or(i64::MAX)) + 10;
    let snapshot = Snapshot {
        format: SNAPSHOT_FORMAT.into(),
        tenants: vec![SnapshotTenant {
            id: TENANT.into(),
            // Enterprise blocks without a free seat (F10); enough seats for
            // every deleted member keeps the restore test from running out.
            plan: "enterprise".into(),
            seats: Seats {
                total,
                used: active,
            },
            members,
            deleted_members: deleted,
            attributes: Default::default(),
        }],
    };
    (snapshot, shape)
}
