//! The [`Directory`] trait every restore adapter implements, the directory
//! snapshot file format (docs/design.md, "Directory snapshot file") and directory URLs.
//!
//! One crate per backend sits behind this trait: `restore-memory`,
//! `restore-sqlite`, `restore-postgres`, `restore-plugin`.

pub mod attributes;
mod error;
pub mod import;
pub mod params;
pub mod restore;
pub mod snapshot;
pub mod stored;
mod url;

use async_trait::async_trait;
use futures::stream::BoxStream;
use restore_engine::facts::Facts;

pub use error::DirectoryError;
pub use import::ImportSummary;
pub use params::Access;
pub use restore::{
    begin_restore, finish_restore, read_facts, restore_with, seats_after_restore, AuditRow, Decide,
    ItemPlan, Reactivation, Receipt, RestoreOutcome, RestoreRequest, RestoreStore,
};
pub use snapshot::{Snapshot, SnapshotError};
pub use url::{DirectoryUrl, UrlError};

/// A store of tenants, their active members and their deleted members.
///
/// Every call names its tenant; an implementation never returns data of
/// another tenant, whatever ids are passed.
#[async_trait]
pub trait Directory: Send + Sync {
    /// Facts about one deleted member of `tenant`, conflicts included.
    ///
    /// With `actor`, the actor must be an active member of the same tenant
    /// ([`DirectoryError::UnknownActor`] otherwise); without it, `Facts::actor`
    /// is `None` and the engine skips the actor rule (F1).
    async fn facts(
        &self,
        tenant: &str,
        member: &str,
        actor: Option<&str>,
    ) -> Result<Facts, DirectoryError>;

    /// Ids of all tenants, sorted. Used when a command covers every tenant
    /// (`diff` without `--tenant`); adapters that cannot list say so.
    async fn tenants(&self) -> Result<Vec<String>, DirectoryError> {
        Err(DirectoryError::Unsupported(
            "this directory cannot list its tenants; name them with --tenant".into(),
        ))
    }

    /// Facts for every deleted member of `tenant`, streamed in member-id order
    /// so that memory stays flat however large the directory is.
    ///
    /// An unknown tenant or actor is the stream's first (and only) item, as an error.
    fn deleted_members<'a>(
        &'a self,
        tenant: &'a str,
        actor: Option<&'a str>,
    ) -> BoxStream<'a, Result<Facts, DirectoryError>>;

    /// Restore one member in one transaction.
    ///
    /// The implementation reads the facts inside the transaction (holding the
    /// locks that keep them true), asks `decide` for a decision, and only if it
    /// is allowed writes: member active again in `department`, a seat
    /// allocated, admin permissions / approval roles / user groups reset,
    /// transfer-dependent items back where not transferred, and an audit row.
    /// Denied: nothing is written and the decision comes back.
    async fn apply_restore(
        &self,
        request: &RestoreRequest,
        decide: &Decide,
    ) -> Result<RestoreOutcome, DirectoryError>;
}
