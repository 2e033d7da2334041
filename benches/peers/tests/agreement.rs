//! Our engine, Cedar and Rego (both regorus evaluators) give the same
//! allow/deny and the same blocker ids on every request of a generated
//! corpus. The benchmarks check the same on their larger corpus before
//! timing anything.

// A benchmark: it prints its results and stops loudly on a broken setup.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

use std::collections::BTreeMap;

use restore_peer_bench::cedar::CedarEngine;
use restore_peer_bench::corpus::{self, BLOCKERS};
use restore_peer_bench::{check_agreement, Engines, POLICY_DIR};

/// Small enough for a debug build in CI, large enough to hold every
/// combination of blocker conditions on every tier (the first 1,024).
const LEN: usize = 2_000;

#[test]
fn all_engines_agree_on_allow_and_blockers() {
    let corpus = corpus::generate(LEN, corpus::SEED);
    let mut engines = Engines::load().expect("policies load");
    let disagreements = check_agreement(&mut engines, &corpus).expect("every engine evaluates");
    for d in disagreements.iter().take(5) {
        eprintln!("{d}");
    }
    assert!(
        disagreements.is_empty(),
        "{} of {LEN} requests disagree (first ones above)",
        disagreements.len()
    );
}

/// The corpus is what the agreement is worth: every blocker must fire alone
/// and in combination, and plenty of requests must be allowed. Counted with
/// our engine, which the test above shows the peers agree with.
#[test]
fn corpus_covers_every_blocker_alone_and_combined() {
    let corpus = corpus::generate(LEN, corpus::SEED);
    let engines = Engines::load().expect("policies load");
    let mut alone: BTreeMap<String, usize> = BTreeMap::new();
    let mut combined: BTreeMap<String, usize> = BTreeMap::new();
    let mut allowed = 0;
    let mut max_blockers = 0;
    for facts in &corpus {
        let verdict = engines.ours.verdict(facts);
        allowed += usize::from(verdict.allowed);
        max_blockers = max_blockers.max(verdict.blockers.len());
        let counts = if verdict.blockers.len() == 1 {
            &mut alone
        } else {
            &mut combined
        };
        for id in verdict.blockers {
            *counts.entry(id).or_default() += 1;
        }
    }
    for id in BLOCKERS {
        // F10 holds alone only on Pro and Enterprise, so it is the rarest.
        assert!(
            alone.get(id).copied().unwrap_or(0) >= 3,
            "{id} alone: {alone:?}"
        );
        assert!(
            combined.get(id).copied().unwrap_or(0) >= 50,
            "{id} combined: {combined:?}"
        );
    }
    // Mask 0 (no condition) is 1 in 256, plus seat shortages on Starter/Basic.
    assert!(allowed >= 10, "allowed: {allowed}");
    assert_eq!(max_blockers, BLOCKERS.len(), "all blockers at once");
}

/// The boundaries of F2 and F10 are in the corpus: deleted exactly 30 days
/// ago (allowed by F2) and 30 days + 1 s ago (blocked), exactly 0 free seats.
#[test]
fn corpus_holds_the_boundaries() {
    let corpus = corpus::generate(LEN, corpus::SEED);
    let deleted_for =
        |f: &restore_engine::Facts| (corpus::at() - f.member.deleted_at).num_seconds();
    assert!(corpus
        .iter()
        .any(|f| deleted_for(f) == corpus::WINDOW_SECONDS));
    assert!(corpus
        .iter()
        .any(|f| deleted_for(f) == corpus::WINDOW_SECONDS + 1));
    assert!(corpus.iter().any(|f| f.tenant.seats_available() == 0));
    assert!(corpus.iter().any(|f| f.tenant.seats_available() < 0));
    assert!(corpus.iter().any(|f| f.actor.is_none()));
    assert!(corpus
        .iter()
        .any(|f| f.actor.as_ref().is_some_and(|a| a.roles.is_empty())));
}

#[test]
fn allowed_corpus_is_allowed_by_every_engine() {
    let corpus = corpus::generate_allowed(400, corpus::SEED);
    let mut engines = Engines::load().expect("policies load");
    assert!(corpus.iter().all(|f| engines.ours.verdict(f).allowed));
    let disagreements = check_agreement(&mut engines, &corpus).expect("every engine evaluates");
    assert!(disagreements.is_empty(), "{}", disagreements[0]);
}

#[test]
fn corpus_is_deterministic() {
    assert_eq!(corpus::generate(300, 7), corpus::generate(300, 7));
    assert_ne!(corpus::generate(300, 7), corpus::generate(300, 8));
}

/// The Cedar policies are well-typed against their schema, so no policy can
/// be silently skipped on an evaluation error.
#[test]
fn cedar_policies_validate_against_schema() {
    let cedar = CedarEngine::load_dir(POLICY_DIR.as_ref()).expect("policies load");
    let errors = cedar.validate(POLICY_DIR.as_ref()).expect("schema loads");
    assert!(errors.is_empty(), "{errors:#?}");
}
