//! What the conformance suite does not cover: paging across many pages,
//! restores racing through separate plugin instances, a `decide` that
//! panics between begin and commit, and bad tenant files.

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
    let panicking = |_: &restore_engine::facts::Facts| -> restore_engine::decision::Decision {
        panic!("decide fails")
    };
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
