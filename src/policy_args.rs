//! Flags shared by every command that evaluates: which rules, which version, when.

use std::path::PathBuf;

use anyhow::Context;
use chrono::{DateTime, Utc};
use restore_directory::snapshot::parse_zoned_timestamp;
use restore_engine::{CompiledPolicy, PolicySet};

#[derive(Debug, Clone, clap::Args)]
pub struct PolicyArgs {
    /// Directory of rule files (*.yaml).
    #[arg(long, value_name = "DIR")]
    pub rules: PathBuf,
    /// Policy name; needed only when the rules directory holds several.
    #[arg(long, value_name = "NAME")]
    pub policy: Option<String>,
    /// Pin a policy version instead of the one in force at `--at`.
    #[arg(long, value_name = "V")]
    pub policy_version: Option<String>,
    /// Decide as of this time (RFC 3339 with a zone); default: now.
    #[arg(long, value_name = "RFC3339", value_parser = parse_at)]
    pub at: Option<DateTime<Utc>>,
}

fn parse_at(text: &str) -> Result<DateTime<Utc>, String> {
    parse_zoned_timestamp(text)
}

/// The loaded rules and the version chosen for this run.
pub struct Selected {
    pub at: DateTime<Utc>,
    /// A copy of the chosen version (one per run), so the set need not be
    /// kept with an index into it.
    policy: CompiledPolicy,
}

impl Selected {
    pub fn policy(&self) -> &CompiledPolicy {
        &self.policy
    }
}

impl PolicyArgs {
    /// Loads the rules and picks the version in force (or pinned). The clock
    /// is read here, never in the engine.
    pub fn select(&self) -> anyhow::Result<Selected> {
        self.select_at(self.at.unwrap_or_else(Utc::now))
    }

    /// As [`PolicyArgs::select`], deciding at `at` whatever `--at` says
    /// (a restore passes the current time).
    pub fn select_at(&self, at: DateTime<Utc>) -> anyhow::Result<Selected> {
        let set = PolicySet::load_dir(&self.rules)?;
        let chosen = set
            .select(self.policy.as_deref(), self.policy_version.as_deref(), at)
            .with_context(|| format!("rules `{}`", self.rules.display()))?;
        let policy = chosen.clone();
        Ok(Selected { at, policy })
    }
}
