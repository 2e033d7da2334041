//! Helpers shared by the end-to-end tests.
#![allow(dead_code)]

pub mod pg;
pub mod server;
pub mod setup;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use restore_directory::Directory;
use restore_engine::{CompiledPolicy, Decision, PolicySet, Request};
use restore_memory::MemoryDirectory;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures").join(name)
}

/// The time every fixture decision is made at.
pub fn at() -> DateTime<Utc> {
    "2026-11-24T10:00:00Z".parse().unwrap()
}

pub fn default_rules() -> PolicySet {
    PolicySet::load_dir(&root().join("rules")).expect("default rules load")
}

pub fn default_policy(set: &PolicySet) -> &CompiledPolicy {
    set.select(None, None, at()).expect("a version in force")
}

pub fn fixture_directory() -> MemoryDirectory {
    MemoryDirectory::open(&fixture("directory.yaml")).expect("fixture directory loads")
}

/// Evaluates one member of the fixture directory with the default policy.
pub fn decide(tenant: &str, member: &str, actor: Option<&str>, request: &Request) -> Decision {
    let set = default_rules();
    let directory = fixture_directory();
    let facts = block_on(directory.facts(tenant, member, actor)).expect("facts");
    default_policy(&set)
        .evaluate(&facts, request, at())
        .unwrap()
}

pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(future)
}

/// insta settings: snapshots in the top-level `snapshots/`, with the rule
/// digest redacted (it changes with every edit of a rule file's comments;
/// the digest itself is tested separately).
pub fn snapshot_settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(root().join("snapshots"));
    settings.set_prepend_module_to_snapshot(true);
    settings.add_redaction(".policy.digest", "[digest]");
    settings.add_redaction(".decision.policy.digest", "[digest]");
    settings
}

/// Runs `restorectl` with arguments; returns (exit code, stdout, stderr).
pub fn restorectl(args: &[&str]) -> (i32, String, String) {
    restorectl_in(&root(), args)
}

pub fn restorectl_in(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_restorectl"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("restorectl runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A rules directory with the default policy (1.0.0) and a 2.0.0 that takes
/// effect on 2026-12-01, widening F1 and F6 on Enterprise and the window to 60d.
pub fn two_versions(dir: &Path) {
    let v1 =
        std::fs::read_to_string(root().join("tests/fixtures/rules-v1/default-restore.v1.yaml"))
            .unwrap();
    let v2 = v1
        .replace("version: \"1.0.0\"", "version: \"2.0.0\"")
        .replace(
            "effective_from: 2024-11-21T00:00:00Z",
            "effective_from: 2026-12-01T00:00:00Z",
        )
        .replace("restore_window: 30d ", "restore_window: 60d ")
        .replace(
            "  enterprise:\n    block_without_seat: true     # F10\n",
            "  enterprise:\n    block_without_seat: true\n    restore_roles: [primary_admin, admin]\n    batch_restore: true\n",
        );
    assert_ne!(v1, v2);
    assert!(
        v2.contains("restore_roles: [primary_admin, admin]"),
        "replacement applied"
    );
    std::fs::write(dir.join("default-restore.v1.yaml"), v1).unwrap();
    std::fs::write(dir.join("default-restore.v2.yaml"), v2).unwrap();
}

/// A copy of the snapshot `source` in `dir` with every deletion time moved
/// forward by (now − `at`), rounded to whole seconds, and the time that
/// plays the role of `at` in the copy. A restore decides at the real clock,
/// so tests that restore shift the fixture instead of passing `--at`: the
/// decisions are those of the fixture at `at`, on any future date.
pub fn shifted_snapshot(source: &Path, at: DateTime<Utc>, dir: &Path) -> (PathBuf, DateTime<Utc>) {
    let shift = chrono::TimeDelta::seconds((Utc::now() - at).num_seconds());
    let text = std::fs::read_to_string(source).expect("fixture reads");
    let mut doc: serde_yaml::Value = serde_yaml::from_str(&text).expect("fixture parses");
    let tenants = doc["tenants"].as_sequence_mut().expect("tenants");
    for tenant in tenants {
        let Some(members) = tenant["deleted_members"].as_sequence_mut() else {
            continue;
        };
        for member in members {
            let deleted_at = member["deleted_at"].as_str().expect("deleted_at");
            let deleted_at = DateTime::parse_from_rfc3339(deleted_at).expect("RFC 3339");
            let moved = deleted_at.with_timezone(&Utc) + shift;
            member["deleted_at"] = serde_yaml::Value::String(moved.to_rfc3339());
        }
    }
    let path = dir.join("directory.yaml");
    std::fs::write(&path, serde_yaml::to_string(&doc).expect("yaml")).expect("write copy");
    (path, at + shift)
}
