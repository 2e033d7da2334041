//! What the conformance suite does not cover: paging across many pages,
//! restores racing through separate plugin instances, a `decide` that
//! panics between begin and commit, bad tenant files (links to devices,
//! oversized files), stale temporary files and seat counts at their limit.

// Test code: it asserts by panicking.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

#[path = "support/locate.rs"]
mod locate;

use std::path::Path;
use std::sync::Arc;

use futures::{FutureExt, StreamExt, TryStreamExt};
use restore_conformance as suite;
use restore_directory::{Directory, DirectoryError, RestoreOutcome, RestoreRequest, Snapshot};
use restore_memory::MemoryDirectory;
use restore_plugin::{PluginDirectory, PAGE_SIZE};
use tempfile::TempDir;

async fn open(root: &Path) -> PluginDirectory {
    let library = locate::plugin_library("restore-plugin-jsondir");
    PluginDirectory::open(&library, &format!("root={}", root.display()))
        .await
        .unwrap_or_else(|e| panic!("open jsondir plugin: {e}"))
}

fn folder(snapshot: &Snapshot) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    restore_plugin_jsondir::write_snapshot(dir.path(), snapshot).unwrap();
    dir
}

fn request(member: &str) -> RestoreRequest {
    RestoreRequest {
        tenant: "acme".into(),
        member: member.into(),
        actor: "u_anna".into(),
        department: "ops".into(),
        at: suite::now(),
    }
}

/// A tenant with more deleted members than fit in two pages.
fn big_snapshot(deleted: usize) -> Snapshot {
    let mut yaml = String::from(
        "format: restore-directory/v1\ntenants:\n  - id: big\n    plan: pro\n    seats: { total: 5000, used: 1 }\n    members:\n      - { id: u_admin, email: dup@big.test, roles: [primary_admin] }\n    deleted_members:\n",
    );
    // Written in reverse so that the adapter has to sort.
    for i in (0..deleted).rev() {
        let email = if i % 97 == 0 {
            "DUP@big.test"
        } else {
            "x@big.test"
        };
        yaml.push_str(&format!(
            "      - {{ id: u_{i:05}, email: {email}, deleted_at: 2026-11-01T09:00:00Z, reason: removed_by_admin, deletion: completed }}\n"
        ));
    }
    Snapshot::parse(
        &yaml,
        "big.yaml",
        restore_directory::snapshot::SnapshotSyntax::Yaml,
    )
    .unwrap()
}

#[tokio::test]
async fn deleted_members_page_through_the_whole_tenant_in_id_order() {
    let count = 2 * PAGE_SIZE as usize + 17;
    let snapshot = big_snapshot(count);
    let dir = folder(&snapshot);
    let plugin = open(dir.path()).await;
    let memory = MemoryDirectory::from_snapshot(&snapshot);
    let got: Vec<_> = plugin
        .deleted_members("big", Some("u_admin"))
        .try_collect()
        .await
        .unwrap();
    let want: Vec<_> = memory
        .deleted_members("big", Some("u_admin"))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(got.len(), count);
    assert_eq!(got, want);
    assert_eq!(got[0].member.id, "u_00000");
    assert_eq!(got[0].conflicts.email, vec!["u_admin".to_owned()]);
}

