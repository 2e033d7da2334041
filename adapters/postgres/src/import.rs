//! Loading a snapshot file into the database, in one transaction.

use restore_directory::import::{
    already_exists, chunks, deleted_rows, item_rows, member_rows, tenant_rows, ImportSummary,
};
use restore_directory::{DirectoryError, Snapshot};

use crate::{backend, sql, PostgresDirectory};

/// Rows per UNNEST insert: large enough to amortise round trips, small
/// enough to keep the bound arrays modest.
const BATCH: usize = 10_000;

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
        let tenants: Vec<_> = tenant_rows(snapshot).collect();
        for chunk in tenants.chunks(BATCH) {
            // A concurrent import of the same tenant commits between the
            // check above and this insert: ON CONFLICT waits for it and then
            // skips the row, so it is reported like the check's refusal,
            // never as a raw unique violation.
            let inserted: Vec<String> = sqlx::query_scalar(sql::INSERT_TENANTS)
                .bind(column(chunk, |(t, _)| t.id.as_str()))
                .bind(column(chunk, |(t, _)| t.plan.as_str()))
                .bind(column(chunk, |(t, _)| t.seats.total))
                .bind(column(chunk, |(t, _)| t.seats.used))
                .bind(column(chunk, |(_, a)| a.as_deref()))
                .fetch_all(&mut *tx)
                .await
                .map_err(backend("inserting tenants"))?;
            if inserted.len() < chunk.len() {
                let inserted: std::collections::HashSet<&str> =
                    inserted.iter().map(String::as_str).collect();
                let id = chunk
                    .iter()
                    .map(|(t, _)| t.id.as_str())
                    .find(|id| !inserted.contains(id))
                    .unwrap_or_default();
                return Err(already_exists(id));
            }
            summary.tenants += chunk.len();
        }

        for chunk in chunks(member_rows(snapshot), BATCH) {
            sqlx::query(sql::INSERT_MEMBERS)
                .bind(column(&chunk, |r| r.tenant))
                .bind(column(&chunk, |r| r.member.id.as_str()))
                .bind(column(&chunk, |r| r.member.email.as_deref()))
                .bind(column(&chunk, |r| r.email_key.as_deref()))
                .bind(column(&chunk, |r| r.member.phone.as_deref()))
                .bind(column(&chunk, |r| r.roles.as_str()))
                .bind(column(&chunk, |r| r.member.department.as_deref()))
                .bind(column(&chunk, |r| r.attributes.as_deref()))
                .execute(&mut *tx)
                .await
                .map_err(backend("inserting members"))?;
            summary.members += chunk.len();
        }

        for chunk in chunks(deleted_rows(snapshot), BATCH) {
            sqlx::query(sql::INSERT_DELETED)
                .bind(column(&chunk, |r| r.tenant))
                .bind(column(&chunk, |r| r.member.id.as_str()))
                .bind(column(&chunk, |r| r.member.email.as_deref()))
                .bind(column(&chunk, |r| r.email_key.as_deref()))
                .bind(column(&chunk, |r| r.member.phone.as_deref()))
                .bind(column(&chunk, |r| r.member.deleted_at))
                .bind(column(&chunk, |r| r.member.reason.as_str()))
                .bind(column(&chunk, |r| r.member.deletion.as_str()))
                .bind(column(&chunk, |r| r.member.removed_from_list))
                .bind(column(&chunk, |r| r.attributes.as_deref()))
                .execute(&mut *tx)
                .await
                .map_err(backend("inserting deleted members"))?;
            summary.deleted_members += chunk.len();
        }

        for chunk in chunks(item_rows(snapshot), BATCH) {
            let positions = chunk
                .iter()
                .map(|r| i32::try_from(r.position))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| DirectoryError::backend("too many items in one resource", e))?;
            sqlx::query(sql::INSERT_ITEMS)
                .bind(column(&chunk, |r| r.tenant))
                .bind(column(&chunk, |r| r.member))
                .bind(column(&chunk, |r| r.resource))
                .bind(positions)
                .bind(column(&chunk, |r| r.item.id.as_str()))
                .bind(column(&chunk, |r| r.item.transferred_to.as_deref()))
                .execute(&mut *tx)
                .await
                .map_err(backend("inserting resource items"))?;
            summary.resource_items += chunk.len();
        }
        tx.commit().await.map_err(backend("commit"))?;
        summary.count_attributes(snapshot);
        Ok(summary)
    }
}

/// One column of a batch, for an UNNEST parameter.
fn column<'a, R, U>(chunk: &'a [R], value: impl Fn(&'a R) -> U) -> Vec<U> {
    chunk.iter().map(value).collect()
}
