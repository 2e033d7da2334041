//! Test databases: each subject lives in its own schema of the test database
//! (`RESTORE_TEST_PG_URL`, default `postgres://postgres@127.0.0.1:5432/restore_test`),
//! created for it and dropped when its guard is dropped. An unreachable
//! server fails the test: CI starts one.

#![allow(dead_code)]

use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use restore_directory::Snapshot;
use restore_postgres::PostgresDirectory;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, Connection, PgConnection};

pub const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/restore_test";

pub fn base_url() -> String {
    std::env::var("RESTORE_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned())
}

fn base_options() -> PgConnectOptions {
    PgConnectOptions::from_str(&base_url()).expect("RESTORE_TEST_PG_URL is a valid URL")
}

/// Connects to the test database, creating it on first use.
async fn admin() -> PgConnection {
    let options = base_options();
    match PgConnection::connect_with(&options).await {
        Ok(conn) => conn,
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("3D000") => {
            let name = options.get_database().unwrap_or("restore_test").to_owned();
            let mut server = PgConnection::connect_with(&options.clone().database("postgres"))
                .await
                .expect("connect to the `postgres` database to create the test database");
            let create = format!("CREATE DATABASE \"{}\"", name.replace('"', "\"\""));
            if let Err(e) = sqlx::query(AssertSqlSafe(create))
                .execute(&mut server)
                .await
            {
                // Another test created it meanwhile.
                let code = e
                    .as_database_error()
                    .and_then(|d| d.code())
                    .unwrap_or_default();
                assert!(
                    code == "42P04" || code == "23505",
                    "create test database: {e}"
                );
            }
            PgConnection::connect_with(&options)
                .await
                .expect("connect to the new test database")
        }
        Err(e) => panic!(
            "PostgreSQL test server unreachable at `{}`: {e} (start it; CI does)",
            base_url()
        ),
    }
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// Drops its schema when dropped (on a thread of its own, since Drop is sync).
pub struct SchemaGuard {
    pub name: String,
}

impl Drop for SchemaGuard {
    fn drop(&mut self) {
        let drop = format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.name);
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let mut conn = admin().await;
                // Never hang a test run on a lock: leak the schema instead.
                sqlx::query("SET lock_timeout = '20s'")
                    .execute(&mut conn)
                    .await
                    .expect("set lock_timeout");
                sqlx::query(AssertSqlSafe(drop))
                    .execute(&mut conn)
                    .await
                    .expect("drop test schema");
            });
        })
        .join();
    }
}

/// A fresh schema with the directory migrated into it (and `snapshot`
/// imported, when given).
pub async fn fresh(snapshot: Option<&Snapshot>) -> (Arc<PostgresDirectory>, SchemaGuard) {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let name = format!(
        "t_{}_{}_{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let mut conn = admin().await;
    sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA \"{name}\"")))
        .execute(&mut conn)
        .await
        .expect("create test schema");
    let guard = SchemaGuard { name: name.clone() };
    let options = base_options().options([("search_path", name.as_str())]);
    let directory = PostgresDirectory::connect_with(options, 4)
        .await
        .expect("connect to the test schema");
    if let Some(snapshot) = snapshot {
        directory.import(snapshot).await.expect("import snapshot");
    }
    (Arc::new(directory), guard)
}

/// A pool on a schema, for raw SQL in tests.
pub async fn raw_pool(schema: &str) -> sqlx::PgPool {
    PgPoolOptions::new()
        .max_connections(1)
        .connect_with(base_options().options([("search_path", schema)]))
        .await
        .expect("raw pool")
}

/// A fresh, empty schema (nothing migrated) and the options that use it.
pub async fn empty_schema() -> (PgConnectOptions, SchemaGuard) {
    let name = format!(
        "e_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let mut conn = admin().await;
    sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA \"{name}\"")))
        .execute(&mut conn)
        .await
        .expect("create test schema");
    let options = base_options().options([("search_path", name.as_str())]);
    (options, SchemaGuard { name })
}

/// Options on the schema of `guard`.
pub fn schema_options(guard: &SchemaGuard) -> PgConnectOptions {
    base_options().options([("search_path", guard.name.as_str())])
}

/// Tables in a schema.
pub async fn table_count(schema: &str) -> i64 {
    let mut conn = admin().await;
    sqlx::query_scalar("SELECT count(*) FROM information_schema.tables WHERE table_schema = $1")
        .bind(schema)
        .fetch_one(&mut conn)
        .await
        .expect("count tables")
}
