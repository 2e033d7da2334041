//! Rows as stored, and their checked conversion into engine facts.
//!
//! Every conversion validates what the schema cannot (enum text, seat counts,
//! timestamps, JSON columns) and reports a [`DirectoryError::BadRow`] naming
//! the table and key, never panicking.

use chrono::{DateTime, Utc};
use restore_directory::stored::{StoredDeletedMember, StoredTenant};
use restore_directory::DirectoryError;
use restore_engine::facts::{Actor, Facts, TenantFacts};
use sqlx::FromRow;

/// A `tenants` row.
#[derive(Debug, FromRow)]
pub(crate) struct TenantRow {
    pub id: String,
    pub plan: String,
    pub seats_total: i64,
    pub seats_used: i64,
}

impl TenantRow {
    pub fn into_facts(self) -> Result<TenantFacts, DirectoryError> {
        StoredTenant {
            id: self.id,
            plan: self.plan,
            seats_total: self.seats_total,
            seats_used: self.seats_used,
        }
        .into_facts()
    }
}

/// An active member as the actor of a request.
#[derive(Debug, FromRow)]
pub(crate) struct ActorRow {
    pub id: String,
    pub roles: Vec<String>,
}

impl ActorRow {
    pub fn into_actor(self) -> Actor {
        Actor {
            id: self.id,
            roles: self.roles,
        }
    }
}

/// A deleted member with its conflicts and resource items, as computed by
/// [`crate::sql::DELETED_MEMBERS`].
#[derive(Debug, FromRow)]
pub(crate) struct DeletedRow {
    pub id: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub deleted_at: DateTime<Utc>,
    pub reason: String,
    pub deletion: String,
    pub removed_from_list: bool,
    pub conflict_user_id: Option<String>,
    /// Active member ids, in insertion order.
    pub conflict_email: Vec<String>,
    pub conflict_phone: Vec<String>,
    /// JSON array of `[resource, item_id, transferred_to]`, ordered by
    /// resource then position.
    pub items: String,
}

impl DeletedRow {
    /// Facts for this member; `tenant` and `actor` were read in the same
    /// transaction or stream.
    pub fn into_facts(
        self,
        tenant: &TenantFacts,
        actor: Option<Actor>,
    ) -> Result<Facts, DirectoryError> {
        StoredDeletedMember {
            id: self.id,
            email: self.email,
            phone: self.phone,
            deleted_at: self.deleted_at,
            reason: self.reason,
            deletion: self.deletion,
            removed_from_list: self.removed_from_list,
            conflict_user_id: self.conflict_user_id,
            conflict_email: self.conflict_email,
            conflict_phone: self.conflict_phone,
            items: self.items,
        }
        .into_facts(tenant, actor)
    }
}

/// Maps a sqlx error: a value that does not decode is a bad row of `table`;
/// anything else is a backend failure.
pub(crate) fn db_error(error: sqlx::Error, table: &'static str, key: &str) -> DirectoryError {
    match error {
        sqlx::Error::ColumnDecode { index, source } => DirectoryError::BadRow {
            table,
            key: key.to_owned(),
            reason: format!("column {index}: {source}"),
        },
        sqlx::Error::Decode(source) => DirectoryError::BadRow {
            table,
            key: key.to_owned(),
            reason: source.to_string(),
        },
        other => DirectoryError::backend(format!("postgres: reading `{table}` ({key})"), other),
    }
}
