//! Rows as stored, and their checked conversion into engine facts.
//!
//! Every conversion validates what the schema cannot (enum text, seat counts,
//! timestamps, JSON columns) and reports a [`DirectoryError::BadRow`] naming
//! the table and key, never panicking.

use chrono::{DateTime, Utc};
use restore_directory::stored::{
    member_key, StoredActor, StoredConflict, StoredDeletedMember, StoredItem, StoredTenant,
};
use restore_directory::DirectoryError;
use restore_engine::facts::{Actor, TenantFacts};
use sqlx::postgres::{PgRow, PgTypeInfo};
use sqlx::{Column, FromRow, Postgres, Row, TypeInfo};

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
    pub roles: Vec<String>,
    pub attributes: Option<String>,
}

impl ActorRow {
    pub fn into_actor(self, tenant: &str) -> Result<Actor, DirectoryError> {
        StoredActor {
            id: self.id,
            roles: self.roles,
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
    /// Conflicts: `id`, `email` or `phone`; then the active members' `seq`
    /// and id, index by index.
    pub const CONFLICT_KINDS: usize = 7;
    pub const CONFLICT_SEQS: usize = 8;
    pub const CONFLICT_IDS: usize = 9;
    /// Items: resource, position, item id, transferred to, index by index.
    pub const RESOURCES: usize = 10;
    pub const POSITIONS: usize = 11;
    pub const ITEM_IDS: usize = 12;
    pub const TRANSFERRED_TO: usize = 13;
    /// `attributes::text`: a JSON object or NULL.
    pub const ATTRIBUTES: usize = 14;
}

/// A row of the deleted-member statements: a whole member.
pub(crate) struct DeletedRow(pub PgRow);

/// Proof that a result's column types are those [`DeletedRow::member`]
/// decodes: see [`DeletedRow::check_columns`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct ColumnsChecked(());

impl DeletedRow {
    /// Checks every column's type against the Rust type it is decoded as.
    ///
    /// sqlx makes that check on every `try_get`, and for this statement it
    /// costs more than decoding the values (BENCHMARKS.md). All rows of one
    /// result share their column types, so a stream checks its first row and
    /// decodes the rest unchecked with the returned proof. A mismatch (a
    /// schema changed by hand) is a bad row, as a value that does not decode is.
    pub fn check_columns(&self, tenant: &str) -> Result<ColumnsChecked, DirectoryError> {
        const MEMBERS: &str = "deleted_members";
        const ITEMS: &str = "resource_items";
        let checks = [
            expect::<String>(col::ID, MEMBERS),
            expect::<String>(col::EMAIL, MEMBERS),
            expect::<String>(col::PHONE, MEMBERS),
            expect::<DateTime<Utc>>(col::DELETED_AT, MEMBERS),
            expect::<String>(col::REASON, MEMBERS),
            expect::<String>(col::DELETION, MEMBERS),
            expect::<bool>(col::REMOVED_FROM_LIST, MEMBERS),
            expect::<Vec<String>>(col::CONFLICT_KINDS, "members"),
            expect::<Vec<i64>>(col::CONFLICT_SEQS, "members"),
            expect::<Vec<String>>(col::CONFLICT_IDS, "members"),
            expect::<Vec<String>>(col::RESOURCES, ITEMS),
            expect::<Vec<i32>>(col::POSITIONS, ITEMS),
            expect::<Vec<String>>(col::ITEM_IDS, ITEMS),
            expect::<Vec<Option<String>>>(col::TRANSFERRED_TO, ITEMS),
            expect::<String>(col::ATTRIBUTES, MEMBERS),
        ];
        let columns = self.0.columns();
        for (index, table, compatible, expected) in checks {
            let reason = match columns.get(index) {
                Some(column) if compatible(column.type_info()) => continue,
                Some(column) => format!(
                    "column {index} (`{}`) is `{}`, not `{}`",
                    column.name(),
                    column.type_info().name(),
                    expected.name()
                ),
                None => format!("column {index} is missing ({} columns)", columns.len()),
            };
            return Err(DirectoryError::BadRow {
                table,
                key: self.key(tenant),
                reason,
            });
        }
        Ok(ColumnsChecked(()))
    }

    /// Decodes one column, its type known from [`Self::check_columns`].
    fn get<'r, T>(
        &'r self,
        index: usize,
        table: &'static str,
        tenant: &str,
    ) -> Result<T, DirectoryError>
    where
        T: sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>,
    {
        self.0
            .try_get_unchecked(index)
            .map_err(|e| db_error(e, table, &self.key(tenant)))
    }

    /// `tenant/member` for errors, naming the member when its id decodes.
    fn key(&self, tenant: &str) -> String {
        let member = self.0.try_get::<&str, _>(col::ID).unwrap_or("?");
        member_key(tenant, member)
    }

    /// An array column; NULL (no conflicts, no items) is empty.
    fn list<'r, T>(
        &'r self,
        index: usize,
        table: &'static str,
        tenant: &str,
    ) -> Result<Vec<T>, DirectoryError>
    where
        Vec<T>: sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>,
    {
        Ok(self
            .get::<Option<Vec<T>>>(index, table, tenant)?
            .unwrap_or_default())
    }

