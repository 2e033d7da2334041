//! Opening a database file: what a command may do to it ([`Access`]), the
//! checks that leave a file that is not ours untouched, and the busy timeout.
//!
//! `sqlite:PATH?busy_timeout=5s` sets how long a statement waits for another
//! connection's write lock before failing with "database is locked"
//! (default 5s; `ms`, `s`, `min` or `h`, a bare number is milliseconds as in
//! SQLite's `PRAGMA busy_timeout`; `0` fails at once).

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use restore_directory::params::{parse_timeout, take_params, BareUnit};
use restore_directory::{Access, DirectoryError};
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, SqliteConnection};

use crate::SqliteDirectory;

static MIGRATOR: Migrator = sqlx::migrate!();

/// How long a statement waits for another writer by default.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The first 16 bytes of every SQLite 3 database file.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// `PATH?busy_timeout=…` → the path and the busy timeout.
fn split_params(path: &Path) -> Result<(PathBuf, Duration), DirectoryError> {
    let Some((file, query)) = path.to_str().and_then(|p| p.split_once('?')) else {
        return Ok((path.to_owned(), DEFAULT_BUSY_TIMEOUT));
    };
    let (ours, rest) = take_params(query, &["busy_timeout"])?;
    if let Some(unknown) = rest.first() {
        return Err(DirectoryError::Unsupported(format!(
            "unknown sqlite URL parameter `{}`; known: `busy_timeout`",
            unknown.escape_default()
        )));
    }
    let mut busy = DEFAULT_BUSY_TIMEOUT;
    for (key, value) in ours {
        busy = parse_timeout(key, value, BareUnit::Milliseconds)?;
    }
    Ok((PathBuf::from(file), busy))
}

/// What an existing file holds, found without changing a byte of it.
enum Found {
    /// No file, or an empty one: only an import may create the database.
    Nothing,
    /// A database with our schema; `missing` migrations not applied yet.
    Ours { missing: usize },
    /// Anything else, with the reason.
    Foreign(String),
}

fn not_ours(path: &Path, reason: impl Into<String>) -> DirectoryError {
    DirectoryError::NotADirectory {
        location: path.display().to_string(),
        reason: reason.into(),
    }
}

/// Looks at `path` through its header and a read-only connection.
async fn inspect(path: &Path) -> Result<Found, DirectoryError> {
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Found::Nothing),
        Err(e) => {
            return Err(DirectoryError::backend(
                format!("sqlite: cannot read `{}`", path.display()),
                e,
            ))
        }
    };
    if !meta.is_file() {
        return Ok(Found::Foreign("not a regular file".into()));
    }
    if meta.len() == 0 {
        return Ok(Found::Nothing);
    }
    let mut header = [0u8; 16];
    let read = File::open(path).and_then(|f| f.take(16).read(&mut header));
    match read {
        Ok(16) if &header == SQLITE_HEADER => {}
        Ok(_) => return Ok(Found::Foreign("not an SQLite database".into())),
        Err(e) => {
            return Err(DirectoryError::backend(
                format!("sqlite: cannot read `{}`", path.display()),
                e,
            ))
        }
    }
    let options = SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .busy_timeout(DEFAULT_BUSY_TIMEOUT);
    let mut conn = SqliteConnection::connect_with(&options)
        .await
        .map_err(crate::backend("opening the database read-only"))?;
    let found = schema(&mut conn).await;
    let _ = conn.close().await;
    found.map_err(crate::backend("reading the schema"))
}

