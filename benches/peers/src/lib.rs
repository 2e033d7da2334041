//! The restore engine and two peer policy engines, Cedar (`cedar-policy`)
//! and Rego (`regorus`), on the same policy and the same generated corpus.
//!
//! The policy is the default restore policy's blockers F1-F4 and F10-F12:
//! `rules/default-restore.v1.yaml` for our engine, `policies/restore.cedar`
//! and `policies/restore.rego` for the peers. Every engine's answer is reduced
//! to a [`Verdict`] (allowed, and which blocker ids hold) so that
//! [`check_agreement`] can compare them request by request. Benchmarks:
//! `benches/peers.rs`; results: `BENCHMARKS.md` at the workspace root.

// A benchmark: it prints its results and stops loudly on a broken setup.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

pub mod cedar;
pub mod corpus;
pub mod oneshot;
pub mod ours;
pub mod rego;

use std::fmt;

use restore_engine::Facts;

/// Directory of this crate's policy files (Cedar, Rego).
pub const POLICY_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/policies");

/// Directory of the workspace's YAML rules (our engine's policy).
pub const RULES_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../rules");

/// One engine's answer, reduced to what all three engines can say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The restore may go ahead.
    pub allowed: bool,
    /// Ids of the blockers that hold, sorted.
    pub blockers: Vec<String>,
}

impl Verdict {
    /// A verdict from the engine's own allow/deny and its blocker ids in any
    /// order. `allowed` is not derived from the ids, so that an engine whose
    /// two answers contradict each other shows up as a disagreement.
    pub fn new(allowed: bool, mut blockers: Vec<String>) -> Verdict {
        blockers.sort_unstable();
        Verdict { allowed, blockers }
    }
}

/// Engines that disagree on one request of the corpus.
#[derive(Debug)]
pub struct Disagreement {
    /// Position in the corpus.
    pub index: usize,
    /// The request's facts, to reproduce the case.
    pub facts: Facts,
    /// Our engine's verdict.
    pub ours: Verdict,
    /// Cedar's verdict.
    pub cedar: Verdict,
    /// Rego's verdict (regorus' interpreter).
    pub rego: Verdict,
    /// Rego's verdict (regorus' bytecode VM).
    pub rego_vm: Verdict,
}

impl fmt::Display for Disagreement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "request #{} disagrees:", self.index)?;
        writeln!(f, "  ours:    {:?}", self.ours)?;
        writeln!(f, "  cedar:   {:?}", self.cedar)?;
        writeln!(f, "  rego:    {:?}", self.rego)?;
        writeln!(f, "  rego vm: {:?}", self.rego_vm)?;
        write!(f, "  facts:   {:?}", self.facts)
    }
}

/// The three engines, loaded from their policy files.
pub struct Engines {
    /// Our engine with the default YAML rules.
    pub ours: ours::Ours,
    /// Cedar with `restore.cedar`.
    pub cedar: cedar::CedarEngine,
    /// regorus' interpreter with `restore.rego`.
    pub rego: rego::RegoEngine,
    /// regorus' bytecode VM with `restore.rego`.
    pub rego_vm: rego::RegoVm,
}

impl Engines {
    /// Loads every engine's policy from this crate's and the workspace's files.
    pub fn load() -> anyhow::Result<Engines> {
        Ok(Engines {
            ours: ours::Ours::load(RULES_DIR.as_ref())?,
            cedar: cedar::CedarEngine::load_dir(POLICY_DIR.as_ref())?,
            rego: rego::RegoEngine::load_dir(POLICY_DIR.as_ref())?,
            rego_vm: rego::RegoVm::load_dir(POLICY_DIR.as_ref())?,
        })
    }
}

/// Evaluates every request with every engine; returns the requests on which
/// the verdicts (allowed and blocker ids) are not all equal.
pub fn check_agreement(
    engines: &mut Engines,
    corpus: &[Facts],
) -> anyhow::Result<Vec<Disagreement>> {
    let mut disagreements = Vec::new();
    for (index, facts) in corpus.iter().enumerate() {
        let ours = engines.ours.verdict(facts);
        let cedar = engines.cedar.verdict(facts, corpus::at())?;
        let rego = engines.rego.verdict(facts, corpus::at())?;
        let rego_vm = engines.rego_vm.verdict(facts, corpus::at())?;
        if cedar != ours || rego != ours || rego_vm != ours {
            disagreements.push(Disagreement {
                index,
                facts: facts.clone(),
                ours,
                cedar,
                rego,
                rego_vm,
            });
        }
    }
    Ok(disagreements)
}
