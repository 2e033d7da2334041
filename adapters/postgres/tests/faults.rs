//! Nothing waits forever, reading changes nothing, and races end in the
//! documented errors: refused connections, held locks, statement limits,
//! schemas that are not ours, read-only sessions, concurrent imports.
//! Every wait here is bounded by a tokio timeout far above the limit under test.

// Test code: it asserts by panicking.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

#[path = "support/pg.rs"]
mod common;

use std::error::Error as _;
use std::time::Duration;

use restore_conformance as suite;
use restore_directory::{Access, Directory, DirectoryError};
use restore_postgres::{PostgresDirectory, Timeouts};
use sqlx::{Connection, PgConnection};

/// The whole error chain, as the CLI prints it.
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

/// Fails the test instead of hanging it.
async fn bounded<T>(what: &str, future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), future)
        .await
        .unwrap_or_else(|_| panic!("{what} still waiting after 30 s"))
}

fn limits(lock: Duration, statement: Duration) -> Timeouts {
    Timeouts::with(Duration::from_secs(5), statement, lock)
}

#[tokio::test]
async fn a_refused_connection_says_so_at_once() {
    // A port nobody listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://postgres@127.0.0.1:{port}/restore_test?connect_timeout=20s");
    let started = std::time::Instant::now();
    let e = bounded("a refused connect", PostgresDirectory::open_read_only(&url))
        .await
        .expect_err("nothing listens there");
    let text = chain(&e).to_lowercase();
    assert!(text.contains("connection refused"), "{text}");
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
    // Not after the pool's retries until connect_timeout (20 s).
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn bad_time_limits_in_the_url_are_refused() {
    for url in [
        "postgres://postgres@127.0.0.1/restore_test?lock_timeout=soon",
        "postgres://postgres@127.0.0.1/restore_test?statement_timeout=-1",
        "postgres://postgres@127.0.0.1/restore_test?connect_timeout",
    ] {
        let e = restore_postgres::parse_url(url).expect_err(url);
        assert!(e.to_string().contains("_timeout`"), "{url}: {e}");
    }
    let (_, t) = restore_postgres::parse_url(
        "postgres://postgres@127.0.0.1/restore_test?sslmode=disable&lock_timeout=250ms&connect_timeout=3&statement_timeout=1500",
    )
    .unwrap();
    assert_eq!(
        t,
        Timeouts::with(
            Duration::from_secs(3),
            Duration::from_millis(1500),
            Duration::from_millis(250)
        )
    );
}

/// Holds `LOCK TABLE tenants IN ACCESS EXCLUSIVE MODE` in `schema` until dropped.
async fn lock_tenants(options: &sqlx::postgres::PgConnectOptions) -> PgConnection {
    let mut conn = PgConnection::connect_with(options).await.unwrap();
    sqlx::query("BEGIN").execute(&mut conn).await.unwrap();
    sqlx::query("LOCK TABLE tenants IN ACCESS EXCLUSIVE MODE")
        .execute(&mut conn)
        .await
        .unwrap();
    conn
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_eval_behind_an_exclusive_lock_fails_after_the_lock_timeout() {
    let (_seeded, guard) = common::fresh(Some(&suite::fixture())).await;
    let options = common::schema_options(&guard);
    let directory = PostgresDirectory::open_with(
        options.clone(),
        2,
        limits(Duration::from_millis(300), Duration::from_secs(60)),
        Access::ReadOnly,
    )
    .await
    .unwrap();
    let holder = lock_tenants(&options).await;
    let e = bounded(
        "facts behind a lock",
        directory.facts("acme", "u_bob", None),
    )
    .await
    .unwrap_err();
    let text = chain(&e);
    assert!(text.contains("lock timeout"), "{text}");
    assert!(text.contains("`lock_timeout`"), "{text}");
    // The stream too.
    let items: Vec<_> = bounded(
        "deleted_members behind a lock",
        futures::StreamExt::collect::<Vec<_>>(directory.deleted_members("acme", None)),
    )
    .await;
    assert!(matches!(items.as_slice(), [Err(_)]), "{items:?}");
    drop(holder);
    // Released: the same directory answers again.
    bounded(
        "facts after the lock",
        directory.facts("acme", "u_bob", None),
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_lock_timeout_the_statement_timeout_still_ends_the_wait() {
    let (_seeded, guard) = common::fresh(Some(&suite::fixture())).await;
    let options = common::schema_options(&guard);
    let directory = PostgresDirectory::open_with(
        options.clone(),
        2,
        limits(Duration::ZERO, Duration::from_millis(400)),
        Access::ReadWrite,
    )
    .await
    .unwrap();
    let _holder = lock_tenants(&options).await;
    let decide = suite::decide_at(suite::default_policy(), suite::now());
    let request = restore_directory::RestoreRequest {
        tenant: "acme".into(),
        member: "u_bob".into(),
        actor: "u_anna".into(),
        department: "ops".into(),
        at: suite::now(),
    };
    let e = bounded(
        "a restore behind a lock",
        directory.apply_restore(&request, &decide),
    )
    .await
    .unwrap_err();
    let text = chain(&e);
    assert!(text.contains("statement timeout"), "{text}");
    assert!(text.contains("`statement_timeout`"), "{text}");
}

#[tokio::test]
async fn a_schema_without_the_directory_is_refused_and_left_empty() {
    let (options, guard) = common::empty_schema().await;
    for access in [Access::ReadOnly, Access::ReadWrite] {
        let e = PostgresDirectory::open_with(options.clone(), 1, Timeouts::default(), access)
            .await
            .expect_err("an empty schema is no directory");
        assert!(
            matches!(&e, DirectoryError::NotADirectory { .. }) && e.is_bad_input(),
            "{e:?}"
        );
        assert!(
            e.to_string().contains("not a restore directory database"),
            "{e}"
        );
        assert!(e.to_string().contains("restorectl import"), "{e}");
    }
    assert_eq!(common::table_count(&guard.name).await, 0, "nothing created");
    // Import (Create) is what sets one up.
    PostgresDirectory::open_with(options, 1, Timeouts::default(), Access::Create)
        .await
        .unwrap();
    assert!(common::table_count(&guard.name).await >= 5);
}

#[tokio::test]
async fn another_programs_migrations_are_refused_even_by_import() {
    let (options, guard) = common::empty_schema().await;
    let mut conn = PgConnection::connect_with(&options).await.unwrap();
    sqlx::query(
        "CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL,
         installed_on TIMESTAMPTZ NOT NULL DEFAULT now(), success BOOLEAN NOT NULL,
         checksum BYTEA NOT NULL, execution_time BIGINT NOT NULL)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    sqlx::query("INSERT INTO _sqlx_migrations VALUES (1, 'theirs', now(), true, '\\x00', 1)")
        .execute(&mut conn)
        .await
        .unwrap();
    for access in [Access::ReadOnly, Access::ReadWrite, Access::Create] {
        let e = PostgresDirectory::open_with(options.clone(), 1, Timeouts::default(), access)
            .await
            .expect_err("not ours");
        assert!(matches!(e, DirectoryError::NotADirectory { .. }), "{e:?}");
    }
    assert_eq!(common::table_count(&guard.name).await, 1, "nothing created");
}

#[tokio::test]
async fn read_only_sessions_refuse_writes() {
    let (_seeded, guard) = common::fresh(Some(&suite::fixture())).await;
    let directory = PostgresDirectory::open_with(
        common::schema_options(&guard),
        1,
        Timeouts::default(),
        Access::ReadOnly,
    )
    .await
    .unwrap();
    directory.facts("acme", "u_bob", None).await.unwrap();
    let e = sqlx::query("UPDATE tenants SET seats_used = 0")
        .execute(directory.pool())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("read-only transaction"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_racing_a_committed_import_of_its_tenant_says_already_exists() {
    // Forced overlap: another session has inserted `acme` but not committed
    // when the import checks; the import's insert then waits for it.
    let (options, guard) = common::empty_schema().await;
    // Named, so that the watcher below sees this import and no other test's.
    let name = format!("import-{}", guard.name);
    let directory = PostgresDirectory::open_with(
        options.clone().application_name(&name),
        2,
        Timeouts::default(),
        Access::Create,
    )
    .await
    .unwrap();
    let mut other = PgConnection::connect_with(&options).await.unwrap();
    sqlx::query("BEGIN").execute(&mut other).await.unwrap();
    sqlx::query("INSERT INTO tenants VALUES ('acme', 'pro', 1, 0)")
        .execute(&mut other)
        .await
        .unwrap();
    // Another session: statistics views keep one snapshot per transaction.
    let mut watcher = PgConnection::connect_with(&options).await.unwrap();
    let snapshot = suite::fixture();
    // Both on this task (the import future is not `Send`): the import runs
    // until it blocks on the other session's row; then that session commits.
    let import = directory.import(&snapshot);
    let commit_when_blocked = async {
        loop {
            let waiting: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity
                 WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO tenants%'
                   AND application_name = $1",
            )
            .bind(&name)
            .fetch_one(&mut watcher)
            .await
            .unwrap();
            if waiting > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        sqlx::query("COMMIT").execute(&mut other).await.unwrap();
    };
    let (result, ()) = bounded("the import", async {
        tokio::join!(import, commit_when_blocked)
    })
    .await;
    match result {
        Err(DirectoryError::Conflict(message)) => assert_eq!(
            message,
            "tenant `acme` already exists in the directory; nothing was imported"
        ),
        other => panic!("expected the documented conflict, got {other:?}"),
    }
    // Nothing of the refused import landed.
    assert!(matches!(
        directory.facts("beta", "u_yan", None).await,
        Err(DirectoryError::UnknownTenant { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_imports_of_one_snapshot_import_it_once() {
    for round in 0..5 {
        let (options, _guard) = common::empty_schema().await;
        let open = || {
            PostgresDirectory::open_with(options.clone(), 2, Timeouts::default(), Access::Create)
        };
        let (a, b) = (open().await.unwrap(), open().await.unwrap());
        let snapshot = suite::fixture();
        // Polled together: both check for the tenant before either commits.
        let (x, y) = bounded("two imports", async {
            tokio::join!(a.import(&snapshot), b.import(&snapshot))
        })
        .await;
        let results = [x, y];
        let ok = results.iter().filter(|r| r.is_ok()).count();
        let refused = results
            .iter()
            .filter(|r| {
                matches!(r, Err(DirectoryError::Conflict(m)) if m.ends_with("already exists in the directory; nothing was imported"))
            })
            .count();
        assert_eq!((ok, refused), (1, 1), "round {round}: {results:?}");
        a.facts("acme", "u_bob", None).await.unwrap();
    }
}
