//! End to end on PostgreSQL: `restorectl import` then `eval-all` gives the
//! `memory:` decisions, and `restore` allows, denies and refuses as on SQLite.
//! Each run creates its own database (via `psql`) and drops it at the end;
//! an unreachable server fails the test (CI starts one).

// Test code: it asserts by panicking.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

use std::path::PathBuf;
use std::process::{Command, Output};

mod support;

const AT: &str = "2026-11-24T10:00:00Z";
const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/restore_test";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn restorectl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_restorectl"))
        .args(args)
        .output()
        .expect("run restorectl")
}

fn psql(url: &str, sql: &str) {
    let out = Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-qc", sql])
        .output()
        .expect("run psql");
    assert!(
        out.status.success(),
        "psql `{sql}` failed (is PostgreSQL running?): {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A database of its own, dropped when this is dropped.
struct Database {
    admin: String,
    name: String,
    url: String,
}

impl Database {
    fn create() -> Database {
        let base = std::env::var("RESTORE_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_URL.into());
        let (server, _) = base.rsplit_once('/').expect("URL names a database");
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let name = format!("restore_cli_{}_{nanos}", std::process::id());
        let admin = format!("{server}/postgres");
        psql(&admin, &format!("CREATE DATABASE {name}"));
        Database {
            url: format!("{server}/{name}"),
            admin,
            name,
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        psql(
            &self.admin,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

#[test]
fn import_eval_all_and_restore_on_postgres() {
    let db = Database::create();
    // A restore decides at the real clock: the fixture's deletions are moved
    // so that now plays the role of `AT`.
    let copy = tempfile::tempdir().unwrap();
    let (fixture, at) = support::shifted_snapshot(
        &root().join("adapters/conformance/fixtures/directory.yaml"),
        AT.parse().unwrap(),
        copy.path(),
    );
    let at = at.to_rfc3339();
    let rules = root().join("rules");
    let rules = rules.to_str().unwrap();
    let out = restorectl(&[
        "import",
        "--from",
        fixture.to_str().unwrap(),
        "--to",
        &db.url,
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let eval_all = |directory: &str| {
        let out = restorectl(&[
            "eval-all",
            "--rules",
            rules,
            "--directory",
            directory,
            "--tenant",
            "acme",
            "--actor",
            "u_anna",
            "--at",
            &at,
        ]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let memory = format!("memory:{}", fixture.display());
    let before = eval_all(&db.url);
    assert_eq!(
        before,
        eval_all(&memory),
        "postgres decisions differ from memory:"
    );
    assert_eq!(before.lines().count(), 8);

    let restore = |member: &str, department: &str| {
        restorectl(&[
            "restore",
            "--rules",
            rules,
            "--directory",
            &db.url,
            "--tenant",
            "acme",
            "--member",
            member,
            "--actor",
            "u_anna",
            "--department",
            department,
        ])
    };
    assert_eq!(
        restore("u_bob", "").status.code(),
        Some(2),
        "blank department"
    );
    let denied = restore("u_erin", "ops");
    assert_eq!(denied.status.code(), Some(1), "duplicate user id denies");
    assert!(String::from_utf8_lossy(&denied.stdout).contains("duplicate_user_id"));
    assert_eq!(eval_all(&db.url), before, "denied restore changed data");

    let allowed = restore("u_bob", "engineering");
    assert_eq!(
        allowed.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&allowed.stderr)
    );
    let receipt: serde_json::Value = serde_json::from_slice(&allowed.stdout).unwrap();
    assert_eq!(receipt["seats_used"], 50);
    assert_eq!(eval_all(&db.url).lines().count(), 7);

    let again = restorectl(&[
        "import",
        "--from",
        fixture.to_str().unwrap(),
        "--to",
        &db.url,
    ]);
    assert_eq!(again.status.code(), Some(2), "existing tenants are refused");
}

/// A row that breaks an invariant stops `eval-all` with exit 2; the
/// decisions before it stay on stdout as whole lines.
#[test]
fn a_bad_row_stops_eval_all_after_the_decisions_before_it() {
    let db = Database::create();
    let fixture = root().join("adapters/conformance/fixtures/directory.yaml");
    let rules = root().join("rules");
    let out = restorectl(&[
        "import",
        "--from",
        fixture.to_str().unwrap(),
        "--to",
        &db.url,
    ]);
    assert_eq!(out.status.code(), Some(0));
    let eval_all = || {
        restorectl(&[
            "eval-all",
            "--rules",
            rules.to_str().unwrap(),
            "--directory",
            &db.url,
            "--tenant",
            "acme",
            "--at",
            AT,
        ])
    };
    let good = eval_all();
    assert_eq!(good.status.code(), Some(0));
    let good = String::from_utf8(good.stdout).unwrap();
    let lines: Vec<&str> = good.lines().collect();
    assert!(lines.len() > 2, "{good}");
    let last: serde_json::Value = serde_json::from_str(lines[lines.len() - 1]).unwrap();
    let last = last["member"].as_str().unwrap().to_owned();
    psql(
        &db.url,
        &format!("UPDATE deleted_members SET deletion = 'bogus' WHERE id = '{last}'"),
    );

    let bad = eval_all();
    assert_eq!(bad.status.code(), Some(2));
    let expected: String = lines[..lines.len() - 1]
        .iter()
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(String::from_utf8(bad.stdout).unwrap(), expected);
    let stderr = String::from_utf8(bad.stderr).unwrap();
    assert!(stderr.contains("bogus"), "{stderr}");
}
