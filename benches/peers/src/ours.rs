//! Our engine, behind the same small interface as the peers.

use std::path::Path;

use restore_engine::{CompiledPolicy, Decision, Facts, PolicySet, Request};

use crate::{corpus, Verdict};

/// The default YAML policy version in force at [`corpus::at`], compiled.
pub struct Ours {
    policy: CompiledPolicy,
}

impl Ours {
    /// Loads and compiles every rule file in `dir`, and selects the version
    /// in force at [`corpus::at`] once (selection is not part of a decision).
    pub fn load(dir: &Path) -> anyhow::Result<Ours> {
        let set = PolicySet::load_dir(dir)?;
        let policy = set.select(None, None, corpus::at())?.clone();
        Ok(Ours { policy })
    }

    /// The compiled policy.
    pub fn policy(&self) -> &CompiledPolicy {
        &self.policy
    }

    /// The full decision, as a caller of the engine gets it.
    pub fn decide(&self, facts: &Facts) -> Decision {
        self.policy
            .evaluate(facts, &Request::default(), corpus::at())
            .expect("the corpus plans are tiers of the default policy")
    }

    /// The decision reduced to allowed + blocker ids.
    pub fn verdict(&self, facts: &Facts) -> Verdict {
        let decision = self.decide(facts);
        Verdict::new(
            decision.allowed,
            decision
                .blockers
                .iter()
                .map(|b| b.rule.to_string())
                .collect(),
        )
    }
}