#[tokio::test]
async fn a_stream_for_an_unknown_actor_is_one_error() {
    let dir = folder(&big_snapshot(3));
    let plugin = open(dir.path()).await;
    let items: Vec<_> = plugin
        .deleted_members("big", Some("u_ghost"))
        .collect()
        .await;
    assert_eq!(items.len(), 1);
    assert!(matches!(
        &items[0],
        Err(DirectoryError::UnknownActor { tenant, actor }) if tenant == "big" && actor == "u_ghost"
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_racing_for_the_last_seat_restore_one_member() {
    // Separate instances share nothing in memory but the process-wide lock
    // and the files; the lock must still serialise them. The suite forces
    // the overlap: the first restore holds its lock while the second starts.
    for (first, second) in [("u_bob", "u_gus"), ("u_gus", "u_bob")] {
        let dir = folder(&suite::fixture());
        let a: Arc<dyn Directory> = Arc::new(open(dir.path()).await);
        let b: Arc<dyn Directory> = Arc::new(open(dir.path()).await);
        let results = suite::race_between([a, b], request(first), request(second)).await;
        assert!(
            matches!(results[0], Ok(RestoreOutcome::Restored(_)))
                && matches!(&results[1], Ok(RestoreOutcome::Denied(d)) if d.blocked_by("no_available_seat")),
            "{first} then {second}: {results:?}"
        );
        let file = restore_plugin_jsondir::read_tenant(dir.path(), "acme")
            .unwrap()
            .unwrap();
        assert_eq!(file.audit.len(), 1, "{first} then {second}");
        assert_eq!(
            file.tenant.seats.used, file.tenant.seats.total,
            "{first} then {second}"
        );
    }
}

#[tokio::test]
async fn a_panicking_decide_releases_the_lock_and_writes_nothing() {
    let dir = folder(&suite::fixture());
    let plugin = open(dir.path()).await;
    let path = restore_plugin_jsondir::tenant_path(dir.path(), "acme");
    let before = std::fs::read(&path).unwrap();
    let panicking = |_: &restore_engine::facts::Facts| -> Result<
        restore_engine::decision::Decision,
        restore_engine::EvaluationError,
    > { panic!("decide fails") };
    let caught = std::panic::AssertUnwindSafe(plugin.apply_restore(&request("u_bob"), &panicking))
        .catch_unwind()
        .await;
    assert!(caught.is_err(), "decide's panic reaches the caller");
    assert_eq!(std::fs::read(&path).unwrap(), before, "nothing written");
    // Had the lock stayed held, this would wait forever.
    let decide = suite::decide_at(suite::default_policy(), suite::now());
    let outcome = plugin
        .apply_restore(&request("u_bob"), &decide)
        .await
        .unwrap();
    assert!(
        matches!(outcome, RestoreOutcome::Restored(_)),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_tenant_file_holding_another_tenant_is_bad_data() {
    let dir = folder(&suite::fixture());
    // Put acme's data under another tenant's name.
    std::fs::copy(
        restore_plugin_jsondir::tenant_path(dir.path(), "acme"),
        restore_plugin_jsondir::tenant_path(dir.path(), "evil"),
    )
    .unwrap();
    let plugin = open(dir.path()).await;
    let e = plugin.facts("evil", "u_bob", None).await.unwrap_err();
    assert!(
        matches!(&e, DirectoryError::BadRow { reason, .. } if reason.contains("holds tenant `acme`, expected `evil`")),
        "{e:?}"
    );
}

#[tokio::test]
async fn a_tenant_id_with_path_characters_stays_in_the_folder() {
    let dir = folder(&suite::fixture());
    let plugin = open(dir.path()).await;
    let e = plugin.facts("../acme", "u_bob", None).await.unwrap_err();
    assert!(
        matches!(&e, DirectoryError::UnknownTenant { tenant } if tenant == "../acme"),
        "{e:?}"
    );
}

async fn open_with(root: &Path, extra: &str) -> PluginDirectory {
    let library = locate::plugin_library("restore-plugin-jsondir");
    PluginDirectory::open(&library, &format!("root={}{extra}", root.display()))
        .await
        .unwrap_or_else(|e| panic!("open jsondir plugin: {e}"))
}

/// The reason of a `BadRow` from the plugin, or a panic naming what came.
fn bad_row_reason(e: &DirectoryError) -> &str {
    match e {
        DirectoryError::BadRow { reason, .. } => reason,
        other => panic!("expected bad data, got {other:?}"),
    }
}

#[cfg(unix)]
#[tokio::test]
async fn a_tenant_file_linked_to_a_device_or_fifo_is_refused_without_reading() {
    let dir = folder(&suite::fixture());
    let path = restore_plugin_jsondir::tenant_path(dir.path(), "acme");
    std::fs::remove_file(&path).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &path).unwrap();
    let plugin = open(dir.path()).await;
    // Reading /dev/zero would never end; the refusal is immediate.
    let e = plugin.facts("acme", "u_bob", None).await.unwrap_err();
    assert!(bad_row_reason(&e).contains("not a regular file"), "{e}");
    assert!(bad_row_reason(&e).contains("tenant-acme.json"), "{e}");
    let items: Vec<_> = plugin.deleted_members("acme", None).collect().await;
    assert_eq!(items.len(), 1, "{items:?}");
    assert!(items[0].is_err());

    // A FIFO with no writer would block the open itself.
    std::fs::remove_file(&path).unwrap();
    let status = std::process::Command::new("mkfifo")
        .arg(&path)
        .status()
        .unwrap();
    assert!(status.success());
    let e = plugin.facts("acme", "u_bob", None).await.unwrap_err();
    assert!(bad_row_reason(&e).contains("not a regular file"), "{e}");
}

#[tokio::test]
async fn a_tenant_file_over_the_size_limit_is_refused_naming_the_limit() {
    let dir = folder(&suite::fixture());
    let path = restore_plugin_jsondir::tenant_path(dir.path(), "acme");
    let size = std::fs::metadata(&path).unwrap().len();
    let plugin = open_with(dir.path(), &format!("&max_file_size={}", size - 1)).await;
    let e = plugin.facts("acme", "u_bob", None).await.unwrap_err();
    let reason = bad_row_reason(&e);
    assert!(
        reason.contains(&format!("limit of {}", size - 1)) && reason.contains("max_file_size"),
        "{e}"
    );
    // At the limit it reads.
    let plugin = open_with(dir.path(), &format!("&max_file_size={size}")).await;
    plugin.facts("acme", "u_bob", None).await.unwrap();
}

#[tokio::test]
async fn opening_removes_temp_files_of_killed_writers_but_not_of_live_ones() {
    let dir = folder(&suite::fixture());
    // As a writer killed between write and rename leaves them.
    let stale = dir.path().join(".tenant-acme.json.tmp-4242-0");
    std::fs::write(&stale, vec![b'x'; 1 << 20]).unwrap();
    let busy = dir.path().join(".tenant-beta.json.tmp-4243-0");
    std::fs::write(&busy, b"in progress").unwrap();
    let foreign = dir.path().join(".notes.json.tmp-1");
    std::fs::write(&foreign, b"not ours").unwrap();
    // A writer of `beta` is alive: it holds beta's lock.
    let held = restore_plugin_jsondir::TenantLock::acquire(dir.path(), "beta").unwrap();
    let plugin = open(dir.path()).await;
    assert!(!stale.exists(), "stale temp file left");
    assert!(busy.exists(), "a live writer's temp file was removed");
    assert!(foreign.exists(), "a file that is not ours was removed");
    drop(held);
    assert_eq!(
        restore_plugin_jsondir::remove_stale_temp_files(dir.path()).unwrap(),
        1
    );
    assert!(!busy.exists());
    // The folder still works.
    plugin.facts("acme", "u_bob", None).await.unwrap();
}

#[tokio::test]
async fn a_restore_that_would_overflow_the_seat_count_changes_nothing() {
    let mut snapshot = suite::fixture();
    let acme = snapshot
        .tenants
        .iter_mut()
        .find(|t| t.id == "acme")
        .unwrap();
    acme.seats.total = i64::MAX;
    acme.seats.used = i64::MAX - 1;
    let dir = folder(&snapshot);
    let plugin = open(dir.path()).await;
    let decide = suite::decide_at(suite::default_policy(), suite::now());
    // One seat left: the count reaches i64::MAX exactly.
    let outcome = plugin
        .apply_restore(
            &request("u_bob"),
            &suite::decide_at(suite::default_policy(), suite::now()),
        )
        .await
        .unwrap();
    match outcome {
        RestoreOutcome::Restored(receipt) => assert_eq!(receipt.seats_used, i64::MAX),
        other => panic!("{other:?}"),
    }
    let path = restore_plugin_jsondir::tenant_path(dir.path(), "acme");
    let before = std::fs::read(&path).unwrap();
    // Now full: over-allocation is allowed on some tiers, but the count
    // itself cannot grow. Force the policy's hand with an allowing decide.
    let allow = move |facts: &restore_engine::facts::Facts| {
        let mut decision = decide(facts)?;
        decision.allowed = true;
        decision.blockers.clear();
        Ok(decision)
    };
    let e = plugin
        .apply_restore(&request("u_gus"), &allow)
        .await
        .unwrap_err();
    assert!(bad_row_reason(&e).contains("would overflow"), "{e}");
    assert_eq!(std::fs::read(&path).unwrap(), before, "nothing written");
    let file = restore_plugin_jsondir::read_tenant(dir.path(), "acme")
        .unwrap()
        .unwrap();
    assert_eq!(file.tenant.seats.used, i64::MAX);
    // Still readable.
    plugin.facts("acme", "u_gus", None).await.unwrap();
}

#[tokio::test]
async fn reads_see_a_restore_made_through_another_instance() {
    // Reads reuse the parsed file while it is unchanged; a write through
    // another instance (or process) replaces it and must be seen.
    let dir = folder(&suite::fixture());
    let reader = open(dir.path()).await;
    let writer = open(dir.path()).await;
    let before: Vec<_> = reader
        .deleted_members("acme", None)
        .try_collect()
        .await
        .unwrap();
    assert!(before.iter().any(|f| f.member.id == "u_bob"));
    let decide = suite::decide_at(suite::default_policy(), suite::now());
    let outcome = writer
        .apply_restore(&request("u_bob"), &decide)
        .await
        .unwrap();
    assert!(
        matches!(outcome, RestoreOutcome::Restored(_)),
        "{outcome:?}"
    );
    let after: Vec<_> = reader
        .deleted_members("acme", None)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(after.len(), before.len() - 1);
    assert!(after.iter().all(|f| f.member.id != "u_bob"));
    let e = reader.facts("acme", "u_bob", None).await.unwrap_err();
    assert!(matches!(e, DirectoryError::UnknownMember { .. }), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_behind_a_held_tenant_lock_gives_up_after_the_lock_timeout() {
    let dir = folder(&suite::fixture());
    let path = restore_plugin_jsondir::tenant_path(dir.path(), "acme");
    let before = std::fs::read(&path).unwrap();
    // Another restore (here: this test) holds the tenant.
    let held = restore_plugin_jsondir::TenantLock::acquire(dir.path(), "acme").unwrap();
    let plugin = open_with(dir.path(), "&lock_timeout=200ms").await;
    let decide = suite::decide_at(suite::default_policy(), suite::now());
    let e = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        plugin.apply_restore(&request("u_bob"), &decide),
    )
    .await
    .expect("the restore still waits after 30 s")
    .unwrap_err();
    assert!(
        matches!(&e, DirectoryError::Conflict(m) if m.contains("`lock_timeout`") && m.contains("200ms")),
        "{e:?}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), before);
    drop(held);
    let outcome = plugin
        .apply_restore(&request("u_bob"), &decide)
        .await
        .unwrap();
    assert!(
        matches!(outcome, RestoreOutcome::Restored(_)),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_restore_records_the_items_it_brought_back_in_the_file() {
    let dir = folder(&suite::fixture());
    let plugin = open(dir.path()).await;
    let decide = suite::decide_at(suite::default_policy(), suite::now());
    let receipt = match plugin
        .apply_restore(&request("u_bob"), &decide)
        .await
        .unwrap()
    {
        RestoreOutcome::Restored(receipt) => receipt,
        other => panic!("{other:?}"),
    };
    // Read back from the tenant file the plugin wrote.
    let file = restore_plugin_jsondir::read_tenant(dir.path(), "acme")
        .unwrap()
        .unwrap();
    let [entry] = &file.audit[..] else {
        panic!("one audit entry: {:?}", file.audit)
    };
    assert_eq!(entry.id, receipt.audit_id);
    let items: Vec<(&str, Vec<&str>)> = entry
        .restored_items
        .iter()
        .map(|(r, ids)| (r.as_str(), ids.iter().map(String::as_str).collect()))
        .collect();
    assert_eq!(
        items,
        [
            ("documents", vec!["d1", "d0"]),
            ("group_chats", vec!["g1", "g2"]),
            ("minutes", vec!["m1"]),
        ],
        "d2 was transferred (F21), approval tasks stay away (F25)"
    );
    assert_eq!(receipt.restored_items, 5, "receipt count");
    assert!(
        file.tenant.deleted_members.iter().all(|m| m.id != "u_bob"),
        "u_bob left the deleted members"
    );
}

#[tokio::test]
async fn attributes_are_stored_in_v2_files_only_and_checked_on_read() {
    // Without attributes: v1 files, no `attributes` anywhere.
    let plain = folder(&suite::fixture());
    let text =
        std::fs::read_to_string(restore_plugin_jsondir::tenant_path(plain.path(), "acme")).unwrap();
    assert!(text.contains(r#""format": "restore-jsondir/v1""#), "{text}");
    assert!(!text.contains("attributes"), "{text}");

    let dir = folder(&suite::attributes_fixture());
    let path = restore_plugin_jsondir::tenant_path(dir.path(), "acme");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(r#""format": "restore-jsondir/v2""#), "{text}");
    let plugin = open(dir.path()).await;

    // A restore carries the member's attributes into its active record.
    let decide = suite::decide_at(suite::default_policy(), suite::now());
    let mut req = request("u_held");
    req.department = "legal".into();
    let outcome = plugin.apply_restore(&req, &decide).await.unwrap();
    assert!(
        matches!(outcome, RestoreOutcome::Restored(_)),
        "{outcome:?}"
    );
    let file = restore_plugin_jsondir::read_tenant(dir.path(), "acme")
        .unwrap()
        .unwrap();
    let held = suite::attributes_fixture().tenants[0].deleted_members[0]
        .attributes
        .clone();
    let active = file
        .tenant
        .members
        .iter()
        .find(|m| m.id == "u_held")
        .unwrap();
    assert_eq!(active.attributes, held, "stored on the active record");

    // A value no attribute may hold, written by hand: bad data naming it.
    let text = std::fs::read_to_string(&path).unwrap();
    let broken = text.replacen(r#""was_admin": true"#, r#""was_admin": 1.5"#, 1);
    assert_ne!(broken, text, "the fixture's u_anna has `was_admin`");
    std::fs::write(&path, &broken).unwrap();
    let e = plugin.facts("acme", "u_none", None).await.unwrap_err();
    let reason = bad_row_reason(&e);
    assert!(
        reason.contains("`was_admin`") && reason.contains("tenant-acme.json"),
        "{reason}"
    );

    // Attributes in a file that says v1: refused, not dropped.
    let v1 = text.replacen("restore-jsondir/v2", "restore-jsondir/v1", 1);
    std::fs::write(&path, v1).unwrap();
    let e = plugin.facts("acme", "u_none", None).await.unwrap_err();
    assert!(
        bad_row_reason(&e).contains("attributes need `format: restore-jsondir/v2`"),
        "{e}"
    );
}
