//! Opening files: reading changes nothing, files that are not directory
//! databases are refused byte for byte as they were, and a held write lock
//! ends in a busy-timeout error naming the parameter, never a hang.

// Test code: it asserts by panicking.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

use std::error::Error as _;
use std::path::Path;
use std::time::Duration;

use restore_conformance as suite;
use restore_directory::{Access, Directory, DirectoryError, RestoreRequest};
use restore_sqlite::SqliteDirectory;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection, SqliteConnection};

fn chain(e: &DirectoryError) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

async fn bounded<T>(what: &str, future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), future)
        .await
        .unwrap_or_else(|_| panic!("{what} still waiting after 30 s"))
}

async fn refused(path: &Path, access: Access) -> DirectoryError {
    match SqliteDirectory::open_with(path, access).await {
        Ok(_) => panic!("`{}` opened for {access:?}", path.display()),
        Err(e) => e,
    }
}

#[tokio::test]
async fn an_empty_file_is_refused_unchanged_except_by_import() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.db");
    std::fs::write(&path, b"").unwrap();
    for access in [Access::ReadOnly, Access::ReadWrite] {
        let e = refused(&path, access).await;
        assert!(
            matches!(&e, DirectoryError::NotADirectory { .. }) && e.is_bad_input(),
            "{e:?}"
        );
        assert!(
            e.to_string().contains("not a restore directory database"),
            "{e}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), b"", "{access:?} wrote to it");
    }
    // Import creates the schema in it.
    let directory = SqliteDirectory::open_with(&path, Access::Create)
        .await
        .unwrap();
    directory.import(&suite::fixture()).await.unwrap();
    directory.close().await;
    SqliteDirectory::open_read_only(&path)
        .await
        .unwrap()
        .facts("acme", "u_bob", None)
        .await
        .unwrap();
}

#[tokio::test]
async fn another_programs_database_or_file_is_refused_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let foreign = dir.path().join("foreign.db");
    {
        let options = SqliteConnectOptions::new()
            .filename(&foreign)
            .create_if_missing(true);
        let mut conn = SqliteConnection::connect_with(&options).await.unwrap();
        sqlx::query("CREATE TABLE notes (body TEXT)")
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
    }
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "x".repeat(4096)).unwrap();
    for path in [&foreign, &text] {
        let before = std::fs::read(path).unwrap();
        for access in [Access::ReadOnly, Access::ReadWrite, Access::Create] {
            let e = refused(path, access).await;
            assert!(matches!(e, DirectoryError::NotADirectory { .. }), "{e:?}");
            assert_eq!(
                std::fs::read(path).unwrap(),
                before,
                "{access:?} changed it"
            );
        }
    }
    #[cfg(unix)]
    {
        let e = refused(Path::new("/dev/zero"), Access::ReadOnly).await;
        assert!(e.to_string().contains("not a regular file"), "{e}");
    }
}

#[tokio::test]
async fn a_read_only_directory_leaves_the_database_file_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.db");
    let directory = SqliteDirectory::open_with(&path, Access::Create)
        .await
        .unwrap();
    directory.import(&suite::fixture()).await.unwrap();
    directory.close().await;
    let before = std::fs::read(&path).unwrap();
    let reader = SqliteDirectory::open_read_only(&path).await.unwrap();
    let facts = reader.facts("acme", "u_bob", Some("u_anna")).await.unwrap();
    assert_eq!(facts.member.id, "u_bob");
    let e = sqlx::query("DELETE FROM audit")
        .execute(reader.pool())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("readonly"), "{e}");
    reader.close().await;
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_write_lock_ends_in_a_busy_timeout_naming_the_parameter() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.db");
    let setup = SqliteDirectory::open_with(&path, Access::Create)
        .await
        .unwrap();
    setup.import(&suite::fixture()).await.unwrap();
    setup.close().await;
    let mut holder = SqliteConnection::connect_with(&SqliteConnectOptions::new().filename(&path))
        .await
        .unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut holder)
        .await
        .unwrap();
    let url = format!("{}?busy_timeout=200ms", path.display());
    let directory = SqliteDirectory::open_with(Path::new(&url), Access::ReadWrite)
        .await
        .unwrap();
    let decide = suite::decide_at(suite::default_policy(), suite::now());
    let request = RestoreRequest {
        tenant: "acme".into(),
        member: "u_bob".into(),
        actor: "u_anna".into(),
        department: "ops".into(),
        at: suite::now(),
    };
    let e = bounded(
        "a restore behind a write lock",
        directory.apply_restore(&request, &decide),
    )
    .await
    .unwrap_err();
    let text = chain(&e);
    assert!(text.contains("database is locked"), "{text}");
    assert!(text.contains("busy_timeout"), "{text}");
    sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
    let outcome = bounded(
        "the restore once free",
        directory.apply_restore(&request, &decide),
    )
    .await
    .unwrap();
    assert!(
        matches!(outcome, restore_directory::RestoreOutcome::Restored(_)),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_restore_that_would_overflow_the_seat_count_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.db");
    let directory = SqliteDirectory::open_with(&path, Access::Create)
        .await
        .unwrap();
    directory.import(&suite::fixture()).await.unwrap();
    sqlx::query("UPDATE tenants SET seats_total = ?1, seats_used = ?1 WHERE id = 'acme'")
        .bind(i64::MAX)
        .execute(directory.pool())
        .await
        .unwrap();
    let decide = suite::decide_at(suite::default_policy(), suite::now());
    // The policy may allow over-allocation; force an allowed decision to
    // reach the write.
    let allow = move |facts: &restore_engine::facts::Facts| {
        let mut decision = decide(facts)?;
        decision.allowed = true;
        decision.blockers.clear();
        Ok(decision)
    };
    let request = RestoreRequest {
        tenant: "acme".into(),
        member: "u_bob".into(),
        actor: "u_anna".into(),
        department: "ops".into(),
        at: suite::now(),
    };
    let e = directory.apply_restore(&request, &allow).await.unwrap_err();
    assert!(
        matches!(&e, DirectoryError::Overflow { tenant, .. } if tenant == "acme"),
        "{e:?}"
    );
    assert!(directory.audit("acme").await.unwrap().is_empty());
    directory.facts("acme", "u_bob", None).await.unwrap();
    let used: i64 = sqlx::query_scalar("SELECT seats_used FROM tenants WHERE id = 'acme'")
        .fetch_one(directory.pool())
        .await
        .unwrap();
    assert_eq!(used, i64::MAX);
}
