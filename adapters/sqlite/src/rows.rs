//! Rows as stored, and their checked conversion into engine facts.
//!
//! Every conversion validates what the schema cannot (enum text, seat counts,
//! timestamps, JSON columns) and reports a [`DirectoryError::BadRow`] naming
//! the table and key, never panicking.

use restore_directory::snapshot::parse_zoned_timestamp;
use restore_directory::stored::{member_key, parse_json_column, StoredDeletedMember, StoredTenant};
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
    pub roles: String,
}

impl ActorRow {
    pub fn into_actor(self, tenant: &str) -> Result<Actor, DirectoryError> {
        let roles = parse_json_column(
            &self.roles,
            "members",
            || member_key(tenant, &self.id),
            "roles",
        )?;
        Ok(Actor { id: self.id, roles })
    }
}

/// A deleted member with its conflicts and resource items, as computed by
/// [`crate::sql::DELETED_MEMBERS`]. JSON columns are produced by SQLite's
/// JSON functions.
#[derive(Debug, FromRow)]
pub(crate) struct DeletedRow {
    pub id: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub deleted_at: String,
    pub reason: String,
    pub deletion: String,
    pub removed_from_list: bool,
    pub conflict_user_id: Option<String>,
    /// JSON array of active member ids, in insertion order.
    pub conflict_email: String,
    pub conflict_phone: String,
    /// JSON array of `[resource, item_id, transferred_to]`, ordered by
    /// resource then position.
    pub items: String,
}

impl DeletedRow {
    /// Facts for this member; `tenant` and `actor` were read in the same
    /// transaction or stream. SQLite keeps timestamps as text and lists as
    /// JSON; they are decoded here, the rest is checked in one shared place.
    pub fn into_facts(
        self,
        tenant: &TenantFacts,
        actor: Option<Actor>,
    ) -> Result<Facts, DirectoryError> {
        // The key only names a bad row; built on error, not for every row.
        let key = || member_key(&tenant.id, &self.id);
        let deleted_at =
            parse_zoned_timestamp(&self.deleted_at).map_err(|e| DirectoryError::BadRow {
                table: "deleted_members",
                key: key(),
                reason: format!("deleted_at: {e}"),
            })?;
        let conflict_email =
            parse_json_column(&self.conflict_email, "members", key, "email conflicts")?;
        let conflict_phone =
            parse_json_column(&self.conflict_phone, "members", key, "phone conflicts")?;
        StoredDeletedMember {
            id: self.id,
            email: self.email,
            phone: self.phone,
            deleted_at,
            reason: self.reason,
            deletion: self.deletion,
            removed_from_list: self.removed_from_list,
            conflict_user_id: self.conflict_user_id,
            conflict_email,
            conflict_phone,
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
        other => DirectoryError::backend(format!("sqlite: reading `{table}` ({key})"), other),
    }
}
