//! Conformance suite for [`Directory`] adapters.
//!
//! Every check builds fresh directories from a snapshot through a factory the
//! adapter's tests supply. Facts and decisions are checked against what the
//! fixture is known to hold, written out by hand (`expected_decisions`,
//! `expected_conflicts`, the restore and race checks), so the memory adapter
//! is checked against the truth too; the parity checks also compare every
//! field with [`MemoryDirectory`], the reference implementation. Decisions
//! come from the real default policy in `rules/`.
//!
//! ```ignore
//! restore_conformance::run_all(|snapshot| async move { my_subject(snapshot).await }).await;
//! ```
//!
//! Checks panic with a message naming the check, tenant and member, like any
//! assertion in a test.

// A test-suite library: its checks assert by panicking.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

mod checks;
mod expected;
mod races;

use std::any::Any;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use restore_directory::{Directory, DirectoryError, Snapshot};
use restore_engine::decision::Decision;
use restore_engine::facts::{Facts, Request};
use restore_engine::{EvaluationError, PolicySet};
use restore_memory::MemoryDirectory;

pub use checks::*;
pub use expected::expected_decisions;
pub use races::{double_restore_race, last_seat_race, race_between, same_email_race, OVERLAP_WAIT};

/// What the suite needs to see beyond the [`Directory`] trait: state a
/// restore writes that no trait method reads back.
#[async_trait]
pub trait Probe: Send + Sync {
    /// Audit rows of `tenant`, oldest first.
    async fn audit(&self, tenant: &str) -> Result<Vec<AuditRecord>, DirectoryError>;
    /// Department of an active member.
    async fn department(
        &self,
        tenant: &str,
        member: &str,
    ) -> Result<Option<String>, DirectoryError>;
    /// Ids of a restored member's items of `resource` that came back, in
    /// stored order (F21: not the transferred ones), as the adapter stored
    /// them. `None`: this adapter keeps no record of them, so
    /// `restore_effects` and `restored_items` cannot look.
    async fn restored_items(
        &self,
        _tenant: &str,
        _member: &str,
        _resource: &str,
    ) -> Result<Option<Vec<String>>, DirectoryError> {
        Ok(None)
    }
}

/// The fields of an audit row every adapter records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub id: i64,
    pub member: String,
    pub actor: String,
    pub policy_version: String,
    pub digest: String,
}

/// A directory under test, as built by the factory.
pub struct Subject {
    pub directory: Arc<dyn Directory>,
    pub probe: Box<dyn Probe>,
    /// Kept alive as long as the subject (a temporary directory, a schema
    /// that is dropped when this is dropped).
    pub guard: Option<Box<dyn Any + Send + Sync>>,
}

#[async_trait]
impl Probe for MemoryDirectory {
    async fn audit(&self, tenant: &str) -> Result<Vec<AuditRecord>, DirectoryError> {
        Ok(MemoryDirectory::audit(self, tenant)?
            .into_iter()
            .map(|e| AuditRecord {
                id: e.id,
                member: e.member,
                actor: e.actor,
                policy_version: e.policy_version,
                digest: e.digest,
            })
            .collect())
    }

    async fn department(
        &self,
        tenant: &str,
        member: &str,
    ) -> Result<Option<String>, DirectoryError> {
        MemoryDirectory::department(self, tenant, member)
    }

    async fn restored_items(
        &self,
        tenant: &str,
        member: &str,
        resource: &str,
    ) -> Result<Option<Vec<String>>, DirectoryError> {
        MemoryDirectory::restored_items(self, tenant, member, resource).map(Some)
    }
}

/// A subject over the memory adapter (the reference, and its own test).
pub fn memory_subject(snapshot: &Snapshot) -> Subject {
    let memory = Arc::new(MemoryDirectory::from_snapshot(snapshot));
    Subject {
        directory: memory.clone(),
        probe: Box::new(SharedMemory(memory)),
        guard: None,
    }
}

struct SharedMemory(Arc<MemoryDirectory>);

#[async_trait]
impl Probe for SharedMemory {
    async fn audit(&self, tenant: &str) -> Result<Vec<AuditRecord>, DirectoryError> {
        Probe::audit(&*self.0, tenant).await
    }
    async fn department(
        &self,
        tenant: &str,
        member: &str,
    ) -> Result<Option<String>, DirectoryError> {
        Probe::department(&*self.0, tenant, member).await
    }
    async fn restored_items(
        &self,
        tenant: &str,
        member: &str,
        resource: &str,
    ) -> Result<Option<Vec<String>>, DirectoryError> {
        Probe::restored_items(&*self.0, tenant, member, resource).await
    }
}

/// Folder of the suite's fixture snapshots.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// The main fixture (`fixtures/directory.yaml`).
pub fn fixture() -> Snapshot {
    let path = fixtures_dir().join("directory.yaml");
    match Snapshot::load(&path) {
        Ok(s) => s,
        Err(e) => panic!("conformance fixture is broken: {e}"),
    }
}

/// The attributes fixture (`fixtures/attributes.yaml`, format v2).
pub fn attributes_fixture() -> Snapshot {
    let path = fixtures_dir().join("attributes.yaml");
    match Snapshot::load(&path) {
        Ok(s) => s,
        Err(e) => panic!("conformance fixture is broken: {e}"),
    }
}

/// The time every check decides at: after all fixture deletions, within the
/// 30-day window of most of them.
pub fn now() -> DateTime<Utc> {
    match DateTime::parse_from_rfc3339("2026-11-24T10:00:00Z") {
        Ok(t) => t.with_timezone(&Utc),
        Err(e) => panic!("bad constant: {e}"),
    }
}

/// The project's rule folder (`rules/` at the workspace root).
pub fn rules_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules")
}

/// The default policy, loaded once per call.
pub fn default_policy() -> Arc<PolicySet> {
    match PolicySet::load_dir(&rules_dir()) {
        Ok(set) => Arc::new(set),
        Err(e) => panic!(
            "default rules in `{}` do not load: {e}",
            rules_dir().display()
        ),
    }
}

/// A timestamp as the checks compare it: RFC 3339 in UTC, with the
/// fraction only when there is one.
pub fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// A `decide` closure evaluating the default policy at `at`.
pub fn decide_at(
    policy: Arc<PolicySet>,
    at: DateTime<Utc>,
) -> impl Fn(&Facts) -> Result<Decision, EvaluationError> + Send + Sync + 'static {
    move |facts: &Facts| match policy.select(None, None, at) {
        Ok(p) => p.try_evaluate(facts, &Request::default(), at),
        Err(e) => panic!("no default policy in force at {at}: {e}"),
    }
}

/// Runs every check, each on fresh directories from `make`.
pub async fn run_all<F, Fut>(make: F)
where
    F: Fn(Snapshot) -> Fut,
    Fut: Future<Output = Subject>,
{
    expected_decisions(&make).await;
    facts_parity(&make).await;
    stream_parity(&make).await;
    expected_conflicts(&make).await;
    unknown_ids(&make).await;
    tenants_listed(&make).await;
    tenant_isolation(&make).await;
    restore_effects(&make).await;
    restored_items(&make).await;
    attributes_round_trip(&make).await;
    attributes_follow_restore(&make).await;
    denied_restore_changes_nothing(&make).await;
    missing_department(&make).await;
    last_seat_race(&make).await;
    double_restore_race(&make).await;
    same_email_race(&make).await;
}
