//! The SQLite adapter against the conformance suite, plus checks of what only
//! SQL can show: restored items, bad rows, import refusal.

// Test code: it asserts by panicking.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

use std::sync::Arc;

use async_trait::async_trait;
use restore_conformance::{self as suite, AuditRecord, Probe, Subject};
use restore_directory::{Directory, DirectoryError, RestoreOutcome, RestoreRequest, Snapshot};
use restore_sqlite::SqliteDirectory;
use tempfile::TempDir;

struct SqliteProbe(Arc<SqliteDirectory>);

#[async_trait]
impl Probe for SqliteProbe {
    async fn audit(&self, tenant: &str) -> Result<Vec<AuditRecord>, DirectoryError> {
        Ok(self
            .0
            .audit(tenant)
            .await?
            .into_iter()
            .map(|r| AuditRecord {
                id: r.id,
                member: r.member_id,
                actor: r.actor,
                policy_version: r.policy_version,
                digest: r.digest,
            })
            .collect())
    }
    async fn department(
        &self,
        tenant: &str,
        member: &str,
    ) -> Result<Option<String>, DirectoryError> {
        self.0.department(tenant, member).await
    }
    async fn restored_items(
        &self,
        tenant: &str,
        member: &str,
        resource: &str,
    ) -> Result<Option<Vec<String>>, DirectoryError> {
        self.0
            .restored_items(tenant, member, resource)
            .await
            .map(Some)
    }
}

/// A fresh database file in a temporary folder, with `snapshot` imported.
async fn fresh(snapshot: &Snapshot) -> (Arc<SqliteDirectory>, TempDir) {
    let dir = tempfile::tempdir().expect("temporary folder");
    let url = format!("sqlite:{}", dir.path().join("directory.db").display());
    let directory = SqliteDirectory::connect(&url).await.expect("connect");
    directory.import(snapshot).await.expect("import fixture");
    (Arc::new(directory), dir)
}

