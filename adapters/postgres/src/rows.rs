//! Rows as stored, and their checked conversion into engine facts.
//!
//! Every conversion validates what the schema cannot (enum text, seat counts,
//! timestamps, JSON columns) and reports a [`DirectoryError::BadRow`] naming
//! the table and key, never panicking.

use chrono::{DateTime, Utc};
use restore_directory::stored::{
    member_key, ConflictKind, DeletedMemberRow, MemberPart, StoredConflict, StoredDeletedMember,
    StoredItem, StoredTenant,
};
use restore_directory::DirectoryError;
use restore_engine::facts::{Actor, TenantFacts};
use sqlx::postgres::PgRow;
use sqlx::{FromRow, Postgres, Row};

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

/// Column positions of [`crate::sql::DELETED_MEMBERS`] and
/// [`crate::sql::DELETED_MEMBER`] (read by position: this runs for every
/// row), and what each part keeps in them.
mod col {
    pub const MEMBER: usize = 0;
    /// 0: the member, 1: a conflict, 2: a resource item.
    pub const PART: usize = 1;
    /// Member: email. Conflict: `id`, `email` or `phone`. Item: resource.
    pub const T1: usize = 2;
    /// Member: phone. Conflict: the active member's id. Item: item id.
    pub const T2: usize = 3;
    /// Member: deletion reason. Item: transferred to.
    pub const T3: usize = 4;
    /// Member: deletion state.
    pub const T4: usize = 5;
    /// Member: deleted at.
    pub const TS: usize = 6;
    /// Conflict: the active member's `seq`. Item: position.
    pub const N: usize = 7;
    /// Member: removed from the list.
    pub const FLAG: usize = 8;
}

/// A row of the deleted-member statements: one part of a member.
pub(crate) struct DeletedRow(pub PgRow);

impl DeletedRow {
    fn get<'r, T>(
        &'r self,
        index: usize,
        table: &'static str,
        tenant: &str,
    ) -> Result<T, DirectoryError>
    where
        T: sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>,
    {
        self.0.try_get(index).map_err(|e| {
            // Name the member when its id decodes.
            let member = self.0.try_get::<&str, _>(col::MEMBER).unwrap_or("?");
            db_error(e, table, &member_key(tenant, member))
        })
    }
}

impl DeletedMemberRow for DeletedRow {
    fn member_id(&self, tenant: &str) -> Result<&str, DirectoryError> {
        self.get(col::MEMBER, "deleted_members", tenant)
    }

    fn part(&self, tenant: &str) -> Result<MemberPart, DirectoryError> {
        const MEMBERS: &str = "deleted_members";
        match self.get::<i32>(col::PART, MEMBERS, tenant)? {
            0 => Ok(MemberPart::Member(StoredDeletedMember {
                id: self.get(col::MEMBER, MEMBERS, tenant)?,
                email: self.get(col::T1, MEMBERS, tenant)?,
                phone: self.get(col::T2, MEMBERS, tenant)?,
                reason: self.get(col::T3, MEMBERS, tenant)?,
                deletion: self.get(col::T4, MEMBERS, tenant)?,
                deleted_at: self.get::<DateTime<Utc>>(col::TS, MEMBERS, tenant)?,
                removed_from_list: self.get(col::FLAG, MEMBERS, tenant)?,
                conflicts: Vec::new(),
                items: Vec::new(),
            })),
            1 => {
                let kind: &str = self.get(col::T1, "members", tenant)?;
                let kind = ConflictKind::parse(kind).ok_or_else(|| DirectoryError::BadRow {
                    table: "members",
                    key: member_key(tenant, self.member_id(tenant).unwrap_or("?")),
                    reason: format!("unknown conflict kind `{kind}`"),
                })?;
                Ok(MemberPart::Conflict(StoredConflict {
                    kind,
                    id: self.get(col::T2, "members", tenant)?,
                    seq: self.get(col::N, "members", tenant)?,
                }))
            }
            2 => Ok(MemberPart::Item(StoredItem {
                resource: self.get(col::T1, "resource_items", tenant)?,
                id: self.get(col::T2, "resource_items", tenant)?,
                transferred_to: self.get(col::T3, "resource_items", tenant)?,
                position: self.get(col::N, "resource_items", tenant)?,
            })),
            other => Err(DirectoryError::BadRow {
                table: MEMBERS,
                key: member_key(tenant, self.member_id(tenant).unwrap_or("?")),
                reason: format!("unknown row part `{other}`"),
            }),
        }
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
