//! A deterministic corpus of restore requests that exercises every blocker
//! alone and in every combination, on every tier, with the boundaries that
//! matter (exactly 30 days; 30 days + 1 s; 0 and negative free seats) and
//! with the actor present (admin or not) or absent.
//!
//! No RNG crate: a 64-bit xorshift is enough to vary the non-structural
//! values, and keeps the corpus identical on every machine and version.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use restore_engine::facts::{
    Actor, Conflicts, DeletedMember, DeletionReason, DeletionState, Facts, ResourceItem,
    TenantFacts,
};

/// The evaluation time of every request in the corpus.
pub fn at() -> DateTime<Utc> {
    DateTime::from_timestamp(1_795_514_400, 0).expect("2026-11-24T10:00:00Z is in range")
}

/// The restore window of the default policy (F2), as the corpus uses it for
/// its boundary cases.
pub const WINDOW_SECONDS: i64 = 30 * 24 * 60 * 60;

/// Seed of the corpus used by the benchmarks and the agreement test.
pub const SEED: u64 = 0x005e_ed0f_6e57_0e5e;

/// Blocker conditions the corpus switches on and off, one bit each; the bit
/// order is the order of the blockers in the default policy.
pub const BLOCKERS: [&str; 8] = [
    "actor_not_permitted",
    "window_expired",
    "deletion_in_progress",
    "removed_from_list",
    "no_available_seat",
    "duplicate_user_id",
    "duplicate_phone",
    "duplicate_email",
];

/// xorshift64* (Vigna): small, fast and good enough for test data.
#[derive(Debug, Clone)]
pub struct XorShift(u64);

impl XorShift {
    /// A generator; a zero seed (a fixed point of xorshift) is replaced.
    pub fn new(seed: u64) -> XorShift {
        XorShift(if seed == 0 {
            0x9e37_79b9_7f4a_7c15
        } else {
            seed
        })
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (`n > 0`); the modulo bias is irrelevant here.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// One element of `items`.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// True with probability 1/`n`.
    pub fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }
}

/// `len` requests from `seed`.
///
/// Request `i` switches on the blocker conditions of the bits of `i % 256`
/// (see [`BLOCKERS`]) on tier `(i / 256) % 4`, so the first 1,024 requests
/// hold every combination on every tier; the other values (and which
/// boundary a condition sits on) come from the generator. Whether a
/// condition actually blocks is the engines' business: a seat shortage on
/// Starter, for one, blocks nothing.
pub fn generate(len: usize, seed: u64) -> Vec<Facts> {
    let mut rng = XorShift::new(seed);
    (0..len)
        .map(|i| request(&mut rng, (i % 256) as u8, PLANS[(i / 256) % 4], i))
        .collect()
}

/// `len` requests on which no blocker condition holds (every tier, actor
/// absent or a primary admin): the allowed path, which renders no blocker
/// messages but still decides every resource.
pub fn generate_allowed(len: usize, seed: u64) -> Vec<Facts> {
    let mut rng = XorShift::new(seed);
    (0..len)
        .map(|i| request(&mut rng, 0, PLANS[i % 4], i))
        .collect()
}

/// The default policy's four tiers, in price order.
const PLANS: [&str; 4] = ["starter", "basic", "pro", "enterprise"];

fn ids(rng: &mut XorShift, prefix: &str) -> Vec<String> {
    let n = 1 + rng.below(2);
    (0..n).map(|k| format!("{prefix}_{k}")).collect()
}

fn request(rng: &mut XorShift, mask: u8, plan: &str, i: usize) -> Facts {
    let on = |blocker: usize| mask & (1 << blocker) != 0;

    // F1: a non-admin actor; otherwise no actor or a primary admin.
    let actor = if on(0) {
        let roles: &[&[&str]] = &[&[], &["admin"], &["admin", "auditor"], &["primary_admins"]];
        Some(rng.pick(roles))
    } else if rng.one_in(3) {
        None
    } else {
        let roles: &[&[&str]] = &[&["primary_admin"], &["admin", "primary_admin"]];
        Some(rng.pick(roles))
    }
    .map(|roles| Actor {
        id: format!("u_admin_{}", rng.below(50)),
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        attributes: Default::default(),
    });

    // F2: deleted for more than the window (by 1 s, or by up to a year),
    // or at most the window (exactly, just now, or anything between).
    let deleted_for = if on(1) {
        match rng.below(3) {
            0 => WINDOW_SECONDS + 1,
            _ => WINDOW_SECONDS + 1 + rng.below(365 * 86_400) as i64,
        }
    } else {
        match rng.below(4) {
            0 => WINDOW_SECONDS,
            1 => 0,
            _ => rng.below(WINDOW_SECONDS as u64) as i64,
        }
    };

    // F10: no free seat (exactly 0, or over-allocated), or some free.
    let seats_total = rng.below(200) as i64;
    let seats_used = if on(4) {
        match rng.below(3) {
            0 | 1 => seats_total,
            _ => seats_total + 1 + rng.below(5) as i64,
        }
    } else {
        // At least one seat free: total - used >= 1 (total may be 0 + 1).
        let total = seats_total.max(1);
        total - 1 - rng.below(total as u64) as i64
    };
    let seats_total = if on(4) {
        seats_total
    } else {
        seats_total.max(1)
    };

    let conflicts = Conflicts {
        user_id: if on(5) { ids(rng, "u_dup") } else { Vec::new() },
        phone: if on(6) {
            ids(rng, "u_phone")
        } else {
            Vec::new()
        },
        email: if on(7) {
            ids(rng, "u_mail")
        } else {
            Vec::new()
        },
    };

    Facts {
        tenant: TenantFacts {
            id: format!("t{}", rng.below(100)).into(),
            plan: plan.into(),
            seats_total,
            seats_used,
            attributes: Default::default(),
        },
        member: DeletedMember {
            id: format!("u_{i}"),
            email: Some(format!("m{i}@example.test")),
            phone: Some(format!("+1555{i:07}")),
            deleted_at: at() - TimeDelta::seconds(deleted_for),
            reason: if rng.one_in(2) {
                DeletionReason::RemovedByAdmin
            } else {
                DeletionReason::SelfDeactivated
            },
            deletion: if on(2) {
                DeletionState::InProgress
            } else {
                DeletionState::Completed
            },
            removed_from_list: on(3),
            resources: resources(rng),
            attributes: Default::default(),
        },
        conflicts,
        actor,
    }
}

/// A few resources with items, some transferred, so that our engine's
/// per-resource work is not trivially empty.
fn resources(rng: &mut XorShift) -> BTreeMap<String, Vec<ResourceItem>> {
    const NAMES: [&str; 5] = [
        "documents",
        "minutes",
        "events_created",
        "chats",
        "group_chats",
    ];
    let mut resources = BTreeMap::new();
    for name in NAMES {
        if rng.one_in(2) {
            continue;
        }
        let items = (0..rng.below(4))
            .map(|k| ResourceItem {
                id: format!("{}{k}", &name[..1]),
                transferred_to: rng.one_in(3).then(|| "u_heir".to_owned()),
            })
            .collect();
        resources.insert(name.to_owned(), items);
    }
    resources
}
