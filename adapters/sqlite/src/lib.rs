//! SQLite [`Directory`] adapter (sqlx, WAL mode).
//!
//! Layout: `tenants`, `members` (active), `deleted_members`, `resource_items`
//! and `audit`; see `migrations/`. Conflicts (F11, F12) are computed in SQL
//! against indexed columns; email conflicts compare
//! [`restore_engine::facts::email_key`], computed in Rust at write time and
//! stored in `email_key`, so every backend agrees with the memory adapter.
//!
//! Restores run in a `BEGIN IMMEDIATE` transaction: it takes SQLite's write
//! lock before the facts are read, so two restores serialise and the second
//! one decides on what the first one committed (a busy timeout makes it wait
//! rather than fail).
//!
//! Known difference from the memory adapter: a resource listed with no
//! items in a snapshot reads back as absent (no rows); the engine treats both
//! the same way ("a resource not listed has no items").

mod import;
pub mod open;
mod rows;
mod sql;

use std::path::Path;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use restore_directory::attributes::encode;
use restore_directory::restore::AuditRow as NewAuditRow;
use restore_directory::stored::member_key;
use restore_directory::{
    read_facts, restore_with, Access, Decide, Directory, DirectoryError, DirectoryUrl, ItemPlan,
    Reactivation, RestoreOutcome, RestoreRequest, RestoreStore,
};
use restore_engine::facts::{email_key, Actor, Facts, TenantFacts};
use sqlx::sqlite::SqlitePool;
use sqlx::{FromRow, SqliteConnection, SqliteExecutor};

pub use restore_directory::ImportSummary;
use rows::{db_error, ActorRow, DeletedRow, TenantRow};

/// The statement behind [`Directory::deleted_members`] (one parameter: the
/// tenant), so that benchmarks can time the query apart from the mapping.
#[doc(hidden)]
pub const DELETED_MEMBERS_SQL: &str = sql::DELETED_MEMBERS;

/// A directory stored in one SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteDirectory {
    pool: SqlitePool,
}

/// One restore recorded in the `audit` table.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct AuditRow {
    pub id: i64,
    pub member_id: String,
    pub actor: String,
    pub at: String,
    pub department: String,
    pub policy_name: String,
    pub policy_version: String,
    pub digest: String,
    /// The decision as JSON.
    pub decision: String,
}

impl SqliteDirectory {
    /// Opens (creating it if missing) the database a `sqlite:PATH` URL names
    /// and brings its schema up to date: what `import` does. An existing
    /// file that is not a directory database is refused ([`open::open_with`]).
    pub async fn connect(url: &str) -> Result<Self, DirectoryError> {
        match DirectoryUrl::parse(url)? {
            DirectoryUrl::Sqlite(path) => Self::open_with(&path, Access::Create).await,
            other => Err(DirectoryError::Unsupported(format!(
                "`{other}` is not a sqlite: URL"
            ))),
        }
    }

    /// Opens an existing directory database for reading and writing
    /// (`restore`); a missing file is an error rather than a new empty
    /// directory (a mistyped path should not look empty).
    pub async fn open(path: &Path) -> Result<Self, DirectoryError> {
        Self::open_with(path, Access::ReadWrite).await
    }

    /// Opens an existing directory database read-only: no schema change,
    /// no journal-mode change, every write refused by SQLite itself.
    pub async fn open_read_only(path: &Path) -> Result<Self, DirectoryError> {
        Self::open_with(path, Access::ReadOnly).await
    }

    /// The connection pool (tooling, tests and benchmarks).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Audit rows of `tenant`, oldest first.
    pub async fn audit(&self, tenant: &str) -> Result<Vec<AuditRow>, DirectoryError> {
        sqlx::query_as::<_, AuditRow>(sql::AUDIT)
            .bind(tenant)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| db_error(e, "audit", tenant))
    }

    /// Department of an active member, if the member exists and has one.
    pub async fn department(
        &self,
        tenant: &str,
        member: &str,
    ) -> Result<Option<String>, DirectoryError> {
        let row: Option<(Option<String>,)> = sqlx::query_as(sql::DEPARTMENT)
            .bind(tenant)
            .bind(member)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| db_error(e, "members", &format!("{tenant}/{member}")))?;
        Ok(row.and_then(|(d,)| d))
    }

    /// Ids of restored items of a member's resource, in position order.
    pub async fn restored_items(
        &self,
        tenant: &str,
        member: &str,
        resource: &str,
    ) -> Result<Vec<String>, DirectoryError> {
        let rows: Vec<(String,)> = sqlx::query_as(sql::RESTORED_ITEMS)
            .bind(tenant)
            .bind(member)
            .bind(resource)
            .fetch_all(&self.pool)
            .await
            .map_err(|e| db_error(e, "resource_items", &format!("{tenant}/{member}")))?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    /// Closes the pool, checkpointing the WAL.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn backend(context: &str) -> impl FnOnce(sqlx::Error) -> DirectoryError + '_ {
    move |e| {
        let hint = busy_hint(&e);
        DirectoryError::backend(format!("sqlite: {context}{hint}"), e)
    }
}

