//! `restorectl eval` against a plugin directory: the jsondir example plugin
//! decides exactly as the in-memory adapter on the same data, and a bad
//! plugin ends in exit 2 with one line on stderr and nothing on stdout.

// Test code: it asserts by panicking.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

#[path = "../adapters/plugin/tests/support/locate.rs"]
mod locate;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use locate::plugin_library;
use restore_directory::Snapshot;

const AT: &str = "2026-11-24T10:00:00Z";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn fixture_file() -> PathBuf {
    root().join("tests/fixtures/directory.yaml")
}

fn eval(directory: &str, tenant: &str, member: &str, actor: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_restorectl"));
    cmd.args(["eval", "--rules"])
        .arg(root().join("rules"))
        .args([
            "--directory",
            directory,
            "--tenant",
            tenant,
            "--member",
            member,
        ])
        .args(["--at", AT]);
    if let Some(actor) = actor {
        cmd.args(["--actor", actor]);
    }
    cmd.output().expect("run restorectl")
}

fn plugin_url(library: &Path, config: &str) -> String {
    format!("plugin:{}?{config}", library.display())
}

/// The fixture snapshot, and a folder holding it in the jsondir plugin's layout.
fn fixture_as_jsondir() -> (Snapshot, tempfile::TempDir) {
    let snapshot = Snapshot::load(&fixture_file()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    restore_plugin_jsondir::write_snapshot(dir.path(), &snapshot).unwrap();
    (snapshot, dir)
}

/// `plugin:` URL of the jsondir plugin reading `root`.
fn jsondir_url(root: &Path) -> String {
    plugin_url(
        &plugin_library("restore-plugin-jsondir"),
        &format!("root={}", root.display()),
    )
}

#[test]
fn the_jsondir_plugin_decides_as_the_memory_adapter() {
    let (snapshot, dir) = fixture_as_jsondir();
    let plugin = jsondir_url(dir.path());
    let memory = format!("memory:{}", fixture_file().display());
    let mut compared = 0;
    for tenant in &snapshot.tenants {
        let actor = tenant.members.first().map(|m| m.id.as_str());
        for member in &tenant.deleted_members {
            let want = eval(&memory, &tenant.id, &member.id, actor);
            let got = eval(&plugin, &tenant.id, &member.id, actor);
            let who = format!("{}/{}", tenant.id, member.id);
            assert!(matches!(want.status.code(), Some(0 | 1)), "{who}: {want:?}");
            assert_eq!(got.status.code(), want.status.code(), "{who}: {got:?}");
            assert_eq!(
                String::from_utf8_lossy(&got.stdout),
                String::from_utf8_lossy(&want.stdout),
                "{who}"
            );
            compared += 1;
        }
    }
    assert!(compared >= 5, "only {compared} members compared");
}

#[test]
fn a_bare_library_name_is_found_in_the_working_directory() {
    // The system loader alone would search only its own paths for a bare name.
    let (_, dir) = fixture_as_jsondir();
    let library = plugin_library("restore-plugin-jsondir");
    let name = library.file_name().unwrap().to_str().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_restorectl"))
        .current_dir(library.parent().unwrap())
        .args(["eval", "--rules"])
        .arg(root().join("rules"))
        .arg("--directory")
        .arg(format!("plugin:{name}?root={}", dir.path().display()))
        .args(["--tenant", "acme", "--member", "u_bob", "--at", AT])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(r#""member": "u_bob""#));
}

/// Exit 2, nothing on stdout, one line on stderr containing `expected`.
fn assert_bad_plugin(directory: &str, expected: &str) {
    let out = eval(directory, "acme", "u_bob", Some("u_anna"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{directory}: {stderr}");
    assert!(
        out.stdout.is_empty(),
        "{directory}: stdout {:?}",
        out.stdout
    );
    assert_eq!(stderr.lines().count(), 1, "{directory}: {stderr}");
    assert!(stderr.contains(expected), "{directory}: {stderr}");
}

#[test]
fn a_text_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("libnot.so");
    std::fs::write(&file, "not a library\n").unwrap();
    assert_bad_plugin(&plugin_url(&file, ""), "cannot load the library");
}

#[cfg(target_os = "linux")]
#[test]
fn a_library_without_the_symbols_is_refused() {
    assert_bad_plugin(
        "plugin:libc.so.6?",
        "not a restore plugin: symbol `RESTORE_PLUGIN_ABI_VERSION` is missing",
    );
}

#[test]
fn another_abi_version_is_refused() {
    let library = plugin_library("restore-plugin-fixture-badabi");
    assert_bad_plugin(&plugin_url(&library, ""), "plugin speaks ABI version 999");
}

#[test]
fn a_panicking_plugin_is_reported() {
    let library = plugin_library("restore-plugin-fixtures");
    assert_bad_plugin(
        &plugin_url(&library, "mode=panic"),
        "plugin panicked: fixture panics on purpose",
    );
}

#[test]
fn a_malformed_reply_is_reported() {
    let library = plugin_library("restore-plugin-fixtures");
    assert_bad_plugin(
        &plugin_url(&library, "mode=garbage"),
        "plugin sent a malformed message: not valid JSON",
    );
    assert_bad_plugin(
        &plugin_url(&library, "mode=wrong-version"),
        "message version `99` is not supported",
    );
}

#[test]
fn a_bad_plugin_config_is_reported() {
    let library = plugin_library("restore-plugin-jsondir");
    assert_bad_plugin(
        &plugin_url(&library, "root=/no/such/folder"),
        "jsondir root `/no/such/folder` is not a directory",
    );
}

#[test]
fn diff_covers_every_tenant_of_a_plugin_directory() {
    let (_, dir) = fixture_as_jsondir();
    let plugin = jsondir_url(dir.path());
    let diff = |directory: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_restorectl"))
            .args(["diff", "--rules"])
            .arg(root().join("rules"))
            .args(["--directory", directory, "--to-tier", "pro", "--at", AT])
            .args(["--output", "json"])
            .output()
            .expect("run restorectl");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{directory}: {stderr}");
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    // No --tenant: the plugin lists its tenants (the `tenants` request).
    let from_plugin = diff(&plugin);
    let memory = format!("memory:{}", fixture_file().display());
    assert_eq!(from_plugin, diff(&memory));
    assert_eq!(from_plugin["counts"]["evaluated"], 17);
}
