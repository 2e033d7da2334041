//! Loading a snapshot file into the database, in one transaction.

use chrono::SecondsFormat;
use restore_directory::{DirectoryError, Snapshot};
use restore_engine::facts::email_key;
use sqlx::{QueryBuilder, Sqlite};

use crate::{backend, sql, SqliteDirectory};

/// Rows per multi-row INSERT; keeps binds below SQLite's variable limit.
const BATCH: usize = 1000;

/// What an import wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportSummary {
    pub tenants: usize,
    pub members: usize,
    pub deleted_members: usize,
    pub resource_items: usize,
}

/// One resource item with its owner, flattened for batching.
struct ItemRow<'s> {
    tenant: &'s str,
    member: &'s str,
    resource: &'s str,
    position: i64,
    id: &'s str,
    transferred_to: Option<&'s str>,
}

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
                return Err(DirectoryError::Conflict(format!(
                    "tenant `{}` already exists in the directory; nothing was imported",
                    tenant.id
                )));
            }
        }
        let mut summary = ImportSummary::default();
        for chunk in snapshot.tenants.chunks(BATCH) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO tenants (id, plan, seats_total, seats_used) ",
            );
            q.push_values(chunk, |mut b, t| {
                b.push_bind(&t.id)
                    .push_bind(t.plan.as_str())
                    .push_bind(t.seats.total)
                    .push_bind(t.seats.used);
            });
            q.build()
                .execute(&mut *tx)
                .await
                .map_err(backend("inserting tenants"))?;
            summary.tenants += chunk.len();
        }

        let members = snapshot
            .tenants
            .iter()
            .flat_map(|t| t.members.iter().map(move |m| (t.id.as_str(), m)));
        for chunk in chunks(members) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO members (tenant_id, id, email, email_key, phone, roles, department) ",
            );
            let mut bad = None;
            q.push_values(&chunk, |mut b, (tenant, m)| {
                let roles = serde_json::to_string(&m.roles).unwrap_or_else(|e| {
                    bad = Some(e.to_string());
                    String::new()
                });
                b.push_bind(*tenant)
                    .push_bind(&m.id)
                    .push_bind(&m.email)
                    .push_bind(m.email.as_deref().map(email_key))
                    .push_bind(&m.phone)
                    .push_bind(roles)
                    .push_bind(&m.department);
            });
            if let Some(reason) = bad {
                return Err(DirectoryError::Unsupported(format!(
                    "cannot encode roles: {reason}"
                )));
            }
            q.build()
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
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO deleted_members (tenant_id, id, email, email_key, phone, deleted_at, \
                 reason, deletion, removed_from_list) ",
            );
            q.push_values(&chunk, |mut b, (tenant, m)| {
                b.push_bind(*tenant)
                    .push_bind(&m.id)
                    .push_bind(&m.email)
                    .push_bind(m.email.as_deref().map(email_key))
                    .push_bind(&m.phone)
                    .push_bind(m.deleted_at.to_rfc3339_opts(SecondsFormat::AutoSi, true))
                    .push_bind(m.reason.as_str())
                    .push_bind(m.deletion.as_str())
                    .push_bind(m.removed_from_list);
            });
            q.build()
                .execute(&mut *tx)
                .await
                .map_err(backend("inserting deleted members"))?;
            summary.deleted_members += chunk.len();
        }

        let items = snapshot.tenants.iter().flat_map(|t| {
            t.deleted_members.iter().flat_map(move |m| {
                m.resources.iter().flat_map(move |(resource, items)| {
                    items.iter().enumerate().map(move |(i, item)| ItemRow {
                        tenant: &t.id,
                        member: &m.id,
                        resource,
                        position: i as i64,
                        id: &item.id,
                        transferred_to: item.transferred_to.as_deref(),
                    })
                })
            })
        });
        for chunk in chunks(items) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO resource_items (tenant_id, member_id, resource, position, item_id, \
                 transferred_to) ",
            );
            q.push_values(&chunk, |mut b, r| {
                b.push_bind(r.tenant)
                    .push_bind(r.member)
                    .push_bind(r.resource)
                    .push_bind(r.position)
                    .push_bind(r.id)
                    .push_bind(r.transferred_to);
            });
            q.build()
                .execute(&mut *tx)
                .await
                .map_err(backend("inserting resource items"))?;
            summary.resource_items += chunk.len();
        }
        tx.commit().await.map_err(backend("commit"))?;
        Ok(summary)
    }
}

/// Splits an iterator into vectors of [`BATCH`] items, lazily.
fn chunks<T>(iter: impl Iterator<Item = T>) -> impl Iterator<Item = Vec<T>> {
    let mut iter = iter.peekable();
    std::iter::from_fn(move || {
        iter.peek()?;
        Some(iter.by_ref().take(BATCH).collect())
    })
}
