//! Loading a snapshot file into the database, in one transaction.

use restore_directory::{DirectoryError, Snapshot};
use restore_engine::facts::email_key;

use crate::{backend, sql, PostgresDirectory};

/// Rows per UNNEST insert: large enough to amortise round trips, small
/// enough to keep the bound arrays modest.
const BATCH: usize = 10_000;

/// What an import wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportSummary {
    pub tenants: usize,
    pub members: usize,
    pub deleted_members: usize,
    pub resource_items: usize,
}

impl PostgresDirectory {
    /// Loads a whole snapshot in one transaction. A tenant that already
    /// exists is refused with [`DirectoryError::Conflict`] and nothing is
    /// written.
    pub async fn import(&self, snapshot: &Snapshot) -> Result<ImportSummary, DirectoryError> {
        let mut tx = self.pool.begin().await.map_err(backend("begin"))?;
        let ids: Vec<&str> = snapshot.tenants.iter().map(|t| t.id.as_str()).collect();
        let existing: Vec<(String,)> = sqlx::query_as(sql::EXISTING_TENANTS)
            .bind(&ids)
            .fetch_all(&mut *tx)
            .await
            .map_err(backend("checking tenants"))?;
        if let Some((id,)) = existing.first() {
            return Err(already_exists(id));
        }
        let mut summary = ImportSummary::default();
        for chunk in snapshot.tenants.chunks(BATCH) {
            // A concurrent import of the same tenant commits between the
            // check above and this insert: ON CONFLICT waits for it and then
            // skips the row, so it is reported like the check's refusal,
            // never as a raw unique violation.
            let inserted: Vec<String> = sqlx::query_scalar(sql::INSERT_TENANTS)
                .bind(column(chunk, |t| t.id.as_str()))
                .bind(column(chunk, |t| t.plan.as_str()))
                .bind(column(chunk, |t| t.seats.total))
                .bind(column(chunk, |t| t.seats.used))
                .fetch_all(&mut *tx)
                .await
                .map_err(backend("inserting tenants"))?;
            if inserted.len() < chunk.len() {
                let inserted: std::collections::HashSet<&str> =
                    inserted.iter().map(String::as_str).collect();
                let id = chunk
                    .iter()
                    .map(|t| t.id.as_str())
                    .find(|id| !inserted.contains(id))
                    .unwrap_or_default();
                return Err(already_exists(id));
            }
            summary.tenants += chunk.len();
        }

        let members = snapshot
            .tenants
            .iter()
            .flat_map(|t| t.members.iter().map(move |m| (t.id.as_str(), m)));
        for chunk in chunks(members) {
            let roles = chunk
                .iter()
                .map(|(_, m)| serde_json::to_string(&m.roles))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| DirectoryError::backend("encoding roles", e))?;
            sqlx::query(sql::INSERT_MEMBERS)
                .bind(column(&chunk, |(t, _)| *t))
                .bind(column(&chunk, |(_, m)| m.id.as_str()))
                .bind(column(&chunk, |(_, m)| m.email.as_deref()))
                .bind(column(&chunk, |(_, m)| m.email.as_deref().map(email_key)))
                .bind(column(&chunk, |(_, m)| m.phone.as_deref()))
                .bind(roles)
                .bind(column(&chunk, |(_, m)| m.department.as_deref()))
                .execute(&mut *tx)
                .await
                .map_err(backend("inserting members"))?;
            summary.members += chunk.len();
        }

        let deleted = snapshot
            .tenants
            .iter()
            .flat_map(|t| t.deleted_members.iter().map(move |m| (t.id.as_str(), m)));
        for chunk in chunks(deleted) {
            sqlx::query(sql::INSERT_DELETED)
                .bind(column(&chunk, |(t, _)| *t))
                .bind(column(&chunk, |(_, m)| m.id.as_str()))
                .bind(column(&chunk, |(_, m)| m.email.as_deref()))
                .bind(column(&chunk, |(_, m)| m.email.as_deref().map(email_key)))
                .bind(column(&chunk, |(_, m)| m.phone.as_deref()))
                .bind(column(&chunk, |(_, m)| m.deleted_at))
                .bind(column(&chunk, |(_, m)| m.reason.as_str()))
                .bind(column(&chunk, |(_, m)| m.deletion.as_str()))
                .bind(column(&chunk, |(_, m)| m.removed_from_list))
                .execute(&mut *tx)
                .await
                .map_err(backend("inserting deleted members"))?;
            summary.deleted_members += chunk.len();
        }

        let items = snapshot.tenants.iter().flat_map(|t| {
            t.deleted_members.iter().flat_map(move |m| {
                m.resources.iter().flat_map(move |(resource, items)| {
                    items.iter().enumerate().map(move |(i, item)| {
                        (t.id.as_str(), m.id.as_str(), resource.as_str(), i, item)
                    })
                })
            })
        });
        for chunk in chunks(items) {
            let positions = chunk
                .iter()
                .map(|(.., i, _)| i32::try_from(*i))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| DirectoryError::backend("too many items in one resource", e))?;
            sqlx::query(sql::INSERT_ITEMS)
                .bind(column(&chunk, |r| r.0))
                .bind(column(&chunk, |r| r.1))
                .bind(column(&chunk, |r| r.2))
                .bind(positions)
                .bind(column(&chunk, |r| r.4.id.as_str()))
                .bind(column(&chunk, |r| r.4.transferred_to.as_deref()))
                .execute(&mut *tx)
                .await
                .map_err(backend("inserting resource items"))?;
            summary.resource_items += chunk.len();
        }
        tx.commit().await.map_err(backend("commit"))?;
        Ok(summary)
    }
}

/// The documented refusal of an import that names an existing tenant
/// (the transaction rolls back when dropped: nothing is written).
fn already_exists(tenant: &str) -> DirectoryError {
    DirectoryError::Conflict(format!(
        "tenant `{tenant}` already exists in the directory; nothing was imported"
    ))
}

/// One column of a batch, for an UNNEST parameter.
fn column<'a, R, U>(chunk: &'a [R], value: impl Fn(&'a R) -> U) -> Vec<U> {
    chunk.iter().map(value).collect()
}

/// Splits an iterator into vectors of [`BATCH`] items, lazily.
fn chunks<T>(iter: impl Iterator<Item = T>) -> impl Iterator<Item = Vec<T>> {
    let mut iter = iter.peekable();
    std::iter::from_fn(move || {
        iter.peek()?;
        Some(iter.by_ref().take(BATCH).collect())
    })
}