async fn make(snapshot: Snapshot) -> Subject {
    let (directory, dir) = fresh(&snapshot).await;
    Subject {
        directory: directory.clone(),
        probe: Box::new(SqliteProbe(directory)),
        guard: Some(Box::new(dir)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_adapter_conforms() {
    suite::run_all(make).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_brings_back_untransferred_items_only() {
    let (directory, _dir) = fresh(&suite::fixture()).await;
    let request = RestoreRequest {
        tenant: "acme".into(),
        member: "u_bob".into(),
        actor: "u_anna".into(),
        department: "ops".into(),
        at: suite::now(),
    };
    let decide = suite::decide_at(suite::default_policy(), request.at);
    let outcome = directory
        .apply_restore(&request, &decide)
        .await
        .expect("restore");
    let RestoreOutcome::Restored(receipt) = outcome else {
        panic!("{outcome:?}")
    };
    // The receipt counts the rows the restore marked, read back here.
    let (marked,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM resource_items
        WHERE tenant_id = 'acme' AND member_id = 'u_bob' AND restored = TRUE",
    )
    .fetch_one(directory.pool())
    .await
    .unwrap();
    assert_eq!(marked, 5, "g1 g2 d1 d0 m1");
    assert_eq!(i64::from(receipt.restored_items), marked, "receipt count");
    let docs = directory
        .restored_items("acme", "u_bob", "documents")
        .await
        .unwrap();
    assert_eq!(docs, ["d1", "d0"], "d2 was transferred to u_anna (F21)");
    let chats = directory
        .restored_items("acme", "u_bob", "group_chats")
        .await
        .unwrap();
    assert_eq!(chats, ["g1", "g2"], "group chats are restored (F19)");
    let tasks = directory
        .restored_items("acme", "u_bob", "approval_tasks_in_progress")
        .await
        .unwrap();
    assert!(
        tasks.is_empty(),
        "approval tasks in progress are not restored (F25)"
    );
}

#[tokio::test]
async fn bad_rows_are_reported_not_panicked() {
    let (directory, _dir) = fresh(&suite::fixture()).await;
    let pool = directory.pool();
    sqlx::query(
        "INSERT INTO tenants (id, plan, seats_total, seats_used) VALUES ('gold_t', 'Gold Plan', 5, 1)",
    )
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO tenants (id, plan, seats_total, seats_used) VALUES ('neg_t', 'pro', -1, 0)",
    )
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "UPDATE deleted_members SET reason = 'fired' WHERE tenant_id = 'acme' AND id = 'u_cleo'",
    )
    .execute(pool)
    .await
    .unwrap();
    sqlx::query("UPDATE deleted_members SET deleted_at = 'yesterday' WHERE tenant_id = 'acme' AND id = 'u_fay'")
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("UPDATE tenants SET seats_used = 'many' WHERE id = 'gamma'")
        .execute(pool)
        .await
        .unwrap();
    sqlx::query(
        "UPDATE resource_items SET position = 'first' WHERE tenant_id = 'acme' AND member_id = 'u_bob' AND position = 0",
    )
    .execute(pool)
    .await
    .unwrap();

    let cases = [
        (
            "gold_t",
            "x",
            "tenants",
            "gold_t",
            "plan `Gold Plan` is not an identifier",
        ),
        (
            "neg_t",
            "x",
            "tenants",
            "neg_t",
            "seats_total `-1` is negative",
        ),
        (
            "acme",
            "u_cleo",
            "deleted_members",
            "acme/u_cleo",
            "unknown deletion reason `fired`",
        ),
        (
            "acme",
            "u_fay",
            "deleted_members",
            "acme/u_fay",
            "deleted_at",
        ),
        ("gamma", "u_kim", "tenants", "gamma", "column"),
        (
            "acme",
            "u_bob",
            "resource_items",
            "acme/u_bob",
            "items: not the expected JSON",
        ),
    ];
    for (tenant, member, want_table, want_key, want_reason) in cases {
        match directory.facts(tenant, member, None).await {
            Err(DirectoryError::BadRow { table, key, reason }) => {
                assert_eq!(table, want_table, "{tenant}/{member}");
                assert_eq!(key, want_key, "{tenant}/{member}");
                assert!(
                    reason.contains(want_reason),
                    "{tenant}/{member}: reason `{reason}`"
                );
            }
            other => panic!("{tenant}/{member}: expected BadRow, got {other:?}"),
        }
    }
    // The stream reports the bad row as an item, and keeps the good ones.
    use futures::StreamExt;
    let items: Vec<_> = directory.deleted_members("acme", None).collect().await;
    assert_eq!(items.len(), 8);
    let bad: Vec<_> = items.iter().filter(|r| r.is_err()).collect();
    assert_eq!(bad.len(), 3, "u_bob, u_cleo and u_fay are bad: {bad:?}");
}

#[tokio::test]
async fn import_refuses_an_existing_tenant_and_writes_nothing() {
    let (directory, _dir) = fresh(&suite::fixture()).await;
    let mut again = suite::fixture();
    // A new tenant first, then one that exists: the new one must not land.
    let mut fresh_tenant = again.tenants[2].clone();
    fresh_tenant.id = "delta".into();
    again.tenants.insert(0, fresh_tenant);
    match directory.import(&again).await {
        Err(DirectoryError::Conflict(message)) => {
            assert!(message.contains("`acme`"), "{message}")
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert!(
        matches!(
            directory.facts("delta", "u_kim", None).await,
            Err(DirectoryError::UnknownTenant { .. })
        ),
        "nothing of the refused import may be written"
    );
}

#[tokio::test]
async fn open_refuses_a_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing.db");
    let got = SqliteDirectory::open(&path).await;
    assert!(got.is_err(), "opening a missing file must fail");
    assert!(!path.exists(), "opening must not create the file");
}

#[tokio::test]
async fn bad_attribute_rows_are_reported_not_panicked() {
    let snapshot = suite::attributes_fixture();
    let (directory, dir) = fresh(&snapshot).await;
    for statement in [
        r#"UPDATE deleted_members SET attributes = '{"rate": 1.5}' WHERE tenant_id = 'acme' AND id = 'u_held'"#,
        "UPDATE members SET attributes = '[1, 2]' WHERE tenant_id = 'acme' AND id = 'u_plain'",
        r#"UPDATE tenants SET attributes = '{"region": ' WHERE id = 'beta'"#,
    ] {
        sqlx::query(statement)
            .execute(directory.pool())
            .await
            .expect(statement);
    }
    let subject = Subject {
        directory: directory.clone(),
        probe: Box::new(SqliteProbe(directory)),
        guard: Some(Box::new(dir)),
    };
    let bad = |tenant, member, actor, table, key, said| suite::BadAttribute {
        tenant,
        member,
        actor: Some(actor),
        table,
        key,
        said,
    };
    suite::bad_attribute_rows(
        &subject,
        &[
            bad(
                "acme",
                "u_held",
                "u_anna",
                "deleted_members",
                "acme/u_held",
                "`rate`",
            ),
            bad(
                "acme",
                "u_none",
                "u_plain",
                "members",
                "acme/u_plain",
                "object",
            ),
            bad("beta", "u_yan", "u_zed", "tenants", "beta", "JSON"),
        ],
    )
    .await;
}

#[tokio::test]
async fn attributes_are_stored_as_canonical_json() {
    let (directory, _dir) = fresh(&suite::attributes_fixture()).await;
    let rows: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT id, attributes FROM deleted_members ORDER BY tenant_id, id")
            .fetch_all(directory.pool())
            .await
            .unwrap();
    assert_eq!(
        rows,
        [
            (
                "u_held".to_owned(),
                Some(r#"{"former_roles":["admin","approver"],"hold_until":"2026-12-01T00:00:00Z","note":"","rank":-9223372036854775808,"suspended":true}"#.to_owned())
            ),
            ("u_none".to_owned(), None),
            (
                "u_yan".to_owned(),
                Some(r#"{"rank":9223372036854775807,"region":"us"}"#.to_owned())
            ),
        ]
    );
    // A restore writes the member's attributes into its active record.
    let decide = suite::decide_at(suite::default_policy(), suite::now());
    let request = RestoreRequest {
        tenant: "acme".into(),
        member: "u_held".into(),
        actor: "u_anna".into(),
        department: "legal".into(),
        at: suite::now(),
    };
    let outcome = directory.apply_restore(&request, &decide).await.unwrap();
    assert!(
        matches!(outcome, RestoreOutcome::Restored(_)),
        "{outcome:?}"
    );
    let (active,): (Option<String>,) =
        sqlx::query_as("SELECT attributes FROM members WHERE tenant_id = 'acme' AND id = 'u_held'")
            .fetch_one(directory.pool())
            .await
            .unwrap();
    assert_eq!(active, rows[0].1);
}
