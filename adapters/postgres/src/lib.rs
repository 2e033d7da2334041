//! PostgreSQL [`Directory`] adapter (sqlx).
//!
//! Layout: `tenants`, `members` (active), `deleted_members`, `resource_items`
//! and `audit`; see `migrations/`. Conflicts (F11, F12) are computed in SQL
//! against indexed columns; email conflicts compare
//! [`restore_engine::facts::email_key`], computed in Rust at write time and
//! stored in `email_key`, so every backend agrees with the memory adapter.
//!
//! A restore locks its tenant row (`SELECT … FOR UPDATE`) before reading any
//! facts, so restores within a tenant serialise: the second one reads, under
//! READ COMMITTED, what the first one committed (no seat left; the member no
//! longer deleted, hence [`DirectoryError::UnknownMember`]).
//!
//! Known differences from the memory adapter: a resource listed with no items
//! reads back as absent; `deleted_at` keeps microseconds (TIMESTAMPTZ).

pub mod connect;
mod import;
mod rows;
mod sql;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use restore_directory::attributes::encode;
use restore_directory::restore::AuditRow as NewAuditRow;
use restore_directory::stored::member_key;
use restore_directory::{
    read_facts, restore_with, Access, Decide, Directory, DirectoryError, ItemPlan, Reactivation,
    RestoreOutcome, RestoreRequest, RestoreStore,
};
use restore_engine::facts::{email_key, Actor, Facts, TenantFacts};
use sqlx::postgres::{PgConnectOptions, PgPool};
use sqlx::{FromRow, PgConnection, PgExecutor};

pub use connect::{parse_url, Timeouts};
pub use restore_directory::ImportSummary;
use rows::{db_error, ActorRow, DeletedRow, TenantRow};

/// The statement behind [`Directory::deleted_members`] (one parameter: the
/// tenant), so that benchmarks can time the query apart from the mapping.
#[doc(hidden)]
pub const DELETED_MEMBERS_SQL: &str = sql::DELETED_MEMBERS;

/// A directory stored in a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PostgresDirectory {
    pool: PgPool,
}

/// One restore recorded in the `audit` table.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct AuditRow {
    pub id: i64,
    pub member_id: String,
    pub actor: String,
    pub at: DateTime<Utc>,
    pub department: String,
    pub policy_name: String,
    pub policy_version: String,
    pub digest: String,
    /// The decision as JSON.
    pub decision: String,
}

impl PostgresDirectory {
    /// Connects to a `postgres://…` URL for `import`: creates the schema if
    /// the database has none, brings it up to date otherwise. Time limits
    /// come from the URL ([`connect`] module docs).
    pub async fn connect(url: &str) -> Result<Self, DirectoryError> {
        let (options, timeouts) = parse_url(url)?;
        Self::open_with(options, 8, timeouts, Access::Create).await
    }

    /// Opens an existing directory for reading and writing (`restore`):
    /// a database without the restore schema is refused, not set up.
    pub async fn open(url: &str) -> Result<Self, DirectoryError> {
        let (options, timeouts) = parse_url(url)?;
        Self::open_with(options, 8, timeouts, Access::ReadWrite).await
    }

    /// Opens an existing directory for reading only: no migration, and
    /// every transaction of its sessions is read-only.
    pub async fn open_read_only(url: &str) -> Result<Self, DirectoryError> {
        let (options, timeouts) = parse_url(url)?;
        Self::open_with(options, 8, timeouts, Access::ReadOnly).await
    }

    /// Connects with explicit options (a `search_path`, say), pool size and
    /// the default time limits, creating the schema if needed.
    pub async fn connect_with(
        options: PgConnectOptions,
        max_connections: u32,
    ) -> Result<Self, DirectoryError> {
        Self::open_with(
            options,
            max_connections,
            Timeouts::default(),
            Access::Create,
        )
        .await
    }

    /// The connection pool (tooling, tests and benchmarks).
    pub fn pool(&self) -> &PgPool {
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

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn backend(context: &str) -> impl FnOnce(sqlx::Error) -> DirectoryError + '_ {
    move |e| {
        let hint = timeout_hint(&e);
        DirectoryError::backend(format!("postgres: {context}{hint}"), e)
    }
}

/// Names the URL parameter behind a time limit PostgreSQL enforced, so the
/// message says what to change (the source already says which limit).
pub(crate) fn timeout_hint(e: &sqlx::Error) -> &'static str {
    let code = e.as_database_error().and_then(|d| d.code());
    match code.as_deref() {
        // lock_not_available: `lock_timeout` expired.
        Some("55P03") => " (gave up waiting for a lock: see `lock_timeout` in the directory URL)",
        // query_canceled: `statement_timeout` (or a cancel request).
        Some("57014") => " (statement cancelled: see `statement_timeout` in the directory URL)",
        _ => "",
    }
}