async fn schema(conn: &mut SqliteConnection) -> Result<Found, sqlx::Error> {
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
            .fetch_all(&mut *conn)
            .await?;
    if !tables.iter().any(|t| t == "_sqlx_migrations") {
        return Ok(if tables.is_empty() {
            Found::Nothing
        } else {
            Found::Foreign("it holds other tables and no restore schema".into())
        });
    }
    let applied: Vec<(i64, Vec<u8>)> = sqlx::query_as(
        "SELECT version, checksum FROM _sqlx_migrations WHERE success ORDER BY version",
    )
    .fetch_all(&mut *conn)
    .await?;
    for (version, checksum) in &applied {
        match MIGRATOR.iter().find(|m| m.version == *version) {
            Some(m) if *m.checksum == **checksum => {}
            Some(_) => return Ok(Found::Foreign(format!("migration {version} differs"))),
            None => return Ok(Found::Foreign(format!("unknown migration {version}"))),
        }
    }
    if applied.is_empty() {
        return Ok(Found::Foreign("no migration applied".into()));
    }
    Ok(Found::Ours {
        missing: MIGRATOR.iter().count() - applied.len(),
    })
}

impl SqliteDirectory {
    /// Opens the database at `path` (which may end in `?busy_timeout=…`)
    /// for `access`. An empty file, another program's database or a file
    /// that is not SQLite is refused and left byte for byte as it was; only
    /// [`Access::Create`] creates a file or a schema.
    pub async fn open_with(path: &Path, access: Access) -> Result<Self, DirectoryError> {
        let (path, busy) = split_params(path)?;
        let path = path.as_path();
        let missing = match (inspect(path).await?, access) {
            (Found::Foreign(reason), _) => return Err(not_ours(path, reason)),
            (Found::Nothing, Access::Create) => None,
            (Found::Nothing, _) if !path.exists() => {
                return Err(DirectoryError::Unsupported(format!(
                    "sqlite database `{}` does not exist; create it with `restorectl import`",
                    path.display()
                )))
            }
            (Found::Nothing, _) => {
                return Err(not_ours(
                    path,
                    "it is empty; create a directory with `restorectl import`",
                ))
            }
            (Found::Ours { missing }, _) => Some(missing),
        };
        let base = SqliteConnectOptions::from_str("sqlite:")
            .map_err(crate::backend("connect options"))?
            .filename(path)
            .foreign_keys(true)
            .busy_timeout(busy);
        let options = match access {
            // No journal mode either: setting one writes to the file.
            Access::ReadOnly => base.read_only(true),
            _ => base
                .create_if_missing(access == Access::Create)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal),
        };
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(busy.max(DEFAULT_BUSY_TIMEOUT) * 2)
            .connect_with(options)
            .await
            .map_err(|e| {
                DirectoryError::backend(format!("sqlite: opening `{}`", path.display()), e)
            })?;
        match (access, missing) {
            (Access::ReadOnly, Some(0)) => {}
            (Access::ReadOnly, Some(n)) => {
                pool.close().await;
                return Err(not_ours(
                    path,
                    format!("its schema lacks {n} newer migration(s); open it for writing once (`restorectl restore`) to bring it up to date"),
                ));
            }
            _ => MIGRATOR.run(&pool).await.map_err(|e| {
                DirectoryError::backend(format!("sqlite: migrating `{}`", path.display()), e)
            })?,
        }
        Ok(SqliteDirectory { pool })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_timeout_comes_from_the_path() {
        let (path, busy) = split_params(Path::new("/tmp/x.db?busy_timeout=250ms")).unwrap();
        assert_eq!(
            (path.as_path(), busy),
            (Path::new("/tmp/x.db"), Duration::from_millis(250))
        );
        let (path, busy) = split_params(Path::new("x.db")).unwrap();
        assert_eq!(
            (path.as_path(), busy),
            (Path::new("x.db"), DEFAULT_BUSY_TIMEOUT)
        );
        let e = split_params(Path::new("x.db?mode=rwc")).unwrap_err();
        assert!(e.to_string().contains("`mode=rwc`"), "{e}");
        let e = split_params(Path::new("x.db?busy_timeout=soon")).unwrap_err();
        assert!(e.to_string().contains("`busy_timeout`"), "{e}");
    }
}
