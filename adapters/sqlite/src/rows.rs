//! Rows as stored, and their checked conversion into engine facts.
//!
//! Every conversion validates what the schema cannot (enum text, seat counts,
//! timestamps, JSON columns) and reports a [`DirectoryError::BadRow`] naming
//! the table and key, never panicking.

use restore_directory::snapshot::parse_zoned_timestamp;
use restore_directory::stored::{
    member_key, parse_json_column, StoredActor, StoredConflict, StoredDeletedMember, StoredItem,
    StoredTenant,
};
use restore_directory::DirectoryError;
use restore_engine::facts::{Actor, TenantFacts};
use sqlx::sqlite::SqliteRow;
use sqlx::{FromRow, Row, Sqlite};

/// A `tenants` row.
#[derive(Debug, FromRow)]
pub(crate) struct TenantRow {
    pub id: String,
    pub plan: String,
    pub seats_total: i64,
    pub seats_used: i64,
    pub attributes: Option<String>,
}

impl TenantRow {
    pub fn into_facts(self) -> Result<TenantFacts, DirectoryError> {
        StoredTenant {
            id: self.id,
            plan: self.plan,
            seats_total: self.seats_total,
            seats_used: self.seats_used,
            attributes: self.attributes,
        }
        .into_facts()
    }
}

/// An active member as the actor of a request.
#[derive(Debug, FromRow)]
pub(crate) struct ActorRow {
    pub id: String,
    pub roles: String,
    pub attributes: Option<String>,
}

impl ActorRow {
    pub fn into_actor(self, tenant: &str) -> Result<Actor, DirectoryError> {
        let roles = parse_json_column(
            &self.roles,
            "members",
            || member_key(tenant, &self.id),
            "roles",
        )?;
        StoredActor {
            id: self.id,
            roles,
            attributes: self.attributes.as_deref(),
        }
        .into_actor(tenant)
    }
}

/// Column positions of [`crate::sql::DELETED_MEMBERS`] and
/// [`crate::sql::DELETED_MEMBER`] (read by position: this runs for every row).
mod col {
    pub const ID: usize = 0;
    pub const EMAIL: usize = 1;
    pub const PHONE: usize = 2;
    pub const DELETED_AT: usize = 3;
    pub const REASON: usize = 4;
    pub const DELETION: usize = 5;
    pub const REMOVED_FROM_LIST: usize = 6;
    /// JSON `[[kind, seq, active id], …]` or NULL.
    pub const CONFLICTS: usize = 7;
    /// JSON `[[resource, position, item id, transferred to], …]` or NULL.
    pub const ITEMS: usize = 8;
    /// JSON object or NULL, decoded by `restore_directory::attributes`.
    pub const ATTRIBUTES: usize = 9;
}

/// A row of the deleted-member statements: a whole member. SQLite keeps
/// timestamps as text and the member's lists as JSON; they are decoded
/// here, the rest is checked in one shared place.
pub(crate) struct DeletedRow(pub SqliteRow);

impl DeletedRow {
    fn get<'r, T>(
        &'r self,
        index: usize,
        table: &'static str,
        tenant: &str,
    ) -> Result<T, DirectoryError>
    where
        T: sqlx::Decode<'r, Sqlite> + sqlx::Type<Sqlite>,
    {
        self.0
            .try_get(index)
            .map_err(|e| db_error(e, table, &self.key(tenant)))
    }

    /// `tenant/member` for errors, naming the member when its id decodes.
    fn key(&self, tenant: &str) -> String {
        member_key(tenant, self.0.try_get::<&str, _>(col::ID).unwrap_or("?"))
    }

    /// A JSON list column; NULL is the empty list.
    fn json_list<T: serde::de::DeserializeOwned>(
        &self,
        index: usize,
        table: &'static str,
        tenant: &str,
        what: &str,
    ) -> Result<Vec<T>, DirectoryError> {
        match self.get::<Option<&str>>(index, table, tenant)? {
            Some(json) => parse_json_column(json, table, || self.key(tenant), what),
            None => Ok(Vec::new()),
        }
    }

    /// The member with its conflicts and items, decoded and checked.
    pub fn member(&self, tenant: &str) -> Result<StoredDeletedMember<'_>, DirectoryError> {
        const MEMBERS: &str = "deleted_members";
        let id: String = self.get(col::ID, MEMBERS, tenant)?;
        let deleted_at: &str = self.get(col::DELETED_AT, MEMBERS, tenant)?;
        let deleted_at = parse_zoned_timestamp(deleted_at).map_err(|e| DirectoryError::BadRow {
            table: MEMBERS,
            key: member_key(tenant, &id),
            reason: format!("deleted_at: {e}"),
        })?;
        let conflicts = self
            .json_list::<(String, i64, String)>(col::CONFLICTS, "members", tenant, "conflicts")?
            .into_iter()
            .map(|(kind, seq, active)| StoredConflict {
                kind,
                seq,
                id: active,
            })
            .collect();
        let items = self
            .json_list::<(String, i64, String, Option<String>)>(
                col::ITEMS,
                "resource_items",
                tenant,
                "items",
            )?
            .into_iter()
            .map(|(resource, position, item, transferred_to)| StoredItem {
                resource,
                position,
                id: item,
                transferred_to,
            })
            .collect();
        Ok(StoredDeletedMember {
            email: self.get(col::EMAIL, MEMBERS, tenant)?,
            phone: self.get(col::PHONE, MEMBERS, tenant)?,
            reason: self.get(col::REASON, MEMBERS, tenant)?,
            deletion: self.get(col::DELETION, MEMBERS, tenant)?,
            deleted_at,
            removed_from_list: self.get(col::REMOVED_FROM_LIST, MEMBERS, tenant)?,
            conflicts,
            items,
            attributes: self.get(col::ATTRIBUTES, MEMBERS, tenant)?,
            id,
        })
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
        other => {
            let hint = crate::busy_hint(&other);
            DirectoryError::backend(format!("sqlite: reading `{table}` ({key}){hint}"), other)
        }
    }
}