/// Commits on success; rolls back explicitly on failure, so that no
/// connection goes back to the pool idle in a transaction holding locks.
async fn finish<T>(
    tx: sqlx::Transaction<'static, sqlx::Postgres>,
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
    conn: &'c mut PgConnection,
    /// The statement that reads the tenant: [`sql::TENANT_FOR_UPDATE`] in
    /// a restore (its first statement: restores in a tenant queue there),
    /// [`sql::TENANT`] in a read-only transaction.
    tenant_statement: &'static str,
}

#[async_trait]
impl RestoreStore for Store<'_> {
    async fn tenant(&mut self, tenant: &str) -> Result<TenantFacts, DirectoryError> {
        load_tenant(&mut *self.conn, self.tenant_statement, tenant).await
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
        let columns = row.check_columns(&tenant.id)?;
        row.member(&tenant.id, columns)?.into_facts(tenant, actor)
    }

    async fn reactivate(&mut self, r: &Reactivation<'_>) -> Result<(), DirectoryError> {
        let member = r.member;
        sqlx::query(sql::MARK_RESTORED)
            .bind(r.at)
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
                other => DirectoryError::backend("postgres: reactivating the member", other),
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
        let done = sqlx::query(sql::RESTORE_ITEMS)
            .bind(plan.tenant)
            .bind(&plan.member.id)
            .bind(&plan.restored)
            .bind(&plan.transfer_dependent)
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
            .bind(row.at)
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

async fn load_tenant<'e>(
    executor: impl PgExecutor<'e>,
    statement: &'static str,
    tenant: &str,
) -> Result<TenantFacts, DirectoryError> {
    sqlx::query_as::<_, TenantRow>(statement)
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
    executor: impl PgExecutor<'e>,
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
impl Directory for PostgresDirectory {
    #[tracing::instrument(
        name = "directory.facts",
        level = "debug",
        skip(self),
        fields(adapter = "postgres"),
        err(Display)
    )]
    async fn facts(
        &self,
        tenant: &str,
        member: &str,
        actor: Option<&str>,
    ) -> Result<Facts, DirectoryError> {
        // One snapshot for tenant, actor and member.
        let mut tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await
            .map_err(backend("begin"))?;
        let mut store = Store {
            conn: &mut tx,
            tenant_statement: sql::TENANT,
        };
        let result = read_facts(&mut store, tenant, member, actor).await;
        finish(tx, result).await
    }

    #[tracing::instrument(
        name = "directory.tenants",
        level = "debug",
        skip(self),
        fields(adapter = "postgres"),
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
            let tenant_facts = load_tenant(&self.pool, sql::TENANT, tenant).await?;
            let actor = match actor {
                Some(actor) => Some(load_actor(&self.pool, tenant, actor).await?),
                None => None,
            };
            // One statement streamed row by row, a whole member per row;
            // nothing is collected. Column types are checked on the first
            // row (again on the next while they fail), not on every row.
            let rows = sqlx::query(sql::DELETED_MEMBERS)
                .bind(tenant)
                .map(DeletedRow)
                .fetch(&self.pool);
            let mut checked = None;
            Ok::<_, DirectoryError>(rows.map(move |row| {
                let row = row.map_err(|e| db_error(e, "deleted_members", tenant))?;
                let columns = match checked {
                    Some(columns) => columns,
                    None => *checked.insert(row.check_columns(tenant)?),
                };
                row.member(tenant, columns)?
                    .into_facts(&tenant_facts, actor.clone())
            }))
        };
        stream::once(head).try_flatten().boxed()
    }

    #[tracing::instrument(
        name = "directory.apply_restore",
        level = "debug",
        skip_all,
        fields(adapter = "postgres", tenant = %request.tenant, member = %request.member, actor = %request.actor),
        err(Display)
    )]
    async fn apply_restore(
        &self,
        request: &RestoreRequest,
        decide: &Decide,
    ) -> Result<RestoreOutcome, DirectoryError> {
        request.check()?;
        let mut tx = self.pool.begin().await.map_err(backend("begin"))?;
        // Lock first, then read: the facts below stay true until commit.
        let mut store = Store {
            conn: &mut tx,
            tenant_statement: sql::TENANT_FOR_UPDATE,
        };
        let outcome = restore_with(&mut store, request, decide).await;
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