/// Names the URL parameter behind SQLITE_BUSY ("database is locked"): the
/// busy timeout ran out while another connection held the write lock.
pub(crate) fn busy_hint(e: &sqlx::Error) -> &'static str {
    let code = e.as_database_error().and_then(|d| d.code());
    // Extended result codes keep the primary code in the low byte.
    match code.and_then(|c| c.parse::<i32>().ok()) {
        Some(code) if code & 0xff == 5 => {
            " (another connection held the write lock past the busy timeout: see `?busy_timeout=` in the directory URL)"
        }
        _ => "",
    }
}

/// Commits on success; rolls back explicitly on failure, so that no
/// connection goes back to the pool idle in a transaction holding locks.
async fn finish<T>(
    tx: sqlx::Transaction<'static, sqlx::Sqlite>,
    result: Result<T, DirectoryError>,
) -> Result<T, DirectoryError> {
    match result {
        Ok(value) => {
            tx.commit().await.map_err(backend("commit"))?;
            Ok(value)
        }
        Err(e) => {
            // The original error matters more than a failed rollback, which
            // also ends the transaction by closing the connection.
            let _ = tx.rollback().await;
            Err(e)
        }
    }
}

/// The storage steps of a restore (and of every read of one member), on
/// `conn` inside a transaction the caller owns.
struct Store<'c> {
    conn: &'c mut SqliteConnection,
}

#[async_trait]
impl RestoreStore for Store<'_> {
    async fn tenant(&mut self, tenant: &str) -> Result<TenantFacts, DirectoryError> {
        load_tenant(&mut *self.conn, tenant).await
    }

    async fn actor(&mut self, tenant: &TenantFacts, actor: &str) -> Result<Actor, DirectoryError> {
        load_actor(&mut *self.conn, &tenant.id, actor).await
    }

    async fn member(
        &mut self,
        tenant: &TenantFacts,
        member: &str,
        actor: Option<Actor>,
    ) -> Result<Facts, DirectoryError> {
        let row = sqlx::query(sql::DELETED_MEMBER)
            .bind(&*tenant.id)
            .bind(member)
            .map(DeletedRow)
            .fetch_optional(&mut *self.conn)
            .await
            .map_err(|e| db_error(e, "deleted_members", &member_key(&tenant.id, member)))?
            .ok_or_else(|| DirectoryError::UnknownMember {
                tenant: tenant.id.to_string(),
                member: member.to_owned(),
            })?;
        row.member(&tenant.id)?.into_facts(tenant, actor)
    }

    async fn reactivate(&mut self, r: &Reactivation<'_>) -> Result<(), DirectoryError> {
        let member = r.member;
        sqlx::query(sql::MARK_RESTORED)
            .bind(timestamp(r.at))
            .bind(r.tenant)
            .bind(&member.id)
            .execute(&mut *self.conn)
            .await
            .map_err(backend("marking the member restored"))?;
        sqlx::query(sql::INSERT_ACTIVE)
            .bind(r.tenant)
            .bind(&member.id)
            .bind(&member.email)
            .bind(member.email.as_deref().map(email_key))
            .bind(&member.phone)
            .bind(r.department)
            // Its attributes come back with it: an actor's afterwards.
            .bind(encode(&member.attributes))
            .execute(&mut *self.conn)
            .await
            .map_err(|e| match e {
                sqlx::Error::Database(db) if db.is_unique_violation() => {
                    DirectoryError::Conflict(format!(
                        "an active member `{}` already exists in tenant `{}`",
                        member.id, r.tenant
                    ))
                }
                other => DirectoryError::backend("sqlite: reactivating the member", other),
            })?;
        Ok(())
    }

    async fn take_seat(&mut self, tenant: &str) -> Result<i64, DirectoryError> {
        let (seats_used,): (i64,) = sqlx::query_as(sql::TAKE_SEAT)
            .bind(tenant)
            .fetch_one(&mut *self.conn)
            .await
            .map_err(backend("allocating a seat"))?;
        Ok(seats_used)
    }

    async fn restore_items(&mut self, plan: &ItemPlan<'_>) -> Result<u32, DirectoryError> {
        let names = |list: &[&str]| serde_json::to_string(list).unwrap_or_else(|_| "[]".into());
        let done = sqlx::query(sql::RESTORE_ITEMS)
            .bind(plan.tenant)
            .bind(&plan.member.id)
            .bind(names(&plan.restored))
            .bind(names(&plan.transfer_dependent))
            .execute(&mut *self.conn)
            .await
            .map_err(backend("restoring resource items"))?;
        u32::try_from(done.rows_affected()).map_err(|_| DirectoryError::Overflow {
            tenant: plan.tenant.to_owned(),
            what: format!("the count of restored items of `{}`", plan.member.id),
        })
    }

    async fn audit(&mut self, row: &NewAuditRow<'_>) -> Result<i64, DirectoryError> {
        let decision = row.decision;
        let decision_json = serde_json::to_string(decision)
            .map_err(|e| DirectoryError::backend("encoding the decision", e))?;
        let (audit_id,): (i64,) = sqlx::query_as(sql::INSERT_AUDIT)
            .bind(row.tenant)
            .bind(row.member)
            .bind(row.actor)
            .bind(timestamp(row.at))
            .bind(row.department)
            .bind(&*decision.policy.name)
            .bind(&*decision.policy.version)
            .bind(&*decision.policy.digest)
            .bind(decision_json)
            .fetch_one(&mut *self.conn)
            .await
            .map_err(backend("writing the audit row"))?;
        Ok(audit_id)
    }
}

