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
use restore_directory::stored::member_key;
use restore_directory::{
    seats_after_restore, Access, Decide, Directory, DirectoryError, Receipt, RestoreOutcome,
    RestoreRequest,
};
use restore_engine::decision::Outcome;
use restore_engine::facts::{email_key, Actor, Facts, TenantFacts};
use sqlx::postgres::{PgConnectOptions, PgPool};
use sqlx::{FromRow, PgConnection, PgExecutor};

pub use connect::{parse_url, Timeouts};
pub use import::ImportSummary;
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
    actor: Option<&str>,
) -> Result<Option<Actor>, DirectoryError> {
    let Some(actor) = actor else { return Ok(None) };
    let key = format!("{tenant}/{actor}");
    Ok(Some(
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
            .into_actor(),
    ))
}

async fn load_member<'e>(
    executor: impl PgExecutor<'e>,
    tenant: &TenantFacts,
    member: &str,
    actor: Option<Actor>,
) -> Result<Facts, DirectoryError> {
    let row = sqlx::query(sql::DELETED_MEMBER)
        .bind(&tenant.id)
        .bind(member)
        .map(DeletedRow)
        .fetch_optional(executor)
        .await
        .map_err(|e| db_error(e, "deleted_members", &member_key(&tenant.id, member)))?
        .ok_or_else(|| DirectoryError::UnknownMember {
            tenant: tenant.id.to_string(),
            member: member.to_owned(),
        })?;
    let columns = row.check_columns(&tenant.id)?;
    row.member(&tenant.id, columns)?.into_facts(tenant, actor)
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

/// Reads one member's facts on `conn` (inside a transaction).
async fn read_facts(
    conn: &mut PgConnection,
    tenant: &str,
    member: &str,
    actor: Option<&str>,
) -> Result<Facts, DirectoryError> {
    let tenant = load_tenant(&mut *conn, sql::TENANT, tenant).await?;
    let actor = load_actor(&mut *conn, &tenant.id, actor).await?;
    let facts = load_member(&mut *conn, &tenant, member, actor).await?;
    Ok(facts)
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

/// The restore proper, on `conn` inside the restore's transaction.
async fn restore_in(
    conn: &mut PgConnection,
    request: &RestoreRequest,
    decide: &Decide,
) -> Result<RestoreOutcome, DirectoryError> {
    let tenant = load_tenant(&mut *conn, sql::TENANT_FOR_UPDATE, &request.tenant).await?;
    let actor = load_actor(&mut *conn, &tenant.id, Some(&request.actor)).await?;
    let facts = load_member(&mut *conn, &tenant, &request.member, actor).await?;
    let decision = decide(&facts)?;
    if !decision.allowed {
        return Ok(RestoreOutcome::Denied(decision));
    }
    let tenant_id = &*tenant.id;
    let member = &facts.member;
    // Checked before any write: the UPDATE below would wrap (SQLite turns
    // the sum into a float) or fail raw (PostgreSQL: bigint out of range).
    seats_after_restore(tenant_id, tenant.seats_used)?;

    sqlx::query(sql::MARK_RESTORED)
        .bind(request.at)
        .bind(tenant_id)
        .bind(&member.id)
        .execute(&mut *conn)
        .await
        .map_err(backend("marking the member restored"))?;
    // F17: admin permissions, approval roles and user groups are reset,
    // so the member comes back with no roles; F15/F8: new department.
    sqlx::query(sql::INSERT_ACTIVE)
        .bind(tenant_id)
        .bind(&member.id)
        .bind(&member.email)
        .bind(member.email.as_deref().map(email_key))
        .bind(&member.phone)
        .bind(&request.department)
        .execute(&mut *conn)
        .await
        .map_err(|e| match e {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                DirectoryError::Conflict(format!(
                    "an active member `{}` already exists in tenant `{tenant_id}`",
                    member.id
                ))
            }
            other => DirectoryError::backend("postgres: reactivating the member", other),
        })?;
    let (seats_used,): (i64,) = sqlx::query_as(sql::TAKE_SEAT)
        .bind(tenant_id)
        .fetch_one(&mut *conn)
        .await
        .map_err(backend("allocating a seat"))?;
    // Items come back per the decision's resource outcomes (F21: a
    // transfer-dependent item only if it was not transferred).
    let names = |outcome: Outcome| -> Vec<String> {
        decision
            .resources
            .iter()
            .filter(|r| r.outcome == outcome)
            .map(|r| r.resource.to_string())
            .collect()
    };
    sqlx::query(sql::RESTORE_ITEMS)
        .bind(tenant_id)
        .bind(&member.id)
        .bind(names(Outcome::Restored))
        .bind(names(Outcome::TransferDependent))
        .execute(&mut *conn)
        .await
        .map_err(backend("restoring resource items"))?;
    let decision_json = serde_json::to_string(&decision)
        .map_err(|e| DirectoryError::backend("encoding the decision", e))?;
    let (audit_id,): (i64,) = sqlx::query_as(sql::INSERT_AUDIT)
        .bind(tenant_id)
        .bind(&member.id)
        .bind(&request.actor)
        .bind(request.at)
        .bind(&request.department)
        .bind(&*decision.policy.name)
        .bind(&*decision.policy.version)
        .bind(&*decision.policy.digest)
        .bind(decision_json)
        .fetch_one(&mut *conn)
        .await
        .map_err(backend("writing the audit row"))?;
    Ok(RestoreOutcome::Restored(Receipt {
        decision,
        department: request.department.clone(),
        audit_id,
        seats_used,
    }))
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
        let result = read_facts(&mut tx, tenant, member, actor).await;
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
            let actor = load_actor(&self.pool, tenant, actor).await?;
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
        if request.department.trim().is_empty() {
            return Err(DirectoryError::MissingDepartment);
        }
        let mut tx = self.pool.begin().await.map_err(backend("begin"))?;
        // Lock first, then read: the facts below stay true until commit.
        let outcome = restore_in(&mut tx, request, decide).await;
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
