//! Connecting: time limits from the URL, a first connection that reports
//! why it failed, and the schema check that keeps reads from writing.
//!
//! URL parameters read here and removed before sqlx sees the URL:
//!
//! | parameter | default | bare number | what it bounds |
//! | --- | --- | --- | --- |
//! | `connect_timeout` | 5s | seconds (as libpq) | opening a connection |
//! | `statement_timeout` | 60s | milliseconds (as PostgreSQL) | one statement |
//! | `lock_timeout` | 5s | milliseconds (as PostgreSQL) | waiting for one lock |
//!
//! Values take `ms`, `s`, `min` or `h`; `0` lifts the limit (PostgreSQL's
//! meaning). The last two are set per session (`-c` options), so a wait
//! behind another session's lock ends with PostgreSQL's own "canceling
//! statement due to lock timeout".

use std::str::FromStr;
use std::time::Duration;

use restore_directory::params::{millis, parse_timeout, take_params, BareUnit};
use restore_directory::{Access, DirectoryError, DirectoryUrl};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection};

use crate::PostgresDirectory;

static MIGRATOR: Migrator = sqlx::migrate!();

/// Time limits of a PostgreSQL directory (module docs: URL parameters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timeouts {
    pub connect: Duration,
    pub statement: Duration,
    pub lock: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(5),
            statement: Duration::from_secs(60),
            lock: Duration::from_secs(5),
        }
    }
}

impl Timeouts {
    /// These limits with `connect`, `statement` and `lock` replaced.
    pub fn with(connect: Duration, statement: Duration, lock: Duration) -> Timeouts {
        Timeouts {
            connect,
            statement,
            lock,
        }
    }
}

const PARAMS: [&str; 3] = ["connect_timeout", "statement_timeout", "lock_timeout"];

/// Splits a `postgres://` URL into sqlx's options and our time limits.
pub fn parse_url(url: &str) -> Result<(PgConnectOptions, Timeouts), DirectoryError> {
    let parsed = DirectoryUrl::parse(url)?;
    let DirectoryUrl::Postgres(url) = &parsed else {
        return Err(DirectoryError::Unsupported(format!(
            "`{parsed}` is not a postgres:// URL"
        )));
    };
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let (ours, rest) = take_params(query, &PARAMS)?;
    let mut timeouts = Timeouts::default();
    for (key, value) in ours {
        match key {
            "connect_timeout" => {
                timeouts.connect = parse_timeout(key, value, BareUnit::Seconds)?;
            }
            "statement_timeout" => {
                timeouts.statement = parse_timeout(key, value, BareUnit::Milliseconds)?;
            }
            _ => timeouts.lock = parse_timeout(key, value, BareUnit::Milliseconds)?,
        }
    }
    let url = if rest.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    let options = PgConnectOptions::from_str(&url)
        .map_err(|e| DirectoryError::backend(format!("postgres: bad URL `{parsed}`"), e))?;
    Ok((options, timeouts))
}

/// `host:port` (or the socket) for messages; never the credentials.
fn target(options: &PgConnectOptions) -> String {
    match options.get_socket() {
        Some(socket) => socket.display().to_string(),
        None => format!("{}:{}", options.get_host(), options.get_port()),
    }
}

/// Why a connection did not open in time.
#[derive(Debug, thiserror::Error)]
#[error("no connection within connect_timeout {limit}; raise it with `?connect_timeout=` in the directory URL")]
struct ConnectTimedOut {
    limit: String,
}

