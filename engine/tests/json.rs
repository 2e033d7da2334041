//! `restore_engine::json` writes exactly the bytes of `serde_json`: for real
//! decisions of the default policy (every tier, every blocker, allowed and
//! denied, items and exception reasons) and for generated decisions full of
//! hostile strings and odd timestamps, through the cache and around it.

// Test code: asserts by panicking (unwrap, expect, indexing).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use restore_engine::decision::{
    BlockerHit, Code, Decision, Outcome, PolicyRef, ResourceDecision, WarningHit,
};
use restore_engine::facts::{
    Actor, Conflicts, DeletedMember, DeletionReason, DeletionState, Facts, ResourceItem,
    TenantFacts,
};
use restore_engine::json::{write_decision, DecisionEncoder};
use restore_engine::{PolicySet, Request};

/// Encodes `decision` with `encoder` and with `write_decision` (appending
/// to a non-empty buffer) and checks both against `serde_json`.
fn assert_encodes_as_serde(encoder: &mut DecisionEncoder, decision: &Decision) {
    let expected = serde_json::to_vec(decision).unwrap();
    let mut ours = Vec::new();
    encoder.encode(&mut ours, decision);
    assert_eq!(
        String::from_utf8_lossy(&ours),
        String::from_utf8_lossy(&expected),
        "DecisionEncoder::encode"
    );
    assert_eq!(ours, expected, "DecisionEncoder::encode, bytes");
    let mut appended = b"[previous line]\n".to_vec();
    write_decision(&mut appended, decision);
    assert_eq!(
        &appended[..16],
        b"[previous line]\n",
        "write_decision appends"
    );
    assert_eq!(&appended[16..], &expected[..], "write_decision");
}

// ---- real decisions -------------------------------------------------------

fn at() -> DateTime<Utc> {
    "2026-11-24T10:00:00.123456789Z".parse().unwrap()
}

/// Hostile text where the directory supplies it (member ids, item ids,
/// actor ids): it ends up in decisions and in blocker messages.
const HOSTILE: &str = "u_\"quoted\"\\back\u{0}nul\u{1f}\u{7f}\ttab\nline\r\u{8}\u{c}é€😀\u{2028}";

