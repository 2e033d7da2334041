//! The suite's checks fail on adapters that are wrong: a restore that decides
//! outside its transaction loses the races on every run, and facts that
//! differ from the fixture's truth fail `expected_decisions` even when the
//! memory adapter (the parity reference) is the one that is wrong.

// Test code: it asserts by panicking.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

use std::sync::Arc;

use async_trait::async_trait;
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};
use restore_conformance as suite;
use restore_directory::{Decide, Directory, DirectoryError, RestoreOutcome, RestoreRequest};
use restore_engine::facts::Facts;
use restore_memory::MemoryDirectory;

/// What a wrapped memory directory gets wrong.
#[derive(Clone, Copy)]
enum Flaw {
    /// Reads the facts and decides before, not inside, the write's lock.
    DecideOutsideTheLock,
    /// Loses the sub-second part of deletion times.
    TruncatesTimes,
    /// Forgets case-insensitive email conflicts.
    ExactEmails,
}

struct Flawed {
    inner: Arc<MemoryDirectory>,
    flaw: Flaw,
}

impl Flawed {
    fn spoil(&self, mut facts: Facts) -> Facts {
        match self.flaw {
            Flaw::TruncatesTimes => {
                let t = facts.member.deleted_at;
                facts.member.deleted_at =
                    t - chrono::TimeDelta::nanoseconds(i64::from(chrono::Timelike::nanosecond(&t)));
            }
            Flaw::ExactEmails => facts.conflicts.email.retain(|_| false),
            Flaw::DecideOutsideTheLock => {}
        }
        facts
    }
}

#[async_trait]
impl Directory for Flawed {
    async fn facts(
        &self,
        tenant: &str,
        member: &str,
        actor: Option<&str>,
    ) -> Result<Facts, DirectoryError> {
        Ok(self.spoil(self.inner.facts(tenant, member, actor).await?))
    }

    async fn tenants(&self) -> Result<Vec<String>, DirectoryError> {
        self.inner.tenants().await
    }

    fn deleted_members<'a>(
        &'a self,
        tenant: &'a str,
        actor: Option<&'a str>,
    ) -> BoxStream<'a, Result<Facts, DirectoryError>> {
        self.inner
            .deleted_members(tenant, actor)
            .map(|r| r.map(|f| self.spoil(f)))
            .boxed()
    }

    async fn apply_restore(
        &self,
        request: &RestoreRequest,
        decide: &Decide,
    ) -> Result<RestoreOutcome, DirectoryError> {
        match self.flaw {
            Flaw::DecideOutsideTheLock => {
                // Check, then act: the decision is made on facts that
                // another restore may change before this one writes.
                let facts = self
                    .inner
                    .facts(&request.tenant, &request.member, Some(&request.actor))
                    .await?;
                let decision = decide(&facts)?;
                if !decision.allowed {
                    return Ok(RestoreOutcome::Denied(decision));
                }
                let stale = move |_: &Facts| Ok(decision.clone());
                self.inner.apply_restore(request, &stale).await
            }
            _ => self.inner.apply_restore(request, decide).await,
        }
    }
}

fn maker(
    flaw: Flaw,
) -> impl Fn(restore_directory::Snapshot) -> futures::future::Ready<suite::Subject> {
    move |snapshot| {
        // The probe reads the same store the flawed directory writes.
        let inner = Arc::new(MemoryDirectory::from_snapshot(&snapshot));
        futures::future::ready(suite::Subject {
            directory: Arc::new(Flawed {
                inner: inner.clone(),
                flaw,
            }),
            probe: Box::new(Probed(inner)),
            guard: None,
        })
    }
}

struct Probed(Arc<MemoryDirectory>);

#[async_trait]
impl suite::Probe for Probed {
    async fn audit(&self, tenant: &str) -> Result<Vec<suite::AuditRecord>, DirectoryError> {
        suite::Probe::audit(&*self.0, tenant).await
    }
    async fn department(
        &self,
        tenant: &str,
        member: &str,
    ) -> Result<Option<String>, DirectoryError> {
        suite::Probe::department(&*self.0, tenant, member).await
    }
}

/// Runs a check that must fail; returns its panic message.
async fn fails<Fut: std::future::Future<Output = ()>>(check: Fut) -> String {
    match std::panic::AssertUnwindSafe(check).catch_unwind().await {
        Ok(()) => panic!("the check passed on a flawed adapter"),
        Err(payload) => payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn races_catch_a_decision_outside_the_lock() {
    let make = maker(Flaw::DecideOutsideTheLock);
    // Every run, not some: the overlap is forced.
    for _ in 0..3 {
        let message = fails(suite::last_seat_race(&make)).await;
        assert!(
            message.contains("the first restore holds the last seat"),
            "{message}"
        );
        let message = fails(suite::same_email_race(&make)).await;
        assert!(message.contains("duplicate_email denial"), "{message}");
    }
    // The same checks pass on the memory adapter itself.
    let honest = |snapshot: restore_directory::Snapshot| {
        futures::future::ready(suite::memory_subject(&snapshot))
    };
    suite::last_seat_race(&honest).await;
    suite::same_email_race(&honest).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expected_decisions_catch_wrong_facts() {
    let message = fails(suite::expected_decisions(&maker(Flaw::TruncatesTimes))).await;
    assert!(message.contains("deleted_at"), "{message}");
    let message = fails(suite::expected_decisions(&maker(Flaw::ExactEmails))).await;
    assert!(
        message.contains("u_cleo") && message.contains("blockers"),
        "{message}"
    );
}
