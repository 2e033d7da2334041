//! The default policy rewritten in format v2 (`rules/`) decides exactly as
//! its format v1 text (`tests/fixtures/rules-v1/`, the pre-rewrite bytes):
//! every field of every decision, its JSON byte for byte and its
//! explanation are equal, except `policy.digest` (the sha256 of each file's
//! bytes). Covered: every member of the test directory at several times,
//! with and without actor, batch sizes 1 and 2; and a generated corpus over
//! every tier, boundary and blocker (an unknown plan errs alike).

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use restore_engine::decision::PolicyRef;
use restore_engine::facts::{DeletionState, Facts, ResourceItem};
use restore_engine::model::Format;
use restore_engine::{CompiledPolicy, PolicySet, Request};

use crate::support::{at, fixture, fixture_facts, plain_facts, root};

fn policies() -> (PolicySet, PolicySet) {
    let v2 = PolicySet::load_dir(&root().join("rules")).unwrap();
    let v1 = PolicySet::load_dir(&root().join("tests/fixtures/rules-v1")).unwrap();
    (v1, v2)
}

fn pick(set: &PolicySet) -> &CompiledPolicy {
    set.select(None, None, at()).unwrap()
}

/// Compares one decision (and explanation) of both policies.
fn assert_same(v1: &CompiledPolicy, v2: &CompiledPolicy, f: &Facts, r: &Request, t: DateTime<Utc>) {
    let (a, b) = (v1.evaluate(f, r, t), v2.evaluate(f, r, t));
    match (a, b) {
        (Ok(mut a), Ok(b)) => {
            assert_ne!(a.policy.digest, b.policy.digest);
            // The one reviewed difference: the digest of the file's bytes.
            a.policy = Arc::new(PolicyRef {
                digest: b.policy.digest.clone(),
                ..(*a.policy).clone()
            });
            assert_eq!(a, b, "{f:?} {r:?} at {t}");
            assert_eq!(
                serde_json::to_string(&a).unwrap(),
                serde_json::to_string(&b).unwrap()
            );
            let (mut ja, mut jb) = (Vec::new(), Vec::new());
            restore_engine::json::write_decision(&mut ja, &a);
            restore_engine::json::write_decision(&mut jb, &b);
            assert_eq!(ja, jb);
        }
        (Err(a), Err(b)) => assert_eq!(a, b),
        (a, b) => panic!("v1 {a:?} but v2 {b:?} on {f:?}"),
    }
    match (v1.explain(f, r, t), v2.explain(f, r, t)) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        (Err(a), Err(b)) => assert_eq!(a, b),
        (a, b) => panic!("explain: v1 {a:?} but v2 {b:?}"),
    }
}

#[test]
fn the_rewritten_file_is_format_v2_and_the_fixture_v1() {
    let (v1, v2) = policies();
    let (v1, v2) = (pick(&v1), pick(&v2));
    assert_eq!(v1.source().format, Format::V1);
    assert_eq!(v2.source().format, Format::V2);
    assert_eq!((v1.name(), v1.version()), (v2.name(), v2.version()));
    assert_eq!(v1.effective_from(), v2.effective_from());
    assert_eq!(v1.tier_names(), v2.tier_names());
    assert_eq!(v1.source().catalogue, v2.source().catalogue);
    assert!(restore_engine::lint::lint(v2).is_empty());
}

#[test]
fn every_member_of_the_test_directory_decides_alike() {
    let (v1, v2) = policies();
    let (v1, v2) = (pick(&v1), pick(&v2));
    let text = std::fs::read_to_string(fixture("directory.yaml")).unwrap();
    let snapshot: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let mut compared = 0;
    for tenant in snapshot["tenants"].as_sequence().unwrap() {
        let id = tenant["id"].as_str().unwrap();
        let actors: Vec<&str> = tenant["members"]
            .as_sequence()
            .map(|m| m.iter().filter_map(|m| m["id"].as_str()).collect())
            .unwrap_or_default();
        for member in tenant["deleted_members"].as_sequence().unwrap() {
            let member = member["id"].as_str().unwrap();
            let mut who: Vec<Option<&str>> = vec![None];
            who.extend(actors.iter().map(|a| Some(*a)));
            for actor in who {
                let facts = fixture_facts(id, member, actor);
                for days in [-40, -1, 0, 1, 29, 30, 31, 400] {
                    let t = at() + TimeDelta::days(days);
                    for batch in [1, 2] {
                        assert_same(v1, v2, &facts, &Request::batch(batch), t);
                        compared += 1;
                    }
                }
            }
        }
    }
    assert!(compared > 500, "{compared}");
}

/// A small deterministic generator (xorshift), so a failure is repeatable.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[test]
fn a_generated_corpus_decides_alike() {
    let (v1, v2) = policies();
    let (v1, v2) = (pick(&v1), pick(&v2));
    let mut rng = Rng(0x5eed_0014);
    let plans = ["starter", "basic", "pro", "enterprise", "trial"];
    let offsets = [
        TimeDelta::zero(),
        TimeDelta::hours(47),
        TimeDelta::hours(48),
        TimeDelta::hours(49),
        TimeDelta::days(30),
        TimeDelta::days(30) + TimeDelta::seconds(1),
        TimeDelta::days(400),
    ];
    for i in 0..20_000u64 {
        let mut f = plain_facts();
        f.tenant.plan = plans[(i % 5) as usize].into();
        f.tenant.seats_total = rng.below(4) as i64;
        f.tenant.seats_used = rng.below(5) as i64;
        f.member.deleted_at = at() - offsets[rng.below(offsets.len() as u64) as usize];
        if rng.below(3) == 0 {
            f.member.deletion = DeletionState::InProgress;
        }
        f.member.removed_from_list = rng.below(5) == 0;
        if rng.below(4) == 0 {
            f.conflicts.email = vec!["u_e".into()];
        }
        if rng.below(6) == 0 {
            f.conflicts.user_id = vec![f.member.id.clone()];
        }
        if rng.below(6) == 0 {
            f.conflicts.phone = vec!["u_p".into()];
        }
        match rng.below(3) {
            0 => f.actor = None,
            1 => f.actor.as_mut().unwrap().roles = vec!["admin".into()],
            _ => {}
        }
        if rng.below(3) == 0 {
            f.member.resources.insert(
                "documents".into(),
                vec![
                    ResourceItem {
                        id: "d1".into(),
                        transferred_to: None,
                    },
                    ResourceItem {
                        id: "d2".into(),
                        transferred_to: Some("u_x".into()),
                    },
                ],
            );
        }
        let batch = 1 + rng.below(2) as u32;
        assert_same(v1, v2, &f, &Request::batch(batch), at());
    }
}