impl PostgresDirectory {
    /// Opens a directory with explicit options: `access` decides whether the
    /// schema may be created (import), upgraded (restore) or only checked
    /// (read-only commands, whose sessions are also `default_transaction_read_only`).
    pub async fn open_with(
        options: PgConnectOptions,
        max_connections: u32,
        timeouts: Timeouts,
        access: Access,
    ) -> Result<PostgresDirectory, DirectoryError> {
        let mut settings = vec![
            ("statement_timeout", millis(timeouts.statement)),
            ("lock_timeout", millis(timeouts.lock)),
        ];
        if access == Access::ReadOnly {
            settings.push(("default_transaction_read_only", "on".to_owned()));
        }
        let options = options.options(settings);
        let target = target(&options);
        // One connection first, outside the pool: the pool retries a refused
        // connection until its acquire timeout and then reports only that it
        // timed out. This one says "connection refused" at once.
        let connecting = PgConnection::connect_with(&options);
        let opened = if timeouts.connect.is_zero() {
            connecting.await
        } else {
            match tokio::time::timeout(timeouts.connect, connecting).await {
                Ok(opened) => opened,
                Err(_) => {
                    return Err(DirectoryError::backend(
                        format!("postgres: connecting to {target}"),
                        ConnectTimedOut {
                            limit: millis(timeouts.connect),
                        },
                    ))
                }
            }
        };
        let mut conn = opened.map_err(crate::backend(&format!("connecting to {target}")))?;
        let checked = check_schema(&mut conn, &target, options.get_database(), access).await;
        let _ = conn.close().await;
        checked?;
        // A connection waits for a free one at most as long as a statement
        // may run, plus the time to open one.
        let acquire = if timeouts.connect.is_zero() || timeouts.statement.is_zero() {
            Duration::from_secs(24 * 3600)
        } else {
            timeouts.connect + timeouts.statement
        };
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(acquire)
            .connect_lazy_with(options);
        Ok(PostgresDirectory { pool })
    }
}

/// Which of our migrations a database has applied.
enum Schema {
    /// No migration table: an empty or another program's database.
    Absent,
    /// Every applied migration is one of ours; `missing` are not applied yet.
    Ours { missing: usize },
    /// A migration we do not know, or one of ours changed.
    Foreign(String),
}

async fn schema(conn: &mut PgConnection) -> Result<Schema, sqlx::Error> {
    let exists: Option<String> = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations')::text")
        .fetch_one(&mut *conn)
        .await?;
    if exists.is_none() {
        return Ok(Schema::Absent);
    }
    let applied: Vec<(i64, Vec<u8>)> = sqlx::query_as(
        "SELECT version, checksum FROM _sqlx_migrations WHERE success ORDER BY version",
    )
    .fetch_all(&mut *conn)
    .await?;
    for (version, checksum) in &applied {
        match MIGRATOR.iter().find(|m| m.version == *version) {
            Some(m) if *m.checksum == **checksum => {}
            Some(_) => return Ok(Schema::Foreign(format!("migration {version} differs"))),
            None => return Ok(Schema::Foreign(format!("unknown migration {version}"))),
        }
    }
    if applied.is_empty() {
        return Ok(Schema::Foreign("no migration applied".into()));
    }
    let missing = MIGRATOR.iter().count() - applied.len();
    Ok(Schema::Ours { missing })
}

async fn check_schema(
    conn: &mut PgConnection,
    target: &str,
    database: Option<&str>,
    access: Access,
) -> Result<(), DirectoryError> {
    let found = schema(conn)
        .await
        .map_err(crate::backend(&format!("checking the schema at {target}")))?;
    let refuse = |reason: String| DirectoryError::NotADirectory {
        location: format!("postgres://…@{target}/{}", database.unwrap_or_default()),
        reason,
    };
    match (found, access) {
        (Schema::Foreign(reason), _) => Err(refuse(reason)),
        (Schema::Absent, Access::Create) | (Schema::Ours { .. }, Access::Create | Access::ReadWrite) => {
            MIGRATOR
                .run(&mut *conn)
                .await
                .map_err(|e| DirectoryError::backend("postgres: migrating", e))
        }
        (Schema::Absent, _) => Err(refuse(
            "it has no restore schema; create one with `restorectl import`".into(),
        )),
        (Schema::Ours { missing: 0 }, _) => Ok(()),
        (Schema::Ours { missing }, _) => Err(refuse(format!(
            "its schema lacks {missing} newer migration(s); open it for writing once (`restorectl restore` or `import`) to bring it up to date"
        ))),
    }
}
