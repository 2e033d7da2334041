//! PostgreSQL for the service tests, through `psql` (no driver in the root
//! package's tests): a schema of its own per test in the test database
//! (`RESTORE_TEST_PG_URL`, default `postgres://postgres@127.0.0.1:5432/restore_test`),
//! dropped on drop, and a table lock held by a `psql` session to make the
//! directory slow on purpose. An unreachable server fails the test: CI starts one.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

pub const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/restore_test";

pub fn base_url() -> String {
    std::env::var("RESTORE_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned())
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A fresh schema; `url` is a directory URL whose connections use it.
pub struct PgSchema {
    pub name: String,
    pub url: String,
}

fn psql(search_path: Option<&str>, sql: &str) -> String {
    let mut command = Command::new("psql");
    command.args([&base_url(), "-X", "-v", "ON_ERROR_STOP=1", "-tAqc", sql]);
    if let Some(schema) = search_path {
        command.env("PGOPTIONS", format!("-c search_path={schema}"));
    }
    let out = command.output().expect("run psql");
    assert!(
        out.status.success(),
        "psql `{sql}` failed (is PostgreSQL running?): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

impl PgSchema {
    pub fn create(label: &str) -> PgSchema {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let name = format!(
            "serve_{label}_{}_{}_{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        psql(None, &format!("CREATE SCHEMA \"{name}\""));
        let base = base_url();
        let sep = if base.contains('?') { '&' } else { '?' };
        PgSchema {
            url: format!("{base}{sep}options[search_path]={name}"),
            name,
        }
    }

    /// Runs SQL in this schema; returns psql's unaligned, tuples-only output.
    pub fn query(&self, sql: &str) -> String {
        psql(Some(&self.name), sql)
    }

    /// Holds `ACCESS EXCLUSIVE` locks on the directory's tables until the
    /// returned guard is released or dropped: every read of the directory
    /// waits meanwhile.
    pub fn lock_tables(&self) -> TableLock {
        let mut child = Command::new("psql")
            .args([&base_url(), "-X", "-q", "-v", "ON_ERROR_STOP=1"])
            .env("PGOPTIONS", format!("-c search_path={}", self.name))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run psql");
        let mut stdin = child.stdin.take().unwrap();
        writeln!(
            stdin,
            "BEGIN;\nLOCK TABLE tenants, members, deleted_members, resource_items, audit IN ACCESS EXCLUSIVE MODE;\nSELECT 'locked';"
        )
        .unwrap();
        stdin.flush().unwrap();
        let (tx, rx) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if line.trim() == "locked" {
                    let _ = tx.send(());
                }
            }
        });
        rx.recv_timeout(Duration::from_secs(30))
            .expect("psql took the table locks");
        TableLock {
            child,
            stdin: Some(stdin),
            schema: self.name.clone(),
        }
    }

    /// How many sessions wait for a lock on a table of this schema.
    pub fn lock_waiters(&self) -> usize {
        psql(
            None,
            &format!(
                "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE NOT l.granted AND n.nspname = '{}'",
                self.name
            ),
        )
        .parse()
        .expect("a count")
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        psql(
            None,
            &format!(
                "SET lock_timeout = '20s'; DROP SCHEMA IF EXISTS \"{}\" CASCADE",
                self.name
            ),
        );
    }
}

/// See [`PgSchema::lock_tables`].
pub struct TableLock {
    child: Child,
    stdin: Option<ChildStdin>,
    schema: String,
}

impl TableLock {
    /// Commits, which releases the locks, and waits for psql to end.
    pub fn release(mut self) {
        self.finish();
    }

    fn finish(&mut self) {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = writeln!(stdin, "COMMIT;");
            drop(stdin);
            let _ = self.child.wait();
        }
    }

    pub fn schema(&self) -> &str {
        &self.schema
    }
}

impl Drop for TableLock {
    fn drop(&mut self) {
        self.finish();
    }
}

/// A database of its own (for what a schema cannot show: refusing
/// connections), dropped on drop.
pub struct PgDatabase {
    pub name: String,
    pub url: String,
    admin: String,
}

fn psql_at(url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args([url, "-X", "-v", "ON_ERROR_STOP=1", "-tAqc", sql])
        .output()
        .expect("run psql");
    assert!(
        out.status.success(),
        "psql `{sql}` failed (is PostgreSQL running?): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

impl PgDatabase {
    pub fn create(label: &str) -> PgDatabase {
        let base = base_url();
        let (server, _) = base.rsplit_once('/').expect("URL names a database");
        let server = server.to_owned();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let name = format!("serve_{label}_{}_{nanos}", std::process::id());
        let admin = format!("{server}/postgres");
        psql_at(&admin, &format!("CREATE DATABASE {name}"));
        PgDatabase {
            url: format!("{server}/{name}"),
            name,
            admin,
        }
    }

    /// Refuses new connections and ends the open ones (`false`), or allows
    /// them again (`true`).
    pub fn allow_connections(&self, allow: bool) {
        psql_at(
            &self.admin,
            &format!(
                "ALTER DATABASE {} WITH ALLOW_CONNECTIONS {allow}",
                self.name
            ),
        );
        if !allow {
            psql_at(
                &self.admin,
                &format!(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '{}'",
                    self.name
                ),
            );
        }
    }

    pub fn query(&self, sql: &str) -> String {
        psql_at(&self.url, sql)
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        psql_at(
            &self.admin,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}
