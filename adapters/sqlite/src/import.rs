//! Loading a snapshot file into the database, in one transaction.

use chrono::SecondsFormat;
use restore_directory::import::{
    already_exists, chunks, deleted_rows, item_rows, member_rows, tenant_rows, ImportSummary,
};
use restore_directory::{DirectoryError, Snapshot};
use sqlx::{QueryBuilder, Sqlite};

use crate::{backend, sql, SqliteDirectory};

/// Rows per multi-row INSERT; keeps binds below SQLite's variable limit.
const BATCH: usize = 1000;

impl SqliteDirectory {
    /// Loads a whole snapshot in one transaction. A tenant that already
    /// exists is refused with [`DirectoryError::Conflict`] and nothing is
    /// written.
    pub async fn import(&self, snapshot: &Snapshot) -> Result<ImportSummary, DirectoryError> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(backend("begin immediate"))?;
        for tenant in &snapshot.tenants {
            let existing: Option<(String,)> = sqlx::query_as(sql::TENANT_EXISTS)
                .bind(&tenant.id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend("checking tenants"))?;
            if existing.is_some() {
                return Err(already_exists(&tenant.id));
            }
        }
        let mut summary = ImportSummary::default();
        for chunk in chunks(tenant_rows(snapshot), BATCH) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO tenants (id, plan, seats_total, seats_used, attributes) ",
            );
            q.push_values(&chunk, |mut b, (t, attributes)| {
                b.push_bind(&t.id)
                    .push_bind(t.plan.as_str())
                    .push_bind(t.seats.total)
                    .push_bind(t.seats.used)
                    .push_bind(attributes);
            });
            q.build()
                .execute(&mut *tx)
                .await
                .map_err(backend("inserting tenants"))?;
            summary.tenants += chunk.len();
        }

        for chunk in chunks(member_rows(snapshot), BATCH) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO members (tenant_id, id, email, email_key, phone, roles, department, \
                 attributes) ",
            );
            q.push_values(&chunk, |mut b, r| {
                b.push_bind(r.tenant)
                    .push_bind(&r.member.id)
                    .push_bind(&r.member.email)
                    .push_bind(&r.email_key)
                    .push_bind(&r.member.phone)
                    .push_bind(&r.roles)
                    .push_bind(&r.member.department)
                    .push_bind(&r.attributes);
            });
            q.build()
                .execute(&mut *tx)
                .await
                .map_err(backend("inserting members"))?;
            summary.members += chunk.len();
        }

        for chunk in chunks(deleted_rows(snapshot), BATCH) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO deleted_members (tenant_id, id, email, email_key, phone, deleted_at, \
                 reason, deletion, removed_from_list, attributes) ",
            );
            q.push_values(&chunk, |mut b, r| {
                let m = r.member;
                b.push_bind(r.tenant)
                    .push_bind(&m.id)
                    .push_bind(&m.email)
                    .push_bind(&r.email_key)
                    .push_bind(&m.phone)
                    .push_bind(m.deleted_at.to_rfc3339_opts(SecondsFormat::AutoSi, true))
                    .push_bind(m.reason.as_str())
                    .push_bind(m.deletion.as_str())
                    .push_bind(m.removed_from_list)
                    .push_bind(&r.attributes);
            });
            q.build()
                .execute(&mut *tx)
                .await
                .map_err(backend("inserting deleted members"))?;
            summary.deleted_members += chunk.len();
        }

        for chunk in chunks(item_rows(snapshot), BATCH) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO resource_items (tenant_id, member_id, resource, position, item_id, \
                 transferred_to) ",
            );
            q.push_values(&chunk, |mut b, r| {
                b.push_bind(r.tenant)
                    .push_bind(r.member)
                    .push_bind(r.resource)
                    .push_bind(r.position)
                    .push_bind(&r.item.id)
                    .push_bind(&r.item.transferred_to);
            });
            q.build()
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