    /// The member with its conflicts and items, decoded and checked.
    pub fn member(
        &self,
        tenant: &str,
        _columns: ColumnsChecked,
    ) -> Result<StoredDeletedMember<'_>, DirectoryError> {
        const MEMBERS: &str = "deleted_members";
        let id: String = self.get(col::ID, MEMBERS, tenant)?;
        let key = || member_key(tenant, &id);

        // Each list's arrays come from one LEFT JOINed aggregate: all NULL
        // (most members: nothing listed) or all present. The first array
        // decides, so the usual member costs one NULL per list, not 3 and 4.
        let mut conflicts = Vec::new();
        if let Some(kinds) =
            self.get::<Option<Vec<String>>>(col::CONFLICT_KINDS, "members", tenant)?
        {
            let seqs: Vec<i64> = self.list(col::CONFLICT_SEQS, "members", tenant)?;
            let ids: Vec<String> = self.list(col::CONFLICT_IDS, "members", tenant)?;
            same_length("members", key, &[kinds.len(), seqs.len(), ids.len()])?;
            conflicts = kinds
                .into_iter()
                .zip(seqs)
                .zip(ids)
                .map(|((kind, seq), active)| StoredConflict {
                    kind,
                    seq,
                    id: active,
                })
                .collect();
        }

        let mut items = Vec::new();
        if let Some(resources) =
            self.get::<Option<Vec<String>>>(col::RESOURCES, "resource_items", tenant)?
        {
            let positions: Vec<i32> = self.list(col::POSITIONS, "resource_items", tenant)?;
            let item_ids: Vec<String> = self.list(col::ITEM_IDS, "resource_items", tenant)?;
            let transferred: Vec<Option<String>> =
                self.list(col::TRANSFERRED_TO, "resource_items", tenant)?;
            same_length(
                "resource_items",
                key,
                &[
                    resources.len(),
                    positions.len(),
                    item_ids.len(),
                    transferred.len(),
                ],
            )?;
            items = resources
                .into_iter()
                .zip(positions)
                .zip(item_ids)
                .zip(transferred)
                .map(
                    |(((resource, position), item), transferred_to)| StoredItem {
                        resource,
                        position: position.into(),
                        id: item,
                        transferred_to,
                    },
                )
                .collect();
        }

        Ok(StoredDeletedMember {
            email: self.get(col::EMAIL, MEMBERS, tenant)?,
            phone: self.get(col::PHONE, MEMBERS, tenant)?,
            deleted_at: self.get::<DateTime<Utc>>(col::DELETED_AT, MEMBERS, tenant)?,
            reason: self.get(col::REASON, MEMBERS, tenant)?,
            deletion: self.get(col::DELETION, MEMBERS, tenant)?,
            removed_from_list: self.get(col::REMOVED_FROM_LIST, MEMBERS, tenant)?,
            conflicts,
            items,
            attributes: self.get(col::ATTRIBUTES, MEMBERS, tenant)?,
            id,
        })
    }
}

/// A column's expected type: index, table named on error, the check, the
/// type's name.
type Expected = (usize, &'static str, fn(&PgTypeInfo) -> bool, PgTypeInfo);

fn expect<T: sqlx::Type<Postgres>>(index: usize, table: &'static str) -> Expected {
    (index, table, T::compatible, T::type_info())
}

/// Whether parallel arrays of one aggregate have the same length (they
/// always do unless the statement was changed).
fn same_length(
    table: &'static str,
    key: impl FnOnce() -> String,
    lengths: &[usize],
) -> Result<(), DirectoryError> {
    if lengths.windows(2).all(|w| w.first() == w.last()) {
        Ok(())
    } else {
        Err(DirectoryError::BadRow {
            table,
            key: key(),
            reason: format!("aggregated columns differ in length: {lengths:?}"),
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
            let hint = crate::timeout_hint(&other);
            DirectoryError::backend(format!("postgres: reading `{table}` ({key}){hint}"), other)
        }
    }
}