fn member_facts(plan: &str) -> Facts {
    let mut resources = BTreeMap::new();
    resources.insert(
        "documents".to_owned(),
        vec![
            ResourceItem {
                id: "d1".into(),
                transferred_to: None,
            },
            ResourceItem {
                id: format!("d2 {HOSTILE}"),
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
            plan: plan.into(),
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

/// Variations of one member that between them make every blocker hold,
/// with and without items, with an exception's reason, allowed and denied.
fn variations(plan: &str) -> Vec<(Facts, Request)> {
    let base = member_facts(plan);
    let one = Request::default();
    let mut out = vec![(base.clone(), one.clone())];
    let mut f = base.clone();
    f.member.resources.clear();
    out.push((f, one.clone()));
    let mut f = base.clone();
    f.member.resources.clear();
    f.member.id = HOSTILE.into();
    f.member.deletion = DeletionState::InProgress;
    out.push((f, one.clone()));
    let mut f = base.clone();
    f.actor.as_mut().unwrap().roles = vec!["admin".into()];
    f.actor.as_mut().unwrap().id = HOSTILE.into();
    out.push((f, one.clone()));
    let mut f = base.clone();
    f.actor = None;
    out.push((f, one.clone()));
    let mut f = base.clone();
    // Before 2022-11-10: past the window, and the group-chat exception applies.
    f.member.deleted_at = "2022-01-05T03:04:05.5Z".parse().unwrap();
    out.push((f, one.clone()));
    let mut f = base.clone();
    f.member.removed_from_list = true;
    f.member.reason = DeletionReason::SelfDeactivated;
    out.push((f, one.clone()));
    out.push((base.clone(), Request::batch(3)));
    let mut f = base.clone();
    f.tenant.seats_used = 50;
    out.push((f, one.clone()));
    let mut f = base.clone();
    f.conflicts = Conflicts {
        user_id: vec!["u_other".into()],
        email: vec![HOSTILE.into(), "u_eve".into()],
        phone: vec!["u_pat".into()],
    };
    out.push((f, one.clone()));
    out
}

#[test]
fn real_decisions_of_every_tier_encode_as_serde_json_does() {
    let rules = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../rules"));
    let set = PolicySet::load_dir(rules).expect("default rules");
    let policy = set.select(None, None, at()).expect("in force");
    let mut decisions = Vec::new();
    for plan in ["starter", "basic", "pro", "enterprise"] {
        for (facts, request) in variations(plan) {
            decisions.push(policy.evaluate(&facts, &request, at()).unwrap());
            decisions.push(
                policy
                    .evaluate(&facts, &request, at() + Duration::days(400))
                    .unwrap(),
            );
        }
    }

    // The decisions cover what they are meant to cover.
    let tiers: BTreeSet<Arc<str>> = decisions.iter().map(|d| d.policy.tier.clone()).collect();
    assert_eq!(tiers.len(), 4);
    let blockers: BTreeSet<&str> = decisions
        .iter()
        .flat_map(|d| d.blockers.iter().map(|b| &*b.rule))
        .collect();
    let expected: BTreeSet<&str> = [
        "actor_not_permitted",
        "window_expired",
        "deletion_in_progress",
        "removed_from_list",
        "batch_restore_not_allowed",
        "no_available_seat",
        "duplicate_user_id",
        "duplicate_phone",
        "duplicate_email",
    ]
    .into();
    assert_eq!(blockers, expected);
    assert!(decisions.iter().any(|d| d.allowed));
    assert!(decisions.iter().any(|d| !d.allowed));
    let resources = || decisions.iter().flat_map(|d| d.resources.iter());
    let outcomes: BTreeSet<Outcome> = resources().map(|r| r.outcome).collect();
    assert_eq!(outcomes.len(), 5, "every outcome: {outcomes:?}");
    assert!(resources().any(|r| r.reason.is_some()));
    assert!(resources().any(|r| !r.not_restored_items.is_empty()));
    assert!(resources().any(|r| r.restored.is_some()));
    assert!(decisions
        .iter()
        .any(|d| serde_json::to_string(d).unwrap().contains("\\u0000")));

    // One encoder over all of them, twice (the second time from its
    // cache), and a fresh one per decision.
    let mut encoder = DecisionEncoder::new();
    for decision in decisions.iter().chain(&decisions) {
        assert_encodes_as_serde(&mut encoder, decision);
        assert_encodes_as_serde(&mut DecisionEncoder::new(), decision);
    }
}

// ---- generated decisions --------------------------------------------------

/// SplitMix64: a small deterministic generator, so a failure names its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, one_in: u64) -> bool {
        self.below(one_in) == 0
    }

    /// Text mixing plain ASCII with everything JSON escapes and multi-byte
    /// characters, in runs long and short (the escaper scans 8 bytes at once).
    fn text(&mut self) -> String {
        const PIECES: &[&str] = &[
            "a",
            "Z",
            "0",
            " ",
            "/",
            "<",
            "'",
            "`",
            "{",
            "}",
            ":",
            ",",
            "\"",
            "\\",
            "\n",
            "\r",
            "\t",
            "\u{8}",
            "\u{c}",
            "\u{0}",
            "\u{1}",
            "\u{b}",
            "\u{1f}",
            "\u{7f}",
            "\u{80}",
            "é",
            "€",
            "😀",
            "\u{2028}",
            "\u{2029}",
            "\u{feff}",
            "\u{10ffff}",
            "\\u0041",
            "plain-ascii-run-",
            "0123456789abcdef",
        ];
        let len = match self.below(4) {
            0 => 0,
            1 => self.below(4),
            2 => self.below(24),
            _ => self.below(120),
        };
        (0..len)
            .map(|_| PIECES[self.below(PIECES.len() as u64) as usize])
            .collect()
    }

    fn timestamp(&mut self) -> DateTime<Utc> {
        let nano = match self.below(5) {
            0 => 0,
            1 => self.below(1000) as u32 * 1_000_000,
            2 => self.below(1_000_000) as u32 * 1_000,
            3 => self.below(1_000_000_000) as u32,
            _ => 1 + self.below(9) as u32,
        };
        match self.below(10) {
            // Leap second (chrono writes second 60).
            0 => NaiveDate::from_ymd_opt(2016, 12, 31)
                .unwrap()
                .and_hms_nano_opt(23, 59, 59, 1_000_000_000 + nano)
                .unwrap()
                .and_utc(),
            // Anywhere in chrono's range, years beyond 0..=9999 included.
            1 => {
                let min = DateTime::<Utc>::MIN_UTC.timestamp();
                let max = DateTime::<Utc>::MAX_UTC.timestamp();
                let secs = min + (self.next() % (max - min) as u64) as i64;
                Utc.timestamp_opt(secs, nano).unwrap()
            }
            // Years 0..=9999.
            2 => {
                let secs = -62_167_219_200 + (self.next() % 315_537_897_600) as i64;
                Utc.timestamp_opt(secs, nano).unwrap()
            }
            // Around now, the usual case.
            _ => Utc
                .timestamp_opt(1_700_000_000 + self.below(200_000_000) as i64, nano)
                .unwrap(),
        }
    }

    fn count(&mut self) -> Option<u32> {
        match self.below(4) {
            0 => None,
            1 => Some(u32::MAX - self.below(3) as u32),
            _ => Some(self.below(100_000) as u32),
        }
    }

    fn policy(&mut self) -> PolicyRef {
        PolicyRef {
            name: self.text().into(),
            version: self.text().into(),
            tier: self.text().into(),
            digest: self.text().into(),
        }
    }

    fn requires(&mut self) -> Arc<[Arc<str>]> {
        (0..self.below(4)).map(|_| self.text().into()).collect()
    }

    fn resources(&mut self) -> Arc<[ResourceDecision]> {
        const OUTCOMES: [Outcome; 5] = [
            Outcome::Restored,
            Outcome::Reset,
            Outcome::NotRestored,
            Outcome::Automatic,
            Outcome::TransferDependent,
        ];
        (0..self.below(22))
            .map(|_| ResourceDecision {
                resource: self.text().into(),
                outcome: OUTCOMES[self.below(5) as usize],
                restored: self.count(),
                not_restored: self.count(),
                not_restored_items: (0..self.below(3).saturating_sub(self.below(2)))
                    .map(|_| self.text())
                    .collect(),
                reason: self.chance(3).then(|| self.text().into()),
            })
            .collect()
    }

    /// `table` with some elements changed in one field, some dropped or added.
    fn edited(&mut self, table: &[ResourceDecision]) -> Arc<[ResourceDecision]> {
        let mut own: Vec<ResourceDecision> = table.to_vec();
        for r in &mut own {
            match self.below(12) {
                0 => r.restored = self.count(),
                1 => r.not_restored = self.count(),
                2 => r.not_restored_items.push(self.text()),
                3 => r.reason = self.chance(2).then(|| self.text().into()),
                4 => r.outcome = Outcome::TransferDependent,
                5 => r.resource = format!("{}x", r.resource).into(),
                _ => {}
            }
        }
        if self.chance(4) {
            own.truncate(self.below(own.len() as u64 + 1) as usize);
        }
        if self.chance(4) {
            own.extend(self.resources().iter().cloned());
        }
        own.into()
    }

    fn blockers(&mut self) -> Vec<BlockerHit> {
        (0..self.below(4))
            .map(|_| BlockerHit {
                rule: self.text().into(),
                fact: self.text().into(),
                code: self.code(),
                message: self.text(),
                remedy: self.text(),
            })
            .collect()
    }

    fn code(&mut self) -> Option<Code> {
        match self.below(4) {
            0 => Some(Code::Int(self.next() as i64)),
            1 => Some(Code::Text(self.text().into())),
            _ => None,
        }
    }

    /// Mostly none, as for every default-policy decision.
    fn warnings(&mut self) -> Vec<WarningHit> {
        if !self.chance(3) {
            return Vec::new();
        }
        (0..1 + self.below(3))
            .map(|_| WarningHit {
                rule: self.text().into(),
                fact: self.text().into(),
                code: self.code(),
                message: self.text(),
                remedy: self.chance(2).then(|| self.text()),
            })
            .collect()
    }
}

/// Shared parts as a compiled policy holds them: each `Arc` is also kept
/// here, so decisions hold a second reference (and the encoder caches it).
/// More parts than the encoder keeps per kind, and they are replaced as the
/// run goes, as after a policy reload.
struct SharedPool {
    policies: Vec<Arc<PolicyRef>>,
    requires: Vec<Arc<[Arc<str>]>>,
    resources: Vec<Arc<[ResourceDecision]>>,
}

#[test]
fn generated_decisions_with_hostile_strings_encode_as_serde_json_does() {
    const SEED: u64 = 0x5EED_0012;
    let mut rng = Rng(SEED);
    let mut pool = SharedPool {
        policies: (0..11).map(|_| Arc::new(rng.policy())).collect(),
        requires: (0..11).map(|_| rng.requires()).collect(),
        resources: (0..11).map(|_| rng.resources()).collect(),
    };
    let mut encoder = DecisionEncoder::new();
    let evaluated_at = rng.timestamp();
    let mut seen_denied_and_allowed = [false; 2];
    for i in 0..20_000u64 {
        // Now and then a shared part is replaced by new content.
        if rng.chance(50) {
            let slot = rng.below(11) as usize;
            match rng.below(3) {
                0 => pool.policies[slot] = Arc::new(rng.policy()),
                1 => pool.requires[slot] = rng.requires(),
                _ => pool.resources[slot] = rng.resources(),
            }
        }
        // Mostly the pool's, sometimes a part of the decision's own.
        let mut pick = |own_one_in: u64| !rng.chance(own_one_in);
        let (shared_policy, shared_requires, shared_resources) = (pick(8), pick(8), pick(3));
        let sample = Decision {
            tenant: "t".into(),
            member: "m".into(),
            allowed: true,
            policy: pool.policies[0].clone(),
            evaluated_at,
            restorable_until: Some(evaluated_at),
            blockers: Vec::new(),
            warnings: Vec::new(),
            requires: pool.requires[0].clone(),
            resources: pool.resources[0].clone(),
        };
        let decision = Decision {
            tenant: rng.text().into(),
            member: rng.text(),
            allowed: rng.chance(2),
            policy: if shared_policy {
                pool.policies[rng.below(11) as usize].clone()
            } else {
                Arc::new(rng.policy())
            },
            evaluated_at: if rng.chance(4) {
                rng.timestamp()
            } else {
                evaluated_at
            },
            restorable_until: (!rng.chance(8)).then(|| rng.timestamp()),
            blockers: rng.blockers(),
            warnings: rng.warnings(),
            requires: if shared_requires {
                pool.requires[rng.below(11) as usize].clone()
            } else {
                rng.requires()
            },
            resources: if shared_resources {
                pool.resources[rng.below(11) as usize].clone()
            } else if rng.chance(2) {
                rng.resources()
            } else {
                // A member's own table: a shared one with a few changes,
                // written right after that shared one.
                let shared = pool.resources[rng.below(11) as usize].clone();
                encoder.encode(
                    &mut Vec::new(),
                    &Decision {
                        resources: shared.clone(),
                        ..sample.clone()
                    },
                );
                rng.edited(&shared)
            },
        };
        seen_denied_and_allowed[usize::from(decision.allowed)] = true;
        let expected = serde_json::to_vec(&decision).unwrap();
        let mut ours = Vec::new();
        encoder.encode(&mut ours, &decision);
        assert!(
            ours == expected,
            "seed {SEED:#x}, decision {i}:\n ours:  {}\n serde: {}",
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&expected)
        );
        if i % 16 == 0 {
            assert_encodes_as_serde(&mut DecisionEncoder::new(), &decision);
        }
    }
    assert_eq!(seen_denied_and_allowed, [true, true]);
}

/// A shared table is dropped and a new one of the same size is allocated,
/// round after round: the allocator hands out the freed address again
/// unless something still holds it. The encoder must never serve the old
/// table's JSON for the new one.
#[test]
fn a_new_part_at_a_freed_address_is_not_mistaken_for_the_old_one() {
    let mut encoder = DecisionEncoder::new();
    let mut rng = Rng(7);
    let policy = Arc::new(rng.policy());
    let requires = rng.requires();
    let mut addresses = BTreeSet::new();
    for round in 0..200u32 {
        let outcome = [Outcome::Restored, Outcome::Reset][round as usize % 2];
        let table: Arc<[ResourceDecision]> = (0..3)
            .map(|i| ResourceDecision {
                resource: format!("r{i}").into(),
                outcome,
                restored: Some(round),
                not_restored: None,
                not_restored_items: Vec::new(),
                reason: None,
            })
            .collect();
        addresses.insert(Arc::as_ptr(&table).cast::<()>() as usize);
        let held_by_policy = Arc::clone(&table);
        let decision = Decision {
            tenant: "t".into(),
            member: format!("m{round}"),
            allowed: true,
            policy: policy.clone(),
            evaluated_at: at(),
            restorable_until: Some(at()),
            blockers: Vec::new(),
            warnings: Vec::new(),
            requires: requires.clone(),
            resources: table,
        };
        assert_encodes_as_serde(&mut encoder, &decision);
        drop(decision);
        drop(held_by_policy);
    }
    // The encoder keeps at most 8 tables' allocations: most rounds got a
    // recycled address, which is what this test is about.
    assert!(
        addresses.len() < 200,
        "{} distinct addresses",
        addresses.len()
    );
}