/// A timestamp as the tables store it: RFC 3339 in UTC.
fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

async fn load_tenant<'e>(
    executor: impl SqliteExecutor<'e>,
    tenant: &str,
) -> Result<TenantFacts, DirectoryError> {
    sqlx::query_as::<_, TenantRow>(sql::TENANT)
        .bind(tenant)
        .fetch_optional(executor)
        .await
        .map_err(|e| db_error(e, "tenants", tenant))?
        .ok_or_else(|| DirectoryError::UnknownTenant {
            tenant: tenant.to_owned(),
        })?
        .into_facts()
}

async fn load_actor<'e>(
    executor: impl SqliteExecutor<'e>,
    tenant: &str,
    actor: &str,
) -> Result<Actor, DirectoryError> {
    let key = member_key(tenant, actor);
    sqlx::query_as::<_, ActorRow>(sql::ACTOR)
        .bind(tenant)
        .bind(actor)
        .fetch_optional(executor)
        .await
        .map_err(|e| db_error(e, "members", &key))?
        .ok_or_else(|| DirectoryError::UnknownActor {
            tenant: tenant.to_owned(),
            actor: actor.to_owned(),
        })?
        .into_actor(tenant)
}

#[async_trait]
impl Directory for SqliteDirectory {
    #[tracing::instrument(
        name = "directory.facts",
        level = "debug",
        skip(self),
        fields(adapter = "sqlite"),
        err(Display)
    )]
    async fn facts(
        &self,
        tenant: &str,
        member: &str,
        actor: Option<&str>,
    ) -> Result<Facts, DirectoryError> {
        // One read transaction, so tenant, actor and member are one snapshot.
        let mut tx = self.pool.begin().await.map_err(backend("begin"))?;
        let result = read_facts(&mut Store { conn: &mut tx }, tenant, member, actor).await;
        finish(tx, result).await
    }

    #[tracing::instrument(
        name = "directory.tenants",
        level = "debug",
        skip(self),
        fields(adapter = "sqlite"),
        err(Display)
    )]
    async fn tenants(&self) -> Result<Vec<String>, DirectoryError> {
        sqlx::query_scalar::<_, String>("SELECT id FROM tenants ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .map_err(backend("listing tenants"))
    }

    fn deleted_members<'a>(
        &'a self,
        tenant: &'a str,
        actor: Option<&'a str>,
    ) -> BoxStream<'a, Result<Facts, DirectoryError>> {
        let head = async move {
            let tenant_facts = load_tenant(&self.pool, tenant).await?;
            let actor = match actor {
                Some(actor) => Some(load_actor(&self.pool, tenant, actor).await?),
                None => None,
            };
            // One statement streamed row by row, a whole member per row;
            // nothing is collected.
            let rows = sqlx::query(sql::DELETED_MEMBERS)
                .bind(tenant)
                .map(DeletedRow)
                .fetch(&self.pool);
            Ok::<_, DirectoryError>(rows.map(move |row| {
                row.map_err(|e| db_error(e, "deleted_members", tenant))?
                    .member(tenant)?
                    .into_facts(&tenant_facts, actor.clone())
            }))
        };
        stream::once(head).try_flatten().boxed()
    }

    #[tracing::instrument(
        name = "directory.apply_restore",
        level = "debug",
        skip_all,
        fields(adapter = "sqlite", tenant = %request.tenant, member = %request.member, actor = %request.actor),
        err(Display)
    )]
    async fn apply_restore(
        &self,
        request: &RestoreRequest,
        decide: &Decide,
    ) -> Result<RestoreOutcome, DirectoryError> {
        request.check()?;
        // Take the write lock first: the facts read below stay true until commit.
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(backend("begin immediate"))?;
        let outcome = restore_with(&mut Store { conn: &mut tx }, request, decide).await;
        match outcome {
            Ok(RestoreOutcome::Denied(decision)) => {
                // Nothing was written; release the lock.
                tx.rollback().await.map_err(backend("rollback"))?;
                Ok(RestoreOutcome::Denied(decision))
            }
            other => finish(tx, other).await,
        }
    }
}
