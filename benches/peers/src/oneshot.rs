//! Shared part of the one-shot examples (`examples/oneshot_*.rs`): what
//! `restorectl eval --directory memory:FILE` does before and after the
//! engine, so that whole-process timings compare like with like.

use std::path::Path;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use restore_directory::Directory;
use restore_engine::Facts;
use restore_memory::MemoryDirectory;

use crate::Verdict;

/// The flags the one-shots take, a subset of `restorectl eval`'s.
#[derive(Debug)]
pub struct Args {
    /// `--directory memory:FILE`: the snapshot file.
    pub directory: String,
    /// `--tenant`.
    pub tenant: String,
    /// `--member`.
    pub member: String,
    /// `--actor`, optional.
    pub actor: Option<String>,
    /// `--at`, RFC 3339.
    pub at: DateTime<Utc>,
    /// `--policies DIR`: where `restore.cedar` / `restore.rego` are.
    pub policies: String,
}

impl Args {
    /// Parses `--flag value` pairs from the process arguments.
    pub fn from_env() -> anyhow::Result<Args> {
        let mut args = std::env::args().skip(1);
        let (mut directory, mut tenant, mut member, mut actor, mut at, mut policies) =
            (None, None, None, None, None, None);
        while let Some(flag) = args.next() {
            let value = args
                .next()
                .with_context(|| format!("{flag} needs a value"))?;
            match flag.as_str() {
                "--directory" => directory = Some(value),
                "--tenant" => tenant = Some(value),
                "--member" => member = Some(value),
                "--actor" => actor = Some(value),
                "--at" => at = Some(value.parse().context("--at")?),
                "--policies" => policies = Some(value),
                _ => anyhow::bail!("unknown flag {flag}"),
            }
        }
        Ok(Args {
            directory: directory.context("--directory is required")?,
            tenant: tenant.context("--tenant is required")?,
            member: member.context("--member is required")?,
            actor,
            at: at.context("--at is required")?,
            policies: policies.unwrap_or_else(|| crate::POLICY_DIR.to_owned()),
        })
    }

    /// Reads the facts from the snapshot file, as the memory adapter does
    /// for `restorectl eval`.
    pub fn facts(&self) -> anyhow::Result<Facts> {
        let file = self
            .directory
            .strip_prefix("memory:")
            .context("only memory:FILE directories")?;
        let directory = MemoryDirectory::open(Path::new(file))?;
        Ok(futures::executor::block_on(directory.facts(
            &self.tenant,
            &self.member,
            self.actor.as_deref(),
        ))?)
    }
}

/// Prints the verdict as JSON and turns it into `restorectl`'s exit code
/// (0 allowed, 1 denied).
pub fn finish(verdict: &Verdict) -> std::process::ExitCode {
    println!(
        "{}",
        serde_json::json!({ "allowed": verdict.allowed, "blockers": verdict.blockers })
    );
    std::process::ExitCode::from(if verdict.allowed { 0 } else { 1 })
}
