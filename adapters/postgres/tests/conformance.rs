//! The PostgreSQL adapter against the conformance suite, plus checks of what only
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
#[path = "support/pg.rs"]
mod common;

use restore_conformance::{self as suite, AuditRecord, Probe, Subject};
use restore_directory::{Directory, DirectoryError, RestoreOutcome, RestoreRequest, Snapshot};
use restore_postgres::PostgresDirectory;

struct PgProbe(Arc<PostgresDirectory>);

#[async_trait]
impl Probe for PgProbe {
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

async fn make(snapshot: Snapshot) -> Subject {
    let (directory, guard) = common::fresh(Some(&snapshot)).await;
    Subject {
        directory: directory.clone(),
        probe: Box::new(PgProbe(directory)),
        guard: Some(Box::new(guard)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_adapter_conforms() {
    suite::run_all(make).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_brings_back_untransferred_items_only() {
    let (directory, _guard) = common::fresh(Some(&suite::fixture())).await;
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
    let (directory, guard) = common::fresh(Some(&suite::fixture())).await;
    let pool = common::raw_pool(&guard.name).await;
    for statement in [
        "INSERT INTO tenants (id, plan, seats_total, seats_used) VALUES ('gold_t', 'Gold Plan', 5, 1)",
        "INSERT INTO tenants (id, plan, seats_total, seats_used) VALUES ('neg_t', 'pro', -1, 0)",
        "UPDATE tenants SET seats_used = -3 WHERE id = 'gamma'",
        "UPDATE deleted_members SET reason = 'fired' WHERE tenant_id = 'acme' AND id = 'u_cleo'",
        "UPDATE deleted_members SET deletion = 'paused' WHERE tenant_id = 'acme' AND id = 'u_fay'",
    ] {
        sqlx::query(statement)
            .execute(&pool)
            .await
            .expect(statement);
    }
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
            "gamma",
            "u_kim",
            "tenants",
            "gamma",
            "seats_used `-3` is negative",
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
            "unknown deletion state `paused`",
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
    // A restore on a bad tenant row fails cleanly and writes nothing.
    let request = RestoreRequest {
        tenant: "gold_t".into(),
        member: "x".into(),
        actor: "a".into(),
        department: "ops".into(),
        at: suite::now(),
    };
    let decide = suite::decide_at(suite::default_policy(), request.at);
    let got = directory.apply_restore(&request, &decide).await;
    assert!(
        matches!(
            got,
            Err(DirectoryError::BadRow {
                table: "tenants",
                ..
            })
        ),
        "{got:?}"
    );
    // The stream reports bad rows as items, and keeps the good ones.
    use futures::StreamExt;
    let items: Vec<_> = directory.deleted_members("acme", None).collect().await;
    assert_eq!(items.len(), 8);
    let bad = items.iter().filter(|r| r.is_err()).count();
    assert_eq!(bad, 2, "u_cleo and u_fay are bad");
}

/// Rows are decoded without sqlx's per-value type check once the first
/// row's column types are checked; a column whose type was changed by hand
/// must still be a bad row, on every row, not a value misread.
#[tokio::test]
async fn a_column_of_the_wrong_type_is_a_bad_row() {
    let (directory, guard) = common::fresh(Some(&suite::fixture())).await;
    let pool = common::raw_pool(&guard.name).await;
    // `true`/`false` as text: read unchecked as a bool, its first byte
    // would pass for `true`.
    sqlx::query(
        "ALTER TABLE deleted_members ALTER COLUMN removed_from_list TYPE text \
         USING removed_from_list::text",
    )
    .execute(&pool)
    .await
    .unwrap();
    let want = "column 6 (`removed_from_list`) is `TEXT`, not `BOOL`";
    match directory.facts("acme", "u_bob", None).await {
        Err(DirectoryError::BadRow { table, key, reason }) => {
            assert_eq!((table, key.as_str()), ("deleted_members", "acme/u_bob"));
            assert_eq!(reason, want);
        }
        other => panic!("expected BadRow, got {other:?}"),
    }
    use futures::StreamExt;
    let items: Vec<_> = directory.deleted_members("acme", None).collect().await;
    assert_eq!(items.len(), 8);
    for item in items {
        match item {
            Err(DirectoryError::BadRow { reason, .. }) => assert_eq!(reason, want),
            other => panic!("expected BadRow, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn import_refuses_an_existing_tenant_and_writes_nothing() {
    let (directory, _guard) = common::fresh(Some(&suite::fixture())).await;
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

/// Reads `attributes::text` back as the adapter stores it.
async fn stored_attributes(
    pool: &sqlx::PgPool,
    statement: &'static str,
) -> Vec<(String, Option<String>)> {
    sqlx::query_as(statement).fetch_all(pool).await.unwrap()
}

#[tokio::test]
async fn bad_attribute_rows_are_reported_not_panicked() {
    let (directory, guard) = common::fresh(Some(&suite::attributes_fixture())).await;
    let pool = common::raw_pool(&guard.name).await;
    for statement in [
        r#"UPDATE deleted_members SET attributes = '{"rate": 1.5}' WHERE tenant_id = 'acme' AND id = 'u_held'"#,
        "UPDATE members SET attributes = '[1, 2]' WHERE tenant_id = 'acme' AND id = 'u_plain'",
        // Valid JSONB, but beyond i64.
        r#"UPDATE tenants SET attributes = '{"n": 99999999999999999999}' WHERE id = 'beta'"#,
    ] {
        sqlx::query(statement)
            .execute(&pool)
            .await
            .expect(statement);
    }
    let subject = Subject {
        directory: directory.clone(),
        probe: Box::new(PgProbe(directory)),
        guard: Some(Box::new(guard)),
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
            bad("beta", "u_yan", "u_zed", "tenants", "beta", "`n`"),
        ],
    )
    .await;
}

#[tokio::test]
async fn attributes_are_stored_as_jsonb() {
    let (directory, guard) = common::fresh(Some(&suite::attributes_fixture())).await;
    let pool = common::raw_pool(&guard.name).await;
    let rows = stored_attributes(
        &pool,
        "SELECT id::text, attributes::text FROM deleted_members ORDER BY tenant_id, id",
    )
    .await;
    let ids: Vec<(&str, bool)> = rows
        .iter()
        .map(|(id, a)| (id.as_str(), a.is_some()))
        .collect();
    assert_eq!(ids, [("u_held", true), ("u_none", false), ("u_yan", true)]);
    let (kind,): (String,) = sqlx::query_as(
        "SELECT jsonb_typeof(attributes -> 'rank') FROM deleted_members WHERE id = 'u_held'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(kind, "number", "stored as JSON, not as text");
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
    let active = stored_attributes(
        &pool,
        "SELECT id::text, attributes::text FROM members WHERE tenant_id = 'acme' AND id = 'u_held'",
    )
    .await;
    let deleted = &rows[0].1;
    assert_eq!(active[0].1, *deleted, "carried to the active record");
}
